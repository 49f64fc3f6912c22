package rules

import (
	"errors"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"

	"toybox-go/applets/printf"
)

// MaxFileSize bounds one rules file (OpenWrt's hotplug.json is 2 KiB).
const MaxFileSize = 4 << 20

// Script is a compiled rules file with the files it includes. It is
// read-only after loading: Run may be called from several goroutines at
// once, provided Root and Fallback are set before the first Run.
type Script struct {
	// Root is the directory under which isdir looks; "" or "/" means the
	// real root, where a path is used exactly as the rule spells it.
	Root string

	// Fallback supplies a variable that the event does not carry, as
	// libubox's handle_var hook does. Parse and LoadFile set it to
	// ProcdFallback, procd's rule; set it to nil for plain json_script.
	Fallback func(vars map[string]string, name string) (string, bool)

	name       string
	main       *file
	files      []*file
	warnings   []error
	hasInclude bool
}

// file is one loaded rules file; id indexes the per-run include guard.
type file struct {
	_       [0]func() // not comparable: no generated equality function
	id      int
	path    string
	body    *stmt
	loading bool
}

// ProcdFallback is procd's variable fallback: DEVNAME and DEVICENAME,
// when the event has none, are the last component of DEVPATH. So
// ["has", "DEVNAME"] holds for every event with a DEVPATH.
func ProcdFallback(vars map[string]string, name string) (string, bool) {
	if name != "DEVNAME" && name != "DEVICENAME" {
		return "", false
	}
	p, ok := vars["DEVPATH"]
	if !ok {
		return "", false
	}
	return p[strings.LastIndexByte(p, '/')+1:], true
}

// Name is the name the script was loaded under.
func (s *Script) Name() string { return s.name }

// Files lists the files loaded, the main one first, then the includes.
func (s *Script) Files() []string {
	names := make([]string, len(s.files))
	for i, f := range s.files {
		names[i] = f.path
	}
	return names
}

// Warnings are the problems found while loading, each a *Error naming
// file:line. Each one cost at most the rule it is in; the rest runs.
// Kept out of line (go:noinline): its two inlined copies, each with the
// slice copy, cost the binary more than the calls.
//
//go:noinline
func (s *Script) Warnings() []error { return slices.Clone(s.warnings) }

// LoadFile reads and compiles a rules file and the files it includes.
// The error, a *Error, is returned only when the file itself cannot be
// read or is not JSON whose top level is an array.
func LoadFile(path string) (*Script, error) {
	data, err := readLimited(path)
	if err != nil {
		return nil, &Error{File: path, Msg: "cannot read rules", Err: err}
	}
	return Parse(path, data)
}

// Parse compiles rules from data; name is used in messages and as the
// base for relative includes (which are read from disk).
func Parse(name string, data []byte) (*Script, error) {
	l := &loader{s: &Script{name: name, Fallback: ProcdFallback}, byPath: map[string]*file{}}
	f, err := l.compile(name, data)
	if err != nil {
		return nil, err
	}
	l.s.main = f
	l.s.hasInclude = l.hasInclude
	return l.s, nil
}

// readLimited reads a regular file of at most MaxFileSize bytes. It opens
// without blocking and refuses anything else, so a rule naming a FIFO or
// a device cannot hang or flood the loader.
func readLimited(path string) ([]byte, error) {
	fd, err := os.OpenFile(path, os.O_RDONLY|syscall.O_NONBLOCK, 0)
	if err != nil {
		return nil, err
	}
	data, err := readRegular(fd)
	fd.Close()
	return data, err
}

// readRegular is readLimited once the file is open.
func readRegular(fd *os.File) ([]byte, error) {
	fi, err := fd.Stat()
	if err != nil {
		return nil, err
	}
	if !fi.Mode().IsRegular() {
		return nil, printf.Errorf("not a regular file (%s)", fi.Mode().Type())
	}
	data, err := io.ReadAll(io.LimitReader(fd, MaxFileSize+1))
	if err != nil {
		return nil, err
	}
	if len(data) > MaxFileSize {
		return nil, printf.Errorf("larger than %d bytes", MaxFileSize)
	}
	return data, nil
}

type loader struct {
	s          *Script
	byPath     map[string]*file
	hasInclude bool
}

func (l *loader) warn(path string, line int, msg string) {
	l.s.warnings = append(l.s.warnings, &Error{File: path, Line: line, Msg: msg})
}

func (l *loader) compile(path string, data []byte) (*file, error) {
	warn := func(line int, msg string) { l.warn(path, line, msg) }
	v, err := parseJSON(data, warn)
	if err != nil {
		// parseJSON returns its *syntaxError as is: a type assertion does,
		// without errors.As's reflection.
		if se, ok := err.(*syntaxError); ok {
			return nil, &Error{File: path, Line: se.line, Msg: "not valid JSON: " + se.msg}
		}
		return nil, &Error{File: path, Msg: "not valid JSON", Err: err}
	}
	if v.kind != kArray {
		return nil, &Error{File: path, Line: v.line, Msg: printf.Sprintf("the top level is a %s, not an array of rules", v.kind)}
	}
	f := &file{id: len(l.s.files), path: path, loading: true}
	l.s.files = append(l.s.files, f)
	l.byPath[key(path)] = f
	c := &compiler{l: l, f: f, warn: warn}
	f.body = c.block(v)
	f.loading = false
	return f, nil
}

// include finds or loads the file an include names. libubox opens the
// name as given (procd runs in /); a relative name is looked up beside
// the including file first, so a rules directory can be moved as a whole.
func (l *loader) include(from *file, name string) (*file, error) {
	if name == "" {
		return nil, errors.New("empty file name")
	}
	path := name
	if !filepath.IsAbs(name) {
		beside := filepath.Join(filepath.Dir(from.path), name)
		if _, err := os.Stat(beside); err == nil {
			path = beside
		}
	}
	if f, ok := l.byPath[key(path)]; ok {
		return f, nil
	}
	data, err := readLimited(path)
	if err != nil {
		return nil, err
	}
	f, err := l.compile(path, data)
	if err != nil {
		return nil, err
	}
	return f, nil
}

// key identifies a file for the include cache whatever the spelling.
func key(path string) string {
	if abs, err := filepath.Abs(path); err == nil {
		return abs
	}
	return filepath.Clean(path)
}
