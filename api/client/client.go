// Package client is a typed Go client of Horae's native API (/api/v1), used
// by the horae CLI and the integration tests. It must not depend on anything
// but the api wire types; every call takes a context and returns an *Error
// carrying the status and details when the server refuses.
package client

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/horae-scheduler/horae/api"
)

// Client talks to one Horae server.
type Client struct {
	base  string
	token string
	http  *http.Client
}

// New returns a client of the server at base ("http://127.0.0.1:4400")
// authenticating with token (may be empty). hc nil means a client with a
// 30 s timeout (log following uses no timeout).
func New(base, token string, hc *http.Client) *Client {
	if hc == nil {
		hc = &http.Client{Timeout: 30 * time.Second}
	}
	return &Client{base: strings.TrimSuffix(base, "/"), token: token, http: hc}
}

// Error is a refusal by the server.
type Error struct {
	Status  int
	Message string
	Details []api.Detail
}

func (e *Error) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "horae: %d %s: %s", e.Status, http.StatusText(e.Status), e.Message)
	for _, d := range e.Details {
		fmt.Fprintf(&b, "; %s: %s", d.Field, d.Message)
	}
	return b.String()
}

// IsNotFound reports whether err is a 404 from the server.
func IsNotFound(err error) bool {
	var e *Error
	return errors.As(err, &e) && e.Status == http.StatusNotFound
}

// IsConflict reports whether err is a 409 from the server.
func IsConflict(err error) bool {
	var e *Error
	return errors.As(err, &e) && e.Status == http.StatusConflict
}

func (c *Client) request(ctx context.Context, method, path string, query url.Values, body any) (*http.Request, error) {
	u := c.base + path
	if len(query) > 0 {
		u += "?" + query.Encode()
	}
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return nil, fmt.Errorf("horae: encode %s %s body: %w", method, path, err)
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, u, rd)
	if err != nil {
		return nil, fmt.Errorf("horae: %s %s: %w", method, path, err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	req.Header.Set("Accept", "application/json")
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	return req, nil
}

func (c *Client) do(ctx context.Context, method, path string, query url.Values, body, out any) error {
	req, err := c.request(ctx, method, path, query, body)
	if err != nil {
		return err
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return fmt.Errorf("horae: %s %s: %w", method, path, err)
	}
	defer resp.Body.Close()
	if err := check(resp); err != nil {
		return err
	}
	if out == nil || resp.StatusCode == http.StatusNoContent {
		return nil
	}
	if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
		return fmt.Errorf("horae: %s %s: decode response: %w", method, path, err)
	}
	return nil
}

func check(resp *http.Response) error {
	if resp.StatusCode < 400 {
		return nil
	}
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	var eb api.ErrorBody
	if json.Unmarshal(b, &eb) != nil || eb.Error == "" {
		eb.Error = strings.TrimSpace(string(b))
	}
	return &Error{Status: resp.StatusCode, Message: eb.Error, Details: eb.Details}
}

func jobPath(name string) string { return "/api/v1/jobs/" + url.PathEscape(name) }

// ListOptions filter and page ListJobs.
type ListOptions struct {
	Name   string            // substring of the name
	Labels map[string]string // every label must match
	State  string            // enabled, disabled, running, queued, idle, success, failure, fresh
	Limit  int               // 0 = server default (100)
	Cursor string            // JobList.Next of the previous page
}

// ListJobs returns one page of jobs.
func (c *Client) ListJobs(ctx context.Context, o ListOptions) (api.JobList, error) {
	q := url.Values{}
	if o.Name != "" {
		q.Set("name", o.Name)
	}
	for k, v := range o.Labels {
		q.Add("label", k+"="+v)
	}
	if o.State != "" {
		q.Set("state", o.State)
	}
	if o.Limit > 0 {
		q.Set("limit", strconv.Itoa(o.Limit))
	}
	if o.Cursor != "" {
		q.Set("cursor", o.Cursor)
	}
	var out api.JobList
	return out, c.do(ctx, http.MethodGet, "/api/v1/jobs", q, nil, &out)
}

// GetJob returns one job.
func (c *Client) GetJob(ctx context.Context, name string) (api.Job, error) {
	var out api.Job
	return out, c.do(ctx, http.MethodGet, jobPath(name), nil, nil, &out)
}

// HookInfo describes how to start a job through its inbound webhook (never
// the secret).
func (c *Client) HookInfo(ctx context.Context, name string) (api.HookInfo, error) {
	var out api.HookInfo
	return out, c.do(ctx, http.MethodGet, jobPath(name)+"/hook", nil, nil, &out)
}

// CreateJob creates a job (409 if it exists). job is an api.Job or any
// value encoding to the job JSON (e.g. json.RawMessage).
func (c *Client) CreateJob(ctx context.Context, job any) (api.Job, error) {
	var out api.Job
	return out, c.do(ctx, http.MethodPost, "/api/v1/jobs", nil, job, &out)
}

