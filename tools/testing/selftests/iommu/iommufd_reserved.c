// SPDX-License-Identifier: GPL-2.0-only
/*
 * Reserved IOVA, set up through IOMMU_TEST_CMD's ADD_RESERVED the way an
 * attached device's reserved regions will be: how reservations shape
 * IOMMU_IOAS_IOVA_RANGES, fixed and kernel-chosen mappings, and
 * IOMMU_IOAS_ALLOW_IOVAS, and the test ioctl's own contract.
 */
#include <stddef.h>
#include <stdlib.h>
#include <sys/mman.h>

#include "iommufd_utils.h"
#include "../../../../drivers/iommu/iommufd/iommufd_test.h"

static unsigned long psize;

static __attribute__((constructor)) void setup_psize(void)
{
	psize = sysconf(_SC_PAGE_SIZE);
}

static int add_reserved(int fd, uint32_t ioas_id, uint64_t start,
			uint64_t length)
{
	struct iommu_test_cmd cmd = {
		.size = sizeof(cmd),
		.op = IOMMU_TEST_OP_ADD_RESERVED,
		.id = ioas_id,
		.add_reserved = { .start = start, .length = length },
	};

	return ioctl(fd, IOMMU_TEST_CMD, &cmd);
}

static int map_one(int fd, uint32_t ioas_id, void *buf, size_t length,
		   uint64_t *iova, bool fixed)
{
	struct iommu_ioas_map cmd = {
		.size = sizeof(cmd),
		.flags = IOMMU_IOAS_MAP_READABLE | IOMMU_IOAS_MAP_WRITEABLE,
		.ioas_id = ioas_id,
		.user_va = (uintptr_t)buf,
		.length = length,
		.iova = *iova,
	};
	int rc;

	if (fixed)
		cmd.flags |= IOMMU_IOAS_MAP_FIXED_IOVA;
	rc = ioctl(fd, IOMMU_IOAS_MAP, &cmd);
	*iova = cmd.iova;
	return rc;
}

static int _test_ioctl_unmap_one(int fd, uint32_t ioas_id, uint64_t iova,
				 uint64_t length)
{
	struct iommu_ioas_unmap cmd = {
		.size = sizeof(cmd),
		.ioas_id = ioas_id,
		.iova = iova,
		.length = length,
	};

	return ioctl(fd, IOMMU_IOAS_UNMAP, &cmd);
}

static int allow(int fd, uint32_t ioas_id, struct iommu_iova_range *ranges,
		 uint32_t num)
{
	struct iommu_ioas_allow_iovas cmd = {
		.size = sizeof(cmd),
		.ioas_id = ioas_id,
		.num_iovas = num,
		.allowed_iovas = (uintptr_t)ranges,
	};

	return ioctl(fd, IOMMU_IOAS_ALLOW_IOVAS, &cmd);
}

FIXTURE(reserved)
{
	int fd;
	uint32_t ioas_id;
	void *buf;
	uint64_t res_start;
	uint64_t res_last;
};

FIXTURE_SETUP(reserved)
{
	struct iommu_ioas_alloc alloc = { .size = sizeof(alloc) };

	self->fd = open("/dev/iommu", O_RDWR);
	ASSERT_LE(0, self->fd);
	ASSERT_EQ(0, ioctl(self->fd, IOMMU_IOAS_ALLOC, &alloc));
	self->ioas_id = alloc.out_ioas_id;
	self->buf = mmap(NULL, 4 * psize, PROT_READ | PROT_WRITE,
			 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, self->buf);
	/* Pages 16 to 19 of the IOVA space are reserved. */
	self->res_start = 16 * psize;
	self->res_last = 20 * psize - 1;
	ASSERT_EQ(0, add_reserved(self->fd, self->ioas_id, self->res_start,
				  4 * psize));
}

/*
 * No ASSERT here: in the 6.1 harness a failed assertion in a teardown that
 * runs after a failed test jumps back into the teardown for ever.
 */
FIXTURE_TEARDOWN(reserved)
{
	munmap(self->buf, 4 * psize);
	close(self->fd);
}

