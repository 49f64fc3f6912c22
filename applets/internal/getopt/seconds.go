package getopt

import (
	"errors"
	"strings"
	"time"
)

// ParseSeconds parses an option's count of seconds the way busybox users write
// it: decimal digits with an optional fraction ("2", "0.5", "1.25", ".5"),
// down to the nanosecond. Signs, exponents, "inf" and "NaN", which
// strconv.ParseFloat would take, are errors; so is a value past time.Duration.
//
// It is here, rather than ParseFloat in each applet, because float parsing
// would add some 10 KB to the binary for a handful of option values.
func ParseSeconds(s string) (time.Duration, error) {
	whole, frac, _ := strings.Cut(s, ".")
	if whole == "" && frac == "" {
		return 0, errNotSeconds
	}
	var d time.Duration
	for _, c := range []byte(whole) {
		if c < '0' || c > '9' {
			return 0, errNotSeconds
		}
		if d > (maxDuration-9)/10 {
			return 0, errTooManySeconds
		}
		d = d*10 + time.Duration(c-'0')
	}
	if d > maxDuration/time.Second {
		return 0, errTooManySeconds
	}
	d *= time.Second
	unit := time.Second
	for _, c := range []byte(frac) {
		if c < '0' || c > '9' {
			return 0, errNotSeconds
		}
		unit /= 10 // digits past the nanosecond add nothing
		d += time.Duration(c-'0') * unit
	}
	if d < 0 {
		return 0, errTooManySeconds
	}
	return d, nil
}

const maxDuration = time.Duration(1<<63 - 1)

var (
	errNotSeconds     = errors.New("want seconds: digits, with an optional .fraction")
	errTooManySeconds = errors.New("too many seconds")
)
