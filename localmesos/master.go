package localmesos

import (
	"bytes"
	"fmt"
	"net/http"
	"time"

	mesos "github.com/mesos/mesos-go/api/v1/lib"
	"github.com/mesos/mesos-go/api/v1/lib/scheduler"
)

// framework is the master's record of one framework.
type framework struct {
	id               string
	info             mesos.FrameworkInfo // as subscribed, with id set
	stream           *stream             // nil while disconnected
	failoverDeadline time.Time           // set while disconnected
	suppressed       bool
	filters          []filter
	offers           map[string]*offer
	tasks            map[string]*task // not yet removed (terminal and acknowledged)
}

type filter struct {
	res     resources
	expires time.Time
}

type offer struct {
	id      string
	agentID string
	res     resources
}

func (fw *framework) hasCap(c mesos.FrameworkInfo_Capability_Type) bool {
	for _, x := range fw.info.Capabilities {
		if x.Type == c {
			return true
		}
	}
	return false
}

func (fw *framework) partitionAware() bool {
	return fw.hasCap(mesos.FrameworkInfo_Capability_PARTITION_AWARE)
}

// allocRole is the role offers are allocated to; "" for frameworks without
// MULTI_ROLE, which get no allocation_info.
func (fw *framework) allocRole() string {
	if !fw.hasCap(mesos.FrameworkInfo_Capability_MULTI_ROLE) {
		return ""
	}
	if len(fw.info.Roles) > 0 {
		return fw.info.Roles[0]
	}
	return "*"
}

func (fw *framework) checkpoint() bool { return fw.info.Checkpoint != nil && *fw.info.Checkpoint }

