package printf

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"
	"unicode/utf8"
)

type mode uint32
type name string
type level int8

type stringer struct{ s string }

func (s stringer) String() string { return "<" + s.s + ">" }

type ptrStringer struct{ n int }

func (p *ptrStringer) String() string { return fmt.Sprint(p.n) }

type panicky struct{}

func (panicky) String() string { panic("boom") }

// operands covers every type this package claims to format.
var operands = []any{
	0, 7, -7, 255, -255, int64(1 << 40), int64(-1 << 62), uint64(1<<64 - 1), uint32(0xdeadc0de),
	int8(-3), uint16(0x1f), uintptr(0x7fff), 'x', byte('A'), 0x1F600, -1,
	"", "a", "abc", "héllo wörld", "tab\there", "quote\"d", "\x00\xff", "ünï",
	[]byte("bytes"), []byte{}, []byte{0, 1, 254},
	true, false,
	errors.New("plain error"), syscall.ENOENT, fs.ModeDir | 0o750, 1500 * time.Millisecond,
	stringer{"s"}, &ptrStringer{5},
	[]string{"a", "b c"}, []string{},
	nil,
}

var formats = []string{
	"%v", "%s", "%q", "%d", "%x", "%X", "%o", "%c", "%b", "%t",
	"%5v", "%-5v|", "%05d", "%-05d|", "%+d", "% d", "%+q", "%#q", "%#x", "%#X", "%#o", "%#08x",
	"%08x", "%016x", "%04x", "%#02x", "%.3s", "%.40q", "%8s", "%-9s|", "%-3d|", "%.0d", "%.5d",
	"%5.2s|", "%x", "% x", "%# x", "%6.3d", "%-#10x|", "%+v", "%#v",
}

// TestMatchesFmt compares every format with every operand against package fmt.
func TestMatchesFmt(t *testing.T) {
	for _, f := range formats {
		for _, a := range operands {
			if unsupported(f, a) {
				continue
			}
			want := fmt.Sprintf(f, a)
			if got := Sprintf(f, a); got != want {
				t.Errorf("Sprintf(%q, %T %v) = %q, fmt gives %q", f, a, a, got, want)
			}
		}
	}
}

// unsupported names the combinations where this package deliberately prints
// something else than fmt: Go syntax (%#v), and errors and Stringers under a
// non-string verb (fmt prints the value behind them, which may be of any
// type: printf prints %!d(?) for a named type).
func unsupported(f string, a any) bool {
	verb := f[len(f)-1]
	if f[len(f)-1] == '|' {
		verb = f[len(f)-2]
	}
	if strings.Contains(f, "#v") {
		return true
	}
	switch a.(type) {
	case error, interface{ String() string }:
		return !strings.ContainsRune("vsqxX", rune(verb))
	}
	return false
}

func TestSequences(t *testing.T) {
	cases := []struct {
		format string
		args   []any
	}{
		{"plain", nil},
		{"100%%", nil},
		{"%d%%", []any{5}},
		{"%s=%d (%q) %v", []any{"key", 42, "v", true}},
		{"%d", nil},
		{"%d %s", []any{1}},
		{"%d", []any{1, "extra", 2}},
		{"%", nil},
		{"trailing %-", []any{1}},
		{"%*d|%-*d|", []any{5, 42, 4, 7}},
		{"%.*s", []any{2, "abcdef"}},
		{"%*d", []any{"x", 1}},
		{"%!", []any{1}},
		{"%s ünï %s", []any{"a", "b"}},
		{"%ü", []any{1}},
		{"%v %v", []any{nil, []string(nil)}},
		{"mode %#o of %s", []any{uint32(fs.FileMode(0o644)), "/x"}},
		{"%08x %x", []any{uint32(0xdeadc0de), -255}},
	}
	for _, c := range cases {
		want := fmt.Sprintf(c.format, c.args...)
		if got := Sprintf(c.format, c.args...); got != want {
			t.Errorf("Sprintf(%q, %v) = %q, fmt gives %q", c.format, c.args, got, want)
		}
	}
}

func TestSprintAndPrintln(t *testing.T) {
	for _, args := range [][]any{
		{}, {1}, {"a", "b"}, {1, 2}, {"a", 1, 2, "b"}, {errors.New("x"), 3}, {nil, 1},
	} {
		if got, want := Sprint(args...), fmt.Sprint(args...); got != want {
			t.Errorf("Sprint(%v) = %q, fmt gives %q", args, got, want)
		}
		if got, want := Sprintln(args...), fmt.Sprintln(args...); got != want {
			t.Errorf("Sprintln(%v) = %q, fmt gives %q", args, got, want)
		}
		var b strings.Builder
		if _, err := Fprintln(&b, args...); err != nil || b.String() != fmt.Sprintln(args...) {
			t.Errorf("Fprintln(%v) wrote %q (%v)", args, b.String(), err)
		}
	}
	var b strings.Builder
	n, err := Fprintf(&b, "%s-%d", "x", 1)
	if err != nil || n != 3 || b.String() != "x-1" {
		t.Errorf("Fprintf wrote %q, n=%d, err=%v", b.String(), n, err)
	}
}

