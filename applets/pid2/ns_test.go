package pid2_test

// Tier 2: oneit and pid2 as the real PID 1 and PID 2 of a PID namespace
// (internal/nstest), on a prepared etc tree and state directory under
// t.TempDir(). The control commands run on the host: the socket is a file in
// the shared mount tree.

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"toybox-go/applets/internal/supervise"
	"toybox-go/internal/nstest"
	"toybox-go/internal/testbin"
)

type system struct {
	t                            testing.TB
	root, etc, state, marks, con string
	pid2                         string // the applet symlink
	cmd                          *exec.Cmd
	done                         chan struct{}
	ending                       nstest.Ending
	err                          error
	prepare                      func(*exec.Cmd) // adjusts PID 1's command before it starts
}

// boot writes ETC/inittab (and the given files below root, executable when
// under rc.d) and runs `oneit -3 -r -c CONSOLE pid2 -e ETC -d STATE` as PID 1.
// In inittab and files, @ROOT@ and @MARKS@ are replaced by their paths.
func boot(t testing.TB, inittab string, files map[string]string, oneitArgs ...string) *system {
	t.Helper()
	return bootWith(t, append([]string{"-3", "-r"}, oneitArgs...), inittab, files)
}

// bootWith is boot with oneit's flags (besides -c) given in full.
func bootWith(t testing.TB, oneitFlags []string, inittab string, files map[string]string) *system {
	t.Helper()
	return bootPrepared(t, nil, oneitFlags, inittab, files)
}

