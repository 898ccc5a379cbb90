package localmesos

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func get(t *testing.T, url string) (*http.Response, string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, string(b)
}

// TestFiles replays the /files/read and /files/browse table of §3 on a
// real sandbox, through the virtual path and the real one.
func TestFiles(t *testing.T) {
	m := startMesos(t, testConfig(t))
	c := subscribe(t, m, `{"type":"SUBSCRIBE","subscribe":{"framework_info":`+multiRoleInfo+`}}`)
	offerID, _ := c.offer()
	c.launch(offerID, taskInfo(t, m, "t1", "ex1", "json", "run"))
	running := c.update("t1")
	container := running.str("update.status.container_status.container_id.value")
	sandbox := filepath.Join(m.WorkDir(), "slaves", m.AgentID(), "frameworks", c.fwID, "executors", "ex1", "runs", container)
	content := "BIN_SH=xpg4\nMESOS_EXECUTOR_ID=t-env\nsome more\ndone\n"
	if err := os.WriteFile(filepath.Join(sandbox, "out.txt"), []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(filepath.Join(sandbox, "dir"), 0o755); err != nil {
		t.Fatal(err)
	}
	virtual := "/frameworks/" + c.fwID + "/executors/ex1/runs/latest"
	size := len(content)
	for _, base := range []string{virtual, sandbox} {
		for _, tc := range []struct {
			name, query string
			code        int
			body        string
		}{
			{"whole file", "/files/read?path=" + base + "/out.txt&offset=0&length=-1", 200, fmt.Sprintf(`{"data":%q,"offset":0}`, content)},
			{"window", "/files/read?path=" + base + "/out.txt&offset=10&length=20", 200, fmt.Sprintf(`{"data":%q,"offset":10}`, content[10:30])},
			{"no length", "/files/read?path=" + base + "/out.txt&offset=0", 200, fmt.Sprintf(`{"data":%q,"offset":0}`, content)},
			{"offset -1", "/files/read?path=" + base + "/out.txt&offset=-1", 200, fmt.Sprintf(`{"data":"","offset":%d}`, size)},
			{"no offset", "/files/read?path=" + base + "/out.txt", 200, fmt.Sprintf(`{"data":"","offset":%d}`, size)},
			{"directory", "/files/read?path=" + base + "/dir", 400, "Cannot read a directory.\n"},
			{"bad offset", "/files/read?path=" + base + "/out.txt&offset=abc", 400, "Failed to parse offset: Failed to convert 'abc' to number.\n"},
			{"missing file", "/files/read?path=" + base + "/nope", 404, ""},
			{"browse a file", "/files/browse?path=" + base + "/out.txt", 200, "[]"},
		} {
			t.Run(tc.name, func(t *testing.T) {
				resp, body := get(t, m.URL()+tc.query)
				if resp.StatusCode != tc.code || body != tc.body {
					t.Fatalf("got %d %q, want %d %q", resp.StatusCode, body, tc.code, tc.body)
				}
				wantCT := "application/json"
				if tc.code != 200 {
					wantCT = "text/plain; charset=utf-8"
				}
				if resp.Header.Get("Content-Type") != wantCT || resp.Header.Get("Content-Length") != fmt.Sprint(len(tc.body)) {
					t.Errorf("headers %v", resp.Header)
				}
			})
		}
	}
	for _, tc := range []struct{ query, body string }{
		{"/files/browse?path=/nope", ""},
		{"/files/read?path=/etc/passwd&offset=0", ""},
		{"/files/read?path=" + virtual + "/../../../../../../../../etc/passwd&offset=0", ""},
	} {
		if resp, body := get(t, m.URL()+tc.query); resp.StatusCode != 404 || body != tc.body {
			t.Errorf("%s: %d %q, want 404", tc.query, resp.StatusCode, body)
		}
	}
	if resp, body := get(t, m.URL()+"/files/browse"); resp.StatusCode != 400 || body != "Expecting 'path=value' in query.\n" {
		t.Errorf("browse without path: %d %q", resp.StatusCode, body)
	}

	resp, body := get(t, m.URL()+"/files/browse?path="+virtual)
	if resp.StatusCode != 200 {
		t.Fatalf("browse: %d %s", resp.StatusCode, body)
	}
	var entries []map[string]any
	if err := json.Unmarshal([]byte(body), &entries); err != nil {
		t.Fatal(err)
	}
	names := map[string]map[string]any{}
	for _, e := range entries {
		names[e["path"].(string)] = e
	}
	for _, n := range []string{"stdout", "stderr", "out.txt", "dir"} {
		e := names[virtual+"/"+n]
		if e == nil {
			t.Errorf("browse lacks %s: %s", n, body)
			continue
		}
		if n == "out.txt" && (e["mode"] != "-rw-r--r--" || e["size"].(float64) != float64(size)) {
			t.Errorf("out.txt entry %v", e)
		}
	}
	if !strings.HasPrefix(body, `[{"gid":`) || !strings.Contains(body, `,"mode":"drwxr-xr-x","mtime":`) {
		t.Errorf("browse keys not in Mesos order: %s", body)
	}
	if !strings.Contains(body, `.0,"nlink":`) {
		t.Errorf("mtime is not a double: %s", body)
	}
}
