package localmesos

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
)

// The conformance tests replay the recorded cases of mesos-wire.md against
// localmesos over HTTP with the JSON codec.

// rawExchange sends one raw HTTP/1.1 request and returns the status line,
// the header lines in order, and a reader positioned at the body.
func rawExchange(t *testing.T, m *Mesos, req string) (status string, headers []string, body *bufio.Reader, conn net.Conn) {
	t.Helper()
	conn, err := net.Dial("tcp", m.HostPort())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	if _, err := io.WriteString(conn, req); err != nil {
		t.Fatal(err)
	}
	_ = conn.SetReadDeadline(time.Now().Add(waitFor))
	br := bufio.NewReader(conn)
	status, err = br.ReadString('\n')
	if err != nil {
		t.Fatalf("read status line: %v", err)
	}
	for {
		line, err := br.ReadString('\n')
		if err != nil {
			t.Fatalf("read headers: %v", err)
		}
		if line == "\r\n" {
			break
		}
		headers = append(headers, strings.TrimRight(line, "\r\n"))
	}
	return strings.TrimRight(status, "\r\n"), headers, br, conn
}

func subscribeRequest(m *Mesos, accept, body string) string {
	return fmt.Sprintf("POST /api/v1/scheduler HTTP/1.1\r\nHost: %s\r\nContent-Type: application/json\r\nAccept: %s\r\nContent-Length: %d\r\n\r\n%s",
		m.HostPort(), accept, len(body), body)
}

// readChunk reads one HTTP chunk.
func readChunk(t *testing.T, br *bufio.Reader) []byte {
	t.Helper()
	line, err := br.ReadString('\n')
	if err != nil {
		t.Fatalf("read chunk size: %v", err)
	}
	n, err := strconv.ParseInt(strings.TrimRight(line, "\r\n"), 16, 64)
	if err != nil {
		t.Fatalf("chunk size %q: %v", line, err)
	}
	buf := make([]byte, n+2)
	if _, err := io.ReadFull(br, buf); err != nil {
		t.Fatalf("read chunk: %v", err)
	}
	return buf[:n]
}

