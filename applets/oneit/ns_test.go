package oneit_test

// Tier 2: oneit as the real PID 1 of a PID namespace (internal/nstest), and as
// an ordinary process for toybox's not-PID-1 exit codes. The test binary doubles
// as the helper programs the tests run inside the namespace (see TestMain).

import (
	"bufio"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"

	"toybox-go/internal/nstest"
	"toybox-go/internal/testbin"
)

func TestMain(m *testing.M) {
	switch os.Getenv("ONEIT_TEST_ROLE") {
	case "":
		os.Exit(m.Run())
	case "orphans":
		os.Exit(roleOrphans())
	case "reader":
		os.Exit(roleReader())
	case "relaunch":
		os.Exit(roleRelaunch())
	default:
		fmt.Fprintln(os.Stderr, "unknown ONEIT_TEST_ROLE")
		os.Exit(2)
	}
}

// ---- helper roles (run inside the namespace) ----

// roleOrphans forks ONEIT_TEST_N children that sleep ONEIT_TEST_DELAY_MS and
// exit, prints their PIDs and exits at once without waiting: every child ends
// up an orphan reaped by PID 1. Raw clone: the child runs only two raw system
// calls, so forking a Go process is safe here.
func roleOrphans() int {
	n, _ := strconv.Atoi(os.Getenv("ONEIT_TEST_N"))
	ms, _ := strconv.Atoi(os.Getenv("ONEIT_TEST_DELAY_MS"))
	ts := unix.NsecToTimespec(int64(ms) * 1e6)
	w := bufio.NewWriter(os.Stdout)
	for i := 0; i < n; i++ {
		pid, _, errno := syscall.RawSyscall6(syscall.SYS_CLONE, uintptr(syscall.SIGCHLD), 0, 0, 0, 0, 0)
		if errno != 0 {
			fmt.Fprintln(os.Stderr, "clone:", errno)
			return 1
		}
		if pid == 0 {
			syscall.RawSyscall(syscall.SYS_NANOSLEEP, uintptr(unsafe.Pointer(&ts)), 0, 0)
			syscall.RawSyscall(syscall.SYS_EXIT_GROUP, 0, 0, 0)
		}
		fmt.Fprintln(w, pid)
	}
	w.Flush()
	return 0
}

// makeOrphans runs roleOrphans and returns the orphans' PIDs.
func makeOrphans(n, delayMS int) ([]int, error) {
	self, _ := os.Executable()
	cmd := exec.Command(self)
	cmd.Env = append(os.Environ(), "ONEIT_TEST_ROLE=orphans", "ONEIT_TEST_N="+strconv.Itoa(n), "ONEIT_TEST_DELAY_MS="+strconv.Itoa(delayMS))
	cmd.Stderr = os.Stderr
	out, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("orphan maker: %w", err)
	}
	var pids []int
	for _, f := range strings.Fields(string(out)) {
		p, err := strconv.Atoi(f)
		if err != nil {
			return nil, err
		}
		pids = append(pids, p)
	}
	if len(pids) != n {
		return nil, fmt.Errorf("orphan maker made %d of %d", len(pids), n)
	}
	return pids, nil
}

// waitGone waits until none of pids exists in /proc, zombies included: only a
// reaper makes a zombie go away.
func waitGone(pids []int, timeout time.Duration) (left int) {
	deadline := time.Now().Add(timeout)
	for {
		left = 0
		for _, p := range pids {
			if _, err := os.Stat("/proc/" + strconv.Itoa(p)); err == nil {
				left++
			}
		}
		if left == 0 || time.Now().After(deadline) {
			return left
		}
		time.Sleep(20 * time.Millisecond) // polling /proc: no event tells us
	}
}

// readerResult is what roleReader reports.
type readerResult struct {
	Orphans []int
	Left    int      // orphans still in /proc after the stall: unreaped
	Records []uint32 // what fd 3 delivered
	Err     string
}

// roleReader is oneit -3's child: it makes orphans, does NOT read fd 3 until
// PID 1 has reaped them all (a stalled reader), then drains fd 3.
func roleReader() int {
	res := readerResult{}
	defer func() {
		b, _ := json.Marshal(res)
		_ = os.WriteFile(os.Getenv("ONEIT_TEST_OUT"), b, 0o644)
	}()
	n, _ := strconv.Atoi(os.Getenv("ONEIT_TEST_N"))
	overflow := os.Getenv("ONEIT_TEST_MODE") == "overflow"
	if overflow {
		// A one-page pipe: most records must wait in (and fall out of) PID 1's queue.
		if _, err := unix.FcntlInt(3, unix.F_SETPIPE_SZ, 4096); err != nil {
			res.Err = err.Error()
			return 1
		}
	}
	pids, err := makeOrphans(n, 20)
	if err != nil {
		res.Err = err.Error()
		return 1
	}
	res.Orphans = pids
	res.Left = waitGone(pids, 90*time.Second)
	if err := unix.SetNonblock(3, true); err != nil {
		res.Err = err.Error()
		return 1
	}
	f := os.NewFile(3, "pidpipe")
	buf := make([]byte, 4)
	for {
		_ = f.SetReadDeadline(time.Now().Add(3 * time.Second))
		if _, err := readFull(f, buf); err != nil {
			if !errors.Is(err, os.ErrDeadlineExceeded) {
				res.Err = err.Error()
			}
			break
		}
		rec := binary.NativeEndian.Uint32(buf)
		res.Records = append(res.Records, rec)
		if (!overflow && len(res.Records) == n) || rec == 0 {
			break
		}
	}
	return 0
}

