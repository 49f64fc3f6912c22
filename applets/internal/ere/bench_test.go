package ere

import (
	"regexp"
	"testing"
)

// benchPatterns are rule-style patterns with a matching and a failing
// value each, as hotplug events present them.
var benchPatterns = []struct{ name, pat, yes, no string }{
	{"prefix", "^tty", "ttyUSB0", "input/event0"},
	{"alternation", "^(ttyUSB|ttyACM)[0-9]+$", "ttyACM12", "ttyS0"},
	{"dots", "regexva.[0-9]", "xxregexval1", "xxregexvalx"},
	{"class", "[[:digit:]]+$", "/devices/platform/serial8250/tty/ttyS11", "/devices/virtual/net/lo"},
	{"contains", "usb[0-9]+/", "/devices/pci0000:00/0000:00:14.0/usb1/1-1", "/devices/platform/gpio-keys/input/input0"},
}

func BenchmarkMatch(b *testing.B) {
	for _, bp := range benchPatterns {
		ours := MustCompile(bp.pat)
		theirs := regexp.MustCompile("(?s)" + bp.pat)
		b.Run(bp.name+"/ere", func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if !ours.MatchString(bp.yes) || ours.MatchString(bp.no) {
					b.Fatal("wrong answer")
				}
			}
		})
		b.Run(bp.name+"/regexp", func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if !theirs.MatchString(bp.yes) || theirs.MatchString(bp.no) {
					b.Fatal("wrong answer")
				}
			}
		})
	}
}

func BenchmarkCompile(b *testing.B) {
	const pat = "^(ttyUSB|ttyACM)[0-9]+$"
	b.Run("ere", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			MustCompile(pat)
		}
	})
	b.Run("regexp", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			regexp.MustCompile(pat)
		}
	})
}
