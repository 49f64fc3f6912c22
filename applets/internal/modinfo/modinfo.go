// Package modinfo knows the kernel modules of one release directory
// (/lib/modules/RELEASE): their names, files, dependencies, soft dependencies,
// aliases and parameters, read from each module's ELF .modinfo section with
// elfsect (OpenWrt ships no modules.dep, nor does Debian's kernel package
// before depmod runs), or from depmod's modules.dep / modules.alias /
// modules.softdep when they are there and not older than the modules.
//
// Names are kept in the kernel's spelling (`-` turned into `_`); every lookup
// treats `-` and `_` as the same. Aliases are glob patterns matched with fnmatch
// rules, so the modalias strings of uevents and the names the kernel passes to
// request_module resolve as they do with kmod.
//
// Nothing here loads anything: the kmodloader applet does that.
package modinfo

import (
	"bytes"
	"errors"
	"io"
	"io/fs"
	"strings"
	"sync"

	"golang.org/x/sys/unix"

	"toybox-go/applets/internal/elfsect"
	"toybox-go/applets/printf"
)

// Field is one key=value string of a .modinfo section, in section order.
type Field struct {
	_          [0]func() // not comparable: no generated equality function
	Key, Value string
}

// maxModinfo bounds the .modinfo section we are willing to read: real ones are a
// few KiB; a hostile header claiming gigabytes must not make us allocate them.
const maxModinfo = 4 << 20

// ErrNoModinfo is returned for an ELF file without a .modinfo section.
var ErrNoModinfo = errors.New("no .modinfo section (not a kernel module)")

// ErrCompressed is returned when the .modinfo of a compressed module is asked
// for: this binary carries no xz/zstd decompressor (the kernel decompresses them
// at load time).
var ErrCompressed = errors.New("compressed module: .modinfo not readable without modules.dep (run depmod)")

// ParseModinfo splits a .modinfo section into its key=value strings. Empty
// strings (alignment padding) and strings without a key are skipped; a string
// without '=' is kept with an empty value.
func ParseModinfo(data []byte) []Field {
	var out []Field
	for len(data) > 0 {
		i := bytes.IndexByte(data, 0)
		var s []byte
		if i < 0 {
			s, data = data, nil
		} else {
			s, data = data[:i], data[i+1:]
		}
		if len(s) == 0 {
			continue
		}
		k, v, _ := strings.Cut(string(s), "=")
		if k == "" {
			continue // "=value": no key, nothing to show
		}
		out = append(out, Field{Key: k, Value: v})
	}
	return out
}

// Compressed reports the compression suffix of a module file name (".xz",
// ".zst", ".gz") or "".
// Kept out of line (go:noinline): inlined at each caller it costs more
// than a call.
//
//go:noinline
func Compressed(path string) string {
	for _, s := range []string{".ko.xz", ".ko.zst", ".ko.gz"} {
		if strings.HasSuffix(path, s) {
			return s[3:]
		}
	}
	return ""
}

// ReadFile reads the .modinfo section of the module file at path. Hostile files
// (truncated, not ELF, absurd section sizes, symlink loops) give an error, never
// a panic.
func ReadFile(path string) (fields []Field, machine elfsect.Machine, err error) {
	if Compressed(path) != "" {
		return nil, 0, printf.Errorf("%s: %w", path, ErrCompressed)
	}
	fd, err := OpenFile(path, 0)
	if err != nil {
		return nil, 0, err
	}
	var st unix.Stat_t
	if err = unix.Fstat(fd, &st); err != nil {
		err = &fs.PathError{Op: "stat", Path: path, Err: err}
	} else if st.Mode&unix.S_IFMT != unix.S_IFREG {
		err = errors.New(path + ": not a regular file")
	} else {
		br := getBlockReader(fdReader(fd), st.Size)
		fields, machine, err = readELF(br, st.Size) // recovers its panics
		putBlockReader(br)
		if err != nil {
			fields, machine, err = nil, 0, printf.Errorf("%s: %w", path, err)
		}
	}
	unix.Close(fd) // no defer: one exit
	return fields, machine, err
}

// OpenFile opens a file (or, with unix.O_DIRECTORY, a directory) for
// reading with open(2), retrying on EINTR; errors read as os.Open's. (No
// os.File: that would register the descriptor with the poller and undo it,
// three more system calls per module, which show under emulation.)
func OpenFile(path string, flags int) (int, error) {
	for {
		fd, err := unix.Open(path, unix.O_RDONLY|unix.O_CLOEXEC|flags, 0)
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return -1, &fs.PathError{Op: "open", Path: path, Err: err}
		}
		return fd, nil
	}
}

