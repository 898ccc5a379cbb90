package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"go.yaml.in/yaml/v3"

	"github.com/horae-scheduler/horae/api"
	"github.com/horae-scheduler/horae/api/client"
)

// waitPoll is how often `job run --wait` polls the run on a server without
// an event stream.
const waitPoll = 500 * time.Millisecond

// logsEndGrace is how long `job logs -f` lets the server's log stream end
// by itself once the run has ended (the server notices within its
// --log-poll, 500 ms by default, and reads once more) before it cuts it and
// reads the rest itself.
const logsEndGrace = 3 * time.Second

// newJobCmd builds `horae job ...`: the client of the native API's jobs and
// runs. It decides nothing: every check is the server's.
func newJobCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "job",
		Short: "Manage jobs and their runs on a Horae server",
		Long: `Manage jobs and their runs on a Horae server (--server, HORAE_SERVER,
default ` + defaultServer + `; --token, HORAE_TOKEN). Tables are for people;
--json prints the API's JSON for scripts.`,
	}
	addClientFlags(cmd)
	cmd.AddCommand(
		newJobListCmd(),
		newJobGetCmd(),
		newJobPutCmd("add", "Create jobs from a file (fails if a job exists)"),
		newJobPutCmd("apply", "Create or replace jobs from a file"),
		newJobDeleteCmd(),
		newJobEnableCmd(true),
		newJobEnableCmd(false),
		newJobRunCmd(),
		newJobKillCmd(),
		newJobRunsCmd(),
		newJobLogsCmd(),
		newJobHookURLCmd(),
	)
	return cmd
}

func newJobListCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List jobs",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, server, err := clientOf(cmd)
			if err != nil {
				return err
			}
			f := cmd.Flags()
			o := client.ListOptions{Limit: api.MaxLimit}
			o.Name, _ = f.GetString("name")
			o.State, _ = f.GetString("state")
			labels, _ := f.GetStringArray("label")
			for _, l := range labels {
				k, v, ok := strings.Cut(l, "=")
				if !ok || k == "" {
					return fmt.Errorf("job list: --label %q: want key=value", l)
				}
				if o.Labels == nil {
					o.Labels = map[string]string{}
				}
				o.Labels[k] = v
			}
			var jobs []api.Job
			for {
				page, err := c.ListJobs(cmd.Context(), o)
				if err != nil {
					return failure("job list", server, err)
				}
				jobs = append(jobs, page.Jobs...)
				if page.Next == "" {
					break
				}
				o.Cursor = page.Next
			}
			out := cmd.OutOrStdout()
			if asJSON(cmd) {
				if jobs == nil {
					jobs = []api.Job{}
				}
				return printJSON(out, api.JobList{Jobs: jobs})
			}
			t := newTable(out, "NAME", "ENABLED", "SCHEDULE / PARENTS", "SUCCESS", "ERRORS", "LAST SUCCESS", "LAST ERROR")
			for _, j := range jobs {
				t.row(j.Name, yesNo(!j.Disabled), trigger(j), strconv.FormatInt(j.SuccessCount, 10),
					strconv.FormatInt(j.ErrorCount, 10), chronosWhen(j.LastSuccess), chronosWhen(j.LastError))
			}
			return t.flush()
		},
	}
	f := cmd.Flags()
	f.String("name", "", "only jobs whose name contains this")
	f.StringArray("label", nil, "only jobs with this label key=value (repeatable)")
	f.String("state", "", "only jobs in this state: enabled, disabled, running, queued, idle, success, failure or fresh")
	addJSONFlag(cmd)
	return cmd
}

func newJobGetCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "get NAME",
		Short: "Show a job",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, server, err := clientOf(cmd)
			if err != nil {
				return err
			}
			j, err := c.GetJob(cmd.Context(), args[0])
			if err != nil {
				return failure("job get "+args[0], server, err)
			}
			if asJSON(cmd) {
				return printJSON(cmd.OutOrStdout(), j)
			}
			return describeJob(cmd.OutOrStdout(), j)
		},
	}
	addJSONFlag(cmd)
	return cmd
}

func newJobHookURLCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "hook-url NAME",
		Short: "Show how to start a job through its inbound webhook",
		Long: `Show the URL and headers that start a run of NAME through its inbound
webhook (the job needs "webhook": {"enabled": true, "secret": ...}). Sign the
raw JSON body with the job's secret: X-Horae-Signature: sha256=<hex HMAC>.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, server, err := clientOf(cmd)
			if err != nil {
				return err
			}
			h, err := c.HookInfo(cmd.Context(), args[0])
			if err != nil {
				return failure("job hook-url "+args[0], server, err)
			}
			if asJSON(cmd) {
				return printJSON(cmd.OutOrStdout(), h)
			}
			if !h.Enabled {
				return fmt.Errorf("job hook-url %s: the job's webhook is not enabled (set \"webhook\": {\"enabled\": true, \"secret\": ...})", args[0])
			}
			t := newTable(cmd.OutOrStdout(), "URL:", h.Method+" "+h.URL)
			t.row("Signature:", h.SignatureHeader+": "+h.SignatureFormat)
			t.row("Or token:", h.TokenHeader+": <secret>")
			t.row("Idempotency:", h.IdempotencyHeader+": <delivery id>")
			t.row("Body:", fmt.Sprintf("JSON object of string values (at most %d keys, %d bytes each, %d bytes in all), passed as environment variables", h.MaxKeys, h.MaxValueBytes, h.MaxBodyBytes))
			return t.flush()
		},
	}
	addJSONFlag(cmd)
	return cmd
}

// describeJob prints a job as "Field: value" lines for people.
func describeJob(w io.Writer, j api.Job) error {
	t := newTable(w, "Name:", j.Name)
	kv := func(k, v string) {
		if v != "" {
			t.row(k+":", v)
		}
	}
	kv("Command", j.Command)
	if len(j.Arguments) > 0 {
		kv("Arguments", strings.Join(j.Arguments, " "))
	}
	kv("Enabled", yesNo(!j.Disabled))
	if j.Schedule != nil {
		kv("Schedule", *j.Schedule)
	}
	if j.ScheduleTimeZone != nil {
		kv("Time zone", *j.ScheduleTimeZone)
	}
	if len(j.Parents) > 0 {
		kv("Parents", strings.Join(j.Parents, ", "))
		kv("Trigger rule", j.TriggerRule)
	}
	kv("Description", j.Description)
	kv("Owner", j.Owner)
	kv("Resources", fmt.Sprintf("cpus %g, mem %g MiB, disk %g MiB", j.CPUs, j.Mem, j.Disk))
	env := make([]string, len(j.EnvironmentVariables))
	for i, e := range j.EnvironmentVariables {
		env[i] = e.Name + "=" + e.Value
	}
	kv("Environment", strings.Join(env, " "))
	if j.Container != nil {
		kv("Container", j.Container.Type+" "+j.Container.Image)
	}
	kv("Retries", strconv.Itoa(j.Retries))
	kv("Retry delay", j.RetryDelay)
	kv("Max runtime", j.MaxRuntime)
	kv("Concurrency", j.ConcurrencyPolicy)
	kv("Missed runs", j.MissedRunPolicy)
	keys := make([]string, 0, len(j.Labels))
	for k := range j.Labels {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for i, k := range keys {
		keys[i] = k + "=" + j.Labels[k]
	}
	kv("Labels", strings.Join(keys, ", "))
	kv("Successes", strconv.FormatInt(j.SuccessCount, 10))
	kv("Errors", strconv.FormatInt(j.ErrorCount, 10))
	kv("Last success", chronosWhen(j.LastSuccess))
	kv("Last error", chronosWhen(j.LastError))
	kv("Created", chronosWhen(j.CreatedAt))
	kv("Updated", chronosWhen(j.UpdatedAt))
	return t.flush()
}

// newJobPutCmd builds `job add` (create only) and `job apply` (create or
// replace).
func newJobPutCmd(verb, short string) *cobra.Command {
	cmd := &cobra.Command{
		Use:   verb + " -f FILE",
		Short: short,
		Long: short + `. FILE is YAML or JSON holding one job, a list of jobs, several
