# SPDX-License-Identifier: GPL-2.0
# The two entry points of this repository; see README.md.

.PHONY: run check bench clean

run:
	bash vmtest/run.sh

# TESTS="prog ..." runs only those test programs in the guest: the quick
# loop while working on one file.
check:
	IOMMUFD_TESTS="$(TESTS)" bash vmtest/check.sh

bench:
	bash vmtest/bench.sh

clean:
	rm -rf build
