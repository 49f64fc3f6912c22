package modinfo

import (
	"bytes"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"toybox-go/applets/printf"
)

// Conf is what /etc/modules.conf (OpenWrt) and modprobe.d files (kmod) say about
// modules: blacklist, options, softdep and alias lines. Keys are normalised
// names.
type Conf struct {
	Blacklist map[string]bool
	Options   map[string]string // space-joined, in file order
	SoftPre   map[string][]string
	SoftPost  map[string][]string
	Aliases   []ConfAlias
	// Install and Remove are the `install MODULE COMMAND...` and `remove
	// MODULE COMMAND...` lines, in file order: modprobe runs COMMAND with
	// /bin/sh -c instead of loading (or unloading) MODULE.
	Install, Remove []ConfCommand
	// Problems holds one "file:line: message" per line that was not understood;
	// parsing carries on past them.
	Problems []string
}

// ConfAlias is an `alias PATTERN MODULE` line.
type ConfAlias struct {
	_               [0]func() // not comparable: no generated equality function
	Pattern, Module string
}

// ConfCommand is an install or remove line. Module is a normalised name or
// a glob pattern (kmod matches it with fnmatch); Command is the rest of the
// line as it stands, comments and all (the shell sees it so).
type ConfCommand struct {
	_               [0]func() // not comparable: no generated equality function
	Module, Command string
}

// InstallCommand returns the command of the first install line whose module
// pattern matches name (a normalised module name), as kmod picks it.
func (c *Conf) InstallCommand(name string) (string, bool) { return firstCommand(c.Install, name) }

// RemoveCommand is InstallCommand for remove lines.
func (c *Conf) RemoveCommand(name string) (string, bool) { return firstCommand(c.Remove, name) }

// firstCommand is the command of the first line of list whose module
// pattern matches name. Kept out of line (go:noinline): inlined at each
// caller it costs more than a call.
//
//go:noinline
func firstCommand(list []ConfCommand, name string) (string, bool) {
	for _, x := range list {
		if Match(x.Module, name) {
			return x.Command, true
		}
	}
	return "", false
}

// commandNames reports whether an install or remove line names exactly this module
// (normalised): kmod's modprobe then knows the name even when no module file
// has it, and runs the command.
func (c *Conf) commandNames(name string) bool {
	for _, x := range c.Install {
		if x.Module == name {
			return true
		}
	}
	for _, x := range c.Remove {
		if x.Module == name {
			return true
		}
	}
	return false
}

// NewConf returns an empty Conf.
func NewConf() *Conf {
	return &Conf{
		Blacklist: map[string]bool{},
		Options:   map[string]string{},
		SoftPre:   map[string][]string{},
		SoftPost:  map[string][]string{},
	}
}

// LoadConf reads the given files, then the *.conf files of the given
// directories, as kmod reads its modprobe.d directories: all of them sorted by
// file name, and of two files with the same name only the one in the earlier
// directory (so /etc/modprobe.d/x.conf replaces /lib/modprobe.d/x.conf, and a
// link to /dev/null masks it). Paths that do not exist are fine.
func LoadConf(paths ...string) *Conf {
	c := NewConf()
	var files, bases []string
	confs := map[string]string{} // file name -> its first directory's path
	for _, p := range paths {
		st, err := os.Stat(p)
		if err != nil {
			continue
		}
		if !st.IsDir() {
			files = addString(files, p)
			continue
		}
		matches, _ := filepath.Glob(filepath.Join(p, "*.conf"))
		for _, m := range matches {
			if b := filepath.Base(m); confs[b] == "" {
				confs[b] = m
				bases = addString(bases, b)
			}
		}
	}
	sort.Strings(bases)
	for _, b := range bases {
		files = addString(files, confs[b])
	}
	for _, f := range files {
		fh, err := os.Open(f)
		if err != nil {
			c.problem("%s: %v", f, err)
			continue
		}
		c.Parse(f, fh)
		fh.Close()
	}
	return c
}

// problem records a line or file that was not understood. Kept out of line
// (go:noinline): an inlined copy at each of its callers costs more than a
// call.
//
//go:noinline
func (c *Conf) problem(format string, args ...any) {
	c.Problems = addString(c.Problems, printf.Sprintf(format, args...))
}

// maxConfFile bounds what one configuration file may make us read.
const maxConfFile = 16 << 20

