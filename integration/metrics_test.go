package integration

import (
	"context"
	"io"
	"net/http"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil/promlint"
)

// checkMetrics scrapes /metrics as Prometheus does, lints the exposition
// and checks that every horae_ family is documented in docs/metrics.md.
func checkMetrics(t *testing.T, base string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, base+"/metrics", nil)
	req.Header.Set("Accept", "text/plain;version=0.0.4")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("scrape: %v", err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/plain") {
		t.Fatalf("scrape: %d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	problems, err := promlint.New(strings.NewReader(string(body))).Lint()
	if err != nil {
		t.Fatalf("lint: %v", err)
	}
	for _, p := range problems {
		if strings.HasPrefix(p.Metric, "horae_") {
			t.Errorf("promlint %s: %s", p.Metric, p.Text)
		}
	}
	doc, err := os.ReadFile("../docs/metrics.md")
	if err != nil {
		t.Fatalf("docs/metrics.md: %v", err)
	}
	families := regexp.MustCompile(`(?m)^# TYPE (horae_\w+) `).FindAllStringSubmatch(string(body), -1)
	if len(families) < 10 {
		t.Fatalf("only %d horae_ metric families exposed", len(families))
	}
	for _, f := range families {
		if !strings.Contains(string(doc), "`"+f[1]+"`") {
			t.Errorf("metric %s is exposed but not documented in docs/metrics.md", f[1])
		}
	}
}