TEST_F(reserved, iova_ranges_skip_it)
{
	struct iommu_iova_range ranges[4] = {};
	uint32_t num = 4;

	ASSERT_EQ(0, _test_ioctl_iova_ranges(self->fd, self->ioas_id, ranges,
					     &num, NULL));
	ASSERT_EQ(2, num);
	ASSERT_EQ(0, ranges[0].start);
	ASSERT_EQ(self->res_start - 1, ranges[0].last);
	ASSERT_EQ(self->res_last + 1, ranges[1].start);
	ASSERT_EQ(UINT64_MAX, ranges[1].last);

	/* Too small an array: EMSGSIZE, the count, the first range. */
	num = 1;
	memset(ranges, 0, sizeof(ranges));
	EXPECT_ERRNO(EMSGSIZE, _test_ioctl_iova_ranges(self->fd, self->ioas_id,
						       ranges, &num, NULL));
	ASSERT_EQ(2, num);
	ASSERT_EQ(self->res_start - 1, ranges[0].last);
	ASSERT_EQ(0, ranges[1].last);
}

TEST_F(reserved, second_reservation)
{
	struct iommu_iova_range ranges[4] = {};
	uint32_t num = 4;

	ASSERT_EQ(0, add_reserved(self->fd, self->ioas_id, 0, psize));
	ASSERT_EQ(0, _test_ioctl_iova_ranges(self->fd, self->ioas_id, ranges,
					     &num, NULL));
	ASSERT_EQ(2, num);
	ASSERT_EQ(psize, ranges[0].start);
	ASSERT_EQ(self->res_start - 1, ranges[0].last);
}

/*
 * Reservations may overlap and touch each other, as the MSI window of
 * every device behind one IOMMU does: IOMMU_IOAS_IOVA_RANGES shows their
 * union, and a map must avoid every one of them.
 */
TEST_F(reserved, overlapping_reservations)
{
	struct iommu_iova_range ranges[4] = {};
	uint64_t iova;
	uint32_t num = 4;

	/* Inside, sticking out at the top, and touching at the bottom. */
	ASSERT_EQ(0, add_reserved(self->fd, self->ioas_id,
				  self->res_start + psize, psize));
	ASSERT_EQ(0, add_reserved(self->fd, self->ioas_id, self->res_last,
				  4 * psize + 1));
	ASSERT_EQ(0, add_reserved(self->fd, self->ioas_id, 12 * psize,
				  4 * psize));
	ASSERT_EQ(0, _test_ioctl_iova_ranges(self->fd, self->ioas_id, ranges,
					     &num, NULL));
	ASSERT_EQ(2, num);
	ASSERT_EQ(0, ranges[0].start);
	ASSERT_EQ(12 * psize - 1, ranges[0].last);
	ASSERT_EQ(self->res_last + 4 * psize + 1, ranges[1].start);
	ASSERT_EQ(UINT64_MAX, ranges[1].last);

	/* Every page of the union is refused, the pages around it not. */
	for (iova = 12 * psize; iova <= self->res_last + 4 * psize;
	     iova += psize)
		EXPECT_ERRNO(EINVAL, map_one(self->fd, self->ioas_id,
					     self->buf, psize, &iova, true));
	iova = 11 * psize;
	ASSERT_EQ(0, map_one(self->fd, self->ioas_id, self->buf, psize, &iova,
			     true));
	iova = self->res_last + 4 * psize + 1;
	ASSERT_EQ(0, map_one(self->fd, self->ioas_id, self->buf, psize, &iova,
			     true));
}

TEST_F(reserved, fixed_map_refused)
{
	uint64_t iova;

	iova = self->res_start;
	EXPECT_ERRNO(EINVAL, map_one(self->fd, self->ioas_id, self->buf,
				     psize, &iova, true));
	/* Overlapping only the last reserved page counts as well. */
	iova = self->res_last + 1 - psize;
	EXPECT_ERRNO(EINVAL, map_one(self->fd, self->ioas_id, self->buf,
				     2 * psize, &iova, true));
	/* Right next to the reservation is fine, on both sides. */
	iova = self->res_start - psize;
	ASSERT_EQ(0, map_one(self->fd, self->ioas_id, self->buf, psize, &iova,
			     true));
	iova = self->res_last + 1;
	ASSERT_EQ(0, map_one(self->fd, self->ioas_id, self->buf, psize, &iova,
			     true));
}

