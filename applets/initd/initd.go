// Package initd is init: the first program the kernel runs (/sbin/init, or
// /init in an initramfs). It does what procd's init does before procd: the
// early mounts, /dev from /sys/dev, the console, /tmp; the boot modules; the
// preinit shell with its hotplug daemon; then it execs `oneit -3 -r
// /sbin/pid2` and stays PID 1. An initramfs with root= on the command line and
// no /etc/preinit instead mounts that root and switches to it.
package initd

import (
	"os"
	"os/signal"
	"path/filepath"
	"runtime/debug"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"toybox-go/applets/internal/cmdline"
	"toybox-go/applets/internal/fsroot"
	"toybox-go/applets/internal/getopt"
	"toybox-go/applets/internal/kmsg"
	"toybox-go/applets/printf"
	"toybox-go/applets/selfexec"
)

// Usage is printed by --help.
const Usage = `usage: init [-R ROOT] [-C CONSOLE] [-k CMDLINE]

The first program the kernel runs, as /sbin/init or an initramfs's /init. It
mounts /proc, /sys, cgroup2, a tmpfs /dev (nodes made from /sys/dev), devpts
and /tmp, puts the console on stdin/out/err, loads /etc/modules-boot.d with
kmodloader (waiting at most 120 s), runs the preinit shell /etc/preinit with
PREINIT=1 while "pid2 -h /etc/hotplug-preinit.json" handles hotplug, then
execs "oneit -3 -r [-c CONSOLE] /sbin/pid2", staying PID 1. In an initramfs
with root= and no /etc/preinit it mounts root= (rootfstype=, rootflags=, ro/rw,
rootwait, rootdelay=) and switches to it, running init= (default /sbin/init).
Kernel options: init.oneit=PATH execs PATH instead of oneit (same arguments),
init.pid2=PATH has oneit run PATH instead of /sbin/pid2, failsafe= is passed
on to preinit; init.testpanic panics after the early mounts (to see that PID 1
survives it and still hands over). Run as /init from an initramfs it exports
INITRAMFS=1 like OpenWrt's initramfs wrapper. Refuses to run unless it is PID
1 or -R is given.

-R ROOT     run on the tree ROOT (for tests: paths below it, no watchdog)
-C CONSOLE  console device (default ROOT/dev/console)
-k CMDLINE  kernel command line (default: /proc/cmdline; empty with -R)`

// Main runs init.
func Main(args []string) int {
	// First thing: a signal arriving before Notify would make the Go runtime
	// exit, and PID 1 exiting panics the kernel. Every signal, not only the
	// ones init acts on: one nobody asked for is fatal too (QUIT, ABRT, SYS,
	// a kill'd SEGV make the runtime crash; HUP, INT, TERM exit; PIPE on a
	// closed stderr), so handleSignals sees them all and ignores the rest.
	sigs := make(chan os.Signal, 32)
	pid1 := os.Getpid() == 1
	if pid1 {
		signal.Notify(sigs)
	}
	log := kmsg.New("init")

	fs := getopt.New("init", Usage, os.Stderr)
	root := fs.String("R", "")
	console := fs.String("C", "")
	kcmdline := fs.String("k", "")
	if err := fs.Parse(args[1:]); err != nil {
		if pid1 {
			log.Errorf("bad arguments %q: ignored", args[1:])
		} else {
			return 1
		}
	}
	if !pid1 && *root == "" {
		printf.Fprintln(os.Stderr, "init: must be run as PID 1 (by the kernel); -R ROOT runs it on a test tree")
		return 1
	}
	in := &Init{Root: "/", Console: *console, PID1: pid1, Log: log, Test: *root != "", started: time.Now(), argv0: args[0]}
	if *root != "" {
		in.Root = *root
	}
	if *kcmdline != "" || in.Test {
		// A test tree's proc is the host's: its command line is not ours.
		in.Cmdline = cmdline.Split(*kcmdline)
	}
	in.reaper = newReaper()
	in.goSafe("reaper", in.reaper.run)
	in.goSafe("signals", func() { in.handleSignals(sigs) })
	return in.runGuarded()
}

// Init is one boot. Paths are below Root.
type Init struct {
	Root    string
	Console string   // "" means Root/dev/console
	Cmdline []string // nil means read Root/proc/cmdline
	PID1    bool
	Test    bool // -R: no watchdog, no printk change, no reboot from signals
	Log     *kmsg.Logger
	env     []string
	reaper  *reaper
	wdt     *watchdog
	started time.Time
	argv0   string // how the kernel ran us: "/init" in an initramfs
}

