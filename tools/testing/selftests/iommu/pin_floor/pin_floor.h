/* SPDX-License-Identifier: GPL-2.0 */
/*
 * pin_floor: the uAPI of the benchmark's pin floor module (pin_floor.c).
 * Shared by the module and by iommufd_bench, which finds it through
 * -I (it is not a kernel header).
 */
#ifndef _PIN_FLOOR_H
#define _PIN_FLOOR_H

#include <linux/ioctl.h>
#include <linux/types.h>

/**
 * struct pin_floor_cmd - PIN_FLOOR_PIN and PIN_FLOOR_UNPIN
 * @va: PIN: start of the range, page aligned
 * @length: PIN: bytes, a whole number of pages
 * @out_ns: nanoseconds spent in pin_user_pages_fast() (PIN) or in
 *          unpin_user_pages() (UNPIN) alone, the page array excluded
 * @out_pages: pages pinned (PIN) or unpinned (UNPIN)
 */
struct pin_floor_cmd {
	__u64 va;
	__u64 length;
	__u64 out_ns;
	__u64 out_pages;
};

#define PIN_FLOOR_PIN		_IOWR('P', 0x70, struct pin_floor_cmd)
#define PIN_FLOOR_UNPIN		_IOWR('P', 0x71, struct pin_floor_cmd)

#endif