TEST_F(reserved, auto_map_avoids_it)
{
	uint64_t iova = 0;
	unsigned int i;

	/*
	 * Kernel-chosen IOVAs start at the second page and fill upward:
	 * pages 1 to 15 come first, then the reservation is skipped and
	 * the next one-page map lands right after it.
	 */
	for (i = 1; i != 16; i++) {
		ASSERT_EQ(0, map_one(self->fd, self->ioas_id, self->buf, psize,
				     &iova, false));
		ASSERT_EQ(i * psize, iova);
	}
	ASSERT_EQ(0, map_one(self->fd, self->ioas_id, self->buf, psize, &iova,
			     false));
	ASSERT_EQ(self->res_last + 1, iova);

	/* A two-page map cannot use a one-page hole before the reservation. */
	iova = 15 * psize;
	ASSERT_EQ(0, _test_ioctl_unmap_one(self->fd, self->ioas_id, iova,
					   psize));
	ASSERT_EQ(0, map_one(self->fd, self->ioas_id, self->buf, 2 * psize,
			     &iova, false));
	ASSERT_TRUE(iova > self->res_last);
}

TEST_F(reserved, conflicts)
{
	struct iommu_iova_range window = { .start = 64 * psize,
					   .last = 128 * psize - 1 };
	struct iommu_iova_range over = { .start = self->res_start,
					 .last = self->res_last + psize };
	uint64_t iova = 32 * psize;

	/* A reservation may not cover a mapping ... */
	ASSERT_EQ(0, map_one(self->fd, self->ioas_id, self->buf, psize, &iova,
			     true));
	EXPECT_ERRNO(EADDRINUSE, add_reserved(self->fd, self->ioas_id,
					      31 * psize, 2 * psize));
	/* ... nor an allowed range, and the reverse. */
	ASSERT_EQ(0, allow(self->fd, self->ioas_id, &window, 1));
	EXPECT_ERRNO(EADDRINUSE, add_reserved(self->fd, self->ioas_id,
					      127 * psize, psize));
	EXPECT_ERRNO(EADDRINUSE, allow(self->fd, self->ioas_id, &over, 1));
	/* The failed call left the earlier allowed range in force. */
	ASSERT_EQ(0, map_one(self->fd, self->ioas_id, self->buf, psize, &iova,
			     false));
	ASSERT_TRUE(iova >= window.start && iova <= window.last);
}

TEST_F(reserved, survives_unmap_all)
{
	struct iommu_ioas_unmap unmap = {
		.size = sizeof(unmap),
		.ioas_id = self->ioas_id,
		.length = UINT64_MAX,
	};
	struct iommu_iova_range ranges[4];
	uint64_t iova = 0;
	uint32_t num = 4;

	ASSERT_EQ(0, map_one(self->fd, self->ioas_id, self->buf, psize, &iova,
			     false));
	ASSERT_EQ(0, ioctl(self->fd, IOMMU_IOAS_UNMAP, &unmap));
	ASSERT_EQ(psize, unmap.length);
	ASSERT_EQ(0, _test_ioctl_iova_ranges(self->fd, self->ioas_id, ranges,
					     &num, NULL));
	ASSERT_EQ(2, num);
}

TEST_F(reserved, bad_input)
{
	struct iommu_test_cmd cmd = {
		.size = sizeof(cmd),
		.op = IOMMU_TEST_OP_ADD_RESERVED,
		.id = self->ioas_id,
		.add_reserved = { .start = 100 * psize, .length = psize },
	};
	struct iommu_test_cmd limit = {
		.size = sizeof(limit),
		.op = IOMMU_TEST_OP_SET_TEMP_MEMORY_LIMIT,
		.memory_limit = { .limit = 11 },
	};
	uint64_t iova;

	EXPECT_ERRNO(EINVAL, add_reserved(self->fd, self->ioas_id, psize, 0));
	EXPECT_ERRNO(EOVERFLOW, add_reserved(self->fd, self->ioas_id,
					     UINT64_MAX - psize + 1,
					     2 * psize));
	EXPECT_ERRNO(ENOENT, add_reserved(self->fd, 0, psize, psize));
	EXPECT_ERRNO(ENOENT,
		     add_reserved(self->fd, self->ioas_id + 1, psize, psize));

	/* Operations this tree does not implement fail cleanly. */
	cmd.op = 0;
	EXPECT_ERRNO(EOPNOTSUPP, ioctl(self->fd, IOMMU_TEST_CMD, &cmd));
	cmd.op = 1000;
	EXPECT_ERRNO(EOPNOTSUPP, ioctl(self->fd, IOMMU_TEST_CMD, &cmd));
	/* Upstream's errnos: a limit below its floor, unknown device flags. */
	EXPECT_ERRNO(EINVAL, ioctl(self->fd, IOMMU_TEST_CMD, &limit));
	EXPECT_ERRNO(EINVAL, _test_cmd_mock_domain_flags(self->fd,
							 self->ioas_id, 1 << 29,
							 NULL));
	/* Upstream does not check __reserved of its test command. */
	cmd.op = IOMMU_TEST_OP_ADD_RESERVED;
	cmd.__reserved = 1;
	ASSERT_EQ(0, ioctl(self->fd, IOMMU_TEST_CMD, &cmd));
	iova = 100 * psize;
	EXPECT_ERRNO(EINVAL, map_one(self->fd, self->ioas_id, self->buf, psize,
				     &iova, true));
}

