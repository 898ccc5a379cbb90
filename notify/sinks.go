package notify

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"crypto/tls"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"mime/quotedprintable"
	"net"
	"net/http"
	"net/mail"
	"net/smtp"
	"net/textproto"
	"strconv"
	"strings"
	"time"
)

// Sink names, the values of the metrics' sink label.
const (
	SinkWebhook = "webhook"
	SinkSlack   = "slack"
	SinkEmail   = "email"
)

// Headers of webhook deliveries.
const (
	// SignatureHeader carries "sha256=" + hex(HMAC-SHA256(secret, body)).
	SignatureHeader = "X-Horae-Signature"
	// EventHeader carries the notice kind.
	EventHeader = "X-Horae-Event"
	// DeliveryHeader carries the event ID, equal on retries.
	DeliveryHeader = "X-Horae-Delivery"
)

// sink delivers one event in one attempt.
type sink interface {
	name() string
	// accepts reports whether the sink has anything to do for e (e-mail
	// needs recipients).
	accepts(e *event) bool
	send(ctx context.Context, e *event) error
}

// permanentError marks a failure that a retry cannot fix (a 4xx answer, a
// 5xx SMTP reply, a server without STARTTLS).
type permanentError struct{ err error }

func (e *permanentError) Error() string { return e.err.Error() }
func (e *permanentError) Unwrap() error { return e.err }

func permanent(err error) error { return &permanentError{err: err} }

// Sign returns the X-Horae-Signature value of body under secret:
// "sha256=" followed by the lower-case hex HMAC-SHA256.
func Sign(secret, body []byte) string {
	m := hmac.New(sha256.New, secret)
	m.Write(body)
	return "sha256=" + hex.EncodeToString(m.Sum(nil))
}

// Verify reports whether signature (an X-Horae-Signature value) is the
// signature of body under secret, comparing in constant time.
func Verify(secret, body []byte, signature string) bool {
	return hmac.Equal([]byte(signature), []byte(Sign(secret, body)))
}

// maxResponse bounds how much of a receiver's answer is read.
const maxResponse = 64 << 10

// post sends body as JSON and classifies the answer: 2xx is success; 408,
// 429 and 5xx are worth a retry; any other status is permanent.
func post(ctx context.Context, client *http.Client, url string, body []byte, header http.Header) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return permanent(fmt.Errorf("build request: %w", err))
	}
	req.Header = header
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "horae-notify")
	resp, err := client.Do(req)
	if err != nil {
		return fmt.Errorf("post: %w", err)
	}
	defer resp.Body.Close()
	snippet, _ := io.ReadAll(io.LimitReader(resp.Body, maxResponse))
	if resp.StatusCode >= 200 && resp.StatusCode < 300 {
		return nil
	}
	err = fmt.Errorf("receiver answered %s: %s", resp.Status, strings.TrimSpace(string(snippet[:min(len(snippet), 200)])))
	switch {
	case resp.StatusCode == http.StatusTooManyRequests, resp.StatusCode == http.StatusServiceUnavailable:
		if d, ok := parseRetryAfter(resp.Header.Get("Retry-After"), time.Now()); ok {
			return &retryAfterError{err: err, after: d}
		}
		return err
	case resp.StatusCode == http.StatusRequestTimeout, resp.StatusCode >= 500:
		return err
	}
	return permanent(err)
}

// retryAfterError is a retryable failure whose receiver said how long to
// wait (Retry-After).
type retryAfterError struct {
	err   error
	after time.Duration
}

func (e *retryAfterError) Error() string { return e.err.Error() }
func (e *retryAfterError) Unwrap() error { return e.err }

// parseRetryAfter reads a Retry-After value: delay-seconds or an HTTP date
// (RFC 9110 §10.2.3), relative to now.
func parseRetryAfter(v string, now time.Time) (time.Duration, bool) {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0, false
	}
	if secs, err := strconv.ParseInt(v, 10, 64); err == nil {
		if secs < 0 {
			return 0, false
		}
		return time.Duration(min(secs, int64(24*time.Hour/time.Second))) * time.Second, true
	}
	if t, err := http.ParseTime(v); err == nil {
		return max(t.Sub(now), 0), true
	}
	return 0, false
}

// webhook posts the Payload as JSON, signed when a secret is set.
type webhook struct {
	url    string
	secret []byte
	client *http.Client
}

func (w *webhook) name() string        { return SinkWebhook }
func (w *webhook) accepts(*event) bool { return true }

func (w *webhook) send(ctx context.Context, e *event) error {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false) // "Ann <ann@example.com>" stays readable
	if err := enc.Encode(e.payload); err != nil {
		return permanent(fmt.Errorf("encode payload: %w", err))
	}
	body := buf.Bytes()
	h := http.Header{}
	h.Set(EventHeader, string(e.payload.Kind))
	h.Set(DeliveryHeader, e.payload.ID)
	if len(w.secret) > 0 {
		h.Set(SignatureHeader, Sign(w.secret, body))
	}
	return post(ctx, w.client, w.url, body, h)
}

// slack posts {"text": ...} to a Slack-compatible incoming webhook
// (Slack, Mattermost, Rocket.Chat...).
type slack struct {
	url    string
	client *http.Client
}

func (s *slack) name() string        { return SinkSlack }
func (s *slack) accepts(*event) bool { return true }

