#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# 'make run': build the kernel with iommufd, boot it in QEMU on an emulated
# Intel IOMMU and run the demo. With a terminal, you are left at a shell in
# the guest ('poweroff -f' leaves); without one, the VM powers off.
source "$(dirname "$0")/lib.sh"

build_debug_vm

if [ -t 0 ] && [ -t 1 ]; then
	log "booting; the demo runs, then you get a shell"
	boot_vm debug shell 0
else
	log "booting; the demo runs and the VM powers off"
	boot_vm debug demo "${IOMMUFD_VM_TIMEOUT:-600}" </dev/null 2>&1 |
		python3 "$VMTEST/console_check.py" "$BUILD/demo-console.log" "$BUILD/demo-results"
	cat "$BUILD/demo-results"
	! grep -q '^FAIL' "$BUILD/demo-results"
fi
