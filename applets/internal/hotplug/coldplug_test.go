package hotplug

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"toybox-go/applets/internal/uevent"
	"toybox-go/internal/testbin"
)

// helperEnv selects a helper mode of the test binary (see TestMain): the test
// re-executes itself in new namespaces to run it.
const helperEnv = "HOTPLUG_TEST_HELPER"

func TestMain(m *testing.M) {
	switch os.Getenv(helperEnv) {
	case "":
		os.Exit(m.Run())
	case "freshdev":
		os.Exit(freshDevHelper(os.Args[len(os.Args)-1]))
	case "vm":
		os.Exit(vmHelper())
	case "coldplug":
		os.Exit(coldplugHelper(os.Args[len(os.Args)-4:]))
	default:
		fmt.Fprintln(os.Stderr, "unknown helper", os.Getenv(helperEnv))
		os.Exit(2)
	}
}

// kernelSim plays the kernel for a fake source: each trigger emits n events
// with the next sequence numbers and updates sys/kernel/uevent_seqnum.
type kernelSim struct {
	src     *fakeSource
	seqfile string
	seq     uint64
	n       int
	extra   uint64 // numbers used by events this namespace never sees
	calls   chan struct{}
}

func (k *kernelSim) trigger() error {
	for range k.n {
		k.seq++
		s := strconv.FormatUint(k.seq, 10)
		k.src.events <- mustEvent("ACTION=add", "DEVPATH=/devices/virtual/x/d"+s, "SUBSYSTEM=x", "SEQNUM="+s)
	}
	k.seq += k.extra
	if k.calls != nil {
		k.calls <- struct{}{}
	}
	return os.WriteFile(k.seqfile, []byte(strconv.FormatUint(k.seq, 10)+"\n"), 0o644)
}

func startRun(t *testing.T, p *Plug) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- p.Run(ctx.Done()) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
	})
}

// TestColdplugSettlesOnSeqnum: Coldplug returns only when every triggered
// event has been handled and its commands have run.
func TestColdplugSettlesOnSeqnum(t *testing.T) {
	sh := testbin.RequireTool(t, "sh")
	tr := newTree(t)
	out := filepath.Join(tr.root, "out")
	k := &kernelSim{seqfile: tr.write(t, "sys/kernel/uevent_seqnum", "0\n", 0o644), seq: 100, n: 10}
	p, lb, src := newPlug(t, tr, emitter{{"exec", sh, "-c", "sleep 0.02; echo $SEQNUM >> " + out}},
		Config{KeepDev: true, Trigger: k.trigger, Quiet: time.Hour})
	k.src = src
	startRun(t, p)
	if err := p.Coldplug(nil); err != nil {
		t.Fatal(err)
	}
	if got := strings.Count(readFile(t, out), "\n"); got != 10 {
		t.Errorf("%d of 10 commands had run when Coldplug returned", got)
	}
	if !strings.Contains(lb.String(), "coldplug settled in") {
		t.Errorf("log: %s", lb)
	}
}

// TestColdplugSettlesOnQuiet: numbers used by events sent to other network
// namespaces never arrive; the quiet period ends the wait.
func TestColdplugSettlesOnQuiet(t *testing.T) {
	tr := newTree(t)
	k := &kernelSim{seqfile: tr.write(t, "sys/kernel/uevent_seqnum", "0\n", 0o644), n: 5, extra: 3}
	p, lb, src := newPlug(t, tr, emitter{}, Config{KeepDev: true, Trigger: k.trigger, Quiet: 100 * time.Millisecond})
	k.src = src
	startRun(t, p)
	if err := p.Coldplug(nil); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(lb.String(), "settled by 100ms of quiet at event 5 (kernel at 8") {
		t.Errorf("log: %s", lb)
	}
}

func TestColdplugTimeout(t *testing.T) {
	sh := testbin.RequireTool(t, "sh")
	tr := newTree(t)
	k := &kernelSim{seqfile: tr.write(t, "sys/kernel/uevent_seqnum", "0\n", 0o644), n: 1}
	p, _, src := newPlug(t, tr, emitter{{"exec", sh, "-c", "sleep 5"}},
		Config{KeepDev: true, Trigger: k.trigger, SettleTimeout: 300 * time.Millisecond, ExecTimeout: 10 * time.Second})
	k.src = src
	startRun(t, p)
	err := p.Coldplug(nil)
	if !errors.Is(err, ErrSettleTimeout) {
		t.Fatalf("got %v", err)
	}
}

func TestColdplugWithoutRunTimesOut(t *testing.T) {
	tr := newTree(t)
	k := &kernelSim{seqfile: tr.write(t, "sys/kernel/uevent_seqnum", "0\n", 0o644), n: 1}
	p, _, src := newPlug(t, tr, emitter{}, Config{KeepDev: true, Trigger: k.trigger, SettleTimeout: 200 * time.Millisecond, Quiet: time.Hour})
	k.src = src
	if err := p.Coldplug(nil); !errors.Is(err, ErrSettleTimeout) {
		t.Fatalf("got %v", err)
	}
}

