package hotplug

import (
	"errors"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"

	"toybox-go/applets/internal/kmsg"
	"toybox-go/applets/printf"
)

// Coldplug replaces /dev with a fresh tmpfs (unless Config.KeepDev), replays
// every existing device through the trigger, and returns once settled (see
// the package doc) or after Config.SettleTimeout. Run must be dispatching
// meanwhile. The error tells what failed; the rest was still done: a /dev that
// cannot be remounted is populated in place. Closing stop ends the wait with
// ErrStopped.
func (p *Plug) Coldplug(stop <-chan struct{}) error {
	var errs []error
	start := time.Now()
	if !p.cfg.KeepDev {
		if err := FreshDev(p.cfg.Dev, p.log); err != nil {
			p.log.Errorf("coldplug: %v; populating the current /dev", err)
			errs = append(errs, err)
		}
	}
	remounted := time.Now()
	p.beginTrigger()
	err := p.cfg.Trigger()
	p.endTrigger()
	if err != nil {
		p.log.Errorf("coldplug: trigger: %v", err)
		errs = append(errs, printf.Errorf("trigger: %w", err))
	}
	triggered := time.Now()
	if err := p.waitSettled(stop); err != nil {
		errs = append(errs, err)
	} else {
		now := time.Now()
		var ms [4]any
		for i, d := range [4]time.Duration{now.Sub(start), remounted.Sub(start), triggered.Sub(remounted), now.Sub(triggered)} {
			ms[i] = d.Round(time.Millisecond)
		}
		p.log.Infof("coldplug settled in %v (fresh /dev %v, trigger %v, the rest %v)", ms[:]...)
	}
	if len(errs) == 0 {
		return nil
	}
	return &coldplugErrors{errs}
}

// coldplugErrors is what went wrong in Coldplug, one error a line: what
// errors.Join gives, without bringing its code in for this one use.
type coldplugErrors struct{ errs []error }

func (e *coldplugErrors) Error() string {
	s := e.errs[0].Error()
	for _, err := range e.errs[1:] {
		s += "\n" + err.Error()
	}
	return s
}

func (e *coldplugErrors) Unwrap() []error { return e.errs }

func (p *Plug) beginTrigger() {
	p.lock()
	p.triggers++
	p.unlock()
}

// endTrigger records the kernel's sequence number once a trigger's writes
// have returned: each write broadcasts its event before returning, so every
// event it caused has a number up to this one.
func (p *Plug) endTrigger() {
	seq, err := readSeqnum(p.cfg.Sys)
	if err != nil {
		p.log.Warnf("coldplug: %v: settling on %v of quiet", err, p.cfg.Quiet)
		seq = math.MaxUint64
	}
	p.lock()
	p.triggers--
	if seq > p.target {
		p.target = seq
	}
	p.lastEvent = time.Now()
	p.notifyLocked()
	p.unlock()
}

func readSeqnum(sys string) (uint64, error) {
	b, err := os.ReadFile(filepath.Join(sys, "kernel", "uevent_seqnum"))
	if err != nil {
		return 0, err
	}
	n, err := strconv.ParseUint(strings.TrimSpace(string(b)), 10, 64)
	if err != nil {
		return 0, printf.Errorf("uevent_seqnum %q: %w", b, err)
	}
	return n, nil
}

// retriggerWindow and maxRetriggers bound replays after ENOBUFS: when the
// receive buffer is too small for one whole trigger, every replay overflows
// again, and replaying forever would never settle.
const (
	retriggerWindow = time.Minute
	maxRetriggers   = 3
)

// Retrigger replays every device again in the background (after lost
// events). Calls during a running replay are folded into one more replay.
func (p *Plug) Retrigger() {
	p.lock()
	p.retriggerLocked()
	p.unlock()
}

// retriggerLocked is Retrigger with p.mu held.
func (p *Plug) retriggerLocked() {
	if p.closed {
		return
	}
	if p.retriggering {
		p.pending = true
		return
	}
	now := time.Now()
	if now.Sub(p.retriggerStart) > retriggerWindow {
		p.retriggerStart, p.retriggerCount = now, 0
	}
	if p.retriggerCount >= maxRetriggers {
		p.log.Errorf("events lost again after %d replays within %v: not replaying (receive buffer too small?)", p.retriggerCount, retriggerWindow)
		return
	}
	p.retriggerCount++
	p.retriggering = true
	p.triggers++
	go func() {
		for {
			if err := p.cfg.Trigger(); err != nil {
				p.log.Errorf("replay: trigger: %v", err)
			}
			p.endTrigger()
			p.lock()
			if !p.pending || p.closed {
				p.retriggering = false
				p.unlock()
				return
			}
			p.pending = false
			p.triggers++
			p.unlock()
		}
	}()
}

