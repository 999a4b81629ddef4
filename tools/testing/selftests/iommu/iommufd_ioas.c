// SPDX-License-Identifier: GPL-2.0-only
/*
 * IOMMU_IOAS_MAP, IOMMU_IOAS_UNMAP, IOMMU_IOAS_COPY and
 * IOMMU_IOAS_ALLOW_IOVAS on IO address spaces with no device attached:
 * how the IOVA space is handed out and given back, and the errno of every
 * kind of bad input.
 *
 * Without a device nothing is pinned, so the user memory is never touched
 * and a mapping only occupies IOVA. That is what lets these tests map the
 * same pages many times, and even memory the process does not have.
 */
#include <stdbool.h>
#include <stdlib.h>
#include <sys/mman.h>

#include "iommufd_utils.h"

#define BUFFER_PAGES 16
#define SZ_2M (2UL << 20)
/* The huge buffer is this long and starts at a multiple of its length. */
#define HUGE_SIZE (4UL << 20)

static unsigned long page_size;
/* BUFFER_PAGES pages of ordinary memory. */
static char *buffer;
static size_t buffer_size;
/* HUGE_SIZE bytes aligned to HUGE_SIZE, never touched. */
static char *huge_buffer;

static __attribute__((constructor)) void setup_buffers(void)
{
	char *raw;
	uintptr_t aligned;

	page_size = sysconf(_SC_PAGE_SIZE);
	buffer_size = BUFFER_PAGES * page_size;
	buffer = mmap(NULL, buffer_size, PROT_READ | PROT_WRITE,
		      MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	raw = mmap(NULL, 2 * HUGE_SIZE, PROT_READ | PROT_WRITE,
		   MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (raw == MAP_FAILED) {
		huge_buffer = MAP_FAILED;
		return;
	}
	aligned = ((uintptr_t)raw + HUGE_SIZE - 1) & ~(HUGE_SIZE - 1);
	huge_buffer = (char *)aligned;
}

/* One mapping as userspace knows it: where it is and how long. */
struct area {
	__u64 iova;
	__u64 length;
};

static int area_cmp(const void *a, const void *b)
{
	const struct area *x = a;
	const struct area *y = b;

	if (x->iova == y->iova)
		return 0;
	return x->iova < y->iova ? -1 : 1;
}

/* Sort the areas by IOVA; true when no two of them share an IOVA. */
static bool areas_disjoint(struct area *areas, size_t num)
{
	size_t i;

	qsort(areas, num, sizeof(*areas), area_cmp);
	for (i = 1; i < num; i++) {
		__u64 prev_last = areas[i - 1].iova + areas[i - 1].length - 1;

		if (prev_last >= areas[i].iova)
			return false;
	}
	return true;
}

static bool is_aligned(__u64 value, __u64 alignment)
{
	return (value & (alignment - 1)) == 0;
}

static bool in_range(__u64 iova, __u64 length,
		     const struct iommu_iova_range *range)
{
	return iova >= range->start && iova + length - 1 <= range->last;
}

/* IOMMU_IOAS_IOVA_RANGES must report the whole 64-bit space. */
static void check_iova_ranges_full(struct __test_metadata *_metadata, int fd,
				   __u32 ioas_id)
{
	struct iommu_iova_range ranges[2] = {};
	__u32 num = 2;

	ASSERT_EQ(0, _test_ioctl_iova_ranges(fd, ioas_id, ranges, &num, NULL));
	ASSERT_EQ(1, num);
	ASSERT_EQ(0, ranges[0].start);
	ASSERT_EQ(UINT64_MAX, ranges[0].last);
}

FIXTURE(iommufd_ioas)
{
	int fd;
	__u32 ioas_id;
};

FIXTURE_SETUP(iommufd_ioas)
{
	ASSERT_NE(MAP_FAILED, buffer);
	ASSERT_NE(MAP_FAILED, huge_buffer);
	self->fd = open("/dev/iommu", O_RDWR);
	ASSERT_LE(0, self->fd);
	test_ioctl_ioas_alloc(&self->ioas_id);
}

/*
 * Whatever a test left mapped goes away with the context. No ASSERT here:
 * after a failed ASSERT in the test, an ASSERT in the teardown would jump
 * back into the teardown again and again (see iommufd.c).
 */
FIXTURE_TEARDOWN(iommufd_ioas)
{
	close(self->fd);
}

/* IOMMU_IOAS_MAP */

TEST_F(iommufd_ioas, map_fixed)
{
	__u64 top = UINT64_MAX - page_size + 1;

	test_ioctl_ioas_map_fixed(self->ioas_id, buffer, buffer_size,
				  256 * page_size);
	/* Only kernel-chosen IOVAs avoid 0; a fixed one may be 0. */
	test_ioctl_ioas_map_fixed(self->ioas_id, buffer, page_size, 0);
	/* The last page of the 64-bit space ends exactly at UINT64_MAX. */
	test_ioctl_ioas_map_fixed(self->ioas_id, buffer, page_size, top);

	test_ioctl_ioas_unmap(self->ioas_id, 256 * page_size, buffer_size);
	test_ioctl_ioas_unmap(self->ioas_id, 0, page_size);
	test_ioctl_ioas_unmap(self->ioas_id, top, page_size);
	test_ioctl_ioas_unmap_all(self->ioas_id, 0);
}

TEST_F(iommufd_ioas, map_auto)
{
	__u64 iova = 0;

	test_ioctl_ioas_map(self->ioas_id, buffer, buffer_size, &iova);
	ASSERT_NE(0, iova);
	ASSERT_TRUE(is_aligned(iova, page_size));
	test_ioctl_ioas_unmap(self->ioas_id, iova, buffer_size);
	test_ioctl_ioas_unmap_all(self->ioas_id, 0);
}

TEST_F(iommufd_ioas, map_read_only_and_write_only)
{
	__u64 iova = 16 * page_size;

	ASSERT_EQ(0, _test_ioctl_ioas_map(self->fd, self->ioas_id, buffer,
					  page_size, &iova,
					  IOMMU_IOAS_MAP_FIXED_IOVA |
						  IOMMU_IOAS_MAP_READABLE));
	iova = 32 * page_size;
	ASSERT_EQ(0, _test_ioctl_ioas_map(self->fd, self->ioas_id, buffer,
					  page_size, &iova,
					  IOMMU_IOAS_MAP_FIXED_IOVA |
						  IOMMU_IOAS_MAP_WRITEABLE));
	test_ioctl_ioas_unmap_all(self->ioas_id, 2 * page_size);
}

TEST_F(iommufd_ioas, map_same_memory_twice)
{
	__u64 iova = 0;

	/* Nothing stops one page from being reachable at several IOVAs. */
	test_ioctl_ioas_map_fixed(self->ioas_id, buffer, buffer_size,
				  64 * page_size);
	test_ioctl_ioas_map(self->ioas_id, buffer, buffer_size, &iova);
	ASSERT_TRUE(iova + buffer_size <= 64 * page_size ||
		    iova >= 64 * page_size + buffer_size);
	test_ioctl_ioas_unmap_all(self->ioas_id, 2 * buffer_size);
}

TEST_F(iommufd_ioas, map_bad_flags)
{
	struct iommu_ioas_map cmd = {
		.size = sizeof(cmd),
		.flags = TEST_MAP_RW,
		.ioas_id = self->ioas_id,
		.user_va = (uintptr_t)buffer,
		.length = page_size,
	};
	__u64 iova = 16 * page_size;

	cmd.flags = TEST_MAP_RW | (1U << 3);
	EXPECT_ERRNO(EOPNOTSUPP, ioctl(self->fd, IOMMU_IOAS_MAP, &cmd));
	cmd.flags = TEST_MAP_RW | (1U << 31);
	EXPECT_ERRNO(EOPNOTSUPP, ioctl(self->fd, IOMMU_IOAS_MAP, &cmd));
	cmd.flags = TEST_MAP_RW;
	cmd.__reserved = 1;
	EXPECT_ERRNO(EOPNOTSUPP, ioctl(self->fd, IOMMU_IOAS_MAP, &cmd));

	/* Neither readable nor writeable. */
	EXPECT_ERRNO(EINVAL, _test_ioctl_ioas_map(self->fd, self->ioas_id,
						  buffer, page_size, &iova, 0));
	EXPECT_ERRNO(EINVAL, _test_ioctl_ioas_map(self->fd, self->ioas_id,
						  buffer, page_size, &iova,
						  IOMMU_IOAS_MAP_FIXED_IOVA));

	test_ioctl_ioas_unmap_all(self->ioas_id, 0);
}

TEST_F(iommufd_ioas, map_bad_ioas_id)
{
	__u64 iova = 0;
	__u32 gone;

	EXPECT_ERRNO(ENOENT, _test_ioctl_ioas_map(self->fd, 0, buffer,
						  page_size, &iova,
						  TEST_MAP_RW));
	test_ioctl_ioas_alloc(&gone);
	test_ioctl_destroy(gone);
	iova = 16 * page_size;
	EXPECT_ERRNO(ENOENT, _test_ioctl_ioas_map(self->fd, gone, buffer,
						  page_size, &iova,
						  IOMMU_IOAS_MAP_FIXED_IOVA |
							  TEST_MAP_RW));
}

TEST_F(iommufd_ioas, map_overflow)
{
	struct iommu_ioas_map cmd = {
		.size = sizeof(cmd),
		.flags = IOMMU_IOAS_MAP_FIXED_IOVA | TEST_MAP_RW,
		.ioas_id = self->ioas_id,
		.user_va = (uintptr_t)buffer,
		.length = page_size,
	};

	/* An IOVA or a length of ULONG_MAX or more. */
	cmd.iova = UINT64_MAX;
	EXPECT_ERRNO(EOVERFLOW, ioctl(self->fd, IOMMU_IOAS_MAP, &cmd));
	cmd.iova = 16 * page_size;
	cmd.length = UINT64_MAX;
	EXPECT_ERRNO(EOVERFLOW, ioctl(self->fd, IOMMU_IOAS_MAP, &cmd));
	cmd.flags = TEST_MAP_RW;
	EXPECT_ERRNO(EOVERFLOW, ioctl(self->fd, IOMMU_IOAS_MAP, &cmd));
	/* The IOVA is range checked even when the kernel is to choose. */
	cmd.length = page_size;
	cmd.iova = UINT64_MAX;
	EXPECT_ERRNO(EOVERFLOW, ioctl(self->fd, IOMMU_IOAS_MAP, &cmd));
	/* The kernel chooses for less than half of the IOVA space. */
	cmd.iova = 0;
	cmd.user_va = 0;
	cmd.flags = IOMMU_IOAS_MAP_READABLE;
	cmd.length = UINT64_MAX / 2;
	EXPECT_ERRNO(EOVERFLOW, ioctl(self->fd, IOMMU_IOAS_MAP, &cmd));
	cmd.flags = TEST_MAP_RW;
	cmd.user_va = (uintptr_t)buffer;
	cmd.length = page_size;

	/* The user memory would run past the end of the address space. */
	cmd.iova = 16 * page_size;
	cmd.user_va = UINT64_MAX - page_size + 1;
	cmd.length = 2 * page_size;
	EXPECT_ERRNO(EOVERFLOW, ioctl(self->fd, IOMMU_IOAS_MAP, &cmd));
	cmd.flags = IOMMU_IOAS_MAP_FIXED_IOVA | TEST_MAP_RW;
	EXPECT_ERRNO(EOVERFLOW, ioctl(self->fd, IOMMU_IOAS_MAP, &cmd));

	/* The fixed IOVA range would wrap. */
	cmd.user_va = (uintptr_t)buffer;
	cmd.iova = UINT64_MAX - page_size + 1;
	cmd.length = 2 * page_size;
	EXPECT_ERRNO(EOVERFLOW, ioctl(self->fd, IOMMU_IOAS_MAP, &cmd));
	cmd.iova = UINT64_MAX - 2 * page_size + 1;
	cmd.length = buffer_size;
	EXPECT_ERRNO(EOVERFLOW, ioctl(self->fd, IOMMU_IOAS_MAP, &cmd));

	test_ioctl_ioas_unmap_all(self->ioas_id, 0);
}

TEST_F(iommufd_ioas, map_bad_length)
{
	__u64 iova;

	iova = 16 * page_size;
	EXPECT_ERRNO(EINVAL, _test_ioctl_ioas_map(self->fd, self->ioas_id,
						  buffer, 0, &iova,
						  IOMMU_IOAS_MAP_FIXED_IOVA |
							  TEST_MAP_RW));
	EXPECT_ERRNO(EINVAL, _test_ioctl_ioas_map(self->fd, self->ioas_id,
						  buffer, 0, &iova,
						  TEST_MAP_RW));

	test_ioctl_ioas_unmap_all(self->ioas_id, 0);
}

/*
 * Nothing translates IOVA while no domain is attached, so memory, IOVA
 * and length may be at any byte granularity, as upstream allows. Turning
 * large IOPTEs off (IOMMU_OPTION_HUGE_PAGES 0) maps page by page, which
 * needs whole pages on both sides.
 */
TEST_F(iommufd_ioas, map_unaligned)
{
	struct iommu_option page_by_page = {
		.size = sizeof(page_by_page),
		.option_id = IOMMU_OPTION_HUGE_PAGES,
		.op = IOMMU_OPTION_OP_SET,
		.object_id = self->ioas_id,
		.val64 = 0,
	};
	const struct {
		size_t offset;
		__u64 length;
		__u64 iova;	/* 0: the kernel chooses */
	} cases[] = {
		{ 1, page_size, 16 * page_size },
		{ 0, page_size + 1, 32 * page_size },
		{ 0, page_size / 2, 48 * page_size },
		{ 0, page_size, 64 * page_size + 1 },
		{ page_size / 2, 3 * page_size - 1, 0 },
		{ 3, 2 * page_size, 0 },
	};
	unsigned int i;

	for (i = 0; i != ARRAY_SIZE(cases); i++) {
		__u64 iova = cases[i].iova;
		__u32 flags = TEST_MAP_RW;

		TH_LOG("case %u", i);
		if (iova)
			flags |= IOMMU_IOAS_MAP_FIXED_IOVA;
		ASSERT_EQ(0, _test_ioctl_ioas_map(self->fd, self->ioas_id,
						  buffer + cases[i].offset,
						  cases[i].length, &iova,
						  flags));
		/* A chosen IOVA keeps the memory's offset into its page. */
		if (!cases[i].iova)
			ASSERT_EQ(cases[i].offset, iova % page_size);
		test_ioctl_ioas_unmap(self->ioas_id, iova, cases[i].length);
	}

	ASSERT_EQ(0, ioctl(self->fd, IOMMU_OPTION, &page_by_page));
	for (i = 0; i != ARRAY_SIZE(cases); i++) {
		__u64 iova = cases[i].iova;
		__u32 flags = TEST_MAP_RW;

		TH_LOG("page by page, case %u", i);
		if (iova)
			flags |= IOMMU_IOAS_MAP_FIXED_IOVA;
		EXPECT_ERRNO(EINVAL,
			     _test_ioctl_ioas_map(self->fd, self->ioas_id,
						  buffer + cases[i].offset,
						  cases[i].length, &iova,
						  flags));
	}
	test_ioctl_ioas_unmap_all(self->ioas_id, 0);
}

TEST_F(iommufd_ioas, map_fixed_overlap)
{
	const __u64 pg = page_size, base = 64 * pg;
	/* Each overlaps the four pages mapped at base. */
	struct {
		__u64 iova;
		__u64 length;
	} overlaps[] = {
		{ base, 4 * pg },		/* the same */
		{ base - pg, 2 * pg },		/* its head */
		{ base + 3 * pg, 2 * pg },	/* its tail */
		{ base + pg, pg },		/* inside it */
		{ base + pg, 3 * pg },		/* up to its end */
		{ base - pg, 6 * pg },		/* around it */
		{ 0, base + 16 * pg },		/* far around it */
	};
	unsigned int i;

	test_ioctl_ioas_map_fixed(self->ioas_id, buffer, 4 * page_size, base);
	for (i = 0; i != ARRAY_SIZE(overlaps); i++) {
		__u64 iova = overlaps[i].iova;

		TH_LOG("overlap %u", i);
		EXPECT_ERRNO(EEXIST,
			     _test_ioctl_ioas_map(self->fd, self->ioas_id,
						  huge_buffer,
						  overlaps[i].length, &iova,
						  IOMMU_IOAS_MAP_FIXED_IOVA |
							  TEST_MAP_RW));
	}

	/* Touching is not overlapping. */
	test_ioctl_ioas_map_fixed(self->ioas_id, buffer, page_size,
				  base - page_size);
	test_ioctl_ioas_map_fixed(self->ioas_id, buffer, page_size,
				  base + 4 * page_size);

	/* None of the refused maps left anything behind. */
	test_ioctl_ioas_unmap_all(self->ioas_id, 6 * page_size);
}

TEST_F(iommufd_ioas, map_memory_the_process_lacks)
{
	size_t length = 4 * page_size;
	__u64 iova = 0;
	void *gone, *none;

	/* An address range that was mapped once and is not any more. */
	gone = mmap(NULL, length, PROT_READ | PROT_WRITE,
		    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, gone);
	ASSERT_EQ(0, munmap(gone, length));
	/* And memory that no one may access at all. */
	none = mmap(NULL, length, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1,
		    0);
	ASSERT_NE(MAP_FAILED, none);

	/* With no device attached there is nothing to pin yet. */
	test_ioctl_ioas_map_fixed(self->ioas_id, gone, length,
				  64 * page_size);
	test_ioctl_ioas_map_fixed(self->ioas_id, none, length,
				  128 * page_size);
	test_ioctl_ioas_map(self->ioas_id, gone, length, &iova);
	ASSERT_NE(0, iova);

	test_ioctl_ioas_unmap(self->ioas_id, 64 * page_size, length);
	test_ioctl_ioas_unmap(self->ioas_id, iova, length);
	test_ioctl_ioas_unmap(self->ioas_id, 128 * page_size, length);
	ASSERT_EQ(0, munmap(none, length));
}

/*
 * A kernel-chosen IOVA keeps the alignment of the user address as far as
 * the length allows, capped at 2 MiB: min(roundup_pow_of_two(length),
 * lowest set bit of user_va, 2 MiB).
 */
TEST_F(iommufd_ioas, auto_iova_alignment)
{
	struct {
		unsigned long offset;
		unsigned long length;
		unsigned long alignment;
	} cases[] = {
		{ 0, SZ_2M, SZ_2M },
		{ 0, HUGE_SIZE, SZ_2M },
		{ 0, 3 * page_size, 4 * page_size },
		{ 0, 5 * page_size, 8 * page_size },
		{ 2 * page_size, 2 * page_size, 2 * page_size },
		{ 4 * page_size, 8 * page_size, 4 * page_size },
		{ 16 * page_size, 32 * page_size, 16 * page_size },
		{ 16 * page_size, 16 * page_size, 16 * page_size },
		{ 8 * page_size, 3 * page_size, 4 * page_size },
		{ SZ_2M, SZ_2M, SZ_2M },
		{ 0, page_size, page_size },
	};
	struct area areas[2 * ARRAY_SIZE(cases)];
	unsigned int i, num = 0;

	for (i = 0; i != ARRAY_SIZE(cases); i++) {
		__u64 iova = 0;

		/*
		 * A single page first, so the next free IOVA is only page
		 * aligned and the kernel has to skip ahead.
		 */
		test_ioctl_ioas_map(self->ioas_id, buffer + page_size,
				    page_size, &iova);
		ASSERT_NE(0, iova);
		areas[num].iova = iova;
		areas[num++].length = page_size;

		TH_LOG("offset %lu length %lu", cases[i].offset,
		       cases[i].length);
		test_ioctl_ioas_map(self->ioas_id,
				    huge_buffer + cases[i].offset,
				    cases[i].length, &iova);
		ASSERT_NE(0, iova);
		ASSERT_TRUE(is_aligned(iova, cases[i].alignment));
		areas[num].iova = iova;
		areas[num++].length = cases[i].length;
	}
	ASSERT_TRUE(areas_disjoint(areas, num));
}

TEST_F(iommufd_ioas, auto_iova_no_overlap)
{
	struct area areas[128];
	unsigned int i, num = 0;
	__u64 total = 0;

	/* Some fixed mappings low down, where the kernel would look first. */
	for (i = 1; i < 64; i += 8) {
		test_ioctl_ioas_map_fixed(self->ioas_id, buffer,
					  (i % 3 + 1) * page_size,
					  i * page_size);
		areas[num].iova = i * page_size;
		areas[num++].length = (i % 3 + 1) * page_size;
	}

	for (i = 0; num != 64; i++) {
		unsigned int pages = i % BUFFER_PAGES + 1;
		unsigned int offset = (i * 7) % (BUFFER_PAGES - pages + 1);
		__u64 iova = 0;

		test_ioctl_ioas_map(self->ioas_id, buffer + offset * page_size,
				    pages * page_size, &iova);
		ASSERT_NE(0, iova);
		ASSERT_TRUE(is_aligned(iova, page_size));
		areas[num].iova = iova;
		areas[num++].length = pages * page_size;
	}
	ASSERT_TRUE(areas_disjoint(areas, num));

	/* Free every other area and fill the holes again. */
	for (i = 0; i < 64; i += 2)
		test_ioctl_ioas_unmap(self->ioas_id, areas[i].iova,
				      areas[i].length);
	for (i = 0; i < 32; i++) {
		areas[i] = areas[2 * i + 1];
		total += areas[i].length;
	}
	for (num = 32; num != 96; num++) {
		unsigned int pages = num % 5 + 1;
		__u64 iova = 0;

		test_ioctl_ioas_map(self->ioas_id, buffer, pages * page_size,
				    &iova);
		ASSERT_NE(0, iova);
		areas[num].iova = iova;
		areas[num].length = pages * page_size;
		total += pages * page_size;
	}
	ASSERT_TRUE(areas_disjoint(areas, num));
	test_ioctl_ioas_unmap_all(self->ioas_id, total);
}

/* IOMMU_IOAS_UNMAP */

TEST_F(iommufd_ioas, unmap_all)
{
	__u64 iova = 0;

	/* Everything of nothing is fine. */
	test_ioctl_ioas_unmap_all(self->ioas_id, 0);
	test_ioctl_ioas_unmap_all(self->ioas_id, 0);

	test_ioctl_ioas_map_fixed(self->ioas_id, buffer, buffer_size, 0);
	test_ioctl_ioas_map_fixed(self->ioas_id, buffer, page_size,
				  UINT64_MAX - page_size + 1);
	test_ioctl_ioas_map(self->ioas_id, buffer, 2 * page_size, &iova);
	test_ioctl_ioas_unmap_all(self->ioas_id, buffer_size + 3 * page_size);

	/* It is all gone: the same IOVAs can be mapped again. */
	test_ioctl_ioas_unmap_all(self->ioas_id, 0);
	test_ioctl_ioas_map_fixed(self->ioas_id, buffer, buffer_size, 0);
	test_ioctl_ioas_map_fixed(self->ioas_id, buffer, 2 * page_size, iova);
	test_ioctl_ioas_unmap_all(self->ioas_id, buffer_size + 2 * page_size);
}

TEST_F(iommufd_ioas, unmap_bad_input)
{
	__u64 top = UINT64_MAX - page_size + 1;
	__u64 unmapped;
	__u32 gone;

	test_ioctl_ioas_map_fixed(self->ioas_id, buffer, page_size,
				  16 * page_size);

	EXPECT_ERRNO(EOVERFLOW, _test_ioctl_ioas_unmap(self->fd, self->ioas_id,
						       UINT64_MAX, page_size,
						       NULL));
	EXPECT_ERRNO(EOVERFLOW, _test_ioctl_ioas_unmap(self->fd, self->ioas_id,
						       page_size, UINT64_MAX,
						       NULL));
	/* A range that wraps around the end of the IOVA space. */
	EXPECT_ERRNO(EOVERFLOW, _test_ioctl_ioas_unmap(self->fd, self->ioas_id,
						       top, 2 * page_size,
						       NULL));

	EXPECT_ERRNO(EINVAL, _test_ioctl_ioas_unmap(self->fd, self->ioas_id,
						    16 * page_size, 0, NULL));
	EXPECT_ERRNO(EINVAL, _test_ioctl_ioas_unmap(self->fd, self->ioas_id,
						    0, 0, NULL));

	EXPECT_ERRNO(ENOENT, _test_ioctl_ioas_unmap(self->fd, 0,
						    16 * page_size, page_size,
						    NULL));
	test_ioctl_ioas_alloc(&gone);
	test_ioctl_destroy(gone);
	EXPECT_ERRNO(ENOENT, _test_ioctl_ioas_unmap(self->fd, gone,
						    16 * page_size, page_size,
						    NULL));
	EXPECT_ERRNO(ENOENT, _test_ioctl_ioas_unmap(self->fd, gone, 0,
						    UINT64_MAX, &unmapped));

	/* Nothing mapped there. */
	EXPECT_ERRNO(ENOENT, _test_ioctl_ioas_unmap(self->fd, self->ioas_id,
						    32 * page_size, page_size,
						    NULL));
	EXPECT_ERRNO(ENOENT, _test_ioctl_ioas_unmap(self->fd, self->ioas_id,
						    top, page_size, NULL));
	EXPECT_ERRNO(ENOENT, _test_ioctl_ioas_unmap(self->fd, self->ioas_id,
						    0, 16 * page_size, NULL));

	/* The one mapping survived all of it. */
	test_ioctl_ioas_unmap_all(self->ioas_id, page_size);
}

TEST_F(iommufd_ioas, unmap_empty_ioas)
{
	EXPECT_ERRNO(ENOENT, _test_ioctl_ioas_unmap(self->fd, self->ioas_id,
						    16 * page_size, page_size,
						    NULL));
	EXPECT_ERRNO(ENOENT, _test_ioctl_ioas_unmap(self->fd, self->ioas_id,
						    0, UINT64_MAX - 1, NULL));
}

/*
 * Mappings come out whole or not at all. A range that would cut one of
 * them fails, and leaves even the mappings it fully covers in place.
 */
TEST_F(iommufd_ioas, unmap_partial_refused)
{
	const __u64 pg = page_size;
	/* Three mappings of four pages, with four page gaps between them. */
	const __u64 a = 64 * pg, b = a + 8 * pg, c = a + 16 * pg;
	struct {
		__u64 iova;
		__u64 length;
	} cuts[] = {
		{ a + pg, pg },			/* inside a */
		{ a + pg, 3 * pg },		/* a's tail */
		{ a - pg, 2 * pg },		/* a's head */
		{ a, 3 * pg },			/* a but its last page */
		{ a + 2 * pg, 8 * pg },		/* a's tail, b's head */
		{ a, 10 * pg },			/* all of a, b's head */
		{ b - pg, 10 * pg },		/* all of b, c's head */
		{ 0, c + pg },			/* a, b, c's head */
		{ a + pg, 32 * pg },		/* a's tail, b, c */
	};
	unsigned int i;

	test_ioctl_ioas_map_fixed(self->ioas_id, buffer, 4 * page_size, a);
	test_ioctl_ioas_map_fixed(self->ioas_id, buffer, 4 * page_size, b);
	test_ioctl_ioas_map_fixed(self->ioas_id, buffer, 4 * page_size, c);

	for (i = 0; i != ARRAY_SIZE(cuts); i++) {
		TH_LOG("cut %u", i);
		EXPECT_ERRNO(ENOENT,
			     _test_ioctl_ioas_unmap(self->fd, self->ioas_id,
						    cuts[i].iova,
						    cuts[i].length, NULL));
	}

	/* Each mapping is still there, whole. */
	test_ioctl_ioas_unmap(self->ioas_id, a, 4 * page_size);
	test_ioctl_ioas_unmap(self->ioas_id, b, 4 * page_size);
	test_ioctl_ioas_unmap(self->ioas_id, c, 4 * page_size);
	test_ioctl_ioas_unmap_all(self->ioas_id, 0);
}

TEST_F(iommufd_ioas, unmap_range_larger_than_areas)
{
	__u64 base = 64 * page_size;
	__u64 unmapped = 0;

	test_ioctl_ioas_map_fixed(self->ioas_id, buffer, 4 * page_size, base);
	test_ioctl_ioas_map_fixed(self->ioas_id, buffer, 2 * page_size,
				  base + 8 * page_size);
	/* Adjacent, so two areas meet without a gap. */
	test_ioctl_ioas_map_fixed(self->ioas_id, buffer, page_size,
				  base + 10 * page_size);
	test_ioctl_ioas_map_fixed(self->ioas_id, buffer, page_size,
				  base + 64 * page_size);

	/* The reported length is what was mapped, not what was asked. */
	ASSERT_EQ(0, _test_ioctl_ioas_unmap(self->fd, self->ioas_id,
					    page_size, base + 16 * page_size,
					    &unmapped));
	ASSERT_EQ(7 * page_size, unmapped);
	/* Only the area outside that range is left. */
	test_ioctl_ioas_unmap_all(self->ioas_id, page_size);
}

TEST_F(iommufd_ioas, unmap_adjacent_areas_together)
{
	__u64 base = 64 * page_size;

	test_ioctl_ioas_map_fixed(self->ioas_id, buffer, 4 * page_size, base);
	test_ioctl_ioas_map_fixed(self->ioas_id, buffer + 4 * page_size,
				  4 * page_size, base + 4 * page_size);
	test_ioctl_ioas_unmap(self->ioas_id, base, 8 * page_size);
	test_ioctl_ioas_unmap_all(self->ioas_id, 0);
}

/* IOMMU_IOAS_COPY */

TEST_F(iommufd_ioas, copy_within_ioas)
{
	__u64 src = 64 * page_size, fixed = 256 * page_size;
	size_t length = 8 * page_size;
	__u64 iova = 0;

	test_ioctl_ioas_map_fixed(self->ioas_id, buffer, length, src);

	test_ioctl_ioas_copy_fixed(self->ioas_id, self->ioas_id, src, length,
				   fixed);
	/* A copy of a copy is as good as a copy. */
	test_ioctl_ioas_copy_fixed(self->ioas_id, self->ioas_id, fixed,
				   length, fixed + length);

	test_ioctl_ioas_copy(self->ioas_id, self->ioas_id, src, length, &iova);
	ASSERT_NE(0, iova);
	ASSERT_TRUE(is_aligned(iova, page_size));
	ASSERT_TRUE(iova + length <= src || iova >= src + length);
	ASSERT_TRUE(iova + length <= fixed || iova >= fixed + 2 * length);

	/* The destination follows the rules of a fixed map. */
	iova = src + 4 * page_size;
	EXPECT_ERRNO(EEXIST, _test_ioctl_ioas_copy(self->fd, self->ioas_id,
						   self->ioas_id, src, length,
						   &iova,
						   IOMMU_IOAS_MAP_FIXED_IOVA |
							   TEST_MAP_RW));

	test_ioctl_ioas_unmap(self->ioas_id, fixed, 2 * length);
	test_ioctl_ioas_unmap(self->ioas_id, src, length);
	test_ioctl_ioas_unmap_all(self->ioas_id, length);
}

TEST_F(iommufd_ioas, copy_between_ioas)
{
	__u64 src = 64 * page_size;
	size_t length = 8 * page_size;
	__u64 iova = 0;
	__u32 dst_id;

	test_ioctl_ioas_alloc(&dst_id);
	test_ioctl_ioas_map_fixed(self->ioas_id, buffer, length, src);

	/* The same IOVA is free in another IOAS. */
	test_ioctl_ioas_copy_fixed(dst_id, self->ioas_id, src, length, src);
	test_ioctl_ioas_copy(dst_id, self->ioas_id, src, length, &iova);
	ASSERT_NE(0, iova);
	ASSERT_TRUE(iova + length <= src || iova >= src + length);

	/* The copies are independent of the source once made. */
	test_ioctl_ioas_unmap(self->ioas_id, src, length);
	test_ioctl_ioas_unmap_all(self->ioas_id, 0);
	test_ioctl_destroy(self->ioas_id);
	test_ioctl_ioas_unmap(dst_id, src, length);
	test_ioctl_ioas_unmap(dst_id, iova, length);
	test_ioctl_ioas_unmap_all(dst_id, 0);
	test_ioctl_destroy(dst_id);
}

TEST_F(iommufd_ioas, copy_sub_range)
{
	__u64 src = 64 * page_size, dst = 256 * page_size;
	__u32 dst_id;

	test_ioctl_ioas_alloc(&dst_id);
	test_ioctl_ioas_map_fixed(self->ioas_id, buffer, 8 * page_size, src);

	/* Pages 2 to 5 of the eight. */
	test_ioctl_ioas_copy_fixed(dst_id, self->ioas_id, src + 2 * page_size,
				   4 * page_size, dst);
	/* The copy is one mapping of its own length. */
	EXPECT_ERRNO(ENOENT, _test_ioctl_ioas_unmap(self->fd, dst_id, dst,
						    2 * page_size, NULL));
	test_ioctl_ioas_unmap(dst_id, dst, 4 * page_size);

	/* The first and the last page alone. */
	test_ioctl_ioas_copy_fixed(dst_id, self->ioas_id, src, page_size, dst);
	test_ioctl_ioas_copy_fixed(dst_id, self->ioas_id,
				   src + 7 * page_size, page_size,
				   dst + page_size);
	test_ioctl_ioas_unmap_all(dst_id, 2 * page_size);

	/* The source was not changed by any of it. */
	test_ioctl_ioas_unmap_all(self->ioas_id, 8 * page_size);
}

TEST_F(iommufd_ioas, copy_across_adjacent_areas)
{
	__u64 src = 64 * page_size, dst = 256 * page_size;
	__u64 iova = 0;
	__u32 dst_id;

	test_ioctl_ioas_alloc(&dst_id);
	/* Contiguous in IOVA, not in user memory. */
	test_ioctl_ioas_map_fixed(self->ioas_id, buffer + 8 * page_size,
				  4 * page_size, src);
	test_ioctl_ioas_map_fixed(self->ioas_id, buffer, 4 * page_size,
				  src + 4 * page_size);

	test_ioctl_ioas_copy_fixed(dst_id, self->ioas_id, src + 2 * page_size,
				   4 * page_size, dst);
	test_ioctl_ioas_copy(dst_id, self->ioas_id, src, 8 * page_size, &iova);
	ASSERT_NE(0, iova);
	ASSERT_TRUE(iova + 8 * page_size <= dst ||
		    iova >= dst + 4 * page_size);

	test_ioctl_ioas_unmap(dst_id, dst, 4 * page_size);
	test_ioctl_ioas_unmap(dst_id, iova, 8 * page_size);
	test_ioctl_ioas_unmap_all(dst_id, 0);
	test_ioctl_ioas_unmap_all(self->ioas_id, 8 * page_size);
}

TEST_F(iommufd_ioas, copy_hole_in_source)
{
	const __u64 pg = page_size, src = 64 * pg, dst = 256 * pg;
	/* Pages 0-3 and 5-7 of src are mapped, page 4 is not. */
	struct {
		__u64 iova;
		__u64 length;
	} holes[] = {
		{ src + 2 * pg, 5 * pg },	/* across the hole */
		{ src, 8 * pg },		/* all of it */
		{ src + 4 * pg, pg },		/* the hole alone */
		{ src + 6 * pg, 4 * pg },	/* past the end */
		{ src - pg, 2 * pg },		/* before the start */
		{ 1024 * pg, pg },		/* nowhere near */
	};
	unsigned int i;
	__u32 dst_id;

	test_ioctl_ioas_alloc(&dst_id);
	test_ioctl_ioas_map_fixed(self->ioas_id, buffer, 4 * page_size, src);
	test_ioctl_ioas_map_fixed(self->ioas_id, buffer + 5 * page_size,
				  3 * page_size, src + 5 * page_size);

	for (i = 0; i != ARRAY_SIZE(holes); i++) {
		__u64 iova = dst;

		TH_LOG("hole %u", i);
		EXPECT_ERRNO(ENOENT,
			     _test_ioctl_ioas_copy(self->fd, dst_id,
						   self->ioas_id,
						   holes[i].iova,
						   holes[i].length, &iova,
						   IOMMU_IOAS_MAP_FIXED_IOVA |
							   TEST_MAP_RW));
		EXPECT_ERRNO(ENOENT,
			     _test_ioctl_ioas_copy(self->fd, dst_id,
						   self->ioas_id,
						   holes[i].iova,
						   holes[i].length, &iova,
						   TEST_MAP_RW));
	}

	/* Nothing was copied; the source is intact. */
	test_ioctl_ioas_unmap_all(dst_id, 0);
	test_ioctl_ioas_unmap_all(self->ioas_id, 7 * page_size);
}

TEST_F(iommufd_ioas, copy_read_only_source)
{
	__u64 src = 64 * page_size, dst = 256 * page_size;
	__u64 iova;
	__u32 dst_id;

	test_ioctl_ioas_alloc(&dst_id);
	iova = src;
	ASSERT_EQ(0, _test_ioctl_ioas_map(self->fd, self->ioas_id, buffer,
					  4 * page_size, &iova,
					  IOMMU_IOAS_MAP_FIXED_IOVA |
						  IOMMU_IOAS_MAP_READABLE));
	test_ioctl_ioas_map_fixed(self->ioas_id, buffer, 4 * page_size,
				  src + 4 * page_size);

	/* Read-only memory cannot become writeable through a copy. */
	iova = dst;
	EXPECT_ERRNO(EPERM, _test_ioctl_ioas_copy(self->fd, dst_id,
						  self->ioas_id, src,
						  4 * page_size, &iova,
						  IOMMU_IOAS_MAP_FIXED_IOVA |
							  TEST_MAP_RW));
	EXPECT_ERRNO(EPERM, _test_ioctl_ioas_copy(self->fd, dst_id,
						  self->ioas_id, src,
						  page_size, &iova,
						  IOMMU_IOAS_MAP_WRITEABLE));
	/* Nor when only part of the source is read-only. */
	iova = dst;
	EXPECT_ERRNO(EPERM, _test_ioctl_ioas_copy(self->fd, dst_id,
						  self->ioas_id,
						  src + 2 * page_size,
						  4 * page_size, &iova,
						  IOMMU_IOAS_MAP_FIXED_IOVA |
							  TEST_MAP_RW));
	test_ioctl_ioas_unmap_all(dst_id, 0);

	/* A read-only copy of it is fine, and so is copying the rest. */
	iova = dst;
	ASSERT_EQ(0, _test_ioctl_ioas_copy(self->fd, dst_id, self->ioas_id,
					   src, 8 * page_size, &iova,
					   IOMMU_IOAS_MAP_FIXED_IOVA |
						   IOMMU_IOAS_MAP_READABLE));
	test_ioctl_ioas_copy_fixed(dst_id, self->ioas_id, src + 4 * page_size,
				   4 * page_size, dst + 8 * page_size);
	test_ioctl_ioas_unmap_all(dst_id, 12 * page_size);
}

TEST_F(iommufd_ioas, copy_bad_input)
{
	struct iommu_ioas_copy cmd = {
		.size = sizeof(cmd),
		.flags = IOMMU_IOAS_MAP_FIXED_IOVA | TEST_MAP_RW,
		.src_ioas_id = self->ioas_id,
		.length = 2 * page_size,
		.src_iova = 64 * page_size,
	};
	__u32 dst_id, gone;

	test_ioctl_ioas_alloc(&dst_id);
	test_ioctl_ioas_alloc(&gone);
	test_ioctl_destroy(gone);
	test_ioctl_ioas_map_fixed(self->ioas_id, buffer, 4 * page_size,
				  64 * page_size);
	test_ioctl_ioas_map_fixed(dst_id, buffer, 4 * page_size,
				  256 * page_size);
	cmd.dst_ioas_id = dst_id;
	cmd.dst_iova = 128 * page_size;

	/* The command as set up works, on a scratch IOAS. */
	cmd.dst_ioas_id = self->ioas_id;
	ASSERT_EQ(0, ioctl(self->fd, IOMMU_IOAS_COPY, &cmd));
	test_ioctl_ioas_unmap(self->ioas_id, 128 * page_size, 2 * page_size);
	cmd.dst_ioas_id = dst_id;

	cmd.flags |= 1U << 3;
	EXPECT_ERRNO(EOPNOTSUPP, ioctl(self->fd, IOMMU_IOAS_COPY, &cmd));
	cmd.flags = IOMMU_IOAS_MAP_FIXED_IOVA | TEST_MAP_RW | (1U << 31);
	EXPECT_ERRNO(EOPNOTSUPP, ioctl(self->fd, IOMMU_IOAS_COPY, &cmd));

	cmd.flags = IOMMU_IOAS_MAP_FIXED_IOVA;
	EXPECT_ERRNO(EINVAL, ioctl(self->fd, IOMMU_IOAS_COPY, &cmd));
	cmd.flags = 0;
	EXPECT_ERRNO(EINVAL, ioctl(self->fd, IOMMU_IOAS_COPY, &cmd));
	cmd.flags = IOMMU_IOAS_MAP_FIXED_IOVA | TEST_MAP_RW;

	cmd.length = UINT64_MAX;
	EXPECT_ERRNO(EOVERFLOW, ioctl(self->fd, IOMMU_IOAS_COPY, &cmd));
	cmd.length = 2 * page_size;
	cmd.src_iova = UINT64_MAX;
	EXPECT_ERRNO(EOVERFLOW, ioctl(self->fd, IOMMU_IOAS_COPY, &cmd));
	cmd.src_iova = 64 * page_size;
	cmd.dst_iova = UINT64_MAX;
	EXPECT_ERRNO(EOVERFLOW, ioctl(self->fd, IOMMU_IOAS_COPY, &cmd));
	cmd.dst_iova = 128 * page_size;

	cmd.src_ioas_id = gone;
	EXPECT_ERRNO(ENOENT, ioctl(self->fd, IOMMU_IOAS_COPY, &cmd));
	cmd.src_ioas_id = 0;
	EXPECT_ERRNO(ENOENT, ioctl(self->fd, IOMMU_IOAS_COPY, &cmd));
	cmd.src_ioas_id = self->ioas_id;
	cmd.dst_ioas_id = gone;
	EXPECT_ERRNO(ENOENT, ioctl(self->fd, IOMMU_IOAS_COPY, &cmd));
	cmd.dst_ioas_id = 0;
	EXPECT_ERRNO(ENOENT, ioctl(self->fd, IOMMU_IOAS_COPY, &cmd));
	cmd.dst_ioas_id = dst_id;

	cmd.length = 0;
	EXPECT_ERRNO(EINVAL, ioctl(self->fd, IOMMU_IOAS_COPY, &cmd));
	cmd.flags = TEST_MAP_RW;
	EXPECT_ERRNO(EINVAL, ioctl(self->fd, IOMMU_IOAS_COPY, &cmd));
	cmd.flags = IOMMU_IOAS_MAP_FIXED_IOVA | TEST_MAP_RW;
	cmd.length = 2 * page_size;

	/* The destination IOVA follows the rules of IOMMU_IOAS_MAP. */
	cmd.dst_iova = UINT64_MAX - page_size + 1;
	EXPECT_ERRNO(EOVERFLOW, ioctl(self->fd, IOMMU_IOAS_COPY, &cmd));
	cmd.dst_iova = 255 * page_size;
	EXPECT_ERRNO(EEXIST, ioctl(self->fd, IOMMU_IOAS_COPY, &cmd));
	cmd.dst_iova = 258 * page_size;
	EXPECT_ERRNO(EEXIST, ioctl(self->fd, IOMMU_IOAS_COPY, &cmd));

	/* None of that copied anything. */
	test_ioctl_ioas_unmap_all(dst_id, 4 * page_size);
	test_ioctl_ioas_unmap_all(self->ioas_id, 4 * page_size);
}

TEST_F(iommufd_ioas, copy_auto_iova_allowed)
{
	struct iommu_iova_range allowed = {
		.start = 512 * page_size,
		.last = 516 * page_size - 1,
	};
	__u64 src = 64 * page_size;
	struct area areas[4];
	unsigned int i;
	__u32 dst_id;
	__u64 iova;

	test_ioctl_ioas_alloc(&dst_id);
	test_ioctl_ioas_allow_iovas(dst_id, &allowed, 1);
	test_ioctl_ioas_map_fixed(self->ioas_id, buffer, page_size, src);

	for (i = 0; i != ARRAY_SIZE(areas); i++) {
		iova = 0;
		test_ioctl_ioas_copy(dst_id, self->ioas_id, src, page_size,
				     &iova);
		ASSERT_TRUE(in_range(iova, page_size, &allowed));
		areas[i].iova = iova;
		areas[i].length = page_size;
	}
	ASSERT_TRUE(areas_disjoint(areas, ARRAY_SIZE(areas)));
	/* The allowed range of the destination is full. */
	EXPECT_ERRNO(ENOSPC, _test_ioctl_ioas_copy(self->fd, dst_id,
						   self->ioas_id, src,
						   page_size, &iova,
						   TEST_MAP_RW));
	test_ioctl_ioas_unmap_all(dst_id, 4 * page_size);
}

/* IOMMU_IOAS_ALLOW_IOVAS */

TEST_F(iommufd_ioas, allow_iovas_restricts_auto)
{
	struct iommu_iova_range allowed = {
		.start = 256 * page_size,
		.last = 320 * page_size - 1,
	};
	struct area areas[64];
	unsigned int i;
	__u64 iova;

	test_ioctl_ioas_allow_iovas(self->ioas_id, &allowed, 1);
	for (i = 0; i != ARRAY_SIZE(areas); i++) {
		iova = 0;
		test_ioctl_ioas_map(self->ioas_id, buffer + (i % 4) * page_size,
				    page_size, &iova);
		ASSERT_TRUE(in_range(iova, page_size, &allowed));
		areas[i].iova = iova;
		areas[i].length = page_size;
	}
	ASSERT_TRUE(areas_disjoint(areas, ARRAY_SIZE(areas)));

	/* All 64 pages are taken. */
	EXPECT_ERRNO(ENOSPC, _test_ioctl_ioas_map(self->fd, self->ioas_id,
						  buffer, page_size, &iova,
						  TEST_MAP_RW));
	test_ioctl_ioas_unmap_all(self->ioas_id, 64 * page_size);
}

TEST_F(iommufd_ioas, allow_iovas_around_fixed_maps)
{
	struct iommu_iova_range allowed = {
		.start = 0,
		.last = 32 * page_size - 1,
	};
	struct area areas[32];
	unsigned int i, num = 0;
	__u64 iova;

	/* Pages 8 to 23 are taken by fixed maps, 0 is never handed out. */
	test_ioctl_ioas_map_fixed(self->ioas_id, buffer, 8 * page_size,
				  8 * page_size);
	test_ioctl_ioas_map_fixed(self->ioas_id, buffer, 8 * page_size,
				  16 * page_size);
	test_ioctl_ioas_allow_iovas(self->ioas_id, &allowed, 1);
	areas[num].iova = 8 * page_size;
	areas[num++].length = 16 * page_size;
	for (i = 0; i != 15; i++) {
		iova = 0;
		test_ioctl_ioas_map(self->ioas_id, buffer, page_size, &iova);
		ASSERT_NE(0, iova);
		ASSERT_TRUE(in_range(iova, page_size, &allowed));
		areas[num].iova = iova;
		areas[num++].length = page_size;
	}
	ASSERT_TRUE(areas_disjoint(areas, num));
	EXPECT_ERRNO(ENOSPC, _test_ioctl_ioas_map(self->fd, self->ioas_id,
						  buffer, page_size, &iova,
						  TEST_MAP_RW));
	test_ioctl_ioas_unmap_all(self->ioas_id, 31 * page_size);
}

TEST_F(iommufd_ioas, allow_iovas_two_ranges)
{
	struct iommu_iova_range allowed[] = {
		{ .start = 16 * page_size, .last = 24 * page_size - 1 },
		{ .start = 1024 * page_size, .last = 1032 * page_size - 1 },
	};
	struct area areas[16];
	unsigned int i;
	__u64 iova;

	test_ioctl_ioas_allow_iovas(self->ioas_id, allowed, 2);
	for (i = 0; i != ARRAY_SIZE(areas); i++) {
		iova = 0;
		test_ioctl_ioas_map(self->ioas_id, buffer, page_size, &iova);
		ASSERT_TRUE(in_range(iova, page_size, &allowed[0]) ||
			    in_range(iova, page_size, &allowed[1]));
		areas[i].iova = iova;
		areas[i].length = page_size;
	}
	ASSERT_TRUE(areas_disjoint(areas, ARRAY_SIZE(areas)));
	EXPECT_ERRNO(ENOSPC, _test_ioctl_ioas_map(self->fd, self->ioas_id,
						  buffer, page_size, &iova,
						  TEST_MAP_RW));

	/* Something that fits in neither range alone never fits. */
	test_ioctl_ioas_unmap_all(self->ioas_id, 16 * page_size);
	EXPECT_ERRNO(ENOSPC, _test_ioctl_ioas_map(self->fd, self->ioas_id,
						  buffer, 9 * page_size, &iova,
						  TEST_MAP_RW));
	test_ioctl_ioas_unmap_all(self->ioas_id, 0);
}

/* Ranges that touch are one: a kernel-chosen IOVA may span them. */
TEST_F(iommufd_ioas, allow_iovas_touching)
{
	struct iommu_iova_range allowed[] = {
		{ .start = 17 * page_size, .last = 18 * page_size - 1 },
		{ .start = 16 * page_size, .last = 17 * page_size - 1 },
	};
	__u64 iova;

	test_ioctl_ioas_allow_iovas(self->ioas_id, allowed, 2);
	/* Page aligned, not to two pages: it may start at either range. */
	test_ioctl_ioas_map(self->ioas_id, buffer + page_size, 2 * page_size,
			    &iova);
	EXPECT_EQ(16 * page_size, iova);
	test_ioctl_ioas_unmap_all(self->ioas_id, 2 * page_size);
}

TEST_F(iommufd_ioas, allow_iovas_any_order)
{
	/* Ranges need not be given in increasing order. */
	struct iommu_iova_range allowed[] = {
		{ .start = 1024 * page_size, .last = 1025 * page_size - 1 },
		{ .start = 16 * page_size, .last = 17 * page_size - 1 },
	};
	__u64 first = 0, second = 0;

	test_ioctl_ioas_allow_iovas(self->ioas_id, allowed, 2);
	test_ioctl_ioas_map(self->ioas_id, buffer, page_size, &first);
	test_ioctl_ioas_map(self->ioas_id, buffer, page_size, &second);
	ASSERT_NE(first, second);
	ASSERT_TRUE(first == 16 * page_size || first == 1024 * page_size);
	ASSERT_TRUE(second == 16 * page_size || second == 1024 * page_size);
	EXPECT_ERRNO(ENOSPC, _test_ioctl_ioas_map(self->fd, self->ioas_id,
						  buffer, page_size, &first,
						  TEST_MAP_RW));
}

/*
 * Many ranges in a shuffled order are sorted: the lowest is the first
 * choice, and a range given twice is found wherever the two copies were.
 */
TEST_F(iommufd_ioas, allow_iovas_many_shuffled)
{
	const unsigned int n = 50000;
	struct iommu_iova_range *allowed, tmp;
	unsigned int i, j, seed = 1;
	__u64 iova = 0;

	allowed = calloc(n, sizeof(*allowed));
	ASSERT_NE(NULL, allowed);
	/* One page every other page, from page 16 up. */
	for (i = 0; i != n; i++) {
		allowed[i].start = (16 + 2ULL * i) * page_size;
		allowed[i].last = allowed[i].start + page_size - 1;
	}
	for (i = n - 1; i; i--) {
		seed = seed * 1103515245 + 12345;
		j = (seed >> 8) % (i + 1);
		tmp = allowed[i];
		allowed[i] = allowed[j];
		allowed[j] = tmp;
	}
	test_ioctl_ioas_allow_iovas(self->ioas_id, allowed, n);
	test_ioctl_ioas_map(self->ioas_id, buffer, page_size, &iova);
	ASSERT_EQ(16 * page_size, iova);
	EXPECT_ERRNO(ENOSPC, _test_ioctl_ioas_map(self->fd, self->ioas_id,
						  buffer, 2 * page_size, &iova,
						  TEST_MAP_RW));

	/* The same ranges with one of them twice overlap. */
	allowed[n / 3] = allowed[2 * n / 3];
	EXPECT_ERRNO(EINVAL, _test_ioctl_ioas_allow_iovas(self->fd,
							  self->ioas_id,
							  allowed, n));
	free(allowed);
}

TEST_F(iommufd_ioas, allow_iovas_never_zero)
{
	struct iommu_iova_range allowed = {
		.start = 0,
		.last = 2 * page_size - 1,
	};
	__u64 iova = 0;

	/* IOVA 0 is allowed, but the kernel never chooses it. */
	test_ioctl_ioas_allow_iovas(self->ioas_id, &allowed, 1);
	test_ioctl_ioas_map(self->ioas_id, buffer, page_size, &iova);
	ASSERT_EQ(page_size, iova);
	EXPECT_ERRNO(ENOSPC, _test_ioctl_ioas_map(self->fd, self->ioas_id,
						  buffer, page_size, &iova,
						  TEST_MAP_RW));
	/* A fixed map may still use it. */
	test_ioctl_ioas_map_fixed(self->ioas_id, buffer, page_size, 0);
	test_ioctl_ioas_unmap_all(self->ioas_id, 2 * page_size);
}

TEST_F(iommufd_ioas, allow_iovas_unaligned_range)
{
	/* Only the page at 2 * page_size lies wholly inside. */
	struct iommu_iova_range allowed = {
		.start = page_size + 1,
		.last = 3 * page_size - 2,
	};
	struct iommu_iova_range wider = {
		.start = page_size + 1,
		.last = 3 * page_size - 1,
	};
	__u64 iova = 0;

	test_ioctl_ioas_allow_iovas(self->ioas_id, &allowed, 1);
	EXPECT_ERRNO(ENOSPC, _test_ioctl_ioas_map(self->fd, self->ioas_id,
						  buffer, page_size, &iova,
						  TEST_MAP_RW));
	test_ioctl_ioas_allow_iovas(self->ioas_id, &wider, 1);
	test_ioctl_ioas_map(self->ioas_id, buffer, page_size, &iova);
	ASSERT_EQ(2 * page_size, iova);
	test_ioctl_ioas_unmap_all(self->ioas_id, page_size);
}

TEST_F(iommufd_ioas, allow_iovas_fixed_and_existing_maps)
{
	struct iommu_iova_range allowed = {
		.start = 256 * page_size,
		.last = 260 * page_size - 1,
	};
	__u64 iova = 0;

	/* Mapped before the restriction, outside of it: stays mapped. */
	test_ioctl_ioas_map_fixed(self->ioas_id, buffer, 4 * page_size,
				  16 * page_size);
	test_ioctl_ioas_allow_iovas(self->ioas_id, &allowed, 1);

	/* Fixed maps may go anywhere, in the range or not. */
	test_ioctl_ioas_map_fixed(self->ioas_id, buffer, 4 * page_size,
				  1024 * page_size);
	test_ioctl_ioas_map_fixed(self->ioas_id, buffer, page_size,
				  256 * page_size);

	test_ioctl_ioas_unmap(self->ioas_id, 16 * page_size, 4 * page_size);
	test_ioctl_ioas_unmap(self->ioas_id, 1024 * page_size, 4 * page_size);

	/*
	 * The fixed page at the start of the range leaves pages 257-259.
	 * Two pages from a well aligned address must be two page aligned,
	 * so only 258 and 259 will do.
	 */
	test_ioctl_ioas_map(self->ioas_id, huge_buffer, 2 * page_size, &iova);
	ASSERT_EQ(258 * page_size, iova);
	test_ioctl_ioas_unmap_all(self->ioas_id, 3 * page_size);
}

TEST_F(iommufd_ioas, allow_iovas_lift)
{
	struct iommu_iova_range allowed = {
		.start = 16 * page_size,
		.last = 17 * page_size - 1,
	};
	__u64 iova = 0;

	test_ioctl_ioas_allow_iovas(self->ioas_id, &allowed, 1);
	test_ioctl_ioas_map(self->ioas_id, buffer, page_size, &iova);
	ASSERT_EQ(16 * page_size, iova);
	EXPECT_ERRNO(ENOSPC, _test_ioctl_ioas_map(self->fd, self->ioas_id,
						  buffer, page_size, &iova,
						  TEST_MAP_RW));

	/* No ranges at all means no restriction. */
	test_ioctl_ioas_allow_iovas(self->ioas_id, NULL, 0);
	iova = 0;
	test_ioctl_ioas_map(self->ioas_id, buffer, buffer_size, &iova);
	ASSERT_NE(0, iova);
	ASSERT_TRUE(iova + buffer_size <= 16 * page_size ||
		    iova >= 17 * page_size);
	test_ioctl_ioas_unmap_all(self->ioas_id, buffer_size + page_size);
}

TEST_F(iommufd_ioas, allow_iovas_bad_input)
{
	struct iommu_iova_range good = {
		.start = 256 * page_size,
		.last = 260 * page_size - 1,
	};
	struct {
		struct iommu_iova_range ranges[2];
		unsigned int num;
	} bad[] = {
		/* start above last */
		{ { { 32 * page_size, 16 * page_size } }, 1 },
		/* start equal to last */
		{ { { 16 * page_size, 16 * page_size } }, 1 },
		{ { { 0, 0 } }, 1 },
		/* fine, and then not */
		{ { { 0, page_size - 1 }, { 2, 1 } }, 2 },
		/* the same range twice */
		{ { { 0, 4 * page_size - 1 }, { 0, 4 * page_size - 1 } }, 2 },
		/* one inside the other */
		{ { { 0, 4 * page_size - 1 }, { page_size, 2 * page_size } },
		  2 },
		/* partly over each other, in either order */
		{ { { 0, 4 * page_size - 1 },
		    { 2 * page_size, 8 * page_size - 1 } },
		  2 },
		{ { { 2 * page_size, 8 * page_size - 1 },
		    { 0, 4 * page_size - 1 } },
		  2 },
		/* sharing a single IOVA */
		{ { { 0, 4 * page_size }, { 4 * page_size, 8 * page_size } },
		  2 },
	};
	struct iommu_ioas_allow_iovas cmd = {
		.size = sizeof(cmd),
		.ioas_id = self->ioas_id,
		.num_iovas = 1,
		.allowed_iovas = (uintptr_t)&good,
	};
	struct iommu_iova_range *edge;
	unsigned int i;
	__u64 iova;
	char *pages;
	__u32 gone;

	test_ioctl_ioas_allow_iovas(self->ioas_id, &good, 1);

	cmd.__reserved = 1;
	EXPECT_ERRNO(EOPNOTSUPP, ioctl(self->fd, IOMMU_IOAS_ALLOW_IOVAS, &cmd));

	EXPECT_ERRNO(ENOENT, _test_ioctl_ioas_allow_iovas(self->fd, 0, &good,
							  1));
	test_ioctl_ioas_alloc(&gone);
	test_ioctl_destroy(gone);
	EXPECT_ERRNO(ENOENT, _test_ioctl_ioas_allow_iovas(self->fd, gone,
							  &good, 1));

	for (i = 0; i != ARRAY_SIZE(bad); i++) {
		TH_LOG("bad list %u", i);
		EXPECT_ERRNO(EINVAL,
			     _test_ioctl_ioas_allow_iovas(self->fd,
							  self->ioas_id,
							  bad[i].ranges,
							  bad[i].num));
	}

	/*
	 * An array the kernel cannot read: not mapped at all, or whose
	 * second entry sits on an inaccessible page.
	 */
	pages = mmap(NULL, 2 * page_size, PROT_READ | PROT_WRITE,
		     MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, pages);
	edge = (struct iommu_iova_range *)(pages + page_size) - 1;
	edge->start = 0;
	edge->last = page_size - 1;
	ASSERT_EQ(0, mprotect(pages + page_size, page_size, PROT_NONE));
	EXPECT_ERRNO(EFAULT, _test_ioctl_ioas_allow_iovas(self->fd,
							  self->ioas_id, edge,
							  2));
	/*
	 * A count of 2^32 - 1 with one range readable: the ranges are read
	 * first, EFAULT. It was ENOMEM: 64 GiB for the count, tried first.
	 */
	EXPECT_ERRNO(EFAULT, _test_ioctl_ioas_allow_iovas(self->fd,
							  self->ioas_id, edge,
							  UINT32_MAX));
	ASSERT_EQ(0, munmap(pages, 2 * page_size));
	EXPECT_ERRNO(EFAULT, _test_ioctl_ioas_allow_iovas(self->fd,
							  self->ioas_id, edge,
							  1));

	/* Through all of that the first list stayed in force. */
	for (i = 0; i != 4; i++) {
		iova = 0;
		test_ioctl_ioas_map(self->ioas_id, buffer, page_size, &iova);
		ASSERT_TRUE(in_range(iova, page_size, &good));
	}
	EXPECT_ERRNO(ENOSPC, _test_ioctl_ioas_map(self->fd, self->ioas_id,
						  buffer, page_size, &iova,
						  TEST_MAP_RW));
	test_ioctl_ioas_unmap_all(self->ioas_id, 4 * page_size);
}

TEST_F(iommufd_ioas, allow_iovas_adjacent_ranges)
{
	/* Ranges may touch as long as they share no IOVA. */
	struct iommu_iova_range allowed[] = {
		{ .start = 16 * page_size, .last = 17 * page_size - 1 },
		{ .start = 17 * page_size, .last = 18 * page_size - 1 },
	};
	__u64 iova = 0;

	test_ioctl_ioas_allow_iovas(self->ioas_id, allowed, 2);
	test_ioctl_ioas_map(self->ioas_id, buffer, page_size, &iova);
	ASSERT_TRUE(iova == 16 * page_size || iova == 17 * page_size);
	test_ioctl_ioas_map(self->ioas_id, buffer, page_size, &iova);
	ASSERT_TRUE(iova == 16 * page_size || iova == 17 * page_size);
	EXPECT_ERRNO(ENOSPC, _test_ioctl_ioas_map(self->fd, self->ioas_id,
						  buffer, page_size, &iova,
						  TEST_MAP_RW));
	test_ioctl_ioas_unmap(self->ioas_id, 16 * page_size, page_size);
	test_ioctl_ioas_unmap(self->ioas_id, 17 * page_size, page_size);
}

/* IOMMU_IOAS_IOVA_RANGES only knows about devices, not about mappings. */
TEST_F(iommufd_ioas, iova_ranges_unaffected)
{
	struct iommu_iova_range allowed = {
		.start = 256 * page_size,
		.last = 512 * page_size - 1,
	};
	__u64 iova = 0;

	test_ioctl_ioas_map_fixed(self->ioas_id, buffer, buffer_size, 0);
	test_ioctl_ioas_map(self->ioas_id, buffer, buffer_size, &iova);
	check_iova_ranges_full(_metadata, self->fd, self->ioas_id);

	test_ioctl_ioas_allow_iovas(self->ioas_id, &allowed, 1);
	check_iova_ranges_full(_metadata, self->fd, self->ioas_id);
	test_ioctl_ioas_map(self->ioas_id, buffer, buffer_size, &iova);
	check_iova_ranges_full(_metadata, self->fd, self->ioas_id);

	test_ioctl_ioas_allow_iovas(self->ioas_id, NULL, 0);
	check_iova_ranges_full(_metadata, self->fd, self->ioas_id);
	test_ioctl_ioas_unmap_all(self->ioas_id, 3 * buffer_size);
	check_iova_ranges_full(_metadata, self->fd, self->ioas_id);
}

/* Destroying an IOAS with mappings in it */

TEST_F(iommufd_ioas, destroy_with_mappings)
{
	__u64 iova = 0;
	__u32 other;

	test_ioctl_ioas_alloc(&other);
	test_ioctl_ioas_map_fixed(self->ioas_id, buffer, buffer_size,
				  64 * page_size);
	test_ioctl_ioas_map(self->ioas_id, buffer, page_size, &iova);
	test_ioctl_ioas_copy_fixed(other, self->ioas_id, 64 * page_size,
				   buffer_size, 64 * page_size);

	/* Mappings are not objects depending on the IOAS: no EBUSY. */
	test_ioctl_destroy(self->ioas_id);
	EXPECT_ERRNO(ENOENT, _test_ioctl_ioas_unmap(self->fd, self->ioas_id, 0,
						    UINT64_MAX, NULL));
	EXPECT_ERRNO(ENOENT, _test_ioctl_destroy(self->fd, self->ioas_id));
	/* The copy holds its own reference to the memory. */
	test_ioctl_ioas_copy_fixed(other, other, 64 * page_size, buffer_size,
				   0);
	test_ioctl_destroy(other);
}

TEST(close_with_mappings)
{
	struct iommu_iova_range allowed = {
		.start = 1ULL << 32,
		.last = (1ULL << 33) - 1,
	};
	__u64 iova;
	__u32 a, b;
	int fd, i;

	ASSERT_NE(MAP_FAILED, buffer);
	/* Everything left behind goes with the file; kmemleak will tell. */
	fd = open("/dev/iommu", O_RDWR);
	ASSERT_LE(0, fd);
	ASSERT_EQ(0, _test_ioctl_ioas_alloc(fd, &a));
	ASSERT_EQ(0, _test_ioctl_ioas_alloc(fd, &b));
	ASSERT_EQ(0, _test_ioctl_ioas_allow_iovas(fd, b, &allowed, 1));
	for (i = 0; i != 32; i++) {
		iova = 0;
		ASSERT_EQ(0, _test_ioctl_ioas_map(fd, a, buffer, buffer_size,
						  &iova, TEST_MAP_RW));
		ASSERT_EQ(0, _test_ioctl_ioas_copy(fd, b, a, iova, buffer_size,
						   &iova, TEST_MAP_RW));
		ASSERT_TRUE(in_range(iova, buffer_size, &allowed));
	}
	ASSERT_EQ(0, close(fd));
}

/* Many mappings at once */

#define STRESS_AREAS 2000

TEST_F_TIMEOUT(iommufd_ioas, stress_auto_map_unmap, 300)
{
	struct area *areas;
	__u64 total = 0;
	unsigned int i;

	areas = calloc(STRESS_AREAS, sizeof(*areas));
	ASSERT_NE(NULL, areas);

	for (i = 0; i != STRESS_AREAS; i++) {
		unsigned int pages = i % 4 + 1;
		__u64 iova = 0;

		test_ioctl_ioas_map(self->ioas_id,
				    buffer + (i % 8) * page_size,
				    pages * page_size, &iova);
		ASSERT_NE(0, iova);
		areas[i].iova = iova;
		areas[i].length = pages * page_size;
		total += areas[i].length;
	}
	ASSERT_TRUE(areas_disjoint(areas, STRESS_AREAS));

	/* Punch holes all over the space, then fill them again. */
	for (i = 0; i < STRESS_AREAS; i += 4) {
		test_ioctl_ioas_unmap(self->ioas_id, areas[i].iova,
				      areas[i].length);
		total -= areas[i].length;
	}
	for (i = 0; i < STRESS_AREAS; i += 4) {
		unsigned int pages = i % 3 + 1;
		__u64 iova = 0;

		test_ioctl_ioas_map(self->ioas_id, buffer, pages * page_size,
				    &iova);
		ASSERT_NE(0, iova);
		areas[i].iova = iova;
		areas[i].length = pages * page_size;
		total += areas[i].length;
	}
	ASSERT_TRUE(areas_disjoint(areas, STRESS_AREAS));

	test_ioctl_ioas_unmap_all(self->ioas_id, total);
	free(areas);
}

TEST_HARNESS_MAIN
