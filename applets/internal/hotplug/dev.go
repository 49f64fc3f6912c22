package hotplug

import (
	"bufio"
	"errors"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"

	"toybox-go/applets/internal/uevent"
	"toybox-go/applets/printf"
)

// devName checks the event's own DEVNAME, which the rules paste into paths:
// absolute, "..", NUL are refused whatever the rule makes of them.
func devName(ev *uevent.Event) (string, error) {
	name, ok := ev.Get("DEVNAME")
	if !ok {
		return "", nil
	}
	if strings.HasPrefix(name, "/") || strings.Contains(name, "..") || strings.ContainsRune(name, 0) {
		return name, printf.Errorf("unsafe DEVNAME %q", name)
	}
	return name, nil
}

// makedev carries out [makedev PATH MODE GROUP?].
func (p *Plug) makedev(ev *uevent.Event, args []string) {
	majorS, okMaj := ev.Get("MAJOR")
	minorS, okMin := ev.Get("MINOR")
	subsystem, okSub := ev.Get("SUBSYSTEM")
	if !okMaj || !okMin || !okSub {
		return // procd: no device number, nothing to make
	}
	if len(args) < 2 {
		p.log.Warnf("makedev needs a path and a mode, got %q", args)
		return
	}
	rel, ok := p.devTarget("makedev", ev, args[0])
	if !ok {
		return
	}
	mode, err := strconv.ParseUint(args[1], 8, 32)
	if err != nil || mode > 0o7777 {
		p.log.Errorf("makedev %q: bad mode %q", args[0], args[1])
		return
	}
	major, err1 := strconv.ParseUint(majorS, 10, 32)
	minor, err2 := strconv.ParseUint(minorS, 10, 32)
	if err1 != nil || err2 != nil {
		p.log.Errorf("makedev %q: bad device number %q:%q", args[0], majorS, minorS)
		return
	}
	gid := -1
	if len(args) > 2 && args[2] != "" {
		g, err := lookupGroup(filepath.Join(p.cfg.Etc, "group"), args[2])
		if err != nil {
			p.log.Warnf("makedev %q: group %q: %v; leaving group root", args[0], args[2], err)
		} else {
			gid = g
		}
	}
	typ := uint32(unix.S_IFCHR)
	if subsystem == "block" {
		typ = unix.S_IFBLK
	}
	err = mknod(p.cfg.Dev, rel, typ|uint32(mode), unix.Mkdev(uint32(major), uint32(minor)), gid)
	// An existing node is the normal case (an earlier rule made it, or a
	// replay): left alone, silently, as procd does.
	if err != nil && !errors.Is(err, fs.ErrExist) {
		p.log.Errorf("makedev %q: %v", args[0], err)
	}
}

// mknod makes the node rel below root: parents 0755, mode exactly as given
// whatever the umask, group gid when >= 0. Symbolic links are followed only
// while they stay below root (see beneath), so a DEVNAME that walks a link out
// of /dev makes nothing. An existing name is an fs.ErrExist error.
func mknod(root, rel string, mode uint32, dev uint64, gid int) error {
	return inParent(root, rel, true, func(r *beneath, dir int, base string) error {
		if err := unix.Mknodat(dir, base, mode, int(dev)); err != nil {
			return r.error("mknod", rel, err)
		}
		if err := unix.Fchmodat(dir, base, mode&0o7777, 0); err != nil {
			return r.error("chmod", rel, err)
		}
		if gid >= 0 {
			if err := unix.Fchownat(dir, base, 0, gid, unix.AT_SYMLINK_NOFOLLOW); err != nil {
				return r.error("chown", rel, err)
			}
		}
		return nil
	})
}

// inParent runs op on the directory (O_PATH) holding rel below root, made
// first with mkdir, and on rel's last component; it closes what it opened.
func inParent(root, rel string, mkdir bool, op func(r *beneath, dir int, base string) error) error {
	r, err := openBeneath(root)
	if err != nil {
		return err
	}
	dir, base, err := r.parent(rel, mkdir)
	if err == nil {
		err = op(r, dir, base)
		unix.Close(dir)
	}
	r.Close()
	return err
}

// remove carries out [rm PATH]: unlink, never a directory.
func (p *Plug) remove(ev *uevent.Event, args []string) {
	if len(args) < 1 {
		return
	}
	rel, ok := p.devTarget("rm", ev, args[0])
	if !ok {
		return
	}
	r, err := openBeneath(p.cfg.Dev)
	if err != nil {
		p.log.Errorf("rm %q: %v", args[0], err)
		return
	}
	fd, base, err := r.parent(rel, false)
	if err != nil {
		p.log.Debugf("rm %q: %v", args[0], err)
	} else {
		var st unix.Stat_t
		if err := unix.Fstatat(fd, base, &st, unix.AT_SYMLINK_NOFOLLOW); err != nil {
			p.log.Debugf("rm %q: %v", args[0], r.error("lstat", rel, err))
		} else if st.Mode&unix.S_IFMT == unix.S_IFDIR {
			p.log.Warnf("rm %q: a directory, left alone", args[0])
		} else if err := unix.Unlinkat(fd, base, 0); err != nil {
			p.log.Errorf("rm %q: %v", args[0], r.error("unlink", rel, err))
		}
		unix.Close(fd)
	}
	r.Close()
}

// lookupGroup finds name's gid in an /etc/group file ("name:password:gid:
// members"). Comment and malformed lines are skipped.
func lookupGroup(file, name string) (int, error) {
	f, err := os.Open(file)
	if err != nil {
		return -1, err
	}
	gid, err := findGroup(f, file, name)
	f.Close()
	return gid, err
}

func findGroup(r io.Reader, file, name string) (int, error) {
	sc := bufio.NewScanner(r)
	for n := 1; sc.Scan(); n++ {
		line := sc.Text()
		if line == "" || line[0] == '#' {
			continue
		}
		fields := strings.SplitN(line, ":", 4)
		if len(fields) < 3 || fields[0] != name {
			continue
		}
		gid, err := strconv.ParseUint(fields[2], 10, 31)
		if err != nil {
			return -1, printf.Errorf("%s:%d: bad gid %q", file, n, fields[2])
		}
		return int(gid), nil
	}
	if err := sc.Err(); err != nil {
		return -1, err
	}
	return -1, errors.New("no such group")
}

// devTarget checks a makedev or rm of path for ev (the event's device name and
// path must both stay below /dev) and returns path relative to /dev; a refusal
// is logged.
func (p *Plug) devTarget(verb string, ev *uevent.Event, path string) (string, bool) {
	if _, err := devName(ev); err != nil {
		p.log.Errorf("%s %q refused: %v (%v)", verb, path, err, ev)
		return "", false
	}
	rel, ok := devRel(path)
	if !ok {
		p.log.Errorf("%s %q refused: not a plain name below /dev (%v)", verb, path, ev)
	}
	return rel, ok
}
