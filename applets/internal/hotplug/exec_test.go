package hotplug

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"toybox-go/internal/testbin"
)

func TestExecInOrderWithEventEnv(t *testing.T) {
	sh := testbin.RequireTool(t, "sh")
	tr := newTree(t)
	out := filepath.Join(tr.root, "out")
	rec := `echo "$ACTION $SEQNUM $INTERFACE $FROM_DAEMON ${DEVNAME-unset}" >> ` + out
	p, _, _ := newPlug(t, tr, emitter{{"exec", sh, "-c", rec}}, Config{})
	for i := 1; i <= 20; i++ {
		n := strconv.Itoa(i)
		p.Handle(event(t, "ACTION=add", "DEVPATH=/devices/virtual/net/if"+n, "SUBSYSTEM=net",
			"INTERFACE=if"+n, "SEQNUM="+n))
	}
	waitIdle(t, p)
	var want strings.Builder
	for i := 1; i <= 20; i++ {
		// DEVNAME is the rules' fallback, not a variable of the event: not in
		// the environment (procd passes the message only).
		want.WriteString("add " + strconv.Itoa(i) + " if" + strconv.Itoa(i) + " 1 unset\n")
	}
	if got := readFile(t, out); got != want.String() {
		t.Errorf("got\n%s\nwant\n%s", got, want.String())
	}
}

func TestExecOneAtATime(t *testing.T) {
	sh := testbin.RequireTool(t, "sh")
	tr := newTree(t)
	lock := filepath.Join(tr.root, "lock")
	out := filepath.Join(tr.root, "out")
	// Each child fails loudly if another one is running.
	body := `if ! mkdir ` + lock + ` 2>/dev/null; then echo overlap >> ` + out + `; fi; sleep 0.05; echo "$SEQNUM" >> ` + out + `; rmdir ` + lock
	p, _, _ := newPlug(t, tr, emitter{{"exec", sh, "-c", body}}, Config{})
	for i := 1; i <= 5; i++ {
		p.Handle(event(t, "ACTION=add", "DEVPATH=/devices/x", "SEQNUM="+strconv.Itoa(i)))
	}
	waitIdle(t, p)
	if got := readFile(t, out); got != "1\n2\n3\n4\n5\n" {
		t.Errorf("got %q", got)
	}
}

func TestExecTimeoutKillsTheGroup(t *testing.T) {
	sh := testbin.RequireTool(t, "sh")
	tr := newTree(t)
	pidfile := filepath.Join(tr.root, "pid")
	after := filepath.Join(tr.root, "after")
	p, lb, _ := newPlug(t, tr, emitter{
		{"exec", sh, "-c", "sleep 600 & echo $! > " + pidfile + "; wait"},
		{"exec", sh, "-c", "echo ran > " + after},
	}, Config{ExecTimeout: 300 * time.Millisecond})
	p.Handle(event(t, "ACTION=add", "DEVPATH=/devices/x"))
	waitIdle(t, p)
	if got := readFile(t, after); got != "ran\n" {
		t.Errorf("the command after the hung one: %q", got)
	}
	if !strings.Contains(lb.String(), "still running after 300ms: killed") {
		t.Errorf("no log line for the kill:\n%s", lb)
	}
	pid, err := strconv.Atoi(strings.TrimSpace(readFile(t, pidfile)))
	if err != nil {
		t.Fatal(err)
	}
	// The grandchild was in the killed process group: gone, or a zombie
	// waiting for whoever reaps orphans here.
	waitFor(t, "the grandchild to die", func() bool {
		b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
		if err != nil {
			return true
		}
		f := strings.Fields(string(b[strings.LastIndexByte(string(b), ')')+1:]))
		return len(f) > 0 && f[0] == "Z"
	})
}