// bootPrepared is bootWith with prepare applied to PID 1's command (extra
// files, environment) before it starts.
func bootPrepared(t testing.TB, prepare func(*exec.Cmd), oneitFlags []string, inittab string, files map[string]string) *system {
	t.Helper()
	testbin.RequireRoot(t)
	root := t.TempDir()
	s := &system{t: t, root: root, etc: filepath.Join(root, "etc"), state: filepath.Join(root, "state"),
		marks: filepath.Join(root, "marks"), con: filepath.Join(root, "console"), done: make(chan struct{}), prepare: prepare}
	s.pid2 = testbin.Applet(t, "pid2")
	os.MkdirAll(filepath.Join(s.etc, "rc.d"), 0o755)
	os.WriteFile(s.con, nil, 0o644)
	os.WriteFile(s.marks, nil, 0o644)
	sub := strings.NewReplacer("@ROOT@", root, "@MARKS@", s.marks)
	if inittab != "" {
		os.WriteFile(filepath.Join(s.etc, "inittab"), []byte(sub.Replace(inittab)), 0o644)
	}
	for name, body := range files {
		p := filepath.Join(root, name)
		os.MkdirAll(filepath.Dir(p), 0o755)
		if err := os.WriteFile(p, []byte(sub.Replace(body)), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	return s.start(oneitFlags...)
}

func (s *system) start(oneitFlags ...string) *system {
	s.t.Helper()
	argv := []string{testbin.Applet(s.t, "oneit"), "-c", s.con}
	argv = append(argv, oneitFlags...)
	// askconsole entries get a file of their own, never the host's console.
	ask := filepath.Join(s.root, "askconsole")
	os.WriteFile(ask, nil, 0o644)
	argv = append(argv, s.pid2, "-e", s.etc, "-d", s.state, "-c", ask)
	s.cmd = nstest.Command(s.t, argv...)
	s.cmd.Stderr = os.Stderr
	if s.prepare != nil {
		s.prepare(s.cmd)
	}
	if err := s.cmd.Start(); err != nil {
		s.t.Fatal(err)
	}
	go func() {
		s.ending, s.err = nstest.EndingOf(s.cmd.Wait())
		close(s.done)
	}()
	s.t.Cleanup(func() {
		select {
		case <-s.done:
		default:
			s.cmd.Process.Kill()
			<-s.done
		}
		if s.t.Failed() || os.Getenv("PID2_TEST_CONSOLE") != "" {
			s.t.Logf("console:\n%s", s.console())
		}
	})
	return s
}

func (s *system) console() string { b, _ := os.ReadFile(s.con); return string(b) }

func (s *system) markLines() []string {
	b, _ := os.ReadFile(s.marks)
	return strings.Fields(string(b))
}

// ctl runs `pid2 -d STATE ARGS...` on the host.
func (s *system) ctl(args ...string) (string, error) {
	cmd := exec.Command(s.pid2, append([]string{"-d", s.state}, args...)...)
	out, err := cmd.CombinedOutput()
	return string(out), err
}

func (s *system) status() map[string]supervise.Status {
	out, err := s.ctl("status", "--json")
	if err != nil {
		return nil
	}
	var st []supervise.Status
	if json.Unmarshal([]byte(out), &st) != nil {
		return nil
	}
	m := map[string]supervise.Status{}
	for _, x := range st {
		m[x.Name] = x
	}
	return m
}

// waitFor polls cond (the state it waits for is in another PID namespace and in
// files: there is no event to wait on) until it holds or timeout passes.
func (s *system) waitFor(what string, timeout time.Duration, cond func() bool) {
	s.t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			st, _ := s.ctl("status")
			s.t.Fatalf("timed out after %v waiting for %s; status:\n%s\nmarks: %q", timeout, what, st, s.markLines())
		}
		select {
		case <-s.done:
			s.t.Fatalf("PID 1 ended (%v) while waiting for %s", s.ending, what)
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// allRunning waits until every named service runs.
func (s *system) allRunning(timeout time.Duration, names ...string) map[string]supervise.Status {
	s.t.Helper()
	var st map[string]supervise.Status
	s.waitFor(fmt.Sprintf("%v running", names), timeout, func() bool {
		st = s.status()
		if st == nil {
			return false
		}
		for _, n := range names {
			if x, ok := st[n]; !ok || x.State != supervise.StateRunning || x.Pid == 0 {
				return false
			}
		}
		return true
	})
	return st
}

func (s *system) expectEnd(timeout time.Duration, want nstest.Ending) {
	s.t.Helper()
	select {
	case <-s.done:
	case <-time.After(timeout):
		s.t.Fatalf("PID 1 still running after %v", timeout)
	}
	if s.err != nil || s.ending != want {
		s.t.Fatalf("PID 1 ended %v (%v), want %v", s.ending, s.err, want)
	}
}

func (s *system) signal(sig syscall.Signal) {
	if err := s.cmd.Process.Signal(sig); err != nil {
		s.t.Fatal(err)
	}
}

// procs returns the host PIDs of the namespace's processes with their argv.
func (s *system) procs() map[int]string { return nstest.Cmdlines(s.cmd.Process.Pid) }

// pid2Pid is pid2's host PID (the child of PID 1 running pid2).
func (s *system) pid2Pid() int {
	for p, argv := range s.procs() {
		if strings.HasPrefix(argv, s.pid2+" -e") && nstest.PPid(p) == s.cmd.Process.Pid {
			return p
		}
	}
	return 0
}

func count(lines []string, want string) int {
	n := 0
	for _, l := range lines {
		if l == want {
			n++
		}
	}
	return n
}

func index(lines []string, want string) int {
	for i, l := range lines {
		if l == want {
			return i
		}
	}
	return -1
}

const rcScript = "#!/bin/sh\necho $(basename $0)-$1 >> @MARKS@\necho output of $(basename $0)\n"

func TestBootOrderAndShutdown(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		sig  syscall.Signal
		want nstest.Ending
	}{{syscall.SIGTERM, nstest.Rebooted}, {syscall.SIGUSR1, nstest.Halted}, {syscall.SIGUSR2, nstest.Halted}} {
		t.Run(tc.sig.String(), func(t *testing.T) {
			t.Parallel()
			s := boot(t, `
::sysinit:/etc/init.d/rcS S boot
::sysinit:echo sysinit2 >> @MARKS@
::wait:echo wait1 >> @MARKS@
::once:echo once1 >> @MARKS@
:svc:respawn:trap 'echo svc-term >> @MARKS@; exit 0' TERM; echo svc-up >> @MARKS@; sleep 1000 & wait
::shutdown:/etc/init.d/rcS K shutdown
::shutdown:echo shutdown2 >> @MARKS@
`, map[string]string{"etc/rc.d/S10a": rcScript, "etc/rc.d/S20b": rcScript, "etc/rc.d/K10a": rcScript, "etc/rc.d/K50b": rcScript})
			s.allRunning(10*time.Second, "svc")
			s.waitFor("once entry and svc", 5*time.Second, func() bool {
				m := s.markLines()
				return index(m, "once1") >= 0 && index(m, "svc-up") >= 0
			})
			m := s.markLines()
			want := []string{"S10a-boot", "S20b-boot", "sysinit2", "wait1"}
			for i, w := range want {
				if i >= len(m) || m[i] != w {
					t.Fatalf("boot marks %q, want prefix %q", m, want)
				}
			}
			for _, w := range append(want, "once1", "svc-up") {
				if count(m, w) != 1 {
					t.Errorf("%s ran %d times: %q", w, count(m, w), m)
				}
			}
			if b, _ := os.ReadFile(filepath.Join(s.state, "booted")); len(b) == 0 {
				t.Error("no booted file after boot")
			}
			if !strings.Contains(s.console(), "S10a: output of S10a") {
				t.Error("rc script output not logged line by line with its name")
			}
			if out, err := s.ctl("log"); err != nil || !strings.Contains(out, "output of S20b") {
				t.Errorf("pid2 log: %q %v", out, err)
			}
			s.signal(tc.sig)
			s.expectEnd(30*time.Second, tc.want)
			m = s.markLines()
			k1, k2, sd, term := index(m, "K10a-shutdown"), index(m, "K50b-shutdown"), index(m, "shutdown2"), index(m, "svc-term")
			if k1 < 0 || k2 < k1 || sd < k2 || term < sd {
				t.Errorf("shutdown order %q: want K10a, K50b, shutdown2, then svc-term", m)
			}
		})
	}
}

func TestRespawnSpacingAndCrashLoop(t *testing.T) {
	t.Parallel()
	// Each run records its start time (field 22 of its stat: clock ticks since
	// boot, set at fork, so exec and shell start-up jitter do not count).
	s := boot(t, ":crash:respawn:cut -d' ' -f22 /proc/$$/stat >> @MARKS@; exit 3\n", nil)
	s.waitFor("crash loop in status", 30*time.Second, func() bool {
		st := s.status()
		return st != nil && st["crash"].State == supervise.StateBackoff
	})
	st := s.status()["crash"]
	if !strings.Contains(st.Note, "crash loop") || st.LastExit != "exit 3" || st.Restarts < supervise.LoopStarts-1 {
		t.Errorf("status %+v", st)
	}
	out, _ := s.ctl("status", "crash")
	if !strings.Contains(out, "backoff") || !strings.Contains(out, "crash loop") {
		t.Errorf("text status %q", out)
	}
	m := s.markLines()
	if len(m) < supervise.LoopStarts {
		t.Fatalf("%d starts before backoff", len(m))
	}
	var prev float64
	for i, l := range m {
		v, err := strconv.ParseFloat(l, 64)
		if err != nil {
			t.Fatal(err)
		}
		// 100 ticks a second; one tick of rounding.
		if i > 0 && v-prev < 99 {
			t.Errorf("start %d came %.0f ticks after the previous one (spacing 1 s)", i, v-prev)
		}
		prev = v
	}
	// The backoff does not give up: the service starts again after it.
	n := len(m)
	s.waitFor("start after backoff", 3*supervise.BackoffFirst, func() bool { return len(s.markLines()) > n })
}

func TestStopEscalation(t *testing.T) {
	t.Parallel()
	s := boot(t, ":stubborn:respawn:trap '' TERM; echo up >> @MARKS@; exec sleep 1000\n", nil)
	st := s.allRunning(10*time.Second, "stubborn")
	s.waitFor("service up", 5*time.Second, func() bool { return len(s.markLines()) == 1 })
	t0 := time.Now()
	if out, err := s.ctl("stop", "stubborn"); err != nil {
		t.Fatalf("stop: %v %s", err, out)
	}
	if x := s.status()["stubborn"]; x.State != supervise.StateStopping || x.Pid != st["stubborn"].Pid {
		t.Errorf("right after stop: %+v (the main loop must not block)", x)
	}
	s.waitFor("stopped", 10*time.Second, func() bool { return s.status()["stubborn"].State == supervise.StateStopped })
	if d := time.Since(t0); d < supervise.KillDelay-500*time.Millisecond {
		t.Errorf("stopped after %v: KILL came before %v", d, supervise.KillDelay)
	}
	if x := s.status()["stubborn"]; x.LastExit != "signal KILL" || x.Pid != 0 {
		t.Errorf("after stop: %+v", x)
	}
	if _, err := os.Stat(filepath.Join(s.state, "stubborn.pid")); err == nil {
		t.Error("pid file left after stop")
	}
	if out, err := s.ctl("start", "stubborn"); err != nil {
		t.Fatalf("start: %v %s", err, out)
	}
	s.allRunning(5*time.Second, "stubborn")
}

// TestKill9 kills pid2 twenty times in a row, killing services while it is
// down: afterwards every service runs exactly once and sysinit ran once.
func TestKill9(t *testing.T) {
	t.Parallel()
	var tab strings.Builder
	tab.WriteString("::sysinit:echo sysinit >> @MARKS@\n")
	var names []string
	for i := range 10 {
		n := fmt.Sprintf("s%d", i)
		names = append(names, n)
		fmt.Fprintf(&tab, ":%s:respawn:echo %s >> @MARKS@; exec sleep %d\n", n, n, 1000+i)
	}
	s := boot(t, tab.String(), nil)
	s.allRunning(15*time.Second, names...)
	sleepOf := func(n string) string { return "sleep " + strconv.Itoa(1000+int(n[1]-'0')) }
	for round := range 20 {
		p := s.pid2Pid()
		if p == 0 {
			t.Fatalf("round %d: pid2 not found", round)
		}
		// On even rounds PID 1 is stopped first, so that the services surely
		// die while no pid2 runs (and oneit reaps them only after SIGCONT).
		if round%2 == 0 {
			s.signal(syscall.SIGSTOP)
		}
		syscall.Kill(p, syscall.SIGKILL)
		victims := map[string]int{}
		for _, n := range []string{names[round%10], names[(round*3+1)%10]} {
			for hp, argv := range s.procs() {
				if argv == sleepOf(n) {
					victims[n] = nstest.NSPid(hp)
					syscall.Kill(hp, syscall.SIGKILL)
				}
			}
		}
		if round%2 == 0 {
			s.signal(syscall.SIGCONT)
		}
		s.waitFor("pid2 relaunched", 10*time.Second, func() bool { q := s.pid2Pid(); return q != 0 && q != p })
		st := s.allRunning(15*time.Second, names...)
		for n, old := range victims {
			if st[n].Pid == old {
				t.Errorf("round %d: %s killed (pid %d) but status still shows it", round, n, old)
			}
		}
	}
	// Let any duplicate show up, then count.
	time.Sleep(1500 * time.Millisecond)
	st := s.allRunning(5*time.Second, names...)
	procs := s.procs()
	for _, n := range names {
		var found []int
		for hp, argv := range procs {
			if argv == sleepOf(n) {
				found = append(found, nstest.NSPid(hp))
			}
		}
		if len(found) != 1 {
			t.Errorf("%s runs %d times", n, len(found))
		} else if st[n].Pid != found[0] {
			t.Errorf("%s: status says pid %d, it runs as %d", n, st[n].Pid, found[0])
		}
	}
	if c := count(s.markLines(), "sysinit"); c != 1 {
		t.Errorf("sysinit ran %d times", c)
	}
	if out, err := s.ctl("status"); err != nil || strings.Count(out, " running ") != 10 {
		t.Errorf("status after the kills (%v):\n%s", err, out)
	}
}

func TestReusedPidNotAdopted(t *testing.T) {
	t.Parallel()
	// A relaunch after boot, with a pid file naming PID 1 (alive, but a stranger
	// to the service: another start time), and one naming a dead PID.
	s := boot(t, "::sysinit:echo sysinit >> @MARKS@\n:reuse:respawn:echo reuse >> @MARKS@; exec sleep 1000\n:dead:respawn:/bin/sleep 1001\n",
		map[string]string{"state/booted": "done\n", "state/reuse.pid": "1 1\n", "state/dead.pid": "4000000 5\n"})
	st := s.allRunning(10*time.Second, "reuse", "dead")
	if st["reuse"].Pid == 1 || st["reuse"].Adopted || st["dead"].Adopted {
		t.Errorf("stale pid files adopted: %+v", st)
	}
	s.waitFor("reuse started", 5*time.Second, func() bool { return count(s.markLines(), "reuse") == 1 })
	if m := s.markLines(); count(m, "sysinit") != 0 {
		t.Errorf("marks %q: sysinit ran after a relaunch (booted)", m)
	}
	select {
	case <-s.done:
		t.Fatal("PID 1 died")
	default:
	}
}

func TestReload(t *testing.T) {
	t.Parallel()
	s := boot(t, ":a:respawn:/bin/sleep 1001\n:b:respawn:/bin/sleep 1002\n:c:respawn:/bin/sleep 1003\n", nil)
	before := s.allRunning(10*time.Second, "a", "b", "c")
	os.WriteFile(filepath.Join(s.etc, "inittab"), []byte(":a:respawn:/bin/sleep 1001\n:c:respawn:/bin/sleep 1033\n:d:respawn:/bin/sleep 1004\n"), 0o644)
	out, err := s.ctl("reload")
	if err != nil {
		t.Fatalf("reload: %v %s", err, out)
	}
	after := s.allRunning(10*time.Second, "a", "c", "d")
	s.waitFor("b removed", 10*time.Second, func() bool { _, ok := s.status()["b"]; return !ok })
	if after["a"].Pid != before["a"].Pid {
		t.Errorf("unchanged entry restarted: %d -> %d", before["a"].Pid, after["a"].Pid)
	}
	if after["c"].Pid == before["c"].Pid || after["c"].Command != "/bin/sleep 1033" {
		t.Errorf("changed entry: %+v", after["c"])
	}
	procs := s.procs()
	for _, argv := range procs {
		if argv == "/bin/sleep 1002" || argv == "/bin/sleep 1003" {
			t.Errorf("%q still runs after reload", argv)
		}
	}
	// HUP does the same.
	os.WriteFile(filepath.Join(s.etc, "inittab"), []byte(":a:respawn:/bin/sleep 1001\n"), 0o644)
	syscall.Kill(s.pid2Pid(), syscall.SIGHUP)
	s.waitFor("c and d removed", 10*time.Second, func() bool { return len(s.status()) == 1 })
}

func TestControlRefusesNonRoot(t *testing.T) {
	t.Parallel()
	s := boot(t, ":a:respawn:/bin/sleep 1001\n", nil)
	s.allRunning(10*time.Second, "a")
	// Open the file permissions, so that only SO_PEERCRED stands in the way.
	os.Chmod(s.root, 0o755)
	os.Chmod(s.state, 0o755)
	os.Chmod(filepath.Join(s.state, "control"), 0o777)
	os.Chmod(filepath.Dir(s.root), 0o755)
	dir, err := os.MkdirTemp("", "pid2-nonroot-")
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(dir)
	os.Chmod(dir, 0o755)
	bin := filepath.Join(dir, "toybox-go")
	if out, err := exec.Command("cp", testbin.Path(t), bin).CombinedOutput(); err != nil {
		t.Fatalf("cp: %v %s", err, out)
	}
	cmd := exec.Command(bin, "pid2", "-d", s.state, "status")
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534}}
	out, err := cmd.CombinedOutput()
	if err == nil || !strings.Contains(string(out), "permission denied") || strings.Contains(string(out), "running") {
		t.Errorf("non-root peer: err %v, output %q", err, out)
	}
	if out, err := s.ctl("status"); err != nil || !strings.Contains(out, "running") {
		t.Errorf("root peer: %v %q", err, out)
	}
}

