package executor

import (
	"errors"
	"fmt"
	"os"
	"sync"
	"unicode/utf8"
)

// cappedFile writes one output stream of a task to path, keeping at most
// limit bytes in it: when a write would pass the limit, the file is renamed
// to path+".1" (replacing an older one) and a new file is started, so a
// stream never uses more than 2*limit bytes of disk. It also keeps the last
// tail bytes written, for the terminal status.
//
// It is written to by one copying goroutine and read (Tail) after that
// goroutine has finished, but a mutex keeps it safe either way.
type cappedFile struct {
	mu      sync.Mutex
	path    string
	limit   int64
	f       *os.File
	size    int64
	tail    []byte // ring of the last cap(tail) bytes
	tailPos int    // next write position in tail once full
	tailLen int
	total   int64
	err     error // first write error; later writes are dropped
}

// newCappedFile creates (truncating) path. limit must be positive; tail may
// be zero.
func newCappedFile(path string, limit int64, tail int) (*cappedFile, error) {
	if limit <= 0 {
		return nil, fmt.Errorf("output %s: limit %d: must be positive", path, limit)
	}
	f, err := os.OpenFile(path, os.O_CREATE|os.O_TRUNC|os.O_WRONLY, 0o644)
	if err != nil {
		return nil, fmt.Errorf("output: create %s: %w", path, err)
	}
	return &cappedFile{path: path, limit: limit, f: f, tail: make([]byte, tail)}, nil
}

// tailOnly is a cappedFile whose file could not be created: it keeps the
// stream's tail and reports err when closed.
func tailOnly(path string, tail int, err error) *cappedFile {
	return &cappedFile{path: path, tail: make([]byte, tail), err: err}
}

// Write never fails towards the task: a disk error is remembered (Err) and
// the rest of the stream is only kept in the tail, so a full disk cannot
// block or kill the task through SIGPIPE.
func (c *cappedFile) Write(p []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.total += int64(len(p))
	c.keepTail(p)
	if c.err != nil {
		return len(p), nil
	}
	rest := p
	for len(rest) > 0 {
		room := c.limit - c.size
		if room <= 0 {
			if err := c.rotate(); err != nil {
				c.err = err
				return len(p), nil
			}
			room = c.limit
		}
		n := int64(len(rest))
		if n > room {
			n = room
		}
		w, err := c.f.Write(rest[:n])
		c.size += int64(w)
		if err != nil {
			c.err = fmt.Errorf("output: write %s: %w", c.path, err)
			return len(p), nil
		}
		rest = rest[n:]
	}
	return len(p), nil
}

func (c *cappedFile) rotate() error {
	if err := c.f.Close(); err != nil {
		return fmt.Errorf("output: close %s: %w", c.path, err)
	}
	if err := os.Rename(c.path, c.path+".1"); err != nil {
		return fmt.Errorf("output: rotate %s: %w", c.path, err)
	}
	f, err := os.OpenFile(c.path, os.O_CREATE|os.O_TRUNC|os.O_WRONLY, 0o644)
	if err != nil {
		return fmt.Errorf("output: reopen %s: %w", c.path, err)
	}
	c.f, c.size = f, 0
	return nil
}

func (c *cappedFile) keepTail(p []byte) {
	n := len(c.tail)
	if n == 0 {
		return
	}
	if len(p) >= n {
		copy(c.tail, p[len(p)-n:])
		c.tailPos, c.tailLen = 0, n
		return
	}
	for len(p) > 0 {
		k := copy(c.tail[c.tailPos:], p)
		p = p[k:]
		c.tailPos = (c.tailPos + k) % n
		c.tailLen = min(c.tailLen+k, n)
	}
}

// Tail returns the last bytes written (up to the tail size), starting at a
// UTF-8 boundary when the cut fell inside a character.
func (c *cappedFile) Tail() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	var b []byte
	if c.tailLen < len(c.tail) {
		b = append(b, c.tail[:c.tailLen]...)
	} else {
		b = append(append(b, c.tail[c.tailPos:]...), c.tail[:c.tailPos]...)
	}
	if c.total > int64(len(b)) {
		// The cut may have split a character: drop continuation bytes.
		for i := 0; i < utf8.UTFMax && len(b) > 0 && !utf8.RuneStart(b[0]); i++ {
			b = b[1:]
		}
	}
	return string(b)
}

// Total is the number of bytes the task wrote to the stream.
func (c *cappedFile) Total() int64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.total
}

// Close closes the file and returns the first error met while writing.
func (c *cappedFile) Close() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.f == nil {
		return c.err
	}
	return errors.Join(c.err, c.f.Close())
}
