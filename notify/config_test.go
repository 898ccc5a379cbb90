package notify

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"
)

func TestConfigValidate(t *testing.T) {
	smtp := Config{SMTPAddr: "mail.example.com:587", SMTPFrom: "Horae <horae@example.com>"}
	tests := []struct {
		name string
		cfg  Config
		want []string // substrings of the error; none = valid
	}{
		{"empty is valid", Config{}, nil},
		{"all sinks", Config{WebhookURL: "https://hooks.example.com/x", WebhookSecret: "k", SlackURL: "https://hooks.slack.com/services/T/B/X",
			SMTPAddr: "mail.example.com:587", SMTPFrom: "horae@example.com", SMTPUser: "u", SMTPPassword: "p", SMTPStartTLS: true, ClusterName: "prod"}, nil},
		{"loopback SMTP may authenticate in clear", Config{SMTPAddr: "127.0.0.1:25", SMTPFrom: "h@example.com", SMTPUser: "u", SMTPPassword: "p"}, nil},
		{"webhook scheme", Config{WebhookURL: "ftp://example.com"}, []string{"webhook URL", "scheme must be http or https"}},
		{"webhook no host", Config{WebhookURL: "http:///path"}, []string{"webhook URL", "no host"}},
		{"slack not a URL", Config{SlackURL: "://"}, []string{"Slack URL", "not a URL"}},
		{"secret without URL", Config{WebhookSecret: "k"}, []string{"webhook secret: set without a webhook URL"}},
		{"smtp without port", Config{SMTPAddr: "mail.example.com", SMTPFrom: "h@example.com"}, []string{"SMTP address", "not host:port"}},
		{"smtp bad port", Config{SMTPAddr: "mail.example.com:99999", SMTPFrom: "h@example.com"}, []string{"port must be 1-65535"}},
		{"smtp without from", Config{SMTPAddr: "mail.example.com:25"}, []string{"SMTP from: required"}},
		{"smtp bad from", Config{SMTPAddr: "mail.example.com:25", SMTPFrom: "horae"}, []string{"SMTP from", "not an e-mail address"}},
		{"credentials in clear", func() Config { c := smtp; c.SMTPUser, c.SMTPPassword = "u", "p"; return c }(), []string{"SMTP user", "STARTTLS"}},
		{"password without user", func() Config { c := smtp; c.SMTPPassword, c.SMTPStartTLS = "p", true; return c }(), []string{"SMTP password: set without an SMTP user"}},
		{"smtp settings without address", Config{SMTPFrom: "h@example.com", SMTPStartTLS: true}, []string{"SMTP from: set without", "SMTP STARTTLS: set without"}},
		{"cluster name with newline", Config{ClusterName: "a\nb"}, []string{"cluster name: must be one line"}},
		{"negative tuning", Config{QueueSize: -1, Workers: -1, MaxAttempts: -1, Timeout: -time.Second}, []string{"queue size", "workers", "max attempts", "timeout"}},
		{"retry max below base", Config{RetryBase: time.Minute, RetryMax: time.Second}, []string{"retry max: 1s is below retry base 1m0s"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.cfg.Validate()
			if len(tt.want) == 0 {
				if err != nil {
					t.Fatalf("Validate: %v", err)
				}
				return
			}
			if err == nil {
				t.Fatalf("Validate accepted %+v", tt.cfg)
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q lacks %q", err, w)
				}
			}
		})
	}
}

func TestBackoff(t *testing.T) {
	n := &Notifier{cfg: Config{RetryBase: time.Second, RetryMax: 10 * time.Second}}
	for k, full := range map[int]time.Duration{1: time.Second, 2: 2 * time.Second, 3: 4 * time.Second, 4: 8 * time.Second, 5: 10 * time.Second, 60: 10 * time.Second} {
		for range 50 {
			if d := n.backoff(k); d < full/2 || d > full {
				t.Fatalf("backoff(%d) = %v, want within [%v, %v]", k, d, full/2, full)
			}
		}
	}
}

func TestWaitHonoursRetryAfter(t *testing.T) {
	n := &Notifier{cfg: Config{RetryBase: time.Second, RetryMax: time.Minute}}
	tests := []struct {
		name     string
		err      error
		min, max time.Duration
	}{
		{"plain error: backoff", errors.New("x"), 500 * time.Millisecond, time.Second},
		{"longer Retry-After wins", &retryAfterError{err: errors.New("x"), after: 20 * time.Second}, 20 * time.Second, 20 * time.Second},
		{"Retry-After capped at RetryMax", &retryAfterError{err: errors.New("x"), after: time.Hour}, time.Minute, time.Minute},
		{"shorter Retry-After ignored", &retryAfterError{err: errors.New("x"), after: time.Millisecond}, 500 * time.Millisecond, time.Second},
		{"wrapped", fmt.Errorf("post: %w", &retryAfterError{err: errors.New("x"), after: 30 * time.Second}), 30 * time.Second, 30 * time.Second},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if d := n.wait(1, tt.err); d < tt.min || d > tt.max {
				t.Errorf("wait = %v, want within [%v, %v]", d, tt.min, tt.max)
			}
		})
	}
}

func TestParseRetryAfter(t *testing.T) {
	now := time.Date(2026, 11, 27, 22, 0, 0, 0, time.UTC)
	tests := []struct {
		in   string
		want time.Duration
		ok   bool
	}{
		{"", 0, false},
		{"120", 2 * time.Minute, true},
		{" 5 ", 5 * time.Second, true},
		{"-1", 0, false},
		{"99999999999", 24 * time.Hour, true},
		{"Fri, 27 Nov 2026 22:00:30 GMT", 30 * time.Second, true},
		{"Fri, 27 Nov 2026 21:00:00 GMT", 0, true},
		{"soon", 0, false},
	}
	for _, tt := range tests {
		got, ok := parseRetryAfter(tt.in, now)
		if got != tt.want || ok != tt.ok {
			t.Errorf("parseRetryAfter(%q) = %v, %v; want %v, %v", tt.in, got, ok, tt.want, tt.ok)
		}
	}
}

func FuzzParseRetryAfter(f *testing.F) {
	for _, s := range []string{"", "0", "120", "-5", "Fri, 27 Nov 2026 22:00:30 GMT", "Friday, 27-Nov-26 22:00:30 GMT", "x", "1e9", "9223372036854775807"} {
		f.Add(s)
	}
	now := time.Date(2026, 11, 27, 22, 0, 0, 0, time.UTC)
	f.Fuzz(func(t *testing.T, v string) {
		d, ok := parseRetryAfter(v, now)
		if d < 0 || !ok && d != 0 {
			t.Fatalf("parseRetryAfter(%q) = %v, %v", v, d, ok)
		}
	})
}
