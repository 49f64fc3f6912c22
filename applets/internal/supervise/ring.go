package supervise

import "sync"

// Ring keeps the last lines a service wrote. It is bounded in lines and in bytes
// a line, and safe for concurrent use (readers run in their own goroutines).
type Ring struct {
	mu    sync.Mutex
	lines []string
	next  int
	full  bool
}

// Bounds of a Ring.
const (
	RingLines   = 64
	RingLineMax = 256
)

// Add appends a line, dropping the oldest when full.
func (r *Ring) Add(line string) {
	if len(line) > RingLineMax {
		line = line[:RingLineMax]
	}
	r.mu.Lock()
	if r.lines == nil {
		r.lines = make([]string, RingLines)
	}
	r.lines[r.next] = line
	r.next = (r.next + 1) % RingLines
	if r.next == 0 {
		r.full = true
	}
	r.mu.Unlock()
}

// Lines returns the kept lines, oldest first.
func (r *Ring) Lines() []string {
	r.mu.Lock()
	var out []string // nil before the first line
	if r.full {
		out = append(out, r.lines[r.next:]...)
	}
	out = append(out, r.lines[:r.next]...)
	r.mu.Unlock()
	return out
}
