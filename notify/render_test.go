package notify

import (
	"net/mail"
	"slices"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/horae-scheduler/horae/scheduler"
)

func TestSubject(t *testing.T) {
	run := &scheduler.Run{ID: "nightly-backup@2026-11-27T02:00:00Z"}
	tests := []struct {
		name    string
		cluster string
		n       scheduler.Notice
		want    string
	}{
		{"failure", "", scheduler.Notice{Kind: scheduler.NotifyFailure, Job: "nightly-backup", Run: run},
			"[horae] job nightly-backup failed (run nightly-backup@2026-11-27T02:00:00Z)"},
		{"cluster prefix", "prod", scheduler.Notice{Kind: scheduler.NotifyFailure, Job: "nightly-backup", Run: run},
			"[prod] [horae] job nightly-backup failed (run nightly-backup@2026-11-27T02:00:00Z)"},
		{"success", "", scheduler.Notice{Kind: scheduler.NotifySuccess, Job: "a", Run: &scheduler.Run{ID: "a@1"}},
			"[horae] job a succeeded (run a@1)"},
		{"skipped", "", scheduler.Notice{Kind: scheduler.NotifySkipped, Job: "a", Run: &scheduler.Run{ID: "a@1"}},
			"[horae] job a skipped a run (run a@1)"},
		{"overdue", "", scheduler.Notice{Kind: scheduler.NotifyOverdue, Job: "a", Run: &scheduler.Run{ID: "a@1"}},
			"[horae] job a is overdue (run a@1)"},
		{"disabled has no run", "", scheduler.Notice{Kind: scheduler.NotifyDisabled, Job: "a"},
			"[horae] job a was disabled"},
		{"unknown kind named as is", "", scheduler.Notice{Kind: "deleted", Job: "a"},
			"[horae] job a deleted"},
		{"line breaks removed", "", scheduler.Notice{Kind: scheduler.NotifyFailure, Job: "a\r\nBcc: x@y"},
			"[horae] job a  Bcc: x@y failed"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Subject(tt.cluster, tt.n); got != tt.want {
				t.Errorf("Subject = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestOwners(t *testing.T) {
	tests := []struct {
		name    string
		owner   string
		want    []string
		wantBad []string
	}{
		{"empty", "", nil, nil},
		{"one", "ann@example.com", []string{"ann@example.com"}, nil},
		{"Chronos list with spaces", "ann@example.com, bob@example.com ,carl@example.com",
			[]string{"ann@example.com", "bob@example.com", "carl@example.com"}, nil},
		{"named", "Ann <ann@example.com>", []string{"ann@example.com"}, nil},
		{"quoted name with comma", `"Doe, Jane" <jane@example.com>, bob@example.com`,
			[]string{"jane@example.com", "bob@example.com"}, nil},
		{"repeats dropped case-insensitively", "ann@example.com,ANN@example.com,ann@example.com",
			[]string{"ann@example.com"}, nil},
		{"bad entries reported", "ann@example.com, not an address, ,bob@example.com",
			[]string{"ann@example.com", "bob@example.com"}, []string{"not an address"}},
		{"trailing comma", "ann@example.com,", []string{"ann@example.com"}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, bad := Owners(tt.owner)
			if !slices.Equal(got, tt.want) || !slices.Equal(bad, tt.wantBad) {
				t.Errorf("Owners(%q) = %q, bad %q; want %q, bad %q", tt.owner, got, bad, tt.want, tt.wantBad)
			}
		})
	}
}

func FuzzOwners(f *testing.F) {
	for _, s := range []string{"", "a@b.c", "a@b.c, d@e.f", `"x, y" <a@b.c>`, "A <a@b.c>,a@B.c", "x", ",,,", "a@b.c\r\nBcc: e@f.g",
		`"a\r\nb"@c.d`, "=?utf-8?q?=C3=A9?= <a@b.c>"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, owner string) {
		addrs, _ := Owners(owner)
		seen := map[string]bool{}
		for _, a := range addrs {
			if strings.ContainsAny(a, "\r\n") {
				t.Fatalf("address %q has a line break", a)
			}
			key := strings.ToLower(a)
			if seen[key] {
				t.Fatalf("address %q repeated", a)
			}
			seen[key] = true
			// What goes into RCPT TO and the To header must round-trip.
			formatted := (&mail.Address{Address: a}).String()
			back, err := mail.ParseAddress(formatted)
			if err != nil || back.Address != a {
				t.Fatalf("address %q does not round-trip through %q: %v", a, formatted, err)
			}
		}
	})
}

func TestSignVerify(t *testing.T) {
	// RFC 4231-style known answer (HMAC-SHA256 of the pangram under "key").
	const want = "sha256=f7bc83f430538424b13298e6aa6fb143ef4d59a14946175997479dbc2d1a3cd8"
	body := []byte("The quick brown fox jumps over the lazy dog")
	if got := Sign([]byte("key"), body); got != want {
		t.Errorf("Sign = %s, want %s", got, want)
	}
	tests := []struct {
		name string
		sig  string
		ok   bool
	}{
		{"right", want, true},
		{"upper-case hex", strings.ToUpper(want), false},
		{"no prefix", strings.TrimPrefix(want, "sha256="), false},
		{"empty", "", false},
		{"one digit off", want[:len(want)-1] + "9", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Verify([]byte("key"), body, tt.sig); got != tt.ok {
				t.Errorf("Verify(%q) = %v, want %v", tt.sig, got, tt.ok)
			}
		})
	}
}

func TestEventIDStableAndDistinct(t *testing.T) {
	at := time.Date(2026, 3, 29, 1, 30, 0, 0, time.UTC)
	base := scheduler.Notice{Kind: scheduler.NotifyFailure, Job: "a", Run: &scheduler.Run{ID: "a@1", Attempt: 0, State: scheduler.RunFailed}, At: at}
	same := base
	same.Text = "different text, same event"
	if eventID(base) != eventID(same) {
		t.Errorf("the text changed the event id")
	}
	variants := map[string]scheduler.Notice{
		"kind":    {Kind: scheduler.NotifySuccess, Job: "a", Run: base.Run, At: at},
		"job":     {Kind: scheduler.NotifyFailure, Job: "b", Run: base.Run, At: at},
		"run":     {Kind: scheduler.NotifyFailure, Job: "a", Run: &scheduler.Run{ID: "a@2", State: scheduler.RunFailed}, At: at},
		"attempt": {Kind: scheduler.NotifyFailure, Job: "a", Run: &scheduler.Run{ID: "a@1", Attempt: 1, State: scheduler.RunFailed}, At: at},
		"at":      {Kind: scheduler.NotifyFailure, Job: "a", Run: base.Run, At: at.Add(time.Second)},
		"no run":  {Kind: scheduler.NotifyFailure, Job: "a", At: at},
	}
	for name, n := range variants {
		if eventID(n) == eventID(base) {
			t.Errorf("changing the %s kept the event id", name)
		}
	}
}

func TestWants(t *testing.T) {
	tests := []struct {
		notify []scheduler.NotifyOn
		kind   scheduler.NotifyOn
		want   bool
	}{
		{nil, scheduler.NotifyFailure, true},
		{nil, scheduler.NotifySuccess, false},
		{nil, scheduler.NotifyDisabled, false},
		{[]scheduler.NotifyOn{scheduler.NotifySuccess}, scheduler.NotifyFailure, false},
		{[]scheduler.NotifyOn{scheduler.NotifySuccess}, scheduler.NotifySuccess, true},
		{[]scheduler.NotifyOn{scheduler.NotifyFailure, scheduler.NotifyOverdue}, scheduler.NotifyOverdue, true},
	}
	for _, tt := range tests {
		if got := wants(scheduler.Job{Notify: tt.notify}, tt.kind); got != tt.want {
			t.Errorf("wants(notify=%v, %s) = %v, want %v", tt.notify, tt.kind, got, tt.want)
		}
	}
}

func TestBodyTailCutKeepsCharacters(t *testing.T) {
	// 2048 is not a multiple of 3: the byte maxTail from the end is inside
	// a "€" (3 bytes).
	tail := strings.Repeat("€", 1000)
	e := newEvent("", scheduler.Notice{Kind: scheduler.NotifyFailure, Job: "a",
		Run: &scheduler.Run{ID: "a@1", Tasks: []scheduler.Task{{StderrTail: tail}}}}, scheduler.Job{})
	body := e.body()
	if !utf8.ValidString(body) {
		t.Errorf("body is not valid UTF-8 after cutting the tail")
	}
	_, quoted, _ := strings.Cut(body, "(tail):\n...")
	if want := strings.Repeat("€", maxTail/3) + "\n"; quoted != want {
		t.Errorf("quoted tail has %d bytes, want %d (whole characters only)", len(quoted), len(want))
	}
}
