package ere

import (
	"math/rand"
	"testing"
)

// refMatch is a second, slow matcher over the parse tree, for checking
// the compiler and the NFA search (with its skips) on any pattern:
// ends computes the set of positions where n can end when it starts at
// one of the positions in from. Positions are bits, so len(s) < 63.
// Results are memoized by (node, from), which keeps nested repetitions
// such as ((a*)*)* polynomial.
func refMatch(n *node, s string) bool {
	r := &ref{s: s, memo: map[refKey]uint64{}}
	for start := 0; start <= len(s); start++ {
		if r.ends(n, 1<<start) != 0 {
			return true
		}
	}
	return false
}

type refKey struct {
	n    *node
	from uint64
}

type ref struct {
	s    string
	memo map[refKey]uint64
}

func (r *ref) ends(n *node, from uint64) uint64 {
	k := refKey{n, from}
	if out, ok := r.memo[k]; ok {
		return out
	}
	out := r.compute(n, from)
	r.memo[k] = out
	return out
}

func (r *ref) compute(n *node, from uint64) uint64 {
	s := r.s
	var out uint64
	switch n.kind {
	case nEmpty:
		return from
	case nSet:
		for i := 0; i < len(s); i++ {
			if from&(1<<i) != 0 && n.set.has(s[i]) {
				out |= 1 << (i + 1)
			}
		}
	case nBOL:
		return from & 1
	case nEOL:
		return from & (1 << len(s))
	case nCat:
		out = from
		for _, sub := range n.sub {
			out = r.ends(sub, out)
		}
	case nAlt:
		for _, sub := range n.sub {
			out |= r.ends(sub, from)
		}
	case nRep:
		cur := from
		for k := 0; k < n.min; k++ {
			cur = r.ends(n.sub[0], cur)
		}
		out = cur
		if n.max < 0 {
			// Fixpoint of out = out | ends(out): the union of every
			// further number of copies.
			for {
				more := out | r.ends(n.sub[0], out)
				if more == out {
					break
				}
				out = more
			}
			break
		}
		for k := n.min; k < n.max && cur != 0; k++ {
			cur = r.ends(n.sub[0], cur)
			out |= cur
		}
	}
	return out
}

// checkRef compares the compiled matcher with refMatch for one pattern.
func checkRef(t *testing.T, pat, s string) {
	t.Helper()
	// The reference is exponential in the nesting of repetitions: keep
	// to small patterns and inputs.
	re, err := Compile(pat)
	if err != nil || len(pat) > 40 || len(s) > 16 || len(re.prog) > 2000 {
		return
	}
	p := &parser{pat: pat}
	n, err := p.alternation()
	if err != nil {
		t.Fatalf("%q compiles but does not parse: %v", pat, err)
	}
	if got, want := re.MatchString(s), refMatch(n, s); got != want {
		t.Fatalf("%q against %q: got %v, the reference matcher says %v", pat, s, got, want)
	}
}

// TestReference: random patterns over every special character (stacked
// repetitions, repeated anchors, literal ')' and ']', brackets of all
// kinds) agree with the reference matcher.
func TestReference(t *testing.T) {
	pieces := []string{"{2}", "{1,3}", "{0,}", "[[:alpha:]]", "[^a]", "[]a]", "[a-]", "[[.a.]-c]", "\\.", "\\\\", "()"}
	rng := rand.New(rand.NewSource(2))
	patterns := 20000
	if testing.Short() {
		patterns = 2000
	}
	compiled := 0
	for i := 0; i < patterns; i++ {
		pat := randomPattern(rng, pieces)
		if _, err := Compile(pat); err != nil {
			continue
		}
		compiled++
		for j := 0; j < 10; j++ {
			checkRef(t, pat, randomSubject(rng, "abx1\n\xff]("))
		}
	}
	if compiled < patterns/10 {
		t.Errorf("only %d of %d random patterns compiled: the test checks little", compiled, patterns)
	}
}

// patternBytes are the bytes random patterns are made of: every special
// character, a few literals, a newline and a high byte.
const patternBytes = "ab^$.|()*+?{},[]-\\:=x1 \n\xff"

// randomPattern strings together one to ten random bytes of patternBytes,
// each replaced one time in four by one of pieces.
func randomPattern(rng *rand.Rand, pieces []string) string {
	var b []byte
	for j := rng.Intn(10); j >= 0; j-- {
		if rng.Intn(4) == 0 {
			b = append(b, pieces[rng.Intn(len(pieces))]...)
		} else {
			b = append(b, patternBytes[rng.Intn(len(patternBytes))])
		}
	}
	return string(b)
}

// randomSubject is up to nine random bytes of alphabet.
func randomSubject(rng *rand.Rand, alphabet string) string {
	s := make([]byte, rng.Intn(10))
	for k := range s {
		s[k] = alphabet[rng.Intn(len(alphabet))]
	}
	return string(s)
}
