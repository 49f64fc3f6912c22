package pid2

import (
	"os"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"

	"toybox-go/applets/internal/kmsg"
	"toybox-go/applets/printf"
)

// The watchdog. init opens /dev/watchdog during preinit, keeps it open across
// its exec of oneit (fd >= 10, not close-on-exec) and names the fd in
// WDTFD; oneit keeps that copy and passes it to every pid2 it launches. A
// second open of /dev/watchdog fails (EBUSY) while that copy exists, so pid2
// feeds the fd it is given and opens the device itself only without one.
//
// pid2 makes the fd close-on-exec like every other inherited fd and drops
// WDTFD from its environment, so no service (nor a nested oneit/pid2) sees
// either. Its own re-exec (SIGQUIT) clears close-on-exec and passes WDTFD on;
// a pid2 relaunched by oneit gets oneit's copy and WDTFD again.

// WatchdogEnv is the environment variable naming the handed-over fd.
const WatchdogEnv = "WDTFD"

// watchdogEvery is the feeding period: init sets a 30 s timeout.
const watchdogEvery = 5 * time.Second

type watchdog struct {
	_      [0]func() // not comparable: no generated equality function
	fd     int
	name   string // for the log
	last   time.Time
	failed bool // a write failed (logged once)
}

// handedWatchdog checks the fd named by WDTFD (value): an open character
// device above stdio.
func handedWatchdog(value string) (int, error) {
	fd, err := strconv.Atoi(value)
	if err != nil || fd <= 2 {
		return -1, printf.Errorf("%s=%q: not a descriptor above 2", WatchdogEnv, value)
	}
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		return -1, printf.Errorf("%s=%d: %w", WatchdogEnv, fd, err)
	}
	if st.Mode&unix.S_IFMT != unix.S_IFCHR {
		return -1, printf.Errorf("%s=%d: not a character device (mode %#o)", WatchdogEnv, fd, st.Mode)
	}
	return fd, nil
}

// takeWatchdog finds the watchdog: the fd named by $WDTFD when valid, else
// dev opened; nil when there is none. It feeds it once at once.
func takeWatchdog(dev string, log *kmsg.Logger) *watchdog {
	var w *watchdog
	if v, ok := os.LookupEnv(WatchdogEnv); ok {
		os.Unsetenv(WatchdogEnv) // not for the services
		fd, err := handedWatchdog(v)
		if err != nil {
			log.Warnf("watchdog: %v: opening %s instead", err, dev)
		} else {
			unix.CloseOnExec(fd)
			w = &watchdog{fd: fd, name: printf.Sprintf("fd %d (%s)", fd, WatchdogEnv)}
		}
	}
	if w == nil {
		fd, err := unix.Open(dev, unix.O_WRONLY|unix.O_CLOEXEC, 0)
		if err != nil {
			if err != unix.ENOENT {
				log.Warnf("watchdog: %s: %v", dev, err)
			}
			return nil
		}
		w = &watchdog{fd: fd, name: dev}
	}
	what := ""
	if info, err := unix.IoctlGetWatchdogInfo(w.fd); err == nil {
		what = " (" + strings.TrimRight(string(info.Identity[:]), "\x00") + ")"
	}
	log.Infof("watchdog: feeding %s%s every %v", w.name, what, watchdogEvery)
	w.feed(time.Now(), log)
	return w
}

// feed writes to the watchdog when watchdogEvery has passed since the last
// write (at once the first time).
func (w *watchdog) feed(now time.Time, log *kmsg.Logger) {
	if !w.last.IsZero() && now.Sub(w.last) < watchdogEvery {
		return
	}
	w.last = now
	if _, err := unix.Write(w.fd, []byte{'X'}); err != nil && !w.failed {
		w.failed = true
		log.Errorf("watchdog: writing %s: %v", w.name, err)
	} else if err == nil && w.failed {
		w.failed = false
		log.Infof("watchdog: writing %s works again", w.name)
	}
}

// keepAcrossExec readies the watchdog for pid2's re-exec: it returns the
// environment entry for the next program, and undo for a failed exec.
func (w *watchdog) keepAcrossExec() (env string, undo func()) {
	unix.FcntlInt(uintptr(w.fd), unix.F_SETFD, 0)
	return WatchdogEnv + "=" + strconv.Itoa(w.fd), func() { unix.CloseOnExec(w.fd) }
}
