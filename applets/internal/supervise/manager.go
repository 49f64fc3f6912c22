// Package supervise is pid2's service manager: it starts services in their own
// session through a trampoline, records them in pid files, respawns them with
// spacing and crash-loop backoff, stops them TERM then KILL without blocking,
// adopts the ones a previous pid2 left running, and runs one-shot tasks (rc
// scripts, sysinit, shutdown entries) with their output logged line by line.
// Tasks log through FIFOs as services do and are recorded in the state
// directory's tasks/ folder, so a task outlives a pid2 that dies or re-execs:
// the next pid2 adopts it, and never runs a task twice.
//
// A Manager is not safe for concurrent use: pid2 calls it from its main loop
// only. Events that arrive elsewhere (pidfd deaths) come back through Events.
package supervise

import (
	"bufio"
	"errors"
	"io"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"toybox-go/applets/internal/command"
	"toybox-go/applets/internal/dirlist"
	"toybox-go/applets/internal/kmsg"
	"toybox-go/applets/printf"
)

// Policy numbers. Spacing and the kill delay come from runit/s6/busybox and
// procd; the crash-loop rule is sysvinit's (10 starts in 2 minutes) with a
// doubling delay instead of a 5-minute ban, so a service is never given up.
const (
	Spacing        = time.Second      // minimum time between two starts of a service
	KillDelay      = 5 * time.Second  // TERM to KILL when stopping
	LoopStarts     = 10               // this many starts ...
	LoopWindow     = 2 * time.Minute  // ... within this window is a crash loop
	BackoffFirst   = 5 * time.Second  // first crash-loop delay, doubled each time
	BackoffMax     = 60 * time.Second // cap of the delay
	HealthyRuntime = time.Minute      // a run this long ends the crash loop
)

// Spec says how to run a service or task.
type Spec struct {
	Name  string
	Kind  string // the inittab action, for status
	Path  string
	Argv  []string
	TTY   string // device for stdio (below DevDir unless absolute); "" = log
	Ask   bool   // print the askfirst prompt and wait for Enter
	NoTTY bool   // the entry needs a tty but none could be chosen
}

// Config holds the roots and knobs of a Manager.
type Config struct {
	_        [0]func() // not comparable: no generated equality function
	StateDir string    // pid files and log FIFOs
	ProcDir  string    // "/proc"
	DevDir   string    // "/dev"
	Self     string    // executable holding the trampoline (pid2 itself)
	Log      *kmsg.Logger
	// Records is true when deaths of adopted services arrive as fd-3 records;
	// otherwise adopted services are watched with pidfd_open (or polled).
	Records bool
}

// Event is something a goroutine learned for the main loop.
type Event struct {
	Pid       int  // an adopted process's pidfd became readable, or:
	OutputEOF bool // the output pipe of task Pid reached its end
}

// State of a service.
const (
	StateStopped  = "stopped"
	StateRunning  = "running"
	StateStopping = "stopping"
	StateWaiting  = "waiting" // respawn pending: spacing
	StateBackoff  = "backoff" // respawn pending: crash loop
	StateNoTTY    = "no-tty"  // cannot run: its tty does not open
)

// Status is what `pid2 status` shows for a service.
type Status struct {
	_        [0]func() // not comparable: no generated equality function
	Name     string    `json:"name"`
	Action   string    `json:"action"`
	State    string    `json:"state"`
	Pid      int       `json:"pid"`
	Restarts int       `json:"restarts"`
	LastExit string    `json:"last_exit"`
	Adopted  bool      `json:"adopted"`
	Note     string    `json:"note,omitempty"`
	Command  string    `json:"command"`
}

type service struct {
	spec      Spec
	want      bool // keep it running
	forget    bool // remove once stopped
	state     string
	pid       int
	start     uint64
	adopted   bool
	started   time.Time
	starts    []time.Time // the last LoopStarts start times
	restarts  int
	backoffs  int
	lastExit  string
	note      string
	due       time.Time // next start, when waiting
	killAt    time.Time // KILL deadline, when stopping
	pidfd     int
	ring      Ring
	everStart bool
}

type task struct {
	name     string
	pid      int
	start    uint64 // start time, for the pid file and adoption
	adopted  bool   // started by a previous pid2
	pidfd    int    // watches an adopted task that is not our child; -1 if none
	reaped   bool   // the process is gone; waiting for the rest of its output
	exit     string // set when reaped
	outEOF   bool   // its output pipe is drained (or there was none)
	doneBy   time.Time
	termAt   time.Time
	killAt   time.Time
	termSent bool
	done     func(exit string)
}

