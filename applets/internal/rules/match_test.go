package rules

import (
	"strings"
	"testing"

	"toybox-go/applets/internal/ere"
)

// TestMatcherFastPaths: the literal shortcuts of compileMatcher answer
// exactly as the regex engine does, and take the shortcut they should.
func TestMatcherFastPaths(t *testing.T) {
	values := []string{"", "tty", "ttyS0", "xtty", "xttyS0", "ttyt", "a$", "a", "a\\", "a\nb", "^tty", "tty$"}
	for _, tc := range []struct {
		pat  string
		kind matchKind
	}{
		{"tty", matchContains},
		{"^tty", matchPrefix},
		{"tty$", matchSuffix},
		{"^tty$", matchEqual},
		{"", matchContains},
		{"^", matchPrefix},
		{"$", matchSuffix},
		{"^$", matchEqual},
		{"a\\$", matchRegexp},
		{"^tty.", matchRegexp},
		{"t^ty", matchRegexp},
		{"tt$y", matchRegexp},
		{"^^tty", matchRegexp},
		{"tty$$", matchRegexp},
		{"a)", matchRegexp},
		{"a}", matchRegexp},
	} {
		m, err := compileMatcher(tc.pat)
		if err != nil {
			t.Errorf("compileMatcher(%q): %v", tc.pat, err)
			continue
		}
		if m.kind != tc.kind {
			t.Errorf("compileMatcher(%q): kind %d, want %d", tc.pat, m.kind, tc.kind)
		}
		re := ere.MustCompile(tc.pat)
		for _, v := range values {
			if got, want := m.match(v), re.MatchString(v); got != want {
				t.Errorf("%q against %q: matcher says %v, ere says %v", tc.pat, v, got, want)
			}
		}
	}
}

// A pattern that does not compile never matches, and the load warning
// says what is wrong and where.
func TestBadRegexWarning(t *testing.T) {
	m, err := compileMatcher("ab(c")
	if err == nil || m.kind != matchNever || m.match("ab(c") {
		t.Fatalf("compileMatcher(\"ab(c\") = %v, %v", m, err)
	}
	s := mustParse(t, "bad.json", "[\n [ \"if\", [ \"regex\", \"A\", \"x\\\\d+\" ], [ \"t\" ], [ \"e\" ] ] ]")
	w := s.Warnings()
	if len(w) != 1 {
		t.Fatalf("warnings: %v", w)
	}
	asError(t, w[0], "bad.json", 2)
	if msg := w[0].Error(); !strings.Contains(msg, `regex "x\\d+" never matches: unsupported escape \d at offset 1`) {
		t.Errorf("warning %q", msg)
	}
	if got := output(s, env(`A=x\d+`)); !equalLines(got, []string{"e"}) {
		t.Errorf("a bad regex matched: %q", got)
	}
}
