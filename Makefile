# toybox-go: `make run` boots the demo system in qemu, `make test` runs every
# test tier. Both install what they need first (scripts/deps.sh, as root).

GO        ?= go
BUILD     := build
BIN       := $(BUILD)/toybox-go
# make oneit: a container's init, oneit with reboot/halt/poweroff only
# (go build -tags oneit_only), 1.6 MiB instead of 2.45.
ONEIT_BIN := $(BUILD)/oneit
VERSION   ?= $(shell git describe --always --dirty 2>/dev/null || echo dev)
LDFLAGS   := -s -w -X main.version=$(VERSION)
# Size (issue #2): nothing is inlined (-l), and on x86, which needs no
# instruction alignment, functions are packed without padding (-funcalign=1;
# the linker still honours an assembly function's own alignment). Together
# about 120 KB; the reap and respawn benchmarks show no cost (PID 1's and
# pid2's work is system calls), the rules engine runs about 20% slower.
# `go build .` works too and gives a larger binary (2.56 MiB, not 2.45).
GCFLAGS   := all=-l
GOARCH    ?= $(shell $(GO) env GOARCH)
x86_ldflags = $(if $(filter amd64 386,$(1)), -funcalign=1)
GOBUILD   := CGO_ENABLED=0 $(GO) build -trimpath -gcflags '$(GCFLAGS)' -ldflags '$(LDFLAGS)$(call x86_ldflags,$(GOARCH))'
DESTDIR   ?=
STATICCHECK ?= $(shell $(GO) env GOPATH)/bin/staticcheck
KERNEL     = $(shell scripts/fetch-kernel.sh)
CROSS_ARCHES := arm arm64 mips mipsle riscv64
# Packages whose unit tests also run on mipsle under qemu-mipsel-static.
CROSS_TEST_PKGS := ./applets/oneit/ ./applets/printf/ ./applets/internal/...

.PHONY: all build oneit deps test test-unit test-cross demo run bench lint install uninstall initramfs cross clean

all: build

build:
	@mkdir -p $(BUILD)
	$(GOBUILD) -o $(BIN) .
	@echo "built $(BIN) ($$(stat -c %s $(BIN)) bytes)"

oneit:
	@mkdir -p $(BUILD)
	$(GOBUILD) -tags oneit_only -o $(ONEIT_BIN) .
	@echo "built $(ONEIT_BIN) ($$(stat -c %s $(ONEIT_BIN)) bytes)"

deps:
	scripts/deps.sh

# All three tiers (unit, namespaces as root, VM): missing prerequisites fail.
# Then every OpenWrt architecture must build, and the mipsle unit tests pass.
test: deps build lint
	TOYBOX_GO_STRICT=1 TOYBOX_GO_BIN=$(CURDIR)/$(BIN) $(GO) test -count=1 -timeout 45m ./...
	$(MAKE) cross

# Unit tests only, no root or qemu needed (the other tiers skip).
test-unit:
	$(GO) test ./...

test-cross:
	GOARCH=mipsle GOMIPS=softfloat CGO_ENABLED=0 $(GO) test -short -count=1 -exec qemu-mipsel-static $(CROSS_TEST_PKGS)

lint:
	@out=$$(gofmt -l . | grep -v '^build/'); if [ -n "$$out" ]; then echo "gofmt:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...
	@if [ -x $(STATICCHECK) ]; then $(STATICCHECK) ./...; else echo "staticcheck missing: make deps"; exit 1; fi

initramfs: build
	$(GO) run ./tools/mkinitramfs -o $(BUILD)/initramfs.cpio -bin $(BIN)
	@echo "wrote $(BUILD)/initramfs.cpio"

# The demo system: toybox-go as init (the initramfs's /init), busybox for the
# shell, demo/rootfs's configs, a few real modules, and a data disk labelled
# rootfs_data (build/demo-data.img) that mount_root makes the writable overlay,
# so what you change survives `make run` after `make run`.
# demo/modules lists the kernel modules to copy (dependencies included), one a
# line; tests/vm/system_test.go reads it too.
DEMO_MODULES := $(shell paste -sd, demo/modules)
demo: deps build
	$(GO) run ./tools/mkinitramfs -o $(BUILD)/demo.cpio -bin $(BIN) \
		-busybox /bin/busybox -tree demo/rootfs -symlink init=/bin/toybox-go \
		-kernel $(KERNEL) -modules $(DEMO_MODULES)
	@[ -f $(BUILD)/demo-data.img ] || { truncate -s 64M $(BUILD)/demo-data.img && \
		mkfs.ext4 -q -L rootfs_data $(BUILD)/demo-data.img; }

run: demo
	scripts/run-vm.sh $(BUILD)/demo.cpio $(BUILD)/demo-data.img

bench: deps build oneit
	TOYBOX_GO_BIN=$(CURDIR)/$(BIN) TOYBOX_GO_ONEIT_BIN=$(CURDIR)/$(ONEIT_BIN) $(GO) test -run '^$$' -bench . -benchmem -count=1 ./... | tee $(BUILD)/bench.txt
	@echo "binary: $$(stat -c %s $(BIN)) bytes stripped static (amd64)" | tee -a $(BUILD)/bench.txt

install: build
	DESTDIR=$(DESTDIR) ./install.sh $(BIN)

uninstall:
	DESTDIR=$(DESTDIR) ./install.sh --uninstall

cross:
	@mkdir -p $(BUILD)
	@for a in $(CROSS_ARCHES); do \
		echo "GOARCH=$$a"; \
		CGO_ENABLED=0 GOARCH=$$a GOARM=7 GOMIPS=softfloat $(GO) build -trimpath -gcflags '$(GCFLAGS)' -ldflags '$(LDFLAGS)' -o $(BUILD)/toybox-go.$$a . || exit 1; \
		echo "  $(BUILD)/toybox-go.$$a $$(stat -c %s $(BUILD)/toybox-go.$$a) bytes"; \
	done
	$(MAKE) test-cross

clean:
	rm -rf $(BUILD)
