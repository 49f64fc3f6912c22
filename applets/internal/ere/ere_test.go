package ere

import (
	"errors"
	"strings"
	"sync"
	"testing"
	"time"
)

type matchCase struct {
	pat, s string
	want   bool
}

// matchCases are POSIX ERE semantics as regcomp(REG_EXTENDED|REG_NOSUB)
// and regexec give them in the C locale (musl and glibc agree on all).
var matchCases = []matchCase{
	// Literals and unanchored search.
	{"abc", "abc", true},
	{"abc", "xxabcxx", true},
	{"abc", "ab", false},
	{"abc", "abxabc", true},
	{"aab", "aaab", true},
	{"", "", true},
	{"", "anything", true},
	{"x", "", false},
	// '.' is any byte, newline and non-UTF-8 included.
	{"a.c", "abc", true},
	{"a.c", "a\nc", true},
	{"a.c", "a\xffc", true},
	{"a.c", "ac", false},
	{"...", "ab", false},
	// Anchors: only at the ends of the whole string (no REG_NEWLINE).
	{"^abc", "abcd", true},
	{"^abc", "xabc", false},
	{"^abc", "x\nabc", false},
	{"abc$", "xabc", true},
	{"abc$", "abc\n", false},
	{"abc$", "abcx", false},
	{"^abc$", "abc", true},
	{"^$", "", true},
	{"^$", "\n", false},
	{"$", "abc", true},
	{"^", "abc", true},
	{"a^b", "ab", false},
	{"a^b", "a^b", false},
	{"a$b", "ab", false},
	{"(^a|b)", "xb", true},
	{"(^a|b)", "xa", false},
	{"(a|^)b", "b", true},
	{"(a|^)b", "cb", false},
	{"x(a|$)", "x", true},
	{"x(a|$)", "xy", false},
	{"^*a", "a", true}, // musl: a repeated anchor
	{"(^)*a", "ba", true},
	// Brackets.
	{"[abc]", "xbx", true},
	{"[abc]", "xyz", false},
	{"[a-c]x", "bx", true},
	{"[a-c]x", "dx", false},
	{"[^a-c]", "abc", false},
	{"[^a-c]", "abcd", true},
	{"[^a]", "\n", true},
	{"[^a]", "\xff", true},
	{"[]a]", "]", true},
	{"[]a]", "a", true},
	{"[]a]", "b", false},
	{"[^]a]", "]", false},
	{"[^]a]", "b", true},
	{"[]-a]", "^", true}, // ']' (93) .. 'a' (97)
	{"[a-]", "-", true},
	{"[-a]", "-", true},
	{"[^-a]", "-", false},
	{"[%--]", ",", true}, // musl's range from '%' to '-'
	{"[a\\]", "\\", true},
	{"[a\\]", "a", true},
	{"[\\n]", "n", true},
	{"[\\n]", "\n", false},
	{"[.]", ".", true},
	{"[.]", "a", false},
	{"[*+?{|()^$]", "|", true},
	{"[a[]", "[", true},
	{"[[:digit:]]", "x7", true},
	{"[[:digit:]]", "xy", false},
	{"[[:alpha:]]", "1_z", true},
	{"[[:alpha:]]", "1_\xe9", false},
	{"[[:alnum:]_]+$", "eth0_1", true},
	{"[[:upper:]]", "abC", true},
	{"[[:upper:]]", "abc", false},
	{"[[:lower:]]", "ABC", false},
	{"[[:space:]]", "a\vb", true},
	{"[[:space:]]", "ab", false},
	{"[[:blank:]]", "a\tb", true},
	{"[[:blank:]]", "a\nb", false},
	{"[[:punct:]]", "a~", true},
	{"[[:punct:]]", "a b", false},
	{"[[:print:]]", " ", true},
	{"[[:print:]]", "\x7f", false},
	{"[[:graph:]]", " ", false},
	{"[[:graph:]]", "~", true},
	{"[[:cntrl:]]", "\x7f", true},
	{"[[:cntrl:]]", "a", false},
	{"[[:xdigit:]]+$", "0x1F", true},
	{"^[[:xdigit:]]+$", "0x1F", false},
	{"[^[:digit:]]", "123", false},
	{"[^[:digit:]]", "12a", true},
	{"[[:digit:][:upper:]]", "aB", true},
	{"[[=a=]]", "a", true},
	{"[[=a=]b]", "b", true},
	{"[[.-.]]", "-", true},
	{"[[.a.]-c]", "b", true},
	{"[a-[.c.]]", "b", true},
	{"[a-[.c.]]", "d", false},
	{"[[.].]]", "]", true},
	{"[\x80-\xff]", "a\xc3", true},
	{"[\x80-\xff]", "abc", false},
	// Groups and alternation.
	{"(ab)", "xab", true},
	{"a(b|c)d", "acd", true},
	{"a(b|c)d", "aed", false},
	{"ab|cd", "xcd", true},
	{"ab|cd", "ac", false},
	{"a|b|c", "c", true},
	{"()", "", true},
	{"a()b", "ab", true},
	{"(|a)b", "b", true},
	{"a||b", "x", true}, // empty alternative: matches anywhere
	{"(a|)", "x", true},
	{"((a))", "a", true},
	{"a)", "a)", true}, // unmatched ')' is literal (POSIX, musl)
	{"a)", "a", false},
	// Repetition.
	{"ab*c", "ac", true},
	{"ab*c", "abbbc", true},
	{"ab+c", "ac", false},
	{"ab+c", "abbc", true},
	{"ab?c", "abc", true},
	{"ab?c", "abbc", false},
	{"^a{3}$", "aaa", true},
	{"^a{3}$", "aa", false},
	{"^a{3}$", "aaaa", false},
	{"^a{2,}$", "aaaaa", true},
	{"^a{2,}$", "a", false},
	{"^a{2,3}$", "aaa", true},
	{"^a{2,3}$", "aaaa", false},
	{"^a{0,1}$", "", true},
	{"^a{0}b$", "b", true},
	{"^a{0}b$", "ab", false},
	{"^a{0,0}$", "", true},
	{"^(ab){2}$", "abab", true},
	{"^(a|bc){2,3}$", "bcabc", true},
	{"^(a|bc){2,3}$", "abcabc", false},
	{"^a**$", "aaa", true}, // stacked operators nest (musl)
	{"^a+?$", "", true},    // (a+)? -- not Perl's lazy +?
	{"^a?+$", "aa", true},
	{"^a{1,2}{2}$", "aaa", true},
	{"^(a*)*$", "aaa", true},
	{"^(a*)*b$", "aaac", false},
	{"^(a*|b)+c$", "abac", true},
	{"^(a?)*$", "aab", false},
	{"x{255}", strings.Repeat("x", 255), true},
	{"x{255}", strings.Repeat("x", 254), false},
	{"^[0-9]{1,3}(\\.[0-9]{1,3}){3}$", "192.168.1.1", true},
	{"^[0-9]{1,3}(\\.[0-9]{1,3}){3}$", "192.168.1", false},
	// Escapes of specials outside brackets are literals.
	{"a\\.b", "a.b", true},
	{"a\\.b", "axb", false},
	{"\\*", "*", true},
	{"\\(\\)", "()", true},
	{"\\[x]", "[x]", true},
	{"\\^a", "b^a", true},
	{"a\\$", "a$", true},
	{"a\\$", "a", false},
	{"\\\\", "\\", true},
	{"\\{", "{", true},
	{"\\|", "|", true},
	{"\\/dev", "/dev", true},
	{"}", "}", true},
	{"]", "]", true},
	{"a]", "a]", true},
	// NUL is an ordinary byte here.
	{"a\x00b", "xa\x00b", true},
	{"[\x00]", "a", false},
}

