// SPDX-License-Identifier: GPL-2.0-only
/*
 * Dirty tracking: IOMMU_HWPT_ALLOC_DIRTY_TRACKING,
 * IOMMU_HWPT_SET_DIRTY_TRACKING, IOMMU_HWPT_GET_DIRTY_BITMAP and
 * IOMMU_GET_HW_INFO's IOMMU_HW_CAP_DIRTY_TRACKING, against the mock IOMMU.
 *
 * The mock plays a device's DMA writes with IOMMU_TEST_OP_DIRTY: it sets
 * the dirty bit of the IOPTEs of the blocks a bitmap names. Each test then
 * reads the dirty bitmap back and compares it bit for bit with what was
 * played, and MD_CHECK_REFS checks that no page of the user bitmap stays
 * pinned by the kernel's bitmap walker.
 */
#include <pthread.h>
#include <stddef.h>
#include <stdio.h>
#include <sys/mman.h>

#include "iommufd_utils.h"

/* The mock's IO page is half a CPU page, its huge IOPTE 512 of those. */
#define MOCK_PAGE (page_size / 2)
#define MOCK_HUGE (512 * MOCK_PAGE)
#define HUGEPAGE_2M (2UL << 20)

/* One mapping of BUF_PAGES CPU pages at IOVA_BASE in every fixture. */
#define BUF_PAGES 64
#define IOVA_BASE ((__u64)MOCK_APERTURE_START)

static unsigned long page_size;

static void __attribute__((constructor)) dirty_init(void)
{
	page_size = sysconf(_SC_PAGE_SIZE);
}

static bool all_zero(const void *buf, size_t len)
{
	const __u8 *p = buf;

	while (len--)
		if (*p++)
			return false;
	return true;
}

static bool test_bit_u8(const void *bitmap, unsigned long n)
{
	return ((const __u8 *)bitmap)[n / 8] & (1U << (n % 8));
}

static void set_bit_u8(void *bitmap, unsigned long n)
{
	((__u8 *)bitmap)[n / 8] |= 1U << (n % 8);
}

/* Bits of a bitmap of nbits bits that differ from the expected one. */
static unsigned long bitmap_diff(const void *got, const void *want,
				 unsigned long nbits)
{
	unsigned long n, diff = 0;

	for (n = 0; n != nbits; n++)
		diff += test_bit_u8(got, n) != test_bit_u8(want, n);
	return diff;
}

FIXTURE(dirty)
{
	int fd;
	__u32 ioas_id;
	__u32 stdev_id;
	__u32 idev_id;
	__u32 hwpt_id;
	char *buf;
};

FIXTURE_SETUP(dirty)
{
	test_setup_mock_hwpt(BUF_PAGES, IOVA_BASE, NULL,
			     IOMMU_HWPT_ALLOC_DIRTY_TRACKING, &self->hwpt_id);
}

FIXTURE_TEARDOWN(dirty)
{
	int fd;

	close(self->fd);
	/* Nothing may stay pinned once the context is gone. */
	fd = open("/dev/iommu", O_RDWR);
	if (fd >= 0) {
		EXPECT_EQ(0, _test_cmd_check_refs(fd, self->buf,
						  BUF_PAGES * page_size, 0));
		close(fd);
	}
	munmap(self->buf, BUF_PAGES * page_size);
}

/* hw_info: which device reports the capability. */
static __u64 hw_caps(int fd, __u32 idev_id)
{
	struct iommu_hw_info cmd = {
		.size = sizeof(cmd),
		.dev_id = idev_id,
	};

	if (ioctl(fd, IOMMU_GET_HW_INFO, &cmd))
		return ~0ULL;
	return cmd.out_capabilities;
}

