package api

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/horae-scheduler/horae/scheduler"
)

// Job is the job JSON of both surfaces: Chronos 3.x field names in the order
// Chronos's serializer writes them (clients and diff-based tools compare
// it), then Horae's own fields. Durations are ISO 8601 ("PT1M"); times are
// RFC 3339 UTC with milliseconds, "" when unset, as Chronos wrote them.
type Job struct {
	Name                   string            `json:"name"`
	Command                string            `json:"command"`
	Shell                  bool              `json:"shell"`
	Executor               string            `json:"executor"`
	ExecutorFlags          string            `json:"executorFlags"`
	TaskInfoData           string            `json:"taskInfoData"`
	Retries                int               `json:"retries"`
	Owner                  string            `json:"owner"`
	OwnerName              string            `json:"ownerName"`
	Description            string            `json:"description"`
	SuccessCount           int64             `json:"successCount"`
	ErrorCount             int64             `json:"errorCount"`
	LastSuccess            string            `json:"lastSuccess"`
	LastError              string            `json:"lastError"`
	CPUs                   float64           `json:"cpus"`
	Disk                   float64           `json:"disk"`
	Mem                    float64           `json:"mem"`
	Disabled               bool              `json:"disabled"`
	SoftError              bool              `json:"softError"`
	DataProcessingJobType  bool              `json:"dataProcessingJobType"`
	ErrorsSinceLastSuccess int64             `json:"errorsSinceLastSuccess"`
	Fetch                  []Fetch           `json:"fetch"`
	URIs                   []string          `json:"uris"`
	EnvironmentVariables   []EnvVar          `json:"environmentVariables"`
	Arguments              []string          `json:"arguments"`
	HighPriority           bool              `json:"highPriority"`
	RunAsUser              string            `json:"runAsUser"`
	Concurrent             bool              `json:"concurrent"`
	MaxCompletionTime      int64             `json:"maxCompletionTime"`
	Container              *Container        `json:"container,omitempty"`
	Constraints            [][]string        `json:"constraints"`
	Parents                []string          `json:"parents,omitempty"`
	Schedule               *string           `json:"schedule,omitempty"`
	ScheduleTimeZone       *string           `json:"scheduleTimeZone,omitempty"`
	TriggerRule            string            `json:"triggerRule,omitempty"`
	Instances              int               `json:"instances"`
	UniqueHosts            bool              `json:"uniqueHosts"`
	ConcurrencyPolicy      string            `json:"concurrencyPolicy"`
	MissedRunPolicy        string            `json:"missedRunPolicy"`
	StartingDeadline       string            `json:"startingDeadline,omitempty"`
	RetryDelay             string            `json:"retryDelay,omitempty"`
	RetryDelayMax          string            `json:"retryDelayMax,omitempty"`
	MaxRuntime             string            `json:"maxRuntime,omitempty"`
	Ports                  int               `json:"ports,omitempty"`
	GPUs                   float64           `json:"gpus,omitempty"`
	Notify                 []string          `json:"notify,omitempty"`
	Webhook                *Webhook          `json:"webhook,omitempty"`
	Labels                 map[string]string `json:"labels,omitempty"`
	CreatedAt              string            `json:"createdAt,omitempty"`
	UpdatedAt              string            `json:"updatedAt,omitempty"`
}

// Fetch is one Mesos fetcher URI.
type Fetch struct {
	URI        string `json:"uri"`
	Executable bool   `json:"executable"`
	Cache      bool   `json:"cache"`
	Extract    bool   `json:"extract"`
	OutputFile string `json:"output_file,omitempty"`
}

// EnvVar is one environment variable.
type EnvVar struct {
	Name  string `json:"name"`
	Value string `json:"value"`
}

// Container is the Chronos container description.
type Container struct {
	Type           string     `json:"type"`
	Image          string     `json:"image"`
	Network        string     `json:"network,omitempty"`
	ForcePullImage bool       `json:"forcePullImage"`
	Volumes        []Volume   `json:"volumes"`
	Parameters     []KeyValue `json:"parameters"`
}

// Volume is a container volume.
type Volume struct {
	ContainerPath string `json:"containerPath"`
	HostPath      string `json:"hostPath,omitempty"`
	Mode          string `json:"mode,omitempty"`
}

