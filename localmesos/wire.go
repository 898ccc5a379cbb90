package localmesos

import (
	"bytes"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"mime"
	"net/http"
	"reflect"
	"sort"
	"strconv"
	"strings"
)

// Media types of the two codecs Mesos speaks on its v1 APIs.
const (
	mediaJSON     = "application/json"
	mediaProtobuf = "application/x-protobuf"
)

// protoMessage is what the mesos-go generated (gogo) types implement.
type protoMessage interface {
	Marshal() ([]byte, error)
	Unmarshal([]byte) error
}

// contentType classifies the request's Content-Type header the way a Mesos
// master does: missing is a 400, an unknown type a 415.
func contentType(r *http.Request) (string, *httpError) {
	ct := r.Header.Get("Content-Type")
	if ct == "" {
		return "", badRequest("Expecting 'Content-Type' to be present")
	}
	mt, _, err := mime.ParseMediaType(ct)
	if err != nil || (mt != mediaJSON && mt != mediaProtobuf) {
		return "", &httpError{code: http.StatusUnsupportedMediaType,
			body: "Expecting 'Content-Type' of application/json or application/x-protobuf"}
	}
	return mt, nil
}

// acceptType picks the codec of a streaming answer from the Accept headers
// (possibly several, as mesos-go sends it twice). JSON wins when both are
// acceptable, as on a real master; an empty Accept accepts everything.
func acceptType(r *http.Request) (string, bool) {
	values := r.Header.Values("Accept")
	if len(values) == 0 {
		return mediaJSON, true
	}
	accepts := map[string]bool{}
	for _, v := range values {
		for _, part := range strings.Split(v, ",") {
			mt, params, err := mime.ParseMediaType(strings.TrimSpace(part))
			if err != nil {
				continue
			}
			if q, ok := params["q"]; ok {
				if f, err := strconv.ParseFloat(q, 64); err == nil && f == 0 {
					continue
				}
			}
			accepts[mt] = true
		}
	}
	if accepts[mediaJSON] || accepts["application/*"] || accepts["*/*"] {
		return mediaJSON, true
	}
	if accepts[mediaProtobuf] {
		return mediaProtobuf, true
	}
	return "", false
}

// decodeBody decodes one call in the given media type into msg. what names
// the protobuf in error texts ("Call"). Errors carry the master's texts.
// readCall checks the method and Content-Type of a call to the scheduler or
// executor endpoint and decodes its body into msg, answering as Mesos does
// (405, 415/400, 400) when it cannot.
func readCall(r *http.Request, msg protoMessage) *httpError {
	if r.Method != http.MethodPost {
		return &httpError{code: http.StatusMethodNotAllowed, header: map[string]string{"Allow": "POST"},
			body: fmt.Sprintf("405 Method Not Allowed. Expecting one of { 'POST' }, but received '%s'.", r.Method)}
	}
	media, herr := contentType(r)
	if herr != nil {
		return herr
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, 16<<20))
	if err != nil {
		return badRequest("Failed to read body: " + err.Error())
	}
	return decodeBody(media, body, msg, "Call")
}

func decodeBody(media string, body []byte, msg protoMessage, what string) *httpError {
	if media == mediaProtobuf {
		if err := msg.Unmarshal(body); err != nil {
			return badRequest(fmt.Sprintf("Failed to parse body into %s protobuf: %v", what, err))
		}
		return nil
	}
	return decodeJSON(body, msg, what)
}

// encodeMessage encodes an event in the given media type.
func encodeMessage(media string, msg protoMessage) ([]byte, error) {
	if media == mediaProtobuf {
		return msg.Marshal()
	}
	return marshalJSON(msg)
}

// decodeJSON converts a JSON body into a generated protobuf struct the way
// Mesos's stout does: parse errors, type mismatches and missing required
// fields each give their own 400 text; unknown fields and unknown enum
// names are ignored.
func decodeJSON(body []byte, msg any, what string) *httpError {
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	var v any
	err := dec.Decode(&v)
	if err == nil && dec.More() {
		err = errors.New("trailing data")
	}
	if err != nil {
		return badRequest("Failed to parse body into JSON: " + syntaxText(body, err))
	}
	obj, ok := v.(map[string]any)
	if !ok {
		return badRequest(fmt.Sprintf("Failed to convert JSON into %s protobuf: Expecting a JSON object", what))
	}
	c := &jsonConverter{}
	if err := c.object(obj, reflect.ValueOf(msg).Elem(), ""); err != nil {
		return badRequest(fmt.Sprintf("Failed to convert JSON into %s protobuf: %v", what, err))
	}
	if len(c.missing) > 0 {
		return badRequest(fmt.Sprintf("Failed to convert JSON into %s protobuf: Missing required fields: %s",
			what, strings.Join(c.missing, ", ")))
	}
	return nil
}

