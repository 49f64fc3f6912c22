package hotplug

import (
	"context"
	"os/signal"
	"syscall"

	"toybox-go/applets/internal/kmsg"
	"toybox-go/applets/internal/rules"
)

func serve(rulesFile string, log *kmsg.Logger) error {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	return ServeContext(ctx, rulesFile, log)
}

// ServeContext is Serve until ctx is done instead of a signal.
func ServeContext(ctx context.Context, rulesFile string, log *kmsg.Logger) error {
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
	defer p.Close()
	log.Infof("listening for uevents with %s", rulesFile)
	return p.Run(ctx)
}
