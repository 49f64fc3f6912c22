package hotplug

import (
	"bufio"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"toybox-go/applets/internal/command"
	"toybox-go/applets/internal/uevent"
)

// job is one queued command.
type job struct {
	kind   string   // exec, button, load-firmware, start-console
	argv   []string // program and arguments; the directory or device for the others
	vars   []string // KEY=VALUE added to the child's environment
	ev     *uevent.Event
	button string // BUTTON of a button command
	event  string // what caused it, for log lines
}

func (p *Plug) enqueue(j *job) {
	p.lock()
	switch {
	case p.closed:
	case len(p.jobs) >= p.cfg.MaxQueue:
		p.log.Errorf("queue full (%d commands): dropped %s %q for %s", len(p.jobs), j.kind, j.argv, j.event)
	default:
		p.jobs = append(p.jobs, j)
		select {
		case p.wake <- struct{}{}:
		default:
		}
	}
	p.unlock()
}

// worker runs queued commands one at a time, in order, until Close.
func (p *Plug) worker() {
	for {
		p.lock()
		for len(p.jobs) == 0 && !p.closed {
			p.unlock()
			select {
			case <-p.wake:
			case <-p.quit:
			}
			p.lock()
		}
		if p.closed {
			p.unlock()
			close(p.done)
			return
		}
		j := p.jobs[0]
		p.jobs[0] = nil
		p.jobs = p.jobs[1:]
		p.busy = true
		p.unlock()

		p.runJob(j)

		p.lock()
		p.busy = false
		p.lastEvent = time.Now()
		p.notifyLocked()
		p.unlock()
	}
}

func (p *Plug) runJob(j *job) {
	switch j.kind {
	case "exec":
		p.runProgram(j.argv, p.childEnv(j.vars), j.event)
	case "button":
		p.cancelButton(j.button)
		if code := p.runProgram(j.argv, p.childEnv(j.vars), j.event); code > 0 {
			p.armButton(j, code)
		}
	case "load-firmware":
		p.loadFirmware(j.argv[0], j.ev)
	case "start-console":
		if p.cfg.StartConsole == nil {
			p.log.Infof("start-console %s: no console handler here, ignored", j.argv[0])
			return
		}
		if err := p.cfg.StartConsole(j.argv[0]); err != nil {
			p.log.Errorf("start-console %s: %v", j.argv[0], err)
		}
	}
}

func (p *Plug) cancelButton(button string) {
	p.lock()
	if t, ok := p.buttons[button]; ok {
		t.Stop()
		delete(p.buttons, button)
	}
	p.unlock()
}

// armButton queues the same program again after code seconds, with only the
// timeout variables (procd's button timer).
func (p *Plug) armButton(j *job, code int) {
	seen := strconv.Itoa(code)
	p.lock()
	if !p.closed {
		var t *time.Timer
		t = time.AfterFunc(time.Duration(code)*time.Second, func() {
			p.lock()
			if p.buttons[j.button] == t {
				delete(p.buttons, j.button)
			}
			p.unlock()
			p.enqueue(&job{kind: "exec", argv: j.argv,
				vars:  []string{"BUTTON=" + j.button, "ACTION=timeout", "SEEN=" + seen},
				event: "button " + j.button + " held " + seen + " s"})
		})
		p.buttons[j.button] = t
	}
	p.unlock()
}

// childEnv is the daemon's environment with vars added, replacing names
// already present.
func (p *Plug) childEnv(vars []string) []string {
	return mergeEnv(p.cfg.Env, vars)
}

func mergeEnv(base, vars []string) []string {
	names := make(map[string]bool, len(vars))
	for _, v := range vars {
		k, _, _ := strings.Cut(v, "=")
		names[k] = true
	}
	env := make([]string, 0, len(base)+len(vars))
	for _, e := range base {
		if k, _, _ := strings.Cut(e, "="); !names[k] {
			env = append(env, e)
		}
	}
	return append(env, vars...)
}

// devSymlinkArgs returns TARGET and NAME when argv is exactly
// [/bin/ln -s TARGET /dev/NAME] with a plain NAME.
func devSymlinkArgs(argv []string) (target, name string, ok bool) {
	if len(argv) != 4 || argv[0] != "/bin/ln" || argv[1] != "-s" || argv[2] == "" {
		return "", "", false
	}
	name, ok = devRel(argv[3])
	return argv[2], name, ok
}

