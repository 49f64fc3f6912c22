// Package ere matches POSIX extended regular expressions, as regcomp with
// REG_EXTENDED|REG_NOSUB and regexec do in the C locale: it answers only
// "does the pattern match somewhere in the string".
//
// It exists so that the binary does not carry Go's regexp (and the Unicode
// tables it keeps alive) for the few regexes of hotplug.json. It works on
// bytes, not runes; '.' and negated brackets match any byte, newline
// included (no REG_NEWLINE). Matching simulates the NFA without captures,
// so its time is linear in the input for every pattern.
//
// Syntax: literals; '.'; bracket expressions (ranges, leading '^', ']'
// first and '-' first or last literal, backslash literal, the twelve
// POSIX classes such as [:alpha:], and [=c=] and [.c.] of one character);
// the anchors '^' and '$' anywhere; groups; '|'; the repetitions *, +, ?,
// {m}, {m,}, {m,n} with m, n <= 255 (RE_DUP_MAX), stacked as in musl
// (a+? is (a+)?); {,n} is an error, as in musl; a backslash makes a punctuation character literal. A
// backslash before a letter, a digit, < > ` or ' (\d, \w, \1, \< ...) is
// an error: musl and glibc give those meanings of their own. An unmatched ')'
// is literal, as POSIX and musl have it.
//
// TestMusl checks all this against musl's regcomp and regexec. Where musl
// (TRE) is wrong, this package follows POSIX and glibc: musl does not
// match "^$|" against "b" or "--^*" against "--", patterns that mix inner
// anchors or empty alternatives with parts that can match empty. glibc in
// turn lets an anchor inside the pattern match next to a newline ("$."
// matches "\n" there); here, as in musl, anchors are only the two ends.
package ere

import "strconv"

// Error is a pattern that does not compile: Offset is the byte offset in
// Pattern where the problem was found.
type Error struct {
	_       [0]func() // not comparable: no generated equality function
	Pattern string
	Offset  int
	Msg     string
}

func (e *Error) Error() string {
	return "regex " + strconv.Quote(e.Pattern) + " at offset " + strconv.Itoa(e.Offset) + ": " + e.Msg
}

// Limits. dupMax is POSIX's RE_DUP_MAX as musl and glibc define it;
// maxNest and maxInsts bound the parser's recursion and the program that
// nested counted repetitions can multiply out ((a{255}){255}).
const (
	dupMax   = 255
	maxNest  = 1000
	maxInsts = 1 << 15
)

type nodeKind uint8

const (
	nEmpty nodeKind = iota // matches the empty string
	nSet                   // one byte of set
	nBOL                   // ^
	nEOL                   // $
	nCat                   // sub[0] sub[1] ...
	nAlt                   // sub[0] | sub[1] | ...
	nRep                   // sub[0]{min,max}; max < 0: no upper bound
)

type node struct {
	kind     nodeKind
	set      byteSet
	sub      []*node
	min, max int
}

type parser struct {
	pat   string
	pos   int
	depth int
}

// fail, more, peek and at are kept out of line (go:noinline): the parser
// calls them from many places, and an inlined copy at each costs the binary
// more than the call does (about 2 KB in all). The parser is not hot.

//go:noinline
func (p *parser) fail(off int, msg string) *Error {
	return &Error{Pattern: p.pat, Offset: off, Msg: msg}
}

//go:noinline
func (p *parser) more() bool { return p.pos < len(p.pat) }

//go:noinline
func (p *parser) peek() byte {
	if p.pos < len(p.pat) {
		return p.pat[p.pos]
	}
	return 0
}

// alternation: branch ('|' branch)*
func (p *parser) alternation() (*node, error) {
	var alts []*node
	for {
		b, err := p.branch()
		if err != nil {
			return nil, err
		}
		alts = append(alts, b)
		if !p.more() || p.peek() != '|' {
			break
		}
		p.pos++
	}
	if len(alts) == 1 {
		return alts[0], nil
	}
	return &node{kind: nAlt, sub: alts}, nil
}

// branch: (atom repetition*)*, ending at '|', at the end, or at a ')'
// that closes a group. An empty branch matches the empty string (musl).
func (p *parser) branch() (*node, error) {
	var items []*node
	for p.more() {
		c := p.peek()
		if c == '|' || c == ')' && p.depth > 0 {
			break
		}
		a, err := p.atom()
		if err != nil {
			return nil, err
		}
		if a, err = p.repetitions(a); err != nil {
			return nil, err
		}
		items = append(items, a)
	}
	switch len(items) {
	case 0:
		return &node{kind: nEmpty}, nil
	case 1:
		return items[0], nil
	}
	return &node{kind: nCat, sub: items}, nil
}

