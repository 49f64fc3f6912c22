package command

import (
	"bytes"
	"errors"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"toybox-go/internal/testbin"
)

// sh returns a Cmd running script with /bin/sh (from PATH) and $0 = "sh".
func sh(t *testing.T, script string, args ...string) *Cmd {
	t.Helper()
	return Command(testbin.RequireTool(t, "sh"), append([]string{"-c", script, "sh"}, args...)...)
}

func TestExitCode(t *testing.T) {
	err := sh(t, "exit 3").Run()
	var ee *ExitError
	if !errors.As(err, &ee) {
		t.Fatalf("got %v (%T), want an *ExitError", err, err)
	}
	if !ee.Exited() || ee.ExitCode() != 3 || ee.Error() != "exit status 3" {
		t.Errorf("exited %v, code %d, %q; want exit status 3", ee.Exited(), ee.ExitCode(), ee.Error())
	}
	if err := sh(t, "exit 0").Run(); err != nil {
		t.Errorf("exit 0: %v", err)
	}
}

func TestKilledBySignal(t *testing.T) {
	c := sh(t, "kill -TERM $$")
	err := c.Run()
	var ee *ExitError
	if !errors.As(err, &ee) {
		t.Fatalf("got %v, want an *ExitError", err)
	}
	ws := ee.Sys().(syscall.WaitStatus)
	if ee.Exited() || !ws.Signaled() || ws.Signal() != syscall.SIGTERM || ee.ExitCode() != -1 {
		t.Errorf("exited %v, status %v, code %d; want killed by SIGTERM", ee.Exited(), ws, ee.ExitCode())
	}
	if c.ProcessState != ee.ProcessState || ee.Error() != "signal: terminated" {
		t.Errorf("ProcessState %v, error %q", c.ProcessState, ee.Error())
	}
}

