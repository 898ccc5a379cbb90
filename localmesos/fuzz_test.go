package localmesos

import (
	"testing"

	execpb "github.com/mesos/mesos-go/api/v1/lib/executor"
	"github.com/mesos/mesos-go/api/v1/lib/scheduler"
)

// FuzzDecodeSchedulerCall: any body decodes to a call or a 400, never a
// panic; a decoded call re-encodes to JSON that decodes to the same call.
func FuzzDecodeSchedulerCall(f *testing.F) {
	for _, seed := range []string{
		`{"type":"SUBSCRIBE","subscribe":{"framework_info":{"user":"root","name":"wire-test","roles":["*"],"capabilities":[{"type":"MULTI_ROLE"}],"failover_timeout":0}}}`,
		`{"framework_id":{"value":"x-0000"},"type":"ACCEPT","accept":{"offer_ids":[{"value":"x-O0"}],"operations":[{"type":"LAUNCH","launch":{"task_infos":[{"name":"envtask","task_id":{"value":"t-env"},"agent_id":{"value":"x-S0"},"resources":[{"name":"cpus","type":"SCALAR","scalar":{"value":0.1},"role":"*","allocation_info":{"role":"*"}}],"command":{"shell":true,"value":"env; echo done"}}]}}],"filters":{"refuse_seconds":1}}}`,
		`{"framework_id":{"value":"x"},"type":"ACKNOWLEDGE","acknowledge":{"agent_id":{"value":"a"},"task_id":{"value":"t"},"uuid":"X0wLK6t1Rf2Vw6H23cx0Mg=="}}`,
		`{"framework_id":{"value":"x"},"type":"RECONCILE","reconcile":{"tasks":[{"task_id":{"value":"t"},"agent_id":{"value":"a"}}]}}`,
		`{"framework_id":`, ``, `[]`, `{"type":11}`, `{"framework_id":"x"}`, `{"type":"FOO","bogus":[1,{"a":null}]}`,
		`{"type":"DECLINE","decline":{"offer_ids":[{"value":1}]}}`, `{"type":"KILL","kill":{"task_id":{"value":"t"},"kill_policy":{"grace_period":{"nanoseconds":"12"}}}}`,
		"{\"type\":\"MESSAGE\",\n\"message\":{\"data\":\"%%%\"}} trailing",
	} {
		f.Add([]byte(seed), false)
	}
	f.Add([]byte{0x08, 0x01, 0x12, 0x00}, true)
	f.Fuzz(func(t *testing.T, body []byte, proto bool) {
		media := mediaJSON
		if proto {
			media = mediaProtobuf
		}
		var call scheduler.Call
		if herr := decodeBody(media, body, &call, "Call"); herr != nil {
			if herr.code != 400 || herr.body == "" {
				t.Fatalf("decode error %d %q", herr.code, herr.body)
			}
			return
		}
		_ = validateSchedulerCall(&call)
		enc, err := marshalJSON(&call)
		if err != nil {
			t.Fatalf("re-encode %v: %v", call, err)
		}
		if proto {
			// Protobuf carries what JSON cannot name (unknown enum
			// numbers, unset required fields): only the encoding must work.
			return
		}
		var again scheduler.Call
		if herr := decodeJSON(enc, &again, "Call"); herr != nil {
			t.Fatalf("decode of re-encoded %s: %v", enc, herr)
		}
		if !call.Equal(&again) {
			t.Fatalf("round trip changed the call:\n%v\n%v\nvia %s", call, again, enc)
		}
	})
}

// FuzzDecodeExecutorCall: the executor endpoint's decoder and validation
// never panic and only ever answer 400.
func FuzzDecodeExecutorCall(f *testing.F) {
	for _, seed := range []string{
		`{"type":"SUBSCRIBE","framework_id":{"value":"f"},"executor_id":{"value":"e"},"subscribe":{"unacknowledged_tasks":[],"unacknowledged_updates":[]}}`,
		`{"type":"UPDATE","framework_id":{"value":"f"},"executor_id":{"value":"e"},"update":{"status":{"task_id":{"value":"t"},"state":"TASK_RUNNING","source":"SOURCE_EXECUTOR","uuid":"X0wLK6t1Rf2Vw6H23cx0Mg==","timestamp":1.5}}}`,
		`{"type":`, `{"type":"UPDATE","update":{"status":{"task_id":{"value":"t"},"state":7}}}`,
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		var call execpb.Call
		if herr := decodeBody(mediaJSON, body, &call, "Call"); herr != nil {
			if herr.code != 400 {
				t.Fatalf("decode error %d", herr.code)
			}
			return
		}
		_ = validateExecutorCall(&call)
	})
}