func (p *parser) atom() (*node, error) {
	start := p.pos
	c := p.pat[p.pos]
	p.pos++
	switch c {
	case '(':
		if p.depth >= maxNest {
			return nil, p.fail(start, "groups nested too deeply")
		}
		p.depth++
		n, err := p.alternation()
		if err != nil {
			return nil, err
		}
		p.depth--
		if !p.more() {
			return nil, p.fail(start, "unmatched (")
		}
		p.pos++ // ')'
		return n, nil
	case '[':
		return p.bracket(start)
	case '.':
		n := &node{kind: nSet}
		n.set.addRange(0, 255)
		return n, nil
	case '^':
		return &node{kind: nBOL}, nil
	case '$':
		return &node{kind: nEOL}, nil
	case '*', '+', '?', '{':
		return nil, p.fail(start, "repetition operator "+string(c)+" with nothing to repeat")
	case '\\':
		if !p.more() {
			return nil, p.fail(start, "trailing backslash")
		}
		c = p.pat[p.pos]
		// musl and glibc give \d, \w, \<, \` ... meanings of their own
		// (and disagree): refuse them rather than guess.
		if isAlnum(c) || c == '<' || c == '>' || c == '`' || c == '\'' {
			return nil, p.fail(start, "unsupported escape \\"+string(c))
		}
		p.pos++
	}
	return literal(c), nil
}

func literal(c byte) *node {
	n := &node{kind: nSet}
	n.set.add(c)
	return n
}

// repetitions applies every *, +, ?, {m,n} that follows an atom. Stacked
// operators nest, as in musl: a+? is (a+)?.
func (p *parser) repetitions(n *node) (*node, error) {
	for p.more() {
		min, max := 0, -1
		switch p.peek() {
		case '*':
			p.pos++
		case '+':
			min = 1
			p.pos++
		case '?':
			max = 1
			p.pos++
		case '{':
			var err error
			if min, max, err = p.bound(); err != nil {
				return nil, err
			}
		default:
			return n, nil
		}
		if max == 0 {
			n = &node{kind: nEmpty}
		} else {
			n = &node{kind: nRep, sub: []*node{n}, min: min, max: max}
		}
	}
	return n, nil
}

// bound parses {m}, {m,} or {m,n} at p.pos and moves past it.
func (p *parser) bound() (min, max int, err error) {
	start := p.pos
	p.pos++ // '{'
	min = p.count()
	max = min
	if p.peek() == ',' {
		p.pos++
		max = p.count()
		if max == -1 {
			max = -2 // no upper bound; -1 is "no digits" below
		}
	}
	if !p.more() || p.peek() != '}' {
		return 0, 0, p.fail(start, "bad repetition bound: want {m}, {m,} or {m,n}")
	}
	p.pos++
	switch {
	case min < 0:
		return 0, 0, p.fail(start, "bad repetition bound: missing minimum")
	case min > dupMax || max > dupMax:
		return 0, 0, p.fail(start, "repetition count above "+strconv.Itoa(dupMax)+" (RE_DUP_MAX)")
	case max == -2:
		return min, -1, nil
	case max < min:
		return 0, 0, p.fail(start, "bad repetition bound: maximum below minimum")
	}
	return min, max, nil
}

// count reads decimal digits, saturating above dupMax; -1 if none.
func (p *parser) count() int {
	n := -1
	for p.more() && p.peek() >= '0' && p.peek() <= '9' {
		if n < 0 {
			n = 0
		}
		if n <= dupMax {
			n = n*10 + int(p.peek()-'0')
		}
		p.pos++
	}
	return n
}

