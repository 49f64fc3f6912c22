package modinfo

import (
	"os"
	"path/filepath"
	"testing"
)

// TestLoadConfPrecedence: modprobe.d files are read sorted by name across the
// directories, and a name in an earlier directory replaces (or, linked to
// /dev/null, masks) the same name in a later one, as kmod does.
func TestLoadConfPrecedence(t *testing.T) {
	root := t.TempDir()
	write := func(rel, body string) {
		p := filepath.Join(root, rel)
		os.MkdirAll(filepath.Dir(p), 0o755)
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("etc/modules.conf", "options loop max_loop=1\n")
	write("etc/modprobe.d/b.conf", "options loop max_loop=8\n")
	write("lib/modprobe.d/b.conf", "blacklist replaced_by_etc\n")
	write("usr/lib/modprobe.d/a.conf", "options loop hw_queue_depth=4\nblacklist from_usr_lib\n")
	write("lib/modprobe.d/c.conf", "blacklist masked\n")
	os.MkdirAll(filepath.Join(root, "etc/modprobe.d"), 0o755)
	if err := os.Symlink("/dev/null", filepath.Join(root, "etc/modprobe.d/c.conf")); err != nil {
		t.Fatal(err)
	}
	write("lib/modprobe.d/README", "blacklist not_a_conf_file\n")
	c := LoadConf(filepath.Join(root, "etc/modules.conf"), filepath.Join(root, "etc/modprobe.d"),
		filepath.Join(root, "run/modprobe.d"), filepath.Join(root, "usr/lib/modprobe.d"), filepath.Join(root, "lib/modprobe.d"))
	if len(c.Problems) != 0 {
		t.Fatalf("problems: %q", c.Problems)
	}
	// modules.conf first, then a.conf (usr/lib) before b.conf (etc).
	if got := c.Options["loop"]; got != "max_loop=1 hw_queue_depth=4 max_loop=8" {
		t.Errorf("loop options %q", got)
	}
	for name, want := range map[string]bool{"from_usr_lib": true, "replaced_by_etc": false, "masked": false, "not_a_conf_file": false} {
		if c.Blacklist[name] != want {
			t.Errorf("blacklist %s: %v, want %v", name, c.Blacklist[name], want)
		}
	}
}