// syntaxText renders a JSON syntax error like picojson: the line number and
// the rest of that line after the point of failure.
func syntaxText(body []byte, err error) string {
	off := len(body)
	var se *json.SyntaxError
	if errors.As(err, &se) {
		off = int(se.Offset)
	}
	if off > len(body) {
		off = len(body)
	}
	line := 1 + bytes.Count(body[:off], []byte("\n"))
	rest := body[off:]
	if i := bytes.IndexByte(rest, '\n'); i >= 0 {
		rest = rest[:i]
	}
	var near strings.Builder
	for _, b := range rest {
		if b >= ' ' {
			near.WriteByte(b)
		}
	}
	return fmt.Sprintf("syntax error at line %d near: %s", line, near.String())
}

type jsonConverter struct {
	missing []string
}

// protoField describes one field of a generated struct.
type protoField struct {
	index    int
	name     string
	required bool
	enum     bool
}

func protoFields(t reflect.Type) []protoField {
	var out []protoField
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		tag := f.Tag.Get("protobuf")
		if tag == "" {
			continue
		}
		pf := protoField{index: i}
		for _, part := range strings.Split(tag, ",") {
			switch {
			case part == "req":
				pf.required = true
			case strings.HasPrefix(part, "name="):
				pf.name = strings.TrimPrefix(part, "name=")
			case strings.HasPrefix(part, "enum="):
				pf.enum = true
			}
		}
		if pf.name != "" {
			out = append(out, pf)
		}
	}
	return out
}

func jsonKind(v any) string {
	switch v.(type) {
	case map[string]any:
		return "object"
	case []any:
		return "array"
	case string:
		return "string"
	case json.Number:
		return "number"
	case bool:
		return "boolean"
	default:
		return "null"
	}
}

func (c *jsonConverter) object(obj map[string]any, dst reflect.Value, path string) error {
	for _, f := range protoFields(dst.Type()) {
		raw, present := obj[f.name]
		if !present || raw == nil {
			if f.required {
				c.missing = append(c.missing, path+f.name)
			}
			continue
		}
		fv := dst.Field(f.index)
		if fv.Kind() == reflect.Slice && fv.Type().Elem().Kind() != reflect.Uint8 {
			arr, ok := raw.([]any)
			if !ok {
				return notExpecting(raw, f.name)
			}
			out := reflect.MakeSlice(fv.Type(), 0, len(arr))
			for i, item := range arr {
				ev := reflect.New(fv.Type().Elem()).Elem()
				ok, err := c.value(item, ev, f, fmt.Sprintf("%s%s[%d].", path, f.name, i))
				if err != nil {
					return err
				}
				if ok {
					out = reflect.Append(out, ev)
				}
			}
			fv.Set(out)
			continue
		}
		if _, err := c.value(raw, fv, f, path+f.name+"."); err != nil {
			return err
		}
	}
	return nil
}