// hotplugCases are the patterns real rule files use (OpenWrt's
// hotplug.json of today and of Chaos Calmer, libubox's json_script tests)
// against the values they meet.
var hotplugCases = []matchCase{
	{"^snd", "snd/controlC0", true},
	{"^snd", "dsnd", false},
	{"^tty", "ttyS0", true},
	{"^tty", "pts/0", false},
	{"^ttyGS", "ttyGS0", true},
	{"^ttyGS", "ttyS0", false},
	{"^ttyUSB", "ttyUSB0", true},
	{"^ttyACM", "ttyACM12", true},
	{"^ttyACM", "ttyUSB0", false},
	{"^gpio", "gpiochip0", true},
	{"^hvc", "hvc0", true},
	{"^ppp", "/devices/virtual/ppp", false},
	{"^ppp", "ppp", true},
	{"regexval", "xregexvalx", true},
	{"regexval10", "regexval11", false},
	{".ell.", "hello", true},
	{".ell.", "ell", false},
	{"w.rld", "world", true},
	{"regex...", "regexval", true},
	{"regex...", "regex**", false},
	{"regexva.[0-9]", "regexval1", true},
	{"regexva.[0-9]", "regexval", false},
	{"regexva.[a-z]", "regexvalz", true},
}

func TestMatch(t *testing.T) {
	for _, cases := range [][]matchCase{matchCases, hotplugCases} {
		for _, tc := range cases {
			re, err := Compile(tc.pat)
			if err != nil {
				t.Errorf("Compile(%q): %v", tc.pat, err)
				continue
			}
			if got := re.MatchString(tc.s); got != tc.want {
				t.Errorf("%q against %q: got %v, want %v", tc.pat, tc.s, got, tc.want)
			}
		}
	}
}