func readFull(f *os.File, buf []byte) (int, error) {
	n := 0
	for n < len(buf) {
		m, err := f.Read(buf[n:])
		n += m
		if err != nil {
			return n, err
		}
	}
	return n, nil
}

// roleRelaunch is oneit -3 -r's child. The first launch makes 5 orphans that die
// after it exits; the second reads their PIDs from fd 3, the backlog that
// waited in the pipe across the relaunch, then asks PID 1 to halt.
func roleRelaunch() int {
	state := os.Getenv("ONEIT_TEST_OUT") + ".pids"
	if _, err := os.Stat(state); err != nil {
		pids, err := makeOrphans(5, 300)
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		b, _ := json.Marshal(pids)
		_ = os.WriteFile(state, b, 0o644)
		return 0
	}
	res := readerResult{}
	b, _ := os.ReadFile(state)
	_ = json.Unmarshal(b, &res.Orphans)
	_ = unix.SetNonblock(3, true)
	f := os.NewFile(3, "pidpipe")
	buf := make([]byte, 4)
	for len(res.Records) < len(res.Orphans) {
		_ = f.SetReadDeadline(time.Now().Add(10 * time.Second))
		if _, err := readFull(f, buf); err != nil {
			res.Err = err.Error()
			break
		}
		res.Records = append(res.Records, binary.NativeEndian.Uint32(buf))
	}
	b, _ = json.Marshal(res)
	_ = os.WriteFile(os.Getenv("ONEIT_TEST_OUT"), b, 0o644)
	_ = unix.Kill(1, unix.SIGUSR1)
	select {} // oneit forwards USR1 here, which ends us
}

// ---- harness ----

type nsRun struct {
	t      *testing.T
	cmd    *exec.Cmd
	con    string
	done   chan struct{}
	ending nstest.Ending
	err    error
}

// console returns a fresh, empty console file (oneit opens it without O_CREAT).
func console(t *testing.T) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "console")
	if err := os.WriteFile(p, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// startNS runs `oneit -c CONSOLE ARGS...` as PID 1 of a new namespace.
func startNS(t *testing.T, env []string, prefix []string, args ...string) *nsRun {
	t.Helper()
	return startImpl(t, []string{testbin.Applet(t, "oneit")}, env, prefix, args...)
}

// startImpl is startNS for any oneit implementation (impl is its argv
// before the options).
func startImpl(t *testing.T, impl, env, prefix []string, args ...string) *nsRun {
	t.Helper()
	r := &nsRun{t: t, con: console(t), done: make(chan struct{})}
	argv := append(append(slices.Clone(prefix), impl...), "-c", r.con)
	r.cmd = nstest.Command(t, append(argv, args...)...)
	r.cmd.Env = append(r.cmd.Env, env...)
	r.cmd.Stderr = os.Stderr
	if err := r.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		r.ending, r.err = nstest.EndingOf(r.cmd.Wait())
		close(r.done)
	}()
	t.Cleanup(func() {
		select {
		case <-r.done:
		default:
			_ = r.cmd.Process.Kill()
			<-r.done
		}
	})
	return r
}

// wait returns how PID 1 ended, failing the test after timeout.
func (r *nsRun) wait(timeout time.Duration) nstest.Ending {
	r.t.Helper()
	select {
	case <-r.done:
	case <-time.After(timeout):
		_ = r.cmd.Process.Kill()
		<-r.done
		r.t.Fatalf("PID 1 still running after %v; console:\n%s", timeout, r.console())
	}
	if r.err != nil {
		r.t.Fatal(r.err)
	}
	return r.ending
}

func (r *nsRun) console() string {
	b, _ := os.ReadFile(r.con)
	return string(b)
}

func (r *nsRun) expect(timeout time.Duration, want nstest.Ending) {
	r.t.Helper()
	if got := r.wait(timeout); got != want {
		r.t.Fatalf("PID 1 ended %v, want %v; console:\n%s", got, want, r.console())
	}
}