func TestExecMissingProgramLogged(t *testing.T) {
	tr := newTree(t)
	p, lb, _ := newPlug(t, tr, emitter{{"exec", "/nonexistent/prog"}, {"exec", ""}}, Config{})
	p.Handle(event(t, "ACTION=add", "DEVPATH=/devices/x"))
	waitIdle(t, p)
	for _, want := range []string{"prog (add /devices/x", "exec without a program"} {
		if !strings.Contains(lb.String(), want) {
			t.Errorf("log lacks %q:\n%s", want, lb)
		}
	}
}

func TestExecOutputLogged(t *testing.T) {
	sh := testbin.RequireTool(t, "sh")
	tr := newTree(t)
	p, lb, _ := newPlug(t, tr, emitter{{"exec", sh, "-c", "echo to-stdout; echo to-stderr >&2"}}, Config{})
	p.Handle(event(t, "ACTION=add", "DEVPATH=/devices/x"))
	waitIdle(t, p)
	waitFor(t, "the output in the log", func() bool {
		s := lb.String()
		return strings.Contains(s, "sh: to-stdout") && strings.Contains(s, "sh: to-stderr")
	})
}

func TestButtonTimeout(t *testing.T) {
	sh := testbin.RequireTool(t, "sh")
	tr := newTree(t)
	out := filepath.Join(tr.root, "out")
	btn := tr.write(t, "etc/rc.button/reset", `#!`+sh+`
echo "$ACTION ${SEEN-none} $BUTTON ${FROM_DAEMON-}" >> `+out+`
[ "$ACTION" = pressed ] && exit 1
exit 0
`, 0o755)
	p, _, _ := newPlug(t, tr, emitter{{"button", btn}}, Config{})
	p.Handle(event(t, "ACTION=pressed", "DEVPATH=/devices/platform/gpio-keys", "SUBSYSTEM=button", "BUTTON=reset", "SEEN=0"))
	waitIdle(t, p)
	// Exit code 1: the same program again after 1 s with the timeout variables.
	waitFor(t, "the timeout run", func() bool {
		b, _ := os.ReadFile(out)
		return strings.Count(string(b), "\n") >= 2
	})
	waitIdle(t, p)
	if got, want := readFile(t, out), "pressed 0 reset 1\ntimeout 1 reset 1\n"; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
}

func TestButtonReleaseCancelsTimeout(t *testing.T) {
	sh := testbin.RequireTool(t, "sh")
	tr := newTree(t)
	btn := tr.write(t, "etc/rc.button/reset", `#!`+sh+`
[ "$ACTION" = pressed ] && exit 5
exit 0
`, 0o755)
	p, _, _ := newPlug(t, tr, emitter{{"button", btn}}, Config{})
	p.Handle(event(t, "ACTION=pressed", "DEVPATH=/devices/platform/gpio-keys", "SUBSYSTEM=button", "BUTTON=reset"))
	waitIdle(t, p)
	p.mu.Lock()
	armed := p.buttons["reset"] != nil
	p.mu.Unlock()
	if !armed {
		t.Fatal("no timer after exit code 5")
	}
	p.Handle(event(t, "ACTION=released", "DEVPATH=/devices/platform/gpio-keys", "SUBSYSTEM=button", "BUTTON=reset"))
	waitIdle(t, p)
	p.mu.Lock()
	n := len(p.buttons)
	p.mu.Unlock()
	if n != 0 {
		t.Errorf("%d timers left after the release", n)
	}
}

