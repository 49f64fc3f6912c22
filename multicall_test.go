package main

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"toybox-go/internal/testbin"
)

func TestTableSortedAndUnique(t *testing.T) {
	n := names()
	if !sort.StringsAreSorted(n) {
		t.Fatalf("applet table is not sorted: %v", n)
	}
	for i := 1; i < len(n); i++ {
		if n[i] == n[i-1] {
			t.Fatalf("applet %q is listed twice", n[i])
		}
	}
	paths := map[string]bool{}
	for _, a := range applets {
		if a.usage == "" || !strings.HasPrefix(a.usage, "usage: ") || a.main == nil {
			t.Errorf("%s: needs a usage text starting %q and a main", a.name, "usage: ")
		}
		if filepath.Base(a.path) != a.name || !(strings.HasPrefix(a.path, "sbin/") || strings.HasPrefix(a.path, "bin/")) {
			t.Errorf("%s: install path %q does not end in its name under bin/ or sbin/", a.name, a.path)
		}
		if paths[a.path] {
			t.Errorf("%s: install path %q used twice", a.name, a.path)
		}
		paths[a.path] = true
	}
}

func runCapture(argv ...string) (int, string, string) {
	var out, errb bytes.Buffer
	rc := run(argv, &out, &errb)
	return rc, out.String(), errb.String()
}

