package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/horae-scheduler/horae/schedule"

	// Zone data inside the binary: schedules must not depend on the
	// machine's /usr/share/zoneinfo being present or current.
	_ "time/tzdata"
)

// newScheduleCmd builds `horae schedule` and its `next` subcommand.
func newScheduleCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "schedule",
		Short: "Schedule tools: preview ISO 8601 and cron schedules",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return cmd.Help()
		},
	}
	cmd.AddCommand(newScheduleNextCmd(time.Now))
	return cmd
}

// newScheduleNextCmd builds `horae schedule next`; now is the clock used
// when --from is not given.
func newScheduleNextCmd(now func() time.Time) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "next EXPR",
		Short: "Print the next occurrences of a schedule",
		Long: `Print the next occurrences of a schedule, at or after --from, one RFC 3339
time per line in the schedule's zone (or as JSON with --json).

EXPR is an ISO 8601 repeating interval (R[n]/<start>/<period>,
R[n]/<start>/<end>, R[n]//<period>) or a standard cron expression (5 fields,
or @yearly, @monthly, @weekly, @daily, @hourly). For R[n]//<period> the
start is --from. See docs/schedules.md for the rules.`,
		Example: `  horae schedule next 'R/2026-01-31T10:00:00Z/P1M' --count 3
  horae schedule next 'R/2026-03-28T02:30:00/P1D' --tz Europe/Berlin
  horae schedule next '0 9 * * 1-5' --tz America/New_York --json`,
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) != 1 {
				return fmt.Errorf("schedule next: want exactly one expression (quote it), got %d arguments", len(args))
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			v, err := loadConfig(cmd)
			if err != nil {
				return fmt.Errorf("schedule next: %w", err)
			}
			from := now()
			if s := v.GetString("from"); s != "" {
				if from, err = time.Parse(time.RFC3339Nano, s); err != nil {
					return fmt.Errorf("schedule next: --from %q: want an RFC 3339 time such as 2026-03-01T00:00:00Z", s)
				}
			}
			count := v.GetInt("count")
			if count < 1 || count > schedule.MaxPreview {
				return fmt.Errorf("schedule next: --count %d: want 1 to %d", count, schedule.MaxPreview)
			}
			p, err := schedule.Preview(args[0], v.GetString("tz"), from, count)
			if err != nil {
				return oneLine(err)
			}
			out := cmd.OutOrStdout()
			if v.GetBool("json") {
				enc := json.NewEncoder(out)
				enc.SetIndent("", "  ")
				return enc.Encode(p)
			}
			var b strings.Builder
			for _, t := range p.Next {
				b.WriteString(t.Format(time.RFC3339Nano))
				b.WriteByte('\n')
			}
			_, err = fmt.Fprint(out, b.String())
			return err
		},
	}
	f := cmd.Flags()
	f.String("tz", "", "IANA time zone (e.g. Europe/Berlin); overrides the start's offset; cron defaults to UTC")
	f.String("from", "", "list occurrences at or after this RFC 3339 time (default now); also the start of R//P")
	f.Int("count", schedule.DefaultPreview, fmt.Sprintf("number of occurrences to print (1-%d)", schedule.MaxPreview))
	f.Bool("json", false, `print {"expression", "timezone", "next": [...]} as JSON`)
	return cmd
}

// oneLine keeps an error message to one line: main prints it after
// "horae: " on stderr.
func oneLine(err error) error {
	msg := err.Error()
	if !strings.ContainsAny(msg, "\r\n") {
		return err
	}
	return errors.New(strings.Join(strings.Fields(msg), " "))
}
