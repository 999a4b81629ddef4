# SPDX-License-Identifier: GPL-2.0
# shellcheck shell=bash
# Upstream Linux 6.12 beside our kernel: the steps that 'make
# upstream-check' and 'make bench' share. Sourced after lib.sh.
#
# Debian's linux-source-6.12 is unpacked into build/ at run time (nothing
# of it is committed), and built with lib.sh's configure and build steps
# pointed at that tree, into build/obj-<name>.

UP_TARBALL=/usr/src/linux-source-6.12.tar.xz
UP_SRC=$BUILD/linux-source-6.12
UP=$BUILD/upstream

ensure_upstream_source() {
	local ver
	mkdir -p "$BUILD" "$UP"
	if [ ! -f "$UP_TARBALL" ]; then
		[ "$(id -u)" = 0 ] || die "linux-source-6.12 is missing (run as root to install it)"
		log "installing Debian's linux-source-6.12"
		DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends \
			linux-source-6.12 >>"$BUILD/apt.log" 2>&1 ||
			{ tail -30 "$BUILD/apt.log"; die "apt-get install linux-source-6.12 failed"; }
	fi
	ver=$(dpkg-query -W -f='${Version}' linux-source-6.12)
	if [ ! -d "$UP_SRC" ] || [ "$(cat "$BUILD/.upstream-version" 2>/dev/null)" != "$ver" ]; then
		log "unpacking $UP_TARBALL ($ver)"
		rm -rf "$UP_SRC" "$BUILD"/obj-upstream*
		tar -C "$BUILD" -xf "$UP_TARBALL"
		echo "$ver" >"$BUILD/.upstream-version"
	fi
	log "upstream source: Debian linux-source-6.12 $ver"
}

# Build upstream 6.12 into build/obj-$1 from our fragments $3...: $2 are
# the make targets. Our VM's base config is taken without what only our
# tree has (the mpin sample) or 6.12 spells otherwise (VFIO_MDEV is a
# tristate there, m when only the mtty sample selects it; BASE_FULL is gone,
# its BASE_SMALL is off by default). Fragments
# named up-*.config are read from $UP/configs, where the caller wrote
# them; the others from vmtest/configs.
build_upstream_kernel() {
	local name=$1 targets=$2 frag
	shift 2
	mkdir -p "$UP/vmtest/configs"
	for frag in "$@"; do
		case "$frag" in
		base.config)
			grep -v -E '^CONFIG_(SAMPLE_VFIO_MDEV_MPIN|VFIO_MDEV|BASE_FULL)=' \
				"$VMTEST/configs/base.config" >"$UP/vmtest/configs/base.config"
			;;
		up-*) cp "$UP/configs/$frag" "$UP/vmtest/configs/" ;;
		*) cp "$VMTEST/configs/$frag" "$UP/vmtest/configs/" ;;
		esac
	done
	# lib.sh's functions read SRC and VMTEST, and call tree_key().
	# shellcheck disable=SC2030,SC2034,SC2317
	(
		SRC=$UP_SRC
		VMTEST=$UP/vmtest
		# The config depends on the fragments and this source only.
		tree_key() { cat "$BUILD/.upstream-version"; }
		configure_kernel "$name" "$@"
		build_kernel "$name" "$targets"
	)
}
