package localmesos

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"os"
	"os/user"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// maxReadLength caps one /files/read answer at 16 pages, as Mesos does.
func maxReadLength() int64 { return int64(os.Getpagesize() * 16) }

func (m *Mesos) routes() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("/api/v1/scheduler", m.handleScheduler)
	mux.HandleFunc("/master/api/v1/scheduler", m.handleScheduler)
	mux.HandleFunc("/api/v1/executor", m.handleExecutor)
	mux.HandleFunc("/slave(1)/api/v1/executor", m.handleExecutor)
	mux.HandleFunc("/files/read", m.handleFilesRead)
	mux.HandleFunc("/files/browse", m.handleFilesBrowse)
	mux.HandleFunc("/master/state", m.masterOnly(m.handleState))
	mux.HandleFunc("/state", m.masterOnly(m.handleState))
	mux.HandleFunc("/master/teardown", m.masterOnly(m.handleTeardown))
	mux.HandleFunc("/api/v1", m.masterOnly(m.handleOperator))
	mux.HandleFunc("/master/api/v1", m.masterOnly(m.handleOperator))
	mux.HandleFunc("/redirect", m.handleRedirect)
	mux.HandleFunc("/master/redirect", m.handleRedirect)
	mux.HandleFunc("/health", m.handleHealth)
	mux.HandleFunc("/master/health", m.handleHealth)
	return mux
}

// masterOnly answers 307 to the leader while the NotLeader fault is on.
func (m *Mesos) masterOnly(h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if leader := m.faults.leader(); leader != "" {
			path := r.URL.Path
			if !strings.HasPrefix(path, "/master") {
				path = "/master" + path
			}
			(&httpError{code: http.StatusTemporaryRedirect, header: map[string]string{"Location": "//" + leader + path}}).write(w)
			return
		}
		h(w, r)
	}
}

// handleOperator answers the v1 operator API, which localmesos does not
// serve (a non-leader still redirects it, as Mesos does).
func (m *Mesos) handleOperator(w http.ResponseWriter, r *http.Request) {
	(&httpError{code: http.StatusNotImplemented, body: "localmesos does not serve the v1 operator API"}).write(w)
}

func (m *Mesos) handleRedirect(w http.ResponseWriter, r *http.Request) {
	leader := m.faults.leader()
	if leader == "" {
		leader = m.HostPort()
	}
	(&httpError{code: http.StatusTemporaryRedirect, header: map[string]string{"Location": "//" + leader}}).write(w)
}

func (m *Mesos) handleHealth(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Length", "0")
	w.WriteHeader(http.StatusOK)
}

// handleTeardown serves POST /master/teardown (form frameworkId=<id>).
func (m *Mesos) handleTeardown(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		(&httpError{code: http.StatusMethodNotAllowed, header: map[string]string{"Allow": "POST"},
			body: fmt.Sprintf("405 Method Not Allowed. Expecting one of { 'POST' }, but received '%s'.", r.Method)}).write(w)
		return
	}
	if err := r.ParseForm(); err != nil {
		badRequest("Unable to decode query string: " + err.Error()).write(w)
		return
	}
	id := r.PostForm.Get("frameworkId")
	if id == "" {
		badRequest("Missing 'frameworkId' query parameter in the request body").write(w)
		return
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	fw := m.frameworks[id]
	if fw == nil {
		badRequest("No framework found with specified ID").write(w)
		return
	}
	m.removeFrameworkLocked(fw)
	w.Header().Set("Content-Length", "0")
	w.WriteHeader(http.StatusOK)
}