// ErrSettleTimeout is returned by Coldplug when the events did not settle in
// time.
var ErrSettleTimeout = errors.New("coldplug did not settle")

func (p *Plug) waitSettled(stop <-chan struct{}) error {
	deadline := time.NewTimer(p.cfg.SettleTimeout)
	err := p.settle(stop, deadline)
	deadline.Stop()
	return err
}

// settle is waitSettled's loop, until the events settle, the deadline
// fires or stop is closed.
func (p *Plug) settle(stop <-chan struct{}, deadline *time.Timer) error {
	for {
		p.lock()
		idle := len(p.jobs) == 0 && !p.busy && p.triggers == 0
		last, target := p.lastSeq, p.target
		quiet := time.Since(p.lastEvent)
		changed := p.changed
		queued := len(p.jobs)
		p.unlock()
		if idle && last >= target {
			return nil
		}
		wait := time.Hour
		if idle {
			if quiet >= p.cfg.Quiet {
				p.log.Infof("coldplug: settled by %v of quiet at event %d (kernel at %d when triggered)", p.cfg.Quiet, last, target)
				return nil
			}
			wait = p.cfg.Quiet - quiet
		}
		t := time.NewTimer(wait)
		select {
		case <-changed:
		case <-t.C:
		case <-deadline.C:
			t.Stop()
			return printf.Errorf("%w in %v: at event %d of %d, %d commands queued", ErrSettleTimeout, p.cfg.SettleTimeout, last, target, queued)
		case <-stop:
			t.Stop()
			return ErrStopped
		}
		t.Stop()
	}
}

// FreshDev mounts a new tmpfs on dev, as procd's coldplug does, and makes it
// usable at once: dev/null (c 1 3, mode 0666) first, so that no redirection
// can create it as a regular file; dev/pts with the same devpts instance as
// before (open terminals survive) or a new one; dev/shm -> /tmp/shm. The old
// /dev is detached lazily. log may be nil.
func FreshDev(dev string, log *kmsg.Logger) error {
	pts := filepath.Join(dev, "pts")
	tree := -1
	if isDevpts(dev, pts) {
		// A detached copy of the devpts mount (same instance), attached again
		// under the new /dev below. Needs open_tree (Linux 5.2).
		fd, err := unix.OpenTree(unix.AT_FDCWD, pts, unix.OPEN_TREE_CLONE|unix.OPEN_TREE_CLOEXEC)
		if err == nil {
			tree = fd
		} else if log != nil {
			log.Debugf("coldplug: keeping %s: open_tree: %v", pts, err)
		}
	}
	err := freshDev(dev, pts, tree, log)
	if tree >= 0 {
		unix.Close(tree)
	}
	return err
}

// freshDev is FreshDev once the devpts mount is cloned (tree >= 0) or not.
func freshDev(dev, pts string, tree int, log *kmsg.Logger) error {
	_ = unix.Unmount(pts, unix.MNT_DETACH)
	// EINVAL when dev is not a mount point (an initramfs directory): the new
	// tmpfs simply covers it.
	_ = unix.Unmount(dev, unix.MNT_DETACH)
	if err := unix.Mount("tmpfs", dev, "tmpfs", unix.MS_NOSUID|unix.MS_NOEXEC|unix.MS_NOATIME, "mode=0755,size=512k"); err != nil {
		return printf.Errorf("mount tmpfs on %s: %w", dev, err)
	}
	if err := mknod(dev, "null", unix.S_IFCHR|0o666, unix.Mkdev(1, 3), -1); err != nil {
		return err
	}
	if err := os.Mkdir(pts, 0o755); err != nil {
		return err
	}
	moved := false
	if tree >= 0 {
		if err := unix.MoveMount(tree, "", unix.AT_FDCWD, pts, unix.MOVE_MOUNT_F_EMPTY_PATH); err == nil {
			moved = true
		} else if log != nil {
			log.Debugf("coldplug: keeping %s: move_mount: %v", pts, err)
		}
	}
	if !moved {
		if err := unix.Mount("devpts", pts, "devpts", unix.MS_NOSUID|unix.MS_NOEXEC|unix.MS_NOATIME, "mode=0620,ptmxmode=0666"); err != nil {
			return printf.Errorf("mount devpts on %s: %w", pts, err)
		}
	}
	if err := os.Symlink("/tmp/shm", filepath.Join(dev, "shm")); err != nil {
		return err
	}
	return nil
}

// isDevpts reports whether pts is a devpts mount below dev.
func isDevpts(dev, pts string) bool {
	var sd, sp unix.Stat_t
	var fs unix.Statfs_t
	if unix.Stat(dev, &sd) != nil || unix.Stat(pts, &sp) != nil || unix.Statfs(pts, &fs) != nil {
		return false
	}
	return sd.Dev != sp.Dev && fs.Type == unix.DEVPTS_SUPER_MAGIC
}
