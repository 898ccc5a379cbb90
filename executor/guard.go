package executor

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"syscall"
)

// guardScript is the guard's program. It reads "+ <pgid>" and "- <pgid>"
// lines on stdin and, when stdin closes (the executor exited, however it
// died: the kernel closes its end of the pipe), sends SIGKILL to every
// process group still registered.
const guardScript = `groups=""
while read -r op pg; do
  case "$op" in
    +) groups="$groups $pg" ;;
    -) keep=""; for g in $groups; do [ "$g" = "$pg" ] || keep="$keep $g"; done; groups="$keep" ;;
  esac
done
for g in $groups; do kill -KILL "-$g" 2>/dev/null; done
exit 0`

// guard is a small /bin/sh process that kills the tasks' process groups
// when the executor dies without doing so itself (SIGKILL, OOM kill, crash).
// The parent-death signal only reaches a task's first process; the guard
// reaches the rest of its group. It lives in its own process group so that
// killing a task's group never hits it.
type guard struct {
	cmd *exec.Cmd
	w   io.WriteCloser
	log *slog.Logger
}

// startGuard starts the guard process.
func startGuard(logger *slog.Logger) (*guard, error) {
	cmd := exec.Command("/bin/sh", "-c", guardScript)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Stdout, cmd.Stderr = nil, os.Stderr
	w, err := cmd.StdinPipe()
	if err != nil {
		return nil, fmt.Errorf("guard: stdin pipe: %w", err)
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("guard: start /bin/sh: %w", err)
	}
	return &guard{cmd: cmd, w: w, log: logger}, nil
}

// add registers a task's process group; remove unregisters it once the
// group is gone. Failures are logged: the guard is a second line of defence.
func (g *guard) add(pgid int)    { g.write('+', pgid) }
func (g *guard) remove(pgid int) { g.write('-', pgid) }

func (g *guard) write(op byte, pgid int) {
	if g == nil {
		return
	}
	if _, err := fmt.Fprintf(g.w, "%c %d\n", op, pgid); err != nil {
		g.log.Warn("guard: register process group", "pgid", pgid, "err", err)
	}
}

// stop closes the guard's stdin and waits for it to exit.
func (g *guard) stop(ctx context.Context) {
	if g == nil {
		return
	}
	_ = g.w.Close()
	done := make(chan struct{})
	go func() { _ = g.cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-ctx.Done():
		_ = g.cmd.Process.Kill()
		<-done
	}
}
