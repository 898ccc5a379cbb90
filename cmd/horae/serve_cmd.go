package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"os"
	"os/user"
	"path/filepath"
	"strings"
	"sync/atomic"
	"time"

	"github.com/oklog/run"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/spf13/cobra"
	"github.com/spf13/viper"

	"github.com/horae-scheduler/horae/api"
	"github.com/horae-scheduler/horae/catalog"
	"github.com/horae-scheduler/horae/events"
	"github.com/horae-scheduler/horae/framework"
	"github.com/horae-scheduler/horae/leader"
	"github.com/horae-scheduler/horae/localmesos"
	"github.com/horae-scheduler/horae/metrics"
	"github.com/horae-scheduler/horae/notify"
	"github.com/horae-scheduler/horae/scheduler"
	"github.com/horae-scheduler/horae/store"
)

func newServeCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Run the Horae scheduler",
		Long: `Run the Horae scheduler.

With no flags it runs on this machine: an embedded store in --data-dir, a
built-in single-machine Mesos master and agent, and the API on
127.0.0.1:4400. --mesos-master and --store zk://... take it to a cluster.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			v, err := loadConfig(cmd)
			if err != nil {
				return err
			}
			logger, err := newLogger(v, nil)
			if err != nil {
				return err
			}
			slog.SetDefault(logger)
			return serve(cmd.Context(), v, logger)
		},
	}
	f := cmd.Flags()
	f.String("listen", "127.0.0.1:4400", "address of the HTTP API")
	f.String("advertise-url", "", "URL other instances and agents reach this instance's API at (default http://<listen>)")
	f.String("store", "", `state store: empty for the embedded store in --data-dir, or zk://host1:2181,host2:2181/horae`)
	f.String("data-dir", "./horae-data", "directory of the embedded store (and of the local Mesos sandboxes)")
	f.Duration("zk-session-timeout", 10*time.Second, "ZooKeeper session timeout")
	f.String("zk-auth", "", "ZooKeeper digest credentials user:pass (also set as ACL on created znodes)")
	f.String("mesos-master", "", "Mesos master: http(s)://host:5050 or zk://host:2181/mesos; empty runs a built-in single-machine Mesos")
	f.String("mesos-principal", "", "Mesos framework principal")
	f.String("mesos-secret-file", "", "file holding the Mesos framework secret")
	f.String("mesos-role", "*", "Mesos role")
	f.String("mesos-user", "", "user tasks run as by default (FrameworkInfo.user; default the current user)")
	f.String("framework-name", "horae", "Mesos framework name")
	f.Duration("failover-timeout", framework.DefaultFailoverTimeout, "how long Mesos keeps Horae's tasks while no Horae instance is subscribed")
	f.String("executor-mode", framework.DefaultExecutorMode, "shared: one executor per agent runs every task (fast); per-task: one executor process per task (isolated)")
	f.Duration("executor-idle-timeout", framework.DefaultExecutorIdle, "how long a shared executor stays up with no task")
	f.Int("executor-retain-tasks", framework.DefaultExecutorRetainTasks, "finished tasks' output directories a shared executor keeps (newest first; older ones are deleted)")
	f.Duration("executor-retain-for", framework.DefaultExecutorRetainFor, "how long a shared executor keeps a finished task's output directory")
	f.String("executor-uri", "", "URI agents fetch the horae binary from (default: this instance serves its own binary at <advertise-url>/executor/horae)")
	f.String("auth-file", "", "users, tokens and roles (YAML or JSON); without it only loopback listeners are allowed")
	f.Bool("insecure", false, "allow a non-loopback listener without --auth-file")
	f.String("tls-cert", "", "TLS certificate file for the API")
	f.String("tls-key", "", "TLS key file for the API")
	f.Int("history-limit", 100, "runs kept per job")
	f.Duration("offer-hold", scheduler.DefaultOfferHold, "keep an unused Mesos offer this long when runs come due within it (and ask for offers this early), so runs launch on time; 0 declines unused offers at once")
	f.Duration("launch-ahead", scheduler.DefaultLaunchAhead, "create and launch a schedule slot's run this long before the slot; the executor starts the command at the slot, so the launch path (commit, Mesos, executor) does not make runs late; 0 launches at the slot")
	f.Duration("commit-linger", leader.DefaultCommitLinger, "how long a store commit that nothing waits for (status updates, whose acknowledgements can wait) may wait to share a sync with the next one; 0 syncs each at once")
	f.Bool("examples", false, "load example jobs when the store is empty")
	f.Bool("metrics-per-job", false, "also export per-job run series (cardinality grows with the number of jobs)")
	f.Duration("local-heartbeat", 15*time.Second, "heartbeat interval of the built-in Mesos")
	f.String("cluster-name", "", "prefix of notification subjects, e.g. prod")
	f.String("notify-webhook-url", "", "URL that receives a JSON POST per notification")
	f.String("notify-webhook-secret-file", "", "file holding the HMAC-SHA256 key that signs webhook notifications")
	f.String("notify-slack-url", "", "Slack-compatible incoming webhook URL")
	f.String("smtp-addr", "", "SMTP server host:port for e-mail notifications to job owners")
	f.String("smtp-from", "", "sender address of e-mail notifications")
	f.String("smtp-user", "", "SMTP user (AUTH PLAIN)")
	f.String("smtp-password-file", "", "file holding the SMTP password")
	f.Bool("smtp-starttls", true, "require STARTTLS with the SMTP server (with --smtp-addr)")
	return cmd
}

