package store

import (
	"strings"
	"testing"
	"time"
)

func TestConfigValidate(t *testing.T) {
	cases := []struct {
		name    string
		cfg     Config
		wantErr string // substring; "" = valid
	}{
		{name: "defaults", cfg: Config{}},
		{name: "data dir", cfg: Config{DataDir: "/var/lib/horae"}},
		{name: "file url", cfg: Config{URL: "file:///var/lib/horae"}},
		{name: "plain dir", cfg: Config{URL: "/var/lib/horae"}},
		{name: "zk", cfg: Config{URL: "zk://h1:2181,h2:2181/horae", ZKSessionTimeout: 3 * time.Second, ZKAuth: "u:p"}},
		{name: "zk default port and root", cfg: Config{URL: "zk://h1"}},
		{name: "zk no servers", cfg: Config{URL: "zk:///horae"}, wantErr: "no ZooKeeper servers"},
		{name: "zk bad port", cfg: Config{URL: "zk://h1:99999/horae"}, wantErr: "bad port"},
		{name: "zk unclean root", cfg: Config{URL: "zk://h1:2181/a//b"}, wantErr: "not a clean"},
		{name: "auth without colon", cfg: Config{URL: "zk://h1:2181/x", ZKAuth: "user"}, wantErr: "zk-auth"},
		{name: "auth on bbolt", cfg: Config{ZKAuth: "u:p"}, wantErr: "not ZooKeeper"},
		{name: "negative timeout", cfg: Config{ZKSessionTimeout: -time.Second}, wantErr: "negative"},
		{name: "unknown scheme", cfg: Config{URL: "etcd://h1:2379"}, wantErr: "want"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.cfg.Validate()
			switch {
			case tc.wantErr == "" && err != nil:
				t.Fatalf("Validate() = %v, want nil", err)
			case tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)):
				t.Fatalf("Validate() = %v, want an error containing %q", err, tc.wantErr)
			}
		})
	}
}

func TestParseZKURL(t *testing.T) {
	servers, root, err := parseZKURL("zk://h1:2181,h2/a/b/")
	if err != nil || strings.Join(servers, ",") != "h1:2181,h2:2181" || root != "/a/b" {
		t.Fatalf("parseZKURL = %v, %q, %v", servers, root, err)
	}
}

func FuzzParseZKURL(f *testing.F) {
	for _, s := range []string{"zk://h1:2181/horae", "zk://h1,h2:1/", "zk://[::1]:2181/x", "zk://", "zk://a:b/c"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		servers, root, err := parseZKURL(s)
		if err != nil {
			return
		}
		if len(servers) == 0 || !strings.HasPrefix(root, "/") || root == "/" || strings.HasSuffix(root, "/") {
			t.Fatalf("parseZKURL(%q) accepted %v %q", s, servers, root)
		}
	})
}

func FuzzEscape(f *testing.F) {
	for _, s := range []string{"", "a", "..", "team/etl nightly.v2", "ü%2F", "%", "a%zz"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		e := escape(s)
		for i := 0; i < len(e); i++ {
			c := e[i]
			if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '%') {
				t.Fatalf("escape(%q) = %q has byte %q", s, e, c)
			}
		}
		back, err := unescape(e)
		if err != nil || back != s {
			t.Fatalf("unescape(escape(%q)) = %q, %v", s, back, err)
		}
		_, _ = unescape(s) // must not panic on any input
	})
}

func TestSplitOps(t *testing.T) {
	ops := []plannedOp{{size: 400}, {size: 400}, {size: 400}, {size: 2000}, {size: 10}}
	chunks := splitOps(ops, 1000)
	var sizes []int
	for _, c := range chunks {
		sizes = append(sizes, len(c))
	}
	want := []int{2, 1, 1, 1}
	if len(sizes) != len(want) {
		t.Fatalf("chunk lengths %v, want %v", sizes, want)
	}
	for i := range want {
		if sizes[i] != want[i] {
			t.Fatalf("chunk lengths %v, want %v", sizes, want)
		}
	}
}

func TestSeq(t *testing.T) {
	for name, want := range map[string]int64{
		"_c_0123abcd-candidate-0000000012": 12,
		"candidate-0000000003":             3,
	} {
		if got, ok := seq(name); !ok || got != want {
			t.Errorf("seq(%q) = %d, %v; want %d", name, got, ok, want)
		}
	}
	if _, ok := seq("junk"); ok {
		t.Error("seq(junk) ok")
	}
}
