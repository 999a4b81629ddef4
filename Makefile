# SPDX-License-Identifier: GPL-2.0
# The two entry points of this repository; see README.md.

.PHONY: run check bench fuzz syz-build upstream-check clean

run:
	bash vmtest/run.sh

# TESTS="prog ..." runs only those test programs in the guest: the quick
# loop while working on one file. TYPE1=1 also runs them on the kernel
# whose /dev/vfio/vfio is VFIO's type1 container (a full check always does).
check:
	IOMMUFD_TESTS="$(TESTS)" IOMMUFD_TYPE1="$(TYPE1)" bash vmtest/check.sh

bench:
	bash vmtest/bench.sh

# Not part of check: syz-stress in the VM for FUZZ_TIME seconds, with the
# syzkaller binaries of SYZ_BIN (see tools/testing/fuzz/README.md).
fuzz:
	FUZZ_TIME="$(FUZZ_TIME)" SYZ_BIN="$(SYZ_BIN)" bash vmtest/fuzz.sh

# syzkaller built with the descriptions of tools/testing/fuzz from the
# git repository SYZ_SRC, into build/syzkaller/bin (for SYZ_BIN above).
syz-build:
	SYZ_SRC="$(SYZ_SRC)" bash vmtest/syz_build.sh

# Not part of check: upstream 6.12's iommufd selftests on upstream 6.12
# and on our kernel; fails on any case that passes there and not here.
upstream-check:
	bash vmtest/upstream_check.sh

clean:
	rm -rf build
