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
	if err != nil || b != (Set{0x10000, 0}) || i != (Set{0x80000001, 0}) || !b.Has(17) || b.Has(16) || !i.Has(1) || !i.Has(32) {
		t.Fatalf("got %v %v %v", b, i, err)
	}
	// MIPS: 128 signals, 32 hex digits; a real-time signal above 64 counts.
	if err := os.WriteFile(f, []byte("SigBlk:\t00000000000000010000000000000000\nSigIgn:\t80000000000000000000000000000002\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	b, i, err = Masks(f)
	if err != nil || b != (Set{0, 1}) || !b.Has(65) || b.Empty() || !i.Has(128) || !i.Has(2) || i.Has(129) || i.Has(0) {
		t.Fatalf("128 signals: got %v %v %v", b, i, err)
	}
	for _, bad := range []string{"", "xyz", "000000000000000000000000000000000", "-1"} {
		if _, err := parseSet(bad); err == nil {
			t.Errorf("parseSet(%q): no error", bad)
		}
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

// FuzzParseSet: any mask text parses or fails cleanly; what parses has at
// most 128 signals and prints back to the same value.
func FuzzParseSet(f *testing.F) {
	f.Add("0000000000010000")
	f.Add("80000000000000000000000000000002")
	f.Add("zz")
	f.Fuzz(func(t *testing.T, v string) {
		s, err := parseSet(v)
		if err != nil {
			return
		}
		back, err := parseSet(strings.TrimPrefix(s.String(), "0x"))
		if err != nil || back != s || s.Has(129) {
			t.Fatalf("%q -> %v -> %v, %v", v, s, back, err)
		}
	})
}
