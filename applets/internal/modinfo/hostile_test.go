package modinfo

import (
	"encoding/binary"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"

	"toybox-go/applets/internal/elfsect"
)

func TestParseModinfo(t *testing.T) {
	got := ParseModinfo([]byte("license=GPL\x00\x00\x00alias=fs-ext4\x00depends=jbd2,mbcache\x00intree=Y\x00odd\x00trail=x"))
	want := []Field{{Key: "license", Value: "GPL"}, {Key: "alias", Value: "fs-ext4"}, {Key: "depends", Value: "jbd2,mbcache"}, {Key: "intree", Value: "Y"}, {Key: "odd", Value: ""}, {Key: "trail", Value: "x"}}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got %+v", got)
	}
	if ParseModinfo(nil) != nil {
		t.Error("empty section gives fields")
	}
}

// sectionHeader finds the section header of name in an ELF64 little-endian
// image and returns the offset of its sh_size field.
func sizeFieldOf(t *testing.T, image []byte, name string) int {
	t.Helper()
	f, err := elfsect.NewFile(bytesReader(image), int64(len(image)))
	if err != nil {
		t.Fatal(err)
	}
	shoff := binary.LittleEndian.Uint64(image[0x28:])
	shentsize := int(binary.LittleEndian.Uint16(image[0x3a:]))
	s, ok := f.Lookup(name)
	if !ok {
		t.Fatalf("no section %s", name)
	}
	return int(shoff) + s.Index*shentsize + 0x20 // sh_size in Elf64_Shdr
}

