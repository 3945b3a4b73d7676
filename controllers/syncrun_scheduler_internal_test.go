package controllers

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	gosync "sync"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/types"

	dsv1 "github.com/k12dev/devicesync-operator/api/v1alpha1"
)

func runKey(name string) types.NamespacedName {
	return types.NamespacedName{Namespace: "d", Name: name}
}

func keyNames(keys []types.NamespacedName) []string {
	var out []string
	for _, k := range keys {
		out = append(out, k.Name)
	}
	return out
}

// TestRunSchedulerOrder: which waiting run executes next.
func TestRunSchedulerOrder(t *testing.T) {
	type admit struct {
		name string
		cost int64
		at   time.Duration // after the first admission
	}
	for _, tc := range []struct {
		name  string
		admit []admit
		now   time.Duration // when the next run is chosen, after the first admission
		want  []string
	}{
		{name: "a small district's run admitted after large ones goes first",
			admit: []admit{{"large-1", 10000, 0}, {"large-2", 10000, 0}, {"small", 500, time.Second}},
			now:   2 * time.Second, want: []string{"small", "large-1", "large-2"}},
		{name: "runs of equal cost go in the order they came",
			admit: []admit{{"b", 700, 0}, {"a", 700, time.Second}, {"c", 700, 2 * time.Second}},
			now:   3 * time.Second, want: []string{"b", "a", "c"}},
		{name: "a run that waited the aging goes before a smaller one",
			admit: []admit{{"large", 50000, 0}, {"small", 500, 9 * time.Minute}},
			now:   10 * time.Minute, want: []string{"large", "small"}},
		{name: "a run one moment short of the aging still goes after a smaller one",
			admit: []admit{{"large", 50000, 0}, {"small", 500, 9 * time.Minute}},
			now:   10*time.Minute - time.Nanosecond, want: []string{"small", "large"}},
		{name: "aged runs go in the order they came, whatever their cost",
			admit: []admit{{"huge", 90000, 0}, {"large", 10000, time.Minute}, {"small", 500, 12 * time.Minute}},
			now:   12 * time.Minute, want: []string{"huge", "large", "small"}},
		{name: "a run admitted again keeps its place in time and takes its new cost",
			admit: []admit{{"a", 10000, 0}, {"b", 5000, time.Second}, {"a", 100, 2 * time.Second}},
			now:   3 * time.Second, want: []string{"a", "b"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t0 := time.Date(2026, 11, 30, 6, 0, 0, 0, time.UTC)
			now := t0
			s := newRunScheduler(1, 10*time.Minute, 0, nil, nil)
			s.now = func() time.Time { return now }
			for _, a := range tc.admit {
				now = t0.Add(a.at)
				s.admit(runKey(a.name), a.cost)
			}
			now = t0.Add(tc.now)
			if got := keyNames(s.queued()); !slices.Equal(got, tc.want) {
				t.Errorf("order %v, want %v", got, tc.want)
			}
		})
	}
}

// fakeExecutions are executions that end when the test says so.
type fakeExecutions struct {
	mu      gosync.Mutex
	started []string
	end     map[string]chan struct{}
	ran     chan string
}

func newFakeExecutions() *fakeExecutions {
	return &fakeExecutions{end: map[string]chan struct{}{}, ran: make(chan string, 100)}
}

func (f *fakeExecutions) endOf(name string) chan struct{} {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.end[name] == nil {
		f.end[name] = make(chan struct{})
	}
	return f.end[name]
}

func (f *fakeExecutions) execute(ctx context.Context, key types.NamespacedName) {
	f.mu.Lock()
	f.started = append(f.started, key.Name)
	f.mu.Unlock()
	f.ran <- key.Name
	select {
	case <-f.endOf(key.Name):
	case <-ctx.Done():
	}
}

func waitStarted(t *testing.T, f *fakeExecutions, want string) {
	t.Helper()
	select {
	case got := <-f.ran:
		if got != want {
			t.Fatalf("%s started, want %s", got, want)
		}
	case <-time.After(5 * time.Second):
		t.Fatalf("%s did not start", want)
	}
}

// noneStarted fails when a run starts within 50 ms: one that should wait, named in the message by why.
func noneStarted(t *testing.T, f *fakeExecutions, why string) {
	t.Helper()
	select {
	case name := <-f.ran:
		t.Fatalf("%s started %s", name, why)
	case <-time.After(50 * time.Millisecond):
	}
}

