package hotplug

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"toybox-go/applets/internal/kmsg"
	"toybox-go/applets/internal/uevent"
	"toybox-go/applets/printf"
)

// Rules is a compiled rules file; *rules.Script is one.
type Rules interface {
	Run(vars map[string]string, emit func(cmd string, args []string))
}

// Source delivers events; *uevent.Conn is the real one.
type Source interface {
	Receive() (*uevent.Event, error)
	SetReadDeadline(t time.Time) error
	Close() error
}

// Defaults of Config.
const (
	DefaultExecTimeout   = 60 * time.Second
	DefaultSettleTimeout = 120 * time.Second
	DefaultQuiet         = time.Second
	DefaultMaxQueue      = 4096
)

// Config describes a Plug. Only Rules is required.
type Config struct {
	Rules Rules

	// Roots; defaults /dev, /sys, /etc, /lib/firmware.
	Dev, Sys, Etc, Firmware string

	Log *kmsg.Logger // default kmsg.New("hotplug")
	// Env is the environment children start from, before the event's variables
	// are added; default os.Environ().
	Env []string

	ExecTimeout   time.Duration // bound on one queued child; default DefaultExecTimeout
	SettleTimeout time.Duration // bound on Coldplug; default DefaultSettleTimeout
	Quiet         time.Duration // settle fallback, see the package doc; default DefaultQuiet
	MaxQueue      int           // queued commands beyond this are dropped and logged

	// Source of events; default a uevent.Conn opened by New.
	Source Source
	// Trigger replays the existing devices; default uevent.Trigger on Sys, all
	// devices. It runs in Coldplug and again after ENOBUFS.
	Trigger func() error
	// TriggerDevOnly makes the default trigger replay only devices with a
	// device number, as procd's udevtrigger does (see uevent.Trigger).
	TriggerDevOnly bool
	// KeepDev makes Coldplug leave the /dev mount alone (containers).
	KeepDev bool
	// StartConsole serves the start-console command; nil logs and ignores it.
	StartConsole func(dev string) error

	// Self is this program's binary (default /proc/self/exe): an exec of a
	// hotplug-call that is this binary runs the shell directly.
	Self string
	// Shell runs hotplug.d scripts; default /bin/sh. Functions is sourced
	// first when it exists; default /lib/functions.sh.
	Shell, Functions string
}

// Plug is the hotplug daemon: an event source, the rules, an executor.
type Plug struct {
	cfg    Config
	log    *kmsg.Logger
	src    Source
	caller *Caller
	self   os.FileInfo // nil when Self cannot be stat'ed

	mu        sync.Mutex
	changed   chan struct{} // closed and replaced at every state change
	lastSeq   uint64        // highest SEQNUM dispatched
	lastEvent time.Time     // when the last event was dispatched or command finished
	jobs      []*job        // pending queued commands, FIFO
	busy      bool          // a queued command is running
	closed    bool
	triggers  int    // triggers in progress
	target    uint64 // uevent_seqnum after the latest trigger

	retriggering   bool // a replay after ENOBUFS is running
	pending        bool // and another one is wanted after it
	retriggerStart time.Time
	retriggerCount int

	wake    chan struct{} // a job was queued
	quit    chan struct{} // closed by Close: kills the running child
	done    chan struct{} // the worker has exited
	buttons map[string]*time.Timer
}

