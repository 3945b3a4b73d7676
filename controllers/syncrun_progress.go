package controllers

import (
	"context"
	"errors"
	"fmt"
	"strings"
	gosync "sync"
	"time"

	"sigs.k8s.io/controller-runtime/pkg/log"

	dsv1 "github.com/k12dev/devicesync-operator/api/v1alpha1"
	"github.com/k12dev/devicesync-operator/internal/sync/engine"
	"github.com/k12dev/devicesync-operator/internal/sync/plan"
)

// A run's progress, written at most every ProgressInterval from its own goroutine, and its change log.

// progressWriter writes the latest progress at most every interval, from its own goroutine, so the
// engine's workers never wait on the API server. A write that finds the run gone cancels the run.
type progressWriter struct {
	mu      gosync.Mutex
	latest  engine.Progress
	dirty   bool
	deleted bool
	stop    chan struct{}
	done    chan struct{}
}

func (p *progressWriter) update(pr engine.Progress) {
	p.mu.Lock()
	p.latest, p.dirty = pr, true
	p.mu.Unlock()
}

// wait stops the writer and reports whether it found the run deleted.
func (p *progressWriter) wait() bool {
	close(p.stop)
	<-p.done
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.deleted
}

func (r *SyncRunReconciler) writeProgress(ctx context.Context, cancel context.CancelFunc, s *runScope) *progressWriter {
	pw := &progressWriter{stop: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(pw.done)
		t := time.NewTicker(r.progressInterval())
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-pw.stop:
				return
			case <-t.C:
			}
			pw.mu.Lock()
			pr, dirty := pw.latest, pw.dirty
			pw.dirty = false
			pw.mu.Unlock()
			if !dirty {
				continue
			}
			progress := progressOf(pr)
			err := r.writeStatus(ctx, s.run, func(run *dsv1.SyncRun) error { run.Status.Progress = progress; return nil })
			if errors.Is(err, errReplaced) {
				pw.mu.Lock()
				pw.deleted = true
				pw.mu.Unlock()
				cancel()
				return
			}
		}
	}()
	return pw
}

func progressOf(p engine.Progress) dsv1.Progress {
	return dsv1.Progress{Total: int32(p.Total), Done: int32(p.Done), Ratio: fmt.Sprintf("%d/%d", p.Done, p.Total)}
}

// logChanges writes every change of the run to the structured log, the complete audit trail (the status
// keeps a bounded list). Student data stays out of the default log: at the default verbosity each change
// is its serial, device, item, action, result and the names of the fields it wrote; the old and new values
// (names, usernames, emails, rooms) are logged at verbosity 1 (--zap-log-level=debug or higher), a
// documented choice for a district that wants them in its log pipeline.
func logChanges(ctx context.Context, s *runScope) {
	logger := log.FromContext(ctx).WithValues("policy", s.policy.Name, "run", s.run.Name, "mode", s.mode)
	values := logger.V(1).Enabled()
	rep := s.report
	for _, c := range rep.Plan.Changes {
		outcome := s.changeResult(c.DeviceKey)
		kv := []any{"serial", c.Serial, "device", c.DeviceKey, "item", c.ItemID, "action", c.Action, "result", outcome}
		kv = appendFieldValues(kv, c.Fields, values)
		if err := s.attempted[c.DeviceKey]; err != nil {
			kv = append(kv, "error", err.Error())
		}
		logger.Info("device change", kv...)
	}
	for _, sk := range rep.Plan.Skips {
		logger.V(1).Info("device skipped", "serial", sk.Serial, "rawSerial", sk.RawSerial, "item", sk.ItemID, "device", sk.DeviceKey,
			"reason", sk.Reason, "message", sk.Message)
	}
}

// appendFieldValues adds a change's field names to a log line's key-values and, when values is true
// (verbosity 1: student data), each field's old and new value.
func appendFieldValues(kv []any, fs []plan.FieldChange, values bool) []any {
	names := make([]string, 0, len(fs))
	for _, f := range fs {
		names = append(names, f.Field)
		if values {
			kv = append(kv, f.Field, f.Old+" -> "+f.New)
		}
	}
	return append(kv, "fields", strings.Join(names, ","))
}
