package oneit

import (
	"errors"
	"os"
	"strconv"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"toybox-go/applets/internal/kmsg"
	"toybox-go/applets/internal/mountinfo"
	"toybox-go/applets/printf"
	"toybox-go/applets/selfexec"
)

// rebootHelperFlag makes oneit the short-lived helper that calls reboot(2): the
// kernel may end the task that calls it, and if that task were PID 1 a failed
// halt or poweroff would become "Attempted to kill init" (Go cannot vfork).
const rebootHelperFlag = "--reboot-helper"

// rebootCmd is the reboot(2) magic number of an action; uint32 because HALT
// and POWER_OFF overflow a 32-bit int as constants. ok is false for an
// unknown action.
func rebootCmd(action string) (cmd uint32, ok bool) {
	switch action {
	case "reboot":
		return unix.LINUX_REBOOT_CMD_RESTART, true
	case "halt":
		return unix.LINUX_REBOOT_CMD_HALT, true
	case "poweroff":
		return unix.LINUX_REBOOT_CMD_POWER_OFF, true
	}
	return 0, false
}

func rebootHelper(action string) int {
	cmd, ok := rebootCmd(action)
	if !ok {
		printf.Fprintf(os.Stderr, "oneit: unknown reboot action %q\n", action)
		return 1
	}
	err := reboot(cmd)
	printf.Fprintf(os.Stderr, "oneit: %s: %v\n", action, err)
	return 1
}

// reboot calls reboot(2); the kernel reads cmd as an unsigned int, so the
// conversion through int32 keeps its bits on 32- and 64-bit machines alike.
func reboot(cmd uint32) error { return unix.Reboot(int(int32(cmd))) }

// final is the end: with a shutdown signal recorded (or the child gone), kill
// what is left, sync, unmount and reboot. Not PID 1, it only syncs and returns
// 127+signal like toybox. It returns only when the reboot did not happen.
func (s *initState) final() int {
	sig := s.shutdownSig
	s.flush("sync", unix.Sync)
	if !s.pid1 {
		return 127 + int(sig)
	}
	action := actionName(sig)
	s.log.Noticef("%s: stopping every process", action)
	s.killAll(unix.SIGTERM, termGrace)
	s.killAll(unix.SIGKILL, termGrace)
	s.flush("sync", unix.Sync)
	if initialPIDNamespace() {
		s.flush("unmounting", func() { unmountAll(s.log) })
		s.flush("sync", unix.Sync)
	}
	s.log.Noticef("%s", action)
	err := s.runRebootHelper(action)
	// Still alive: the reboot did not happen (no CAP_SYS_BOOT in a container).
	say("%s failed: %v; exiting in %v", action, err, execFailDelay)
	s.log.Errorf("%s failed: %v", action, err)
	s.reapFor(execFailDelay, false)
	return 127
}

// defaultStall is how long a sync or the unmounting may go on without the
// kernel's dirty and writeback memory shrinking before the final sequence
// goes on without it (systemd's shutdown gives up on sync after 10 s
// without progress too).
const defaultStall = 10 * time.Second

// flush runs f (sync(2), the unmounting), which may block for ever on a dead
// disk or NFS server, in a goroutine, and waits for it while reaping. It
// gives up once Dirty + Writeback in /proc/meminfo has not shrunk for the
// stall time: a slow flash still gets all the time it needs, a dead device
// does not keep reboot(2) from happening. After one gave up, a later sync
// would only block behind it, so later ones are skipped.
func (s *initState) flush(what string, f func()) {
	if s.flushStuck && what == "sync" {
		return
	}
	done := make(chan struct{})
	go func() {
		defer s.recoverPanic(what)
		defer close(done)
		f()
	}()
	stall := stallTime()
	tick := time.NewTicker(max(min(stall/4, time.Second), time.Millisecond))
	defer tick.Stop()
	last, progress := dirtyMemory(), time.Now()
	for {
		select {
		case <-done:
			return
		case <-s.sigs:
			s.reapAll()
		case <-tick.C:
			if d := dirtyMemory(); d < last {
				last, progress = d, time.Now()
			} else if time.Since(progress) >= stall {
				s.flushStuck = true
				say("%s made no progress for %v: going on without it", what, stall)
				s.log.Warnf("%s made no progress for %v (%d kB dirty or in writeback): going on without it", what, stall, last)
				return
			}
		}
	}
}

// dirtyMemory is Dirty + Writeback from /proc/meminfo in kB, -1 when it
// cannot be read (then no progress is ever seen).
func dirtyMemory() int64 {
	b, err := os.ReadFile("/proc/meminfo")
	if err != nil {
		return -1
	}
	var sum int64
	for _, line := range strings.Split(string(b), "\n") {
		k, v, ok := strings.Cut(line, ":")
		if !ok || (k != "Dirty" && k != "Writeback") {
			continue
		}
		n, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
		if err == nil {
			sum += n
		}
	}
	return sum
}

