// SPDX-License-Identifier: GPL-2.0-only
/*
 * IO address spaces with mock IOMMU domains attached, through the
 * IOMMU_TEST_CMD mock devices:
 *
 *  - the objects: a mock device attached to an IOAS or to a HWPT, the
 *    automatic HWPT that comes and goes with its devices, IOMMU_HWPT_ALLOC,
 *    EBUSY while something depends on an object, and bad input;
 *  - what a mock domain imposes on its IOAS: the aperture, and an IO page
 *    of half a CPU page;
 *  - that every attached domain mirrors the IOAS: after each MAP, COPY and
 *    UNMAP, IOMMU_TEST_OP_MD_CHECK_MAP asks the mock domains what they
 *    translate, including domains attached after the mappings were made;
 *  - pinning (IOMMU_TEST_OP_MD_CHECK_REFS): the memory of a map is pinned
 *    only while a domain can reach it. Each IOMMU_IOAS_MAP makes one
 *    range of user memory (an iopt_pages), shared by the copies
 *    IOMMU_IOAS_COPY makes of it. The range is pinned whole, once,
 *    while at least one of its mappings is in an IOAS with a domain; a
 *    HWPT made by IOMMU_HWPT_ALLOC is a domain even with no device. So
 *    a page's pin count is the number of pinned ranges that cover it:
 *    mapping it twice pins it twice, copying it does not. The first
 *    domain of an IOAS pins all it maps, and can fail for memory that
 *    cannot be pinned; the last one to go unpins it all. Every test ends
 *    by checking its buffer is no longer pinned. Huge pages are counted
 *    too: the kernel keeps their pins on the huge page as a whole, and
 *    a range that covers a huge page whole must hold the pins of all of
 *    its pages (one that covers part of it, at least those of its part).
 *
 * The mapping tests run with one and two devices, with a second domain
 * made by IOMMU_HWPT_ALLOC, and on hugetlb and THP memory.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/stat.h>

#include "iommufd_utils.h"

#define SZ_2M (2UL << 20)
#define SMALL_PAGES 8
/* Flags of a read/write map or copy to a fixed IOVA. */
#define FIXED_RW (IOMMU_IOAS_MAP_FIXED_IOVA | TEST_MAP_RW)
/* The first IOVA above the mock aperture (the enum is an int). */
#define APERTURE_END ((__u64)MOCK_APERTURE_LAST + 1)

/*
 * A SKIP in a 6.1 fixture setup still runs the test body, so leave the
 * test process with the harness's "skipped" exit status instead.
 */
#define SKIP_TEST_PROCESS(fmt, ...) VM_SKIP(_exit(255), fmt, ##__VA_ARGS__)

static unsigned long page_size;
/* The mock domain's IO page: half a CPU page. */
static unsigned long io_page;
/* SMALL_PAGES pages of written memory, for the object tests. */
static char *small_buf;

