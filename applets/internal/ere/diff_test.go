package ere

import (
	"errors"
	"math/rand"
	"regexp"
	"strings"
	"testing"
)

// The differential tests compare with Go's regexp.CompilePOSIX on the
// part of the syntax where the two mean the same thing: ASCII patterns
// and inputs, no newline in the input (Go's '.' skips it, and its POSIX
// mode makes ^ and $ line anchors), no backslash or '[' inside brackets
// (Go escapes there), no stacked repetitions (Go refuses a** and reads
// a+? as lazy), no repeated anchors, no '{' or ')' as literals.

// genAlphabet is what generated inputs are made of.
const genAlphabet = "abcAB1 .*-]"

// gen builds a pattern of the common subset from the bytes of src.
type gen struct {
	src []byte
	b   strings.Builder
}

func (g *gen) next(n int) int {
	if len(g.src) == 0 {
		return 0
	}
	c := g.src[0]
	g.src = g.src[1:]
	return int(c) % n
}

func (g *gen) alternation(depth int) {
	n := 1 + g.next(3)
	for i := 0; i < n; i++ {
		if i > 0 {
			g.b.WriteByte('|')
		}
		g.branch(depth)
	}
}

func (g *gen) branch(depth int) {
	n := 1 + g.next(4)
	if g.next(10) == 0 {
		n = 0 // an empty branch
	}
	for i := 0; i < n; i++ {
		switch g.next(20) {
		case 0:
			g.b.WriteByte('^') // never repeated: Go refuses ^*
			continue
		case 1:
			g.b.WriteByte('$')
			continue
		case 2, 3:
			g.bracket()
		case 4:
			if depth < 3 {
				g.b.WriteByte('(')
				g.alternation(depth + 1)
				g.b.WriteByte(')')
			} else {
				g.b.WriteByte('a')
			}
		case 5:
			g.b.WriteByte('.')
		case 6:
			g.b.WriteString([]string{`\.`, `\*`, `\(`, `\[`, `\|`, `\\`, `\+`, `\^`, `\$`}[g.next(9)])
		default:
			g.b.WriteByte("abcA1 -]"[g.next(8)])
		}
		g.repeat()
	}
}

func (g *gen) repeat() {
	switch g.next(10) {
	case 0:
		g.b.WriteByte('*')
	case 1:
		g.b.WriteByte('+')
	case 2:
		g.b.WriteByte('?')
	case 3:
		m := g.next(4)
		switch g.next(3) {
		case 0:
			g.b.WriteString("{" + string(rune('0'+m)) + "}")
		case 1:
			g.b.WriteString("{" + string(rune('0'+m)) + ",}")
		default:
			g.b.WriteString("{" + string(rune('0'+m)) + "," + string(rune('0'+m+g.next(3))) + "}")
		}
	}
}

func (g *gen) bracket() {
	g.b.WriteByte('[')
	if g.next(3) == 0 {
		g.b.WriteByte('^')
	}
	if g.next(5) == 0 {
		g.b.WriteByte(']')
	}
	n := 1 + g.next(3)
	for i := 0; i < n; i++ {
		switch g.next(6) {
		case 0:
			g.b.WriteString([]string{"a-c", "A-Z", "0-9", " -*", "b-b"}[g.next(5)])
		case 1:
			g.b.WriteString([]string{"[:digit:]", "[:alpha:]", "[:upper:]", "[:punct:]", "[:space:]", "[:alnum:]", "[:lower:]", "[:print:]"}[g.next(8)])
		default:
			g.b.WriteByte("abcA1 .*"[g.next(8)])
		}
	}
	if g.next(4) == 0 {
		g.b.WriteByte('-')
	}
	g.b.WriteByte(']')
}

func generate(src []byte) string {
	g := &gen{src: src}
	g.alternation(0)
	return g.b.String()
}

func genInput(src []byte) string {
	b := make([]byte, len(src))
	for i, c := range src {
		b[i] = genAlphabet[int(c)%len(genAlphabet)]
	}
	return string(b)
}

