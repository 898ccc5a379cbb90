package scheduler

import (
	"syscall"
	"time"
)

// threadCPU is the CPU time (user+system) of the calling OS thread, so a
// benchmark that locks its thread can report its own cost independently of
// the machine's load.
func threadCPU() (time.Duration, bool) {
	var ru syscall.Rusage
	const rusageThread = 1 // RUSAGE_THREAD
	if err := syscall.Getrusage(rusageThread, &ru); err != nil {
		return 0, false
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano()), true
}