// KeyValue is a generic pair (docker parameters).
type KeyValue struct {
	Key   string `json:"key"`
	Value string `json:"value"`
}

// Webhook says whether inbound webhooks may start runs. Its secret is
// accepted on input and never written back.
type Webhook struct {
	Enabled bool   `json:"enabled"`
	Secret  string `json:"secret,omitempty"`
}

// chronosTime formats t as Chronos did (millis, UTC), "" for zero.
func chronosTime(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format("2006-01-02T15:04:05.000Z07:00")
}

// JobFromScheduler renders a job and its counters as wire JSON. With
// mirror, fetch is filled from uris or uris from fetch (Chronos does so in
// GET /v1/scheduler/jobs for clients that know only one of them).
func JobFromScheduler(j scheduler.Job, st scheduler.Stats, mirror bool) Job {
	w := Job{
		Name: j.Name, Command: j.Command, Shell: j.Shell,
		Executor: j.Executor, ExecutorFlags: j.ExecutorFlags, TaskInfoData: j.TaskInfoData,
		Retries: j.Retries, Owner: j.Owner, OwnerName: j.OwnerName, Description: j.Description,
		SuccessCount: st.SuccessCount, ErrorCount: st.ErrorCount,
		LastSuccess: chronosTime(st.LastSuccess), LastError: chronosTime(st.LastError),
		CPUs: j.CPUs, Disk: j.Disk, Mem: j.Mem,
		Disabled: j.Disabled, SoftError: j.SoftError,
		ErrorsSinceLastSuccess: st.ErrorsSinceLastSuccess,
		Fetch:                  []Fetch{}, URIs: []string{}, EnvironmentVariables: []EnvVar{},
		Arguments:    append([]string{}, j.Arguments...),
		HighPriority: j.HighPriority, RunAsUser: j.RunAsUser,
		Concurrent:        j.ConcurrencyPolicy == scheduler.Allow,
		MaxCompletionTime: int64(j.MaxRuntime / time.Second),
		Constraints:       [][]string{},
		TriggerRule:       string(j.TriggerRule),
		Instances:         j.Instances, UniqueHosts: j.UniqueHosts,
		ConcurrencyPolicy: string(j.ConcurrencyPolicy), MissedRunPolicy: string(j.MissedRunPolicy),
		StartingDeadline: FormatDuration(j.StartingDeadline),
		RetryDelay:       FormatDuration(j.RetryDelay), RetryDelayMax: FormatDuration(j.RetryDelayMax),
		MaxRuntime: FormatDuration(j.MaxRuntime),
		Ports:      j.Ports, GPUs: j.GPUs,
		Labels:    j.Labels,
		CreatedAt: chronosTime(j.CreatedAt), UpdatedAt: chronosTime(j.UpdatedAt),
	}
	if w.ConcurrencyPolicy == "" {
		w.ConcurrencyPolicy = string(scheduler.Forbid)
	}
	if w.MissedRunPolicy == "" {
		w.MissedRunPolicy = string(scheduler.MissedLatest)
	}
	if w.Instances == 0 {
		w.Instances = 1
	}
	for _, f := range j.Fetch {
		w.Fetch = append(w.Fetch, Fetch(f))
	}
	w.URIs = append(w.URIs, j.URIs...)
	if mirror {
		switch {
		case len(w.Fetch) == 0 && len(w.URIs) > 0:
			for _, u := range w.URIs {
				w.Fetch = append(w.Fetch, Fetch{URI: u, Extract: true})
			}
		case len(w.URIs) == 0 && len(w.Fetch) > 0:
			for _, f := range w.Fetch {
				w.URIs = append(w.URIs, f.URI)
			}
		}
	}
	for _, e := range j.Env {
		w.EnvironmentVariables = append(w.EnvironmentVariables, EnvVar(e))
	}
	if j.Container != nil {
		c := &Container{Type: j.Container.Type, Image: j.Container.Image, Network: j.Container.Network,
			ForcePullImage: j.Container.ForcePullImage, Volumes: []Volume{}, Parameters: []KeyValue{}}
		for _, v := range j.Container.Volumes {
			c.Volumes = append(c.Volumes, Volume(v))
		}
		for _, p := range j.Container.Parameters {
			c.Parameters = append(c.Parameters, KeyValue(p))
		}
		w.Container = c
	}
	for _, c := range j.Constraints {
		row := []string{c.Attribute, c.Operator}
		if c.Value != "" || c.Operator != "UNIQUE" {
			row = append(row, c.Value)
		}
		w.Constraints = append(w.Constraints, row)
	}
	if len(j.Parents) > 0 {
		w.Parents = append([]string{}, j.Parents...)
	} else {
		s, tz := j.Schedule, j.ScheduleTimeZone
		w.Schedule, w.ScheduleTimeZone = &s, &tz
	}
	for _, n := range j.Notify {
		w.Notify = append(w.Notify, string(n))
	}
	if j.Webhook != nil {
		w.Webhook = &Webhook{Enabled: j.Webhook.Enabled}
	}
	return w
}

