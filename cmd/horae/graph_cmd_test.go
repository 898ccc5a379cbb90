package main

import (
	"encoding/json"
	"fmt"
	"regexp"
	"strings"
	"testing"

	"github.com/horae-scheduler/horae/api"
)

// TestGraphCommand checks the three formats of `horae graph` against a real
// server holding a chain a -> b -> c and a lone job.
func TestGraphCommand(t *testing.T) {
	clearClientEnv(t)
	srv := startServer(t)
	s := "--server=" + srv.URL
	mustOK(t, cli(t, `
name: c
command: echo c
parents: [b]
---
name: b
command: echo b
parents: [a]
---
name: a
command: echo a
schedule: R0/2030-01-01T00:00:00Z/PT1H
---
name: lone
command: echo lone
schedule: R0/2030-01-01T00:00:00Z/PT1H
disabled: true
`, "job", "apply", "-f", "-", s))

	t.Run("text", func(t *testing.T) {
		r := mustOK(t, cli(t, "", "graph", s))
		for _, want := range []string{
			`(?m)^JOB\s+STATE\s+LAST\s+ENABLED$`,
			`(?m)^a\s+idle\s+fresh\s+yes$`,
			`(?m)^lone\s+idle\s+fresh\s+no$`,
			`(?m)^PARENT\s+CHILD$`,
			`(?m)^a\s+->\s+b$`,
			`(?m)^b\s+->\s+c$`,
		} {
			if !regexp.MustCompile(want).MatchString(r.stdout) {
				t.Errorf("graph output lacks %s:\n%s", want, r.stdout)
			}
		}
	})

	t.Run("json", func(t *testing.T) {
		for _, args := range [][]string{{"graph", "--json", s}, {"graph", "--format", "json", s}} {
			r := mustOK(t, cli(t, "", args...))
			var g api.Graph
			if err := json.Unmarshal([]byte(r.stdout), &g); err != nil {
				t.Fatalf("%v: %v\n%s", args, err, r.stdout)
			}
			if len(g.Nodes) != 4 || fmt.Sprint(g.Edges) != "[{a b} {b c}]" {
				t.Errorf("%v: graph = %+v", args, g)
			}
		}
	})

	t.Run("dot", func(t *testing.T) {
		r := mustOK(t, cli(t, "", "graph", "--format", "dot", s))
		if !strings.HasPrefix(r.stdout, "digraph G {\n") || strings.Count(r.stdout, " -> ") != 2 || !strings.Contains(r.stdout, `[label="lone"]`) {
			t.Errorf("dot = %q", r.stdout)
		}
	})

	t.Run("unknown format", func(t *testing.T) {
		r := cli(t, "", "graph", "--format", "svg", s)
		if r.err == nil || r.err.Error() != `graph: --format "svg": want text, dot or json` {
			t.Errorf("err = %v", r.err)
		}
	})
}
