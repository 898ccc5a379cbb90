package client_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/horae-scheduler/horae/api/client"
)

// sseServer is a real HTTP server speaking text/event-stream whose every
// connection is handled by script, given the connection's number (from
// 1) and the Last-Event-ID it carried.
type sseServer struct {
	*httptest.Server
	mu    sync.Mutex
	conns int
	lasts []string // Last-Event-ID of each connection
}

func newSSEServer(t *testing.T, script func(n int, w http.ResponseWriter, r *http.Request)) *sseServer {
	s := &sseServer{}
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/api/v1/events" || r.URL.Query().Get("job") != "backup" {
			http.Error(w, "unexpected "+r.URL.String(), http.StatusBadRequest)
			return
		}
		s.mu.Lock()
		s.conns++
		n := s.conns
		s.lasts = append(s.lasts, r.Header.Get("Last-Event-ID"))
		s.mu.Unlock()
		script(n, w, r)
	}))
	t.Cleanup(s.Close)
	return s
}

func (s *sseServer) lastIDs() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.lasts...)
}

// open answers 200 with the stream's head and first comment, as api does.
func open(w http.ResponseWriter) {
	w.Header().Set("Content-Type", "text/event-stream")
	w.WriteHeader(http.StatusOK)
	fmt.Fprint(w, ": horae events (last id 0)\n\n")
	w.(http.Flusher).Flush()
}

func send(w http.ResponseWriter, id uint64, state string) {
	if id != 0 {
		fmt.Fprintf(w, "id: %d\n", id)
	}
	fmt.Fprintf(w, "event: run.state\ndata: {\"id\":%d,\"type\":\"run.state\",\"job\":\"backup\",\"run\":{\"id\":\"r1\",\"job\":\"backup\",\"state\":%q}}\n\n", id, state)
	w.(http.Flusher).Flush()
}

// cut drops the TCP connection in the middle of the chunked body, as a
// crashed server or a broken network would.
func cut() { panic(http.ErrAbortHandler) }

func TestSubscriptionReconnects(t *testing.T) {
	tests := []struct {
		name   string
		script func(n int, w http.ResponseWriter, r *http.Request)
		want   []string // "type/id/state" of each event Next returns
		lasts  []string // Last-Event-ID sent on each connection
	}{
		{
			name: "resume after a cut connection",
			script: func(n int, w http.ResponseWriter, r *http.Request) {
				open(w)
				switch n {
				case 1:
					send(w, 1, "pending")
					send(w, 2, "running")
					cut()
				default:
					send(w, 3, "succeeded")
					<-r.Context().Done()
				}
			},
			want:  []string{"run.state/1/pending", "run.state/2/running", "run.state/3/succeeded"},
			lasts: []string{"", "2"},
		},
		{
			name: "nothing to resume from: a made-up reset",
			script: func(n int, w http.ResponseWriter, r *http.Request) {
				open(w)
				if n == 1 {
					cut()
				}
				send(w, 7, "running")
				<-r.Context().Done()
			},
			want:  []string{"reset/0/", "run.state/7/running"},
			lasts: []string{"", ""},
		},
		{
			name: "no leader for a while (503), then resume",
			script: func(n int, w http.ResponseWriter, r *http.Request) {
				switch n {
				case 1:
					open(w)
					send(w, 5, "running")
					// The server ends the stream cleanly (it stopped leading).
				case 2, 3:
					http.Error(w, `{"error":"no leader"}`, http.StatusServiceUnavailable)
				default:
					open(w)
					send(w, 6, "failed")
					<-r.Context().Done()
				}
			},
			want:  []string{"run.state/5/running", "run.state/6/failed"},
			lasts: []string{"", "5", "5", "5"},
		},
		{
			name: "a silent stream is taken for dead",
			script: func(n int, w http.ResponseWriter, r *http.Request) {
				open(w)
				send(w, uint64(10+n), "running")
				<-r.Context().Done() // no heartbeat
			},
			want:  []string{"run.state/11/running", "run.state/12/running"},
			lasts: []string{"", "11"},
		},
		{
			name: "the server's own reset passes through",
			script: func(n int, w http.ResponseWriter, r *http.Request) {
				open(w)
				if n == 1 {
					send(w, 3, "running")
					cut()
				}
				fmt.Fprint(w, "event: reset\ndata: {\"id\":0,\"type\":\"reset\"}\n\n")
				send(w, 900, "succeeded")
				<-r.Context().Done()
			},
			want:  []string{"run.state/3/running", "reset/0/", "run.state/900/succeeded"},
			lasts: []string{"", "3"},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			srv := newSSEServer(t, tc.script)
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			sub, err := client.New(srv.URL, "", nil).Subscribe(ctx, client.EventsOptions{
				Job: "backup", IdleTimeout: 500 * time.Millisecond, MaxBackoff: 200 * time.Millisecond})
			if err != nil {
				t.Fatalf("Subscribe: %v", err)
			}
			defer sub.Close()
			var got []string
			for len(got) < len(tc.want) {
				ev, err := sub.Next(ctx)
				if err != nil {
					t.Fatalf("Next after %v: %v", got, err)
				}
				state := ""
				if ev.Run != nil {
					state = ev.Run.State
				}
				got = append(got, fmt.Sprintf("%s/%d/%s", ev.Type, ev.ID, state))
			}
			if strings.Join(got, " ") != strings.Join(tc.want, " ") {
				t.Errorf("events %v, want %v", got, tc.want)
			}
			if l := srv.lastIDs(); strings.Join(l, ",") != strings.Join(tc.lasts, ",") {
				t.Errorf("Last-Event-ID per connection %q, want %q", l, tc.lasts)
			}
			if sub.Reconnects() != len(tc.lasts)-1-countRefused(tc.name) {
				t.Errorf("Reconnects() = %d", sub.Reconnects())
			}
		})
	}
}