// nameRE is the job name rule: Chronos's [\w.-]+, bounded.
var nameRE = regexp.MustCompile(`^[A-Za-z0-9_.-]{1,200}$`)

// checkName returns why name is not a valid job name, or "".
func checkName(name string) string {
	switch {
	case name == "":
		return "must not be empty"
	case strings.Contains(name, ".."):
		return "must not contain '..'"
	case !nameRE.MatchString(name):
		return "must match [A-Za-z0-9_.-]{1,200} (no spaces or '/')"
	}
	return ""
}

// decoder decodes one job object field by field, collecting problems. In
// lenient mode (Chronos surface) unknown fields are ignored and strings are
// coerced to numbers and booleans ("cpus":"0.5"), as Chronos's hand-written
// deserializer did; in strict mode (native surface) both are problems.
type decoder struct {
	strict     bool
	keepSecret bool // a webhook without "secret": keep the stored one
	fields     map[string]json.RawMessage
	problems   []scheduler.FieldProblem
}

func (d *decoder) fail(field, format string, args ...any) {
	d.problems = append(d.problems, scheduler.FieldProblem{Field: field, Message: fmt.Sprintf(format, args...)})
}

// raw returns the field's JSON, or nil when absent or null.
func (d *decoder) raw(key string) json.RawMessage {
	r, ok := d.fields[key]
	if !ok || bytes.Equal(bytes.TrimSpace(r), []byte("null")) {
		return nil
	}
	return r
}

func (d *decoder) has(key string) bool { return d.raw(key) != nil }

func (d *decoder) str(key string) string {
	r := d.raw(key)
	if r == nil {
		return ""
	}
	var s string
	if err := json.Unmarshal(r, &s); err == nil {
		return s
	}
	if !d.strict {
		var v any
		if json.Unmarshal(r, &v) == nil {
			switch v := v.(type) {
			case float64, bool:
				return fmt.Sprint(v)
			}
		}
	}
	d.fail(key, "must be a string")
	return ""
}

func (d *decoder) boolean(key string, def bool) bool {
	r := d.raw(key)
	if r == nil {
		return def
	}
	var b bool
	if err := json.Unmarshal(r, &b); err == nil {
		return b
	}
	if !d.strict {
		var s string
		if json.Unmarshal(r, &s) == nil {
			if b, err := strconv.ParseBool(strings.TrimSpace(s)); err == nil {
				return b
			}
		}
	}
	d.fail(key, "must be a boolean")
	return def
}

func (d *decoder) number(key string, def float64) float64 {
	r := d.raw(key)
	if r == nil {
		return def
	}
	var f float64
	if err := json.Unmarshal(r, &f); err == nil {
		if math.IsNaN(f) || math.IsInf(f, 0) || f < 0 {
			d.fail(key, "must be a non-negative number")
			return def
		}
		return f
	}
	if !d.strict {
		var s string
		if json.Unmarshal(r, &s) == nil {
			if f, err := strconv.ParseFloat(strings.TrimSpace(s), 64); err == nil && f >= 0 && !math.IsInf(f, 0) && !math.IsNaN(f) {
				return f
			}
		}
	}
	d.fail(key, "must be a non-negative number")
	return def
}

func (d *decoder) integer(key string, def int) int {
	f := d.number(key, float64(def))
	if f != math.Trunc(f) || f > math.MaxInt32 {
		d.fail(key, "must be a whole number up to %d", math.MaxInt32)
		return def
	}
	return int(f)
}