YAML documents, or {"jobs": [...]} as printed by "job list --json"; "-" reads
standard input. Jobs that depend on others in the same file are sent after them.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			file, _ := cmd.Flags().GetString("file")
			if file == "" {
				return fmt.Errorf("job %s: -f FILE is required (- for standard input)", verb)
			}
			docs, err := readJobFile(cmd.InOrStdin(), file)
			if err != nil {
				return fmt.Errorf("job %s: %w", verb, err)
			}
			c, server, err := clientOf(cmd)
			if err != nil {
				return err
			}
			var (
				done []api.Job
				errs []error
			)
			out := cmd.OutOrStdout()
			for _, d := range docs {
				j, action, err := putJob(cmd.Context(), c, d, verb == "apply")
				if err != nil {
					errs = append(errs, failure(fmt.Sprintf("job %s %s (%s)", verb, d.name, d.where), server, err))
					continue
				}
				done = append(done, j)
				if !asJSON(cmd) {
					fmt.Fprintf(out, "%s job %s\n", action, j.Name)
				}
			}
			if asJSON(cmd) && len(done) > 0 {
				var v any = done
				if len(docs) == 1 {
					v = done[0]
				}
				if err := printJSON(out, v); err != nil {
					return err
				}
			}
			return errors.Join(errs...)
		},
	}
	cmd.Flags().StringP("file", "f", "", "YAML or JSON file of jobs; - reads standard input")
	addJSONFlag(cmd)
	return cmd
}

// putJob creates a job, or with replace replaces it if it exists.
func putJob(ctx context.Context, c *client.Client, d jobDoc, replace bool) (api.Job, string, error) {
	if replace {
		j, err := c.ReplaceJob(ctx, d.name, d.body)
		if err == nil {
			return j, "replaced", nil
		}
		if !client.IsNotFound(err) {
			return j, "", err
		}
	}
	j, err := c.CreateJob(ctx, d.body)
	return j, "created", err
}

// jobDoc is one job read from a file, as the JSON the API takes.
type jobDoc struct {
	name  string
	where string // "file.yaml" or "file.yaml, job 3"
	body  json.RawMessage
}

// readJobFile reads file ("-" = in) and parses it with parseJobs.
func readJobFile(in io.Reader, file string) ([]jobDoc, error) {
	var (
		data []byte
		err  error
	)
	name := file
	if file == "-" {
		name = "standard input"
		data, err = io.ReadAll(io.LimitReader(in, 16<<20))
	} else {
		data, err = os.ReadFile(file)
	}
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", name, err)
	}
	return parseJobs(data, name)
}

// parseJobs parses YAML or JSON (JSON is YAML) holding one job object, a
// list of them, several YAML documents, or {"jobs": [...]}. It checks only
// what it needs to address the jobs (each is an object with a string name,
// names are unique) and leaves every other check to the server. Jobs are
// ordered so that a parent defined in the same file comes before its
// children; otherwise the file's order is kept.
func parseJobs(data []byte, file string) ([]jobDoc, error) {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var items []any
	for {
		var v any
		err := dec.Decode(&v)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("%s: not YAML or JSON: %s", file, strings.TrimPrefix(err.Error(), "yaml: "))
		}
		switch x := v.(type) {
		case nil:
		case []any:
			items = append(items, x...)
		case map[string]any:
			if list, ok := x["jobs"].([]any); ok && len(x) <= 2 {
				if _, hasName := x["name"]; !hasName {
					items = append(items, list...)
					continue
				}
			}
			items = append(items, x)
		default:
			return nil, fmt.Errorf("%s: want a job object or a list of jobs, found %s", file, kindOf(v))
		}
	}
	if len(items) == 0 {
		return nil, fmt.Errorf("%s: no job in the file", file)
	}
	docs := make([]jobDoc, 0, len(items))
	seen := map[string]string{}
	for i, it := range items {
		where := file
		if len(items) > 1 {
			where = fmt.Sprintf("%s, job %d", file, i+1)
		}
		m, ok := it.(map[string]any)
		if !ok {
			return nil, fmt.Errorf("%s: want a job object, found %s", where, kindOf(it))
		}
		name, ok := m["name"].(string)
		if !ok || name == "" {
			return nil, fmt.Errorf("%s: job has no name (a string field \"name\" is required)", where)
		}
		if prev, dup := seen[name]; dup {
			return nil, fmt.Errorf("%s: job %q is also defined at %s", where, name, prev)
		}
		seen[name] = where
		v, err := jsonValue(m, "")
		if err != nil {
			return nil, fmt.Errorf("%s: job %q: %w", where, name, err)
		}
		body, err := json.Marshal(v)
		if err != nil {
			return nil, fmt.Errorf("%s: job %q: %w", where, name, err)
		}
		docs = append(docs, jobDoc{name: name, where: where, body: body})
	}
	return parentsFirst(docs, items), nil
}

