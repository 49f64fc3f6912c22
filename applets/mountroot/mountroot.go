// Package mountroot is mount_root: it makes OpenWrt's writable data volume
// (rootfs_data) the upper layer of an overlay over the read-only root, the way
// fstools' mount_root does, and says loudly when it has to fall back to RAM.
package mountroot

import (
	"errors"
	"io"
	"os"
	"path/filepath"
	"time"

	"golang.org/x/sys/unix"

	"toybox-go/applets/internal/fsroot"
	"toybox-go/applets/internal/getopt"
	"toybox-go/applets/internal/kmsg"
	"toybox-go/applets/internal/superblock"
	"toybox-go/applets/printf"
)

// Usage is printed by --help.
const Usage = `usage: mount_root [-f] [-n NAME] [start [MOUNTOPTS] | ram | done | stop]

Make the writable data volume part of the root file system, as OpenWrt's
fstools mount_root does. start (the default; only in preinit: PREINIT=1 or
/tmp/.preinit) finds the volume named rootfs_data: FIT /dev/fitrw, GPT
partition name, ext4/f2fs/btrfs label, UBI volume (ubifs), MTD partition
(jffs2), else the space after a squashfs/EROFS root image on its disk (x86
images); kernel options fstools_overlay_name= and fstools_overlay_fstype=.
It formats the volume when it is empty or marked 0xdeadc0de (on flash the
kernel's jffs2 or ubifs formats it as it is mounted; a 0xdeadc0de partition
that jffs2 refuses is erased first), mounts it on /overlay, wipes it
unless a boot has reached "mount_root done" since it was made, and pivots to
an overlay of / with the old root on /rom. An extroot in /etc/config/fstab (an
enabled "config mount" with target /overlay or /, by uuid, label or device;
the data volume's saved config first) puts the overlay, or the whole root, on
that device instead. Without a usable volume the overlay lives in RAM, and it
says so: settings will not persist. ram makes a RAM overlay; done marks the
overlay on /overlay trusted (.fs_state 2); stop does nothing. MOUNTOPTS are
used to remount the root read-write when there is no data volume.

-f       run start outside preinit
-n NAME  volume name (default rootfs_data, or fstools_overlay_name=)`

// Mounter carries out the modes.
type Mounter struct {
	*fsroot.System
	Log     *kmsg.Logger
	Console io.Writer // where loud warnings also go (the preinit console)
	Force   bool
	Name    string // volume name, "" for the default
	Getenv  func(string) string
}

// Main runs mount_root.
func Main(args []string) int {
	fs := getopt.New("mount_root", Usage, os.Stderr)
	force := fs.Bool("f")
	name := fs.String("n", "")
	if err := fs.Parse(args[1:]); err != nil {
		return 1
	}
	log := kmsg.New("mount_root")
	sys := fsroot.Default()
	sys.Logf = log.Infof
	m := &Mounter{System: sys, Log: log, Force: *force, Name: *name, Getenv: os.Getenv}
	if log.ToKmsg() {
		m.Console = os.Stderr // kmsg may not reach the console: say it there too
	}
	mode, rest := "start", fs.Args()
	if len(rest) > 0 {
		mode, rest = rest[0], rest[1:]
	}
	switch mode {
	case "start":
		opts := ""
		if len(rest) > 0 {
			opts = rest[0]
		}
		t0 := time.Now()
		code := m.Start(opts)
		log.Infof("start took %v", time.Since(t0).Round(time.Microsecond))
		return code
	case "ram":
		return m.RAM("asked for (mount_root ram)")
	case "done":
		return m.Done()
	case "stop":
		return 0
	}
	printf.Fprintf(os.Stderr, "mount_root: unknown mode %q\n%s\n", mode, Usage)
	return 1
}

func (m *Mounter) name() string {
	if m.Name != "" {
		return m.Name
	}
	if v, ok := m.Param("fstools_overlay_name"); ok && v != "" {
		return v
	}
	return fsroot.DataName
}

// InPreinit reports whether the preinit markers are there.
func (m *Mounter) InPreinit() bool {
	if m.Getenv != nil && m.Getenv("PREINIT") == "1" {
		return true
	}
	_, err := os.Stat(m.Path("/tmp/.preinit"))
	return err == nil
}

