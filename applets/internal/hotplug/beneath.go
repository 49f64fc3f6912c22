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
// a parent directory opened that way. Without openat2 (Linux before 5.6, or a
// seccomp filter refusing it) see walk.
type beneath struct {
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

func (b *beneath) Close() { unix.Close(b.fd) }

// error is err of op on name as an *fs.PathError naming the full path.
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

// walk is open for kernels without openat2: one component at a time, never
// "..", never following a symbolic link, so that nothing leads out, at the
// price of refusing the links that stay inside too.
func (b *beneath) walk(name string, flags int) (int, error) {
	if strings.HasPrefix(name, "/") {
		return -1, unix.EXDEV
	}
	parts := strings.Split(name, "/")
	fd, err := unix.Openat(b.fd, ".", unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	for i, part := range parts {
		if err != nil {
			break
		}
		if part == ".." {
			unix.Close(fd)
			return -1, unix.EXDEV
		}
		next := unix.O_PATH | unix.O_DIRECTORY
		if i == len(parts)-1 {
			next = flags
		}
		dir := fd
		fd, err = unix.Openat(dir, part, next|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
		unix.Close(dir)
	}
	return fd, err
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
