# SPDX-License-Identifier: GPL-2.0
# Shared steps of the iommufd build/boot/test harness. Sourced by run.sh
# and check.sh; every step says what it is doing and is skipped when its
# inputs did not change, so that an edit to one iommufd file costs one
# incremental kernel build and one boot.

set -euo pipefail

TOP=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
VMTEST=$TOP/vmtest
BUILD=${IOMMUFD_BUILD_DIR:-$TOP/build}
SRC=$BUILD/linux-source-6.1
TARBALL=/usr/src/linux-source-6.1.tar.xz
JOBS=$(nproc)
# The kernel-tree paths this repository lays over the 6.1 source.
OVERLAY_DIRS="drivers include tools Documentation samples"

log() {
	printf '[%s] %s\n' "$(date +%H:%M:%S)" "$*"
}

die() {
	printf '[%s] error: %s\n' "$(date +%H:%M:%S)" "$*" >&2
	exit 1
}

# The unmodified Debian clients of the legacy VFIO API that run in the
# guest (vfio_qemu_nested, vfio_dpdk_testpmd): QEMU, with its TCG
# accelerator module and the firmware it loads for a PC with -kernel,
# and DPDK's testpmd with the only drivers it needs (EAL would load every
# one of its plugin directory; the guest has no such directory).
QEMU_BIN=/usr/bin/qemu-system-x86_64
QEMU_FILES="/usr/lib/x86_64-linux-gnu/qemu/accel-tcg-x86_64.so
/usr/share/qemu/qboot.rom /usr/share/qemu/linuxboot_dma.bin
/usr/share/qemu/kvmvapic.bin"
DPDK_LIB=/usr/lib/x86_64-linux-gnu
DPDK_FILES="/usr/bin/dpdk-testpmd $DPDK_LIB/librte_net_virtio.so.23
$DPDK_LIB/librte_mempool_ring.so.23"

# Debian packages the harness needs, and one command that shows each is
# installed (a package name alone for those without a command).
DEPS="linux-source-6.1:$TARBALL gcc:gcc make:make bc:bc bison:bison
flex:flex libelf-dev:/usr/include/libelf.h libssl-dev:/usr/include/openssl/ssl.h
libc6-dev:/usr/include/stdio.h qemu-system-x86:qemu-system-x86_64
busybox-static:/bin/busybox ccache:ccache sparse:sparse cpio:cpio rsync:rsync
xz-utils:xz perl:perl python3:python3 kmod:depmod libcap-dev:/usr/include/sys/capability.h
dpdk-dev:dpdk-testpmd librte-net-virtio23:$DPDK_LIB/librte_net_virtio.so.23"

