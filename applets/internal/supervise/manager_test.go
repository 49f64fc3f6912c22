package supervise

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"toybox-go/applets/internal/kmsg"
	"toybox-go/internal/testbin"
)

func newManager(t *testing.T, records bool) (*Manager, *bytes.Buffer) {
	t.Helper()
	var log bytes.Buffer
	m, err := New(Config{StateDir: t.TempDir(), Self: testbin.Path(t), Log: kmsg.NewWriter("pid2", &log), Records: records})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		for _, n := range m.Names() {
			if s := m.svcs[n]; s.pid != 0 {
				unix.Kill(-s.pid, unix.SIGKILL)
				unix.Kill(s.pid, unix.SIGKILL)
			}
		}
	})
	return m, &log
}

// stranger starts a process that is not the manager's child in the sense that
// the manager never forked it (the test waits for it), and writes its pid file.
func stranger(t *testing.T, m *Manager, name string) *exec.Cmd {
	t.Helper()
	return strangerAt(t, m.pidPath(name))
}

// strangerAt is stranger with the pid file at path.
func strangerAt(t *testing.T, path string) *exec.Cmd {
	t.Helper()
	cmd := exec.Command("sleep", "100")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	_, start, err := ProcState("/proc", cmd.Process.Pid)
	if err != nil {
		t.Fatal(err)
	}
	if err := WriteFileAtomic(path, PidFile{cmd.Process.Pid, start}.String()); err != nil {
		t.Fatal(err)
	}
	return cmd
}

// drive runs the main loop's duties (reap, events, Tick) until cond holds.
func drive(t *testing.T, m *Manager, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			st, _ := m.Status("")
			t.Fatalf("timed out waiting for %s: %+v", what, st)
		}
		for {
			var ws unix.WaitStatus
			pid, err := unix.Wait4(-1, &ws, unix.WNOHANG, nil)
			if pid <= 0 || err != nil {
				break
			}
			m.Reaped(pid, ws)
		}
		select {
		case ev := <-m.Events():
			m.Handle(ev)
		case <-time.After(10 * time.Millisecond):
		}
		m.Tick()
	}
}

func status(m *Manager, name string) Status {
	st, _ := m.Status(name)
	if len(st) != 1 {
		return Status{}
	}
	return st[0]
}

func TestAdoptThenRescanRecord(t *testing.T) {
	m, _ := newManager(t, true)
	m.Add(&Spec{Name: "x", Kind: "respawn", Path: "/bin/sleep", Argv: []string{"sleep", "101"}})
	old := stranger(t, m, "x")
	if !m.Adopt("x") {
		t.Fatal("live process with matching start time not adopted")
	}
	if st := status(m, "x"); !st.Adopted || st.Pid != old.Process.Pid || st.State != StateRunning {
		t.Fatalf("after adoption: %+v", st)
	}
	m.Start("x") // already running: no second copy
	m.Record(old.Process.Pid + 100000)
	if st := status(m, "x"); st.Pid != old.Process.Pid {
		t.Fatalf("a record for another PID changed the service: %+v", st)
	}
	old.Process.Kill()
	old.Wait()
	m.Record(0) // records were lost: rescan
	if st := status(m, "x"); st.Pid == old.Process.Pid {
		t.Fatalf("rescan missed the death: %+v", st)
	}
	drive(t, m, "respawn", func() bool { st := status(m, "x"); return st.State == StateRunning && st.Pid != 0 })
	st := status(m, "x")
	if st.Adopted || st.Restarts != 1 || st.LastExit != "unknown (adopted)" {
		t.Errorf("after respawn: %+v", st)
	}
	p, err := ReadPidFile(m.pidPath("x"))
	if err != nil || p.Pid != st.Pid || !Alive("/proc", p) {
		t.Errorf("pid file %v %v for pid %d", p, err, st.Pid)
	}
}

func TestAdoptedDeathByPidfd(t *testing.T) {
	m, _ := newManager(t, false) // no fd-3 records: pidfd fallback
	m.Add(&Spec{Name: "x", Kind: "respawn", Path: "/bin/sleep", Argv: []string{"sleep", "101"}})
	old := stranger(t, m, "x")
	if !m.Adopt("x") {
		t.Fatal("not adopted")
	}
	old.Process.Kill()
	old.Wait()
	drive(t, m, "death seen through the pidfd and a respawn", func() bool {
		st := status(m, "x")
		return st.Pid != 0 && st.Pid != old.Process.Pid && st.State == StateRunning
	})
}

func TestStaleAndStrangerPidFiles(t *testing.T) {
	m, _ := newManager(t, true)
	m.Add(&Spec{Name: "reused", Path: "/bin/true", Argv: []string{"true"}})
	m.Add(&Spec{Name: "garbage", Path: "/bin/true", Argv: []string{"true"}})
	_, start, _ := ProcState("/proc", os.Getpid())
	// Our own PID, alive, but with another start time: a reused PID.
	WriteFileAtomic(m.pidPath("reused"), PidFile{os.Getpid(), start + 7}.String())
	os.WriteFile(m.pidPath("garbage"), []byte("not a pid file"), 0o600)
	for _, n := range []string{"reused", "garbage"} {
		if m.Adopt(n) {
			t.Errorf("%s adopted", n)
		}
		if _, err := os.Stat(m.pidPath(n)); err == nil {
			t.Errorf("%s: stale pid file kept", n)
		}
	}
	os.WriteFile(filepath.Join(m.cfg.StateDir, "gone.pid"), []byte("1 1\n"), 0o600)
	if l := m.Leftovers(); len(l) != 1 || l[0] != "gone" {
		t.Errorf("leftovers %v", l)
	}
}