// ReplaceJob replaces the job called name (404 if absent).
func (c *Client) ReplaceJob(ctx context.Context, name string, job any) (api.Job, error) {
	var out api.Job
	return out, c.do(ctx, http.MethodPut, jobPath(name), nil, job, &out)
}

// DeleteJob deletes a job (409 with the dependents if others depend on it).
func (c *Client) DeleteJob(ctx context.Context, name string) error {
	return c.do(ctx, http.MethodDelete, jobPath(name), nil, nil, nil)
}

// SetEnabled enables or disables a job.
func (c *Client) SetEnabled(ctx context.Context, name string, enabled bool) (api.Job, error) {
	verb := "disable"
	if enabled {
		verb = "enable"
	}
	var out api.Job
	return out, c.do(ctx, http.MethodPost, jobPath(name)+"/"+verb, nil, nil, &out)
}

// ListRuns returns up to limit runs of a job, newest first, after cursor.
func (c *Client) ListRuns(ctx context.Context, job string, limit int, cursor string) (api.RunList, error) {
	q := url.Values{}
	if limit > 0 {
		q.Set("limit", strconv.Itoa(limit))
	}
	if cursor != "" {
		q.Set("cursor", cursor)
	}
	var out api.RunList
	return out, c.do(ctx, http.MethodGet, jobPath(job)+"/runs", q, nil, &out)
}

// RunJob starts a run by hand.
func (c *Client) RunJob(ctx context.Context, job string, req api.RunRequest) (api.Run, error) {
	var out api.Run
	return out, c.do(ctx, http.MethodPost, jobPath(job)+"/runs", nil, req, &out)
}

// GetRun returns a run.
func (c *Client) GetRun(ctx context.Context, id string) (api.Run, error) {
	var out api.Run
	return out, c.do(ctx, http.MethodGet, "/api/v1/runs/"+url.PathEscape(id), nil, nil, &out)
}

// KillRun kills a run.
func (c *Client) KillRun(ctx context.Context, id string) (api.Run, error) {
	var out api.Run
	return out, c.do(ctx, http.MethodDelete, "/api/v1/runs/"+url.PathEscape(id), nil, nil, &out)
}

// Logs copies a run's stdout or stderr to w; with follow it returns when
// the run has ended and its output is drained, or when ctx ends.
func (c *Client) Logs(ctx context.Context, id, stream string, follow bool, w io.Writer) error {
	q := url.Values{"stream": {stream}}
	if follow {
		q.Set("follow", "true")
	}
	req, err := c.request(ctx, http.MethodGet, "/api/v1/runs/"+url.PathEscape(id)+"/log", q, nil)
	if err != nil {
		return err
	}
	hc := c.http
	if follow {
		cp := *c.http
		cp.Timeout = 0
		hc = &cp
	}
	resp, err := hc.Do(req)
	if err != nil {
		return fmt.Errorf("horae: logs of run %s: %w", id, err)
	}
	defer resp.Body.Close()
	if err := check(resp); err != nil {
		return err
	}
	if _, err := io.Copy(w, resp.Body); err != nil {
		return fmt.Errorf("horae: logs of run %s: %w", id, err)
	}
	return nil
}

// Preview lists the next count times of a schedule (from zero = now).
func (c *Client) Preview(ctx context.Context, schedule, tz string, from time.Time, count int) (api.Preview, error) {
	q := url.Values{"schedule": {schedule}}
	if tz != "" {
		q.Set("tz", tz)
	}
	if !from.IsZero() {
		q.Set("from", from.Format(time.RFC3339))
	}
	if count > 0 {
		q.Set("count", strconv.Itoa(count))
	}
	var out api.Preview
	return out, c.do(ctx, http.MethodGet, "/api/v1/schedule/preview", q, nil, &out)
}

// Graph returns the dependency graph.
func (c *Client) Graph(ctx context.Context) (api.Graph, error) {
	var out api.Graph
	return out, c.do(ctx, http.MethodGet, "/api/v1/graph", nil, nil, &out)
}

// GraphDot returns the dependency graph in Graphviz DOT.
func (c *Client) GraphDot(ctx context.Context) (string, error) {
	req, err := c.request(ctx, http.MethodGet, "/api/v1/graph", url.Values{"format": {"dot"}}, nil)
	if err != nil {
		return "", err
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return "", fmt.Errorf("horae: graph: %w", err)
	}
	defer resp.Body.Close()
	if err := check(resp); err != nil {
		return "", err
	}
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return "", fmt.Errorf("horae: graph: %w", err)
	}
	return string(b), nil
}

// Leader returns the current leader.
func (c *Client) Leader(ctx context.Context) (api.Leader, error) {
	var out api.Leader
	return out, c.do(ctx, http.MethodGet, "/api/v1/leader", nil, nil, &out)
}
