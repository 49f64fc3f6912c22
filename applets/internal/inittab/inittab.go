// Package inittab parses /etc/inittab in busybox syntax, id:name:action:command,
// the way pid2 reads it.
//
// Field 1 names the tty the entry runs on (relative to /dev). Field 2, which
// busybox ignores, names the service (pid file, status, control commands); when
// empty, a stable key is derived from the tty, action and command, so that an
// unchanged line keeps its identity across a reload. A leading "-" in the command
// asks for a login shell; a command holding shell syntax runs under /bin/sh -c.
// On OpenWrt `::sysinit:/etc/init.d/rcS S boot` means "run /etc/rc.d/S* boot":
// such entries carry an RC.
//
// A bad line is reported as "FILE:N: why" and skipped; the rest of the file is
// still read. Lines longer than MaxLine, binary data, an unterminated last line
// and files with more than MaxEntries entries are all handled this way.
package inittab

import (
	"bufio"
	"errors"
	"hash/fnv"
	"io"
	"os"
	"path/filepath"
	"strings"
	"unicode/utf8"

	"toybox-go/applets/printf"
)

// Action is the third field of an entry.
type Action string

// The actions busybox and procd know.
const (
	SysInit        Action = "sysinit"
	Wait           Action = "wait"
	Once           Action = "once"
	Respawn        Action = "respawn"
	AskFirst       Action = "askfirst"
	AskConsole     Action = "askconsole"
	RespawnLate    Action = "respawnlate"
	AskConsoleLate Action = "askconsolelate"
	CtrlAltDel     Action = "ctrlaltdel"
	Shutdown       Action = "shutdown"
	Restart        Action = "restart"
)

// known reports whether a is one of the actions above.
func (a Action) known() bool {
	switch a {
	case SysInit, Wait, Once, Respawn, AskFirst, AskConsole, RespawnLate, AskConsoleLate,
		CtrlAltDel, Shutdown, Restart:
		return true
	}
	return false
}

// Supervised reports whether entries with this action are kept running. It
// is kept out of line (go:noinline): its string switch is bigger than a call.
//
//go:noinline
func (a Action) Supervised() bool {
	switch a {
	case Respawn, AskFirst, AskConsole, RespawnLate, AskConsoleLate:
		return true
	}
	return false
}

// Asks reports whether the entry waits for Enter before running.
func (a Action) Asks() bool {
	return a == AskFirst || a == AskConsole || a == AskConsoleLate
}

// Limits that keep a hostile file from costing PID 2 unbounded memory.
const (
	MaxLine    = 4096 // bytes, newline excluded
	MaxEntries = 1024
	MaxName    = 64
)

// Shell is what runs commands holding shell syntax.
const Shell = "/bin/sh"

// shellMeta are the characters that make busybox hand a command to the shell.
const shellMeta = "~`!$^&*()=|\\{}[];\"'<>?\n"

// RC is an `rcS PATTERN PARAM` entry: run RCDIR/PATTERN* PARAM one at a time in
// glob order, as procd does.
type RC struct {
	_       [0]func() // not comparable: no generated equality function
	Pattern string    // "S" or "K"
	Param   string    // "boot", "shutdown"
}

// Entry is one parsed inittab line.
type Entry struct {
	Line    int
	TTY     string // field 1: device below /dev (or absolute), "" for none
	Name    string // field 2, or a derived key when the line has none
	Named   bool   // the name was written in the file
	Action  Action
	Command string   // field 4 as written
	Path    string   // the program to execute
	Argv    []string // its argv; argv[0] starts with "-" for a login shell
	Login   bool
	RC      *RC // non-nil for `rcS S boot`-style sysinit/shutdown entries
}

// Same reports whether two entries describe the same service (reload keeps it).
func (e *Entry) Same(o *Entry) bool {
	return e.Name == o.Name && e.TTY == o.TTY && e.Action == o.Action && e.Command == o.Command
}

// Error is one rejected line.
type Error struct {
	_    [0]func() // not comparable: no generated equality function
	File string
	Line int
	Why  string
}

func (e *Error) Error() string { return printf.Sprintf("%s:%d: %s", e.File, e.Line, e.Why) }

// ReadFile parses the file at path; errors name it as given.
func ReadFile(path string) ([]Entry, []error, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, nil, err
	}
	ents, errs := Parse(f, path)
	f.Close()
	return ents, errs, nil
}

