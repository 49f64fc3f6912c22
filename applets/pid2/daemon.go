package pid2

import (
	"bytes"
	"encoding/binary"
	"errors"
	"os"
	"os/signal"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"toybox-go/applets/internal/cmdline"
	"toybox-go/applets/internal/dirlist"
	"toybox-go/applets/internal/inittab"
	"toybox-go/applets/internal/kmsg"
	"toybox-go/applets/internal/supervise"
	"toybox-go/applets/printf"
)

// States, logged as they are entered (procd's words).
const (
	stateEarly    = "early"
	stateInit     = "init"
	stateRunning  = "running"
	stateShutdown = "shutdown"
)

// Bounds of shutdown entries and rc K scripts (procd: 15 s, then TERM, then
// 10 s more, then KILL).
const (
	shutdownTerm = 15 * time.Second
	shutdownKill = 10 * time.Second
)

// heartbeatEvery must be under a third of the smallest `oneit -H` (1 s).
const heartbeatEvery = 250 * time.Millisecond

// bootedFile marks that sysinit ran ("sysinit"), then that wait and once
// entries ran too ("done"). A relaunched pid2 skips what it names.
const bootedFile = "booted"

type daemon struct {
	o       options
	log     *kmsg.Logger
	m       *supervise.Manager
	state   string
	entries []inittab.Entry
	current map[string]*inittab.Entry // supervised entries by name

	steps   []func() // INIT or SHUTDOWN work, one at a time
	busy    bool     // a step waits: for a task's end, or for coldplug
	records chan int
	hb      *os.File
	wd      *watchdog
	reqs    chan ctlReq
	exiting bool // SHUTDOWN finished its steps: exit once nothing runs
	signal  syscall.Signal
	hotplug func() // stops the hotplug listener

	inherited []int // oneit's fds (3, 4): passed on when pid2 re-execs itself

	early    chan struct{} // coldplug is done: EARLY may end
	consoles chan string   // start-console requests from hotplug
}

func runDaemon(o options) (code int) {
	log := kmsg.New("pid2")
	defer func() {
		if r := recover(); r != nil {
			log.Errorf("crashed: %v", r)
			code = 2
		}
	}()
	d := &daemon{o: o, log: log, reqs: make(chan ctlReq, 16), current: map[string]*inittab.Entry{},
		early: make(chan struct{}, 1), consoles: make(chan string, 16)}
	return d.run()
}

// inheritedFDs looks at fds 3 and 4: the read end of oneit's PID pipe (-3) and
// the write end of its heartbeat pipe (-H), and makes them close-on-exec so no
// service inherits them.
func (d *daemon) inheritedFDs() {
	for fd := 3; fd <= 4; fd++ {
		var st unix.Stat_t
		if unix.Fstat(fd, &st) != nil || st.Mode&unix.S_IFMT != unix.S_IFIFO {
			continue
		}
		fl, err := unix.FcntlInt(uintptr(fd), unix.F_GETFL, 0)
		if err != nil {
			continue
		}
		unix.CloseOnExec(fd)
		d.inherited = append(d.inherited, fd)
		switch {
		case fd == 3 && fl&unix.O_ACCMODE == unix.O_RDONLY:
			d.records = make(chan int, 1024)
			go readRecords(os.NewFile(uintptr(fd), "oneit-pids"), d.records)
		case fl&unix.O_ACCMODE == unix.O_WRONLY && d.hb == nil:
			unix.SetNonblock(fd, true)
			d.hb = os.NewFile(uintptr(fd), "oneit-heartbeat")
		}
	}
}

// readRecords turns fd-3 records (4-byte native-endian PIDs) into a channel.
// Each record is one write to a pipe, so a read never returns part of one;
// the loop completes a short read all the same.
func readRecords(f *os.File, out chan<- int) {
	var b [4]byte
	for {
		for n := 0; n < len(b); {
			k, err := f.Read(b[n:])
			if err != nil {
				return
			}
			n += k
		}
		out <- int(int32(binary.NativeEndian.Uint32(b[:])))
	}
}

