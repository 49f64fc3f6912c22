// Package kmsg is the logger of the PID 1 and PID 2 applets: each message becomes
// one record "<prio>applet[pid]: message" on /dev/kmsg, so that dmesg and the
// console show the boot, or "applet[pid]: message" on stderr when /dev/kmsg cannot
// be opened (a container, a test, an unprivileged user).
//
// TOYBOX_GO_LOG=stderr forces stderr; tests use it so that a PID 1 in a namespace
// does not write into the host's kernel log.
package kmsg

import (
	"io"
	"os"
	"strconv"
	"strings"
	"sync"

	"toybox-go/applets/printf"
)

// Syslog priorities, as the kernel's printk levels use them.
const (
	Err    = 3
	Warn   = 4
	Notice = 5
	Info   = 6
	Debug  = 7
)

// maxRecord keeps every record below the kernel's per-write limit for /dev/kmsg
// (LOG_LINE_MAX is 1024 minus the prefix); longer messages are split.
const maxRecord = 900

// Logger writes tagged, prioritised records. It is safe for concurrent use.
type Logger struct {
	mu       sync.Mutex
	w        io.Writer
	kmsg     bool // records carry the "<prio>" prefix
	fellBack bool // on stderr only because /dev/kmsg could not be opened
	tag      string
	_        [0]func() // not comparable: no generated equality function
}

// devKmsg is the kernel log device (a variable for tests).
var devKmsg = "/dev/kmsg"

// New returns a logger for applet tag writing to /dev/kmsg, or to stderr when
// /dev/kmsg cannot be opened for writing or TOYBOX_GO_LOG=stderr.
func New(tag string) *Logger {
	l := &Logger{w: os.Stderr, tag: tag}
	if os.Getenv("TOYBOX_GO_LOG") != "stderr" {
		if f, err := os.OpenFile(devKmsg, os.O_WRONLY|os.O_APPEND, 0); err == nil {
			l.w, l.kmsg = f, true
		} else {
			l.fellBack = true
		}
	}
	return l
}

// Retry moves a logger that fell back to stderr because /dev/kmsg could not
// be opened to /dev/kmsg, if it can be opened now: init's logger is made
// before init mounts /dev, and an initramfs often has no /dev/kmsg node. It
// reports whether the logger now writes to the kernel log.
func (l *Logger) Retry() bool {
	l.mu.Lock()
	if !l.kmsg && l.fellBack {
		if f, err := os.OpenFile(devKmsg, os.O_WRONLY|os.O_APPEND, 0); err == nil {
			l.w, l.kmsg, l.fellBack = f, true, false
		}
	}
	k := l.kmsg
	l.mu.Unlock()
	return k
}

// NewWriter returns a logger writing plain records (no priority prefix) to w.
func NewWriter(tag string, w io.Writer) *Logger {
	return &Logger{w: w, tag: tag}
}

// ToKmsg reports whether records go to the kernel log.
func (l *Logger) ToKmsg() bool {
	l.mu.Lock()
	k := l.kmsg
	l.mu.Unlock()
	return k
}

// Log writes one message at priority prio; a message with several lines or longer
// than a kernel record becomes several records.
func (l *Logger) Log(prio int, format string, args ...any) {
	msg := strings.TrimRight(printf.Sprintf(format, args...), "\n")
	prefix := l.tag + "[" + strconv.Itoa(os.Getpid()) + "]: "
	l.mu.Lock()
	if l.kmsg {
		prefix = "<" + strconv.Itoa(prio) + ">" + prefix
	}
	for _, line := range strings.Split(msg, "\n") {
		for {
			chunk := line
			if len(chunk) > maxRecord {
				chunk = chunk[:maxRecord]
			}
			// One write per record: /dev/kmsg takes each write as one message.
			_, _ = io.WriteString(l.w, prefix+chunk+"\n")
			line = line[len(chunk):]
			if line == "" {
				break
			}
		}
	}
	l.mu.Unlock()
}

// The level methods below are kept out of line (go:noinline): each is one call
// to Log, made from some 200 places, and an inlined copy at every call site
// costs the binary more than the call does (12 KB in all).

// Errorf logs at priority Err.
//
//go:noinline
func (l *Logger) Errorf(format string, args ...any) { l.Log(Err, format, args...) }

// Warnf logs at priority Warn.
//
//go:noinline
func (l *Logger) Warnf(format string, args ...any) { l.Log(Warn, format, args...) }

// Noticef logs at priority Notice.
//
//go:noinline
func (l *Logger) Noticef(format string, args ...any) { l.Log(Notice, format, args...) }

// Infof logs at priority Info.
//
//go:noinline
func (l *Logger) Infof(format string, args ...any) { l.Log(Info, format, args...) }

// Debugf logs at priority Debug.
//
//go:noinline
func (l *Logger) Debugf(format string, args ...any) { l.Log(Debug, format, args...) }

// Unlimit turns off the kernel's rate limit on user-space writes to /dev/kmsg
// (printk_devkmsg=ratelimit drops all but a burst of lines), so a boot's log is
// complete. It is for init, which owns the kernel log; failures are harmless.
func Unlimit() error {
	return os.WriteFile("/proc/sys/kernel/printk_devkmsg", []byte("on\n"), 0)
}