// serve wires the store, the built-in Mesos (when no master is given), the
// Mesos framework, the engine's supervisor and the API, and runs them as a
// group: when one stops, all stop.
func serve(ctx context.Context, v *viper.Viper, logger *slog.Logger) error {
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))

	listen := v.GetString("listen")
	ln, err := net.Listen("tcp", listen)
	if err != nil {
		return fmt.Errorf("--listen %s: %w", listen, err)
	}
	defer ln.Close()
	advertise := v.GetString("advertise-url")
	if advertise == "" {
		advertise = "http://" + ln.Addr().String()
	}
	instanceID, _ := os.Hostname()
	instanceID = fmt.Sprintf("%s:%d", instanceID, ln.Addr().(*net.TCPAddr).Port)

	dataDir := v.GetString("data-dir")
	storeCfg := store.Config{
		URL:              v.GetString("store"),
		DataDir:          dataDir,
		ZKSessionTimeout: v.GetDuration("zk-session-timeout"),
		ZKAuth:           v.GetString("zk-auth"),
		Registerer:       reg,
	}
	if err := storeCfg.Validate(); err != nil {
		return err
	}
	st, err := store.Open(ctx, storeCfg, logger.With("component", "store"))
	if err != nil {
		return fmt.Errorf("open store: %w", err)
	}
	defer st.Close()

	var g run.Group

	master := v.GetString("mesos-master")
	self, err := os.Executable()
	if err != nil {
		return fmt.Errorf("find the horae binary: %w", err)
	}
	executorCommand, executorURI := "./horae executor", v.GetString("executor-uri")
	if master == "" {
		lm, err := localmesos.New(localmesos.Config{
			Listen:            "127.0.0.1:0",
			WorkDir:           filepath.Join(dataDir, "mesos"),
			HeartbeatInterval: v.GetDuration("local-heartbeat"),
		}, logger.With("component", "localmesos"))
		if err != nil {
			return fmt.Errorf("built-in mesos: %w", err)
		}
		lmCtx, lmCancel := context.WithCancel(context.Background())
		if err := lm.Start(lmCtx); err != nil {
			lmCancel()
			return fmt.Errorf("start built-in mesos: %w", err)
		}
		master = lm.URL()
		// The agent is this machine: run this very binary, no fetch needed.
		executorCommand, executorURI = shellQuote(self)+" executor", ""
		g.Add(func() error { <-lmCtx.Done(); return nil }, func(error) { lmCancel(); lm.Close() })
		logger.Info("built-in mesos running", "url", master)
	} else if executorURI == "" {
		// The version in the URI keeps the Mesos fetcher's cache from
		// serving an old executor after an upgrade.
		executorURI = strings.TrimSuffix(advertise, "/") + "/executor/horae?v=" + url.QueryEscape(version)
	}

	mesosUser := v.GetString("mesos-user")
	if mesosUser == "" {
		if u, err := user.Current(); err == nil {
			mesosUser = u.Username
		} else {
			mesosUser = "root"
		}
	}
	var epoch atomic.Int64
	fw, err := framework.New(framework.Config{
		Master:              master,
		FrameworkName:       v.GetString("framework-name"),
		User:                mesosUser,
		Role:                v.GetString("mesos-role"),
		Principal:           v.GetString("mesos-principal"),
		SecretFile:          v.GetString("mesos-secret-file"),
		FailoverTimeout:     v.GetDuration("failover-timeout"),
		WebUIURL:            advertise,
		FrameworkIDs:        frameworkIDs{st: st, epoch: &epoch},
		ExecutorMode:        v.GetString("executor-mode"),
		ExecutorIdleTimeout: v.GetDuration("executor-idle-timeout"),
		ExecutorRetainTasks: v.GetInt("executor-retain-tasks"),
		ExecutorRetainFor:   v.GetDuration("executor-retain-for"),
		Version:             version,
		ExecutorCommand:     executorCommand,
		ExecutorURI:         executorURI,
	}, logger.With("component", "framework"), reg)
	if err != nil {
		return fmt.Errorf("mesos framework: %w", err)
	}

	cat := catalog.New()
	if state, err := st.Load(ctx); err != nil {
		return fmt.Errorf("load state: %w", err)
	} else {
		cat.Reset(state)
	}

	runMetrics, err := metrics.NewRuns(reg, v.GetBool("metrics-per-job"))
	if err != nil {
		return fmt.Errorf("run metrics: %w", err)
	}
	leaderMetrics, err := leader.NewMetrics(reg)
	if err != nil {
		return fmt.Errorf("leader metrics: %w", err)
	}
	notifyCfg, err := notifyConfig(v)
	if err != nil {
		return err
	}
	notifier, err := notify.New(notifyCfg, notify.Deps{
		Jobs: func(name string) (scheduler.Job, bool) {
			view, ok := cat.Job(name)
			return view.Job, ok
		},
		Logger:     logger.With("component", "notify"),
		Registerer: reg,
	})
	if err != nil {
		return fmt.Errorf("notifications: %w", err)
	}
	addActor(&g, notifier.Run)

	hub := events.NewHub(events.Options{})
	historyLimit := v.GetInt("history-limit")
	offerHold := v.GetDuration("offer-hold")
	if offerHold < 0 {
		return fmt.Errorf("--offer-hold %s: must not be negative", offerHold)
	}
	launchAhead := v.GetDuration("launch-ahead")
	if launchAhead < 0 || launchAhead > scheduler.MaxLaunchAhead {
		return fmt.Errorf("--launch-ahead %s: must be between 0 and %s", launchAhead, scheduler.MaxLaunchAhead)
	}
	commitLinger := v.GetDuration("commit-linger")
	if commitLinger < 0 || commitLinger > time.Second {
		return fmt.Errorf("--commit-linger %s: must be between 0 and 1s (Mesos re-sends unacknowledged updates after 10s)", commitLinger)
	}
	sup, err := leader.NewSupervisor(leader.SupervisorConfig{
		Elect: func(ctx context.Context) (leader.Term, error) {
			term, err := st.Campaign(ctx, store.Candidate{ID: instanceID, APIURL: advertise})
			if err != nil {
				return nil, err
			}
			epoch.Store(term.Epoch())
			return term, nil
		},
		Load: st.Load,
		NewEngine: func() leader.Engine {
			return scheduler.New(scheduler.Config{
				ExecutorCPUs: framework.DefaultExecutorCPUs,
				ExecutorMem:  framework.DefaultExecutorMem,
				HistoryLimit: historyLimit,
				OfferHold:    offerHold,
				LaunchAhead:  launchAhead,
			})
		},
		Store:        st,
		Framework:    fw,
		ReadModel:    leader.Fanout{cat, runMetrics, hub},
		OnLeadership: hub.Leadership,
		Notifier:     notifier,
		Metrics:      leaderMetrics,
		Logger:       logger.With("component", "leader"),
		CommitLinger: commitLinger,
	})
	if err != nil {
		return err
	}

	apiCfg := api.Config{
		AuthFile:       v.GetString("auth-file"),
		Insecure:       v.GetBool("insecure"),
		TLSCert:        v.GetString("tls-cert"),
		TLSKey:         v.GetString("tls-key"),
		ExecutorBinary: self,
	}
	server, err := api.New(apiCfg, api.Deps{
		Catalog:    cat,
		Commander:  commander{sup},
		Leadership: leadership{sup: sup, st: st},
		Gatherer:   reg,
		Registerer: reg,
		Logger:     logger.With("component", "api"),
		Events:     hub,
	})
	if err != nil {
		return fmt.Errorf("api: %w", err)
	}

	addActor(&g, func(ctx context.Context) error { return server.Serve(ctx, ln) })
	addActor(&g, sup.Run)
	// Followers serve reads from a read model refreshed from the store.
	addActor(&g, func(ctx context.Context) error { refreshFollower(ctx, sup, st, cat, logger); return nil })
	if v.GetBool("examples") {
		addActor(&g, func(ctx context.Context) error { loadExamples(ctx, sup, cat, logger); <-ctx.Done(); return nil })
	}
	{
		g.Add(func() error { <-ctx.Done(); return nil }, func(error) {})
	}
	logger.Info("horae serving", "listen", ln.Addr().String(), "store", storeDescription(storeCfg), "mesos", master, "version", version)
	return g.Run()
}

