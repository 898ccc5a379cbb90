// Command horae is the Horae distributed job scheduler: one binary with the
// scheduler (serve), its Mesos executor (executor), a single-machine Mesos
// (localmesos), a client CLI (job, graph, status) and schedule tools
// (schedule next). It only wires packages together; the logic lives in them.
package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"syscall"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := newRootCmd().ExecuteContext(ctx)
	stop()
	if err != nil {
		var ee *exitError
		if errors.As(err, &ee) {
			if ee.msg != "" {
				fmt.Fprintln(os.Stderr, "horae:", ee.msg)
			}
			os.Exit(ee.code)
		}
		fmt.Fprintln(os.Stderr, "horae:", err)
		os.Exit(1)
	}
}

// exitError ends the process with a given code (e.g. `job run --wait`
// exits with the run's exit code).
type exitError struct {
	code int
	msg  string
}

func (e *exitError) Error() string { return fmt.Sprintf("exit %d: %s", e.code, e.msg) }