func TestHostileInittab(t *testing.T) {
	t.Parallel()
	var b strings.Builder
	b.WriteString(":ok:respawn:/bin/sleep 1001\n")
	b.WriteString("::respawn:/bin/" + strings.Repeat("A", 200000) + "\n")
	b.WriteString("\x7fELF\x02\x01\x01\x00\x00\x00:\xff\xfe::\n")
	b.WriteString(":ok2:respawn:/bin/sleep 1002\n")
	for i := range 10000 {
		fmt.Fprintf(&b, "::ctrlaltdel:/bin/true %d\n", i)
	}
	b.WriteString("::respawn:/bin/unterminated")
	s := boot(t, b.String(), nil)
	s.allRunning(10*time.Second, "ok", "ok2")
	con := s.console()
	for _, want := range []string{"inittab:2: line longer", "inittab:3: not text", "more than 1024 entries"} {
		if !strings.Contains(con, want) {
			t.Errorf("log lacks %q", want)
		}
	}
	s.signal(syscall.SIGTERM)
	s.expectEnd(20*time.Second, nstest.Rebooted)
}

func TestNoInittabStillBoots(t *testing.T) {
	t.Parallel()
	s := boot(t, "", map[string]string{"etc/rc.d/S10a": rcScript})
	s.waitFor("S10a", 10*time.Second, func() bool { return count(s.markLines(), "S10a-boot") == 1 })
	s.waitFor("running", 10*time.Second, func() bool { return strings.Contains(s.console(), "- init complete -") })
	// The built-in default has a console shell (this host has /bin/sh).
	s.waitFor("console shell", 10*time.Second, func() bool {
		b, _ := os.ReadFile(filepath.Join(s.root, "askconsole"))
		return strings.Contains(string(b), "Please press Enter to activate this console.")
	})
	var shell bool
	for _, x := range s.status() {
		shell = shell || x.Action == "askconsole" && x.Command == "-sh"
	}
	if !shell {
		t.Errorf("no askconsole -sh entry in %+v", s.status())
	}
	s.signal(syscall.SIGUSR2)
	s.expectEnd(20*time.Second, nstest.Halted)
}

