package main

import (
	"fmt"

	"github.com/spf13/cobra"
)

// newGraphCmd builds `horae graph`: the dependency graph of the jobs.
func newGraphCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "graph",
		Short: "Show the jobs' dependency graph",
		Long: `Show the jobs' dependency graph: by default a table of jobs with their
states and an edge list; --format dot prints Graphviz DOT (pipe it to
"dot -Tsvg"), --format json (or --json) the API's JSON.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			format, _ := cmd.Flags().GetString("format")
			if asJSON(cmd) {
				format = "json"
			}
			if format != "text" && format != "dot" && format != "json" {
				return fmt.Errorf("graph: --format %q: want text, dot or json", format)
			}
			c, server, err := clientOf(cmd)
			if err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			if format == "dot" {
				dot, err := c.GraphDot(cmd.Context())
				if err != nil {
					return failure("graph", server, err)
				}
				_, err = fmt.Fprint(out, dot)
				return err
			}
			g, err := c.Graph(cmd.Context())
			if err != nil {
				return failure("graph", server, err)
			}
			if format == "json" {
				return printJSON(out, g)
			}
			t := newTable(out, "JOB", "STATE", "LAST", "ENABLED")
			for _, n := range g.Nodes {
				t.row(n.Name, n.State, n.LastState, yesNo(!n.Disabled))
			}
			if err := t.flush(); err != nil {
				return err
			}
			if len(g.Edges) == 0 {
				_, err := fmt.Fprintln(out, "\nno dependencies")
				return err
			}
			fmt.Fprintln(out)
			t = newTable(out)
			t.raw("PARENT", "", "CHILD")
			for _, e := range g.Edges {
				t.row(e.Parent, "->", e.Child)
			}
			return t.flush()
		},
	}
	addClientFlags(cmd)
	cmd.Flags().String("format", "text", "text (for people), dot (Graphviz) or json")
	addJSONFlag(cmd)
	return cmd
}