// fifo is a named pipe a child writes a line to when it is ready.
type fifo string

func newFifo(t *testing.T) fifo {
	t.Helper()
	p := filepath.Join(t.TempDir(), "ready")
	if err := unix.Mkfifo(p, 0o600); err != nil {
		t.Fatal(err)
	}
	return fifo(p)
}

// wait blocks until a writer opens the fifo and writes a line.
func (f fifo) wait(t *testing.T, timeout time.Duration) { f.read(t, timeout) }

// read is wait that returns the line, without its newline.
func (f fifo) read(t *testing.T, timeout time.Duration) string {
	t.Helper()
	type result struct {
		line string
		err  error
	}
	got := make(chan result, 1)
	go func() {
		fd, err := os.Open(string(f)) // blocks until the writer opens it
		if err != nil {
			got <- result{err: err}
			return
		}
		defer fd.Close()
		line, err := bufio.NewReader(fd).ReadString('\n')
		got <- result{strings.TrimSuffix(line, "\n"), err}
	}()
	select {
	case r := <-got:
		if r.err != nil {
			t.Fatal(r.err)
		}
		return r.line
	case <-time.After(timeout):
		// Unblock the opener so the goroutine ends.
		if w, err := os.OpenFile(string(f), os.O_WRONLY|unix.O_NONBLOCK, 0); err == nil {
			w.Close()
		}
		t.Fatalf("child not ready after %v", timeout)
	}
	return ""
}

func readJSON(t *testing.T, path string, v any) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("helper wrote no result: %v", err)
	}
	if err := json.Unmarshal(b, v); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
}

func selfEnv(role string, kv ...string) []string {
	return append([]string{"ONEIT_TEST_ROLE=" + role}, kv...)
}

func self(t testing.TB) string {
	p, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// ---- tests ----

func TestChildExitRebootsOrPowersOff(t *testing.T) {
	t.Parallel()
	testbin.RequireRoot(t)
	for name, impl := range oneits(t) {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			startImpl(t, impl, nil, nil, "true").expect(30*time.Second, nstest.Rebooted)
			poweroff := nstest.Halted
			if name == "toybox" {
				// Debian's toybox 0.8.9 reboots on -p too: its -p is lost
				// on the child-exit path. Ours powers off, as documented.
				poweroff = nstest.Rebooted
			}
			startImpl(t, impl, nil, nil, "-p", "true").expect(30*time.Second, poweroff)
		})
	}
}

func TestShutdownSignals(t *testing.T) {
	t.Parallel()
	testbin.RequireRoot(t)
	for name, impl := range oneits(t) {
		for _, tc := range []struct {
			sig  syscall.Signal
			want nstest.Ending
		}{
			{unix.SIGTERM, nstest.Rebooted},
			{unix.SIGINT, nstest.Rebooted},
			{unix.SIGUSR1, nstest.Halted},
			{unix.SIGUSR2, nstest.Halted},
			{unix.SIGPWR, nstest.Halted},
		} {
			if name == "toybox" && tc.sig == unix.SIGPWR {
				continue // toybox ignores SIGPWR; ours powers off, as busybox init
			}
			t.Run(name+"/"+tc.sig.String(), func(t *testing.T) {
				t.Parallel()
				ready := newFifo(t)
				r := startImpl(t, impl, nil, nil, "sh", "-c", "echo > "+string(ready)+"; exec sleep 1000")
				ready.wait(t, 30*time.Second)
				_ = r.cmd.Process.Signal(tc.sig)
				r.expect(30*time.Second, tc.want)
			})
		}
	}
}

func TestOtherSignalsChangeNothing(t *testing.T) {
	t.Parallel()
	ready := newFifo(t)
	mark := filepath.Join(t.TempDir(), "mark")
	r := startNS(t, nil, nil, "sh", "-c",
		`trap "echo got-term > `+mark+`; exit 0" TERM; echo > `+string(ready)+`; sleep 1000 & wait`)
	ready.wait(t, 30*time.Second)
	for _, sig := range []syscall.Signal{unix.SIGHUP, unix.SIGQUIT, unix.SIGWINCH, unix.SIGALRM,
		unix.SIGPIPE, unix.SIGTSTP, unix.SIGTTIN, unix.SIGTTOU, unix.SIGVTALRM, unix.SIGXCPU, unix.SIGSYS, 40} {
		if err := r.cmd.Process.Signal(sig); err != nil {
			t.Fatal(err)
		}
	}
	// Halt, which the namespace shows as SIGINT: a death by HUP, QUIT or the
	// Go runtime's exit 2 would show otherwise.
	_ = r.cmd.Process.Signal(unix.SIGUSR1)
	r.expect(30*time.Second, nstest.Halted)
	if b, _ := os.ReadFile(mark); string(b) != "got-term\n" {
		t.Fatalf("the child did not live until the final SIGTERM (mark %q)", b)
	}
}

