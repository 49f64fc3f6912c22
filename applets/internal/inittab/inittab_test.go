package inittab

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

func TestOpenWrtFixtures(t *testing.T) {
	files, _ := filepath.Glob("testdata/inittab*")
	if len(files) < 3 {
		t.Fatalf("fixtures missing: %v", files)
	}
	for _, f := range files {
		ents, errs, err := ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if len(errs) != 0 {
			t.Errorf("%s: %v", f, errs)
		}
		if len(ents) < 3 {
			t.Fatalf("%s: %d entries", f, len(ents))
		}
		sys, shut := ents[0], ents[1]
		if sys.Action != SysInit || sys.RC == nil || !reflect.DeepEqual(*sys.RC, RC{Pattern: "S", Param: "boot"}) {
			t.Errorf("%s: sysinit entry %+v", f, sys)
		}
		if shut.Action != Shutdown || shut.RC == nil || !reflect.DeepEqual(*shut.RC, RC{Pattern: "K", Param: "shutdown"}) {
			t.Errorf("%s: shutdown entry %+v", f, shut)
		}
	}
	ents, _, _ := ReadFile("testdata/inittab.armsr")
	var ttys []string
	for _, e := range ents[2:] {
		if e.Action != AskFirst || e.Path != "/usr/libexec/login.sh" {
			t.Errorf("armsr: %+v", e)
		}
		ttys = append(ttys, e.TTY)
	}
	want := []string{"ttyAMA0", "@GRUB_SERIAL@", "tty1", "hvc0", "ttymxc0", "ttymxc1", "ttymxc2", "ttySC0"}
	if !reflect.DeepEqual(ttys, want) {
		t.Errorf("armsr ttys %q, want %q", ttys, want)
	}
	ents, _, _ = ReadFile("testdata/inittab.chaos_calmer")
	if e := ents[2]; e.Action != AskConsole || !reflect.DeepEqual(e.Argv, []string{"/bin/ash", "--login"}) {
		t.Errorf("chaos calmer askconsole %+v", e)
	}
}

func TestEntries(t *testing.T) {
	for _, tc := range []struct {
		line  string
		name  string
		path  string
		argv  []string
		login bool
	}{
		{"tty1:getty:respawn:/sbin/getty 38400 tty1", "getty", "/sbin/getty", []string{"/sbin/getty", "38400", "tty1"}, false},
		{"::respawn:-/bin/sh", "", "/bin/sh", []string{"-sh"}, true},
		{"::once:echo hi > /tmp/x", "", Shell, []string{"sh", "-c", "echo hi > /tmp/x"}, false},
		{"::wait:-echo $HOME", "", Shell, []string{"-sh", "-c", "echo $HOME"}, true},
		{"  x:y:respawn:/a:b:c  \r", "y", "/a:b:c", []string{"/a:b:c"}, false},
		{"::sysinit:/etc/init.d/rcS X", "", "/etc/init.d/rcS", []string{"/etc/init.d/rcS", "X"}, false},
	} {
		ents, errs := Parse(strings.NewReader(tc.line), "inittab")
		if len(errs) != 0 || len(ents) != 1 {
			t.Errorf("%q: %v %v", tc.line, ents, errs)
			continue
		}
		e := ents[0]
		if tc.name != "" && e.Name != tc.name || e.Path != tc.path || !reflect.DeepEqual(e.Argv, tc.argv) || e.Login != tc.login {
			t.Errorf("%q: got %+v", tc.line, e)
		}
		if e.RC != nil {
			t.Errorf("%q: unexpected RC %+v", tc.line, e.RC)
		}
	}
}

func TestDerivedNamesStable(t *testing.T) {
	a, _ := Parse(strings.NewReader("::respawn:/bin/sleep 100\ntty1::respawn:/bin/sleep 100\n::once:/bin/sleep 100\n"), "inittab")
	b, _ := Parse(strings.NewReader("# moved\n\n::respawn:/bin/sleep 100\n"), "inittab")
	if len(a) != 3 || len(b) != 1 {
		t.Fatal(a, b)
	}
	if a[0].Name != b[0].Name || !a[0].Same(&b[0]) {
		t.Errorf("same line, different key: %q %q", a[0].Name, b[0].Name)
	}
	if a[0].Name == a[1].Name || a[0].Name == a[2].Name || !strings.HasPrefix(a[0].Name, "sleep-") {
		t.Errorf("keys %q %q %q", a[0].Name, a[1].Name, a[2].Name)
	}
	if checkName(a[0].Name) != "" {
		t.Errorf("derived name %q fails checkName", a[0].Name)
	}
}

