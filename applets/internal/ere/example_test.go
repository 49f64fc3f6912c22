package ere_test

import (
	"fmt"

	"toybox-go/applets/internal/ere"
)

func Example() {
	re, err := ere.Compile("^(ttyUSB|ttyACM)[[:digit:]]+$")
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(re.MatchString("ttyACM0"), re.MatchString("ttyS0"))

	_, err = ere.Compile(`^tty\d+`)
	fmt.Println(err)
	// Output:
	// true false
	// regex "^tty\\d+" at offset 4: unsupported escape \d
}
