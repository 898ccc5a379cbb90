package localmesos

import (
	"bytes"
	"io"
	"net/http"
	"testing"
	"time"

	mesos "github.com/mesos/mesos-go/api/v1/lib"
	"github.com/mesos/mesos-go/api/v1/lib/encoding"
	"github.com/mesos/mesos-go/api/v1/lib/encoding/codecs"
	"github.com/mesos/mesos-go/api/v1/lib/encoding/framing"
	execpb "github.com/mesos/mesos-go/api/v1/lib/executor"
	"github.com/mesos/mesos-go/api/v1/lib/recordio"
	"github.com/mesos/mesos-go/api/v1/lib/scheduler"
)

// protoPost sends a protobuf call the way mesos-go does (Accept twice).
func protoPost(t *testing.T, url, streamID string, call encoding.Marshaler) *http.Response {
	t.Helper()
	var body bytes.Buffer
	enc := codecs.ByMediaType[codecs.MediaTypeProtobuf].NewEncoder(encoding.SinkWriter(&body))
	if err := enc.Encode(call); err != nil {
		t.Fatal(err)
	}
	req, _ := http.NewRequest(http.MethodPost, url, &body)
	req.Header.Set("Content-Type", "application/x-protobuf")
	req.Header.Add("Accept", "application/x-protobuf")
	req.Header.Add("Accept", "application/x-protobuf")
	if streamID != "" {
		req.Header.Set("Mesos-Stream-Id", streamID)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	return resp
}

// protoEvents decodes a RecordIO stream of protobuf events with mesos-go's
// codec, as its HTTP clients do.
func protoEvents[E any, P interface {
	*E
	encoding.Unmarshaler
}](t *testing.T, resp *http.Response) <-chan *E {
	ch := make(chan *E, 100)
	// As mesos-go's HTTP client does for streams: RecordIO frames, each
	// one decoded by the protobuf codec.
	frames := recordio.NewReader(resp.Body)
	dec := codecs.ByMediaType[codecs.MediaTypeProtobuf].NewDecoder(func() framing.Reader { return frames })
	go func() {
		defer close(ch)
		for {
			ev := P(new(E))
			if err := dec.Decode(ev); err != nil {
				return
			}
			ch <- (*E)(ev)
		}
	}()
	return ch
}

func recv[E any](t *testing.T, ch <-chan *E) *E {
	t.Helper()
	select {
	case ev, ok := <-ch:
		if !ok {
			t.Fatal("stream ended")
		}
		return ev
	case <-time.After(waitFor):
		t.Fatal("no event")
	}
	return nil
}

// TestProtobufRoundTrip drives the scheduler and executor APIs with
// mesos-go's protobuf codec, as the Horae framework and executor do.
func TestProtobufRoundTrip(t *testing.T) {
	m := startMesos(t, testConfig(t))
	url := m.URL() + "/api/v1/scheduler"
	resp := protoPost(t, url, "", &scheduler.Call{Type: scheduler.Call_SUBSCRIBE, Subscribe: &scheduler.Call_Subscribe{
		FrameworkInfo: &mesos.FrameworkInfo{User: "root", Name: "proto"}}})
	defer resp.Body.Close()
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "application/x-protobuf" || resp.ContentLength != -1 {
		t.Fatalf("SUBSCRIBE: %s %v", resp.Status, resp.Header)
	}
	sid := resp.Header.Get("Mesos-Stream-Id")
	events := protoEvents[scheduler.Event](t, resp)
	sub := recv(t, events)
	if sub.Type != scheduler.Event_SUBSCRIBED || sub.Subscribed.FrameworkID.Value != m.MasterID()+"-0000" ||
		sub.Subscribed.GetHeartbeatIntervalSeconds() != 0.2 || sub.Subscribed.MasterInfo.GetPort() != uint32(m.port) ||
		len(sub.Subscribed.MasterInfo.Capabilities) != 3 || sub.Subscribed.MasterInfo.Capabilities[2].Type != capabilityQuotaV2 {
		t.Fatalf("SUBSCRIBED: %v", sub)
	}
	fwID := sub.Subscribed.FrameworkID
	if hb := recv(t, events); hb.Type != scheduler.Event_HEARTBEAT {
		t.Fatalf("second event %v", hb.Type)
	}
	offers := recv(t, events)
	if offers.Type != scheduler.Event_OFFERS || len(offers.Offers.Offers) != 1 {
		t.Fatalf("third event %v", offers)
	}
	offer := offers.Offers.Offers[0]
	if offer.AgentID.Value != m.AgentID() || len(offer.Resources) != 4 || offer.Resources[0].Name != "ports" ||
		offer.Resources[1].GetScalar().GetValue() != 4 || offer.AllocationInfo != nil {
		t.Fatalf("offer %v", offer)
	}

	// Launch a task whose executor never subscribes by itself: the test
	// subscribes in its place with protobuf.
	exInfo := mesos.ExecutorInfo{ExecutorID: mesos.ExecutorID{Value: "pex"}, Command: &mesos.CommandInfo{Value: strPtr("sleep 60")},
		Resources: []mesos.Resource{scalarResource("cpus", 0.1), scalarResource("mem", 32)}}
	task := mesos.TaskInfo{Name: "pt", TaskID: mesos.TaskID{Value: "pt"}, AgentID: offer.AgentID, Executor: &exInfo,
		Resources: []mesos.Resource{scalarResource("cpus", 0.1), scalarResource("mem", 32)}}
	r := protoPost(t, url, sid, &scheduler.Call{Type: scheduler.Call_ACCEPT, FrameworkID: fwID, Accept: &scheduler.Call_Accept{
		OfferIDs: []mesos.OfferID{offer.ID}, Operations: []mesos.Offer_Operation{{Type: mesos.Offer_Operation_LAUNCH,
			Launch: &mesos.Offer_Operation_Launch{TaskInfos: []mesos.TaskInfo{task}}}}}})
	r.Body.Close()
	if r.StatusCode != 202 {
		t.Fatalf("ACCEPT: %s", r.Status)
	}
	exResp := protoPost(t, m.URL()+"/api/v1/executor", "", &execpb.Call{Type: execpb.Call_SUBSCRIBE, FrameworkID: *fwID,
		ExecutorID: exInfo.ExecutorID, Subscribe: &execpb.Call_Subscribe{}})
	defer exResp.Body.Close()
	if exResp.StatusCode != 200 || exResp.Header.Get("Content-Type") != "application/x-protobuf" {
		b, _ := io.ReadAll(exResp.Body)
		t.Fatalf("executor SUBSCRIBE: %s %s", exResp.Status, b)
	}
	exEvents := protoEvents[execpb.Event](t, exResp)
	if ev := recv(t, exEvents); ev.Type != execpb.Event_SUBSCRIBED || ev.Subscribed.ExecutorInfo.ExecutorID.Value != "pex" ||
		ev.Subscribed.AgentInfo.GetID().GetValue() != m.AgentID() {
		t.Fatalf("executor SUBSCRIBED: %v", ev)
	}
	if ev := recv(t, exEvents); ev.Type != execpb.Event_LAUNCH || ev.Launch.Task.TaskID.Value != "pt" {
		t.Fatalf("executor LAUNCH: %v", ev)
	}
	// An UPDATE without timestamp, as the mesos-go executor sends it.
	state, src := mesos.TASK_RUNNING, mesos.SOURCE_EXECUTOR
	uuid := newUUID()
	r = protoPost(t, m.URL()+"/api/v1/executor", "", &execpb.Call{Type: execpb.Call_UPDATE, FrameworkID: *fwID,
		ExecutorID: exInfo.ExecutorID, Update: &execpb.Call_Update{Status: mesos.TaskStatus{TaskID: task.TaskID, State: &state,
			Source: &src, UUID: uuid}}})
	r.Body.Close()
	if r.StatusCode != 202 {
		t.Fatalf("executor UPDATE: %s", r.Status)
	}
	if ev := recv(t, exEvents); ev.Type != execpb.Event_ACKNOWLEDGED || !bytes.Equal(ev.Acknowledged.UUID, uuid) {
		t.Fatalf("ACKNOWLEDGED: %v", ev)
	}
	for {
		ev := recv(t, events)
		if ev.Type != scheduler.Event_UPDATE {
			continue
		}
		st := ev.Update.Status
		if st.GetState() != mesos.TASK_RUNNING || st.Timestamp == nil || !bytes.Equal(st.UUID, uuid) ||
			st.GetAgentID().GetValue() != m.AgentID() || st.GetContainerStatus().GetContainerID() == nil {
			t.Fatalf("forwarded update: %v", st)
		}
		break
	}
	r = protoPost(t, url, sid, &scheduler.Call{Type: scheduler.Call_ACKNOWLEDGE, FrameworkID: fwID, Acknowledge: &scheduler.Call_Acknowledge{
		AgentID: offer.AgentID, TaskID: task.TaskID, UUID: uuid}})
	r.Body.Close()
	if r.StatusCode != 202 {
		t.Fatalf("ACKNOWLEDGE: %s", r.Status)
	}
	// A malformed protobuf body is a 400.
	req, _ := http.NewRequest(http.MethodPost, url, bytes.NewReader([]byte{0xff, 0xff, 0xff}))
	req.Header.Set("Content-Type", "application/x-protobuf")
	bad, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	bad.Body.Close()
	if bad.StatusCode != 400 {
		t.Errorf("malformed protobuf: %s", bad.Status)
	}
}

func scalarResource(name string, v float64) mesos.Resource {
	t := mesos.SCALAR
	return mesos.Resource{Name: name, Type: &t, Scalar: &mesos.Value_Scalar{Value: v}}
}
