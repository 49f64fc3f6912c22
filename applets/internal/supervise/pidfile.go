package supervise

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"toybox-go/applets/printf"
)

// A pid file STATEDIR/NAME.pid holds "PID STARTTIME\n": the service's PID and its
// start time (field 22 of /proc/PID/stat, in clock ticks since boot). The start
// time is what tells the service from a later process that reuses its PID.

// PidFile is the content of a pid file.
type PidFile struct {
	Pid       int
	StartTime uint64
}

// ParsePidFile parses "PID STARTTIME" with an optional final newline; anything
// else is an error.
func ParsePidFile(b []byte) (PidFile, error) {
	s := strings.TrimSuffix(string(b), "\n")
	a, c, ok := strings.Cut(s, " ")
	if !ok || len(s) > 64 {
		return PidFile{}, printf.Errorf("pid file %q: want \"PID STARTTIME\"", b)
	}
	pid, err := strconv.Atoi(a)
	if err != nil || pid <= 0 || a[0] == '+' {
		return PidFile{}, printf.Errorf("pid file: bad PID %q", a)
	}
	st, err := strconv.ParseUint(c, 10, 64)
	if err != nil || c[0] == '+' {
		return PidFile{}, printf.Errorf("pid file: bad start time %q", c)
	}
	return PidFile{Pid: pid, StartTime: st}, nil
}

func (p PidFile) String() string { return printf.Sprintf("%d %d\n", p.Pid, p.StartTime) }

// ReadPidFile reads and parses path.
func ReadPidFile(path string) (PidFile, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return PidFile{}, err
	}
	p, err := ParsePidFile(b)
	if err != nil {
		return PidFile{}, printf.Errorf("%s: %w", path, err)
	}
	return p, nil
}

// WriteFileAtomic writes data to path through a temporary file and a rename, so
// a reader (or a relaunched pid2) sees the old content or the new, never a part.
func WriteFileAtomic(path, data string) error {
	tmp := filepath.Join(filepath.Dir(path), "."+filepath.Base(path)+".tmp")
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return err
	}
	_, err = f.WriteString(data)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, path)
	}
	if err != nil {
		os.Remove(tmp)
		return printf.Errorf("writing %s: %w", path, err)
	}
	return nil
}

// ProcState reads the state letter (field 3) and start time (field 22) of pid
// from procDir/PID/stat.
func ProcState(procDir string, pid int) (state byte, start uint64, err error) {
	b, err := os.ReadFile(filepath.Join(procDir, strconv.Itoa(pid), "stat"))
	if err != nil {
		return 0, 0, err
	}
	// comm may hold spaces and parentheses: the fields start after the last ')'.
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return 0, 0, errors.New("no comm in stat of " + strconv.Itoa(pid))
	}
	f := strings.Fields(string(b[i+1:]))
	if len(f) < 20 {
		return 0, 0, printf.Errorf("short stat of %d", pid)
	}
	start, err = strconv.ParseUint(f[19], 10, 64) // field 22 overall
	if err != nil || len(f[0]) != 1 {
		return 0, 0, printf.Errorf("bad stat of %d", pid)
	}
	return f[0][0], start, nil
}

// Alive reports whether p names a live (not zombie, not dead) process that
// started at p.StartTime: the check that keeps a reused PID from being adopted
// or signalled.
func Alive(procDir string, p PidFile) bool {
	st, start, err := ProcState(procDir, p.Pid)
	return err == nil && st != 'Z' && st != 'X' && start == p.StartTime
}
