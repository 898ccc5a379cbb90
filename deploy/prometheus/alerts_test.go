package prometheus

import (
	"errors"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"testing"

	yaml "go.yaml.in/yaml/v3"
)

type ruleFile struct {
	Groups []struct {
		Name  string `yaml:"name"`
		Rules []struct {
			Alert       string            `yaml:"alert"`
			Record      string            `yaml:"record"`
			Expr        string            `yaml:"expr"`
			For         string            `yaml:"for"`
			Labels      map[string]string `yaml:"labels"`
			Annotations map[string]string `yaml:"annotations"`
		} `yaml:"rules"`
	} `yaml:"groups"`
}

func load(t *testing.T) ruleFile {
	t.Helper()
	raw, err := os.ReadFile("alerts.yml")
	if err != nil {
		t.Fatal(err)
	}
	var f ruleFile
	dec := yaml.NewDecoder(strings.NewReader(string(raw)))
	dec.KnownFields(true) // a misspelt key is an error, not a silently ignored field
	if err := dec.Decode(&f); err != nil {
		t.Fatalf("alerts.yml: %v", err)
	}
	return f
}

func TestAlertRules(t *testing.T) {
	f := load(t)
	if len(f.Groups) == 0 {
		t.Fatal("alerts.yml has no groups")
	}
	names := map[string]bool{}
	for _, g := range f.Groups {
		if g.Name == "" {
			t.Errorf("a group has no name")
		}
		if len(g.Rules) == 0 {
			t.Errorf("group %s has no rules", g.Name)
		}
		for i, r := range g.Rules {
			where := g.Name + "/" + r.Alert
			if r.Alert == "" {
				t.Errorf("group %s rule %d: no alert name", g.Name, i)
			}
			if names[r.Alert] {
				t.Errorf("%s: alert name repeated", where)
			}
			names[r.Alert] = true
			if strings.TrimSpace(r.Expr) == "" {
				t.Errorf("%s: empty expr", where)
			}
			if err := checkExpr(r.Expr); err != nil {
				t.Errorf("%s: expr %q: %v", where, r.Expr, err)
			}
			switch r.Labels["severity"] {
			case "critical", "warning", "info":
			default:
				t.Errorf("%s: severity %q, want critical, warning or info", where, r.Labels["severity"])
			}
			if r.Annotations["summary"] == "" || r.Annotations["description"] == "" {
				t.Errorf("%s: summary and description annotations are required", where)
			}
		}
	}
	// The alerts issue #8 asks for, by what they watch.
	for alert, metric := range map[string]string{
		"HoraeNoLeader":              "horae_leader_is_leader",
		"HoraeRunsFailing":           `horae_runs_finished_total{outcome="failed"}`,
		"HoraeLaunchLatenessHigh":    "horae_schedule_launch_lateness_seconds_bucket",
		"HoraeNoOffersWhileRunsPend": "horae_mesos_offers_received_total",
		"HoraeNotificationsFailing":  "horae_notifications_failed_total",
	} {
		found := false
		for _, g := range f.Groups {
			for _, r := range g.Rules {
				if r.Alert == alert {
					found = true
					if !strings.Contains(r.Expr, metric) {
						t.Errorf("%s does not watch %s: %s", alert, metric, r.Expr)
					}
				}
			}
		}
		if !found {
			t.Errorf("alert %s is missing", alert)
		}
	}
}

// TestAlertMetricsDocumented checks the rules against docs/metrics.md, once
// that file exists.
func TestAlertMetricsDocumented(t *testing.T) {
	doc, err := os.ReadFile("../../docs/metrics.md")
	if errors.Is(err, os.ErrNotExist) {
		t.Skip("docs/metrics.md does not exist yet")
	} else if err != nil {
		t.Fatal(err)
	}
	for _, g := range load(t).Groups {
		for _, r := range g.Rules {
			for _, m := range undocumented(r.Expr, string(doc)) {
				t.Errorf("%s uses %s, which docs/metrics.md does not list", r.Alert, m)
			}
		}
	}
}