// symlinkInDev makes dev/name -> target, failing like ln -s when name exists.
func symlinkInDev(dev, target, name string) error {
	return inParent(dev, name, false, func(r *beneath, dir int, base string) error {
		if err := unix.Symlinkat(target, dir, base); err != nil {
			return r.error("symlink", name, err)
		}
		return nil
	})
}

// hotplugCallArg returns SUBSYSTEM when argv is [.../hotplug-call SUBSYSTEM].
func hotplugCallArg(argv []string) (string, bool) {
	if len(argv) == 2 && filepath.Base(argv[0]) == "hotplug-call" {
		return argv[1], true
	}
	return "", false
}

func (p *Plug) isSelf(path string) bool {
	if p.self == nil {
		return false
	}
	fi, err := os.Stat(path)
	return err == nil && os.SameFile(fi, p.self)
}

// runProgram runs argv to completion (bounded) and returns its exit code, -1
// when it could not start or was killed, 0 when nothing needed to run.
func (p *Plug) runProgram(argv, env []string, what string) int {
	if target, link, ok := devSymlinkArgs(argv); ok {
		// OpenWrt's rules run /bin/ln four times for /dev/null's event (fd,
		// stdin, stdout, stderr): 70 ms each under qemu. Same effect, no process.
		if err := symlinkInDev(p.cfg.Dev, target, link); err != nil {
			p.log.Errorf("ln -s %s %s (%s): %v", target, link, what, err)
			return 1
		}
		return 0
	}
	if sub, ok := hotplugCallArg(argv); ok {
		scripts, err := p.caller.Scripts(sub)
		if err == nil && len(scripts) == 0 {
			return 0 // no process for an event nobody listens to
		}
		if err == nil && p.isSelf(argv[0]) {
			var cmd *command.Cmd
			if cmd, err = p.caller.Command(sub, scripts, env); err == nil {
				return p.runCmd(cmd, "hotplug-call "+sub, what)
			}
		}
		if err != nil {
			return p.failed(argv[0]+" "+sub, what, err)
		}
	}
	cmd := command.Command(argv[0], argv[1:]...)
	cmd.Env = env
	return p.runCmd(cmd, filepath.Base(argv[0]), what)
}

// failed logs that the command tag (run for what) could not start, and
// returns runProgram's code for it. Out of line: see beneath.Close.
//
//go:noinline
func (p *Plug) failed(tag, what string, err error) int {
	p.log.Errorf("%s (%s): %v", tag, what, err)
	return -1
}

// runCmd starts cmd in its own process group with stdin /dev/null and its
// output logged, waits at most ExecTimeout, and kills the group after that.
func (p *Plug) runCmd(cmd *command.Cmd, tag, what string) int {
	r, w, err := os.Pipe()
	if err != nil {
		return p.failed(tag, what, err)
	}
	// An *os.File is handed to the child as is: Wait does not wait for the
	// pipe, so a daemon a script leaves behind cannot stall the queue.
	cmd.Stdout, cmd.Stderr = w, w
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	start := time.Now()
	err = cmd.Start()
	w.Close()
	if err != nil {
		r.Close()
		return p.failed(tag, what, err)
	}
	go p.logLines(r, tag)

	waited := make(chan error, 1)
	go func() { waited <- cmd.Wait() }()
	timer := time.NewTimer(p.cfg.ExecTimeout)
	var why string
	select {
	case err = <-waited:
	case <-timer.C:
		why = "still running after " + p.cfg.ExecTimeout.String()
	case <-p.quit:
		why = "stopping"
	}
	timer.Stop()
	if why != "" {
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		<-waited
		p.log.Errorf("%s (%s): %s: killed", tag, what, why)
		return -1
	}
	if errors.Is(err, syscall.ECHILD) {
		// Another wait4(-1) in this process (a reaper) took the status.
		p.log.Warnf("%s (%s): exit status lost: reaped elsewhere in this process", tag, what)
		return -1
	}
	code := cmd.ProcessState.ExitCode()
	p.log.Debugf("%s (%s): exit %d after %v (%v)", tag, what, code, time.Since(start).Round(time.Millisecond), err)
	return code
}

func (p *Plug) logLines(r io.ReadCloser, tag string) {
	br := bufio.NewReaderSize(r, 4096)
	for {
		// ReadSlice bounds a line to the buffer: a longer one is logged in pieces.
		line, err := br.ReadSlice('\n')
		if s := strings.TrimRight(string(line), "\n"); s != "" {
			p.log.Infof("%s: %s", tag, s)
		}
		if err != nil && err != bufio.ErrBufferFull {
			break
		}
	}
	r.Close()
}