func (d *daemon) run() int {
	// A long-lived PID 2 on small routers: collect garbage earlier than Go's
	// default (100 %) to keep the resident set small.
	debug.SetGCPercent(20)
	// One main loop: no use for parallel Ps, each of which costs caches.
	runtime.GOMAXPROCS(1)
	d.inheritedFDs()
	// Whatever else was inherited (a parent's leaked descriptors) must not reach
	// the services either.
	if err := unix.CloseRange(3, ^uint(0), unix.CLOSE_RANGE_CLOEXEC); err != nil {
		ents, _ := dirlist.Read("/proc/self/fd")
		for _, e := range ents {
			if fd, err := strconv.Atoi(e.Name()); err == nil && fd > 2 {
				unix.CloseOnExec(fd)
			}
		}
	}
	unix.Chdir("/")
	sigc := make(chan os.Signal, 32)
	signal.Notify(sigc, syscall.SIGCHLD, syscall.SIGHUP, syscall.SIGINT, syscall.SIGQUIT,
		syscall.SIGTERM, syscall.SIGUSR1, syscall.SIGUSR2, syscall.SIGPWR)
	// Every other signal is caught (and dropped), not ignored: a signal pid2
	// inherited as ignored (oneit ignores the job-control ones) would pass on to
	// the services as ignored; a caught one is reset to the default at exec.
	signal.Notify(make(chan os.Signal, 1))
	self, err := os.Executable()
	if err != nil {
		d.log.Errorf("cannot find my executable: %v", err)
		return 1
	}
	d.m, err = supervise.New(supervise.Config{StateDir: d.o.stateDir, Self: self, Log: d.log, Records: d.records != nil})
	if err != nil {
		d.log.Errorf("%v", err)
		return 1
	}
	unix.Chmod(d.o.stateDir, 0o700)
	l, err := listen(d.o.stateDir, d.reqs)
	if err != nil {
		d.log.Errorf("%v (continuing without control)", err)
	}

	d.enterEarly()

	hbTick := time.NewTicker(heartbeatEvery)
	if d.hb == nil && d.wd == nil {
		hbTick.Stop()
	}
	timer := time.NewTimer(time.Hour)
	for {
		d.reap()
		d.advance()
		if d.exiting && d.m.Running() == 0 {
			d.log.Noticef("- shutdown complete -")
			hbTick.Stop()
			if l != nil {
				l.Close()
			}
			return 0
		}
		next := d.m.Tick()
		timer.Reset(time.Until(next))
		select {
		case s := <-sigc:
			d.onSignal(s.(syscall.Signal))
		case pid := <-d.records:
			d.m.Record(pid)
		case ev := <-d.m.Events():
			d.m.Handle(ev)
		case r := <-d.reqs:
			r.reply <- d.control(r.req)
		case <-hbTick.C:
			if d.hb != nil {
				d.hb.Write([]byte{'.'})
			}
			if d.wd != nil {
				d.wd.feed(time.Now(), d.log)
			}
		case <-d.early:
			d.stepDone()
		case dev := <-d.consoles:
			d.startConsole(dev)
		case <-timer.C:
		}
	}
}

// reap collects the exited children pid2 started. Only those: the hotplug
// package waits for its own children (os/exec), and a wait for any child would
// steal their exit statuses.
func (d *daemon) reap() {
	for _, pid := range d.m.Pids() {
		var ws unix.WaitStatus
		got, err := unix.Wait4(pid, &ws, unix.WNOHANG, nil)
		for err == unix.EINTR {
			got, err = unix.Wait4(pid, &ws, unix.WNOHANG, nil)
		}
		if got == pid && err == nil {
			d.m.Reaped(pid, ws)
		}
	}
}