// jsonValue converts a decoded YAML value to one encoding/json accepts:
// maps with string keys only, finite numbers.
func jsonValue(v any, path string) (any, error) {
	switch x := v.(type) {
	case map[string]any:
		out := make(map[string]any, len(x))
		for k, e := range x {
			c, err := jsonValue(e, join(path, k))
			if err != nil {
				return nil, err
			}
			out[k] = c
		}
		return out, nil
	case map[any]any:
		out := make(map[string]any, len(x))
		for k, e := range x {
			ks, ok := k.(string)
			if !ok {
				return nil, fmt.Errorf("%s: key %v is not a string", orTop(path), k)
			}
			c, err := jsonValue(e, join(path, ks))
			if err != nil {
				return nil, err
			}
			out[ks] = c
		}
		return out, nil
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			c, err := jsonValue(e, fmt.Sprintf("%s[%d]", path, i))
			if err != nil {
				return nil, err
			}
			out[i] = c
		}
		return out, nil
	case float64:
		if x != x || x > 1e308 || x < -1e308 {
			return nil, fmt.Errorf("%s: %v is not a JSON number", orTop(path), x)
		}
		return x, nil
	case time.Time:
		return x.Format(time.RFC3339Nano), nil
	case []byte:
		return string(x), nil
	}
	return v, nil
}

func join(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

func orTop(path string) string {
	if path == "" {
		return "job"
	}
	return path
}

func kindOf(v any) string {
	switch v.(type) {
	case []any:
		return "a list"
	case map[string]any, map[any]any:
		return "an object"
	case string:
		return "a string"
	case nil:
		return "nothing"
	}
	return fmt.Sprintf("a %T", v)
}

// parentsFirst orders docs so that a job comes after the parents it names
// that are defined in the same file; cycles keep the file's order (the
// server refuses them).
func parentsFirst(docs []jobDoc, items []any) []jobDoc {
	index := map[string]int{}
	for i, d := range docs {
		index[d.name] = i
	}
	state := make([]int, len(docs)) // 0 new, 1 visiting, 2 done
	out := make([]jobDoc, 0, len(docs))
	var visit func(i int)
	visit = func(i int) {
		if state[i] != 0 {
			return
		}
		state[i] = 1
		if ps, ok := items[i].(map[string]any)["parents"].([]any); ok {
			for _, p := range ps {
				if name, ok := p.(string); ok {
					if j, ok := index[name]; ok {
						visit(j)
					}
				}
			}
		}
		state[i] = 2
		out = append(out, docs[i])
	}
	for i := range docs {
		visit(i)
	}
	return out
}

func newJobDeleteCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "delete NAME",
		Short: "Delete a job (refused while other jobs depend on it)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, server, err := clientOf(cmd)
			if err != nil {
				return err
			}
			if err := c.DeleteJob(cmd.Context(), args[0]); err != nil {
				return failure("job delete "+args[0], server, err)
			}
			_, err = fmt.Fprintf(cmd.OutOrStdout(), "deleted job %s\n", args[0])
			return err
		},
	}
}