func TestDispatch(t *testing.T) {
	if rc, out, _ := runCapture("/x/y/toybox-go", "--list"); rc != 0 || !strings.Contains(out, "sbin/oneit\n") {
		t.Fatalf("--list: rc %d, %q", rc, out)
	}
	if rc, out, _ := runCapture("toybox-go", "--help"); rc != 0 || !strings.Contains(out, "usage: toybox-go") || !strings.Contains(out, "sbin/oneit") {
		t.Fatalf("--help: rc %d, %q", rc, out)
	}
	if rc, out, _ := runCapture("/sbin/oneit", "--help"); rc != 0 || !strings.HasPrefix(out, "usage: oneit") {
		t.Fatalf("oneit --help by argv[0]: rc %d, %q", rc, out)
	}
	if rc, out, _ := runCapture("toybox-go", "oneit", "--help"); rc != 0 || !strings.HasPrefix(out, "usage: oneit") {
		t.Fatalf("toybox-go oneit --help: rc %d, %q", rc, out)
	}
	if rc, out, _ := runCapture("toybox-go", "--help", "oneit"); rc != 0 || !strings.HasPrefix(out, "usage: oneit") {
		t.Fatalf("toybox-go --help oneit: rc %d, %q", rc, out)
	}
	if rc, _, errs := runCapture("toybox-go", "frobnicate"); rc != 1 || !strings.Contains(errs, `unknown applet "frobnicate"`) || !strings.Contains(errs, "sbin/oneit") {
		t.Fatalf("unknown applet: rc %d, %q", rc, errs)
	}
	if rc, _, errs := runCapture("/usr/bin/whatever"); rc != 1 || !strings.Contains(errs, `unknown applet "whatever"`) {
		t.Fatalf("unknown argv[0]: rc %d, %q", rc, errs)
	}
	if rc, _, errs := runCapture("toybox-go"); rc != 1 || !strings.Contains(errs, "usage:") {
		t.Fatalf("no arguments: rc %d, %q", rc, errs)
	}
	// A symlink chain to an applet name runs that applet.
	dir := t.TempDir()
	if err := os.Symlink("/nonexistent/sbin/oneit", filepath.Join(dir, "myinit")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("myinit", filepath.Join(dir, "alias")); err != nil {
		t.Fatal(err)
	}
	if rc, out, _ := runCapture(filepath.Join(dir, "alias"), "--help"); rc != 0 || !strings.HasPrefix(out, "usage: oneit") {
		t.Fatalf("symlink chain to oneit: rc %d, %q", rc, out)
	}
	// An applet's own usage error goes through: oneit without a command.
	if rc, _, _ := runCapture("oneit"); rc != 1 {
		t.Fatalf("oneit without COMMAND: rc %d", rc)
	}
}

// The real binary, by symlink name and with --install.
func TestBinaryInstallAndSymlinkDispatch(t *testing.T) {
	bin := testbin.Path(t)
	dir := t.TempDir()
	if out, err := exec.Command(bin, "--install", dir).CombinedOutput(); err != nil {
		t.Fatalf("--install: %v: %s", err, out)
	}
	list, err := exec.Command(bin, "--list").Output()
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range strings.Fields(string(list)) {
		target, err := os.Readlink(filepath.Join(dir, p))
		if err != nil {
			t.Fatalf("%s not installed: %v", p, err)
		}
		if target != bin {
			t.Errorf("%s -> %s, want %s", p, target, bin)
		}
	}
	// Idempotent.
	if out, err := exec.Command(bin, "--install", dir).CombinedOutput(); err != nil {
		t.Fatalf("second --install: %v: %s", err, out)
	}
	out, err := exec.Command(filepath.Join(dir, "sbin/oneit"), "--help").Output()
	if err != nil || !strings.HasPrefix(string(out), "usage: oneit") {
		t.Fatalf("sbin/oneit --help: %v %q", err, out)
	}
	// Run under another name (as init runs oneit through /proc/self/exe),
	// the process names itself after the applet, which is what ps shows.
	con := filepath.Join(t.TempDir(), "console")
	if err := os.WriteFile(con, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	_ = exec.Command(bin, "oneit", "-c", con, "sh", "-c", "cat /proc/$PPID/comm").Run()
	if got, _ := os.ReadFile(con); strings.TrimSpace(string(got)) != "oneit" {
		t.Errorf("comm of toybox-go run as oneit is %q, want oneit", got)
	}
	// A foreign file is refused.
	other := t.TempDir()
	if err := os.MkdirAll(filepath.Join(other, "sbin"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("/bin/true", filepath.Join(other, "sbin/oneit")); err != nil {
		t.Fatal(err)
	}
	if err := exec.Command(bin, "--install", other).Run(); err == nil {
		t.Fatal("--install replaced a foreign symlink")
	}
}

// install.sh: symlinks from --list, idempotent, refuses foreign files unless
// forced, --uninstall removes only what it made.
func TestInstallScript(t *testing.T) {
	testbin.RequireTool(t, "sh")
	bin := testbin.Path(t)
	dest := t.TempDir()
	script := filepath.Join(testbin.ModuleRoot(t), "install.sh")
	inst := func(args ...string) (string, error) {
		cmd := exec.Command("sh", append([]string{script}, args...)...)
		cmd.Env = append(os.Environ(), "DESTDIR="+dest)
		out, err := cmd.CombinedOutput()
		return string(out), err
	}
	if out, err := inst(bin); err != nil {
		t.Fatalf("install: %v\n%s", err, out)
	}
	if target, err := os.Readlink(filepath.Join(dest, "sbin/oneit")); err != nil || target != "toybox-go" {
		t.Fatalf("sbin/oneit -> %q (%v), want toybox-go", target, err)
	}
	out, err := exec.Command(filepath.Join(dest, "sbin/oneit"), "--help").Output()
	if err != nil || !strings.HasPrefix(string(out), "usage: oneit") {
		t.Fatalf("installed oneit does not run: %v %q", err, out)
	}
	if out, err := inst(bin); err != nil || strings.Contains(out, "linked") || strings.Contains(out, "installed") {
		t.Fatalf("second install was not a no-op: %v\n%s", err, out)
	}

	// A foreign file where an applet goes: refused, left alone, exit 1.
	foreign := filepath.Join(dest, "sbin/oneit")
	os.Remove(foreign)
	if err := os.WriteFile(foreign, []byte("mine"), 0o755); err != nil {
		t.Fatal(err)
	}
	if out, err := inst(bin); err == nil || !strings.Contains(out, "not our symlink") {
		t.Fatalf("foreign file not refused: %v\n%s", err, out)
	}
	if b, _ := os.ReadFile(foreign); string(b) != "mine" {
		t.Fatal("foreign file was changed")
	}
	if out, err := inst("-f", bin); err != nil {
		t.Fatalf("install -f: %v\n%s", err, out)
	}
	if target, _ := os.Readlink(foreign); target != "toybox-go" {
		t.Fatal("-f did not replace the foreign file")
	}

	// Uninstall: ours go, a file the user put in place of one of ours stays.
	os.Remove(foreign)
	if err := os.WriteFile(foreign, []byte("user's"), 0o755); err != nil {
		t.Fatal(err)
	}
	unrelated := filepath.Join(dest, "sbin/other")
	if err := os.WriteFile(unrelated, nil, 0o755); err != nil {
		t.Fatal(err)
	}
	if out, err := inst("--uninstall"); err != nil {
		t.Fatalf("uninstall: %v\n%s", err, out)
	}
	if _, err := os.Lstat(filepath.Join(dest, "sbin/toybox-go")); err == nil {
		t.Fatal("binary left after uninstall")
	}
	for _, keep := range []string{foreign, unrelated} {
		if _, err := os.Stat(keep); err != nil {
			t.Fatalf("uninstall removed %s, which it did not make", keep)
		}
	}
}