TEST_F(dirty, alloc_and_capability)
{
	__u32 ioas_id, stdev_id, idev_id, hwpt_id, auto_hwpt;

	/* A device that can track reports it. */
	ASSERT_EQ(IOMMU_HW_CAP_DIRTY_TRACKING,
		  hw_caps(self->fd, self->idev_id));

	/* One that cannot: no capability, no such HWPT, no attach to one. */
	test_ioctl_ioas_alloc(&ioas_id);
	ASSERT_EQ(0, _test_cmd_mock_domain_flags_ids(self->fd, ioas_id,
						     MOCK_FLAGS_DEVICE_NO_DIRTY,
						     &stdev_id, &auto_hwpt,
						     &idev_id));
	ASSERT_EQ(0, hw_caps(self->fd, idev_id));
	EXPECT_ERRNO(EOPNOTSUPP,
		     _test_cmd_hwpt_alloc(self->fd, idev_id, ioas_id,
					  IOMMU_HWPT_ALLOC_DIRTY_TRACKING,
					  &hwpt_id));
	EXPECT_ERRNO(EINVAL,
		     _test_cmd_mock_domain_flags(self->fd, self->hwpt_id,
						 MOCK_FLAGS_DEVICE_NO_DIRTY,
						 NULL));
	/* Its automatic HWPT cannot track either. */
	EXPECT_ERRNO(EOPNOTSUPP,
		     _test_cmd_set_dirty_tracking(self->fd, auto_hwpt, true));
	test_ioctl_destroy(stdev_id);

	/* A capable device attaches to the dirty HWPT. */
	test_cmd_mock_domain(self->hwpt_id, &stdev_id, NULL, NULL);
	test_ioctl_destroy(stdev_id);

	/* A nesting parent may track dirty IOVA too; unknown flags may not. */
	ASSERT_EQ(0, _test_cmd_hwpt_alloc(self->fd, self->idev_id,
					  self->ioas_id,
					  IOMMU_HWPT_ALLOC_NEST_PARENT |
						  IOMMU_HWPT_ALLOC_DIRTY_TRACKING,
					  &hwpt_id));
	test_ioctl_destroy(hwpt_id);
	EXPECT_ERRNO(EOPNOTSUPP,
		     _test_cmd_hwpt_alloc(self->fd, self->idev_id,
					  self->ioas_id, 1U << 7, &hwpt_id));
	test_ioctl_destroy(self->hwpt_id);
	/* The IOAS stays held while a dirty HWPT mirrors it; no longer. */
	test_ioctl_destroy(ioas_id);
}

TEST_F(dirty, set_tracking_contract)
{
	struct iommu_hwpt_set_dirty_tracking cmd = {
		.size = sizeof(cmd),
		.flags = IOMMU_HWPT_DIRTY_TRACKING_ENABLE,
		.hwpt_id = self->hwpt_id,
	};
	__u32 auto_hwpt;

	/* On, on again, off, off again: all fine. */
	test_cmd_set_dirty_tracking(self->hwpt_id, true);
	test_cmd_set_dirty_tracking(self->hwpt_id, true);
	test_cmd_set_dirty_tracking(self->hwpt_id, false);
	test_cmd_set_dirty_tracking(self->hwpt_id, false);

	/* Unknown flags; __reserved is not checked, as upstream. */
	cmd.flags = 2;
	EXPECT_ERRNO(EOPNOTSUPP,
		     ioctl(self->fd, IOMMU_HWPT_SET_DIRTY_TRACKING, &cmd));
	cmd.flags = 0;
	cmd.__reserved = 1;
	ASSERT_EQ(0, ioctl(self->fd, IOMMU_HWPT_SET_DIRTY_TRACKING, &cmd));
	cmd.__reserved = 0;
	cmd.flags = IOMMU_HWPT_DIRTY_TRACKING_ENABLE;

	/* Objects that are not a HWPT, and IDs that name nothing. */
	cmd.hwpt_id = self->ioas_id;
	EXPECT_ERRNO(ENOENT,
		     ioctl(self->fd, IOMMU_HWPT_SET_DIRTY_TRACKING, &cmd));
	cmd.hwpt_id = self->stdev_id;
	EXPECT_ERRNO(ENOENT,
		     ioctl(self->fd, IOMMU_HWPT_SET_DIRTY_TRACKING, &cmd));
	cmd.hwpt_id = 0xfffff;
	EXPECT_ERRNO(ENOENT,
		     ioctl(self->fd, IOMMU_HWPT_SET_DIRTY_TRACKING, &cmd));

	/* A HWPT made without the flag: the device's automatic one. */
	ASSERT_EQ(0, _test_cmd_mock_domain(self->fd, self->ioas_id, NULL,
					   &auto_hwpt, NULL));
	EXPECT_ERRNO(EOPNOTSUPP,
		     _test_cmd_set_dirty_tracking(self->fd, auto_hwpt, true));
	EXPECT_ERRNO(EOPNOTSUPP,
		     _test_cmd_get_dirty_bitmap(self->fd, auto_hwpt, IOVA_BASE,
						page_size, page_size,
						self->buf, 0));
}

