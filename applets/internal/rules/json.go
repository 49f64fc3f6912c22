package rules

import (
	"strconv"
	"strings"
	"unicode/utf16"
	"unicode/utf8"

	"toybox-go/applets/printf"
)

// The rule files are read with json-c's non-strict tokenizer upstream, so
// this is a small JSON reader with the same leniency: trailing commas in
// arrays and objects, /* */ and // comments, single-quoted strings,
// case-insensitive true/false/null, leading zeros in numbers, data after
// the top-level value ignored. Every value remembers its line for messages.

type kind uint8

const (
	kString kind = iota + 1
	kNumber
	kBool
	kNull
	kArray
	kObject
)

// kindNames name the kinds in messages, kind 0 (none) first.
var kindNames = [...]string{"nothing", "string", "number", "boolean", "null", "array", "object"}

func (k kind) String() string {
	if int(k) < len(kindNames) {
		return kindNames[k]
	}
	return "nothing"
}

// value is one parsed JSON value.
type value struct {
	kind  kind
	line  int
	str   string   // kString (cut at the first NUL, as a C string)
	elems []*value // kArray elements; kObject member values
	keys  []string // kObject member names, parallel to elems
}

// maxDepth bounds nesting like json-c's default tokenizer depth (32), so
// a file procd refuses is refused here too and hostile input cannot
// recurse without limit.
const maxDepth = 32

type jsonReader struct {
	data  []byte
	pos   int
	line  int
	depth int
	warn  func(line int, msg string)
}

type syntaxError struct {
	_    [0]func() // not comparable: no generated equality function
	line int
	msg  string
}

func (e *syntaxError) Error() string { return e.msg }

// parseJSON reads one top-level value. Problems that json-c accepts
// silently are passed to warn; anything json-c refuses is a *syntaxError.
func parseJSON(data []byte, warn func(line int, msg string)) (v *value, err error) {
	r := &jsonReader{data: data, line: 1, warn: warn}
	if len(data) >= 3 && data[0] == 0xef && data[1] == 0xbb && data[2] == 0xbf {
		r.pos = 3 // UTF-8 byte order mark
	}
	if err := r.skipSpace(); err != nil {
		return nil, err
	}
	if r.pos >= len(r.data) {
		return nil, &syntaxError{line: r.line, msg: "empty file: no JSON value"}
	}
	v, err = r.value()
	if err != nil {
		return nil, err
	}
	if err := r.skipSpace(); err != nil || r.pos < len(r.data) {
		warn(r.line, "data after the top-level value ignored")
	}
	return v, nil
}

func (r *jsonReader) fail(format string, args ...any) error {
	msg := format
	if len(args) > 0 {
		msg = sprintf(format, args...)
	}
	return &syntaxError{line: r.line, msg: msg}
}

// skipSpace skips what json-c treats as blank: isspace() bytes and comments.
func (r *jsonReader) skipSpace() error {
	for r.pos < len(r.data) {
		c := r.data[r.pos]
		switch c {
		case '\n':
			r.line++
			r.pos++
		case ' ', '\t', '\r', '\v', '\f':
			r.pos++
		case '/':
			if r.pos+1 >= len(r.data) {
				return r.fail("stray '/'")
			}
			switch r.data[r.pos+1] {
			case '/':
				end := indexByteFrom(r.data, r.pos, '\n')
				if end < 0 {
					r.pos = len(r.data)
				} else {
					r.pos = end // the newline is counted above
				}
			case '*':
				start := r.line
				r.pos += 2
				for {
					if r.pos+1 >= len(r.data) {
						r.line = start
						return r.fail("unterminated /* comment")
					}
					if r.data[r.pos] == '*' && r.data[r.pos+1] == '/' {
						r.pos += 2
						break
					}
					if r.data[r.pos] == '\n' {
						r.line++
					}
					r.pos++
				}
			default:
				return r.fail("stray '/'")
			}
		default:
			return nil
		}
	}
	return nil
}

func indexByteFrom(b []byte, from int, c byte) int {
	for i := from; i < len(b); i++ {
		if b[i] == c {
			return i
		}
	}
	return -1
}

