package cmdline

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

func TestSplit(t *testing.T) {
	for in, want := range map[string][]string{
		"":                                      nil,
		"  \n":                                  nil,
		"console=ttyS0 root=/dev/vda rw\n":      {"console=ttyS0", "root=/dev/vda", "rw"},
		`rootflags="data=ordered,x y" quiet`:    {"rootflags=data=ordered,x y", "quiet"},
		`"a b" c`:                               {"a b", "c"},
		`init.oneit="/sbin/my oneit"`:           {"init.oneit=/sbin/my oneit"},
		`a=b"c d" e`:                            {`a=b"c d"`, "e"},
		`x="unterminated quote goes to the end`: {"x=unterminated quote goes to the end"},
		`"`:                                     {""},
		`k=""`:                                  {"k="},
		"a\tb":                                  {"a", "b"},
	} {
		if got := Split(in); !reflect.DeepEqual(got, want) {
			t.Errorf("Split(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestLookup(t *testing.T) {
	words := Split(`console=tty0 console=ttyS0,115200 rootwait init.pid2="/x y" -- console=fromInit`)
	for _, tc := range []struct {
		key, val string
		ok       bool
	}{
		{"console", "ttyS0,115200", true}, // the last before "--"
		{"rootwait", "", true},
		{"init.pid2", "/x y", true},
		{"root", "", false},
		{"console=tty0", "", false},
	} {
		if v, ok := Lookup(words, tc.key); v != tc.val || ok != tc.ok {
			t.Errorf("Lookup(%q) = %q, %v; want %q, %v", tc.key, v, ok, tc.val, tc.ok)
		}
	}
}

func TestRead(t *testing.T) {
	p := filepath.Join(t.TempDir(), "cmdline")
	os.WriteFile(p, []byte("root=/dev/sda2 rootwait\n"), 0o644)
	if got := Read(p); !reflect.DeepEqual(got, []string{"root=/dev/sda2", "rootwait"}) {
		t.Errorf("Read: %q", got)
	}
	if got := Read(filepath.Join(t.TempDir(), "none")); got != nil {
		t.Errorf("Read of a missing file: %q", got)
	}
}

// FuzzSplit: any line splits without panicking into words without white
// space outside quotes; without quotes it is a split at ASCII white space.
func FuzzSplit(f *testing.F) {
	f.Add(`console=ttyS0 rootflags="a b" "x" k=""`)
	f.Add(`a=b"c d" "`)
	f.Fuzz(func(t *testing.T, s string) {
		words := Split(s)
		if !strings.Contains(s, `"`) {
			want := strings.FieldsFunc(s, func(r rune) bool { return r < 0x80 && isSpace(byte(r)) })
			if !reflect.DeepEqual(words, want) && !(len(words) == 0 && len(want) == 0) {
				t.Fatalf("Split(%q) = %q, splitting at ASCII white space gives %q", s, words, want)
			}
		}
		Lookup(words, "root")
	})
}
