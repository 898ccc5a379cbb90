package api

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"regexp"
	"sort"
	"strings"
	"unicode/utf8"

	"github.com/horae-scheduler/horae/scheduler"
)

// Inbound webhook limits.
const (
	// HookMaxBody caps a webhook delivery's body.
	HookMaxBody = 64 << 10
	// HookMaxKeys caps the environment variables one delivery may set.
	HookMaxKeys = 64
	// HookMaxValue caps one variable's value, in bytes.
	HookMaxValue = 4 << 10
)

// Webhook headers.
const (
	// SignatureHeader carries "sha256=" and the hex HMAC-SHA256 of the raw
	// body keyed by the job's webhook secret.
	SignatureHeader = "X-Horae-Signature"
	// TokenHeader carries the secret itself (as does Authorization: Bearer).
	TokenHeader = "X-Horae-Token"
	// IdempotencyHeader makes a retried delivery return the first run.
	IdempotencyHeader = "Idempotency-Key"
)

var envName = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

// errNoHook answers an unknown job, a job without an enabled webhook and a
// malformed name alike, so the answer does not tell which jobs exist.
func errNoHook(name string) error {
	return &statusError{code: http.StatusNotFound, msg: fmt.Sprintf("no webhook-enabled job %q", name)}
}

var errHookAuth = &authError{code: http.StatusUnauthorized, msg: "webhook signature or token missing or wrong"}

// hook is POST /api/v1/hooks/{job}: it starts a run of a job whose webhook
// is enabled, authenticated by the job's secret (not by --auth-file users).
// A follower forwards it to the leader before this runs.
func (a *API) hook(w http.ResponseWriter, r *http.Request, body []byte) error {
	name := r.PathValue("job")
	if checkName(name) != "" {
		return errNoHook(name)
	}
	v, ok := a.deps.Catalog.Job(name)
	if !ok || v.Job.Webhook == nil || !v.Job.Webhook.Enabled || v.Job.Webhook.Secret == "" {
		return errNoHook(name)
	}
	if !hookAuthorized(r, body, v.Job.Webhook.Secret) {
		return errHookAuth
	}
	if len(body) > HookMaxBody {
		return &statusError{code: http.StatusRequestEntityTooLarge, msg: fmt.Sprintf("webhook body of %d bytes is larger than %d", len(body), HookMaxBody)}
	}
	env, err := hookEnv(body)
	if err != nil {
		return err
	}
	out, err := a.do(r, scheduler.RunRequested{Job: name, Trigger: scheduler.TriggerWebhook,
		TriggerID: r.Header.Get(IdempotencyHeader), Env: env})
	if err != nil {
		return err
	}
	if out.Run == nil {
		return fmt.Errorf("webhook run of job %s: the engine returned no run", name)
	}
	a.log.Info("webhook started run", "job", name, "run", string(out.Run.ID))
	w.Header().Set("Location", "/api/v1/runs/"+string(out.Run.ID))
	writeJSON(w, http.StatusAccepted, RunFromScheduler(*out.Run))
	return nil
}

// hookAuthorized checks the signature header, else the token, in constant
// time against secret.
func hookAuthorized(r *http.Request, body []byte, secret string) bool {
	if sig := r.Header.Get(SignatureHeader); sig != "" {
		hexSum, ok := strings.CutPrefix(sig, "sha256=")
		if !ok {
			return false
		}
		got, err := hex.DecodeString(hexSum)
		if err != nil {
			return false
		}
		m := hmac.New(sha256.New, []byte(secret))
		m.Write(body)
		return hmac.Equal(got, m.Sum(nil))
	}
	token := r.Header.Get(TokenHeader)
	if t, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer "); ok && token == "" {
		token = strings.TrimSpace(t)
	}
	if token == "" {
		return false
	}
	// Compare digests so the time taken does not depend on the length.
	g, s := sha256.Sum256([]byte(token)), sha256.Sum256([]byte(secret))
	return subtle.ConstantTimeCompare(g[:], s[:]) == 1
}

