// Package command starts child processes and waits for them: the part of
// os/exec this binary uses, built on os.StartProcess.
//
// os/exec drags context, internal/godebug and its own goroutine and
// timeout machinery into every binary that imports it; the applets only start
// a program with some files, an environment and process attributes, then
// wait for its exit status. A Cmd behaves like exec.Cmd for those fields:
// nil Stdin/Stdout/Stderr is /dev/null, an *os.File is handed to the child as
// is, any other reader or writer goes through a pipe that Wait drains.
package command

import (
	"bytes"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"

	"golang.org/x/sys/unix"

	"toybox-go/applets/internal/iocopy"
)

// ErrNotFound is the error of a PATH search that found no executable file.
var ErrNotFound = errors.New("executable file not found in $PATH")

// ErrDot is the error of a PATH search that found an executable only through
// a relative element of PATH ("." or an empty one), which os/exec refuses too:
// running ./prog because someone typed prog is a classic trap.
var ErrDot = errors.New("cannot run executable found relative to current directory")

// Error is the error of LookPath: the name looked up and why it failed.
type Error struct {
	Name string
	Err  error
	_    [0]func() // not comparable: no generated equality function
}

func (e *Error) Error() string { return "exec: " + strconv.Quote(e.Name) + ": " + e.Err.Error() }

func (e *Error) Unwrap() error { return e.Err }

// ExitError is Wait's error for a child that exited with a non-zero status or
// was killed by a signal. The embedded ProcessState gives ExitCode, Exited,
// Sys (the syscall.WaitStatus) and String.
type ExitError struct {
	*os.ProcessState
}

func (e *ExitError) Error() string { return e.ProcessState.String() }

// LookPath finds an executable regular file like execvp: a name holding a
// slash is checked and used as is; otherwise each element of $PATH is tried
// in order, an empty element meaning the current directory. A match found
// only relative to the current directory is returned with an error wrapping
// ErrDot, as os/exec does by default.
func LookPath(name string) (string, error) {
	p, err := name, error(nil)
	if strings.Contains(name, "/") {
		if err = executable(name); err != nil {
			p = ""
		}
	} else {
		p, err = "", ErrNotFound
		for _, dir := range filepath.SplitList(os.Getenv("PATH")) {
			if dir == "" {
				dir = "."
			}
			if q := filepath.Join(dir, name); executable(q) == nil {
				p, err = q, nil
				if !filepath.IsAbs(q) {
					err = ErrDot
				}
				break
			}
		}
	}
	if err != nil {
		return p, &Error{Name: name, Err: err}
	}
	return p, nil
}

// executable reports why path cannot be executed: nil for a regular file this
// process may execute.
func executable(path string) error {
	fi, err := os.Stat(path)
	if err != nil {
		return err
	}
	if fi.IsDir() {
		return syscall.EISDIR
	}
	if !fi.Mode().IsRegular() {
		return syscall.EACCES
	}
	// The raw faccessat2 (Linux 5.8): unix.Faccessat's emulation for older
	// kernels costs more binary than the mode check below, which is what
	// it comes to for root anyway. EPERM: a seccomp filter refusing it.
	err = unix.Faccessat2(unix.AT_FDCWD, path, unix.X_OK, unix.AT_EACCESS)
	if err != unix.ENOSYS && err != unix.EPERM {
		return err
	}
	if fi.Mode()&0o111 == 0 {
		return os.ErrPermission
	}
	return nil
}

// Cmd is a program to run. Build it with Command or fill in Path and Args.
type Cmd struct {
	Path string   // the program; Command resolves a name without a slash
	Args []string // argv, including argv[0]; empty means {Path}
	Env  []string // nil: this process's environment; a later KEY= wins
	Dir  string   // working directory; empty: this process's (PWD is left as it is, unlike os/exec)

	// nil: /dev/null. *os.File: given to the child. Anything else: through a
	// pipe, copied by a goroutine that Wait waits for. When Stdout and
	// Stderr are the same value the child gets one descriptor for both.
	Stdin  io.Reader
	Stdout io.Writer
	Stderr io.Writer

	ExtraFiles  []*os.File // fds 3, 4, ... in the child
	SysProcAttr *syscall.SysProcAttr

	Process      *os.Process      // set by Start
	ProcessState *os.ProcessState // set by Wait

	// Err is Command's failure to find Path; Start returns it.
	Err error

	closeAfterStart []io.Closer // the child's ends of pipes, /dev/null
	closeAfterWait  []io.Closer // our ends of pipes
	copies          []func()    // each sends its error to copyDone
	copyDone        chan error
	waited          bool
}

