# SPDX-License-Identifier: GPL-2.0
# The two entry points of this repository; see README.md.

.PHONY: run check clean

run:
	bash vmtest/run.sh

check:
	bash vmtest/check.sh

clean:
	rm -rf build