// hookEnv turns a delivery's body into run environment variables: the
// top-level string members of a JSON object. An empty body sets none.
func hookEnv(body []byte) (map[string]string, error) {
	if len(bytes.TrimSpace(body)) == 0 {
		return nil, nil
	}
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(body, &raw); err != nil {
		return nil, &BodyError{Problem: "webhook body must be a JSON object: " + jsonProblem(err)}
	}
	if raw == nil {
		return nil, &BodyError{Problem: "webhook body must be a JSON object, not null"}
	}
	if len(raw) > HookMaxKeys {
		return nil, scheduler.Invalid("body", "%d keys; at most %d become environment variables", len(raw), HookMaxKeys)
	}
	keys := make([]string, 0, len(raw))
	for k := range raw {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var problems []scheduler.FieldProblem
	env := make(map[string]string, len(raw))
	for _, k := range keys {
		field := "body." + k
		if !envName.MatchString(k) {
			problems = append(problems, scheduler.FieldProblem{Field: field, Message: "not an environment variable name ([A-Za-z_][A-Za-z0-9_]*)"})
			continue
		}
		var s string
		// Unmarshal would turn null into "": only a JSON string is taken.
		if v := bytes.TrimSpace(raw[k]); len(v) == 0 || v[0] != '"' || json.Unmarshal(v, &s) != nil {
			problems = append(problems, scheduler.FieldProblem{Field: field, Message: "must be a string, got " + jsonKind(raw[k])})
			continue
		}
		switch {
		case len(s) > HookMaxValue:
			problems = append(problems, scheduler.FieldProblem{Field: field, Message: fmt.Sprintf("value of %d bytes is longer than %d", len(s), HookMaxValue)})
		case strings.ContainsRune(s, 0) || !utf8.ValidString(s):
			problems = append(problems, scheduler.FieldProblem{Field: field, Message: "value contains NUL or invalid UTF-8"})
		default:
			env[k] = s
		}
	}
	if len(problems) > 0 {
		return nil, &scheduler.ValidationError{Problems: problems}
	}
	return env, nil
}

// jsonKind names the JSON type of a raw value.
func jsonKind(b json.RawMessage) string {
	b = bytes.TrimSpace(b)
	if len(b) == 0 {
		return "nothing"
	}
	switch b[0] {
	case '{':
		return "an object"
	case '[':
		return "an array"
	case 't', 'f':
		return "a boolean"
	case 'n':
		return "null"
	case '"':
		return "a malformed string"
	}
	return "a number"
}

// HookInfo is GET /api/v1/jobs/{name}/hook: how to call the job's webhook
// (for `horae job hook-url`). The secret is never included.
type HookInfo struct {
	Job               string `json:"job"`
	Enabled           bool   `json:"enabled"`
	URL               string `json:"url"`
	Method            string `json:"method"`
	SignatureHeader   string `json:"signatureHeader"`
	SignatureFormat   string `json:"signatureFormat"`
	TokenHeader       string `json:"tokenHeader"`
	IdempotencyHeader string `json:"idempotencyHeader"`
	MaxBodyBytes      int    `json:"maxBodyBytes"`
	MaxKeys           int    `json:"maxKeys"`
	MaxValueBytes     int    `json:"maxValueBytes"`
}

func (a *API) hookInfo(w http.ResponseWriter, r *http.Request, _ []byte) error {
	name, err := pathName(r)
	if err != nil {
		return err
	}
	v, ok := a.deps.Catalog.Job(name)
	if !ok {
		return notFound("job", name)
	}
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	if p := r.Header.Get("X-Forwarded-Proto"); p == "https" || p == "http" {
		scheme = p
	}
	host := r.Host
	if fh := r.Header.Get("X-Forwarded-Host"); fh != "" {
		host = fh
	}
	wh := v.Job.Webhook
	writeJSON(w, http.StatusOK, HookInfo{
		Job:               name,
		Enabled:           wh != nil && wh.Enabled && wh.Secret != "",
		URL:               scheme + "://" + host + "/api/v1/hooks/" + name,
		Method:            http.MethodPost,
		SignatureHeader:   SignatureHeader,
		SignatureFormat:   "sha256=<hex HMAC-SHA256 of the raw body, keyed by the webhook secret>",
		TokenHeader:       TokenHeader,
		IdempotencyHeader: IdempotencyHeader,
		MaxBodyBytes:      HookMaxBody,
		MaxKeys:           HookMaxKeys,
		MaxValueBytes:     HookMaxValue,
	})
	return nil
}

// hookRoutes registers the event stream and the webhook routes.
func (a *API) hookRoutes() {
	a.handle(route{pattern: "GET /api/v1/events", role: RoleViewer, surface: native}, a.events)
	a.handle(route{pattern: "POST /api/v1/hooks/{job}", role: RoleNone, surface: native, write: true}, a.hook)
	a.handle(route{pattern: "GET /api/v1/jobs/{name}/hook", role: RoleOperator, surface: native}, a.hookInfo)
}