// fdReader is io.ReaderAt on a file descriptor, with pread(2).
type fdReader int

func (fd fdReader) ReadAt(p []byte, off int64) (int, error) {
	n := 0
	for n < len(p) {
		m, err := unix.Pread(int(fd), p[n:], off+int64(n))
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return n, err
		}
		if m == 0 {
			return n, io.EOF
		}
		n += m
	}
	return n, nil
}

// ReadBytes is ReadFile on a module image in memory.
func ReadBytes(data []byte) ([]Field, elfsect.Machine, error) {
	return readELF(bytes.NewReader(data), int64(len(data)))
}

func readELF(r io.ReaderAt, size int64) (fields []Field, machine elfsect.Machine, err error) {
	// elfsect is fuzzed and checks every offset, but a parser bug must not
	// take PID 1's helper down: turn any panic into an error all the same.
	defer func() {
		if p := recover(); p != nil {
			fields, err = nil, printf.Errorf("malformed ELF: %v", p)
		}
	}()
	ef, err := elfsect.NewFile(r, size)
	if errors.Is(err, elfsect.ErrNotELF) {
		return nil, 0, errors.New("not an ELF file")
	}
	if err != nil {
		return nil, 0, printf.Errorf("bad ELF (truncated?): %w", err)
	}
	sec, ok := ef.Lookup(".modinfo")
	if !ok || sec.Type == elfsect.SHT_NOBITS {
		return nil, ef.Machine, ErrNoModinfo
	}
	buf, err := ef.ReadSection(sec, maxModinfo)
	if err != nil {
		return nil, ef.Machine, err
	}
	return ParseModinfo(buf), ef.Machine, nil
}

// blockReader caches fixed-size blocks of a file: the ELF reader reads the
// header, the section header table and each section's name separately, one
// system call each; through this it costs one read per block (the index build
// got about three times faster with debug/elf, which read smaller pieces).
// Readers and their blocks are recycled (blockPool): nothing read through one
// outlives ReadFile, the fields are copied out as strings.
type blockReader struct {
	r    int // an fdReader (as an int, fdReader's type descriptor stays out of the binary)
	size int64
	// blocks and idx are the blocks read and their numbers: a list (a module
	// takes a handful of blocks) searched linearly, where a map of this type
	// would be some 450 bytes of binary.
	blocks [][]byte
	idx    []int64
	free   [][]byte // spare blocks of blockSize bytes
}

const blockSize = 4 << 10

var blockPool = sync.Pool{New: func() any { return new(blockReader) }}

func getBlockReader(r fdReader, size int64) *blockReader {
	b := blockPool.Get().(*blockReader)
	b.r, b.size = int(r), size
	return b
}

func putBlockReader(b *blockReader) {
	for _, blk := range b.blocks {
		b.free = append(b.free, blk[:cap(blk)])
	}
	clear(b.blocks) // drop the references
	b.blocks, b.idx = b.blocks[:0], b.idx[:0]
	b.r = -1
	blockPool.Put(b)
}

func (b *blockReader) ReadAt(p []byte, off int64) (int, error) {
	if off < 0 {
		return 0, errors.New("negative offset")
	}
	n := 0
	for n < len(p) {
		pos := off + int64(n)
		if pos >= b.size {
			return n, io.EOF
		}
		idx := pos / blockSize
		var blk []byte
		for i, x := range b.idx {
			if x == idx {
				blk = b.blocks[i]
				break
			}
		}
		if blk == nil {
			start := idx * blockSize
			l := int64(blockSize)
			if start+l > b.size {
				l = b.size - start
			}
			if k := len(b.free); k > 0 {
				blk, b.free = b.free[k-1][:l], b.free[:k-1]
			} else {
				blk = make([]byte, l, blockSize)
			}
			m, err := fdReader(b.r).ReadAt(blk, start)
			if m < len(blk) {
				b.free = append(b.free, blk[:cap(blk)])
				if err == nil {
					err = io.ErrUnexpectedEOF
				}
				return n, err
			}
			b.blocks, b.idx = append(b.blocks, blk), append(b.idx, idx)
		}
		c := copy(p[n:], blk[pos-idx*blockSize:])
		n += c
	}
	return n, nil
}
