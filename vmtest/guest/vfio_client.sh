# SPDX-License-Identifier: GPL-2.0
# Shell helpers of the guest tests that run unmodified Debian clients of
# the legacy VFIO API (/dev/vfio/vfio, the group files) on devices of the
# test VM: finding the devices, handing them to vfio-pci and back, and
# reporting one kselftest-style (TAP) result per check, which is what
# console_check.py reads. Sourced by the tests, with TEST set to the
# test's name; busybox sh.

tap_n=0
tap_failed=0

tap_plan() { # number of results
	echo "TAP version 13"
	echo "1..$1"
}

# The kselftest harness's '#  RUN' line: a kernel splat from here on is
# charged to this check.
tap_run() { # check
	echo "#  RUN           $TEST.$1 ..."
}

tap_ok() { # check [detail]
	tap_n=$((tap_n + 1))
	echo "ok $tap_n $TEST.$1${2:+ # $2}"
}

tap_fail() { # check why
	tap_n=$((tap_n + 1))
	tap_failed=1
	echo "# $2"
	echo "not ok $tap_n $TEST.$1"
}

# What the test needs is not there. In the harness VM, which is meant to
# provide it, that is a failure; elsewhere the check is skipped.
tap_missing() { # check why
	if [ "${IOMMUFD_TEST_VM:-}" = 1 ]; then
		tap_fail "$1" "in the test VM: $2"
	else
		tap_n=$((tap_n + 1))
		echo "ok $tap_n $TEST.$1 # SKIP $2"
	fi
}

# The PCI devices with that vendor and device ID, in BDF order.
pci_find() { # vendor device
	for d in /sys/bus/pci/devices/*; do
		[ "$(cat "$d/vendor")" = "$1" ] && [ "$(cat "$d/device")" = "$2" ] &&
			echo "${d##*/}"
	done
}

pci_group() { # bdf
	g=$(readlink "/sys/bus/pci/devices/$1/iommu_group") || return 1
	echo "${g##*/}"
}

# 0 when the device is the only one in its IOMMU group.
pci_alone() { # bdf
	[ "$(ls "/sys/bus/pci/devices/$1/iommu_group/devices" | wc -l)" = 1 ]
}

pci_driver() { # bdf
	if [ -e "/sys/bus/pci/devices/$1/driver" ]; then
		d=$(readlink "/sys/bus/pci/devices/$1/driver")
		echo "${d##*/}"
	fi
}

# Give the device to vfio-pci through driver_override, as the C tests
# do; its old driver is put back by pci_restore.
pci_bind_vfio() { # bdf
	dev=/sys/bus/pci/devices/$1
	drv=$(pci_driver "$1")
	[ "$drv" = vfio-pci ] && return 0
	[ -z "$drv" ] || echo "$1" >"$dev/driver/unbind" || return 1
	echo vfio-pci >"$dev/driver_override" || return 1
	echo "$1" >/sys/bus/pci/drivers/vfio-pci/bind || return 1
	[ "$(pci_driver "$1")" = vfio-pci ]
}

pci_restore() { # bdf old-driver
	dev=/sys/bus/pci/devices/$1
	# Another test left it on vfio-pci: leave it so (vfio-pci binds
	# nothing by itself, so unbinding would lose it).
	[ -n "$2" ] && [ "$(pci_driver "$1")" = "$2" ] && return 0
	[ -e "$dev/driver" ] && echo "$1" >"$dev/driver/unbind"
	echo >"$dev/driver_override"
	[ -z "$2" ] || echo "$1" >"/sys/bus/pci/drivers/$2/bind"
	[ "$(pci_driver "$1")" = "$2" ]
}

# The IOMMU faults the kernel logged for a device: "DMAR: [DMA Read
# NO_PASID] Request device [00:04.0] fault addr ...", and the line after
# a "DRHD: handling fault" one. The domain is not in the message.
dmar_faults() { # bdf
	dmesg | grep 'DMAR:' | grep -c "device \[${1#*:}\]"
}

secs_since() { # start, from date +%s
	echo $(($(date +%s) - $1))
}
