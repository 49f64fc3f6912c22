package printf

import (
	"strconv"
	"strings"
	"unicode/utf8"
)

// spec is one conversion's flags, width and precision.
type spec struct {
	minus, plus, sharp, space, zero bool
	wid, prec                       int
	widPresent, precPresent         bool
}

// printer accumulates the output of one call.
type printer struct {
	buf      []byte
	wrapping bool    // Errorf: %w records its operand
	wrapped  []error // the %w operands, in order
	erroring bool    // printing a bad verb's operand: no Error or String
}

func (p *printer) println(a []any) {
	for i, arg := range a {
		if i > 0 {
			p.add(" ")
		}
		p.value(arg, 'v', &spec{})
	}
	p.add("\n")
}

// printf interprets format as fmt.Printf does: flags, width, precision, verb.
func (p *printer) printf(format string, a []any) {
	argNum := 0
	for i := 0; i < len(format); {
		if format[i] != '%' {
			j := i + 1
			for j < len(format) && format[j] != '%' {
				j++
			}
			p.add(format[i:j])
			i = j
			continue
		}
		i++ // past '%'
		var s spec
	flags:
		for ; i < len(format); i++ {
			switch format[i] {
			case '#':
				s.sharp = true
			case '0':
				s.zero = !s.minus // zero padding only to the left
			case '+':
				s.plus = true
			case '-':
				s.minus, s.zero = true, false
			case ' ':
				s.space = true
			default:
				break flags
			}
		}
		if i < len(format) && format[i] == '*' {
			i++
			s.wid, s.widPresent, argNum = intArg(a, argNum)
			if !s.widPresent {
				p.add("%!(BADWIDTH)")
			} else if s.wid < 0 {
				s.wid, s.minus, s.zero = -s.wid, true, false
			}
		} else {
			s.wid, s.widPresent, i = number(format, i)
		}
		if i < len(format) && format[i] == '.' {
			i++
			if i < len(format) && format[i] == '*' {
				i++
				s.prec, s.precPresent, argNum = intArg(a, argNum)
				if s.prec < 0 {
					s.prec, s.precPresent = 0, false
				}
				if !s.precPresent {
					p.add("%!(BADPREC)")
				}
			} else {
				s.prec, _, i = number(format, i)
				s.precPresent = true
			}
		}
		if i >= len(format) {
			p.add("%!(NOVERB)")
			break
		}
		verb, size := rune(format[i]), 1
		if verb >= utf8.RuneSelf {
			verb, size = utf8.DecodeRuneInString(format[i:])
		}
		i += size
		switch {
		case verb == '%':
			p.add("%")
		case argNum >= len(a):
			p.bang(verb)
			p.add("(MISSING)")
		case verb == 'w':
			p.wrap(a[argNum], &s)
			argNum++
		default:
			if verb == 'v' {
				s.plus, s.sharp = false, false // %+v and %#v are about structs and Go syntax
			}
			p.value(a[argNum], verb, &s)
			argNum++
		}
	}
	if argNum < len(a) {
		p.add("%!(EXTRA ")
		for i, arg := range a[argNum:] {
			if i > 0 {
				p.add(", ")
			}
			p.add(typeName(arg))
			if arg != nil {
				p.add("=")
				p.value(arg, 'v', &spec{})
			}
		}
		p.add(")")
	}
}

// number parses a decimal at format[i:]; ok is false when there is none.
func number(format string, i int) (n int, ok bool, next int) {
	for ; i < len(format) && '0' <= format[i] && format[i] <= '9'; i++ {
		if n > 1e6 {
			return 0, false, len(format) // absurd width: fmt gives up too
		}
		n, ok = n*10+int(format[i]-'0'), true
	}
	return n, ok, i
}

// intArg takes a[n] as a * width or precision.
func intArg(a []any, n int) (v int, ok bool, next int) {
	if n >= len(a) {
		return 0, false, n
	}
	v, ok = a[n].(int)
	return v, ok, n + 1
}

// wrap formats a %w operand: in Errorf an error is printed as %v and
// recorded; anything else, or %w outside Errorf, is a bad verb, as in fmt.
func (p *printer) wrap(arg any, s *spec) {
	err, ok := arg.(error)
	if !ok || err == nil || !p.wrapping {
		p.badVerb('w', arg, s)
		return
	}
	p.wrapped = append(p.wrapped, err)
	p.value(err, 'v', s)
}

