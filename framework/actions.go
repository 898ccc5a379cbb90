package framework

import (
	"context"
	"errors"
	"fmt"
	"time"

	mesos "github.com/mesos/mesos-go/api/v1/lib"
	mscheduler "github.com/mesos/mesos-go/api/v1/lib/scheduler"
	"github.com/mesos/mesos-go/api/v1/lib/scheduler/calls"

	"github.com/horae-scheduler/horae/scheduler"
)

// call sends one call on the current subscription. A failed call has cost
// the subscription (httpsched drops it on any error, P11): sending stops
// until the next SUBSCRIBED, and the stream is closed so Run re-subscribes.
func (f *Framework) call(ctx context.Context, c *mscheduler.Call) error {
	f.mu.Lock()
	caller, ok, gen := f.caller, f.subscribed, f.streamGen
	f.mu.Unlock()
	if !ok || caller == nil {
		return fmt.Errorf("framework: %s: %w", c.GetType(), ErrNotSubscribed)
	}
	ctx, cancel := context.WithTimeout(ctx, f.cfg.CallTimeout)
	defer cancel()
	if err := calls.CallNoData(ctx, caller, c); err != nil {
		f.m.callErrors.WithLabelValues(c.GetType().String()).Inc()
		// Only the stream the call was made on is lost; a newer one may
		// have been established meanwhile.
		var stream mesos.Response
		f.mu.Lock()
		if f.streamGen == gen {
			stream = f.stream
			f.subscribed, f.stream = false, nil
		}
		f.mu.Unlock()
		if stream != nil {
			stream.Close()
		}
		if ctx.Err() != nil && errors.Is(err, context.Canceled) {
			// The caller gave up (shutdown, end of term): not worth a warning.
			f.logger.Debug("mesos call canceled; subscription lost", "call", c.GetType().String(), "err", err)
		} else {
			f.logger.Warn("mesos call failed; subscription lost", "call", c.GetType().String(), "err", err)
		}
		return fmt.Errorf("framework: %s: %w", c.GetType(), err)
	}
	return nil
}

// refuse is the decline filter for the current offer interest.
func (f *Framework) refuse() time.Duration {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.interest == scheduler.OffersNotWanted {
		return f.cfg.SuppressedRefuse
	}
	return f.cfg.Refuse
}

// acceptRefuse is the filter for what an ACCEPT leaves of its offer. While
// offers are wanted it is none: the leftover comes back at the master's
// next allocation, where the engine can keep it for the next run due (its
// offer hold) instead of waiting out a filter with runs due; otherwise the
// decline filter.
func (f *Framework) acceptRefuse() time.Duration {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.interest == scheduler.OffersWanted {
		return 0
	}
	if f.interest == scheduler.OffersNotWanted {
		return f.cfg.SuppressedRefuse
	}
	return f.cfg.Refuse
}