// addActor runs fn in the group with a context of its own, cancelled when
// the group stops.
func addActor(g *run.Group, fn func(ctx context.Context) error) {
	ctx, cancel := context.WithCancel(context.Background())
	g.Add(func() error { return fn(ctx) }, func(error) { cancel() })
}

// notifyConfig reads the notification flags; secrets come from files so
// they stay out of process listings.
func notifyConfig(v *viper.Viper) (notify.Config, error) {
	cfg := notify.Config{
		ClusterName: v.GetString("cluster-name"),
		WebhookURL:  v.GetString("notify-webhook-url"),
		SlackURL:    v.GetString("notify-slack-url"),
		SMTPAddr:    v.GetString("smtp-addr"),
		SMTPFrom:    v.GetString("smtp-from"),
		SMTPUser:    v.GetString("smtp-user"),
	}
	if cfg.SMTPAddr != "" {
		cfg.SMTPStartTLS = v.GetBool("smtp-starttls")
	}
	for flag, dst := range map[string]*string{
		"notify-webhook-secret-file": &cfg.WebhookSecret,
		"smtp-password-file":         &cfg.SMTPPassword,
	} {
		if path := v.GetString(flag); path != "" {
			data, err := os.ReadFile(path)
			if err != nil {
				return cfg, fmt.Errorf("--%s: %w", flag, err)
			}
			*dst = strings.TrimSpace(string(data))
		}
	}
	return cfg, cfg.Validate()
}