// Manager supervises services and runs tasks.
type Manager struct {
	cfg        Config
	svcs       map[string]*service
	tasks      map[int]*task
	taskRing   Ring
	events     chan Event
	respawning bool
	now        func() time.Time
	mux        *logMux // reads the services' log FIFOs
	epoch      int64   // start tokens: epoch and sequence
	seq        int64
}

// New returns a Manager; it creates the state directory (0700).
func New(cfg Config) (*Manager, error) {
	if cfg.ProcDir == "" {
		cfg.ProcDir = "/proc"
	}
	if cfg.DevDir == "" {
		cfg.DevDir = "/dev"
	}
	if cfg.Log == nil {
		cfg.Log = kmsg.New("pid2")
	}
	if err := os.MkdirAll(filepath.Join(cfg.StateDir, taskDir), 0o700); err != nil {
		return nil, printf.Errorf("state dir: %w", err)
	}
	return &Manager{cfg: cfg, svcs: map[string]*service{}, tasks: map[int]*task{},
		events: make(chan Event, 64), respawning: true, now: time.Now, epoch: time.Now().UnixNano()}, nil
}

// Events delivers deaths learned by pidfd watchers; pass them to Handle.
func (m *Manager) Events() <-chan Event { return m.events }

// statePath is kept out of line (go:noinline): an inlined filepath.Join at
// each of its callers costs more than the call.
//
//go:noinline
func (m *Manager) statePath(name string) string { return filepath.Join(m.cfg.StateDir, name) }

func (m *Manager) pidPath(name string) string      { return m.statePath(name + ".pid") }
func (m *Manager) fifoPath(name string) string     { return m.statePath(name + ".out") }
func (m *Manager) startingPath(name string) string { return m.statePath(name + ".starting") }

// Tasks keep their records in TASKDIR (apart from services, whose pid files
// Leftovers lists): NAME.out is the task's log FIFO, NAME.pid its pid file
// while it runs, NAME.starting the start token (as for services), and
// NAME.done its exit once it ended, so that a relaunched pid2 never runs it
// again.
const taskDir = "tasks"

// taskPath is kept out of line (go:noinline): it is called at a dozen sites,
// and an inlined filepath.Join at each costs more than the call.
//
//go:noinline
func (m *Manager) taskPath(name, ext string) string {
	return filepath.Join(m.cfg.StateDir, taskDir, name+ext)
}

// startEnv marks a service's environment with the token of its start.
const startEnv = "PID2_START="

// findStarted looks for the process started with token (a previous pid2 died
// between fork and pid file) and returns its pid file content.
func (m *Manager) findStarted(token string) (PidFile, bool) {
	want := startEnv + token
	ents, _ := dirlist.Read(m.cfg.ProcDir)
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		env, err := os.ReadFile(filepath.Join(m.cfg.ProcDir, e.Name(), "environ"))
		if err != nil || !slices.Contains(strings.Split(string(env), "\x00"), want) {
			continue
		}
		st, start, err := ProcState(m.cfg.ProcDir, pid)
		if err == nil && st != 'Z' && st != 'X' {
			return PidFile{Pid: pid, StartTime: start}, true
		}
	}
	return PidFile{}, false
}

// Add registers a service without starting it; a service with that name is
// replaced only when it is not running. It is kept out of line
// (go:noinline): inlined in pid2's four calls, it cost more than the calls.
//
//go:noinline
func (m *Manager) Add(spec *Spec) {
	if s, ok := m.svcs[spec.Name]; ok {
		s.spec = *spec
		s.forget = false
		return
	}
	m.svcs[spec.Name] = &service{spec: *spec, state: StateStopped, pidfd: -1}
}

// Has reports whether a service is known.
func (m *Manager) Has(name string) bool { _, ok := m.svcs[name]; return ok }

// Names returns the known services, sorted.
func (m *Manager) Names() []string {
	var out []string
	for n := range m.svcs {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}

// Adopt takes over the process a previous pid2 recorded in NAME.pid when it is
// still alive with the same start time; a stale pid file is removed. It reports
// whether the service is running now.
func (m *Manager) Adopt(name string) bool {
	s := m.svcs[name]
	if s == nil {
		return false
	}
	if s.pid != 0 {
		return true
	}
	p, err := m.readRecord(m.statePath(name), true)
	if err != nil {
		return false
	}
	s.pid, s.start, s.adopted, s.state, s.want = p.Pid, p.StartTime, true, StateRunning, true
	s.started = m.now()
	s.everStart = true
	m.openLog(m.fifoPath(name), name, &s.ring, false)
	if !m.cfg.Records {
		s.pidfd = m.watch(s.pid)
	}
	m.cfg.Log.Infof("adopted %s (pid %d)", name, p.Pid)
	return true
}

// readRecord returns the process a previous pid2 recorded in BASE.pid (see
// spawn); a bad pid file is removed, and so is a dead process's with live.
// Without a pid file, a start token in BASE.starting means that pid2 died
// while starting it: the process is found by the token in its environment
// (and its pid file written).
func (m *Manager) readRecord(base string, live bool) (PidFile, error) {
	pidFile := base + ".pid"
	p, err := ReadPidFile(pidFile)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		m.cfg.Log.Warnf("%v: removed", err)
		os.Remove(pidFile)
	}
	if live && err == nil && !Alive(m.cfg.ProcDir, p) {
		os.Remove(pidFile)
		err = os.ErrNotExist
	}
	if token, terr := os.ReadFile(base + ".starting"); terr == nil {
		if err != nil && len(token) > 0 {
			if found, ok := m.findStarted(string(token)); ok {
				m.cfg.Log.Warnf("%s: found pid %d started by the previous pid2 without a pid file", filepath.Base(base), found.Pid)
				p, err = found, nil
				if werr := WriteFileAtomic(pidFile, found.String()); werr != nil {
					m.cfg.Log.Warnf("%v", werr)
				}
			}
		}
		os.Remove(base + ".starting")
	}
	return p, err
}

