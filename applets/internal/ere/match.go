package ere

import (
	"strings"
	"sync/atomic"
)

// Regexp is a compiled pattern. It is safe for concurrent use.
type Regexp struct {
	pattern string
	prog    []inst
	sets    []byteSet // the byte sets opByte instructions test, deduplicated

	// What a match that starts after position 0 needs (see firstBytes):
	// the threads it starts with, the bytes they accept, the literal it
	// begins with, and whether there is any such match at all.
	start    []uint32
	first    byteSet
	prefix   string
	anywhere bool

	spare atomic.Pointer[machine] // scratch space kept for the next search
}

type opcode uint8

const (
	opByte  opcode = iota // consume one byte of sets[arg], go to pc+1
	opSplit               // go to pc+1 and to arg
	opJmp                 // go to arg
	opBOL                 // at position 0, go to pc+1
	opEOL                 // at the end, go to pc+1
	opMatch
)

type inst struct {
	op  opcode
	arg uint32
}

// Compile parses pattern as a POSIX extended regular expression.
func Compile(pattern string) (*Regexp, error) {
	p := &parser{pat: pattern}
	n, err := p.alternation()
	if err != nil {
		return nil, err
	}
	if p.more() { // a ')' cannot end the top level; unreachable
		return nil, p.fail(p.pos, "unexpected )")
	}
	c := &compiler{}
	if !c.emit(n) {
		return nil, &Error{Pattern: pattern, Offset: 0, Msg: "pattern too large once repetitions are expanded"}
	}
	c.prog = append(c.prog, inst{op: opMatch})
	re := &Regexp{pattern: pattern, prog: c.prog, sets: c.sets}
	re.firstBytes()
	return re, nil
}

// MustCompile is Compile for patterns known to be good; it panics on an
// error. For tests and package-level tables.
func MustCompile(pattern string) *Regexp {
	re, err := Compile(pattern)
	if err != nil {
		panic(err)
	}
	return re
}

// String returns the pattern.
func (re *Regexp) String() string { return re.pattern }

type compiler struct {
	prog []inst
	sets []byteSet
}

// emit appends the program for n. It returns false once the program
// grows past maxInsts.
func (c *compiler) emit(n *node) bool {
	if len(c.prog) > maxInsts {
		return false
	}
	switch n.kind {
	case nSet:
		i := c.inst(opByte)
		c.prog[i].arg = c.set(&n.set)
	case nBOL:
		c.inst(opBOL)
	case nEOL:
		c.inst(opEOL)
	case nCat:
		for _, s := range n.sub {
			if !c.emit(s) {
				return false
			}
		}
	case nAlt:
		// split L1; L1': sub0; jmp end; L1: split L2; sub1; jmp end; ...
		var jumps []int
		for i, s := range n.sub {
			split := -1
			if i < len(n.sub)-1 {
				split = c.inst(opSplit)
			}
			if !c.emit(s) {
				return false
			}
			if split >= 0 {
				jumps = append(jumps, c.inst(opJmp))
				c.prog[split].arg = uint32(len(c.prog))
			}
		}
		for _, j := range jumps {
			c.prog[j].arg = uint32(len(c.prog))
		}
	case nRep:
		sub := n.sub[0]
		for i := 0; i < n.min; i++ {
			if !c.emit(sub) {
				return false
			}
		}
		if n.max < 0 {
			// L: split end; sub; jmp L; end:
			loop := c.inst(opSplit)
			if !c.emit(sub) {
				return false
			}
			jmp := c.inst(opJmp)
			c.prog[jmp].arg = uint32(loop)
			c.prog[loop].arg = uint32(len(c.prog))
			break
		}
		// Each optional copy may skip straight to the end.
		var splits []int
		for i := n.min; i < n.max; i++ {
			splits = append(splits, c.inst(opSplit))
			if !c.emit(sub) {
				return false
			}
		}
		for _, s := range splits {
			c.prog[s].arg = uint32(len(c.prog))
		}
	}
	return len(c.prog) <= maxInsts
}

// inst appends an instruction and returns its index, to set its arg. It is
// kept out of line (go:noinline): inlined at its 8 call sites in emit, it
// cost the binary 1 KB more than the calls.
//
//go:noinline
func (c *compiler) inst(op opcode) int {
	c.prog = append(c.prog, inst{op: op})
	return len(c.prog) - 1
}

// set returns the index of s in c.sets, adding it if new.
func (c *compiler) set(s *byteSet) uint32 {
	for i := range c.sets {
		if c.sets[i] == *s {
			return uint32(i)
		}
	}
	c.sets = append(c.sets, *s)
	return uint32(len(c.sets) - 1)
}