// startConsole (hotplug's start-console DEV) starts the entries on tty DEV
// that could not run for want of it.
func (d *daemon) startConsole(dev string) {
	dev = strings.TrimPrefix(dev, "/dev/")
	for _, e := range d.current {
		st, err := d.m.Status(e.Name)
		if err == nil && len(st) == 1 && st[0].State == supervise.StateNoTTY && d.spec(e).TTY == dev {
			d.log.Infof("%s: %s appeared", e.Name, dev)
			d.m.Start(e.Name)
		}
	}
}

func (d *daemon) enter(state string) {
	d.state = state
	switch state {
	case stateRunning:
		d.log.Noticef("- init complete -")
	default:
		d.log.Noticef("- %s -", state)
	}
}

// enterEarly opens the watchdog and starts hotplug; INIT follows as the next
// step, once coldplug is done.
func (d *daemon) enterEarly() {
	d.enter(stateEarly)
	d.wd = takeWatchdog("/dev/watchdog", d.log)
	d.busy = true
	d.startHotplug(d.booted() != "", func() { d.early <- struct{}{} })
	d.queue(d.enterInit)
}

func (d *daemon) readInittab() []inittab.Entry {
	ents, errs, err := inittab.ReadFile(d.o.inittab)
	if err != nil {
		d.log.Warnf("%v: using the built-in default", err)
		return d.defaultInittab()
	}
	for _, e := range errs {
		d.log.Errorf("%v", e)
	}
	return ents
}

// defaultInittab is used without an inittab: rc scripts, and a console shell
// when /bin/sh exists.
func (d *daemon) defaultInittab() []inittab.Entry {
	text := "::sysinit:/etc/init.d/rcS S boot\n::shutdown:/etc/init.d/rcS K shutdown\n"
	if st, err := os.Stat(inittab.Shell); err == nil && st.Mode().IsRegular() {
		text += "::askconsole:-/bin/sh\n"
	}
	// A bytes.Buffer rather than a strings.Reader: the binary has the
	// Buffer's io.Reader methods already, the Reader's would come for this.
	ents, _ := inittab.Parse(bytes.NewBufferString(text), "default-inittab")
	return ents
}

func (d *daemon) booted() string {
	b, _ := os.ReadFile(filepath.Join(d.o.stateDir, bootedFile))
	return strings.TrimSpace(string(b))
}

func (d *daemon) setBooted(stage string) {
	if err := supervise.WriteFileAtomic(filepath.Join(d.o.stateDir, bootedFile), stage+"\n"); err != nil {
		d.log.Errorf("%v", err)
	}
}

// enterInit reads the inittab, adopts what a previous pid2 left running and
// queues the boot: sysinit, wait, once (each skipped after a relaunch), then the
// supervised entries.
func (d *daemon) enterInit() {
	d.enter(stateInit)
	d.entries = d.readInittab()
	booted := d.booted()
	if booted != "" {
		d.log.Noticef("relaunched (booted: %s): adopting services", booted)
	}
	for i := range d.entries {
		if e := &d.entries[i]; e.Action.Supervised() {
			d.add(e)
			d.current[e.Name] = e
			d.m.Adopt(e.Name)
		}
	}
	// Tasks (rc scripts, once entries) a previous pid2 left running: read their
	// output and learn their end; the steps below do not run them again.
	d.m.AdoptTasks()
	for _, n := range d.m.Leftovers() {
		d.m.Add(&supervise.Spec{Name: n, Kind: "leftover"})
		if d.m.Adopt(n) {
			d.log.Warnf("%s: not in %s any more: stopping it", n, d.o.inittab)
		}
		d.m.Stop(n, true)
	}
	if booted == "" {
		d.queueAll(inittab.SysInit, 0)
		d.queue(func() { d.setBooted("sysinit") })
	}
	if booted != "done" {
		d.queueAll(inittab.Wait, 0)
		d.queueAll(inittab.Once, 0)
		d.queue(func() { d.setBooted("done") })
	}
	d.queue(func() {
		d.startSupervised(inittab.Respawn, inittab.AskConsole, inittab.AskFirst)
		d.enter(stateRunning)
		d.startSupervised(inittab.RespawnLate, inittab.AskConsoleLate)
		// Boot is the peak of allocation; give it back to the system.
		debug.FreeOSMemory()
	})
}