// Leftovers returns the names of pid files whose service is not known (a
// previous pid2 ran them from an older inittab).
func (m *Manager) Leftovers() []string {
	files, _ := filepath.Glob(m.statePath("*.pid"))
	var out []string
	for _, f := range files {
		n := strings.TrimSuffix(filepath.Base(f), ".pid")
		if _, ok := m.svcs[n]; !ok {
			out = append(out, n)
		}
	}
	return out
}

// watch asks the kernel to tell when an adopted process (not our child)
// exits; it returns the pidfd, or -1 (Tick then polls /proc).
func (m *Manager) watch(pid int) int {
	fd, err := unix.PidfdOpen(pid, 0)
	if err != nil {
		return -1
	}
	go func() {
		fds := []unix.PollFd{{Fd: int32(fd), Events: unix.POLLIN}}
		for {
			_, err := unix.Poll(fds, -1)
			if err == unix.EINTR {
				continue
			}
			break
		}
		m.events <- Event{Pid: pid}
	}()
	return fd
}

// Handle processes an Event.
func (m *Manager) Handle(ev Event) {
	if !ev.OutputEOF {
		m.checkAdopted(ev.Pid)
		return
	}
	if t, ok := m.tasks[ev.Pid]; ok {
		t.outEOF = true
		if t.reaped {
			m.finishTask(t)
		}
	}
}

// outputGrace is how long a task's end waits for the rest of its output (a
// background child may keep the pipe open for ever).
const outputGrace = 200 * time.Millisecond

func (m *Manager) finishTask(t *task) {
	delete(m.tasks, t.pid)
	if t.pidfd >= 0 {
		unix.Close(t.pidfd)
		t.pidfd = -1
	}
	// Done before the pid file goes: a pid2 dying in between finds one or both.
	if err := WriteFileAtomic(m.taskPath(t.name, ".done"), t.exit+"\n"); err != nil {
		m.cfg.Log.Warnf("%s: %v", t.name, err)
	}
	os.Remove(m.taskPath(t.name, ".pid"))
	if t.done != nil {
		t.done(t.exit)
	}
}

// taskEnded notes that t's process is gone; it finishes once its output is
// drained (or outputGrace passed).
func (m *Manager) taskEnded(t *task, exit string) {
	t.reaped, t.exit = true, exit
	if t.outEOF {
		m.finishTask(t)
	} else {
		t.doneBy = m.now().Add(outputGrace)
	}
}

// Record handles one fd-3 record: the PID of a process PID 1 reaped; 0 means
// records were lost, so every adopted service is checked.
func (m *Manager) Record(pid int) {
	if pid == 0 {
		m.Rescan()
		return
	}
	m.checkAdopted(pid)
}

// Rescan checks every adopted service and task against /proc.
func (m *Manager) Rescan() {
	for _, s := range m.svcs {
		if s.pid != 0 && s.adopted {
			m.checkAdopted(s.pid)
		}
	}
	for pid, t := range m.tasks {
		if t.adopted {
			m.checkAdopted(pid)
		}
	}
}

func (m *Manager) checkAdopted(pid int) {
	if t, ok := m.tasks[pid]; ok && t.adopted && !t.reaped {
		if !Alive(m.cfg.ProcDir, PidFile{Pid: pid, StartTime: t.start}) {
			m.taskEnded(t, "unknown (adopted)")
		}
		return
	}
	for _, s := range m.svcs {
		if s.pid == pid && s.adopted {
			if !Alive(m.cfg.ProcDir, PidFile{Pid: s.pid, StartTime: s.start}) {
				m.died(s, "unknown (adopted)")
			}
			return
		}
	}
}

