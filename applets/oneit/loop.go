package oneit

import (
	"errors"
	"os"
	"os/signal"
	"runtime/debug"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/pkg/term/termios"
	"golang.org/x/sys/unix"

	"toybox-go/applets/internal/command"
	"toybox-go/applets/internal/kmsg"
	"toybox-go/applets/printf"
	"toybox-go/applets/selfexec"
)

const (
	syscallNoctty = unix.O_NOCTTY

	// relaunchSpacing is the least time between two launches with -r.
	relaunchSpacing = time.Second
	// execFailDelay is toybox's pause after a command that cannot be run.
	execFailDelay = 5 * time.Second
	// childShutdownTimeout bounds the wait for a -3 child (pid2) to finish its
	// shutdown policy after a forwarded signal.
	childShutdownTimeout = 60 * time.Second
	// termGrace is how long processes get between SIGTERM and SIGKILL.
	termGrace = 2 * time.Second
	// defaultQueueMax bounds the -3 backlog: 4 bytes a PID, 256 KiB (twice
	// that while a batch is written), little enough for a 32 MiB router. A
	// reader stalled for that many reaps gets a 0 record and rescans.
	defaultQueueMax = 1 << 16
	// defaultPATH is what PID 1 searches and hands on when the kernel gave no
	// PATH (it gives init HOME and TERM only); init's and busybox init's.
	defaultPATH = "/usr/sbin:/usr/bin:/sbin:/bin"
)

// notifyAll asks for every signal, so that none can kill PID 1 through the Go
// runtime's default handling; unwanted ones are simply dropped.
func notifyAll() chan os.Signal {
	c := make(chan os.Signal, 256)
	signal.Notify(c)
	return c
}

// initState is oneit's state. Only the goroutine running run touches it.
type initState struct {
	o           *options
	sigs        chan os.Signal
	log         *kmsg.Logger
	console     *os.File
	consolePath string
	ttyCon      bool // console is a tty: it becomes the child's controlling tty
	pid1        bool

	child      int // PID of the running COMMAND, 0 when none
	generation int // launches so far; tags heartbeats
	lastLaunch time.Time
	relaunch   *time.Timer // pending launch after the spacing
	execFail   *time.Timer // pending fake exit after an exec failure

	queue *pidQueue
	pipeR *os.File // kept open forever: the backlog survives relaunches

	hbRead  *os.File
	hbBeat  chan int
	hbTimer *time.Timer

	shutdownSig   syscall.Signal // 0 until a shutdown begins
	shutdownTimer *time.Timer
	finish        bool      // run the final sequence now
	flushStuck    bool      // a sync or the unmounting of the final sequence hangs
	_             [0]func() // not comparable: no generated equality function
}

func newInit(o *options, sigs chan os.Signal) *initState {
	return &initState{
		o:      o,
		sigs:   sigs,
		log:    kmsg.New("oneit"),
		pid1:   os.Getpid() == 1,
		hbBeat: make(chan int, 1),
	}
}

// recoverPanic ends a goroutine's panic with a log line instead of the
// process: an unrecovered panic in any goroutine would kill PID 1.
func (s *initState) recoverPanic(what string) {
	if r := recover(); r != nil {
		s.log.Errorf("recovered panic in the %s: %v\n%s", what, r, debug.Stack())
	}
}

// stopped returns a stopped timer, so that every timer field is always valid.
func stopped() *time.Timer {
	t := time.NewTimer(time.Hour)
	t.Stop()
	return t
}

func (s *initState) run() int {
	s.relaunch, s.execFail, s.hbTimer, s.shutdownTimer = stopped(), stopped(), stopped(), stopped()
	if err := s.setupConsole(); err != nil {
		if !s.pid1 {
			printf.Fprintf(os.Stderr, "oneit: %v\n", err)
			return 1
		}
		// PID 1 must not exit: keep the stdio the kernel gave us.
		s.log.Errorf("%v; keeping the inherited stdio", err)
		s.console = os.Stderr
	}
	if _, ok := os.LookupEnv("PATH"); !ok && s.pid1 {
		// Started by the kernel as init=: without it, lookPath finds nothing
		// where toybox's execvp would search its libc's default path.
		_ = os.Setenv("PATH", defaultPATH)
	}
	if s.pid1 && initialPIDNamespace() {
		// Ctrl-Alt-Del then arrives as SIGINT instead of an instant reboot.
		_ = unix.Reboot(unix.LINUX_REBOOT_CMD_CAD_OFF)
	}
	if s.o.pidPipe {
		r, w, err := os.Pipe()
		if err != nil {
			s.log.Errorf("-3: pipe: %v; running without it", err)
			s.o.pidPipe = false
		} else {
			s.pipeR = r
			s.queue = newPIDQueue(queueMax())
			go func() {
				defer s.recoverPanic("-3 writer")
				err := s.queue.drain(w)
				s.log.Errorf("-3: writing PIDs: %v", err)
			}()
		}
	}
	s.launch()
	for {
		if code, done := s.step(); done {
			return code
		}
	}
}

