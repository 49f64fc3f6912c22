package uevent

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"toybox-go/applets/internal/kmsg"
	"toybox-go/internal/netnstest"
)

// nextNetAdd returns the next "add" event of the net subsystem, skipping the
// others (queues, the host's device events, which reach every namespace).
func nextNetAdd(c *Conn) (*Event, error) {
	if err := c.SetReadDeadline(time.Now().Add(10 * time.Second)); err != nil {
		return nil, err
	}
	for {
		ev, err := c.Receive()
		if err != nil {
			return nil, err
		}
		if ev.Subsystem == "net" && ev.Action == "add" {
			return ev, nil
		}
	}
}

// spoof sends a uevent-looking message to the kernel group from user space.
func spoof(iface string) error {
	fd, err := unix.Socket(unix.AF_NETLINK, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, unix.NETLINK_KOBJECT_UEVENT)
	if err != nil {
		return err
	}
	defer unix.Close(fd)
	p := "/devices/virtual/net/" + iface
	m := msg("add@"+p, "ACTION=add", "DEVPATH="+p, "SUBSYSTEM=net", "INTERFACE="+iface, "SEQNUM=1")
	return unix.Sendto(fd, m, 0, &unix.SockaddrNetlink{Family: unix.AF_NETLINK, Groups: KernelGroup})
}

func TestKernelEventsInNetns(t *testing.T) {
	var logbuf bytes.Buffer
	err := netnstest.Do(t, func(ns *netnstest.NS) error {
		c, err := Listen(0, kmsg.NewWriter("test", &logbuf))
		if err != nil {
			return err
		}
		defer c.Close()
		if err := ns.AddDummy("d0"); err != nil {
			return err
		}
		if err := ns.IP("link", "add", "v0", "type", "veth", "peer", "name", "v1"); err != nil {
			return err
		}
		var got []string
		var last uint64
		for len(got) < 3 {
			ev, err := nextNetAdd(c)
			if err != nil {
				return fmt.Errorf("after %q: %w", got, err)
			}
			iface, _ := ev.Get("INTERFACE")
			if ev.DevPath != "/devices/virtual/net/"+iface || ev.Seqnum <= last {
				return fmt.Errorf("event %v: INTERFACE %q, previous seqnum %d", ev, iface, last)
			}
			last = ev.Seqnum
			got = append(got, iface)
		}
		// The kernel announces the veth peer before the device itself.
		if got[0] != "d0" || !(got[1] == "v1" && got[2] == "v0" || got[1] == "v0" && got[2] == "v1") {
			return fmt.Errorf("interfaces in order %q", got)
		}

		// A user-space sender is ignored and counted; the kernel's next event
		// still arrives.
		if err := spoof("evil0"); err != nil {
			return fmt.Errorf("spoof: %w", err)
		}
		if err := ns.AddDummy("d1"); err != nil {
			return err
		}
		ev, err := nextNetAdd(c)
		if err != nil {
			return err
		}
		if iface, _ := ev.Get("INTERFACE"); iface != "d1" {
			return fmt.Errorf("after the spoof got %v (%s), want d1", ev, iface)
		}
		if s := c.Stats(); s.Foreign != 1 || s.Accepted < 4 {
			return fmt.Errorf("stats %+v, want 1 foreign", s)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(logbuf.Bytes(), []byte("not sent by the kernel (user-space sender")) {
		t.Errorf("no log line for the spoofed message: %q", logbuf.String())
	}
}

func TestOverflowReportedAndSurvived(t *testing.T) {
	err := netnstest.Do(t, func(ns *netnstest.NS) error {
		// The smallest buffer the kernel allows holds a few events only.
		c, err := Listen(1, nil)
		if err != nil {
			return err
		}
		defer c.Close()
		for i := range 40 {
			if err := ns.AddDummy(fmt.Sprintf("o%d", i)); err != nil {
				return err
			}
		}
		overflowed := false
		for !overflowed {
			if err := c.SetReadDeadline(time.Now().Add(5 * time.Second)); err != nil {
				return err
			}
			_, err := c.Receive()
			switch {
			case errors.Is(err, ErrOverflow) && errors.Is(err, unix.ENOBUFS):
				overflowed = true
			case errors.Is(err, os.ErrDeadlineExceeded):
				return errors.New("no ENOBUFS reported after 40 events into a tiny buffer")
			case err != nil:
				return err
			}
		}
		// Drain what is buffered, then the socket still delivers new events.
		for {
			if err := c.SetReadDeadline(time.Now().Add(200 * time.Millisecond)); err != nil {
				return err
			}
			if _, err := c.Receive(); errors.Is(err, os.ErrDeadlineExceeded) {
				break
			}
		}
		if err := ns.AddDummy("after"); err != nil {
			return err
		}
		// The tiny buffer may overflow again on the new burst (the interface's
		// queues follow it); its own event comes first and must arrive.
		for {
			ev, err := nextNetAdd(c)
			if errors.Is(err, ErrOverflow) {
				continue
			}
			if err != nil {
				return fmt.Errorf("after overflow: %w", err)
			}
			if iface, _ := ev.Get("INTERFACE"); iface == "after" {
				break
			}
		}
		if c.Stats().Overflows == 0 {
			return errors.New("overflow not counted")
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}
