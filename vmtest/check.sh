#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# 'make check': build the debug kernel with iommufd, run the static checks,
# boot the VM, run every kselftest, and judge the console. Prints one line
# per result and closes with 'N passed, N failed'; exits non-zero on any
# failure.
source "$(dirname "$0")/lib.sh"

RESULTS=$BUILD/results
mkdir -p "$BUILD"
: >"$RESULTS"

record() { # verdict name [detail]
	echo "$1 $2${3:+: $3}" >>"$RESULTS"
	echo "  $1 $2${3:+: $3}"
}

build_debug_vm

log "static checks"
source "$VMTEST/static_checks.sh"
run_static_checks debug

if [ -n "${IOMMUFD_TESTS:-}" ]; then
	# Only some programs: the quick loop while working on one file.
	only=$(echo $IOMMUFD_TESTS | tr ' ' ',')
	IOMMUFD_CMDLINE="${IOMMUFD_CMDLINE:-} iommufd_tests=$only"
	export IOMMUFD_CMDLINE
	log "running only the test programs $only"
fi
log "booting the debug VM and running the tests (timeout ${IOMMUFD_VM_TIMEOUT:-1800} s)"
boot_vm debug test "${IOMMUFD_VM_TIMEOUT:-1800}" </dev/null 2>&1 |
	python3 "$VMTEST/console_check.py" "$BUILD/console.log" "$BUILD/vm-results"
cat "$BUILD/vm-results" >>"$RESULTS"
log "guest console log: $BUILD/console.log"

# The programs written for the VFIO group API run again on the kernel
# whose /dev/vfio/vfio is VFIO's own type1 container: one program, two
# backends, the same results. Skipped in the quick loop (TESTS=) unless
# asked for with TYPE1=1.
TYPE1_TESTS="iommufd_vfio iommufd_mpin vfio_qemu_nested vfio_dpdk_testpmd"
if [ -z "${IOMMUFD_TESTS:-}" ] || [ "${IOMMUFD_TYPE1:-0}" = 1 ]; then
	build_type1_vm
	log "booting the type1-container VM: $TYPE1_TESTS"
	IOMMUFD_CMDLINE="iommufd_tests=$(echo $TYPE1_TESTS | tr ' ' ',')" \
		boot_vm type1 test "${IOMMUFD_VM_TIMEOUT:-1800}" </dev/null 2>&1 |
		python3 "$VMTEST/console_check.py" "$BUILD/console-type1.log" \
			"$BUILD/vm-results-type1"
	# Same test names, other kernel: say which.
	sed -E 's/^(PASS|FAIL|SKIP) /\1 type1-container: /' \
		"$BUILD/vm-results-type1" >>"$RESULTS"
	log "type1-container guest console log: $BUILD/console-type1.log"
fi

echo
echo "Results:"
sed 's/^/  /' "$RESULTS"
passed=$(grep -c '^PASS' "$RESULTS" || true)
failed=$(grep -c '^FAIL' "$RESULTS" || true)
skipped=$(grep -c '^SKIP' "$RESULTS" || true)
echo "$passed passed, $failed failed, $skipped skipped"
[ "$failed" = 0 ]