// step handles one event. A panic in it is logged and the loop goes on: PID 1
// never dies of a bug.
func (s *initState) step() (code int, done bool) {
	// After a panic the results are still 0, false: a panicking final()
	// has not returned its code.
	defer s.recoverPanic("main loop")
	if s.finish {
		return s.final(), true
	}
	select {
	case sig := <-s.sigs:
		s.signal(sig.(syscall.Signal))
	case <-s.relaunch.C:
		s.launch()
	case <-s.execFail.C:
		s.childGone(syscall.WaitStatus(127 << 8))
	case gen := <-s.hbBeat:
		if gen == s.generation && s.child != 0 {
			s.hbTimer.Reset(s.o.heartbeat)
		}
	case <-s.hbTimer.C:
		if s.child != 0 {
			s.log.Warnf("no heartbeat from %s (pid %d) for %v: killing its process group", s.o.argv[0], s.child, s.o.heartbeat)
			_ = unix.Kill(-s.child, unix.SIGKILL)
			_ = unix.Kill(s.child, unix.SIGKILL)
		}
	case <-s.shutdownTimer.C:
		s.log.Warnf("%s did not exit within %v of the shutdown signal", s.o.argv[0], childShutdownTimeout)
		s.finish = true
	}
	return 0, false
}

func (s *initState) signal(sig syscall.Signal) {
	switch sig {
	case unix.SIGCHLD:
		s.reap()
	case unix.SIGTERM, unix.SIGINT, unix.SIGUSR1, unix.SIGUSR2, unix.SIGPWR:
		if s.shutdownSig != 0 {
			return
		}
		s.shutdownSig = sig
		s.relaunch.Stop()
		s.log.Noticef("%v: %s", sig, actionName(sig))
		if s.o.pidPipe && s.child != 0 {
			// The policy child (pid2) runs the shutdown and exits.
			_ = unix.Kill(s.child, sig)
			s.shutdownTimer.Reset(childShutdownTimeout)
			return
		}
		s.finish = true
	}
}

// reap collects every zombie: the child's exit is acted on, every other PID goes
// to the -3 pipe.
func (s *initState) reap() { s.reapReady(true) }

// reapReady is the one wait4(-1) loop: it reaps every child that has ended,
// acting on each when act is set, and reports whether no child is left.
func (s *initState) reapReady(act bool) bool {
	for {
		var ws unix.WaitStatus
		pid, err := unix.Wait4(-1, &ws, unix.WNOHANG, nil)
		switch {
		case errors.Is(err, unix.EINTR):
			continue
		case errors.Is(err, unix.ECHILD):
			return true
		case err != nil || pid <= 0:
			return false
		}
		if !act {
			continue
		}
		if pid == s.child {
			s.childGone(syscall.WaitStatus(ws))
		} else if s.queue != nil {
			s.queue.push(pid)
		}
	}
}

// childGone acts on the end of COMMAND.
func (s *initState) childGone(ws syscall.WaitStatus) {
	s.child = 0
	s.hbTimer.Stop()
	if s.hbRead != nil {
		s.hbRead.Close()
		s.hbRead = nil
	}
	switch {
	case s.shutdownSig != 0:
		s.shutdownTimer.Stop()
		s.finish = true
	case s.o.relaunch:
		wait := time.Until(s.lastLaunch.Add(relaunchSpacing))
		if wait < 0 {
			wait = 0
		}
		s.log.Infof("%s exited (%s); relaunching in %v", s.o.argv[0], describe(ws), wait.Round(time.Millisecond))
		s.relaunch.Reset(wait)
	default:
		s.shutdownSig = unix.SIGTERM
		if s.o.poweroff {
			s.shutdownSig = unix.SIGUSR2
		}
		s.log.Noticef("%s exited (%s): %s", s.o.argv[0], describe(ws), actionName(s.shutdownSig))
		s.finish = true
	}
}

