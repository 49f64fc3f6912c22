// Package reboot holds busybox's reboot, halt and poweroff: ask PID 1 to reboot,
// halt or power off (SIGTERM, SIGUSR1, SIGUSR2, which oneit forwards to pid2 for
// the orderly shutdown), or with -f do it at once with reboot(2).
package reboot

import (
	"errors"
	"os"
	"path/filepath"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"toybox-go/applets/internal/getopt"
	"toybox-go/applets/printf"
)

// Usage is printed by --help (shared by the three names).
const Usage = `usage: reboot|halt|poweroff [-d DELAY] [-n] [-f]

Reboot, halt or power off: signal PID 1 (TERM, USR1, USR2), which shuts the
system down in order (pid2 runs the shutdown entries and stops the services).

-d DELAY  wait DELAY seconds first
-n        do not sync
-f        force: sync (unless -n) and call reboot(2) at once, no shutdown`

type action struct {
	sig syscall.Signal
	cmd uint32 // the kernel's magic numbers do not fit an int on 32-bit targets
}

// actionOf returns what the applet named name does, and the name to go by:
// "reboot" for a name that is none of the three.
func actionOf(name string) (string, action) {
	switch name {
	case "halt":
		return name, action{syscall.SIGUSR1, unix.LINUX_REBOOT_CMD_HALT}
	case "poweroff":
		return name, action{syscall.SIGUSR2, unix.LINUX_REBOOT_CMD_POWER_OFF}
	}
	return "reboot", action{syscall.SIGTERM, unix.LINUX_REBOOT_CMD_RESTART}
}

// Main runs reboot, halt or poweroff, chosen by the name it was invoked as.
func Main(args []string) int {
	name, a := actionOf(filepath.Base(args[0]))
	fs := getopt.New(name, Usage, os.Stderr)
	var delay time.Duration
	fs.Func("d", func(v string) (err error) {
		delay, err = getopt.ParseSeconds(v)
		return err
	})
	nosync := fs.Bool("n")
	force := fs.Bool("f")
	if err := fs.Parse(args[1:]); err != nil {
		if errors.Is(err, getopt.ErrHelp) {
			return 0
		}
		return 1
	}
	if fs.NArg() != 0 {
		fs.Usage()
		return 1
	}
	time.Sleep(delay)
	if *force {
		if !*nosync {
			unix.Sync()
		}
		err := unix.Reboot(int(int32(a.cmd)))
		printf.Fprintf(os.Stderr, "%s: %v\n", name, err)
		return 1
	}
	if err := unix.Kill(1, a.sig); err != nil {
		printf.Fprintf(os.Stderr, "%s: cannot signal PID 1: %v\n", name, err)
		return 1
	}
	return 0
}