var uuidRE = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`)

// TestConformanceSubscribe checks §1: the answer's status line and header
// set in order, one RecordIO record per chunk without trailing newlines,
// SUBSCRIBED then an immediate HEARTBEAT then OFFERS, byte for byte.
func TestConformanceSubscribe(t *testing.T) {
	for _, tc := range []struct {
		name, info, accept string
		multiRole          bool
	}{
		{"multi-role", multiRoleInfo, "application/json", true},
		{"plain framework, curl accept", `{"user":"root","name":"wire-test"}`, "*/*", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := testConfig(t)
			cfg.CPUs, cfg.MemMB, cfg.DiskMB = 2, 23081, 252899
			cfg.HeartbeatInterval = 15 * time.Second
			m := startMesos(t, cfg)
			status, headers, br, _ := rawExchange(t, m, subscribeRequest(m, tc.accept,
				`{"type":"SUBSCRIBE","subscribe":{"framework_info":`+tc.info+`}}`))
			if status != "HTTP/1.1 200 OK" {
				t.Fatalf("status line %q", status)
			}
			if len(headers) != 4 || !strings.HasPrefix(headers[0], "Date: ") || headers[1] != "Transfer-Encoding: chunked" ||
				!strings.HasPrefix(headers[2], "Mesos-Stream-Id: ") || headers[3] != "Content-Type: application/json" {
				t.Fatalf("headers = %q, want Date, Transfer-Encoding, Mesos-Stream-Id, Content-Type in that order", headers)
			}
			if sid := strings.TrimPrefix(headers[2], "Mesos-Stream-Id: "); !uuidRE.MatchString(sid) {
				t.Errorf("stream id %q is not a lower-case UUID", sid)
			}
			mid, p := m.MasterID(), m.port
			alloc, offerAlloc := `,"allocation_info":{"role":"*"}`, `,"allocation_info":{"role":"*"}`
			if !tc.multiRole {
				alloc, offerAlloc = "", ""
			}
			want := []string{
				fmt.Sprintf(`{"type":"SUBSCRIBED","subscribed":{"framework_id":{"value":"%s-0000"},"heartbeat_interval_seconds":15.0,`+
					`"master_info":{"id":"%s","ip":16777343,"port":%d,"pid":"master@127.0.0.1:%d","hostname":"127.0.0.1","version":"1.12.0",`+
					`"address":{"hostname":"127.0.0.1","ip":"127.0.0.1","port":%d},`+
					`"capabilities":[{"type":"AGENT_UPDATE"},{"type":"AGENT_DRAINING"},{"type":"QUOTA_V2"}]}}}`, mid, mid, p, p, p),
				`{"type":"HEARTBEAT"}`,
				fmt.Sprintf(`{"type":"OFFERS","offers":{"offers":[{"id":{"value":"%s-O0"},"framework_id":{"value":"%s-0000"},`+
					`"agent_id":{"value":"%s-S0"},"hostname":"127.0.0.1",`+
					`"url":{"scheme":"http","address":{"hostname":"127.0.0.1","ip":"127.0.0.1","port":%d},"path":"/slave(1)"},"resources":[`+
					`{"name":"ports","type":"RANGES","ranges":{"range":[{"begin":31000,"end":32000}]},"role":"*"%s},`+
					`{"name":"cpus","type":"SCALAR","scalar":{"value":2.0},"role":"*"%s},`+
					`{"name":"mem","type":"SCALAR","scalar":{"value":23081.0},"role":"*"%s},`+
					`{"name":"disk","type":"SCALAR","scalar":{"value":252899.0},"role":"*"%s}]%s}]}}`,
					mid, mid, mid, p, alloc, alloc, alloc, alloc, offerAlloc),
			}
			for i, w := range want {
				chunk := readChunk(t, br)
				wantChunk := strconv.Itoa(len(w)) + "\n" + w
				if string(chunk) != wantChunk {
					t.Errorf("record %d:\n got %s\nwant %s", i, chunk, wantChunk)
				}
			}
		})
	}
}

// TestConformanceErrors replays the table of §2.
func TestConformanceErrors(t *testing.T) {
	m := startMesos(t, testConfig(t))
	c := subscribe(t, m, `{"type":"SUBSCRIBE","subscribe":{"framework_info":`+multiRoleInfo+`}}`)
	fw := c.fwID
	sub := `{"type":"SUBSCRIBE","subscribe":{"framework_info":` + multiRoleInfo + `}}`
	jsonCT := map[string]string{"Content-Type": "application/json", "Mesos-Stream-Id": c.streamID}
	noStream := map[string]string{"Content-Type": "application/json"}
	revive := fmt.Sprintf(`{"framework_id":{"value":%q},"type":"REVIVE"}`, fw)
	const plain = "text/plain; charset=utf-8"
	for _, tc := range []struct {
		name    string
		path    string
		headers map[string]string
		body    string
		code    int
		want    string
	}{
		{"REVIVE without stream id", "", noStream, revive, 400, "All non-subscribe calls should include the 'Mesos-Stream-Id' header"},
		{"wrong stream id", "", map[string]string{"Content-Type": "application/json", "Mesos-Stream-Id": "00000000-0000-0000-0000-000000000000"}, revive, 400,
			"The stream ID '00000000-0000-0000-0000-000000000000' included in this request didn't match the stream ID currently associated with framework ID " + fw},
		{"unknown framework with stream id", "", jsonCT, `{"framework_id":{"value":"nope"},"type":"REVIVE"}`, 400, "Framework cannot be found"},
		{"unknown framework without stream id", "", noStream, `{"framework_id":{"value":"nope"},"type":"REVIVE"}`, 400, "Framework cannot be found"},
		{"malformed JSON", "", jsonCT, `{"framework_id":`, 400, "Failed to parse body into JSON: syntax error at line 1 near: "},
		{"empty body", "", jsonCT, ``, 400, "Failed to parse body into JSON: syntax error at line 1 near: "},
		{"unknown type name", "", jsonCT, fmt.Sprintf(`{"framework_id":{"value":%q},"type":"FOO"}`, fw), 400, "Failed to validate scheduler::Call: Expecting 'type' to be present"},
		{"type as number", "", jsonCT, fmt.Sprintf(`{"framework_id":{"value":%q},"type":11}`, fw), 400, "Failed to convert JSON into Call protobuf: Not expecting a JSON number for field 'type'"},
		{"framework_id as string", "", jsonCT, `{"framework_id":"x","type":"REVIVE"}`, 400, "Failed to convert JSON into Call protobuf: Not expecting a JSON string for field 'framework_id'"},
		{"unknown extra field", "", jsonCT, fmt.Sprintf(`{"framework_id":{"value":%q},"type":"REVIVE","bogus":1}`, fw), 202, ""},
		{"REVIVE without framework_id", "", jsonCT, `{"type":"REVIVE"}`, 400, "Failed to validate scheduler::Call: Expecting 'framework_id' to be present"},
		{"text/plain content type", "", map[string]string{"Content-Type": "text/plain", "Mesos-Stream-Id": c.streamID}, revive, 415, "Expecting 'Content-Type' of application/json or application/x-protobuf"},
		{"no content type", "", map[string]string{"Mesos-Stream-Id": c.streamID}, revive, 400, "Expecting 'Content-Type' to be present"},
		{"Accept text/html on SUBSCRIBE", "", map[string]string{"Content-Type": "application/json", "Accept": "text/html"}, sub, 406, "Expecting 'Accept' to allow 'application/x-protobuf' or 'application/json'"},
		{"Accept text/html on REVIVE", "", map[string]string{"Content-Type": "application/json", "Accept": "text/html", "Mesos-Stream-Id": c.streamID}, revive, 202, ""},
		{"SUBSCRIBE framework_id differs", "", noStream, `{"type":"SUBSCRIBE","framework_id":{"value":"a"},"subscribe":{"framework_info":{"user":"root","name":"x","id":{"value":"b"}}}}`, 400,
			"Failed to validate scheduler::Call: 'framework_id' differs from 'subscribe.framework_info.id'"},
		{"SUBSCRIBE framework_id without info id", "", noStream, `{"type":"SUBSCRIBE","framework_id":{"value":"a"},"subscribe":{"framework_info":{"user":"root","name":"x"}}}`, 400,
			"Failed to validate scheduler::Call: 'framework_id' differs from 'subscribe.framework_info.id'"},
		{"SUBSCRIBE with stream id", "", jsonCT, sub, 400, "Subscribe calls should not include the 'Mesos-Stream-Id' header"},
		{"SUBSCRIBE without user", "", noStream, `{"type":"SUBSCRIBE","subscribe":{"framework_info":{"name":"x"}}}`, 400,
			"Failed to convert JSON into Call protobuf: Missing required fields: subscribe.framework_info.user"},
		{"SUBSCRIBE without subscribe", "", noStream, `{"type":"SUBSCRIBE"}`, 400, "Failed to validate scheduler::Call: Expecting 'subscribe' to be present"},
		{"DECLINE without decline", "", jsonCT, fmt.Sprintf(`{"framework_id":{"value":%q},"type":"DECLINE"}`, fw), 400, "Failed to validate scheduler::Call: Expecting 'decline' to be present"},
		{"RECONCILE without reconcile", "", jsonCT, fmt.Sprintf(`{"framework_id":{"value":%q},"type":"RECONCILE"}`, fw), 400, "Failed to validate scheduler::Call: Expecting 'reconcile' to be present"},
		{"SUPPRESS without suppress", "", jsonCT, fmt.Sprintf(`{"framework_id":{"value":%q},"type":"SUPPRESS"}`, fw), 202, ""},
		{"REVIVE without revive", "/master/api/v1/scheduler", jsonCT, revive, 202, ""},
		{"ACKNOWLEDGE bad uuid", "", jsonCT, fmt.Sprintf(`{"framework_id":{"value":%q},"type":"ACKNOWLEDGE","acknowledge":{"agent_id":{"value":"a"},"task_id":{"value":"t"},"uuid":"abc"}}`, fw), 400,
			"Failed to validate scheduler::Call: Not a valid UUID"},
		{"ACKNOWLEDGE nil uuid", "", jsonCT, fmt.Sprintf(`{"framework_id":{"value":%q},"type":"ACKNOWLEDGE","acknowledge":{"agent_id":{"value":"a"},"task_id":{"value":"t"},"uuid":"AAAAAAAAAAAAAAAAAAAAAA=="}}`, fw), 400,
			"Failed to validate scheduler::Call: Not a valid UUID"},
		{"ACKNOWLEDGE unknown task", "", jsonCT, fmt.Sprintf(`{"framework_id":{"value":%q},"type":"ACKNOWLEDGE","acknowledge":{"agent_id":{"value":"a"},"task_id":{"value":"t"},"uuid":"X0wLK6t1Rf2Vw6H23cx0Mg=="}}`, fw), 202, ""},
		{"DECLINE unknown offer", "", jsonCT, fmt.Sprintf(`{"framework_id":{"value":%q},"type":"DECLINE","decline":{"offer_ids":[{"value":"nope"}],"filters":{"refuse_seconds":30}}}`, fw), 202, ""},
		{"DECLINE no offers", "", jsonCT, fmt.Sprintf(`{"framework_id":{"value":%q},"type":"DECLINE","decline":{"offer_ids":[]}}`, fw), 202, ""},
		{"implicit RECONCILE", "", jsonCT, fmt.Sprintf(`{"framework_id":{"value":%q},"type":"RECONCILE","reconcile":{}}`, fw), 202, ""},
		{"MESSAGE to unknown executor", "", jsonCT, fmt.Sprintf(`{"framework_id":{"value":%q},"type":"MESSAGE","message":{"agent_id":{"value":"a"},"executor_id":{"value":"e"},"data":"eA=="}}`, fw), 202, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := tc.path
			if path == "" {
				path = "/api/v1/scheduler"
			}
			resp, body := post(t, m.URL()+path, tc.headers, tc.body)
			if resp.StatusCode != tc.code || body != tc.want {
				t.Fatalf("got %d %q, want %d %q", resp.StatusCode, body, tc.code, tc.want)
			}
			if tc.code == 202 {
				if resp.Header.Get("Content-Type") != "" || resp.Header.Get("Content-Length") != "0" {
					t.Errorf("202 headers: %v", resp.Header)
				}
				return
			}
			if ct := resp.Header.Get("Content-Type"); ct != plain {
				t.Errorf("Content-Type %q, want %q", ct, plain)
			}
			if cl := resp.Header.Get("Content-Length"); cl != strconv.Itoa(len(tc.want)) {
				t.Errorf("Content-Length %q", cl)
			}
		})
	}
	t.Run("GET", func(t *testing.T) {
		resp, err := http.Get(m.URL() + "/api/v1/scheduler")
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != 405 || resp.Header.Get("Allow") != "POST" ||
			string(b) != "405 Method Not Allowed. Expecting one of { 'POST' }, but received 'GET'." {
			t.Fatalf("got %d Allow=%q %q", resp.StatusCode, resp.Header.Get("Allow"), b)
		}
	})
}

// keyOrder returns the keys of the JSON object at path, in document order.
func keyOrder(t *testing.T, raw []byte, path ...string) []string {
	t.Helper()
	var obj map[string]json.RawMessage
	if err := json.Unmarshal(raw, &obj); err != nil {
		t.Fatal(err)
	}
	cur := raw
	for _, p := range path {
		if err := json.Unmarshal(cur, &obj); err != nil {
			t.Fatal(err)
		}
		cur = obj[p]
	}
	dec := json.NewDecoder(bytes.NewReader(cur))
	if _, err := dec.Token(); err != nil {
		t.Fatal(err)
	}
	var keys []string
	depth := 0
	for dec.More() || depth > 0 {
		tok, err := dec.Token()
		if err != nil {
			t.Fatal(err)
		}
		switch tok {
		case json.Delim('{'), json.Delim('['):
			depth++
			continue
		case json.Delim('}'), json.Delim(']'):
			depth--
			continue
		}
		if depth == 0 {
			keys = append(keys, tok.(string))
			var skip json.RawMessage
			if err := dec.Decode(&skip); err != nil {
				t.Fatal(err)
			}
		}
	}
	return keys
}