// Command returns a Cmd running name with args (argv[0] = name). A name
// without a slash is searched in $PATH with LookPath; when that fails, Start
// returns the error.
func Command(name string, args ...string) *Cmd {
	c := &Cmd{Path: name, Args: append([]string{name}, args...)}
	if !strings.Contains(name, "/") {
		p, err := LookPath(name)
		if p != "" {
			c.Path = p
		}
		c.Err = err
	}
	return c
}

// Start starts the program and returns at once; call Wait to release its
// resources. Errors name the program.
func (c *Cmd) Start() error {
	if c.Process != nil {
		return c.misuse("already started")
	}
	if c.Err != nil {
		c.closeAll()
		return c.Err
	}
	if c.Path == "" {
		c.closeAll()
		return errors.New("command: no program to run")
	}
	stdin, err := c.input()
	var stdout, stderr *os.File
	if err == nil {
		stdout, err = c.output(c.Stdout)
	}
	if err == nil {
		stderr = stdout // 2>&1: one descriptor, output in the order written
		if c.Stderr == nil || !sameWriter(c.Stderr, c.Stdout) {
			stderr, err = c.output(c.Stderr)
		}
	}
	if err != nil {
		c.closeAll()
		return err
	}
	files := append([]*os.File{stdin, stdout, stderr}, c.ExtraFiles...)
	args := c.Args
	if len(args) == 0 {
		args = []string{c.Path}
	}
	var env []string
	if c.Env != nil {
		env = dedupEnv(c.Env)
	}
	p, err := os.StartProcess(c.Path, args, &os.ProcAttr{Dir: c.Dir, Env: env, Files: files, Sys: c.SysProcAttr})
	if err != nil {
		c.closeAll()
		return err // an *os.PathError naming the program
	}
	c.Process = p
	closeEach(c.closeAfterStart)
	c.closeAfterStart = nil
	if len(c.copies) > 0 {
		c.copyDone = make(chan error, len(c.copies))
		for _, copy := range c.copies {
			go copy()
		}
	}
	return nil
}

// Wait waits for the program to exit and for the copies to and from its
// pipes to finish, then closes our ends of them. A non-zero exit or a killing
// signal is an *ExitError; an error of Process.Wait (ECHILD when someone else
// reaped the child) is returned as is, with ProcessState nil.
func (c *Cmd) Wait() error {
	if c.Process == nil {
		return c.misuse("not started")
	}
	if c.waited {
		return c.misuse("Wait was already called")
	}
	c.waited = true
	state, err := c.Process.Wait()
	c.ProcessState = state
	if err == nil && !state.Success() {
		err = &ExitError{state}
	}
	var copyErr error
	for range c.copies {
		if e := <-c.copyDone; e != nil && copyErr == nil {
			copyErr = e
		}
	}
	closeEach(c.closeAfterWait)
	c.closeAfterWait = nil
	if err != nil {
		return err
	}
	return copyErr
}

// Run starts the program and waits for it.
func (c *Cmd) Run() error {
	if err := c.Start(); err != nil {
		return err
	}
	return c.Wait()
}

// CombinedOutput runs the program and returns what it wrote to stdout and
// stderr, in the order written.
func (c *Cmd) CombinedOutput() ([]byte, error) {
	if c.Stdout != nil || c.Stderr != nil {
		return nil, c.misuse("Stdout or Stderr already set")
	}
	var b bytes.Buffer
	c.Stdout, c.Stderr = &b, &b
	err := c.Run()
	return b.Bytes(), err
}

