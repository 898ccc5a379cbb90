package api

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"time"

	"github.com/horae-scheduler/horae/scheduler"
)

// LogFile is the name of a stream's file in the task's sandbox, as the
// Horae executor writes it ("stdout", "stderr", the Mesos convention).
func LogFile(stream string) (string, bool) {
	switch stream {
	case "", "stdout":
		return "stdout", true
	case "stderr":
		return "stderr", true
	}
	return "", false
}

// logChunk is what one /files/read call asks for.
const logChunk = 64 << 10

// filesRead is the agent's /files/read answer.
type filesRead struct {
	Data   string `json:"data"`
	Offset int64  `json:"offset"`
}

// logGoneError says the agent no longer has the sandbox file (it answered
// 404: the agent restarted, the sandbox was garbage-collected or the
// executor's retention deleted the task directory) or could not be
// reached. For an ended task the stored tail stands in; any other agent
// answer stays an error.
type logGoneError struct{ statusError }

func (e *logGoneError) Unwrap() error { return &e.statusError }

// readAgentFile reads one chunk of path at offset from an agent.
func (a *API) readAgentFile(ctx context.Context, agentURL, path string, offset int64) (string, error) {
	u := fmt.Sprintf("%s/files/read?path=%s&offset=%d&length=%d", agentURL, url.QueryEscape(path), offset, logChunk)
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return "", fmt.Errorf("read log %s from agent %s: %w", path, agentURL, err)
	}
	resp, err := a.client.Do(req)
	if err != nil {
		if ctx.Err() != nil {
			return "", fmt.Errorf("read log %s from agent %s: %w", path, agentURL, err)
		}
		return "", &logGoneError{statusError{code: http.StatusBadGateway,
			msg: fmt.Sprintf("agent %s unreachable reading %s: %v", agentURL, path, err)}}
	}
	defer resp.Body.Close()
	if resp.StatusCode == http.StatusNotFound {
		return "", &logGoneError{statusError{code: http.StatusNotFound, msg: fmt.Sprintf("log file %s not found on agent %s", path, agentURL)}}
	}
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
		return "", &statusError{code: http.StatusBadGateway, msg: fmt.Sprintf("agent %s answered %d reading %s: %s", agentURL, resp.StatusCode, path, b)}
	}
	var fr filesRead
	if err := json.NewDecoder(io.LimitReader(resp.Body, 4*logChunk+1024)).Decode(&fr); err != nil {
		return "", &statusError{code: http.StatusBadGateway, msg: fmt.Sprintf("agent %s: decode /files/read of %s: %v", agentURL, path, err)}
	}
	return fr.Data, nil
}

