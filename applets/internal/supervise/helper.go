package supervise

import (
	"bytes"
	"os"
	"os/signal"
	"syscall"

	"golang.org/x/sys/unix"

	"toybox-go/applets/internal/command"
	"toybox-go/applets/printf"
)

// Every service and task is started through a small trampoline: pid2 forks its
// own executable as `pid2 _exec [-s] [-a] [-t] PATH ARGV...` in a new session.
// The trampoline
//   - with -s, waits for one byte on fd 3 before it does anything: pid2 sends it
//     only after the pid file is written, so if pid2 dies between fork and pid
//     file, the trampoline sees EOF and exits instead of leaving a service no
//     relaunched pid2 could know about (that would run twice);
//   - closes fd 3, so no service ever sees a descriptor of pid2's;
//   - with -a prints "Please press Enter to activate this console." and waits;
//     TERM, INT or HUP meanwhile end it at once (a stop or shutdown must not
//     wait for the KILL);
//   - with -t makes its stdin tty the controlling terminal;
//   - execs PATH with ARGV (PATH without a slash is searched in $PATH), in the
//     default signal state: exec resets every handled signal, and the ones Go
//     might have left ignored are handled first.

// HelperArg is the argv[1] that selects the trampoline.
const HelperArg = "_exec"

// AskPrompt is what askfirst entries print.
const AskPrompt = "\nPlease press Enter to activate this console.\n"

// HelperMain runs the trampoline; args are the words after HelperArg.
func HelperMain(args []string) int {
	var sync, ask, tty bool
	for len(args) > 0 && len(args[0]) == 2 && args[0][0] == '-' {
		switch args[0] {
		case "-s":
			sync = true
		case "-a":
			ask = true
		case "-t":
			tty = true
		case "--":
		default:
			printf.Fprintf(os.Stderr, "pid2 %s: unknown flag %s\n", HelperArg, args[0])
			return 127
		}
		if args[0] == "--" {
			args = args[1:]
			break
		}
		args = args[1:]
	}
	if len(args) < 2 {
		printf.Fprintf(os.Stderr, "pid2 %s: want PATH ARGV0 [ARG...]\n", HelperArg)
		return 127
	}
	if sync {
		var b [1]byte
		n, _ := unix.Read(3, b[:])
		if n != 1 {
			return 111 // pid2 died before recording this process: do not run
		}
	}
	unix.Close(3)
	// Catch the signals a non-interactive parent may have left ignored, so that
	// exec resets them to the default.
	signal.Notify(make(chan os.Signal, 1), syscall.SIGHUP, syscall.SIGINT, syscall.SIGQUIT, syscall.SIGPIPE, syscall.SIGTERM, syscall.SIGUSR1, syscall.SIGUSR2, syscall.SIGTSTP, syscall.SIGTTIN, syscall.SIGTTOU)
	if ask {
		if code, ok := askFirst(); !ok {
			return code
		}
	}
	if tty {
		unix.IoctlSetInt(0, unix.TIOCSCTTY, 1)
		unix.IoctlSetPointerInt(0, unix.TIOCSPGRP, unix.Getpid())
	}
	path := args[0]
	if lp, err := command.LookPath(path); err == nil {
		path = lp
	}
	err := syscall.Exec(path, args[1:], os.Environ())
	printf.Fprintf(os.Stderr, "pid2: exec %s: %v\n", args[0], err)
	return 127
}

// askFirst prints the prompt and waits for Enter on stdin. TERM, INT or HUP
// end the wait and the trampoline: it dies of that signal (returning 128+N
// if the signal does not kill it). ok is false when the service must not run.
func askFirst() (code int, ok bool) {
	stop := make(chan os.Signal, 1)
	signal.Notify(stop, syscall.SIGHUP, syscall.SIGINT, syscall.SIGTERM)
	enter := make(chan bool, 1)
	go func() {
		os.Stdout.WriteString(AskPrompt)
		var b [64]byte
		for {
			n, err := os.Stdin.Read(b[:])
			if bytes.IndexByte(b[:n], '\n') >= 0 {
				enter <- true
				return
			}
			if err != nil {
				enter <- false
				return
			}
		}
	}()
	select {
	case got := <-enter:
		// Still caught through HelperMain's Notify: exec resets them.
		signal.Stop(stop)
		return 1, got
	case s := <-stop:
		sig := s.(syscall.Signal)
		signal.Reset(sig)
		unix.Kill(unix.Getpid(), sig)
		return 128 + int(sig), false
	}
}