func (r *jsonReader) value() (*value, error) {
	if r.pos >= len(r.data) {
		return nil, r.fail("unexpected end of file")
	}
	c := r.data[r.pos]
	switch {
	case c == '[' || c == '{':
		return r.container(c == '{')
	case c == '"' || c == '\'':
		line := r.line
		s, err := r.str()
		if err != nil {
			return nil, err
		}
		return &value{kind: kString, line: line, str: s}, nil
	case c == '-' || c == '+' || c == '.' || (c >= '0' && c <= '9'):
		return r.number()
	case c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z':
		start := r.pos
		for r.pos < len(r.data) && (r.data[r.pos] >= 'a' && r.data[r.pos] <= 'z' || r.data[r.pos] >= 'A' && r.data[r.pos] <= 'Z') {
			r.pos++
		}
		// The word is ASCII letters only: setting bit 5 lowers each one.
		word := make([]byte, r.pos-start)
		for i, c := range r.data[start:r.pos] {
			word[i] = c | 0x20
		}
		switch string(word) {
		case "true", "false":
			return &value{kind: kBool, line: r.line}, nil
		case "null":
			return &value{kind: kNull, line: r.line}, nil
		}
		return nil, r.fail("unexpected word %q", clip(string(r.data[start:r.pos])))
	}
	return nil, r.fail("unexpected character %q", clip(string(r.data[r.pos:min(r.pos+1, len(r.data))])))
}

func (r *jsonReader) enter() error {
	r.depth++
	if r.depth > maxDepth {
		return r.fail("nesting deeper than %d arrays/objects", maxDepth)
	}
	return nil
}

// next skips the blanks inside the array or object v and returns the byte
// that follows them: the end of the data there is an error.
func (r *jsonReader) next(v *value) (byte, error) {
	if err := r.skipSpace(); err != nil {
		return 0, err
	}
	if r.pos >= len(r.data) {
		return 0, r.fail("unterminated %s (opened on line %d)", v.kind, v.line)
	}
	return r.data[r.pos], nil
}

// endOf reads what follows an element or a member of v: a comma (false:
// more may follow) or the closing bracket or brace (true: v is done).
func (r *jsonReader) endOf(v *value, closing string) (bool, error) {
	c, err := r.next(v)
	if err != nil {
		return false, err
	}
	if c != ',' && c != closing[0] {
		return false, r.fail("expected ',' or '%s' in %s, found %q", closing, v.kind, string(r.data[r.pos:r.pos+1]))
	}
	r.pos++
	if c == ',' {
		return false, nil
	}
	r.depth--
	return true, nil
}

// container reads an array, or an object when obj, from its opening
// bracket or brace on.
func (r *jsonReader) container(obj bool) (*value, error) {
	v := &value{kind: kArray, line: r.line}
	closing := "]"
	if obj {
		v.kind, closing = kObject, "}"
	}
	if err := r.enter(); err != nil {
		return nil, err
	}
	r.pos++ // [ or {
	for {
		c, err := r.next(v)
		if err != nil {
			return nil, err
		}
		if c == closing[0] {
			// Reached directly after the opening or after a trailing
			// comma: json-c's non-strict mode accepts both.
			r.pos++
			r.depth--
			return v, nil
		}
		var key string
		keyLine := r.line
		if obj {
			if c != '"' && c != '\'' {
				return nil, r.fail("expected a quoted member name in object, found %q", string(r.data[r.pos:r.pos+1]))
			}
			if key, err = r.str(); err != nil {
				return nil, err
			}
			if err := r.skipSpace(); err != nil {
				return nil, err
			}
			if r.pos >= len(r.data) || r.data[r.pos] != ':' {
				return nil, r.fail("expected ':' after member name %q", clip(key))
			}
			r.pos++
			if err := r.skipSpace(); err != nil {
				return nil, err
			}
		}
		e, err := r.value()
		if err != nil {
			return nil, err
		}
		dup := false
		for i, k := range v.keys {
			if k == key {
				// json-c replaces the value and keeps the first position.
				r.warn(keyLine, sprintf("duplicate member %q: the last value is used", clip(key)))
				v.elems[i] = e
				dup = true
				break
			}
		}
		if !dup {
			if obj {
				v.keys = append(v.keys, key)
			}
			v.elems = append(v.elems, e)
		}
		closed, err := r.endOf(v, closing)
		if err != nil {
			return nil, err
		}
		if closed {
			return v, nil
		}
	}
}

