// toybox-go is one static binary holding the applets that boot a Linux system the
// OpenWrt way. It dispatches on the base name of argv[0], busybox style, so that
// /sbin/oneit -> toybox-go runs oneit; `toybox-go APPLET ARGS...` works too.
//
// Every applet is listed once, in sorted order, in one table (applets_all.go;
// applets_oneit.go for the oneit_only build): no init() registration, so what
// is in the binary can be read in one place.
package main

import (
	"io"
	"os"
	"os/signal"
	"path/filepath"

	"toybox-go/applets/printf"
	"toybox-go/applets/selfexec"
)

// applet is one entry of the dispatch table.
type applet struct {
	name  string // argv[0] base name
	path  string // install path below DESTDIR, e.g. sbin/oneit
	usage string // toybox-style usage text, printed by --help
	// main runs the applet. args[0] is the name it was invoked as (aliases
	// share a main and tell themselves apart by it); it returns the exit code.
	main func(args []string) int
}

const selfName = "toybox-go"

const selfUsage = `usage: toybox-go [--list | --install DIR | --help] [APPLET [ARG...]]

One static binary holding the applets that boot a Linux system the OpenWrt way.
It runs the applet named by the base name of argv[0] (install it as symlinks),
or the one named by its first argument.

--list         print every applet with its install path
--install DIR  create DIR/PATH -> toybox-go symlinks for every applet
--help         this text; APPLET --help prints the applet's usage`

// version is stamped by the Makefile with -ldflags -X main.version=...
var version = "dev"

func init() {
	if os.Getpid() == 1 {
		// The Go runtime kills a program with a signal it was not asked to
		// relay (TERM, HUP, QUIT...), and for PID 1 that is a kernel panic.
		// Relay every signal from the start; the applet's own Notify takes
		// them over, and until then a signal is dropped, not fatal.
		signal.Notify(make(chan os.Signal, 1))
	}
}

func main() {
	selfexec.Known = func(name string) bool { return find(name) != nil }
	code := run(os.Args, os.Stdout, os.Stderr)
	if os.Getpid() == 1 && ran != "init" && ran != "oneit" {
		// As PID 1, exiting would panic the kernel. Either no applet ran
		// (rdinit=/bin/toybox-go, /linuxrc, leftover kernel parameters as
		// arguments) or another one returned (init=/sbin/lsmod): boot the
		// system instead. (The oneit_only build has no init: it is a
		// container's init, and a container may end.)
		if boot := find("init"); boot != nil {
			if ran == "" {
				printf.Fprintf(os.Stderr, "toybox-go: started as PID 1 as %q: running init\n", os.Args[0])
			} else {
				printf.Fprintf(os.Stderr, "toybox-go: %s ended (status %d) as PID 1: running init\n", ran, code)
			}
			code = runApplet(boot, []string{"init"}, os.Stdout)
		}
	}
	os.Exit(code)
}

// ran is the applet run, "" when none (for main's PID 1 check).
var ran string

// find returns the applet called name, nil if none is: a plain scan, the
// table being short. It is kept out of line (go:noinline): it has six callers.
//
//go:noinline
func find(name string) *applet {
	for i := range applets {
		if applets[i].name == name {
			return &applets[i]
		}
	}
	return nil
}

