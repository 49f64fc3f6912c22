package rules

import (
	"errors"
	"strconv"
	"strings"
	"testing"
)

// What json-c's non-strict reader accepts, and real or plausible rule
// files use.
func TestLenientJSON(t *testing.T) {
	for _, tc := range []struct {
		name, text string
		vars       []string
		want       []string
		warnings   int
	}{
		{"trailing commas", `[ [ "a", "x", ], [ "if", [ "and", [ "has", "V" ], ], [ "b" ], ], ]`, []string{"V=1"}, []string{"a x", "b"}, 0},
		{"trailing comma in object", `[ [ "case", "V", { "1": [ "one" ], "2": [ "two" ], } ] ]`, []string{"V=2"}, []string{"two"}, 0},
		{"comments", "[ /* block\n comment */ [ \"a\" ], // line comment\n [ \"b\" ] ]", nil, []string{"a", "b"}, 0},
		{"single quotes", `[ [ 'a', 'it''s' ] ]`, nil, nil, -1},
		{"single-quoted strings", `[ [ 'a', "b", 'say "hi"' ] ]`, nil, []string{`a b say "hi"`}, 0},
		{"escapes", `[ [ "a\tb", "\u00e9\/\\\"", "\ud83d\ude00", "\ud800x" ] ]`, nil, []string{"a\tb é/\\\" 😀 \ufffdx"}, 0},
		{"case-insensitive literals", `[ [ "a", TRUE, Null, false ] ]`, nil, []string{"a"}, 3},
		{"leading zero number dropped", `[ [ "makedev", "/dev/x", 0666 ] ]`, nil, []string{"makedev /dev/x"}, 1},
		{"byte order mark", "\xef\xbb\xbf[ [ \"a\" ] ]", nil, []string{"a"}, 0},
		{"trailing data", `[ [ "a" ] ] junk`, nil, []string{"a"}, 1},
		{"duplicate key: last value", `[ [ "case", "V", { "1": [ "first" ], "1": [ "second" ] } ] ]`, []string{"V=1"}, []string{"second"}, 1},
		{"NUL cut", `[ [ "a", "b\u0000c" ] ]`, nil, []string{"a b"}, 1},
		{"raw newline in string", "[ [ \"a\nb\" ] ]", nil, []string{"a\nb"}, 0},
		{"empty top level", `[ ]`, nil, nil, 0},
		{"top level is one command", `[ "solo", "x" ]`, nil, []string{"solo x"}, 0},
	} {
		s, err := Parse(tc.name, []byte(tc.text))
		if tc.warnings < 0 {
			if err == nil {
				t.Errorf("%s: parsed %q", tc.name, tc.text)
			}
			continue
		}
		if err != nil {
			t.Errorf("%s: %v", tc.name, err)
			continue
		}
		if got := output(s, env(tc.vars...)); !equalLines(got, tc.want) {
			t.Errorf("%s: got %q, want %q", tc.name, got, tc.want)
		}
		if len(s.Warnings()) != tc.warnings {
			t.Errorf("%s: %d warnings, want %d: %v", tc.name, len(s.Warnings()), tc.warnings, s.Warnings())
		}
	}
}

// Files that are not JSON (or not a rules array) are errors naming the
// line where reading stopped.
func TestJSONErrorsNameLine(t *testing.T) {
	for _, tc := range []struct {
		text string
		line int
		msg  string
	}{
		{"[\n  [ \"a\" ]\n  [ \"b\" ]\n]", 3, "expected ',' or ']'"},
		{"[\n  [ \"a\",\n    \"unterminated\n]\n", 3, "unterminated string"},
		{"[\n [ \"a\" ],\n", 3, "unterminated array"},
		{"{ \"a\": [ ] }", 1, "not an array"},
		{"\n\n\"just a string\"", 3, "not an array"},
		{"[ /* never closed\n\n", 1, "unterminated /* comment"},
		{"[\n [ \"a\\q\" ] ]", 2, "unknown escape"},
		{"[\n\n [ nope ] ]", 3, "unexpected word"},
		{"[ [ \"a\" ], ,\n ]", 1, "unexpected character"},
		{"[ { 1: 2 } ]", 1, "quoted member name"},
		{"[ { \"a\" 2 } ]", 1, "expected ':'"},
		{"[ 1.2.3 ]", 1, "bad number"},
		{"  \n \t ", 2, "empty file"},
		{"[ \xff ]", 1, "unexpected character"},
	} {
		_, err := Parse("bad.json", []byte(tc.text))
		if err == nil {
			t.Errorf("%q parsed", tc.text)
			continue
		}
		asError(t, err, "bad.json", tc.line)
		if !strings.Contains(err.Error(), tc.msg) {
			t.Errorf("%q: error %q does not say %q", tc.text, err, tc.msg)
		}
		if !strings.HasPrefix(err.Error(), "bad.json:") {
			t.Errorf("%q: error %q does not start with the file name", tc.text, err)
		}
	}
}

func TestNesting(t *testing.T) {
	ok := strings.Repeat("[", maxDepth) + `"deep"` + strings.Repeat("]", maxDepth)
	s := mustParse(t, "deep.json", ok)
	if got := output(s, nil); !equalLines(got, []string{"deep"}) {
		t.Errorf("32 levels: got %q", got)
	}
	for _, n := range []int{maxDepth + 1, 100000} {
		text := strings.Repeat("[\n", n) + strings.Repeat("]", n)
		_, err := Parse("deep.json", []byte(text))
		if err == nil {
			t.Fatalf("%d levels parsed", n)
		}
		asError(t, err, "deep.json", maxDepth+1)
	}
	// Objects count too.
	text := strings.Repeat(`{"a":`, 40) + "1" + strings.Repeat("}", 40)
	if _, err := Parse("deep.json", []byte("["+text+"]")); err == nil {
		t.Error("40 nested objects parsed")
	}
}

// numberCases are JSON-ish numbers that strconv.ParseFloat accepts and
// refuses; isDecimal must agree with it on each (and the fuzz target on
// anything else made of the bytes a number token may hold).
var numberCases = []string{
	"0", "-1", "+1", "1.5", "1.", ".5", "-.5", "1e9", "1E+9", "1e-9", "01", "1e999", "-1e-999",
	"", "-", "+", ".", "-.", "e1", ".e1", "1e", "1e+", "1.2.3", "1e1e1", "--1", "1-", "1+1", "1.5e5.5",
}

func TestIsDecimalAgreesWithParseFloat(t *testing.T) {
	for _, s := range numberCases {
		checkIsDecimal(t, s)
	}
}

func FuzzIsDecimal(f *testing.F) {
	for _, s := range numberCases {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if strings.Trim(s, "0123456789+-.eE") != "" {
			t.Skip("a number token holds only these bytes")
		}
		checkIsDecimal(t, s)
	})
}

func checkIsDecimal(t *testing.T, s string) {
	t.Helper()
	_, err := strconv.ParseFloat(s, 64)
	want := err == nil || errors.Is(err, strconv.ErrRange)
	if got := isDecimal(s); got != want {
		t.Errorf("isDecimal(%q) = %v, strconv.ParseFloat says %v (%v)", s, got, want, err)
	}
}