// Reaped handles a child pid2 reaped itself.
func (m *Manager) Reaped(pid int, ws unix.WaitStatus) {
	exit := describe(ws)
	if t, ok := m.tasks[pid]; ok {
		m.taskEnded(t, exit)
		return
	}
	for _, s := range m.svcs {
		if s.pid == pid {
			m.died(s, exit)
			return
		}
	}
}

func describe(ws unix.WaitStatus) string {
	if ws.Signaled() {
		return "signal " + strings.TrimPrefix(unix.SignalName(ws.Signal()), "SIG")
	}
	return printf.Sprintf("exit %d", ws.ExitStatus())
}

// lookup returns the service called name, or the error for an unknown name.
func (m *Manager) lookup(name string) (*service, error) {
	if s := m.svcs[name]; s != nil {
		return s, nil
	}
	return nil, printf.Errorf("no service %q", name)
}

// Start starts a service (now, or when its spacing allows) and keeps it running.
func (m *Manager) Start(name string) error {
	s, err := m.lookup(name)
	if err != nil {
		return err
	}
	s.want = true
	s.forget = false
	if s.pid != 0 {
		return nil // running, or stopping: restarts when the old process is gone
	}
	s.backoffs = 0
	m.schedule(s, false)
	return nil
}

// Stop stops a service: TERM and CONT to its process group, KILL after
// KillDelay. With forget it is removed once gone.
func (m *Manager) Stop(name string, forget bool) error {
	s, err := m.lookup(name)
	if err != nil {
		return err
	}
	s.want = false
	s.forget = s.forget || forget
	m.stop(s)
	return nil
}

// Restart stops a service and starts it again once the old process is gone.
func (m *Manager) Restart(name string) error {
	s, err := m.lookup(name)
	if err != nil {
		return err
	}
	if s.pid == 0 {
		return m.Start(name)
	}
	s.want = true
	s.backoffs = 0
	m.stop(s)
	return nil
}

func (m *Manager) stop(s *service) {
	if s.pid == 0 {
		if s.state == StateWaiting || s.state == StateBackoff {
			s.state = StateStopped
		}
		if s.forget {
			m.remove(s)
		}
		return
	}
	if s.state == StateStopping {
		return
	}
	if s.adopted && !Alive(m.cfg.ProcDir, PidFile{Pid: s.pid, StartTime: s.start}) {
		m.died(s, "unknown (adopted)")
		return
	}
	unix.Kill(-s.pid, unix.SIGTERM)
	unix.Kill(s.pid, unix.SIGTERM) // in case it left its process group
	unix.Kill(-s.pid, unix.SIGCONT)
	s.state = StateStopping
	s.killAt = m.now().Add(KillDelay)
}

// StopAll stops every service and disables respawning (shutdown). It is kept
// out of line (go:noinline): inlined, pid2 had two copies of its map loop.
//
//go:noinline
func (m *Manager) StopAll() {
	m.respawning = false
	for _, s := range m.svcs {
		s.want = false
		m.stop(s)
	}
}

// Running returns how many services and tasks still have a process. It is
// kept out of line (go:noinline): inlined, pid2 had two copies of its map loop.
//
//go:noinline
func (m *Manager) Running() int {
	n := len(m.tasks)
	for _, s := range m.svcs {
		if s.pid != 0 {
			n++
		}
	}
	return n
}

func (m *Manager) remove(s *service) {
	delete(m.svcs, s.spec.Name)
	os.Remove(m.pidPath(s.spec.Name))
	os.Remove(m.fifoPath(s.spec.Name))
}

func (m *Manager) died(s *service, exit string) {
	if s.pidfd >= 0 {
		unix.Close(s.pidfd)
		s.pidfd = -1
	}
	m.cfg.Log.Infof("%s (pid %d) ended: %s", s.spec.Name, s.pid, exit)
	s.pid, s.start, s.adopted = 0, 0, false
	s.lastExit = exit
	os.Remove(m.pidPath(s.spec.Name))
	if s.forget && !s.want {
		m.remove(s)
		return
	}
	if !s.want || !m.respawning {
		s.state = StateStopped
		return
	}
	m.schedule(s, true)
}

// schedule starts s now if its spacing allows, else sets the time it will.
func (m *Manager) schedule(s *service, crashed bool) {
	now := m.now()
	due := now
	s.note = ""
	if !s.started.IsZero() && s.started.Add(Spacing).After(now) {
		due = s.started.Add(Spacing)
	}
	if crashed && now.Sub(s.started) >= HealthyRuntime {
		s.backoffs = 0
	}
	if crashed && len(s.starts) >= LoopStarts && now.Sub(s.starts[0]) < LoopWindow {
		d := BackoffFirst << s.backoffs
		if d > BackoffMax || d <= 0 {
			d = BackoffMax
		}
		s.backoffs++
		due = now.Add(d)
		s.state = StateBackoff
		s.note = printf.Sprintf("crash loop: %d starts in %s, next start in %s", len(s.starts), now.Sub(s.starts[0]).Round(time.Second), d)
		m.cfg.Log.Warnf("%s: %s", s.spec.Name, s.note)
		s.due = due
		return
	}
	if due.After(now) {
		s.state = StateWaiting
		s.due = due
		return
	}
	m.launch(s)
}

