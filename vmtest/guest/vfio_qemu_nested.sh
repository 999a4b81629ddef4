#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# Debian's QEMU 7.2, unmodified, as a VMM over the legacy VFIO API: it
# opens /dev/vfio/vfio and the group of one of the VM's edu devices,
# sets the group's container and a type1v2 IOMMU, maps the memory of a
# nested guest (TCG) into the container and passes the edu through with
# -device vfio-pci. In the nested guest, edu_nested (vmtest/guest/
# edu_nested.c) drives the edu through its BAR and has it copy a buffer
# of the nested guest's memory there and back by DMA, at guest-physical
# addresses that only the container's mappings make reach that memory.
#
# The edu is the last one in BDF order that is alone in its IOMMU group:
# iommufd_vfio, which may run at the same time, takes the first.
#
# The nested guest boots its own small kernel (vmtest/configs/
# nested.config), not the debug kernel of the VM: under TCG inside TCG
# that one takes minutes to boot.
TEST=vfio_qemu_nested
. /usr/lib/iommufd/vfio_client.sh

QEMU=/usr/bin/qemu-system-x86_64
LOG=/tmp/$TEST.log
# The nested guest boots in about a minute.
TIMEOUT=240

tap_plan 2
tap_run edu_dma_in_nested_guest
start=$(date +%s)

edu=
for d in $(pci_find 0x1234 0x11e8); do
	pci_alone "$d" && edu=$d
done
if [ ! -x $QEMU ] || [ ! -f /nested/bzImage ]; then
	tap_missing edu_dma_in_nested_guest "no $QEMU or /nested/bzImage"
	tap_missing no_dmar_fault "nothing ran"
	exit $tap_failed
fi
if [ -z "$edu" ]; then
	tap_missing edu_dma_in_nested_guest "no edu device alone in its IOMMU group"
	tap_missing no_dmar_fault "nothing ran"
	exit $tap_failed
fi
old=$(pci_driver "$edu")
group=$(pci_group "$edu")
echo "# edu $edu, IOMMU group $group, driver '${old:-none}'"
if ! pci_bind_vfio "$edu" || [ ! -c "/dev/vfio/$group" ]; then
	tap_fail edu_dma_in_nested_guest "cannot give $edu to vfio-pci or no /dev/vfio/$group"
	tap_fail no_dmar_fault "nothing ran"
	pci_restore "$edu" "$old"
	exit 1
fi

# A plain PC without defaults, with qboot, a firmware that does no more
# than boot Linux (SeaBIOS takes seconds longer here): qboot.rom,
# linuxboot_dma.bin and kvmvapic.bin are all the initramfs carries of
# QEMU's data. 64 MiB of
# RAM keep every guest-physical address below edu's 28-bit bus limit.
# -no-reboot: the nested init ends QEMU by rebooting.
# Its console comes out line by line as it goes (sed would buffer it),
# for the timestamps of the VM's log.
echo "# starting the nested guest"
{
	timeout $TIMEOUT $QEMU -machine pc -accel tcg,tb-size=32 -m 64 \
		-nodefaults -vga none -nic none -display none -monitor none \
		-serial stdio -no-reboot -bios /usr/share/qemu/qboot.rom \
		-kernel /nested/bzImage -initrd /nested/initramfs.cpio \
		-append "console=ttyS0 panic=-1 printk.time=1" \
		-device vfio-pci,host="$edu" </dev/null 2>&1
	echo $? >$LOG.rc
} | tee $LOG | while IFS= read -r line; do echo "nested: $line"; done
rc=$(cat $LOG.rc)
echo "# QEMU exited with $rc after $(secs_since "$start") s"

if [ $rc = 0 ] && grep -q '^EDU-NESTED: PASS' $LOG; then
	tap_ok edu_dma_in_nested_guest
else
	tap_fail edu_dma_in_nested_guest "no EDU-NESTED: PASS from the nested guest (QEMU rc $rc)"
fi

tap_run no_dmar_fault
n=$(dmar_faults "$edu")
if [ "$n" = 0 ]; then
	tap_ok no_dmar_fault
else
	tap_fail no_dmar_fault "the IOMMU logged $n faults for $edu"
fi

# The device goes back to where it was; vfio-pci lets go of it once
# QEMU closed it.
if ! pci_restore "$edu" "$old"; then
	echo "# could not give $edu back to '${old:-none}'"
	tap_failed=1
fi
exit $tap_failed
