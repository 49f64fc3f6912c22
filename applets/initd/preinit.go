package initd

import (
	"os"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"

	"toybox-go/applets/internal/kmsg"
	"toybox-go/applets/selfexec"
)

// preinit runs the preinit shell with its hotplug daemon, as procd's
// preinit(): plugd first (without PREINIT), then PREINIT=1 and /tmp/.preinit,
// `/bin/sh /etc/preinit` waited for, then plugd killed and the markers gone.
func (in *Init) preinit() {
	sh, script := in.path("/bin/sh"), in.path("/etc/preinit")
	if _, err := os.Stat(script); err != nil {
		in.Log.Infof("no %s: preinit skipped", script)
		return
	}
	if _, err := os.Stat(sh); err != nil {
		in.Log.Infof("no %s: cannot run %s, preinit skipped", sh, script)
		return
	}
	in.Log.Infof("- preinit -")
	plugd := 0
	rules := in.path("/etc/hotplug-preinit.json")
	if _, err := os.Stat(rules); err != nil {
		in.Log.Infof("no %s: no hotplug during preinit", rules)
	} else if pid, _, err := in.start("plugd", selfexec.Exe(), []string{"pid2", "-h", rules}, in.env); err != nil {
		in.Log.Errorf("starting the preinit hotplug daemon: %v", err)
	} else {
		plugd = pid
		in.Log.Infof("preinit hotplug daemon: pid2 -h %s (pid %d)", rules, pid)
	}
	in.setenv("PREINIT", "1")
	marker := in.path("/tmp/.preinit")
	if f, err := os.OpenFile(marker, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o600); err != nil {
		in.Log.Errorf("creating %s: %v", marker, err)
	} else {
		f.Close()
	}
	_, done, err := in.start("preinit", sh, []string{"/bin/sh", script}, in.env)
	if err != nil {
		in.Log.Errorf("starting preinit: %v", err)
	} else {
		in.waitFeeding(done, "preinit")
	}
	if plugd != 0 {
		_ = unix.Kill(plugd, unix.SIGKILL)
	}
	in.unsetenv("PREINIT")
	if err := os.Remove(marker); err != nil && !os.IsNotExist(err) {
		in.Log.Errorf("removing %s: %v", marker, err)
	}
}

// waitFeeding waits for a child, logging how it ended (the watchdog is fed by
// its own goroutine meanwhile).
func (in *Init) waitFeeding(done <-chan unix.WaitStatus, what string) {
	st := <-done
	if st.ExitStatus() != 0 || st.Signaled() {
		in.Log.Warnf("%s ended: %s", what, describe(st))
	}
}

// handOff execs oneit (or init.oneit=) with pid2 (or init.pid2=) as its
// policy child. PID 1 stays PID 1. When the exec fails, PID 1 idles.
func (in *Init) handOff() int {
	argv := []string{"oneit", "-3", "-r"}
	if c := in.consoleName(); c != "" {
		argv = append(argv, "-c", c)
	}
	pid2 := in.path("/sbin/pid2")
	v, ok := in.param("init.pid2")
	if ok && v != "" {
		// A typo on the command line must not leave oneit relaunching
		// nothing for ever: the default pid2 it is then.
		if _, err := os.Stat(v); err != nil {
			in.Log.Errorf("init.pid2=%s: %v; running the default pid2", v, err)
			ok = false
		}
	}
	if ok && v != "" {
		pid2 = v
	} else if _, err := os.Stat(pid2); err != nil {
		pid2 = in.pid2Link()
	}
	argv = append(argv, pid2)
	exe := selfexec.Exe()
	if v, ok := in.param("init.oneit"); ok && v != "" {
		exe, argv[0] = v, v
	}
	if n := in.debugLevel(); n > 0 {
		in.setenv("DBGLVL", strconv.Itoa(n))
	}
	if in.wdt != nil {
		in.setenv("WDTFD", strconv.Itoa(in.wdt.fd))
		in.wdt.stop() // the fd stays open across exec; pid2 pings it from now on
	}
	in.Log.Infof("handing over after %v: %s", time.Since(in.started).Round(time.Millisecond), strings.Join(argv, " "))
	err := in.exec(exe, argv)
	in.Log.Errorf("exec %s: %v", exe, err)
	if self := selfexec.Exe(); exe != self {
		// init.oneit= named nothing that runs: our own oneit then.
		argv[0] = "oneit"
		in.Log.Errorf("handing over to this binary's oneit instead: %s", strings.Join(argv, " "))
		err = in.exec(self, argv)
		in.Log.Errorf("exec %s: %v", self, err)
	}
	if in.PID1 {
		in.idle()
	}
	return 1
}

