package localmesos

import (
	"bufio"
	"fmt"
	"io"

	"net/http"
	"strconv"
	"sync"
	"time"
)

// stream is one open RecordIO event stream (a scheduler subscription or an
// executor subscription), written on a hijacked connection so that the
// status line, header set and chunking match a real Mesos process exactly:
// each record is one HTTP chunk, flushed at once.
//
// Records are queued by the state machine under Mesos.mu and written by the
// handler goroutine that owns the connection.
type stream struct {
	id    string // Mesos-Stream-Id; empty on executor streams
	media string

	mu      sync.Mutex
	queue   [][]byte
	closing bool // write what is queued, then end the stream
	dropped bool // end now, without the terminating chunk
	wake    chan struct{}
	done    chan struct{} // closed when the writer has finished
}

func newStream(id, media string) *stream {
	return &stream{id: id, media: media, wake: make(chan struct{}, 1), done: make(chan struct{})}
}

func (s *stream) signal() {
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

// send queues one encoded record.
func (s *stream) send(rec []byte) {
	s.mu.Lock()
	if !s.closing && !s.dropped {
		s.queue = append(s.queue, rec)
	}
	s.mu.Unlock()
	s.signal()
}

// end closes the stream after what is queued has been written.
func (s *stream) end() {
	s.mu.Lock()
	s.closing = true
	s.mu.Unlock()
	s.signal()
}

// drop closes the connection at once, as a crashed or partitioned peer would.
func (s *stream) drop() {
	s.mu.Lock()
	s.dropped = true
	s.mu.Unlock()
	s.signal()
}

// serve hijacks the connection, writes the 200 answer and then records
// until the stream ends, the client goes away or stop is closed. heartbeat,
// when non-nil, is called every interval to queue a heartbeat. It returns
// whether the client went away (as opposed to the stream being ended).
func (s *stream) serve(w http.ResponseWriter, stop <-chan struct{}, interval time.Duration, heartbeat func()) (clientGone bool, err error) {
	defer close(s.done)
	hj, ok := w.(http.Hijacker)
	if !ok {
		return false, fmt.Errorf("localmesos: response writer cannot be hijacked")
	}
	conn, rw, err := hj.Hijack()
	if err != nil {
		return false, fmt.Errorf("localmesos: hijack stream connection: %w", err)
	}
	defer conn.Close()
	gone := make(chan struct{})
	go func() {
		// The client sends nothing more; a read returning means it left.
		_, _ = io.Copy(io.Discard, rw.Reader)
		close(gone)
	}()
	bw := bufio.NewWriter(conn)
	fmt.Fprintf(bw, "HTTP/1.1 200 OK\r\nDate: %s\r\nTransfer-Encoding: chunked\r\n", time.Now().UTC().Format(http.TimeFormat))
	if s.id != "" {
		fmt.Fprintf(bw, "Mesos-Stream-Id: %s\r\n", s.id)
	}
	fmt.Fprintf(bw, "Content-Type: %s\r\n\r\n", s.media)
	if err := bw.Flush(); err != nil {
		return true, nil
	}
	var tick <-chan time.Time
	if heartbeat != nil && interval > 0 {
		t := time.NewTicker(interval)
		defer t.Stop()
		tick = t.C
	}
	for {
		s.mu.Lock()
		recs := s.queue
		s.queue = nil
		closing, dropped := s.closing, s.dropped
		s.mu.Unlock()
		if dropped {
			return false, nil
		}
		for _, rec := range recs {
			frame := strconv.Itoa(len(rec)) + "\n"
			fmt.Fprintf(bw, "%x\r\n%s", len(frame)+len(rec), frame)
			bw.Write(rec)
			bw.WriteString("\r\n")
			if err := bw.Flush(); err != nil {
				return true, nil
			}
		}
		if closing {
			// The connection is closed without the terminating chunk: a
			// client that saw a clean end would pool the connection and
			// could send its next call into the closed socket.
			return false, nil
		}
		select {
		case <-s.wake:
		case <-tick:
			heartbeat()
		case <-gone:
			return true, nil
		case <-stop:
			return false, nil
		}
	}
}
