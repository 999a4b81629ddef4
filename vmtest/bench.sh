#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# 'make bench': run the iommufd benchmark in the VM, on the debug kernel
# and on a kernel without debug options, and print its figures.
#
# The nodebug kernel keeps VFIO's own type1 container on /dev/vfio/vfio
# (vfio-type1.config) beside iommufd's container API on /dev/iommu, so
# that the benchmark's "container" section can measure both backends of
# the VFIO container API in one run, on one kernel. The debug kernel is
# make check's (DEBUG_FRAGMENTS, lib.sh), so that the two commands share
# one build; its /dev/vfio/vfio is iommufd's, and the container section
# says so and skips itself there.
source "$(dirname "$0")/lib.sh"

ensure_deps
prepare_tree
for kind in ${IOMMUFD_BENCH_KERNELS:-nodebug debug}; do
	if [ "$kind" = debug ]; then
		# shellcheck disable=SC2086
		configure_kernel debug $DEBUG_FRAGMENTS
	else
		configure_kernel nodebug base.config iommufd-nodebug.config \
			vfio-type1.config
	fi
	build_kernel "$kind"
	build_guest_programs "$kind"
	build_initramfs "$kind"
	log "running the benchmark on the $kind kernel"
	boot_vm "$kind" bench "${IOMMUFD_VM_TIMEOUT:-1200}" </dev/null 2>&1 |
		tee "$BUILD/bench-$kind.log" | grep --line-buffered -E '^bench:|IOMMUFD-BENCH-END' |
		sed -u "s/^bench:/bench[$kind]:/"
done