func TestHostileFiles(t *testing.T) {
	dir := realModules(t)
	good, err := os.ReadFile(filepath.Join(dir, "kernel", "drivers", "block", "loop.ko"))
	if err != nil {
		t.Fatal(err)
	}
	tmp := t.TempDir()
	write := func(name string, data []byte) string {
		p := filepath.Join(tmp, name)
		if err := os.WriteFile(p, data, 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	huge := slices.Clone(good)
	binary.LittleEndian.PutUint64(huge[sizeFieldOf(t, huge, ".modinfo"):], 1<<40)
	hugeShnum := slices.Clone(good)
	binary.LittleEndian.PutUint16(hugeShnum[0x3c:], 0xffff) // e_shnum
	noModinfo := slices.Clone(good)
	// Rename ".modinfo" in the section name table: same file, no such section.
	if i := strings.Index(string(noModinfo), ".modinfo\x00"); i >= 0 {
		copy(noModinfo[i:], ".modinfX")
	}
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	cases := map[string]struct {
		path string
		want string
	}{
		"empty":            {write("empty.ko", nil), "not an ELF"},
		"text":             {write("text.ko", []byte("#!/bin/sh\necho hi\n")), "not an ELF"},
		"magic only":       {write("magic.ko", []byte("\x7fELF")), "bad ELF"},
		"truncated header": {write("trunc1.ko", good[:40]), "bad ELF"},
		"truncated":        {write("trunc2.ko", good[:len(good)/2]), ""},
		"huge section":     {write("huge.ko", huge), "does not fit"},
		"huge shnum":       {write("shnum.ko", hugeShnum), ""},
		"no modinfo":       {write("nomodinfo.ko", noModinfo), "no .modinfo"},
		"program":          {self, "no .modinfo"},
		"directory":        {tmp, "not a regular file"},
		"compressed":       {write("x.ko.xz", []byte{0xfd, '7', 'z', 'X', 'Z', 0}), "compressed"},
	}
	if err := os.Symlink("loopb.ko", filepath.Join(tmp, "loopa.ko")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("loopa.ko", filepath.Join(tmp, "loopb.ko")); err != nil {
		t.Fatal(err)
	}
	cases["symlink loop"] = struct{ path, want string }{filepath.Join(tmp, "loopa.ko"), "too many levels"}
	for name, tc := range cases {
		fields, _, err := ReadFile(tc.path)
		if err == nil {
			t.Errorf("%s: no error, fields %+v", name, fields)
			continue
		}
		if tc.want != "" && !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: error %q, want it to say %q", name, err, tc.want)
		}
		if !strings.Contains(err.Error(), tc.path) {
			t.Errorf("%s: error %q does not name the file", name, err)
		}
	}
	if _, _, err := ReadFile(filepath.Join(tmp, "x.ko.xz")); !errors.Is(err, ErrCompressed) {
		t.Errorf("compressed: %v", err)
	}

	// The index over such a directory (plus a directory symlink loop) builds,
	// reports the bad modules on read, and never hangs.
	if err := os.Symlink("..", filepath.Join(tmp, "up")); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(filepath.Join(tmp, "sub"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(tmp, filepath.Join(tmp, "sub", "back")); err != nil {
		t.Fatal(err)
	}
	write("loop.ko", good)
	ix, err := Open(tmp, nil)
	if err != nil {
		t.Fatal(err)
	}
	ix.ScanAll()
	if m := ix.Get("huge"); m == nil || m.Err == nil {
		t.Errorf("huge: %+v", m)
	}
	if m := ix.Get("loop"); m == nil || m.Err != nil || len(m.Aliases) == 0 {
		t.Errorf("the good module among bad ones: %+v", m)
	}
	if l := ix.Lookup("block-major-7-1"); len(l) != 1 {
		t.Errorf("alias lookup among hostile files: %v", l)
	}
}

func TestMatch(t *testing.T) {
	for _, tc := range []struct {
		pattern, name string
		want          bool
	}{
		{"block_major_7_*", "block_major_7_0", true},
		{"block_major_7_*", "block_major_8_0", false},
		{"pci:v00008086d*sv*sd*bc*sc*i*", "pci:v00008086d00001234sv0sd0bc01sc02i03", true},
		{"pci:v00008086d*sv*sd*bc*sc*i*", "pci:v00001AF4d00001234sv0sd0bc01sc02i03", false},
		{"usb:v*p*d*dc*dsc*dp*ic08isc06ip50in*", "usb:v0781p5567d0100dc00dsc00dp00ic08isc06ip50in00", true},
		{"a?c", "abc", true},
		{"a?c", "ac", false},
		{"*", "", true},
		{"", "", true},
		{"", "a", false},
		{"a*b*c", "aXbYbZc", true},
		{"a*b*c", "aXbYbZ", false},
		{"of:N*T*Cfoo,bar*", "of:NxTyCfoo,barC", true},
		{"x[0-9]y", "x5y", true},
		{"x[0-9]y", "xay", false},
		{"x[!0-9]y", "xay", true},
		{"x[^0-9]y", "x5y", false},
		{"x[]]y", "x]y", true},
		{"x[a-]y", "x-y", true},
		{"x[", "x[", true},
		{"x[ab", "x[ab", true},
		{`x\*y`, "x*y", true},
		{`x\*y`, "xay", false},
		{"dev*/x", "devname:mapper/x", true}, // no FNM_PATHNAME: * crosses /
		{"*a*a*a*a*a*a*a*b", strings.Repeat("a", 200), false},
	} {
		if got := Match(tc.pattern, tc.name); got != tc.want {
			t.Errorf("Match(%q, %q) = %v, want %v", tc.pattern, tc.name, got, tc.want)
		}
	}
}

func TestNormalize(t *testing.T) {
	for in, want := range map[string]string{
		"nls_iso8859-1": "nls_iso8859_1", "nls-iso8859-1.ko": "nls_iso8859_1",
		"crc32c-intel.ko.zst": "crc32c_intel", "bridge": "bridge",
	} {
		if got := Normalize(in); got != want {
			t.Errorf("Normalize(%q) = %q", in, got)
		}
	}
	if got := normalizeAlias("fs-ext4[a-z]-x"); got != "fs_ext4[a-z]_x" {
		t.Errorf("normalizeAlias: %q", got)
	}
}

func TestConf(t *testing.T) {
	// OpenWrt's shipped /etc/modules.conf holds only commented examples.
	fixture := []byte("# examples:\n# options mod1 option=val\n# blacklist mod2\n")
	c := NewConf()
	c.Parse("modules.conf", strings.NewReader(string(fixture)))
	if len(c.Problems) != 0 || len(c.Blacklist) != 0 || len(c.Options) != 0 {
		t.Errorf("upstream example (all comments) gave %+v", c)
	}
	c.Parse("modules.conf", strings.NewReader(`
blacklist nls-cp437   # comment
options zram num_devices=2
options zram  extra=1
options loop
softdep ext4 pre: crc32c post: nothing
softdep bad x
alias my-fs overlay
install foo /bin/true
frobnicate x
blacklist
`))
	if !c.Blacklist["nls_cp437"] {
		t.Error("blacklist")
	}
	if c.Options["zram"] != "num_devices=2 extra=1" {
		t.Errorf("options %q", c.Options["zram"])
	}
	if !slices.Equal(c.SoftPre["ext4"], []string{"crc32c"}) || !slices.Equal(c.SoftPost["ext4"], []string{"nothing"}) {
		t.Errorf("softdep %q %q", c.SoftPre, c.SoftPost)
	}
	if len(c.Aliases) != 1 || !reflect.DeepEqual(c.Aliases[0], ConfAlias{Pattern: "my_fs", Module: "overlay"}) {
		t.Errorf("aliases %v", c.Aliases)
	}
	if cmd, ok := c.InstallCommand("foo"); !ok || cmd != "/bin/true" {
		t.Errorf("install foo: %q %v", cmd, ok)
	}
	wantProblems(t, c.Problems, "modules.conf:7:", "modules.conf:10:", "modules.conf:11:")
}

// install and remove lines as kmod reads them: the command is the raw rest of
// the line (blanks after the first and '#' kept), continuation lines join,
// module names are normalised and may be glob patterns, the first match wins.
func TestConfCommands(t *testing.T) {
	c := NewConf()
	c.Parse("x.conf", strings.NewReader("install usb-storage /bin/false\n"+
		"install bridge   /bin/echo BR [$CMDLINE_OPTS] # kept\n"+
		"\tinstall snd-* /bin/true\n"+
		"install snd-pcm /bin/false\n"+
		"remove zram /bin/echo a \\\n b\n"+
		"install lonely\n"+
		"install \n"+
		"remove x \n"+
		"blacklist after-continuation\n"))
	for name, want := range map[string]string{
		"usb_storage": "/bin/false",
		"bridge":      "  /bin/echo BR [$CMDLINE_OPTS] # kept",
		"snd_pcm":     "/bin/true", // the pattern comes first
	} {
		if got, ok := c.InstallCommand(name); !ok || got != want {
			t.Errorf("install %s: %q %v, want %q", name, got, ok, want)
		}
	}
	if _, ok := c.InstallCommand("zram"); ok {
		t.Error("zram has only a remove command")
	}
	if got, ok := c.RemoveCommand("zram"); !ok || got != "/bin/echo a  b" {
		t.Errorf("remove zram: %q %v", got, ok)
	}
	if !c.commandNames("usb_storage") || !c.commandNames("zram") || c.commandNames("snd_pcm_x") {
		t.Error("commandNames: exact names only")
	}
	if !c.Blacklist["after_continuation"] {
		t.Error("the line after a continuation was lost")
	}
	wantProblems(t, c.Problems, "x.conf:7:", "x.conf:8:", "x.conf:9:")
}

// Several folders (ubox's $LD_LIBRARY_PATH/modules/RELEASE, then /lib): the
// first holding a module wins; missing folders are skipped.
func TestOpenAll(t *testing.T) {
	dir := realModules(t)
	good, err := os.ReadFile(filepath.Join(dir, "kernel", "drivers", "block", "loop.ko"))
	if err != nil {
		t.Fatal(err)
	}
	overlay, lib := t.TempDir(), t.TempDir()
	for _, p := range []string{filepath.Join(overlay, "loop.ko"), filepath.Join(lib, "loop.ko"), filepath.Join(lib, "sub", "other.ko")} {
		os.MkdirAll(filepath.Dir(p), 0o755)
		if err := os.WriteFile(p, good, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	ix, err := OpenAll([]string{filepath.Join(overlay, "missing"), overlay, lib}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if m := ix.Get("loop"); m == nil || m.Path != filepath.Join(overlay, "loop.ko") {
		t.Errorf("loop: %+v", m)
	}
	if m := ix.Get("other"); m == nil || m.Path != filepath.Join(lib, "sub", "other.ko") {
		t.Errorf("other: %+v", m)
	}
	if _, err := OpenAll([]string{filepath.Join(lib, "nope")}, nil); err == nil {
		t.Error("no folder at all: no error")
	}
}

// TestConfTooLong: a file past maxConfFile is read up to the last whole line
// within the bound, and that is reported, not silently cut.
func TestConfTooLong(t *testing.T) {
	comment := "#" + strings.Repeat("x", maxConfFile-len("blacklist a\n")-len("options b x=12")-2) + "\n"
	text := "blacklist a\n" + comment + "options b x=1234\nblacklist c\n"
	c := NewConf()
	c.Parse("x.conf", strings.NewReader(text))
	wantProblems(t, c.Problems, "x.conf: longer than")
	if !c.Blacklist["a"] || c.Blacklist["c"] || c.Options["b"] != "" {
		t.Errorf("blacklist %v, options %q: want a only, and no half line", c.Blacklist, c.Options)
	}
}

// wantProblems checks that problems are exactly the wanted ones, each
// beginning with its file:line prefix.
func wantProblems(t *testing.T, problems []string, prefixes ...string) {
	t.Helper()
	if len(problems) != len(prefixes) {
		t.Fatalf("problems %q, want prefixes %q", problems, prefixes)
	}
	for i, w := range prefixes {
		if !strings.HasPrefix(problems[i], w) {
			t.Errorf("problem %q, want %s", problems[i], w)
		}
	}
}
