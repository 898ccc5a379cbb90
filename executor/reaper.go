package executor

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// prSetChildSubreaper is PR_SET_CHILD_SUBREAPER from <linux/prctl.h>.
const prSetChildSubreaper = 36

// becomeSubreaper makes processes orphaned inside this executor's process
// tree (a task's daemon that left its process group with setsid, say) be
// re-parented to the executor instead of init, so that killOrphans can
// find and end them. It affects the whole process.
func becomeSubreaper() error {
	if _, _, errno := syscall.RawSyscall(syscall.SYS_PRCTL, prSetChildSubreaper, 1, 0); errno != 0 {
		return fmt.Errorf("prctl PR_SET_CHILD_SUBREAPER: %w", errno)
	}
	return nil
}

// killOrphans kills and reaps every child of this process except the ones
// in keep (the guard, live tasks' leaders). Only call it when no task is
// running, or it could take a running task's daemon. It returns the
// number of processes ended.
func killOrphans(keep map[int]bool) (int, error) {
	self := os.Getpid()
	ended := 0
	deadline := time.Now().Add(2 * time.Second)
	for round := 0; ; round++ {
		kids, err := orphanCandidates(self)
		if err != nil {
			return ended, err
		}
		var todo []int
		for _, pid := range kids {
			if !keep[pid] {
				todo = append(todo, pid)
			}
		}
		if len(todo) == 0 {
			return ended, nil
		}
		if time.Now().After(deadline) {
			return ended, fmt.Errorf("orphans %v still alive after SIGKILL", todo)
		}
		for _, pid := range todo {
			_ = syscall.Kill(pid, syscall.SIGKILL)
			var ws syscall.WaitStatus
			// Reap if already dead; a killed process's own orphans come
			// to us and are found in the next round.
			if n, err := syscall.Wait4(pid, &ws, syscall.WNOHANG, nil); err == nil && n == pid {
				ended++
			} else if errors.Is(err, syscall.ECHILD) {
				continue
			}
		}
		if round > 0 {
			time.Sleep(5 * time.Millisecond)
		}
	}
}

// orphanCandidates lists the children of this process's main thread: the
// one the kernel re-parents orphans to. When a process dies, its children
// go to the nearest subreaper ancestor's first live thread
// (find_new_reaper in kernel/exit.c), which is the thread-group leader
// while the process is not exiting. Reading that one list is three system
// calls; reading every thread's list, as children does, is about sixty,
// and at 100 tasks a second that was a quarter of the executor's CPU
// (docs/benchmarks.md, Throughput). Children that other threads forked are
// the tasks' own processes, which killOrphans is not after.
func orphanCandidates(pid int) ([]int, error) {
	if kids, err := readChildren(filepath.Join("/proc", strconv.Itoa(pid), "task", strconv.Itoa(pid), "children")); err == nil {
		return kids, nil
	}
	return children(pid)
}

// children lists the processes whose parent is ppid. It reads the
// kernel's per-thread children lists (/proc/<pid>/task/<tid>/children: a
// handful of files for a Go process), and scans every process in /proc
// only where the kernel lacks them (CONFIG_PROC_CHILDREN). The full scan
// costs milliseconds on a busy machine, and the executor looks for orphans
// after every task that ends while no other runs.
func children(ppid int) ([]int, error) {
	if kids, err := threadChildren(ppid); err == nil {
		return kids, nil
	}
	return scanChildren(ppid)
}

// threadChildren reads /proc/<pid>/task/*/children.
func threadChildren(pid int) ([]int, error) {
	files, err := filepath.Glob(filepath.Join("/proc", strconv.Itoa(pid), "task", "*", "children"))
	if err != nil {
		return nil, err
	}
	if len(files) == 0 {
		return nil, fmt.Errorf("no /proc/%d/task/*/children (kernel without CONFIG_PROC_CHILDREN?)", pid)
	}
	var out []int
	for _, f := range files {
		kids, err := readChildren(f)
		if errors.Is(err, fs.ErrNotExist) {
			continue // the thread ended meanwhile
		}
		if err != nil {
			return nil, err
		}
		out = append(out, kids...)
	}
	return out, nil
}

// readChildren parses one /proc/<pid>/task/<tid>/children file.
func readChildren(file string) ([]int, error) {
	b, err := os.ReadFile(file)
	if err != nil {
		return nil, err
	}
	var out []int
	for _, field := range strings.Fields(string(b)) {
		if kid, err := strconv.Atoi(field); err == nil {
			out = append(out, kid)
		}
	}
	return out, nil
}

// scanChildren lists the processes whose parent is ppid by reading the
// stat file of every process in /proc.
func scanChildren(ppid int) ([]int, error) {
	ents, err := os.ReadDir("/proc")
	if err != nil {
		return nil, fmt.Errorf("list /proc: %w", err)
	}
	want := strconv.Itoa(ppid)
	var out []int
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		b, err := os.ReadFile(filepath.Join("/proc", e.Name(), "stat"))
		if err != nil {
			continue
		}
		s := string(b)
		i := strings.LastIndexByte(s, ')')
		if i < 0 {
			continue
		}
		if f := strings.Fields(s[i+1:]); len(f) > 1 && f[1] == want {
			out = append(out, pid)
		}
	}
	return out, nil
}
