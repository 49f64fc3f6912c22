package supervise

import (
	"strings"
	"sync"

	"golang.org/x/sys/unix"
)

// logMux reads every service's log FIFO in one goroutine with epoll: a
// goroutine a service would cost its stack (several KiB each, 100 services
// are most of pid2's heap).
type logMux struct {
	epfd int
	m    *Manager
	mu   sync.Mutex
	srcs map[int]*logSrc // by fd
}

type logSrc struct {
	fd      int
	name    string
	ring    *Ring
	partial []byte
}

// maxPartial bounds a line being assembled; longer lines are cut.
const maxPartial = 512

func newLogMux(m *Manager) (*logMux, error) {
	epfd, err := unix.EpollCreate1(unix.EPOLL_CLOEXEC)
	if err != nil {
		return nil, err
	}
	x := &logMux{epfd: epfd, m: m, srcs: map[int]*logSrc{}}
	go x.loop()
	return x, nil
}

// add starts reading fd (nonblocking, close-on-exec) into ring and the log.
func (x *logMux) add(fd int, name string, ring *Ring) error {
	x.mu.Lock()
	x.srcs[fd] = &logSrc{fd: fd, name: name, ring: ring}
	ev := unix.EpollEvent{Events: unix.EPOLLIN | unix.EPOLLRDHUP, Fd: int32(fd)}
	err := unix.EpollCtl(x.epfd, unix.EPOLL_CTL_ADD, fd, &ev)
	if err != nil {
		delete(x.srcs, fd)
	}
	x.mu.Unlock()
	return err
}

func (x *logMux) loop() {
	events := make([]unix.EpollEvent, 16)
	buf := make([]byte, 4096)
	for {
		n, err := unix.EpollWait(x.epfd, events, -1)
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			x.m.cfg.Log.Errorf("log reader: %v", err)
			return
		}
		for _, ev := range events[:n] {
			x.mu.Lock()
			src := x.srcs[int(ev.Fd)]
			x.mu.Unlock()
			if src != nil {
				x.drain(src, buf)
			}
		}
	}
}

// drain reads what src has; at end of file it is removed and closed.
func (x *logMux) drain(src *logSrc, buf []byte) {
	for {
		n, err := unix.Read(src.fd, buf)
		if n > 0 {
			x.lines(src, buf[:n])
			continue
		}
		if err == unix.EINTR {
			continue
		}
		if err == unix.EAGAIN {
			return
		}
		// 0 (no writer left) or an error: done with this FIFO.
		if len(src.partial) > 0 {
			x.emit(src, string(src.partial))
			src.partial = nil
		}
		x.mu.Lock()
		delete(x.srcs, src.fd)
		x.mu.Unlock()
		unix.EpollCtl(x.epfd, unix.EPOLL_CTL_DEL, src.fd, nil)
		unix.Close(src.fd)
		return
	}
}

func (x *logMux) lines(src *logSrc, b []byte) {
	for len(b) > 0 {
		i := indexByte(b, '\n')
		if i < 0 {
			room := maxPartial - len(src.partial)
			if len(b) > room {
				x.emit(src, string(src.partial)+string(b[:room])+"...")
				src.partial = src.partial[:0]
				b = b[room:]
				continue
			}
			src.partial = append(src.partial, b...)
			return
		}
		line := string(src.partial) + string(b[:i])
		src.partial = src.partial[:0]
		if len(line) > maxPartial {
			line = line[:maxPartial] + "..."
		}
		x.emit(src, line)
		b = b[i+1:]
	}
}

func indexByte(b []byte, c byte) int {
	for i, x := range b {
		if x == c {
			return i
		}
	}
	return -1
}

func (x *logMux) emit(src *logSrc, line string) {
	line = strings.TrimRight(line, "\r")
	src.ring.Add(line)
	x.m.cfg.Log.Noticef("%s: %s", src.name, line)
}
