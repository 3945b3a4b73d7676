package pro

import (
	"sync"
	"time"
)

// pacer adapts a delay between requests to the server's health, per Jamf's guidance ("adapt the delay
// to response times"): a response much slower than the recent baseline (slowFactor times the moving
// average), a 5xx / 429 / gateway page or a timeout doubles the delay (from step, up to max); a healthy
// response halves it, and below step it drops to zero. The baseline is an exponential moving average of
// all response times, so a server that stays slow becomes the new normal and the delay relaxes.
type pacer struct {
	mu       sync.Mutex
	step     time.Duration
	max      time.Duration
	baseline time.Duration
	samples  int
	cur      time.Duration
}

const (
	slowFactor = 4
	// minSamples before response times are judged against the baseline.
	minSamples = 5
	// slowFloor: responses faster than this are never "slow", whatever the baseline (loopback noise).
	slowFloor = 20 * time.Millisecond
)

func newPacer(step, max time.Duration) *pacer { return &pacer{step: step, max: max} }

func (p *pacer) delay() time.Duration {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.cur
}

func (p *pacer) observe(d time.Duration, failed bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	slow := p.samples >= minSamples && d > slowFloor && d > slowFactor*p.baseline
	if failed || slow {
		p.cur = min(max(2*p.cur, p.step), p.max)
	} else {
		p.cur /= 2
		if p.cur < p.step {
			p.cur = 0
		}
	}
	if failed {
		return // a failure's duration says nothing about normal response times
	}
	if p.samples == 0 {
		p.baseline = d
	} else {
		p.baseline += (d - p.baseline) / 8
	}
	p.samples++
}