func TestTaskOutputAndBound(t *testing.T) {
	m, log := newManager(t, true)
	var exit string
	err := m.RunTask(&Task{Spec: Spec{Name: "S10x", Path: "/bin/sh", Argv: []string{"sh", "-c", "echo one; echo two; trap '' TERM; exec sleep 100"}},
		TermAfter: 100 * time.Millisecond, KillAfter: 200 * time.Millisecond, Done: func(e string) { exit = e }})
	if err != nil {
		t.Fatal(err)
	}
	drive(t, m, "bounded task killed", func() bool { return exit != "" })
	if exit != "signal KILL" {
		t.Errorf("exit %q", exit)
	}
	if l, _ := m.LogLines(""); strings.Join(l, "|") != "one|two" {
		t.Errorf("task ring %q", l)
	}
	if !strings.Contains(log.String(), "S10x: one\n") || !strings.Contains(log.String(), "S10x: two\n") {
		t.Errorf("log %q", log.String())
	}
}

// TestAdoptUnrecordedStart: a pid2 killed between fork and pid file leaves
// NAME.starting; its successor finds the process by the token in its
// environment instead of starting a second copy.
func TestAdoptUnrecordedStart(t *testing.T) {
	m, _ := newManager(t, true)
	m.Add(&Spec{Name: "x", Kind: "respawn", Path: "/bin/sleep", Argv: []string{"sleep", "101"}})
	token := "123.456.7"
	os.WriteFile(m.startingPath("x"), []byte(token), 0o600)
	cmd := exec.Command("sleep", "100")
	cmd.Env = append(os.Environ(), "PID2_SERVICE=x", startEnv+token)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	if !m.Adopt("x") {
		t.Fatal("unrecorded start not found")
	}
	if st := status(m, "x"); st.Pid != cmd.Process.Pid || !st.Adopted {
		t.Errorf("adopted %+v, want pid %d", st, cmd.Process.Pid)
	}
	if p, err := ReadPidFile(m.pidPath("x")); err != nil || p.Pid != cmd.Process.Pid {
		t.Errorf("pid file %v %v", p, err)
	}
	if _, err := os.Stat(m.startingPath("x")); err == nil {
		t.Error("marker left")
	}
	// A marker whose process is gone: nothing adopted, marker removed.
	m.Add(&Spec{Name: "y", Path: "/bin/true", Argv: []string{"true"}})
	os.WriteFile(m.startingPath("y"), []byte("no.such.token"), 0o600)
	if m.Adopt("y") {
		t.Error("adopted without a process")
	}
	if _, err := os.Stat(m.startingPath("y")); err == nil {
		t.Error("marker left")
	}
}

// A task a previous pid2 started is never run again: one that ended (done
// file, or a pid file naming a dead process) reports its end at once; a live
// one is adopted and its end learned through its pidfd.
func TestTaskNotRunTwice(t *testing.T) {
	m, log := newManager(t, false)
	mark := filepath.Join(t.TempDir(), "ran")
	run := func(name string, done func(string)) {
		t.Helper()
		err := m.RunTask(&Task{Spec: Spec{Name: name, Path: "/bin/sh", Argv: []string{"sh", "-c", "echo " + name + " >> " + mark}}, Done: done})
		if err != nil {
			t.Fatal(err)
		}
	}
	if err := WriteFileAtomic(m.taskPath("old", ".done"), "exit 3\n"); err != nil {
		t.Fatal(err)
	}
	var got []string
	run("old", func(exit string) { got = append(got, "old "+exit) })
	if err := WriteFileAtomic(m.taskPath("gone", ".pid"), "4000000 5\n"); err != nil {
		t.Fatal(err)
	}
	run("gone", func(exit string) { got = append(got, "gone "+exit) })
	if want := "old exit 3 gone unknown (adopted)"; strings.Join(got, " ") != want {
		t.Errorf("done calls %q, want %q", got, want)
	}
	cmd := strangerAt(t, m.taskPath("live", ".pid"))
	m.AdoptTasks()
	var liveExit string
	run("live", func(exit string) { liveExit = exit })
	if liveExit != "" || len(m.tasks) != 1 {
		t.Fatalf("live task: done %q, tasks %d: want it adopted and running", liveExit, len(m.tasks))
	}
	cmd.Process.Kill()
	cmd.Wait()
	drive(t, m, "the adopted task's end", func() bool { return liveExit != "" })
	if b, err := os.ReadFile(mark); err == nil || len(b) > 0 {
		t.Errorf("a task ran again: %q", b)
	}
	if _, err := os.Stat(m.taskPath("live", ".done")); err != nil {
		t.Errorf("no done record: %v", err)
	}
	if !strings.Contains(log.String(), "adopted task live") {
		t.Errorf("log:\n%s", log)
	}
}
