package rules

import "toybox-go/applets/printf"

// Error is a problem found in a rules file, located by file name and line.
// Parse and LoadFile return one when a file cannot be used at all;
// Script.Warnings holds the ones that only cost a rule.
type Error struct {
	_    [0]func() // not comparable: no generated equality function
	File string
	Line int // 1-based; 0 when the problem is not tied to a line
	Msg  string
	Err  error // underlying cause, if any
}

func (e *Error) Error() string {
	msg := e.Msg
	if e.Err != nil {
		msg += ": " + e.Err.Error()
	}
	if e.Line > 0 {
		return printf.Sprintf("%s:%d: %s", e.File, e.Line, msg)
	}
	return e.File + ": " + msg
}

func (e *Error) Unwrap() error { return e.Err }