// Parse reads one file's lines. name is used in problem reports. Lines are
// joined as kmod joins them: a backslash before the end of a line continues it
// on the next, a backslash before any other character is dropped.
func (c *Conf) Parse(name string, r io.Reader) {
	data, err := io.ReadAll(io.LimitReader(r, maxConfFile+1))
	if err != nil {
		c.problem("%s: %v", name, err)
	}
	if len(data) > maxConfFile {
		// Said, not silently cut; the line the bound splits is dropped too
		// (half an options line would load a module with the wrong ones).
		c.problem("%s: longer than %d bytes: the rest is not read", name, maxConfFile)
		data = data[:maxConfFile]
		data = data[:bytes.LastIndexByte(data, '\n')+1]
	}
	next := 1
	for len(data) > 0 {
		var raw string
		line := next
		raw, data, next = logicalLine(data, next)
		if problem := c.parseLine(raw); problem != "" {
			c.problem("%s:%d: %s", name, line, problem)
		}
	}
}

// logicalLine takes one line (with its continuations) off data; line is the
// number of its first physical line, next that of the line after it.
func logicalLine(data []byte, line int) (text string, rest []byte, next int) {
	var b []byte
	i := 0
	for i < len(data) {
		ch := data[i]
		i++
		switch ch {
		case '\n':
			return string(b), data[i:], line + 1
		case '\\':
			if i == len(data) {
				continue // a backslash at the end of the file: dropped
			}
			ch = data[i]
			i++
			if ch == '\n' {
				line++
				continue
			}
		}
		b = append(b, ch)
	}
	return string(b), nil, line + 1
}

// parseLine applies one logical line; it returns what is wrong with it, or "".
func (c *Conf) parseLine(raw string) string {
	text := raw
	if i := strings.IndexByte(text, '#'); i >= 0 {
		text = text[:i]
	}
	f := strings.Fields(text)
	if len(f) == 0 {
		return ""
	}
	switch f[0] {
	case "blacklist":
		if len(f) != 2 {
			return "blacklist takes one module name"
		}
		c.Blacklist[Normalize(f[1])] = true
	case "options":
		if len(f) < 2 {
			return "options needs a module name"
		}
		if len(f) == 2 {
			return ""
		}
		m := Normalize(f[1])
		c.Options[m] = joinParams(c.Options[m], strings.Join(f[2:], " "))
	case "softdep":
		if len(f) < 3 {
			return "softdep needs a module name and pre: or post: modules"
		}
		m := Normalize(f[1])
		if f[2] != "pre:" && f[2] != "post:" {
			return printf.Sprintf("softdep %s: %q before pre: or post:", f[1], f[2])
		}
		c.addSoft(m, f[2:])
	case "alias":
		if len(f) != 3 {
			return "alias takes a pattern and a module name"
		}
		c.Aliases = append(c.Aliases, ConfAlias{Pattern: normalizeAlias(f[1]), Module: Normalize(f[2])})
	case "install", "remove":
		// The command is the raw rest of the line, '#' included: kmod
		// hands it to the shell as it stands.
		mod, cmd, ok := commandLine(raw)
		if !ok {
			return f[0] + " needs a module name and a command"
		}
		to := &c.Remove // one append for both lists
		if f[0] == "install" {
			to = &c.Install
		}
		*to = append(*to, ConfCommand{Module: normalizeAlias(mod), Command: cmd})
	default:
		return printf.Sprintf("unknown keyword %q", f[0])
	}
	return ""
}

// commandLine splits "install MODULE COMMAND..." as kmod does: words end at a
// blank or tab, and the command starts right after the one blank that ends
// the module name (further blanks belong to it).
func commandLine(raw string) (mod, cmd string, ok bool) {
	_, rest, ok := cutWord(raw)
	if !ok {
		return "", "", false
	}
	mod, cmd, ok = cutWord(rest)
	if !ok || mod == "" || cmd == "" {
		return "", "", false
	}
	return mod, cmd, true
}

// cutWord cuts s's first word (leading blanks and tabs skipped) from the rest
// after the one blank or tab that ends it; ok is false when nothing follows.
func cutWord(s string) (word, rest string, ok bool) {
	s = strings.TrimLeft(s, " \t")
	i := strings.IndexAny(s, " \t")
	if i < 0 {
		return s, "", false
	}
	return s[:i], s[i+1:], true
}

// addSoft adds a softdep line's pre: and post: modules to m's.
func (c *Conf) addSoft(m string, words []string) {
	pre, post := softLists(words, nil, nil)
	// Several softdep lines for one module add up: the kernel's
	// MODULE_SOFTDEP makes one line each (btrfs has four), and depmod copies
	// them so. (kmod 30 honours only the first: we honour them all.)
	if pre != nil {
		c.SoftPre[m] = append(c.SoftPre[m], pre...)
	}
	if post != nil {
		c.SoftPost[m] = append(c.SoftPost[m], post...)
	}
}

func joinParams(a, b string) string {
	switch {
	case a == "":
		return b
	case b == "":
		return a
	}
	return a + " " + b
}