func (d *decoder) strings(key string) []string {
	r := d.raw(key)
	if r == nil {
		return nil
	}
	var ss []string
	if err := json.Unmarshal(r, &ss); err != nil {
		d.fail(key, "must be an array of strings")
		return nil
	}
	return ss
}

func (d *decoder) duration(key string) time.Duration {
	s := d.str(key)
	if s == "" {
		return 0
	}
	dur, err := ParseDuration(s)
	if err != nil {
		d.fail(key, "%v", err)
	}
	return dur
}

// into decodes a nested value with json (strictly on the native surface).
func (d *decoder) into(key string, v any) bool {
	r := d.raw(key)
	if r == nil {
		return false
	}
	dec := json.NewDecoder(bytes.NewReader(r))
	if d.strict {
		dec.DisallowUnknownFields()
	}
	if err := dec.Decode(v); err != nil {
		d.fail(key, "%s", jsonProblem(err))
		return false
	}
	return true
}

// knownFields are the job fields either surface accepts. Read-only ones
// (counters, times) are accepted and ignored, so that a job read with GET
// can be sent back with PUT.
var knownFields = map[string]bool{}

func init() {
	for _, k := range strings.Fields(`name command shell executor executorFlags taskInfoData retries owner ownerName
description successCount errorCount lastSuccess lastError cpus disk mem disabled softError dataProcessingJobType
errorsSinceLastSuccess fetch uris environmentVariables arguments highPriority runAsUser concurrent maxCompletionTime
container constraints parents schedule scheduleTimeZone triggerRule instances uniqueHosts concurrencyPolicy
missedRunPolicy startingDeadline epsilon async retryDelay retryDelayMax maxRuntime ports gpus notify webhook labels
createdAt updatedAt`) {
		knownFields[k] = true
	}
}

// DecodeJob decodes a job body. Strict (native surface) rejects unknown
// fields and wrong types; lenient (Chronos surface) ignores unknown fields
// and coerces strings. A syntax error is returned as *BodyError; field
// problems as *BodyError with Details. Absent retries default to 2 and
// absent shell to true (Chronos defaults; the engine does not default them).
func DecodeJob(body []byte, strict bool) (scheduler.Job, error) {
	j, _, err := decodeJob(body, strict)
	return j, err
}

