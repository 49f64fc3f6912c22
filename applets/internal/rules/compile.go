package rules

import "strconv"

// A script is compiled once into this tree. Every node evaluates to what
// the matching libubox handler returns, so the quirks carry over: 0 done,
// -1 error (the enclosing list goes on), -2 "return" (ends the file).

type stmtOp uint8

const (
	sList    stmtOp = iota // run items in order; stop on -2
	sError                 // -1: something libubox reports as an error here
	sNop                   // 0: an if/case/include libubox silently ignores
	sCommand               // hand name and substituted args to the host
	sIf                    // cond, items[0] = then, items[1] = else or nil
	sCase                  // name = variable, keys[i] selects items[i]
	sReturn                // -2
	sInclude               // run file
)

type stmt struct {
	op    stmtOp
	items []*stmt
	name  string
	args  []template
	keys  []string
	cond  *cond
	file  *file
}

type condOp uint8

const (
	cError condOp = iota // -1
	cEq                  // name, alts
	cRegex               // name, alts
	cHas                 // alts (variable names)
	cAnd                 // kids
	cOr                  // kids
	cNot                 // kids[0]
	cIsdir               // path
)

type cond struct {
	op   condOp
	name string
	alts []alt
	kids []*cond
	path template
}

// alt is one alternative of eq, regex or has. bad marks an element that
// is not a string: libubox reports an error (-1) when it gets to it.
type alt struct {
	_   [0]func() // not comparable: no generated equality function
	s   string
	m   matcher
	bad bool
}

var (
	errorStmt  = &stmt{op: sError}
	nopStmt    = &stmt{op: sNop}
	returnStmt = &stmt{op: sReturn}
	errorCond  = &cond{op: cError}
)

// compiler turns one file's JSON into statements; problems go to warn.
type compiler struct {
	l    *loader
	f    *file
	warn func(line int, msg string)
}

// block mirrors json_process_cmd: an array whose first element is a
// string is one command, any other array is a list of blocks, anything
// else is an error.
func (c *compiler) block(v *value) *stmt {
	if v.kind != kArray {
		c.warn(v.line, sprintf("expected a rule (an array), found a %s: skipped", v.kind))
		return errorStmt
	}
	if len(v.elems) > 0 && v.elems[0].kind == kString {
		return c.command(v)
	}
	st := &stmt{op: sList, items: make([]*stmt, 0, len(v.elems))}
	for _, e := range v.elems {
		st.items = append(st.items, c.block(e))
	}
	return st
}

// tuple picks arguments as libubox's blobmsg_parse_array does: slot 0 is
// the name, and each following slot takes the next element of its kind
// (0 = any kind), silently passing over elements of another kind.
func tuple(slots *[4]*value, elems []*value, kinds ...kind) (ignored int) {
	slots[0] = elems[0]
	slot := 1
	for _, e := range elems[1:] {
		if slot > len(kinds) {
			ignored++
			continue
		}
		if kinds[slot-1] != 0 && e.kind != kinds[slot-1] {
			ignored++
			continue
		}
		slots[slot] = e
		slot++
	}
	return ignored
}

// args picks the arguments of v into t with tuple, warns about the elements it
// ignored, and checks that slots 1 to need are filled: if one is not, it
// warns msg and reports false.
func (c *compiler) args(t *[4]*value, v *value, need int, msg string, kinds ...kind) bool {
	n := tuple(t, v.elems, kinds...)
	if n > 0 {
		c.warn(v.line, sprintf("%q: %d element(s) of an unexpected type or beyond its arguments ignored", v.elems[0].str, n))
	}
	for _, a := range t[1 : need+1] {
		if a == nil {
			c.warn(v.line, msg)
			return false
		}
	}
	return true
}