func TestBadLines(t *testing.T) {
	huge := "::respawn:/bin/" + strings.Repeat("x", 100000)
	in := strings.Join([]string{
		"::sysinit:/etc/init.d/rcS S boot", // 1 ok
		"garbage",                          // 2
		"::bogus:/bin/true",                // 3
		huge,                               // 4
		"::respawn:",                       // 5
		"::respawn:/bin/a\x00b",            // 6
		"a:../x:respawn:/bin/true",         // 7
		"x:dup:respawn:/bin/true",          // 8 ok
		"y:dup:respawn:/bin/false",         // 9
		"::respawn:/bin/\xff\xfe",          // 10
		"::once:/bin/last",                 // 11 ok, unterminated
	}, "\n")
	ents, errs := Parse(strings.NewReader(in), "inittab")
	var got []string
	for _, e := range ents {
		got = append(got, fmt.Sprint(e.Line))
	}
	if strings.Join(got, ",") != "1,8,11" {
		t.Errorf("kept lines %v", got)
	}
	wantLines := []int{2, 3, 4, 5, 6, 7, 9, 10}
	if len(errs) != len(wantLines) {
		t.Fatalf("errors %v", errs)
	}
	for i, err := range errs {
		prefix := fmt.Sprintf("inittab:%d: ", wantLines[i])
		if !strings.HasPrefix(err.Error(), prefix) {
			t.Errorf("error %d = %q, want prefix %q", i, err, prefix)
		}
	}
}

func TestTenThousandEntries(t *testing.T) {
	var b bytes.Buffer
	for i := range 10000 {
		fmt.Fprintf(&b, "::respawn:/bin/sleep %d\n", i)
	}
	ents, errs := Parse(&b, "inittab")
	if len(ents) != MaxEntries {
		t.Errorf("%d entries, want %d", len(ents), MaxEntries)
	}
	if len(errs) != 1 || !strings.Contains(errs[0].Error(), fmt.Sprintf("inittab:%d:", MaxEntries+1)) {
		t.Errorf("errors %v", errs)
	}
}

func TestBinaryFile(t *testing.T) {
	data := []byte("\x7fELF\x02\x01\x01\x00\x00\n::respawn:/bin/ok\n\x00\x01:\xff:respawn:/x\n::once:/bin/\x1b[31m\n")
	ents, errs := Parse(bytes.NewReader(data), "inittab")
	if len(ents) != 1 || ents[0].Path != "/bin/ok" || len(errs) != 3 {
		t.Errorf("entries %+v errors %v", ents, errs)
	}
}

func FuzzParse(f *testing.F) {
	files, _ := filepath.Glob("testdata/inittab*")
	for _, p := range files {
		b, _ := os.ReadFile(p)
		f.Add(b)
	}
	f.Add([]byte("::respawn:-/bin/sh\nx:y:once:a;b\n\x00\xff"))
	f.Add([]byte(strings.Repeat("a", MaxLine+3)))
	f.Fuzz(func(t *testing.T, data []byte) {
		ents, errs := Parse(bytes.NewReader(data), "inittab")
		seen := map[string]bool{}
		for _, e := range ents {
			if seen[e.Name] || checkName(e.Name) != "" {
				t.Fatalf("bad or duplicate name %q", e.Name)
			}
			seen[e.Name] = true
			if len(e.Argv) == 0 || e.Path == "" || !e.Action.known() {
				t.Fatalf("incomplete entry %+v", e)
			}
		}
		for _, err := range errs {
			if !strings.HasPrefix(err.Error(), "inittab:") {
				t.Fatalf("error without position: %v", err)
			}
		}
	})
}
