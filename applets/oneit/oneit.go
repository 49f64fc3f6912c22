// Package oneit is toybox's minimal PID 1: it runs one command with the console,
// reaps every zombie, and turns the command's exit and a few signals into reboot,
// halt or poweroff. With -3 it is the PID 1 half of the oneit + pid2 design: the
// child learns on fd 3 the PID of every orphan PID 1 reaped.
//
// Where we differ from toybox (spec/pid1-pid2.md 1.11), on purpose:
//   - -r is accepted (toybox documents it but rejects it) and means -n.
//   - -3 writes the reaped PID (toybox writes the child's own PID), and never
//     blocks PID 1: records queue in memory and a writer goroutine drains them.
//   - -r/-n relaunch at most once a second (toybox relaunches in a busy loop).
//   - With -3 a shutdown signal is forwarded to the child, which is waited for.
//   - The child gets the console as controlling tty when it is a tty.
//   - As the real PID 1 (initial PID namespace) the final sequence also kills
//     every process and unmounts or remounts read-only before reboot(2).
//   - -H SECONDS: a heartbeat pipe; a silent child's group is killed.
package oneit

import (
	"errors"
	"io"
	"os"
	"strings"
	"time"

	"golang.org/x/sys/unix"

	"toybox-go/applets/internal/getopt"
	"toybox-go/applets/internal/sigstate"
	"toybox-go/applets/printf"
)

// Usage is printed by --help.
const Usage = `usage: oneit [-prn3] [-H SECONDS] [-c CONSOLE] COMMAND [ARG...]

Minimal PID 1: run COMMAND in a new session with CONSOLE on stdin, stdout and
stderr (its controlling tty when it is one), reap every zombie, and reboot when
COMMAND exits. SIGTERM or SIGINT reboots, SIGUSR1 halts, SIGUSR2 or SIGPWR powers
off; every other signal is ignored.

-c CONSOLE  console device (default: the last entry of
            /sys/class/tty/console/active, else /dev/console)
-p          power off instead of rebooting when COMMAND exits
-r, -n      relaunch COMMAND when it exits (at most once a second)
-3          fd 3 of COMMAND reads the 4-byte native-endian PID of every other
            process PID 1 reaps (a 0 record: some were lost, rescan); a
            shutdown signal is forwarded to COMMAND and waited for
-H SECONDS  heartbeat: COMMAND gets a pipe's write end on fd 4 (fd 3 without
            -3); if no byte arrives for SECONDS its process group is killed

Not PID 1, oneit syncs and exits 127+signal instead of rebooting (142 when
COMMAND exits, 139 with -p).`

// options is the parsed command line.
type options struct {
	poweroff  bool          // -p
	relaunch  bool          // -r or -n
	pidPipe   bool          // -3
	heartbeat time.Duration // -H, 0 = off
	console   string        // -c, "" = autodetect
	argv      []string      // COMMAND [ARG...]
}

// parseArgs parses toybox style: combined flags (-n3), -cFILE or -c FILE, parsing
// stops at the first non-option or after "--". The error is getopt.ErrHelp for
// --help.
func parseArgs(args []string) (*options, error) {
	o := &options{}
	fs := getopt.New("oneit", Usage, io.Discard) // Main words oneit's errors itself
	fs.BoolVar(&o.poweroff, "p")
	fs.BoolVar(&o.relaunch, "r")
	fs.BoolVar(&o.relaunch, "n")
	fs.BoolVar(&o.pidPipe, "3")
	fs.StringVar(&o.console, "c", "")
	fs.Func("H", func(v string) error {
		d, err := getopt.ParseSeconds(v)
		if err != nil || d <= 0 || d > 86400*time.Second {
			return errors.New("want seconds > 0")
		}
		o.heartbeat = d
		return nil
	})
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	o.argv = fs.Args()
	if len(o.argv) == 0 {
		return nil, errors.New("need a COMMAND")
	}
	if o.poweroff && o.relaunch {
		return nil, errors.New("no -p with -r/-n")
	}
	return o, nil
}

// Main runs oneit; args[0] is the name it was invoked as.
func Main(args []string) int {
	// Before anything else: a Go PID 1 that has not asked for a signal dies of
	// it with exit status 2, which panics the kernel.
	sigs := notifyAll()

	if len(args) >= 3 && args[1] == rebootHelperFlag {
		return rebootHelper(args[2])
	}
	o, err := parseArgs(args[1:])
	if err == nil {
		// Children must start with nothing blocked or ignored, whatever our
		// parent (make, a shell, a container runtime) left us: this
		// re-executes oneit once if needed.
		if err := sigstate.EnsureClean(); err != nil {
			printf.Fprintf(os.Stderr, "oneit: %v\n", err)
		}
	}
	if err == getopt.ErrHelp {
		printf.Println(Usage)
		return nothingToRun(sigs, 0)
	}
	if err != nil {
		printf.Fprintf(os.Stderr, "oneit: %v (see \"oneit --help\")\n", err)
		return nothingToRun(sigs, 1)
	}
	return newInit(o, sigs).run()
}

// nothingToRun ends oneit when its command line gives it nothing to run: it
// returns code, except as PID 1, whose exit would panic the kernel (`init=
// /sbin/oneit` with the wrong words after `--`): that is treated like a
// COMMAND that cannot be run, a reboot 5 s later.
func nothingToRun(sigs chan os.Signal, code int) int {
	if os.Getpid() != 1 {
		return code
	}
	s := newInit(&options{argv: []string{"oneit"}}, sigs)
	s.console = os.Stderr
	s.log.Errorf("nothing to run: %s in %v", actionName(unix.SIGTERM), execFailDelay)
	s.reapFor(execFailDelay, false)
	s.shutdownSig = unix.SIGTERM
	return s.final()
}

// activeConsole returns the console to use when -c is not given: the last entry
// of /sys/class/tty/console/active (the kernel's preferred console), else
// /dev/console.
func activeConsole(sysfs string) string {
	b, err := os.ReadFile(sysfs + "/class/tty/console/active")
	if err != nil {
		return "/dev/console"
	}
	f := strings.Fields(string(b))
	if len(f) == 0 {
		return "/dev/console"
	}
	return "/dev/" + strings.TrimPrefix(f[len(f)-1], "/dev/")
}

// openConsole opens the console read-write without creating it and without
// making it PID 1's controlling tty (the child takes it).
func openConsole(path string) (*os.File, error) {
	f, err := os.OpenFile(path, os.O_RDWR|syscallNoctty, 0)
	if err != nil {
		return nil, printf.Errorf("console: %w", err)
	}
	return f, nil
}

// say writes a line to the console: PID 1's stderr after redirection, which
// never blocks on a tty console (see ownStdio). It is kept out of line
// (go:noinline): an inlined copy at each caller costs more than the call.
//
//go:noinline
func say(format string, args ...any) {
	printf.Fprintf(os.Stderr, "oneit: "+format+"\n", args...)
}