// New checks the configuration, opens the uevent socket (unless a Source is
// given) and starts the queue worker.
func New(cfg Config) (*Plug, error) {
	if cfg.Rules == nil {
		return nil, errors.New("hotplug: no rules")
	}
	def := func(s *string, v string) {
		if *s == "" {
			*s = v
		}
	}
	def(&cfg.Dev, "/dev")
	def(&cfg.Sys, "/sys")
	def(&cfg.Etc, "/etc")
	def(&cfg.Firmware, "/lib/firmware")
	def(&cfg.Self, "/proc/self/exe")
	def(&cfg.Shell, "/bin/sh")
	def(&cfg.Functions, "/lib/functions.sh")
	if cfg.Log == nil {
		cfg.Log = kmsg.New("hotplug")
	}
	if cfg.Env == nil {
		cfg.Env = os.Environ()
	}
	if !hasPath(cfg.Env) {
		// The kernel starts init without PATH; children need one.
		cfg.Env = append(slices.Clip(cfg.Env), "PATH="+CallPath)
	}
	if cfg.ExecTimeout <= 0 {
		cfg.ExecTimeout = DefaultExecTimeout
	}
	if cfg.SettleTimeout <= 0 {
		cfg.SettleTimeout = DefaultSettleTimeout
	}
	if cfg.Quiet <= 0 {
		cfg.Quiet = DefaultQuiet
	}
	if cfg.MaxQueue <= 0 {
		cfg.MaxQueue = DefaultMaxQueue
	}
	p := &Plug{
		cfg:     cfg,
		log:     cfg.Log,
		src:     cfg.Source,
		caller:  &Caller{Etc: cfg.Etc, Shell: cfg.Shell, Functions: cfg.Functions},
		changed: make(chan struct{}),
		wake:    make(chan struct{}, 1),
		quit:    make(chan struct{}),
		done:    make(chan struct{}),
		buttons: make(map[string]*time.Timer),
	}
	if p.cfg.Trigger == nil {
		p.cfg.Trigger = p.defaultTrigger
	}
	if fi, err := os.Stat(cfg.Self); err == nil {
		p.self = fi
	}
	if p.src == nil {
		c, err := uevent.Listen(0, cfg.Log)
		if err != nil {
			return nil, err
		}
		p.src = c
	}
	go p.worker()
	return p, nil
}

// hasPath reports whether env sets PATH.
func hasPath(env []string) bool {
	for _, e := range env {
		if strings.HasPrefix(e, "PATH=") {
			return true
		}
	}
	return false
}

// Close stops the worker (killing a running child, dropping what is queued),
// the button timers and the event source.
func (p *Plug) Close() error {
	p.lock()
	if p.closed {
		p.unlock()
		return nil
	}
	p.closed = true
	p.jobs = nil
	for _, t := range p.buttons {
		t.Stop()
	}
	p.unlock()
	close(p.quit)
	<-p.done
	return p.src.Close()
}

// ErrStopped is returned by Coldplug and WaitIdle when their stop channel is
// closed before they are done.
var ErrStopped = errors.New("hotplug: stopped")

// stopped reports whether stop is closed.
func stopped(stop <-chan struct{}) bool {
	select {
	case <-stop:
		return true
	default:
		return false
	}
}

// Run receives events and dispatches them until stop is closed (then it
// returns nil) or the source fails. Lost events (ENOBUFS) are logged and
// replayed by a new trigger.
func (p *Plug) Run(stop <-chan struct{}) error {
	if err := p.src.SetReadDeadline(time.Time{}); err != nil {
		return err
	}
	// Closing stop interrupts a Receive through a past read deadline.
	returned := make(chan struct{})
	defer close(returned)
	go func() {
		select {
		case <-stop:
			_ = p.src.SetReadDeadline(time.Unix(1, 0))
		case <-returned:
		}
	}()
	for {
		ev, err := p.src.Receive()
		switch {
		case err == nil:
			p.Handle(ev)
		case stopped(stop):
			return nil
		case errors.Is(err, uevent.ErrOverflow):
			p.log.Errorf("%v: triggering all devices again", err)
			p.Retrigger()
		case errors.Is(err, os.ErrDeadlineExceeded):
			// A deadline set by a previous Run's cancellation; carry on.
			if err := p.src.SetReadDeadline(time.Time{}); err != nil {
				return err
			}
		default:
			return printf.Errorf("hotplug: %w", err)
		}
	}
}

// Handle runs the rules for one event and carries out what they emit:
// makedev and rm at once, the rest queued. Run calls it for every event.
func (p *Plug) Handle(ev *uevent.Event) {
	p.dispatch(ev)
	p.lock()
	if ev.Seqnum > p.lastSeq {
		p.lastSeq = ev.Seqnum
	}
	p.lastEvent = time.Now()
	p.notifyLocked()
	p.unlock()
}