func startScheduler(t *testing.T, s *runScheduler) (stop func()) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Start(ctx) }()
	var once gosync.Once
	stop = func() {
		once.Do(func() {
			cancel()
			select {
			case <-done:
			case <-time.After(5 * time.Second):
				t.Error("the scheduler did not stop")
			}
		})
	}
	t.Cleanup(stop)
	return stop
}

func TestRunSchedulerExecutesAtMostItsSlotsAtOnceAndTheSmallestWaitingRunNext(t *testing.T) {
	f := newFakeExecutions()
	s := newRunScheduler(2, time.Hour, 0, f.execute, nil)
	startScheduler(t, s)
	for i := range 4 {
		s.admit(runKey(fmt.Sprintf("large-%d", i)), 10000)
	}
	first := []string{<-f.ran, <-f.ran} // the two slots start together, in either order
	slices.Sort(first)
	if !slices.Equal(first, []string{"large-0", "large-1"}) {
		t.Fatalf("started %v first, want large-0 and large-1", first)
	}
	s.admit(runKey("small"), 500)
	noneStarted(t, f, "while both slots were taken")
	if got := keyNames(s.executing()); !slices.Equal(got, []string{"large-0", "large-1"}) {
		t.Fatalf("executing %v, want large-0 and large-1", got)
	}
	close(f.endOf("large-1"))
	waitStarted(t, f, "small")
	close(f.endOf("small"))
	waitStarted(t, f, "large-2")
}

func TestRunSchedulerStartsASmallRunInTheExpressSlotWhenEverySlotHoldsALargeOne(t *testing.T) {
	f := newFakeExecutions()
	s := newRunScheduler(1, time.Hour, 2000, f.execute, nil)
	startScheduler(t, s)
	s.admit(runKey("large-0"), 10000)
	waitStarted(t, f, "large-0")
	s.admit(runKey("large-1"), 10000)
	s.admit(runKey("small-a"), 500)
	waitStarted(t, f, "small-a") // the only slot is taken: the express slot takes it at once
	s.admit(runKey("small-b"), 2000)
	s.admit(runKey("medium"), 2001)
	noneStarted(t, f, "while the slot and the express slot were taken")
	close(f.endOf("small-a"))
	waitStarted(t, f, "small-b") // the express slot takes one small run at a time
	close(f.endOf("large-0"))
	waitStarted(t, f, "medium") // a slot takes the smallest waiting run, too large for the express slot
	close(f.endOf("small-b"))
	noneStarted(t, f, "in the express slot, which takes only runs of at most 2000 items")
	close(f.endOf("medium"))
	waitStarted(t, f, "large-1")
}