// TestServiceEnvironment: a service runs in its own session, in the default
// signal state, with no descriptor of pid2's (fd 3 above all) and stdin on
// /dev/null; its output reaches the log and `pid2 log`.
func TestServiceEnvironment(t *testing.T) {
	t.Parallel()
	s := boot(t, ":talk:respawn:echo talk-output; exec sleep 1001\n:probe:respawn:/bin/sleep 1000\n", nil)
	st := s.allRunning(10*time.Second, "probe", "talk")
	host := 0
	s.waitFor("probe exec'd", 5*time.Second, func() bool {
		for hp, argv := range s.procs() {
			if argv == "/bin/sleep 1000" {
				host = hp
			}
		}
		return host != 0
	})
	if nstest.NSPid(host) != st["probe"].Pid {
		t.Fatalf("probe not found (host pid %d)", host)
	}
	ents, _ := os.ReadDir(fmt.Sprintf("/proc/%d/fd", host))
	var fds []string
	for _, e := range ents {
		fds = append(fds, e.Name())
	}
	if strings.Join(fds, " ") != "0 1 2" {
		var what []string
		for _, fd := range fds {
			l, _ := os.Readlink(fmt.Sprintf("/proc/%d/fd/%s", host, fd))
			what = append(what, fd+"="+l)
		}
		t.Errorf("fds of the service: %q, want 0 1 2", what)
	}
	if in, _ := os.Readlink(fmt.Sprintf("/proc/%d/fd/0", host)); in != "/dev/null" {
		t.Errorf("stdin %q", in)
	}
	b, _ := os.ReadFile(fmt.Sprintf("/proc/%d/status", host))
	for _, l := range strings.Split(string(b), "\n") {
		if f := strings.Fields(l); len(f) == 2 && (f[0] == "SigIgn:" || f[0] == "SigBlk:") && strings.Trim(f[1], "0") != "" {
			t.Errorf("signal state: %q", l)
		}
	}
	b, _ = os.ReadFile(fmt.Sprintf("/proc/%d/stat", host))
	f := strings.Fields(string(b)[strings.LastIndexByte(string(b), ')')+1:])
	if f[3] != f[2] || f[2] != strconv.Itoa(host) { // host view of pgrp and session
		t.Errorf("pgrp %s session %s, want both %d", f[2], f[3], host)
	}
	s.waitFor("output in pid2 log", 5*time.Second, func() bool {
		out, _ := s.ctl("log", "talk")
		return strings.Contains(out, "talk-output")
	})
	if !strings.Contains(s.console(), "talk: talk-output") {
		t.Error("service output not in the log with its name")
	}
}

