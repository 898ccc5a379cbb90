package localmesos

import (
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"
)

func TestFaultHandlerSetsSwitches(t *testing.T) {
	m, err := New(Config{WorkDir: t.TempDir()}, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	f := m.Faults()
	srv := httptest.NewServer(FaultHandler(f))
	defer srv.Close()
	post := func(path string) int {
		t.Helper()
		resp, err := http.Post(srv.URL+path, "", nil)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	tests := []struct {
		path  string
		code  int
		check func() bool
	}{
		{"/faults/silence?on=true", http.StatusNoContent, f.silent},
		{"/faults/silence?on=false", http.StatusNoContent, func() bool { return !f.silent() }},
		{"/faults/unavailable?on=true", http.StatusNoContent, f.unavailable},
		{"/faults/duplicate-updates?on=true", http.StatusNoContent, f.duplicate},
		{"/faults/delay-updates?d=250ms", http.StatusNoContent, func() bool { return f.delay() == 250*time.Millisecond }},
		{"/faults/not-leader?leader=127.0.0.1:9", http.StatusNoContent, func() bool { return f.leader() == "127.0.0.1:9" }},
		{"/faults/not-leader?leader=", http.StatusNoContent, func() bool { return f.leader() == "" }},
		{"/faults/silence?on=maybe", http.StatusBadRequest, func() bool { return true }},
		{"/faults/delay-updates?d=soon", http.StatusBadRequest, func() bool { return true }},
	}
	for _, tt := range tests {
		if code := post(tt.path); code != tt.code {
			t.Errorf("POST %s: %d, want %d", tt.path, code, tt.code)
		}
		if !tt.check() {
			t.Errorf("POST %s: switch not set", tt.path)
		}
	}
}
