package controllers

import (
	"bytes"
	"context"
	"io"
	"os"
	"path/filepath"
	"strings"

	"sigs.k8s.io/controller-runtime/pkg/client"

	dsv1 "github.com/k12dev/devicesync-operator/api/v1alpha1"
	"github.com/k12dev/devicesync-operator/internal/roster"
)

// What the run scheduler orders runs by: a run's expected cost, in Destiny items (a district's run reads
// its items, looks up their borrowers and compares as many Jamf devices; its calls and its time grow
// with them). Taken from, in order, what is known for free at admission, without a call to a vendor:
//
//   - status.lastGoodSource.items: what the policy's latest good Enforce run read (every run after the
//     first);
//   - the roster's students, when the roster is a directory under --roster-root (1:1 districts have a
//     device per student): the lines of its patron CSV, or of users.csv for OneRoster, counted, not parsed;
//   - else AssumedItemsPerSchool for each of spec.schools.

// AssumedItemsPerSchool is the expected cost of one school of a policy with no history and no roster on disk.
const AssumedItemsPerSchool = 500

// Where a run's expected cost came from.
const (
	costFromLastGoodSource = "status.lastGoodSource"
	costFromRoster         = "roster"
	costFromSchools        = "spec.schools"
)

// expectedCost is the expected cost of a run of policy p, and where it came from.
func (c *Connector) expectedCost(p *dsv1.DeviceSyncPolicy) (int64, string) {
	if b := p.Status.LastGoodSource; b != nil && b.Items > 0 {
		return int64(b.Items), costFromLastGoodSource
	}
	if rs := p.Spec.Source.Destiny.Roster; rs != nil && rs.Path != "" && rs.ConfigMapRef == nil && rs.SecretRef == nil {
		if n, ok := c.rosterLines(rs); ok && n > 0 {
			return n, costFromRoster
		}
	}
	return int64(max(len(p.Spec.Schools), 1)) * AssumedItemsPerSchool, costFromSchools
}

// rosterLines counts the data lines (a header line each off) of the roster directory's student file:
// users.csv for OneRoster, the visible CSV files for a SIS patron file. ok is false when the directory
// may not or cannot be read; the run itself then reports why.
func (c *Connector) rosterLines(rs *dsv1.RosterSource) (int64, bool) {
	if c == nil || c.checkRosterPath(rs.Path) != nil {
		return 0, false
	}
	var files []string
	if rs.Format == dsv1.RosterOneRoster {
		files = []string{roster.UsersFile}
	} else {
		entries, err := os.ReadDir(rs.Path)
		if err != nil {
			return 0, false
		}
		for _, e := range entries {
			if n := e.Name(); !e.IsDir() && !strings.HasPrefix(n, ".") && strings.EqualFold(filepath.Ext(n), ".csv") {
				files = append(files, n)
			}
		}
	}
	var total int64
	for _, name := range files {
		n, err := countLines(filepath.Join(rs.Path, name))
		if err != nil {
			return 0, false
		}
		total += max(n-1, 0)
	}
	return total, true
}

// countLines counts the lines of a file (a last line without a newline counts).
func countLines(path string) (int64, error) {
	f, err := os.Open(path)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	buf := make([]byte, 64<<10)
	var n int64
	last := byte('\n')
	for {
		k, err := f.Read(buf)
		if k > 0 {
			n += int64(bytes.Count(buf[:k], []byte{'\n'}))
			last = buf[k-1]
		}
		if err == io.EOF {
			break
		}
		if err != nil {
			return 0, err
		}
	}
	if last != '\n' {
		n++
	}
	return n, nil
}

// runCost is the expected cost of run's execution, and where it came from (0 when its policy cannot be read: the execution
// ends at once, reporting why).
func (r *SyncRunReconciler) runCost(ctx context.Context, run *dsv1.SyncRun) (int64, string) {
	var p dsv1.DeviceSyncPolicy
	if err := r.reader().Get(ctx, client.ObjectKey{Namespace: run.Namespace, Name: run.Spec.PolicyRef.Name}, &p); err != nil {
		return 0, "no policy"
	}
	return r.Connector.expectedCost(&p)
}