// str reads a string quoted with " or '. Bytes are kept as they are
// (json-c does not check UTF-8); the result is cut at a NUL byte because
// libubox hands strings on as C strings.
func (r *jsonReader) str() (string, error) {
	quote := r.data[r.pos]
	startLine := r.line
	r.pos++
	start := r.pos
	// Fast path: no escapes.
	for i := r.pos; i < len(r.data); i++ {
		c := r.data[i]
		if c == '\\' {
			break
		}
		if c == quote {
			s := string(r.data[start:i])
			r.line += strings.Count(s, "\n")
			r.pos = i + 1
			return r.cutNUL(s, startLine), nil
		}
	}
	var b []byte
	for {
		if r.pos >= len(r.data) {
			r.line = startLine
			return "", r.fail("unterminated string")
		}
		c := r.data[r.pos]
		switch {
		case c == quote:
			r.pos++
			return r.cutNUL(string(b), startLine), nil
		case c != '\\':
			if c == '\n' {
				r.line++
			}
			b = append(b, c)
			r.pos++
		default:
			if r.pos+1 >= len(r.data) {
				r.line = startLine
				return "", r.fail("unterminated string")
			}
			e := r.data[r.pos+1]
			r.pos += 2
			if i := strings.IndexByte("\"\\/'bfnrt", e); i >= 0 {
				b = append(b, "\"\\/'\b\f\n\r\t"[i])
				continue
			}
			switch e {
			case 'u':
				cp, ok := r.hex4()
				if !ok {
					return "", r.fail("bad \\u escape in string")
				}
				ru := rune(cp)
				if utf16.IsSurrogate(ru) {
					ru = utf8.RuneError
					if cp < 0xdc00 && r.pos+1 < len(r.data) && r.data[r.pos] == '\\' && r.data[r.pos+1] == 'u' {
						save := r.pos
						r.pos += 2
						if lo, ok := r.hex4(); ok && lo >= 0xdc00 && lo <= 0xdfff {
							ru = utf16.DecodeRune(rune(cp), rune(lo))
						} else {
							r.pos = save
						}
					}
				}
				b = utf8.AppendRune(b, ru)
			default:
				return "", r.fail("unknown escape \\%c in string", e)
			}
		}
	}
}

func (r *jsonReader) hex4() (int, bool) {
	if r.pos+4 > len(r.data) {
		return 0, false
	}
	n, err := strconv.ParseUint(string(r.data[r.pos:r.pos+4]), 16, 32)
	if err != nil {
		return 0, false
	}
	r.pos += 4
	return int(n), true
}

func (r *jsonReader) cutNUL(s string, line int) string {
	if i := strings.IndexByte(s, 0); i >= 0 {
		r.warn(line, "string cut at its NUL byte")
		return s[:i]
	}
	return s
}

func (r *jsonReader) number() (*value, error) {
	start := r.pos
	for r.pos < len(r.data) && strings.IndexByte("0123456789+-.eE", r.data[r.pos]) >= 0 {
		r.pos++
	}
	if text := string(r.data[start:r.pos]); !isDecimal(text) {
		return nil, r.fail("bad number %q", clip(text))
	}
	return &value{kind: kNumber, line: r.line}, nil
}

// isDecimal reports whether s is a decimal floating-point number as
// strconv.ParseFloat reads one: a sign, digits with at most one point and at
// least one digit, then an exponent with a sign and at least one digit. Its
// value does not matter (out-of-range numbers are infinities to json-c, not
// errors), and ParseFloat would link about 20 KB of float parsing for a
// yes/no.
func isDecimal(s string) bool {
	i := 0
	sign := func() {
		if i < len(s) && (s[i] == '+' || s[i] == '-') {
			i++
		}
	}
	digits := func() (n int) {
		for ; i < len(s) && '0' <= s[i] && s[i] <= '9'; i++ {
			n++
		}
		return n
	}
	sign()
	n := digits()
	if i < len(s) && s[i] == '.' {
		i++
		n += digits()
	}
	if n == 0 {
		return false
	}
	if i < len(s) && (s[i] == 'e' || s[i] == 'E') {
		i++
		sign()
		if digits() == 0 {
			return false
		}
	}
	return i == len(s)
}

var sprintf = printf.Sprintf

// clip shortens text quoted in a message. It is kept out of line
// (go:noinline): inlined at its 9 call sites (each with a string
// concatenation) it cost the binary 600 bytes more than the calls.
//
//go:noinline
func clip(s string) string {
	if len(s) > 40 {
		return s[:40] + "..."
	}
	return s
}
