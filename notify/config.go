package notify

import (
	"errors"
	"fmt"
	"net"
	"net/mail"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Defaults applied by New to zero fields of Config.
const (
	DefaultQueueSize    = 1024
	DefaultWorkers      = 2
	DefaultMaxAttempts  = 5
	DefaultRetryBase    = time.Second
	DefaultRetryMax     = time.Minute
	DefaultTimeout      = 10 * time.Second
	DefaultDrainTimeout = 10 * time.Second
)

// Config says where notifications go and how hard to try. A sink is on when
// its address is set; with no sink at all the Notifier accepts and discards.
type Config struct {
	// ClusterName, when set, prefixes subjects and messages: "[prod] ...".
	ClusterName string

	// WebhookURL receives a JSON POST per event (see Payload).
	WebhookURL string
	// WebhookSecret, when set, signs the webhook body: the header
	// X-Horae-Signature carries "sha256=" + hex(HMAC-SHA256(secret, body)).
	WebhookSecret string

	// SlackURL is a Slack-compatible incoming webhook ({"text": ...}).
	SlackURL string

	// SMTPAddr (host:port) turns e-mail on; SMTPFrom is then required.
	SMTPAddr string
	SMTPFrom string
	// SMTPUser and SMTPPassword authenticate with AUTH PLAIN. Credentials
	// are only sent over TLS (SMTPStartTLS) or to a loopback server.
	SMTPUser     string
	SMTPPassword string
	// SMTPStartTLS requires STARTTLS before anything else is sent.
	SMTPStartTLS bool

	// QueueSize bounds each sink's queue; when full, the oldest delivery
	// is dropped. Default DefaultQueueSize.
	QueueSize int
	// Workers is the number of concurrent deliveries per sink. Default
	// DefaultWorkers.
	Workers int
	// MaxAttempts bounds the tries of one delivery (1 = no retry). Default
	// DefaultMaxAttempts.
	MaxAttempts int
	// RetryBase is the wait before the first retry; it doubles per attempt
	// up to RetryMax. Defaults DefaultRetryBase, DefaultRetryMax.
	RetryBase time.Duration
	RetryMax  time.Duration
	// Timeout bounds one attempt. Default DefaultTimeout.
	Timeout time.Duration
	// DrainTimeout bounds how long Run keeps delivering what is queued
	// after its context ended. Default DefaultDrainTimeout.
	DrainTimeout time.Duration
}

// Validate reports every problem of the configuration, each naming the
// setting at fault.
func (c Config) Validate() error {
	var errs []error
	bad := func(setting, format string, args ...any) {
		errs = append(errs, fmt.Errorf("notify: %s: %s", setting, fmt.Sprintf(format, args...)))
	}
	checkURL := func(setting, raw string) {
		if raw == "" {
			return
		}
		u, err := url.Parse(raw)
		switch {
		case err != nil:
			bad(setting, "%q is not a URL: %v", raw, err)
		case u.Scheme != "http" && u.Scheme != "https":
			bad(setting, "%q: scheme must be http or https", raw)
		case u.Host == "":
			bad(setting, "%q: no host", raw)
		}
	}
	checkURL("webhook URL", c.WebhookURL)
	checkURL("Slack URL", c.SlackURL)
	if c.WebhookSecret != "" && c.WebhookURL == "" {
		bad("webhook secret", "set without a webhook URL")
	}

	if c.SMTPAddr == "" {
		for setting, v := range map[string]bool{
			"SMTP from": c.SMTPFrom != "", "SMTP user": c.SMTPUser != "",
			"SMTP password": c.SMTPPassword != "", "SMTP STARTTLS": c.SMTPStartTLS,
		} {
			if v {
				bad(setting, "set without an SMTP address")
			}
		}
	} else {
		host, port, err := net.SplitHostPort(c.SMTPAddr)
		if err != nil {
			bad("SMTP address", "%q is not host:port: %v", c.SMTPAddr, err)
		} else {
			if host == "" {
				bad("SMTP address", "%q: no host", c.SMTPAddr)
			}
			if p, err := strconv.Atoi(port); err != nil || p < 1 || p > 65535 {
				bad("SMTP address", "%q: port must be 1-65535", c.SMTPAddr)
			}
			if c.SMTPUser != "" && !c.SMTPStartTLS && !isLoopback(host) {
				bad("SMTP user", "credentials would cross the network in clear: turn on STARTTLS")
			}
		}
		if c.SMTPFrom == "" {
			bad("SMTP from", "required when an SMTP address is set")
		} else if _, err := mail.ParseAddress(c.SMTPFrom); err != nil {
			bad("SMTP from", "%q is not an e-mail address: %v", c.SMTPFrom, err)
		}
		if c.SMTPPassword != "" && c.SMTPUser == "" {
			bad("SMTP password", "set without an SMTP user")
		}
	}
	if strings.ContainsAny(c.ClusterName, "\r\n") {
		bad("cluster name", "must be one line")
	}
	for setting, v := range map[string]int{"queue size": c.QueueSize, "workers": c.Workers, "max attempts": c.MaxAttempts} {
		if v < 0 {
			bad(setting, "%d is negative", v)
		}
	}
	for setting, v := range map[string]time.Duration{
		"retry base": c.RetryBase, "retry max": c.RetryMax, "timeout": c.Timeout, "drain timeout": c.DrainTimeout,
	} {
		if v < 0 {
			bad(setting, "%v is negative", v)
		}
	}
	if c.RetryBase > 0 && c.RetryMax > 0 && c.RetryMax < c.RetryBase {
		bad("retry max", "%v is below retry base %v", c.RetryMax, c.RetryBase)
	}
	// Map iteration order must not reorder the messages.
	slices.SortFunc(errs, func(a, b error) int { return strings.Compare(a.Error(), b.Error()) })
	return errors.Join(errs...)
}

func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// withDefaults fills zero fields.
func (c Config) withDefaults() Config {
	if c.QueueSize == 0 {
		c.QueueSize = DefaultQueueSize
	}
	if c.Workers == 0 {
		c.Workers = DefaultWorkers
	}
	if c.MaxAttempts == 0 {
		c.MaxAttempts = DefaultMaxAttempts
	}
	if c.RetryBase == 0 {
		c.RetryBase = DefaultRetryBase
	}
	if c.RetryMax == 0 {
		c.RetryMax = max(DefaultRetryMax, c.RetryBase)
	}
	if c.Timeout == 0 {
		c.Timeout = DefaultTimeout
	}
	if c.DrainTimeout == 0 {
		c.DrainTimeout = DefaultDrainTimeout
	}
	return c
}
