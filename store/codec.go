package store

import (
	"encoding/json"
	"fmt"
	"hash/fnv"
	"sort"
	"strings"

	"github.com/horae-scheduler/horae/scheduler"
)

// encode marshals one record's value and enforces MaxRecordSize; what names
// the record for the error ("job nightly").
func encode(v any, what string) ([]byte, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return nil, fmt.Errorf("store: encode %s: %w", what, err)
	}
	if len(b) > MaxRecordSize {
		return nil, fmt.Errorf("store: %s encodes to %d bytes, over the %d-byte limit: %w", what, len(b), MaxRecordSize, ErrTooLarge)
	}
	return b, nil
}

func decode(b []byte, v any, where string) error {
	if err := json.Unmarshal(b, v); err != nil {
		return fmt.Errorf("store: decode %s: %w", where, err)
	}
	return nil
}

// format is the data-format marker of a store (znode <root>/format, bbolt
// meta key "format").
type format struct {
	Version int `json:"version"`
}

func checkFormat(b []byte, where string) error {
	var f format
	if err := decode(b, &f, where); err != nil {
		return err
	}
	if f.Version > FormatVersion {
		return fmt.Errorf("store: %s: data format %d is newer than this Horae understands (%d); upgrade Horae", where, f.Version, FormatVersion)
	}
	if f.Version < 1 {
		return fmt.Errorf("store: %s: data format %d is not valid", where, f.Version)
	}
	return nil
}

func checkName(kind, name string) error {
	if name == "" {
		return fmt.Errorf("store: %s with an empty name", kind)
	}
	return nil
}

// escape makes a job name or run ID one znode path segment: bytes other than
// ASCII letters, digits, '-' and '_' become %XX (so "/", "." and ".." are
// never segments). unescape reverses it.
func escape(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_' {
			b.WriteByte(c)
			continue
		}
		fmt.Fprintf(&b, "%%%02X", c)
	}
	return b.String()
}

func unescape(s string) (string, error) {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] != '%' {
			b.WriteByte(s[i])
			continue
		}
		if i+2 >= len(s) {
			return "", fmt.Errorf("store: bad escaped name %q", s)
		}
		var c byte
		if _, err := fmt.Sscanf(s[i+1:i+3], "%02X", &c); err != nil {
			return "", fmt.Errorf("store: bad escaped name %q", s)
		}
		b.WriteByte(c)
		i += 2
	}
	return b.String(), nil
}

// shardCount is the number of shard znodes under <root>/jobs; a job lives in
// shard fnv32a(name) mod shardCount, so no parent lists more than about
// jobs/256 children (100,000 jobs: ~400 per shard).
const shardCount = 256

func shard(name string) string {
	h := fnv.New32a()
	h.Write([]byte(name))
	return fmt.Sprintf("%02x", h.Sum32()%shardCount)
}

// sortState orders a loaded state deterministically.
func sortState(st *scheduler.State) {
	sort.Slice(st.Jobs, func(i, j int) bool { return st.Jobs[i].Name < st.Jobs[j].Name })
	sort.Slice(st.Cursors, func(i, j int) bool { return st.Cursors[i].Job < st.Cursors[j].Job })
	sort.Slice(st.Runs, func(i, j int) bool {
		if st.Runs[i].Job != st.Runs[j].Job {
			return st.Runs[i].Job < st.Runs[j].Job
		}
		return st.Runs[i].ID < st.Runs[j].ID
	})
}

// describe names a record for errors and logs.
func describe(r scheduler.Record) string {
	switch r := r.(type) {
	case scheduler.PutJob:
		return fmt.Sprintf("put job %q", r.Job.Name)
	case scheduler.DeleteJob:
		return fmt.Sprintf("delete job %q", r.Name)
	case scheduler.PutCursor:
		return fmt.Sprintf("put cursor of job %q", r.Cursor.Job)
	case scheduler.PutRun:
		return fmt.Sprintf("put run %q of job %q", r.Run.ID, r.Run.Job)
	case scheduler.DeleteRun:
		return fmt.Sprintf("delete run %q of job %q", r.ID, r.Job)
	default:
		return fmt.Sprintf("record %T", r)
	}
}