// agree checks one generated pattern against Go on one input.
func agree(t *testing.T, pat, s string) {
	t.Helper()
	ours, err := Compile(pat)
	if err != nil {
		t.Fatalf("Compile(%q) of a generated pattern: %v", pat, err)
	}
	theirs, err := regexp.CompilePOSIX(pat)
	if err != nil {
		t.Fatalf("regexp.CompilePOSIX(%q): %v (generator left the common subset)", pat, err)
	}
	if got, want := ours.MatchString(s), theirs.MatchString(s); got != want {
		t.Fatalf("%q against %q: got %v, Go's regexp says %v", pat, s, got, want)
	}
}

func TestDifferential(t *testing.T) {
	rng := rand.New(rand.NewSource(1))
	patterns := 3000
	if testing.Short() {
		patterns = 300
	}
	src := make([]byte, 64)
	for i := 0; i < patterns; i++ {
		rng.Read(src)
		pat := generate(src)
		for j := 0; j < 20; j++ {
			in := make([]byte, rng.Intn(12))
			rng.Read(in)
			agree(t, pat, genInput(in))
		}
	}
}

// FuzzMatch: generated patterns of the common subset answer as Go's
// regexp does.
func FuzzMatch(f *testing.F) {
	f.Add([]byte("\x04\x07\x01\x02"), []byte("abc"))
	f.Add([]byte("\x02\x05\x08\x02\x09\x00\x03\x01\x01\x01\x02\x04\x03"), []byte("a.b*"))
	f.Add([]byte("\x03\x03\x04\x04\x01\x02\x06\x00\x05\x01\x07\x07\x05"), []byte("]]- A1"))
	f.Add([]byte{}, []byte{})
	f.Fuzz(func(t *testing.T, patSrc, inSrc []byte) {
		agree(t, generate(patSrc), genInput(inSrc))
	})
}

// FuzzCompile: any pattern and any input: no panic, and either an *Error
// naming the pattern and an offset inside it, or a program that answers
// as the reference matcher of ref_test.go does.
func FuzzCompile(f *testing.F) {
	for _, tc := range matchCases {
		f.Add(tc.pat, tc.s)
	}
	for _, p := range []string{"(", "[[:", "[[.", "a{1,", "\\", "[a-", "((a{255}){255})", "[]-]", "[[=]=]]"} {
		f.Add(p, "a")
	}
	f.Fuzz(func(t *testing.T, pat, s string) {
		re, err := Compile(pat)
		if err != nil {
			var e *Error
			if !errors.As(err, &e) || e.Pattern != pat || e.Offset < 0 || e.Offset > len(pat) || e.Msg == "" {
				t.Fatalf("Compile(%q): bad error %#v", pat, err)
			}
			return
		}
		checkRef(t, pat, s)
		got := re.MatchString(s)
		// Unanchored search: whatever matches s also matches x+s+x
		// unless anchors are involved.
		if got && !strings.ContainsAny(pat, "^$") && !re.MatchString("x"+s+"x") {
			t.Fatalf("%q matches %q but not x%sx", pat, s, s)
		}
	})
}

// TestGoDifferences documents where this package deliberately departs
// from Go's regexp: each pattern means something else (or nothing) there.
func TestGoDifferences(t *testing.T) {
	for _, tc := range []matchCase{
		{"[\\d]", "d", true},      // backslash is literal in brackets
		{"[\\d]", "1", false},     // Go: a digit class
		{"a.c", "a\nc", true},     // no REG_NEWLINE
		{"a)", "a)", true},        // Go: unexpected )
		{"^a**$", "aa", true},     // Go: invalid nested repetition
		{"^a.c$", "a\xffc", true}, // a byte, not a rune
	} {
		if got := MustCompile(tc.pat).MatchString(tc.s); got != tc.want {
			t.Errorf("%q against %q: got %v, want %v", tc.pat, tc.s, got, tc.want)
		}
	}
}
