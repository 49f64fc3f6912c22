// Package oneit is toybox's minimal PID 1 (work in progress).
package oneit

// Usage is printed by --help.
const Usage = `usage: oneit [-prn3] [-H SECONDS] [-c CONSOLE] COMMAND [ARG...]`

// Main runs oneit.
func Main(args []string) int { return 1 }