func newJobEnableCmd(enable bool) *cobra.Command {
	verb, short := "disable", "Disable a job: no scheduled or dependent runs start"
	if enable {
		verb, short = "enable", "Enable a job"
	}
	cmd := &cobra.Command{
		Use:   verb + " NAME",
		Short: short,
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, server, err := clientOf(cmd)
			if err != nil {
				return err
			}
			j, err := c.SetEnabled(cmd.Context(), args[0], enable)
			if err != nil {
				return failure("job "+verb+" "+args[0], server, err)
			}
			if asJSON(cmd) {
				return printJSON(cmd.OutOrStdout(), j)
			}
			_, err = fmt.Fprintf(cmd.OutOrStdout(), "%sd job %s\n", verb, args[0])
			return err
		},
	}
	addJSONFlag(cmd)
	return cmd
}

func newJobRunCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "run NAME",
		Short: "Start a run of a job now",
		Long: `Start a run of a job now. With --wait, show the run's progress (state,
attempts, tasks) until it ends and exit with its exit code: 0 when it
succeeded, the command's exit code when it failed with one, 1 otherwise.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			f := cmd.Flags()
			envs, _ := f.GetStringArray("env")
			argv, _ := f.GetStringArray("arg")
			wait, _ := f.GetBool("wait")
			req := api.RunRequest{Arguments: argv}
			for _, e := range envs {
				k, v, ok := strings.Cut(e, "=")
				if !ok || k == "" {
					return fmt.Errorf("job run: --env %q: want NAME=value", e)
				}
				if req.Env == nil {
					req.Env = map[string]string{}
				}
				req.Env[k] = v
			}
			c, server, err := clientOf(cmd)
			if err != nil {
				return err
			}
			var watch *runWatch
			if wait {
				// Subscribe before the run exists, so that none of its
				// events can be missed.
				if watch, err = watchJob(cmd.Context(), c, args[0]); err != nil {
					return failure("job run "+args[0]+" --wait: follow the server's events", server, err)
				}
				defer watch.close()
			}
			run, err := c.RunJob(cmd.Context(), args[0], req)
			if err != nil {
				return failure("job run "+args[0], server, err)
			}
			out := cmd.OutOrStdout()
			if !wait {
				if asJSON(cmd) {
					return printJSON(out, run)
				}
				_, err := fmt.Fprintf(out, "started run %s of job %s (%s)\n", run.ID, run.Job, run.State)
				return err
			}
			progress := out
			if asJSON(cmd) {
				progress = cmd.ErrOrStderr()
			}
			watch.run = run.ID
			final, err := waitRun(cmd.Context(), watch, run, progress, time.Now)
			if err != nil {
				return failure("job run "+args[0]+" --wait", server, err)
			}
			if asJSON(cmd) {
				if err := printJSON(out, final); err != nil {
					return err
				}
			}
			if code := runExitCode(final); code != 0 {
				return &exitError{code: code}
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.StringArray("env", nil, "environment variable NAME=value for this run (repeatable)")
	f.StringArray("arg", nil, "argument appended to the command for this run (repeatable)")
	f.Bool("wait", false, "show the run's progress until it ends and exit with its exit code")
	addJSONFlag(cmd)
	return cmd
}

// runExitCode is the process exit code `job run --wait` ends with.
func runExitCode(r api.Run) int {
	if r.State == "succeeded" {
		return 0
	}
	if r.ExitCode != nil && *r.ExitCode > 0 && *r.ExitCode < 256 {
		return *r.ExitCode
	}
	return 1
}

// runSeen is what waitRun last printed about a run.
type runSeen struct {
	state, reason string
	attempt       int
	tasks         map[string]string // task ID -> printed state line
}

// runWatch delivers the successive versions of one run: from the server's
// event stream (GET /api/v1/events?job=), or by polling every waitPoll when
// the server has none.
type runWatch struct {
	c   *client.Client
	sub *client.Subscription // nil: poll
	run string               // the run's ID
	// reread: read the run once before the next event (after a reset, or
	// when the run was known before the subscription began).
	reread  bool
	ticker  *time.Ticker
	missing int
}

// watchJob subscribes to a job's events; a server without an event stream
// (404) is polled instead. Set run before calling next.
func watchJob(ctx context.Context, c *client.Client, job string) (*runWatch, error) {
	w := &runWatch{c: c}
	sub, err := c.Subscribe(ctx, client.EventsOptions{Job: job})
	switch {
	case client.IsNotFound(err):
		w.ticker = time.NewTicker(waitPoll)
	case err != nil:
		return nil, err
	default:
		w.sub = sub
	}
	return w, nil
}

func (w *runWatch) close() {
	if w.sub != nil {
		w.sub.Close()
	}
	if w.ticker != nil {
		w.ticker.Stop()
	}
}

// next blocks until there is a newer version of the run, or ctx ends.
func (w *runWatch) next(ctx context.Context) (api.Run, error) {
	for {
		if w.sub != nil && !w.reread {
			ev, err := w.sub.Next(ctx)
			if err != nil {
				return api.Run{}, err
			}
			switch {
			case ev.Type == "run.state" && ev.Run != nil && ev.Run.ID == w.run:
				return *ev.Run, nil
			case ev.Type == client.EventReset:
				// Events were missed (the stream was reopened and could not
				// resume): read the run once; events go on from here.
				w.reread = true
			}
			continue
		}
		if w.ticker != nil {
			select {
			case <-ctx.Done():
				return api.Run{}, ctx.Err()
			case <-w.ticker.C:
			}
		}
		w.reread = false
		cur, err := w.c.GetRun(ctx, w.run)
		if client.IsNotFound(err) && w.missing < 20 {
			// Not yet in the server's read model: the next event or poll
			// will have it.
			w.missing++
			continue
		}
		return cur, err
	}
}

// waitRun prints each change of a run's state, attempt and tasks to out as
// w delivers them, until the run ends or ctx does.
func waitRun(ctx context.Context, w *runWatch, run api.Run, out io.Writer, now func() time.Time) (api.Run, error) {
	seen := runSeen{attempt: -1, tasks: map[string]string{}}
	stamp := func() string { return now().Local().Format("15:04:05") }
	fmt.Fprintf(out, "%s run %s of job %s started (trigger %s)\n", stamp(), run.ID, run.Job, run.Trigger)
	for {
		if run.Attempt != seen.attempt && (seen.attempt >= 0 || run.Attempt > 0) {
			fmt.Fprintf(out, "%s attempt %d\n", stamp(), run.Attempt+1)
		}
		seen.attempt = run.Attempt
		if !isTerminal(run.State) && (run.State != seen.state || run.Reason != seen.reason) {
			line := "run " + run.State
			if run.Reason != "" {
				line += ": " + run.Reason
			}
			fmt.Fprintf(out, "%s %s\n", stamp(), line)
			seen.state, seen.reason = run.State, run.Reason
		}
		for _, t := range run.Tasks {
			line := t.State
			if t.Host != "" {
				line += " on " + t.Host
			}
			if t.ExitCode != nil {
				line += fmt.Sprintf(", exit code %d", *t.ExitCode)
			}
			if t.Message != "" {
				line += ": " + t.Message
			}
			if seen.tasks[t.ID] != line {
				fmt.Fprintf(out, "%s task %s %s\n", stamp(), t.ID, line)
				seen.tasks[t.ID] = line
			}
		}
		if isTerminal(run.State) {
			end := fmt.Sprintf("%s run %s %s", stamp(), run.ID, run.State)
			if run.ExitCode != nil {
				end += fmt.Sprintf(" with exit code %d", *run.ExitCode)
			}
			if d := elapsed(run.StartedAt, run.FinishedAt, now()); d != "" {
				end += " after " + d
			}
			if run.Reason != "" {
				end += ": " + run.Reason
			}
			fmt.Fprintln(out, end)
			return run, nil
		}
		cur, err := w.next(ctx)
		if err != nil {
			if ctx.Err() != nil {
				return run, fmt.Errorf("stopped waiting for run %s (it goes on; `horae job kill %s` ends it): %w", run.ID, run.ID, ctx.Err())
			}
			return run, err
		}
		run = cur
	}
}

// isTerminal reports whether a run state is final (scheduler.RunState's
// Terminal, on the wire).
func isTerminal(state string) bool {
	switch state {
	case "succeeded", "failed", "killed", "skipped":
		return true
	}
	return false
}

func newJobKillCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "kill RUN_ID",
		Short: "Kill a run",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, server, err := clientOf(cmd)
			if err != nil {
				return err
			}
			run, err := c.KillRun(cmd.Context(), args[0])
			if err != nil {
				return failure("job kill "+args[0], server, err)
			}
			if asJSON(cmd) {
				return printJSON(cmd.OutOrStdout(), run)
			}
			if run.ID == "" {
				_, err = fmt.Fprintf(cmd.OutOrStdout(), "killing run %s\n", args[0])
				return err
			}
			_, err = fmt.Fprintf(cmd.OutOrStdout(), "killing run %s of job %s (%s)\n", run.ID, run.Job, run.State)
			return err
		},
	}
	addJSONFlag(cmd)
	return cmd
}

func newJobRunsCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "runs NAME",
		Short: "List a job's runs, newest first",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			limit, _ := cmd.Flags().GetInt("limit")
			if limit < 1 {
				return fmt.Errorf("job runs: --limit %d: want 1 or more", limit)
			}
			c, server, err := clientOf(cmd)
			if err != nil {
				return err
			}
			var runs []api.Run
			cursor := ""
			for len(runs) < limit {
				page, err := c.ListRuns(cmd.Context(), args[0], min(limit-len(runs), api.MaxLimit), cursor)
				if err != nil {
					return failure("job runs "+args[0], server, err)
				}
				runs = append(runs, page.Runs...)
				if page.Next == "" || len(page.Runs) == 0 {
					break
				}
				cursor = page.Next
			}
			out := cmd.OutOrStdout()
			if asJSON(cmd) {
				if runs == nil {
					runs = []api.Run{}
				}
				return printJSON(out, api.RunList{Runs: runs})
			}
			now := time.Now()
			t := newTable(out, "RUN", "STATE", "TRIGGER", "ATTEMPT", "EXIT", "STARTED", "TOOK", "REASON")
			for _, r := range runs {
				exit := ""
				if r.ExitCode != nil {
					exit = strconv.Itoa(*r.ExitCode)
				}
				t.row(r.ID, r.State, r.Trigger, strconv.Itoa(r.Attempt+1), exit, when(r.StartedAt),
					elapsed(r.StartedAt, r.FinishedAt, now), r.Reason)
			}
			return t.flush()
		},
	}
	cmd.Flags().Int("limit", 20, "how many runs to show")
	addJSONFlag(cmd)
	return cmd
}

func newJobLogsCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "logs RUN_ID",
		Short: "Print a run's output",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			stream, _ := cmd.Flags().GetString("stream")
			follow, _ := cmd.Flags().GetBool("follow")
			if stream != "stdout" && stream != "stderr" {
				return fmt.Errorf("job logs: --stream %q: want stdout or stderr", stream)
			}
			c, server, err := clientOf(cmd)
			if err != nil {
				return err
			}
			if !follow {
				err = c.Logs(cmd.Context(), args[0], stream, false, cmd.OutOrStdout())
			} else {
				err = followLogs(cmd.Context(), c, args[0], stream, cmd.OutOrStdout())
			}
			if err != nil {
				return failure("job logs "+args[0], server, err)
			}
			return nil
		},
	}
	cmd.Flags().String("stream", "stdout", "which output: stdout or stderr")
	cmd.Flags().BoolP("follow", "f", false, "keep printing while the run is active; stop when it ends")
	return cmd
}

// followLogs prints a run's output as it is written until the run has
// ended and its output is printed. The server's log stream
// (GET /runs/{id}/log?follow=true) carries the output; the event stream
// says when the run ends. A log stream that breaks while the run is active
// is reopened, printing only what was not printed yet; one that has not
// ended logsEndGrace after the run did is cut, and the rest read at once.
func followLogs(ctx context.Context, c *client.Client, id, stream string, out io.Writer) error {
	run, err := c.GetRun(ctx, id)
	if err != nil {
		return err
	}
	if isTerminal(run.State) {
		return c.Logs(ctx, id, stream, false, out)
	}
	watch, err := watchJob(ctx, c, run.Job)
	if err != nil {
		return err
	}
	defer watch.close()
	if watch.sub == nil {
		// No event stream: the server's follow alone says when it ended.
		return c.Logs(ctx, id, stream, true, out)
	}
	watch.run, watch.reread = id, true // it may have ended before we subscribed
	ended := make(chan struct{})
	wctx, stopWatch := context.WithCancel(ctx)
	watched := make(chan struct{})
	defer func() { stopWatch(); <-watched }()
	go func() {
		defer close(watched)
		for {
			r, err := watch.next(wctx)
			if err != nil {
				// Without events (refused, ctx over) the server's follow
				// still ends with the run; only the cut is lost.
				return
			}
			if isTerminal(r.State) {
				close(ended)
				return
			}
		}
	}()
	printed := &countingWriter{w: out}
	for {
		lctx, cut := context.WithCancel(ctx)
		cutter := make(chan struct{})
		go func() {
			defer close(cutter)
			select {
			case <-ended:
			case <-lctx.Done():
				return
			}
			t := time.NewTimer(logsEndGrace)
			defer t.Stop()
			select {
			case <-t.C:
				cut()
			case <-lctx.Done():
			}
		}()
		err := c.Logs(lctx, id, stream, true, &skipWriter{skip: printed.n, w: printed})
		wasCut := lctx.Err() != nil
		cut()
		<-cutter
		var refused *client.Error
		switch {
		case ctx.Err() != nil:
			return ctx.Err()
		case wasCut:
		case errors.As(err, &refused):
			return err
		case err == nil:
			// The server ended the stream; it does when the run ended,
			// after one last read. Otherwise (its agent went away) go on.
			r, err := c.GetRun(ctx, id)
			if err != nil || isTerminal(r.State) {
				return err
			}
		}
		select {
		case <-ended:
			// The run ended but the server's stream went on or broke:
			// read the rest at once.
			return c.Logs(ctx, id, stream, false, &skipWriter{skip: printed.n, w: printed})
		default:
		}
		// The stream broke or ended early while the run is active: reopen
		// it after a pause, printing only what is new.
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-ended:
		case <-time.After(waitPoll):
		}
	}
}

// countingWriter counts the bytes written through it.
type countingWriter struct {
	w io.Writer
	n int64
}

func (c *countingWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}

// skipWriter drops the first skip bytes written to it: a reopened log
// stream starts at the beginning of the file, and those were printed.
type skipWriter struct {
	skip int64
	w    io.Writer
}

func (s *skipWriter) Write(p []byte) (int, error) {
	n := len(p)
	if s.skip >= int64(n) {
		s.skip -= int64(n)
		return n, nil
	}
	p = p[s.skip:]
	s.skip = 0
	if _, err := s.w.Write(p); err != nil {
		return 0, err
	}
	return n, nil
}

func addJSONFlag(cmd *cobra.Command) {
	cmd.Flags().Bool("json", false, "print the API's JSON (for scripts)")
}

func asJSON(cmd *cobra.Command) bool {
	v, _ := cmd.Flags().GetBool("json")
	return v
}

func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}

// trigger says what starts a job: its schedule or its parents.
func trigger(j api.Job) string {
	if len(j.Parents) > 0 {
		s := "after " + strings.Join(j.Parents, ", ")
		if j.TriggerRule != "" {
			s += " (" + j.TriggerRule + ")"
		}
		return s
	}
	if j.Schedule != nil {
		return *j.Schedule
	}
	return ""
}