func TestCompileErrors(t *testing.T) {
	for _, tc := range []struct {
		pat    string
		offset int
		msg    string
	}{
		{"(", 0, "unmatched ("},
		{"a(b", 1, "unmatched ("},
		{"(a|(b)", 0, "unmatched ("},
		{"[", 0, "unmatched ["},
		{"a[bc", 1, "unmatched ["},
		{"[]", 0, "unmatched ["},
		{"[^]", 0, "unmatched ["},
		{"[a-", 0, "unmatched ["},
		{"*a", 0, "nothing to repeat"},
		{"+a", 0, "nothing to repeat"},
		{"?", 0, "nothing to repeat"},
		{"{1}", 0, "nothing to repeat"},
		{"a|*b", 2, "nothing to repeat"},
		{"(*a)", 1, "nothing to repeat"},
		{"a{", 1, "bad repetition bound"},
		{"a{1", 1, "bad repetition bound"},
		{"a{x}", 1, "bad repetition bound"},
		{"a{,3}", 1, "missing minimum"},
		{"a{}", 1, "missing minimum"},
		{"a{1,2,3}", 1, "bad repetition bound"},
		{"a{3,2}", 1, "maximum below minimum"},
		{"a{256}", 1, "RE_DUP_MAX"},
		{"a{1,256}", 1, "RE_DUP_MAX"},
		{"a{99999999999999999999}", 1, "RE_DUP_MAX"},
		{"\\", 0, "trailing backslash"},
		{"ab\\", 2, "trailing backslash"},
		{"\\d", 0, "unsupported escape \\d"},
		{"a\\1", 1, "unsupported escape \\1"},
		{"\\<a", 0, "unsupported escape"},
		{"\\w+", 0, "unsupported escape"},
		{"[z-a]", 1, "range out of order"},
		{"[a-c-e]", 4, "'-' must be first or last"},
		{"[a--]", 1, "range out of order"},
		{"[[:foo:]]", 1, "unknown character class [:foo:]"},
		{"[[:alpha:]", 0, "unmatched ["},
		{"[[:alpha]", 1, "unterminated [:"},
		{"[[:alpha:]-z]", 1, "class cannot start a range"},
		{"[[=ab=]]", 1, "single characters"},
		{"[[.ab.]]", 1, "single characters"},
		{"[[..]]", 1, "single characters"},
		{"[[.a]", 1, "unterminated [."},
		{"[[=a=]-z]", 1, "equivalence class cannot start a range"},
		{"[a-[=z=]]", 1, "equivalence class cannot end a range"},
		{strings.Repeat("(", maxNest+1) + strings.Repeat(")", maxNest+1), maxNest, "nested too deeply"},
		{"((a{255}){255}){2}", 0, "too large"},
	} {
		re, err := Compile(tc.pat)
		if err == nil {
			t.Errorf("Compile(%q) = %v, want an error", tc.pat, re)
			continue
		}
		var e *Error
		if !errors.As(err, &e) {
			t.Errorf("Compile(%q): %T %v, want *Error", tc.pat, err, err)
			continue
		}
		if e.Pattern != tc.pat || e.Offset != tc.offset || !strings.Contains(e.Msg, tc.msg) {
			t.Errorf("Compile(%q): %q at %d, want %q at %d", tc.pat, e.Msg, e.Offset, tc.msg, tc.offset)
		}
		if want := "at offset "; !strings.Contains(err.Error(), want) || !strings.Contains(err.Error(), "regex ") {
			t.Errorf("Compile(%q): error text %q names neither pattern nor offset", tc.pat, err)
		}
	}
}

// TestLinearTime: patterns that make backtracking engines (and libc's)
// explode finish in time proportional to the input.
func TestLinearTime(t *testing.T) {
	n := 1 << 16
	if testing.Short() {
		n = 1 << 12
	}
	long := strings.Repeat("a", n)
	for _, pat := range []string{
		"(a*)*b",
		"(a|a)*b",
		"(a|aa)*(a|aa)*c",
		"^(a+)+$x",
		"(a?){30}a{30}b",
		"(x+x+)+y",
		"((a{1,10}){1,10}){1,2}b",
	} {
		re := MustCompile(pat)
		start := time.Now()
		if re.MatchString(long) {
			t.Errorf("%q matched %d a's", pat, n)
		}
		if d := time.Since(start); d > 20*time.Second {
			t.Errorf("%q against %d bytes took %v", pat, n, d)
		}
	}
}

// TestConcurrent: one Regexp used from many goroutines (run with -race).
func TestConcurrent(t *testing.T) {
	re := MustCompile("^(ttyUSB|ttyACM)[0-9]+$")
	var wg sync.WaitGroup
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 500; i++ {
				if !re.MatchString("ttyACM12") || re.MatchString("ttyS0") {
					t.Error("wrong answer under concurrency")
					return
				}
			}
		}()
	}
	wg.Wait()
}

func TestString(t *testing.T) {
	if got := MustCompile("^a[b]").String(); got != "^a[b]" {
		t.Errorf("String() = %q", got)
	}
}

func TestMustCompilePanics(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Error("MustCompile of a bad pattern did not panic")
		}
	}()
	MustCompile("(")
}
