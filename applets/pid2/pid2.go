// Package pid2 is the service manager that runs as PID 2 under `oneit -3 -r`:
// procd's state machine (EARLY, INIT, RUNNING, SHUTDOWN) and busybox's inittab,
// in a shape that survives its own death. Everything pid2 starts is recorded in
// pid files (PID and start time) in the state directory, so a relaunched pid2
// adopts what still runs and starts only what is gone. The same command is the
// client of the running daemon (status, start, stop, ..., through a unix socket).
package pid2

import (
	"errors"
	"io"
	"os"

	"toybox-go/applets/internal/getopt"
	"toybox-go/applets/internal/supervise"
	"toybox-go/applets/printf"
)

// Usage is printed by --help.
const Usage = `usage: pid2 [-d STATEDIR] [-e ETCDIR] [-f INITTAB] [-c CONSOLE] [-h RULES] [COMMAND [ARG...]]

Without COMMAND, run the service manager: EARLY (watchdog, hotplug), INIT
(inittab: sysinit, wait, once, then respawn, askfirst, askconsole), RUNNING
(supervise, serve the control socket), SHUTDOWN on TERM/INT (reboot), USR1
(halt), USR2/PWR (poweroff); HUP reloads the inittab. With COMMAND, ask the
running pid2: status [--json] [NAME], start|stop|restart NAME, reload,
log [NAME], reboot, halt, poweroff.

-d STATEDIR  pid files, booted flag and control socket (default /run/pid2,
             or /tmp/pid2 when /run/pid2 cannot be made)
-e ETCDIR    where inittab, rc.d and hotplug.json are (default /etc)
-f INITTAB   inittab to read (default ETCDIR/inittab)
-c CONSOLE   console for askconsole entries (default: console=, else /dev/console)
-h RULES     run only the hotplug listener with RULES until TERM`

// Main runs pid2.
func Main(args []string) int {
	if len(args) > 1 && args[1] == supervise.HelperArg {
		return supervise.HelperMain(args[2:])
	}
	fs := getopt.New("pid2", Usage, os.Stderr)
	var o options
	fs.StringVar(&o.stateDir, "d", "/run/pid2")
	fs.StringVar(&o.etcDir, "e", "/etc")
	fs.StringVar(&o.inittab, "f", "")
	fs.StringVar(&o.console, "c", "")
	fs.StringVar(&o.hotplugRules, "h", "")
	if err := fs.Parse(args[1:]); err != nil {
		if errors.Is(err, getopt.ErrHelp) {
			return 0
		}
		return 1
	}
	if o.inittab == "" {
		o.inittab = o.etcDir + "/inittab"
	}
	if !fs.Seen("d") {
		o.stateDir = defaultStateDir(fs.NArg() > 0)
	}
	if fs.NArg() > 0 {
		return client(o.stateDir, fs.Args(), os.Stdout, os.Stderr)
	}
	if o.hotplugRules != "" {
		return hotplugOnly(o)
	}
	return runDaemon(o)
}

// DefaultStateDir is where pid2 keeps its state; FallbackStateDir is used
// when it cannot be made (a rootfs without /run and read-only).
const (
	DefaultStateDir  = "/run/pid2"
	FallbackStateDir = "/tmp/pid2"
)

// defaultStateDir picks the state directory when -d is not given: the daemon
// falls back when DefaultStateDir cannot be created; a client goes where a
// control socket is.
func defaultStateDir(client bool) string {
	if client {
		if _, err := os.Stat(DefaultStateDir + "/" + SocketName); err != nil {
			if _, err := os.Stat(FallbackStateDir + "/" + SocketName); err == nil {
				return FallbackStateDir
			}
		}
		return DefaultStateDir
	}
	if err := os.MkdirAll(DefaultStateDir, 0o700); err != nil {
		if err := os.MkdirAll(FallbackStateDir, 0o700); err == nil {
			return FallbackStateDir
		}
	}
	return DefaultStateDir
}

type options struct {
	_                                                [0]func() // not comparable: no generated equality function
	stateDir, etcDir, inittab, console, hotplugRules string
}

// errorf prints "pid2: MESSAGE" to w and returns exit code 1. It is kept out
// of line (go:noinline): client calls it at eight places.
//
//go:noinline
func errorf(w io.Writer, format string, args ...any) int {
	printf.Fprintf(w, "pid2: "+format+"\n", args...)
	return 1
}