// value formats one operand with verb.
func (p *printer) value(arg any, verb rune, s *spec) {
	if arg == nil {
		if verb == 'v' {
			p.pad("<nil>", s)
		} else {
			p.badVerb(verb, nil, s)
		}
		return
	}
	switch verb {
	case 'v', 's', 'q', 'x', 'X':
		if p.erroring {
			break
		}
		switch v := arg.(type) {
		case error:
			p.str(p.method(v.Error, verb), verb, s)
			return
		case interface{ String() string }:
			p.str(p.method(v.String, verb), verb, s)
			return
		}
	}
	if !p.basic(arg, verb, s) {
		p.badVerb(verb, arg, s)
	}
}

// basic formats the operand types printf knows, reporting false, having
// written nothing, when verb does not fit arg or arg is of another type.
func (p *printer) basic(arg any, verb rune, s *spec) bool {
	switch v := arg.(type) {
	case string:
		return p.str(v, verb, s)
	case []byte:
		if strings.ContainsRune("sqxX", verb) {
			return p.str(string(v), verb, s)
		}
		p.add("[")
		for i, c := range v {
			if i > 0 {
				p.add(" ")
			}
			p.value(c, verb, s)
		}
		p.add("]")
		return true
	case []string:
		p.add("[")
		for i, e := range v {
			if i > 0 {
				p.add(" ")
			}
			p.value(e, verb, s)
		}
		p.add("]")
		return true
	case bool:
		return p.boolean(v, verb, s)
	}
	if u, signed, _, ok := integer(arg); ok {
		return p.integer(u, signed, verb, s)
	}
	return false
}

// integer returns an integer operand's value (an int64's two's complement
// when signed) and its type's name; ok is false for other operands.
func integer(arg any) (u uint64, signed bool, name string, ok bool) {
	switch v := arg.(type) {
	case int:
		return uint64(v), true, "int", true
	case int8:
		return uint64(v), true, "int8", true
	case int16:
		return uint64(v), true, "int16", true
	case int32:
		return uint64(v), true, "int32", true
	case int64:
		return uint64(v), true, "int64", true
	case uint:
		return uint64(v), false, "uint", true
	case uint8:
		return uint64(v), false, "uint8", true
	case uint16:
		return uint64(v), false, "uint16", true
	case uint32:
		return uint64(v), false, "uint32", true
	case uint64:
		return v, false, "uint64", true
	case uintptr:
		return uint64(v), false, "uintptr", true
	}
	return 0, false, "", false
}

// method calls arg's Error or String method; a panic in it (a nil pointer
// receiver, say) is printed instead of unwinding through PID 1.
func (p *printer) method(f func() string, verb rune) (out string) {
	defer func() {
		if r := recover(); r != nil {
			out = "%!" + string(verb) + "(PANIC=" + panicText(r) + ")"
		}
	}()
	return f()
}

func panicText(r any) string {
	switch v := r.(type) {
	case error:
		return v.Error()
	case string:
		return v
	}
	return "?"
}

// badVerb prints %!verb(TYPE=VALUE) for an operand the verb does not fit,
// as fmt does, or %!verb(?) for an operand of a type printf does not know.
func (p *printer) badVerb(verb rune, arg any, s *spec) {
	p.bang(verb)
	p.add("(")
	switch name := typeName(arg); name {
	case "?", "<nil>":
		p.add(name)
	default:
		p.add(name)
		p.add("=")
		p.erroring = true
		p.basic(arg, 'v', s)
		p.erroring = false
	}
	p.add(")")
}

// typeName names the types basic formats, as fmt names them, and "?" others.
func typeName(arg any) string {
	switch arg.(type) {
	case nil:
		return "<nil>"
	case string:
		return "string"
	case []byte:
		return "[]uint8"
	case []string:
		return "[]string"
	case bool:
		return "bool"
	}
	if _, _, name, ok := integer(arg); ok {
		return name
	}
	return "?"
}

func (p *printer) boolean(b bool, verb rune, s *spec) bool {
	if verb != 'v' && verb != 't' {
		return false
	}
	p.pad(strconv.FormatBool(b), s)
	return true
}

// str formats a string with %v %s %q %x %X.
func (p *printer) str(str string, verb rune, s *spec) bool {
	switch verb {
	case 'x', 'X':
		p.hexBytes(str, verb, s)
		return true
	case 'v', 's', 'q':
	default:
		return false
	}
	str = truncate(str, s)
	if verb == 'q' {
		switch {
		case s.sharp && strconv.CanBackquote(str):
			str = "`" + str + "`"
		case s.plus:
			str = strconv.QuoteToASCII(str)
		default:
			str = strconv.Quote(str)
		}
	}
	p.pad(str, s)
	return true
}