// launch starts COMMAND. An exec failure is reported on the console and, like
// toybox, becomes an exit 127 five seconds later (no busy loop).
func (s *initState) launch() {
	if s.generation > 0 {
		s.reopenConsole()
	}
	s.lastLaunch = time.Now()
	s.generation++
	path, err := s.lookPath(s.o.argv[0])
	var pid int
	if err == nil {
		pid, err = s.forkExec(path)
	}
	if err != nil {
		say("%s not in PATH=%s: %v", s.o.argv[0], os.Getenv("PATH"), err)
		s.log.Errorf("cannot run %s: %v", s.o.argv[0], err)
		s.execFail.Reset(execFailDelay)
		return
	}
	s.child = pid
	if s.o.heartbeat > 0 {
		s.hbTimer.Reset(s.o.heartbeat)
	}
}

// lookPath finds name like execvp: a name with a slash is used as is, else PATH
// is searched, and an applet of this binary is the last resort.
func (s *initState) lookPath(name string) (string, error) {
	if strings.Contains(name, "/") {
		return name, nil
	}
	p, err := command.LookPath(name)
	if err == nil {
		return p, nil
	}
	if selfexec.IsApplet(name) {
		return selfexec.Exe(), nil
	}
	return "", err
}

// forkExec starts the child in a new session with the console on 0-2, the -3
// pipe on fd 3 and the heartbeat pipe after it. Signal handlers are reset to
// the default in the child by the runtime (every signal is handled here, none
// ignored), so nothing of PID 1's signal state leaks.
func (s *initState) forkExec(path string) (int, error) {
	con := s.console.Fd()
	files := []uintptr{con, con, con}
	if s.o.pidPipe {
		files = append(files, s.pipeR.Fd())
	}
	var hbWrite *os.File
	if s.o.heartbeat > 0 {
		r, w, err := os.Pipe()
		if err != nil {
			return 0, printf.Errorf("heartbeat pipe: %w", err)
		}
		hbWrite = w
		files = append(files, w.Fd())
		s.watchHeartbeat(r, s.generation)
	}
	attr := &syscall.ProcAttr{
		Env:   os.Environ(),
		Files: files,
		Sys:   &syscall.SysProcAttr{Setsid: true, Setctty: s.ttyCon, Ctty: 0},
	}
	pid, err := syscall.ForkExec(path, s.o.argv, attr)
	if hbWrite != nil {
		hbWrite.Close() // the child has its copy
	}
	return pid, err
}

// watchHeartbeat forwards each read from the heartbeat pipe as a beat of this
// launch's generation; it ends at EOF, when every writer is gone.
func (s *initState) watchHeartbeat(r *os.File, gen int) {
	s.hbRead = r
	go func() {
		defer s.recoverPanic("heartbeat reader")
		buf := make([]byte, 64)
		for {
			if _, err := r.Read(buf); err != nil {
				return
			}
			select {
			case s.hbBeat <- gen:
			default:
			}
		}
	}()
}

// setupConsole opens the console and makes it PID 1's own stdio too.
func (s *initState) setupConsole() error {
	path := s.o.console
	if path == "" {
		path = activeConsole("/sys")
	}
	f, err := openConsole(path)
	if err != nil {
		return err
	}
	s.consolePath = path
	s.console = f
	s.ttyCon = isTTY(f.Fd())
	if s.ttyCon && s.pid1 {
		// Whatever the boot loader or a crashed program left, as busybox init.
		if err := saneTTY(f.Fd()); err != nil {
			s.log.Warnf("console %s: %v", path, err)
		}
	}
	s.ownStdio(f)
	return nil
}

// ownStdio makes the console PID 1's own fds 0-2. A tty console gets a
// separate, non-blocking open of it there: a console that does not drain
// (output stopped with ^S, hardware flow control and no cable, a pty nobody
// reads) then loses PID 1's lines instead of blocking PID 1 in a write, with
// no reaping and no shutdown (busybox init opens its log console O_NONBLOCK
// too). COMMAND keeps f, blocking. Other consoles (a file, /dev/null) are
// shared, so that writes to a file keep one offset.
func (s *initState) ownStdio(f *os.File) {
	fd := int(f.Fd())
	nb := -1
	if s.ttyCon {
		if n, err := unix.Open(s.consolePath, unix.O_RDWR|unix.O_NOCTTY|unix.O_NONBLOCK|unix.O_CLOEXEC, 0); err == nil {
			nb, fd = n, n
		}
	}
	for i := 0; i <= 2; i++ {
		if fd != i {
			_ = unix.Dup2(fd, i)
		}
	}
	if nb >= 0 {
		unix.Close(nb)
	}
}