// StdoutPipe returns a pipe from the program's stdout. Wait closes it once
// the program has exited, so read everything before calling Wait.
func (c *Cmd) StdoutPipe() (io.ReadCloser, error) {
	if c.Stdout != nil {
		return nil, c.misuse("Stdout already set")
	}
	if c.Process != nil {
		return nil, c.misuse("StdoutPipe after Start")
	}
	w, r, err := c.pipe(false)
	if err != nil {
		return nil, err
	}
	c.Stdout = w
	return r, nil
}

// input gives the child's standard input for Stdin: /dev/null, the file
// itself, or a pipe that a goroutine fills from Stdin.
func (c *Cmd) input() (*os.File, error) {
	switch r := c.Stdin.(type) {
	case nil:
		return c.devNull(os.O_RDONLY)
	case *os.File:
		return r, nil
	}
	theirs, ours, err := c.pipe(true)
	if err != nil {
		return nil, err
	}
	src := c.Stdin
	c.copies = append(c.copies, func() {
		_, err := iocopy.Copy(ours, src)
		if errors.Is(err, syscall.EPIPE) {
			err = nil // the program did not want all of its input
		}
		if cerr := ours.Close(); err == nil && !errors.Is(cerr, os.ErrClosed) {
			err = cerr
		}
		c.copyDone <- err
	})
	return theirs, nil
}

// output gives the child's end for w: /dev/null, the file itself, or a pipe
// that a goroutine drains into w.
func (c *Cmd) output(w io.Writer) (*os.File, error) {
	switch f := w.(type) {
	case nil:
		return c.devNull(os.O_WRONLY)
	case *os.File:
		return f, nil
	}
	theirs, ours, err := c.pipe(false)
	if err != nil {
		return nil, err
	}
	c.copies = append(c.copies, func() {
		_, err := iocopy.Copy(w, ours)
		ours.Close() // a writer that failed must not leave the child blocked
		c.copyDone <- err
	})
	return theirs, nil
}

// pipe makes a pipe whose child's end Start closes and whose other end Wait
// closes; childReads says which end is the child's.
func (c *Cmd) pipe(childReads bool) (theirs, ours *os.File, err error) {
	r, w, err := os.Pipe()
	if err != nil {
		return nil, nil, err
	}
	theirs, ours = w, r
	if childReads {
		theirs, ours = r, w
	}
	c.closeAfterStart = append(c.closeAfterStart, theirs)
	c.closeAfterWait = append(c.closeAfterWait, ours)
	return theirs, ours, nil
}

// sameWriter compares two writers without panicking on incomparable types.
func sameWriter(a, b io.Writer) (same bool) {
	defer func() { _ = recover() }()
	return a == b
}

func (c *Cmd) devNull(flag int) (*os.File, error) {
	f, err := os.OpenFile(os.DevNull, flag, 0)
	if err != nil {
		return nil, err
	}
	c.closeAfterStart = append(c.closeAfterStart, f)
	return f, nil
}

// misuse is the error of a call the Cmd's state does not allow. It is kept
// out of line (go:noinline): an inlined copy at each caller costs more.
//
//go:noinline
func (c *Cmd) misuse(what string) error {
	return errors.New("command: " + c.Path + ": " + what)
}

// closeAll closes everything Start opened, when it fails.
func (c *Cmd) closeAll() {
	closeEach(c.closeAfterStart)
	closeEach(c.closeAfterWait)
	c.closeAfterStart, c.closeAfterWait, c.copies = nil, nil, nil
}

// closeEach is kept out of line (go:noinline): it has four callers.
//
//go:noinline
func closeEach(cs []io.Closer) {
	for _, c := range cs {
		c.Close()
	}
}

// dedupEnv keeps the last KEY=value of each KEY, in the order of those last
// occurrences, as os/exec does (execve would pass both; which one a program
// sees then depends on how it searches).
func dedupEnv(env []string) []string {
	seen := make(map[string]bool, len(env))
	out := make([]string, len(env)) // filled from the end
	j := len(out)
	for i := len(env) - 1; i >= 0; i-- {
		kv := env[i]
		if kv == "" {
			continue
		}
		k, _, ok := strings.Cut(kv, "=")
		if !ok {
			k = kv
		}
		if seen[k] {
			continue
		}
		seen[k] = true
		j--
		out[j] = kv
	}
	return out[j:]
}