func TestThousandOrphansNoZombies(t *testing.T) {
	t.Parallel()
	// The child makes 1000 orphans and exits only when /proc shows none of
	// them: that happens only if PID 1 reaps them.
	out := filepath.Join(t.TempDir(), "res")
	script := fmt.Sprintf(`ONEIT_TEST_ROLE=orphans ONEIT_TEST_N=1000 ONEIT_TEST_DELAY_MS=50 %s > %s.pids &&
		for i in $(seq 600); do
			left=0; for p in $(cat %[2]s.pids); do [ -e /proc/$p ] && left=$((left+1)); done
			[ $left = 0 ] && break; sleep 0.1
		done; echo $left > %[2]s`, self(t), out)
	r := startNS(t, nil, nil, "sh", "-c", script)
	r.expect(120*time.Second, nstest.Rebooted)
	if b, _ := os.ReadFile(out); strings.TrimSpace(string(b)) != "0" {
		t.Fatalf("orphans left unreaped: %q", b)
	}
}

func checkRecords(t *testing.T, res readerResult, wantRescan bool) {
	t.Helper()
	if res.Err != "" {
		t.Fatalf("reader: %s", res.Err)
	}
	if res.Left != 0 {
		t.Fatalf("%d orphans still unreaped while the reader stalled", res.Left)
	}
	want := map[uint32]bool{}
	for _, p := range res.Orphans {
		want[uint32(p)] = true
	}
	seen := map[uint32]bool{}
	for i, rec := range res.Records {
		if rec == 0 {
			if !wantRescan || i != len(res.Records)-1 {
				t.Fatalf("unexpected rescan record at %d of %d", i, len(res.Records))
			}
			continue
		}
		if !want[rec] {
			t.Fatalf("record %d: PID %d is not one of the orphans", i, rec)
		}
		if seen[rec] {
			t.Fatalf("record %d: PID %d arrived twice", i, rec)
		}
		seen[rec] = true
	}
	if wantRescan {
		if len(res.Records) == 0 || res.Records[len(res.Records)-1] != 0 {
			t.Fatalf("overflow without a 0 rescan record (%d records)", len(res.Records))
		}
		if len(seen) >= len(want) {
			t.Fatalf("overflow test lost nothing: %d records", len(seen))
		}
		return
	}
	if len(seen) != len(want) {
		t.Fatalf("%d of %d orphans' PIDs arrived", len(seen), len(want))
	}
}

func TestPIDPipe20000OrphansStalledReader(t *testing.T) {
	t.Parallel()
	out := filepath.Join(t.TempDir(), "res")
	r := startNS(t, selfEnv("reader", "ONEIT_TEST_N=20000", "ONEIT_TEST_OUT="+out), nil, "-3", self(t))
	r.expect(240*time.Second, nstest.Rebooted)
	var res readerResult
	readJSON(t, out, &res)
	checkRecords(t, res, false)
}

func TestPIDPipeOverflowSendsRescan(t *testing.T) {
	t.Parallel()
	out := filepath.Join(t.TempDir(), "res")
	env := selfEnv("reader", "ONEIT_TEST_N=3000", "ONEIT_TEST_MODE=overflow", "ONEIT_TEST_OUT="+out, "TOYBOX_GO_ONEIT_QUEUE=100")
	r := startNS(t, env, nil, "-3", self(t))
	r.expect(120*time.Second, nstest.Rebooted)
	var res readerResult
	readJSON(t, out, &res)
	checkRecords(t, res, true)
}

func TestPIDBacklogSurvivesRelaunch(t *testing.T) {
	t.Parallel()
	out := filepath.Join(t.TempDir(), "res")
	r := startNS(t, selfEnv("relaunch", "ONEIT_TEST_OUT="+out), nil, "-3", "-r", self(t))
	r.expect(60*time.Second, nstest.Halted)
	var res readerResult
	readJSON(t, out, &res)
	if res.Err != "" {
		t.Fatal(res.Err)
	}
	got := slices.Clone(res.Records)
	slices.Sort(got)
	var want []uint32
	for _, p := range res.Orphans {
		want = append(want, uint32(p))
	}
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Fatalf("second launch read %v, want the first launch's orphans %v", res.Records, res.Orphans)
	}
}

