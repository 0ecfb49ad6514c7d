package scenarios

import (
	"context"
	"sync"
	"time"

	"k8s.io/utils/clock"
	clocktesting "k8s.io/utils/clock/testing"
)

// jumpClock is the manager's view of the fake clock: every wait returns at
// once after moving the shared fake clock forward by its length, so a
// poll or a backoff inside one issuance costs no wall time. When the fake
// time passes the armed deadline, the armed cancel ends the attempt.
// Safe for concurrent use.
type jumpClock struct {
	*clocktesting.FakeClock

	mu       sync.Mutex
	deadline time.Time
	cancel   context.CancelFunc
}

var _ clock.Clock = (*jumpClock)(nil)

// arm sets the attempt's deadline on the fake clock.
func (j *jumpClock) arm(deadline time.Time, cancel context.CancelFunc) {
	j.mu.Lock()
	j.deadline, j.cancel = deadline, cancel
	j.mu.Unlock()
}

// disarm clears the deadline.
func (j *jumpClock) disarm() { j.arm(time.Time{}, nil) }

// jump moves the fake clock forward by d and fires the deadline if passed.
func (j *jumpClock) jump(d time.Duration) time.Time {
	if d > 0 {
		j.Step(d)
	}
	now := j.Now()
	j.mu.Lock()
	if j.cancel != nil && !now.Before(j.deadline) {
		j.cancel()
	}
	j.mu.Unlock()
	return now
}

// After jumps d and returns a fired channel.
func (j *jumpClock) After(d time.Duration) <-chan time.Time {
	ch := make(chan time.Time, 1)
	ch <- j.jump(d)
	return ch
}

// NewTimer jumps d and returns a fired timer.
func (j *jumpClock) NewTimer(d time.Duration) clock.Timer {
	return &firedTimer{c: j.After(d)}
}

// Sleep jumps d.
func (j *jumpClock) Sleep(d time.Duration) { j.jump(d) }

// firedTimer is a timer that has already fired.
type firedTimer struct{ c <-chan time.Time }

func (t *firedTimer) C() <-chan time.Time        { return t.c }
func (t *firedTimer) Stop() bool                 { return false }
func (t *firedTimer) Reset(d time.Duration) bool { return false }