TEST_F(reserved, cmd_length)
{
	struct {
		struct iommu_test_cmd cmd;
		uint64_t tail;
	} buf = {};
	size_t min_size = offsetof(struct iommu_test_cmd, last) +
			  sizeof(buf.cmd.last);
	uint64_t iova;

	buf.cmd.op = IOMMU_TEST_OP_ADD_RESERVED;
	buf.cmd.id = self->ioas_id;
	buf.cmd.add_reserved.start = 200 * psize;
	buf.cmd.add_reserved.length = psize;

	buf.cmd.size = min_size - 1;
	EXPECT_ERRNO(EINVAL, ioctl(self->fd, IOMMU_TEST_CMD, &buf));
	buf.cmd.size = sizeof(buf);
	buf.tail = 1;
	EXPECT_ERRNO(E2BIG, ioctl(self->fd, IOMMU_TEST_CMD, &buf));
	buf.tail = 0;
	ASSERT_EQ(0, ioctl(self->fd, IOMMU_TEST_CMD, &buf));
	/* The call did happen: the page is reserved now. */
	iova = 200 * psize;
	EXPECT_ERRNO(EINVAL, map_one(self->fd, self->ioas_id, self->buf,
				     psize, &iova, true));
	buf.cmd.size = sizeof(buf.cmd);
	ASSERT_EQ(0, ioctl(self->fd, IOMMU_TEST_CMD, &buf));
	/* The upstream layout: 'last' sits at byte 64. */
	ASSERT_EQ(68, min_size);
}

TEST_F(reserved, destroy_with_reservations)
{
	struct iommu_destroy destroy = {
		.size = sizeof(destroy),
		.id = self->ioas_id,
	};

	/* Reservations are not dependants; kmemleak checks they are freed. */
	ASSERT_EQ(0, ioctl(self->fd, IOMMU_DESTROY, &destroy));
	EXPECT_ERRNO(ENOENT, add_reserved(self->fd, self->ioas_id, psize,
					  psize));
}

/*
 * Reserved regions of real devices: mock devices that share one IOMMU
 * group, each reporting a region of its own (MOCK_FLAGS_DEVICE_SHARED_GROUP).
 * The group's domain translates for all of them, so the IOAS must keep
 * every region of the group reserved for as long as the group is on it.
 */
FIXTURE(group_reserved)
{
	int fd;
	uint32_t ioas_id;
	void *buf;
};

FIXTURE_SETUP(group_reserved)
{
	struct iommu_ioas_alloc alloc = { .size = sizeof(alloc) };

	self->fd = open("/dev/iommu", O_RDWR);
	ASSERT_LE(0, self->fd);
	ASSERT_EQ(0, ioctl(self->fd, IOMMU_IOAS_ALLOC, &alloc));
	self->ioas_id = alloc.out_ioas_id;
	self->buf = mmap(NULL, psize, PROT_READ | PROT_WRITE,
			 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, self->buf);
}

FIXTURE_TEARDOWN(group_reserved)
{
	munmap(self->buf, psize);
	close(self->fd);
}

/*
 * The holes IOMMU_IOAS_IOVA_RANGES leaves inside the mock aperture, in
 * @holes (room for @max); returns how many, or -1.
 */
