#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# 'make bench': run the iommufd benchmark in the VM, on the debug kernel
# and on a kernel without debug options, and print its figures.
source "$(dirname "$0")/lib.sh"

ensure_deps
prepare_tree
for kind in ${IOMMUFD_BENCH_KERNELS:-nodebug debug}; do
	if [ "$kind" = debug ]; then
		configure_kernel debug base.config debug.config iommufd.config
	else
		configure_kernel nodebug base.config iommufd-nodebug.config
	fi
	build_kernel "$kind"
	build_guest_programs "$kind"
	build_initramfs "$kind"
	log "running the benchmark on the $kind kernel"
	boot_vm "$kind" bench "${IOMMUFD_VM_TIMEOUT:-1200}" </dev/null 2>&1 |
		tee "$BUILD/bench-$kind.log" | grep --line-buffered -E '^bench:|IOMMUFD-BENCH-END' |
		sed -u "s/^bench:/bench[$kind]:/"
done