func (s *slack) send(ctx context.Context, e *event) error {
	// The facts go in a code block so that their columns line up.
	text := slackEscape(e.payload.Subject)
	if t := e.payload.Text; t != "" {
		text += "\n" + slackEscape(t)
	}
	text += "\n```\n" + slackEscape(strings.TrimRight(e.facts(), "\n")) + "\n```"
	body, err := json.Marshal(struct {
		Text string `json:"text"`
	}{text})
	if err != nil {
		return permanent(fmt.Errorf("encode payload: %w", err))
	}
	return post(ctx, s.client, s.url, body, http.Header{})
}

// slackEscape escapes the three characters Slack's message format treats
// as control characters.
func slackEscape(s string) string {
	return strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;").Replace(s)
}

// email sends one message per event to all the job's owners.
type email struct {
	addr, host   string
	from         string // bare address, for MAIL FROM
	fromHeader   string // as configured, for the From header
	user, pass   string
	startTLS     bool
	tlsConfig    *tls.Config
	helo         string
	now          func() time.Time
	logger       *slog.Logger
	dialer       net.Dialer
	messageIDDom string
}

func (m *email) name() string          { return SinkEmail }
func (m *email) accepts(e *event) bool { return len(e.payload.Owners) > 0 }

func (m *email) send(ctx context.Context, e *event) (err error) {
	conn, err := m.dialer.DialContext(ctx, "tcp", m.addr)
	if err != nil {
		return fmt.Errorf("dial %s: %w", m.addr, err)
	}
	// The SMTP client has no context: the deadline and cancellation reach
	// it through the connection.
	if d, ok := ctx.Deadline(); ok {
		_ = conn.SetDeadline(d)
	}
	stop := context.AfterFunc(ctx, func() { _ = conn.SetDeadline(time.Unix(1, 0)) })
	defer stop()
	c, err := smtp.NewClient(conn, m.host)
	if err != nil {
		conn.Close()
		return classifySMTP("greeting", err)
	}
	defer c.Close()
	if err := c.Hello(m.helo); err != nil {
		return classifySMTP("EHLO", err)
	}
	if m.startTLS {
		if ok, _ := c.Extension("STARTTLS"); !ok {
			return permanent(fmt.Errorf("server %s does not offer STARTTLS", m.addr))
		}
		cfg := m.tlsConfig.Clone()
		if cfg.ServerName == "" {
			cfg.ServerName = m.host
		}
		if err := c.StartTLS(cfg); err != nil {
			return classifySMTP("STARTTLS", err)
		}
	}
	if m.user != "" {
		if ok, _ := c.Extension("AUTH"); !ok {
			return permanent(fmt.Errorf("server %s does not offer AUTH", m.addr))
		}
		if err := c.Auth(smtp.PlainAuth("", m.user, m.pass, m.host)); err != nil {
			return classifySMTP("AUTH", err)
		}
	}
	if err := c.Mail(m.from); err != nil {
		return classifySMTP("MAIL FROM", err)
	}
	var accepted []string
	var rcptErr error
	for _, to := range e.payload.Owners {
		if err := c.Rcpt(to); err != nil {
			rcptErr = classifySMTP("RCPT TO "+to, err)
			m.logger.Warn("notification recipient refused", "job", e.payload.Job.Name, "sink", SinkEmail, "to", to, "err", err)
			continue
		}
		accepted = append(accepted, to)
	}
	if len(accepted) == 0 {
		return rcptErr
	}
	w, err := c.Data()
	if err != nil {
		return classifySMTP("DATA", err)
	}
	if _, err := w.Write(m.message(e)); err != nil {
		return classifySMTP("DATA", err)
	}
	if err := w.Close(); err != nil {
		return classifySMTP("end of DATA", err)
	}
	// The message is accepted; a failed QUIT does not make it unsent.
	_ = c.Quit()
	return nil
}

// classifySMTP wraps err with the step that failed; 5xx replies are
// permanent, 4xx replies and connection errors are worth a retry.
func classifySMTP(step string, err error) error {
	err = fmt.Errorf("smtp %s: %w", step, err)
	var tp *textproto.Error
	if errors.As(err, &tp) && tp.Code >= 500 {
		return permanent(err)
	}
	return err
}

// message renders the RFC 5322 message of e, with CRLF line ends.
func (m *email) message(e *event) []byte {
	p := e.payload
	to := make([]string, len(p.Owners))
	for i, a := range p.Owners {
		to[i] = (&mail.Address{Address: a}).String()
	}
	var b bytes.Buffer
	header := func(k, v string) { fmt.Fprintf(&b, "%s: %s\r\n", k, v) }
	header("From", m.fromHeader)
	header("To", strings.Join(to, ", "))
	header("Subject", mime.QEncoding.Encode("utf-8", p.Subject))
	header("Date", m.now().UTC().Format(time.RFC1123Z))
	header("Message-ID", "<"+p.ID+"@"+m.messageIDDom+">")
	header("MIME-Version", "1.0")
	header("Content-Type", "text/plain; charset=utf-8")
	header("Content-Transfer-Encoding", "quoted-printable")
	header("Auto-Submitted", "auto-generated")
	header("X-Horae-Event", oneLine(string(p.Kind)))
	header("X-Horae-Job", mime.QEncoding.Encode("utf-8", oneLine(p.Job.Name)))
	b.WriteString("\r\n")
	qp := quotedprintable.NewWriter(&b)
	body := strings.ReplaceAll(e.body(), "\r\n", "\n")
	_, _ = qp.Write([]byte(strings.ReplaceAll(body, "\n", "\r\n")))
	_ = qp.Close()
	return b.Bytes()
}
