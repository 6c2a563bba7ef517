package memadapter

import (
	"sync/atomic"
	"testing"
	"time"
)

// TestDefaultClockFollowsTheWallClock: a wall clock that was an hour
// behind when the Authorizer was made, then corrected (or a host that
// slept for an hour, which the monotonic clock does not count), is
// followed within reanchorEvery of running time, not for the life of the
// process; and the floor never passes a reading.
func TestDefaultClockFollowsTheWallClock(t *testing.T) {
	var offset atomic.Int64
	offset.Store(int64(-time.Hour))
	wall := func() int64 { return time.Now().UnixNano() + offset.Load() }
	now, floor := systemClock(wall)
	if d := time.Duration(wall() - now()); d < -time.Second || d > time.Second {
		t.Fatalf("clock is %v off the (wrong) wall clock at creation", d)
	}
	offset.Store(0) // the wall clock is corrected
	time.Sleep(2 * reanchorEvery)
	got := now()
	if d := time.Duration(time.Now().UnixNano() - got); d < -time.Second || d > time.Second {
		t.Errorf("after the wall clock was corrected, the clock is %v behind it", d)
	}
	if f := floor.Load(); f > got {
		t.Errorf("floor %d is past the reading %d", f, got)
	}

	// A wall clock stepped back an hour is followed too, and the floor
	// stays where it was (never lowered).
	before := floor.Load()
	offset.Store(int64(-time.Hour))
	time.Sleep(2 * reanchorEvery)
	if d := time.Duration(wall() - now()); d < -time.Second || d > time.Second {
		t.Errorf("after the wall clock stepped back, the clock is %v off it", d)
	}
	if floor.Load() < before {
		t.Errorf("the floor went back from %d to %d", before, floor.Load())
	}
}
