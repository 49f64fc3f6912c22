package reboot

import "testing"

func TestBadUsage(t *testing.T) {
	for _, args := range [][]string{
		{"reboot", "extra"},
		{"halt", "-d", "-1"},
		{"poweroff", "-x"},
		{"reboot", "-d", "soon"},
	} {
		if code := Main(args); code != 1 {
			t.Errorf("%v: exit %d, want 1", args, code)
		}
	}
	if code := Main([]string{"halt", "--help"}); code != 0 {
		t.Errorf("--help: exit %d", code)
	}
}