// TestOverflowRetriggers: ENOBUFS from the source makes the daemon replay.
func TestOverflowRetriggers(t *testing.T) {
	tr := newTree(t)
	k := &kernelSim{seqfile: tr.write(t, "sys/kernel/uevent_seqnum", "0\n", 0o644), n: 2, calls: make(chan struct{}, 8)}
	p, lb, src := newPlug(t, tr, emitter{}, Config{KeepDev: true, Trigger: k.trigger})
	k.src = src
	startRun(t, p)
	src.errs <- uevent.ErrOverflow
	select {
	case <-k.calls:
	case <-time.After(20 * time.Second):
		t.Fatal("no trigger after ENOBUFS")
	}
	if !strings.Contains(lb.String(), "events lost: no buffer space available: triggering all devices again") {
		t.Errorf("log: %s", lb)
	}
}

func TestRetriggerBounded(t *testing.T) {
	tr := newTree(t)
	k := &kernelSim{seqfile: tr.write(t, "sys/kernel/uevent_seqnum", "0\n", 0o644), calls: make(chan struct{}, 8)}
	p, lb, src := newPlug(t, tr, emitter{}, Config{KeepDev: true, Trigger: k.trigger})
	k.src = src
	for i := range maxRetriggers + 1 {
		p.Retrigger()
		if i < maxRetriggers {
			<-k.calls
			waitFor(t, "the replay to finish", func() bool {
				p.mu.Lock()
				defer p.mu.Unlock()
				return !p.retriggering
			})
		}
	}
	if len(k.calls) != 0 || !strings.Contains(lb.String(), "not replaying") {
		t.Errorf("%d extra triggers; log %s", len(k.calls), lb)
	}
}

// TestFreshDev remounts a /dev in a private mount namespace: fresh tmpfs,
// null first, the same devpts instance (an open pty survives), shm link.
func TestFreshDev(t *testing.T) {
	testbin.RequireRoot(t)
	dev := t.TempDir()
	cmd := exec.Command(os.Args[0], "-test.run=^$", dev)
	cmd.Env = append(os.Environ(), helperEnv+"=freshdev")
	cmd.SysProcAttr = &syscall.SysProcAttr{Cloneflags: syscall.CLONE_NEWNS}
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	if !strings.Contains(string(out), "freshdev ok") {
		t.Fatalf("helper: %s", out)
	}
}

// freshDevHelper runs in its own mount namespace as root.
func freshDevHelper(dev string) int {
	fail := func(format string, args ...any) int {
		fmt.Printf("freshdev: "+format+"\n", args...)
		return 1
	}
	if err := unix.Mount("", "/", "", unix.MS_REC|unix.MS_PRIVATE, ""); err != nil {
		return fail("make / private: %v", err)
	}
	// The "old" /dev: a tmpfs with a stale file, devpts on pts.
	if err := unix.Mount("tmpfs", dev, "tmpfs", 0, "mode=0755"); err != nil {
		return fail("%v", err)
	}
	if err := os.WriteFile(filepath.Join(dev, "stale"), nil, 0o644); err != nil {
		return fail("%v", err)
	}
	pts := filepath.Join(dev, "pts")
	if err := os.Mkdir(pts, 0o755); err != nil {
		return fail("%v", err)
	}
	if err := unix.Mount("devpts", pts, "devpts", 0, "ptmxmode=0666,mode=0620"); err != nil {
		return fail("mount devpts: %v", err)
	}
	ptmx, err := os.OpenFile(filepath.Join(pts, "ptmx"), os.O_RDWR|unix.O_NOCTTY, 0)
	if err != nil {
		return fail("%v", err)
	}
	n, err := unix.IoctlGetInt(int(ptmx.Fd()), unix.TIOCGPTN)
	if err != nil {
		return fail("TIOCGPTN: %v", err)
	}
	if err := unix.IoctlSetPointerInt(int(ptmx.Fd()), unix.TIOCSPTLCK, 0); err != nil {
		return fail("unlock pty: %v", err)
	}

	if err := FreshDev(dev, nil); err != nil {
		return fail("FreshDev: %v", err)
	}

	var fs unix.Statfs_t
	if err := unix.Statfs(dev, &fs); err != nil || fs.Type != unix.TMPFS_MAGIC {
		return fail("%s is not a tmpfs: %v", dev, err)
	}
	if _, err := os.Stat(filepath.Join(dev, "stale")); err == nil {
		return fail("the old /dev is still visible")
	}
	var st unix.Stat_t
	if err := unix.Stat(filepath.Join(dev, "null"), &st); err != nil ||
		st.Mode != unix.S_IFCHR|0o666 || unix.Major(uint64(st.Rdev)) != 1 || unix.Minor(uint64(st.Rdev)) != 3 {
		return fail("null: %+v %v", st, err)
	}
	if f, err := os.OpenFile(filepath.Join(dev, "null"), os.O_WRONLY, 0); err != nil {
		return fail("open null: %v", err)
	} else if _, err := f.WriteString("x"); err != nil {
		return fail("write null: %v", err)
	} else {
		f.Close()
	}
	if err := unix.Statfs(pts, &fs); err != nil || fs.Type != unix.DEVPTS_SUPER_MAGIC {
		return fail("%s is not devpts: %v", pts, err)
	}
	// The pty opened before is still there: same devpts instance.
	slave, err := os.OpenFile(filepath.Join(pts, strconv.Itoa(n)), os.O_RDWR|unix.O_NOCTTY, 0)
	if err != nil {
		return fail("the pty %d opened before is gone: %v", n, err)
	}
	slave.Close()
	ptmx.Close()
	if l, err := os.Readlink(filepath.Join(dev, "shm")); err != nil || l != "/tmp/shm" {
		return fail("shm link: %q %v", l, err)
	}
	fmt.Println("freshdev ok")
	return 0
}