// path joins p below Root. It is kept out of line (go:noinline): it is
// called at some forty sites, and each inlined copy costs more than the call.
//
//go:noinline
func (in *Init) path(p string) string { return filepath.Join(in.Root, p) }

func (in *Init) sys() *fsroot.System {
	return &fsroot.System{Root: in.Root, Sys: in.path("/sys"), Proc: in.path("/proc"), Dev: in.path("/dev"),
		Cmdline: in.cmdline(), Logf: in.Log.Infof}
}

func (in *Init) cmdline() []string {
	if in.Cmdline == nil {
		in.Cmdline = cmdline.Read(in.path("/proc/cmdline"))
		if in.Cmdline == nil {
			in.Cmdline = []string{}
		}
	}
	return in.Cmdline
}

// param returns key=value from the command line (last wins).
func (in *Init) param(key string) (string, bool) { return cmdline.Lookup(in.cmdline(), key) }

// runGuarded runs the boot; a panic is logged and, as PID 1, never ends the
// process: the boot goes on to the hand-over, and if that fails too, PID 1
// idles (reaping) rather than exit and panic the kernel.
func (in *Init) runGuarded() (code int) {
	defer func() {
		if r := recover(); r != nil {
			in.Log.Errorf("panic: %v\n%s", r, debug.Stack())
			if in.PID1 {
				in.handOffAfterPanic()
				in.idle()
			}
			code = 1
		}
	}()
	return in.Run()
}

func (in *Init) handOffAfterPanic() {
	defer func() {
		if r := recover(); r != nil {
			in.Log.Errorf("panic again, in the hand-over: %v", r)
		}
	}()
	if in.env == nil {
		in.env = os.Environ()
	}
	in.Log.Errorf("going on to the hand-over despite the panic")
	in.handOff()
}

// goSafe runs f in a goroutine whose panic is logged instead of ending PID 1.
func (in *Init) goSafe(what string, f func()) {
	go func() {
		defer func() {
			if r := recover(); r != nil {
				in.Log.Errorf("panic in %s: %v\n%s", what, r, debug.Stack())
			}
		}()
		f()
	}()
}

// idle keeps PID 1 alive when there is nothing left to exec: it only reaps.
// The reaper goroutine started in early() goes on reaping meanwhile: it is the
// one owner of wait4(-1).
func (in *Init) idle() {
	in.Log.Errorf("nothing left to run: PID 1 idles (reaping) until the system is rebooted")
	for {
		time.Sleep(time.Hour)
	}
}

// Run is the boot sequence; it returns only if the hand-off exec failed and
// this is not PID 1.
func (in *Init) Run() int {
	in.env = os.Environ()
	in.early()
	if !in.Test && !in.Log.ToKmsg() && in.Log.Retry() {
		// From an initramfs without a /dev/kmsg node everything so far went
		// to the console only; from here on dmesg has it too.
		in.Log.Infof("logging to /dev/kmsg now that /dev is mounted")
	}
	if !in.Test && in.Root == "/" {
		if err := kmsg.Unlimit(); err != nil {
			in.Log.Debugf("printk_devkmsg: %v", err)
		}
	}
	in.passFailsafe()
	if _, ok := in.param("init.testpanic"); ok {
		panic("init.testpanic on the kernel command line") // exercises the recovery path
	}
	if in.argv0 == "/init" && in.isInitramfs() && os.Getenv("INITRAMFS") == "" {
		// What OpenWrt's initramfs /init wrapper exports before exec'ing
		// /sbin/init: preinit's initramfs_test hook reads it.
		in.setenv("INITRAMFS", "1")
	}
	if rootDev, ok := in.param("root"); ok && !in.exists("/etc/preinit") && in.isInitramfs() {
		in.modules()
		err := in.switchRoot(rootDev) // returns only when it failed
		in.Log.Errorf("switching to root=%s: %v; staying in the initramfs", rootDev, err)
	}
	if !in.Test && in.Root == "/" && in.sys().RootIsRootfs() && !in.container() {
		if err := in.rootOnOwnMount(); err != nil {
			in.Log.Errorf("making / a mount of its own: %v (mount_root cannot pivot)", err)
		}
	}
	if !in.Test {
		in.wdt = openWatchdog(in.path("/dev/watchdog"), in.Log)
	}
	in.modules()
	if !in.Test && in.wdt == nil {
		// The driver may be one of the boot modules (softdog, i6300esb):
		// procd would only find it later, we look again now.
		MakeDevNodes(in.path("/sys"), in.path("/dev"), in.Log.Debugf)
		in.wdt = openWatchdog(in.path("/dev/watchdog"), in.Log)
	}
	in.preinit()
	return in.handOff()
}

