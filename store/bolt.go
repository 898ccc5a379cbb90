package store

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"time"

	bolt "go.etcd.io/bbolt"
	bolterrors "go.etcd.io/bbolt/errors"

	"github.com/horae-scheduler/horae/scheduler"
)

// Bolt is the embedded store: one bbolt file, one process, one leader.
//
// Buckets: meta (format, epoch, framework-id), jobs (name → job JSON),
// cursors (job name → cursor JSON), runs (one nested bucket per job name:
// run ID → run JSON; its sequence counts them). Values use the same JSON
// as the ZooKeeper store.
type Bolt struct {
	db  *bolt.DB
	log *slog.Logger
	m   *metrics

	mu   sync.Mutex
	term *boltTerm // the current term, nil when not leading
	self Candidate
}

var (
	bucketMeta    = []byte("meta")
	bucketJobs    = []byte("jobs")
	bucketCursors = []byte("cursors")
	bucketRuns    = []byte("runs")

	keyFormat      = []byte("format")
	keyEpoch       = []byte("epoch")
	keyFrameworkID = []byte("framework-id")
)

// lockTimeout is how long Open waits for bbolt's file lock before saying
// another process holds it.
const lockTimeout = 500 * time.Millisecond

func openBolt(ctx context.Context, dir string, logger *slog.Logger, m *metrics) (*Bolt, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("store: create data dir %s: %w", dir, err)
	}
	file := filepath.Join(dir, "horae.db")
	// Every commit is on a run's path to its launch, so commits are kept
	// small: the freelist is not written with each one but rebuilt by a scan
	// when the file is opened (as etcd runs bbolt), and kept as a map, whose
	// cost does not grow with fragmentation.
	db, err := bolt.Open(file, 0o600, &bolt.Options{Timeout: lockTimeout, NoFreelistSync: true, FreelistType: bolt.FreelistMapType})
	if errors.Is(err, bolterrors.ErrTimeout) {
		return nil, fmt.Errorf("store: open %s: locked by another process (is another horae using data dir %s?): %w", file, dir, err)
	}
	if err != nil {
		return nil, fmt.Errorf("store: open %s: %w", file, err)
	}
	err = db.Update(func(tx *bolt.Tx) error {
		for _, name := range [][]byte{bucketMeta, bucketJobs, bucketCursors, bucketRuns} {
			if _, err := tx.CreateBucketIfNotExists(name); err != nil {
				return err
			}
		}
		meta := tx.Bucket(bucketMeta)
		if f := meta.Get(keyFormat); f != nil {
			return checkFormat(f, file)
		}
		f, _ := encode(format{Version: FormatVersion}, "format")
		return meta.Put(keyFormat, f)
	})
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("store: init %s: %w", file, err)
	}
	logger.Info("store opened", "backend", "bbolt", "path", file)
	return &Bolt{db: db, log: logger, m: m}, nil
}

// Load implements Store.
func (b *Bolt) Load(ctx context.Context) (scheduler.State, error) {
	var st scheduler.State
	if err := ctx.Err(); err != nil {
		return st, err
	}
	start := time.Now()
	err := b.db.View(func(tx *bolt.Tx) error {
		if err := tx.Bucket(bucketJobs).ForEach(func(k, v []byte) error {
			var j scheduler.Job
			if err := decode(v, &j, "job "+string(k)); err != nil {
				return err
			}
			st.Jobs = append(st.Jobs, j)
			return nil
		}); err != nil {
			return err
		}
		if err := tx.Bucket(bucketCursors).ForEach(func(k, v []byte) error {
			var c scheduler.Cursor
			if err := decode(v, &c, "cursor "+string(k)); err != nil {
				return err
			}
			st.Cursors = append(st.Cursors, c)
			return nil
		}); err != nil {
			return err
		}
		runs := tx.Bucket(bucketRuns)
		return runs.ForEachBucket(func(job []byte) error {
			return runs.Bucket(job).ForEach(func(k, v []byte) error {
				var r scheduler.Run
				if err := decode(v, &r, fmt.Sprintf("run %s of job %s", k, job)); err != nil {
					return err
				}
				st.Runs = append(st.Runs, r)
				return nil
			})
		})
	})
	if err != nil {
		return scheduler.State{}, fmt.Errorf("store: load: %w", err)
	}
	sortState(&st)
	b.m.loadSeconds.Set(time.Since(start).Seconds())
	return st, nil
}

