package main

import (
	"context"
	"errors"
	"fmt"

	"github.com/mesos/mesos-go/api/v1/lib/executor/config"
	"github.com/spf13/cobra"

	"github.com/horae-scheduler/horae/executor"
)

// newExecutorCmd builds `horae executor`: the Mesos executor that runs one
// Horae task. A Mesos agent (or localmesos) starts it with the MESOS_*
// environment; it is not meant to be run by hand.
func newExecutorCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "executor",
		Short: "Run as the Mesos executor of Horae tasks (started by the Mesos agent)",
		Long: `Run as the Mesos executor of Horae tasks. The Mesos agent starts this command
with MESOS_FRAMEWORK_ID, MESOS_EXECUTOR_ID, MESOS_DIRECTORY, MESOS_SANDBOX,
MESOS_AGENT_ENDPOINT, MESOS_EXECUTOR_SHUTDOWN_GRACE_PERIOD and, with
checkpointing, MESOS_CHECKPOINT, MESOS_RECOVERY_TIMEOUT and
MESOS_SUBSCRIPTION_BACKOFF_MAX (durations in Mesos units such as 5secs).
See docs/executor.md for what a task sees and what is reported.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			v, err := loadConfig(cmd)
			if err != nil {
				return fmt.Errorf("executor: %w", err)
			}
			logger, err := newLogger(v, cmd.ErrOrStderr())
			if err != nil {
				return fmt.Errorf("executor: %w", err)
			}
			mc, err := config.FromEnv()
			if err != nil {
				return fmt.Errorf("executor: read the Mesos agent's environment: %w", err)
			}
			cfg := executor.Config{
				Mesos:       mc,
				OutputLimit: v.GetInt64("output-limit"),
				TailBytes:   v.GetInt("tail-bytes"),
				KillGrace:   v.GetDuration("kill-grace"),
				HTTPTimeout: v.GetDuration("http-timeout"),
				Guard:       v.GetBool("guard"),
				Subreaper:   v.GetBool("subreaper"),
			}
			if err := cfg.Validate(); err != nil {
				return err
			}
			err = executor.Run(cmd.Context(), cfg, logger)
			if errors.Is(err, context.Canceled) {
				return nil // stopped by a signal after killing and reporting its tasks
			}
			return err
		},
	}
	f := cmd.Flags()
	f.Int64("output-limit", executor.DefaultOutputLimit, "cap in bytes of each task's stdout and stderr file (one rotation to .1 is kept); a job's outputLimitBytes overrides it")
	f.Int("tail-bytes", 4096, "bytes of the end of stdout and stderr carried in the terminal status")
	f.Duration("kill-grace", executor.DefaultKillGrace, "SIGTERM to SIGKILL grace when neither the kill policy nor the job sets one")
	f.Duration("http-timeout", executor.DefaultHTTPTimeout, "timeout of each call to the agent")
	f.Bool("guard", true, "start a helper that kills the tasks' process groups if the executor dies without doing it")
	f.Bool("subreaper", true, "become the child subreaper, so that task processes that left their process group are killed when the task ends")
	return cmd
}