// firstBytes computes what the search needs to start a match in the
// middle of the input: the threads (re.start), the bytes they accept
// (re.first), the literal every match begins with (re.prefix), and
// whether a match can start anywhere but at position 0 (re.anywhere).
func (re *Regexp) firstBytes() {
	m := re.newMachine()
	if m.add(&m.cur, 0, false, false) {
		// The empty string matches in the middle, so it matches at
		// position 0 and no search gets further: nothing to compute.
		re.anywhere = true
		return
	}
	for _, pc := range m.cur.dense {
		if in := re.prog[pc]; in.op == opByte {
			re.first.union(&re.sets[in.arg])
			re.start = append(re.start, pc)
		}
	}
	m.next.dense = m.next.dense[:0]
	re.anywhere = re.first != byteSet{} || m.add(&m.next, 0, false, true)
	var prefix []byte
	for pc := 0; re.prog[pc].op == opByte; pc++ {
		set := &re.sets[re.prog[pc].arg]
		c, ok := set.only()
		if !ok {
			break
		}
		prefix = append(prefix, c)
	}
	re.prefix = string(prefix)
}

// machine is the scratch space of one search.
type machine struct {
	re        *Regexp
	cur, next sparseSet
	stack     []uint32
}

// newMachine is kept out of line (go:noinline): two inlined copies, each
// with two of newSparseSet, cost the binary 400 bytes more than the calls.
//
//go:noinline
func (re *Regexp) newMachine() *machine {
	n := len(re.prog)
	return &machine{re: re, cur: newSparseSet(n), next: newSparseSet(n), stack: make([]uint32, 0, n)}
}

// sparseSet is a set of program counters with O(1) clear (Briggs and
// Torczon), in insertion order.
type sparseSet struct {
	sparse []uint32
	dense  []uint32
}

func newSparseSet(n int) sparseSet {
	return sparseSet{sparse: make([]uint32, n), dense: make([]uint32, 0, n)}
}

func (s *sparseSet) has(pc uint32) bool {
	i := s.sparse[pc]
	return int(i) < len(s.dense) && s.dense[i] == pc
}

func (s *sparseSet) insert(pc uint32) {
	s.sparse[pc] = uint32(len(s.dense))
	s.dense = append(s.dense, pc)
}

// add puts pc and everything reachable from it without consuming a byte
// into set, given whether the position is the start (bol) and the end
// (eol) of the input. It reports whether that reaches the match.
func (m *machine) add(set *sparseSet, pc uint32, bol, eol bool) bool {
	prog := m.re.prog
	stack := m.stack[:0]
	for {
		if !set.has(pc) {
			set.insert(pc)
			switch in := prog[pc]; in.op {
			case opMatch:
				m.stack = stack
				return true
			case opSplit:
				stack = append(stack, in.arg)
				pc++
				continue
			case opJmp:
				pc = in.arg
				continue
			case opBOL:
				if bol {
					pc++
					continue
				}
			case opEOL:
				if eol {
					pc++
					continue
				}
			}
		}
		if len(stack) == 0 {
			m.stack = stack
			return false
		}
		pc = stack[len(stack)-1]
		stack = stack[:len(stack)-1]
	}
}

// MatchString reports whether s holds a match of the pattern anywhere
// (regexec without REG_NOTBOL and REG_NOTEOL). Time: O(len(s) * size of
// the program), whatever the pattern.
func (re *Regexp) MatchString(s string) bool {
	// One machine is kept for reuse; concurrent searches make their own.
	m := re.spare.Swap(nil)
	if m == nil {
		m = re.newMachine()
	}
	matched := m.search(s)
	re.spare.Store(m)
	return matched
}

// search runs the threads of every possible start position in lock step.
// Invariant at the top of the loop: cur holds the threads alive at
// position i, those that start there included.
func (m *machine) search(s string) bool {
	re := m.re
	cur, next := &m.cur, &m.next
	cur.dense = cur.dense[:0]
	if m.add(cur, 0, true, len(s) == 0) {
		return true
	}
	for i := 0; i < len(s); {
		c := s[i]
		next.dense = next.dense[:0]
		for _, pc := range cur.dense {
			if in := re.prog[pc]; in.op == opByte && re.sets[in.arg].has(c) {
				if m.add(next, pc+1, false, i+1 == len(s)) {
					return true
				}
			}
		}
		i++
		if len(next.dense) == 0 {
			// Nothing in progress: the next match can only start at its
			// literal prefix, at a byte that can begin one, or at the end.
			if !re.anywhere {
				return false
			}
			if re.prefix != "" {
				j := strings.Index(s[i:], re.prefix)
				if j < 0 {
					return false
				}
				i += j
			}
			for i < len(s) && !re.first.has(s[i]) {
				i++
			}
		}
		if i < len(s) {
			// The threads that start in the middle, computed once.
			for _, pc := range re.start {
				if !next.has(pc) {
					next.insert(pc)
				}
			}
		} else if re.anywhere && m.add(next, 0, false, true) {
			return true
		}
		cur, next = next, cur
	}
	return false
}
