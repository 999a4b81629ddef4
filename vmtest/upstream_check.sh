#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# 'make upstream-check': upstream Linux 6.12's own iommufd selftests as a
# referee. Not part of 'make check'.
#
# Debian's linux-source-6.12 is unpacked into build/ at run time (nothing
# of it is committed). Its programs iommufd and iommufd_fail_nth are built
# against our uAPI headers and our iommufd_test.h (its own lacks what its
# tests use of the newer mock), and run in the same VM on two kernels:
# upstream 6.12 itself, built once without debug options into
# build/obj-upstream, and our debug kernel, make check's. A test case
# that passes on upstream and fails on ours is a regression; the script
# lists every one and exits non-zero if there are any.
source "$(dirname "$0")/lib.sh"

source "$(dirname "$0")/upstream.sh"

UP_PROGS="iommufd iommufd_fail_nth"
# The programs' names in the guest: not those of our own programs, and
# distinct in the 15 characters of a task name the console checker uses.
UP_PREFIX=u612_

# Upstream 6.12 with our VM's base config and iommufd, its test mock and
# the VFIO cdev, without the debug options, plus what its selftests'
# own config asks for and the fault injection our debug kernel has (the
# fail_nth program skips without it). make bench builds another one
# without fault injection (obj-upstream-bench).
build_upstream_check_kernel() {
	mkdir -p "$UP/configs"
	cp "$UP_SRC/tools/testing/selftests/iommu/config" \
		"$UP/configs/up-selftests-iommu.config"
	grep -E '^CONFIG_(FAIL|FAULT_INJECTION)' "$VMTEST/configs/debug.config" \
		>"$UP/configs/up-fault-injection.config"
	build_upstream_kernel upstream bzImage base.config iommufd-nodebug.config \
		vfio-iommufd.config up-selftests-iommu.config up-fault-injection.config
}

# Upstream's programs, built as its Makefile builds them, against the uAPI
# headers of our debug kernel and our iommufd_test.h: its files are laid
# out in a scratch tree in which iommufd_utils.h's relative include of
# drivers/iommu/iommufd/iommufd_test.h finds ours.
build_upstream_programs() {
	local st=$UP/src sel=$UP_SRC/tools/testing/selftests p
	rm -rf "$st" "$UP/root"
	mkdir -p "$st/tools/testing/selftests/iommu" "$st/drivers/iommu/iommufd" \
		"$UP/root/tests"
	cp "$sel"/kselftest.h "$sel"/kselftest_harness.h "$st/tools/testing/selftests/"
	cp "$sel"/iommu/*.[ch] "$st/tools/testing/selftests/iommu/"
	cp "$TOP/drivers/iommu/iommufd/iommufd_test.h" "$st/drivers/iommu/iommufd/"
	for p in $UP_PROGS; do
		log "building upstream 6.12's $p against our headers"
		gcc -Wall -O2 -Wno-unused-function -static \
			-isystem "$BUILD/obj-debug/usr/include" \
			-o "$UP/root/tests/$UP_PREFIX$p" \
			"$st/tools/testing/selftests/iommu/$p.c" >"$UP/build-$p.log" 2>&1 ||
			{ cat "$UP/build-$p.log"; die "upstream's $p does not build against our headers"; }
	done
	# The guest's initramfs with upstream's programs added: init runs
	# only them (iommufd_tests=), on either kernel.
	cp "$BUILD/obj-debug/initramfs.cpio" "$UP/initramfs.cpio"
	(cd "$UP/root" && find . | cpio -o -H newc --quiet >>"$UP/initramfs.cpio")
}

# $1: kernel name (debug: ours, upstream); results into $UP/results-$1.
# $2: more kernel command line.
run_upstream_programs() {
	local name=$1 only=""
	for p in $UP_PROGS; do
		only="$only${only:+,}$UP_PREFIX$p"
	done
	log "booting the $name kernel and running upstream's $UP_PROGS"
	IOMMUFD_INITRD=$UP/initramfs.cpio IOMMUFD_CMDLINE="iommufd_tests=$only ${2:-}" \
		boot_vm "$name" test "${IOMMUFD_VM_TIMEOUT:-1800}" </dev/null 2>&1 |
		python3 "$VMTEST/console_check.py" "$UP/console-$name.log" \
			"$UP/results-$name" >"$UP/progress-$name.log"
	log "  $(grep -c '^PASS' "$UP/results-$name" || true) passed," \
		"$(grep -c '^FAIL' "$UP/results-$name" || true) failed" \
		"(console: $UP/console-$name.log)"
}

mkdir -p "$BUILD" "$UP"
ensure_deps
ensure_upstream_source
build_upstream_check_kernel
prepare_tree
# shellcheck disable=SC2086
configure_kernel debug $DEBUG_FRAGMENTS
build_kernel debug
build_guest_programs debug
build_initramfs debug
build_upstream_programs
# 6.12 probes a device without firmware IOMMU data with the first IOMMU
# registered (iommu.c, __iommu_probe_device()): with VT-d on, that is
# intel-iommu, which refuses the mock devices, and every test that makes
# one fails on upstream itself. Upstream runs these tests without a
# hardware IOMMU; so does its kernel here (same VM, VT-d left off).
# Ours keeps the mock bus apart and runs them with VT-d on.
run_upstream_programs upstream intel_iommu=off
run_upstream_programs debug
python3 "$VMTEST/upstream_compare.py" "$UP_PREFIX" "$UP/results-upstream" "$UP/results-debug"
