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

# While QEMU runs: once the pages its container pinned stop changing (it
# maps the guest's memory before the guest starts), keep a copy of the
# container's fdinfo, of its VFIO device file's, and iommufd-top's view.
# On the type1 kernel /dev/vfio/vfio is VFIO's own: no iommufd lines.
FDINFO=/tmp/$TEST.fdinfo
watch_fdinfo() {
	n=0
	last=
	while [ $n -lt $TIMEOUT ]; do
		pid=$(pidof qemu-system-x86_64)
		for fd in ${pid:+/proc/$pid/fd/*}; do
			info=/proc/$pid/fdinfo/${fd##*/}
			if grep -q '^vfio-device:' "$info" 2>/dev/null; then
				cp "$info" $FDINFO.dev
			fi
			[ "$(readlink "$fd")" = /dev/vfio/vfio ] || continue
			if ! grep -q '^iommufd-ctx:' "$info"; then
				echo "$pid type1" >$FDINFO.pid
				return
			fi
			cur=$(grep '^pinned-pages:' "$info")
			if [ "$cur" = "$last" ] && [ "${cur#*	}" != 0 ]; then
				cp "$info" $FDINFO
			fi
			last=$cur
		done
		# Settled, and the device file seen (it may come after the
		# container in the fd list, or open later).
		if [ -f $FDINFO ] && [ -f $FDINFO.dev ]; then
			/bin/iommufd-top -r >$FDINFO.top
			echo "$pid" >$FDINFO.pid
			return
		fi
		sleep 1
		n=$((n + 1))
	done
}

tap_plan 3
tap_run edu_dma_in_nested_guest
start=$(date +%s)

edu=
for d in $(pci_find 0x1234 0x11e8); do
	pci_alone "$d" && edu=$d
done
if [ ! -x $QEMU ] || [ ! -f /nested/bzImage ]; then
	tap_missing edu_dma_in_nested_guest "no $QEMU or /nested/bzImage"
	tap_missing no_dmar_fault "nothing ran"
	tap_missing container_fdinfo "nothing ran"
	exit $tap_failed
fi
if [ -z "$edu" ]; then
	tap_missing edu_dma_in_nested_guest "no edu device alone in its IOMMU group"
	tap_missing no_dmar_fault "nothing ran"
	tap_missing container_fdinfo "nothing ran"
	exit $tap_failed
fi
old=$(pci_driver "$edu")
group=$(pci_group "$edu")
echo "# edu $edu, IOMMU group $group, driver '${old:-none}'"
if ! pci_bind_vfio "$edu" || [ ! -c "/dev/vfio/$group" ]; then
	tap_fail edu_dma_in_nested_guest "cannot give $edu to vfio-pci or no /dev/vfio/$group"
	tap_fail no_dmar_fault "nothing ran"
	tap_fail container_fdinfo "nothing ran"
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
rm -f $FDINFO $FDINFO.dev $FDINFO.top $FDINFO.pid
watch_fdinfo &
watcher=$!
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
kill $watcher 2>/dev/null
wait $watcher 2>/dev/null

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

# What the container's fdinfo said while QEMU ran, against what QEMU
# mapped: its 64 MiB of guest RAM and the firmware (about 64 MiB in all),
# every page mapped pinned once, the edu bound and attached, and the
# device file naming the same context.
tap_run container_fdinfo
pid=$(cut -d' ' -f1 $FDINFO.pid 2>/dev/null)
if grep -q type1 $FDINFO.pid 2>/dev/null; then
	tap_n=$((tap_n + 1))
	echo "ok $tap_n $TEST.container_fdinfo # SKIP /dev/vfio/vfio is VFIO's type1 container"
elif [ ! -f $FDINFO ]; then
	tap_fail container_fdinfo "no settled fdinfo of QEMU's /dev/vfio/vfio seen"
else
	sed 's/^/# fdinfo: /' $FDINFO $FDINFO.dev
	sed 's/^/# iommufd-top: /' $FDINFO.top
	kib=$(awk '/^KernelPageSize:/ { print $2; exit }' /proc/self/smaps)
	pinned=$(awk -F'\t' -v kib="$kib" '$1 == "pinned-pages:" { print $2 * kib }' $FDINFO)
	mapped=$(awk -F'\t' '$1 == "ioas:" { split($2, f, " ")
		for (i in f) if (f[i] ~ /^mapped=/) { sub("mapped=", "", f[i]); m += f[i] } }
		END { print m / 1024 }' $FDINFO)
	ctx=$(awk -F'\t' '$1 == "iommufd-ctx:" { print $2 }' $FDINFO)
	why=
	[ "$pinned" = "$mapped" ] || why="$why pinned ${pinned} KiB but ${mapped} KiB mapped;"
	[ "$pinned" -ge 60000 ] && [ "$pinned" -le 70000 ] ||
		why="$why pinned ${pinned} KiB is not about 64 MiB;"
	grep -q "^device:	id=[0-9]* dev=$edu group=$group hwpt=[0-9]" $FDINFO ||
		why="$why no attached device line for $edu;"
	grep -q "^iommufd-ctx:	$ctx\$" $FDINFO.dev 2>/dev/null ||
		why="$why the device file names another context;"
	awk -v pid="$pid" -v kib="$pinned" '$1 == pid && $5 == kib { f = 1 }
		END { exit !f }' $FDINFO.top ||
		why="$why iommufd-top does not list QEMU with ${pinned} KiB;"
	if [ -z "$why" ]; then
		tap_ok container_fdinfo "${pinned} KiB pinned"
	else
		tap_fail container_fdinfo "$why"
	fi
fi

# The device goes back to where it was; vfio-pci lets go of it once
# QEMU closed it.
if ! pci_restore "$edu" "$old"; then
	echo "# could not give $edu back to '${old:-none}'"
	tap_failed=1
fi
exit $tap_failed
