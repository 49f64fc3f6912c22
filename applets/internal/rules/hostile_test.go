package rules

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// Wrong types everywhere: each rule is evaluated as libubox would (worked
// out from json_script.c's handlers), reported at its line, and the rule
// after it still runs.
func TestWrongTypes(t *testing.T) {
	for _, tc := range []struct {
		name, rule string
		vars       []string
		want       []string // output of the rule alone
	}{
		// Arguments are picked by type: the string is passed over.
		{"if: junk before condition", `[ "if", "junk", [ "has", "A" ], [ "t" ] ]`, []string{"A=1"}, []string{"t"}},
		{"if: number before condition", `[ "if", 5, [ "has", "A" ], [ "t" ], [ "e" ] ]`, nil, []string{"e"}},
		{"if: no block", `[ "if", [ "has", "A" ] ]`, []string{"A=1"}, nil},
		{"if: nothing", `[ "if" ]`, nil, nil},
		{"if: condition not an array", `[ "if", "has", "A" ]`, []string{"A=1"}, nil},
		{"eq: number value, variable set", `[ "if", [ "eq", "A", 5 ], [ "t" ], [ "e" ] ]`, []string{"A=5"}, nil},
		{"eq: number value, variable unset", `[ "if", [ "eq", "A", 5 ], [ "t" ], [ "e" ] ]`, nil, []string{"e"}},
		{"eq: number in list after a match", `[ "if", [ "eq", "A", [ "x", 5 ] ], [ "t" ], [ "e" ] ]`, []string{"A=x"}, []string{"t"}},
		{"eq: number in list before a match", `[ "if", [ "eq", "A", [ 5, "x" ] ], [ "t" ], [ "e" ] ]`, []string{"A=x"}, nil},
		{"eq: object value", `[ "if", [ "eq", "A", { "x": 1 } ], [ "t" ], [ "e" ] ]`, []string{"A=x"}, nil},
		{"eq: name not a string", `[ "if", [ "eq", 1, "A", "x" ], [ "t" ], [ "e" ] ]`, []string{"A=x"}, []string{"t"}},
		{"eq: too few", `[ "if", [ "eq", "A" ], [ "t" ], [ "e" ] ]`, []string{"A=x"}, nil},
		{"eq: empty list", `[ "if", [ "eq", "A", [ ] ], [ "t" ], [ "e" ] ]`, []string{"A=x"}, []string{"e"}},
		{"regex: bad pattern never matches", `[ "if", [ "regex", "A", "(" ], [ "t" ], [ "e" ] ]`, []string{"A=("}, []string{"e"}},
		{"regex: null value", `[ "if", [ "regex", "A", null ], [ "t" ], [ "e" ] ]`, []string{"A=x"}, nil},
		{"has: number", `[ "if", [ "has", 5 ], [ "t" ], [ "e" ] ]`, nil, nil},
		{"has: list with a number after a hit", `[ "if", [ "has", [ "A", 5 ] ], [ "t" ], [ "e" ] ]`, []string{"A="}, []string{"t"}},
		{"has: list with a number before a hit", `[ "if", [ "has", [ "B", 5, "A" ] ], [ "t" ], [ "e" ] ]`, []string{"A="}, nil},
		{"has: nothing", `[ "if", [ "has" ], [ "t" ], [ "e" ] ]`, nil, nil},
		{"unknown condition", `[ "if", [ "exists", "A" ], [ "t" ], [ "e" ] ]`, nil, nil},
		{"condition is empty", `[ "if", [ ], [ "t" ], [ "e" ] ]`, nil, nil},
		{"condition starts with a list", `[ "if", [ [ "has", "A" ] ], [ "t" ], [ "e" ] ]`, nil, nil},
		{"and: element not a condition", `[ "if", [ "and", "x" ], [ "t" ], [ "e" ] ]`, nil, nil},
		{"and: empty is true", `[ "if", [ "and" ], [ "t" ], [ "e" ] ]`, nil, []string{"t"}},
		{"or: empty is false", `[ "if", [ "or" ], [ "t" ], [ "e" ] ]`, nil, []string{"e"}},
		{"or: error after a true is never reached", `[ "if", [ "or", [ "and" ], 7 ], [ "t" ], [ "e" ] ]`, nil, []string{"t"}},
		{"and: error propagates", `[ "if", [ "and", [ "and" ], [ "bogus" ] ], [ "t" ], [ "e" ] ]`, nil, nil},
		{"not: nothing", `[ "if", [ "not" ], [ "t" ], [ "e" ] ]`, nil, nil},
		{"not: a string, then a condition", `[ "if", [ "not", "x", [ "has", "A" ] ], [ "t" ], [ "e" ] ]`, nil, []string{"t"}},
		{"not: of an error", `[ "if", [ "not", [ "bogus" ] ], [ "t" ], [ "e" ] ]`, nil, nil},
		{"isdir: number", `[ "if", [ "isdir", 5 ], [ "t" ], [ "e" ] ]`, nil, nil},
		{"case: object before name", `[ "case", { "1": [ "one" ] }, "A" ]`, []string{"A=1"}, nil},
		{"case: no object", `[ "case", "A", [ "one" ] ]`, []string{"A=1"}, nil},
		{"case: branch not an array", `[ "case", "A", { "1": "one", "2": [ "two" ] } ]`, []string{"A=1"}, nil},
		{"case: branch is a list", `[ "case", "A", { "2": [ [ "two" ], 3, [ "deux" ] ] } ]`, []string{"A=2"}, []string{"two", "deux"}},
		{"include: number", `[ "include", 5 ]`, nil, nil},
		{"list of junk", `[ 1, "x", null, true, { "a": 1 }, [ "real" ] ]`, nil, []string{"real"}},
		{"command with junk args", `[ "cmd", 1, "a", true, null, [ "x" ], { "y": 1 }, "b" ]`, nil, []string{"cmd a b"}},
		{"command named like a condition", `[ "eq", "A", "x" ]`, nil, []string{"eq A x"}},
		{"return with arguments", `[ "return", 1, "x" ]`, nil, []string{"<stop>"}},
	} {
		text := "[\n" + tc.rule + ",\n[ \"after\" ]\n]\n"
		s, err := Parse("wrong.json", []byte(text))
		if err != nil {
			t.Errorf("%s: %v", tc.name, err)
			continue
		}
		want := append(append([]string(nil), tc.want...), "after")
		if len(tc.want) == 1 && tc.want[0] == "<stop>" {
			want = nil
		}
		if got := output(s, env(tc.vars...)); !equalLines(got, want) {
			t.Errorf("%s: got %q, want %q", tc.name, got, want)
		}
		for _, w := range s.Warnings() {
			asError(t, w, "wrong.json", 2)
		}
		// The compiled form agrees with the naive walker.
		top, _ := parseJSON([]byte(text), func(int, string) {})
		if o := oracleRun("wrong.json", top, env(tc.vars...), ProcdFallback, ""); !equalLines(o, want) {
			t.Errorf("%s: oracle says %q", tc.name, o)
		}
	}
}