// fakeHotplugCall writes an executable named hotplug-call that records that
// it ran, in its own directory.
func fakeHotplugCall(t *testing.T, sh, dir, marker string) string {
	t.Helper()
	p := filepath.Join(dir, "hotplug-call")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte("#!"+sh+"\necho \"$@\" >> "+marker+"\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	return p
}

// TestHotplugCallNothingToRun: no runnable file in hotplug.d/SUBSYSTEM, no
// process at all.
func TestHotplugCallNothingToRun(t *testing.T) {
	sh := testbin.RequireTool(t, "sh")
	tr := newTree(t)
	marker := filepath.Join(tr.root, "ran")
	hc := fakeHotplugCall(t, sh, filepath.Join(tr.root, "sbin"), marker)
	tr.write(t, "etc/hotplug.d/usb/.hidden", "echo hidden", 0o644)
	if err := os.MkdirAll(filepath.Join(tr.etc, "hotplug.d", "usb", "subdir"), 0o755); err != nil {
		t.Fatal(err)
	}
	tr.write(t, "etc/hotplug.d/net/10-net", "true", 0o644)
	p, _, _ := newPlug(t, tr, emitter{{"exec", hc, "%SUBSYSTEM%"}}, Config{})
	for _, sub := range []string{"usb", "block", "usb"} {
		p.Handle(event(t, "ACTION=add", "DEVPATH=/devices/x", "SUBSYSTEM="+sub))
	}
	waitIdle(t, p)
	if _, err := os.Stat(marker); err == nil {
		t.Fatalf("hotplug-call started for nothing: %q", readFile(t, marker))
	}
	// With a script present the given hotplug-call (not this binary) runs.
	p.Handle(event(t, "ACTION=add", "DEVPATH=/devices/x", "SUBSYSTEM=net"))
	waitIdle(t, p)
	if got := readFile(t, marker); got != "net\n" {
		t.Errorf("marker %q", got)
	}
}

// TestHotplugCallSelfRunsTheShell: when hotplug-call is this binary, the
// daemon starts the shell itself with hotplug-call's environment.
func TestHotplugCallSelfRunsTheShell(t *testing.T) {
	sh := testbin.RequireTool(t, "sh")
	tr := newTree(t)
	marker := filepath.Join(tr.root, "ran")
	out := filepath.Join(tr.root, "out")
	self := fakeHotplugCall(t, sh, filepath.Join(tr.root, "bin"), marker)
	link := filepath.Join(tr.root, "sbin", "hotplug-call")
	if err := os.MkdirAll(filepath.Dir(link), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(self, link); err != nil {
		t.Fatal(err)
	}
	tr.write(t, "etc/hotplug.d/net/20-rec",
		`echo "$1|$HOTPLUG_TYPE|$ACTION|$INTERFACE|$DEVICENAME|$USER|$PATH|$FROM_DAEMON" >> `+out+"\n", 0o644)
	p, _, _ := newPlug(t, tr, emitter{{"exec", link, "%SUBSYSTEM%"}}, Config{Self: self, Shell: sh, Functions: "-"})
	p.Handle(event(t, "ACTION=add", "DEVPATH=/devices/virtual/net/d0", "SUBSYSTEM=net", "INTERFACE=d0"))
	waitIdle(t, p)
	if _, err := os.Stat(marker); err == nil {
		t.Error("the hotplug-call binary was started; the shell should have been")
	}
	if got, want := readFile(t, out), "net|net|add|d0|d0|root|"+CallPath+"|1\n"; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
}

func TestStartConsole(t *testing.T) {
	tr := newTree(t)
	got := make(chan string, 1)
	p, lb, _ := newPlug(t, tr, emitter{{"start-console", "%DEVNAME%"}}, Config{
		StartConsole: func(dev string) error { got <- dev; return nil },
	})
	p.Handle(event(t, "ACTION=add", "DEVPATH=/devices/gadget/tty/ttyGS0", "DEVNAME=ttyGS0"))
	waitIdle(t, p)
	select {
	case d := <-got:
		if d != "ttyGS0" {
			t.Errorf("got %q", d)
		}
	default:
		t.Errorf("StartConsole not called: %s", lb)
	}
	q, lb2, _ := newPlug(t, tr, emitter{{"start-console", "ttyGS1"}}, Config{})
	q.Handle(event(t, "ACTION=add", "DEVPATH=/devices/gadget/tty/ttyGS1"))
	waitIdle(t, q)
	if !strings.Contains(lb2.String(), "start-console ttyGS1: no console handler") {
		t.Errorf("log: %s", lb2)
	}
}

func TestUnknownCommandIgnored(t *testing.T) {
	tr := newTree(t)
	p, lb, _ := newPlug(t, tr, emitter{{"frobnicate", "x"}}, Config{})
	p.Handle(event(t, "ACTION=add", "DEVPATH=/devices/x"))
	p.mu.Lock()
	n := len(p.jobs)
	p.mu.Unlock()
	if n != 0 || !strings.Contains(lb.String(), `unknown command "frobnicate"`) {
		t.Errorf("%d jobs queued; log %s", n, lb)
	}
}

func TestMergeEnv(t *testing.T) {
	got := mergeEnv([]string{"A=1", "B=2", "PATH=/x"}, []string{"B=3", "C=4"})
	if strings.Join(got, " ") != "A=1 PATH=/x B=3 C=4" {
		t.Errorf("got %q", got)
	}
}

// The kernel starts init without PATH: children still get one.
func TestExecDefaultPath(t *testing.T) {
	sh := testbin.RequireTool(t, "sh")
	tr := newTree(t)
	out := filepath.Join(tr.root, "out")
	p, _, _ := newPlug(t, tr, emitter{{"exec", sh, "-c", "echo $PATH > " + out}}, Config{Env: []string{"HOME=/"}})
	p.Handle(event(t, "ACTION=add", "DEVPATH=/devices/x"))
	waitIdle(t, p)
	if got := readFile(t, out); got != CallPath+"\n" {
		t.Errorf("PATH = %q", got)
	}
}

type panicRules struct{}

func (panicRules) Run(map[string]string, func(string, []string)) { panic("bug in the rules") }

// A bug that panics costs one event, not the daemon; the event still counts
// as handled for settling.
func TestHandleSurvivesPanic(t *testing.T) {
	tr := newTree(t)
	p, lb, _ := newPlug(t, tr, panicRules{}, Config{})
	p.Handle(event(t, "ACTION=add", "DEVPATH=/devices/x", "SEQNUM=7"))
	p.mu.Lock()
	seq := p.lastSeq
	p.mu.Unlock()
	if seq != 7 || !strings.Contains(lb.String(), "internal error handling add /devices/x") {
		t.Errorf("lastSeq %d; log %s", seq, lb)
	}
}

// TestExecStatusStolen: a wait4(-1) elsewhere in the process (pid2's reaper)
// takes a child's status; the queue goes on and says so. Both waiters sleep
// on the child's exit and either may win, so the scenario is repeated until
// this test's wait4 has won once.
func TestExecStatusStolen(t *testing.T) {
	sh := testbin.RequireTool(t, "sh")
	for try := range 50 {
		tr := newTree(t)
		fifo := filepath.Join(tr.root, "fifo")
		if err := syscall.Mkfifo(fifo, 0o600); err != nil {
			t.Fatal(err)
		}
		after := filepath.Join(tr.root, "after")
		p, lb, _ := newPlug(t, tr, emitter{
			{"exec", sh, "-c", "echo $$ > " + fifo + "; exec sleep 0.1"},
			{"exec", sh, "-c", "echo ran > " + after},
		}, Config{})
		p.Handle(event(t, "ACTION=add", "DEVPATH=/devices/x"))
		b, err := os.ReadFile(fifo)
		if err != nil {
			t.Fatal(err)
		}
		pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
		if err != nil {
			t.Fatal(err)
		}
		var ws syscall.WaitStatus
		_, err = syscall.Wait4(pid, &ws, 0, nil)
		waitIdle(t, p)
		if err != nil {
			continue // os/exec won this time
		}
		if got := readFile(t, after); got != "ran\n" || !strings.Contains(lb.String(), "exit status lost") {
			t.Errorf("after: %q; log %s", got, lb)
		}
		t.Logf("won the race at try %d", try+1)
		return
	}
	testbin.Unavailable(t, "this test's wait4 never won the race against os/exec in 50 tries")
}
