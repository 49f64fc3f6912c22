package rules_test

import (
	"fmt"

	"toybox-go/applets/internal/rules"
)

func ExampleScript_Run() {
	s, err := rules.Parse("hotplug.json", []byte(`[
		[ "case", "ACTION", {
			"add": [
				[ "if", [ "regex", "DEVNAME", "^tty" ],
					[ "makedev", "/dev/%DEVNAME%", "0660", "dialout" ] ],
				[ "if", [ "has", "DEVNAME" ],
					[ "makedev", "/dev/%DEVNAME%", "0600" ] ],
			],
		} ],
	]`))
	if err != nil {
		fmt.Println(err)
		return
	}
	s.Run(map[string]string{
		"ACTION": "add", "DEVPATH": "/devices/platform/serial8250/tty/ttyS0",
		"SUBSYSTEM": "tty", "MAJOR": "4", "MINOR": "64", "DEVNAME": "ttyS0",
	}, func(cmd string, args []string) {
		fmt.Println(cmd, args)
	})
	// Output:
	// makedev [/dev/ttyS0 0660 dialout]
	// makedev [/dev/ttyS0 0600]
}

func ExampleParse_error() {
	_, err := rules.Parse("hotplug.json", []byte("[\n  [ \"a\" ]\n  [ \"b\" ]\n]\n"))
	fmt.Println(err)
	// Output:
	// hotplug.json:3: not valid JSON: expected ',' or ']' in array, found "["
}