func (d *daemon) startSupervised(actions ...inittab.Action) {
	for i := range d.entries {
		e := &d.entries[i]
		for _, a := range actions {
			if e.Action == a && d.m.Has(e.Name) {
				d.m.Start(e.Name)
			}
		}
	}
}

// queue appends step to the steps. It is kept out of line (go:noinline): an
// inlined append, with its write barriers, is bigger than the call.
//
//go:noinline
func (d *daemon) queue(step func()) { d.steps = append(d.steps, step) }

// advance runs the queued steps until one has to wait (busy) or none is left.
func (d *daemon) advance() {
	for !d.busy && len(d.steps) > 0 {
		step := d.steps[0]
		d.steps = d.steps[1:]
		step()
	}
}

func (d *daemon) stepDone() { d.busy = false }

// consoleName is the console for askconsole: -c, else the kernel's first
// console=, else "console".
func (d *daemon) consoleName() string {
	if d.o.console != "" {
		return d.o.console
	}
	for _, w := range cmdline.Read("/proc/cmdline") {
		if w == "--" {
			break
		}
		if v, ok := strings.CutPrefix(w, "console="); ok {
			v, _, _ = strings.Cut(v, ",")
			if v != "" {
				return v
			}
		}
	}
	return "console"
}

// taskSpec is the task that runs a sysinit, wait, once, ctrlaltdel or
// shutdown entry.
func taskSpec(e *inittab.Entry) supervise.Spec {
	return supervise.Spec{Name: e.Name, Kind: string(e.Action), Path: e.Path, Argv: e.Argv, TTY: e.TTY}
}

// add registers supervised entry e as a service.
func (d *daemon) add(e *inittab.Entry) {
	s := d.spec(e)
	d.m.Add(&s)
}

// spec turns a supervised entry into a service.
func (d *daemon) spec(e *inittab.Entry) supervise.Spec {
	s := taskSpec(e)
	s.Ask = e.Action.Asks()
	switch e.Action {
	case inittab.AskConsole, inittab.AskConsoleLate:
		s.TTY = d.consoleName()
	case inittab.AskFirst:
		if s.TTY == "" {
			s.TTY = d.consoleName()
		}
	}
	return s
}

// queueAll queues the entries with action a, in file order: an rcS entry
// becomes its scripts, one at a time; anything else runs as one task, waited
// for unless it is a once entry. bound > 0 applies the shutdown timeouts.
//
// It is kept out of line (go:noinline): its inlined copies (enterInit and
// shutdown call it five times) cost more than the calls.
//
//go:noinline
func (d *daemon) queueAll(a inittab.Action, bound time.Duration) {
	for i := range d.entries {
		e := &d.entries[i] // reload replaces d.entries, never its elements
		switch {
		case e.Action != a:
		case e.RC != nil:
			d.queue(func() { d.queueRC(e.RC, bound) })
		default:
			d.queue(func() { d.task(&supervise.Task{Spec: taskSpec(e)}, bound, a != inittab.Once) })
		}
	}
}

// queueRC puts ETC/rc.d/PATTERN* PARAM at the front of the queue, in glob order.
func (d *daemon) queueRC(rc *inittab.RC, bound time.Duration) {
	dir := filepath.Join(d.o.etcDir, "rc.d")
	scripts, _ := filepath.Glob(filepath.Join(dir, rc.Pattern+"*"))
	sort.Strings(scripts)
	if len(scripts) == 0 {
		d.log.Infof("no %s scripts in %s", rc.Pattern, dir)
	}
	if rc.Param == "stop" || rc.Param == "shutdown" {
		bound = shutdownTerm
	}
	var steps []func()
	for _, sc := range scripts {
		steps = append(steps, func() {
			d.task(&supervise.Task{Spec: supervise.Spec{Name: filepath.Base(sc), Kind: "rc", Path: sc, Argv: []string{sc, rc.Param}}}, bound, true)
		})
	}
	d.steps = append(steps, d.steps...)
}