/* Short, long and zero-tailed structures of both ioctls. */
TEST_F(dirty, size_contract)
{
	static __u64 bitmap[1];
	struct {
		struct iommu_hwpt_get_dirty_bitmap cmd;
		__u64 tail;
	} get = {
		.cmd = {
			.hwpt_id = self->hwpt_id,
			.iova = IOVA_BASE,
			.length = page_size,
			.page_size = page_size,
			.data = (uintptr_t)bitmap,
		},
	};
	struct {
		struct iommu_hwpt_set_dirty_tracking cmd;
		__u64 tail;
	} set = {
		.cmd = {
			.flags = IOMMU_HWPT_DIRTY_TRACKING_ENABLE,
			.hwpt_id = self->hwpt_id,
		},
	};

	set.cmd.size = offsetof(struct iommu_hwpt_set_dirty_tracking,
				__reserved);
	EXPECT_ERRNO(EINVAL,
		     ioctl(self->fd, IOMMU_HWPT_SET_DIRTY_TRACKING, &set));
	set.cmd.size = sizeof(set);
	set.tail = 1ULL << 56;
	EXPECT_ERRNO(E2BIG,
		     ioctl(self->fd, IOMMU_HWPT_SET_DIRTY_TRACKING, &set));
	set.tail = 0;
	ASSERT_EQ(0, ioctl(self->fd, IOMMU_HWPT_SET_DIRTY_TRACKING, &set));
	set.cmd.size = sizeof(set.cmd);
	ASSERT_EQ(0, ioctl(self->fd, IOMMU_HWPT_SET_DIRTY_TRACKING, &set));

	get.cmd.size = offsetof(struct iommu_hwpt_get_dirty_bitmap, data);
	EXPECT_ERRNO(EINVAL, ioctl(self->fd, IOMMU_HWPT_GET_DIRTY_BITMAP, &get));
	get.cmd.size = sizeof(get);
	get.tail = 1;
	EXPECT_ERRNO(E2BIG, ioctl(self->fd, IOMMU_HWPT_GET_DIRTY_BITMAP, &get));
	get.tail = 0;
	ASSERT_EQ(0, ioctl(self->fd, IOMMU_HWPT_GET_DIRTY_BITMAP, &get));
	get.cmd.size = sizeof(get.cmd);
	ASSERT_EQ(0, ioctl(self->fd, IOMMU_HWPT_GET_DIRTY_BITMAP, &get));
}

