package hotplugcall

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"toybox-go/internal/testbin"
)

func write(t *testing.T, p, content string, mode os.FileMode) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(content), mode); err != nil {
		t.Fatal(err)
	}
}

func TestRunsScriptsInOrderWithEnv(t *testing.T) {
	testbin.RequireTool(t, "sh")
	hc := testbin.Applet(t, "hotplug-call")
	etc := t.TempDir()
	out := filepath.Join(t.TempDir(), "out")
	write(t, filepath.Join(etc, "hotplug.d/net/20-second"), `echo "2 ${SET_BY_FIRST-unset} $1 $ACTION $INTERFACE $DEVICENAME $HOTPLUG_TYPE" >> `+out+"\n", 0o644)
	write(t, filepath.Join(etc, "hotplug.d/net/10-first"), "SET_BY_FIRST=1\necho 1 >> "+out+"\nexit 7\n", 0o600)
	write(t, filepath.Join(etc, "hotplug.d/net/.hidden"), "echo hidden >> "+out+"\n", 0o644)
	cmd := exec.Command(hc, "-e", etc, "net")
	cmd.Env = testbin.Env("ACTION=add", "INTERFACE=eth0", "DEVPATH=/devices/virtual/net/eth0")
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("%v: %s", err, b)
	}
	b, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := string(b), "1\n2 unset net add eth0 eth0 net\n"; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
}

func TestNoDirectoryExitsZero(t *testing.T) {
	hc := testbin.Applet(t, "hotplug-call")
	b, err := exec.Command(hc, "-e", t.TempDir(), "usb").CombinedOutput()
	if err != nil || len(b) != 0 {
		t.Errorf("%v, output %q", err, b)
	}
}

func TestUsageErrors(t *testing.T) {
	hc := testbin.Applet(t, "hotplug-call")
	for _, args := range [][]string{{}, {"a", "b"}, {"-x", "net"}, {"../etc"}} {
		err := exec.Command(hc, args...).Run()
		if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 1 {
			t.Errorf("%q: %v, want exit 1", args, err)
		}
	}
}

// TestNoShell runs hotplug-call in a root holding only itself and a script.
func TestNoShell(t *testing.T) {
	testbin.RequireRoot(t)
	root := t.TempDir()
	bin, err := os.ReadFile(testbin.Path(t))
	if err != nil {
		t.Fatal(err)
	}
	write(t, filepath.Join(root, "sbin/hotplug-call"), string(bin), 0o755)
	write(t, filepath.Join(root, "etc/hotplug.d/net/10-x"), "true\n", 0o644)
	cmd := exec.Command("/sbin/hotplug-call", "net")
	cmd.SysProcAttr = &syscall.SysProcAttr{Chroot: root}
	cmd.Dir = "/"
	cmd.Env = []string{"TOYBOX_GO_LOG=stderr"}
	b, err := cmd.CombinedOutput()
	ee, ok := err.(*exec.ExitError)
	if !ok || ee.ExitCode() != 1 {
		t.Fatalf("%v: %s", err, b)
	}
	if want := "hotplug-call: no shell /bin/sh to run the 1 scripts of /etc/hotplug.d/net"; !strings.Contains(string(b), want) {
		t.Errorf("got %q, want %q", b, want)
	}
}
