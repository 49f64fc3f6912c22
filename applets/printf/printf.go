// Package printf formats text the way package fmt does, for the verbs, flags
// and operand types this binary uses, without reflection.
//
// fmt walks any value with reflect, sorts maps and prints floats; linked in, it
// and what it pulls (reflect, internal/fmtsort) cost about 150 KB of a binary
// whose size target is 2.6 MiB. Here an operand is an error or a Stringer
// (under %v %s %q %x %X), a string, a bool, an integer of a predeclared type,
// a []byte or a []string. Anything else, such as a named integer type without
// a String method, prints as a bad verb, %!v(?), so a mistake shows in the
// output and never panics; TestCallsFormatOnlySupportedTypes type-checks every
// call in the binary so that none is left (convert: uint32(mode)).
//
// Verbs: %v %s %q %d %x %X %o %b %c %t %w %%; flags - + # 0 and space;
// width and precision, as numbers or *.
package printf

import (
	"errors"
	"io"
	"os"
)

// Sprintf and Fprintf are kept out of line (go:noinline): they are called from
// many places, and an inlined copy at each costs the binary more than the call
// does.

// Sprintf formats according to format and returns the result.
//
//go:noinline
func Sprintf(format string, a ...any) string {
	var p printer
	p.printf(format, a)
	return string(p.buf)
}

// Sprint formats its operands as %v and concatenates them, adding a space
// between operands when neither is a string, as fmt.Sprint does.
func Sprint(a ...any) string {
	var p printer
	for i, arg := range a {
		if i > 0 && !isString(arg) && !isString(a[i-1]) {
			p.buf = append(p.buf, ' ')
		}
		p.value(arg, 'v', &spec{})
	}
	return string(p.buf)
}

// Sprintln formats its operands as %v separated by spaces, with a newline.
func Sprintln(a ...any) string {
	var p printer
	p.println(a)
	return string(p.buf)
}

// Fprintf formats according to format and writes to w.
//
//go:noinline
func Fprintf(w io.Writer, format string, a ...any) (int, error) {
	var p printer
	p.printf(format, a)
	return w.Write(p.buf)
}

// Fprintln formats its operands as %v separated by spaces, with a newline, and
// writes to w.
func Fprintln(w io.Writer, a ...any) (int, error) {
	var p printer
	p.println(a)
	return w.Write(p.buf)
}

// Printf is Fprintf to standard output.
func Printf(format string, a ...any) (int, error) { return Fprintf(os.Stdout, format, a...) }

// Println is Fprintln to standard output.
func Println(a ...any) (int, error) { return Fprintln(os.Stdout, a...) }

// Errorf formats according to format and returns an error with that text.
// Each %w operand (an error) is wrapped: errors.Is and errors.As see it, as
// with fmt.Errorf. One %w gives Unwrap() error, several give Unwrap() []error.
func Errorf(format string, a ...any) error {
	var p printer
	p.wrapping = true
	p.printf(format, a)
	msg := string(p.buf)
	switch len(p.wrapped) {
	case 0:
		return errors.New(msg)
	case 1:
		return &wrapError{msg: msg, err: p.wrapped[0]}
	}
	return &wrapErrors{msg, p.wrapped}
}

type wrapError struct {
	msg string
	err error
	_   [0]func() // not comparable: no generated equality function
}

func (e *wrapError) Error() string { return e.msg }
func (e *wrapError) Unwrap() error { return e.err }

type wrapErrors struct {
	msg  string
	errs []error
}

func (e *wrapErrors) Error() string   { return e.msg }
func (e *wrapErrors) Unwrap() []error { return e.errs }

func isString(a any) bool {
	_, ok := a.(string)
	return ok
}