TEST_F(dirty, get_bitmap_bad_input)
{
	struct iommu_hwpt_get_dirty_bitmap cmd = {
		.size = sizeof(cmd),
		.hwpt_id = self->hwpt_id,
		.iova = IOVA_BASE,
		.length = 8 * page_size,
		.page_size = page_size,
	};
	__u64 bitmap[4] = {};
	void *gone, *ro;

	cmd.data = (uintptr_t)bitmap;
	/* While tracking is off the mock has nothing to report. */
	EXPECT_ERRNO(EINVAL, ioctl(self->fd, IOMMU_HWPT_GET_DIRTY_BITMAP, &cmd));
	test_cmd_set_dirty_tracking(self->hwpt_id, true);
	ASSERT_EQ(0, ioctl(self->fd, IOMMU_HWPT_GET_DIRTY_BITMAP, &cmd));

	/* Flags and reserved bits. */
	cmd.flags = 2;
	EXPECT_ERRNO(EOPNOTSUPP,
		     ioctl(self->fd, IOMMU_HWPT_GET_DIRTY_BITMAP, &cmd));
	cmd.flags = 0;
	cmd.__reserved = 1;
	EXPECT_ERRNO(EOPNOTSUPP,
		     ioctl(self->fd, IOMMU_HWPT_GET_DIRTY_BITMAP, &cmd));
	cmd.__reserved = 0;
	cmd.hwpt_id = self->ioas_id;
	EXPECT_ERRNO(ENOENT, ioctl(self->fd, IOMMU_HWPT_GET_DIRTY_BITMAP, &cmd));
	cmd.hwpt_id = self->hwpt_id;

	/* page_size: zero, not a power of two. */
	cmd.page_size = 0;
	EXPECT_ERRNO(EINVAL, ioctl(self->fd, IOMMU_HWPT_GET_DIRTY_BITMAP, &cmd));
	cmd.page_size = 3 * page_size;
	cmd.length = 6 * page_size;
	EXPECT_ERRNO(EINVAL, ioctl(self->fd, IOMMU_HWPT_GET_DIRTY_BITMAP, &cmd));
	cmd.page_size = page_size;

	/* Zero length, and lengths and IOVAs off page_size. */
	cmd.length = 0;
	EXPECT_ERRNO(EINVAL, ioctl(self->fd, IOMMU_HWPT_GET_DIRTY_BITMAP, &cmd));
	cmd.length = page_size + MOCK_PAGE;
	EXPECT_ERRNO(EINVAL, ioctl(self->fd, IOMMU_HWPT_GET_DIRTY_BITMAP, &cmd));
	cmd.length = page_size;
	cmd.iova = IOVA_BASE + MOCK_PAGE;
	EXPECT_ERRNO(EINVAL, ioctl(self->fd, IOMMU_HWPT_GET_DIRTY_BITMAP, &cmd));
	/* Off the IOAS's IOVA alignment, with a tiny page_size. */
	cmd.page_size = 1;
	cmd.iova = IOVA_BASE + 1;
	EXPECT_ERRNO(EINVAL, ioctl(self->fd, IOMMU_HWPT_GET_DIRTY_BITMAP, &cmd));
	cmd.page_size = page_size;
	cmd.iova = IOVA_BASE;

	/* Wrapping ranges, and ranges far past what is mapped. */
	cmd.iova = -(__u64)page_size;
	cmd.length = 2 * page_size;
	EXPECT_ERRNO(EOVERFLOW,
		     ioctl(self->fd, IOMMU_HWPT_GET_DIRTY_BITMAP, &cmd));
	cmd.iova = -(__u64)page_size;
	cmd.length = page_size;
	EXPECT_ERRNO(EINVAL, ioctl(self->fd, IOMMU_HWPT_GET_DIRTY_BITMAP, &cmd));
	cmd.iova = IOVA_BASE;
	cmd.length = 1ULL << 62;
	EXPECT_ERRNO(EINVAL, ioctl(self->fd, IOMMU_HWPT_GET_DIRTY_BITMAP, &cmd));
	/* A page_size so large its bits' IOVA overflows a window's. */
	cmd.iova = 0;
	cmd.length = 3ULL << 62;
	cmd.page_size = 1ULL << 62;
	EXPECT_ERRNO(EINVAL, ioctl(self->fd, IOMMU_HWPT_GET_DIRTY_BITMAP, &cmd));
	cmd.iova = IOVA_BASE;
	cmd.page_size = page_size;
	/* One page past the mapping: a hole. */
	cmd.length = (BUF_PAGES + 1) * page_size;
	EXPECT_ERRNO(EINVAL, ioctl(self->fd, IOMMU_HWPT_GET_DIRTY_BITMAP, &cmd));
	cmd.iova = IOVA_BASE - page_size;
	cmd.length = 2 * page_size;
	EXPECT_ERRNO(EINVAL, ioctl(self->fd, IOMMU_HWPT_GET_DIRTY_BITMAP, &cmd));
	cmd.iova = IOVA_BASE;
	cmd.length = 8 * page_size;

	/* Bitmaps that cannot be written: NULL, unmapped, read-only. */
	cmd.data = 0;
	EXPECT_ERRNO(EFAULT, ioctl(self->fd, IOMMU_HWPT_GET_DIRTY_BITMAP, &cmd));
	gone = mmap(NULL, page_size, PROT_READ | PROT_WRITE,
		    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, gone);
	ASSERT_EQ(0, munmap(gone, page_size));
	cmd.data = (uintptr_t)gone;
	EXPECT_ERRNO(EFAULT, ioctl(self->fd, IOMMU_HWPT_GET_DIRTY_BITMAP, &cmd));
	ro = mmap(NULL, page_size, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1,
		  0);
	ASSERT_NE(MAP_FAILED, ro);
	cmd.data = (uintptr_t)ro;
	EXPECT_ERRNO(EFAULT, ioctl(self->fd, IOMMU_HWPT_GET_DIRTY_BITMAP, &cmd));
	munmap(ro, page_size);

	/* None of that left anything pinned. */
	ASSERT_EQ(0, _test_cmd_check_refs(self->fd,
					  (void *)((uintptr_t)bitmap &
						   ~(page_size - 1)),
					  page_size, 0));
}

/*
 * Play writes to the mock page size blocks of marks (a bitmap of nbits
 * bits from IOVA_BASE), then read them back at bitmap, read_size bytes of
 * IOVA per bit.
 */
static void play_and_read(struct __test_metadata *_metadata, int fd,
			  __u32 hwpt_id, const void *marks, unsigned long nbits,
			  void *bitmap, unsigned long read_size, __u32 flags)
{
	__u64 length = nbits * MOCK_PAGE;

	ASSERT_EQ(0, _test_cmd_mock_dirty(fd, hwpt_id, IOVA_BASE, length,
					  MOCK_PAGE, marks, NULL));
	memset(bitmap, 0, (length / read_size + 7) / 8);
	ASSERT_EQ(0, _test_cmd_get_dirty_bitmap(fd, hwpt_id, IOVA_BASE, length,
						read_size, bitmap, flags));
}

