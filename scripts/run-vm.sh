#!/bin/sh
# run-vm.sh INITRAMFS [DISK] [KERNEL-APPEND...]: boot the demo initramfs in
# qemu (TCG), DISK as a virtio disk, with the serial console on this terminal. Ctrl-A X quits qemu; `reboot` or
# `poweroff` inside ends it too. Without a terminal (CI, a pipe) the demo runs
# its batch script (demo=batch on the kernel command line) and powers off.
set -eu
initrd=$1
shift
disk=""
if [ $# -gt 0 ] && [ -f "$1" ]; then
	disk="-drive file=$1,if=virtio,format=raw"
	shift
fi
kdir=$("$(dirname "$0")/fetch-kernel.sh")
if [ -t 0 ]; then
	mode=interactive
	serial="-serial mon:stdio"
else
	mode=batch
	serial="-serial stdio -monitor none"
fi
echo "run-vm: booting $initrd ($mode); Ctrl-A X quits" >&2
# shellcheck disable=SC2086
exec qemu-system-x86_64 -accel tcg -M pc -m 512 -smp 1 -display none $serial \
	-nic none -no-reboot -kernel "$kdir/vmlinux" -initrd "$initrd" $disk \
	-append "console=ttyS0 panic=-1 demo=$mode $*"
