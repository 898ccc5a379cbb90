package main

import (
	"time"

	"github.com/horae-scheduler/horae/scheduler"
)

// exampleJobs are loaded by `horae serve --examples` on an empty store, so a
// new user sees runs happen: a chain every minute with a split/join step.
//
//	horae-example-extract  (every minute)
//	        │
//	horae-example-transform  (3 instances: split)
//	        │  (waits for all 3: join)
//	horae-example-report
func exampleJobs(now time.Time) []scheduler.Job {
	start := now.UTC().Truncate(time.Minute).Add(time.Minute).Format("2006-01-02T15:04:05Z")
	return []scheduler.Job{
		{
			Name:        "horae-example-extract",
			Description: "Example: a scheduled job that runs every minute.",
			Command:     `echo "extracting at $HORAE_SCHEDULED_TIME (run $HORAE_RUN_ID)"; sleep 1`,
			Shell:       true,
			Schedule:    "R/" + start + "/PT1M",
			Retries:     1,
			CPUs:        0.1, Mem: 32, Disk: 16,
			Labels: map[string]string{"example": "true"},
		},
		{
			Name:        "horae-example-transform",
			Description: "Example: split into 3 instances after extract succeeds.",
			Command:     `echo "transforming part $HORAE_INSTANCE of $HORAE_INSTANCES"; sleep 2`,
			Shell:       true,
			Parents:     []string{"horae-example-extract"},
			Instances:   3,
			Retries:     1,
			CPUs:        0.1, Mem: 32, Disk: 16,
			Labels: map[string]string{"example": "true"},
		},
		{
			Name:        "horae-example-report",
			Description: "Example: joins the 3 transform instances, runs when all succeeded.",
			Command:     `echo "all parts transformed; report ready"`,
			Shell:       true,
			Parents:     []string{"horae-example-transform"},
			TriggerRule: scheduler.AllSuccess,
			CPUs:        0.1, Mem: 32, Disk: 16,
			Labels: map[string]string{"example": "true"},
		},
	}
}
