// Package netnstest runs test code inside a fresh network namespace, where
// `ip link add` makes the kernel send real uevents for net devices that
// nobody else sees (net device events are tagged with their namespace), so
// tests of uevent listeners need neither a VM nor quiet hardware.
//
// The namespace belongs to one locked OS thread: sockets opened and commands
// started (os/exec forks from the calling thread) by fn live in it; other
// goroutines stay in the test's namespace. The thread is discarded afterwards.
package netnstest

import (
	"fmt"
	"os/exec"
	"runtime"
	"strings"
	"testing"

	"golang.org/x/sys/unix"

	"toybox-go/internal/testbin"
)

// Do runs fn on an OS thread that has just entered a new network namespace and
// returns fn's error. It needs root and the ip tool (the test is skipped, or
// fails in strict mode, without them).
func Do(t testing.TB, fn func(ns *NS) error) error {
	t.Helper()
	testbin.RequireRoot(t)
	ip := testbin.RequireTool(t, "ip")
	done := make(chan error, 1)
	go func() {
		// Never unlocked: the thread dies with the goroutine, so the namespace
		// cannot leak into other goroutines.
		runtime.LockOSThread()
		if err := unix.Unshare(unix.CLONE_NEWNET); err != nil {
			done <- fmt.Errorf("unshare(CLONE_NEWNET): %w", err)
			return
		}
		fd, err := unix.Open("/proc/thread-self/ns/net", unix.O_RDONLY|unix.O_CLOEXEC, 0)
		if err != nil {
			done <- err
			return
		}
		defer unix.Close(fd)
		done <- fn(&NS{ip: ip, fd: fd})
	}()
	return <-done
}

// NS runs commands in the namespace. Its methods must be called from the
// goroutine running Do's fn.
type NS struct {
	ip string
	fd int // the namespace, for Go
}

// Go runs fn in a new goroutine on its own OS thread that joins the
// namespace, so that fn's commands and sockets are in it too, while Do's fn
// blocks in something else. The returned channel yields fn's error. It must
// be called before Do's fn returns.
func (n *NS) Go(fn func(ns *NS) error) <-chan error {
	done := make(chan error, 1)
	go func() {
		runtime.LockOSThread() // never unlocked: the thread dies with the goroutine
		if err := unix.Setns(n.fd, unix.CLONE_NEWNET); err != nil {
			done <- fmt.Errorf("setns: %w", err)
			return
		}
		done <- fn(n)
	}()
	return done
}

// IP runs `ip ARGS...` in the namespace.
func (n *NS) IP(args ...string) error {
	out, err := exec.Command(n.ip, args...).CombinedOutput()
	if err != nil {
		return fmt.Errorf("ip %s: %w: %s", strings.Join(args, " "), err, out)
	}
	return nil
}

// AddDummy creates a virtual interface that has no peer: a dummy, or an ifb
// when the kernel has no dummy driver (CONFIG_DUMMY is off on some CI
// kernels). Both send one net "add" uevent for the interface.
func (n *NS) AddDummy(name string) error {
	err := n.IP("link", "add", name, "type", "dummy")
	if err != nil && strings.Contains(err.Error(), "Unknown device type") {
		err = n.IP("link", "add", name, "type", "ifb")
	}
	return err
}

// Command returns a command that will run in the namespace when started from
// fn's goroutine.
func (n *NS) Command(name string, args ...string) *exec.Cmd {
	return exec.Command(name, args...)
}