// exec replaces init with path, which keeps PID 1; it returns only on failure.
func (in *Init) exec(path string, argv []string) error {
	in.reaper.mu.Lock() // no reaping between here and the exec
	err := unix.Exec(path, argv, in.env)
	in.reaper.mu.Unlock()
	return err
}

// pid2Link serves a root holding only this binary (no applet symlinks): pid2
// is reached through a symlink in /tmp named pid2 pointing at this binary.
func (in *Init) pid2Link() string {
	link, pid2 := in.path("/tmp/pid2"), in.path("/sbin/pid2")
	exe, err := os.Executable()
	if err == nil {
		_ = os.Remove(link)
		err = os.Symlink(exe, link)
	}
	if err != nil {
		in.Log.Errorf("no %s, and no link to this binary: %v", pid2, err)
		return pid2
	}
	in.Log.Warnf("no %s: running pid2 as %s -> %s", pid2, link, exe)
	return link
}

// consoleName is the last console= of the command line as a /dev path
// ("ttyS0,115200n8" -> /dev/ttyS0), "" when there is none.
func (in *Init) consoleName() string {
	v, ok := in.param("console")
	if !ok || v == "" {
		return ""
	}
	name, _, _ := strings.Cut(v, ",")
	if strings.HasPrefix(name, "/") {
		return name
	}
	return "/dev/" + name
}

// debugLevel hands the failsafe prompt's choice (1-4 in /tmp/debug_level) on.
func (in *Init) debugLevel() int {
	p := in.path("/tmp/debug_level")
	b, err := os.ReadFile(p)
	if err != nil {
		return 0
	}
	_ = os.Remove(p)
	n, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil || n < 1 || n > 4 {
		return 0
	}
	return n
}

// watchdog is /dev/watchdog, opened without close-on-exec so that the fd
// survives into oneit and pid2 (WDTFD), pinged every 5 s until the hand-off.
type watchdog struct {
	fd   int
	quit chan struct{}
}

func openWatchdog(dev string, log *kmsg.Logger) *watchdog {
	fd, err := unix.Open(dev, unix.O_WRONLY, 0) // no O_CLOEXEC, on purpose
	if err != nil {
		if !os.IsNotExist(err) {
			log.Infof("no watchdog: %v", err)
		}
		return nil
	}
	// Move it out of the way of the fds oneit hands pid2 (3 = the PID pipe,
	// 4 = the heartbeat), which would otherwise overwrite it.
	if high, err := unix.FcntlInt(uintptr(fd), unix.F_DUPFD, 10); err == nil {
		unix.Close(fd)
		fd = high
	}
	log.Infof("- watchdog -")
	if err := unix.IoctlSetPointerInt(fd, unix.WDIOC_SETTIMEOUT, 30); err != nil {
		log.Infof("watchdog timeout: %v", err)
	}
	w := &watchdog{fd: fd, quit: make(chan struct{})}
	go func() {
		t := time.NewTicker(5 * time.Second)
		for {
			_, _ = unix.Write(fd, []byte("X"))
			select {
			case <-t.C:
			case <-w.quit:
				t.Stop()
				return
			}
		}
	}()
	return w
}

func (w *watchdog) stop() { close(w.quit) }

// isInitramfs tells whether the root is an initramfs (rootfs, tmpfs or ramfs):
// only then is root= ours to mount and the old root ours to delete.
func (in *Init) isInitramfs() bool {
	var st unix.Statfs_t
	if err := unix.Statfs(in.Root, &st); err != nil {
		return false
	}
	return uint32(st.Type) == unix.RAMFS_MAGIC || uint32(st.Type) == unix.TMPFS_MAGIC
}

// rootOnOwnMount moves / onto a mount of its own (a recursive bind of itself,
// moved over / and chrooted into), because pivot_root(2) refuses the initramfs
// rootfs with EINVAL and mount_root pivots. Done by PID 1 so that every later
// process, mount_root included, starts in the new root.
func (in *Init) rootOnOwnMount() error {
	mnt := "/mnt"
	if err := os.MkdirAll(mnt, 0o755); err != nil {
		return err
	}
	if err := unix.Mount("/", mnt, "", unix.MS_BIND|unix.MS_REC, ""); err != nil {
		return err
	}
	if err := unix.Chdir(mnt); err != nil {
		return err
	}
	if err := unix.Mount(".", "/", "", unix.MS_MOVE, ""); err != nil {
		_ = unix.Chdir("/")
		_ = unix.Unmount(mnt, unix.MNT_DETACH)
		return err
	}
	if err := unix.Chroot("."); err != nil {
		return err
	}
	in.Log.Infof("/ is the initramfs rootfs: moved it onto a mount of its own so that it can be pivoted")
	return unix.Chdir("/")
}
