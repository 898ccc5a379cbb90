// Package events is the hub of Horae's live event stream: it turns the
// committed record batches the leader loop publishes (and leadership changes)
// into numbered events and fans them out to subscribers, such as the API's
// GET /api/v1/events.
//
// It must not do I/O, block its publishers, or carry secrets: Apply,
// Reset and Leadership only take a mutex and make non-blocking channel sends,
// so a slow subscriber can never hold up the leader loop, and a job's
// webhook secret is removed before a job enters an event.
//
// Invariant: event IDs increase strictly, and every subscriber receives the
// events matching its filter in ID order, without gaps, until its channel is
// closed. A subscriber whose buffer is full is dropped: it gets one final
// Overflow event and its channel is closed, so it can resubscribe with the
// last ID it saw and resume from the replay ring. A resume that the ring can
// no longer satisfy starts with a Reset event, never with a silent gap.
package events
