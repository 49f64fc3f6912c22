package mountinfo

import (
	"fmt"
	"reflect"
	"strings"
	"testing"
)

func TestParse(t *testing.T) {
	data := "22 1 0:2 / / rw - rootfs rootfs rw\n" +
		"23 22 0:21 / /proc rw,nosuid shared:1 - proc proc rw\n" +
		"bad line\n" +
		"36 35 98:0 /mnt1 /mnt/a\\040b rw,noatime master:1 - ext3 /dev/my\\040disk rw\n"
	var warns []string
	got, err := Parse("mountinfo", strings.NewReader(data), func(f string, a ...any) { warns = append(warns, fmt.Sprintf(f, a...)) })
	if err != nil {
		t.Fatal(err)
	}
	want := []Entry{
		{Dev: "0:2", Target: "/", FSType: "rootfs", Source: "rootfs"},
		{Dev: "0:21", Target: "/proc", FSType: "proc", Source: "proc"},
		{Dev: "98:0", Target: "/mnt/a b", FSType: "ext3", Source: "/dev/my disk"},
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("got %+v\nwant %+v", got, want)
	}
	if len(warns) != 1 || warns[0] != "mountinfo:3: not a mountinfo line" {
		t.Fatalf("warnings %q", warns)
	}
}

func TestUnescape(t *testing.T) {
	for in, want := range map[string]string{
		`plain`: "plain", `a\040b`: "a b", `\134x`: `\x`, `a\01`: `a\01`, `\999`: `\999`, `end\`: `end\`,
	} {
		if got := Unescape(in); got != want {
			t.Errorf("Unescape(%q) = %q, want %q", in, got, want)
		}
	}
}

func FuzzParse(f *testing.F) {
	f.Add("22 1 0:2 / / rw - rootfs rootfs rw\n")
	f.Add("1 1 7:0 / /a\\040b rw - ext4 /dev/loop0 rw\nbroken\n - \n")
	f.Fuzz(func(t *testing.T, data string) {
		es, _ := Parse("f", strings.NewReader(data), nil)
		for _, e := range es {
			if e.FSType == "" || e.Target == "" || e.Dev == "" {
				t.Fatalf("empty field in %+v", e)
			}
		}
	})
}