// Tick runs what is due (respawns, KILL escalations, task timeouts, polling of
// adopted services without pidfd) and returns when it next has work.
func (m *Manager) Tick() time.Time {
	now := m.now()
	next := now.Add(time.Hour)
	for _, s := range m.svcs {
		switch {
		case (s.state == StateWaiting || s.state == StateBackoff) && s.pid == 0:
			if !s.want || !m.respawning {
				s.state = StateStopped
			} else if !s.due.After(now) {
				m.launch(s)
			} else {
				earlier(&next, s.due)
			}
		case s.state == StateStopping && s.pid != 0:
			if !s.killAt.After(now) {
				if !s.adopted || Alive(m.cfg.ProcDir, PidFile{Pid: s.pid, StartTime: s.start}) {
					m.cfg.Log.Warnf("%s (pid %d) did not stop in %s: KILL", s.spec.Name, s.pid, KillDelay)
					unix.Kill(-s.pid, unix.SIGKILL)
					unix.Kill(s.pid, unix.SIGKILL)
				}
				s.killAt = now.Add(KillDelay)
			}
			earlier(&next, s.killAt)
		}
		if s.pid != 0 && s.adopted && s.pidfd < 0 && !m.cfg.Records {
			m.checkAdopted(s.pid)
			earlier(&next, now.Add(time.Second))
		}
	}
	for pid, t := range m.tasks {
		if t.adopted && t.pidfd < 0 && !m.cfg.Records && !t.reaped {
			m.checkAdopted(pid)
			earlier(&next, now.Add(time.Second))
		}
		if t.reaped {
			if !t.doneBy.After(now) {
				m.finishTask(t)
			} else {
				earlier(&next, t.doneBy)
			}
			continue
		}
		if !t.termAt.IsZero() {
			if !t.termSent && !t.termAt.After(now) {
				m.cfg.Log.Warnf("%s (pid %d) still running: TERM", t.name, t.pid)
				unix.Kill(-t.pid, unix.SIGTERM)
				unix.Kill(-t.pid, unix.SIGCONT)
				t.termSent = true
			}
			if t.termSent && !t.killAt.After(now) {
				m.cfg.Log.Warnf("%s (pid %d) still running: KILL", t.name, t.pid)
				unix.Kill(-t.pid, unix.SIGKILL)
				t.killAt = now.Add(time.Second)
			}
			if t.termSent {
				earlier(&next, t.killAt)
			} else {
				earlier(&next, t.termAt)
			}
		}
	}
	return next
}

// earlier sets *next to t when t is before it. It is kept out of line
// (go:noinline): Tick calls it at seven places.
//
//go:noinline
func earlier(next *time.Time, t time.Time) {
	if t.Before(*next) {
		*next = t
	}
}

// launch starts s's process now.
func (m *Manager) launch(s *service) {
	now := m.now()
	s.started = now
	s.starts = append(s.starts, now)
	if len(s.starts) > LoopStarts {
		s.starts = s.starts[len(s.starts)-LoopStarts:]
	}
	if s.everStart {
		s.restarts++
	}
	s.everStart = true
	pid, err := m.spawnService(s)
	if err != nil {
		if errors.Is(err, errNoTTY) {
			// Like procd and busybox: an entry whose tty does not open is not
			// retried (status shows it; reload or `pid2 start` tries again).
			m.cfg.Log.Warnf("%s: %v: not started", s.spec.Name, err)
			s.pid, s.state, s.lastExit = 0, StateNoTTY, err.Error()
			return
		}
		m.cfg.Log.Errorf("%s: %v", s.spec.Name, err)
		s.pid = 0
		m.died(s, "start failed: "+err.Error())
		return
	}
	s.pid = pid
	s.state = StateRunning
	m.cfg.Log.Infof("started %s (pid %d)", s.spec.Name, pid)
}

var errNoTTY = errors.New("no tty")

func (m *Manager) ttyPath(name string) string {
	if filepath.IsAbs(name) {
		return name
	}
	return filepath.Join(m.cfg.DevDir, name)
}

