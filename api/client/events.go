package client

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"mime"
	"net/http"
	"net/url"
	"strconv"
	"sync"
	"time"

	"github.com/horae-scheduler/horae/api"
)

// EventReset is the type of the event that says events may have been
// missed: the server sends it when it cannot resume after Last-Event-ID,
// and Subscription.Next makes one up after reopening a stream on which no
// event with an ID had arrived (so there was nothing to resume from). A
// caller that shows state re-reads it when it gets one.
const EventReset = "reset"

// Defaults of EventsOptions.
const (
	// DefaultEventsIdle is three of the server's 15 s heartbeats.
	DefaultEventsIdle       = 45 * time.Second
	DefaultEventsMaxBackoff = 5 * time.Second
	eventsMinBackoff        = 100 * time.Millisecond
	// maxEventBytes bounds one event's data (a run with its output tails
	// is a few KiB; the bound only stops a broken server eating memory).
	maxEventBytes = 8 << 20
)

// ErrSubscriptionClosed is returned by Next after Close.
var ErrSubscriptionClosed = errors.New("horae: event subscription closed")

// EventsOptions select and tune a subscription to GET /api/v1/events.
type EventsOptions struct {
	// Job keeps only that job's events (and leadership ones); "" = all.
	Job string
	// After resumes after the event with this ID (Last-Event-ID); 0 starts
	// with what happens from now on.
	After uint64
	// IdleTimeout: a stream on which nothing arrived for this long, not
	// even the server's heartbeat, is taken for dead and reopened.
	// 0 = DefaultEventsIdle.
	IdleTimeout time.Duration
	// MaxBackoff caps the wait between attempts to reopen a stream.
	// 0 = DefaultEventsMaxBackoff.
	MaxBackoff time.Duration
}

// Subscription follows the server's event stream across dropped
// connections. Next is for one goroutine; Close may be called from any.
type Subscription struct {
	c    *Client
	hc   *http.Client
	opts EventsOptions

	last       uint64 // ID of the newest event received, or opts.After
	sc         *bufio.Scanner
	idle       *time.Timer
	backoff    time.Duration
	reconnects int
	gotEvent   bool // an event arrived on the current connection
	resetDue   bool // a made-up reset is owed to the caller

	mu         sync.Mutex
	body       interface{ Close() error }
	connCancel context.CancelFunc // of the current connection
	closed     bool
}

// Subscribe opens GET /api/v1/events and returns once the server has
// answered 200: the server has registered the subscription then, so every
// matching event from that moment on reaches Next. It makes one attempt;
// a refusal is an *Error (404 when the server has no event stream).
func (c *Client) Subscribe(ctx context.Context, o EventsOptions) (*Subscription, error) {
	if o.IdleTimeout <= 0 {
		o.IdleTimeout = DefaultEventsIdle
	}
	if o.MaxBackoff <= 0 {
		o.MaxBackoff = DefaultEventsMaxBackoff
	}
	hc := *c.http
	hc.Timeout = 0 // the stream lasts; IdleTimeout notices dead ones
	s := &Subscription{c: c, hc: &hc, opts: o, last: o.After}
	if err := s.connect(ctx); err != nil {
		return nil, err
	}
	return s, nil
}

// LastID is the ID of the newest event received (or EventsOptions.After),
// to resume from with a later subscription.
func (s *Subscription) LastID() uint64 { return s.last }

// Reconnects counts the times the stream was reopened.
func (s *Subscription) Reconnects() int { return s.reconnects }

// Close ends the subscription; a Next blocked in another goroutine returns
// ErrSubscriptionClosed.
func (s *Subscription) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.closed = true
	// Cancelling closes the body; Next, which owns the reader, drops the
	// rest when its read fails.
	if s.connCancel != nil {
		s.connCancel()
	}
	return nil
}

// Next returns the next event. When the stream drops (a network error,
// the server ending it after an overflow or when it stops leading, nothing
// received for IdleTimeout), Next reopens it with Last-Event-ID set to the
// newest event's ID, waiting between failed attempts with a backoff up to
// MaxBackoff, until ctx ends; the server then replays what was missed or,
// when it cannot, sends an EventReset event (see EventReset for the one
// Next makes up). A 503 (no leader) or another 5xx is retried; a 4xx is
// returned as an *Error. When ctx ends Next returns ctx's error and the
// next call reopens the stream.
func (s *Subscription) Next(ctx context.Context) (api.StreamEvent, error) {
	stop := context.AfterFunc(ctx, s.abort)
	defer stop()
	for {
		if s.resetDue {
			s.resetDue = false
			return api.StreamEvent{Type: EventReset, Time: time.Now().UTC()}, nil
		}
		if s.sc == nil {
			if err := s.reconnect(ctx); err != nil {
				return api.StreamEvent{}, err
			}
			continue
		}
		ev, err := s.read()
		if err == nil {
			return ev, nil
		}
		s.mu.Lock()
		closed := s.closed
		s.dropLocked()
		s.mu.Unlock()
		switch {
		case closed:
			return api.StreamEvent{}, ErrSubscriptionClosed
		case ctx.Err() != nil:
			return api.StreamEvent{}, ctx.Err()
		}
	}
}

