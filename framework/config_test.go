package framework

import (
	"net"
	"net/url"
	"reflect"
	"strings"
	"testing"
	"time"
)

func TestParseMaster(t *testing.T) {
	tests := []struct {
		in       string
		endpoint string
		zk       *zkMaster
		err      string
	}{
		{in: "http://127.0.0.1:5050", endpoint: "http://127.0.0.1:5050/api/v1/scheduler"},
		{in: "https://m.example:5050/", endpoint: "https://m.example:5050/api/v1/scheduler"},
		{in: "m.example:5050", endpoint: "http://m.example:5050/api/v1/scheduler"},
		{in: "http://lb.example/master", endpoint: "http://lb.example/master/api/v1/scheduler"},
		{in: "http://m:5050/api/v1/scheduler", endpoint: "http://m:5050/api/v1/scheduler"},
		{in: "zk://z1:2181,z2:2182/mesos", zk: &zkMaster{servers: []string{"z1:2181", "z2:2182"}, path: "/mesos"}},
		{in: "zk://u:p@z1/mesos/", zk: &zkMaster{servers: []string{"z1:2181"}, path: "/mesos", auth: "u:p"}},
		{in: "zk://[::1]:2181/mesos", zk: &zkMaster{servers: []string{"[::1]:2181"}, path: "/mesos"}},
		{in: "", err: "empty"},
		{in: "zk://z1:2181/", err: "path / is not allowed"},
		{in: "zk://z1:2181", err: "no path"},
		{in: "zk://z1:2181,,z2/mesos", err: "empty host"},
		{in: "zk://user@z1/mesos", err: "user:password"},
		{in: "ftp://m:21", err: "scheme"},
		{in: "http://", err: "no host"},
		{in: "http://u:p@m:5050", err: "unexpected user"},
	}
	for _, tc := range tests {
		t.Run(tc.in, func(t *testing.T) {
			got, err := parseMaster(tc.in)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("err = %v, want one containing %q", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got.endpoint != tc.endpoint || !reflect.DeepEqual(got.zk, tc.zk) {
				t.Fatalf("got %+v (zk %+v), want endpoint %q zk %+v", got, got.zk, tc.endpoint, tc.zk)
			}
		})
	}
}

func FuzzParseMaster(f *testing.F) {
	for _, s := range []string{"http://127.0.0.1:5050", "zk://a:1,b:2/mesos", "zk://u:p@h/x/y", "h:5050", "zk://@/", "https://[::1]:5050/p"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		m, err := parseMaster(s)
		if err != nil {
			return
		}
		if m.zk != nil {
			if len(m.zk.servers) == 0 || !strings.HasPrefix(m.zk.path, "/") || m.zk.path == "/" {
				t.Fatalf("%q: accepted zk master %+v", s, m.zk)
			}
			for _, h := range m.zk.servers {
				if _, _, err := net.SplitHostPort(h); err != nil {
					t.Fatalf("%q: server %q: %v", s, h, err)
				}
			}
			return
		}
		u, err := url.Parse(m.endpoint)
		if err != nil || u.Host == "" || !strings.HasSuffix(u.Path, "/api/v1/scheduler") {
			t.Fatalf("%q: endpoint %q unusable (%v)", s, m.endpoint, err)
		}
		// Parsing the endpoint again gives the same endpoint.
		again, err := parseMaster(m.endpoint)
		if err != nil || again.endpoint != m.endpoint {
			t.Fatalf("%q: endpoint %q does not round-trip: %q, %v", s, m.endpoint, again.endpoint, err)
		}
	})
}

func TestConfigValidate(t *testing.T) {
	ok := Config{Master: "http://m:5050", User: "root", ExecutorCommand: "./horae executor"}
	if err := ok.Validate(); err != nil {
		t.Fatalf("valid config refused: %v", err)
	}
	d := ok.withDefaults()
	if d.FailoverTimeout != 4*7*24*time.Hour || d.FrameworkName != "horae" || d.Role != "*" || d.HeartbeatMisses != 5 ||
		d.ExecutorCPUs != 0.05 || d.ExecutorMem != 32 || d.ReconcileInterval != 10*time.Minute || len(d.Capabilities) != 3 ||
		d.ExecutorMode != ExecutorShared || d.ExecutorIdleTimeout != time.Minute ||
		d.ExecutorRetainTasks != 1000 || d.ExecutorRetainFor != 24*time.Hour {
		t.Fatalf("defaults %+v", d)
	}
	tests := []struct {
		name   string
		mutate func(*Config)
		field  string
	}{
		{"no master", func(c *Config) { c.Master = "" }, "Master"},
		{"no user", func(c *Config) { c.User = "" }, "User"},
		{"no executor", func(c *Config) { c.ExecutorCommand = " " }, "ExecutorCommand"},
		{"relative uri", func(c *Config) { c.ExecutorURI = "horae" }, "ExecutorURI"},
		{"secret without principal", func(c *Config) { c.SecretFile = "/s" }, "SecretFile"},
		{"bad role", func(c *Config) { c.Role = "a/b" }, "Role"},
		{"bad capability", func(c *Config) { c.Capabilities = []string{"GPU_RESOURCES"} }, "Capabilities"},
		{"negative duration", func(c *Config) { c.CallTimeout = -time.Second }, "CallTimeout"},
		{"refuse above cap", func(c *Config) { c.Refuse = 400 * 24 * time.Hour }, "Refuse"},
		{"bad executor mode", func(c *Config) { c.ExecutorMode = "pooled" }, "ExecutorMode"},
		{"negative idle timeout", func(c *Config) { c.ExecutorIdleTimeout = -time.Second }, "ExecutorIdleTimeout"},
		{"negative retain count", func(c *Config) { c.ExecutorRetainTasks = -1 }, "ExecutorRetainTasks"},
		{"negative retain time", func(c *Config) { c.ExecutorRetainFor = -time.Hour }, "ExecutorRetainFor"},
		{"backoff inverted", func(c *Config) { c.ResubscribeMin, c.ResubscribeMax = time.Minute, time.Second }, "ResubscribeMax"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := ok
			tc.mutate(&c)
			err := c.Validate()
			if err == nil || !strings.Contains(err.Error(), "config "+tc.field+":") {
				t.Fatalf("err = %v, want one naming %s", err, tc.field)
			}
		})
	}
}