// fence fails with ErrFenced unless epoch is the current term's.
func (b *Bolt) fence(epoch int64) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.term == nil || b.term.epoch != epoch {
		cur := int64(0)
		if b.term != nil {
			cur = b.term.epoch
		}
		return fmt.Errorf("store: epoch %d (current term %d): %w", epoch, cur, ErrFenced)
	}
	return nil
}

// Commit implements Store: one bbolt transaction (one fsync).
func (b *Bolt) Commit(ctx context.Context, epoch int64, records []scheduler.Record) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	start := time.Now()
	err := b.commit(epoch, records)
	if err != nil {
		b.m.commitFailures.Inc()
		return err
	}
	b.m.commits.Inc()
	b.m.records.Add(float64(len(records)))
	b.m.commitSeconds.Observe(time.Since(start).Seconds())
	return nil
}

func (b *Bolt) commit(epoch int64, records []scheduler.Record) error {
	if err := b.fence(epoch); err != nil {
		return fmt.Errorf("store: commit: %w", err)
	}
	return b.db.Update(func(tx *bolt.Tx) error {
		if got := readEpoch(tx); got != epoch {
			return fmt.Errorf("store: commit: stored epoch %d, term %d: %w", got, epoch, ErrFenced)
		}
		for _, r := range records {
			if err := applyBolt(tx, r); err != nil {
				return fmt.Errorf("store: commit: %s: %w", describe(r), err)
			}
		}
		return nil
	})
}

func applyBolt(tx *bolt.Tx, r scheduler.Record) error {
	jobs, cursors, runs := tx.Bucket(bucketJobs), tx.Bucket(bucketCursors), tx.Bucket(bucketRuns)
	switch r := r.(type) {
	case scheduler.PutJob:
		if err := checkName("job", r.Job.Name); err != nil {
			return err
		}
		v, err := encode(r.Job, "job "+r.Job.Name)
		if err != nil {
			return err
		}
		if _, err := runs.CreateBucketIfNotExists([]byte(r.Job.Name)); err != nil {
			return err
		}
		return jobs.Put([]byte(r.Job.Name), v)
	case scheduler.DeleteJob:
		k := []byte(r.Name)
		if runs.Bucket(k) != nil {
			if err := runs.DeleteBucket(k); err != nil {
				return err
			}
		}
		if err := cursors.Delete(k); err != nil {
			return err
		}
		return jobs.Delete(k)
	case scheduler.PutCursor:
		if jobs.Get([]byte(r.Cursor.Job)) == nil {
			return &scheduler.NotFoundError{Kind: "job", Name: r.Cursor.Job}
		}
		v, err := encode(r.Cursor, "cursor of job "+r.Cursor.Job)
		if err != nil {
			return err
		}
		return cursors.Put([]byte(r.Cursor.Job), v)
	case scheduler.PutRun:
		if err := checkName("run", string(r.Run.ID)); err != nil {
			return err
		}
		rb := runs.Bucket([]byte(r.Run.Job))
		if jobs.Get([]byte(r.Run.Job)) == nil || rb == nil {
			return &scheduler.NotFoundError{Kind: "job", Name: r.Run.Job}
		}
		v, err := encode(r.Run, fmt.Sprintf("run %s of job %s", r.Run.ID, r.Run.Job))
		if err != nil {
			return err
		}
		// The bucket's sequence counts its runs.
		k := []byte(r.Run.ID)
		if rb.Get(k) == nil {
			if rb.Sequence() >= MaxRunsPerJob {
				return fmt.Errorf("job %q holds %d runs: %w", r.Run.Job, MaxRunsPerJob, ErrTooManyRuns)
			}
			if err := rb.SetSequence(rb.Sequence() + 1); err != nil {
				return err
			}
		}
		return rb.Put(k, v)
	case scheduler.DeleteRun:
		rb := runs.Bucket([]byte(r.Job))
		if rb == nil || rb.Get([]byte(r.ID)) == nil {
			return nil
		}
		if err := rb.SetSequence(rb.Sequence() - 1); err != nil {
			return err
		}
		return rb.Delete([]byte(r.ID))
	default:
		return fmt.Errorf("unknown record type %T", r)
	}
}