func TestRelaunchSpacing(t *testing.T) {
	t.Parallel()
	stamps := filepath.Join(t.TempDir(), "stamps")
	r := startNS(t, nil, nil, "-r", "sh", "-c",
		`date +%s%N >> `+stamps+`; [ $(wc -l < `+stamps+`) -ge 4 ] && kill -USR1 1; exit 0`)
	r.expect(60*time.Second, nstest.Halted)
	b, _ := os.ReadFile(stamps)
	var ts []int64
	for _, f := range strings.Fields(string(b)) {
		n, err := strconv.ParseInt(f, 10, 64)
		if err != nil {
			t.Fatal(err)
		}
		ts = append(ts, n)
	}
	if len(ts) < 4 {
		t.Fatalf("%d launches, want 4", len(ts))
	}
	for i := 1; i < len(ts); i++ {
		if gap := time.Duration(ts[i] - ts[i-1]); gap < 900*time.Millisecond {
			t.Fatalf("launch %d came %v after the previous one (want >= 1s)", i+1, gap)
		}
	}
}

// statusOf parses "Key:\tvalue" lines.
func statusOf(s string) map[string]string {
	m := map[string]string{}
	for _, ln := range strings.Split(s, "\n") {
		if k, v, ok := strings.Cut(ln, ":"); ok {
			m[k] = strings.TrimSpace(v)
		}
	}
	return m
}

func TestChildSignalStateIsClean(t *testing.T) {
	t.Parallel()
	// The harness's shell ignores INT and QUIT before exec'ing oneit, as a
	// non-interactive shell does for background jobs: none of it may leak.
	prefix := []string{"sh", "-c", `trap "" INT QUIT HUP; exec "$@"`, "sh"}
	// The child reads its own state: a shell reading its own /proc/$$ from a
	// forked cat races with the shell, which blocks every signal while it
	// forks (dash does), and so sometimes shows a full mask that is not ours.
	r := startNS(t, nil, prefix, "cat", "/proc/self/status", "/proc/self/stat")
	r.expect(30*time.Second, nstest.Rebooted)
	st := statusOf(r.console())
	for _, k := range []string{"SigIgn", "SigBlk"} {
		if v, ok := st[k]; !ok || strings.Trim(v, "0") != "" {
			t.Errorf("child %s = %q, want all zero; console:\n%s", k, v, r.console())
		}
	}
	var stat []string
	for _, ln := range strings.Split(r.console(), "\n") {
		if i := strings.Index(ln, " (cat) "); i > 0 {
			stat = append([]string{ln[:i]}, strings.Fields(ln[i+7:])...)
		}
	}
	// pid, then from field 3 on: state ppid pgrp session
	if len(stat) < 5 || stat[0] != stat[4] {
		t.Errorf("child is not a session leader: stat %q", stat)
	}
}

func TestTTYConsoleBecomesControllingTTY(t *testing.T) {
	t.Parallel()
	testbin.RequireRoot(t)
	master, slave := testbin.OpenPTY(t)
	go func() { // drain whatever the child writes
		buf := make([]byte, 4096)
		for {
			if _, err := master.Read(buf); err != nil {
				return
			}
		}
	}()
	out := filepath.Join(t.TempDir(), "stat")
	cmd := nstest.Command(t, testbin.Applet(t, "oneit"), "-c", slave, "sh", "-c", "cat /proc/$$/stat > "+out)
	ending, err := nstest.EndingOf(cmd.Run())
	if err != nil || ending != nstest.Rebooted {
		t.Fatalf("ended %v (%v)", ending, err)
	}
	b, _ := os.ReadFile(out)
	s := string(b)
	f := strings.Fields(s[strings.LastIndexByte(s, ')')+1:]) // f[0] = field 3
	// field 5 pgrp, 6 session, 7 tty_nr, 8 tpgid
	if len(f) < 6 || f[4] == "0" || f[5] != f[2] {
		t.Fatalf("child has no controlling tty or is not its foreground group: %q", s)
	}
}

func TestExecFailureReportsAndReboots(t *testing.T) {
	t.Parallel()
	con := console(t)
	start := time.Now()
	cmd := exec.Command(testbin.Applet(t, "oneit"), "-c", con, "/nonexistent/cmd")
	cmd.Env = testbin.Env()
	ending, err := nstest.EndingOf(cmd.Run())
	if err != nil || ending.Code != 142 {
		t.Fatalf("ended %v (%v), want exit 142", ending, err)
	}
	if d := time.Since(start); d < 4*time.Second {
		t.Errorf("gave up after %v, want toybox's 5 s pause", d)
	}
	b, _ := os.ReadFile(con)
	if !strings.Contains(string(b), "/nonexistent/cmd not in PATH=") {
		t.Fatalf("console lacks the exec error: %q", b)
	}
}

func TestNoCapSysBootExits127(t *testing.T) {
	t.Parallel()
	testbin.RequireTool(t, "setpriv")
	r := startNS(t, nil, []string{"setpriv", "--bounding-set", "-sys_boot", "--inh-caps", "-sys_boot", "--"}, "true")
	r.expect(60*time.Second, nstest.Ending{Code: 127})
	if !strings.Contains(r.console(), "reboot failed") {
		t.Fatalf("no clear message on the console: %q", r.console())
	}
}

