package main

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"time"

	"github.com/spf13/cobra"

	"github.com/horae-scheduler/horae/localmesos"
)

// newLocalMesosCmd builds `horae localmesos`: a single-machine Mesos master
// and agent (package localmesos) as a process of its own, running until
// SIGINT/SIGTERM cancels the command's context.
func newLocalMesosCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "localmesos",
		Short: "Run a single-machine Mesos master and agent (v1 HTTP APIs)",
		Long: `Run localmesos, a single-machine Mesos master and agent speaking the Mesos
v1 scheduler and executor HTTP APIs, as a process of its own, so that several
Horae instances can share it. Point Horae at it with --mesos-master
http://<listen>. Resources default to this machine's CPUs, memory and the free
disk of --work-dir.`,
		Example: `  horae localmesos --listen 127.0.0.1:5050
  horae localmesos --listen 127.0.0.1:5050 --cpus 2 --mem 2048 --heartbeat-interval 1s`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			v, err := loadConfig(cmd)
			if err != nil {
				return fmt.Errorf("localmesos: %w", err)
			}
			logger, err := newLogger(v, cmd.ErrOrStderr())
			if err != nil {
				return fmt.Errorf("localmesos: %w", err)
			}
			cfg := localmesos.Config{
				Listen:            v.GetString("listen"),
				WorkDir:           v.GetString("work-dir"),
				Hostname:          v.GetString("hostname"),
				CPUs:              v.GetFloat64("cpus"),
				MemMB:             v.GetFloat64("mem"),
				DiskMB:            v.GetFloat64("disk"),
				HeartbeatInterval: v.GetDuration("heartbeat-interval"),
			}
			m, err := localmesos.New(cfg, logger)
			if err != nil {
				return err
			}
			ctx := cmd.Context()
			if err := m.Start(ctx); err != nil {
				return err
			}
			_, _ = fmt.Fprintln(cmd.OutOrStdout(), "localmesos listening on", m.URL())
			if addr := v.GetString("fault-control"); addr != "" {
				stop, err := serveFaultControl(ctx, addr, m)
				if err != nil {
					return err
				}
				defer stop()
				_, _ = fmt.Fprintln(cmd.OutOrStdout(), "localmesos fault control on", addr)
			}
			return m.Wait(ctx)
		},
	}
	f := cmd.Flags()
	f.String("listen", "127.0.0.1:5050", "address to serve the master and agent APIs on")
	f.String("work-dir", "", "agent work directory for sandboxes (default: a temporary directory, removed on exit)")
	f.String("hostname", "127.0.0.1", "hostname the master and agent advertise")
	f.Float64("cpus", 0, "CPUs to offer (default: this machine's)")
	f.Float64("mem", 0, "memory to offer, in MB (default: this machine's)")
	f.Float64("disk", 0, "disk to offer, in MB (default: free space of --work-dir)")
	f.Duration("heartbeat-interval", 0, "scheduler stream heartbeat interval (default 15s)")
	f.String("fault-control", "", "address of a separate HTTP listener that switches faults on and off, for drills (off by default; never expose it)")
	return cmd
}

// serveFaultControl serves localmesos.FaultHandler on its own listener.
func serveFaultControl(ctx context.Context, addr string, m *localmesos.Mesos) (stop func(), err error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("--fault-control %s: %w", addr, err)
	}
	srv := &http.Server{Handler: localmesos.FaultHandler(m.Faults()), ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	return func() {
		sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 2*time.Second)
		defer cancel()
		_ = srv.Shutdown(sctx)
	}, nil
}