// decodeJob is DecodeJob that also says whether the body has a webhook
// without a secret, which a replacement reads as "keep the stored one".
func decodeJob(body []byte, strict bool) (scheduler.Job, bool, error) {
	d := &decoder{strict: strict}
	dec := json.NewDecoder(bytes.NewReader(body))
	if err := dec.Decode(&d.fields); err != nil {
		return scheduler.Job{}, false, &BodyError{Problem: jsonProblem(err)}
	}
	if dec.More() {
		return scheduler.Job{}, false, &BodyError{Problem: "trailing data after the JSON object"}
	}
	if d.fields == nil {
		return scheduler.Job{}, false, &BodyError{Problem: "body must be a JSON object"}
	}
	if strict {
		var unknown []string
		for k := range d.fields {
			if !knownFields[k] {
				unknown = append(unknown, k)
			}
		}
		sort.Strings(unknown)
		for _, k := range unknown {
			d.fail(k, "unknown field")
		}
	}
	j := scheduler.Job{
		Name:          d.str("name"),
		Command:       d.str("command"),
		Shell:         d.boolean("shell", true),
		Arguments:     d.strings("arguments"),
		Description:   d.str("description"),
		Owner:         d.str("owner"),
		OwnerName:     d.str("ownerName"),
		Executor:      d.str("executor"),
		ExecutorFlags: d.str("executorFlags"),
		TaskInfoData:  d.str("taskInfoData"),
		CPUs:          d.number("cpus", 0),
		Mem:           d.number("mem", 0),
		Disk:          d.number("disk", 0),
		Ports:         d.integer("ports", 0),
		GPUs:          d.number("gpus", 0),
		RunAsUser:     d.str("runAsUser"),
		URIs:          d.strings("uris"),
		Schedule:      d.str("schedule"),
		Parents:       d.strings("parents"),
		TriggerRule:   scheduler.TriggerRule(d.str("triggerRule")),
		Disabled:      d.boolean("disabled", false),
		SoftError:     d.boolean("softError", false),
		HighPriority:  d.boolean("highPriority", false),
		Instances:     d.integer("instances", 0),
		UniqueHosts:   d.boolean("uniqueHosts", false),
		Retries:       d.integer("retries", scheduler.DefaultRetries),
		RetryDelay:    d.duration("retryDelay"),
		RetryDelayMax: d.duration("retryDelayMax"),
		MaxRuntime:    d.duration("maxRuntime"),
	}
	j.ScheduleTimeZone = d.str("scheduleTimeZone")
	if d.raw("name") == nil {
		d.fail("name", "required")
	} else if p := checkName(j.Name); p != "" {
		d.fail("name", "%q %s", j.Name, p)
	}
	if d.has("maxCompletionTime") {
		secs := d.number("maxCompletionTime", 0)
		if secs > float64(math.MaxInt64/int64(time.Second)) {
			d.fail("maxCompletionTime", "%v seconds is too long", secs)
		} else if j.MaxRuntime == 0 {
			j.MaxRuntime = time.Duration(secs * float64(time.Second))
		}
	}
	j.StartingDeadline = d.duration("startingDeadline")
	if j.StartingDeadline == 0 {
		j.StartingDeadline = d.duration("epsilon")
	}
	cp := scheduler.ConcurrencyPolicy(d.str("concurrencyPolicy"))
	if d.boolean("concurrent", false) && cp == "" {
		cp = scheduler.Allow
	}
	j.ConcurrencyPolicy = cp
	j.MissedRunPolicy = scheduler.MissedRunPolicy(d.str("missedRunPolicy"))
	for _, n := range d.strings("notify") {
		j.Notify = append(j.Notify, scheduler.NotifyOn(n))
	}
	var labels map[string]string
	if d.into("labels", &labels) {
		j.Labels = labels
	}
	var fetch []Fetch
	if r := d.raw("fetch"); r != nil {
		// extract defaults to true (Chronos).
		var items []json.RawMessage
		if err := json.Unmarshal(r, &items); err != nil {
			d.fail("fetch", "must be an array of objects")
		}
		for i, it := range items {
			f := Fetch{Extract: true}
			dec := json.NewDecoder(bytes.NewReader(it))
			if strict {
				dec.DisallowUnknownFields()
			}
			if err := dec.Decode(&f); err != nil {
				d.fail(fmt.Sprintf("fetch[%d]", i), "%s", jsonProblem(err))
				continue
			}
			fetch = append(fetch, f)
		}
	}
	for _, f := range fetch {
		j.Fetch = append(j.Fetch, scheduler.FetchURI(f))
	}
	var env []EnvVar
	if d.into("environmentVariables", &env) {
		for _, e := range env {
			j.Env = append(j.Env, scheduler.EnvVar(e))
		}
	}
	var cont Container
	if d.into("container", &cont) {
		c := &scheduler.Container{Type: cont.Type, Image: cont.Image, Network: cont.Network, ForcePullImage: cont.ForcePullImage}
		for _, v := range cont.Volumes {
			c.Volumes = append(c.Volumes, scheduler.Volume(v))
		}
		for _, p := range cont.Parameters {
			c.Parameters = append(c.Parameters, scheduler.KeyValue(p))
		}
		j.Container = c
	}
	var cons [][]string
	if d.into("constraints", &cons) {
		for i, c := range cons {
			if len(c) < 2 || len(c) > 3 {
				d.fail(fmt.Sprintf("constraints[%d]", i), "must be [attribute, operator, value]")
				continue
			}
			con := scheduler.Constraint{Attribute: c[0], Operator: c[1]}
			if len(c) == 3 {
				con.Value = c[2]
			}
			j.Constraints = append(j.Constraints, con)
		}
	}
	// The secret is a pointer here so that an absent secret (a job read
	// with GET, which never shows it, and sent back) can be told from an
	// explicit "" (clear it).
	var hook struct {
		Enabled bool    `json:"enabled"`
		Secret  *string `json:"secret"`
	}
	if d.into("webhook", &hook) {
		j.Webhook = &scheduler.WebhookSpec{Enabled: hook.Enabled}
		if hook.Secret != nil {
			j.Webhook.Secret = *hook.Secret
		}
		d.keepSecret = hook.Secret == nil
	}
	// Read-only fields: type-checked on the strict surface, then ignored.
	if strict {
		for _, k := range []string{"successCount", "errorCount", "errorsSinceLastSuccess", "maxCompletionTime"} {
			d.number(k, 0)
		}
		for _, k := range []string{"lastSuccess", "lastError", "createdAt", "updatedAt"} {
			d.str(k)
		}
		for _, k := range []string{"dataProcessingJobType", "async"} {
			d.boolean(k, false)
		}
	}
	if len(d.problems) > 0 {
		return j, false, &BodyError{Problem: (&scheduler.ValidationError{Problems: d.problems}).Error(), Details: d.problems}
	}
	return j, d.keepSecret, nil
}