func TestHeartbeatKillsSilentChild(t *testing.T) {
	t.Parallel()
	launches := filepath.Join(t.TempDir(), "launches")
	r := startNS(t, nil, nil, "-r", "-H", "0.3", "sh", "-c",
		`echo x >> `+launches+`; [ $(wc -l < `+launches+`) -ge 3 ] && kill -USR1 1; exec sleep 1000`)
	r.expect(60*time.Second, nstest.Halted)
	if b, _ := os.ReadFile(launches); strings.Count(string(b), "x") < 3 {
		t.Fatalf("silent child was not killed and relaunched: %q", b)
	}
}

func TestHeartbeatKeepsBeatingChild(t *testing.T) {
	t.Parallel()
	ready := newFifo(t)
	launches := filepath.Join(t.TempDir(), "launches")
	// A generous period: on a loaded 2-core machine a shell loop can stall for
	// a while, and this test is about a beating child not being killed.
	r := startNS(t, nil, nil, "-r", "-H", "2", "sh", "-c",
		`echo x >> `+launches+`; echo > `+string(ready)+`; while :; do echo >&3; sleep 0.1; done`)
	ready.wait(t, 30*time.Second)
	time.Sleep(6 * time.Second) // an observation window of three heartbeat periods
	_ = r.cmd.Process.Signal(unix.SIGTERM)
	r.expect(30*time.Second, nstest.Rebooted)
	if b, _ := os.ReadFile(launches); strings.Count(string(b), "x") != 1 {
		t.Fatalf("a beating child was relaunched: %q", b)
	}
}

func TestPIDPipeForwardsShutdownSignal(t *testing.T) {
	t.Parallel()
	ready := newFifo(t)
	mark := filepath.Join(t.TempDir(), "mark")
	r := startNS(t, nil, nil, "-3", "sh", "-c",
		`trap "echo got-usr2 > `+mark+`; exit 0" USR2; echo > `+string(ready)+`; sleep 1000 & wait`)
	ready.wait(t, 30*time.Second)
	_ = r.cmd.Process.Signal(unix.SIGUSR2)
	r.expect(30*time.Second, nstest.Halted)
	if b, _ := os.ReadFile(mark); string(b) != "got-usr2\n" {
		t.Fatalf("USR2 was not forwarded to the -3 child (mark %q)", b)
	}
}

// oneits are the implementations the not-PID-1 table runs: ours, and Debian's
// toybox where installed, whose behaviour ours keeps.
func oneits(t *testing.T) map[string][]string {
	impls := map[string][]string{"toybox-go": {testbin.Applet(t, "oneit")}}
	if p, err := exec.LookPath("toybox"); err == nil {
		impls["toybox"] = []string{p, "oneit"}
	} else if testbin.Strict() {
		t.Fatal("toybox is not installed (make deps)")
	}
	return impls
}

func TestNotPID1ExitCodes(t *testing.T) {
	t.Parallel()
	for name, argv0 := range oneits(t) {
		for _, tc := range []struct {
			name string
			args []string
			sig  syscall.Signal
			want int
		}{
			{"child-exit", []string{"true"}, 0, 142},
			{"child-exit-p", []string{"-p", "true"}, 0, 139},
			{"TERM", nil, unix.SIGTERM, 142},
			{"INT", nil, unix.SIGINT, 129},
			{"USR1", nil, unix.SIGUSR1, 137},
			{"USR2", nil, unix.SIGUSR2, 139},
		} {
			t.Run(name+"/"+tc.name, func(t *testing.T) {
				t.Parallel()
				args := append(slices.Clone(argv0), "-c", console(t))
				var ready fifo
				if tc.sig != 0 {
					ready = newFifo(t)
					args = append(args, "sh", "-c", "echo $$ > "+string(ready)+"; exec sleep 1000")
				} else {
					args = append(args, tc.args...)
				}
				cmd := exec.Command(args[0], args[1:]...)
				cmd.Env = testbin.Env()
				if err := cmd.Start(); err != nil {
					t.Fatal(err)
				}
				if tc.sig != 0 {
					// Not PID 1, oneit exits as toybox does and leaves its
					// child running: the test ends the child itself.
					child, err := strconv.Atoi(ready.read(t, 30*time.Second))
					if err != nil {
						t.Fatal(err)
					}
					t.Cleanup(func() { _ = unix.Kill(child, unix.SIGKILL) })
					_ = cmd.Process.Signal(tc.sig)
				}
				ending, err := nstest.EndingOf(cmd.Wait())
				want := tc.want
				if name == "toybox" && tc.name == "child-exit-p" {
					// Debian's toybox 0.8.9 exits 127+SIGTERM here: -p only
					// picks poweroff when it is PID 1. Ours says poweroff.
					want = 142
				}
				if err != nil || ending.Code != want {
					t.Fatalf("ended %v (%v), want exit %d", ending, err, want)
				}
			})
		}
	}
}