// Parse reads an inittab from r. It never fails as a whole: every bad line is
// reported in errs (as "file:N: why") and skipped. A read error ends the file and
// is reported too.
func Parse(r io.Reader, file string) (ents []Entry, errs []error) {
	br := bufio.NewReaderSize(r, MaxLine+1)
	names := map[string]int{}
	for n := 1; ; n++ {
		line, err := br.ReadSlice('\n')
		long := errors.Is(err, bufio.ErrBufferFull)
		for errors.Is(err, bufio.ErrBufferFull) {
			_, err = br.ReadSlice('\n')
		}
		why, stop := "", false
		switch {
		case long:
			why = printf.Sprintf("line longer than %d bytes, skipped", MaxLine)
		case err != nil && err != io.EOF:
			// A read error: the part of a line before it is not parsed.
		case len(line) > 0:
			var e *Entry
			e, why = parseLine(string(line), n)
			switch {
			case why != "" || e == nil:
			case len(ents) >= MaxEntries:
				why = printf.Sprintf("more than %d entries: this line and the rest ignored", MaxEntries)
				stop = true
			case names[e.Name] != 0:
				why = printf.Sprintf("duplicate name %q (first at line %d)", e.Name, names[e.Name])
			default:
				names[e.Name] = n
				ents = append(ents, *e)
			}
		}
		if why != "" {
			errs = append(errs, &Error{File: file, Line: n, Why: why})
		}
		if stop {
			return ents, errs
		}
		if err != nil {
			if err != io.EOF {
				errs = append(errs, &Error{File: file, Line: n, Why: printf.Sprintf("read: %v", err)})
			}
			return ents, errs
		}
	}
}

// parseLine parses one line; (nil, "") for a blank line or a comment.
func parseLine(s string, n int) (*Entry, string) {
	s = strings.TrimRight(s, " \t\r\n")
	s = strings.TrimLeft(s, " \t")
	if s == "" || s[0] == '#' {
		return nil, ""
	}
	ctl := rune(-1) // the first control character
	for i, c := range s {
		// range yields RuneError for each byte that is not UTF-8; a U+FFFD
		// written in the file is the three bytes of its encoding.
		if c == utf8.RuneError && !strings.HasPrefix(s[i:], string(utf8.RuneError)) {
			return nil, "not text (invalid UTF-8)"
		}
		if ctl < 0 && ((c < 0x20 && c != '\t') || c == 0x7f) {
			ctl = c
		}
	}
	if ctl >= 0 {
		return nil, printf.Sprintf("not text (control character %#02x)", ctl)
	}
	f := strings.SplitN(s, ":", 4)
	if len(f) != 4 {
		return nil, "want id:name:action:command"
	}
	e := &Entry{Line: n, TTY: f[0], Name: f[1], Action: Action(f[2]), Command: strings.TrimSpace(f[3])}
	if !e.Action.known() {
		return nil, printf.Sprintf("unknown action %q", f[2])
	}
	if strings.ContainsAny(e.TTY, " \t") || strings.Contains(e.TTY, "..") {
		return nil, printf.Sprintf("bad tty %q", e.TTY)
	}
	if e.Command == "" || e.Command == "-" {
		return nil, "empty command"
	}
	cmd := e.Command
	if cmd[0] == '-' {
		e.Login = true
		cmd = strings.TrimLeft(cmd[1:], " \t")
	}
	if strings.ContainsAny(cmd, shellMeta) {
		e.Path = Shell
		e.Argv = []string{"sh", "-c", cmd}
	} else {
		e.Argv = strings.Fields(cmd)
		e.Path = e.Argv[0]
	}
	if e.Login {
		e.Argv[0] = "-" + filepath.Base(e.Path)
	}
	if (e.Action == SysInit || e.Action == Shutdown) && e.Path != Shell &&
		filepath.Base(e.Path) == "rcS" && len(e.Argv) == 3 {
		pat := e.Argv[1]
		if strings.ContainsAny(pat, "/*?[") || strings.HasPrefix(pat, ".") {
			return nil, printf.Sprintf("bad rcS pattern %q", pat)
		}
		e.RC = &RC{Pattern: pat, Param: e.Argv[2]}
	}
	if e.Name == "" {
		e.Name = derivedName(e)
	} else {
		if why := checkName(e.Name); why != "" {
			return nil, why
		}
		e.Named = true
	}
	return e, ""
}

func checkName(name string) string {
	if len(name) > MaxName {
		return printf.Sprintf("name longer than %d bytes", MaxName)
	}
	if name[0] == '.' || name[0] == '-' {
		return printf.Sprintf("bad name %q: must not start with %q", name, name[0])
	}
	for _, c := range name {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' ||
			c == '.' || c == '_' || c == '-' || c == '@') {
			return printf.Sprintf("bad name %q: use letters, digits, . _ - @", name)
		}
	}
	return ""
}

// derivedName is the key of an unnamed entry: the program's base name (so
// status stays readable) and a hash of tty, action and command (busybox's
// identity of an entry, plus the action).
func derivedName(e *Entry) string {
	h := fnv.New32a()
	io.WriteString(h, e.TTY+"\x00"+string(e.Action)+"\x00"+e.Command)
	base := e.Path
	if e.Path == Shell {
		base = "sh"
	}
	if e.RC != nil {
		base = "rc" + e.RC.Pattern
	}
	var b []byte
	for _, c := range []byte(filepath.Base(base)) {
		if len(b) >= 24 {
			break
		}
		if c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '-' {
			b = append(b, c)
		}
	}
	if len(b) == 0 || b[0] == '-' {
		b = []byte("entry")
	}
	return printf.Sprintf("%s-%08x", string(b), h.Sum32())
}