// value converts raw into dst. It reports false when the value was dropped
// (an unknown enum name).
func (c *jsonConverter) value(raw any, dst reflect.Value, f protoField, path string) (bool, error) {
	notExpecting := notExpecting(raw, f.name)
	if dst.Kind() == reflect.Pointer {
		nv := reflect.New(dst.Type().Elem())
		ok, err := c.value(raw, nv.Elem(), f, path)
		if err != nil || !ok {
			return ok, err
		}
		dst.Set(nv)
		return true, nil
	}
	switch dst.Kind() {
	case reflect.Struct:
		obj, ok := raw.(map[string]any)
		if !ok {
			return false, notExpecting
		}
		return true, c.object(obj, dst, path)
	case reflect.String:
		s, ok := raw.(string)
		if !ok {
			return false, notExpecting
		}
		dst.SetString(s)
	case reflect.Bool:
		b, ok := raw.(bool)
		if !ok {
			return false, notExpecting
		}
		dst.SetBool(b)
	case reflect.Slice: // bytes
		s, ok := raw.(string)
		if !ok {
			return false, notExpecting
		}
		dst.SetBytes(decodeBase64(s))
	case reflect.Int32, reflect.Int64, reflect.Uint32, reflect.Uint64, reflect.Float32, reflect.Float64:
		if f.enum {
			s, ok := raw.(string)
			if !ok {
				return false, notExpecting
			}
			u, ok := dst.Addr().Interface().(json.Unmarshaler)
			if !ok {
				return false, notExpecting
			}
			q, _ := json.Marshal(s)
			if err := u.UnmarshalJSON(q); err != nil {
				if f.required {
					return false, wireText("Failed to find enum for '" + s + "'")
				}
				return false, nil // unknown names of optional enums are ignored, as by Mesos
			}
			return true, nil
		}
		var num string
		switch n := raw.(type) {
		case json.Number:
			num = n.String()
		case string:
			num = n
		default:
			return false, notExpecting
		}
		switch dst.Kind() {
		case reflect.Float32, reflect.Float64:
			x, err := strconv.ParseFloat(num, 64)
			if err != nil {
				return false, notExpecting
			}
			dst.SetFloat(x)
		case reflect.Int32, reflect.Int64:
			x, err := strconv.ParseInt(num, 10, dst.Type().Bits())
			if err != nil {
				return false, notExpecting
			}
			dst.SetInt(x)
		default:
			x, err := strconv.ParseUint(num, 10, dst.Type().Bits())
			if err != nil {
				return false, notExpecting
			}
			dst.SetUint(x)
		}
	default:
		return false, notExpecting
	}
	return true, nil
}

// marshalJSON writes a generated protobuf struct as compact JSON in the
// shape Mesos sends: fields in declaration order, unset optional fields and
// empty repeated fields left out, enums as names, bytes as base64, doubles
// always with a fraction ("15.0").
func marshalJSON(msg any) ([]byte, error) {
	var b bytes.Buffer
	if err := writeJSONValue(&b, reflect.ValueOf(msg)); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}

func writeJSONValue(b *bytes.Buffer, v reflect.Value) error {
	if v.Kind() == reflect.Pointer {
		if v.IsNil() {
			b.WriteString("null")
			return nil
		}
		v = v.Elem()
	}
	switch v.Kind() {
	case reflect.Struct:
		b.WriteByte('{')
		first := true
		for _, f := range protoFields(v.Type()) {
			fv := v.Field(f.index)
			switch {
			case fv.Kind() == reflect.Pointer && fv.IsNil():
				continue
			case fv.Kind() == reflect.Slice && fv.Len() == 0 && !(f.required && !fv.IsNil()):
				continue // a required bytes field set to "" stays
			case !f.required && fv.Kind() != reflect.Struct && fv.Kind() != reflect.Pointer && fv.IsZero():
				continue // a non-nullable optional field left at its zero value
			}
			if !first {
				b.WriteByte(',')
			}
			first = false
			writeJSONString(b, f.name)
			b.WriteByte(':')
			if f.enum {
				ev := fv
				if ev.Kind() == reflect.Pointer {
					ev = ev.Elem()
				}
				if ev.Kind() == reflect.Slice {
					b.WriteByte('[')
					for i := 0; i < ev.Len(); i++ {
						if i > 0 {
							b.WriteByte(',')
						}
						writeJSONString(b, enumName(ev.Index(i)))
					}
					b.WriteByte(']')
					continue
				}
				writeJSONString(b, enumName(ev))
				continue
			}
			if err := writeJSONValue(b, fv); err != nil {
				return fmt.Errorf("field %s: %w", f.name, err)
			}
		}
		b.WriteByte('}')
	case reflect.Slice:
		if v.Type().Elem().Kind() == reflect.Uint8 {
			writeJSONString(b, base64.StdEncoding.EncodeToString(v.Bytes()))
			return nil
		}
		b.WriteByte('[')
		for i := 0; i < v.Len(); i++ {
			if i > 0 {
				b.WriteByte(',')
			}
			if err := writeJSONValue(b, v.Index(i)); err != nil {
				return err
			}
		}
		b.WriteByte(']')
	case reflect.String:
		writeJSONString(b, v.String())
	case reflect.Bool:
		b.WriteString(strconv.FormatBool(v.Bool()))
	case reflect.Int32, reflect.Int64:
		b.WriteString(strconv.FormatInt(v.Int(), 10))
	case reflect.Uint32, reflect.Uint64:
		b.WriteString(strconv.FormatUint(v.Uint(), 10))
	case reflect.Float32, reflect.Float64:
		b.WriteString(formatDouble(v.Float()))
	default:
		return fmt.Errorf("cannot encode %s as JSON", v.Type())
	}
	return nil
}

