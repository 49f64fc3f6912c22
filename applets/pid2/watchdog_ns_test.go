package pid2_test

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"toybox-go/internal/testbin"
)

// TestWatchdogHandOver: init's hand-over as oneit sees it (a watchdog fd 10,
// not close-on-exec, named by WDTFD), with a pty standing in for
// /dev/watchdog (a character device whose writes the test reads back). pid2
// feeds that fd, no service gets it or WDTFD, and a pid2 relaunched by oneit
// (kill -9) or re-executed by itself (SIGQUIT) feeds it again.
func TestWatchdogHandOver(t *testing.T) {
	t.Parallel()
	master, slavePath := testbin.OpenPTY(t)
	slave, err := os.OpenFile(slavePath, os.O_WRONLY|unix.O_NOCTTY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer slave.Close()
	feeds := make(chan time.Time, 64)
	go func() {
		buf := make([]byte, 64)
		for {
			n, err := master.Read(buf)
			for range strings.Count(string(buf[:n]), "X") {
				feeds <- time.Now()
			}
			if err != nil {
				return
			}
		}
	}()
	// nextFeed waits for a feed after since.
	nextFeed := func(what string, since time.Time, timeout time.Duration) time.Time {
		t.Helper()
		deadline := time.After(timeout)
		for {
			select {
			case at := <-feeds:
				if at.After(since) {
					return at
				}
			case <-deadline:
				t.Fatalf("no watchdog feed %s within %v", what, timeout)
			}
		}
	}

	t0 := time.Now()
	s := bootPrepared(t, func(c *exec.Cmd) {
		c.ExtraFiles = make([]*os.File, 8)
		c.ExtraFiles[7] = slave // fd 10
		c.Env = append(c.Env, "WDTFD=10")
	}, []string{"-3", "-r"},
		":a:respawn:readlink /proc/$$/fd/10 > @ROOT@/fd10; echo \"WDTFD=$WDTFD\" > @ROOT@/env; exec /bin/sleep 1001\n", nil)
	first := nextFeed("at boot", t0, 10*time.Second)
	s.allRunning(10*time.Second, "a")
	const feeding = "watchdog: feeding fd 10 (WDTFD)"
	if c := s.console(); !strings.Contains(c, feeding) || strings.Contains(c, "watchdog: WDTFD") {
		t.Errorf("console lacks %q (or has a warning)", feeding)
	}
	// The main loop keeps feeding, every 5 s.
	second := nextFeed("from the main loop", first, 10*time.Second)
	if d := second.Sub(first); d < 4*time.Second {
		t.Errorf("fed again after %v, want about 5 s", d)
	}
	// The service has neither the fd nor the variable; only PID 1 (oneit)
	// and pid2 hold the device.
	s.waitFor("service's report", 5*time.Second, func() bool {
		b, _ := os.ReadFile(filepath.Join(s.root, "env"))
		return len(b) > 0
	})
	if b, _ := os.ReadFile(filepath.Join(s.root, "fd10")); strings.TrimSpace(string(b)) == slavePath {
		t.Errorf("service has the watchdog as fd 10: %q", b)
	}
	if b, _ := os.ReadFile(filepath.Join(s.root, "env")); string(b) != "WDTFD=\n" {
		t.Errorf("service environment: %q", b)
	}
	holders := func() map[int]bool {
		out := map[int]bool{}
		for p := range s.procs() {
			ents, _ := os.ReadDir(fmt.Sprintf("/proc/%d/fd", p))
			for _, e := range ents {
				if l, _ := os.Readlink(fmt.Sprintf("/proc/%d/fd/%s", p, e.Name())); l == slavePath {
					out[p] = true
				}
			}
		}
		return out
	}
	pid2 := s.pid2Pid()
	if h := holders(); len(h) != 1 || !h[pid2] {
		// PID 1 (oneit) is not among the descendants procs lists.
		t.Errorf("holders of the watchdog among PID 1's descendants: %v, want only pid2 %d", h, pid2)
	}

	// kill -9: oneit relaunches pid2, which finds the fd again.
	killed := time.Now()
	syscall.Kill(pid2, syscall.SIGKILL)
	s.waitFor("relaunched pid2 feeding", 15*time.Second, func() bool { return strings.Count(s.console(), feeding) == 2 })
	nextFeed("after the relaunch", killed, 10*time.Second)

	// SIGQUIT: pid2 re-execs itself and keeps the fd.
	pid2 = s.pid2Pid()
	quit := time.Now()
	syscall.Kill(pid2, syscall.SIGQUIT)
	s.waitFor("re-executed pid2 feeding", 15*time.Second, func() bool { return strings.Count(s.console(), feeding) == 3 })
	nextFeed("after the re-exec", quit, 10*time.Second)
	if q := s.pid2Pid(); q != pid2 {
		t.Errorf("SIGQUIT: pid2 %d became %d, want a re-exec in place", pid2, q)
	}
	if h := holders(); len(h) != 1 || !h[pid2] {
		t.Errorf("after the re-exec, holders %v, want only pid2 %d", h, pid2)
	}
	if c := s.console(); strings.Contains(c, "watchdog: WDTFD") || strings.Contains(c, "watchdog: writing") {
		t.Errorf("watchdog warnings on the console")
	}
}
