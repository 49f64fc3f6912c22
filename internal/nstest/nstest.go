// Package nstest runs a program as PID 1 of a fresh PID and mount namespace (the
// second test tier) and tells how it ended: an exit code, or the signal that
// killed it. Inside a PID namespace reboot(2) from PID 1 kills it with SIGHUP
// (restart) or SIGINT (halt, power off), so a reboot request is observable.
package nstest

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"toybox-go/internal/testbin"
)

// shim mounts the namespace's own /proc on a private mount tree, then execs the
// program, which stays PID 1.
const shim = `mount --make-rprivate / && mount -t proc proc /proc && exec "$@"`

// Command returns a command that runs argv as PID 1 of a new PID + mount
// namespace. The caller sets Stdin/Stdout/Stderr/Env and starts it; the
// started process's Pid is the host's view of that PID 1.
func Command(t testing.TB, argv ...string) *exec.Cmd {
	t.Helper()
	testbin.RequireRoot(t)
	cmd := exec.Command("/bin/sh", append([]string{"-c", shim, "sh"}, argv...)...)
	cmd.Env = testbin.Env()
	cmd.SysProcAttr = &syscall.SysProcAttr{
		Cloneflags: syscall.CLONE_NEWPID | syscall.CLONE_NEWNS,
		Setpgid:    true,
	}
	return cmd
}

// Ending is how a process ended.
type Ending struct {
	Code   int            // exit code, -1 when killed by a signal
	Signal syscall.Signal // the killing signal, 0 when it exited
}

func (e Ending) String() string {
	if e.Signal != 0 {
		return "killed by " + e.Signal.String()
	}
	return "exit " + strconv.Itoa(e.Code)
}

// Rebooted etc. are the endings of a namespace's PID 1 after reboot(2).
var (
	Rebooted = Ending{Code: -1, Signal: syscall.SIGHUP}
	Halted   = Ending{Code: -1, Signal: syscall.SIGINT} // halt and power off look alike
)

// EndingOf interprets the error returned by (*exec.Cmd).Wait.
func EndingOf(err error) (Ending, error) {
	if err == nil {
		return Ending{}, nil
	}
	var ee *exec.ExitError
	if !errors.As(err, &ee) {
		return Ending{}, err
	}
	ws, ok := ee.Sys().(syscall.WaitStatus)
	if !ok {
		return Ending{}, fmt.Errorf("no wait status in %w", err)
	}
	if ws.Signaled() {
		return Ending{Code: -1, Signal: ws.Signal()}, nil
	}
	return Ending{Code: ws.ExitStatus()}, nil
}

// Enter returns a command that runs argv inside the namespaces of host PID pid
// (the namespace's PID 1), with its /proc.
func Enter(pid int, argv ...string) *exec.Cmd {
	args := append([]string{"--target", strconv.Itoa(pid), "--pid", "--mount", "--"}, argv...)
	cmd := exec.Command("nsenter", args...)
	cmd.Env = testbin.Env()
	return cmd
}

// Descendants returns the host PIDs of every live process below pid, read from
// the host's /proc.
func Descendants(pid int) []int {
	children := map[int][]int{}
	ents, _ := os.ReadDir("/proc")
	for _, e := range ents {
		p, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		if pp, err := ppid(p); err == nil {
			children[pp] = append(children[pp], p)
		}
	}
	var out []int
	var walk func(int)
	walk = func(p int) {
		for _, c := range children[p] {
			out = append(out, c)
			walk(c)
		}
	}
	walk(pid)
	return out
}

// Cmdlines returns the live processes below pid (host PIDs) with their
// command lines, arguments joined by spaces.
func Cmdlines(pid int) map[int]string {
	out := map[int]string{}
	for _, p := range Descendants(pid) {
		b, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(p), "cmdline"))
		if err == nil {
			out[p] = strings.ReplaceAll(strings.TrimRight(string(b), "\x00"), "\x00", " ")
		}
	}
	return out
}

// Zombies counts the zombie processes below pid.
func Zombies(pid int) int {
	n := 0
	for _, p := range Descendants(pid) {
		if st, err := state(p); err == nil && st == "Z" {
			n++
		}
	}
	return n
}

func statFields(pid int) ([]string, error) {
	b, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "stat"))
	if err != nil {
		return nil, err
	}
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return nil, fmt.Errorf("/proc/%d/stat: no comm", pid)
	}
	return strings.Fields(s[i+1:]), nil // fields from 3 (state) on
}

// PPid returns the parent PID of host process pid (0 when it is gone).
func PPid(pid int) int {
	pp, _ := ppid(pid)
	return pp
}

// NSPid returns the PID that host process pid has in its own, innermost PID
// namespace (0 when it is gone).
func NSPid(pid int) int {
	b, _ := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "status"))
	for _, l := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(l, "NSpid:"); ok {
			if f := strings.Fields(v); len(f) > 0 {
				n, _ := strconv.Atoi(f[len(f)-1])
				return n
			}
		}
	}
	return 0
}

func ppid(pid int) (int, error) {
	f, err := statFields(pid)
	if err != nil || len(f) < 2 {
		return 0, fmt.Errorf("/proc/%d/stat: %w", pid, err)
	}
	return strconv.Atoi(f[1])
}

func state(pid int) (string, error) {
	f, err := statFields(pid)
	if err != nil || len(f) < 1 {
		return "", fmt.Errorf("/proc/%d/stat: %w", pid, err)
	}
	return f[0], nil
}