// Start is `mount_root start`.
func (m *Mounter) Start(opts string) int {
	if !m.InPreinit() && !m.Force {
		// Checked before looking for the volume (fstools looks first): finding
		// it can set up loop devices, which a refused start should not leave.
		printf.Fprintln(os.Stderr, "mount_root: start runs only during preinit (PREINIT=1 or /tmp/.preinit); -f forces it")
		return 1
	}
	name := m.name()
	v, findErr := m.FindVolume(name)
	if m.RootIsOverlay() {
		m.Log.Noticef("/ is already an overlay: nothing to do")
		return 0
	}
	if ok, err := m.Extroot(""); ok {
		m.Log.Noticef("switched to extroot")
		return 0
	} else if err != nil {
		m.Log.Errorf("%v", err)
	}
	if v == nil {
		if m.RootPersistent(opts) {
			m.Log.Noticef("no %s volume: running on the writable root file system", name)
			return 0
		}
		return m.RAM(printf.Sprintf("no volume named %s found", name))
	}
	m.Log.Infof("%s is %s", name, v)
	if findErr != nil {
		return m.RAM(findErr.Error())
	}
	switch {
	case v.Info.Type.NeedsFormat() && v.Driver != "mtd" && v.Driver != "ubi":
		if _, err := m.Format(v); err != nil {
			return m.RAM(printf.Sprintf("%s is not formatted and could not be: %v", v.Device, err))
		}
	case v.Info.Type == superblock.Unknown && v.Driver != "mtd":
		// fstools formats whatever it does not recognise; a corrupt superblock
		// may still be someone's data, so we leave it alone.
		return m.RAM(printf.Sprintf("%s holds no file system we know (a damaged superblock?); not formatting it: erase it (zeros or 0xdeadc0de) to have it formatted", v.Device))
	}
	if _, err := m.MountData(v); errors.Is(err, fsroot.ErrExtrootDone) {
		m.Log.Noticef("switched to extroot")
		return 0
	} else if err != nil {
		return m.RAM(err.Error())
	}
	m.Log.Noticef("switching to %s overlay on %s", v.MountType(), v.Device)
	if err := m.FOPivot("/overlay", "/rom"); err != nil {
		_ = unix.Unmount(m.Path("/overlay"), unix.MNT_DETACH)
		return m.RAM(printf.Sprintf("switching to the %s overlay failed: %v", v.MountType(), err))
	}
	return 0
}

// RAM makes a RAM overlay the root, never silently.
func (m *Mounter) RAM(why string) int {
	msg := printf.Sprintf("WARNING: using a RAM overlay (%s): changes and settings will NOT persist across a reboot", why)
	m.Log.Warnf("%s", msg)
	if m.Console != nil {
		printf.Fprintf(m.Console, "mount_root: %s\n", msg)
	}
	if err := m.RAMOverlay(); err != nil {
		m.Log.Errorf("RAM overlay failed: %v; the root stays as it is", err)
		if m.Console != nil {
			printf.Fprintf(m.Console, "mount_root: RAM overlay failed: %v; the root stays as it is\n", err)
		}
		return 1
	}
	return 0
}

// Done is `mount_root done`: the boot got this far, so the overlay on
// /overlay (the data volume, or an extroot) is trusted from now on.
func (m *Mounter) Done() int {
	dir := m.Path("/overlay")
	if !fsroot.IsMountPoint(dir) {
		msg := "nothing is mounted on /overlay (the root is in RAM or on no data volume): nothing to mark"
		if v, _ := m.FindVolume(m.name()); v != nil && !fsroot.IsPersistentFS(v.Info.Type) {
			msg = printf.Sprintf("%s (%s) is not formatted yet: the overlay stays in RAM until a boot formats it", v.Device, v.Type())
		}
		m.Log.Warnf("%s", msg)
		printf.Fprintln(os.Stderr, "mount_root:", msg)
		return 1
	}
	if err := fsroot.WriteState(dir, fsroot.Ready); err != nil {
		printf.Fprintln(os.Stderr, "mount_root:", err)
		return 1
	}
	unix.Sync()
	m.Log.Infof("overlay marked ready (%s)", filepath.Join(dir, ".fs_state"))
	return 0
}
