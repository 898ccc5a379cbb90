package notify

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/mail"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/horae-scheduler/horae/scheduler"
)

// Payload is the JSON body of the generic webhook. It is the same on every
// retry of an event, so its signature is too.
type Payload struct {
	// ID identifies the event: equal on retries and across sinks, so a
	// receiver can drop repeats.
	ID      string             `json:"id"`
	Kind    scheduler.NotifyOn `json:"kind"`
	Cluster string             `json:"cluster,omitempty"`
	Subject string             `json:"subject"`
	// Job is the job definition with its secrets redacted: the webhook
	// secret removed and environment values replaced by Redacted. When the
	// job is no longer known only its name is set.
	Job scheduler.Job `json:"job"`
	// Run is the run the notice is about, nil for notices about the job
	// (disabled); its per-run environment values are redacted too.
	Run  *scheduler.Run `json:"run,omitempty"`
	At   time.Time      `json:"at"`
	Text string         `json:"text"`
	// Owners are the job's e-mail addresses, parsed from its Owner field.
	Owners []string `json:"owners,omitempty"`
}

// Redacted replaces secret values in payloads.
const Redacted = "(redacted)"

// event is one accepted notice, rendered once and shared read-only by the
// deliveries of every sink.
type event struct {
	payload Payload
}

// wants reports whether a job notifies on kind: its Notify list, or failure
// alone when the list is empty.
func wants(job scheduler.Job, kind scheduler.NotifyOn) bool {
	if len(job.Notify) == 0 {
		return kind == scheduler.NotifyFailure
	}
	return slices.Contains(job.Notify, kind)
}

// eventID derives the event's identity from what makes it one event: its
// kind, job, run and attempt, and its time.
func eventID(n scheduler.Notice) string {
	h := sha256.New()
	fmt.Fprintf(h, "%s\x00%s\x00", n.Kind, n.Job)
	if n.Run != nil {
		fmt.Fprintf(h, "%s\x00%d\x00%s\x00", n.Run.ID, n.Run.Attempt, n.Run.State)
	}
	fmt.Fprintf(h, "%d", n.At.UnixNano())
	return hex.EncodeToString(h.Sum(nil)[:16])
}

func newEvent(cluster string, n scheduler.Notice, job scheduler.Job) *event {
	p := Payload{
		ID:      eventID(n),
		Kind:    n.Kind,
		Cluster: cluster,
		Subject: Subject(cluster, n),
		Job:     redactJob(job),
		At:      n.At.UTC(),
		Text:    n.Text,
	}
	if p.Job.Name == "" {
		p.Job.Name = n.Job
	}
	if n.Run != nil {
		r := redactRun(*n.Run)
		p.Run = &r
	}
	p.Owners, _ = Owners(job.Owner)
	return &event{payload: p}
}

func redactJob(j scheduler.Job) scheduler.Job {
	if j.Webhook != nil {
		w := *j.Webhook
		w.Secret = ""
		j.Webhook = &w
	}
	if len(j.Env) > 0 {
		env := make([]scheduler.EnvVar, len(j.Env))
		for i, e := range j.Env {
			env[i] = scheduler.EnvVar{Name: e.Name, Value: Redacted}
		}
		j.Env = env
	}
	return j
}

func redactRun(r scheduler.Run) scheduler.Run {
	if len(r.Env) > 0 {
		env := make(map[string]string, len(r.Env))
		for k := range r.Env {
			env[k] = Redacted
		}
		r.Env = env
	}
	return r
}

// verb says what happened, for subjects.
func verb(kind scheduler.NotifyOn) string {
	switch kind {
	case scheduler.NotifyFailure:
		return "failed"
	case scheduler.NotifySuccess:
		return "succeeded"
	case scheduler.NotifySkipped:
		return "skipped a run"
	case scheduler.NotifyOverdue:
		return "is overdue"
	case scheduler.NotifyDisabled:
		return "was disabled"
	}
	return string(kind)
}

// Subject is the one-line summary of a notice, used as the e-mail subject,
// the first line of the Slack text and the webhook's subject field:
//
//	[prod] [horae] job nightly-backup failed (run nightly-backup@2026-11-27T02:00:00Z)
//
// The cluster prefix is omitted when cluster is empty. Line breaks are
// removed, so the result is safe in a mail header.
func Subject(cluster string, n scheduler.Notice) string {
	var b strings.Builder
	if cluster != "" {
		fmt.Fprintf(&b, "[%s] ", cluster)
	}
	fmt.Fprintf(&b, "[horae] job %s %s", n.Job, verb(n.Kind))
	if n.Run != nil && n.Run.ID != "" {
		fmt.Fprintf(&b, " (run %s)", n.Run.ID)
	}
	return oneLine(b.String())
}