// TestHeartbeat: with `oneit -H 1` pid2 keeps its heartbeat from the main loop;
// a stopped (wedged) pid2 loses it and is relaunched, and adopts the services.
func TestHeartbeat(t *testing.T) {
	t.Parallel()
	s := boot(t, ":a:respawn:/bin/sleep 1001\n", nil, "-H", "1")
	before := s.allRunning(10*time.Second, "a")
	p := s.pid2Pid()
	// Nothing to wait for: pid2 must simply still be there after 3 periods.
	time.Sleep(3 * time.Second)
	if q := s.pid2Pid(); q != p {
		t.Fatalf("pid2 relaunched (%d -> %d) although it kept its heartbeat", p, q)
	}
	syscall.Kill(p, syscall.SIGSTOP)
	s.waitFor("relaunch of the wedged pid2", 10*time.Second, func() bool { q := s.pid2Pid(); return q != 0 && q != p })
	after := s.allRunning(10*time.Second, "a")
	if after["a"].Pid != before["a"].Pid || !after["a"].Adopted {
		t.Errorf("service not adopted after the relaunch: %+v -> %+v", before["a"], after["a"])
	}
}

// TestWithoutRecords: under `oneit -r` without -3 there is no PID pipe; a
// relaunched pid2 learns adopted services' deaths another way (pidfd).
func TestWithoutRecords(t *testing.T) {
	t.Parallel()
	s := bootWith(t, []string{"-r"}, ":a:respawn:/bin/sleep 1001\n", nil)
	before := s.allRunning(10*time.Second, "a")
	p := s.pid2Pid()
	syscall.Kill(p, syscall.SIGKILL)
	s.waitFor("pid2 relaunched", 10*time.Second, func() bool { q := s.pid2Pid(); return q != 0 && q != p })
	st := s.allRunning(10*time.Second, "a")
	if !st["a"].Adopted || st["a"].Pid != before["a"].Pid {
		t.Fatalf("not adopted: %+v", st["a"])
	}
	for hp, argv := range s.procs() {
		if argv == "/bin/sleep 1001" {
			syscall.Kill(hp, syscall.SIGKILL)
		}
	}
	s.waitFor("respawn of the adopted service", 10*time.Second, func() bool {
		x := s.status()["a"]
		return x.State == supervise.StateRunning && x.Pid != 0 && x.Pid != before["a"].Pid
	})
}

