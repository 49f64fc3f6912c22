package rules

import (
	"strconv"
	"strings"

	"toybox-go/applets/internal/ere"
)

// matcher is one compiled "regex" alternative. libubox compiles POSIX
// extended regexes (regcomp with REG_EXTENDED|REG_NOSUB) and searches
// unanchored; only "does it match" matters. Plain prefixes such as
// "^tty" — all that real rule files use — are matched without the regex
// engine; the rest go to package ere, our POSIX ERE matcher (bytes, C
// locale, '.' matches a newline as without REG_NEWLINE).
type matcher struct {
	_    [0]func() // not comparable: no generated equality function
	kind matchKind
	lit  string
	re   *ere.Regexp
}

type matchKind uint8

const (
	matchNever    matchKind = iota // the pattern did not compile
	matchContains                  // "abc"
	matchPrefix                    // "^abc"
	matchSuffix                    // "abc$"
	matchEqual                     // "^abc$"
	matchRegexp
)

// compileMatcher never fails: a pattern that does not compile never
// matches, as in libubox. The error is returned for a load warning.
func compileMatcher(pattern string) (matcher, error) {
	body := pattern
	anchorStart := strings.HasPrefix(body, "^")
	if anchorStart {
		body = body[1:]
	}
	anchorEnd := strings.HasSuffix(body, "$") && !strings.HasSuffix(body, "\\$")
	if anchorEnd {
		body = body[:len(body)-1]
	}
	if !strings.ContainsAny(body, `.[]()*+?{}|^$\`) {
		kind := matchContains
		switch {
		case anchorStart && anchorEnd:
			kind = matchEqual
		case anchorStart:
			kind = matchPrefix
		case anchorEnd:
			kind = matchSuffix
		}
		return matcher{kind: kind, lit: body}, nil
	}
	re, err := ere.Compile(pattern)
	if err != nil {
		return matcher{kind: matchNever}, err
	}
	return matcher{kind: matchRegexp, re: re}, nil
}

func (m *matcher) match(s string) bool {
	switch m.kind {
	case matchContains:
		return strings.Contains(s, m.lit)
	case matchPrefix:
		return strings.HasPrefix(s, m.lit)
	case matchSuffix:
		return strings.HasSuffix(s, m.lit)
	case matchEqual:
		return s == m.lit
	case matchRegexp:
		return m.re.MatchString(s)
	}
	return false
}

// regexWhy is what a load warning says about a pattern that does not
// compile; the warning quotes the (clipped) pattern itself.
func regexWhy(err error) string {
	// ere.Compile returns its *ere.Error as is: a type assertion does,
	// without errors.As's reflection.
	if e, ok := err.(*ere.Error); ok {
		return e.Msg + " at offset " + strconv.Itoa(e.Offset)
	}
	return err.Error()
}
