# SPDX-License-Identifier: GPL-2.0
# The static checks of 'make check'. Each one is a test in the results.
# Sourced after lib.sh; expects record() from the caller.

# Our C and header files, Kconfig and Makefiles, at their kernel paths.
our_source_files() {
	grep -E '\.(c|h)$|/Kconfig$|/Makefile$' "$BUILD/.overlay-files"
}

check_checkpatch_files() {
	local f out bad=""
	for f in $(our_source_files); do
		out=$(cd "$SRC" && perl scripts/checkpatch.pl --strict --no-tree \
			--terse --show-types -f "$f" 2>&1 | grep -E ': (ERROR|WARNING|CHECK):' || true)
		if [ -n "$out" ]; then
			echo "$out" | sed 's/^/    /'
			bad="$bad ${f##*/}"
		fi
	done
	if [ -z "$bad" ]; then
		record PASS "static:checkpatch --strict on our files"
	else
		record FAIL "static:checkpatch --strict on our files" "findings in$bad"
	fi
}

check_checkpatch_patches() {
	local p out bad=""
	while read -r p; do
		[ -n "$p" ] || continue
		out=$(cd "$SRC" && perl scripts/checkpatch.pl --strict --no-tree \
			--terse --show-types "$TOP/patches/$p" 2>&1 | grep -E ': (ERROR|WARNING|CHECK):' || true)
		if [ -n "$out" ]; then
			echo "$out" | sed 's/^/    /'
			bad="$bad $p"
		fi
	done <"$TOP/patches/series"
	if [ -z "$bad" ]; then
		record PASS "static:checkpatch --strict on patches/"
	else
		record FAIL "static:checkpatch --strict on patches/" "findings in$bad"
	fi
}

# sparse and W=1 in a tree of their own, so the test kernel's objects
# are not rebuilt with other flags on every run.
check_sparse_w1() {
	local obj=$BUILD/obj-check out
	local dirs="drivers/iommu/iommufd/ drivers/vfio/device_cdev.o drivers/vfio/iommufd.o samples/vfio-mdev/mpin.o"
	configure_kernel check base.config debug.config iommufd.config vfio-iommufd.config
	if [ ! -f "$obj/.prepared" ]; then
		log "  preparing the sparse/W=1 tree (once)"
		make -s -C "$SRC" O="$obj" -j"$JOBS" CC="ccache gcc" prepare >"$obj/prepare.log" 2>&1 ||
			{ tail -20 "$obj/prepare.log"; die "make prepare failed"; }
		touch "$obj/.prepared"
	fi
	# Force every file of ours to be compiled and checked again.
	find "$obj/drivers/iommu/iommufd" -name '*.o' -delete 2>/dev/null || true
	rm -f "$obj/drivers/vfio/device_cdev.o" "$obj/drivers/vfio/iommufd.o" "$obj/samples/vfio-mdev/mpin.o"
	out=$(make -C "$SRC" O="$obj" -j"$JOBS" CC="ccache gcc" C=2 W=1 $dirs 2>&1 |
		grep -E 'warning:|error:|[Ww]arning: ' || true)
	if [ -z "$out" ]; then
		record PASS "static:sparse (C=2) and W=1 on $dirs"
	else
		echo "$out" | sed 's/^/    /'
		record FAIL "static:sparse (C=2) and W=1 on $dirs" "$(echo "$out" | wc -l) warnings"
	fi
}

check_kernel_doc() {
	local files out
	files=$(grep -E '^(include/.*|drivers/iommu/iommufd/.*|drivers/vfio/.*|samples/vfio-mdev/.*)\.(c|h)$' "$BUILD/.overlay-files")
	# shellcheck disable=SC2086
	out=$(cd "$SRC" && perl scripts/kernel-doc -v -none $files 2>&1 |
		grep -v ': info: Scanning doc for' || true)
	if [ -z "$out" ]; then
		record PASS "static:kernel-doc -v on our headers and sources"
	else
		echo "$out" | sed 's/^/    /'
		record FAIL "static:kernel-doc -v on our headers and sources" "$(echo "$out" | wc -l) warnings"
	fi
}

# The console oracle judges every VM run: check it against its own
# synthetic logs (interleaved programs, splats of each kind).
check_console_oracle() {
	if python3 "$VMTEST/console_check_test.py" >"$BUILD/console-check-test.log" 2>&1; then
		record PASS "static:console_check.py self-test"
	else
		record FAIL "static:console_check.py self-test" \
			"see $BUILD/console-check-test.log"
	fi
}

# The kernel a distribution would build: iommufd and VFIO as modules, no
# CONFIG_IOMMUFD_TEST. Every test kernel has the mock, so code that only
# links with it would go unnoticed otherwise.
check_production_build() {
	local obj=$BUILD/obj-production
	configure_kernel production base.config vfio-iommufd.config \
		iommufd-production.config
	if (build_kernel production) >"$BUILD/production-build.log" 2>&1; then
		record PASS "static:production build (IOMMUFD=m, VFIO=m, no IOMMUFD_TEST)"
	else
		grep -E 'error:|ERROR|undefined' "$obj/build.log" | head -20 | sed 's/^/    /'
		record FAIL "static:production build (IOMMUFD=m, VFIO=m, no IOMMUFD_TEST)" \
			"see $obj/build.log"
	fi
}

run_static_checks() {
	check_console_oracle
	check_checkpatch_files
	check_checkpatch_patches
	check_kernel_doc
	check_sparse_w1
	# A kernel build of its own: the full run only, or when asked.
	if [ -z "${IOMMUFD_TESTS:-}" ] || [ "${IOMMUFD_PRODUCTION:-0}" = 1 ]; then
		check_production_build
	fi
}
