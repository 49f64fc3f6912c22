package rules

import (
	"path/filepath"
	"strings"

	"golang.org/x/sys/unix"
)

// runState is one evaluation; it lives on Run's stack.
type runState struct {
	vars     map[string]string
	fallback func(map[string]string, string) (string, bool)
	emit     func(string, []string)
	root     string
	seen     []bool // files already run for this event (libubox's guard)
}

// Run evaluates the script for one event's variables and calls emit, in
// order, for every command the rules reach, with its arguments after
// %VAR% substitution. emit owns args (a fresh slice each call) and may
// keep it. Names the host does not know are passed too: procd ignores
// them. A "return" ends the file for this event; an included file's
// "return" ends only that file. vars is read only; for a uevent with a
// key twice, procd uses the first value.
func (s *Script) Run(vars map[string]string, emit func(cmd string, args []string)) {
	if s.main == nil {
		return // a Script not made by Parse or LoadFile has no rules
	}
	r := runState{vars: vars, fallback: s.Fallback, emit: emit, root: s.Root}
	if s.hasInclude {
		r.seen = make([]bool, len(s.files))
	}
	r.runFile(s.main)
}

func (r *runState) runFile(f *file) {
	if r.seen != nil {
		// libubox runs each file at most once per event: a second
		// include of it, recursive or not, is skipped.
		if r.seen[f.id] {
			return
		}
		r.seen[f.id] = true
	}
	r.exec(f.body)
}

func (r *runState) lookup(name string) (string, bool) {
	if v, ok := r.vars[name]; ok {
		return v, true
	}
	if r.fallback != nil {
		return r.fallback(r.vars, name)
	}
	return "", false
}

func (r *runState) exec(st *stmt) int8 {
	switch st.op {
	case sList:
		for _, it := range st.items {
			if ret := r.exec(it); ret < -1 {
				return ret
			}
		}
		return 0
	case sError:
		return -1
	case sCommand:
		var args []string
		if len(st.args) > 0 {
			args = make([]string, len(st.args))
			for i := range st.args {
				args[i] = st.args[i].expand(r)
			}
		}
		r.emit(st.name, args)
		return 0
	case sIf:
		c := r.eval(st.cond)
		if c < 0 {
			return 0
		}
		if c > 0 {
			return r.exec(st.items[0])
		}
		if st.items[1] == nil {
			return 0
		}
		return r.exec(st.items[1])
	case sCase:
		v, ok := r.lookup(st.name)
		if !ok {
			return 0
		}
		for i, k := range st.keys {
			if k == v {
				return r.exec(st.items[i])
			}
		}
		return 0
	case sReturn:
		return -2
	case sInclude:
		r.runFile(st.file)
		return 0
	}
	return 0 // sNop
}

func (r *runState) eval(c *cond) int8 {
	switch c.op {
	case cEq, cRegex:
		v, ok := r.lookup(c.name)
		if !ok {
			return 0
		}
		for i := range c.alts {
			a := &c.alts[i]
			if a.bad {
				return -1
			}
			if c.op == cEq && a.s == v || c.op == cRegex && a.m.match(v) {
				return 1
			}
		}
		return 0
	case cHas:
		for i := range c.alts {
			a := &c.alts[i]
			if a.bad {
				return -1
			}
			if _, ok := r.lookup(a.s); ok {
				return 1
			}
		}
		return 0
	case cAnd, cOr:
		want := int8(0)
		if c.op == cAnd {
			want = 1
		}
		for _, k := range c.kids {
			ret := r.eval(k)
			if ret < 0 || ret != want {
				return ret
			}
		}
		return want
	case cNot:
		ret := r.eval(c.kids[0])
		if ret < 0 {
			return ret
		}
		return 1 - ret
	case cIsdir:
		return r.isDir(c.path.expand(r))
	}
	return -1 // cError
}

// isDir is stat(2) (following links) and S_ISDIR, under Root if set.
func (r *runState) isDir(p string) int8 {
	if p == "" {
		return 0 // stat("") fails with ENOENT
	}
	if r.root != "" && r.root != "/" {
		// Keep the path inside Root: ".." stops at Root's top.
		if p[0] != '/' {
			p = "/" + p
		}
		p = strings.TrimSuffix(r.root, "/") + filepath.Clean(p)
	}
	var st unix.Stat_t
	if unix.Stat(p, &st) != nil {
		return 0
	}
	if st.Mode&unix.S_IFMT == unix.S_IFDIR {
		return 1
	}
	return 0
}