func storeDescription(c store.Config) string {
	if c.URL != "" {
		return c.URL
	}
	return filepath.Join(c.DataDir, "horae.db")
}

// frameworkIDs keeps the Mesos framework ID in the store, written under the
// current term's epoch.
type frameworkIDs struct {
	st    store.Store
	epoch *atomic.Int64
}

func (f frameworkIDs) Get(ctx context.Context) (string, error) { return f.st.FrameworkID(ctx) }
func (f frameworkIDs) Set(ctx context.Context, id string) error {
	return f.st.SetFrameworkID(ctx, f.epoch.Load(), id)
}

// commander maps the supervisor's ErrNotLeader to the API's.
type commander struct{ sup *leader.Supervisor }

func (c commander) Do(ctx context.Context, ev scheduler.Event) (scheduler.Output, error) {
	out, err := c.sup.Do(ctx, ev)
	if errors.Is(err, leader.ErrNotLeader) {
		return out, fmt.Errorf("%w: %w", api.ErrNotLeader, err)
	}
	return out, err
}

// leadership tells the API who leads.
type leadership struct {
	sup *leader.Supervisor
	st  store.Store
}

func (l leadership) IsLeader() bool { return l.sup.IsLeader() }
func (l leadership) Leader(ctx context.Context) (string, string, error) {
	info, err := l.st.Leader(ctx)
	if err != nil {
		return "", "", err
	}
	return info.ID, info.APIURL, nil
}

// refreshFollower reloads the read model from the store while this instance
// does not lead, so followers answer reads with a few seconds' lag. The
// pause between loads grows with the load's own duration (4×, at least 3 s),
// so a follower of a large store never keeps ZooKeeper busy.
func refreshFollower(ctx context.Context, sup *leader.Supervisor, st store.Store, cat *catalog.Catalog, logger *slog.Logger) {
	pause := 3 * time.Second
	for {
		select {
		case <-ctx.Done():
			return
		case <-time.After(pause):
		}
		if sup.IsLeader() {
			continue
		}
		start := time.Now()
		lctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
		state, err := st.Load(lctx)
		cancel()
		pause = max(3*time.Second, 4*time.Since(start))
		if err != nil {
			logger.Warn("follower: reload state", "err", err)
			continue
		}
		sup.IfFollower(func() { cat.Reset(state) })
	}
}

// loadExamples puts the example jobs once this instance leads, if the
// store holds no job yet.
func loadExamples(ctx context.Context, sup *leader.Supervisor, cat *catalog.Catalog, logger *slog.Logger) {
	for !sup.IsLeader() {
		select {
		case <-ctx.Done():
			return
		case <-time.After(100 * time.Millisecond):
		}
	}
	if cat.Len() > 0 {
		return
	}
	for _, job := range exampleJobs(time.Now()) {
		if _, err := sup.Do(ctx, scheduler.JobPut{Job: job, Mode: scheduler.CreateOnly}); err != nil {
			logger.Warn("load example job", "job", job.Name, "err", err)
			return
		}
	}
	logger.Info("example jobs loaded", "jobs", 3, "hint", "curl -s http://127.0.0.1:4400/api/v1/jobs")
}

// shellQuote quotes s for /bin/sh.
func shellQuote(s string) string {
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}
