package main

import (
	"fmt"
	"sort"
	"strconv"
	"time"

	"github.com/spf13/cobra"

	"github.com/horae-scheduler/horae/api"
)

// statusJobs counts jobs by state. A job counts once in each of the three
// groups: enabled/disabled, running/queued/idle, success/failure/fresh.
type statusJobs struct {
	Total    int `json:"total"`
	Enabled  int `json:"enabled"`
	Disabled int `json:"disabled"`
	Running  int `json:"running"`
	Queued   int `json:"queued"`
	Idle     int `json:"idle"`
	Success  int `json:"success"`
	Failure  int `json:"failure"`
	Fresh    int `json:"fresh"`
}

// statusReport is `horae status --json`.
type statusReport struct {
	Server string `json:"server"`
	// Leader is absent when the server could not tell; LeaderError says why.
	Leader      *api.Leader `json:"leader,omitempty"`
	LeaderError string      `json:"leaderError,omitempty"`
	Jobs        statusJobs  `json:"jobs"`
	ActiveRuns  []api.Run   `json:"activeRuns"`
}

// newStatusCmd builds `horae status`: who leads, jobs by state, active runs.
func newStatusCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "status",
		Short: "Show the leader, jobs by state and the active runs",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, server, err := clientOf(cmd)
			if err != nil {
				return err
			}
			ctx := cmd.Context()
			rep := statusReport{Server: server, ActiveRuns: []api.Run{}}
			g, err := c.Graph(ctx)
			if err != nil {
				return failure("status", server, err)
			}
			if l, err := c.Leader(ctx); err != nil {
				rep.LeaderError = failure("leader", server, err).Error()
			} else {
				rep.Leader = &l
			}
			for _, n := range g.Nodes {
				rep.Jobs.Total++
				if n.Disabled {
					rep.Jobs.Disabled++
				} else {
					rep.Jobs.Enabled++
				}
				switch n.State {
				case "idle":
					rep.Jobs.Idle++
				case "queued":
					rep.Jobs.Queued++
				default:
					rep.Jobs.Running++
				}
				switch n.LastState {
				case "success":
					rep.Jobs.Success++
				case "failure":
					rep.Jobs.Failure++
				default:
					rep.Jobs.Fresh++
				}
				if n.State == "idle" {
					continue
				}
				runs, err := c.ListRuns(ctx, n.Name, 50, "")
				if err != nil {
					return failure("status: runs of job "+n.Name, server, err)
				}
				for _, r := range runs.Runs {
					if !isTerminal(r.State) {
						rep.ActiveRuns = append(rep.ActiveRuns, r)
					}
				}
			}
			sort.SliceStable(rep.ActiveRuns, func(i, j int) bool {
				return rep.ActiveRuns[i].CreatedAt.Before(rep.ActiveRuns[j].CreatedAt)
			})
			out := cmd.OutOrStdout()
			if asJSON(cmd) {
				return printJSON(out, rep)
			}
			leader := "unknown: " + rep.LeaderError
			if l := rep.Leader; l != nil {
				leader = l.Leader
				if l.URL != "" {
					leader += " (" + l.URL + ")"
				}
				if l.Self {
					leader += ", this server"
				}
			}
			j := rep.Jobs
			fmt.Fprintf(out, "Server:  %s\nLeader:  %s\n", server, leader)
			fmt.Fprintf(out, "Jobs:    %d: %d enabled, %d disabled; %d running, %d queued, %d idle; last runs %d success, %d failure, %d never run\n",
				j.Total, j.Enabled, j.Disabled, j.Running, j.Queued, j.Idle, j.Success, j.Failure, j.Fresh)
			if len(rep.ActiveRuns) == 0 {
				_, err := fmt.Fprintln(out, "Active runs: none")
				return err
			}
			fmt.Fprintf(out, "Active runs: %d\n", len(rep.ActiveRuns))
			now := time.Now()
			t := newTable(out, "RUN", "JOB", "STATE", "ATTEMPT", "STARTED", "FOR")
			for _, r := range rep.ActiveRuns {
				t.row(r.ID, r.Job, r.State, strconv.Itoa(r.Attempt+1), when(r.StartedAt), elapsed(r.StartedAt, time.Time{}, now))
			}
			return t.flush()
		},
	}
	addClientFlags(cmd)
	addJSONFlag(cmd)
	return cmd
}
