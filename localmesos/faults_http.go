package localmesos

import (
	"fmt"
	"net/http"
	"strconv"
	"time"
)

// FaultHandler exposes the fault switches over HTTP, for drills that run
// localmesos as a process of its own (`horae localmesos --fault-control
// ADDR`). It is never mounted on the Mesos API listener: a real master has
// no such endpoint, so a framework cannot reach it by accident.
//
//	POST /faults/drop-stream
//	POST /faults/silence?on=true|false
//	POST /faults/not-leader?leader=host:port   (empty leader: off)
//	POST /faults/unavailable?on=true|false
//	POST /faults/duplicate-updates?on=true|false
//	POST /faults/delay-updates?d=500ms          (0: off)
//	POST /faults/lose-agent
//	POST /faults/restart-agent
func FaultHandler(f *Faults) http.Handler {
	mux := http.NewServeMux()
	flag := func(set func(bool)) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) {
			on, err := strconv.ParseBool(r.URL.Query().Get("on"))
			if err != nil {
				http.Error(w, fmt.Sprintf("query parameter on=%q: want true or false", r.URL.Query().Get("on")), http.StatusBadRequest)
				return
			}
			set(on)
			w.WriteHeader(http.StatusNoContent)
		}
	}
	action := func(do func()) http.HandlerFunc {
		return func(w http.ResponseWriter, _ *http.Request) {
			do()
			w.WriteHeader(http.StatusNoContent)
		}
	}
	mux.HandleFunc("POST /faults/drop-stream", action(f.DropStream))
	mux.HandleFunc("POST /faults/silence", flag(f.Silence))
	mux.HandleFunc("POST /faults/unavailable", flag(f.Unavailable))
	mux.HandleFunc("POST /faults/duplicate-updates", flag(f.DuplicateUpdates))
	mux.HandleFunc("POST /faults/lose-agent", action(f.LoseAgent))
	mux.HandleFunc("POST /faults/restart-agent", action(f.RestartAgent))
	mux.HandleFunc("POST /faults/not-leader", func(w http.ResponseWriter, r *http.Request) {
		f.NotLeader(r.URL.Query().Get("leader"))
		w.WriteHeader(http.StatusNoContent)
	})
	mux.HandleFunc("POST /faults/delay-updates", func(w http.ResponseWriter, r *http.Request) {
		d, err := time.ParseDuration(r.URL.Query().Get("d"))
		if err != nil {
			http.Error(w, fmt.Sprintf("query parameter d=%q: %v", r.URL.Query().Get("d"), err), http.StatusBadRequest)
			return
		}
		f.DelayUpdates(d)
		w.WriteHeader(http.StatusNoContent)
	})
	return mux
}
