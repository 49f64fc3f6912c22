package hotplug

import (
	"errors"
	"io/fs"
	"os"
	"strings"

	"golang.org/x/sys/unix"
)

// errEscapes is what a name or symbolic link that leads out of its directory
// gets (openat2 says EXDEV).
var errEscapes = errors.New("path escapes from its directory")

// beneath is a directory below which names are resolved without ever leaving
// it: openat2's RESOLVE_BENEATH refuses absolute names, ".." above the
// directory and symbolic links that lead out of it (absolute ones included),
// RESOLVE_NO_MAGICLINKS refuses /proc's magic links. That is the guarantee
// os.Root gives, for a fraction of its code; the *at calls below then work on
// a parent directory opened that way. Without openat2, walk does the same.
type beneath struct {
	_    [0]func() // not comparable: no generated equality function
	path string
	fd   int // O_PATH
}

// openat2 is a variable so that tests can take it away.
var openat2 = unix.Openat2

func openBeneath(path string) (*beneath, error) {
	fd, err := unix.Open(path, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, &fs.PathError{Op: "open", Path: path, Err: err}
	}
	return &beneath{path: path, fd: fd}, nil
}

// Close, error and Plug.failed are kept out of line (go:noinline): each is
// called from several places, and inlined copies cost the binary more than
// the calls do (2.3 KB in all).
//
//go:noinline
func (b *beneath) Close() { unix.Close(b.fd) }

// error is err of op on name as an *fs.PathError naming the full path.
//
//go:noinline
func (b *beneath) error(op, name string, err error) error {
	if err == unix.EXDEV {
		err = errEscapes
	}
	return &fs.PathError{Op: op, Path: b.path + "/" + name, Err: err}
}

// open opens name below the directory; flags get O_CLOEXEC.
func (b *beneath) open(name string, flags int) (int, error) {
	for {
		fd, err := openat2(b.fd, name, &unix.OpenHow{
			Flags:   uint64(flags | unix.O_CLOEXEC),
			Resolve: unix.RESOLVE_BENEATH | unix.RESOLVE_NO_MAGICLINKS,
		})
		if err == unix.EINTR || err == unix.EAGAIN {
			// EAGAIN: a rename raced with ".." resolution; try again.
			continue
		}
		if err == unix.ENOSYS || err == unix.EPERM {
			fd, err = b.walk(name, flags)
		}
		if err != nil {
			return -1, b.error("open", name, err)
		}
		return fd, nil
	}
}

// walk is open for kernels without openat2 (before 5.6, qemu-user, a seccomp
// filter refusing it), with the same result: one component at a time, each
// opened with O_NOFOLLOW after readlinkat has told whether it is a symbolic
// link. A link's relative target is walked in its place, ".." goes back up
// the directories walked, and an absolute target or a ".." above the top is
// refused (EXDEV). The kernel never follows a link here, so /proc's magic
// links lead nowhere; a link swapped in between the readlinkat and the open
// is refused by O_NOFOLLOW.
func (b *beneath) walk(name string, flags int) (int, error) {
	if strings.HasPrefix(name, "/") {
		return -1, unix.EXDEV
	}
	top, err := unix.Openat(b.fd, ".", unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return -1, err
	}
	dirs := []int{top} // the directories walked, top first
	defer func() {
		for _, d := range dirs {
			unix.Close(d)
		}
	}()
	todo := strings.Split(name, "/")
	buf := make([]byte, unix.PathMax)
	for links := 0; ; {
		part := todo[0]
		todo = todo[1:]
		last := len(todo) == 0
		if part == ".." {
			if len(dirs) == 1 {
				return -1, unix.EXDEV
			}
			unix.Close(dirs[len(dirs)-1])
			dirs = dirs[:len(dirs)-1]
			part = "."
		}
		if part == "" || part == "." {
			if !last {
				continue
			}
			part = "."
		}
		dir := dirs[len(dirs)-1]
		if n, err := unix.Readlinkat(dir, part, buf); err == nil {
			if links++; links > 40 || n == len(buf) {
				return -1, unix.ELOOP
			}
			if buf[0] == '/' {
				return -1, unix.EXDEV
			}
			todo = append(strings.Split(string(buf[:n]), "/"), todo...)
			continue
		}
		open := unix.O_PATH | unix.O_DIRECTORY
		if last {
			open = flags
		}
		fd, err := unix.Openat(dir, part, open|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
		if err != nil || last {
			return fd, err
		}
		dirs = append(dirs, fd)
	}
}

// openFile is open as an *os.File.
func (b *beneath) openFile(name string, flags int) (*os.File, error) {
	fd, err := b.open(name, flags)
	if err != nil {
		return nil, err
	}
	return os.NewFile(uintptr(fd), b.path+"/"+name), nil
}

// parent opens the directory holding name (O_PATH) and returns it with name's
// last component. With mkdir, missing directories on the way are made (mode
// 0755 less the umask), each one below the directory, like os.MkdirAll.
func (b *beneath) parent(name string, mkdir bool) (fd int, base string, err error) {
	dir, base := "", name
	if i := strings.LastIndexByte(name, '/'); i >= 0 {
		dir, base = name[:i], name[i+1:]
	}
	if dir == "" {
		dir = "."
	}
	const flags = unix.O_PATH | unix.O_DIRECTORY
	fd, err = b.open(dir, flags)
	if err == nil || !mkdir || !errors.Is(err, unix.ENOENT) {
		return fd, base, err
	}
	// Walk from the top: every step is resolved from b again, so a link on
	// the way is followed only while it stays below b.
	fd, err = b.open(".", flags)
	for i := 0; err == nil && i <= len(dir); i++ {
		if i < len(dir) && dir[i] != '/' {
			continue
		}
		part := dir[strings.LastIndexByte(dir[:i], '/')+1 : i]
		if part == "" {
			continue
		}
		if err := unix.Mkdirat(fd, part, 0o755); err != nil && err != unix.EEXIST {
			unix.Close(fd)
			return -1, base, b.error("mkdir", dir[:i], err)
		}
		unix.Close(fd)
		fd, err = b.open(dir[:i], flags)
	}
	return fd, base, err
}
