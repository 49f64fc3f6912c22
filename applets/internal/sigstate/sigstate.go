// Package sigstate gives a Go program the signal state a process should hand to
// its children: nothing blocked, nothing ignored.
//
// Go cannot do this for a child by itself: forkExec restores the signal mask
// the runtime started with (whatever the parent blocked), and signals that were
// ignored at start-up and that os/signal cannot take over (32 and 33, which
// glibc reserves) stay ignored across exec. A program started by make, by a
// non-interactive shell or by a container runtime may inherit both. So a PID 1
// that must give its children a clean state re-executes itself once, cleanly,
// when it finds an unclean one: it unblocks everything on a locked thread,
// resets the ignored signals to their default and execs itself.
package sigstate

import (
	"os"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"

	"toybox-go/applets/printf"
)

// reexecEnv marks the re-executed process, so that a state that cannot be
// cleaned is not retried in a loop.
const reexecEnv = "TOYBOX_GO_SIGSTATE_REEXEC"

// Set is a signal set as /proc/PID/status shows it: signal n is bit n-1.
// Two words, because MIPS has 128 signals (32 hex digits there, 16 elsewhere).
type Set [2]uint64

// Empty reports whether no signal is in the set.
func (s Set) Empty() bool { return s[0] == 0 && s[1] == 0 }

// Has reports whether signal sig (1-128) is in the set.
func (s Set) Has(sig int) bool {
	if sig < 1 || sig > 128 {
		return false
	}
	return s[(sig-1)/64]&(1<<((sig-1)%64)) != 0
}

func (s Set) String() string {
	if s[1] != 0 {
		return printf.Sprintf("%#x%016x", s[1], s[0])
	}
	return printf.Sprintf("%#x", s[0])
}

// parseSet reads a hex mask of up to 32 digits.
func parseSet(v string) (Set, error) {
	v = strings.TrimSpace(v)
	if v == "" || len(v) > 32 {
		return Set{}, printf.Errorf("bad signal mask %q", v)
	}
	split := max(len(v)-16, 0)
	var s Set
	var err error
	s[0], err = strconv.ParseUint(v[split:], 16, 64)
	if err == nil && split > 0 {
		s[1], err = strconv.ParseUint(v[:split], 16, 64)
	}
	if err != nil {
		return Set{}, printf.Errorf("bad signal mask %q: %w", v, err)
	}
	return s, nil
}

// Masks reads this process's blocked and ignored signal sets from a
// /proc/PID/status file.
func Masks(statusFile string) (blocked, ignored Set, err error) {
	b, err := os.ReadFile(statusFile)
	if err != nil {
		return Set{}, Set{}, err
	}
	found := 0
	for _, line := range strings.Split(string(b), "\n") {
		k, v, ok := strings.Cut(line, ":")
		if !ok {
			continue
		}
		var dst *Set
		switch k {
		case "SigBlk":
			dst = &blocked
		case "SigIgn":
			dst = &ignored
		default:
			continue
		}
		n, err := parseSet(v)
		if err != nil {
			return Set{}, Set{}, printf.Errorf("%s: %s: %w", statusFile, k, err)
		}
		*dst = n
		found++
	}
	if found != 2 {
		return Set{}, Set{}, printf.Errorf("%s: no SigBlk/SigIgn lines", statusFile)
	}
	return blocked, ignored, nil
}

// EnsureClean makes the signal state clean for children. Ignored signals are
// reset in place; blocked ones need a re-execution (Go fixes the mask its
// children get at start-up). Call it after signal.Notify, so that what os/signal
// handles is no longer ignored. It returns when the state is clean, cannot be
// read (no /proc: the kernel starts init clean), or a re-execution was already
// tried (then with an error saying so).
func EnsureClean() error {
	retried := os.Getenv(reexecEnv) != ""
	os.Unsetenv(reexecEnv) // never passed on to children
	blocked, ignored, err := Masks("/proc/self/status")
	if err != nil || (blocked.Empty() && ignored.Empty()) {
		return nil
	}
	if blocked.Empty() {
		// Only dispositions: those can be reset in place, no exec needed.
		// (Signals os/signal already handles are not ignored any more; what
		// is left is 32 and 33, which the Go runtime does not use.)
		resetIgnored(ignored)
		if _, ignored, err = Masks("/proc/self/status"); err == nil && ignored.Empty() {
			return nil
		}
	}
	if retried {
		return printf.Errorf("signal state still unclean after re-exec (blocked %v, ignored %v)", blocked, ignored)
	}
	runtime.LockOSThread() // the mask is per thread, and exec keeps the caller's
	resetIgnored(ignored)
	var empty unix.Sigset_t
	if err := unix.PthreadSigmask(unix.SIG_SETMASK, &empty, nil); err != nil {
		return printf.Errorf("unblocking signals: %w", err)
	}
	exe := "/proc/self/exe"
	err = syscall.Exec(exe, os.Args, append(os.Environ(), reexecEnv+"=1"))
	return printf.Errorf("re-exec %s: %w", exe, err)
}

// resetIgnored gives every signal in the ignored set its default disposition.
func resetIgnored(ignored Set) {
	for sig := 1; sig <= 128; sig++ {
		if ignored.Has(sig) && sig != int(unix.SIGKILL) && sig != int(unix.SIGSTOP) {
			setDefault(sig)
		}
	}
}

// setDefault sets sig's disposition to SIG_DFL with a raw rt_sigaction: an
// all-zero struct sigaction means SIG_DFL, no flags and an empty mask on every
// architecture, whatever its field order.
func setDefault(sig int) {
	var zero [64]uint64
	_, _, _ = unix.RawSyscall6(unix.SYS_RT_SIGACTION, uintptr(sig), uintptr(unsafe.Pointer(&zero)), 0, kernelSigsetSize(), 0, 0)
}

// kernelSigsetSize is the kernel's sizeof(sigset_t): 128 signals on MIPS.
func kernelSigsetSize() uintptr {
	if strings.HasPrefix(runtime.GOARCH, "mips") {
		return 16
	}
	return 8
}