// spawnService starts s (see spawn) with PID2_SERVICE=NAME in its environment,
// its output read into its ring and the log.
func (m *Manager) spawnService(s *service) (int, error) {
	if s.spec.NoTTY {
		return 0, errNoTTY
	}
	name := s.spec.Name
	pid, start, err := m.spawn(&s.spec, m.statePath(name), append(os.Environ(), "PID2_SERVICE="+name),
		func(fifo string) error {
			m.openLog(fifo, name, &s.ring, true)
			return nil
		})
	s.start = start
	return pid, err
}

// spawn starts spec with its stdio on spec.TTY, or with stdin on /dev/null and
// its output into the log FIFO BASE.out, whose reading side read opens first.
// BASE is STATEDIR/NAME for a service, in the task directory for a task. The
// process is recorded so that a pid2 killed at any point leaves its successor
// a way to find it: BASE.starting holds the token of this start (also put in
// the process's environment) until BASE.pid holds its PID and start time.
func (m *Manager) spawn(spec *Spec, base string, env []string, read func(fifo string) error) (pid int, start uint64, err error) {
	var stdin, stdout *os.File // closed once the process has them
	tty := false
	if spec.TTY != "" {
		f, err := os.OpenFile(m.ttyPath(spec.TTY), os.O_RDWR|syscall.O_NOCTTY, 0)
		if err != nil {
			return 0, 0, printf.Errorf("%w: %v", errNoTTY, err)
		}
		stdin, stdout = f, f
		_, terr := unix.IoctlGetTermios(int(f.Fd()), unix.TCGETS)
		tty = terr == nil
	} else {
		if stdin, err = os.Open(os.DevNull); err != nil {
			return 0, 0, err
		}
		if stdout, err = m.logWriter(base + ".out"); err == nil {
			err = read(base + ".out")
		}
	}
	if err == nil {
		m.seq++
		token := printf.Sprintf("%d.%d.%d", os.Getpid(), m.epoch, m.seq)
		marker := base + ".starting"
		if err = os.WriteFile(marker, []byte(token), 0o600); err != nil {
			err = printf.Errorf("writing %s: %w", marker, err)
		} else {
			pid, start, err = m.fork(spec, []uintptr{stdin.Fd(), stdout.Fd(), stdout.Fd()}, tty, append(env, startEnv+token), base+".pid")
			os.Remove(marker)
		}
	}
	stdin.Close()
	if stdout != stdin {
		stdout.Close() // nil when logWriter failed: an error, not a panic
	}
	return pid, start, err
}

// fork starts spec with stdio in a new session and writes its pid file
// before the process can do anything that matters; it returns the PID and
// start time.
//
// Entries that ask first go through the trampoline (see helper.go), which waits
// for the pid file. Everything else is exec'd directly, which is several
// milliseconds faster (no Go runtime start-up in between): the service then
// carries PID2_START=TOKEN in its environment, and BASE.starting holds TOKEN
// until the pid file is written, so a pid2 killed in between leaves its
// successor a way to find the process (see readRecord).
func (m *Manager) fork(spec *Spec, stdio []uintptr, tty bool, env []string, pidFile string) (pid int, start uint64, err error) {
	path, argv := spec.Path, spec.Argv
	sys := &syscall.SysProcAttr{Setsid: true, Setctty: tty && !spec.Ask}
	p := [2]int{-1, -1} // the trampoline's fd 3, and one byte on p[1] once the pid file is written
	if !spec.Ask {
		if !strings.Contains(path, "/") {
			path, err = command.LookPath(path)
		}
	} else {
		if err := unix.Pipe2(p[:], unix.O_CLOEXEC); err != nil {
			return 0, 0, err
		}
		path = m.cfg.Self
		argv = []string{"pid2", HelperArg, "-s", "-a"}
		if tty {
			argv = append(argv, "-t")
		}
		argv = append(append(argv, "--", spec.Path), spec.Argv...)
		stdio = append(stdio, uintptr(p[0]))
	}
	if err == nil {
		pid, err = syscall.ForkExec(path, argv, &syscall.ProcAttr{Dir: "/", Env: env, Files: stdio, Sys: sys})
	}
	if err != nil {
		err = printf.Errorf("starting %s: %w", spec.Path, err)
	} else {
		_, start, err = ProcState(m.cfg.ProcDir, pid)
		if err == nil {
			err = WriteFileAtomic(pidFile, PidFile{pid, start}.String())
		}
		if err != nil {
			unix.Kill(pid, unix.SIGKILL)
			var ws unix.WaitStatus
			unix.Wait4(pid, &ws, 0, nil) // killed: not left a zombie nobody reaps
			err = printf.Errorf("recording pid %d: %w", pid, err)
			pid, start = 0, 0
		} else if p[1] >= 0 {
			unix.Write(p[1], []byte{1})
		}
	}
	if p[0] >= 0 {
		unix.Close(p[0])
		unix.Close(p[1])
	}
	return pid, start, err
}

