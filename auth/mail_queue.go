package auth

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"
)

// Defaults of the mail queue.
const (
	// MailQueueSize is how many messages may wait for delivery; past it,
	// Enqueue drops the message rather than hold up a request.
	MailQueueSize = 256
	// mailWorkers deliver at once, so one message waiting out its back-off
	// or a slow server does not hold up every other one.
	mailWorkers = 2
	// mailStopGrace is how long Close waits, after its deadline, for the
	// deliveries it cancelled to return, before it gives up on them.
	mailStopGrace = 200 * time.Millisecond
)

// MailQueue delivers messages in the background, off the request path: a
// request that sends mail only enqueues it and never waits for a mail
// server. A failed delivery is retried a few times with back-off; one that
// still fails is logged and given up, and the token it carried stays valid
// (the user can ask again).
//
// Nothing the queue logs holds a message's link or body, which carry
// tokens: only the recipient, the subject, the attempt and the error.
type MailQueue struct {
	mailer  Mailer
	log     *slog.Logger
	backoff []time.Duration // the wait before retry i; len(backoff)+1 attempts

	// ctx is given to every Send; Close cancels it when its own deadline
	// passes, which interrupts deliveries under way.
	ctx    context.Context
	cancel context.CancelFunc

	queue   chan Message
	closing chan struct{} // closed by Close
	done    chan struct{} // closed when every worker has returned

	mu       sync.Mutex
	closed   bool
	deadline time.Time // Close's deadline; zero if it had none
	inflight map[int]Message
}

// NewMailQueue returns a queue delivering through m and starts its workers.
// It holds up to MailQueueSize messages and makes three attempts per
// message, 1 s and then 4 s apart.
func NewMailQueue(m Mailer, log *slog.Logger) *MailQueue {
	return newMailQueue(m, log, MailQueueSize, mailWorkers, []time.Duration{1 * time.Second, 4 * time.Second})
}

// newMailQueue is NewMailQueue with its sizes and waits; tests shorten them.
func newMailQueue(m Mailer, log *slog.Logger, size, workers int, backoff []time.Duration) *MailQueue {
	ctx, cancel := context.WithCancel(context.Background())
	q := &MailQueue{
		mailer:   m,
		log:      log,
		backoff:  backoff,
		ctx:      ctx,
		cancel:   cancel,
		queue:    make(chan Message, size),
		closing:  make(chan struct{}),
		done:     make(chan struct{}),
		inflight: make(map[int]Message),
	}
	var wg sync.WaitGroup
	for i := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			q.work(i)
		}()
	}
	go func() {
		wg.Wait()
		close(q.done)
	}()
	return q
}

// Enqueue hands m to the queue and reports whether it was taken. It never
// blocks: when the queue is full or closed, m is dropped, logged (without
// its link) and Enqueue returns false.
func (q *MailQueue) Enqueue(m Message) bool {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.closed {
		q.log.Error("mail dropped: the mail queue is closed", "to", m.To, "subject", m.Subject)
		return false
	}
	select {
	case q.queue <- m:
		return true
	default:
		q.log.Error("mail dropped: the mail queue is full", "to", m.To, "subject", m.Subject, "size", cap(q.queue))
		return false
	}
}

// Close stops taking messages and delivers those already queued until ctx
// ends; back-off waits that would outlive ctx are not waited out. Each
// message still unsent then is logged with its recipient and subject. Close
// returns ctx.Err() if ctx ended before everything was delivered or given
// up, nil otherwise.
func (q *MailQueue) Close(ctx context.Context) error {
	q.mu.Lock()
	if !q.closed {
		q.closed = true
		q.deadline, _ = ctx.Deadline()
		close(q.closing)
		close(q.queue)
	}
	q.mu.Unlock()

	select {
	case <-q.done:
		return nil
	case <-ctx.Done():
	}
	q.cancel()
	// The workers, seeing the cancellation, log what they take without
	// trying it; Close drains the rest itself so that it need not wait.
	for m := range q.queue {
		q.unsent(m, "the shutdown deadline passed")
	}
	select {
	case <-q.done:
	case <-time.After(mailStopGrace):
		q.mu.Lock()
		for _, m := range q.inflight {
			q.unsent(m, "its delivery did not stop when cancelled")
		}
		q.mu.Unlock()
	}
	return ctx.Err()
}

// work delivers messages until the queue is closed and empty.
func (q *MailQueue) work(id int) {
	for m := range q.queue {
		q.mu.Lock()
		q.inflight[id] = m
		q.mu.Unlock()

		q.deliver(m)

		q.mu.Lock()
		delete(q.inflight, id)
		q.mu.Unlock()
	}
}

// deliver makes up to len(q.backoff)+1 attempts at m.
func (q *MailQueue) deliver(m Message) {
	defer func() {
		// A mailer's bug must not take the whole process down with it.
		if p := recover(); p != nil {
			q.log.Error("mail not delivered: the mailer panicked", "to", m.To, "subject", m.Subject, "panic", fmt.Sprint(p))
		}
	}()
	for attempt := 1; ; attempt++ {
		if q.ctx.Err() != nil {
			q.unsent(m, "the shutdown deadline passed")
			return
		}
		err := q.mailer.Send(q.ctx, m)
		if err == nil {
			q.log.Info("mail sent", "to", m.To, "subject", m.Subject, "attempt", attempt)
			return
		}
		if q.ctx.Err() != nil {
			q.unsent(m, "the shutdown deadline passed")
			return
		}
		q.log.Warn("mail delivery failed", "to", m.To, "subject", m.Subject, "attempt", attempt, "err", q.errText(err, m))
		switch {
		case mailPermanent(err):
			q.log.Error("mail not delivered: the error is permanent", "to", m.To, "subject", m.Subject, "attempts", attempt)
			return
		case attempt > len(q.backoff):
			q.log.Error("mail not delivered: no attempts left", "to", m.To, "subject", m.Subject, "attempts", attempt)
			return
		case !q.wait(q.backoff[attempt-1]):
			q.unsent(m, "the shutdown deadline falls within its back-off")
			return
		}
	}
}

// wait sleeps for d before a retry and reports whether to go on: false when
// the queue is cancelled, or is closing with a deadline before d is up.
func (q *MailQueue) wait(d time.Duration) bool {
	end := time.Now().Add(d)
	t := time.NewTimer(d)
	defer t.Stop()
	closing := q.closing
	for {
		select {
		case <-t.C:
			return true
		case <-q.ctx.Done():
			return false
		case <-closing:
			closing = nil // looked at once
			q.mu.Lock()
			deadline := q.deadline
			q.mu.Unlock()
			if !deadline.IsZero() && end.After(deadline) {
				return false
			}
		}
	}
}

// unsent logs a message given up at shutdown.
func (q *MailQueue) unsent(m Message, why string) {
	q.log.Error("mail unsent at shutdown", "to", m.To, "subject", m.Subject, "reason", why)
}

// errText is err's text for the log. Mailers keep message content out of
// their errors; should one not, the link (which holds a token) is cut out
// here all the same.
func (q *MailQueue) errText(err error, m Message) string {
	s := err.Error()
	if m.Link != "" {
		s = strings.ReplaceAll(s, m.Link, "[link]")
	}
	return s
}