// countRefused is how many connections of a case were refused (and so are
// no reconnection).
func countRefused(name string) int {
	if strings.Contains(name, "503") {
		return 2
	}
	return 0
}

func TestSubscriptionEnds(t *testing.T) {
	refuseSecond := func(n int, w http.ResponseWriter, r *http.Request) {
		if n > 1 {
			http.Error(w, `{"error":"authentication required"}`, http.StatusUnauthorized)
			return
		}
		open(w)
		send(w, 1, "running")
		cut()
	}
	t.Run("404: no event stream on this server", func(t *testing.T) {
		srv := httptest.NewServer(http.NotFoundHandler())
		defer srv.Close()
		_, err := client.New(srv.URL, "", nil).Subscribe(context.Background(), client.EventsOptions{Job: "backup"})
		if !client.IsNotFound(err) {
			t.Fatalf("Subscribe: %v, want a 404 *Error", err)
		}
	})
	t.Run("a 4xx on reconnecting ends Next", func(t *testing.T) {
		srv := newSSEServer(t, refuseSecond)
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		sub, err := client.New(srv.URL, "", nil).Subscribe(ctx, client.EventsOptions{Job: "backup"})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := sub.Next(ctx); err != nil {
			t.Fatal(err)
		}
		_, err = sub.Next(ctx)
		var e *client.Error
		if !errors.As(err, &e) || e.Status != http.StatusUnauthorized {
			t.Fatalf("Next after a refused reconnect: %v, want a 401 *Error", err)
		}
	})
	quiet := func(n int, w http.ResponseWriter, r *http.Request) {
		open(w)
		<-r.Context().Done()
	}
	t.Run("ctx ends", func(t *testing.T) {
		srv := newSSEServer(t, quiet)
		sub, err := client.New(srv.URL, "", nil).Subscribe(context.Background(), client.EventsOptions{Job: "backup"})
		if err != nil {
			t.Fatal(err)
		}
		defer sub.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
		defer cancel()
		if _, err := sub.Next(ctx); !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("Next: %v, want the context's deadline", err)
		}
	})
	t.Run("Close from another goroutine", func(t *testing.T) {
		srv := newSSEServer(t, quiet)
		sub, err := client.New(srv.URL, "", nil).Subscribe(context.Background(), client.EventsOptions{Job: "backup"})
		if err != nil {
			t.Fatal(err)
		}
		go func() {
			time.Sleep(50 * time.Millisecond)
			sub.Close()
		}()
		if _, err := sub.Next(context.Background()); !errors.Is(err, client.ErrSubscriptionClosed) {
			t.Fatalf("Next: %v, want ErrSubscriptionClosed", err)
		}
	})
}