// truncate keeps the first s.prec runes of str when a precision is given.
func truncate(str string, s *spec) string {
	if s.precPresent {
		n := 0
		for i := range str {
			if n == s.prec {
				return str[:i]
			}
			n++
		}
	}
	return str
}

// hexBytes writes b in hex, two digits a byte; a precision limits the bytes
// read, '#' adds 0x and ' ' separates the bytes (each with its 0x under '#').
func (p *printer) hexBytes(b string, verb rune, s *spec) {
	if s.precPresent && s.prec < len(b) {
		b = b[:s.prec]
	}
	digits := "0123456789abcdef"
	if verb == 'X' {
		digits = "0123456789ABCDEF"
	}
	var out []byte
	for i := 0; i < len(b); i++ {
		var w [5]byte // [' '] ['0' 'x'] and two digits
		k := 0
		if s.space && i > 0 {
			w[k] = ' '
			k++
		}
		if s.sharp && (s.space || i == 0) {
			w[k], w[k+1] = '0', byte(verb)
			k += 2
		}
		w[k], w[k+1] = digits[b[i]>>4], digits[b[i]&0xf]
		out = append(out, w[:k+2]...)
	}
	p.pad(string(out), s)
}

// integer formats u (a two's complement int64 when signed) with %v %d %x %X
// %o %b %c %q, with fmt's rules for sign, '#' prefixes, precision and zero
// padding.
func (p *printer) integer(u uint64, signed bool, verb rune, s *spec) bool {
	base := uint64(10)
	switch verb {
	case 'v', 'd':
	case 'x', 'X':
		base = 16
	case 'o':
		base = 8
	case 'b':
		base = 2
	case 'c', 'q':
		r := runeOf(u, signed)
		var str string
		switch {
		case verb == 'c':
			str = string(r)
		case s.plus:
			str = strconv.QuoteRuneToASCII(r)
		default:
			str = strconv.QuoteRune(r)
		}
		p.pad(str, s)
		return true
	default:
		return false
	}
	s0 := *s // the zeros are written here, not by pad
	s0.zero = false
	negative := signed && int64(u) < 0
	if negative {
		u = -u
	}
	prec := 0
	if s.precPresent {
		prec = s.prec
		if prec == 0 && u == 0 {
			p.pad("", &s0)
			return true
		}
	} else if s.zero && s.widPresent {
		prec = s.wid
		if negative || s.plus || s.space {
			prec-- // room for the sign
		}
	}
	// Right to left: digits, zeros up to the precision, prefix, sign.
	out := make([]byte, 67+max(prec, 0)) // 64 binary digits, 0x, a sign
	i := len(out)
	upper := uint64(0)
	if verb == 'X' {
		upper = 16
	}
	for {
		i--
		out[i] = "0123456789abcdef0123456789ABCDEF"[u%base+upper]
		u /= base
		if u == 0 {
			break
		}
	}
	for n := len(out) - i; n < prec; n++ {
		i--
		out[i] = '0'
	}
	if s.sharp {
		switch base {
		case 2, 16:
			i -= 2
			out[i], out[i+1] = '0', 'b'
			if base == 16 {
				out[i+1] = byte(verb)
			}
		case 8:
			if out[i] != '0' {
				i--
				out[i] = '0'
			}
		}
	}
	switch {
	case negative:
		i--
		out[i] = '-'
	case s.plus:
		i--
		out[i] = '+'
	case s.space:
		i--
		out[i] = ' '
	}
	p.pad(string(out[i:]), &s0)
	return true
}

func runeOf(u uint64, signed bool) rune {
	if (signed && int64(u) != int64(int32(u))) || (!signed && u > utf8.MaxRune) {
		return utf8.RuneError
	}
	return rune(u)
}

// pad writes b, padded to the width with spaces (or zeros under '0') on the
// left, or with spaces on the right under '-'.
func (p *printer) pad(b string, s *spec) {
	n := 0
	if s.widPresent {
		n = s.wid - utf8.RuneCountInString(b)
	}
	fill := " "
	if s.zero {
		fill = "0"
	}
	for ; n > 0 && !s.minus; n-- {
		p.add(fill)
	}
	p.add(b)
	for ; n > 0; n-- {
		p.add(" ")
	}
}

// add appends str to the output. It is kept out of line (go:noinline): an
// inlined append at each of its many sites costs more than the call.
//
//go:noinline
func (p *printer) add(str string) { p.buf = append(p.buf, str...) }

// bang writes the "%!verb" that starts fmt's error notes.
func (p *printer) bang(verb rune) {
	p.add("%!")
	p.buf = utf8.AppendRune(p.buf, verb)
}