TEST_F(dirty, clear_and_no_clear)
{
	unsigned long nbits = BUF_PAGES * 2, n;
	__u8 marks[BUF_PAGES * 2 / 8] = {}, got[sizeof(marks)];
	__u8 page_marks[BUF_PAGES / 8] = {};
	__u64 nr;

	test_cmd_set_dirty_tracking(self->hwpt_id, true);
	for (n = 0; n < nbits; n += 3)
		set_bit_u8(marks, n);
	test_cmd_mock_dirty(self->hwpt_id, IOVA_BASE, nbits * MOCK_PAGE,
			    MOCK_PAGE, marks, &nr);
	ASSERT_EQ((nbits + 2) / 3, nr);

	/* NO_CLEAR reports and keeps: the same bits twice. */
	memset(got, 0, sizeof(got));
	test_cmd_get_dirty_bitmap(self->hwpt_id, IOVA_BASE, nbits * MOCK_PAGE,
				  MOCK_PAGE, got,
				  IOMMU_HWPT_GET_DIRTY_BITMAP_NO_CLEAR);
	ASSERT_EQ(0, bitmap_diff(got, marks, nbits));
	memset(got, 0, sizeof(got));
	test_cmd_get_dirty_bitmap(self->hwpt_id, IOVA_BASE, nbits * MOCK_PAGE,
				  MOCK_PAGE, got,
				  IOMMU_HWPT_GET_DIRTY_BITMAP_NO_CLEAR);
	ASSERT_EQ(0, bitmap_diff(got, marks, nbits));

	/* In CPU page bits: a page is dirty if either half is. */
	for (n = 0; n < nbits; n++)
		if (test_bit_u8(marks, n))
			set_bit_u8(page_marks, n / 2);
	memset(got, 0, sizeof(got));
	test_cmd_get_dirty_bitmap(self->hwpt_id, IOVA_BASE, nbits * MOCK_PAGE,
				  page_size, got,
				  IOMMU_HWPT_GET_DIRTY_BITMAP_NO_CLEAR);
	ASSERT_EQ(0, bitmap_diff(got, page_marks, BUF_PAGES));

	/* A read that clears reports once, then nothing. */
	memset(got, 0, sizeof(got));
	test_cmd_get_dirty_bitmap(self->hwpt_id, IOVA_BASE, nbits * MOCK_PAGE,
				  MOCK_PAGE, got, 0);
	ASSERT_EQ(0, bitmap_diff(got, marks, nbits));
	memset(got, 0, sizeof(got));
	test_cmd_get_dirty_bitmap(self->hwpt_id, IOVA_BASE, nbits * MOCK_PAGE,
				  MOCK_PAGE, got, 0);
	ASSERT_TRUE(all_zero(got, sizeof(got)));

	/* Turning tracking on again forgets what was recorded. */
	test_cmd_mock_dirty(self->hwpt_id, IOVA_BASE, nbits * MOCK_PAGE,
			    MOCK_PAGE, marks, &nr);
	test_cmd_set_dirty_tracking(self->hwpt_id, true);
	memset(got, 0, sizeof(got));
	test_cmd_get_dirty_bitmap(self->hwpt_id, IOVA_BASE, nbits * MOCK_PAGE,
				  MOCK_PAGE, got, 0);
	ASSERT_TRUE(all_zero(got, sizeof(got)));

	/* Only set, never cleared: bits userspace set stay set. */
	memset(got, 0xff, sizeof(got));
	test_cmd_get_dirty_bitmap(self->hwpt_id, IOVA_BASE, nbits * MOCK_PAGE,
				  MOCK_PAGE, got, 0);
	for (n = 0; n != sizeof(got); n++)
		ASSERT_EQ(0xff, got[n]);

	/* Reads of a sub-range report only it, at bit 0. */
	play_and_read(_metadata, self->fd, self->hwpt_id, marks, nbits, got,
		      MOCK_PAGE, IOMMU_HWPT_GET_DIRTY_BITMAP_NO_CLEAR);
	memset(got, 0, sizeof(got));
	test_cmd_get_dirty_bitmap(self->hwpt_id, IOVA_BASE + 3 * MOCK_PAGE * 2,
				  8 * page_size, MOCK_PAGE, got, 0);
	for (n = 0; n != 16; n++)
		ASSERT_EQ(test_bit_u8(marks, n + 6), test_bit_u8(got, n));
	for (n = 16; n != nbits; n++)
		ASSERT_FALSE(test_bit_u8(got, n));
}

/*
 * Bitmaps at every kind of address: page aligned, odd, just before a page
 * boundary so that the bits run across it. Nothing outside the bitmap's
 * bits may change.
 */