// handleState serves a minimal /master/state: the master, the agent, and
// each framework with its tasks and offered resources.
func (m *Mesos) handleState(w http.ResponseWriter, r *http.Request) {
	type stateTask struct {
		ID          string         `json:"id"`
		Name        string         `json:"name"`
		FrameworkID string         `json:"framework_id"`
		ExecutorID  string         `json:"executor_id"`
		SlaveID     string         `json:"slave_id"`
		State       string         `json:"state"`
		Resources   map[string]any `json:"resources"`
	}
	type stateFramework struct {
		ID               string         `json:"id"`
		Name             string         `json:"name"`
		User             string         `json:"user"`
		Active           bool           `json:"active"`
		Connected        bool           `json:"connected"`
		Checkpoint       bool           `json:"checkpoint"`
		FailoverTimeout  float64        `json:"failover_timeout"`
		Capabilities     []string       `json:"capabilities"`
		OfferedResources map[string]any `json:"offered_resources"`
		UsedResources    map[string]any `json:"used_resources"`
		Offers           []string       `json:"offers"`
		Tasks            []stateTask    `json:"tasks"`
	}
	type stateSlave struct {
		ID            string         `json:"id"`
		PID           string         `json:"pid"`
		Hostname      string         `json:"hostname"`
		Resources     map[string]any `json:"resources"`
		UsedResources map[string]any `json:"used_resources"`
		Attributes    map[string]any `json:"attributes"`
		Active        bool           `json:"active"`
	}
	m.mu.Lock()
	st := struct {
		Version    string           `json:"version"`
		ID         string           `json:"id"`
		PID        string           `json:"pid"`
		Hostname   string           `json:"hostname"`
		Leader     string           `json:"leader"`
		Slaves     []stateSlave     `json:"slaves"`
		Frameworks []stateFramework `json:"frameworks"`
	}{
		Version: version, ID: m.masterID, PID: "master@" + m.HostPort(), Hostname: m.cfg.Hostname,
		Leader: "master@" + m.HostPort(),
	}
	attrs := map[string]any{}
	for k, v := range m.cfg.Attributes {
		attrs[k] = v
	}
	st.Slaves = []stateSlave{{ID: m.agentID, PID: "slave(1)@" + m.HostPort(), Hostname: m.cfg.Hostname,
		Resources: m.total.stateJSON(), UsedResources: m.used.stateJSON(), Attributes: attrs, Active: true}}
	st.Frameworks = []stateFramework{}
	for _, fw := range m.sortedFrameworks() {
		sf := stateFramework{ID: fw.id, Name: fw.info.Name, User: fw.info.User, Active: fw.stream != nil,
			Connected: fw.stream != nil, Checkpoint: fw.checkpoint(), Tasks: []stateTask{}, Offers: []string{},
			Capabilities: []string{}}
		if fw.info.FailoverTimeout != nil {
			sf.FailoverTimeout = *fw.info.FailoverTimeout
		}
		for _, c := range fw.info.Capabilities {
			sf.Capabilities = append(sf.Capabilities, c.Type.String())
		}
		offered, used := resources{}, resources{}
		for _, id := range sortedKeys(fw.offers) {
			offered = offered.add(fw.offers[id].res)
			sf.Offers = append(sf.Offers, id)
		}
		for _, id := range sortedKeys(fw.tasks) {
			t := fw.tasks[id]
			if !t.released {
				used = used.add(t.res)
			}
			sf.Tasks = append(sf.Tasks, stateTask{ID: t.id, Name: t.info.Name, FrameworkID: fw.id, ExecutorID: t.ex.id,
				SlaveID: t.agentID, State: t.state.String(), Resources: t.res.stateJSON()})
		}
		sf.OfferedResources, sf.UsedResources = offered.stateJSON(), used.stateJSON()
		st.Frameworks = append(st.Frameworks, sf)
	}
	m.mu.Unlock()
	writeJSON(w, st)
}

func (r resources) stateJSON() map[string]any {
	out := map[string]any{"cpus": fromMilli(r.cpus), "mem": fromMilli(r.mem), "disk": fromMilli(r.disk)}
	if len(r.ports) > 0 {
		var rs []string
		for _, p := range r.ports {
			rs = append(rs, fmt.Sprintf("%d-%d", p.Begin, p.End))
		}
		out["ports"] = "[" + strings.Join(rs, ", ") + "]"
	}
	return out
}

// writeJSON answers 200 with v as compact JSON, Content-Length first.
func writeJSON(w http.ResponseWriter, v any) {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(v)
	writeJSONBytes(w, bytes.TrimRight(b.Bytes(), "\n"))
}

func writeJSONBytes(w http.ResponseWriter, body []byte) {
	w.Header().Set("Content-Length", strconv.Itoa(len(body)))
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(body)
}

// filesError answers like the agent's /files endpoints: text bodies end
// with a newline; 404 has an empty body.
func filesError(w http.ResponseWriter, code int, body string) {
	(&httpError{code: code, body: body}).write(w)
}

// resolvePath maps a /files path to a real path: either the virtual
// "/frameworks/<fw>/executors/<ex>/runs/<latest|container>/…" or a real
// path inside a known sandbox. ok is false when the path is unknown.
func (m *Mesos) resolvePath(p string) (string, bool) {
	clean := filepath.Clean("/" + p)
	m.mu.Lock()
	defer m.mu.Unlock()
	parts := strings.Split(strings.TrimPrefix(clean, "/"), "/")
	if len(parts) >= 6 && parts[0] == "frameworks" && parts[2] == "executors" && parts[4] == "runs" {
		runs := m.runs[exKey{parts[1], parts[3]}]
		for i := len(runs) - 1; i >= 0; i-- {
			ex := runs[i]
			if parts[5] == "latest" && i == len(runs)-1 || parts[5] == ex.containerID {
				return filepath.Join(append([]string{ex.sandbox}, parts[6:]...)...), true
			}
		}
		return "", false
	}
	for _, runs := range m.runs {
		for _, ex := range runs {
			if clean == ex.sandbox || strings.HasPrefix(clean, ex.sandbox+"/") {
				return clean, true
			}
		}
	}
	return "", false
}