func TestSysProcAttrAndProcess(t *testing.T) {
	c := Command(testbin.RequireTool(t, "sleep"), "100")
	c.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := c.Start(); err != nil {
		t.Fatal(err)
	}
	pgid, err := syscall.Getpgid(c.Process.Pid)
	if err != nil || pgid != c.Process.Pid {
		t.Errorf("pgid %d (%v), want the child's pid %d", pgid, err, c.Process.Pid)
	}
	if err := syscall.Kill(-c.Process.Pid, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	err = c.Wait()
	var ee *ExitError
	if !errors.As(err, &ee) || ee.Sys().(syscall.WaitStatus).Signal() != syscall.SIGKILL {
		t.Errorf("got %v, want killed", err)
	}
}

func TestEnv(t *testing.T) {
	var out bytes.Buffer
	c := sh(t, `echo "$A $B"; env | grep -c '^A='`)
	c.Env = []string{"A=1", "B=2", "", "A=3"}
	c.Stdout = &out
	if err := c.Run(); err != nil {
		t.Fatal(err)
	}
	if got := out.String(); got != "3 2\n1\n" {
		t.Errorf("got %q, want the last A once", got)
	}

	t.Setenv("COMMAND_TEST_INHERITED", "yes")
	out.Reset()
	c = sh(t, `echo "$COMMAND_TEST_INHERITED"`)
	c.Stdout = &out
	if err := c.Run(); err != nil {
		t.Fatal(err)
	}
	if got := out.String(); got != "yes\n" {
		t.Errorf("nil Env: got %q, want this process's environment", got)
	}

	out.Reset()
	c = sh(t, `echo "${COMMAND_TEST_INHERITED-unset}"`)
	c.Env = []string{}
	c.Stdout = &out
	if err := c.Run(); err != nil {
		t.Fatal(err)
	}
	if got := out.String(); got != "unset\n" {
		t.Errorf("empty Env: got %q, want an empty environment", got)
	}
}

func TestDedupEnv(t *testing.T) {
	got := dedupEnv([]string{"A=1", "B=2", "NOEQ", "A=3", "C=", "B=4", "NOEQ"})
	if want := "A=3 C= B=4 NOEQ"; strings.Join(got, " ") != want {
		t.Errorf("got %q, want %q", got, want)
	}
}

func TestDir(t *testing.T) {
	dir, err := filepath.EvalSymlinks(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	c := sh(t, "pwd -P")
	c.Dir = dir
	out, err := c.CombinedOutput()
	if err != nil || string(out) != dir+"\n" {
		t.Errorf("got %q (%v), want %s", out, err, dir)
	}

	c = sh(t, "true")
	c.Dir = filepath.Join(dir, "missing")
	if err := c.Run(); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("missing Dir: got %v, want ENOENT", err)
	}
}

func TestExtraFiles(t *testing.T) {
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	c := sh(t, "echo three >&3; echo four >&4")
	c.ExtraFiles = []*os.File{w, w}
	err = c.Run()
	w.Close()
	if err != nil {
		t.Fatal(err)
	}
	b, err := io.ReadAll(r)
	if err != nil || string(b) != "three\nfour\n" {
		t.Errorf("got %q (%v), want what the child wrote to fds 3 and 4", b, err)
	}
}

func TestStdinReaderAndStdoutBuffer(t *testing.T) {
	var out bytes.Buffer
	c := Command(testbin.RequireTool(t, "cat"))
	c.Stdin = strings.NewReader("some input\n")
	c.Stdout = &out
	if err := c.Run(); err != nil {
		t.Fatal(err)
	}
	if out.String() != "some input\n" {
		t.Errorf("got %q", out.String())
	}
}

func TestNilStdioIsDevNull(t *testing.T) {
	c := sh(t, `[ "$(readlink /proc/self/fd/0)" = /dev/null ] && [ "$(readlink /proc/$$/fd/1)" = /dev/null ] && [ "$(readlink /proc/$$/fd/2)" = /dev/null ] && [ -z "$(cat)" ]`)
	if err := c.Run(); err != nil {
		t.Errorf("stdio is not /dev/null: %v", err)
	}
}

func TestStdoutFileGivenAsIs(t *testing.T) {
	f, err := os.Create(filepath.Join(t.TempDir(), "out"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var fi syscall.Stat_t
	if err := syscall.Fstat(int(f.Fd()), &fi); err != nil {
		t.Fatal(err)
	}
	c := sh(t, `stat -L -c %i /proc/$$/fd/1; echo err >&2`)
	c.Stdout, c.Stderr = f, f
	if err := c.Run(); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(f.Name())
	if err != nil {
		t.Fatal(err)
	}
	if want := strconv.FormatUint(fi.Ino, 10) + "\nerr\n"; string(b) != want {
		t.Errorf("got %q, want %q (the file itself on fd 1, not a pipe)", b, want)
	}
}

func TestCombinedOutputKeepsOrder(t *testing.T) {
	out, err := sh(t, "echo 1; echo 2 >&2; echo 3; echo 4 >&2; exit 5").CombinedOutput()
	var ee *ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != 5 {
		t.Errorf("got %v, want exit status 5", err)
	}
	if string(out) != "1\n2\n3\n4\n" {
		t.Errorf("got %q, want stdout and stderr interleaved as written", out)
	}
	c := sh(t, "true")
	c.Stdout = io.Discard
	if _, err := c.CombinedOutput(); err == nil {
		t.Error("CombinedOutput with Stdout set: no error")
	}
}

func TestSeparateOutputs(t *testing.T) {
	var o, e bytes.Buffer
	c := sh(t, "echo out; echo err >&2")
	c.Stdout, c.Stderr = &o, &e
	if err := c.Run(); err != nil {
		t.Fatal(err)
	}
	if o.String() != "out\n" || e.String() != "err\n" {
		t.Errorf("stdout %q, stderr %q", o.String(), e.String())
	}
}

// Wait returns only when the copy of all output is done.
func TestWaitWaitsForCopy(t *testing.T) {
	const n = 1 << 20
	var out bytes.Buffer
	c := Command(testbin.RequireTool(t, "head"), "-c", strconv.Itoa(n), "/dev/zero")
	c.Stdout = &out
	if err := c.Run(); err != nil {
		t.Fatal(err)
	}
	if out.Len() != n {
		t.Errorf("got %d bytes, want %d", out.Len(), n)
	}
}

type failingWriter struct{}

func (failingWriter) Write([]byte) (int, error) { return 0, errors.New("disk full") }

func TestCopyErrorReported(t *testing.T) {
	c := sh(t, "echo hello")
	c.Stdout = failingWriter{}
	if err := c.Run(); err == nil || err.Error() != "disk full" {
		t.Errorf("got %v, want the writer's error", err)
	}
}

// A program that exits without reading its input is no error.
func TestStdinNotRead(t *testing.T) {
	c := sh(t, "exit 0")
	c.Stdin = bytes.NewReader(make([]byte, 1<<20))
	if err := c.Run(); err != nil {
		t.Errorf("got %v", err)
	}
}

func TestStdoutPipe(t *testing.T) {
	c := sh(t, "echo piped; echo err >&2; exit 2")
	var e bytes.Buffer
	c.Stderr = &e
	r, err := c.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Start(); err != nil {
		t.Fatal(err)
	}
	b, err := io.ReadAll(r)
	if err != nil || string(b) != "piped\n" {
		t.Errorf("read %q (%v)", b, err)
	}
	var ee *ExitError
	if err := c.Wait(); !errors.As(err, &ee) || ee.ExitCode() != 2 {
		t.Errorf("Wait: %v, want exit status 2", err)
	}
	if e.String() != "err\n" {
		t.Errorf("stderr %q", e.String())
	}
	if _, err := r.Read(make([]byte, 1)); !errors.Is(err, os.ErrClosed) {
		t.Errorf("read after Wait: %v, want the pipe closed", err)
	}
}

func TestArgsAndStartWaitMisuse(t *testing.T) {
	shell := testbin.RequireTool(t, "sh")
	c := Command(shell, "-c", `echo "$0"`)
	c.Args[0] = "custom-name"
	out, err := c.CombinedOutput()
	if err != nil || string(out) != "custom-name\n" {
		t.Errorf("argv[0]: got %q (%v)", out, err)
	}
	if err := c.Start(); err == nil {
		t.Error("second Start: no error")
	}
	if err := c.Wait(); err == nil {
		t.Error("second Wait: no error")
	}
	if err := (&Cmd{Path: shell}).Wait(); err == nil {
		t.Error("Wait before Start: no error")
	}
	if err := (&Cmd{}).Run(); err == nil {
		t.Error("no Path: no error")
	}
}

// A status taken by another wait4 (a reaper) is ECHILD with no ProcessState.
func TestReapedElsewhere(t *testing.T) {
	c := sh(t, "exit 7")
	if err := c.Start(); err != nil {
		t.Fatal(err)
	}
	var ws syscall.WaitStatus
	if _, err := syscall.Wait4(c.Process.Pid, &ws, 0, nil); err != nil || ws.ExitStatus() != 7 {
		t.Fatalf("wait4: %v %v", ws, err)
	}
	err := c.Wait()
	if !errors.Is(err, syscall.ECHILD) || c.ProcessState != nil {
		t.Errorf("got %v, ProcessState %v; want ECHILD and none", err, c.ProcessState)
	}
}

func TestCommandNotFound(t *testing.T) {
	t.Setenv("PATH", t.TempDir())
	c := Command("no-such-command", "x")
	err := c.Run()
	if !errors.Is(err, ErrNotFound) || err.Error() != `exec: "no-such-command": executable file not found in $PATH` {
		t.Errorf("got %v, want not found in $PATH", err)
	}
	missing := filepath.Join(t.TempDir(), "missing")
	err = Command(missing).Run()
	if !errors.Is(err, fs.ErrNotExist) || !strings.Contains(err.Error(), missing) {
		t.Errorf("got %v, want ENOENT naming %s", err, missing)
	}
	var pe *fs.PathError
	if !errors.As(err, &pe) || pe.Path != missing {
		t.Errorf("got %#v, want an *fs.PathError for %s", err, missing)
	}
}

// mkfile writes an executable (or not) shell script at dir/name.
func mkfile(t *testing.T, dir, name string, mode os.FileMode) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte("#!/bin/sh\nexit 0\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(p, mode); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestLookPath(t *testing.T) {
	a, b := t.TempDir(), t.TempDir()
	mkfile(t, a, "prog", 0o644) // not executable: skipped
	if err := os.Mkdir(filepath.Join(a, "tool"), 0o755); err != nil {
		t.Fatal(err) // a directory: skipped
	}
	if err := syscall.Mkfifo(filepath.Join(a, "fifo"), 0o755); err != nil {
		t.Fatal(err) // not a regular file: skipped
	}
	progB := mkfile(t, b, "prog", 0o755)
	toolB := mkfile(t, b, "tool", 0o100)
	fifoB := mkfile(t, b, "fifo", 0o755)
	if err := os.Symlink(progB, filepath.Join(a, "link")); err != nil {
		t.Fatal(err)
	}
	t.Setenv("PATH", a+":"+b)

	for _, tc := range []struct{ name, want string }{
		{"prog", progB},
		{"tool", toolB},
		{"fifo", fifoB},
		{"link", filepath.Join(a, "link")}, // a link to an executable counts
	} {
		if got, err := LookPath(tc.name); err != nil || got != tc.want {
			t.Errorf("LookPath(%q) = %q, %v; want %s", tc.name, got, err, tc.want)
		}
	}
	if got, err := LookPath("absent"); got != "" || !errors.Is(err, ErrNotFound) {
		t.Errorf("absent: %q, %v", got, err)
	}

	// A name with a slash is checked, not searched.
	if got, err := LookPath(progB); err != nil || got != progB {
		t.Errorf("LookPath(%s) = %q, %v", progB, got, err)
	}
	if _, err := LookPath(filepath.Join(a, "prog")); !errors.Is(err, fs.ErrPermission) {
		t.Errorf("non-executable: got %v, want EACCES", err)
	}
	if _, err := LookPath(filepath.Join(a, "tool")); !errors.Is(err, syscall.EISDIR) {
		t.Errorf("directory: got %v, want EISDIR", err)
	}
	if _, err := LookPath(filepath.Join(a, "fifo")); !errors.Is(err, fs.ErrPermission) {
		t.Errorf("fifo: got %v, want EACCES", err)
	}
	if _, err := LookPath(filepath.Join(a, "none")); !errors.Is(err, fs.ErrNotExist) ||
		!strings.Contains(err.Error(), filepath.Join(a, "none")) {
		t.Errorf("missing: got %v, want ENOENT naming the path", err)
	}
	t.Chdir(b)
	if got, err := LookPath("./prog"); err != nil || got != "./prog" {
		t.Errorf("./prog: %q, %v", got, err)
	}
}

// An empty PATH element (or ".") is the current directory, but a program
// found only there is refused, as os/exec does.
func TestLookPathDot(t *testing.T) {
	dir := t.TempDir()
	mkfile(t, dir, "here", 0o755)
	t.Chdir(dir)
	for _, path := range []string{":/nonexistent", "/nonexistent:", ".", "/nonexistent::/x"} {
		t.Setenv("PATH", path)
		got, err := LookPath("here")
		if !errors.Is(err, ErrDot) || got != "here" {
			t.Errorf("PATH=%q: got %q, %v; want here with ErrDot", path, got, err)
		}
		if err := Command("here").Run(); !errors.Is(err, ErrDot) {
			t.Errorf("PATH=%q: Run: %v, want ErrDot", path, err)
		}
	}
	t.Setenv("PATH", "")
	if _, err := LookPath("here"); !errors.Is(err, ErrNotFound) {
		t.Errorf("empty PATH: %v, want not found", err)
	}
}

// Start failing closes what it opened: no descriptors leak.
func TestStartFailureClosesPipes(t *testing.T) {
	before := openFDs(t)
	for range 10 {
		c := Command(filepath.Join(t.TempDir(), "missing"))
		c.Stdin = strings.NewReader("x")
		c.Stdout = io.Discard
		if _, err := c.StdoutPipe(); err == nil {
			t.Fatal("StdoutPipe with Stdout set: no error")
		}
		c.Stdout = nil
		if _, err := c.StdoutPipe(); err != nil {
			t.Fatal(err)
		}
		c.Stderr = &bytes.Buffer{}
		if err := c.Start(); err == nil {
			t.Fatal("started a missing program")
		}
	}
	if after := openFDs(t); after != before {
		t.Errorf("%d open descriptors before, %d after", before, after)
	}
}

func openFDs(t *testing.T) int {
	t.Helper()
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		testbin.Unavailable(t, "no /proc: %v", err)
	}
	return len(ents)
}