// task runs t (its Spec; task sets the rest); with wait, the steps wait for
// its end (a once entry's do not).
func (d *daemon) task(t *supervise.Task, bound time.Duration, wait bool) {
	d.busy = wait // before RunTask: Done may come at once (a task that ran before)
	name := t.Name
	t.Done = func(exit string) {
		d.log.Infof("%s finished: %s", name, exit)
		if wait {
			d.stepDone()
		}
	}
	if bound > 0 {
		t.TermAfter, t.KillAfter = bound, shutdownKill
	}
	if err := d.m.RunTask(t); err != nil {
		d.log.Errorf("%s: %v", name, err)
		d.stepDone()
	}
}

func (d *daemon) onSignal(s syscall.Signal) {
	switch s {
	case syscall.SIGCHLD:
		// reaped at the top of the loop
	case syscall.SIGHUP:
		d.reload()
	case syscall.SIGQUIT:
		d.restart()
	case syscall.SIGTERM, syscall.SIGINT, syscall.SIGUSR1, syscall.SIGUSR2, syscall.SIGPWR:
		d.shutdown(s)
	}
}

// restart (SIGQUIT): exec the inittab's restart entry after stopping
// everything, or, without one, re-exec pid2, which adopts the running services.
func (d *daemon) restart() {
	self, _ := os.Executable()
	argv := os.Args
	for i := range d.entries {
		if e := &d.entries[i]; e.Action == inittab.Restart {
			d.log.Noticef("restart: stopping services, then exec %s", e.Command)
			d.m.StopAll()
			deadline := time.Now().Add(supervise.KillDelay + time.Second)
			for d.m.Running() > 0 && time.Now().Before(deadline) {
				d.m.Tick()
				time.Sleep(20 * time.Millisecond)
				d.reap()
			}
			self, argv = e.Path, e.Argv
			break
		}
	}
	d.log.Noticef("restart: exec %s", self)
	for _, fd := range d.inherited {
		unix.FcntlInt(uintptr(fd), unix.F_SETFD, 0) // the next pid2 needs them
	}
	env := os.Environ()
	undoWatchdog := func() {}
	if d.wd != nil {
		var kv string
		kv, undoWatchdog = d.wd.keepAcrossExec()
		env = append(env, kv)
	}
	if err := syscall.Exec(self, argv, env); err != nil {
		for _, fd := range d.inherited {
			unix.CloseOnExec(fd)
		}
		undoWatchdog()
		d.log.Errorf("restart: exec %s: %v", self, err)
	}
}

// shutdowns are the signals that end pid2 and what each asks for; the first
// signal of each is the one `pid2 reboot|halt|poweroff` sends.
var shutdowns = []struct {
	sig  syscall.Signal
	what string
}{
	{syscall.SIGTERM, "reboot"}, {syscall.SIGINT, "reboot"}, {syscall.SIGUSR1, "halt"},
	{syscall.SIGUSR2, "poweroff"}, {syscall.SIGPWR, "poweroff"},
}

// shutdown enters SHUTDOWN: ctrlaltdel entries (on INT), shutdown entries
// (rcS K shutdown), each bounded; then every service TERM, KILL; then exit.
func (d *daemon) shutdown(s syscall.Signal) {
	if d.state == stateShutdown {
		return
	}
	d.signal = s
	what := ""
	for _, x := range shutdowns {
		if x.sig == s {
			what = x.what
			break
		}
	}
	d.enter(stateShutdown)
	d.log.Noticef("%s requested (%s)", what, unix.SignalName(s))
	d.steps = nil // abandon what INIT still had queued
	d.m.StopTasks()
	if d.hotplug != nil {
		d.hotplug() // also ends a coldplug still running
		d.hotplug = nil
	}
	if s == syscall.SIGINT {
		d.queueAll(inittab.CtrlAltDel, shutdownTerm)
	}
	d.queueAll(inittab.Shutdown, shutdownTerm)
	d.queue(func() {
		d.log.Noticef("- stopping services -")
		d.m.StopAll()
		d.exiting = true
	})
	// Steps run after the current one (possibly an INIT task being stopped).
}

