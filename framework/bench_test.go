package framework

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/horae-scheduler/horae/scheduler"
)

// BenchmarkBuildTaskInfo: carve one task and its executor out of a
// Mesos-shaped offer, build its TaskInfo (spec JSON included) and encode it
// as protobuf, which is the per-task work of a launch.
func BenchmarkBuildTaskInfo(b *testing.B) {
	cfg := testConfig()
	o := wireOffer()
	l := testLaunch()
	b.ReportAllocs()
	for b.Loop() {
		pool := newResourcePool(o.Resources, []string{"*"})
		tr, er, err := pool.carve(cfg, l, true)
		if err != nil {
			b.Fatal(err)
		}
		ti, err := buildTaskInfo(cfg, "M-0000", "M-S0", l, tr, er, nil)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := ti.Marshal(); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkConvertOffer: one Mesos offer to the engine's Offer.
func BenchmarkConvertOffer(b *testing.B) {
	o := wireOffer()
	b.ReportAllocs()
	for b.Loop() {
		_ = convertOffer(&o, []string{"*"})
	}
}

// benchFramework subscribes a framework to a fresh localmesos and drains
// its events in the background.
func benchFramework(b *testing.B) *Framework {
	m := startMesos(b)
	cfg := Config{Master: m.URL(), User: "root", ExecutorCommand: "true", ResubscribeMin: 50 * time.Millisecond, ResubscribeMax: 100 * time.Millisecond}
	f, err := New(cfg, testLogger(b), nil2reg())
	if err != nil {
		b.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	out := make(chan scheduler.Event, 1024)
	done := make(chan struct{})
	go func() { defer close(done); _ = f.Run(ctx, out) }()
	b.Cleanup(func() { cancel(); <-done })
	subscribed := make(chan struct{})
	go func() {
		first := true
		for {
			select {
			case ev := <-out:
				if _, ok := ev.(scheduler.Subscribed); ok && first {
					first = false
					close(subscribed)
				}
			case <-ctx.Done():
				return
			}
		}
	}()
	select {
	case <-subscribed:
	case <-time.After(waitFor):
		b.Fatal("no subscription")
	}
	return f
}

// BenchmarkDeclineCall: one DECLINE round trip to localmesos over HTTP
// (the cost of any non-SUBSCRIBE call).
func BenchmarkDeclineCall(b *testing.B) {
	f := benchFramework(b)
	ctx := context.Background()
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		if err := f.Decline(ctx, []string{fmt.Sprintf("unknown-%d", i)}); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkLaunchAccept: ACCEPT calls of 10 tasks each against localmesos,
// on offers it no longer holds (so no executor process is started and the
// master answers each task with TASK_LOST): conversion, encoding, HTTP and
// the master's validation, per call.
func BenchmarkLaunchAccept(b *testing.B) {
	f := benchFramework(b)
	ctx := context.Background()
	const perCall = 10
	j := shellJob("bench", "true")
	n := 0
	start := time.Now()
	for i := 0; b.Loop(); i++ {
		l := scheduler.Launch{OfferID: fmt.Sprintf("gone-%d", i), AgentID: "S0"}
		for k := 0; k < perCall; k++ {
			l.Tasks = append(l.Tasks, taskLaunch(fmt.Sprintf("bench-%d-%d", i, k), j))
		}
		if err := f.Launch(ctx, []scheduler.Launch{l}); err != nil {
			b.Fatal(err)
		}
		n += perCall
	}
	b.ReportMetric(float64(n)/time.Since(start).Seconds(), "tasks/s")
}