func TestErrorfWraps(t *testing.T) {
	base := fmt.Errorf("open /x: %w", os.ErrNotExist)
	err := Errorf("mount %q on %s: %w", "/dev/sda1", "/mnt", base)
	if want := `mount "/dev/sda1" on /mnt: open /x: file does not exist`; err.Error() != want {
		t.Errorf("Errorf text %q, want %q", err, want)
	}
	if !errors.Is(err, os.ErrNotExist) {
		t.Error("errors.Is does not see the %w operand")
	}
	var errno syscall.Errno
	if !errors.As(Errorf("x: %w", syscall.EBUSY), &errno) || errno != syscall.EBUSY {
		t.Error("errors.As does not find the wrapped errno")
	}
	two := Errorf("%w and %w", os.ErrExist, syscall.EPERM)
	if !errors.Is(two, os.ErrExist) || !errors.Is(two, syscall.EPERM) || two.Error() != "file already exists and operation not permitted" {
		t.Errorf("two %%w: %q, Is: %v %v", two, errors.Is(two, os.ErrExist), errors.Is(two, syscall.EPERM))
	}
	plain := Errorf("no wrap %v", os.ErrExist)
	if errors.Is(plain, os.ErrExist) || errors.Unwrap(plain) != nil {
		t.Error("an error printed with v must not be wrapped")
	}
	for _, args := range [][]any{{"not an error"}, {nil}, {5}} {
		got, want := Errorf("bad %w", args...).Error(), fmt.Errorf("bad %w", args...).Error()
		if got != want {
			t.Errorf("Errorf(bad %%w, %v) = %q, fmt gives %q", args, got, want)
		}
	}
	if got := Sprintf("%w", os.ErrExist); !strings.HasPrefix(got, "%!w(") {
		t.Errorf("Sprintf with %%w = %q, want a bad verb", got)
	}
}

func TestMethodPanicsAreCaught(t *testing.T) {
	got := Sprintf("%v|%s", panicky{}, (*ptrStringer)(nil))
	if want := "%!v(PANIC=boom)|%!s(PANIC=runtime error: invalid memory address or nil pointer dereference)"; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
}

// TestUnknownTypesShow: a type printf does not know (a named type without a
// String method, a float, a struct) prints as a bad verb, visibly, and the
// operands after it still print.
func TestUnknownTypesShow(t *testing.T) {
	got := Sprintf("%d %v %s|%v %d", mode(0o755), 1.5, name("x"), struct{}{}, 3)
	if want := "%!d(?) %!v(?) %!s(?)|%!v(?) 3"; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
	if got, want := Sprintf("%d", 1, level(2)), "1%!(EXTRA ?=%!v(?))"; got != want {
		t.Errorf("extra operand of an unknown type: %q, want %q", got, want)
	}
}

// FuzzSprintf: any format with an int, a string and a byte slice never panics
// and, when it uses only what this package supports, prints what fmt prints.
func FuzzSprintf(f *testing.F) {
	for _, s := range formats {
		f.Add(s+" %s %v", -42, "héllo")
	}
	f.Add("%d%%%q%x%-*d%.*s", 7, "a\"b")
	f.Add("%[1]d %!", 1, "")
	f.Fuzz(func(t *testing.T, format string, i int, s string) {
		args := []any{i, s, []byte(s), i, s}
		got := Sprintf(format, args...)
		if !utf8.ValidString(format) || !comparable(format) {
			return
		}
		if want := fmt.Sprintf(format, args...); got != want {
			t.Errorf("Sprintf(%q, %d, %q) = %q, fmt gives %q", format, i, s, got, want)
		}
	})
}

// comparable reports whether format uses only supported verbs and flags, and
// no argument indexes, so that fmt's output is the reference.
func comparable(format string) bool {
	for i := 0; i < len(format); i++ {
		if format[i] != '%' {
			continue
		}
		sharp := false
		for i++; i < len(format) && strings.IndexByte("#0+- 0123456789.*", format[i]) >= 0; i++ {
			sharp = sharp || format[i] == '#'
		}
		if i >= len(format) || strings.IndexByte("vsqdxXoc%", format[i]) < 0 {
			return false
		}
		if sharp && format[i] == 'v' {
			return false // %#v is Go syntax, not supported
		}
	}
	return true
}