// Every rule that libubox would complain about when reached is reported
// at load, once, with its own line.
func TestWarningsNameLines(t *testing.T) {
	text := `[
	[ "if", [ "has", "A" ] ],
	[ "cmd", "%oops" ],
	[ "if", [ "regex", "A", "a(" ], [ "x" ] ],
	[ "if", [ "frobnicate" ], [ "x" ] ],
	[ "cmd", 1 ],
	17,
	[ "case", "A", { "a": "b" } ],
	[ "fine", "%A%" ]
]`
	s := mustParse(t, "w.json", text)
	w := s.Warnings()
	lines := []int{2, 3, 4, 5, 6, 7, 8}
	if len(w) != len(lines) {
		t.Fatalf("got %d warnings, want %d: %v", len(w), len(lines), w)
	}
	for i, l := range lines {
		asError(t, w[i], "w.json", l)
	}
	// The command with a number argument still runs, without it.
	if got := output(s, env("A=a")); !equalLines(got, []string{"cmd", "fine a"}) {
		t.Errorf("got %q", got)
	}
}

// Non-UTF-8 in rules and in events is compared and substituted byte for
// byte, as procd does in C.
func TestNonUTF8(t *testing.T) {
	text := "[ [ \"if\", [ \"eq\", \"A\", \"\xff\xfe\" ], [ \"eq\", \"%A%\" ] ],\n" +
		"  [ \"if\", [ \"regex\", \"A\", \"^\xff\" ], [ \"prefix\", \"x%A%\xc3\" ] ],\n" +
		"  [ \"if\", [ \"regex\", \"A\", \"\xff.\" ], [ \"re\" ] ],\n" +
		"  [ \"case\", \"A\", { \"\xff\xfe\": [ \"matched\" ] } ] ]"
	s := mustParse(t, "u.json", text)
	got := output(s, env("A=\xff\xfe"))
	// The third rule's pattern is not valid UTF-8 and not a plain
	// prefix: regcomp in musl's C locale takes it byte for byte, and so
	// does package ere.
	want := []string{"eq \xff\xfe", "prefix x\xff\xfe\xc3", "re", "matched"}
	if !equalLines(got, want) {
		t.Errorf("got %q, want %q", got, want)
	}
	if len(s.Warnings()) != 0 {
		t.Errorf("warnings: %v", s.Warnings())
	}
	// Invalid UTF-8 in a variable value against a real regex.
	s2 := mustParse(t, "u2.json", `[ [ "if", [ "regex", "A", "^a.c$" ], [ "yes" ], [ "no" ] ] ]`)
	if got := output(s2, env("A=a\xffc")); !equalLines(got, []string{"yes"}) {
		t.Errorf("a\\xffc against ^a.c$: got %q", got)
	}
	if got := output(s2, env("A=a\nc")); !equalLines(got, []string{"yes"}) {
		t.Errorf("'.' must match a newline as in POSIX: got %q", got)
	}
}