// TestNoConsoleAsPID1KeepsStdio: in a container the kernel's console is often
// not there; PID 1 must not exit but run COMMAND on the stdio it was given.
func TestNoConsoleAsPID1KeepsStdio(t *testing.T) {
	t.Parallel()
	cmd := nstest.Command(t, testbin.Applet(t, "oneit"), "-c", "/nonexistent/console", "sh", "-c", "echo child-ran")
	var out strings.Builder
	cmd.Stdout = &out
	cmd.Stderr = &out
	ending, err := nstest.EndingOf(cmd.Run())
	if err != nil || ending != nstest.Rebooted {
		t.Fatalf("ended %v (%v), want a reboot; output:\n%s", ending, err, out.String())
	}
	if !strings.Contains(out.String(), "child-ran") || !strings.Contains(out.String(), "keeping the inherited stdio") {
		t.Fatalf("COMMAND did not run on the inherited stdio:\n%s", out.String())
	}
}

// TestUsageErrorAsPID1DoesNotExit: a PID 1 that exits panics the kernel, so a
// bad command line (no COMMAND, a bad -H, --help, as from `init=/sbin/oneit`
// with the wrong words after `--`) is reported and treated like a COMMAND
// that cannot be run: 5 s later, a reboot.
func TestUsageErrorAsPID1DoesNotExit(t *testing.T) {
	t.Parallel()
	for name, args := range map[string][]string{
		"no-command": nil,
		"bad-H":      {"-H", "0", "true"},
		"help":       {"-3", "--help"}, // (a lone --help never reaches Main: multicall prints it)
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			cmd := nstest.Command(t, append([]string{testbin.Applet(t, "oneit")}, args...)...)
			var out strings.Builder
			cmd.Stdout, cmd.Stderr = &out, &out
			start := time.Now()
			ending, err := nstest.EndingOf(cmd.Run())
			if err != nil || ending != nstest.Rebooted {
				t.Fatalf("PID 1 ended %v (%v), want a reboot; output:\n%s", ending, err, out.String())
			}
			if d := time.Since(start); d < 4*time.Second {
				t.Errorf("rebooted after %v, want the 5 s pause of a COMMAND that cannot run", d)
			}
			if !strings.Contains(out.String(), "usage: oneit") && !strings.Contains(out.String(), "oneit --help") {
				t.Errorf("no usage hint in the output:\n%s", out.String())
			}
		})
	}
}

// TestNoPATHAsKernelInit: the kernel starts init with HOME and TERM only, no
// PATH. `init=/sbin/oneit -- sh ...` must still find sh, as toybox's
// execvp does (its libc searches a default path then), and as busybox init
// does, the child gets a PATH.
func TestNoPATHAsKernelInit(t *testing.T) {
	t.Parallel()
	out := filepath.Join(t.TempDir(), "out")
	cmd := nstest.Command(t, testbin.Applet(t, "oneit"), "-c", console(t), "sh", "-c", `echo "PATH=$PATH" > `+out)
	var env []string
	for _, e := range cmd.Env {
		if !strings.HasPrefix(e, "PATH=") {
			env = append(env, e)
		}
	}
	cmd.Env = env
	var log strings.Builder
	cmd.Stdout, cmd.Stderr = &log, &log
	ending, err := nstest.EndingOf(cmd.Run())
	if err != nil || ending != nstest.Rebooted {
		t.Fatalf("PID 1 ended %v (%v), want a reboot; output:\n%s", ending, err, log.String())
	}
	b, err := os.ReadFile(out)
	if err != nil {
		t.Fatalf("sh did not run without PATH: %v; output:\n%s", err, log.String())
	}
	if !strings.Contains(string(b), "/bin") {
		t.Fatalf("the child got no PATH: %q", b)
	}
}