// handleScheduler serves POST /api/v1/scheduler.
func (m *Mesos) handleScheduler(w http.ResponseWriter, r *http.Request) {
	if leader := m.faults.leader(); leader != "" {
		(&httpError{code: http.StatusTemporaryRedirect, header: map[string]string{
			"Location": "//" + leader + "/master/api/v1/scheduler"}}).write(w)
		return
	}
	if m.faults.unavailable() {
		(&httpError{code: http.StatusServiceUnavailable, body: "Master has not finished recovery"}).write(w)
		return
	}
	var call scheduler.Call
	herr := readCall(r, &call)
	if herr != nil {
		herr.write(w)
		return
	}
	if msg := validateSchedulerCall(&call); msg != "" {
		badRequest("Failed to validate scheduler::Call: " + msg).write(w)
		return
	}
	if call.Type == scheduler.Call_SUBSCRIBE {
		m.subscribe(w, r, &call)
		return
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	fw := m.frameworks[call.FrameworkID.Value]
	if fw == nil {
		badRequest("Framework cannot be found").write(w)
		return
	}
	if fw.stream == nil {
		(&httpError{code: http.StatusForbidden, body: "Framework is not subscribed"}).write(w)
		return
	}
	sid := r.Header.Get("Mesos-Stream-Id")
	if sid == "" {
		badRequest("All non-subscribe calls should include the 'Mesos-Stream-Id' header").write(w)
		return
	}
	if sid != fw.stream.id {
		badRequest(fmt.Sprintf("The stream ID '%s' included in this request didn't match the stream ID currently associated with framework ID %s", sid, fw.id)).write(w)
		return
	}
	m.callLocked(fw, &call, time.Now())
	writeAccepted(w)
}

// validateSchedulerCall mirrors Mesos's validation::scheduler::call::validate.
func validateSchedulerCall(c *scheduler.Call) string {
	if c.Type == scheduler.Call_UNKNOWN {
		return "Expecting 'type' to be present"
	}
	if c.Type == scheduler.Call_SUBSCRIBE {
		if c.Subscribe == nil {
			return "Expecting 'subscribe' to be present"
		}
		a, b := c.FrameworkID, c.Subscribe.FrameworkInfo.ID
		if (a == nil) != (b == nil) || a != nil && a.Value != b.Value {
			return "'framework_id' differs from 'subscribe.framework_info.id'"
		}
		return ""
	}
	if c.FrameworkID == nil {
		return "Expecting 'framework_id' to be present"
	}
	missing := func(name string, present bool) string {
		if present {
			return ""
		}
		return "Expecting '" + name + "' to be present"
	}
	switch c.Type {
	case scheduler.Call_ACCEPT:
		return missing("accept", c.Accept != nil)
	case scheduler.Call_DECLINE:
		return missing("decline", c.Decline != nil)
	case scheduler.Call_ACCEPT_INVERSE_OFFERS:
		return missing("accept_inverse_offers", c.AcceptInverseOffers != nil)
	case scheduler.Call_DECLINE_INVERSE_OFFERS:
		return missing("decline_inverse_offers", c.DeclineInverseOffers != nil)
	case scheduler.Call_KILL:
		return missing("kill", c.Kill != nil)
	case scheduler.Call_SHUTDOWN:
		return missing("shutdown", c.Shutdown != nil)
	case scheduler.Call_ACKNOWLEDGE:
		if c.Acknowledge == nil {
			return "Expecting 'acknowledge' to be present"
		}
		if !validUUID(c.Acknowledge.UUID) {
			return "Not a valid UUID"
		}
	case scheduler.Call_RECONCILE:
		return missing("reconcile", c.Reconcile != nil)
	case scheduler.Call_MESSAGE:
		return missing("message", c.Message != nil)
	case scheduler.Call_REQUEST:
		return missing("requests", c.Request != nil)
	}
	return ""
}

// subscribe handles SUBSCRIBE: it answers with the event stream and holds
// the connection until the stream ends.
func (m *Mesos) subscribe(w http.ResponseWriter, r *http.Request, call *scheduler.Call) {
	media, ok := acceptType(r)
	if !ok {
		(&httpError{code: http.StatusNotAcceptable,
			body: "Expecting 'Accept' to allow 'application/x-protobuf' or 'application/json'"}).write(w)
		return
	}
	if r.Header.Get("Mesos-Stream-Id") != "" {
		badRequest("Subscribe calls should not include the 'Mesos-Stream-Id' header").write(w)
		return
	}
	info := *call.Subscribe.FrameworkInfo
	s := newStream(uuidString(newUUID()), media)
	now := time.Now()

	m.mu.Lock()
	if m.shutdown {
		m.mu.Unlock()
		(&httpError{code: http.StatusServiceUnavailable, body: "Master is shutting down"}).write(w)
		return
	}
	var fw *framework
	m.streams.Add(1)
	defer m.streams.Done()
	if info.ID != nil && m.removed[info.ID.Value] {
		m.sendRaw(s, &scheduler.Event{Type: scheduler.Event_ERROR, Error: &scheduler.Event_Error{Message: "Framework has been removed"}})
		s.end()
		m.mu.Unlock()
		_, _ = s.serve(w, m.stop, 0, nil)
		return
	}
	if info.ID != nil {
		fw = m.frameworks[info.ID.Value]
	}
	if fw == nil {
		if info.ID == nil {
			info.ID = &mesos.FrameworkID{Value: fmt.Sprintf("%s-%04d", m.masterID, m.frameworkSeq)}
			m.frameworkSeq++
		}
		fw = &framework{id: info.ID.Value, offers: map[string]*offer{}, tasks: map[string]*task{}}
		m.frameworks[fw.id] = fw
		m.log.Info("framework subscribed", "framework", fw.id, "name", info.Name)
	} else {
		if fw.stream != nil {
			m.sendRaw(fw.stream, &scheduler.Event{Type: scheduler.Event_ERROR, Error: &scheduler.Event_Error{Message: "Framework failed over"}})
			fw.stream.end()
		}
		m.rescindOffersLocked(fw, false)
		m.log.Info("framework re-subscribed", "framework", fw.id)
	}
	fw.info = info
	fw.stream = s
	fw.failoverDeadline = time.Time{}
	hb := m.cfg.HeartbeatInterval.Seconds()
	mi := m.masterInfo()
	m.sendLocked(fw, &scheduler.Event{Type: scheduler.Event_SUBSCRIBED, Subscribed: &scheduler.Event_Subscribed{
		FrameworkID: info.ID, HeartbeatIntervalSeconds: &hb, MasterInfo: &mi}})
	m.sendLocked(fw, &scheduler.Event{Type: scheduler.Event_HEARTBEAT})
	for _, id := range sortedKeys(fw.tasks) {
		if t := fw.tasks[id]; len(t.pending) > 0 {
			m.forwardLocked(t, now)
		}
	}
	m.allocateLocked(now)
	m.mu.Unlock()

	heartbeat, _ := encodeMessage(media, &scheduler.Event{Type: scheduler.Event_HEARTBEAT})
	clientGone, err := s.serve(w, m.stop, m.cfg.HeartbeatInterval, func() {
		if !m.faults.silent() {
			s.send(heartbeat)
		}
	})
	if err != nil {
		m.log.Error("scheduler stream failed", "framework", fw.id, "err", err)
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if fw.stream != s {
		return // failed over or removed
	}
	fw.stream = nil
	m.rescindOffersLocked(fw, false)
	timeout := time.Duration(0)
	if fw.info.FailoverTimeout != nil {
		timeout = time.Duration(*fw.info.FailoverTimeout * float64(time.Second))
	}
	m.log.Info("framework disconnected", "framework", fw.id, "client_gone", clientGone, "failover_timeout", timeout)
	if m.shutdown {
		return
	}
	if timeout <= 0 {
		m.removeFrameworkLocked(fw)
		return
	}
	fw.failoverDeadline = time.Now().Add(timeout)
}

// sendRaw encodes ev for s and queues it.
func (m *Mesos) sendRaw(s *stream, ev *scheduler.Event) {
	rec, err := encodeMessage(s.media, ev)
	if err != nil {
		m.log.Error("encode scheduler event", "type", ev.Type, "err", err)
		return
	}
	s.send(rec)
}

// sendLocked sends an event to a connected framework; events to a
// disconnected or silenced framework are lost, as on a real master.
func (m *Mesos) sendLocked(fw *framework, ev *scheduler.Event) {
	if fw.stream == nil || m.faults.silent() {
		return
	}
	m.sendRaw(fw.stream, ev)
}

// sendUpdateLocked sends a status update, applying the duplicate and delay
// fault switches.
func (m *Mesos) sendUpdateLocked(fw *framework, st mesos.TaskStatus) {
	ev := &scheduler.Event{Type: scheduler.Event_UPDATE, Update: &scheduler.Event_Update{Status: st}}
	n := 1
	if m.faults.duplicate() {
		n = 2
	}
	if d := m.faults.delay(); d > 0 {
		s := fw.stream
		time.AfterFunc(d, func() {
			m.mu.Lock()
			defer m.mu.Unlock()
			if fw.stream == s && !m.shutdown {
				for i := 0; i < n; i++ {
					m.sendLocked(fw, ev)
				}
			}
		})
		return
	}
	for i := 0; i < n; i++ {
		m.sendLocked(fw, ev)
	}
}

// callLocked applies an accepted non-SUBSCRIBE call.
func (m *Mesos) callLocked(fw *framework, c *scheduler.Call, now time.Time) {
	switch c.Type {
	case scheduler.Call_TEARDOWN:
		m.log.Info("framework teardown", "framework", fw.id)
		m.removeFrameworkLocked(fw)
	case scheduler.Call_ACCEPT:
		m.acceptLocked(fw, c.Accept, now)
	case scheduler.Call_DECLINE:
		ids := make([]mesos.OfferID, len(c.Decline.OfferIDs))
		copy(ids, c.Decline.OfferIDs)
		m.declineLocked(fw, ids, c.Decline.Filters, now)
		m.allocateLocked(now)
	case scheduler.Call_REVIVE:
		fw.suppressed = false
		fw.filters = nil
		m.allocateLocked(now)
	case scheduler.Call_SUPPRESS:
		fw.suppressed = true
	case scheduler.Call_ACKNOWLEDGE:
		m.acknowledgeLocked(fw, c.Acknowledge, now)
	case scheduler.Call_RECONCILE:
		m.reconcileLocked(fw, c.Reconcile, now)
	case scheduler.Call_KILL:
		m.killLocked(fw, c.Kill, now)
	case scheduler.Call_SHUTDOWN:
		ex := m.executors[exKey{fw.id, c.Shutdown.ExecutorID.Value}]
		if ex != nil && c.Shutdown.AgentID.Value == m.agentID {
			m.shutdownExecutorLocked(ex, now)
		}
	case scheduler.Call_MESSAGE:
		ex := m.executors[exKey{fw.id, c.Message.ExecutorID.Value}]
		if ex != nil {
			ex.sendEvent(m, execMessage(c.Message.Data))
		}
	default:
		// REQUEST, inverse offers, UPDATE_FRAMEWORK and operation calls are
		// accepted and ignored: localmesos has no maintenance or operations.
	}
}

// allocateLocked offers the agent's free resources to one eligible
// framework, taking frameworks in turn.
func (m *Mesos) allocateLocked(now time.Time) {
	if m.shutdown {
		return
	}
	avail := m.total.sub(m.used)
	fws := m.sortedFrameworks()
	for _, fw := range fws {
		for _, o := range fw.offers {
			avail = avail.sub(o.res)
		}
	}
	if avail.cpus <= 0 && avail.mem <= 0 {
		return
	}
	for i := range fws {
		fw := fws[(i+m.allocRound)%len(fws)]
		if fw.stream == nil || fw.suppressed || m.faults.silent() || fw.filtered(avail, now) {
			continue
		}
		m.allocRound++
		o := &offer{id: fmt.Sprintf("%s-O%d", m.masterID, m.offerSeq), agentID: m.agentID, res: avail}
		m.offerSeq++
		fw.offers[o.id] = o
		m.sendLocked(fw, &scheduler.Event{Type: scheduler.Event_OFFERS, Offers: &scheduler.Event_Offers{
			Offers: []mesos.Offer{m.offerProto(fw, o)}}})
		m.log.Debug("offer sent", "framework", fw.id, "offer", o.id, "resources", o.res.String())
		return
	}
}

// filtered drops expired filters and reports whether avail fits inside
// one of the remaining ones.
func (fw *framework) filtered(avail resources, now time.Time) bool {
	kept := fw.filters[:0]
	hit := false
	for _, f := range fw.filters {
		if now.After(f.expires) {
			continue
		}
		kept = append(kept, f)
		if f.res.contains(avail) {
			hit = true
		}
	}
	fw.filters = kept
	return hit
}

func (m *Mesos) offerProto(fw *framework, o *offer) mesos.Offer {
	role := fw.allocRole()
	p := mesos.Offer{
		ID:          mesos.OfferID{Value: o.id},
		FrameworkID: mesos.FrameworkID{Value: fw.id},
		AgentID:     mesos.AgentID{Value: o.agentID},
		Hostname:    m.cfg.Hostname,
		URL: &mesos.URL{Scheme: "http", Address: mesos.Address{Hostname: strPtr(m.cfg.Hostname), IP: strPtr(m.host), Port: int32(m.port)},
			Path: strPtr("/slave(1)")},
		Resources:  o.res.toMesos(true, true, role),
		Attributes: m.attributes(),
	}
	for _, ex := range m.sortedExecutors() {
		if ex.fwID == fw.id {
			p.ExecutorIDs = append(p.ExecutorIDs, mesos.ExecutorID{Value: ex.id})
		}
	}
	if role != "" {
		p.AllocationInfo = &mesos.Resource_AllocationInfo{Role: strPtr(role)}
	}
	return p
}

// rescindOffersLocked withdraws all outstanding offers of fw, sending
// RESCIND events when notify is set.
func (m *Mesos) rescindOffersLocked(fw *framework, notify bool) {
	for _, id := range sortedKeys(fw.offers) {
		delete(fw.offers, id)
		if notify {
			m.sendLocked(fw, &scheduler.Event{Type: scheduler.Event_RESCIND, Rescind: &scheduler.Event_Rescind{OfferID: mesos.OfferID{Value: id}}})
		}
	}
}

func (m *Mesos) refuseFor(f *mesos.Filters) time.Duration {
	if f == nil || f.RefuseSeconds == nil {
		return m.cfg.OfferRefuseDefault
	}
	return time.Duration(*f.RefuseSeconds * float64(time.Second))
}

func (m *Mesos) declineLocked(fw *framework, ids []mesos.OfferID, f *mesos.Filters, now time.Time) {
	refuse := m.refuseFor(f)
	for _, id := range ids {
		o := fw.offers[id.Value]
		if o == nil {
			continue
		}
		delete(fw.offers, id.Value)
		if refuse > 0 {
			fw.filters = append(fw.filters, filter{res: o.res, expires: now.Add(refuse)})
		}
	}
}

// acceptLocked handles ACCEPT: LAUNCH operations are checked task by task
// against what is left of the offers; whatever is left goes back, behind a
// refuse filter.
func (m *Mesos) acceptLocked(fw *framework, a *scheduler.Call_Accept, now time.Time) {
	var offers []*offer
	invalid := ""
	for _, id := range a.OfferIDs {
		o := fw.offers[id.Value]
		if o == nil || o.agentID != m.agentID {
			if invalid == "" {
				invalid = fmt.Sprintf("Offer %s is no longer valid", id.Value)
			}
			continue
		}
		offers = append(offers, o)
	}
	if len(a.OfferIDs) == 0 {
		invalid = "No offers specified"
	}
	for _, o := range offers {
		delete(fw.offers, o.id)
	}
	if invalid != "" {
		state := mesos.TASK_LOST
		if fw.partitionAware() {
			state = mesos.TASK_DROPPED
		}
		for _, op := range a.Operations {
			for _, ti := range launchTasks(op) {
				agent := ti.AgentID
				m.sendUpdateLocked(fw, masterStatus(ti.TaskID.Value, &agent, state,
					"Task launched with invalid offers: "+invalid, mesos.REASON_INVALID_OFFERS, now))
			}
		}
		m.allocateLocked(now)
		return
	}
	left := resources{}
	for _, o := range offers {
		left = left.add(o.res)
	}
	for _, op := range a.Operations {
		switch op.Type {
		case mesos.Offer_Operation_LAUNCH:
			if op.Launch == nil {
				continue
			}
			for i := range op.Launch.TaskInfos {
				left = m.launchLocked(fw, op.Launch.TaskInfos[i], left, now)
			}
		case mesos.Offer_Operation_LAUNCH_GROUP:
			for _, ti := range launchTasks(op) {
				agent := ti.AgentID
				m.sendUpdateLocked(fw, masterStatus(ti.TaskID.Value, &agent, mesos.TASK_ERROR,
					"localmesos does not support LAUNCH_GROUP", mesos.REASON_TASK_INVALID, now))
			}
		}
	}
	if refuse := m.refuseFor(a.Filters); refuse > 0 && !left.empty() {
		fw.filters = append(fw.filters, filter{res: left, expires: now.Add(refuse)})
	}
	m.allocateLocked(now)
}

func launchTasks(op mesos.Offer_Operation) []mesos.TaskInfo {
	switch {
	case op.Launch != nil:
		return op.Launch.TaskInfos
	case op.LaunchGroup != nil:
		return op.LaunchGroup.TaskGroup.Tasks
	}
	return nil
}

// masterStatus builds a master-generated status update (no uuid).
func masterStatus(taskID string, agent *mesos.AgentID, state mesos.TaskState, msg string, reason mesos.TaskStatus_Reason, now time.Time) mesos.TaskStatus {
	src := mesos.SOURCE_MASTER
	st := mesos.TaskStatus{TaskID: mesos.TaskID{Value: taskID}, State: &state, Source: &src, Reason: &reason,
		AgentID: agent, Timestamp: timestamp(now)}
	if msg != "" {
		st.Message = strPtr(msg)
	}
	return st
}

// acknowledgeLocked handles ACKNOWLEDGE: the head update of the task, if
// it has this uuid, is done; the next one is sent.
func (m *Mesos) acknowledgeLocked(fw *framework, a *scheduler.Call_Acknowledge, now time.Time) {
	t := fw.tasks[a.TaskID.Value]
	if t == nil || a.AgentID.Value != t.agentID || len(t.pending) == 0 || !bytes.Equal(t.pending[0].UUID, a.UUID) {
		m.log.Debug("acknowledgement ignored", "framework", fw.id, "task", a.TaskID.Value)
		return
	}
	head := t.pending[0]
	t.pending = t.pending[1:]
	t.backoff = 0
	m.log.Debug("status update acknowledged", "framework", fw.id, "task", t.id, "state", head.GetState(),
		"queued", len(t.pending))
	if len(t.pending) > 0 {
		m.forwardLocked(t, now)
		return
	}
	if isTerminal(head.GetState()) {
		m.removeTaskLocked(t)
	}
}

// reconcileLocked answers RECONCILE as the table in mesos-wire.md §6.
func (m *Mesos) reconcileLocked(fw *framework, rc *scheduler.Call_Reconcile, now time.Time) {
	if len(rc.Tasks) == 0 {
		for _, id := range sortedKeys(fw.tasks) {
			m.sendUpdateLocked(fw, fw.tasks[id].reconcileStatus(now))
		}
		return
	}
	for _, rt := range rc.Tasks {
		if t := fw.tasks[rt.TaskID.Value]; t != nil && (rt.AgentID == nil || rt.AgentID.Value == t.agentID) {
			m.sendUpdateLocked(fw, t.reconcileStatus(now))
			continue
		}
		m.sendUpdateLocked(fw, m.unknownTaskStatus(fw, rt.TaskID.Value, rt.AgentID, now))
	}
}

// unknownTaskStatus is the answer about a task the master does not know.
func (m *Mesos) unknownTaskStatus(fw *framework, taskID string, agent *mesos.AgentID, now time.Time) mesos.TaskStatus {
	state, msg := mesos.TASK_LOST, "Reconciliation: Task is unknown"
	if agent != nil && agent.Value == m.agentID {
		msg = "Reconciliation: Task is unknown to the agent"
		if fw.partitionAware() {
			state = mesos.TASK_GONE
		}
	} else if agent == nil && fw.partitionAware() {
		state = mesos.TASK_UNKNOWN
	}
	return masterStatus(taskID, agent, state, msg, mesos.REASON_RECONCILIATION, now)
}

// killLocked handles KILL.
func (m *Mesos) killLocked(fw *framework, k *scheduler.Call_Kill, now time.Time) {
	t := fw.tasks[k.TaskID.Value]
	if t == nil || k.AgentID != nil && k.AgentID.Value != t.agentID {
		m.sendUpdateLocked(fw, m.unknownTaskStatus(fw, k.TaskID.Value, k.AgentID, now))
		return
	}
	if isTerminal(t.state) {
		return
	}
	ex := t.ex
	if !t.delivered {
		ex.unqueue(t)
		m.agentUpdateLocked(t, agentStatus(t, mesos.TASK_KILLED, "Task killed before delivery to the executor",
			mesos.REASON_TASK_KILLED_DURING_LAUNCH, now), now)
		return
	}
	if ex.stream == nil {
		// The executor is re-subscribing (agent restart): it gets the KILL
		// after its SUBSCRIBED.
		ex.kills = append(ex.kills, execKill(t.id, k.KillPolicy))
		return
	}
	ex.sendEvent(m, execKill(t.id, k.KillPolicy))
}

// removeFrameworkLocked removes fw for good (TEARDOWN, failover timeout):
// its stream closes silently and its executors are shut down.
func (m *Mesos) removeFrameworkLocked(fw *framework) {
	if fw.stream != nil {
		fw.stream.end()
		fw.stream = nil
	}
	m.rescindOffersLocked(fw, false)
	now := time.Now()
	for _, id := range sortedKeys(fw.tasks) {
		t := fw.tasks[id]
		m.releaseTaskLocked(t)
	}
	fw.tasks = map[string]*task{}
	for _, ex := range m.sortedExecutors() {
		if ex.fwID == fw.id {
			ex.frameworkGone = true
			m.shutdownExecutorLocked(ex, now)
		}
	}
	delete(m.frameworks, fw.id)
	m.removed[fw.id] = true
	m.log.Info("framework removed", "framework", fw.id)
	m.allocateLocked(now)
}