func TestHugeFiles(t *testing.T) {
	dir := t.TempDir()
	big := filepath.Join(dir, "big.json")
	f, err := os.Create(big)
	if err != nil {
		t.Fatal(err)
	}
	if err := f.Truncate(MaxFileSize + 1); err != nil {
		t.Fatal(err)
	}
	f.Close()
	if _, err := LoadFile(big); err == nil || !strings.Contains(err.Error(), "larger than") {
		t.Errorf("LoadFile of a %d-byte file: %v", MaxFileSize+1, err)
	} else {
		asError(t, err, big, 0)
	}

	// Just under the limit and valid: many rules, all compiled and run.
	var b strings.Builder
	b.WriteString("[\n")
	n := 0
	for b.Len() < MaxFileSize-200 {
		fmt.Fprintf(&b, "[ \"if\", [ \"eq\", \"N\", \"%d\" ], [ \"hit\", \"%%N%%\" ] ],\n", n)
		n++
	}
	b.WriteString("[ \"last\" ]\n]\n")
	p := writeFile(t, dir, "many.json", b.String())
	start := time.Now()
	s := mustLoad(t, p)
	t.Logf("%d rules, %d bytes loaded in %v", n, b.Len(), time.Since(start))
	if got := output(s, env(fmt.Sprintf("N=%d", n-1))); !equalLines(got, []string{fmt.Sprintf("hit %d", n-1), "last"}) {
		t.Errorf("got %q", got)
	}

	// A huge string and a huge variable.
	long := strings.Repeat("x", 1<<20)
	s = mustParse(t, "long.json", `[ [ "cmd", "`+long+`%V%" ] ]`)
	if got := output(s, env("V="+long)); len(got) != 1 || len(got[0]) != len("cmd ")+2<<20 {
		t.Errorf("long strings: got %d lines", len(got))
	}
}

// Parallel Runs on one Script are safe (run with -race).
func TestConcurrentRun(t *testing.T) {
	s := mustLoad(t, "testdata/current/hotplug.json")
	s.Root = fakeRoot(t)
	done := make(chan []string, 4)
	for i := 0; i < 4; i++ {
		go func() {
			var last []string
			for j := 0; j < 200; j++ {
				for _, e := range events {
					last = output(s, env(e.vars...))
				}
			}
			done <- last
		}()
	}
	want := output(s, env(events[len(events)-1].vars...))
	for i := 0; i < 4; i++ {
		if got := <-done; !equalLines(got, want) {
			t.Errorf("goroutine %d: got %q, want %q", i, got, want)
		}
	}
}