// BodyError is a request body that is not valid JSON of the right shape.
type BodyError struct {
	Problem string
	Details []Detail
}

func (e *BodyError) Error() string { return "malformed body: " + e.Problem }

// jsonProblem describes a json error without Go type names.
func jsonProblem(err error) string {
	var se *json.SyntaxError
	var te *json.UnmarshalTypeError
	switch {
	case errors.As(err, &se):
		return fmt.Sprintf("invalid JSON at byte %d: %s", se.Offset, se.Error())
	case errors.As(err, &te):
		if te.Field != "" {
			return fmt.Sprintf("field %s: wrong type %s", te.Field, te.Value)
		}
		return fmt.Sprintf("wrong type %s", te.Value)
	}
	msg := err.Error()
	msg = strings.TrimPrefix(msg, "json: ")
	return msg
}

// FormatDuration writes d as an ISO 8601 duration ("PT1M30S"); "" for zero.
// It is exact to the nanosecond, so ParseDuration(FormatDuration(d)) == d.
func FormatDuration(d time.Duration) string {
	if d <= 0 {
		return ""
	}
	var b strings.Builder
	b.WriteString("PT")
	if h := d / time.Hour; h > 0 {
		fmt.Fprintf(&b, "%dH", h)
		d -= h * time.Hour
	}
	if m := d / time.Minute; m > 0 {
		fmt.Fprintf(&b, "%dM", m)
		d -= m * time.Minute
	}
	if d > 0 {
		sec, ns := d/time.Second, d%time.Second
		b.WriteString(strconv.FormatInt(int64(sec), 10))
		if ns > 0 {
			b.WriteString("." + strings.TrimRight(fmt.Sprintf("%09d", ns), "0"))
		}
		b.WriteString("S")
	}
	return b.String()
}

var durationRE = regexp.MustCompile(`^P(?:(\d+)W)?(?:(\d+)D)?(?:T(?:(\d+)H)?(?:(\d+)M)?(?:(\d+)(?:[.,](\d+))?S)?)?$`)

// ParseDuration reads an ISO 8601 duration of fixed length: weeks, days
// (24 h), hours, minutes, seconds ("PT1M", "P1DT2H", "PT0.5S"), exact to
// the nanosecond. Years and months have no fixed length and are refused.
func ParseDuration(s string) (time.Duration, error) {
	m := durationRE.FindStringSubmatch(s)
	if m == nil || s == "P" || strings.HasSuffix(s, "T") {
		return 0, fmt.Errorf("%q is not an ISO 8601 duration like PT1M or P1DT2H (years and months are not allowed)", s)
	}
	tooLong := fmt.Errorf("%q is too long", s)
	var total time.Duration
	units := []time.Duration{7 * 24 * time.Hour, 24 * time.Hour, time.Hour, time.Minute, time.Second}
	for i, u := range units {
		if m[i+1] == "" {
			continue
		}
		n, err := strconv.ParseInt(m[i+1], 10, 64)
		if err != nil || n > int64(math.MaxInt64/u) {
			return 0, tooLong
		}
		if total > math.MaxInt64-time.Duration(n)*u {
			return 0, tooLong
		}
		total += time.Duration(n) * u
	}
	if frac := m[6]; frac != "" {
		if len(frac) > 9 {
			frac = frac[:9]
		}
		frac += strings.Repeat("0", 9-len(frac))
		ns, _ := strconv.ParseInt(frac, 10, 64)
		if total > math.MaxInt64-time.Duration(ns) {
			return 0, tooLong
		}
		total += time.Duration(ns)
	}
	return total, nil
}
