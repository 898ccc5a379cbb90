// Package notify tells people and other systems about what happened to
// jobs: it takes the engine's notices (scheduler.Notice) from the leader
// loop and delivers each of them, once per configured sink, to a generic
// JSON webhook (optionally HMAC-SHA256 signed), a Slack-compatible incoming
// webhook, and e-mail over SMTP addressed to all of the job's owners in one
// message.
//
// Notify only enqueues: it never blocks the caller (the leader loop). Each
// sink has its own bounded queue and workers, so a stuck sink delays only
// itself; when a queue is full its oldest delivery is dropped and counted.
// Deliveries are retried with exponential backoff for a bounded number of
// attempts; every outcome is visible in the horae_notification* metrics.
//
// What it must not do: block the scheduler, decide what happened (the
// engine does; this package only filters by the job's notify list, which
// makes filtering twice harmless), send an event once per owner (Chronos
// sent one message per owner address per sink, so Slack and HTTP receivers
// got duplicates for multi-owner jobs), send secrets (the job's webhook
// secret and environment values are redacted), or only log failures (Chronos
// did; here they are counted).
//
// Invariant: an event is enqueued at most once per sink (a bounded memory
// of recent events drops repeats), and every delivery ends as exactly one of
// sent, failed or dropped in the metrics. A retry after an attempt whose
// answer was lost may repeat a delivery; it carries the same delivery ID
// (webhooks) or Message-ID (e-mail), so receivers can tell.
package notify