// dispatch runs the rules for ev. A panic (a bug) costs this event only: the
// daemon lives in pid2, whose death would stall every later event.
func (p *Plug) dispatch(ev *uevent.Event) {
	defer func() {
		if r := recover(); r != nil {
			p.log.Errorf("internal error handling %v: %v", ev, r)
		}
	}()
	p.cfg.Rules.Run(ev.Map(), func(cmd string, args []string) {
		p.command(ev, cmd, args)
	})
}

func (p *Plug) command(ev *uevent.Event, cmd string, args []string) {
	switch cmd {
	case "makedev":
		p.makedev(ev, args)
		return
	case "rm":
		p.remove(ev, args)
		return
	case "exec", "button":
		if len(args) == 0 || args[0] == "" {
			p.log.Warnf("%s without a program for %v", cmd, ev)
			return
		}
	case "load-firmware":
		if len(args) == 0 {
			p.log.Warnf("load-firmware without a directory for %v", ev)
			return
		}
		args = args[:1]
	case "start-console":
		if len(args) == 0 {
			return
		}
		args = args[:1]
	default:
		p.log.Debugf("unknown command %q in the rules, ignored", cmd)
		return
	}
	j := &job{kind: cmd, argv: args, event: ev.String()}
	switch cmd {
	case "button":
		j.button, _ = ev.Get("BUTTON")
		fallthrough
	case "exec":
		j.vars = ev.Environ()
	case "load-firmware":
		j.ev = ev
	}
	p.enqueue(j)
}

// SourceStats returns the socket's counters (accepted, foreign, malformed,
// overflows); zero when the source is not a uevent socket.
func (p *Plug) SourceStats() uevent.Stats {
	if c, ok := p.src.(*uevent.Conn); ok {
		return c.Stats()
	}
	return uevent.Stats{}
}

// WaitIdle returns once no queued command is pending or running, or with
// ErrStopped when stop is closed first.
func (p *Plug) WaitIdle(stop <-chan struct{}) error {
	for {
		p.lock()
		idle := len(p.jobs) == 0 && !p.busy
		changed := p.changed
		p.unlock()
		if idle {
			return nil
		}
		select {
		case <-changed:
		case <-stop:
			return ErrStopped
		}
	}
}

// notifyLocked wakes every waiter on p.changed; p.mu is held.
func (p *Plug) notifyLocked() {
	close(p.changed)
	p.changed = make(chan struct{})
}

// Serve is the listener-only mode (`pid2 -h FILE`, procd -h): it loads the
// rules file and runs a Plug with default roots until SIGTERM or SIGINT, then
// returns nil. It does no coldplug.
func Serve(rulesFile string, log *kmsg.Logger) error {
	return serve(rulesFile, log)
}

func (p *Plug) defaultTrigger() error {
	t := &uevent.Trigger{Sys: p.cfg.Sys, DevOnly: p.cfg.TriggerDevOnly}
	n, errs, err := t.Run()
	if err != nil {
		return err
	}
	for _, e := range errs {
		p.log.Debugf("trigger: %v", e)
	}
	p.log.Infof("triggered %d devices (%d refused)", n, len(errs))
	return nil
}

// devRel maps a rule's /dev/NAME to NAME below the dev root.
func devRel(path string) (string, bool) {
	rel, ok := strings.CutPrefix(path, "/dev/")
	if !ok {
		return "", false
	}
	return rel, safeName(rel)
}

// safeName reports whether name is a clean relative path with no "..", no
// NUL and no empty or "." component.
func safeName(name string) bool {
	return name != "" && filepath.IsLocal(name) && filepath.Clean(name) == name &&
		!strings.ContainsRune(name, 0) && !strings.Contains(name, "..")
}

// lock and unlock take and release p.mu. They are kept out of line
// (go:noinline): the mutex is taken in some 30 places, and an inlined fast
// path at each costs the binary more than the calls do.
//
//go:noinline
func (p *Plug) lock() { p.mu.Lock() }

//go:noinline
func (p *Plug) unlock() { p.mu.Unlock() }
