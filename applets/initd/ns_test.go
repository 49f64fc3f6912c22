package initd

// Tier 2: init as PID 1 of a new PID + mount namespace (internal/nstest) on a
// prepared tree (-R), with a test /etc/preinit that records what it sees and
// init.oneit= pointing at a script that records the hand-off instead of
// becoming oneit.

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"toybox-go/internal/nstest"
	"toybox-go/internal/testbin"
)

const preinitScript = `R=${0%/etc/preinit}
{
	echo "PREINIT=$PREINIT"
	[ -e "$R/tmp/.preinit" ] && echo "MARKER=yes"
	echo "failsafe=$failsafe"
	echo "PATH=$PATH"
	for p in /proc/[0-9]*; do tr '\0' ' ' < $p/cmdline 2>/dev/null; echo; done | grep -c '^pid2 -h' | sed 's/^/PLUGD=/'
} > "$R/preinit.out"
if [ -p "$R/go" ]; then # held by the test (holdPreinit)
	echo ready > "$R/preinit.ready"
	read -r line < "$R/go"
fi
`

// recordScript stands in for oneit: it writes its argv, environment, the
// mounts and /dev as PID 1 sees them, then exits (ending the namespace).
const recordScript = `#!/bin/sh
R=$(dirname "$0")
{
	echo "PID=$$"
	echo "ARGV=$0 $*"
	env | sort | sed 's/^/ENV /'
	[ -e "$R/tmp/.preinit" ] && echo "MARKER-LEFT"
	for p in /proc/[0-9]*; do tr '\0' ' ' < $p/cmdline 2>/dev/null; echo; done | grep -c '^pid2 -h' | sed 's/^/PLUGD=/'
	cat /proc/self/mountinfo | sed 's/^/MNT /'
	cd "$R/dev" && stat -c 'NODE %n %A %t:%T' null zero console pts && cd /
	ls -ld "$R/tmp/shm" "$R/tmp/run" "$R/tmp/lock" "$R/tmp/state" | sed 's/^/TMP /'
	readlink "$R/dev/shm" | sed 's/^/SHM /'
	readlink "$R/tmp/pid2" | sed 's/^/PID2LINK /'
} > "$R/handoff.out" 2>&1
`

type tree struct {
	t    *testing.T
	dir  string
	cons string
	init string   // the init to run; "" means testbin.Applet(t, "init")
	pid  int      // host PID of the namespace's init, once started
	proc *started // that init, once started
	// logged gets a value (without blocking) at each write to init's
	// stderr or console, once started.
	logged chan struct{}
}