// bracket parses a bracket expression; p.pos is just past the '['.
func (p *parser) bracket(open int) (*node, error) {
	n := &node{kind: nSet}
	negate := p.peek() == '^'
	if negate {
		p.pos++
	}
	first := p.pos
	for {
		if !p.more() {
			return nil, p.fail(open, "unmatched [")
		}
		c := p.peek()
		if c == ']' && p.pos != first {
			p.pos++
			break
		}
		// '-' starts a term only first, last, or as the start of a
		// range such as [%--] (musl's rule).
		if c == '-' && p.pos != first && p.pos+1 < len(p.pat) && p.at(1) != ']' && (p.at(1) != '-' || p.at(2) == ']') {
			return nil, p.fail(p.pos, "'-' must be first or last in a bracket, or a range end")
		}
		termStart := p.pos
		if c == '[' && p.at(1) == ':' {
			if err := p.class(&n.set); err != nil {
				return nil, err
			}
			if p.peek() == '-' && p.pos+1 < len(p.pat) && p.at(1) != ']' {
				return nil, p.fail(termStart, "a character class cannot start a range")
			}
			continue
		}
		lo, isEquiv, err := p.bracketChar()
		if err != nil {
			return nil, err
		}
		hi := lo
		if p.peek() == '-' && p.pos+1 < len(p.pat) && p.at(1) != ']' {
			if isEquiv {
				return nil, p.fail(termStart, "an equivalence class cannot start a range")
			}
			p.pos++
			var endEquiv bool
			if hi, endEquiv, err = p.bracketChar(); err != nil {
				return nil, err
			}
			if endEquiv {
				return nil, p.fail(termStart, "an equivalence class cannot end a range")
			}
			if hi < lo {
				return nil, p.fail(termStart, "range out of order")
			}
		}
		n.set.addRange(lo, hi)
	}
	if negate {
		n.set.invert()
	}
	return n, nil
}

// at returns the byte i past p.pos, or 0 past the end.
//
//go:noinline
func (p *parser) at(i int) byte {
	if p.pos+i < len(p.pat) {
		return p.pat[p.pos+i]
	}
	return 0
}

// bracketChar reads one bracket character: a plain byte, [.c.] or [=c=]
// (a single character only: the C locale has no multi-character collating
// elements, and each character is its own equivalence class).
func (p *parser) bracketChar() (c byte, equiv bool, err error) {
	start := p.pos
	if p.peek() == '[' && (p.at(1) == '.' || p.at(1) == '=') {
		delim := p.at(1)
		body := p.pos + 2
		end := body
		for end+1 < len(p.pat) && !(p.pat[end] == delim && p.pat[end+1] == ']') {
			end++
		}
		if end+1 >= len(p.pat) {
			return 0, false, p.fail(start, "unterminated ["+string(delim))
		}
		if end-body != 1 {
			return 0, false, p.fail(start, "only single characters are supported in [.c.] and [=c=]")
		}
		p.pos = end + 2
		return p.pat[body], delim == '=', nil
	}
	p.pos++
	return p.pat[start], false, nil
}

// classes are the POSIX character classes of the C locale, each a list of
// byte ranges (lo, hi pairs).
var classes = [...]struct{ name, ranges string }{
	{"alpha", "AZaz"},
	{"digit", "09"},
	{"alnum", "09AZaz"},
	{"upper", "AZ"},
	{"lower", "az"},
	{"space", "\t\r  "},
	{"blank", "\t\t  "},
	{"punct", "!/:@[`{~"},
	{"print", " ~"},
	{"graph", "!~"},
	{"cntrl", "\x00\x1f\x7f\x7f"},
	{"xdigit", "09AFaf"},
}

// class parses [:name:] at p.pos and adds its bytes to s.
func (p *parser) class(s *byteSet) error {
	start := p.pos
	end := start + 2
	for end+1 < len(p.pat) && !(p.pat[end] == ':' && p.pat[end+1] == ']') {
		end++
	}
	if end+1 >= len(p.pat) {
		return p.fail(start, "unterminated [:")
	}
	name := p.pat[start+2 : end]
	p.pos = end + 2
	for _, c := range classes {
		if c.name == name {
			for i := 0; i < len(c.ranges); i += 2 {
				s.addRange(c.ranges[i], c.ranges[i+1])
			}
			return nil
		}
	}
	return p.fail(start, "unknown character class [:"+name+":]")
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }
func isAlpha(c byte) bool { return c|0x20 >= 'a' && c|0x20 <= 'z' }
func isAlnum(c byte) bool { return isDigit(c) || isAlpha(c) }

// byteSet is a set of bytes, 32-bit words so that 32-bit targets test it
// with one load.
type byteSet [8]uint32

func (s *byteSet) add(c byte)      { s[c>>5] |= 1 << (c & 31) }
func (s *byteSet) has(c byte) bool { return s[c>>5]&(1<<(c&31)) != 0 }
func (s *byteSet) union(t *byteSet) {
	for i := range s {
		s[i] |= t[i]
	}
}

// only returns the byte of a set of one.
func (s *byteSet) only() (byte, bool) {
	var n int
	var c byte
	for i := 0; i < 256; i++ {
		if s.has(byte(i)) {
			n++
			c = byte(i)
		}
	}
	return c, n == 1
}

func (s *byteSet) invert() {
	for i := range s {
		s[i] = ^s[i]
	}
}
func (s *byteSet) addRange(lo, hi byte) {
	for c := int(lo); c <= int(hi); c++ {
		s.add(byte(c))
	}
}
