package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/horae-scheduler/horae/api/client"
)

// defaultServer is where the CLI looks for a Horae server by default: the
// address `horae serve` listens on with no flags.
const defaultServer = "http://127.0.0.1:4400"

// addClientFlags adds the flags every client command shares. Only --server
// and --token go through viper (flags > HORAE_SERVER/HORAE_TOKEN > config
// file); command flags such as --env are read from the command line only,
// so that an unrelated HORAE_ENV in the environment changes nothing.
func addClientFlags(cmd *cobra.Command) {
	f := cmd.PersistentFlags()
	f.String("server", defaultServer, "URL of a Horae server (env HORAE_SERVER)")
	f.String("token", "", "bearer token of a user in the server's --auth-file (env HORAE_TOKEN)")
}

// clientOf builds the API client of a command from --server and --token.
func clientOf(cmd *cobra.Command) (*client.Client, string, error) {
	v, err := loadConfig(cmd)
	if err != nil {
		return nil, "", err
	}
	server := strings.TrimSpace(v.GetString("server"))
	if server == "" {
		server = defaultServer
	}
	if !strings.HasPrefix(server, "http://") && !strings.HasPrefix(server, "https://") {
		return nil, "", fmt.Errorf("--server %q: want a URL such as %s", server, defaultServer)
	}
	return client.New(server, v.GetString("token"), nil), server, nil
}

// failure turns an error of the API client into one line naming what was
// being done, then one indented line per problem the server listed. The
// client's own "horae: " prefix is dropped: main prints one.
func failure(what, server string, err error) error {
	var ce *client.Error
	if errors.As(err, &ce) {
		status := fmt.Sprintf("%d %s", ce.Status, http.StatusText(ce.Status))
		var b strings.Builder
		covered := len(ce.Details) > 0
		for _, d := range ce.Details {
			if !strings.Contains(ce.Message, d.Field+": "+d.Message) {
				covered = false
			}
		}
		if covered {
			// A validation error lists its problems in its message too:
			// print them once, one a line.
			head, _, _ := strings.Cut(ce.Message, ":")
			fmt.Fprintf(&b, "%s: %s (%s)", what, head, status)
			for _, d := range ce.Details {
				fmt.Fprintf(&b, "\n  %s: %s", d.Field, d.Message)
			}
			return errors.New(b.String())
		}
		fmt.Fprintf(&b, "%s: %s (%s)", what, ce.Message, status)
		for _, d := range ce.Details {
			if !strings.Contains(ce.Message, d.Field+": "+d.Message) {
				fmt.Fprintf(&b, "\n  %s: %s", d.Field, d.Message)
			}
		}
		if ce.Status == http.StatusUnauthorized {
			b.WriteString("\n  hint: pass a token with --token or HORAE_TOKEN")
		}
		return errors.New(b.String())
	}
	msg := strings.TrimPrefix(err.Error(), "horae: ")
	if errors.Is(err, syscall.ECONNREFUSED) {
		return fmt.Errorf("%s: no Horae server at %s (is `horae serve` running? set --server or HORAE_SERVER): %s", what, server, msg)
	}
	return fmt.Errorf("%s: %s", what, msg)
}

// printJSON prints v as indented JSON: the API's JSON, for scripts.
func printJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return fmt.Errorf("write JSON: %w", err)
	}
	return nil
}

// table writes aligned columns for people.
type table struct{ tw *tabwriter.Writer }

func newTable(w io.Writer, header ...string) *table {
	t := &table{tw: tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)}
	if len(header) > 0 {
		t.row(header...)
	}
	return t
}

func (t *table) row(cells ...string) {
	for i, c := range cells {
		if c == "" {
			cells[i] = "-"
		}
		// A tab or newline inside a cell would break the columns.
		cells[i] = strings.NewReplacer("\t", " ", "\n", " ").Replace(cells[i])
	}
	fmt.Fprintln(t.tw, strings.Join(cells, "\t"))
}

// raw writes a row as it is ("" stays empty).
func (t *table) raw(cells ...string) { fmt.Fprintln(t.tw, strings.Join(cells, "\t")) }

func (t *table) flush() error {
	if err := t.tw.Flush(); err != nil {
		return fmt.Errorf("write table: %w", err)
	}
	return nil
}

// when formats an instant for a table: local time to the second, or "".
func when(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.Local().Format("2006-01-02 15:04:05")
}

// chronosWhen formats a Chronos-style time string (RFC 3339 or "").
func chronosWhen(s string) string {
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return s
	}
	return when(t)
}

// elapsed formats how long a run took or has been running.
func elapsed(start, end, now time.Time) string {
	if start.IsZero() {
		return ""
	}
	if end.IsZero() {
		end = now
	}
	d := end.Sub(start)
	switch {
	case d < time.Second:
		return d.Round(time.Millisecond).String()
	case d < time.Hour:
		return d.Round(100 * time.Millisecond).String()
	}
	return d.Round(time.Second).String()
}