static int aperture_holes(int fd, uint32_t ioas_id,
			  struct iommu_iova_range *holes, int max)
{
	struct iommu_iova_range ranges[16];
	uint64_t next = MOCK_APERTURE_START;
	uint32_t num = 16, i;
	int n = 0;

	if (_test_ioctl_iova_ranges(fd, ioas_id, ranges, &num, NULL))
		return -1;
	for (i = 0; i != num; i++) {
		uint64_t start = ranges[i].start, last = ranges[i].last;

		if (last < MOCK_APERTURE_START || start > MOCK_APERTURE_LAST)
			continue;
		if (start > next) {
			if (n == max)
				return -1;
			holes[n].start = next;
			holes[n++].last = start - 1;
		}
		if (last >= MOCK_APERTURE_LAST) {
			next = (uint64_t)MOCK_APERTURE_LAST + 1;
			break;
		}
		next = last + 1;
	}
	if (next <= MOCK_APERTURE_LAST) {
		if (n == max)
			return -1;
		holes[n].start = next;
		holes[n++].last = MOCK_APERTURE_LAST;
	}
	return n;
}

/* Is @hole one device's region, as iommufd_test.h places them? */
static bool is_mock_region(const struct iommu_iova_range *hole)
{
	return hole->start >= MOCK_SHARED_RESV_START &&
	       (hole->start - MOCK_SHARED_RESV_START) %
			       MOCK_SHARED_RESV_STRIDE ==
		       0 &&
	       hole->last - hole->start + 1 == MOCK_SHARED_RESV_LENGTH;
}

/* One-page maps at the first and the last page of @hole are refused. */
#define ASSERT_RESERVED(hole)                                                  \
	({                                                                     \
		struct iommu_iova_range __hole = (hole);                       \
		uint64_t __iova = __hole.start;                                \
		EXPECT_ERRNO(EINVAL, map_one(self->fd, self->ioas_id,          \
					     self->buf, psize, &__iova, true)); \
		__iova = __hole.last + 1 - psize;                              \
		EXPECT_ERRNO(EINVAL, map_one(self->fd, self->ioas_id,          \
					     self->buf, psize, &__iova, true)); \
	})

/* Two shared-group devices on the IOAS: their two regions, in IOVA order. */
static int attach_two(int fd, uint32_t ioas_id, uint32_t *stdev,
		      struct iommu_iova_range *regions)
{
	struct iommu_iova_range holes[4];

	if (_test_cmd_mock_domain_flags(fd, ioas_id,
					MOCK_FLAGS_DEVICE_SHARED_GROUP,
					&stdev[0]))
		return -1;
	if (aperture_holes(fd, ioas_id, holes, 4) != 1 ||
	    !is_mock_region(&holes[0]))
		return -2;
	regions[0] = holes[0];
	if (_test_cmd_mock_domain_flags(fd, ioas_id,
					MOCK_FLAGS_DEVICE_SHARED_GROUP,
					&stdev[1]))
		return -3;
	/* The sibling's region is reserved too, the first one still. */
	if (aperture_holes(fd, ioas_id, holes, 4) != 2 ||
	    !is_mock_region(&holes[0]) || !is_mock_region(&holes[1]))
		return -4;
	if (holes[0].start != regions[0].start &&
	    holes[1].start != regions[0].start)
		return -5;
	regions[0] = holes[0];
	regions[1] = holes[1];
	return 0;
}

/*
 * A device that joins a group already on the IOAS (here hot-added to it,
 * as the mock makes its devices) brings its own region: it is reserved
 * when the device attaches, beside the group's.
 */
TEST_F(group_reserved, sibling_join_reserves)
{
	struct iommu_iova_range regions[2];
	uint32_t stdev[2], other_ioas, third;

	ASSERT_EQ(0, attach_two(self->fd, self->ioas_id, stdev, regions));
	ASSERT_RESERVED(regions[0]);
	ASSERT_RESERVED(regions[1]);

	/* They do share a group: a third one cannot go to another IOAS. */
	test_ioctl_ioas_alloc(&other_ioas);
	EXPECT_ERRNO(EINVAL,
		     _test_cmd_mock_domain_flags(self->fd, other_ioas,
						 MOCK_FLAGS_DEVICE_SHARED_GROUP,
						 &third));
}

