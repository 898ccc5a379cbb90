package localmesos

import (
	"archive/tar"
	"compress/gzip"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// TestFetchProcessGroupAndShutdown: URIs are fetched over HTTP and from
// files (executable ones chmod +x, archives extracted), the executor runs
// through a fetched script in its own process group with its output in the
// sandbox, offers carry the agent's attributes, and a SHUTDOWN call reaches
// the executor, whose exit fails its remaining task.
func TestFetchProcessGroupAndShutdown(t *testing.T) {
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	script := "#!/bin/sh\nexec \"$TEST_BINARY\" test-executor\n"
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/run.sh" {
			http.NotFound(w, r)
			return
		}
		_, _ = w.Write([]byte(script))
	}))
	defer srv.Close()
	src := t.TempDir()
	if err := os.WriteFile(filepath.Join(src, "data.txt"), []byte("fetched by copy\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	writeTarGz(t, filepath.Join(src, "bundle.tar.gz"), "inside.txt", "from the archive\n")

	cfg := testConfig(t)
	cfg.Attributes = map[string]string{"rack": "r1"}
	m := startMesos(t, cfg)
	c := subscribe(t, m, `{"type":"SUBSCRIBE","subscribe":{"framework_info":`+multiRoleInfo+`}}`)
	offerID, oev := c.offer()
	if !strings.Contains(string(oev.raw), `"attributes":[{"name":"rack","type":"TEXT","text":{"value":"r1"}}]`) {
		t.Errorf("offer lacks the attributes: %s", oev.raw)
	}
	exInfo := fmt.Sprintf(`{"executor_id":{"value":"fx"},"command":{"shell":true,"value":"./run.sh",
"uris":[{"value":%q,"executable":true},{"value":%q},{"value":"file://%s"}],
"environment":{"variables":[{"name":"LOCALMESOS_TEST_EXECUTOR","value":"json"},{"name":"TEST_BINARY","value":%q}]}},
"resources":[{"name":"cpus","type":"SCALAR","scalar":{"value":0.1}}]}`,
		srv.URL+"/run.sh", filepath.Join(src, "data.txt"), filepath.Join(src, "bundle.tar.gz"), exe)
	task := fmt.Sprintf(`{"name":"ft","task_id":{"value":"ft"},"agent_id":{"value":%q},"resources":[{"name":"cpus","type":"SCALAR","scalar":{"value":0.1}}],"executor":%s,"data":%q}`,
		m.AgentID(), exInfo, b64("run"))
	c.launch(offerID, task)
	running := c.updateWith("ft", "update.status.state", "TASK_RUNNING")
	c.ack(running)

	pid := int(running.get("update.status.container_status.executor_pid").(float64))
	// The shell exec'd the test binary, so the pid is the executor's and it
	// leads its own process group.
	if pgid, err := syscall.Getpgid(pid); err != nil || pgid != pid {
		t.Errorf("executor pid %d: process group %d (%v), want its own", pid, pgid, err)
	}
	base := m.URL() + "/files/read?offset=0&path=/frameworks/" + c.fwID + "/executors/fx/runs/latest/"
	for file, want := range map[string]string{"run.sh": script, "data.txt": "fetched by copy\n", "inside.txt": "from the archive\n"} {
		if _, body := get(t, base+file); body != fmt.Sprintf(`{"data":%q,"offset":0}`, want) {
			t.Errorf("%s: %s", file, body)
		}
	}
	if _, body := get(t, base+"stderr"); !strings.Contains(body, "test executor starting fx") {
		t.Errorf("executor stderr not in the sandbox: %s", body)
	}
	sandbox := filepath.Join(m.WorkDir(), "slaves", m.AgentID(), "frameworks", c.fwID, "executors", "fx", "runs",
		running.str("update.status.container_status.container_id.value"))
	if st, err := os.Stat(filepath.Join(sandbox, "run.sh")); err != nil || st.Mode().Perm()&0o100 == 0 {
		t.Errorf("run.sh not executable: %v %v", st, err)
	}

	c.mustCall(`{"framework_id":{"value":%q},"type":"SHUTDOWN","shutdown":{"executor_id":{"value":"fx"},"agent_id":{"value":%q}}}`, c.fwID, m.AgentID())
	if f := c.next("FAILURE"); f.str("failure.status") != "0" || f.str("failure.executor_id.value") != "fx" {
		t.Errorf("FAILURE after SHUTDOWN: %s", f.raw)
	}
	if ev := c.updateWith("ft", "update.status.state", "TASK_FAILED"); ev.str("update.status.reason") != "REASON_EXECUTOR_TERMINATED" {
		t.Errorf("task of the shut-down executor: %s", ev.raw)
	}
}

func writeTarGz(t *testing.T, path, name, content string) {
	t.Helper()
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	gz := gzip.NewWriter(f)
	tw := tar.NewWriter(gz)
	if err := tw.WriteHeader(&tar.Header{Name: name, Mode: 0o644, Size: int64(len(content))}); err != nil {
		t.Fatal(err)
	}
	if _, err := tw.Write([]byte(content)); err != nil {
		t.Fatal(err)
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	if err := gz.Close(); err != nil {
		t.Fatal(err)
	}
}