// Launch sends one ACCEPT per Launch: an OpLaunch of its tasks, with the
// refuse filter for what is left of the offer (acceptRefuse). Resources come from the
// offer as received (keeping roles and allocation_info). A task that does
// not fit its offer is not sent; it comes back as a TASK_ERROR update with
// reason REASON_TASK_INVALID, as Mesos itself would answer.
func (f *Framework) Launch(ctx context.Context, launches []scheduler.Launch) error {
	var errs []error
	for _, l := range launches {
		if err := f.launchOne(ctx, l); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

func (f *Framework) launchOne(ctx context.Context, l scheduler.Launch) error {
	f.mu.Lock()
	offer, known := f.offers[l.OfferID]
	delete(f.offers, l.OfferID)
	fid := f.fid
	f.mu.Unlock()

	multiRole := f.cfg.hasCap(CapMultiRole)
	var pool *resourcePool
	if known {
		pool = newResourcePool(offer.Resources, f.roles)
	}
	tasks := make([]mesos.TaskInfo, 0, len(l.Tasks))
	var refused []scheduler.Event
	var shared *mesos.ExecutorInfo
	if f.cfg.ExecutorMode == ExecutorShared {
		info, err := sharedExecutorInfo(f.cfg, fid, multiRole)
		if err != nil {
			return err
		}
		shared = &info
	}
	// A shared executor's resources count once: not at all when the offer
	// says it already runs there (executor_ids), else for the first task
	// that names it (as Mesos's master counts them, mesos.md §4).
	sharedRunning := shared != nil && known && offerHasExecutor(&offer, shared.ExecutorID.Value)
	for _, t := range l.Tasks {
		var taskRes, execRes []mesos.Resource
		var taskExec *mesos.ExecutorInfo
		if shared != nil && sharesExecutor(f.cfg, t) {
			taskExec = shared
		}
		if known {
			var err error
			taskRes, execRes, err = pool.carve(f.cfg, t, taskExec == nil || !sharedRunning)
			if err != nil {
				f.logger.Warn("task not launched", "task", t.TaskID, "job", t.Job.Name, "run", t.Run, "offer", l.OfferID, "err", err)
				refused = append(refused, scheduler.TaskUpdated{
					TaskID: t.TaskID, AgentID: l.AgentID, State: scheduler.TaskError,
					Reason: mesos.REASON_TASK_INVALID.String(), Message: err.Error(),
					Timestamp: time.Now().UTC(),
				})
				continue
			}
			if taskExec != nil {
				sharedRunning = true
			}
		} else {
			cpus, mem, disk := taskResources(t.Job)
			taskRes = plainResources(f.cfg.Role, multiRole, cpus, mem, disk, t.Job.GPUs, t.Ports)
			execRes = plainResources(f.cfg.Role, multiRole, f.cfg.ExecutorCPUs, f.cfg.ExecutorMem, 0, 0, nil)
		}
		ti, err := buildTaskInfo(f.cfg, fid, l.AgentID, t, taskRes, execRes, taskExec)
		if err != nil {
			return err
		}
		tasks = append(tasks, ti)
	}
	if len(refused) > 0 {
		f.m.tasksRefused.Add(float64(len(refused)))
		f.enqueue(refused...)
	}
	if !known {
		f.logger.Warn("launch on an offer not held (rescinded or from an old subscription); mesos will answer for its tasks", "offer", l.OfferID)
	}
	ops := calls.OfferOperations{}
	if len(tasks) > 0 {
		ops = append(ops, calls.OpLaunch(tasks...))
	}
	call := calls.Accept(ops.WithOffers(mesos.OfferID{Value: l.OfferID})).With(calls.RefuseSeconds(f.acceptRefuse()))
	if err := f.call(ctx, call); err != nil {
		return fmt.Errorf("%w (offer %s, %d tasks)", err, l.OfferID, len(tasks))
	}
	if len(tasks) > 0 {
		f.m.offersUsed.Inc()
		f.m.tasksLaunched.Add(float64(len(tasks)))
	} else {
		f.m.offersDeclined.Inc()
	}
	return nil
}

// offerHasExecutor reports whether the offer lists executor id among the
// framework's executors running on its agent.
func offerHasExecutor(o *mesos.Offer, id string) bool {
	for _, e := range o.ExecutorIDs {
		if e.Value == id {
			return true
		}
	}
	return false
}

// Kill sends one KILL per task.
func (f *Framework) Kill(ctx context.Context, tasks []scheduler.TaskRef) error {
	for _, t := range tasks {
		if err := f.call(ctx, calls.Kill(t.TaskID, t.AgentID)); err != nil {
			return fmt.Errorf("%w (kill task %s)", err, t.TaskID)
		}
	}
	return nil
}

// Decline declines offers with the refuse filter: Refuse while
// offers are wanted, SuppressedRefuse while they are not.
func (f *Framework) Decline(ctx context.Context, offerIDs []string) error {
	if len(offerIDs) == 0 {
		return nil
	}
	ids := make([]mesos.OfferID, len(offerIDs))
	f.mu.Lock()
	for i, id := range offerIDs {
		ids[i] = mesos.OfferID{Value: id}
		delete(f.offers, id)
	}
	f.mu.Unlock()
	if err := f.call(ctx, calls.Decline(ids...).With(calls.RefuseSeconds(f.refuse()))); err != nil {
		return fmt.Errorf("%w (decline %d offers)", err, len(ids))
	}
	f.m.offersDeclined.Add(float64(len(ids)))
	return nil
}

// SetOfferInterest sends SUPPRESS when offers stop being wanted and REVIVE
// when they are wanted again; while they stay wanted, REVIVE (which clears
// decline filters) is sent at most once per ReviveInterval.
func (f *Framework) SetOfferInterest(ctx context.Context, want scheduler.OfferInterest) error {
	var call *mscheduler.Call
	f.mu.Lock()
	switch want {
	case scheduler.OffersWanted:
		if f.interest != scheduler.OffersWanted || time.Since(f.lastRevive) >= f.cfg.ReviveInterval {
			call = calls.Revive()
		}
	case scheduler.OffersNotWanted:
		if f.interest != scheduler.OffersNotWanted {
			call = calls.Suppress()
		}
	}
	f.mu.Unlock()
	if call == nil {
		return nil
	}
	if err := f.call(ctx, call); err != nil {
		return err
	}
	f.mu.Lock()
	f.interest = want
	if want == scheduler.OffersWanted {
		f.lastRevive = time.Now()
	}
	f.mu.Unlock()
	if want == scheduler.OffersWanted {
		f.m.revives.Inc()
	} else {
		f.m.suppresses.Inc()
	}
	f.logger.Debug("offer interest sent", "call", call.GetType().String())
	return nil
}

// Acknowledge acknowledges the status update u came from; a no-op for
// updates without a uuid (reconciliation and master-generated ones).
func (f *Framework) Acknowledge(ctx context.Context, u scheduler.TaskUpdated) error {
	if len(u.AckUUID) == 0 {
		return nil
	}
	if err := f.call(ctx, calls.Acknowledge(u.AgentID, u.TaskID, u.AckUUID)); err != nil {
		return fmt.Errorf("%w (ack task %s)", err, u.TaskID)
	}
	return nil
}

// Reconcile asks Mesos for the state of tasks (explicit reconciliation).
// Each call leads to one Reconciled event (calls made before it arrives are
// merged into one), sent once Mesos answered for every task, or after
// ReconcileAttempts resends; Missing lists the tasks not answered and those
// answered TASK_UNKNOWN. With implicit, one implicit RECONCILE follows.
// With no tasks, Reconciled comes at once (and the implicit RECONCILE right
// after, when asked).
func (f *Framework) Reconcile(ctx context.Context, tasks []scheduler.TaskRef, implicit bool) error {
	f.mu.Lock()
	r := &f.recon
	if !r.active {
		r.pending, r.unknown = map[string]string{}, nil
	}
	r.active = true
	r.implicit = r.implicit || implicit
	for _, t := range tasks {
		r.pending[t.TaskID] = t.AgentID
	}
	r.attempts, r.delay = 0, f.cfg.ReconcileRetry
	r.next = time.Time{}
	if len(r.pending) == 0 {
		f.queue = append(f.queue, scheduler.Reconciled{Missing: r.finishLocked()})
		f.mu.Unlock()
		f.nudge()
		return nil
	}
	send := make(map[string]string, len(r.pending))
	for k, v := range r.pending {
		send[k] = v
	}
	r.attempts = 1
	r.next = time.Now().Add(r.delay)
	r.delay = min(2*r.delay, f.cfg.ReconcileRetryMax)
	f.mu.Unlock()
	f.nudge()
	return f.reconcileCall(ctx, send)
}

// reconcileCall sends one RECONCILE: explicit for tasks, implicit for nil.
func (f *Framework) reconcileCall(ctx context.Context, tasks map[string]string) error {
	kind := "explicit"
	if tasks == nil {
		kind = "implicit"
	}
	if err := f.call(ctx, calls.Reconcile(calls.ReconcileTasks(tasks))); err != nil {
		return fmt.Errorf("%w (%s reconciliation of %d tasks)", err, kind, len(tasks))
	}
	f.m.reconciliations.WithLabelValues(kind).Inc()
	return nil
}