func writeJSONString(b *bytes.Buffer, s string) {
	enc := json.NewEncoder(b)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(s)
	b.Truncate(b.Len() - 1) // Encode appends a newline
}

// formatDouble renders a double as Mesos does: always with a fraction.
func formatDouble(f float64) string {
	if math.IsInf(f, 0) || math.IsNaN(f) {
		return "null"
	}
	s := strconv.FormatFloat(f, 'f', -1, 64)
	if !strings.ContainsAny(s, ".eE") {
		s += ".0"
	}
	return s
}

// newUUID returns 16 random bytes shaped as an RFC 4122 version 4 UUID.
func newUUID() []byte {
	u := make([]byte, 16)
	if _, err := rand.Read(u); err != nil {
		panic(fmt.Sprintf("localmesos: crypto/rand failed: %v", err)) // never on Linux
	}
	u[6] = u[6]&0x0f | 0x40
	u[8] = u[8]&0x3f | 0x80
	return u
}

// uuidString formats 16 bytes as a lower-case UUID string.
func uuidString(u []byte) string {
	return fmt.Sprintf("%x-%x-%x-%x-%x", u[0:4], u[4:6], u[6:8], u[8:10], u[10:16])
}

// validUUID reports whether b is a 16-byte, non-nil UUID, as Mesos requires
// of acknowledgements.
func validUUID(b []byte) bool {
	return len(b) == 16 && !bytes.Equal(b, make([]byte, 16))
}

// httpError is an HTTP answer with a plain-text body.
type httpError struct {
	code   int
	body   string
	header map[string]string
}

func (e *httpError) Error() string { return fmt.Sprintf("%d %s", e.code, e.body) }

func badRequest(body string) *httpError { return &httpError{code: http.StatusBadRequest, body: body} }

// write sends the error as Mesos does: text/plain with a Content-Length.
func (e *httpError) write(w http.ResponseWriter) {
	h := w.Header()
	keys := make([]string, 0, len(e.header))
	for k := range e.header {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		h.Set(k, e.header[k])
	}
	if e.code != http.StatusTemporaryRedirect {
		h.Set("Content-Type", "text/plain; charset=utf-8")
	}
	h.Set("Content-Length", strconv.Itoa(len(e.body)))
	w.WriteHeader(e.code)
	_, _ = w.Write([]byte(e.body))
}

// writeAccepted answers 202 with an empty body and no Content-Type.
func writeAccepted(w http.ResponseWriter) {
	w.Header().Set("Content-Length", "0")
	w.WriteHeader(http.StatusAccepted)
}

// stoutDuration formats a duration as Mesos's stout does ("5secs", "15mins").
func stoutDuration(d float64) string {
	units := []struct {
		size float64
		name string
	}{
		{7 * 24 * 3600e9, "weeks"}, {24 * 3600e9, "days"}, {3600e9, "hrs"}, {60e9, "mins"},
		{1e9, "secs"}, {1e6, "ms"}, {1e3, "us"},
	}
	for _, u := range units {
		if d >= u.size {
			return strconv.FormatFloat(d/u.size, 'f', -1, 64) + u.name
		}
	}
	return strconv.FormatFloat(d, 'f', -1, 64) + "ns"
}

// decodeBase64 decodes leniently, as stout does: padding is optional and an
// undecodable value is kept as its raw bytes (validation then rejects it
// where the content matters, as for UUIDs).
func decodeBase64(s string) []byte {
	if b, err := base64.StdEncoding.DecodeString(s); err == nil {
		return b
	}
	if b, err := base64.RawStdEncoding.DecodeString(strings.TrimRight(s, "=")); err == nil {
		return b
	}
	return []byte(s)
}

// enumName is the protobuf name of an enum value, including the names
// Mesos 1.12 sends that mesos-go v0.0.11 lacks.
func enumName(v reflect.Value) string {
	if v.Type() == reflect.TypeOf(capabilityQuotaV2) && v.Int() == int64(capabilityQuotaV2) {
		return "QUOTA_V2"
	}
	return fmt.Sprint(v.Interface())
}

// wireText is an error whose text is a Mesos answer, capitals and all.
type wireText string

func (e wireText) Error() string { return string(e) }

func notExpecting(raw any, field string) error {
	return wireText(fmt.Sprintf("Not expecting a JSON %s for field '%s'", jsonKind(raw), field))
}