func (c *compiler) command(v *value) *stmt {
	name := v.elems[0].str
	switch name {
	case "if":
		var t [4]*value
		if !c.args(&t, v, 2, `"if" needs a condition and a block (arrays): ignored`, kArray, kArray, kArray) {
			return nopStmt
		}
		st := &stmt{op: sIf, cond: c.cond(t[1]), items: []*stmt{c.block(t[2]), nil}}
		if t[3] != nil {
			st.items[1] = c.block(t[3])
		}
		return st
	case "case":
		var t [4]*value
		if !c.args(&t, v, 2, `"case" needs a variable name and an object: ignored`, kString, kObject) {
			return nopStmt
		}
		st := &stmt{op: sCase, name: t[1].str, keys: t[2].keys}
		for _, e := range t[2].elems {
			st.items = append(st.items, c.block(e))
		}
		return st
	case "return":
		return returnStmt
	case "include":
		var t [4]*value
		if !c.args(&t, v, 1, `"include" needs a file name: ignored`, kString) {
			return nopStmt
		}
		f, err := c.l.include(c.f, t[1].str)
		if err != nil {
			c.warn(v.line, sprintf("include %q: %v: ignored", t[1].str, err))
			return nopStmt
		}
		if f.loading {
			c.warn(v.line, sprintf("include %q: recursive include, skipped when reached", t[1].str))
		}
		c.l.hasInclude = true
		return &stmt{op: sInclude, file: f}
	}
	st := &stmt{op: sCommand, name: name, args: make([]template, 0, len(v.elems)-1)}
	for i, e := range v.elems[1:] {
		if e.kind != kString {
			c.warn(e.line, sprintf("command %q: argument %d is a %s, not a string: dropped", name, i+1, e.kind))
			continue
		}
		t := compileTemplate(e.str)
		if t.unterminated {
			c.warn(e.line, sprintf("command %q: unterminated variable reference in %q: the command never runs", name, clip(e.str)))
			return errorStmt
		}
		st.args = append(st.args, t)
	}
	return st
}

// cond mirrors json_process_expr.
func (c *compiler) cond(v *value) *cond {
	if v.kind != kArray || len(v.elems) == 0 || v.elems[0].kind != kString {
		c.warn(v.line, "expected a condition [\"name\", ...]: the condition is an error (false, and no else)")
		return errorCond
	}
	name := v.elems[0].str
	switch name {
	case "eq", "regex":
		var t [4]*value
		if !c.args(&t, v, 2, `"`+name+`" needs a variable name and a value: the condition is an error`, kString, 0) {
			return errorCond
		}
		cd := &cond{op: cEq, name: t[1].str}
		if name == "regex" {
			cd.op = cRegex
		}
		cd.alts = c.alts(name, t[2], cd.op == cRegex)
		return cd
	case "has":
		var t [4]*value
		if !c.args(&t, v, 1, `"has" needs a variable name: the condition is an error`, 0) {
			return errorCond
		}
		return &cond{op: cHas, alts: c.alts(name, t[1], false)}
	case "and", "or":
		cd := &cond{op: cAnd}
		if name == "or" {
			cd.op = cOr
		}
		for _, e := range v.elems[1:] {
			cd.kids = append(cd.kids, c.cond(e))
		}
		return cd
	case "not":
		var t [4]*value
		if !c.args(&t, v, 1, `"not" needs a condition: the condition is an error`, kArray) {
			return errorCond
		}
		return &cond{op: cNot, kids: []*cond{c.cond(t[1])}}
	case "isdir":
		var t [4]*value
		if !c.args(&t, v, 1, `"isdir" needs a path: the condition is an error`, kString) {
			return errorCond
		}
		p := compileTemplate(t[1].str)
		if p.unterminated {
			c.warn(t[1].line, sprintf("isdir: unterminated variable reference in %q: the condition is an error", clip(t[1].str)))
			return errorCond
		}
		return &cond{op: cIsdir, path: p}
	}
	c.warn(v.line, sprintf("unknown condition %q: the condition is an error", clip(name)))
	return errorCond
}

// alts compiles the value of eq/regex/has: a string or an array of them.
func (c *compiler) alts(name string, v *value, regex bool) []alt {
	elems := v.elems
	if v.kind != kArray {
		elems = []*value{v}
	}
	alts := make([]alt, len(elems))
	for i, e := range elems {
		a := &alts[i]
		if e.kind != kString {
			c.warn(e.line, sprintf("%q: a %s where a string is expected: an error when reached", name, e.kind))
			a.bad = true
			continue
		}
		a.s = e.str
		if regex {
			m, err := compileMatcher(e.str)
			if err != nil {
				c.warn(e.line, sprintf("regex %s never matches: %s", strconv.Quote(clip(e.str)), regexWhy(err)))
			}
			a.m = m
		}
	}
	return alts
}