// logWriter returns the write side of the log FIFO p of a service or task. It
// is opened read-write: the process then always holds a reader too, so a write
// never raises SIGPIPE while pid2 is down; the lines wait in the pipe for the
// next pid2.
func (m *Manager) logWriter(p string) (*os.File, error) {
	if err := unix.Mkfifo(p, 0o600); err != nil && !errors.Is(err, unix.EEXIST) {
		return nil, printf.Errorf("mkfifo %s: %w", p, err)
	}
	return os.OpenFile(p, os.O_RDWR, 0)
}

// openLog starts reading the log FIFO p into ring and the log as "name: line".
func (m *Manager) openLog(p, name string, ring *Ring, must bool) {
	fd, err := unix.Open(p, unix.O_RDONLY|unix.O_NONBLOCK|unix.O_CLOEXEC, 0)
	if err != nil {
		if must {
			m.cfg.Log.Warnf("%s: log: %v", name, err)
		}
		return
	}
	if m.mux == nil {
		if m.mux, err = newLogMux(m); err != nil {
			m.mux = nil
		}
	}
	if m.mux != nil && m.mux.add(fd, name, ring) == nil {
		return
	}
	go m.readLines(os.NewFile(uintptr(fd), p), name, ring)
}

func (m *Manager) readLines(r io.ReadCloser, name string, ring *Ring) {
	br := bufio.NewReaderSize(r, 512)
	for {
		line, err := br.ReadSlice('\n')
		if len(line) > 0 {
			l := strings.TrimRight(string(line), "\r\n")
			if errors.Is(err, bufio.ErrBufferFull) {
				l += "..."
			}
			ring.Add(l)
			m.cfg.Log.Noticef("%s: %s", name, l)
		}
		if err != nil && !errors.Is(err, bufio.ErrBufferFull) {
			r.Close()
			return
		}
	}
}

// Task is a one-shot process: rc scripts, sysinit, wait, once, shutdown entries.
type Task struct {
	Spec
	// TermAfter > 0 bounds the run: TERM after it, KILL KillAfter later.
	TermAfter, KillAfter time.Duration
	// Done is called from Reaped with the exit description.
	Done func(exit string)
}

// RunTask starts t with stdin on /dev/null (or its tty) and its output logged
// line by line as "NAME: line". The output goes through a log FIFO in the task
// directory, as a service's does, so a task outlives a pid2 that dies or
// re-execs: its writes never raise SIGPIPE, and the next pid2 reads the rest
// (see AdoptTasks). A task that already ran under a previous pid2 is not run
// again: Done gets the exit recorded then.
func (m *Manager) RunTask(t *Task) error {
	if b, err := os.ReadFile(m.taskPath(t.Name, ".done")); err == nil {
		exit := strings.TrimSpace(string(b))
		m.cfg.Log.Infof("%s: ran before pid2 restarted (%s): not run again", t.Name, exit)
		if t.Done != nil {
			t.Done(exit)
		}
		return nil
	}
	var tk *task
	for _, x := range m.tasks {
		if x.adopted && x.name == t.Name {
			tk = x
		}
	}
	if tk == nil {
		tk = m.adoptTask(t.Name, t.Done)
		if _, err := os.Stat(m.taskPath(t.Name, ".done")); tk == nil && err == nil {
			return nil // it had ended while no pid2 watched: done was called
		}
	}
	if tk != nil {
		// Still running from a previous pid2: wait for its end.
		tk.done = t.Done
		m.boundTask(tk, t)
		return nil
	}
	var out *os.File
	pid, start, err := m.spawn(&t.Spec, m.taskPath(t.Name, ""), os.Environ(), func(fifo string) error {
		if out = m.taskOutput(fifo); out == nil {
			return printf.Errorf("%s: cannot read %s", t.Name, fifo)
		}
		return nil
	})
	if err != nil {
		if out != nil {
			out.Close()
		}
		if errors.Is(err, errNoTTY) {
			err = printf.Errorf("%s: %w", t.Name, err)
		}
		return err
	}
	tk = &task{name: t.Name, pid: pid, start: start, done: t.Done, outEOF: out == nil, pidfd: -1}
	if out != nil {
		m.readTaskOutput(out, tk)
	}
	m.boundTask(tk, t)
	m.tasks[pid] = tk
	return nil
}

// boundTask applies t's time bound to tk, from now.
func (m *Manager) boundTask(tk *task, t *Task) {
	if t.TermAfter > 0 {
		tk.termAt = m.now().Add(t.TermAfter)
		tk.killAt = tk.termAt.Add(t.KillAfter)
	}
}

