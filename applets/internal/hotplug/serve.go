package hotplug

import (
	"os"
	"os/signal"
	"syscall"

	"toybox-go/applets/internal/kmsg"
	"toybox-go/applets/internal/rules"
)

func serve(rulesFile string, log *kmsg.Logger) error {
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, syscall.SIGTERM, syscall.SIGINT)
	stop := make(chan struct{})
	returned := make(chan struct{})
	go func() {
		select {
		case <-sigs:
			close(stop)
		case <-returned:
		}
	}()
	err := ServeUntil(stop, rulesFile, log)
	close(returned)
	signal.Stop(sigs)
	return err
}

// ServeUntil is Serve until stop is closed instead of a signal.
func ServeUntil(stop <-chan struct{}, rulesFile string, log *kmsg.Logger) error {
	if log == nil {
		log = kmsg.New("hotplug")
	}
	script, err := rules.LoadFile(rulesFile)
	if err != nil {
		return err
	}
	for _, w := range script.Warnings() {
		log.Warnf("%v", w)
	}
	p, err := New(Config{Rules: script, Log: log})
	if err != nil {
		return err
	}
	log.Infof("listening for uevents with %s", rulesFile)
	err = p.Run(stop)
	p.Close()
	return err
}