ensure_deps() {
	local missing="" pkg probe
	for dep in $DEPS; do
		pkg=${dep%%:*}
		probe=${dep#*:}
		if [ "${probe#/}" != "$probe" ]; then
			[ -e "$probe" ] && continue
		else
			command -v "$probe" >/dev/null 2>&1 && continue
		fi
		missing="$missing $pkg"
	done
	if [ -n "$missing" ]; then
		[ "$(id -u)" = 0 ] || die "missing packages:$missing (run as root to install them)"
		log "installing Debian packages:$missing"
		export DEBIAN_FRONTEND=noninteractive
		apt-get update -q >"$BUILD/apt.log" 2>&1 || { cat "$BUILD/apt.log"; die "apt-get update failed"; }
		# shellcheck disable=SC2086
		apt-get install -y -q --no-install-recommends $missing >>"$BUILD/apt.log" 2>&1 ||
			{ tail -30 "$BUILD/apt.log"; die "apt-get install failed"; }
	fi
	log "kernel source: Debian linux-source-6.1 $(dpkg-query -W -f='${Version}' linux-source-6.1)"
}

# Hash of everything that defines the pristine+patched tree.
tree_key() {
	{
		dpkg-query -W -f='${Version}\n' linux-source-6.1
		cat "$TOP/patches/series"
		(cd "$TOP/patches" && cat $(cat series))
	} | sha1sum | cut -d' ' -f1
}

overlay_manifest() {
	(cd "$TOP" && git ls-files -- $OVERLAY_DIRS 2>/dev/null ||
		find $OVERLAY_DIRS -type f) | sort
}

# Unpack the 6.1 source, apply patches/series and lay our files over it.
# The tree is only unpacked again when the source package or the patches
# change, or when a file we used to lay over it is gone from the repo.
prepare_tree() {
	local key stamp=$BUILD/.tree-key manifest=$BUILD/.overlay-files
	mkdir -p "$BUILD"
	key=$(tree_key)
	overlay_manifest >"$manifest.new"
	if [ -f "$manifest" ] && [ -n "$(comm -23 "$manifest" "$manifest.new")" ]; then
		log "files were removed from the overlay: unpacking the tree again"
		rm -f "$stamp"
	fi
	if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$key" ] || [ ! -d "$SRC" ]; then
		log "unpacking $TARBALL (about 30 s)"
		# Not obj-upstream: make upstream-check's kernel is built from
		# another source tree, which no change here invalidates.
		rm -rf "$SRC"
		find "$BUILD" -maxdepth 1 -name 'obj-*' ! -name 'obj-upstream*' \
			-exec rm -rf {} +
		tar -C "$BUILD" -xf "$TARBALL"
		log "applying $(wc -l <"$TOP/patches/series") patches from patches/series"
		while read -r p; do
			[ -n "$p" ] || continue
			patch -d "$SRC" -p1 --batch --forward --quiet <"$TOP/patches/$p" ||
				die "patch $p does not apply to linux-source-6.1"
			log "  applied $p"
		done <"$TOP/patches/series"
		echo "$key" >"$stamp"
	fi
	mv "$manifest.new" "$manifest"
	# --checksum: unchanged files keep their mtime, so make rebuilds only
	# what really changed.
	(cd "$TOP" && rsync -rc --files-from="$manifest" . "$SRC/")
}

# $1: config name; the rest: fragments from vmtest/configs, in order.
configure_kernel() {
	local name=$1 obj=$BUILD/obj-$1 key frag
	shift
	key=$( (cd "$VMTEST/configs" && cat "$@"; tree_key) | sha1sum | cut -d' ' -f1)
	mkdir -p "$obj"
	if [ -f "$obj/.config" ] && [ "$(cat "$obj/.config-key" 2>/dev/null)" = "$key" ]; then
		return 0
	fi
	log "configuring the $name kernel: tinyconfig + $*"
	make -s -C "$SRC" O="$obj" tinyconfig >/dev/null
	(cd "$VMTEST/configs" && "$SRC/scripts/kconfig/merge_config.sh" -m -O "$obj" \
		"$obj/.config" "$@" >"$obj/merge.log" 2>&1)
	make -s -C "$SRC" O="$obj" olddefconfig >"$obj/olddefconfig.log" 2>&1
	# Every option we asked for must have survived olddefconfig; a later
	# fragment overrides an earlier one, as merge_config.sh does.
	local bad=0 line opt want got
	local -A wanted=() from=()
	for frag in "$@"; do
		while read -r line; do
			case "$line" in ''|'#'*) continue ;; esac
			opt=${line%%=*}
			wanted[$opt]=${line#*=}
			from[$opt]=$frag
		done <"$VMTEST/configs/$frag"
	done
	for opt in "${!wanted[@]}"; do
		want=${wanted[$opt]}
		got=$(grep -E "^$opt=" "$obj/.config" | cut -d= -f2- || true)
		[ "$want" = n ] && { [ -z "$got" ] && continue; }
		if [ "$got" != "$want" ]; then
			echo "  ${from[$opt]}: $opt wanted '$want', got '${got:-unset}'"
			bad=1
		fi
	done
	[ $bad = 0 ] || die "the $name kernel config lost options (see above)"
	echo "$key" >"$obj/.config-key"
}

# Build bzImage and the modules with a running count of compiled
# objects. $1: config name; $2: make targets, when not those.
build_kernel() {
	local name=$1 obj=$BUILD/obj-$1 logf=$BUILD/obj-$1/build.log
	local targets=${2:-bzImage modules}
	local prev start
	prev=$(cat "$obj/.objects" 2>/dev/null || echo "about 1800")
	start=$(date +%s)
	log "building the $name kernel with $JOBS jobs (a full build compiles $prev objects; ccache makes repeats cheap)"
	# ccache's own default directory, outside the clone, and paths
	# relative to build/, so that a fresh clone on the same machine (as
	# CI's) reuses earlier compilations.
	export CCACHE_BASEDIR=$BUILD
	ccache -M 5G >/dev/null 2>&1 || true
	(
		make -C "$SRC" O="$obj" -j"$JOBS" CC="ccache gcc" $targets >"$logf" 2>&1
		echo $? >"$obj/.rc"
	) &
	local pid=$! n ticks=0
	# Look every second (an incremental build takes seconds), say how
	# far it got every 20.
	while kill -0 $pid 2>/dev/null; do
		sleep 1
		ticks=$((ticks + 1))
		[ $((ticks % 20)) = 0 ] || continue
		n=$(grep -c '^  CC ' "$logf" || true)
		kill -0 $pid 2>/dev/null && log "  ... $n objects compiled in this run, $(($(date +%s) - start)) s"
	done
	wait $pid || true
	if [ "$(cat "$obj/.rc")" != 0 ]; then
		grep -E 'error|Error' "$logf" | head -40
		die "kernel build failed (log: $logf)"
	fi
	n=$(grep -c '^  CC ' "$logf" || true)
	[ -f "$obj/.objects" ] || echo "$n" >"$obj/.objects"
	log "kernel built in $(($(date +%s) - start)) s ($n objects compiled in this run)"
}

# Build the kselftests the kselftest way, inside the kernel tree, and our
# guest-side programs, all statically linked for the initramfs.
build_guest_programs() {
	local name=$1 obj=$BUILD/obj-$1
	log "installing uAPI headers and building the iommu kselftests"
	make -s -C "$SRC" O="$obj" headers >/dev/null
	make -s -C "$SRC/tools/testing/selftests" O="$obj" TARGETS=iommu \
		CC=gcc LDFLAGS=-static >"$obj/kselftest.log" 2>&1 ||
		{ cat "$obj/kselftest.log"; die "kselftest build failed"; }
	mkdir -p "$obj/guest"
	gcc -O2 -Wall -Werror -static -isystem "$obj/usr/include" \
		-o "$obj/guest/iommufd_demo" "$VMTEST/guest/iommufd_demo.c" ||
		die "demo build failed"
	# The nested guest of vfio_qemu_nested: its own small kernel and an
	# initramfs that holds nothing but its init, the edu program.
	gcc -O2 -s -Wall -Werror -static -o "$obj/guest/edu_nested" \
		"$VMTEST/guest/edu_nested.c" || die "edu_nested build failed"
	rm -rf "$obj/guest/nested-root"
	mkdir -p "$obj/guest/nested-root"
	cp "$obj/guest/edu_nested" "$obj/guest/nested-root/init"
	(cd "$obj/guest/nested-root" && find . | cpio -o -H newc --quiet \
		>"$obj/guest/nested-initramfs.cpio")
}

# Copy files into the initramfs at $1, at the paths they have here, with
# the shared libraries each of them loads.
copy_with_libs() {
	local root=$1 f lib
	shift
	for f in "$@"; do
		[ -e "$f" ] || die "$f is missing"
		mkdir -p "$root${f%/*}"
		cp -L "$f" "$root$f"
		case "$f" in *.bin) continue ;; esac
		for lib in $(ldd "$f" | awk '$2 == "=>" && $3 ~ /^\// { print $3 }
					   $1 ~ /^\// { print $1 }'); do
			[ -e "$root$lib" ] && continue
			mkdir -p "$root${lib%/*}"
			cp -L "$lib" "$root$lib"
		done
	done
}

# Pack busybox, the init script and the test programs into an initramfs.
build_initramfs() {
	local name=$1 obj=$BUILD/obj-$1 root=$BUILD/obj-$1/initramfs
	rm -rf "$root"
	mkdir -p "$root"/{bin,sbin,dev,proc,sys,tmp,mnt,tests}
	cp /bin/busybox "$root/bin/busybox"
	for app in $(/bin/busybox --list); do
		[ "$app" = busybox ] || ln -sf busybox "$root/bin/$app"
	done
	cp "$VMTEST/guest/init" "$root/init"
	chmod 755 "$root/init"
	cp "$obj"/kselftest/iommu/* "$root/tests/" 2>/dev/null || true
	rm -f "$root"/tests/*.o
	# The benchmark is a program, not a test: keep it out of /tests.
	if [ -f "$root/tests/iommufd_bench" ]; then
		mv "$root/tests/iommufd_bench" "$root/bin/"
	fi
	cp "$obj/guest/iommufd_demo" "$root/bin/"
	# The operator's tool over fdinfo; iommufd_fdinfo runs it.
	cp "$TOP/tools/iommufd/iommufd-top" "$root/bin/"
	# The mtty mdev sample: the emulated VFIO device of iommufd_vfio.
	mkdir -p "$root/lib/modules"
	if [ -f "$obj/samples/vfio-mdev/mtty.ko" ]; then
		cp "$obj/samples/vfio-mdev/mtty.ko" "$root/lib/modules/"
	fi
	# Our mpin mdev: an emulated device that pins IOVA on command.
	if [ -f "$obj/samples/vfio-mdev/mpin.ko" ]; then
		cp "$obj/samples/vfio-mdev/mpin.ko" "$root/lib/modules/"
	fi
	# Uncompressed: the debug kernel under TCG takes seconds to gunzip.
	(cd "$root" && find . | cpio -o -H newc --quiet >"$obj/initramfs.cpio")
}

# The unmodified legacy VFIO clients, the nested guest of
# vfio_qemu_nested with its own small kernel (built here), the tests that
# run them and their shell helpers, as a second cpio archive after the
# initramfs (the kernel unpacks one after the other): the test VMs carry
# it, the benchmark's goes without.
build_clients_initramfs() {
	local obj=$BUILD/obj-$1 root=$BUILD/obj-$1/clientfs t
	configure_kernel nested nested.config
	build_kernel nested bzImage
	rm -rf "$root"
	mkdir -p "$root/tests" "$root/nested" "$root/usr/lib/iommufd"
	copy_with_libs "$root" $QEMU_BIN $QEMU_FILES $DPDK_FILES
	cp "$BUILD/obj-nested/arch/x86/boot/bzImage" "$root/nested/"
	cp "$obj/guest/nested-initramfs.cpio" "$root/nested/initramfs.cpio"
	cp "$VMTEST/guest/vfio_client.sh" "$root/usr/lib/iommufd/"
	for t in vfio_qemu_nested vfio_dpdk_testpmd; do
		cp "$VMTEST/guest/$t.sh" "$root/tests/$t"
		chmod 755 "$root/tests/$t"
	done
	(cd "$root" && find . | cpio -o -H newc --quiet >>"$obj/initramfs.cpio")
}

# The config fragments of the debug kernel. 'make check' and 'make bench'
# both build it into build/obj-debug: with the same fragments, one build
# serves both (different ones would reconfigure and rebuild it each time
# the other command runs).
DEBUG_FRAGMENTS="base.config debug.config iommufd.config vfio-iommufd.config"

# Everything up to a bootable debug VM: packages, the patched tree, the
# configured and built kernel, the test programs and the initramfs.
build_debug_vm() {
	ensure_deps
	prepare_tree
	# shellcheck disable=SC2086
	configure_kernel debug $DEBUG_FRAGMENTS
	build_kernel debug
	build_guest_programs debug
	build_initramfs debug
	build_clients_initramfs debug
}

# The same, for the kernel whose /dev/vfio/vfio is VFIO's own type1
# container (CONFIG_VFIO_CONTAINER=y): the other backend of the programs
# written for the VFIO group API.
build_type1_vm() {
	configure_kernel type1 base.config debug.config iommufd.config vfio-type1.config
	build_kernel type1
	build_guest_programs type1
	build_initramfs type1
	build_clients_initramfs type1
}

# Boot the VM; the guest's console goes to stdout.
# $1: kernel name, $2: mode for init (test|demo|shell|bench), $3: timeout in s.
# IOMMUFD_INITRD: another initramfs than the kernel's own; IOMMUFD_VM_MEM:
# the guest's memory, when not the mode's.
boot_vm() {
	local name=$1 mode=$2 tmo=$3 obj=$BUILD/obj-$1
	local io="-display none -monitor none -serial stdio"
	# Both reserve one 1 GiB huge page at boot (hugepagesz=1G below), for
	# the benchmark and for a test that maps it to see a 1 GiB IOPTE in
	# the VT-d domain. Only a 4 GiB q35 guest has a free 1 GiB-aligned
	# block then: its RAM above 4 GiB (q35 keeps 2.75 GiB below); the
	# initramfs sits at the top of the RAM below.
	local mem=${IOMMUFD_VM_MEM:-4G}
	[ "$mode" = shell ] && io="-nographic"
	# Two edu devices on the root bus, each its own IOMMU group, and a
	# conventional PCI bridge whose edu and virtio-rng share one group
	# (devices behind a PCIe-to-PCI bridge alias to the bridge).
	# Two virtio-net NICs on the root bus, each its own IOMMU group,
	# joined by a hub so that what one sends the other receives: DPDK's
	# testpmd forwards between them (vfio_dpdk_testpmd). Their DMA goes
	# through the IOMMU only as modern devices with iommu_platform, and
	# only with intel-iommu before them on the command line.
	# printk.devkmsg=on: the guest logs the output of tests it runs at
	# the same time through /dev/kmsg, which otherwise drops most lines.
	# shellcheck disable=SC2086
	timeout --foreground -k 10 "$tmo" qemu-system-x86_64 \
		-machine q35,kernel-irqchip=split -accel tcg -smp 2 -m "$mem" \
		-cpu max,la57=off -no-reboot -nic none -vga none $io \
		-device intel-iommu,intremap=on,caching-mode=on \
		-device edu,id=edu0 -device edu,id=edu1 \
		-device pcie-pci-bridge,id=br0 \
		-device edu,id=edu2,bus=br0,addr=1 \
		-device virtio-rng-pci,id=rng0,bus=br0,addr=2 \
		-netdev hubport,id=net0,hubid=0 -netdev hubport,id=net1,hubid=0 \
		-device virtio-net-pci,netdev=net0,disable-legacy=on,iommu_platform=on \
		-device virtio-net-pci,netdev=net1,disable-legacy=on,iommu_platform=on \
		-kernel "$obj/arch/x86/boot/bzImage" \
		-initrd "${IOMMUFD_INITRD:-$obj/initramfs.cpio}" \
		-append "console=ttyS0 intel_iommu=on panic=-1 printk.devkmsg=on hugepagesz=2M hugepages=64 hugepagesz=1G hugepages=1 iommufd_mode=$mode ${IOMMUFD_CMDLINE:-}"
}

