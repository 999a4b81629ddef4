#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# 'make fuzz': build the debug kernel, boot it with the VM's devices bound
# to vfio-pci and run syzkaller's syz-stress in the guest against
# /dev/iommu, IOMMU_TEST_CMD and VFIO for FUZZ_TIME seconds, seeded with
# the programs of tools/testing/fuzz/seeds. The console is the oracle, as
# for 'make check'; a kmemleak scan closes the run. Prints the programs
# run, the calls they used, and every kernel splat with the last programs
# each fuzzing process ran before it. Exits non-zero on a splat.
#
# SYZ_BIN: a directory with static linux/amd64 syz-stress and
# syz-executor (default: ../shared/fuzz/bin beside this repository).
source "$(dirname "$0")/lib.sh"

FUZZDIR=$TOP/tools/testing/fuzz
FUZZ_TIME=${FUZZ_TIME:-900}
SYZ_BIN=${SYZ_BIN:-}
if [ -z "$SYZ_BIN" ] && [ -d "$TOP/../shared/fuzz/bin" ]; then
	SYZ_BIN=$(cd "$TOP/../shared/fuzz/bin" && pwd)
fi
[ -n "$SYZ_BIN" ] || die "no syzkaller binaries: set SYZ_BIN=/path/to/bin (see $FUZZDIR/README.md)"
for b in syz-stress syz-executor; do
	[ -x "$SYZ_BIN/$b" ] || die "$SYZ_BIN/$b is missing or not executable"
done
case "$FUZZ_TIME" in
'' | *[!0-9]*) die "FUZZ_TIME must be a number of seconds, not '$FUZZ_TIME'" ;;
esac

# The call patterns of calls.txt that these binaries know: syz-stress
# refuses to start on a name it lacks. A name$variant is looked for in
# the binary (its descriptions are in it, names and all); a prefix* or a
# bare name matches in any build.
fuzz_calls() {
	local c
	grep -v '^#' "$FUZZDIR/calls.txt" | while read -r c; do
		[ -n "$c" ] || continue
		case "$c" in
		*'$'*[!*]) grep -qaF "$c" "$SYZ_BIN/syz-stress" || {
			log "  $c: not in these syzkaller binaries, not fuzzed" >&2
			continue
		} ;;
		esac
		echo "$c"
	done
}

# The seeds all of whose calls these binaries know: syz-stress refuses a
# corpus with one program it cannot parse. A seed of calls described here
# (tools/testing/fuzz/*.txt) needs binaries built with them.
fuzz_seeds() {
	local s c
	for s in "$FUZZDIR"/seeds/*.syz; do
		for c in $(grep -v '^#' "$s" | grep -oE '[A-Za-z0-9_$]+\(' | tr -d '(' | sort -u); do
			grep -qaF "$c" "$SYZ_BIN/syz-stress" || {
				log "  seed ${s##*/}: $c is not in these syzkaller binaries, left out" >&2
				continue 2
			}
		done
		echo "$s"
	done
}

# The fuzzer's files, as a second cpio archive after the test initramfs
# (the kernel unpacks one after the other): the binaries, the calls to
# fuzz, the seed corpus and the guest script.
build_fuzz_initramfs() {
	local obj=$BUILD/obj-$1 root=$BUILD/obj-$1/fuzzfs
	rm -rf "$root"
	mkdir -p "$root/fuzz"
	cp "$SYZ_BIN/syz-stress" "$SYZ_BIN/syz-executor" "$root/fuzz/"
	fuzz_calls >"$root/fuzz/calls.txt"
	cp "$VMTEST/guest/fuzz" "$root/fuzz/iommufd_fuzz"
	chmod 755 "$root/fuzz/iommufd_fuzz"
	# shellcheck disable=SC2046
	python3 "$FUZZDIR/pack_corpus.py" "$root/fuzz/corpus.db" $(fuzz_seeds) ||
		die "packing the seed corpus failed"
	(cd "$root" && find . | cpio -o -H newc --quiet >>"$obj/initramfs.cpio")
}

build_debug_vm
build_fuzz_initramfs debug
log "syzkaller binaries: $SYZ_BIN"

# Boot, device setup and the final kmemleak scan take a few minutes.
tmo=${IOMMUFD_VM_TIMEOUT:-$((FUZZ_TIME + 900))}
IOMMUFD_CMDLINE="${IOMMUFD_CMDLINE:-} iommufd_fuzz_time=$FUZZ_TIME"
export IOMMUFD_CMDLINE
log "booting the debug VM and fuzzing for $FUZZ_TIME s (timeout $tmo s)"
rc=0
boot_vm debug fuzz "$tmo" </dev/null 2>&1 |
	python3 "$VMTEST/fuzz_check.py" "$BUILD/fuzz-console.log" "$BUILD/fuzz-results" || rc=$?
log "guest console log: $BUILD/fuzz-console.log; summary: $BUILD/fuzz-results"
exit $rc