// TestStuckSyncStillReboots: a sync(2) that never ends (a dead disk, a dead
// NFS server; here a loop device whose backing file system is frozen) must
// not keep the final sequence from reboot(2): oneit goes on once the
// kernel's dirty memory stops shrinking for a while (1 s in this test).
//
// sync(2) is system-wide, so for the few seconds the backing file system is
// frozen every sync on this machine waits; a detached shell thaws it after
// 90 s whatever happens to this test.
func TestStuckSyncStillReboots(t *testing.T) {
	testbin.RequireRoot(t)
	mkfs := testbin.RequireTool(t, "mkfs.ext4")
	fsfreeze := testbin.RequireTool(t, "fsfreeze")
	run := func(argv ...string) {
		t.Helper()
		if out, err := exec.Command(argv[0], argv[1:]...).CombinedOutput(); err != nil {
			t.Fatalf("%v: %v\n%s", argv, err, out)
		}
	}
	dir := t.TempDir()
	a, b := filepath.Join(dir, "a"), filepath.Join(dir, "b")
	for _, d := range []string{a, b} {
		if err := os.Mkdir(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	imgA := filepath.Join(dir, "a.img")
	if err := os.WriteFile(imgA, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Truncate(imgA, 64<<20); err != nil {
		t.Fatal(err)
	}
	run(mkfs, "-q", "-F", imgA)
	run("mount", "-o", "loop", imgA, a)
	t.Cleanup(func() { unmountEventually(t, a) })
	imgB := filepath.Join(a, "b.img")
	if err := os.WriteFile(imgB, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Truncate(imgB, 32<<20); err != nil {
		t.Fatal(err)
	}
	run(mkfs, "-q", "-F", imgB)
	run("mount", "-o", "loop", imgB, b)
	t.Cleanup(func() { unmountEventually(t, b) })
	if err := os.WriteFile(filepath.Join(b, "dirty"), make([]byte, 4<<20), 0o644); err != nil {
		t.Fatal(err)
	}
	// The safety net first, then the freeze: b's dirty pages now cannot
	// reach a's image, and sync(2) waits for them.
	net := exec.Command("setsid", "sh", "-c", "sleep 90; "+fsfreeze+" -u "+a+" 2>/dev/null")
	if err := net.Start(); err != nil {
		t.Fatal(err)
	}
	_ = net.Process.Release()
	run(fsfreeze, "-f", a)
	thawed := false
	thaw := func() {
		if !thawed {
			thawed = true
			_ = exec.Command(fsfreeze, "-u", a).Run()
		}
	}
	t.Cleanup(thaw)

	r := startNS(t, []string{"TOYBOX_GO_ONEIT_STALL=1"}, nil, "true")
	deadline := time.Now().Add(40 * time.Second)
	for !strings.Contains(r.console(), "oneit[1]: reboot\n") {
		if time.Now().After(deadline) {
			thaw()
			t.Fatalf("the final sequence did not get past the stuck sync; console:\n%s", r.console())
		}
		time.Sleep(50 * time.Millisecond) // the console file is the only sign
	}
	// PID 1 cannot end while one of its threads waits in sync(2).
	thaw()
	r.expect(60*time.Second, nstest.Rebooted)
	if !strings.Contains(r.console(), "going on without it") {
		t.Errorf("no word about the stuck sync on the console:\n%s", r.console())
	}
}

// unmountEventually unmounts dir (and detaches its loop device), retrying
// for up to 20 s while it is busy: the copies of a and b in the namespace of
// a PID 1 that just ended go away after it, asynchronously, and until then
// b's loop device keeps b.img open on a. There is no event to wait for.
func unmountEventually(t *testing.T, dir string) {
	deadline := time.Now().Add(20 * time.Second)
	for {
		out, err := exec.Command("umount", "-d", dir).CombinedOutput()
		if err == nil || !strings.Contains(string(out), "busy") {
			return
		}
		if time.Now().After(deadline) {
			t.Errorf("umount %s still fails: %v\n%s", dir, err, out)
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestStuckConsoleDoesNotStopPID1: a console that does not drain (output
// stopped with ^S, a serial line with hardware flow control and no cable, a
// pty nobody reads) blocks every write to it. The child may block on it, PID 1
// must not: here COMMAND fills a pty nobody reads and exits, and PID 1, whose
// log goes to the console (TOYBOX_GO_LOG=stderr), must still reboot.
func TestStuckConsoleDoesNotStopPID1(t *testing.T) {
	t.Parallel()
	testbin.RequireRoot(t)
	_, pts := testbin.OpenPTY(t) // the master stays open, never read: the pty fills up
	// The filler runs in a session of its own and blocks once the pty is
	// full; COMMAND exits once a write of its own blocks too.
	script := `setsid sh -c 'while :; do echo fill-the-console-fill-the-console-fill-the-console; done' &
until ! timeout 0.3 sh -c 'echo probe'; do :; done
exit 0`
	cmd := nstest.Command(t, testbin.Applet(t, "oneit"), "-c", pts, "sh", "-c", script)
	done := make(chan error, 1)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		if e, err := nstest.EndingOf(err); err != nil || e != nstest.Rebooted {
			t.Fatalf("PID 1 ended %v (%v), want a reboot", e, err)
		}
	case <-time.After(60 * time.Second):
		_ = cmd.Process.Kill()
		<-done
		t.Fatal("PID 1 stuck writing to a console that does not drain")
	}
}
