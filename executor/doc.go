// Package executor is the Horae Mesos executor (`horae executor`): a Mesos
// v1 HTTP API custom executor, built on mesos-go's executor library, that
// runs each task's command as a process group in the sandbox, writes its
// stdout and stderr to size-capped files, enforces the maximum runtime,
// kills with SIGTERM then SIGKILL after a grace period, and reports the
// outcome (exit code or signal, duration, CPU time, peak memory, output
// tails) as taskspec.Result JSON in the data of the terminal status update.
//
// It must not import any other Horae package than taskspec, keep state on
// disk, or decide anything about scheduling: it runs what the TaskInfo says
// and reports what happened. docs/executor.md is the contract for people
// who write jobs.
//
// Invariant: every task this executor accepted gets exactly one terminal
// status update, and the executor keeps every update until the agent has
// acknowledged it; when a task's terminal update is sent, no process of its
// process group is left running.
package executor