func newTree(t *testing.T, withPreinit bool) *tree {
	t.Helper()
	testbin.RequireRoot(t)
	dir := filepath.Join(t.TempDir(), "root")
	for _, d := range []string{"bin", "sbin", "etc", "proc", "sys", "dev", "tmp", "run"} {
		if err := os.MkdirAll(filepath.Join(dir, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Symlink("/bin/sh", filepath.Join(dir, "bin", "sh")); err != nil {
		t.Fatal(err)
	}
	if withPreinit {
		writeFile(t, filepath.Join(dir, "etc", "preinit"), preinitScript, 0o644)
	}
	writeFile(t, filepath.Join(dir, "record.sh"), recordScript, 0o755)
	if err := os.Symlink(testbin.Path(t), filepath.Join(dir, "sbin", "pid2")); err != nil {
		t.Fatal(err)
	}
	return &tree{t: t, dir: dir, cons: filepath.Join(t.TempDir(), "console")}
}

func writeFile(t *testing.T, p, s string, mode os.FileMode) {
	t.Helper()
	if err := os.WriteFile(p, []byte(s), mode); err != nil {
		t.Fatal(err)
	}
}

func (tr *tree) read(name string) string {
	b, _ := os.ReadFile(filepath.Join(tr.dir, name))
	return string(b)
}

// start runs init as PID 1 of a new namespace; it returns init's stderr and
// a function waiting for init to end.
func (tr *tree) start(cmdline string, env ...string) (*syncBuffer, func() nstest.Ending) {
	tr.t.Helper()
	writeFile(tr.t, tr.cons, "", 0o644)
	init := tr.init
	if init == "" {
		init = testbin.Applet(tr.t, "init")
	}
	cmd := nstest.Command(tr.t, init, "-R", tr.dir, "-C", tr.cons,
		"-k", "init.oneit="+filepath.Join(tr.dir, "record.sh")+" "+cmdline)
	cmd.Env = append(cmd.Env, env...)
	tr.logged = make(chan struct{}, 1)
	notifyWrites(tr.t, tr.cons, tr.logged)
	out := &syncBuffer{changed: tr.logged}
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		tr.t.Fatal(err)
	}
	tr.pid = cmd.Process.Pid // nstest's shim execs init: it is this process
	tr.proc = watch(cmd)
	return out, func() nstest.Ending { return tr.proc.ending(tr.t, func() string { return tr.log(out) }) }
}

// syncBuffer holds init's stderr: exec's copying goroutine writes it while
// the test reads it.
type syncBuffer struct {
	mu      sync.Mutex
	b       bytes.Buffer
	changed chan<- struct{} // told of each write
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	defer tell(s.changed)
	return s.b.Write(p)
}

// tell sends on ch unless a value is waiting there already.
func tell(ch chan<- struct{}) {
	select {
	case ch <- struct{}{}:
	default:
	}
}

// notifyWrites tells changed of each write to the file p (inotify's
// IN_MODIFY) until the test ends.
func notifyWrites(t *testing.T, p string, changed chan<- struct{}) {
	t.Helper()
	fd, err := syscall.InotifyInit1(syscall.IN_CLOEXEC | syscall.IN_NONBLOCK)
	if err != nil {
		t.Fatalf("inotify_init1: %v", err)
	}
	events := os.NewFile(uintptr(fd), "inotify") // non-blocking: its Read waits in Go's poller
	if _, err := syscall.InotifyAddWatch(fd, p, syscall.IN_MODIFY); err != nil {
		events.Close()
		t.Fatalf("inotify_add_watch %s: %v", p, err)
	}
	t.Cleanup(func() { events.Close() }) // ends the Read below
	go func() {
		buf := make([]byte, 4096)
		for {
			if _, err := events.Read(buf); err != nil {
				return
			}
			tell(changed)
		}
	}()
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// started is a namespace's PID 1 waited for in the background.
type started struct {
	cmd  *exec.Cmd
	done chan struct{} // closed once cmd has ended
	err  error         // cmd.Wait's, once done is closed
}

func watch(cmd *exec.Cmd) *started {
	s := &started{cmd: cmd, done: make(chan struct{})}
	go func() { s.err = cmd.Wait(); close(s.done) }()
	return s
}

// ending waits up to 60 s for init to end and says how; at the deadline it
// kills the namespace and fails with log().
func (s *started) ending(t *testing.T, log func() string) nstest.Ending {
	t.Helper()
	select {
	case <-s.done:
	case <-time.After(60 * time.Second):
		_ = syscall.Kill(-s.cmd.Process.Pid, syscall.SIGKILL)
		<-s.done
		t.Fatalf("init did not end within 60 s; output:\n%s", log())
	}
	e, err := nstest.EndingOf(s.err)
	if err != nil {
		t.Fatal(err)
	}
	return e
}

// waitLog waits for init's log to hold want, looking again at each write to
// it; it fails with what at the deadline or as soon as init ends without it.
func (tr *tree) waitLog(out *syncBuffer, deadline time.Time, what, want string) {
	tr.t.Helper()
	timer := time.NewTimer(time.Until(deadline))
	defer timer.Stop()
	for !strings.Contains(tr.log(out), want) {
		select {
		case <-tr.logged:
		case <-tr.proc.done:
			if !strings.Contains(tr.log(out), want) {
				tr.t.Fatalf("%s: init ended (%v)\n%s", what, tr.proc.err, tr.log(out))
			}
		case <-timer.C:
			tr.t.Fatalf("%s\n%s", what, tr.log(out))
		}
	}
}

// preinitHold holds the test preinit, which finds tr.dir/go a FIFO: it
// writes a line to the FIFO preinit.ready, then waits for one on go. The test
// keeps both open read-write, so that no open on either side blocks.
type preinitHold struct {
	t           *testing.T
	ready, goOn *os.File
}

// holdPreinit makes the FIFOs; call it before start.
func (tr *tree) holdPreinit() *preinitHold {
	tr.t.Helper()
	h := &preinitHold{t: tr.t}
	for _, f := range []struct {
		name string
		file **os.File
	}{{"preinit.ready", &h.ready}, {"go", &h.goOn}} {
		p := filepath.Join(tr.dir, f.name)
		if err := syscall.Mkfifo(p, 0o600); err != nil {
			tr.t.Fatalf("mkfifo %s: %v", p, err)
		}
		fifo, err := os.OpenFile(p, os.O_RDWR, 0)
		if err != nil {
			tr.t.Fatal(err)
		}
		tr.t.Cleanup(func() { fifo.Close() })
		*f.file = fifo
	}
	return h
}

// waitReady waits for the held preinit to say it runs, and returns the
// deadline for the rest of the test.
func (h *preinitHold) waitReady(tr *tree, out *syncBuffer) time.Time {
	h.t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	if err := h.ready.SetReadDeadline(deadline); err != nil {
		h.t.Fatal(err)
	}
	if _, err := h.ready.Read(make([]byte, 64)); err != nil {
		h.t.Fatalf("preinit did not start: %v\n%s", err, tr.log(out))
	}
	return deadline
}

// release lets the held preinit finish.
func (h *preinitHold) release() {
	h.t.Helper()
	if _, err := h.goOn.Write([]byte("go\n")); err != nil {
		h.t.Fatal(err)
	}
}

// log is what init wrote: before the console redirect on its stderr, after it
// on the console (-C).
func (tr *tree) log(out *syncBuffer) string {
	b, _ := os.ReadFile(tr.cons)
	return out.String() + string(b)
}

func lines(s, prefix string) []string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if strings.HasPrefix(l, prefix) {
			out = append(out, strings.TrimPrefix(l, prefix))
		}
	}
	return out
}

func has(t *testing.T, what, text string, want ...string) {
	t.Helper()
	for _, w := range want {
		if !strings.Contains(text, w) {
			t.Fatalf("%s lacks %q:\n%s", what, w, text)
		}
	}
}

// mountOf finds the mountinfo line for target and returns "options - fstype
// source superoptions".
func mountOf(mounts []string, target string) string {
	for _, m := range mounts {
		f := strings.Fields(m)
		if len(f) > 5 && f[4] == target {
			return m
		}
	}
	return ""
}

func TestBootToHandOff(t *testing.T) {
	tr := newTree(t, true)
	writeFile(t, filepath.Join(tr.dir, "etc", "hotplug-preinit.json"), "[]\n", 0o644)
	if err := os.MkdirAll(filepath.Join(tr.dir, "etc", "modules-boot.d"), 0o755); err != nil {
		t.Fatal(err)
	}
	out, wait := tr.start("console=ttyS0,115200n8 failsafe=true")
	if e := wait(); e != (nstest.Ending{}) {
		t.Fatalf("init ended with %v, want exit 0 from the recording oneit\n%s", e, tr.log(out))
	}
	log := tr.log(out)
	has(t, "init log", log, "Console is alive", "- preinit -", "handing over after ", "boot modules")

	pre := tr.read("preinit.out")
	has(t, "preinit's view", pre, "PREINIT=1", "MARKER=yes", "failsafe=true", "PATH=/usr/sbin:/usr/bin:/sbin:/bin")
	has(t, "init log", log, "preinit hotplug daemon: pid2 -h "+filepath.Join(tr.dir, "etc", "hotplug-preinit.json"))

	h := tr.read("handoff.out")
	// Still PID 1, with the argv of oneit (console from console=).
	has(t, "hand-off", h, "PID=1\n", "ARGV="+filepath.Join(tr.dir, "record.sh")+" -3 -r -c /dev/ttyS0 "+filepath.Join(tr.dir, "sbin", "pid2")+"\n", "PLUGD=0")
	if strings.Contains(h, "ENV PREINIT=") || strings.Contains(h, "MARKER-LEFT") {
		t.Fatalf("PREINIT or /tmp/.preinit survived preinit:\n%s", h)
	}

	mounts := lines(h, "MNT ")
	for _, c := range []struct{ target, want string }{
		{"/proc", "nosuid,nodev,noexec,relatime - proc proc"},
		{"/sys", "nosuid,nodev,noexec,relatime - sysfs sysfs"},
		{"/sys/fs/cgroup", "- cgroup2 cgroup2"},
		{"/dev", "nosuid,noexec,relatime - tmpfs tmpfs rw,size=512k,mode=755"},
		{"/dev/pts", "nosuid,noexec,relatime - devpts devpts"},
		{"/tmp", "nosuid,nodev,noatime - tmpfs tmpfs rw"}, // mode=1777 is tmpfs's default: not shown
		{"/run", "- tmpfs tmpfs"},
	} {
		m := mountOf(mounts, filepath.Join(tr.dir, c.target))
		if !strings.Contains(m, c.want) {
			t.Errorf("mount on %s: %q, want %q", c.target, m, c.want)
		}
	}
	if m := mountOf(mounts, filepath.Join(tr.dir, "/sys/fs/cgroup")); !strings.Contains(m, "nsdelegate") {
		t.Errorf("cgroup2 without nsdelegate: %q", m)
	}

	has(t, "/dev", strings.Join(lines(h, "NODE "), "\n"),
		"null crw-rw-rw- 1:3", "zero crw------- 1:5", "console crw------- 5:1", "pts drwxr-xr-x")
	has(t, "/tmp", strings.Join(lines(h, "TMP "), "\n"), "drwxrwxrwt", "tmp/shm", "tmp/run", "tmp/lock", "tmp/state")
	has(t, "/dev/shm", h, "SHM /tmp/shm")
	if fi, err := os.Lstat(filepath.Join(tr.dir, "var")); err != nil || fi.Mode()&os.ModeSymlink == 0 {
		t.Errorf("/var is not a symlink: %v", err)
	}
}

func TestNoPreinitStillHandsOff(t *testing.T) {
	tr := newTree(t, false)
	out, wait := tr.start("init.pid2=/bin/true")
	if e := wait(); e != (nstest.Ending{}) {
		t.Fatalf("init ended with %v\n%s", e, out)
	}
	has(t, "init log", tr.log(out), "preinit skipped", "no boot modules")
	has(t, "hand-off", tr.read("handoff.out"), "ARGV="+filepath.Join(tr.dir, "record.sh")+" -3 -r /bin/true\n")
}

func TestMissingPid2SymlinkIsMadeInTmp(t *testing.T) {
	tr := newTree(t, false)
	_ = os.Remove(filepath.Join(tr.dir, "sbin", "pid2"))
	out, wait := tr.start("")
	if e := wait(); e != (nstest.Ending{}) {
		t.Fatalf("init ended with %v\n%s", e, tr.log(out))
	}
	h := tr.read("handoff.out")
	has(t, "hand-off", h, " -3 -r "+filepath.Join(tr.dir, "tmp", "pid2")+"\n", "PID2LINK /")
	if target := lines(h, "PID2LINK ")[0]; filepath.Base(target) != filepath.Base(testbin.Path(t)) {
		t.Fatalf("tmp/pid2 -> %s, want the binary %s", target, testbin.Path(t))
	}
}

func TestInContainerNoMounts(t *testing.T) {
	tr := newTree(t, false)
	out, wait := tr.start("", "container=lxc")
	if e := wait(); e != (nstest.Ending{}) {
		t.Fatalf("init ended with %v\n%s", e, out)
	}
	h := tr.read("handoff.out")
	mounts := lines(h, "MNT ")
	if m := mountOf(mounts, filepath.Join(tr.dir, "proc")); m != "" {
		t.Fatalf("proc mounted in a container: %s", m)
	}
	if m := mountOf(mounts, filepath.Join(tr.dir, "tmp")); m == "" {
		t.Fatalf("no /tmp in a container (procd mounts it there too)")
	}
	has(t, "init log", tr.log(out), "in a container")
}

func TestSignalsDuringPreinit(t *testing.T) {
	for _, c := range []struct {
		sig  syscall.Signal
		want nstest.Ending
	}{
		{syscall.SIGINT, nstest.Ending{}},  // ignored: boot goes on
		{syscall.SIGUSR2, nstest.Rebooted}, // poweroff elsewhere, reboot here
		{syscall.SIGTERM, nstest.Rebooted},
	} {
		t.Run(c.sig.String(), func(t *testing.T) {
			tr := newTree(t, true)
			hold := tr.holdPreinit()
			out, wait := tr.start("")
			deadline := hold.waitReady(tr, out)
			if err := syscall.Kill(tr.pid, c.sig); err != nil {
				t.Fatal(err)
			}
			if c.sig == syscall.SIGINT {
				// Wait for init to have logged it, then let preinit finish.
				tr.waitLog(out, deadline, "SIGINT not seen", "ignoring interrupt")
				hold.release()
			}
			if e := wait(); e != c.want {
				t.Fatalf("after %v: %v, want %v\n%s", c.sig, e, c.want, tr.log(out))
			}
		})
	}
}

func TestRefusesWhenNotPID1(t *testing.T) {
	if os.Getpid() == 1 {
		t.Skip("the test itself is PID 1")
	}
	if code := Main([]string{"init"}); code != 1 {
		t.Fatalf("exit %d, want 1", code)
	}
}

// TestSwitchRootFromInitramfs: the tree is a tmpfs (as an initramfs is) with
// no /etc/preinit; root=LABEL=... names an ext4 loop device holding busybox
// and an /sbin/init script. init must mount it read-write (rw), move /dev
// /proc /sys /run into it, switch to it and exec its /sbin/init as PID 1.
func TestSwitchRootFromInitramfs(t *testing.T) {
	testbin.RequireRoot(t)
	bb := testbin.RequireTool(t, "busybox")
	losetup := testbin.RequireTool(t, "losetup")
	debugfs := testbin.RequireTool(t, "debugfs")

	src := t.TempDir()
	for _, d := range []string{"bin", "sbin", "dev", "proc", "sys", "run"} {
		if err := os.MkdirAll(filepath.Join(src, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	bbData, err := os.ReadFile(bb)
	if err != nil {
		t.Fatal(err)
	}
	writeFile(t, filepath.Join(src, "bin", "busybox"), string(bbData), 0o755)
	for _, a := range []string{"sh", "cat", "ls", "sync", "grep"} {
		_ = os.Symlink("busybox", filepath.Join(src, "bin", a))
	}
	writeFile(t, filepath.Join(src, "sbin", "init"), `#!/bin/sh
{
	echo "pid=$$ argv0=$0"
	grep -c . /proc/self/mountinfo
	cat /proc/self/mountinfo
	ls /
} > /result
sync
`, 0o755)
	label := fmt.Sprintf("sr%d", time.Now().UnixNano()%1e9)
	img := ext4Image(t, src, label, 32<<20)
	out, err := exec.Command(losetup, "--find", "--show", img).Output()
	if err != nil {
		t.Fatal(err)
	}
	loop := strings.TrimSpace(string(out))
	t.Cleanup(func() { _ = exec.Command(losetup, "-d", loop).Run() })

	dir := filepath.Join(t.TempDir(), "initramfs")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	cons := filepath.Join(t.TempDir(), "console")
	writeFile(t, cons, "", 0o644)
	script := `mount -t tmpfs tmpfs "$1" && mkdir "$1/proc" "$1/sys" "$1/dev" "$1/tmp" "$1/run" && exec "$2" -R "$1" -C "$3" -k "$4"`
	cmd := nstest.Command(t, "/bin/sh", "-c", script, "sh", dir, testbin.Applet(t, "init"), cons,
		"root=LABEL="+label+" rootwait rw rootfstype=ext4")
	var buf bytes.Buffer
	cmd.Stdout, cmd.Stderr = &buf, &buf
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	consLog := func() string { b, _ := os.ReadFile(cons); return buf.String() + string(b) }
	if e := watch(cmd).ending(t, consLog); e != (nstest.Ending{}) {
		t.Fatalf("ended %v\n%s", e, consLog())
	}
	b, _ := os.ReadFile(cons)
	has(t, "init log", string(b), "/dev/"+filepath.Base(loop)+" (ext4) on ", "switched root to LABEL="+label)
	res, err := exec.Command(debugfs, "-R", "cat /result", loop).Output()
	if err != nil {
		t.Fatal(err)
	}
	r := string(res)
	has(t, "the new root's init", r, "pid=1 argv0=/sbin/init\n")
	mounts := strings.Split(r, "\n")
	for _, m := range []string{"/", "/proc", "/sys", "/dev", "/run"} {
		if mountOf(mounts, m) == "" {
			t.Errorf("no mount on %s in the new root:\n%s", m, r)
		}
	}
	if m := mountOf(mounts, "/"); !strings.Contains(m, " / / rw,") || !strings.Contains(m, " - ext4 ") || !strings.HasSuffix(m, filepath.Base(loop)+" rw") {
		t.Errorf("/ is not %s read-write: %q", loop, mountOf(mounts, "/"))
	}
}

// ext4Image makes a size-byte ext4 image labelled label holding the tree src
// (mkfs.ext4 -d) and returns its path.
func ext4Image(t *testing.T, src, label string, size int64) string {
	t.Helper()
	mkfs := testbin.RequireTool(t, "mkfs.ext4")
	img := filepath.Join(t.TempDir(), "root.img")
	writeFile(t, img, "", 0o644)
	if err := os.Truncate(img, size); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command(mkfs, "-q", "-F", "-L", label, "-d", src, img).CombinedOutput(); err != nil {
		t.Fatalf("mkfs.ext4 -d %s: %v\n%s", src, err, out)
	}
	return img
}

func TestPreinitWithoutShellIsSkipped(t *testing.T) {
	tr := newTree(t, true)
	_ = os.Remove(filepath.Join(tr.dir, "bin", "sh"))
	out, wait := tr.start("")
	if e := wait(); e != (nstest.Ending{}) {
		t.Fatalf("init ended with %v\n%s", e, tr.log(out))
	}
	has(t, "init log", tr.log(out), "no "+filepath.Join(tr.dir, "bin", "sh")+": cannot run", "preinit skipped", "handing over after ")
	if _, err := os.Stat(filepath.Join(tr.dir, "preinit.out")); err == nil {
		t.Fatal("preinit ran without /bin/sh")
	}
}

// TestMissingRootDeviceStaysInInitramfs: root= names nothing and there is no
// rootwait: after the grace period init says so and boots the initramfs on.
func TestMissingRootDeviceStaysInInitramfs(t *testing.T) {
	testbin.RequireRoot(t)
	dir := filepath.Join(t.TempDir(), "initramfs")
	_ = os.MkdirAll(dir, 0o755)
	cons := filepath.Join(t.TempDir(), "console")
	writeFile(t, cons, "", 0o644)
	record := filepath.Join(t.TempDir(), "record.sh")
	writeFile(t, record, "#!/bin/sh\necho \"HANDOFF $*\" > \"$0.out\"\n", 0o755)
	script := `mount -t tmpfs tmpfs "$1" && exec "$2" -R "$1" -C "$3" -k "$4"`
	cmd := nstest.Command(t, "/bin/sh", "-c", script, "sh", dir, testbin.Applet(t, "init"), cons,
		"root=LABEL=no-such-label-here rootfstype=ext4 init.oneit="+record)
	var buf bytes.Buffer
	cmd.Stdout, cmd.Stderr = &buf, &buf
	if err := cmd.Run(); err != nil {
		b, _ := os.ReadFile(cons)
		t.Fatalf("%v\n%s%s", err, buf.String(), b)
	}
	b, _ := os.ReadFile(cons)
	has(t, "init log", string(b), "waiting for root device LABEL=no-such-label-here",
		"switching to root=LABEL=no-such-label-here: no device LABEL=no-such-label-here; staying in the initramfs", "handing over after ")
	if got, _ := os.ReadFile(record + ".out"); !strings.HasPrefix(string(got), "HANDOFF -3 -r ") {
		t.Fatalf("hand-off: %q", got)
	}
}

func TestPanicIsRecoveredAndBootGoesOn(t *testing.T) {
	tr := newTree(t, true)
	out, wait := tr.start("init.testpanic")
	if e := wait(); e != (nstest.Ending{}) {
		t.Fatalf("init ended with %v, want the recording oneit's exit 0\n%s", e, tr.log(out))
	}
	has(t, "init log", tr.log(out), "panic: init.testpanic", "going on to the hand-over despite the panic", "handing over after ")
	has(t, "hand-off", tr.read("handoff.out"), "PID=1\n", " -3 -r ")
}

// TestIdleAfterFailedHandOffReaps: when there is nothing to exec (oneit is
// missing, and this binary can no longer be executed either), PID 1 stays up
// and still reaps the orphans that come to it.
func TestIdleAfterFailedHandOffReaps(t *testing.T) {
	tr := newTree(t, true)
	if err := os.Remove(filepath.Join(tr.dir, "record.sh")); err != nil {
		t.Fatal(err)
	}
	// A copy of the binary that loses its execute bits during preinit: the
	// fall-back exec of this binary's own oneit then fails too.
	bin, err := os.ReadFile(testbin.Path(t))
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	exe := filepath.Join(dir, "toybox-go")
	writeFile(t, exe, string(bin), 0o755)
	tr.init = filepath.Join(dir, "init")
	if err := os.Symlink(exe, tr.init); err != nil {
		t.Fatal(err)
	}
	hold := tr.holdPreinit()
	out, wait := tr.start("")
	deadline := hold.waitReady(tr, out)
	if err := os.Chmod(exe, 0o644); err != nil {
		t.Fatal(err)
	}
	hold.release()
	tr.waitLog(out, deadline, "init did not go idle", "nothing left to run") // its log is the only sign
	pid := tr.pid
	// An orphan for PID 1: sh starts sleep and exits at once.
	if out, err := nstest.Enter(pid, "sh", "-c", "sleep 0.2 & exit 0").CombinedOutput(); err != nil {
		t.Fatalf("nsenter: %v: %s", err, out)
	}
	deadline = time.Now().Add(10 * time.Second)
	for len(nstest.Descendants(pid)) > 0 {
		if time.Now().After(deadline) {
			t.Fatalf("idle PID 1 left %d zombies", nstest.Zombies(pid))
		}
		time.Sleep(20 * time.Millisecond) // polling /proc: no event tells us
	}
	_ = syscall.Kill(pid, syscall.SIGKILL)
	wait()
}

// TestRuntimeFatalSignalsDuringPreinitAreIgnored: signals the Go runtime turns
// into a crash when nobody asked for them (QUIT dumps goroutines and exits 2,
// ABRT, SYS and a kill'd SEGV do the same) must not end PID 1: as the
// kernel's init that exit is a kernel panic. `kill -QUIT 1` is a busybox
// habit (re-exec init).
func TestRuntimeFatalSignalsDuringPreinitAreIgnored(t *testing.T) {
	for _, sig := range []syscall.Signal{syscall.SIGQUIT, syscall.SIGABRT, syscall.SIGSYS, syscall.SIGSEGV} {
		t.Run(sig.String(), func(t *testing.T) {
			tr := newTree(t, true)
			hold := tr.holdPreinit()
			out, wait := tr.start("")
			deadline := hold.waitReady(tr, out)
			if err := syscall.Kill(tr.pid, sig); err != nil {
				t.Fatal(err)
			}
			tr.waitLog(out, deadline, sig.String()+" not seen", "ignoring "+sig.String())
			hold.release()
			if e := wait(); e != (nstest.Ending{}) {
				t.Fatalf("after %v: init ended with %v, want the hand-off's exit 0\n%s", sig, e, tr.log(out))
			}
			has(t, "hand-off", tr.read("handoff.out"), "PID=1\n")
		})
	}
}

// TestBadHandOffOptionsFallBack: a typo in init.pid2= or init.oneit= is a bad
// kernel command line, which must not stop the boot: init says so and hands
// over to its own oneit and pid2.
func TestBadHandOffOptionsFallBack(t *testing.T) {
	t.Run("init.pid2", func(t *testing.T) {
		tr := newTree(t, false)
		out, wait := tr.start("init.pid2=/no/such/pid2")
		if e := wait(); e != (nstest.Ending{}) {
			t.Fatalf("init ended with %v\n%s", e, tr.log(out))
		}
		has(t, "hand-off", tr.read("handoff.out"), " -3 -r "+filepath.Join(tr.dir, "sbin", "pid2")+"\n")
		has(t, "init log", tr.log(out), "/no/such/pid2")
	})
	t.Run("init.oneit", func(t *testing.T) {
		tr := newTree(t, false)
		// oneit -3 -r runs this as pid2: it records that it ran, then asks
		// PID 1 to halt (forwarded to it, so it goes away, and oneit halts).
		pid2 := filepath.Join(tr.dir, "fake-pid2.sh")
		writeFile(t, pid2, "#!/bin/sh\necho \"PID2 $$ $*\" >> \"$0.out\"\nkill -USR1 1\nexec sleep 100\n", 0o755)
		// The last init.oneit= wins over start's recording one.
		out, wait := tr.start("init.oneit=/no/such/oneit init.pid2=" + pid2)
		if e := wait(); e != nstest.Halted {
			t.Fatalf("ended %v, want oneit's halt\n%s", e, tr.log(out))
		}
		has(t, "pid2's record", tr.read("fake-pid2.sh.out"), "PID2 ")
		has(t, "init log", tr.log(out), "/no/such/oneit")
	})
}
