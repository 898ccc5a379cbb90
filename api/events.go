package api

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/horae-scheduler/horae/events"
)

// StreamEvent is the JSON data of one server-sent event of
// GET /api/v1/events. The SSE "event:" field repeats Type and the "id:"
// field repeats ID (absent for overflow and reset, whose ID is 0).
type StreamEvent struct {
	ID   uint64    `json:"id"`
	Type string    `json:"type"`
	Time time.Time `json:"time"`
	Job  string    `json:"job,omitempty"`
	// Run is the run as committed, for run.state.
	Run *Run `json:"run,omitempty"`
	// Spec is the job as committed, for job.created and job.updated (its
	// counters are the current ones; its webhook secret is never included).
	Spec *Job `json:"spec,omitempty"`
	// Epoch and Leading are set for leadership events.
	Epoch   int64 `json:"epoch,omitempty"`
	Leading *bool `json:"leading,omitempty"`
}

// streamEvent converts a hub event to its wire form.
func (a *API) streamEvent(ev events.Event) StreamEvent {
	s := StreamEvent{ID: ev.ID, Type: ev.Type, Time: ev.Time, Job: ev.Job}
	if ev.Run != nil {
		r := RunFromScheduler(*ev.Run)
		s.Run = &r
	}
	if ev.Spec != nil {
		cur, _ := a.deps.Catalog.Job(ev.Spec.Name) // zero counters once deleted
		v := JobFromScheduler(*ev.Spec, cur.Cursor.Stats, false)
		s.Spec = &v
	}
	if ev.Leadership != nil {
		s.Epoch = ev.Leadership.Epoch
		leading := ev.Leadership.Leading
		s.Leading = &leading
	}
	return s
}

// errNoEvents answers /api/v1/events on a server built without a hub.
var errNoEvents = &statusError{code: http.StatusNotFound, msg: "the event stream is not enabled on this server (no events hub)"}

// events is GET /api/v1/events: server-sent events from the hub, filtered by
// ?job=, resumed after the Last-Event-ID header (or ?lastEventId=), with a
// comment line as heartbeat. The stream is served by the leader, whose hub
// sees every committed batch; a follower proxies it there like a command,
// and a stream ends after the event saying this server stopped leading.
func (a *API) events(w http.ResponseWriter, r *http.Request, _ []byte) error {
	if a.deps.Leadership != nil && !a.deps.Leadership.IsLeader() {
		a.forward(w, r, native, nil)
		return nil
	}
	hub := a.deps.Events
	if hub == nil {
		return errNoEvents
	}
	f := events.Filter{Job: r.URL.Query().Get("job")}
	if f.Job != "" {
		if p := checkName(f.Job); p != "" {
			return &BodyError{Problem: fmt.Sprintf("job %q %s", f.Job, p), Details: []Detail{{Field: "job", Message: p}}}
		}
	}
	last := r.Header.Get("Last-Event-ID")
	if last == "" {
		last = r.URL.Query().Get("lastEventId")
	}
	if last != "" {
		id, err := strconv.ParseUint(strings.TrimSpace(last), 10, 64)
		if err != nil {
			return &BodyError{Problem: fmt.Sprintf("Last-Event-ID %q is not an event id (a decimal number)", last),
				Details: []Detail{{Field: "Last-Event-ID", Message: "not a decimal number"}}}
		}
		f.After = id
	}
	flusher, ok := w.(http.Flusher)
	if !ok {
		return fmt.Errorf("events: response writer %T cannot flush", w)
	}
	ctx := r.Context()
	ch := hub.Subscribe(ctx, f)
	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-cache")
	h.Set("X-Accel-Buffering", "no")
	w.WriteHeader(http.StatusOK)
	// A first comment so clients see the stream open at once.
	if _, err := fmt.Fprintf(w, ": horae events (last id %d)\n\n", hub.LastID()); err != nil {
		return nil
	}
	flusher.Flush()
	tick := time.NewTicker(hub.Heartbeat())
	defer tick.Stop()
	var buf bytes.Buffer
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-tick.C:
			if _, err := fmt.Fprint(w, ": heartbeat\n\n"); err != nil {
				return nil
			}
			flusher.Flush()
		case ev, ok := <-ch:
			if !ok {
				return nil // overflow (already sent) or the request ended
			}
			buf.Reset()
			ended := lostLeadership(ev)
			if err := writeSSE(&buf, a.streamEvent(ev)); err != nil {
				return fmt.Errorf("events: encode event %d: %w", ev.ID, err)
			}
			// Send what is queued along in one write and one flush.
			for more := !ended; more; {
				select {
				case ev, ok := <-ch:
					if !ok {
						more = false
						break
					}
					if err := writeSSE(&buf, a.streamEvent(ev)); err != nil {
						return fmt.Errorf("events: encode event %d: %w", ev.ID, err)
					}
					if lostLeadership(ev) {
						ended, more = true, false
					}
				default:
					more = false
				}
			}
			if _, err := w.Write(buf.Bytes()); err != nil {
				return nil // the client went away
			}
			flusher.Flush()
			if ended {
				// This server stopped leading: its hub sees no more
				// changes, so the client should reconnect (and reach the
				// new leader through the proxy).
				return nil
			}
		}
	}
}

func lostLeadership(ev events.Event) bool {
	return ev.Leadership != nil && !ev.Leadership.Leading
}

// writeSSE appends one event in text/event-stream framing. JSON has no raw
// newlines, so data is a single line.
func writeSSE(buf *bytes.Buffer, ev StreamEvent) error {
	b, err := json.Marshal(ev)
	if err != nil {
		return err
	}
	if ev.ID != 0 {
		fmt.Fprintf(buf, "id: %d\n", ev.ID)
	}
	fmt.Fprintf(buf, "event: %s\ndata: %s\n\n", ev.Type, b)
	return nil
}