TEST_F(dirty, bitmap_layouts)
{
	const unsigned long offsets[] = { 0, 1, 7, 0xff1, 4096 - 3, 4096 - 1 };
	unsigned long nbits = BUF_PAGES * 2, bytes = nbits / 8, n, i;
	__u8 marks[BUF_PAGES * 2 / 8] = {};
	__u8 *area;

	area = mmap(NULL, 3 * page_size, PROT_READ | PROT_WRITE,
		    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, area);
	test_cmd_set_dirty_tracking(self->hwpt_id, true);
	for (n = 1; n < nbits; n += 5)
		set_bit_u8(marks, n);

	for (i = 0; i != ARRAY_SIZE(offsets); i++) {
		__u8 *bitmap = area + page_size + offsets[i] % page_size;

		memset(area, 0, 3 * page_size);
		play_and_read(_metadata, self->fd, self->hwpt_id, marks, nbits,
			      bitmap, MOCK_PAGE, 0);
		ASSERT_EQ(0, bitmap_diff(bitmap, marks, nbits));
		for (n = 0; n != 3 * page_size; n++)
			if (area + n < bitmap || area + n >= bitmap + bytes)
				ASSERT_EQ(0, area[n]);
	}
	ASSERT_EQ(0, _test_cmd_check_refs(self->fd, area, 3 * page_size, 0));
	munmap(area, 3 * page_size);
}

/*
 * 1 GiB of IOVA read at 4 KiB a bit: a 32 KiB bitmap over eight pages,
 * placed so that it does not start on a page. The IOVA is one 16 MiB
 * buffer mapped again and again, so little memory is pinned.
 */
TEST_F_TIMEOUT(dirty, one_gib, 600)
{
	const __u64 gib = 1ULL << 30, base = IOVA_BASE + (1ULL << 28);
	const unsigned long chunk = 16UL << 20;
	unsigned long nbits = gib / 4096, n;
	__u32 hwpt_id = self->hwpt_id;
	__u8 *area, *bitmap, *marks;
	char *buf;
	__u64 iova;

	if (page_size != 4096)
		SKIP(return, "the test assumes 4 KiB pages");
	buf = test_alloc_small_pages(chunk / page_size);
	ASSERT_NE(NULL, buf);
	for (iova = base; iova != base + gib; iova += chunk)
		test_ioctl_ioas_map_fixed(self->ioas_id, buf, chunk, iova);
	test_cmd_set_dirty_tracking(hwpt_id, true);

	area = mmap(NULL, 10 * page_size, PROT_READ | PROT_WRITE,
		    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, area);
	memset(area, 0, 10 * page_size);
	bitmap = area + 100;
	marks = calloc(1, nbits / 8);
	ASSERT_NE(NULL, marks);
	/* Sparse, plus the first and last page, and each bitmap page edge. */
	for (n = 0; n < nbits; n += 997)
		set_bit_u8(marks, n);
	set_bit_u8(marks, nbits - 1);
	for (n = 1; n != 8; n++) {
		set_bit_u8(marks, n * 4096 * 8 - 100 * 8 - 1);
		set_bit_u8(marks, n * 4096 * 8 - 100 * 8);
	}
	test_cmd_mock_dirty(hwpt_id, base, gib, 4096, marks, NULL);
	test_cmd_get_dirty_bitmap(hwpt_id, base, gib, 4096, bitmap, 0);
	ASSERT_EQ(0, bitmap_diff(bitmap, marks, nbits));
	for (n = 0; n != 100; n++)
		ASSERT_EQ(0, area[n]);
	for (n = 100 + nbits / 8; n != 10 * page_size; n++)
		ASSERT_EQ(0, area[n]);
	ASSERT_EQ(0, _test_cmd_check_refs(self->fd, area, 10 * page_size, 0));

	/* Cleared by that read. */
	memset(area, 0, 10 * page_size);
	test_cmd_get_dirty_bitmap(hwpt_id, base, gib, 4096, bitmap, 0);
	for (n = 0; n != 10 * page_size; n++)
		ASSERT_EQ(0, area[n]);

	free(marks);
	munmap(area, 10 * page_size);
	test_ioctl_ioas_unmap(self->ioas_id, base, gib);
	ASSERT_EQ(0, _test_cmd_check_refs(self->fd, buf, chunk, 0));
	munmap(buf, chunk);
}

/*
 * A device whose domains map huge IOPTEs (MOCK_FLAGS_DEVICE_HUGE_IOVA):
 * the dirty state of a huge IOPTE is reported and cleared whole.
 */
