package clock

import (
	"sync"
	"testing"
	"time"
)

func TestFakeClockMovesOnlyWhenTold(t *testing.T) {
	start := time.Date(2026, 3, 10, 9, 40, 0, 0, time.UTC)
	c := NewFake(start)
	var clk Clock = c
	if got := clk.Now(); !got.Equal(start) {
		t.Fatalf("Now() = %v, want %v", got, start)
	}
	if got := c.Step(90 * time.Minute); !got.Equal(start.Add(90*time.Minute)) || !c.Now().Equal(got) {
		t.Fatalf("Step returned %v, Now %v; want both %v", got, c.Now(), start.Add(90*time.Minute))
	}
	earlier := start.Add(-time.Hour)
	c.Set(earlier)
	if got := c.Now(); !got.Equal(earlier) {
		t.Fatalf("after Set, Now() = %v, want %v", got, earlier)
	}
}

func TestFakeClockIsSafeForConcurrentUse(t *testing.T) {
	start := time.Date(2026, 3, 10, 9, 40, 0, 0, time.UTC)
	c := NewFake(start)
	var wg sync.WaitGroup
	for range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 100 {
				c.Step(time.Minute)
				_ = c.Now()
			}
		}()
	}
	wg.Wait()
	if got, want := c.Now(), start.Add(200*time.Minute); !got.Equal(want) {
		t.Fatalf("after 200 concurrent steps Now() = %v, want %v", got, want)
	}
}