func stallTime() time.Duration {
	// Test-only knob, whole seconds (an integer: ParseFloat alone would add
	// 8 KB to the binary).
	if v, err := strconv.Atoi(os.Getenv("TOYBOX_GO_ONEIT_STALL")); err == nil && v > 0 && v < 3600 {
		return time.Duration(v) * time.Second
	}
	return defaultStall
}

// killAll signals every process but PID 1 and reaps until none is left or the
// grace time is over.
func (s *initState) killAll(sig syscall.Signal, grace time.Duration) {
	if err := unix.Kill(-1, sig); errors.Is(err, unix.ESRCH) {
		return
	}
	s.reapFor(grace, true)
}

// reapAll reaps what is ready and reports whether no child is left at all.
func (s *initState) reapAll() bool { return s.reapReady(false) }

// waitSignal waits for the next signal (SIGCHLD, usually) or the timeout. The
// final sequence does not act on further shutdown signals.
func (s *initState) waitSignal(d time.Duration) {
	if d <= 0 {
		return
	}
	t := time.NewTimer(d)
	select {
	case <-s.sigs:
	case <-t.C:
	}
	t.Stop()
}

// reapFor keeps reaping for d, or, with untilNone, until no child is left.
func (s *initState) reapFor(d time.Duration, untilNone bool) {
	deadline := time.Now().Add(d)
	for time.Now().Before(deadline) {
		if s.reapAll() && untilNone {
			return
		}
		s.waitSignal(time.Until(deadline))
	}
}

// runRebootHelper runs `oneit --reboot-helper ACTION` and waits for it. Inside a
// PID namespace the helper's reboot(2) kills this PID 1 with SIGHUP or SIGINT,
// and this never returns. A helper that cannot start falls back to calling
// reboot(2) here: always safe for a restart, and for the machine's own PID 1
// a failed halt ends in a panic, which is still better than exiting.
func (s *initState) runRebootHelper(action string) error {
	con := s.console.Fd()
	pid, err := syscall.ForkExec(selfexec.Exe(), []string{"oneit", rebootHelperFlag, action}, &syscall.ProcAttr{
		Files: []uintptr{con, con, con},
	})
	if err != nil {
		s.log.Warnf("starting the reboot helper: %v; calling reboot(2) directly", err)
		if action == "reboot" || initialPIDNamespace() {
			cmd, _ := rebootCmd(action)
			return reboot(cmd)
		}
		return printf.Errorf("starting the reboot helper: %w", err)
	}
	for {
		var ws unix.WaitStatus
		r, err := unix.Wait4(pid, &ws, 0, nil)
		if errors.Is(err, unix.EINTR) {
			continue
		}
		if err != nil || r == pid {
			break
		}
	}
	return errors.New("reboot(2) returned (no CAP_SYS_BOOT?)")
}

// unmountAll unmounts every file system it can, deepest first, and remounts
// read-only those that stay busy, so that nothing written is lost at reboot.
// /proc, /sys and /dev stay: they hold no data and the reboot helper needs
// /proc/self/exe.
func unmountAll(log *kmsg.Logger) {
	mounts, err := mountinfo.Read("/proc/self/mountinfo", nil)
	if err != nil {
		// No mount table (oneit as the kernel's init, /proc never mounted):
		// the root is the one mount there surely is.
		if rerr := unix.Mount("", "/", "", unix.MS_REMOUNT|unix.MS_RDONLY, ""); rerr != nil {
			log.Warnf("unmount: %v; remounting / read-only: %v", err, rerr)
		} else {
			log.Warnf("unmount: %v; remounted / read-only", err)
		}
		return
	}
	for i := len(mounts) - 1; i >= 0; i-- { // deepest (mounted last) first
		mp := mounts[i].Target
		if keepMounted(mp) {
			continue
		}
		if mp != "/" && unix.Unmount(mp, 0) == nil {
			continue
		}
		if err := unix.Mount("", mp, "", unix.MS_REMOUNT|unix.MS_RDONLY, ""); err != nil && mp == "/" {
			log.Warnf("remounting / read-only: %v", err)
		}
	}
}

// keepMounted reports whether mp is /proc, /sys or /dev or below one of them.
func keepMounted(mp string) bool {
	for _, keep := range []string{"/proc", "/sys", "/dev"} {
		if mp == keep || strings.HasPrefix(mp, keep+"/") {
			return true
		}
	}
	return false
}