func (in *Init) exists(p string) bool {
	_, err := os.Stat(in.path(p))
	return err == nil
}

// container tells whether we run inside a container, as procd decides.
func (in *Init) container() bool {
	if os.Getenv("container") != "" {
		return true
	}
	return in.exists("/.dockerenv") || in.exists("/pantavisor")
}

// passFailsafe puts failsafe= from the command line into the environment of
// preinit, as the kernel does for the init it starts (unknown key=value words
// become environment variables); with -k the kernel did not, so we do.
func (in *Init) passFailsafe() {
	if v, ok := in.param("failsafe"); ok && os.Getenv("failsafe") == "" {
		in.setenv("failsafe", v)
	}
}

// setenv and unsetenv are kept out of line (go:noinline): inlined at every
// call site they cost more than the calls.
//
//go:noinline
func (in *Init) setenv(k, v string) {
	in.unsetenv(k)
	in.env = append(in.env, k+"="+v)
}

//go:noinline
func (in *Init) unsetenv(k string) {
	out := in.env[:0]
	for _, e := range in.env {
		if !strings.HasPrefix(e, k+"=") {
			out = append(out, e)
		}
	}
	in.env = out
}

// handleSignals acts on signals sent to PID 1 before the hand-off.
func (in *Init) handleSignals(sigs chan os.Signal) {
	for s := range sigs {
		sig, _ := s.(syscall.Signal) // what signal.Notify delivers on Linux
		switch sig {
		case unix.SIGTERM, unix.SIGUSR1, unix.SIGUSR2, unix.SIGPWR:
			// All reboot here (procd's init has one handler for them all:
			// even USR2 and PWR, poweroff elsewhere).
			in.Log.Noticef("%v: reboot", s)
			printf.Fprintln(os.Stderr, "reboot")
			unix.Sync()
			time.Sleep(2 * time.Second)
			if err := unix.Reboot(unix.LINUX_REBOOT_CMD_RESTART); err != nil {
				in.Log.Errorf("reboot: %v", err)
			}
		case unix.SIGCHLD, unix.SIGURG, unix.SIGWINCH, unix.SIGPIPE:
			// The reaper's (SIGCHLD), the Go scheduler's (SIGURG), noise;
			// PIPE comes from a log write to a stderr nobody reads any
			// more, and a log line about it would only raise another.
		default:
			// procd's init would exit on INT: a kernel panic.
			in.Log.Noticef("ignoring %v", s)
		}
	}
}

// modules runs `kmodloader /etc/modules-boot.d` and waits at most 120 s.
func (in *Init) modules() {
	dir := in.path("/etc/modules-boot.d")
	if !in.exists("/etc/modules-boot.d") {
		in.Log.Infof("no %s: no boot modules to load", dir)
		return
	}
	in.Log.Infof("loading boot modules from %s", dir)
	_, done, err := in.start("kmodloader", selfexec.Exe(), []string{"kmodloader", dir}, in.env)
	if err != nil {
		in.Log.Errorf("starting kmodloader: %v", err)
		return
	}
	select {
	case st := <-done:
		if st.ExitStatus() != 0 {
			in.Log.Warnf("kmodloader %s: %s", dir, describe(st))
		}
	case <-time.After(modulesTimeout):
		in.Log.Warnf("kmodloader still running after %v: going on without waiting", modulesTimeout)
	}
}

// modulesTimeout is the CC-era figure the design names (procd now waits 12 s).
const modulesTimeout = 120 * time.Second

// start starts argv (argv[0] may differ from path) with the console as stdio.
func (in *Init) start(what, path string, argv, env []string) (int, <-chan unix.WaitStatus, error) {
	in.reaper.mu.Lock() // the reaper must not see its exit before expect knows it
	pid, err := syscall.ForkExec(path, argv, &syscall.ProcAttr{
		Dir:   "/",
		Env:   env,
		Files: []uintptr{0, 1, 2},
		Sys:   &syscall.SysProcAttr{Setsid: false},
	})
	var done <-chan unix.WaitStatus
	if err == nil {
		done = in.reaper.expect(pid)
	}
	in.reaper.mu.Unlock()
	if err != nil {
		return 0, nil, printf.Errorf("%s (%s): %w", what, path, err)
	}
	return pid, done, nil
}

func describe(st unix.WaitStatus) string {
	if st.Signaled() {
		return "killed by " + st.Signal().String()
	}
	return printf.Sprintf("exit %d", st.ExitStatus())
}
