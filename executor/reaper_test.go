package executor

import (
	"os"
	"os/exec"
	"slices"
	"testing"
)

// TestChildrenListsMatch: the kernel's per-thread children lists and a scan
// of every process in /proc find the same children of this process.
func TestChildrenListsMatch(t *testing.T) {
	var started []int
	for range 3 {
		cmd := exec.Command("sleep", "30")
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
		started = append(started, cmd.Process.Pid)
	}
	fast, err := threadChildren(os.Getpid())
	if err != nil {
		t.Skipf("kernel without per-thread children lists: %v", err)
	}
	slow, err := scanChildren(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(fast)
	slices.Sort(slow)
	if !slices.Equal(fast, slow) {
		t.Errorf("per-thread lists %v, /proc scan %v", fast, slow)
	}
	for _, pid := range started {
		if !slices.Contains(fast, pid) {
			t.Errorf("child %d missing from %v", pid, fast)
		}
	}
}
