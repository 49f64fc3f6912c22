package initd

import (
	"os"
	"os/signal"
	"path/filepath"
	"sync"
	"time"

	"golang.org/x/sys/unix"

	"toybox-go/applets/internal/dirlist"
	"toybox-go/applets/internal/fsroot"
	"toybox-go/applets/internal/mnt"
)

// earlyMount is one row of procd's early() table (spec 2.2).
type earlyMount struct {
	source, target, fstype, data string
	flags                        uintptr
	optional                     bool // failure is normal (efivars on a non-EFI machine)
}

var earlyMounts = []earlyMount{
	{"proc", "/proc", "proc", "", unix.MS_NODEV | unix.MS_NOEXEC | unix.MS_NOSUID | unix.MS_RELATIME, false},
	{"sysfs", "/sys", "sysfs", "", unix.MS_NODEV | unix.MS_NOEXEC | unix.MS_NOSUID | unix.MS_RELATIME, false},
	{"efivars", "/sys/firmware/efi/efivars", "efivarfs", "", unix.MS_NODEV | unix.MS_NOEXEC | unix.MS_NOSUID | unix.MS_RELATIME, true},
	{"cgroup2", "/sys/fs/cgroup", "cgroup2", "nsdelegate", unix.MS_NODEV | unix.MS_NOEXEC | unix.MS_NOSUID | unix.MS_RELATIME, false},
	{"tmpfs", "/dev", "tmpfs", "mode=0755,size=512K", unix.MS_NOEXEC | unix.MS_NOSUID | unix.MS_RELATIME, false},
	{"devpts", "/dev/pts", "devpts", "", unix.MS_NOEXEC | unix.MS_NOSUID | unix.MS_RELATIME, false},
}

// early does procd's early(): mounts (not in a container), /dev nodes, the
// console, /tmp and its directories, /run and /var, PATH. Every failure is
// logged and the boot goes on.
func (in *Init) early() {
	old := unix.Umask(0)
	defer unix.Umask(old)
	if in.container() {
		in.Log.Infof("in a container: no early mounts")
	} else {
		for i := range earlyMounts {
			m := &earlyMounts[i]
			in.earlyMount(m)
			if m.target == "/dev" {
				in.symlink("/tmp/shm", "/dev/shm")
				in.mkdir("/dev/pts", 0o755)
				in.mknodNull()
			}
		}
		sys := in.path("/sys")
		n := MakeDevNodes(sys, in.path("/dev"), in.Log.Debugf)
		in.Log.Infof("created %d device nodes from %s/dev", n, sys)
	}
	in.console()
	if err := in.mountOn("/tmp", "tmpfs", "tmpfs", "mode=01777", unix.MS_NOSUID|unix.MS_NODEV|unix.MS_NOATIME); err != nil {
		in.Log.Errorf("mounting /tmp: %v", err)
	}
	in.mkdir("/tmp/shm", 0o1777)
	for _, d := range []string{"/tmp/run", "/tmp/lock", "/tmp/state"} {
		in.mkdir(d, 0o755)
	}
	in.runAndVar()
	in.setenv("PATH", "/usr/sbin:/usr/bin:/sbin:/bin")
	_ = os.Setenv("PATH", "/usr/sbin:/usr/bin:/sbin:/bin")
	in.Log.Infof("Console is alive")
}

func (in *Init) earlyMount(m *earlyMount) {
	target := in.path(m.target)
	if m.optional {
		if _, err := os.Stat(target); err != nil {
			return // no EFI: no efivars directory in sysfs
		}
	}
	if err := in.mountOn(m.target, m.source, m.fstype, m.data, m.flags); err != nil {
		if m.optional {
			in.Log.Debugf("mounting %s: %v", target, err)
		} else {
			in.Log.Errorf("mounting %s on %s: %v", m.fstype, target, err)
		}
	}
}

// mountOn mounts source on p below Root, making the directory first; when
// that fails, its error is returned and nothing is mounted.
func (in *Init) mountOn(p, source, fstype, data string, flags uintptr) error {
	dir := in.path(p)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	return mnt.Mount(source, dir, fstype, data, flags)
}

// mkdir makes p with the raw mode bits (01777 included) under umask 0.
func (in *Init) mkdir(p string, mode uint32) {
	dir := in.path(p)
	if err := unix.Mkdir(dir, mode); err != nil && err != unix.EEXIST {
		in.Log.Errorf("mkdir %s: %v", dir, err)
		return
	}
	_ = unix.Chmod(dir, mode)
}

func (in *Init) symlink(target, p string) {
	link := in.path(p)
	if err := os.Symlink(target, link); err != nil && !os.IsExist(err) {
		in.Log.Errorf("symlink %s: %v", link, err)
	}
}

