package sigstate

import (
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"
)

func TestMasks(t *testing.T) {
	f := filepath.Join(t.TempDir(), "status")
	if err := os.WriteFile(f, []byte("Name:\tx\nSigBlk:\t0000000000010000\nSigIgn:\t0000000080000001\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	b, i, err := Masks(f)
	if err != nil || b != 0x10000 || i != 0x80000001 {
		t.Fatalf("got %#x %#x %v", b, i, err)
	}
	if err := os.WriteFile(f, []byte("Name:\tx\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, _, err := Masks(f); err == nil {
		t.Fatal("no error for a status without masks")
	}
}

// TestEnsureCleanReexecs runs this test binary with SIGINT and SIGQUIT ignored
// (a shell's trap) and four signals blocked (a launcher that blocks them and
// execs), and checks that after EnsureClean a child of the process is clean.
func TestEnsureCleanReexecs(t *testing.T) {
	if os.Getenv("SIGSTATE_LAUNCH") == "1" {
		// Block signals the way make or a runtime may, then become the child.
		runtime.LockOSThread()
		var set unix.Sigset_t
		for _, sig := range []unix.Signal{unix.SIGUSR1, unix.SIGTERM, unix.SIGCHLD, unix.SIGHUP} {
			set.Val[(sig-1)/64] |= 1 << ((uint(sig) - 1) % 64)
		}
		if err := unix.PthreadSigmask(unix.SIG_BLOCK, &set, nil); err != nil {
			t.Fatal(err)
		}
		self, _ := os.Executable()
		var env []string
		for _, e := range os.Environ() {
			if !strings.HasPrefix(e, "SIGSTATE_LAUNCH=") {
				env = append(env, e)
			}
		}
		env = append(env, "SIGSTATE_CHILD=1")
		t.Fatal(syscall.Exec(self, os.Args, env))
	}
	if os.Getenv("SIGSTATE_CHILD") == "1" {
		// Count the starts: a re-execution starts the test binary again.
		if f, err := os.OpenFile(os.Getenv("SIGSTATE_STARTS"), os.O_APPEND|os.O_WRONLY, 0); err == nil {
			f.WriteString("start\n")
			f.Close()
		}
		if err := EnsureClean(); err != nil {
			t.Fatal(err)
		}
		out, err := exec.Command("grep", "-E", "^Sig(Blk|Ign)", "/proc/self/status").Output()
		if err != nil {
			t.Fatal(err)
		}
		os.Stdout.Write(out)
		return
	}
	if testing.Short() {
		t.Skip("-short: re-executes itself through /bin/sh, which qemu-user cannot follow")
	}
	self, _ := os.Executable()
	for _, tc := range []struct {
		name       string
		launch     bool // block signals too
		wantStarts int  // 2: re-executed; 1: fixed in place
	}{
		{"ignored only: reset in place", false, 1},
		{"blocked too: re-executed", true, 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			starts := filepath.Join(t.TempDir(), "starts")
			if err := os.WriteFile(starts, nil, 0o644); err != nil {
				t.Fatal(err)
			}
			// The shell ignores INT and QUIT; exec keeps that for the test binary.
			cmd := exec.Command("sh", "-c", `trap "" INT QUIT; exec "$@"`, "sh", self, "-test.run=TestEnsureCleanReexecs", "-test.v")
			role := "SIGSTATE_CHILD=1"
			if tc.launch {
				role = "SIGSTATE_LAUNCH=1"
			}
			cmd.Env = append(os.Environ(), role, "SIGSTATE_STARTS="+starts)
			out, err := cmd.CombinedOutput()
			if err != nil {
				t.Fatalf("%v\n%s", err, out)
			}
			for _, want := range []string{"SigBlk:\t0000000000000000", "SigIgn:\t0000000000000000"} {
				if !strings.Contains(string(out), want) {
					t.Fatalf("child state not clean, want %q in:\n%s", want, out)
				}
			}
			if b, _ := os.ReadFile(starts); strings.Count(string(b), "start") != tc.wantStarts {
				t.Fatalf("started %d times, want %d", strings.Count(string(b), "start"), tc.wantStarts)
			}
		})
	}
}