// TestCtrlAltDel: INT runs the ctrlaltdel entries, then the shutdown.
func TestCtrlAltDel(t *testing.T) {
	t.Parallel()
	s := boot(t, "::ctrlaltdel:echo cad >> @MARKS@\n::shutdown:echo down >> @MARKS@\n:a:respawn:/bin/sleep 1001\n", nil)
	s.allRunning(10*time.Second, "a")
	s.signal(syscall.SIGINT)
	s.expectEnd(20*time.Second, nstest.Rebooted)
	if m := s.markLines(); strings.Join(m, " ") != "cad down" {
		t.Errorf("marks %q, want cad then down", m)
	}
}

// TestAskFirst: an askfirst entry prints the prompt on its tty and runs only
// after Enter, with the tty as its controlling terminal.
func TestAskFirst(t *testing.T) {
	t.Parallel()
	testbin.RequireRoot(t)
	master, pts := openPTY(t)
	out := make(chan string, 64)
	go func() {
		buf := make([]byte, 512)
		for {
			n, err := master.Read(buf)
			if n > 0 {
				out <- string(buf[:n])
			}
			if err != nil {
				close(out)
				return
			}
		}
	}()
	s := boot(t, pts+":ask:askfirst:echo activated >> @MARKS@; cut -d' ' -f7 /proc/$$/stat >> @MARKS@; exec sleep 1000\n", nil)
	var seen string
	deadline := time.After(10 * time.Second)
	for !strings.Contains(seen, "Please press Enter to activate this console.") {
		select {
		case o := <-out:
			seen += o
		case <-deadline:
			t.Fatalf("no prompt on %s; got %q", pts, seen)
		}
	}
	if m := s.markLines(); len(m) != 0 {
		t.Fatalf("ran before Enter: %q", m)
	}
	master.Write([]byte("\n"))
	s.waitFor("activation", 10*time.Second, func() bool { return len(s.markLines()) == 2 })
	if m := s.markLines(); m[0] != "activated" || m[1] == "0" {
		t.Errorf("marks %q: want activated and a controlling tty (tty_nr != 0)", m)
	}
	if st := s.status()["ask"]; st.State != supervise.StateRunning {
		t.Errorf("status %+v", st)
	}
}

// TestRebootApplets: reboot, halt and poweroff signal PID 1, which has pid2
// shut down in order; -f skips the shutdown; `pid2 halt` asks through the socket.
func TestRebootApplets(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name     string
		cmd      string
		want     nstest.Ending
		shutdown bool
	}{
		{"reboot", "reboot", nstest.Rebooted, true},
		{"halt", "halt -d 0.1", nstest.Halted, true},
		{"poweroff", "poweroff", nstest.Halted, true},
		{"reboot-f", "reboot -f", nstest.Rebooted, false},
		{"pid2-halt", "pid2 -d @ROOT@/state halt", nstest.Halted, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			bin := testbin.Path(t)
			s := boot(t, "::once:"+bin+" "+tc.cmd+"\n::shutdown:echo shutdown >> @MARKS@\n:a:respawn:/bin/sleep 1001\n", nil)
			s.expectEnd(30*time.Second, tc.want)
			if got := count(s.markLines(), "shutdown") == 1; got != tc.shutdown {
				t.Errorf("shutdown entry ran: %v, want %v", got, tc.shutdown)
			}
		})
	}
}