func TestRunSchedulerLooksAgainAtARunAdmittedWhileItExecuted(t *testing.T) {
	f := newFakeExecutions()
	again := make(chan string, 10)
	s := newRunScheduler(1, time.Hour, 0, f.execute, func(k types.NamespacedName) { again <- k.Name })
	startScheduler(t, s)
	if s.againIfExecuting(runKey("r")) || len(s.queued()) > 0 {
		t.Fatal("againIfExecuting: a run that does not execute is neither executing nor admitted by it")
	}
	s.admit(runKey("r"), 100)
	waitStarted(t, f, "r")
	if !s.againIfExecuting(runKey("r")) { // its own status write, seen by the controller
		t.Fatal("againIfExecuting: r is not executing")
	}
	s.admit(runKey("r"), 100)
	noneStarted(t, f, "a second time while it executed")
	close(f.endOf("r"))
	select {
	case got := <-again:
		if got != "r" {
			t.Fatalf("looked again at %s, want r", got)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the run admitted while it executed was not looked at again")
	}
	select {
	case got := <-again:
		t.Fatalf("looked again at %s a second time", got)
	case <-time.After(50 * time.Millisecond):
	}
}

func TestRunSchedulerDoesNotExecuteADroppedRun(t *testing.T) {
	f := newFakeExecutions()
	s := newRunScheduler(1, time.Hour, 0, f.execute, nil)
	startScheduler(t, s)
	s.admit(runKey("first"), 100)
	waitStarted(t, f, "first")
	s.admit(runKey("deleted"), 1)
	s.admit(runKey("next"), 100)
	s.drop(runKey("deleted"))
	close(f.endOf("first"))
	waitStarted(t, f, "next")
}

func TestRunSchedulerStopsOnlyOnceItsExecutionsReturned(t *testing.T) {
	var returned gosync.WaitGroup
	returned.Add(1)
	var ended bool
	s := newRunScheduler(1, time.Hour, 0, func(ctx context.Context, _ types.NamespacedName) {
		<-ctx.Done()
		time.Sleep(20 * time.Millisecond) // leaves the run Running, gives its lease back
		ended = true
		returned.Done()
	}, nil)
	stop := startScheduler(t, s)
	s.admit(runKey("r"), 1)
	for len(s.executing()) == 0 {
		time.Sleep(time.Millisecond)
	}
	stop()
	if !ended {
		t.Fatal("Start returned before the execution it started returned")
	}
	returned.Wait()
}

// TestExpectedCost: what a run is admitted with, without a call to a vendor.
func TestExpectedCost(t *testing.T) {
	root := t.TempDir()
	write := func(dir, name, content string) string {
		d := filepath.Join(root, dir)
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(d, name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
		return d
	}
	sis := write("sis", "patrons.csv", "DistrictID,LastName\n1,A\n2,B\n3,C\n")
	write("sis", ".hidden.csv", "DistrictID\n9\n9\n")
	sisNoNewline := write("sis2", "patrons.csv", "DistrictID,LastName\n1,A\n2,B")
	oneRoster := write("oneroster", "users.csv", "sourcedId,role\nu1,student\nu2,student\nu3,student\nu4,teacher\n")
	write("oneroster", "enrollments.csv", "sourcedId\ne1\ne2\ne3\ne4\ne5\ne6\ne7\ne8\n")
	outside := t.TempDir()

	schools := func(n int) []dsv1.SchoolMapping {
		out := make([]dsv1.SchoolMapping, n)
		for i := range out {
			out[i].Site = fmt.Sprint("site-", i)
		}
		return out
	}
	policy := func(items int32, rs *dsv1.RosterSource, nSchools int) *dsv1.DeviceSyncPolicy {
		p := &dsv1.DeviceSyncPolicy{}
		p.Spec.Schools = schools(nSchools)
		p.Spec.Source.Destiny.Roster = rs
		if items >= 0 {
			p.Status.LastGoodSource = &dsv1.SourceBaseline{Items: items}
		}
		return p
	}
	for _, tc := range []struct {
		name     string
		policy   *dsv1.DeviceSyncPolicy
		want     int64
		wantFrom string
	}{
		{"the items of the latest good run, when there is one", policy(12345, &dsv1.RosterSource{Path: sis}, 20), 12345, costFromLastGoodSource},
		{"a good run that read no items is no history", policy(0, &dsv1.RosterSource{Path: sis}, 20), 3, costFromRoster},
		{"with no history, the SIS patron file's data lines (hidden files not)", policy(-1, &dsv1.RosterSource{Path: sis}, 20), 3, costFromRoster},
		{"a last line without a newline counts", policy(-1, &dsv1.RosterSource{Path: sisNoNewline}, 20), 2, costFromRoster},
		{"with no history, OneRoster's users.csv data lines, not its enrollments",
			policy(-1, &dsv1.RosterSource{Format: dsv1.RosterOneRoster, Path: oneRoster}, 20), 4, costFromRoster},
		{"a roster outside the roster root is not read: the schools", policy(-1, &dsv1.RosterSource{Path: outside}, 3), 3 * AssumedItemsPerSchool, costFromSchools},
		{"a roster directory that does not exist: the schools", policy(-1, &dsv1.RosterSource{Path: filepath.Join(root, "none")}, 4), 4 * AssumedItemsPerSchool, costFromSchools},
		{"a roster in a ConfigMap is not read for this: the schools",
			policy(-1, &dsv1.RosterSource{ConfigMapRef: &dsv1.LocalObjectReference{Name: "roster"}}, 2), 2 * AssumedItemsPerSchool, costFromSchools},
		{"no history, no roster: the schools", policy(-1, nil, 20), 20 * AssumedItemsPerSchool, costFromSchools},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := &Connector{RosterRoot: root}
			got, from := c.expectedCost(tc.policy)
			if got != tc.want || from != tc.wantFrom {
				t.Errorf("expected cost %d from %s, want %d from %s", got, from, tc.want, tc.wantFrom)
			}
		})
	}
}
