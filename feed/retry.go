package feed

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// patience bounds how long EnsureStream and LastTicks ride out transient
// errors (a cluster electing a leader, a server restarting) before they
// give up.
const patience = 30 * time.Second

// transientCodes are the JetStream API error codes (nats-server's
// server/errors.json) that say "not now" rather than "never": the
// cluster or the stream is between leaders, or busy.
var transientCodes = map[jetstream.ErrorCode]bool{
	10004: true, // JSClusterIncompleteErr: incomplete results
	10005: true, // JSClusterNoPeersErrF: no suitable peers (some are down)
	10007: true, // JSClusterNotAssignedErr
	10008: true, // JSClusterNotAvailErr: JetStream system temporarily unavailable
	10009: true, // JSClusterNotLeaderErr
	10014: true, // JSConsumerNotFoundErr: an ordered consumer lost mid-read
	10041: true, // JSRaftGeneralErrF
	10058: true, // JSStreamNameExistErr: created concurrently; the next try updates it
	10075: true, // JSPeerRemapErr
	10076: true, // JSNotEnabledErr: also what no JetStream responders look like
	10118: true, // JSStreamOfflineErr
	10119: true, // JSConsumerOfflineErr
	10167: true, // JSStreamTooManyRequests
	10194: true, // JSStreamOfflineReasonErrF
	10195: true, // JSConsumerOfflineReasonErrF
}

// transientErrs are client-side errors that pass by themselves: no
// answer in time, no responders, a connection being re-established, a
// consumer lost to a leader change.
var transientErrs = []error{
	context.DeadlineExceeded, // an attempt's own timeout; the caller's ctx is checked apart
	nats.ErrTimeout,
	nats.ErrNoResponders,
	nats.ErrDisconnected,
	nats.ErrConnectionReconnecting,
	jetstream.ErrNoStreamResponse,
	jetstream.ErrNoHeartbeat,
	jetstream.ErrServerShutdown,
	jetstream.ErrConsumerDeleted,
	jetstream.ErrConsumerLeadershipChanged,
	jetstream.ErrOrderedConsumerReset,
}

// transient reports whether err may go away if the call is repeated.
// JetStream API errors are judged by their error code, never by text;
// anything not known to be transient is permanent.
func transient(err error) bool {
	if api, ok := errors.AsType[*jetstream.APIError](err); ok {
		return transientCodes[api.ErrorCode]
	}
	for _, t := range transientErrs {
		if errors.Is(err, t) {
			return true
		}
	}
	return false
}

// retry calls fn, each time with a context that ends after attempt,
// until it succeeds, fails with a permanent error, ctx ends or patience
// is spent, backing off between tries. It logs nothing and returns the
// last error.
func retry(ctx context.Context, attempt time.Duration, fn func(context.Context) error) error {
	deadline := time.Now().Add(patience)
	backoff := 100 * time.Millisecond
	for {
		actx, cancel := context.WithTimeout(ctx, attempt)
		err := fn(actx)
		cancel()
		if err == nil || !transient(err) || ctx.Err() != nil {
			return err
		}
		wait := time.Until(deadline)
		if wait <= 0 {
			return fmt.Errorf("%w (still failing after %s)", err, patience)
		}
		select {
		case <-ctx.Done():
			return err
		case <-time.After(min(backoff, wait)):
		}
		backoff = min(2*backoff, 2*time.Second)
	}
}