// mknodNull makes /dev/null (c 1:3, 0666) before anything else can write there
// and leave a regular file (procd PR #27).
func (in *Init) mknodNull() {
	p := in.path("/dev/null")
	if err := unix.Mknod(p, unix.S_IFCHR|0o666, int(unix.Mkdev(1, 3))); err != nil && err != unix.EEXIST {
		in.Log.Errorf("mknod %s: %v", p, err)
	}
}

// MakeDevNodes creates a node in dev for every MAJ:MIN link in sys/dev/block
// and sys/dev/char, named after the link target's base name, mode 0600, as
// procd's mkdev("*", 0600). Existing nodes are kept. It returns how many it
// made.
func MakeDevNodes(sys, dev string, logf func(string, ...any)) int {
	made := 0
	for _, kind := range []struct {
		dir  string
		mode uint32
	}{{"block", unix.S_IFBLK}, {"char", unix.S_IFCHR}} {
		dir := filepath.Join(sys, "dev", kind.dir)
		ents, err := dirlist.Read(dir)
		if err != nil {
			logf("reading %s: %v", dir, err)
			continue
		}
		for _, e := range ents {
			maj, min, ok := fsroot.ParseDev(e.Name())
			if !ok || e.Type()&os.ModeSymlink == 0 {
				continue
			}
			target, err := os.Readlink(filepath.Join(dir, e.Name()))
			if err != nil {
				continue
			}
			p := filepath.Join(dev, filepath.Base(target))
			if err := unix.Mknod(p, kind.mode|0o600, int(unix.Mkdev(maj, min))); err == nil {
				made++
			} else if err != unix.EEXIST {
				logf("mknod %s: %v", p, err)
			}
		}
	}
	return made
}

// console puts the console on fds 0 (read) and 1, 2 (write), each opened with
// O_NOCTTY so PID 1 never gets a controlling terminal (Ctrl-C on a serial
// console must not reboot the box); /dev/null for an fd whose open fails.
func (in *Init) console() {
	c := in.Console
	if c == "" {
		c = in.path("/dev/console")
	}
	if _, err := os.Stat(c); err != nil {
		in.Log.Errorf("no console %s: %v", c, err)
		return
	}
	for fd, flags := range []int{unix.O_RDONLY, unix.O_WRONLY, unix.O_WRONLY} {
		nfd, err := unix.Open(c, flags|unix.O_NOCTTY, 0)
		if err != nil {
			nfd, err = unix.Open(in.path("/dev/null"), flags|unix.O_NOCTTY, 0)
			if err != nil {
				continue
			}
		}
		if nfd != fd {
			_ = unix.Dup3(nfd, fd, 0)
			unix.Close(nfd)
		}
	}
}

// runAndVar gives pid2 its state directory: /var is a symlink to /tmp and /run
// one to /tmp/run when the root has neither (as OpenWrt images have them); an
// existing /run directory gets a tmpfs.
func (in *Init) runAndVar() {
	if fi, err := os.Lstat(in.path("/run")); err == nil && fi.IsDir() {
		if err := mnt.Mount("tmpfs", in.path("/run"), "tmpfs", "mode=0755", unix.MS_NOSUID|unix.MS_NODEV|unix.MS_RELATIME); err != nil {
			in.Log.Errorf("mounting /run: %v", err)
		}
	} else if os.IsNotExist(err) {
		in.symlink("/tmp/run", "/run")
	}
	if _, err := os.Lstat(in.path("/var")); os.IsNotExist(err) {
		in.symlink("/tmp", "/var")
	}
}

// reaper reaps every child of PID 1 (orphans included) and hands the status
// of the ones init started to whoever waits for them.
type reaper struct {
	mu      sync.Mutex
	waiters map[int]chan unix.WaitStatus
	chld    chan os.Signal
}

func newReaper() *reaper {
	r := &reaper{waiters: map[int]chan unix.WaitStatus{}, chld: make(chan os.Signal, 1)}
	signal.Notify(r.chld, unix.SIGCHLD)
	return r
}

func (r *reaper) run() {
	tick := time.NewTicker(time.Second) // a lost SIGCHLD costs at most a second; never stopped
	for {
		select {
		case <-r.chld:
		case <-tick.C:
		}
		r.reap()
	}
}

func (r *reaper) reap() {
	r.mu.Lock()
	for {
		var st unix.WaitStatus
		pid, err := unix.Wait4(-1, &st, unix.WNOHANG, nil)
		if pid <= 0 || err != nil {
			break
		}
		if ch, ok := r.waiters[pid]; ok {
			ch <- st // buffered for this one status: never blocks
			delete(r.waiters, pid)
		}
	}
	r.mu.Unlock()
}

// expect registers pid before it can be reaped (r.mu is held by the caller)
// and returns the channel that gets its wait status.
func (r *reaper) expect(pid int) chan unix.WaitStatus {
	ch := make(chan unix.WaitStatus, 1)
	r.waiters[pid] = ch
	return ch
}