// reload (HUP, `pid2 reload`): re-read the inittab; start new supervised
// entries, stop removed ones, restart changed ones, keep the rest running.
func (d *daemon) reload() string {
	if d.state == stateShutdown {
		return "shutting down: not reloaded"
	}
	ents := d.readInittab()
	next := map[string]*inittab.Entry{}
	for i := range ents {
		if e := &ents[i]; e.Action.Supervised() {
			next[e.Name] = e
		}
	}
	var added, removed, changed []string
	for name, old := range d.current {
		e := next[name]
		switch {
		case e == nil:
			d.m.Stop(name, true)
			removed = append(removed, name)
		case !old.Same(e):
			d.m.Stop(name, false)
			d.add(e)
			d.m.Start(name)
			changed = append(changed, name)
		}
	}
	for name, e := range next {
		if d.current[name] != nil {
			continue
		}
		d.add(e)
		// During INIT, the late entries wait for RUNNING, as at boot.
		if d.state != stateInit || (e.Action != inittab.RespawnLate && e.Action != inittab.AskConsoleLate) {
			d.m.Start(name)
		}
		added = append(added, name)
	}
	d.entries, d.current = ents, next
	sort.Strings(added)
	sort.Strings(removed)
	sort.Strings(changed)
	msg := printf.Sprintf("reloaded %s: added %v, removed %v, changed %v", d.o.inittab, added, removed, changed)
	d.log.Noticef("%s", msg)
	return msg
}

// control answers one control-socket request.
func (d *daemon) control(r request) reply {
	var out string
	var err error
	switch r.Cmd {
	case "status":
		var st []supervise.Status
		if st, err = d.m.Status(r.Name); err == nil && r.JSON {
			out = string(statusJSON(st)) + "\n"
		} else if err == nil {
			out = statusText(st)
		}
	case "log":
		var lines []string
		lines, err = d.m.LogLines(r.Name)
		if out = strings.Join(lines, "\n"); out != "" {
			out += "\n"
		}
	case "start", "stop", "restart":
		switch {
		case d.state == stateShutdown:
			err = errors.New("shutting down")
		case r.Cmd == "start":
			err = d.m.Start(r.Name)
		case r.Cmd == "stop":
			err = d.m.Stop(r.Name, false)
		default:
			err = d.m.Restart(r.Name)
		}
	case "reload":
		out = d.reload() + "\n"
	case "reboot", "halt", "poweroff":
		var sig syscall.Signal
		for _, x := range shutdowns {
			if x.what == r.Cmd {
				sig = x.sig
				break
			}
		}
		if os.Getppid() == 1 {
			// Under oneit: PID 1 decides, and forwards the signal back to us.
			if err = unix.Kill(1, sig); err != nil {
				err = printf.Errorf("signalling PID 1: %w", err)
			}
		} else {
			d.shutdown(sig)
		}
	default:
		err = printf.Errorf("unknown command %q", r.Cmd)
	}
	if err != nil {
		return reply{Err: err.Error()}
	}
	return reply{OK: true, Out: out}
}

// statusText is `pid2 status`: one line a service.
func statusText(st []supervise.Status) string {
	var b []byte
	for i := range st {
		s := &st[i]
		pid := "-"
		if s.Pid != 0 {
			pid = strconv.Itoa(s.Pid)
		}
		b = append(b, printf.Sprintf("%-20s %-9s pid=%-7s restarts=%-3d last=%s", s.Name, s.State, pid, s.Restarts, strings.ReplaceAll(s.LastExit, " ", "_"))...)
		if s.Note != "" {
			b = append(b, " ("+s.Note+")"...)
		}
		b = append(b, '\n')
	}
	return string(b)
}
