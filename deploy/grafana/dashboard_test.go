package grafana

import (
	"encoding/json"
	"errors"
	"os"
	"regexp"
	"strings"
	"testing"
)

type panel struct {
	ID      int    `json:"id"`
	Type    string `json:"type"`
	Title   string `json:"title"`
	GridPos *struct {
		H, W, X, Y int
	} `json:"gridPos"`
	Targets []struct {
		RefID string `json:"refId"`
		Expr  string `json:"expr"`
	} `json:"targets"`
	Panels []panel `json:"panels"` // a collapsed row's panels
}

type dashboard struct {
	UID           string  `json:"uid"`
	Title         string  `json:"title"`
	SchemaVersion int     `json:"schemaVersion"`
	Panels        []panel `json:"panels"`
}

func load(t *testing.T) (dashboard, []panel) {
	t.Helper()
	raw, err := os.ReadFile("horae.json")
	if err != nil {
		t.Fatal(err)
	}
	var d dashboard
	dec := json.NewDecoder(strings.NewReader(string(raw)))
	if err := dec.Decode(&d); err != nil {
		t.Fatalf("horae.json is not valid JSON: %v", err)
	}
	if dec.More() {
		t.Fatal("horae.json has data after the dashboard object")
	}
	var all []panel
	var walk func([]panel)
	walk = func(ps []panel) {
		for _, p := range ps {
			all = append(all, p)
			walk(p.Panels)
		}
	}
	walk(d.Panels)
	return d, all
}

func TestDashboard(t *testing.T) {
	d, panels := load(t)
	if d.UID == "" || d.Title == "" || d.SchemaVersion == 0 {
		t.Errorf("dashboard uid %q, title %q, schemaVersion %d: all are required", d.UID, d.Title, d.SchemaVersion)
	}
	ids := map[int]bool{}
	queried := map[string]bool{}
	for _, p := range panels {
		if ids[p.ID] {
			t.Errorf("panel id %d repeated", p.ID)
		}
		ids[p.ID] = true
		if p.GridPos == nil || p.GridPos.W <= 0 || p.GridPos.H <= 0 || p.GridPos.X+p.GridPos.W > 24 {
			t.Errorf("panel %q: bad gridPos %+v", p.Title, p.GridPos)
		}
		if p.Type == "row" {
			continue
		}
		if len(p.Targets) == 0 {
			t.Errorf("panel %q queries nothing", p.Title)
		}
		for _, tg := range p.Targets {
			if strings.TrimSpace(tg.Expr) == "" {
				t.Errorf("panel %q target %s: empty expr", p.Title, tg.RefID)
			}
			for _, m := range metricName.FindAllString(tg.Expr, -1) {
				queried[m] = true
			}
		}
	}
	// What issue #8 asks the dashboard to show.
	for _, m := range []string{
		"horae_leader_is_leader", "horae_schedule_launch_lateness_seconds_bucket", "horae_runs_finished_total",
		"horae_runs_pending", "horae_runs_running", "horae_mesos_offers_received_total",
		"horae_api_request_duration_seconds_bucket", "horae_notifications_failed_total",
		"horae_run_duration_seconds_bucket", "horae_jobs",
	} {
		if !queried[m] {
			t.Errorf("no panel queries %s", m)
		}
	}
}

// TestDashboardMetricsDocumented checks the queries against
// docs/metrics.md, once that file exists.
func TestDashboardMetricsDocumented(t *testing.T) {
	doc, err := os.ReadFile("../../docs/metrics.md")
	if errors.Is(err, os.ErrNotExist) {
		t.Skip("docs/metrics.md does not exist yet")
	} else if err != nil {
		t.Fatal(err)
	}
	_, panels := load(t)
	for _, p := range panels {
		for _, tg := range p.Targets {
			for _, m := range metricName.FindAllString(tg.Expr, -1) {
				if !documented(m, string(doc)) {
					t.Errorf("panel %q uses %s, which docs/metrics.md does not list", p.Title, m)
				}
			}
		}
	}
}

var metricName = regexp.MustCompile(`\bhorae_[a-zA-Z0-9_]+`)

// documented reports whether doc lists m, or the histogram m is a
// _bucket, _sum or _count series of.
func documented(m, doc string) bool {
	names := []string{m}
	for _, suf := range []string{"_bucket", "_sum", "_count"} {
		if b, ok := strings.CutSuffix(m, suf); ok {
			names = append(names, b)
		}
	}
	for _, n := range names {
		if regexp.MustCompile(`\b` + n + `\b`).MatchString(doc) {
			return true
		}
	}
	return false
}

func TestDocumented(t *testing.T) {
	doc := "| `horae_a_seconds` | histogram |\n| `horae_b_total` | counter |"
	for m, want := range map[string]bool{
		"horae_a_seconds_bucket": true, "horae_a_seconds": true, "horae_b_total": true,
		"horae_b": false, "horae_c": false, "horae_b_total_bucket": true,
	} {
		if got := documented(m, doc); got != want {
			t.Errorf("documented(%q) = %v, want %v", m, got, want)
		}
	}
}