func oneLine(s string) string {
	return strings.Map(func(r rune) rune {
		if r == '\r' || r == '\n' {
			return ' '
		}
		return r
	}, s)
}

// maxTail bounds the output tail quoted in a message body.
const maxTail = 2048

// body is the plain-text message of an event: the notice's text, then the
// run's facts (state, attempt, times, exit code, tasks) and the tail of its
// standard error.
func (e *event) body() string {
	var b strings.Builder
	if t := e.payload.Text; t != "" {
		b.WriteString(t)
		b.WriteString("\n\n")
	}
	e.writeFacts(&b, true)
	return b.String()
}

// facts is the short form of the run's facts, without tasks and output.
func (e *event) facts() string {
	var b strings.Builder
	e.writeFacts(&b, false)
	return b.String()
}

func (e *event) writeFacts(b *strings.Builder, full bool) {
	p := e.payload
	line := func(k, v string) {
		if v != "" {
			fmt.Fprintf(b, "%-11s %s\n", k+":", v)
		}
	}
	ts := func(t time.Time) string {
		if t.IsZero() {
			return ""
		}
		return t.UTC().Format(time.RFC3339)
	}
	line("job", p.Job.Name)
	if p.Cluster != "" {
		line("cluster", p.Cluster)
	}
	if r := p.Run; r != nil {
		line("run", string(r.ID))
		line("trigger", string(r.Trigger))
		state := string(r.State)
		if r.Reason != "" {
			state += " (" + r.Reason + ")"
		}
		line("state", state)
		attempt := fmt.Sprint(r.Attempt + 1)
		if r.Attempt <= p.Job.Retries { // else the job changed or is unknown
			attempt += fmt.Sprintf(" of %d", p.Job.Retries+1)
		}
		line("attempt", attempt)
		line("scheduled", ts(r.ScheduledFor))
		line("started", ts(r.StartedAt))
		line("finished", ts(r.FinishedAt))
		if r.ExitCode != nil {
			line("exit code", fmt.Sprint(*r.ExitCode))
		}
		if !full {
			return
		}
		for _, t := range r.Tasks {
			desc := string(t.State)
			if t.Host != "" {
				desc += " on " + t.Host
			}
			if t.ExitCode != nil {
				desc += fmt.Sprintf(", exit %d", *t.ExitCode)
			}
			if t.Message != "" {
				desc += ": " + t.Message
			}
			line(fmt.Sprintf("task %d", t.Instance), t.ID+" "+desc)
		}
		for _, t := range r.Tasks {
			if t.StderrTail == "" {
				continue
			}
			tail := t.StderrTail
			if len(tail) > maxTail {
				cut := len(tail) - maxTail
				for cut < len(tail) && !utf8.RuneStart(tail[cut]) {
					cut++ // do not split a character
				}
				tail = "..." + tail[cut:]
			}
			fmt.Fprintf(b, "\nstderr of task %d (tail):\n%s\n", t.Instance, strings.TrimRight(tail, "\n"))
		}
	} else {
		line("at", ts(p.At))
	}
}

// Owners parses a job's Owner field (Chronos: comma-separated e-mail
// addresses, "Name <a@b>" accepted) into bare addresses, without repeats
// (compared case-insensitively) and in the order given. Entries that do not
// parse are returned in bad.
func Owners(owner string) (addrs, bad []string) {
	seen := map[string]bool{}
	add := func(a string) {
		if key := strings.ToLower(a); !seen[key] {
			seen[key] = true
			addrs = append(addrs, a)
		}
	}
	// A quoted name may hold a comma ("Doe, Jane" <jane@example.com>):
	// parse the whole list first, and split on commas only when it fails.
	if list, err := mail.ParseAddressList(owner); err == nil {
		for _, a := range list {
			if !strings.ContainsAny(a.Address, "\r\n") {
				add(a.Address)
			}
		}
		return addrs, nil
	}
	for _, part := range strings.Split(owner, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		a, err := mail.ParseAddress(part)
		if err != nil || strings.ContainsAny(a.Address, "\r\n") {
			bad = append(bad, part)
			continue
		}
		add(a.Address)
	}
	return addrs, bad
}
