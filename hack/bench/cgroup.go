package main

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
)

// memCgroup is a memory cgroup the bench moves its own process into, so the manager runs under a hard
// limit as in a container with limits.memory: the kernel charges it what the process maps (its heap and
// stacks, and the binary's pages it touches), reclaims file pages at the limit and kills the process when
// that is not enough. The control plane and the simulators were started before, so they stay outside it.
//
// Linux only: cgroup v1's memory controller (/sys/fs/cgroup/memory) or cgroup v2 with the memory
// controller enabled for the bench's cgroup's children. Run as root (or with the cgroup delegated).
type memCgroup struct {
	v1      bool
	moved   bool   // the pages mapped before the move were charged to the cgroup too
	dir     string // the cgroup made for the bench
	restore string // the cgroup.procs of the cgroup the bench came from
}

// joinMemCgroup makes a cgroup limited to limit bytes under the process's own and moves the process into it.
func joinMemCgroup(limit int64) (*memCgroup, error) {
	self, err := os.ReadFile("/proc/self/cgroup")
	if err != nil {
		return nil, err
	}
	var v1Path, v2Path string
	found2 := false
	for _, line := range strings.Split(strings.TrimSpace(string(self)), "\n") {
		parts := strings.SplitN(line, ":", 3)
		if len(parts) != 3 {
			continue
		}
		switch {
		case slices.Contains(strings.Split(parts[1], ","), "memory"):
			v1Path = parts[2]
		case parts[0] == "0" && parts[1] == "":
			v2Path, found2 = parts[2], true
		}
	}
	name := fmt.Sprintf("devicesync-bench-%d", os.Getpid())
	lim := strconv.FormatInt(limit, 10)
	switch {
	case v1Path != "" && isDir("/sys/fs/cgroup/memory"):
		parent := filepath.Join("/sys/fs/cgroup/memory", v1Path)
		cg := &memCgroup{v1: true, dir: filepath.Join(parent, name), restore: filepath.Join(parent, "cgroup.procs")}
		return cg, cg.join([]setting{
			// Charge the pages the process already maps (anonymous and file) to the new cgroup, as a
			// container is charged from its start. Kernels since 6.x refuse it (deprecated): the
			// cgroup is then charged from the move on (the report says which).
			{"memory.move_charge_at_immigrate", "3", true},
			{"memory.limit_in_bytes", lim, false},
			{"memory.memsw.limit_in_bytes", lim, true}, // no swap beyond the limit, where swap is accounted
		})
	case found2:
		root := "/sys/fs/cgroup"
		if !fileExists(filepath.Join(root, "cgroup.controllers")) {
			root = "/sys/fs/cgroup/unified"
		}
		parent := filepath.Join(root, v2Path)
		ctrls, _ := os.ReadFile(filepath.Join(parent, "cgroup.subtree_control"))
		if !slices.Contains(strings.Fields(string(ctrls)), "memory") {
			return nil, fmt.Errorf("cgroup v2 at %s does not enable the memory controller for its children (cgroup.subtree_control)", parent)
		}
		cg := &memCgroup{dir: filepath.Join(parent, name), restore: filepath.Join(parent, "cgroup.procs")}
		return cg, cg.join([]setting{{"memory.max", lim, false}, {"memory.swap.max", "0", true}})
	}
	return nil, errors.New("no memory cgroup controller found (cgroup v1 memory or v2 with memory enabled)")
}

// setting is one cgroup file to write; optional ones are skipped when absent or refused.
type setting struct {
	file, value string
	optional    bool
}

func (cg *memCgroup) join(settings []setting) error {
	if err := os.Mkdir(cg.dir, 0o755); err != nil {
		return fmt.Errorf("making a memory cgroup (run as root): %w", err)
	}
	for _, s := range settings {
		err := os.WriteFile(filepath.Join(cg.dir, s.file), []byte(s.value), 0o644)
		if err != nil && !s.optional {
			return cg.undo(fmt.Errorf("%s: %w", s.file, err))
		}
	}
	if err := os.WriteFile(filepath.Join(cg.dir, "cgroup.procs"), []byte(strconv.Itoa(os.Getpid())), 0o644); err != nil {
		return cg.undo(fmt.Errorf("moving the bench into its memory cgroup: %w", err))
	}
	cg.moved = cg.v1 && readInt(filepath.Join(cg.dir, "memory.move_charge_at_immigrate")) == 3
	return nil
}

func (cg *memCgroup) undo(err error) error {
	_ = os.Remove(cg.dir)
	return err
}

// report is the cgroup's peak charge, how often it reached its limit and whether the kernel killed for it.
func (cg *memCgroup) report() string {
	if cg.v1 {
		peak := readInt(filepath.Join(cg.dir, "memory.max_usage_in_bytes"))
		fail := readInt(filepath.Join(cg.dir, "memory.failcnt"))
		oom := keyed(filepath.Join(cg.dir, "memory.oom_control"))["oom_kill"]
		return fmt.Sprintf("memory cgroup (v1): limit %d MiB, peak charge %d MiB (%s), reached the limit %d times (reclaim), OOM kills %d",
			readInt(filepath.Join(cg.dir, "memory.limit_in_bytes"))>>20, peak>>20, cg.charged(), fail, oom)
	}
	ev := keyed(filepath.Join(cg.dir, "memory.events"))
	return fmt.Sprintf("memory cgroup (v2): limit %d MiB, peak charge %d MiB (%s), reached the limit %d times (reclaim), OOM kills %d",
		readInt(filepath.Join(cg.dir, "memory.max"))>>20, readInt(filepath.Join(cg.dir, "memory.peak"))>>20, cg.charged(), ev["max"], ev["oom_kill"])
}

func (cg *memCgroup) charged() string {
	if cg.moved {
		return "the process's pages from its start"
	}
	return "pages the process touched first after the move: the binary's pages already cached are not"
}

// leave moves the process back where it came from and removes the cgroup.
func (cg *memCgroup) leave() {
	_ = os.WriteFile(cg.restore, []byte(strconv.Itoa(os.Getpid())), 0o644)
	_ = os.Remove(cg.dir)
}

func readInt(path string) int64 {
	raw, err := os.ReadFile(path)
	if err != nil {
		return -1
	}
	n, _ := strconv.ParseInt(strings.TrimSpace(string(raw)), 10, 64)
	return n
}

// keyed reads a "key value" per line file (memory.events, memory.oom_control).
func keyed(path string) map[string]int64 {
	m := map[string]int64{}
	f, err := os.Open(path)
	if err != nil {
		return m
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if k, v, ok := strings.Cut(sc.Text(), " "); ok {
			m[k], _ = strconv.ParseInt(strings.TrimSpace(v), 10, 64)
		}
	}
	return m
}

func isDir(p string) bool      { st, err := os.Stat(p); return err == nil && st.IsDir() }
func fileExists(p string) bool { _, err := os.Stat(p); return err == nil }
