//go:build !linux

package scheduler

import "time"

func threadCPU() (time.Duration, bool) { return 0, false }
