package uevent

import (
	"errors"
	"os"
	"sync/atomic"
	"time"

	"golang.org/x/sys/unix"

	"toybox-go/applets/internal/kmsg"
	"toybox-go/applets/printf"
)

// KernelGroup is the netlink multicast group of the kernel's uevents (udevd
// re-broadcasts processed events on group 2, which we do not join).
const KernelGroup = 1

// DefaultRcvBuf is the receive buffer asked for: coldplug makes the kernel emit
// hundreds of events in a burst, faster than rules run. procd asks for 512 KiB.
const DefaultRcvBuf = 2 << 20

// ErrOverflow is returned (wrapping unix.ENOBUFS) when the kernel dropped
// events because the receive buffer was full. The socket stays usable; the
// caller should replay the missed events by triggering coldplug again.
var ErrOverflow = printf.Errorf("uevent receive buffer overflowed, events lost: %w", unix.ENOBUFS)

// Stats counts what a Conn received and did not return.
type Stats struct {
	Accepted  uint64 // events returned by Receive
	Foreign   uint64 // messages not sent by the kernel (sender port or uid not 0)
	Malformed uint64 // kernel messages Parse refused, or truncated ones
	Overflows uint64 // ENOBUFS reports
}

// Conn is a NETLINK_KOBJECT_UEVENT socket bound to the kernel's group. Receive
// may be called from one goroutine at a time; Close and SetReadDeadline from
// any.
type Conn struct {
	f   *os.File
	log *kmsg.Logger

	buf, oob []byte

	accepted, foreign, malformed, overflows atomic.Uint64
}

// Listen opens the socket with a receive buffer of rcvbuf bytes (0 means
// DefaultRcvBuf). SO_RCVBUFFORCE needs CAP_NET_ADMIN; without it the buffer is
// capped by net.core.rmem_max, which is logged, not fatal. log may be nil.
func Listen(rcvbuf int, log *kmsg.Logger) (*Conn, error) {
	if rcvbuf <= 0 {
		rcvbuf = DefaultRcvBuf
	}
	fd, err := unix.Socket(unix.AF_NETLINK, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC|unix.SOCK_NONBLOCK, unix.NETLINK_KOBJECT_UEVENT)
	if err != nil {
		return nil, printf.Errorf("uevent socket: %w", err)
	}
	if err := unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_RCVBUFFORCE, rcvbuf); err != nil {
		if err2 := unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_RCVBUF, rcvbuf); err2 != nil && log != nil {
			log.Warnf("uevent socket: receive buffer of %d bytes: %v", rcvbuf, err)
		}
	}
	// The kernel attaches credentials (uid 0, pid 0) to its own messages only
	// when asked; a user-space sender's carry its real uid.
	if err := unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_PASSCRED, 1); err != nil {
		unix.Close(fd)
		return nil, printf.Errorf("uevent socket: SO_PASSCRED: %w", err)
	}
	if err := unix.Bind(fd, &unix.SockaddrNetlink{Family: unix.AF_NETLINK, Groups: KernelGroup}); err != nil {
		unix.Close(fd)
		return nil, printf.Errorf("uevent socket: bind to group %d: %w", KernelGroup, err)
	}
	return &Conn{
		// A non-blocking fd makes os.File use the runtime poller, so deadlines and
		// Close wake a blocked Receive.
		f:   os.NewFile(uintptr(fd), "uevent"),
		log: log,
		buf: make([]byte, MaxSize+1),
		oob: make([]byte, unix.CmsgSpace(unix.SizeofUcred)),
	}, nil
}

// Close closes the socket; a blocked Receive returns an error.
func (c *Conn) Close() error { return c.f.Close() }

// SetReadDeadline makes Receive return os.ErrDeadlineExceeded after t.
func (c *Conn) SetReadDeadline(t time.Time) error { return c.f.SetReadDeadline(t) }

// Stats returns the counters.
func (c *Conn) Stats() Stats {
	return Stats{
		Accepted:  c.accepted.Load(),
		Foreign:   c.foreign.Load(),
		Malformed: c.malformed.Load(),
		Overflows: c.overflows.Load(),
	}
}

// Receive returns the next event the kernel sent. Messages from anyone else and
// malformed ones are dropped (counted, and logged at 1, 2, 4, 8... drops so
// that a flood cannot flood the log). It returns ErrOverflow when events were
// lost; the Conn stays usable.
func (c *Conn) Receive() (*Event, error) {
	rc, err := c.f.SyscallConn()
	if err != nil {
		return nil, err
	}
	for {
		var (
			n, oobn, flags int
			from           unix.Sockaddr
			rerr           error
		)
		err := rc.Read(func(fd uintptr) bool {
			n, oobn, flags, from, rerr = unix.Recvmsg(int(fd), c.buf, c.oob, 0)
			return rerr != unix.EAGAIN
		})
		if err != nil {
			return nil, err // closed or deadline
		}
		if rerr != nil {
			if errors.Is(rerr, unix.ENOBUFS) {
				c.overflows.Add(1)
				return nil, ErrOverflow
			}
			if rerr == unix.EINTR {
				continue
			}
			return nil, printf.Errorf("uevent receive: %w", rerr)
		}
		port, uid, why := sender(from, c.oob[:oobn])
		if why != "" {
			k := c.foreign.Add(1)
			c.logDrop(k, "uevent: dropped a message not sent by the kernel (%s, port %d, uid %d): %d so far", why, port, uid, k)
			continue
		}
		if flags&unix.MSG_TRUNC != 0 || n > MaxSize {
			k := c.malformed.Add(1)
			c.logDrop(k, "uevent: dropped a truncated kernel message: %d so far", k)
			continue
		}
		ev, perr := Parse(c.buf[:n])
		if perr != nil {
			k := c.malformed.Add(1)
			c.logDrop(k, "uevent: dropped a malformed kernel message (%v): %d so far", perr, k)
			continue
		}
		c.accepted.Add(1)
		return ev, nil
	}
}

// sender checks that a message came from the kernel: netlink port id 0 (a
// user-space socket always has a non-zero one) and SCM_CREDENTIALS uid 0. It
// returns the reason when not.
func sender(from unix.Sockaddr, oob []byte) (port uint32, uid uint32, why string) {
	nl, ok := from.(*unix.SockaddrNetlink)
	if !ok {
		return 0, 0, "not a netlink address"
	}
	port = nl.Pid
	msgs, err := unix.ParseSocketControlMessage(oob)
	if err != nil {
		return port, 0, "unreadable credentials"
	}
	var cred *unix.Ucred
	for i := range msgs {
		if c, err := unix.ParseUnixCredentials(&msgs[i]); err == nil {
			cred = c
		}
	}
	if cred == nil {
		return port, 0, "no credentials"
	}
	uid = cred.Uid
	switch {
	case port != 0:
		return port, uid, "user-space sender"
	case uid != 0:
		return port, uid, "sender uid not 0"
	}
	return port, uid, ""
}

// logDrop logs a drop when count is a power of two.
func (c *Conn) logDrop(count uint64, format string, args ...any) {
	if c.log != nil && count&(count-1) == 0 {
		c.log.Warnf(format, args...)
	}
}
