package modinfo

import (
	"bytes"
	"os"
	"path"
	"path/filepath"
	"strings"
	"testing"
)

func bytesReader(b []byte) *bytes.Reader { return bytes.NewReader(b) }

func FuzzParseModinfo(f *testing.F) {
	f.Add([]byte("license=GPL\x00depends=a,b\x00\x00alias=x*\x00"))
	f.Add([]byte("=\x00==\x00a"))
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, data []byte) {
		for _, fl := range ParseModinfo(data) {
			if fl.Key == "" || strings.ContainsRune(fl.Key, 0x3d) {
				t.Fatalf("empty field from %q", data)
			}
			if strings.ContainsRune(fl.Key, 0) || strings.ContainsRune(fl.Value, 0) {
				t.Fatalf("NUL inside field %q=%q", fl.Key, fl.Value)
			}
		}
	})
}

// FuzzReadBytes feeds arbitrary images (seeded with a real module, cut and
// whole) to the ELF reader: errors are fine, panics and hangs are not.
func FuzzReadBytes(f *testing.F) {
	f.Add([]byte("\x7fELF"))
	f.Add([]byte("not elf"))
	if dir := os.Getenv("TOYBOX_GO_FUZZ_KO"); dir != "" {
		if data, err := os.ReadFile(dir); err == nil {
			f.Add(data)
			f.Add(data[:len(data)/3])
		}
	}
	if self, err := os.Executable(); err == nil {
		if data, err := os.ReadFile(self); err == nil && len(data) > 4096 {
			f.Add(data[:4096])
		}
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		_, _, _ = ReadBytes(data)
	})
}

// FuzzMatch checks Match against path.Match where both define the same thing
// (no '/', no '\\', no '^' negation, a well-formed pattern).
func FuzzMatch(f *testing.F) {
	f.Add("pci:v*d*sv*", "pci:v1d2sv3")
	f.Add("a[!b-d]?*", "aex")
	f.Add("[", "[")
	f.Add("*a*", "bab")
	f.Fuzz(func(t *testing.T, pattern, name string) {
		got := Match(pattern, name)
		// fnmatch here is byte-wise (module aliases are ASCII); path.Match is rune-wise.
		if !ascii(pattern) || !ascii(name) || strings.ContainsAny(pattern+name, "/\\^!") || strings.Contains(pattern, "[]") || strings.Contains(pattern, "[!]") {
			return
		}
		want, err := path.Match(pattern, name)
		if err != nil {
			return
		}
		if got != want {
			t.Fatalf("Match(%q, %q) = %v, path.Match says %v", pattern, name, got, want)
		}
	})
}

func FuzzConf(f *testing.F) {
	f.Add("blacklist a\noptions b x=1\nsoftdep c pre: d post: e\nalias f* g\n")
	f.Add("softdep x\n#\n\x00\noptions\n")
	f.Add("install a-b /bin/echo $CMDLINE_OPTS\\\n x\nremove c*  d\ninstall\t\te \\")
	f.Fuzz(func(t *testing.T, text string) {
		c := NewConf()
		c.Parse("f", strings.NewReader(text))
		for _, p := range c.Problems {
			if !strings.HasPrefix(p, "f:") {
				t.Fatalf("problem without file:line: %q", p)
			}
		}
		for _, x := range append(c.Install, c.Remove...) {
			if x.Module == "" || x.Command == "" || strings.ContainsAny(x.Module, " \t\n") || strings.Contains(x.Command, "\n") {
				t.Fatalf("bad command line %+v from %q", x, text)
			}
		}
	})
}

// Seed the ELF fuzzer with a real module when the kernel is there.
func TestMain(m *testing.M) {
	if os.Getenv("TOYBOX_GO_FUZZ_KO") == "" {
		home, _ := os.UserHomeDir()
		if matches, _ := filepath.Glob(filepath.Join(home, ".cache", "toybox-go", "linux-image-*", "lib", "modules", "*", "kernel", "drivers", "block", "loop.ko")); len(matches) > 0 {
			os.Setenv("TOYBOX_GO_FUZZ_KO", matches[0])
		}
	}
	os.Exit(m.Run())
}

func ascii(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= 0x80 {
			return false
		}
	}
	return true
}
