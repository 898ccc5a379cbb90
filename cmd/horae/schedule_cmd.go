package main

import (
	"errors"

	"github.com/spf13/cobra"
)

// newScheduleCmd is replaced by the schedules work (issue #2).
func newScheduleCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "schedule",
		Short: "Schedule tools",
		RunE: func(*cobra.Command, []string) error {
			return errors.New("schedule: not yet available")
		},
	}
}
