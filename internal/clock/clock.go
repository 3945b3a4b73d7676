// Package clock is the time source controllers, clients and simulators are given, so tests can
// drive time by hand instead of sleeping.
package clock

import (
	"sync"
	"time"
)

// Clock tells the time. Controllers hold a Clock so tests can drive time by hand.
type Clock interface {
	Now() time.Time
}

// Real is the wall clock of the machine.
type Real struct{}

// Now returns time.Now().
func (Real) Now() time.Time { return time.Now() }

// Fake is a Clock that only moves when told to. It is safe for concurrent use.
type Fake struct {
	mu  sync.Mutex
	now time.Time
}

// NewFake returns a Fake reading now.
func NewFake(now time.Time) *Fake { return &Fake{now: now} }

// Now returns the time the clock was last set to.
func (c *Fake) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

// Set moves the clock to t (backwards too, to simulate clock skew).
func (c *Fake) Set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = t
}

// Step moves the clock forward by d and returns the new time.
func (c *Fake) Step(d time.Duration) time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
	return c.now
}
