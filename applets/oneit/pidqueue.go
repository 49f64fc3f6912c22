package oneit

import (
	"encoding/binary"
	"io"
	"sync"
)

// pidQueue carries reaped orphans' PIDs from PID 1's reaper to the child's fd 3
// without ever blocking the reaper: push appends to memory, and a writer
// goroutine does the (possibly blocking) writes. When more than max PIDs are
// waiting, further ones are dropped and, once the backlog is written, a single
// 0 record tells the reader to rescan everything.
type pidQueue struct {
	mu       sync.Mutex
	cond     *sync.Cond
	pending  []uint32
	max      int
	overflow bool // PIDs were dropped; a 0 record is owed after the backlog
	written  uint64
	dropped  uint64
}

func newPIDQueue(max int) *pidQueue {
	q := &pidQueue{max: max}
	q.cond = sync.NewCond(&q.mu)
	return q
}

// push queues pid; it never blocks on the reader.
func (q *pidQueue) push(pid int) {
	q.mu.Lock()
	if len(q.pending) >= q.max {
		q.overflow = true
		q.dropped++
	} else {
		q.pending = append(q.pending, uint32(pid))
	}
	q.mu.Unlock()
	q.cond.Signal()
}

// drain writes queued records to w in order, forever; it returns only the
// error of a failed write (a broken pipe cannot happen while PID 1 holds the
// read end).
func (q *pidQueue) drain(w io.Writer) error {
	var buf []byte
	for {
		q.mu.Lock()
		for len(q.pending) == 0 && !q.overflow {
			q.cond.Wait()
		}
		batch := q.pending
		q.pending = nil
		rescan := false
		if len(batch) == 0 && q.overflow {
			rescan = true
			q.overflow = false
		}
		q.mu.Unlock()

		buf = buf[:0]
		for _, pid := range batch {
			buf = binary.NativeEndian.AppendUint32(buf, pid)
		}
		if rescan {
			buf = binary.NativeEndian.AppendUint32(buf, 0)
		}
		if _, err := w.Write(buf); err != nil {
			return err
		}
		q.mu.Lock()
		q.written += uint64(len(buf) / 4)
		q.mu.Unlock()
	}
}