TEST_F(dirty, huge_iopte)
{
	unsigned long nbits = 2 * HUGEPAGE_2M / MOCK_PAGE, per = MOCK_HUGE /
							MOCK_PAGE, n;
	__u32 ioas_id, stdev_id, idev_id, hwpt_id;
	__u8 *marks, *got;
	void *huge;

	huge = mmap(NULL, 2 * HUGEPAGE_2M, PROT_READ | PROT_WRITE,
		    MAP_PRIVATE | MAP_ANONYMOUS | MAP_HUGETLB | MAP_POPULATE,
		    -1, 0);
	if (huge == MAP_FAILED)
		VM_SKIP(return, "no 2 MiB hugetlb pages");
	test_ioctl_ioas_alloc(&ioas_id);
	test_ioctl_ioas_map_fixed(ioas_id, huge, 2 * HUGEPAGE_2M, IOVA_BASE);
	ASSERT_EQ(0,
		  _test_cmd_mock_domain_flags_ids(self->fd, ioas_id,
						  MOCK_FLAGS_DEVICE_HUGE_IOVA,
						  &stdev_id, NULL, &idev_id));
	ASSERT_EQ(0, _test_cmd_hwpt_alloc(self->fd, idev_id, ioas_id,
					  IOMMU_HWPT_ALLOC_DIRTY_TRACKING,
					  &hwpt_id));
	test_cmd_set_dirty_tracking(hwpt_id, true);

	marks = calloc(2, nbits / 8);
	ASSERT_NE(NULL, marks);
	got = marks + nbits / 8;
	/* One IO page in the second and in the last huge IOPTE. */
	set_bit_u8(marks, per + 5);
	set_bit_u8(marks, nbits - 1);
	test_cmd_mock_dirty(hwpt_id, IOVA_BASE, 2 * HUGEPAGE_2M, MOCK_PAGE,
			    marks, NULL);

	/* Half of a dirty huge IOPTE cannot be reported: EPROTO. */
	EXPECT_ERRNO(EPROTO,
		     _test_cmd_get_dirty_bitmap(self->fd, hwpt_id,
						IOVA_BASE + MOCK_HUGE,
						MOCK_HUGE / 2, MOCK_PAGE, got,
						IOMMU_HWPT_GET_DIRTY_BITMAP_NO_CLEAR));
	/* A clean one can. */
	memset(got, 0, nbits / 8);
	test_cmd_get_dirty_bitmap(hwpt_id, IOVA_BASE, MOCK_HUGE / 2, MOCK_PAGE,
				  got, 0);
	for (n = 0; n != per / 2; n++)
		ASSERT_FALSE(test_bit_u8(got, n));

	/* The whole: each dirty IOPTE's every IO page. */
	memset(got, 0, nbits / 8);
	test_cmd_get_dirty_bitmap(hwpt_id, IOVA_BASE, 2 * HUGEPAGE_2M,
				  MOCK_PAGE, got, 0);
	for (n = 0; n != nbits; n++)
		ASSERT_EQ(n / per == 1 || n / per == nbits / per - 1,
			  test_bit_u8(got, n));
	/* And cleared whole. */
	memset(got, 0, nbits / 8);
	test_cmd_get_dirty_bitmap(hwpt_id, IOVA_BASE, 2 * HUGEPAGE_2M,
				  MOCK_PAGE, got, 0);
	for (n = 0; n != nbits / 8; n++)
		ASSERT_EQ(0, got[n]);

	free(marks);
	test_ioctl_destroy(hwpt_id);
	test_ioctl_destroy(stdev_id);
	test_ioctl_destroy(ioas_id);
	munmap(huge, 2 * HUGEPAGE_2M);
}

