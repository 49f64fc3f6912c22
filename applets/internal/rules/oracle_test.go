package rules

import (
	"os"
	"path/filepath"
	"strings"

	"toybox-go/applets/internal/ere"
)

// oracle is a second, deliberately naive evaluator: it walks the parsed
// JSON on every event, following libubox's json_script.c step by step
// (return codes 0/-1/-2, blobmsg_parse_array's argument picking, the
// strchr-and-toggle substitution) with nothing precompiled. The fuzz and
// unit tests check that the compiled Script does exactly what it does.
// Includes are resolved like the loader does but read on demand.
type oracle struct {
	vars     map[string]string
	fallback func(map[string]string, string) (string, bool)
	root     string
	out      []string
	files    map[string]*value // by key(path); nil: failed to load
	seen     map[string]bool
}

func (o *oracle) find(name string) (string, bool) {
	if v, ok := o.vars[name]; ok {
		return v, true
	}
	if o.fallback != nil {
		return o.fallback(o.vars, name)
	}
	return "", false
}

func (o *oracle) runFile(path string, v *value) {
	k := key(path)
	if o.seen[k] {
		return
	}
	o.seen[k] = true
	o.cmd(path, v)
}

func (o *oracle) cmd(path string, block *value) int {
	if block.kind != kArray {
		return -1
	}
	for i, cur := range block.elems {
		if cur.kind == kString && i == 0 {
			return o.oneCmd(path, block)
		}
		if ret := o.cmd(path, cur); ret < -1 {
			return ret
		}
	}
	return 0
}

// parseArray is blobmsg_parse_array: slot i takes the next element whose
// type matches policy[i] (0 = any); others are passed over.
func parseArray(elems []*value, policy ...kind) []*value {
	tb := make([]*value, len(policy))
	i := 0
	for _, e := range elems {
		if policy[i] != 0 && e.kind != policy[i] {
			continue
		}
		tb[i] = e
		i++
		if i == len(policy) {
			break
		}
	}
	return tb
}

func (o *oracle) oneCmd(path string, block *value) int {
	name := block.elems[0].str
	switch name {
	case "if":
		tb := parseArray(block.elems, kString, kArray, kArray, kArray)
		if tb[1] == nil || tb[2] == nil {
			return 0
		}
		ret := o.expr(tb[1])
		if ret < 0 {
			return 0
		}
		if ret != 0 {
			return o.cmd(path, tb[2])
		}
		if tb[3] == nil {
			return 0
		}
		return o.cmd(path, tb[3])
	case "case":
		tb := parseArray(block.elems, kString, kString, kObject)
		if tb[1] == nil || tb[2] == nil {
			return 0
		}
		v, ok := o.find(tb[1].str)
		if !ok {
			return 0
		}
		for i, k := range tb[2].keys {
			if k == v {
				return o.cmd(path, tb[2].elems[i])
			}
		}
		return 0
	case "return":
		return -2
	case "include":
		tb := parseArray(block.elems, kString, kString, 0)
		if tb[1] == nil || tb[1].str == "" {
			return 0
		}
		p := tb[1].str
		if !filepath.IsAbs(p) {
			beside := filepath.Join(filepath.Dir(path), p)
			if _, err := os.Stat(beside); err == nil {
				p = beside
			}
		}
		v, ok := o.files[key(p)]
		if !ok {
			data, err := readLimited(p)
			if err == nil {
				v, err = parseJSON(data, func(int, string) {})
			}
			if err != nil || v.kind != kArray {
				v = nil
			}
			o.files[key(p)] = v
		}
		if v != nil {
			o.runFile(p, v)
		}
		return 0
	}
	line := name
	for _, a := range block.elems[1:] {
		if a.kind != kString {
			continue // dropped (see the package doc)
		}
		s, ok := o.evalString(a.str)
		if !ok {
			return -1
		}
		line += " " + s
	}
	o.out = append(o.out, line)
	return 0
}

// evalString is libubox's eval_string: cut at each '%', toggling between
// text and variable name.
func (o *oracle) evalString(pattern string) (string, bool) {
	var b strings.Builder
	isVar := false
	rest := pattern
	for {
		i := strings.IndexByte(rest, '%')
		seg := rest
		last := i < 0
		if !last {
			seg = rest[:i]
			rest = rest[i+1:]
		}
		curVar := isVar
		if !last {
			isVar = !isVar
		}
		if curVar {
			if seg == "" {
				b.WriteByte('%')
			} else if v, ok := o.find(seg); ok {
				b.WriteString(v)
			}
		} else {
			b.WriteString(seg)
		}
		if last {
			break
		}
	}
	return b.String(), !isVar
}

func (o *oracle) expr(cur *value) int {
	if cur.kind != kArray || len(cur.elems) == 0 || cur.elems[0].kind != kString {
		return -1
	}
	switch cur.elems[0].str {
	case "eq", "regex":
		regex := cur.elems[0].str == "regex"
		tb := parseArray(cur.elems, kString, kString, 0)
		if tb[1] == nil || tb[2] == nil {
			return -1
		}
		v, ok := o.find(tb[1].str)
		if !ok {
			return 0
		}
		cmp := func(p string) bool {
			if !regex {
				return v == p
			}
			re, err := ere.Compile(p) // no fast paths: libubox's regcomp per event
			return err == nil && re.MatchString(v)
		}
		switch tb[2].kind {
		case kString:
			if cmp(tb[2].str) {
				return 1
			}
			return 0
		case kArray:
			for _, e := range tb[2].elems {
				if e.kind != kString {
					return -1
				}
				if cmp(e.str) {
					return 1
				}
			}
			return 0
		}
		return -1
	case "has":
		tb := parseArray(cur.elems, kString, 0, 0)
		if tb[1] == nil {
			return -1
		}
		switch tb[1].kind {
		case kString:
			if _, ok := o.find(tb[1].str); ok {
				return 1
			}
			return 0
		case kArray:
			for _, e := range tb[1].elems {
				if e.kind != kString {
					return -1
				}
				if _, ok := o.find(e.str); ok {
					return 1
				}
			}
			return 0
		}
		return -1
	case "and", "or":
		and := 0
		if cur.elems[0].str == "and" {
			and = 1
		}
		for _, e := range cur.elems[1:] {
			ret := o.expr(e)
			if ret < 0 {
				return ret
			}
			if ret != and {
				return ret
			}
		}
		return and
	case "not":
		tb := parseArray(cur.elems, kString, kArray, 0)
		if tb[1] == nil {
			return -1
		}
		ret := o.expr(tb[1])
		if ret < 0 {
			return ret
		}
		if ret == 0 {
			return 1
		}
		return 0
	case "isdir":
		tb := parseArray(cur.elems, kString, kString, 0)
		if tb[1] == nil {
			return -1
		}
		p, ok := o.evalString(tb[1].str)
		if !ok {
			return -1
		}
		if p == "" {
			return 0
		}
		if o.root != "" && o.root != "/" {
			p = filepath.Join(o.root, filepath.Clean("/"+p))
		}
		fi, err := os.Stat(p)
		if err != nil || !fi.IsDir() {
			return 0
		}
		return 1
	}
	return -1
}

// oracleRun evaluates the file at path (already parsed as top) for vars.
func oracleRun(path string, top *value, vars map[string]string, fallback func(map[string]string, string) (string, bool), root string) []string {
	o := &oracle{vars: vars, fallback: fallback, root: root, files: map[string]*value{key(path): top}, seen: map[string]bool{}}
	o.runFile(path, top)
	return o.out
}
