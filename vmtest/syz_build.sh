#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# 'make syz-build SYZ_SRC=<syzkaller git repository>': build syzkaller's
# syz-stress, syz-executor, syz-execprog and syz-prog2c with the
# descriptions of tools/testing/fuzz, into build/syzkaller/bin, for
# 'make fuzz SYZ_BIN=build/syzkaller/bin'.
#
# The commit is SYZ_COMMIT, the last whose go.mod says Go 1.19 and that
# vendors its dependencies and has tools/syz-stress (see
# tools/testing/fuzz/README.md), so that Debian bookworm's golang-1.19
# builds it offline. The repository is only read (git archive); the tree
# is unpacked afresh in build/syzkaller/src each time. Our description
# files (those with a .const) are copied into its sys/linux, and the
# executor change of
# ../shared/fuzz (executor-no-netns.patch: a kernel without network
# namespaces) applied when it is there.
source "$(dirname "$0")/lib.sh"

SYZ_COMMIT=${SYZ_COMMIT:-059e99634d85e743d0e9fc4ca38805b8248a049f}
SYZ_SRC=${SYZ_SRC:-}
FUZZDIR=$TOP/tools/testing/fuzz
OUT=$BUILD/syzkaller
GO=/usr/lib/go-1.19/bin

[ -n "$SYZ_SRC" ] || die "SYZ_SRC=<a git repository of syzkaller> is needed"
git -C "$SYZ_SRC" cat-file -e "$SYZ_COMMIT^{commit}" 2>/dev/null ||
	die "$SYZ_SRC has no commit $SYZ_COMMIT"
if [ ! -x "$GO/go" ]; then
	log "installing golang-1.19-go"
	apt-get install -y -q golang-1.19-go >>"$BUILD/apt.log" 2>&1 ||
		die "apt-get install golang-1.19-go failed (log: $BUILD/apt.log)"
fi

log "unpacking syzkaller $SYZ_COMMIT into $OUT/src"
rm -rf "$OUT"
mkdir -p "$OUT/src" "$OUT/bin"
# A partial clone (a mirror without its largest blobs) lacks a few files
# none of these programs build from: leave them out, and say which.
git -C "$SYZ_SRC" ls-tree -r "$SYZ_COMMIT" >"$OUT/tree.txt"
excludes=()
while read -r obj; do
	path=$(awk -F'\t' -v o="$obj" '{ split($1, m, " ") } m[3] == o { print $2 }' "$OUT/tree.txt")
	while read -r p; do
		log "  not in $SYZ_SRC, left out: $p"
		excludes+=(":(exclude)$p")
	done <<<"$path"
done < <(awk '{ print $3 }' "$OUT/tree.txt" | git -C "$SYZ_SRC" cat-file --batch-check |
	awk '$2 == "missing" { print $1 }')
# git archive still names the excluded blobs it cannot read, on stderr.
git -C "$SYZ_SRC" archive "$SYZ_COMMIT" -- . "${excludes[@]}" 2>"$OUT/archive.log" |
	tar -x -C "$OUT/src"
# The descriptions are the .txt files with constants (not calls.txt).
for c in "$FUZZDIR"/*.txt.const; do
	cp "$c" "${c%.const}" "$OUT/src/sys/linux/"
done
patch=$TOP/../shared/fuzz/executor-no-netns.patch
if [ -f "$patch" ]; then
	patch -d "$OUT/src" -p1 --batch --quiet <"$patch" ||
		die "$patch does not apply"
else
	log "no $patch: the executor needs CONFIG_NET_NS"
fi

log "building syzkaller (a few minutes; the descriptions are compiled first)"
(
	cd "$OUT/src"
	unset GOFLAGS
	export PATH=$GO:$PATH GOCACHE=$OUT/gocache GOPATH=$OUT/gopath
	make TARGETOS=linux TARGETARCH=amd64 executor stress execprog prog2c
) >"$OUT/build.log" 2>&1 || {
	tail -30 "$OUT/build.log"
	die "the syzkaller build failed (log: $OUT/build.log)"
}
cp "$OUT"/src/bin/linux_amd64/syz-{stress,executor,execprog} "$OUT/bin/"
cp "$OUT"/src/bin/syz-prog2c "$OUT/bin/" 2>/dev/null ||
	cp "$OUT"/src/bin/linux_amd64/syz-prog2c "$OUT/bin/"

# Every seed must parse with these binaries' descriptions.
for s in "$FUZZDIR"/seeds/*.syz; do
	"$OUT/bin/syz-prog2c" -strict -prog "$s" >/dev/null 2>"$OUT/prog2c.log" || {
		cat "$OUT/prog2c.log"
		die "seed ${s##*/} does not parse"
	}
done
log "syzkaller binaries in $OUT/bin; run: make fuzz SYZ_BIN=$OUT/bin"
