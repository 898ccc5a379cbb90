package client_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/horae-scheduler/horae/api"
	"github.com/horae-scheduler/horae/api/client"
)

// TestErrorsAndToken checks the client against a small real HTTP server:
// the token is sent as a Bearer header, and refusals become *client.Error
// with status, message and details.
func TestErrorsAndToken(t *testing.T) {
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "Bearer tok" {
			w.WriteHeader(http.StatusUnauthorized)
			_ = json.NewEncoder(w).Encode(api.ErrorBody{Error: "authentication required"})
			return
		}
		switch r.URL.Path {
		case "/api/v1/jobs/a":
			w.WriteHeader(http.StatusConflict)
			_ = json.NewEncoder(w).Encode(api.ErrorBody{Error: "job \"a\" has dependents: b", Details: []api.Detail{{Field: "dependents", Message: "b"}}})
		case "/api/v1/jobs/gone":
			w.WriteHeader(http.StatusNotFound)
			_ = json.NewEncoder(w).Encode(api.ErrorBody{Error: "job \"gone\" not found"})
		default:
			w.WriteHeader(http.StatusBadGateway)
			_, _ = w.Write([]byte("plain text from a proxy"))
		}
	}))
	defer ts.Close()
	ctx := context.Background()

	if _, err := client.New(ts.URL, "", nil).GetJob(ctx, "a"); err == nil || !strings.Contains(err.Error(), "401") {
		t.Fatalf("without token: %v", err)
	}
	c := client.New(ts.URL+"/", "tok", nil)
	err := c.DeleteJob(ctx, "a")
	if !client.IsConflict(err) || !strings.Contains(err.Error(), "dependents: b") {
		t.Fatalf("conflict: %v", err)
	}
	if _, err := c.GetJob(ctx, "gone"); !client.IsNotFound(err) {
		t.Fatalf("not found: %v", err)
	}
	_, err = c.Graph(ctx)
	var e *client.Error
	if !asError(err, &e) || e.Status != 502 || e.Message != "plain text from a proxy" {
		t.Fatalf("non-JSON error: %#v", err)
	}
}

func asError(err error, e **client.Error) bool {
	ce, ok := err.(*client.Error)
	*e = ce
	return ok
}