/*
 * A device that leaves while a sibling stays attached still translates
 * through the group's domain (and its region stays the group's until the
 * group leaves): nothing the group reserved may become mappable. Once the
 * last device has gone, every region is free again.
 */
TEST_F(group_reserved, detach_keeps_group_reserved)
{
	struct iommu_iova_range regions[2], holes[4];
	uint64_t iova;
	int i, j, n;

	for (i = 0; i != 2; i++) {
		uint32_t stdev[2];

		ASSERT_EQ(0, attach_two(self->fd, self->ioas_id, stdev,
					regions));

		/* The first made leaves first, then the second: both orders. */
		test_ioctl_destroy(stdev[i]);
		ASSERT_EQ(2, aperture_holes(self->fd, self->ioas_id, holes, 4));
		ASSERT_EQ(regions[0].start, holes[0].start);
		ASSERT_EQ(regions[1].start, holes[1].start);
		ASSERT_RESERVED(regions[0]);
		ASSERT_RESERVED(regions[1]);

		test_ioctl_destroy(stdev[!i]);
		n = aperture_holes(self->fd, self->ioas_id, holes, 4);
		for (j = 0; j < n; j++)
			TH_LOG("round %d: hole 0x%llx-0x%llx", i,
			       (unsigned long long)holes[j].start,
			       (unsigned long long)holes[j].last);
		ASSERT_EQ(0, n);
		iova = regions[0].start;
		ASSERT_EQ(0, map_one(self->fd, self->ioas_id, self->buf, psize,
				     &iova, true));
		iova = regions[1].start;
		ASSERT_EQ(0, map_one(self->fd, self->ioas_id, self->buf, psize,
				     &iova, true));
		test_ioctl_ioas_unmap_all(self->ioas_id, 2 * psize);
	}
}

/* The pinned-pages figure of the context's fdinfo, or -1. */
static long long fdinfo_pinned(int fd)
{
	char *text = fdinfo_read(fd);
	const char *v = text ? fdinfo_field(text, "pinned-pages:\t") : NULL;
	long long n = v ? strtoll(v, NULL, 0) : -1;

	free(text);
	return n;
}

/*
 * Attaching a device whose group reserves IOVA the IOAS already maps: the
 * refusal names the group and the region. A mock shared-group device
 * reserves one of MOCK_SHARED_RESV_SLOTS slots, by its number: a page is
 * mapped at the start of each, so whichever it is, it is taken.
 */
TEST_F(group_reserved, attach_refusal_in_fdinfo)
{
	__u32 stdev_id;
	int i;

	for (i = 0; i != MOCK_SHARED_RESV_SLOTS; i++)
		test_ioctl_ioas_map_fixed(self->ioas_id, self->buf, psize,
					  MOCK_SHARED_RESV_START +
						  (__u64)i *
							  MOCK_SHARED_RESV_STRIDE);
	EXPECT_ERRNO(EADDRINUSE,
		     _test_cmd_mock_domain_flags(self->fd, self->ioas_id,
						 MOCK_FLAGS_DEVICE_SHARED_GROUP,
						 &stdev_id));
	EXPECT_REFUSAL("device attach", "-EADDRINUSE", "IOMMU group ",
		       "must reserve IOVA 0x", "(reserved region)",
		       "which the IOAS maps or allows");
	/* The failed attach pinned nothing for good. */
	EXPECT_EQ(0, fdinfo_pinned(self->fd));
}

/* Devices of one IOMMU group share one domain. */
TEST_F(group_reserved, shared_group_refusal_in_fdinfo)
{
	__u32 stdev1, stdev2, ioas2;

	test_ioctl_ioas_alloc(&ioas2);
	ASSERT_EQ(0, _test_cmd_mock_domain_flags(self->fd, self->ioas_id,
						 MOCK_FLAGS_DEVICE_SHARED_GROUP,
						 &stdev1));
	EXPECT_ERRNO(EINVAL, _test_cmd_mock_domain_flags(self->fd, ioas2,
							 MOCK_FLAGS_DEVICE_SHARED_GROUP,
							 &stdev2));
	EXPECT_REFUSAL("device attach", "-EINVAL", "IOMMU group ",
		       "is attached to HWPT", "its devices share one domain");
	test_ioctl_destroy(stdev1);
}

TEST_HARNESS_MAIN