func TestHotplugOnly(t *testing.T) {
	t.Parallel()
	testbin.RequireRoot(t)
	rules := filepath.Join(t.TempDir(), "hotplug.json")
	if err := os.WriteFile(rules, []byte(`[ [ "case", "ACTION", { "add": [ [ "exec", "/bin/true" ] ] } ] ]`), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(testbin.Applet(t, "pid2"), "-h", rules)
	cmd.Env = testbin.Env()
	// Its log is the only sign it is ready: read it as it comes, up to the
	// "listening" line (no data race on a buffer, no polling).
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	stderr.(*os.File).SetReadDeadline(time.Now().Add(10 * time.Second))
	var log strings.Builder
	for sc := bufio.NewScanner(stderr); !strings.Contains(log.String(), "listening") && sc.Scan(); {
		log.WriteString(sc.Text() + "\n")
	}
	cmd.Process.Signal(syscall.SIGTERM)
	stderr.(*os.File).SetReadDeadline(time.Now().Add(10 * time.Second))
	rest, _ := io.ReadAll(stderr)
	log.Write(rest)
	if err := cmd.Wait(); err != nil || !strings.Contains(log.String(), "listening") {
		t.Errorf("pid2 -h: %v; log %q", err, log.String())
	}
}

// TestQuitReexec: SIGQUIT without a restart entry re-execs pid2, which keeps
// its services (adopted from the pid files), fd 3 and its heartbeat.
func TestQuitReexec(t *testing.T) {
	t.Parallel()
	s := boot(t, ":a:respawn:/bin/sleep 1001\n", nil, "-H", "2")
	before := s.allRunning(10*time.Second, "a")
	p := s.pid2Pid()
	syscall.Kill(p, syscall.SIGQUIT)
	s.waitFor("re-exec", 10*time.Second, func() bool { return strings.Count(s.console(), "- early -") == 2 })
	after := s.allRunning(10*time.Second, "a")
	if q := s.pid2Pid(); q != p || after["a"].Pid != before["a"].Pid || !after["a"].Adopted {
		t.Fatalf("pid2 %d -> %d, service %+v -> %+v", p, q, before["a"], after["a"])
	}
	// Still its child: a death is seen and the service respawned.
	for hp, argv := range s.procs() {
		if argv == "/bin/sleep 1001" {
			syscall.Kill(hp, syscall.SIGKILL)
		}
	}
	s.waitFor("respawn", 10*time.Second, func() bool {
		x := s.status()["a"]
		return x.State == supervise.StateRunning && x.Pid != before["a"].Pid && x.Pid != 0
	})
	// The heartbeat survived the exec: no relaunch over three periods.
	time.Sleep(3 * time.Second)
	if q := s.pid2Pid(); q != p {
		t.Errorf("pid2 relaunched (%d -> %d): heartbeat lost in the re-exec", p, q)
	}
}

// TestQuitRestartEntry: with a `restart` entry, SIGQUIT stops every service
// and pid2 execs that command in its own place (busybox init's behaviour).
func TestQuitRestartEntry(t *testing.T) {
	t.Parallel()
	s := boot(t, ":a:respawn:/bin/sleep 1001\n::restart:/bin/sleep 1003\n", nil)
	s.allRunning(10*time.Second, "a")
	p := s.pid2Pid()
	syscall.Kill(p, syscall.SIGQUIT)
	s.waitFor("the restart entry in pid2's place", 15*time.Second, func() bool {
		return s.procs()[p] == "/bin/sleep 1003"
	})
	for hp, argv := range s.procs() {
		if argv == "/bin/sleep 1001" {
			t.Errorf("service a (pid %d) still runs after the restart entry took over", hp)
		}
	}
}

// TestRespawnOnTTY: a respawn entry with a tty field runs on that tty, as its
// controlling terminal (what a getty needs).
func TestRespawnOnTTY(t *testing.T) {
	t.Parallel()
	testbin.RequireRoot(t)
	master, pts := openPTY(t)
	got := make(chan string, 1)
	go func() {
		var seen string
		buf := make([]byte, 256)
		for {
			n, err := master.Read(buf)
			seen += string(buf[:n])
			if strings.Contains(seen, "hello-tty") || err != nil {
				got <- seen
				return
			}
		}
	}()
	s := boot(t, pts+":getty:respawn:cut -d' ' -f7 /proc/$$/stat >> @MARKS@; echo hello-tty; exec sleep 1000\n", nil)
	select {
	case out := <-got:
		if !strings.Contains(out, "hello-tty") {
			t.Fatalf("tty output %q", out)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("nothing on the tty")
	}
	s.waitFor("mark", 5*time.Second, func() bool { return len(s.markLines()) == 1 })
	if m := s.markLines(); m[0] == "0" {
		t.Errorf("no controlling tty: tty_nr %s", m[0])
	}
}

// TestNestedContainer: a service that is itself a PID namespace with oneit as
// its init; the inner reboot ends it by SIGHUP, an ordinary exit to pid2.
func TestNestedContainer(t *testing.T) {
	t.Parallel()
	testbin.RequireTool(t, "unshare")
	oneit := testbin.Applet(t, "oneit")
	s := boot(t, ":box:respawn:echo run >> @MARKS@; exec unshare --pid --fork --mount --mount-proc "+oneit+" -c /dev/null /bin/true\n", nil)
	s.waitFor("the box respawned", 15*time.Second, func() bool { return count(s.markLines(), "run") >= 2 })
	st := s.status()["box"]
	if st.LastExit != "signal HUP" || st.Restarts < 1 {
		t.Errorf("status %+v: want last exit signal HUP (the inner reboot)", st)
	}
}

// TestAskFirstShutdown: an askfirst entry still waiting for Enter ends at
// once on the TERM of a shutdown (and of a stop), never waiting for the KILL.
func TestAskFirstShutdown(t *testing.T) {
	t.Parallel()
	master, pts := openPTY(t)
	prompt := make(chan struct{})
	go func() {
		var seen string
		buf := make([]byte, 512)
		for {
			n, err := master.Read(buf)
			seen += string(buf[:n])
			if strings.Count(seen, "Please press Enter") == 2 {
				close(prompt)
				return
			}
			if err != nil {
				return
			}
		}
	}()
	s := boot(t, pts+":ask:askfirst:echo activated >> @MARKS@; exec sleep 1000\n"+
		pts+":ask2:askfirst:echo activated >> @MARKS@; exec sleep 1000\n:a:respawn:/bin/sleep 1001\n", nil)
	select {
	case <-prompt:
	case <-time.After(10 * time.Second):
		t.Fatal("no prompts")
	}
	s.allRunning(10*time.Second, "ask", "ask2", "a")
	// A stop ends the waiting trampoline at once.
	t0 := time.Now()
	if out, err := s.ctl("stop", "ask2"); err != nil {
		t.Fatalf("stop: %v %s", err, out)
	}
	s.waitFor("ask2 stopped", 4*time.Second, func() bool { return s.status()["ask2"].State == supervise.StateStopped })
	if d := time.Since(t0); d > 3*time.Second {
		t.Errorf("stop took %v", d)
	}
	// So does a shutdown: it completes well before the 5 s KILL.
	t0 = time.Now()
	s.signal(syscall.SIGTERM)
	s.expectEnd(4*time.Second, nstest.Rebooted)
	if d := time.Since(t0); d >= supervise.KillDelay {
		t.Errorf("shutdown took %v", d)
	}
	if c := s.console(); strings.Contains(c, "did not stop in") {
		t.Errorf("a service needed the KILL:\n%s", c)
	}
	if m := s.markLines(); len(m) != 0 {
		t.Errorf("an askfirst entry ran without Enter: %q", m)
	}
}

// TestTaskSurvivesRelaunch: a once entry outlives pid2's kill -9 (a relaunch
// by oneit) and its SIGQUIT re-exec. Its output goes through a log FIFO (not a
// pipe whose reader dies with pid2), so its next write does not raise SIGPIPE,
// the new pid2 logs that output, learns the task's end, and does not run it
// again.
func TestTaskSurvivesRelaunch(t *testing.T) {
	t.Parallel()
	for _, sig := range []syscall.Signal{syscall.SIGKILL, syscall.SIGQUIT} {
		t.Run(unix.SignalName(sig), func(t *testing.T) {
			t.Parallel()
			taskSurvives(t, sig)
		})
	}
}

func taskSurvives(t *testing.T, sig syscall.Signal) {
	task := "#!/bin/sh\necho first line\necho started >> @MARKS@\n" +
		"while [ ! -e @ROOT@/go ]; do sleep 0.05; done\n" +
		"echo second line\necho wrote >> @MARKS@\nexit 0\n"
	s := boot(t, ":t1:once:@ROOT@/task.sh\n:a:respawn:/bin/sleep 1001\n", map[string]string{"task.sh": task})
	s.waitFor("the task started", 10*time.Second, func() bool { return count(s.markLines(), "started") == 1 })
	s.waitFor("first line logged", 10*time.Second, func() bool {
		out, _ := s.ctl("log")
		return strings.Contains(out, "first line")
	})
	p := s.pid2Pid()
	if p == 0 {
		t.Fatal("pid2 not found")
	}
	syscall.Kill(p, sig)
	if sig == syscall.SIGQUIT {
		s.waitFor("re-exec", 10*time.Second, func() bool { return strings.Count(s.console(), "- early -") == 2 })
	} else {
		s.waitFor("pid2 relaunched", 10*time.Second, func() bool { q := s.pid2Pid(); return q != 0 && q != p })
	}
	s.allRunning(10*time.Second, "a")
	s.waitFor("the task adopted", 10*time.Second, func() bool { return strings.Contains(s.console(), "adopted task t1") })
	os.WriteFile(filepath.Join(s.root, "go"), nil, 0o644)
	s.waitFor("second line logged", 10*time.Second, func() bool {
		out, _ := s.ctl("log")
		return strings.Contains(out, "second line")
	})
	s.waitFor("the task's end learned", 10*time.Second, func() bool {
		return strings.Contains(s.console(), "t1 finished:")
	})
	if m := s.markLines(); count(m, "started") != 1 || count(m, "wrote") != 1 {
		t.Errorf("marks %q: want the task once, to its end", m)
	}
	c := s.console()
	if strings.Contains(c, "t1 finished: signal PIPE") {
		t.Errorf("the task died of SIGPIPE:\n%s", c)
	}
	// Re-exec'd, pid2 is still the task's parent and reaps it: the real exit.
	if sig == syscall.SIGQUIT && !strings.Contains(c, "t1 finished: exit 0") {
		t.Errorf("the task's exit status was not learned:\n%s", c)
	}
}

// TestRCScriptSurvivesRelaunch: an rc script still running when pid2 is
// killed keeps running; the relaunched pid2 waits for its end instead of
// running it (or the scripts before it) again, then runs the rest of the boot.
func TestRCScriptSurvivesRelaunch(t *testing.T) {
	t.Parallel()
	slow := "#!/bin/sh\necho S10slow-$1 >> @MARKS@\necho slow begins\n" +
		"while [ ! -e @ROOT@/go ]; do sleep 0.05; done\necho slow ends\necho S10slow-done >> @MARKS@\n"
	s := boot(t, "::sysinit:/etc/init.d/rcS S boot\n", map[string]string{
		"etc/rc.d/S05first": rcScript, "etc/rc.d/S10slow": slow, "etc/rc.d/S20last": rcScript})
	s.waitFor("S10slow started", 10*time.Second, func() bool { return count(s.markLines(), "S10slow-boot") == 1 })
	p := s.pid2Pid()
	if p == 0 {
		t.Fatal("pid2 not found")
	}
	syscall.Kill(p, syscall.SIGKILL)
	s.waitFor("pid2 relaunched", 10*time.Second, func() bool { q := s.pid2Pid(); return q != 0 && q != p })
	s.waitFor("the script adopted", 10*time.Second, func() bool {
		return strings.Contains(s.console(), "adopted task S10slow")
	})
	os.WriteFile(filepath.Join(s.root, "go"), nil, 0o644)
	s.waitFor("S20last ran", 10*time.Second, func() bool { return count(s.markLines(), "S20last-boot") == 1 })
	s.waitFor("its output logged", 10*time.Second, func() bool {
		out, _ := s.ctl("log")
		return strings.Contains(out, "slow ends") && strings.Contains(out, "output of S20last")
	})
	m := s.markLines()
	want := []string{"S05first-boot", "S10slow-boot", "S10slow-done", "S20last-boot"}
	if strings.Join(m, " ") != strings.Join(want, " ") {
		t.Errorf("marks %q, want %q (each once, in order)", m, want)
	}
}

// openPTY is testbin.OpenPTY with the slave named below /dev, as inittab
// names ttys.
func openPTY(t *testing.T) (*os.File, string) {
	m, slave := testbin.OpenPTY(t)
	return m, strings.TrimPrefix(slave, "/dev/")
}