// TestPromtool runs promtool's own checks and the rule unit tests in
// alerts_test.yml when promtool is installed (PATH or $PROMTOOL); it is not
// a dependency of the build.
func TestPromtool(t *testing.T) {
	tool := os.Getenv("PROMTOOL")
	if tool == "" {
		var err error
		if tool, err = exec.LookPath("promtool"); err != nil {
			t.Skip("promtool not installed")
		}
	}
	for _, args := range [][]string{{"check", "rules", "alerts.yml"}, {"test", "rules", "alerts_test.yml"}} {
		out, err := exec.Command(tool, args...).CombinedOutput()
		if err != nil {
			t.Errorf("promtool %s: %v\n%s", strings.Join(args, " "), err, out)
		}
	}
}

var metricName = regexp.MustCompile(`\bhorae_[a-zA-Z0-9_]+`)

// undocumented returns the horae_ metrics expr names that doc does not
// mention (a histogram's _bucket, _sum and _count count as the histogram).
func undocumented(expr, doc string) []string {
	var out []string
	for _, m := range metricName.FindAllString(expr, -1) {
		base := m
		for _, suf := range []string{"_bucket", "_sum", "_count"} {
			if b, ok := strings.CutSuffix(m, suf); ok && strings.Contains(doc, b) {
				base = b
			}
		}
		if !regexp.MustCompile(`\b` + base + `\b`).MatchString(doc) {
			out = append(out, m)
		}
	}
	return out
}

// checkExpr is a light well-formedness check of PromQL: brackets balance
// and nest, strings close, and range selectors have a duration.
func checkExpr(expr string) error {
	var stack []rune
	pairs := map[rune]rune{')': '(', ']': '[', '}': '{'}
	inString := rune(0)
	for i, c := range expr {
		if inString != 0 {
			if c == inString && (i == 0 || expr[i-1] != '\\') {
				inString = 0
			}
			continue
		}
		switch c {
		case '"', '\'', '`':
			inString = c
		case '(', '[', '{':
			stack = append(stack, c)
		case ')', ']', '}':
			if len(stack) == 0 || stack[len(stack)-1] != pairs[c] {
				return errors.New("unbalanced " + string(c))
			}
			stack = stack[:len(stack)-1]
		}
	}
	if inString != 0 {
		return errors.New("unterminated string")
	}
	if len(stack) > 0 {
		return errors.New("unclosed " + string(stack[len(stack)-1]))
	}
	for _, m := range regexp.MustCompile(`\[([^\]]*)\]`).FindAllStringSubmatch(expr, -1) {
		if !regexp.MustCompile(`^\d+[smhdwy]$`).MatchString(m[1]) {
			return errors.New("range selector [" + m[1] + "] is not a duration")
		}
	}
	return nil
}

func TestCheckExpr(t *testing.T) {
	tests := []struct {
		expr string
		ok   bool
	}{
		{`max(horae_leader_is_leader) == 0`, true},
		{`rate(x{a="b)"}[5m]) > 0`, true},
		{`rate(x[5m]`, false},
		{`rate(x[5m)]`, false},
		{`x{a="b}`, false},
		{`rate(x[five])`, false},
		{`sum(x))`, false},
	}
	for _, tt := range tests {
		if err := checkExpr(tt.expr); (err == nil) != tt.ok {
			t.Errorf("checkExpr(%q) = %v, want ok=%v", tt.expr, err, tt.ok)
		}
	}
}

func TestUndocumented(t *testing.T) {
	doc := "| `horae_a_seconds` | histogram |\n| `horae_b_total` | counter |"
	got := undocumented(`histogram_quantile(0.9, rate(horae_a_seconds_bucket[5m])) + horae_b_total + horae_c`, doc)
	if strings.Join(got, ",") != "horae_c" {
		t.Errorf("undocumented = %v, want [horae_c]", got)
	}
	if got := undocumented(`horae_b`, doc); len(got) != 1 {
		t.Errorf("a prefix of a documented name counted as documented: %v", got)
	}
}