static __attribute__((constructor)) void setup_sizes(void)
{
	page_size = sysconf(_SC_PAGE_SIZE);
	io_page = page_size / 2;
	small_buf = mmap(NULL, SMALL_PAGES * page_size, PROT_READ | PROT_WRITE,
			 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (small_buf != MAP_FAILED)
		memset(small_buf, 0x5a, SMALL_PAGES * page_size);
}

/* EXPECT only: this runs in teardowns. Checks through a fresh context. */
static void expect_unpinned(struct __test_metadata *_metadata, const void *buf,
			    size_t length)
{
	int fd = open("/dev/iommu", O_RDWR);

	EXPECT_LE(0, fd);
	if (fd < 0)
		return;
	EXPECT_EQ(0, _test_cmd_check_refs(fd, buf, length, 0));
	close(fd);
}

static void check_iova_ranges(struct __test_metadata *_metadata, int fd,
			      __u32 ioas_id,
			      const struct iommu_iova_range *expected,
			      __u32 num_expected, __u64 alignment)
{
	struct iommu_iova_range ranges[4] = {};
	__u64 got_alignment = 0;
	__u32 num = 4, i;

	ASSERT_EQ(0, _test_ioctl_iova_ranges(fd, ioas_id, ranges, &num,
					     &got_alignment));
	ASSERT_EQ(num_expected, num);
	for (i = 0; i != num; i++) {
		ASSERT_EQ(expected[i].start, ranges[i].start);
		ASSERT_EQ(expected[i].last, ranges[i].last);
	}
	if (alignment)
		ASSERT_EQ(alignment, got_alignment);
}

static int add_reserved(int fd, __u32 ioas_id, __u64 start, __u64 length)
{
	struct iommu_test_cmd cmd = {
		.size = sizeof(cmd),
		.op = IOMMU_TEST_OP_ADD_RESERVED,
		.id = ioas_id,
		.add_reserved = { .start = start, .length = length },
	};

	return ioctl(fd, IOMMU_TEST_CMD, &cmd);
}

/*
 * The objects: one IOAS, no device until the test makes one, and
 * small_buf to map.
 */
FIXTURE(mock_objects)
{
	int fd;
	__u32 ioas_id;
};

FIXTURE_SETUP(mock_objects)
{
	ASSERT_NE(MAP_FAILED, small_buf);
	self->fd = open("/dev/iommu", O_RDWR);
	ASSERT_LE(0, self->fd);
	test_ioctl_ioas_alloc(&self->ioas_id);
}

/*
 * EXPECT only in teardowns: an ASSERT here after a failed test would
 * jump back into the teardown for ever (the 6.1 harness).
 */
FIXTURE_TEARDOWN(mock_objects)
{
	close(self->fd);
	expect_unpinned(_metadata, small_buf, SMALL_PAGES * page_size);
}

TEST_F(mock_objects, attach_and_remove)
{
	__u32 stdev_id, hwpt_id, idev_id;

	test_cmd_mock_domain(self->ioas_id, &stdev_id, &hwpt_id, &idev_id);
	ASSERT_NE(0, stdev_id);
	ASSERT_NE(0, hwpt_id);
	ASSERT_NE(0, idev_id);
	ASSERT_NE(stdev_id, hwpt_id);
	ASSERT_NE(stdev_id, idev_id);
	ASSERT_NE(hwpt_id, idev_id);
	ASSERT_NE(self->ioas_id, stdev_id);
	ASSERT_NE(self->ioas_id, hwpt_id);
	ASSERT_NE(self->ioas_id, idev_id);

	/* The device holds its HWPT, and the HWPT holds the IOAS. */
	EXPECT_ERRNO(EBUSY, _test_ioctl_destroy(self->fd, self->ioas_id));
	EXPECT_ERRNO(EBUSY, _test_ioctl_destroy(self->fd, hwpt_id));

	/* The automatic HWPT and the bound device leave with the device. */
	test_ioctl_destroy(stdev_id);
	EXPECT_ERRNO(ENOENT, _test_ioctl_destroy(self->fd, hwpt_id));
	EXPECT_ERRNO(ENOENT, _test_ioctl_destroy(self->fd, idev_id));
	EXPECT_ERRNO(ENOENT, _test_ioctl_destroy(self->fd, stdev_id));
	test_ioctl_destroy(self->ioas_id);
}

TEST_F(mock_objects, attach_bad_id)
{
	__u32 stdev_id, hwpt_id, idev_id, gone;

	EXPECT_ERRNO(ENOENT,
		     _test_cmd_mock_domain(self->fd, 0, NULL, NULL, NULL));
	EXPECT_ERRNO(ENOENT, _test_cmd_mock_domain(self->fd, UINT32_MAX, NULL,
						   NULL, NULL));
	test_ioctl_ioas_alloc(&gone);
	test_ioctl_destroy(gone);
	EXPECT_ERRNO(ENOENT,
		     _test_cmd_mock_domain(self->fd, gone, NULL, NULL, NULL));

	/* Objects that exist but are no page table (upstream: EINVAL). */
	test_cmd_mock_domain(self->ioas_id, &stdev_id, &hwpt_id, &idev_id);
	EXPECT_ERRNO(EINVAL, _test_cmd_mock_domain(self->fd, stdev_id, NULL,
						   NULL, NULL));
	EXPECT_ERRNO(EINVAL, _test_cmd_mock_domain(self->fd, idev_id, NULL,
						   NULL, NULL));

	/* The failures left no device attached to anything. */
	test_ioctl_destroy(stdev_id);
	test_ioctl_destroy(self->ioas_id);
}

TEST_F(mock_objects, two_devices_one_ioas)
{
	__u32 stdev[2], hwpt[2], idev[2];
	size_t length = 4 * page_size;

	test_cmd_mock_domain(self->ioas_id, &stdev[0], &hwpt[0], &idev[0]);
	test_ioctl_ioas_map_fixed(self->ioas_id, small_buf, length,
				  MOCK_APERTURE_START);
	test_cmd_mock_domain(self->ioas_id, &stdev[1], &hwpt[1], &idev[1]);
	ASSERT_NE(stdev[0], stdev[1]);
	ASSERT_NE(idev[0], idev[1]);
	check_mock_map(hwpt[0], MOCK_APERTURE_START, length, small_buf);
	check_mock_map(hwpt[1], MOCK_APERTURE_START, length, small_buf);

	/*
	 * Whether the second device got a domain of its own or shares the
	 * first one's automatic HWPT (as upstream does), the HWPT it uses
	 * stays while it is attached.
	 */
	TH_LOG("automatic HWPTs %u and %u", hwpt[0], hwpt[1]);
	test_ioctl_destroy(stdev[0]);
	if (hwpt[0] == hwpt[1])
		EXPECT_ERRNO(EBUSY, _test_ioctl_destroy(self->fd, hwpt[1]));
	else
		EXPECT_ERRNO(ENOENT, _test_ioctl_destroy(self->fd, hwpt[0]));
	check_mock_map(hwpt[1], MOCK_APERTURE_START, length, small_buf);
	EXPECT_ERRNO(EBUSY, _test_ioctl_destroy(self->fd, self->ioas_id));
	check_refs(small_buf, length, 1);

	/* Without a domain the IOAS keeps its mapping, but not the pins. */
	test_ioctl_destroy(stdev[1]);
	EXPECT_ERRNO(ENOENT, _test_ioctl_destroy(self->fd, hwpt[1]));
	check_refs(small_buf, length, 0);
	test_ioctl_ioas_unmap_all(self->ioas_id, length);
	test_ioctl_destroy(self->ioas_id);
}

TEST_F(mock_objects, aperture)
{
	const struct iommu_iova_range aperture = {
		.start = MOCK_APERTURE_START,
		.last = MOCK_APERTURE_LAST,
	};
	/* Far above where the kernel places the small maps below. */
	const __u64 res_start = MOCK_APERTURE_START + 8 * SZ_2M;
	const __u64 res_length = 4 * page_size;
	const __u64 top = APERTURE_END - page_size;
	struct iommu_iova_range split[2];
	__u64 iova;
	__u32 stdev_id, hwpt_id;

	test_cmd_mock_domain(self->ioas_id, &stdev_id, &hwpt_id, NULL);
	check_iova_ranges(_metadata, self->fd, self->ioas_id, &aperture, 1,
			  io_page);

	/* Fixed maps outside the aperture, or across its ends. */
	iova = MOCK_APERTURE_START - page_size;
	EXPECT_ERRNO(EINVAL,
		     _test_ioctl_ioas_map(self->fd, self->ioas_id, small_buf,
					  page_size, &iova, FIXED_RW));
	iova = MOCK_APERTURE_START - io_page;
	EXPECT_ERRNO(EINVAL,
		     _test_ioctl_ioas_map(self->fd, self->ioas_id, small_buf,
					  page_size, &iova, FIXED_RW));
	iova = APERTURE_END;
	EXPECT_ERRNO(EINVAL,
		     _test_ioctl_ioas_map(self->fd, self->ioas_id, small_buf,
					  page_size, &iova, FIXED_RW));
	iova = top + io_page;
	EXPECT_ERRNO(EINVAL,
		     _test_ioctl_ioas_map(self->fd, self->ioas_id, small_buf,
					  page_size, &iova, FIXED_RW));
	iova = 0;
	EXPECT_ERRNO(EINVAL,
		     _test_ioctl_ioas_map(self->fd, self->ioas_id, small_buf,
					  page_size, &iova, FIXED_RW));

	/* Its first and last pages are fine. */
	test_ioctl_ioas_map_fixed(self->ioas_id, small_buf, page_size,
				  MOCK_APERTURE_START);
	test_ioctl_ioas_map_fixed(self->ioas_id, small_buf + page_size,
				  page_size, top);
	check_mock_map(hwpt_id, MOCK_APERTURE_START, page_size, small_buf);
	check_mock_map(hwpt_id, top, page_size, small_buf + page_size);

	/* Kernel-chosen IOVAs land inside it. */
	iova = 0;
	test_ioctl_ioas_map(self->ioas_id, small_buf, 2 * page_size, &iova);
	ASSERT_TRUE(iova >= MOCK_APERTURE_START);
	ASSERT_TRUE(iova + 2 * page_size - 1 <= MOCK_APERTURE_LAST);
	check_mock_map(hwpt_id, iova, 2 * page_size, small_buf);

	/* A reservation inside the aperture splits what is usable. */
	ASSERT_EQ(0,
		  add_reserved(self->fd, self->ioas_id, res_start, res_length));
	split[0].start = MOCK_APERTURE_START;
	split[0].last = res_start - 1;
	split[1].start = res_start + res_length;
	split[1].last = MOCK_APERTURE_LAST;
	check_iova_ranges(_metadata, self->fd, self->ioas_id, split, 2, 0);

	/* With the device gone only the reservation is left. */
	test_ioctl_destroy(stdev_id);
	split[0].start = 0;
	split[1].last = UINT64_MAX;
	check_iova_ranges(_metadata, self->fd, self->ioas_id, split, 2, 0);
	test_ioctl_ioas_unmap_all(self->ioas_id, 4 * page_size);
}

TEST_F(mock_objects, attach_refused_by_mappings)
{
	const struct iommu_iova_range all = { .start = 0, .last = UINT64_MAX };
	/* Outside the aperture: below, above, and across its start. */
	const struct {
		__u64 iova;
		__u64 length;
	} outside[] = {
		{ page_size, page_size },
		{ MOCK_APERTURE_START - page_size, 2 * page_size },
		{ APERTURE_END, page_size },
		{ APERTURE_END - page_size, 2 * page_size },
	};
	__u32 hwpt_id, stdev_id;
	unsigned int i;

	for (i = 0; i != ARRAY_SIZE(outside); i++) {
		TH_LOG("mapping %u", i);
		test_ioctl_ioas_map_fixed(self->ioas_id, small_buf,
					  outside[i].length, outside[i].iova);
		EXPECT_ERRNO(EADDRINUSE,
			     _test_cmd_mock_domain(self->fd, self->ioas_id,
						   NULL, NULL, NULL));
		/* The refused attach left no aperture and no pin behind. */
		check_iova_ranges(_metadata, self->fd, self->ioas_id, &all, 1,
				  0);
		check_refs(small_buf, outside[i].length, 0);
		test_ioctl_ioas_unmap(self->ioas_id, outside[i].iova,
				      outside[i].length);
	}

	/* Inside, the same mapping is no obstacle and ends up mirrored. */
	test_ioctl_ioas_map_fixed(self->ioas_id, small_buf, 2 * page_size,
				  MOCK_APERTURE_START);
	test_cmd_mock_domain(self->ioas_id, &stdev_id, &hwpt_id, NULL);
	check_mock_map(hwpt_id, MOCK_APERTURE_START, 2 * page_size, small_buf);
	check_refs(small_buf, 2 * page_size, 1);
	test_ioctl_destroy(stdev_id);
	test_ioctl_destroy(self->ioas_id);
}

TEST_F(mock_objects, hwpt_alloc)
{
	__u32 stdev_id, auto_hwpt, idev_id, hwpt_id, stdev2, attached;
	size_t length = 4 * page_size;
	__u64 second = MOCK_APERTURE_START + 64 * page_size;

	test_cmd_mock_domain(self->ioas_id, &stdev_id, &auto_hwpt, &idev_id);
	test_ioctl_ioas_map_fixed(self->ioas_id, small_buf, length,
				  MOCK_APERTURE_START);

	/* Unused and destroyed right away. */
	test_cmd_hwpt_alloc(idev_id, self->ioas_id, &hwpt_id);
	ASSERT_NE(0, hwpt_id);
	ASSERT_NE(auto_hwpt, hwpt_id);
	test_ioctl_destroy(hwpt_id);
	EXPECT_ERRNO(ENOENT, _test_ioctl_destroy(self->fd, hwpt_id));

	/* Filled from the IOAS when made, and kept in step unattached. */
	test_cmd_hwpt_alloc(idev_id, self->ioas_id, &hwpt_id);
	check_mock_map(hwpt_id, MOCK_APERTURE_START, length, small_buf);
	test_ioctl_ioas_map_fixed(self->ioas_id, small_buf + length, length,
				  second);
	check_mock_map(hwpt_id, second, length, small_buf + length);
	check_mock_map(auto_hwpt, second, length, small_buf + length);

	/* A device attached to it gets exactly that HWPT. */
	test_cmd_mock_domain(hwpt_id, &stdev2, &attached, NULL);
	ASSERT_EQ(hwpt_id, attached);
	EXPECT_ERRNO(EBUSY, _test_ioctl_destroy(self->fd, hwpt_id));

	/* Not automatic: it outlives its device. */
	test_ioctl_destroy(stdev2);
	test_ioctl_ioas_unmap(self->ioas_id, second, length);
	EXPECT_ERRNO(EINVAL, _test_cmd_check_map(self->fd, hwpt_id, second,
						 io_page, small_buf + length));
	check_mock_map(hwpt_id, MOCK_APERTURE_START, length, small_buf);

	/*
	 * It holds the IOAS until it goes, and with no device left its
	 * domain still keeps the memory pinned.
	 */
	test_ioctl_destroy(stdev_id);
	EXPECT_ERRNO(EBUSY, _test_ioctl_destroy(self->fd, self->ioas_id));
	check_refs(small_buf, length, 1);
	test_ioctl_destroy(hwpt_id);
	EXPECT_ERRNO(ENOENT, _test_ioctl_destroy(self->fd, hwpt_id));
	check_refs(small_buf, length, 0);
	test_ioctl_destroy(self->ioas_id);
}

/* IOMMU_HWPT_ALLOC with room for a tail the kernel does not know. */
struct hwpt_alloc_long {
	struct iommu_hwpt_alloc cmd;
	__u64 tail;
};

/* A command that would work: a HWPT for dev_id mirroring pt_id. */
static void hwpt_alloc_init(struct hwpt_alloc_long *buf, __u32 dev_id,
			    __u32 pt_id)
{
	memset(buf, 0, sizeof(*buf));
	buf->cmd.size = sizeof(buf->cmd);
	buf->cmd.dev_id = dev_id;
	buf->cmd.pt_id = pt_id;
}

TEST_F(mock_objects, hwpt_alloc_bad_input)
{
	/*
	 * DIRTY_TRACKING and NEST_PARENT are good for a mock device: see
	 * iommufd_dirty and iommufd_nested.
	 */
	const __u32 bad_flags[] = {
		IOMMU_HWPT_FAULT_ID_VALID,
		1U << 3,
		1U << 31,
	};
	struct hwpt_alloc_long buf;
	struct iommu_hwpt_alloc *cmd = &buf.cmd;
	__u32 stdev_id, hwpt_id, idev_id;
	__u64 data = 0;
	unsigned int i;

	test_cmd_mock_domain(self->ioas_id, &stdev_id, &hwpt_id, &idev_id);

	for (i = 0; i != ARRAY_SIZE(bad_flags); i++) {
		hwpt_alloc_init(&buf, idev_id, self->ioas_id);
		cmd->flags = bad_flags[i];
		TH_LOG("flags %#x", cmd->flags);
		EXPECT_ERRNO(EOPNOTSUPP,
			     ioctl(self->fd, IOMMU_HWPT_ALLOC, cmd));
	}

	hwpt_alloc_init(&buf, idev_id, self->ioas_id);
	cmd->__reserved = 1;
	EXPECT_ERRNO(EOPNOTSUPP, ioctl(self->fd, IOMMU_HWPT_ALLOC, cmd));
	/* Its padding, __reserved2, is not checked: not by upstream either. */
	hwpt_alloc_init(&buf, idev_id, self->ioas_id);
	cmd->__reserved2 = 1;
	ASSERT_EQ(0, ioctl(self->fd, IOMMU_HWPT_ALLOC, cmd));
	test_ioctl_destroy(cmd->out_hwpt_id);

	/* Driver data: a length without a type, a type without a length. */
	hwpt_alloc_init(&buf, idev_id, self->ioas_id);
	cmd->data_len = sizeof(data);
	cmd->data_uptr = (uintptr_t)&data;
	EXPECT_ERRNO(EINVAL, ioctl(self->fd, IOMMU_HWPT_ALLOC, cmd));
	hwpt_alloc_init(&buf, idev_id, self->ioas_id);
	cmd->data_type = IOMMU_HWPT_DATA_VTD_S1;
	EXPECT_ERRNO(EINVAL, ioctl(self->fd, IOMMU_HWPT_ALLOC, cmd));
	/* And a type the mock IOMMU does not take. */
	cmd->data_len = sizeof(data);
	cmd->data_uptr = (uintptr_t)&data;
	EXPECT_ERRNO(EOPNOTSUPP, ioctl(self->fd, IOMMU_HWPT_ALLOC, cmd));

	/* dev_id must name a device. */
	hwpt_alloc_init(&buf, idev_id, self->ioas_id);
	cmd->dev_id = 0;
	EXPECT_ERRNO(ENOENT, ioctl(self->fd, IOMMU_HWPT_ALLOC, cmd));
	cmd->dev_id = self->ioas_id;
	EXPECT_ERRNO(ENOENT, ioctl(self->fd, IOMMU_HWPT_ALLOC, cmd));
	cmd->dev_id = stdev_id;
	EXPECT_ERRNO(ENOENT, ioctl(self->fd, IOMMU_HWPT_ALLOC, cmd));

	/* pt_id must name an IOAS (upstream: EINVAL for anything else). */
	hwpt_alloc_init(&buf, idev_id, self->ioas_id);
	cmd->pt_id = 0;
	EXPECT_ERRNO(EINVAL, ioctl(self->fd, IOMMU_HWPT_ALLOC, cmd));
	cmd->pt_id = idev_id;
	EXPECT_ERRNO(EINVAL, ioctl(self->fd, IOMMU_HWPT_ALLOC, cmd));
	/* A HWPT as the parent asks for nesting, which needs driver data. */
	cmd->pt_id = hwpt_id;
	EXPECT_ERRNO(EOPNOTSUPP, ioctl(self->fd, IOMMU_HWPT_ALLOC, cmd));

	/* The size: short of __reserved, and an unknown tail. */
	hwpt_alloc_init(&buf, idev_id, self->ioas_id);
	cmd->size = offsetof(struct iommu_hwpt_alloc, __reserved) +
		    sizeof(cmd->__reserved) - 1;
	EXPECT_ERRNO(EINVAL, ioctl(self->fd, IOMMU_HWPT_ALLOC, cmd));
	cmd->size = sizeof(buf);
	buf.tail = 1;
	EXPECT_ERRNO(E2BIG, ioctl(self->fd, IOMMU_HWPT_ALLOC, cmd));

	/* The first version of the structure, and a zero tail, work. */
	buf.tail = 0;
	ASSERT_EQ(0, ioctl(self->fd, IOMMU_HWPT_ALLOC, cmd));
	test_ioctl_destroy(cmd->out_hwpt_id);
	hwpt_alloc_init(&buf, idev_id, self->ioas_id);
	cmd->size = offsetof(struct iommu_hwpt_alloc, __reserved) +
		    sizeof(cmd->__reserved);
	ASSERT_EQ(0, ioctl(self->fd, IOMMU_HWPT_ALLOC, cmd));
	test_ioctl_destroy(cmd->out_hwpt_id);

	/* No failed call left a HWPT holding the IOAS. */
	test_ioctl_destroy(stdev_id);
	test_ioctl_destroy(self->ioas_id);
}

TEST_F(mock_objects, pins_come_with_the_first_domain)
{
	const __u64 iova = MOCK_APERTURE_START + 64 * page_size;
	const size_t length = 4 * page_size;
	__u32 stdev[2], idev_id, hwpt_id, user_hwpt, other;

	/*
	 * Without a domain a map pins nothing, however often it is made.
	 * (At fixed IOVAs: the kernel would choose some below the aperture
	 * of the domains to come.)
	 */
	test_ioctl_ioas_map_fixed(self->ioas_id, small_buf, length,
				  MOCK_APERTURE_START);
	test_ioctl_ioas_map_fixed(self->ioas_id, small_buf, page_size, iova);
	check_refs(small_buf, length, 0);

	/* The first domain pins each map once; more domains pin nothing. */
	test_cmd_mock_domain(self->ioas_id, &stdev[0], &hwpt_id, &idev_id);
	check_mock_map(hwpt_id, MOCK_APERTURE_START, length, small_buf);
	check_mock_map(hwpt_id, iova, page_size, small_buf);
	check_refs(small_buf, page_size, 2);
	check_refs(small_buf + page_size, length - page_size, 1);
	test_cmd_mock_domain(self->ioas_id, &stdev[1], NULL, NULL);
	test_cmd_hwpt_alloc(idev_id, self->ioas_id, &user_hwpt);
	check_mock_map(user_hwpt, MOCK_APERTURE_START, length, small_buf);
	check_refs(small_buf, page_size, 2);
	check_refs(small_buf + page_size, length - page_size, 1);

	/* A HWPT without a device is a domain too: the pins stay. */
	test_ioctl_destroy(stdev[0]);
	test_ioctl_destroy(stdev[1]);
	check_mock_map(user_hwpt, iova, page_size, small_buf);
	check_refs(small_buf, page_size, 2);
	check_refs(small_buf + page_size, length - page_size, 1);

	/* The last domain takes every pin with it; the maps stay. */
	test_ioctl_destroy(user_hwpt);
	check_refs(small_buf, length, 0);

	/* IOMMU_HWPT_ALLOC alone, as the first domain, pins them again. */
	test_ioctl_ioas_alloc(&other);
	test_cmd_mock_domain(other, &stdev[0], NULL, &idev_id);
	test_cmd_hwpt_alloc(idev_id, self->ioas_id, &user_hwpt);
	check_mock_map(user_hwpt, MOCK_APERTURE_START, length, small_buf);
	check_refs(small_buf, page_size, 2);
	check_refs(small_buf + page_size, length - page_size, 1);
	test_ioctl_destroy(user_hwpt);
	check_refs(small_buf, length, 0);

	test_ioctl_ioas_unmap_all(self->ioas_id, length + page_size);
	test_ioctl_destroy(stdev[0]);
	test_ioctl_destroy(other);
	test_ioctl_destroy(self->ioas_id);
}

/*
 * Memory that cannot be pinned for a read/write map, one kind per slot of
 * BAD_SLOT bytes: read-only, inaccessible, not there at all, and a
 * written page followed by an inaccessible one. Every slot is mapped in
 * the process, so munmap(BAD_KINDS * BAD_SLOT) releases it all.
 */
#define BAD_KINDS 4
#define BAD_SLOT (2 * page_size)

static const char *const bad_kinds[BAD_KINDS] = {
	"read-only", "inaccessible", "unmapped", "half inaccessible",
};

static char *alloc_bad_memory(struct __test_metadata *_metadata)
{
	char *bad;

	bad = mmap(NULL, BAD_KINDS * BAD_SLOT, PROT_READ | PROT_WRITE,
		   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, bad);
	memset(bad, 0x77, BAD_KINDS * BAD_SLOT);
	ASSERT_EQ(0, mprotect(bad, BAD_SLOT, PROT_READ));
	ASSERT_EQ(0, mprotect(bad + BAD_SLOT, BAD_SLOT, PROT_NONE));
	ASSERT_EQ(0, munmap(bad + 2 * BAD_SLOT, BAD_SLOT));
	ASSERT_EQ(0, mprotect(bad + 3 * BAD_SLOT + page_size, page_size,
			      PROT_NONE));
	return bad;
}

TEST_F(mock_objects, first_domain_needs_pinnable_memory)
{
	const struct iommu_iova_range all = { .start = 0, .last = UINT64_MAX };
	const __u64 bad_iova = MOCK_APERTURE_START + 64 * page_size;
	const size_t length = 2 * page_size;
	__u32 other, stdev_id, idev_id, hwpt_id;
	unsigned int i;
	__u64 iova;
	char *bad;

	bad = alloc_bad_memory(_metadata);
	/* A device elsewhere, to ask IOMMU_HWPT_ALLOC for a domain. */
	test_ioctl_ioas_alloc(&other);
	test_cmd_mock_domain(other, &stdev_id, NULL, &idev_id);
	/* Below the bad map, so that it is pinned before the failure. */
	test_ioctl_ioas_map_fixed(self->ioas_id, small_buf, length,
				  MOCK_APERTURE_START);

	for (i = 0; i != BAD_KINDS; i++) {
		TH_LOG("%s memory", bad_kinds[i]);
		/* Without a domain any memory maps, even writeable. */
		test_ioctl_ioas_map_fixed(self->ioas_id, bad + i * BAD_SLOT,
					  BAD_SLOT, bad_iova);
		EXPECT_ERRNO(EFAULT, _test_cmd_mock_domain(self->fd,
							   self->ioas_id, NULL,
							   NULL, NULL));
		EXPECT_ERRNO(EFAULT,
			     _test_cmd_hwpt_alloc(self->fd, idev_id,
						  self->ioas_id, 0, NULL));
		/* A domain no IOMMU makes is refused before any pin. */
		EXPECT_ERRNO(EOPNOTSUPP,
			     _test_cmd_hwpt_alloc(self->fd, idev_id,
						  self->ioas_id,
						  IOMMU_HWPT_FAULT_ID_VALID,
						  NULL));
		EXPECT_ERRNO(EOPNOTSUPP,
			     _test_cmd_hwpt_alloc(self->fd, idev_id,
						  self->ioas_id, 1U << 31,
						  NULL));
		/*
		 * Neither left a domain, an aperture or a pin behind: without
		 * a domain, IOVA has byte granularity.
		 */
		check_iova_ranges(_metadata, self->fd, self->ioas_id, &all, 1,
				  1);
		check_refs(small_buf, length, 0);
		if (i == BAD_KINDS - 1)
			check_refs(bad + i * BAD_SLOT, page_size, 0);
		test_ioctl_ioas_unmap(self->ioas_id, bad_iova, BAD_SLOT);
	}

	/* Read-only memory mapped read-only is fine. */
	iova = bad_iova;
	ASSERT_EQ(0, _test_ioctl_ioas_map(self->fd, self->ioas_id, bad,
					  BAD_SLOT, &iova,
					  IOMMU_IOAS_MAP_FIXED_IOVA |
						  IOMMU_IOAS_MAP_READABLE));
	test_cmd_hwpt_alloc(idev_id, self->ioas_id, &hwpt_id);
	check_mock_map(hwpt_id, MOCK_APERTURE_START, length, small_buf);
	check_mock_map(hwpt_id, bad_iova, BAD_SLOT, bad);
	check_refs(small_buf, length, 1);
	check_refs(bad, BAD_SLOT, 1);
	test_ioctl_destroy(hwpt_id);
	check_refs(small_buf, length, 0);
	check_refs(bad, BAD_SLOT, 0);

	test_ioctl_destroy(stdev_id);
	test_ioctl_destroy(other);
	test_ioctl_destroy(self->ioas_id);
	ASSERT_EQ(0, munmap(bad, BAD_KINDS * BAD_SLOT));
}

/*
 * A private 2 MiB hugetlb page, written, on a hugetlbfs mount that holds
 * no other page, at a 2 MiB boundary with 2 MiB of unmapped address space
 * below it. Returns NULL if there is no such page to have.
 */
static char *private_huge_page(struct __test_metadata *_metadata)
{
	uintptr_t at;
	char *va, *huge;
	int fd;

	fd = test_private_hugetlbfs("pagesize=2M,size=2M", SZ_2M);
	if (fd < 0)
		return NULL;
	va = mmap(NULL, 4 * SZ_2M, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1,
		  0);
	ASSERT_NE(MAP_FAILED, va);
	at = ((uintptr_t)va + 2 * SZ_2M - 1) & ~(SZ_2M - 1);
	huge = mmap((void *)at, SZ_2M, PROT_READ | PROT_WRITE,
		    MAP_PRIVATE | MAP_FIXED, fd, 0);
	close(fd);
	if (huge == MAP_FAILED)
		return NULL;
	memset(huge, 0x5a, SZ_2M);
	return huge;
}

/*
 * 6.1's GUP may write more of its list of pages than it returns: fast GUP
 * lists the pages of a huge page before it finds it cannot pin them, and
 * the slow path may then fail. Here the huge page is shared copy-on-write
 * with the parent, and a pin of this process must unshare it, which fails:
 * its mount has no page for the copy. The first domain pins the map in
 * one window where an access pinned the first page already, so the window
 * is pinned gap by gap, and what GUP listed past its return must stay a
 * gap. It used to be taken for pins: unpinned when the pin failed (the
 * parent's page lost 512 pins it never had) or, behind a read-only page
 * that GUP did pin, kept as pinned (the attach succeeded with the huge
 * page not pinned at all).
 */
static void cow_huge_page_pin(struct __test_metadata *_metadata, int self_fd,
			      bool read_only_before)
{
	char *huge = private_huge_page(_metadata);
	char *before;
	pid_t pid;
	size_t i;

	if (!huge)
		SKIP_TEST_PROCESS("no private 2 MiB hugetlbfs page");
	before = huge - 2 * page_size;
	pid = fork();
	ASSERT_LE(0, pid);
	if (!pid) {
		const __u32 pin = MOCK_FLAGS_ACCESS_CREATE_NEEDS_PIN_PAGES;
		__u64 iova = MOCK_APERTURE_START;
		int fd = open("/dev/iommu", O_RDWR);
		__u32 ioas_id, pages_id;
		int access_fd;
		void *p;

		ASSERT_LE(0, fd);
		p = mmap(before, 2 * page_size, PROT_READ | PROT_WRITE,
			 MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0);
		ASSERT_EQ((void *)before, p);
		memset(before, 1, 2 * page_size);
		if (read_only_before)
			ASSERT_EQ(0, mprotect(before + page_size, page_size,
					      PROT_READ));
		ASSERT_EQ(0, _test_ioctl_ioas_alloc(fd, &ioas_id));
		ASSERT_EQ(0, _test_ioctl_ioas_map(fd, ioas_id, before,
						  2 * page_size + SZ_2M, &iova,
						  IOMMU_IOAS_MAP_FIXED_IOVA |
							  IOMMU_IOAS_MAP_READABLE));
		ASSERT_EQ(0, _test_cmd_create_access(fd, ioas_id, pin,
						     &access_fd));
		ASSERT_EQ(0, _test_cmd_access_pages(fd, access_fd, iova,
						    page_size, before, 0,
						    &pages_id));

		EXPECT_ERRNO(EFAULT, _test_cmd_mock_domain(fd, ioas_id, NULL,
							   NULL, NULL));
		/* Only the access's page is pinned, once. */
		EXPECT_EQ(0, _test_cmd_check_refs(fd, before, page_size, 1));
		EXPECT_EQ(0, _test_cmd_check_refs(fd, before + page_size,
						  page_size + SZ_2M, 0));
		EXPECT_EQ(page_size / 1024, test_vm_pin_kb());

		ASSERT_EQ(0, close(access_fd));
		EXPECT_EQ(0, test_vm_pin_kb());
		ASSERT_EQ(0, close(fd));
		end_child();
	}
	wait_child(_metadata, pid);
	/* The parent's page is whole, and leaves with the right count. */
	for (i = 0; i != SZ_2M; i++)
		if (huge[i] != 0x5a)
			break;
	ASSERT_EQ(SZ_2M, i);
	ASSERT_EQ(0, _test_cmd_check_refs(self_fd, huge, SZ_2M, 0));
	ASSERT_EQ(0, munmap(huge, SZ_2M));
}

TEST_F(mock_objects, cow_huge_page_pin_fails_clean)
{
	cow_huge_page_pin(_metadata, self->fd, false);
}

TEST_F(mock_objects, cow_huge_page_behind_read_only_page)
{
	cow_huge_page_pin(_metadata, self->fd, true);
}

TEST_F(mock_objects, map_with_a_domain_pins_at_once)
{
	const __u64 iova = MOCK_APERTURE_START;
	__u32 stdev_id, hwpt_id;
	unsigned int i;
	__u64 got;
	char *bad;

	bad = alloc_bad_memory(_metadata);
	test_cmd_mock_domain(self->ioas_id, &stdev_id, &hwpt_id, NULL);

	for (i = 0; i != BAD_KINDS; i++) {
		TH_LOG("%s memory", bad_kinds[i]);
		got = iova;
		EXPECT_ERRNO(EFAULT,
			     _test_ioctl_ioas_map(self->fd, self->ioas_id,
						  bad + i * BAD_SLOT, BAD_SLOT,
						  &got, FIXED_RW));
		if (i == BAD_KINDS - 1)
			check_refs(bad + i * BAD_SLOT, page_size, 0);
		/* And the same at an IOVA the kernel chooses. */
		EXPECT_ERRNO(EFAULT,
			     _test_ioctl_ioas_map(self->fd, self->ioas_id,
						  bad + i * BAD_SLOT, BAD_SLOT,
						  &got, TEST_MAP_RW));
	}
	/* The failures left no area: only this one is unmapped below. */
	test_ioctl_ioas_map_fixed(self->ioas_id, small_buf, BAD_SLOT, iova);
	check_mock_map(hwpt_id, iova, BAD_SLOT, small_buf);
	check_refs(small_buf, BAD_SLOT, 1);

	test_ioctl_destroy(stdev_id);
	check_refs(small_buf, BAD_SLOT, 0);
	test_ioctl_ioas_unmap_all(self->ioas_id, BAD_SLOT);
	test_ioctl_destroy(self->ioas_id);
	ASSERT_EQ(0, munmap(bad, BAD_KINDS * BAD_SLOT));
}

/*
 * A map into a domain of a range nothing pins yet, longer than a pin keeps
 * on the stack, whose last page cannot be pinned: the pages pinned before
 * it go back, one by one as each GUP call stops short, and none is
 * charged.
 */
TEST_F(mock_objects, long_map_partly_unpinnable)
{
	const unsigned int pages = 32;
	const __u64 iova = MOCK_APERTURE_START;
	long pin_kb = test_vm_pin_kb();
	__u32 stdev_id, hwpt_id;
	__u64 got = iova;
	char *buf;

	buf = test_alloc_small_pages(pages);
	ASSERT_NE(NULL, buf);
	ASSERT_EQ(0, mprotect(buf + (pages - 1) * page_size, page_size,
			      PROT_NONE));
	test_cmd_mock_domain(self->ioas_id, &stdev_id, &hwpt_id, NULL);

	EXPECT_ERRNO(EFAULT, _test_ioctl_ioas_map(self->fd, self->ioas_id, buf,
						  pages * page_size, &got,
						  FIXED_RW));
	check_refs(buf, (pages - 1) * page_size, 0);
	EXPECT_EQ(pin_kb, test_vm_pin_kb());
	/* Nothing of it stayed: the IOVA maps anew. */
	test_ioctl_ioas_map_fixed(self->ioas_id, buf, (pages - 1) * page_size,
				  iova);
	check_mock_map(hwpt_id, iova, (pages - 1) * page_size, buf);
	check_refs(buf, (pages - 1) * page_size, 1);

	test_ioctl_destroy(stdev_id);
	check_refs(buf, (pages - 1) * page_size, 0);
	test_ioctl_ioas_unmap_all(self->ioas_id, (pages - 1) * page_size);
	ASSERT_EQ(0, munmap(buf, pages * page_size));
}

/*
 * With a domain a map pins before it takes the IOAS's lock, but a map
 * that has no place to go fails as it would without the pin: at a busy
 * IOVA memory that cannot be pinned gives EEXIST, not EFAULT, and with no
 * room for a kernel-chosen IOVA ENOSPC; nothing stays pinned.
 */
TEST_F(mock_objects, map_without_a_place_fails_before_pinning)
{
	const __u64 iova = MOCK_APERTURE_START;
	struct iommu_iova_range range = {
		.start = iova,
		.last = iova + 2 * page_size - 1,
	};
	long pin_kb = test_vm_pin_kb();
	__u32 stdev_id, hwpt_id;
	char *buf, *none;
	__u64 got;

	buf = test_alloc_small_pages(2);
	ASSERT_NE(NULL, buf);
	none = mmap(NULL, 4 * page_size, PROT_NONE,
		    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, none);
	test_cmd_mock_domain(self->ioas_id, &stdev_id, &hwpt_id, NULL);
	test_ioctl_ioas_map_fixed(self->ioas_id, buf, 2 * page_size, iova);
	check_refs(buf, 2 * page_size, 1);

	/* Unpinnable memory at a free IOVA is EFAULT: the pin is tried. */
	got = iova + 8 * page_size;
	EXPECT_ERRNO(EFAULT, _test_ioctl_ioas_map(self->fd, self->ioas_id, none,
						  4 * page_size, &got,
						  FIXED_RW));
	/* At a busy one the place is refused first. */
	got = iova + page_size;
	EXPECT_ERRNO(EEXIST, _test_ioctl_ioas_map(self->fd, self->ioas_id, none,
						  4 * page_size, &got,
						  FIXED_RW));
	/* And where no IOVA is left, whether the memory pins or not. */
	test_ioctl_ioas_allow_iovas(self->ioas_id, &range, 1);
	got = 0;
	EXPECT_ERRNO(ENOSPC, _test_ioctl_ioas_map(self->fd, self->ioas_id, none,
						  4 * page_size, &got,
						  TEST_MAP_RW));
	EXPECT_ERRNO(ENOSPC, _test_ioctl_ioas_map(self->fd, self->ioas_id, buf,
						  page_size, &got,
						  TEST_MAP_RW));
	check_refs(buf, 2 * page_size, 1);
	check_mock_map(hwpt_id, iova, 2 * page_size, buf);
	test_ioctl_ioas_allow_iovas(self->ioas_id, NULL, 0);

	test_ioctl_ioas_unmap_all(self->ioas_id, 2 * page_size);
	check_refs(buf, 2 * page_size, 0);
	EXPECT_EQ(pin_kb, test_vm_pin_kb());
	test_ioctl_destroy(stdev_id);
	ASSERT_EQ(0, munmap(none, 4 * page_size));
	ASSERT_EQ(0, munmap(buf, 2 * page_size));
}

/*
 * Two 2 MiB hugetlb pages mapped into a domain and unmapped again, then
 * one of them munmap()ed, which splits the hugetlb VMA. On Debian's 6.1
 * base that split warned on a lockdep kernel (patches/0016): the console
 * checker fails the run if it still does.
 */
TEST_F(mock_objects, hugetlb_split_after_unmap)
{
	const size_t len = 2 * SZ_2M;
	__u32 stdev_id;
	__u64 iova;
	char *buf;

	buf = test_alloc_huge_pages(len, 0x3c);
	if (!buf)
		SKIP(return, "no two 2 MiB hugetlb pages free");
	test_cmd_mock_domain(self->ioas_id, &stdev_id, NULL, NULL);
	test_ioctl_ioas_map(self->ioas_id, buf, len, &iova);
	test_ioctl_ioas_unmap(self->ioas_id, iova, len);
	check_refs(buf, len, 0);
	test_ioctl_destroy(stdev_id);

	ASSERT_EQ(0, munmap(buf + SZ_2M, SZ_2M));
	/* The half left is still the process's memory. */
	EXPECT_EQ(0x3c, buf[0]);
	ASSERT_EQ(0, munmap(buf, SZ_2M));
}

/*
 * A huge page pinned whole is counted in runs, one count per 1 MiB of it;
 * pins of parts of it still pin exactly the pages they cover. VmPin counts
 * pages, where check_refs() sees a huge page's pins only as a whole.
 */
TEST_F(mock_objects, huge_page_part_pins)
{
	const __u64 iova = MOCK_APERTURE_START;
	const __u64 copy_iova = MOCK_APERTURE_START + 4 * SZ_2M;
	const size_t len = SZ_2M;
	const long page_kb = page_size / 1024;
	__u32 stdev_id, hwpt_id, other, other_stdev, other_hwpt;
	__u32 access_pages_id;
	int access_fd;
	long base;
	char *buf;

	buf = test_alloc_huge_pages(len, 0x3c);
	if (!buf)
		SKIP(return, "no 2 MiB hugetlb page free");
	base = test_vm_pin_kb();
	test_ioctl_ioas_map_fixed(self->ioas_id, buf, len, iova);
	test_cmd_create_access(self->ioas_id,
			       MOCK_FLAGS_ACCESS_CREATE_NEEDS_PIN_PAGES,
			       &access_fd);

	/* An access to one page pins that page. */
	test_cmd_access_pages(access_fd, iova + 300 * page_size, page_size,
			      buf + 300 * page_size, 0, &access_pages_id);
	ASSERT_EQ(base + page_kb, test_vm_pin_kb());

	/* A domain pins the rest, and maps each page where it belongs. */
	test_cmd_mock_domain(self->ioas_id, &stdev_id, &hwpt_id, NULL);
	check_mock_map(hwpt_id, iova, len, buf);
	ASSERT_EQ(base + (long)(len / 1024), test_vm_pin_kb());
	test_cmd_destroy_access_pages(access_fd, access_pages_id);
	ASSERT_EQ(base + (long)(len / 1024), test_vm_pin_kb());

	/* A copy of pages 3-7 into a domain of its own. */
	test_ioctl_ioas_alloc(&other);
	test_cmd_mock_domain(other, &other_stdev, &other_hwpt, NULL);
	test_ioctl_ioas_copy_fixed(other, self->ioas_id, iova + 3 * page_size,
				   5 * page_size, copy_iova);
	check_mock_map(other_hwpt, copy_iova, 5 * page_size,
		       buf + 3 * page_size);
	ASSERT_EQ(base + (long)(len / 1024), test_vm_pin_kb());

	/* Without the first domain, the copy keeps its five pages, no more. */
	test_ioctl_destroy(stdev_id);
	ASSERT_EQ(base + 5 * page_kb, test_vm_pin_kb());

	/* One more page, pinned again, inside what was a run. */
	test_cmd_access_pages(access_fd, iova + 10 * page_size, page_size,
			      buf + 10 * page_size, 0, &access_pages_id);
	ASSERT_EQ(base + 6 * page_kb, test_vm_pin_kb());

	/* A domain again: all of it, mapped right around the parts. */
	test_cmd_mock_domain(self->ioas_id, &stdev_id, &hwpt_id, NULL);
	check_mock_map(hwpt_id, iova, len, buf);
	ASSERT_EQ(base + (long)(len / 1024), test_vm_pin_kb());
	test_ioctl_destroy(stdev_id);
	ASSERT_EQ(base + 6 * page_kb, test_vm_pin_kb());

	test_cmd_destroy_access_pages(access_fd, access_pages_id);
	ASSERT_EQ(base + 5 * page_kb, test_vm_pin_kb());
	test_ioctl_destroy(other_stdev);
	ASSERT_EQ(base, test_vm_pin_kb());
	check_refs(buf, len, 0);

	ASSERT_EQ(0, close(access_fd));
	test_ioctl_destroy(other);
	test_ioctl_ioas_unmap(self->ioas_id, iova, len);
	ASSERT_EQ(0, munmap(buf, len));
}

/*
 * A 2 MiB hugetlb page pinned whole by a domain is one span of two runs of
 * 1 MiB. Pins covering a part of it split it: an access to one page in
 * its second MiB, a copy of pages across the middle. Each step checks the
 * pins (VmPin exact) and that every domain maps every page where it
 * belongs.
 */
TEST_F(mock_objects, huge_page_span_splits)
{
	const __u64 iova = MOCK_APERTURE_START;
	const __u64 copy_iova = MOCK_APERTURE_START + 4 * SZ_2M;
	const size_t len = SZ_2M;
	const long page_kb = page_size / 1024;
	__u32 stdev_id, hwpt_id, other, other_stdev, other_hwpt;
	__u32 access_pages_id;
	int access_fd;
	long base;
	char *buf;

	buf = test_alloc_huge_pages(len, 0x5c);
	if (!buf)
		SKIP(return, "no 2 MiB hugetlb page free");
	base = test_vm_pin_kb();
	test_ioctl_ioas_map_fixed(self->ioas_id, buf, len, iova);
	test_cmd_mock_domain(self->ioas_id, &stdev_id, &hwpt_id, NULL);
	check_mock_map(hwpt_id, iova, len, buf);
	ASSERT_EQ(base + (long)(len / 1024), test_vm_pin_kb());

	/* One page of the second MiB: the span splits, nothing is pinned. */
	test_cmd_create_access(self->ioas_id,
			       MOCK_FLAGS_ACCESS_CREATE_NEEDS_PIN_PAGES,
			       &access_fd);
	test_cmd_access_pages(access_fd, iova + 300 * page_size, page_size,
			      buf + 300 * page_size, 0, &access_pages_id);
	ASSERT_EQ(base + (long)(len / 1024), test_vm_pin_kb());

	/* Pages 250-261, across the two MiBs, into a domain of their own. */
	test_ioctl_ioas_alloc(&other);
	test_cmd_mock_domain(other, &other_stdev, &other_hwpt, NULL);
	test_ioctl_ioas_copy_fixed(other, self->ioas_id, iova + 250 * page_size,
				   12 * page_size, copy_iova);
	check_mock_map(other_hwpt, copy_iova, 12 * page_size,
		       buf + 250 * page_size);
	ASSERT_EQ(base + (long)(len / 1024), test_vm_pin_kb());

	/* Without the first domain: the copy's twelve pages and the access's. */
	test_ioctl_destroy(stdev_id);
	ASSERT_EQ(base + 13 * page_kb, test_vm_pin_kb());
	check_refs(buf + 250 * page_size, 12 * page_size, 1);
	check_refs(buf + 300 * page_size, page_size, 1);
	check_refs(buf, 250 * page_size, 0);

	/* A domain again, whole over the parts, then the parts go first. */
	test_cmd_mock_domain(self->ioas_id, &stdev_id, &hwpt_id, NULL);
	check_mock_map(hwpt_id, iova, len, buf);
	ASSERT_EQ(base + (long)(len / 1024), test_vm_pin_kb());
	test_cmd_destroy_access_pages(access_fd, access_pages_id);
	test_ioctl_destroy(other_stdev);
	ASSERT_EQ(base + (long)(len / 1024), test_vm_pin_kb());
	check_mock_map(hwpt_id, iova, len, buf);
	test_ioctl_destroy(stdev_id);
	ASSERT_EQ(base, test_vm_pin_kb());
	check_refs(buf, len, 0);

	ASSERT_EQ(0, close(access_fd));
	test_ioctl_destroy(other);
	test_ioctl_ioas_unmap(self->ioas_id, iova, len);
	ASSERT_EQ(0, munmap(buf, len));
}

TEST_F(mock_objects, pins_across_ioases)
{
	const size_t length = 4 * page_size;
	const __u64 iova = MOCK_APERTURE_START;
	const __u64 other_iova = MOCK_APERTURE_START + 64 * page_size;
	__u32 other, stdev_id, other_stdev, other_hwpt;

	test_ioctl_ioas_alloc(&other);
	test_cmd_mock_domain(self->ioas_id, &stdev_id, NULL, NULL);
	test_ioctl_ioas_map_fixed(self->ioas_id, small_buf, length, iova);
	check_refs(small_buf, length, 1);

	/* A copy shares the pins of its map, with or without a domain. */
	test_ioctl_ioas_copy_fixed(other, self->ioas_id, iova, length,
				   other_iova);
	check_refs(small_buf, length, 1);
	test_cmd_mock_domain(other, &other_stdev, &other_hwpt, NULL);
	check_mock_map(other_hwpt, other_iova, length, small_buf);
	check_refs(small_buf, length, 1);

	/* Either IOAS's domain keeps the pins alone. */
	test_ioctl_destroy(stdev_id);
	check_refs(small_buf, length, 1);
	test_ioctl_destroy(other_stdev);
	check_refs(small_buf, length, 0);
	test_cmd_mock_domain(self->ioas_id, &stdev_id, NULL, NULL);
	check_refs(small_buf, length, 1);

	/* A second map of the same memory is pinned apart from the first. */
	test_ioctl_ioas_unmap(other, other_iova, length);
	test_ioctl_ioas_map_fixed(other, small_buf, length, other_iova);
	check_refs(small_buf, length, 1);
	test_cmd_mock_domain(other, &other_stdev, &other_hwpt, NULL);
	check_mock_map(other_hwpt, other_iova, length, small_buf);
	check_refs(small_buf, length, 2);
	test_ioctl_destroy(stdev_id);
	check_refs(small_buf, length, 1);
	test_ioctl_destroy(other_stdev);
	check_refs(small_buf, length, 0);

	test_ioctl_destroy(other);
	test_ioctl_destroy(self->ioas_id);
}

/*
 * A page-cache page of a private writable file mapping, mapped for device
 * reads only: the process's next write must not copy it away from under
 * the device. 6.1's GUP does not unshare such a page for a read-only pin,
 * so iommufd pins it for writing, breaking the copy-on-write up front.
 */
TEST_F(mock_objects, private_file_page_stays_shared)
{
	__u64 iova = MOCK_APERTURE_START;
	__u32 stdev_id, hwpt_id;
	char *buf;
	int fd;

	test_cmd_mock_domain(self->ioas_id, &stdev_id, &hwpt_id, NULL);
	fd = open("/proc/self/exe", O_RDONLY);
	ASSERT_LE(0, fd);
	buf = mmap(NULL, page_size, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0);
	ASSERT_NE(MAP_FAILED, buf);
	ASSERT_EQ(0, close(fd));

	ASSERT_EQ(0, _test_ioctl_ioas_map(self->fd, self->ioas_id, buf,
					  page_size, &iova,
					  IOMMU_IOAS_MAP_READABLE |
						  IOMMU_IOAS_MAP_FIXED_IOVA));
	check_mock_map(hwpt_id, iova, page_size, buf);
	memset(buf, 0x3c, page_size);
	check_mock_map(hwpt_id, iova, page_size, buf);

	test_ioctl_ioas_unmap(self->ioas_id, iova, page_size);
	check_refs(buf, page_size, 0);
	test_ioctl_destroy(stdev_id);
	ASSERT_EQ(0, munmap(buf, page_size));
}

/*
 * A device that only reads a writable shared mapping of a regular file
 * gets the page cache pinned read-only. Pinned for writing, the pages
 * would be write-faulted first: the filesystem's page_mkwrite runs
 * (updating the file's mtime, reserving blocks) and the pages stay
 * writable to the device behind the filesystem's back for as long as
 * the pin lasts. The write pin that breaks copy-on-write is for private
 * mappings only. ramfs shows it: its mappings use the generic page-cache
 * operations, whose page_mkwrite updates the mtime, which is set into
 * the past first, and it must still be there after the map.
 */
TEST_F(mock_objects, shared_file_pinned_read_only)
{
	const struct timespec past[2] = { { .tv_sec = 1000000000 },
					  { .tv_sec = 1000000000 } };
	char dir[] = "/tmp/iommufd_ramfs.XXXXXX";
	__u64 iova = MOCK_APERTURE_START;
	__u32 stdev_id, hwpt_id;
	char path[64];
	struct stat st;
	char *buf;
	int fd;

	ASSERT_NE(NULL, mkdtemp(dir));
	if (mount("iommufd_test", dir, "ramfs", 0, NULL)) {
		int err = errno;

		rmdir(dir);
		VM_SKIP(return, "cannot mount a ramfs: %s", strerror(err));
	}
	snprintf(path, sizeof(path), "%s/file", dir);
	fd = open(path, O_RDWR | O_CREAT | O_EXCL, 0600);
	ASSERT_LE(0, fd);
	ASSERT_EQ(page_size, write(fd, small_buf, page_size));
	ASSERT_EQ(0, futimens(fd, past));
	buf = mmap(NULL, page_size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	ASSERT_NE(MAP_FAILED, buf);

	test_cmd_mock_domain(self->ioas_id, &stdev_id, &hwpt_id, NULL);
	ASSERT_EQ(0, _test_ioctl_ioas_map(self->fd, self->ioas_id, buf,
					  page_size, &iova,
					  IOMMU_IOAS_MAP_READABLE |
						  IOMMU_IOAS_MAP_FIXED_IOVA));
	/* The page cache itself is mapped and pinned, not a copy. */
	check_mock_map(hwpt_id, iova, page_size, buf);
	check_refs(buf, page_size, 1);
	ASSERT_EQ(0, fstat(fd, &st));
	ASSERT_EQ(past[1].tv_sec, st.st_mtim.tv_sec);
	ASSERT_EQ(0, st.st_mtim.tv_nsec);

	test_ioctl_ioas_unmap(self->ioas_id, iova, page_size);
	check_refs(buf, page_size, 0);
	test_ioctl_destroy(stdev_id);
	/* A write through the mapping does update it: the oracle works. */
	buf[0] ^= 1;
	ASSERT_EQ(0, fstat(fd, &st));
	ASSERT_NE(past[1].tv_sec, st.st_mtim.tv_sec);

	ASSERT_EQ(0, munmap(buf, page_size));
	ASSERT_EQ(0, close(fd));
	ASSERT_EQ(0, unlink(path));
	ASSERT_EQ(0, umount(dir));
	ASSERT_EQ(0, rmdir(dir));
}

/*
 * Replacing moves a device straight from one HWPT to another: its domain
 * then translates the new IOAS, the automatic HWPT it left is gone, and
 * a refused replacement leaves it where it was.
 */
TEST_F(mock_objects, replace)
{
	size_t length = 2 * page_size;
	char *buf_a = small_buf, *buf_b = small_buf + length;
	__u32 stdev_id, hwpt_a, hwpt_b, hwpt_user, out, ioas_b, idev_id;
	__u32 ioas_big;

	test_ioctl_ioas_alloc(&ioas_b);
	test_ioctl_ioas_map_fixed(self->ioas_id, buf_a, length,
				  MOCK_APERTURE_START);
	test_ioctl_ioas_map_fixed(ioas_b, buf_b, length, MOCK_APERTURE_START);
	test_cmd_mock_domain(self->ioas_id, &stdev_id, &hwpt_a, &idev_id);
	check_mock_map(hwpt_a, MOCK_APERTURE_START, length, buf_a);
	check_refs(buf_a, length, 1);
	check_refs(buf_b, length, 0);

	/* To another IOAS: a new automatic HWPT; the old one goes. */
	test_cmd_mock_domain_replace(stdev_id, ioas_b, &hwpt_b);
	ASSERT_NE(hwpt_a, hwpt_b);
	check_mock_map(hwpt_b, MOCK_APERTURE_START, length, buf_b);
	EXPECT_ERRNO(ENOENT, _test_ioctl_destroy(self->fd, hwpt_a));
	check_refs(buf_a, length, 0);
	check_refs(buf_b, length, 1);
	EXPECT_ERRNO(EBUSY, _test_ioctl_destroy(self->fd, ioas_b));
	test_ioctl_destroy(self->ioas_id);
	test_ioctl_ioas_alloc(&self->ioas_id);

	/* To the HWPT it is on, or to that HWPT's IOAS: nothing changes. */
	test_cmd_mock_domain_replace(stdev_id, hwpt_b, &out);
	ASSERT_EQ(hwpt_b, out);
	test_cmd_mock_domain_replace(stdev_id, ioas_b, &out);
	ASSERT_EQ(hwpt_b, out);

	/* To a HWPT userspace made on the same IOAS. */
	test_cmd_hwpt_alloc(idev_id, ioas_b, &hwpt_user);
	test_cmd_mock_domain_replace(stdev_id, hwpt_user, &out);
	ASSERT_EQ(hwpt_user, out);
	EXPECT_ERRNO(ENOENT, _test_ioctl_destroy(self->fd, hwpt_b));
	EXPECT_ERRNO(EBUSY, _test_ioctl_destroy(self->fd, hwpt_user));
	check_mock_map(hwpt_user, MOCK_APERTURE_START, length, buf_b);
	check_refs(buf_b, length, 1);

	/* Refused: an IOAS mapping IOVA outside the mock aperture. */
	test_ioctl_ioas_alloc(&ioas_big);
	test_ioctl_ioas_map_fixed(ioas_big, buf_a, length, 0);
	EXPECT_ERRNO(EADDRINUSE,
		     _test_cmd_mock_domain_replace(self->fd, stdev_id, ioas_big,
						   &out));
	check_mock_map(hwpt_user, MOCK_APERTURE_START, length, buf_b);
	check_refs(buf_a, length, 0);
	EXPECT_ERRNO(EBUSY, _test_ioctl_destroy(self->fd, hwpt_user));
	test_ioctl_destroy(ioas_big);

	/* Bad IDs. */
	EXPECT_ERRNO(ENOENT, _test_cmd_mock_domain_replace(self->fd, stdev_id,
							   UINT32_MAX, &out));
	EXPECT_ERRNO(EINVAL, _test_cmd_mock_domain_replace(self->fd, stdev_id,
							   idev_id, &out));
	EXPECT_ERRNO(ENOENT, _test_cmd_mock_domain_replace(self->fd, UINT32_MAX,
							   ioas_b, &out));
	EXPECT_ERRNO(ENOENT, _test_cmd_mock_domain_replace(self->fd, idev_id,
							   ioas_b, &out));
	check_mock_map(hwpt_user, MOCK_APERTURE_START, length, buf_b);

	/* Back to an IOAS; the user HWPT stays until destroyed. */
	test_cmd_mock_domain_replace(stdev_id, self->ioas_id, &out);
	ASSERT_NE(hwpt_user, out);
	check_refs(buf_b, length, 1);
	test_ioctl_destroy(hwpt_user);
	check_refs(buf_b, length, 0);
	test_ioctl_destroy(stdev_id);
	EXPECT_ERRNO(ENOENT, _test_ioctl_destroy(self->fd, out));
	test_ioctl_ioas_unmap_all(ioas_b, length);
	test_ioctl_destroy(ioas_b);
}

static int get_hw_info(int fd, __u32 dev_id, __u32 flags, __u32 in_type,
		       void *data, __u32 *data_len, __u32 *type)
{
	struct iommu_hw_info cmd = {
		.size = sizeof(cmd),
		.flags = flags,
		.dev_id = dev_id,
		.data_len = *data_len,
		.data_uptr = (uintptr_t)data,
		.in_data_type = in_type,
	};
	int rc;

	rc = ioctl(fd, IOMMU_GET_HW_INFO, &cmd);
	*data_len = cmd.data_len;
	*type = cmd.out_data_type;
	return rc;
}

TEST_F(mock_objects, get_hw_info)
{
	struct {
		struct iommu_test_hw_info info;
		__u32 tail[2];
	} buf;
	struct iommu_hw_info cmd = { .size = sizeof(cmd) };
	__u32 stdev_id, hwpt_id, idev_id, len, type;

	test_cmd_mock_domain(self->ioas_id, &stdev_id, &hwpt_id, &idev_id);

	/* A larger buffer: the data, then zeroes; its real length back. */
	memset(&buf, 0xaa, sizeof(buf));
	len = sizeof(buf);
	ASSERT_EQ(0, get_hw_info(self->fd, idev_id, 0, 0, &buf, &len, &type));
	ASSERT_EQ(sizeof(buf.info), len);
	ASSERT_EQ(IOMMU_HW_INFO_TYPE_SELFTEST, type);
	ASSERT_EQ(IOMMU_HW_INFO_SELFTEST_REGVAL, buf.info.test_reg);
	ASSERT_EQ(0, buf.info.flags);
	ASSERT_EQ(0, buf.tail[0]);
	ASSERT_EQ(0, buf.tail[1]);

	/* A shorter buffer gets what fits; no buffer, only the length. */
	memset(&buf, 0xaa, sizeof(buf));
	len = 4;
	ASSERT_EQ(0, get_hw_info(self->fd, idev_id, 0, 0, &buf, &len, &type));
	ASSERT_EQ(sizeof(buf.info), len);
	ASSERT_EQ(0, buf.info.flags);
	ASSERT_EQ(0xaaaaaaaa, buf.info.test_reg);
	len = 0;
	ASSERT_EQ(0, get_hw_info(self->fd, idev_id, 0, 0, NULL, &len, &type));
	ASSERT_EQ(sizeof(buf.info), len);
	ASSERT_EQ(IOMMU_HW_INFO_TYPE_SELFTEST, type);

	/* Asking for a type: the one the IOMMU has, or the default. */
	len = sizeof(buf.info);
	ASSERT_EQ(0, get_hw_info(self->fd, idev_id,
				 IOMMU_HW_INFO_FLAG_INPUT_TYPE,
				 IOMMU_HW_INFO_TYPE_SELFTEST, &buf, &len,
				 &type));
	ASSERT_EQ(IOMMU_HW_INFO_TYPE_SELFTEST, type);
	ASSERT_EQ(0, get_hw_info(self->fd, idev_id,
				 IOMMU_HW_INFO_FLAG_INPUT_TYPE,
				 IOMMU_HW_INFO_TYPE_DEFAULT, &buf, &len, &type));
	EXPECT_ERRNO(EOPNOTSUPP,
		     get_hw_info(self->fd, idev_id,
				 IOMMU_HW_INFO_FLAG_INPUT_TYPE,
				 IOMMU_HW_INFO_TYPE_INTEL_VTD, &buf, &len,
				 &type));

	/* Bad input. */
	len = sizeof(buf.info);
	EXPECT_ERRNO(EOPNOTSUPP, get_hw_info(self->fd, idev_id, 1 << 1, 0,
					     &buf, &len, &type));
	EXPECT_ERRNO(ENOENT, get_hw_info(self->fd, self->ioas_id, 0, 0, &buf,
					 &len, &type));
	EXPECT_ERRNO(ENOENT, get_hw_info(self->fd, stdev_id, 0, 0, &buf, &len,
					 &type));
	EXPECT_ERRNO(ENOENT, get_hw_info(self->fd, UINT32_MAX, 0, 0, &buf,
					 &len, &type));
	EXPECT_ERRNO(EFAULT, get_hw_info(self->fd, idev_id, 0, 0, (void *)8,
					 &len, &type));
	cmd.dev_id = idev_id;
	cmd.__reserved[1] = 1;
	EXPECT_ERRNO(EOPNOTSUPP, ioctl(self->fd, IOMMU_GET_HW_INFO, &cmd));
	cmd.__reserved[1] = 0;
	cmd.size = offsetof(struct iommu_hw_info, __reserved);
	EXPECT_ERRNO(EINVAL, ioctl(self->fd, IOMMU_GET_HW_INFO, &cmd));
	cmd.size = offsetof(struct iommu_hw_info, __reserved) +
		   sizeof(cmd.__reserved);
	ASSERT_EQ(0, ioctl(self->fd, IOMMU_GET_HW_INFO, &cmd));
	ASSERT_EQ(IOMMU_HW_INFO_TYPE_SELFTEST, cmd.out_data_type);

	test_ioctl_destroy(stdev_id);
	EXPECT_ERRNO(ENOENT, get_hw_info(self->fd, idev_id, 0, 0, &buf, &len,
					 &type));
}

/* IOMMU_GET_HW_INFO's PASID width and capabilities for @dev_id. */
static int get_hw_pasid(int fd, __u32 dev_id, __u8 *max_pasid_log2,
			__u64 *caps)
{
	struct iommu_hw_info cmd = {
		.size = sizeof(cmd),
		.dev_id = dev_id,
		.out_max_pasid_log2 = 0xff,
		.out_capabilities = ~0ULL,
	};

	if (ioctl(fd, IOMMU_GET_HW_INFO, &cmd))
		return -1;
	*max_pasid_log2 = cmd.out_max_pasid_log2;
	*caps = cmd.out_capabilities;
	return 0;
}

/* A mock device with @flags attached to @ioas: its selftest and device IDs. */
static int mock_device_ids(int fd, __u32 ioas, __u32 flags, __u32 *stdev_id,
			   __u32 *idev_id)
{
	struct iommu_test_cmd cmd = {
		.size = sizeof(cmd),
		.op = IOMMU_TEST_OP_MOCK_DOMAIN_FLAGS,
		.id = ioas,
		.mock_domain_flags = { .dev_flags = flags },
	};

	if (ioctl(fd, IOMMU_TEST_CMD, &cmd))
		return -1;
	*stdev_id = cmd.mock_domain_flags.out_stdev_id;
	*idev_id = cmd.mock_domain_flags.out_idev_id;
	return 0;
}

/*
 * A mock device made with MOCK_FLAGS_DEVICE_PASID reports
 * MOCK_PASID_WIDTH PASID bits, as upstream's; any other reports 0. The
 * PCI PASID capabilities are for PCI devices only. Not a PASID of the
 * width attaches: this kernel has no PASID attach.
 */
TEST_F(mock_objects, get_hw_info_pasid)
{
	__u32 stdev_id, hwpt_id, idev_id, pasid_stdev_id, pasid_idev_id;
	__u8 max_pasid;
	__u64 caps;

	test_cmd_mock_domain(self->ioas_id, &stdev_id, &hwpt_id, &idev_id);
	ASSERT_EQ(0, mock_device_ids(self->fd, self->ioas_id,
				     MOCK_FLAGS_DEVICE_PASID, &pasid_stdev_id,
				     &pasid_idev_id));
	ASSERT_EQ(0, get_hw_pasid(self->fd, idev_id, &max_pasid, &caps));
	ASSERT_EQ(0, max_pasid);
	ASSERT_EQ(0, caps & (IOMMU_HW_CAP_PCI_PASID_EXEC |
			     IOMMU_HW_CAP_PCI_PASID_PRIV));
	ASSERT_EQ(0, get_hw_pasid(self->fd, pasid_idev_id, &max_pasid, &caps));
	ASSERT_EQ(MOCK_PASID_WIDTH, max_pasid);
	ASSERT_EQ(0, caps & (IOMMU_HW_CAP_PCI_PASID_EXEC |
			     IOMMU_HW_CAP_PCI_PASID_PRIV));

	/* Gone with its device. */
	test_ioctl_destroy(pasid_stdev_id);
	EXPECT_ERRNO(ENOENT, get_hw_pasid(self->fd, pasid_idev_id, &max_pasid,
					  &caps));
	/* A new device of either kind, in any order, says the same. */
	ASSERT_EQ(0, mock_device_ids(self->fd, self->ioas_id,
				     MOCK_FLAGS_DEVICE_PASID |
					     MOCK_FLAGS_DEVICE_NO_DIRTY,
				     &pasid_stdev_id, &pasid_idev_id));
	ASSERT_EQ(0, get_hw_pasid(self->fd, pasid_idev_id, &max_pasid, &caps));
	ASSERT_EQ(MOCK_PASID_WIDTH, max_pasid);
	ASSERT_EQ(0, get_hw_pasid(self->fd, idev_id, &max_pasid, &caps));
	ASSERT_EQ(0, max_pasid);
	test_ioctl_destroy(pasid_stdev_id);
	test_ioctl_destroy(stdev_id);
}

#define UNSAFE_IRQS "/sys/module/iommufd/parameters/allow_unsafe_interrupts"

static int set_unsafe_interrupts(const char *val)
{
	int fd = open(UNSAFE_IRQS, O_WRONLY);
	int rc;

	if (fd < 0)
		return -1;
	rc = write(fd, val, 1) == 1 ? 0 : -1;
	close(fd);
	return rc;
}

/*
 * A device whose IOMMU cannot isolate its MSIs is refused unless the
 * administrator says iommufd.allow_unsafe_interrupts.
 */
TEST_F(mock_objects, unsafe_interrupts)
{
	const char *r;
	__u32 stdev_id;
	char val = 0;
	char *text;
	int fd;

	fd = open(UNSAFE_IRQS, O_RDONLY);
	ASSERT_LE(0, fd);
	ASSERT_EQ(1, read(fd, &val, 1));
	close(fd);
	ASSERT_EQ('N', val);

	EXPECT_ERRNO(EPERM,
		     _test_cmd_mock_domain_flags(self->fd, self->ioas_id,
						 MOCK_FLAGS_DEVICE_NO_MSI_ISOLATION,
						 &stdev_id));
	/* The context's fdinfo says why, and what to do. */
	text = fdinfo_read(self->fd);
	ASSERT_NE(NULL, text);
	r = fdinfo_field(text, "last-refusal:\t");
	ASSERT_NE(NULL, r);
	EXPECT_EQ(0, strncmp(r, "device bind -EPERM the device's IOMMU cannot isolate MSIs",
			     strlen("device bind -EPERM the device's IOMMU cannot isolate MSIs")));
	EXPECT_NE(NULL, strstr(r, "allow_unsafe_interrupts"));
	free(text);
	ASSERT_EQ(0, set_unsafe_interrupts("Y"));
	ASSERT_EQ(0,
		  _test_cmd_mock_domain_flags(self->fd, self->ioas_id,
					      MOCK_FLAGS_DEVICE_NO_MSI_ISOLATION,
					      &stdev_id));
	ASSERT_EQ(0, set_unsafe_interrupts("N"));
	test_ioctl_destroy(stdev_id);
	test_ioctl_destroy(self->ioas_id);
}

TEST_F(mock_objects, test_cmd_length)
{
	struct {
		struct iommu_test_cmd cmd;
		__u64 tail;
	} buf = {};
	const size_t min_size =
		offsetof(struct iommu_test_cmd, last) + sizeof(buf.cmd.last);
	__u32 stdev_id;

	buf.cmd.op = IOMMU_TEST_OP_MOCK_DOMAIN;
	buf.cmd.id = self->ioas_id;
	buf.cmd.size = min_size - 1;
	EXPECT_ERRNO(EINVAL, ioctl(self->fd, IOMMU_TEST_CMD, &buf));
	buf.cmd.size = 0;
	EXPECT_ERRNO(EINVAL, ioctl(self->fd, IOMMU_TEST_CMD, &buf));
	buf.cmd.size = sizeof(buf);
	buf.tail = 1;
	EXPECT_ERRNO(E2BIG, ioctl(self->fd, IOMMU_TEST_CMD, &buf));
	/* None of those made a device: the IOAS is free. */
	test_ioctl_destroy(self->ioas_id);
	test_ioctl_ioas_alloc(&self->ioas_id);

	buf.cmd.id = self->ioas_id;
	buf.tail = 0;
	buf.cmd.size = min_size;
	ASSERT_EQ(0, ioctl(self->fd, IOMMU_TEST_CMD, &buf));
	stdev_id = buf.cmd.mock_domain.out_stdev_id;
	ASSERT_NE(0, stdev_id);
	ASSERT_NE(0, buf.cmd.mock_domain.out_hwpt_id);
	test_ioctl_destroy(stdev_id);

	buf.cmd.size = sizeof(buf);
	ASSERT_EQ(0, ioctl(self->fd, IOMMU_TEST_CMD, &buf));
	test_ioctl_destroy(buf.cmd.mock_domain.out_stdev_id);
	test_ioctl_destroy(self->ioas_id);
}

TEST_F(mock_objects, check_ops_bad_input)
{
	const __u64 iova = MOCK_APERTURE_START;
	struct iommu_test_cmd cmd = {
		.op = IOMMU_TEST_OP_MD_CHECK_MAP,
		.check_map = {
			.iova = iova,
			.length = page_size,
			.uptr = (uintptr_t)small_buf,
		},
	};
	__u32 stdev_id, hwpt_id;

	test_cmd_mock_domain(self->ioas_id, &stdev_id, &hwpt_id, NULL);
	test_ioctl_ioas_map_fixed(self->ioas_id, small_buf, 2 * page_size,
				  iova);
	cmd.id = hwpt_id;
	cmd.size = offsetof(struct iommu_test_cmd, last);
	EXPECT_ERRNO(EINVAL, ioctl(self->fd, IOMMU_TEST_CMD, &cmd));
	cmd.size = sizeof(cmd);
	ASSERT_EQ(0, ioctl(self->fd, IOMMU_TEST_CMD, &cmd));

	/* Not a mock HWPT. */
	EXPECT_ERRNO(ENOENT, _test_cmd_check_map(self->fd, 0, iova, page_size,
						 small_buf));
	EXPECT_ERRNO(ENOENT, _test_cmd_check_map(self->fd, self->ioas_id, iova,
						 page_size, small_buf));
	EXPECT_ERRNO(ENOENT, _test_cmd_check_map(self->fd, stdev_id, iova,
						 page_size, small_buf));

	/* Not in IO pages. */
	EXPECT_ERRNO(EINVAL,
		     _test_cmd_check_map(self->fd, hwpt_id, iova + io_page / 2,
					 io_page, small_buf));
	EXPECT_ERRNO(EINVAL, _test_cmd_check_map(self->fd, hwpt_id, iova,
						 io_page + 1, small_buf));
	EXPECT_ERRNO(EINVAL, _test_cmd_check_map(self->fd, hwpt_id, iova,
						 io_page, small_buf + 1));

	/* Mapped, but not to that memory; or not mapped at all. */
	EXPECT_ERRNO(EINVAL,
		     _test_cmd_check_map(self->fd, hwpt_id, iova, page_size,
					 small_buf + page_size));
	EXPECT_ERRNO(EINVAL,
		     _test_cmd_check_map(self->fd, hwpt_id, iova + page_size,
					 page_size, small_buf));
	EXPECT_ERRNO(EINVAL, _test_cmd_check_map(self->fd, hwpt_id, iova,
						 3 * page_size, small_buf));
	check_mock_map(hwpt_id, iova + io_page, io_page, small_buf + io_page);

	/* CHECK_REFS works in whole pages, and says EIO on a mismatch. */
	EXPECT_ERRNO(EINVAL, _test_cmd_check_refs(self->fd, small_buf + io_page,
						  page_size, 1));
	EXPECT_ERRNO(EINVAL,
		     _test_cmd_check_refs(self->fd, small_buf, io_page, 1));
	EXPECT_ERRNO(EIO, _test_cmd_check_refs(self->fd, small_buf,
					       2 * page_size, 0));
	EXPECT_ERRNO(EIO, _test_cmd_check_refs(self->fd, small_buf,
					       3 * page_size, 1));
	EXPECT_ERRNO(EIO,
		     _test_cmd_check_refs(self->fd, small_buf, page_size, 2));
	check_refs(small_buf, 2 * page_size, 1);
	check_refs(small_buf + 2 * page_size, page_size, 0);
}

/*
 * Mapping with domains attached. Every variant has one mock device on the
 * IOAS. "two_devices" attaches a second one to the IOAS as well (which
 * may share the first one's domain); "hwpt_alloc" and "hugetlb" attach
 * the second one to a HWPT made by IOMMU_HWPT_ALLOC, so that two distinct
 * domains mirror the IOAS. "hugetlb" and "thp" map 2 MiB of huge pages.
 */
enum backing {
	BACKING_PAGES,
	BACKING_HUGETLB,
	BACKING_THP,
};

FIXTURE(mock_map)
{
	int fd;
	__u32 ioas_id;
	unsigned int num_devices;
	__u32 stdev_ids[2];
	__u32 hwpt_ids[2];
	__u32 idev_ids[2];
	/* The test buffer: written, buf_size bytes, from the mmap at raw. */
	char *buf;
	size_t buf_size;
	void *raw;
	size_t raw_size;
	/* Where fixed maps start: the bottom of the aperture. */
	__u64 base;
};

FIXTURE_VARIANT(mock_map)
{
	unsigned int devices;
	bool hwpt_alloc;
	enum backing backing;
};

FIXTURE_VARIANT_ADD(mock_map, one_device)
{
	.devices = 1,
	.backing = BACKING_PAGES,
};

FIXTURE_VARIANT_ADD(mock_map, two_devices)
{
	.devices = 2,
	.backing = BACKING_PAGES,
};

FIXTURE_VARIANT_ADD(mock_map, hwpt_alloc)
{
	.devices = 2,
	.hwpt_alloc = true,
	.backing = BACKING_PAGES,
};

FIXTURE_VARIANT_ADD(mock_map, hugetlb)
{
	.devices = 2,
	.hwpt_alloc = true,
	.backing = BACKING_HUGETLB,
};

FIXTURE_VARIANT_ADD(mock_map, thp)
{
	.devices = 1,
	.backing = BACKING_THP,
};

FIXTURE_SETUP(mock_map)
{
	uintptr_t aligned;
	unsigned int i;

	switch (variant->backing) {
	case BACKING_PAGES:
		self->raw_size = 16 * page_size;
		self->raw = mmap(NULL, self->raw_size, PROT_READ | PROT_WRITE,
				 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		ASSERT_NE(MAP_FAILED, self->raw);
		self->buf = self->raw;
		self->buf_size = self->raw_size;
		break;
	case BACKING_HUGETLB:
		/* One of the guest's few huge pages, shared by all tests. */
		self->raw_size = SZ_2M;
		self->raw = mmap(NULL, self->raw_size, PROT_READ | PROT_WRITE,
				 MAP_PRIVATE | MAP_ANONYMOUS | MAP_HUGETLB, -1,
				 0);
		if (self->raw == MAP_FAILED)
			SKIP_TEST_PROCESS("no 2 MiB hugetlb page free");
		self->buf = self->raw;
		self->buf_size = self->raw_size;
		break;
	case BACKING_THP:
		self->raw_size = 2 * SZ_2M;
		self->raw = mmap(NULL, self->raw_size, PROT_READ | PROT_WRITE,
				 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		ASSERT_NE(MAP_FAILED, self->raw);
		aligned = ((uintptr_t)self->raw + SZ_2M - 1) & ~(SZ_2M - 1);
		self->buf = (char *)aligned;
		self->buf_size = SZ_2M;
		if (madvise(self->buf, self->buf_size, MADV_HUGEPAGE)) {
			munmap(self->raw, self->raw_size);
			SKIP_TEST_PROCESS("no transparent huge pages");
		}
		break;
	}
	memset(self->buf, 0xa5, self->buf_size);

	self->base = MOCK_APERTURE_START;
	self->fd = open("/dev/iommu", O_RDWR);
	ASSERT_LE(0, self->fd);
	test_ioctl_ioas_alloc(&self->ioas_id);

	test_cmd_mock_domain(self->ioas_id, &self->stdev_ids[0],
			     &self->hwpt_ids[0], &self->idev_ids[0]);
	self->num_devices = 1;
	for (i = 1; i < variant->devices; i++) {
		__u32 pt_id = self->ioas_id;

		if (variant->hwpt_alloc)
			test_cmd_hwpt_alloc(self->idev_ids[0], self->ioas_id,
					    &pt_id);
		test_cmd_mock_domain(pt_id, &self->stdev_ids[i],
				     &self->hwpt_ids[i], &self->idev_ids[i]);
		if (variant->hwpt_alloc) {
			ASSERT_EQ(pt_id, self->hwpt_ids[i]);
			ASSERT_NE(self->hwpt_ids[0], self->hwpt_ids[i]);
		}
		self->num_devices++;
	}
}

FIXTURE_TEARDOWN(mock_map)
{
	close(self->fd);
	/* Closing the context released every pin on the buffer. */
	expect_unpinned(_metadata, self->buf, self->buf_size);
	munmap(self->raw, self->raw_size);
}

/* Every domain translates [iova, iova + length) to the memory at uptr. */
static void check_mapped_in(struct __test_metadata *_metadata, int fd,
			    const __u32 *hwpt_ids, unsigned int num_hwpts,
			    __u64 iova, size_t length, const void *uptr)
{
	unsigned int i;

	for (i = 0; i != num_hwpts; i++)
		ASSERT_EQ(0, _test_cmd_check_map(fd, hwpt_ids[i], iova, length,
						 uptr));
}

#define check_mapped(iova, length, uptr)                     \
	check_mapped_in(_metadata, self->fd, self->hwpt_ids, \
			self->num_devices, iova, length, uptr)

/*
 * No domain translates any IO page of [iova, iova + length) to the memory
 * at uptr any more. Up to 32 IO pages are tried, the first and the last
 * among them.
 */
static void check_unmapped_in(struct __test_metadata *_metadata, int fd,
			      const __u32 *hwpt_ids, unsigned int num_hwpts,
			      __u64 iova, size_t length, const char *uptr)
{
	size_t num = length / io_page;
	size_t step = num > 32 ? num / 32 : 1;
	size_t last = length - io_page;
	unsigned int i;
	size_t n;

	for (i = 0; i != num_hwpts; i++) {
		for (n = 0; n < num; n += step)
			EXPECT_ERRNO(EINVAL,
				     _test_cmd_check_map(fd, hwpt_ids[i],
							 iova + n * io_page,
							 io_page,
							 uptr + n * io_page));
		EXPECT_ERRNO(EINVAL,
			     _test_cmd_check_map(fd, hwpt_ids[i], iova + last,
						 io_page, uptr + last));
	}
}

#define check_unmapped(iova, length, uptr)                     \
	check_unmapped_in(_metadata, self->fd, self->hwpt_ids, \
			  self->num_devices, iova, length, uptr)

/* The kB of transparent huge pages in the mapping that holds addr. */
static unsigned long anon_huge_kb(const void *addr)
{
	unsigned long start, end, kb = 0;
	bool inside = false;
	char line[256];
	FILE *f;

	f = fopen("/proc/self/smaps", "r");
	if (!f)
		return 0;
	while (fgets(line, sizeof(line), f)) {
		if (sscanf(line, "%lx-%lx ", &start, &end) == 2 &&
		    strchr(line, '-') < strchr(line, ' ')) {
			inside = start <= (uintptr_t)addr &&
				 (uintptr_t)addr < end;
			continue;
		}
		if (inside && sscanf(line, "AnonHugePages: %lu kB", &kb) == 1)
			break;
	}
	fclose(f);
	return kb;
}

/*
 * MD_CHECK_REFS counts the pins of each page exactly, also on huge pages,
 * whose pins the kernel keeps on the huge page as a whole: a count too
 * high or too low fails with EIO.
 */
TEST_F(mock_map, check_refs_exact)
{
	const size_t half = self->buf_size / 2;
	const size_t size = self->buf_size;
	char *buf = self->buf;
	__u64 iova = 0;

	/* Else this would check small pages only. */
	if (variant->backing == BACKING_THP)
		ASSERT_LE(SZ_2M / 1024, anon_huge_kb(buf));

	check_refs(buf, size, 0);
	EXPECT_ERRNO(EIO, _test_cmd_check_refs(self->fd, buf, size, 1));

	test_ioctl_ioas_map_fixed(self->ioas_id, buf, size, self->base);
	check_refs(buf, size, 1);
	EXPECT_ERRNO(EIO, _test_cmd_check_refs(self->fd, buf, size, 0));
	EXPECT_ERRNO(EIO, _test_cmd_check_refs(self->fd, buf, size, 2));

	/* The first half mapped once more: twice pinned, the rest once. */
	test_ioctl_ioas_map(self->ioas_id, buf, half, &iova);
	check_refs(buf, half, 2);
	check_refs(buf + half, half, 1);
	EXPECT_ERRNO(EIO, _test_cmd_check_refs(self->fd, buf, size, 1));
	EXPECT_ERRNO(EIO, _test_cmd_check_refs(self->fd, buf, size, 2));

	test_ioctl_ioas_unmap(self->ioas_id, iova, half);
	check_refs(buf, size, 1);
	test_ioctl_ioas_unmap(self->ioas_id, self->base, size);
	check_refs(buf, size, 0);
	EXPECT_ERRNO(EIO, _test_cmd_check_refs(self->fd, buf, size, 1));
}

TEST_F(mock_map, map_fixed_unmap)
{
	test_ioctl_ioas_map_fixed(self->ioas_id, self->buf, self->buf_size,
				  self->base);
	check_mapped(self->base, self->buf_size, self->buf);
	check_refs(self->buf, self->buf_size, 1);

	test_ioctl_ioas_unmap(self->ioas_id, self->base, self->buf_size);
	check_unmapped(self->base, self->buf_size, self->buf);
	check_refs(self->buf, self->buf_size, 0);
	test_ioctl_ioas_unmap_all(self->ioas_id, 0);
}

TEST_F(mock_map, map_auto_unmap)
{
	__u64 iova = 0;

	test_ioctl_ioas_map(self->ioas_id, self->buf, self->buf_size, &iova);
	ASSERT_TRUE(iova >= MOCK_APERTURE_START);
	ASSERT_TRUE(iova + self->buf_size - 1 <= MOCK_APERTURE_LAST);
	ASSERT_EQ(0, iova % page_size);
	check_mapped(iova, self->buf_size, self->buf);
	check_refs(self->buf, self->buf_size, 1);

	test_ioctl_ioas_unmap(self->ioas_id, iova, self->buf_size);
	check_unmapped(iova, self->buf_size, self->buf);
	check_refs(self->buf, self->buf_size, 0);
}

TEST_F(mock_map, map_twice)
{
	__u64 iova = 0;

	/* Two maps of the same memory: two pins, two translations. */
	test_ioctl_ioas_map_fixed(self->ioas_id, self->buf, self->buf_size,
				  self->base);
	check_refs(self->buf, self->buf_size, 1);
	test_ioctl_ioas_map(self->ioas_id, self->buf, self->buf_size, &iova);
	check_refs(self->buf, self->buf_size, 2);
	check_mapped(self->base, self->buf_size, self->buf);
	check_mapped(iova, self->buf_size, self->buf);

	test_ioctl_ioas_unmap(self->ioas_id, self->base, self->buf_size);
	check_unmapped(self->base, self->buf_size, self->buf);
	check_mapped(iova, self->buf_size, self->buf);
	check_refs(self->buf, self->buf_size, 1);

	test_ioctl_ioas_unmap(self->ioas_id, iova, self->buf_size);
	check_unmapped(iova, self->buf_size, self->buf);
	check_refs(self->buf, self->buf_size, 0);
}

TEST_F(mock_map, unmap_many_areas)
{
	size_t half = self->buf_size / 2;
	__u64 iova = 0, far;

	/*
	 * The buffer's two halves as two areas side by side, in swapped
	 * order, then its first half and all of it again elsewhere.
	 */
	test_ioctl_ioas_map_fixed(self->ioas_id, self->buf + half, half,
				  self->base);
	test_ioctl_ioas_map_fixed(self->ioas_id, self->buf, half,
				  self->base + half);
	check_mapped(self->base, half, self->buf + half);
	check_mapped(self->base + half, half, self->buf);
	far = self->base + 4 * self->buf_size;
	test_ioctl_ioas_map_fixed(self->ioas_id, self->buf, half, far);
	check_mapped(far, half, self->buf);
	test_ioctl_ioas_map(self->ioas_id, self->buf, self->buf_size, &iova);
	check_mapped(iova, self->buf_size, self->buf);
	check_refs(self->buf, half, 3);
	check_refs(self->buf + half, half, 2);

	/* One unmap takes both side by side areas, and only them. */
	test_ioctl_ioas_unmap(self->ioas_id, self->base, self->buf_size);
	check_unmapped(self->base, half, self->buf + half);
	check_unmapped(self->base + half, half, self->buf);
	check_mapped(iova, self->buf_size, self->buf);
	check_mapped(far, half, self->buf);
	check_refs(self->buf, half, 2);
	check_refs(self->buf + half, half, 1);

	test_ioctl_ioas_unmap_all(self->ioas_id, self->buf_size + half);
	check_unmapped(iova, self->buf_size, self->buf);
	check_unmapped(far, half, self->buf);
	check_refs(self->buf, self->buf_size, 0);
}

TEST_F(mock_map, unmap_partial_refused)
{
	test_ioctl_ioas_map_fixed(self->ioas_id, self->buf, self->buf_size,
				  self->base);

	/* Cutting into the area fails and changes no domain. */
	EXPECT_ERRNO(ENOENT,
		     _test_ioctl_ioas_unmap(self->fd, self->ioas_id, self->base,
					    page_size, NULL));
	EXPECT_ERRNO(ENOENT, _test_ioctl_ioas_unmap(self->fd, self->ioas_id,
						    self->base + page_size,
						    self->buf_size, NULL));
	EXPECT_ERRNO(ENOENT, _test_ioctl_ioas_unmap(self->fd, self->ioas_id,
						    self->base - page_size,
						    2 * page_size, NULL));
	check_mapped(self->base, self->buf_size, self->buf);
	check_refs(self->buf, self->buf_size, 1);
	test_ioctl_ioas_unmap_all(self->ioas_id, self->buf_size);
	check_unmapped(self->base, self->buf_size, self->buf);
}

/*
 * Every start and end on the IO page grid of the first four pages of the
 * buffer, mapped at the same offset in the IOVA space: only those IO
 * pages are translated, the pages they touch are pinned once, and unmap
 * takes it all back.
 */
TEST_F(mock_map, io_page_alignment_sweep)
{
	const unsigned int num = 4 * page_size / io_page;
	unsigned int start, end;

	for (start = 0; start != num; start++) {
		for (end = start + 1; end <= num; end++) {
			size_t offset = start * io_page;
			size_t length = (end - start) * io_page;
			size_t first_page = offset / page_size * page_size;
			size_t pinned = (offset + length + page_size - 1) /
						page_size * page_size -
					first_page;
			char *uptr = self->buf + offset;
			__u64 iova = self->base + offset;

			TH_LOG("IO pages %u to %u", start, end);
			test_ioctl_ioas_map_fixed(self->ioas_id, uptr, length,
						  iova);
			check_mapped(iova, length, uptr);
			/* Its neighbours in both spaces are not. */
			if (start)
				check_unmapped(iova - io_page, io_page,
					       uptr - io_page);
			check_unmapped(iova + length, io_page, uptr + length);
			check_refs(self->buf + first_page, pinned, 1);

			test_ioctl_ioas_unmap(self->ioas_id, iova, length);
			check_unmapped(iova, length, uptr);
			check_refs(self->buf, 4 * page_size, 0);
		}
	}
	test_ioctl_ioas_unmap_all(self->ioas_id, 0);
}

TEST_F(mock_map, io_page_auto_iova)
{
	const unsigned int num = 4 * page_size / io_page;
	unsigned int start;

	/* A chosen IOVA keeps the offset of the memory in its page. */
	for (start = 0; start != num; start++) {
		size_t offset = start * io_page;
		size_t length = 4 * page_size - offset;
		__u64 iova = 0;

		TH_LOG("offset %zu", offset);
		test_ioctl_ioas_map(self->ioas_id, self->buf + offset, length,
				    &iova);
		ASSERT_EQ(offset % page_size, iova % page_size);
		ASSERT_TRUE(iova >= MOCK_APERTURE_START);
		ASSERT_TRUE(iova + length - 1 <= MOCK_APERTURE_LAST);
		check_mapped(iova, length, self->buf + offset);
		test_ioctl_ioas_unmap(self->ioas_id, iova, length);
		check_unmapped(iova, length, self->buf + offset);
	}
	check_refs(self->buf, 4 * page_size, 0);
}

/* Upstream rule: the memory's and the IOVA's offsets need not agree. */
TEST_F(mock_map, io_page_offsets_differ)
{
	__u64 second = self->base + 16 * page_size + io_page;

	test_ioctl_ioas_map_fixed(self->ioas_id, self->buf + io_page,
				  2 * page_size, self->base);
	check_mapped(self->base, 2 * page_size, self->buf + io_page);
	test_ioctl_ioas_map_fixed(self->ioas_id, self->buf, page_size, second);
	check_mapped(second, page_size, self->buf);
	check_refs(self->buf, page_size, 2);
	check_refs(self->buf + page_size, 2 * page_size, 1);
	test_ioctl_ioas_unmap_all(self->ioas_id, 3 * page_size);
	check_unmapped(self->base, 2 * page_size, self->buf + io_page);
	check_unmapped(second, page_size, self->buf);
}

TEST_F(mock_map, io_page_misaligned)
{
	size_t length;
	__u64 iova;

	/* Less than an IO page: in the length, the memory or the IOVA. */
	iova = self->base;
	length = io_page + io_page / 2;
	EXPECT_ERRNO(EINVAL,
		     _test_ioctl_ioas_map(self->fd, self->ioas_id, self->buf,
					  length, &iova, FIXED_RW));
	EXPECT_ERRNO(EINVAL,
		     _test_ioctl_ioas_map(self->fd, self->ioas_id, self->buf,
					  io_page / 2, &iova, TEST_MAP_RW));
	iova = self->base;
	EXPECT_ERRNO(EINVAL, _test_ioctl_ioas_map(self->fd, self->ioas_id,
						  self->buf + io_page / 2,
						  io_page, &iova, FIXED_RW));
	EXPECT_ERRNO(EINVAL, _test_ioctl_ioas_map(self->fd, self->ioas_id,
						  self->buf + io_page / 2,
						  io_page, &iova, TEST_MAP_RW));
	iova = self->base + io_page / 2;
	EXPECT_ERRNO(EINVAL,
		     _test_ioctl_ioas_map(self->fd, self->ioas_id, self->buf,
					  io_page, &iova, FIXED_RW));
	/* Nothing was pinned or mapped by any of them. */
	check_refs(self->buf, page_size, 0);
	test_ioctl_ioas_unmap_all(self->ioas_id, 0);
}

TEST_F(mock_map, copy_within_ioas)
{
	size_t part = 2 * page_size;
	__u64 copy = self->base + 4 * self->buf_size;
	long pin_kb = test_vm_pin_kb();
	__u64 iova = 0;

	test_ioctl_ioas_map_fixed(self->ioas_id, self->buf, self->buf_size,
				  self->base);
	/* A part of the area, to a fixed and to a chosen IOVA. */
	test_ioctl_ioas_copy_fixed(self->ioas_id, self->ioas_id,
				   self->base + page_size, part, copy);
	check_mapped(copy, part, self->buf + page_size);
	test_ioctl_ioas_copy(self->ioas_id, self->ioas_id, self->base,
			     self->buf_size, &iova);
	check_mapped(iova, self->buf_size, self->buf);
	/* Copies share the pins of the map. */
	check_refs(self->buf, self->buf_size, 1);

	/* The source can go; the copies stay, and keep the pages pinned. */
	test_ioctl_ioas_unmap(self->ioas_id, self->base, self->buf_size);
	check_unmapped(self->base, self->buf_size, self->buf);
	check_mapped(copy, part, self->buf + page_size);
	check_mapped(iova, self->buf_size, self->buf);
	check_refs(self->buf, self->buf_size, 1);

	/*
	 * A copy of a part keeps that part pinned, and no more: VmPin is
	 * exact where check_refs() sees a huge page's pins only as a whole.
	 */
	ASSERT_EQ(pin_kb + (long)(self->buf_size / 1024), test_vm_pin_kb());
	test_ioctl_ioas_unmap(self->ioas_id, iova, self->buf_size);
	check_unmapped(iova, self->buf_size, self->buf);
	check_mapped(copy, part, self->buf + page_size);
	check_refs(self->buf + page_size, part, 1);
	ASSERT_EQ(pin_kb + (long)(part / 1024), test_vm_pin_kb());
	test_ioctl_ioas_unmap_all(self->ioas_id, part);
	check_unmapped(copy, part, self->buf + page_size);
	check_refs(self->buf, self->buf_size, 0);
	ASSERT_EQ(pin_kb, test_vm_pin_kb());
}

TEST_F(mock_map, copy_to_and_from_ioas_without_domain)
{
	__u64 plain_iova = 64 * page_size;
	__u64 back = self->base + 2 * self->buf_size;
	__u32 plain_id;

	test_ioctl_ioas_alloc(&plain_id);
	test_ioctl_ioas_map_fixed(self->ioas_id, self->buf, self->buf_size,
				  self->base);

	/* Out of the IOAS with domains: they do not change. */
	test_ioctl_ioas_copy_fixed(plain_id, self->ioas_id, self->base,
				   self->buf_size, plain_iova);
	check_mapped(self->base, self->buf_size, self->buf);
	check_refs(self->buf, self->buf_size, 1);
	test_ioctl_ioas_unmap(self->ioas_id, self->base, self->buf_size);
	check_unmapped(self->base, self->buf_size, self->buf);
	/* A copy in an IOAS without a domain does not keep the pins. */
	check_refs(self->buf, self->buf_size, 0);

	/* Back into it: every domain is filled, and the memory pinned. */
	test_ioctl_ioas_copy_fixed(self->ioas_id, plain_id, plain_iova,
				   self->buf_size, back);
	check_mapped(back, self->buf_size, self->buf);
	check_refs(self->buf, self->buf_size, 1);

	test_ioctl_ioas_unmap_all(plain_id, self->buf_size);
	check_mapped(back, self->buf_size, self->buf);
	check_refs(self->buf, self->buf_size, 1);
	test_ioctl_destroy(plain_id);
	test_ioctl_ioas_unmap_all(self->ioas_id, self->buf_size);
	check_unmapped(back, self->buf_size, self->buf);
	check_refs(self->buf, self->buf_size, 0);
}

TEST_F(mock_map, copy_across_areas)
{
	size_t half = self->buf_size / 2;
	__u64 plain_iova = 64 * page_size;
	__u64 dst = self->base + 2 * self->buf_size;
	__u32 plain_id;

	/* Contiguous in IOVA in a plain IOAS, swapped in memory. */
	test_ioctl_ioas_alloc(&plain_id);
	test_ioctl_ioas_map_fixed(plain_id, self->buf + half, half, plain_iova);
	test_ioctl_ioas_map_fixed(plain_id, self->buf, half, plain_iova + half);

	/* One copy of both areas, and one across their boundary. */
	test_ioctl_ioas_copy_fixed(self->ioas_id, plain_id, plain_iova,
				   self->buf_size, dst);
	check_mapped(dst, half, self->buf + half);
	check_mapped(dst + half, half, self->buf);
	test_ioctl_ioas_copy_fixed(self->ioas_id, plain_id,
				   plain_iova + half - page_size, 2 * page_size,
				   self->base);
	check_mapped(self->base, page_size,
		     self->buf + self->buf_size - page_size);
	check_mapped(self->base + page_size, page_size, self->buf);
	check_refs(self->buf, self->buf_size, 1);

	test_ioctl_destroy(plain_id);
	check_refs(self->buf, self->buf_size, 1);
	test_ioctl_ioas_unmap_all(self->ioas_id,
				  self->buf_size + 2 * page_size);
	check_unmapped(dst, half, self->buf + half);
	check_unmapped(dst + half, half, self->buf);
	check_refs(self->buf, self->buf_size, 0);
}

TEST_F(mock_map, read_only_memory)
{
	size_t length = 4 * page_size;
	__u64 iova;
	char *ro;

	ro = mmap(NULL, length, PROT_READ | PROT_WRITE,
		  MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, ro);
	memset(ro, 0x3c, length);
	ASSERT_EQ(0, mprotect(ro, length, PROT_READ));

	/* Pinned for writing, read-only memory cannot be mapped writeable. */
	iova = self->base;
	EXPECT_ERRNO(EFAULT, _test_ioctl_ioas_map(self->fd, self->ioas_id, ro,
						  length, &iova, FIXED_RW));
	check_refs(ro, length, 0);

	iova = self->base;
	ASSERT_EQ(0, _test_ioctl_ioas_map(self->fd, self->ioas_id, ro, length,
					  &iova,
					  IOMMU_IOAS_MAP_FIXED_IOVA |
						  IOMMU_IOAS_MAP_READABLE));
	check_mapped(self->base, length, ro);
	check_refs(ro, length, 1);

	/* A copy may not make it writeable either. */
	iova = self->base + 16 * page_size;
	EXPECT_ERRNO(EPERM, _test_ioctl_ioas_copy(self->fd, self->ioas_id,
						  self->ioas_id, self->base,
						  length, &iova, FIXED_RW));
	EXPECT_ERRNO(EPERM,
		     _test_ioctl_ioas_copy(self->fd, self->ioas_id,
					   self->ioas_id, self->base, page_size,
					   &iova, IOMMU_IOAS_MAP_WRITEABLE));
	check_unmapped(self->base + 16 * page_size, length, ro);

	/* A read-only copy is fine. */
	iova = self->base + 16 * page_size;
	ASSERT_EQ(0,
		  _test_ioctl_ioas_copy(self->fd, self->ioas_id, self->ioas_id,
					self->base, length, &iova,
					IOMMU_IOAS_MAP_FIXED_IOVA |
						IOMMU_IOAS_MAP_READABLE));
	check_mapped(iova, length, ro);
	check_refs(ro, length, 1);

	test_ioctl_ioas_unmap_all(self->ioas_id, 2 * length);
	check_unmapped(self->base, length, ro);
	check_refs(ro, length, 0);
	ASSERT_EQ(0, munmap(ro, length));
}

TEST_F(mock_map, attach_after_map)
{
	__u32 stdev_id, hwpt_id, user_hwpt;
	__u64 iova = 0;

	test_ioctl_ioas_map_fixed(self->ioas_id, self->buf, self->buf_size,
				  self->base);
	test_ioctl_ioas_map(self->ioas_id, self->buf, page_size, &iova);

	/* New domains, automatic or not, start with what the IOAS maps. */
	test_cmd_mock_domain(self->ioas_id, &stdev_id, &hwpt_id, NULL);
	test_cmd_hwpt_alloc(self->idev_ids[0], self->ioas_id, &user_hwpt);
	check_mock_map(hwpt_id, self->base, self->buf_size, self->buf);
	check_mock_map(hwpt_id, iova, page_size, self->buf);
	check_mock_map(user_hwpt, self->base, self->buf_size, self->buf);
	check_mock_map(user_hwpt, iova, page_size, self->buf);
	/* Attaching pins nothing more. */
	check_refs(self->buf, page_size, 2);
	check_refs(self->buf + page_size, self->buf_size - page_size, 1);

	/* And lose what it unmaps, like the others. */
	test_ioctl_ioas_unmap(self->ioas_id, self->base, self->buf_size);
	check_unmapped(self->base, self->buf_size, self->buf);
	EXPECT_ERRNO(EINVAL, _test_cmd_check_map(self->fd, hwpt_id, self->base,
						 io_page, self->buf));
	EXPECT_ERRNO(EINVAL,
		     _test_cmd_check_map(self->fd, user_hwpt, self->base,
					 io_page, self->buf));
	check_mock_map(user_hwpt, iova, page_size, self->buf);

	test_ioctl_destroy(user_hwpt);
	test_ioctl_destroy(stdev_id);
	check_mapped(iova, page_size, self->buf);
	test_ioctl_ioas_unmap_all(self->ioas_id, page_size);
	check_refs(self->buf, self->buf_size, 0);
}

/*
 * Remove every device of the fixture, then the HWPT it allocated, and
 * check that no HWPT is left.
 */
static void remove_devices_in(struct __test_metadata *_metadata, int fd,
			      const __u32 *stdev_ids, const __u32 *hwpt_ids,
			      unsigned int num, bool hwpt_alloc)
{
	unsigned int i;

	for (i = 0; i != num; i++)
		ASSERT_EQ(0, _test_ioctl_destroy(fd, stdev_ids[i]));
	if (hwpt_alloc)
		ASSERT_EQ(0, _test_ioctl_destroy(fd, hwpt_ids[1]));
	for (i = 0; i != num; i++)
		EXPECT_ERRNO(ENOENT, _test_ioctl_destroy(fd, hwpt_ids[i]));
}

#define remove_devices()                                                \
	({                                                              \
		remove_devices_in(_metadata, self->fd, self->stdev_ids, \
				  self->hwpt_ids, self->num_devices,    \
				  variant->hwpt_alloc);                 \
		self->num_devices = 0;                                  \
	})

TEST_F(mock_map, pins_follow_the_domains)
{
	__u32 hwpt_id;

	test_ioctl_ioas_map_fixed(self->ioas_id, self->buf, self->buf_size,
				  self->base);
	check_refs(self->buf, self->buf_size, 1);

	/* Without domains the map stays, unpinned, until one comes back. */
	remove_devices();
	check_refs(self->buf, self->buf_size, 0);
	test_cmd_mock_domain(self->ioas_id, &self->stdev_ids[0], &hwpt_id,
			     NULL);
	self->hwpt_ids[0] = hwpt_id;
	self->num_devices = 1;
	check_mapped(self->base, self->buf_size, self->buf);
	check_refs(self->buf, self->buf_size, 1);

	test_ioctl_ioas_unmap_all(self->ioas_id, self->buf_size);
	check_unmapped(self->base, self->buf_size, self->buf);
	check_refs(self->buf, self->buf_size, 0);
}

/*
 * A page that lost its pin inside memory still partly pinned, and that the
 * process replaced meanwhile (MADV_DONTNEED, then a write), is pinned
 * again as the new page: a run of a huge page must not say the old one.
 */
TEST_F(mock_map, repin_replaced_page)
{
	const size_t part = self->buf_size / 8;
	const size_t hole = self->buf_size / 4 + page_size;
	const __u64 copy_iova = self->base + 2 * self->buf_size;
	__u32 other, other_stdev, other_hwpt, hwpt_id;

	if (variant->backing == BACKING_HUGETLB)
		SKIP(return, "MADV_DONTNEED drops a hugetlb page whole");
	test_ioctl_ioas_map_fixed(self->ioas_id, self->buf, self->buf_size,
				  self->base);
	/* Another IOAS keeps the start pinned while the domains go. */
	test_ioctl_ioas_alloc(&other);
	test_cmd_mock_domain(other, &other_stdev, &other_hwpt, NULL);
	test_ioctl_ioas_copy_fixed(other, self->ioas_id, self->base, part,
				   copy_iova);
	remove_devices();

	ASSERT_EQ(0, madvise(self->buf + hole, page_size, MADV_DONTNEED));
	ASSERT_EQ(0, self->buf[hole]);
	self->buf[hole] = 0x77;

	test_cmd_mock_domain(self->ioas_id, &self->stdev_ids[0], &hwpt_id,
			     NULL);
	self->hwpt_ids[0] = hwpt_id;
	self->num_devices = 1;
	check_mapped(self->base, self->buf_size, self->buf);
	check_mock_map(other_hwpt, copy_iova, part, self->buf);

	test_ioctl_destroy(other_stdev);
	test_ioctl_destroy(other);
	test_ioctl_ioas_unmap_all(self->ioas_id, self->buf_size);
	check_refs(self->buf, self->buf_size, 0);
}

TEST_F(mock_map, destroy_ioas_after_devices)
{
	__u64 iova = 0;

	test_ioctl_ioas_map_fixed(self->ioas_id, self->buf, self->buf_size,
				  self->base);
	test_ioctl_ioas_map(self->ioas_id, self->buf, self->buf_size, &iova);

	/* Not while devices use it; that failure changes nothing. */
	EXPECT_ERRNO(EBUSY, _test_ioctl_destroy(self->fd, self->ioas_id));
	check_mapped(self->base, self->buf_size, self->buf);
	check_mapped(iova, self->buf_size, self->buf);
	check_refs(self->buf, self->buf_size, 2);

	/* The devices took the pins; the IOAS can go now. */
	remove_devices();
	check_refs(self->buf, self->buf_size, 0);
	test_ioctl_destroy(self->ioas_id);
}

TEST_HARNESS_MAIN