func (m *Mesos) handleFilesRead(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	if !q.Has("path") {
		filesError(w, http.StatusBadRequest, "Expecting 'path=value' in query.\n")
		return
	}
	parseNum := func(name string) (int64, bool, error) {
		if !q.Has(name) {
			return 0, false, nil
		}
		v := q.Get(name)
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			return 0, true, wireText(fmt.Sprintf("Failed to parse %s: Failed to convert '%s' to number.\n", name, v))
		}
		return n, true, nil
	}
	offset, hasOffset, err := parseNum("offset")
	if err != nil {
		filesError(w, http.StatusBadRequest, err.Error())
		return
	}
	length, hasLength, err := parseNum("length")
	if err != nil {
		filesError(w, http.StatusBadRequest, err.Error())
		return
	}
	path, ok := m.resolvePath(q.Get("path"))
	if !ok {
		filesError(w, http.StatusNotFound, "")
		return
	}
	f, err := os.Open(path)
	if err != nil {
		filesError(w, http.StatusNotFound, "")
		return
	}
	defer f.Close()
	info, err := f.Stat()
	if err != nil {
		filesError(w, http.StatusNotFound, "")
		return
	}
	if info.IsDir() {
		filesError(w, http.StatusBadRequest, "Cannot read a directory.\n")
		return
	}
	size := info.Size()
	if !hasOffset || offset == -1 {
		writeFilesData(w, nil, size)
		return
	}
	if offset < 0 {
		filesError(w, http.StatusBadRequest, "Negative offset provided: "+strconv.FormatInt(offset, 10)+".\n")
		return
	}
	if !hasLength || length == -1 {
		length = size - offset
	}
	if length < -1 {
		filesError(w, http.StatusBadRequest, "Negative length provided: "+strconv.FormatInt(length, 10)+".\n")
		return
	}
	if length > maxReadLength() {
		length = maxReadLength()
	}
	if offset >= size || length <= 0 {
		writeFilesData(w, nil, offset)
		return
	}
	buf := make([]byte, length)
	n, err := f.ReadAt(buf, offset)
	if err != nil && !errors.Is(err, io.EOF) {
		filesError(w, http.StatusInternalServerError, "Failed to read file: "+err.Error()+"\n")
		return
	}
	writeFilesData(w, buf[:n], offset)
}

func writeFilesData(w http.ResponseWriter, data []byte, offset int64) {
	var b bytes.Buffer
	b.WriteString(`{"data":`)
	writeJSONString(&b, string(data))
	b.WriteString(`,"offset":`)
	b.WriteString(strconv.FormatInt(offset, 10))
	b.WriteByte('}')
	writeJSONBytes(w, b.Bytes())
}

func (m *Mesos) handleFilesBrowse(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	if !q.Has("path") {
		filesError(w, http.StatusBadRequest, "Expecting 'path=value' in query.\n")
		return
	}
	virtual := strings.TrimRight(q.Get("path"), "/")
	path, ok := m.resolvePath(q.Get("path"))
	if !ok {
		filesError(w, http.StatusNotFound, "")
		return
	}
	info, err := os.Stat(path)
	if err != nil {
		filesError(w, http.StatusNotFound, "")
		return
	}
	if !info.IsDir() {
		writeJSONBytes(w, []byte("[]"))
		return
	}
	entries, err := os.ReadDir(path)
	if err != nil {
		filesError(w, http.StatusNotFound, "")
		return
	}
	sort.Slice(entries, func(i, j int) bool { return entries[i].Name() < entries[j].Name() })
	var b bytes.Buffer
	b.WriteByte('[')
	for i, e := range entries {
		fi, err := e.Info()
		if err != nil {
			continue
		}
		if i > 0 {
			b.WriteByte(',')
		}
		writeBrowseEntry(&b, virtual+"/"+e.Name(), fi)
	}
	b.WriteByte(']')
	writeJSONBytes(w, b.Bytes())
}

// writeBrowseEntry writes one /files/browse entry, keys in alphabetical
// order as Mesos sends them.
func writeBrowseEntry(b *bytes.Buffer, path string, fi fs.FileInfo) {
	uid, gid, nlink := "", "", uint64(1)
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		uid, gid, nlink = strconv.Itoa(int(st.Uid)), strconv.Itoa(int(st.Gid)), uint64(st.Nlink)
		if u, err := user.LookupId(uid); err == nil {
			uid = u.Username
		}
		if g, err := user.LookupGroupId(gid); err == nil {
			gid = g.Name
		}
	}
	mode := fi.Mode().String()
	if fi.Mode()&fs.ModeSymlink != 0 {
		mode = "l" + mode[1:]
	}
	b.WriteString(`{"gid":`)
	writeJSONString(b, gid)
	b.WriteString(`,"mode":`)
	writeJSONString(b, mode)
	b.WriteString(`,"mtime":`)
	b.WriteString(formatDouble(float64(fi.ModTime().Truncate(time.Second).Unix())))
	b.WriteString(`,"nlink":`)
	b.WriteString(strconv.FormatUint(nlink, 10))
	b.WriteString(`,"path":`)
	writeJSONString(b, path)
	b.WriteString(`,"size":`)
	b.WriteString(strconv.FormatInt(fi.Size(), 10))
	b.WriteString(`,"uid":`)
	writeJSONString(b, uid)
	b.WriteByte('}')
}
