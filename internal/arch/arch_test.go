package arch

import (
	"encoding/json"
	"io"
	"os/exec"
	"slices"
	"strings"
	"testing"
)

const module = "github.com/horae-scheduler/horae"

// allowed lists, per Horae package, the Horae packages it may import
// (directly or not) and the outside modules it must never import.
var rules = []struct {
	pkg       string
	mayImport []string // Horae packages (module-relative)
	never     []string // import path prefixes outside Horae
}{
	{pkg: "iso8601", never: []string{"github.com/", "go.etcd.io/", "net", "os/exec"}},
	{pkg: "taskspec", never: []string{"github.com/", "go.etcd.io/", "net", "os/exec"}},
	{pkg: "schedule", mayImport: []string{"iso8601"}, never: []string{"github.com/mesos", "github.com/go-zookeeper", "go.etcd.io/", "net", "os/exec"}},
	{pkg: "scheduler", mayImport: []string{"iso8601", "schedule"}, never: []string{"net", "os/exec", "github.com/mesos", "github.com/go-zookeeper", "go.etcd.io/", "github.com/prometheus"}},
	{pkg: "catalog", mayImport: []string{"iso8601", "schedule", "scheduler"}, never: []string{"github.com/mesos", "github.com/go-zookeeper", "go.etcd.io/"}},
	{pkg: "metrics", mayImport: []string{"iso8601", "schedule", "scheduler"}, never: []string{"github.com/mesos", "github.com/go-zookeeper", "go.etcd.io/"}},
	{pkg: "store", mayImport: []string{"iso8601", "schedule", "scheduler"}, never: []string{"github.com/mesos"}},
	{pkg: "framework", mayImport: []string{"iso8601", "schedule", "scheduler", "taskspec"}, never: []string{"go.etcd.io/"}},
	{pkg: "leader", mayImport: []string{"iso8601", "schedule", "scheduler"}, never: []string{"github.com/mesos", "github.com/go-zookeeper", "go.etcd.io/"}},
	{pkg: "events", mayImport: []string{"iso8601", "schedule", "scheduler"}, never: []string{"net", "os/exec", "github.com/mesos", "github.com/go-zookeeper", "go.etcd.io/", "github.com/prometheus"}},
	{pkg: "api", mayImport: []string{"iso8601", "schedule", "scheduler", "catalog", "events"}, never: []string{"github.com/mesos", "github.com/go-zookeeper", "go.etcd.io/"}},
	{pkg: "localmesos", never: []string{"github.com/go-zookeeper", "go.etcd.io/", "github.com/mesos/mesos-go/api/v1/lib/httpcli", "github.com/mesos/mesos-go/api/v1/lib/extras"}},
	{pkg: "executor", mayImport: []string{"taskspec"}, never: []string{"github.com/go-zookeeper", "go.etcd.io/"}},
}

type listed struct {
	ImportPath string
	Deps       []string
}

func TestPackageBoundaries(t *testing.T) {
	cmd := exec.Command("go", "list", "-e", "-json", module+"/...")
	cmd.Dir = "../.."
	// Deps holds each package's transitive imports.
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	pkgs := map[string][]string{}
	dec := json.NewDecoder(strings.NewReader(string(out)))
	for {
		var p listed
		if err := dec.Decode(&p); err == io.EOF {
			break
		} else if err != nil {
			t.Fatalf("decode go list output: %v", err)
		}
		pkgs[strings.TrimPrefix(p.ImportPath, module+"/")] = p.Deps
	}
	for _, r := range rules {
		for name, deps := range pkgs {
			if name != r.pkg && !strings.HasPrefix(name, r.pkg+"/") {
				continue
			}
			if strings.HasPrefix(name, "internal/") || strings.Contains(name, "/internal/") && !strings.HasPrefix(name, r.pkg+"/internal") {
				continue
			}
			for _, dep := range deps {
				if rel, ok := strings.CutPrefix(dep, module+"/"); ok {
					if rel == r.pkg || strings.HasPrefix(rel, r.pkg+"/") || slices.Contains(r.mayImport, rel) {
						continue
					}
					t.Errorf("%s imports %s: not allowed by STYLE.md §2 (may import %v)", name, rel, r.mayImport)
					continue
				}
				for _, bad := range r.never {
					if dep == bad || strings.HasPrefix(dep, bad+"/") || strings.HasPrefix(dep, bad) && strings.HasSuffix(bad, "/") {
						t.Errorf("%s imports %s: %s must never depend on %s", name, dep, r.pkg, bad)
					}
				}
			}
		}
	}
	if len(pkgs) == 0 {
		t.Fatal("go list found no packages")
	}
}