// reopenConsole gives the next launch a fresh console. When COMMAND, the
// session leader owning a tty console, exits, the kernel hangs the tty up
// (every open file of it then fails with EIO, pseudo-terminals excepted), so
// the relaunch needs a new open file; PID 1's own stdio is replaced too.
func (s *initState) reopenConsole() {
	if !s.ttyCon || s.consolePath == "" {
		return
	}
	f, err := openConsole(s.consolePath)
	if err != nil {
		s.log.Warnf("reopening %s: %v; keeping the old one", s.consolePath, err)
		return
	}
	old := s.console
	s.console = f
	s.ownStdio(f)
	if old != nil && old != os.Stderr {
		old.Close()
	}
}

// isTTY reports whether fd is a terminal. pkg/term's termios is pinned at
// v1.2.0-beta.2: v1.1.0 sends the wrong ioctl on MIPS, so a serial console
// there would not be seen as a tty (the mipsle unit tests under qemu catch it).
func isTTY(fd uintptr) bool {
	_, err := termios.Tcgetattr(fd)
	return err == nil
}

// saneTTY puts a tty into cooked mode with echo and the usual control
// characters, keeping its line speed and character size. pkg/term v1.1.0's
// Tcsetattr silently did nothing on MIPS; TestSaneTTY catches that.
func saneTTY(fd uintptr) error {
	t, err := termios.Tcgetattr(fd)
	if err != nil {
		return printf.Errorf("tcgetattr: %w", err)
	}
	t.Iflag &^= unix.IGNBRK | unix.INLCR | unix.IGNCR | unix.IXOFF | unix.IUCLC | unix.IXANY
	t.Iflag |= unix.BRKINT | unix.ICRNL | unix.IXON | unix.IMAXBEL
	t.Oflag |= unix.OPOST | unix.ONLCR
	t.Cflag |= unix.CREAD | unix.HUPCL | unix.CLOCAL
	t.Lflag |= unix.ISIG | unix.ICANON | unix.ECHO | unix.ECHOE | unix.ECHOK | unix.ECHOCTL | unix.ECHOKE | unix.IEXTEN
	t.Lflag &^= unix.ECHONL | unix.NOFLSH | unix.TOSTOP
	t.Cc[unix.VINTR] = 3    // ^C
	t.Cc[unix.VQUIT] = 28   // ^\
	t.Cc[unix.VERASE] = 127 // DEL
	t.Cc[unix.VKILL] = 21   // ^U
	t.Cc[unix.VEOF] = 4     // ^D
	t.Cc[unix.VSTART] = 17  // ^Q
	t.Cc[unix.VSTOP] = 19   // ^S
	t.Cc[unix.VSUSP] = 26   // ^Z
	if err := termios.Tcsetattr(fd, termios.TCSANOW, t); err != nil {
		return printf.Errorf("tcsetattr: %w", err)
	}
	return nil
}

func queueMax() int {
	// Test-only knob: a small bound makes the overflow path reachable.
	if n, err := strconv.Atoi(os.Getenv("TOYBOX_GO_ONEIT_QUEUE")); err == nil && n > 0 {
		return n
	}
	return defaultQueueMax
}

// initialPIDNamespace reports whether this process lives in the machine's own
// PID namespace, whose /proc inode number is fixed (PROC_PID_INIT_INO).
func initialPIDNamespace() bool {
	var st unix.Stat_t
	if err := unix.Stat("/proc/self/ns/pid", &st); err != nil {
		// No /proc yet: only the kernel's own init runs that early.
		return os.Getpid() == 1
	}
	return st.Ino == 0xEFFFFFFC
}

func actionName(sig syscall.Signal) string {
	switch sig {
	case unix.SIGUSR1:
		return "halt"
	case unix.SIGUSR2, unix.SIGPWR:
		return "poweroff"
	}
	return "reboot"
}

func describe(ws syscall.WaitStatus) string {
	if ws.Signaled() {
		return "killed by " + unix.SignalName(ws.Signal())
	}
	return "exit " + strconv.Itoa(ws.ExitStatus())
}
