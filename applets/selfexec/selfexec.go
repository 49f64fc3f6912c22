// Package selfexec runs another applet of this same binary as a child process,
// the way PID 1 and pid2 start oneit, pid2, kmodloader or hotplug-call without
// depending on /sbin symlinks being installed.
//
// It lives outside applets/internal because package main sets its Known hook,
// and Go lets only packages below applets/ import applets/internal.
package selfexec

import (
	"os"
	"strings"

	"toybox-go/applets/internal/command"
)

// Known reports whether name is an applet of this binary. The dispatcher in
// package main sets it before running any applet; it stays nil in unit tests of
// single packages, where nothing is known.
var Known func(name string) bool

// IsApplet reports whether name is an applet of this binary.
func IsApplet(name string) bool { return Known != nil && Known(name) }

// Exe is the path that re-executes this binary. /proc/self/exe works even when
// the file was deleted (an initramfs after switch_root); without /proc (a PID 1
// before its mounts) argv[0] is used, as the kernel gives init its full path.
func Exe() string {
	if _, err := os.Stat("/proc/self/exe"); err == nil {
		return "/proc/self/exe"
	}
	if len(os.Args) > 0 {
		if strings.Contains(os.Args[0], "/") {
			return os.Args[0]
		}
		if p, err := command.LookPath(os.Args[0]); err == nil {
			return p
		}
	}
	return "/proc/self/exe"
}

// Command returns a command that runs applet with args (argv[0] = applet).
func Command(applet string, args ...string) *command.Cmd {
	cmd := command.Command(Exe(), args...)
	cmd.Args = append([]string{applet}, args...)
	return cmd
}