// runLog streams a task's stdout or stderr from its agent. With follow it
// keeps reading while the run is active, then drains what is left.
func (a *API) runLog(w http.ResponseWriter, r *http.Request, _ []byte) error {
	id := scheduler.RunID(r.PathValue("id"))
	q := r.URL.Query()
	file, ok := LogFile(q.Get("stream"))
	if !ok {
		return &BodyError{Problem: fmt.Sprintf("query parameter stream=%q: use stdout or stderr", q.Get("stream")),
			Details: []Detail{{Field: "stream", Message: "must be stdout or stderr"}}}
	}
	instance, err := intParam(r, "instance", 0)
	if err != nil {
		return err
	}
	follow := q.Get("follow") == "true" || q.Get("follow") == "1"
	run, ok := a.deps.Catalog.Run(id)
	if !ok {
		return notFound("run", string(id))
	}
	task, ok := findTask(run, instance)
	if !ok {
		return &statusError{code: http.StatusNotFound, msg: fmt.Sprintf("run %s has no task of instance %d yet", id, instance)}
	}
	if task.AgentURL == "" || task.Directory == "" {
		if follow && !run.State.Terminal() {
			// Not placed yet: wait for a sandbox.
			if task, ok = a.waitSandbox(r.Context(), id, instance); !ok {
				if task, ok = a.endedTask(id, instance); !ok {
					return &statusError{code: http.StatusNotFound, msg: fmt.Sprintf("run %s ended without a sandbox", id)}
				}
				return writeTail(w, task, file, &statusError{code: http.StatusNotFound,
					msg: fmt.Sprintf("run %s ended without a sandbox", id)})
			}
		} else {
			return writeTail(w, task, file, &statusError{code: http.StatusNotFound,
				msg: fmt.Sprintf("run %s task %s has no sandbox to read logs from", id, task.ID)})
		}
	}
	path := task.Directory + "/" + file
	var offset int64
	wrote := false
	flusher, _ := w.(http.Flusher)
	var ticker *time.Ticker
	for {
		data, err := a.readAgentFile(r.Context(), task.AgentURL, path, offset)
		if err != nil {
			var gone *logGoneError
			if !wrote && errors.As(err, &gone) {
				// The sandbox is gone or out of reach: the tail the
				// executor reported at the end is what is left.
				if ended, ok := a.endedTask(id, instance); ok && tailOf(ended, file) != "" {
					a.log.Info("run log served from the reported tail", "run", string(id), "task", task.ID, "reason", err)
					return writeTail(w, ended, file, err)
				}
			}
			if !wrote {
				return err
			}
			a.log.Warn("log stream ended", "run", string(id), "task", task.ID, "err", err)
			return nil
		}
		if !wrote {
			w.Header().Set("Content-Type", "text/plain; charset=utf-8")
			w.Header().Set("X-Content-Type-Options", "nosniff")
			w.WriteHeader(http.StatusOK)
			wrote = true
		}
		if data != "" {
			if _, err := io.WriteString(w, data); err != nil {
				return nil // client went away
			}
			offset += int64(len(data))
			continue
		}
		if !follow {
			return nil
		}
		if flusher != nil {
			flusher.Flush()
		}
		cur, ok := a.deps.Catalog.Run(id)
		if !ok || cur.State.Terminal() {
			// One last read after the end, for output written just before.
			if !follow {
				return nil
			}
			follow = false
			continue
		}
		if ticker == nil {
			ticker = time.NewTicker(a.cfg.LogPoll)
			defer ticker.Stop()
		}
		select {
		case <-r.Context().Done():
			return nil
		case <-ticker.C:
		}
	}
}

// endedTask is the task of instance in run id once it has ended (and so
// carries the executor's tails), read afresh from the catalog.
func (a *API) endedTask(id scheduler.RunID, instance int) (scheduler.Task, bool) {
	run, ok := a.deps.Catalog.Run(id)
	if !ok {
		return scheduler.Task{}, false
	}
	t, ok := findTask(run, instance)
	if !ok || !t.State.Terminal() {
		return scheduler.Task{}, false
	}
	return t, true
}

func tailOf(t scheduler.Task, file string) string {
	if file == "stderr" {
		return t.StderrTail
	}
	return t.StdoutTail
}

// writeTail answers with the stored tail of file, marked truncated, or
// with orElse when there is none.
func writeTail(w http.ResponseWriter, t scheduler.Task, file string, orElse error) error {
	tail := tailOf(t, file)
	if tail == "" {
		return orElse
	}
	w.Header().Set("X-Horae-Log-Truncated", "true")
	writeText(w, http.StatusOK, tail)
	return nil
}

func findTask(run scheduler.Run, instance int) (scheduler.Task, bool) {
	for _, t := range run.Tasks {
		if t.Instance == instance {
			return t, true
		}
	}
	return scheduler.Task{}, false
}

// waitSandbox polls the catalog until the task has a sandbox or the run ends.
func (a *API) waitSandbox(ctx context.Context, id scheduler.RunID, instance int) (scheduler.Task, bool) {
	ticker := time.NewTicker(a.cfg.LogPoll)
	defer ticker.Stop()
	for {
		run, ok := a.deps.Catalog.Run(id)
		if !ok {
			return scheduler.Task{}, false
		}
		if t, ok := findTask(run, instance); ok && t.AgentURL != "" && t.Directory != "" {
			return t, true
		}
		if run.State.Terminal() {
			return scheduler.Task{}, false
		}
		select {
		case <-ctx.Done():
			return scheduler.Task{}, false
		case <-ticker.C:
		}
	}
}