/* Unmapped IOVA is no longer reported, and a read over it is refused. */
TEST_F(dirty, unmap_and_destroy_order)
{
	unsigned long nbits = BUF_PAGES * 2;
	__u8 marks[BUF_PAGES * 2 / 8], got[sizeof(marks)];
	__u32 hwpt2;

	memset(marks, 0xff, sizeof(marks));
	test_cmd_set_dirty_tracking(self->hwpt_id, true);
	test_cmd_mock_dirty(self->hwpt_id, IOVA_BASE, nbits * MOCK_PAGE,
			    MOCK_PAGE, marks, NULL);
	/* The IOAS is held by the HWPT. */
	EXPECT_ERRNO(EBUSY, _test_ioctl_destroy(self->fd, self->ioas_id));
	test_ioctl_ioas_unmap(self->ioas_id, IOVA_BASE, BUF_PAGES * page_size);
	EXPECT_ERRNO(EINVAL,
		     _test_cmd_get_dirty_bitmap(self->fd, self->hwpt_id,
						IOVA_BASE, page_size, MOCK_PAGE,
						got, 0));
	/* Mapped again: clean. */
	test_ioctl_ioas_map_fixed(self->ioas_id, self->buf,
				  BUF_PAGES * page_size, IOVA_BASE);
	memset(got, 0, sizeof(got));
	test_cmd_get_dirty_bitmap(self->hwpt_id, IOVA_BASE, nbits * MOCK_PAGE,
				  MOCK_PAGE, got, 0);
	for (unsigned long n = 0; n != sizeof(got); n++)
		ASSERT_EQ(0, got[n]);

	/* A second dirty HWPT, left tracking, goes with the context. */
	ASSERT_EQ(0, _test_cmd_hwpt_alloc(self->fd, self->idev_id,
					  self->ioas_id,
					  IOMMU_HWPT_ALLOC_DIRTY_TRACKING,
					  &hwpt2));
	test_cmd_set_dirty_tracking(hwpt2, true);
	test_cmd_mock_dirty(hwpt2, IOVA_BASE, nbits * MOCK_PAGE, MOCK_PAGE,
			    marks, NULL);
	test_ioctl_destroy(self->hwpt_id);
}

struct race {
	int fd;
	__u32 hwpt_id;
	int stop; /* __atomic */
	unsigned long reads, errors;
	int bad_errno;
	void *bitmap;
};

static void *race_reader(void *arg)
{
	struct race *r = arg;

	while (!__atomic_load_n(&r->stop, __ATOMIC_RELAXED)) {
		memset(r->bitmap, 0, BUF_PAGES * 2 / 8);
		if (!_test_cmd_get_dirty_bitmap(r->fd, r->hwpt_id, IOVA_BASE,
						BUF_PAGES * page_size,
						MOCK_PAGE, r->bitmap,
						r->reads & 1 ?
							IOMMU_HWPT_GET_DIRTY_BITMAP_NO_CLEAR :
							0)) {
			r->reads++;
			continue;
		}
		r->errors++;
		/* A hole while unmapped, or the HWPT going away. */
		if (errno != EINVAL && errno != ENOENT)
			r->bad_errno = errno;
		if (errno == ENOENT)
			break;
	}
	return NULL;
}

/*
 * One thread reads the dirty bitmap while another unmaps and maps the
 * IOVA under it and plays writes, then destroys the HWPT under it. No
 * splat, no errno but EINVAL (a hole) and ENOENT (the HWPT gone), no pin
 * left behind.
 */
TEST_F_TIMEOUT(dirty, race_read_unmap_destroy, 300)
{
	__u8 marks[BUF_PAGES * 2 / 8];
	struct race r = {
		.fd = self->fd,
		.hwpt_id = self->hwpt_id,
	};
	pthread_t thread;
	unsigned int i;
	int rc;

	r.bitmap = calloc(1, sizeof(marks));
	ASSERT_NE(NULL, r.bitmap);
	memset(marks, 0x5a, sizeof(marks));
	test_cmd_set_dirty_tracking(self->hwpt_id, true);
	ASSERT_EQ(0, pthread_create(&thread, NULL, race_reader, &r));
	for (i = 0; i != 300; i++) {
		_test_cmd_mock_dirty(self->fd, self->hwpt_id, IOVA_BASE,
				     BUF_PAGES * page_size, MOCK_PAGE, marks,
				     NULL);
		test_ioctl_ioas_unmap(self->ioas_id, IOVA_BASE,
				      BUF_PAGES * page_size);
		test_ioctl_ioas_map_fixed(self->ioas_id, self->buf,
					  BUF_PAGES * page_size, IOVA_BASE);
	}
	/* Destroy under the reader: EBUSY only while a read holds it. */
	for (i = 0; i != 100000; i++) {
		rc = _test_ioctl_destroy(self->fd, self->hwpt_id);
		if (!rc || errno != EBUSY)
			break;
	}
	ASSERT_EQ(0, rc);
	__atomic_store_n(&r.stop, 1, __ATOMIC_RELAXED);
	ASSERT_EQ(0, pthread_join(thread, NULL));
	TH_LOG("%lu reads, %lu refused", r.reads, r.errors);
	ASSERT_EQ(0, r.bad_errno);
	ASSERT_EQ(0, _test_cmd_check_refs(self->fd,
					  (void *)((uintptr_t)r.bitmap &
						   ~(page_size - 1)),
					  page_size, 0));
	free(r.bitmap);
}

TEST_HARNESS_MAIN