// taskOutput opens the read side of a task's log FIFO (nonblocking: the
// runtime poller waits for it), or returns nil.
func (m *Manager) taskOutput(fifo string) *os.File {
	fd, err := unix.Open(fifo, unix.O_RDONLY|unix.O_NONBLOCK|unix.O_CLOEXEC, 0)
	if err != nil {
		m.cfg.Log.Warnf("log: %v", err)
		return nil
	}
	return os.NewFile(uintptr(fd), fifo)
}

// readTaskOutput logs out into the task ring; its end (every writer gone)
// comes back as an OutputEOF event.
func (m *Manager) readTaskOutput(out *os.File, tk *task) {
	pid := tk.pid
	go func() {
		m.readLines(out, tk.name, &m.taskRing)
		m.events <- Event{Pid: pid, OutputEOF: true}
	}()
}

// AdoptTasks takes over the tasks a previous pid2 left running (pid files in
// the task directory): their output is read again and their end learned as
// for adopted services. Call it before running tasks: once entries are not
// run again after a relaunch, so only this finds them.
func (m *Manager) AdoptTasks() {
	var names []string
	for _, ext := range []string{".pid", ".starting"} {
		files, _ := filepath.Glob(m.taskPath("*", ext))
		for _, f := range files {
			names = append(names, strings.TrimSuffix(filepath.Base(f), ext))
		}
	}
	sort.Strings(names)
	for i, n := range names {
		if i > 0 && n == names[i-1] {
			continue // both a pid file and a start token
		}
		if _, err := os.Stat(m.taskPath(n, ".done")); err == nil {
			os.Remove(m.taskPath(n, ".pid"))
			os.Remove(m.taskPath(n, ".starting"))
			continue
		}
		m.adoptTask(n, func(exit string) { m.cfg.Log.Infof("%s finished: %s", n, exit) })
	}
}

// adoptTask adopts the task NAME a previous pid2 started and returns it, or
// nil when there is none. One that ended while no pid2 watched is recorded
// as done (and done is called): it ran, so it must not run again.
func (m *Manager) adoptTask(name string, done func(string)) *task {
	// A task that ended while no pid2 watched must be recorded as done: not
	// live, so its pid file is kept until then.
	p, err := m.readRecord(m.taskPath(name, ""), false)
	if err != nil {
		return nil
	}
	tk := &task{name: name, pid: p.Pid, start: p.StartTime, adopted: true, pidfd: -1, done: done}
	if !Alive(m.cfg.ProcDir, p) {
		m.cfg.Log.Infof("%s (pid %d) ended while pid2 was down", name, p.Pid)
		tk.exit = "unknown (adopted)"
		m.finishTask(tk)
		return nil
	}
	tk.outEOF = true // a task on a tty has no log FIFO
	if _, err := os.Stat(m.taskPath(name, ".out")); err == nil {
		if out := m.taskOutput(m.taskPath(name, ".out")); out != nil {
			tk.outEOF = false
			m.readTaskOutput(out, tk)
		}
	}
	if !m.cfg.Records {
		tk.pidfd = m.watch(p.Pid)
	}
	m.tasks[p.Pid] = tk
	m.cfg.Log.Infof("adopted task %s (pid %d)", name, p.Pid)
	return tk
}

// Status describes one service, or every service when name is "".
func (m *Manager) Status(name string) ([]Status, error) {
	names := []string{name}
	if name == "" {
		names = m.Names()
	} else if _, err := m.lookup(name); err != nil {
		return nil, err
	}
	var out []Status
	for _, n := range names {
		s := m.svcs[n]
		st := Status{Name: n, Action: s.spec.Kind, State: s.state, Pid: s.pid, Restarts: s.restarts,
			LastExit: s.lastExit, Adopted: s.adopted, Note: s.note, Command: strings.Join(s.spec.Argv, " ")}
		if st.LastExit == "" {
			st.LastExit = "-"
		}
		out = append(out, st)
	}
	return out, nil
}

// LogLines returns the recent output of a service, or of the tasks (rc scripts
// and one-shots) when name is "".
func (m *Manager) LogLines(name string) ([]string, error) {
	if name == "" {
		return m.taskRing.Lines(), nil
	}
	s, err := m.lookup(name)
	if err != nil {
		return nil, err
	}
	return s.ring.Lines(), nil
}

// StopTasks bounds every running task: TERM now, KILL after KillDelay.
func (m *Manager) StopTasks() {
	now := m.now()
	for _, t := range m.tasks {
		if !t.termSent {
			t.termAt = now
			t.killAt = now.Add(KillDelay)
		}
	}
}

// Pids returns the processes pid2 may have to reap: its services' and tasks'.
func (m *Manager) Pids() []int {
	var out []int
	for _, s := range m.svcs {
		if s.pid != 0 {
			out = append(out, s.pid)
		}
	}
	for pid, t := range m.tasks {
		if !t.reaped {
			out = append(out, pid)
		}
	}
	return out
}