func readEpoch(tx *bolt.Tx) int64 {
	v := tx.Bucket(bucketMeta).Get(keyEpoch)
	if len(v) != 8 {
		return 0
	}
	return int64(binary.BigEndian.Uint64(v))
}

// FrameworkID implements Store.
func (b *Bolt) FrameworkID(ctx context.Context) (string, error) {
	if err := ctx.Err(); err != nil {
		return "", err
	}
	var id string
	err := b.db.View(func(tx *bolt.Tx) error {
		id = string(tx.Bucket(bucketMeta).Get(keyFrameworkID))
		return nil
	})
	if err != nil {
		return "", fmt.Errorf("store: read framework id: %w", err)
	}
	return id, nil
}

// SetFrameworkID implements Store.
func (b *Bolt) SetFrameworkID(ctx context.Context, epoch int64, id string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if err := b.fence(epoch); err != nil {
		return fmt.Errorf("store: set framework id: %w", err)
	}
	err := b.db.Update(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketMeta).Put(keyFrameworkID, []byte(id))
	})
	if err != nil {
		return fmt.Errorf("store: set framework id: %w", err)
	}
	return nil
}

// Campaign implements Store: the embedded store's process is the only one,
// so it leads at once with the stored epoch + 1 (persisted).
func (b *Bolt) Campaign(ctx context.Context, self Candidate) (Term, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	var epoch int64
	err := b.db.Update(func(tx *bolt.Tx) error {
		epoch = readEpoch(tx) + 1
		var v [8]byte
		binary.BigEndian.PutUint64(v[:], uint64(epoch))
		return tx.Bucket(bucketMeta).Put(keyEpoch, v[:])
	})
	if err != nil {
		return nil, fmt.Errorf("store: campaign: store epoch: %w", err)
	}
	t := &boltTerm{b: b, epoch: epoch, lost: make(chan struct{})}
	b.mu.Lock()
	old := b.term
	b.term, b.self = t, self
	b.mu.Unlock()
	if old != nil {
		old.lose()
	}
	b.log.Info("leading", "epoch", epoch, "backend", "bbolt")
	return t, nil
}

// Leader implements Store.
func (b *Bolt) Leader(ctx context.Context) (LeaderInfo, error) {
	if err := ctx.Err(); err != nil {
		return LeaderInfo{}, err
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.term == nil {
		return LeaderInfo{}, fmt.Errorf("store: leader: %w", ErrNoLeader)
	}
	return LeaderInfo{ID: b.self.ID, APIURL: b.self.APIURL, Epoch: b.term.epoch}, nil
}

// Close implements Store.
func (b *Bolt) Close() error {
	b.mu.Lock()
	t := b.term
	b.term = nil
	b.mu.Unlock()
	if t != nil {
		t.lose()
	}
	if err := b.db.Close(); err != nil {
		return fmt.Errorf("store: close: %w", err)
	}
	return nil
}

type boltTerm struct {
	b     *Bolt
	epoch int64
	lost  chan struct{}
	once  sync.Once
}

func (t *boltTerm) Epoch() int64          { return t.epoch }
func (t *boltTerm) Lost() <-chan struct{} { return t.lost }
func (t *boltTerm) lose()                 { t.once.Do(func() { close(t.lost) }) }

// Resign ends the term; the next Campaign starts a new one.
func (t *boltTerm) Resign(ctx context.Context) error {
	t.b.mu.Lock()
	if t.b.term == t {
		t.b.term = nil
	}
	t.b.mu.Unlock()
	t.lose()
	return nil
}
