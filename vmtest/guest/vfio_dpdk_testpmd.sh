#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# Debian's DPDK 22.11, unmodified, over the legacy VFIO API: dpdk-testpmd
# drives the VM's two virtio-net NICs, given to vfio-pci, through one
# VFIO container with a type1 (v1) IOMMU, from memory in huge pages that
# EAL maps into the container. The NICs are joined by a hub on the host
# side, so what one sends the other receives: testpmd sends a first
# burst on each port (--tx-first) and then forwards what each port
# receives out of the other (io mode), for FWD_SECS seconds. Every
# packet is two DMAs by a device through the VM's IOMMU.
#
# Checked: both ports received and sent packets (testpmd's final
# statistics), and the IOMMU logged no fault for either NIC.
TEST=vfio_dpdk_testpmd
. /usr/lib/iommufd/vfio_client.sh

TESTPMD=/usr/bin/dpdk-testpmd
DPDK_LIB=/usr/lib/x86_64-linux-gnu
LOG=/tmp/$TEST.log
FWD_SECS=8
TIMEOUT=180

tap_plan 3
tap_run forward_between_two_nics
start=$(date +%s)

# Modern virtio-net (disable-legacy=on): 1af4:1041.
nics=
for d in $(pci_find 0x1af4 0x1041); do
	pci_alone "$d" && nics="$nics $d"
done
set -- $nics
if [ ! -x $TESTPMD ] || [ ! -f $DPDK_LIB/librte_net_virtio.so.23 ]; then
	why="no $TESTPMD or its virtio driver"
elif [ $# != 2 ]; then
	why="$# modern virtio-net devices alone in an IOMMU group, not 2"
fi
if [ -n "${why:-}" ]; then
	tap_missing forward_between_two_nics "$why"
	tap_missing both_ports_sent_and_received "nothing ran"
	tap_missing no_dmar_fault "nothing ran"
	exit $tap_failed
fi
nic0=$1
nic1=$2
old0=$(pci_driver "$nic0")
old1=$(pci_driver "$nic1")
echo "# NICs $nic0 (group $(pci_group "$nic0"), driver '${old0:-none}')" \
	"and $nic1 (group $(pci_group "$nic1"), driver '${old1:-none}')"
if ! pci_bind_vfio "$nic0" || ! pci_bind_vfio "$nic1"; then
	tap_fail forward_between_two_nics "cannot give the NICs to vfio-pci"
	tap_fail both_ports_sent_and_received "nothing ran"
	tap_fail no_dmar_fault "nothing ran"
	pci_restore "$nic0" "$old0"
	pci_restore "$nic1" "$old1"
	exit 1
fi

# EAL: the two NICs only (-a), the drivers it needs (-d) and nothing from
# a plugin directory, 32 MiB of huge pages in memfds (--in-memory: no
# files, no shared config), no telemetry socket, one forwarding lcore.
# testpmd runs until it reads a line on stdin, then prints its
# statistics and exits.
mkdir -p /var/run
echo "# testpmd forwards for $FWD_SECS s once it has started"
# The window starts when testpmd says it forwards: under load its start
# alone can take longer than the window.
stop_after_window() {
	n=0
	while ! grep -q 'Press enter to exit' $LOG 2>/dev/null &&
		[ $n -lt $TIMEOUT ]; do
		# testpmd died before it started: nothing to wait for.
		[ $n -gt 5 ] && ! pidof "${TESTPMD##*/}" >/dev/null && break
		sleep 1
		n=$((n + 1))
	done
	sleep $FWD_SECS
	echo
}
# The VM's one 1 GiB huge page: DPDK takes the largest huge pages there
# are, and iommufd_vfio's large_iopte needs that one page: whoever makes
# the directory has it (iommufd_vfio.c, HUGE_1G_CLAIM).
n=0
while ! mkdir /tmp/iommufd-hugetlb-1g 2>/dev/null && [ $n -lt 400 ]; do
	sleep 1
	n=$((n + 1))
done
rm -f $LOG
{
	stop_after_window | timeout $TIMEOUT $TESTPMD -l 0-1 -n 1 \
		--in-memory -m 32 --no-telemetry \
		-d $DPDK_LIB/librte_mempool_ring.so.23 \
		-d $DPDK_LIB/librte_net_virtio.so.23 \
		-a "$nic0" -a "$nic1" -- \
		--forward-mode=io --tx-first --no-mlockall --nb-cores=1 \
		--total-num-mbufs=2048 --rxd=256 --txd=256 2>&1
	echo $? >$LOG.rc
} | tee $LOG | while IFS= read -r line; do echo "testpmd: $line"; done
rmdir /tmp/iommufd-hugetlb-1g 2>/dev/null
rc=$(cat $LOG.rc)
echo "# testpmd exited with $rc after $(secs_since "$start") s"

if [ $rc = 0 ] && grep -q 'Forward statistics for port 1' $LOG; then
	tap_ok forward_between_two_nics
else
	tap_fail forward_between_two_nics "testpmd failed (rc $rc) or printed no statistics"
fi

# The packets each port received and sent, from the final statistics:
# "port RX TX" lines.
tap_run both_ports_sent_and_received
awk '/Forward statistics for port/ { port = $(NF - 1) }
     /RX-packets:/ && port != "" { rx = $2 }
     /TX-packets:/ && port != "" { print port, rx, $2; port = "" }' \
	$LOG >/tmp/$TEST.stats
cat /tmp/$TEST.stats | sed 's/^/# port, RX, TX: /'
if [ "$(awk '$2 > 0 && $3 > 0' /tmp/$TEST.stats | wc -l)" = 2 ]; then
	tap_ok both_ports_sent_and_received
else
	tap_fail both_ports_sent_and_received "a port sent or received no packet"
fi

tap_run no_dmar_fault
n0=$(dmar_faults "$nic0")
n1=$(dmar_faults "$nic1")
if [ "$n0" = 0 ] && [ "$n1" = 0 ]; then
	tap_ok no_dmar_fault
else
	tap_fail no_dmar_fault "the IOMMU logged $n0 faults for $nic0, $n1 for $nic1"
fi

if ! pci_restore "$nic0" "$old0" || ! pci_restore "$nic1" "$old1"; then
	echo "# could not give the NICs back to their drivers"
	tap_failed=1
fi
exit $tap_failed