// run dispatches argv and returns the exit code.
func run(argv []string, stdout, stderr io.Writer) int {
	if len(argv) == 0 {
		argv = []string{selfName}
	}
	name := filepath.Base(argv[0])
	if a := find(name); a != nil {
		return runApplet(a, argv, stdout)
	}
	if a := followLinks(argv[0]); a != nil {
		// /usr/bin/foo -> /sbin/oneit -> toybox-go: the first known name wins,
		// as toybox does.
		return runApplet(a, argv, stdout)
	}
	if name != selfName {
		// A renamed binary or an unknown symlink: say so, then act as toybox-go.
		if len(argv) < 2 {
			printf.Fprintf(stderr, "toybox-go: unknown applet %q\n", name)
			listApplets(stderr)
			return 1
		}
	}
	if len(argv) < 2 {
		printf.Fprintln(stderr, selfUsage)
		return 1
	}
	switch arg := argv[1]; arg {
	case "--help", "-h", "help":
		if len(argv) > 2 {
			if a := find(argv[2]); a != nil {
				printf.Fprintln(stdout, a.usage)
				return 0
			}
			printf.Fprintf(stderr, "toybox-go: unknown applet %q\n", argv[2])
			return 1
		}
		printf.Fprintln(stdout, selfUsage)
		printf.Fprintln(stdout, "\napplets:")
		listApplets(stdout)
		return 0
	case "--version":
		printf.Fprintln(stdout, "toybox-go", version)
		return 0
	case "--list":
		listApplets(stdout)
		return 0
	case "--install":
		if len(argv) != 3 {
			printf.Fprintln(stderr, "toybox-go: --install needs one directory")
			return 1
		}
		if err := install(argv[2]); err != nil {
			printf.Fprintln(stderr, "toybox-go:", err)
			return 1
		}
		return 0
	default:
		if a := find(arg); a != nil {
			return runApplet(a, argv[1:], stdout)
		}
		printf.Fprintf(stderr, "toybox-go: unknown applet %q\n", arg)
		listApplets(stderr)
		return 1
	}
}

func runApplet(a *applet, argv []string, stdout io.Writer) int {
	ran = a.name
	if len(argv) == 2 && argv[1] == "--help" && os.Getpid() != 1 {
		printf.Fprintln(stdout, a.usage)
		return 0
	}
	nameProcess(filepath.Base(argv[0]))
	return a.main(argv)
}

// nameProcess makes ps and /proc/PID/comm show the applet's name when the
// binary was run as /proc/self/exe (how init starts oneit, and pid2 its
// helpers), which would otherwise show as "exe". Best effort: no /proc, no name.
func nameProcess(name string) {
	const comm = "/proc/self/comm"
	cur, err := os.ReadFile(comm)
	if err != nil || string(cur) == name+"\n" || len(name) == 0 || len(name) > 15 {
		return
	}
	_ = os.WriteFile(comm, []byte(name), 0)
}

// followLinks follows a chain of symlinks from path (at most 8) and returns
// the applet named by the first link target whose base name is one.
func followLinks(path string) *applet {
	for i := 0; i < 8; i++ {
		target, err := os.Readlink(path)
		if err != nil {
			return nil
		}
		if !filepath.IsAbs(target) {
			target = filepath.Join(filepath.Dir(path), target)
		}
		if a := find(filepath.Base(target)); a != nil {
			return a
		}
		path = target
	}
	return nil
}

// listApplets prints "install-path" per applet, the format install.sh reads.
// It is kept out of line (go:noinline): run calls it from three places.
//
//go:noinline
func listApplets(w io.Writer) {
	for _, a := range applets {
		printf.Fprintln(w, a.path)
	}
}

// install makes dir/PATH a symlink to this binary for every applet. An existing
// symlink to the binary is left alone; anything else is refused.
func install(dir string) error {
	self, err := os.Executable()
	if err != nil {
		return printf.Errorf("finding this binary: %w", err)
	}
	for _, a := range applets {
		dst := filepath.Join(dir, a.path)
		if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
			return err
		}
		if cur, err := os.Readlink(dst); err == nil {
			if cur == self {
				continue
			}
			return printf.Errorf("%s: exists and points to %s, not %s", dst, cur, self)
		}
		if err := os.Symlink(self, dst); err != nil {
			return printf.Errorf("install: %w", err)
		}
	}
	return nil
}

// names is used by tests and --list.
func names() []string {
	var n []string
	for _, a := range applets {
		n = append(n, a.name)
	}
	return n
}