// reconnect reopens the stream, with backoff, until it is open, ctx ends,
// the subscription is closed or the server refuses it for good.
func (s *Subscription) reconnect(ctx context.Context) error {
	for {
		if !s.gotEvent {
			// Nothing arrived on the last connection (or it never opened):
			// wait before the next attempt so a server that accepts and
			// drops at once is not hammered.
			s.backoff = min(max(2*s.backoff, eventsMinBackoff), s.opts.MaxBackoff)
			t := time.NewTimer(s.backoff)
			select {
			case <-ctx.Done():
				t.Stop()
				return ctx.Err()
			case <-t.C:
			}
		}
		s.gotEvent = false
		err := s.connect(ctx)
		if err == nil {
			s.reconnects++
			// Without an ID to resume from the server starts afresh, so
			// whatever happened in between is unknown: say so.
			s.resetDue = s.last == 0
			return nil
		}
		var e *Error
		switch {
		case errors.Is(err, ErrSubscriptionClosed):
			return err
		case ctx.Err() != nil:
			return ctx.Err()
		case errors.As(err, &e) && e.Status < 500:
			return err
		}
	}
}

// connect makes one attempt to open the stream.
func (s *Subscription) connect(ctx context.Context) error {
	q := url.Values{}
	if s.opts.Job != "" {
		q.Set("job", s.opts.Job)
	}
	// The connection outlives this call, so it gets its own context: abort
	// (ctx of the current Next ending, Close, the idle timer) cancels it.
	cctx, cancel := context.WithCancel(context.Background())
	req, err := s.c.request(cctx, http.MethodGet, "/api/v1/events", q, nil)
	if err != nil {
		cancel()
		return err
	}
	req.Header.Set("Accept", "text/event-stream")
	if s.last != 0 {
		req.Header.Set("Last-Event-ID", strconv.FormatUint(s.last, 10))
	}
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		cancel()
		return ErrSubscriptionClosed
	}
	s.connCancel = cancel
	s.mu.Unlock()
	stop := context.AfterFunc(ctx, cancel)
	defer stop()
	resp, err := s.hc.Do(req)
	if err != nil {
		cancel()
		return fmt.Errorf("horae: events: %w", err)
	}
	if err := check(resp); err != nil {
		resp.Body.Close()
		cancel()
		return err
	}
	if mt, _, _ := mime.ParseMediaType(resp.Header.Get("Content-Type")); mt != "text/event-stream" {
		resp.Body.Close()
		cancel()
		return fmt.Errorf("horae: events: the server answered %q, not text/event-stream", resp.Header.Get("Content-Type"))
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		resp.Body.Close()
		cancel()
		return ErrSubscriptionClosed
	}
	s.body = resp.Body
	s.sc = bufio.NewScanner(resp.Body)
	s.sc.Buffer(make([]byte, 0, 64<<10), maxEventBytes)
	s.idle = time.AfterFunc(s.opts.IdleTimeout, s.abort)
	return nil
}

// abort cancels the current connection, so a blocked read or dial returns.
func (s *Subscription) abort() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.connCancel != nil {
		s.connCancel()
	}
}

// dropLocked forgets the current connection; s.mu held.
func (s *Subscription) dropLocked() {
	if s.connCancel != nil {
		s.connCancel()
		s.connCancel = nil
	}
	if s.body != nil {
		s.body.Close()
		s.body = nil
	}
	if s.idle != nil {
		s.idle.Stop()
		s.idle = nil
	}
	s.sc = nil
}

// read parses text/event-stream up to the next event with data. Comments
// (the heartbeat) only keep the idle timer from firing. Events without an
// id (overflow, reset) do not move LastID.
func (s *Subscription) read() (api.StreamEvent, error) {
	var (
		data  bytes.Buffer
		id    string
		hasID bool
	)
	for s.sc.Scan() {
		s.idle.Reset(s.opts.IdleTimeout)
		line := s.sc.Bytes()
		if len(line) == 0 {
			if data.Len() == 0 {
				id, hasID = "", false
				continue
			}
			var ev api.StreamEvent
			if err := json.Unmarshal(data.Bytes(), &ev); err != nil {
				return api.StreamEvent{}, fmt.Errorf("horae: events: decode event %s: %w", id, err)
			}
			if hasID {
				n, err := strconv.ParseUint(id, 10, 64)
				if err != nil {
					return api.StreamEvent{}, fmt.Errorf("horae: events: id %q is not a number", id)
				}
				s.last = n
			}
			s.gotEvent = true
			s.backoff = 0
			return ev, nil
		}
		if line[0] == ':' {
			continue
		}
		field, value, _ := bytes.Cut(line, []byte(":"))
		value = bytes.TrimPrefix(value, []byte(" "))
		switch string(field) {
		case "id":
			id, hasID = string(value), true
		case "data":
			if data.Len() > 0 {
				data.WriteByte('\n')
			}
			data.Write(value)
		}
	}
	if err := s.sc.Err(); err != nil {
		return api.StreamEvent{}, fmt.Errorf("horae: events: %w", err)
	}
	return api.StreamEvent{}, errors.New("horae: events: the server ended the stream")
}
