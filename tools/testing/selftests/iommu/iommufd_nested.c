// SPDX-License-Identifier: GPL-2.0-only
/*
 * Nested translation against the mock IOMMU: IOMMU_HWPT_ALLOC with
 * IOMMU_HWPT_ALLOC_NEST_PARENT and with IOMMU_HWPT_DATA_SELFTEST on such a
 * parent, IOMMU_HWPT_INVALIDATE, IOMMU_TEST_OP_MD_CHECK_IOTLB, attaching
 * and replacing mock devices onto nested HWPTs, and the order objects may
 * be destroyed in.
 *
 * A mock nested domain has MOCK_NESTED_DOMAIN_IOTLB_NUM "IOTLB entries",
 * each set at allocation from struct iommu_hwpt_selftest and cleared by an
 * invalidation request: the tests read them back to see exactly which
 * requests the kernel carried out. Every test counts the context's
 * objects in its fdinfo before and after, so that a failing call that
 * leaves an object behind (or takes one away) fails the test; the
 * console check adds KASAN, lockdep and kmemleak.
 */
#include <pthread.h>
#include <stddef.h>
#include <stdio.h>
#include <sys/mman.h>

#include "iommufd_utils.h"

#define BUF_PAGES 16
#define IOVA_BASE ((__u64)MOCK_APERTURE_START)
/* Iterations of each side of a race. */
#define RACE_LOOPS 2000

static unsigned long page_size;

static void __attribute__((constructor)) nested_init(void)
{
	page_size = sysconf(_SC_PAGE_SIZE);
}

static int _test_cmd_hwpt_alloc_nested(int fd, __u32 dev_id, __u32 pt_id,
				       __u32 flags, __u32 data_type,
				       const void *data, __u32 data_len,
				       __u32 *hwpt_id)
{
	struct iommu_hwpt_alloc cmd = {
		.size = sizeof(cmd),
		.flags = flags,
		.dev_id = dev_id,
		.pt_id = pt_id,
		.data_type = data_type,
		.data_len = data_len,
		.data_uptr = (uintptr_t)data,
	};
	int rc;

	rc = ioctl(fd, IOMMU_HWPT_ALLOC, &cmd);
	if (!rc && hwpt_id)
		*hwpt_id = cmd.out_hwpt_id;
	return rc;
}

/* An allocation expected to fail: a HWPT it makes shows in the count. */
static int alloc_nested(int fd, __u32 dev_id, __u32 pt_id, __u32 flags,
			__u32 data_type, const void *data, __u32 data_len)
{
	return _test_cmd_hwpt_alloc_nested(fd, dev_id, pt_id, flags, data_type,
					   data, data_len, NULL);
}

/* A mock nested HWPT on parent_id whose IOTLB entries all hold iotlb. */
static int _test_nested(int fd, __u32 dev_id, __u32 parent_id, __u32 iotlb,
			__u32 *hwpt_id)
{
	struct iommu_hwpt_selftest data = { .iotlb = iotlb };

	return _test_cmd_hwpt_alloc_nested(fd, dev_id, parent_id, 0,
					   IOMMU_HWPT_DATA_SELFTEST, &data,
					   sizeof(data), hwpt_id);
}

#define test_nested(dev_id, parent_id, iotlb, hwpt_id)                         \
	ASSERT_EQ(0, _test_nested(self->fd, dev_id, parent_id, iotlb, hwpt_id))

static int _test_cmd_hwpt_invalidate(int fd, __u32 hwpt_id, const void *reqs,
				     __u32 data_type, __u32 entry_len,
				     __u32 *entry_num)
{
	struct iommu_hwpt_invalidate cmd = {
		.size = sizeof(cmd),
		.hwpt_id = hwpt_id,
		.data_uptr = (uintptr_t)reqs,
		.data_type = data_type,
		.entry_len = entry_len,
		.entry_num = *entry_num,
	};
	int rc;

	rc = ioctl(fd, IOMMU_HWPT_INVALIDATE, &cmd);
	*entry_num = cmd.entry_num;
	return rc;
}

/* Invalidate num selftest requests; *done: how many the kernel did. */
static int _test_inv(int fd, __u32 hwpt_id,
		     const struct iommu_hwpt_invalidate_selftest *reqs,
		     __u32 num, __u32 *done)
{
	*done = num;
	return _test_cmd_hwpt_invalidate(fd, hwpt_id, reqs,
					 IOMMU_HWPT_INVALIDATE_DATA_SELFTEST,
					 sizeof(*reqs), done);
}

#define inv(hwpt_id, reqs, num, done)                                          \
	_test_inv(self->fd, hwpt_id, reqs, num, done)

static int _test_cmd_check_iotlb(int fd, __u32 hwpt_id, __u32 id, __u32 val)
{
	struct iommu_test_cmd cmd = {
		.size = sizeof(cmd),
		.op = IOMMU_TEST_OP_MD_CHECK_IOTLB,
		.id = hwpt_id,
		.check_iotlb = { .id = id, .iotlb = val },
	};

	return ioctl(fd, IOMMU_TEST_CMD, &cmd);
}

#define check_iotlb(hwpt_id, id, val)                                          \
	ASSERT_EQ(0, _test_cmd_check_iotlb(self->fd, hwpt_id, id, val))

/* Entry by entry: a bit per entry of mask holds 0, the others val. */
#define check_iotlbs(hwpt_id, cleared_mask, val)                               \
	({                                                                     \
		unsigned int __i;                                              \
									       \
		for (__i = 0; __i != MOCK_NESTED_DOMAIN_IOTLB_NUM; __i++)      \
			check_iotlb(hwpt_id, __i,                              \
				    ((cleared_mask) & (1U << __i)) ? 0 : (val)); \
	})

#define objects() fdinfo_num(self->fd, "objects:\t")

FIXTURE(nested)
{
	int fd;
	__u32 ioas_id;
	__u32 stdev_id;
	__u32 idev_id;
	__u32 hwpt_id;
	__u32 parent_id;
	char *buf;
	long long objects;
};

/*
 * A mock device attached to an IOAS that maps a buffer, and a nesting
 * parent on that IOAS.
 */
FIXTURE_SETUP(nested)
{
	test_setup_mock_hwpt(BUF_PAGES, IOVA_BASE, &self->hwpt_id,
			     IOMMU_HWPT_ALLOC_NEST_PARENT, &self->parent_id);
	self->objects = objects();
	/* IOAS, selftest and device objects, the auto HWPT, the parent. */
	ASSERT_EQ(5, self->objects);
}

FIXTURE_TEARDOWN(nested)
{
	close(self->fd);
	munmap(self->buf, BUF_PAGES * page_size);
}

/* What the parent is, and what HWPT_ALLOC refuses around it. */
TEST_F(nested, parent)
{
	struct iommu_hwpt_selftest data = {
		.iotlb = IOMMU_TEST_IOTLB_DEFAULT,
	};
	__u32 id = 0, plain;

	EXPECT_EQ(1, fdinfo_obj(self->fd, "hwpt", self->parent_id,
				"nest_parent"));
	EXPECT_EQ(0, fdinfo_obj(self->fd, "hwpt", self->hwpt_id,
				"nest_parent"));
	EXPECT_EQ(self->ioas_id,
		  fdinfo_obj(self->fd, "hwpt", self->parent_id, "ioas"));

	/* Flags: unknown ones, and a fault queue on a paging HWPT. */
	EXPECT_ERRNO(EOPNOTSUPP,
		     _test_cmd_hwpt_alloc(self->fd, self->idev_id,
					  self->ioas_id,
					  ~IOMMU_HWPT_ALLOC_NEST_PARENT, &id));
	EXPECT_ERRNO(EOPNOTSUPP,
		     _test_cmd_hwpt_alloc(self->fd, self->idev_id,
					  self->ioas_id, 1U << 31, &id));
	EXPECT_ERRNO(EOPNOTSUPP,
		     _test_cmd_hwpt_alloc(self->fd, self->idev_id,
					  self->ioas_id,
					  IOMMU_HWPT_ALLOC_NEST_PARENT |
						  IOMMU_HWPT_FAULT_ID_VALID,
					  &id));
	/* The device is looked up before the flags are: as upstream. */
	EXPECT_ERRNO(ENOENT,
		     _test_cmd_hwpt_alloc(self->fd, 0, self->ioas_id,
					  ~0U, &id));
	EXPECT_ERRNO(ENOENT,
		     _test_cmd_hwpt_alloc(self->fd, self->ioas_id,
					  self->ioas_id,
					  IOMMU_HWPT_ALLOC_NEST_PARENT, &id));
	/* pt_id: nothing there, a device, the device's selftest object. */
	EXPECT_ERRNO(EINVAL,
		     _test_cmd_hwpt_alloc(self->fd, self->idev_id, 9999,
					  IOMMU_HWPT_ALLOC_NEST_PARENT, &id));
	EXPECT_ERRNO(EINVAL,
		     _test_cmd_hwpt_alloc(self->fd, self->idev_id,
					  self->idev_id,
					  IOMMU_HWPT_ALLOC_NEST_PARENT, &id));
	EXPECT_ERRNO(EINVAL,
		     _test_cmd_hwpt_alloc(self->fd, self->idev_id,
					  self->stdev_id, 0, &id));
	/* Data on an IOAS: the mock's paging domains take none. */
	EXPECT_ERRNO(EOPNOTSUPP,
		     _test_cmd_hwpt_alloc_nested(self->fd, self->idev_id,
						 self->ioas_id,
						 IOMMU_HWPT_ALLOC_NEST_PARENT,
						 IOMMU_HWPT_DATA_SELFTEST,
						 &data, sizeof(data), &id));
	EXPECT_EQ(0, id);
	EXPECT_EQ(self->objects, objects());

	/* Parent and dirty tracking together; and a plain one. */
	ASSERT_EQ(0, _test_cmd_hwpt_alloc(self->fd, self->idev_id,
					  self->ioas_id,
					  IOMMU_HWPT_ALLOC_NEST_PARENT |
						  IOMMU_HWPT_ALLOC_DIRTY_TRACKING,
					  &id));
	test_cmd_hwpt_alloc(self->idev_id, self->ioas_id, &plain);
	EXPECT_EQ(self->objects + 2, objects());
	/* The IOAS is held by its HWPTs. */
	EXPECT_ERRNO(EBUSY, _test_ioctl_destroy(self->fd, self->ioas_id));
	test_ioctl_destroy(id);
	test_ioctl_destroy(plain);
	EXPECT_EQ(self->objects, objects());
}

/* Every errno of IOMMU_HWPT_ALLOC for a nested HWPT, in upstream's order. */
TEST_F(nested, alloc_errors)
{
	struct iommu_hwpt_selftest data = {
		.iotlb = IOMMU_TEST_IOTLB_DEFAULT,
	};
	struct {
		struct iommu_hwpt_selftest data;
		__u32 tail;
	} longer = { .data = data };
	/* The first version of the structure ends with iotlb. */
	const __u32 min_len = offsetof(struct iommu_hwpt_selftest, iotlb) +
			      sizeof(data.iotlb);
	const __u32 st = IOMMU_HWPT_DATA_SELFTEST;
	__u32 dev = self->idev_id, parent = self->parent_id;
	__u32 plain, nested, id = 0;
	int fd = self->fd;

	test_cmd_hwpt_alloc(self->idev_id, self->ioas_id, &plain);

	/* data_type and data_len must agree. */
	EXPECT_ERRNO(EINVAL, alloc_nested(fd, dev, parent, 0,
					  IOMMU_HWPT_DATA_NONE, &data,
					  sizeof(data)));
	EXPECT_ERRNO(EINVAL, alloc_nested(fd, dev, parent, 0, st, &data, 0));
	/* No data at all on a parent: a nested HWPT needs its table. */
	EXPECT_ERRNO(EOPNOTSUPP, _test_cmd_hwpt_alloc(fd, dev, parent, 0, &id));
	/* A type the mock does not know. */
	EXPECT_ERRNO(EOPNOTSUPP, alloc_nested(fd, dev, parent, 0, st + 1,
					      &data, sizeof(data)));
	EXPECT_ERRNO(EOPNOTSUPP, alloc_nested(fd, dev, parent, 0,
					      IOMMU_HWPT_DATA_VTD_S1, &data,
					      sizeof(data)));
	/* Too short, too long (zero tail or not), unreadable. */
	EXPECT_ERRNO(EINVAL, alloc_nested(fd, dev, parent, 0, st, &data,
					  min_len - 1));
	EXPECT_ERRNO(EINVAL, alloc_nested(fd, dev, parent, 0, st, &longer,
					  sizeof(longer)));
	longer.tail = 1;
	EXPECT_ERRNO(EINVAL, alloc_nested(fd, dev, parent, 0, st, &longer,
					  sizeof(longer)));
	EXPECT_ERRNO(EFAULT, alloc_nested(fd, dev, parent, 0, st, NULL,
					  sizeof(data)));
	EXPECT_ERRNO(EFAULT, alloc_nested(fd, dev, parent, 0, st,
					  (void *)(uintptr_t)-4096,
					  sizeof(data)));
	/* No allocation flag applies to a nested HWPT. */
	EXPECT_ERRNO(EOPNOTSUPP, alloc_nested(fd, dev, parent,
					      IOMMU_HWPT_ALLOC_NEST_PARENT,
					      st, &data, sizeof(data)));
	EXPECT_ERRNO(EOPNOTSUPP, alloc_nested(fd, dev, parent,
					      IOMMU_HWPT_ALLOC_DIRTY_TRACKING,
					      st, &data, sizeof(data)));
	/* Parents that cannot parent: plain, automatic, nested. */
	EXPECT_ERRNO(EINVAL, _test_nested(fd, self->idev_id, plain, 0, &id));
	EXPECT_ERRNO(EINVAL,
		     _test_nested(fd, self->idev_id, self->hwpt_id, 0, &id));
	test_nested(self->idev_id, self->parent_id, 7, &nested);
	EXPECT_ERRNO(EINVAL, _test_nested(fd, self->idev_id, nested, 0, &id));
	/* Bad device, bad parent. */
	EXPECT_ERRNO(ENOENT,
		     _test_nested(fd, self->parent_id, self->parent_id, 0,
				  &id));
	EXPECT_ERRNO(EINVAL, _test_nested(fd, self->idev_id, 0, 0, &id));
	EXPECT_EQ(0, id);
	EXPECT_EQ(self->objects + 2, objects());

	/* A first-version structure is zero-extended: it works. */
	test_ioctl_destroy(nested);
	ASSERT_EQ(0, _test_cmd_hwpt_alloc_nested(fd, self->idev_id,
						 self->parent_id, 0,
						 IOMMU_HWPT_DATA_SELFTEST,
						 &data, min_len, &nested));
	check_iotlbs(nested, 0, IOMMU_TEST_IOTLB_DEFAULT);
	test_ioctl_destroy(nested);
	test_ioctl_destroy(plain);
	EXPECT_EQ(self->objects, objects());
}

/* IOMMU_TEST_OP_MD_CHECK_IOTLB itself: its answers are what tests rely on. */
TEST_F(nested, check_iotlb)
{
	__u32 a, b;
	unsigned int i;

	test_nested(self->idev_id, self->parent_id, 0x1234, &a);
	test_nested(self->idev_id, self->parent_id, 0, &b);
	check_iotlbs(a, 0, 0x1234);
	check_iotlbs(b, 0, 0);
	for (i = 0; i != MOCK_NESTED_DOMAIN_IOTLB_NUM; i++) {
		EXPECT_ERRNO(EINVAL, _test_cmd_check_iotlb(self->fd, a, i,
							   0x1235));
		EXPECT_ERRNO(EINVAL, _test_cmd_check_iotlb(self->fd, b, i, 1));
	}
	EXPECT_ERRNO(EINVAL,
		     _test_cmd_check_iotlb(self->fd, a,
					   MOCK_NESTED_DOMAIN_IOTLB_ID_MAX + 1,
					   0x1234));
	EXPECT_ERRNO(EINVAL, _test_cmd_check_iotlb(self->fd, a, ~0U, 0x1234));
	/* Only nested HWPTs have IOTLB entries. */
	EXPECT_ERRNO(ENOENT, _test_cmd_check_iotlb(self->fd, self->parent_id,
						   0, 0));
	EXPECT_ERRNO(ENOENT, _test_cmd_check_iotlb(self->fd, self->ioas_id,
						   0, 0));
	EXPECT_ERRNO(ENOENT, _test_cmd_check_iotlb(self->fd, 9999, 0, 0));
}

/* IOMMU_HWPT_INVALIDATE: the array contract and the count written back. */
TEST_F(nested, invalidate)
{
	struct iommu_hwpt_invalidate_selftest reqs[4] = {};
	const __u32 def = IOMMU_TEST_IOTLB_DEFAULT;
	struct {
		struct iommu_hwpt_invalidate_selftest req;
		__u32 tail;
	} longer = {}, two[2] = { { .req = { .iotlb_id = 2 } },
				  { .req = { .iotlb_id = 0 } } };
	struct iommu_hwpt_invalidate cmd = {
		.size = sizeof(cmd),
		.data_uptr = (uintptr_t)reqs,
		.data_type = IOMMU_HWPT_INVALIDATE_DATA_SELFTEST,
		.entry_len = sizeof(*reqs),
		.entry_num = 1,
		.__reserved = 1,
	};
	const __u32 sel = IOMMU_HWPT_INVALIDATE_DATA_SELFTEST;
	const struct {
		int err;
		const void *data;
		__u32 type;
		__u32 entry_len;
		__u32 num;
	} bad[] = {
		/* A type the domain does not take, even for no entries. */
		{ EINVAL, reqs, IOMMU_HWPT_INVALIDATE_DATA_SELFTEST_INVALID,
		  sizeof(*reqs), 0 },
		{ EINVAL, reqs, IOMMU_HWPT_INVALIDATE_DATA_VTD_S1,
		  sizeof(*reqs), 1 },
		/* Entry sizes: shorter, longer, 0, beyond a page. */
		{ EINVAL, reqs, sel, sizeof(*reqs) - 1, 1 },
		{ EINVAL, &longer, sel, sizeof(longer), 1 },
		{ EINVAL, reqs, sel, 0, 1 },
		{ EINVAL, reqs, sel, page_size + 1, 1 },
		/* A non-empty array needs an address, and a bounded count. */
		{ EINVAL, NULL, sel, sizeof(*reqs), 1 },
		{ EINVAL, reqs, sel, sizeof(*reqs), UINT32_MAX },
		/* Unreadable requests. */
		{ EFAULT, (void *)(uintptr_t)-4096, sel, sizeof(*reqs), 1 },
	};
	struct iommu_hwpt_invalidate_selftest *edge;
	__u32 a, b, done;
	int fd = self->fd;
	unsigned int i;
	char *page;

	test_nested(self->idev_id, self->parent_id, def, &a);
	test_nested(self->idev_id, self->parent_id, def, &b);

	/* Only nested HWPTs: ENOENT, and nothing done. */
	EXPECT_ERRNO(ENOENT, inv(self->parent_id, reqs, 1, &done));
	EXPECT_EQ(0, done);
	EXPECT_ERRNO(ENOENT, inv(self->ioas_id, reqs, 1, &done));
	EXPECT_ERRNO(ENOENT, inv(9999, reqs, 1, &done));

	/* An empty array asks whether the type is taken; nothing else. */
	ASSERT_EQ(0, inv(a, reqs, 0, &done));
	EXPECT_EQ(0, done);
	done = 0;
	ASSERT_EQ(0, _test_cmd_hwpt_invalidate(fd, a, NULL,
					       IOMMU_HWPT_INVALIDATE_DATA_SELFTEST,
					       0, &done));
	/* Refused arrays: nothing done, and entry_num says so. */
	for (i = 0; i != ARRAY_SIZE(bad); i++) {
		done = bad[i].num;
		EXPECT_ERRNO(bad[i].err,
			     _test_cmd_hwpt_invalidate(fd, a, bad[i].data,
						       bad[i].type,
						       bad[i].entry_len,
						       &done));
		EXPECT_EQ(0, done);
	}
	check_iotlbs(a, 0, def);

	/* Bad flags, bad iotlb_id: stop there, nothing done. */
	reqs[0].flags = 0xffffffff;
	EXPECT_ERRNO(EOPNOTSUPP, inv(a, reqs, 1, &done));
	EXPECT_EQ(0, done);
	reqs[0].flags = 0;
	reqs[0].iotlb_id = MOCK_NESTED_DOMAIN_IOTLB_ID_MAX + 1;
	EXPECT_ERRNO(EINVAL, inv(a, reqs, 1, &done));
	EXPECT_EQ(0, done);
	check_iotlbs(a, 0, def);

	/* The first done, the second refused: entry_num is 1. */
	reqs[0].iotlb_id = 0;
	reqs[1].flags = 0xffffffff;
	reqs[1].iotlb_id = 1;
	EXPECT_ERRNO(EOPNOTSUPP, inv(a, reqs, 2, &done));
	EXPECT_EQ(1, done);
	check_iotlbs(a, 0x1, def);
	reqs[1].flags = 0;
	reqs[1].iotlb_id = ~0U;
	EXPECT_ERRNO(EINVAL, inv(a, reqs, 2, &done));
	EXPECT_EQ(1, done);
	check_iotlbs(a, 0x1, def);

	/* Three done, the fourth bad: entry_num is the index reached. */
	reqs[0].iotlb_id = 1;
	reqs[1].iotlb_id = 1;
	reqs[2].iotlb_id = 3;
	reqs[3].iotlb_id = MOCK_NESTED_DOMAIN_IOTLB_NUM;
	EXPECT_ERRNO(EINVAL, inv(a, reqs, 4, &done));
	EXPECT_EQ(3, done);
	check_iotlbs(a, 0xb, def);
	/* The array ends where the mapping does: the part before is done. */
	page = mmap(NULL, 2 * page_size, PROT_READ | PROT_WRITE,
		    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, page);
	ASSERT_EQ(0, munmap(page + page_size, page_size));
	edge = (void *)(page + page_size - sizeof(*edge));
	edge->flags = 0;
	edge->iotlb_id = 2;
	EXPECT_ERRNO(EFAULT, inv(a, edge, 2, &done));
	EXPECT_EQ(1, done);
	munmap(page, page_size);
	check_iotlbs(a, 0xf, def);
	/* b is untouched by all of this. */
	check_iotlbs(b, 0, def);

	/* FLAG_ALL clears all; iotlb_id must still be valid, as upstream. */
	reqs[0].flags = IOMMU_TEST_INVALIDATE_FLAG_ALL;
	reqs[0].iotlb_id = ~0U;
	EXPECT_ERRNO(EINVAL, inv(b, reqs, 1, &done));
	EXPECT_EQ(0, done);
	check_iotlbs(b, 0, def);
	reqs[0].iotlb_id = 3;
	ASSERT_EQ(0, inv(b, reqs, 1, &done));
	EXPECT_EQ(1, done);
	check_iotlbs(b, 0xf, def);

	/*
	 * An entry_len larger than the mock's request is refused, zero
	 * tail or not: nothing of the array is done.
	 */
	test_ioctl_destroy(b);
	test_nested(self->idev_id, self->parent_id, def, &b);
	done = 2;
	EXPECT_ERRNO(EINVAL,
		     _test_cmd_hwpt_invalidate(fd, b, two,
					       IOMMU_HWPT_INVALIDATE_DATA_SELFTEST,
					       sizeof(two[0]), &done));
	EXPECT_EQ(0, done);
	check_iotlbs(b, 0, def);

	/* A reserved field that is not zero: nothing done. */
	cmd.hwpt_id = b;
	reqs[0].flags = 0;
	EXPECT_ERRNO(EOPNOTSUPP, ioctl(fd, IOMMU_HWPT_INVALIDATE, &cmd));
	EXPECT_EQ(0, cmd.entry_num);
	check_iotlbs(b, 0, def);
	EXPECT_EQ(self->objects + 2, objects());
}

/* Attach and replace onto nested HWPTs, and which destroys are refused. */
TEST_F(nested, attach_and_destroy_order)
{
	const __u32 def = IOMMU_TEST_IOTLB_DEFAULT;
	__u32 a, b, out, stdev2, hwpt2;

	test_nested(self->idev_id, self->parent_id, def, &a);
	test_nested(self->idev_id, self->parent_id, def, &b);
	EXPECT_EQ(self->parent_id,
		  fdinfo_obj(self->fd, "hwpt_nested", a, "parent"));
	EXPECT_EQ(self->ioas_id, fdinfo_obj(self->fd, "hwpt_nested", a, "ioas"));
	EXPECT_EQ(0, fdinfo_obj(self->fd, "hwpt_nested", a, "devices"));

	/* The parent is held by its children, the IOAS by the parent. */
	EXPECT_ERRNO(EBUSY, _test_ioctl_destroy(self->fd, self->parent_id));
	EXPECT_ERRNO(EBUSY, _test_ioctl_destroy(self->fd, self->ioas_id));

	/* Onto a, then b: each busy while the device is on it. */
	test_cmd_mock_domain_replace(self->stdev_id, a, &out);
	EXPECT_EQ(a, out);
	EXPECT_EQ(1, fdinfo_obj(self->fd, "hwpt_nested", a, "devices"));
	EXPECT_EQ(a, fdinfo_obj(self->fd, "device", self->idev_id, "hwpt"));
	EXPECT_ERRNO(EBUSY, _test_ioctl_destroy(self->fd, a));
	/* The automatic HWPT went with its last device. */
	EXPECT_EQ(-1, fdinfo_obj(self->fd, "hwpt", self->hwpt_id, "ioas"));
	test_cmd_mock_domain_replace(self->stdev_id, b, &out);
	EXPECT_EQ(0, fdinfo_obj(self->fd, "hwpt_nested", a, "devices"));
	EXPECT_ERRNO(EBUSY, _test_ioctl_destroy(self->fd, b));
	test_ioctl_destroy(a);
	/* Still mapped through the parent: the IOAS's buffer is there. */
	check_mock_map(self->parent_id, IOVA_BASE, BUF_PAGES * page_size,
		       self->buf);

	/* A second device made straight on the nested HWPT. */
	test_cmd_mock_domain(b, &stdev2, &hwpt2, NULL);
	EXPECT_EQ(b, hwpt2);
	EXPECT_EQ(2, fdinfo_obj(self->fd, "hwpt_nested", b, "devices"));
	/* Attaching to a nested HWPT is not allowed to change it. */
	check_iotlbs(b, 0, def);
	test_ioctl_destroy(stdev2);

	/* Back to the parent, then the IOAS; then everything can go. */
	test_cmd_mock_domain_replace(self->stdev_id, self->parent_id, &out);
	EXPECT_EQ(self->parent_id, out);
	test_ioctl_destroy(b);
	EXPECT_ERRNO(EBUSY, _test_ioctl_destroy(self->fd, self->parent_id));
	test_cmd_mock_domain_replace(self->stdev_id, self->ioas_id, &out);
	test_ioctl_destroy(self->parent_id);
	/* The IOAS, the device's two objects and its new automatic HWPT. */
	EXPECT_EQ(4, objects());
}

/*
 * A device that cannot track dirty IOVA cannot use a nested HWPT whose
 * parent tracks it, as it could not use the parent; refused attaches and
 * replaces change no device count.
 */
TEST_F(nested, attach_rules)
{
	__u32 dparent, dnested, stdev2, a, out;

	ASSERT_EQ(0, _test_cmd_hwpt_alloc(self->fd, self->idev_id,
					  self->ioas_id,
					  IOMMU_HWPT_ALLOC_NEST_PARENT |
						  IOMMU_HWPT_ALLOC_DIRTY_TRACKING,
					  &dparent));
	test_nested(self->idev_id, dparent, 1, &dnested);
	EXPECT_ERRNO(EINVAL,
		     _test_cmd_mock_domain_flags(self->fd, dnested,
						 MOCK_FLAGS_DEVICE_NO_DIRTY,
						 &stdev2));
	EXPECT_ERRNO(EINVAL,
		     _test_cmd_mock_domain_flags(self->fd, dparent,
						 MOCK_FLAGS_DEVICE_NO_DIRTY,
						 &stdev2));
	/* Such a device on the plain parent's nested HWPT is fine. */
	test_nested(self->idev_id, self->parent_id, 1, &a);
	ASSERT_EQ(0, _test_cmd_mock_domain_flags(self->fd, a,
						 MOCK_FLAGS_DEVICE_NO_DIRTY,
						 &stdev2));
	/* And it cannot be moved onto the dirty-tracking one. */
	EXPECT_ERRNO(EINVAL, _test_cmd_mock_domain_replace(self->fd, stdev2,
							   dnested, &out));
	EXPECT_EQ(1, fdinfo_obj(self->fd, "hwpt_nested", a, "devices"));
	EXPECT_EQ(0, fdinfo_obj(self->fd, "hwpt_nested", dnested, "devices"));
	test_ioctl_destroy(stdev2);
	test_ioctl_destroy(dnested);
	test_ioctl_destroy(dparent);
	test_ioctl_destroy(a);
	EXPECT_EQ(self->objects, objects());
}

/* Nested HWPTs are not paging HWPTs: the dirty ioctls do not find them. */
TEST_F(nested, not_paging)
{
	struct iommu_hwpt_set_dirty_tracking set = {
		.size = sizeof(set),
	};
	__u32 a;

	test_nested(self->idev_id, self->parent_id, 1, &a);
	set.hwpt_id = a;
	EXPECT_ERRNO(ENOENT, ioctl(self->fd, IOMMU_HWPT_SET_DIRTY_TRACKING,
				   &set));
	EXPECT_ERRNO(ENOENT,
		     _test_cmd_check_map(self->fd, a, IOVA_BASE, page_size,
					 self->buf));
	/* Unmapping the IOAS under a nested HWPT reaches its parent. */
	test_ioctl_ioas_unmap(self->ioas_id, IOVA_BASE, BUF_PAGES * page_size);
	EXPECT_ERRNO(EINVAL,
		     _test_cmd_check_map(self->fd, self->parent_id, IOVA_BASE,
					 page_size, self->buf));
}

/*
 * The answer of HWPT_ALLOC cannot be written (the structure is in a
 * read-only page): the nested HWPT is taken back, its ID never seen.
 */
TEST_F(nested, reply_fault)
{
	struct iommu_hwpt_selftest data = { .iotlb = 1 };
	struct iommu_hwpt_alloc *cmd;
	struct iommu_hwpt_invalidate *icmd;
	struct iommu_hwpt_invalidate_selftest req = {};
	char *page;
	__u32 a;

	page = mmap(NULL, page_size, PROT_READ | PROT_WRITE,
		    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, page);
	cmd = (void *)page;
	*cmd = (struct iommu_hwpt_alloc){
		.size = sizeof(*cmd),
		.dev_id = self->idev_id,
		.pt_id = self->parent_id,
		.data_type = IOMMU_HWPT_DATA_SELFTEST,
		.data_len = sizeof(data),
		.data_uptr = (uintptr_t)&data,
	};
	ASSERT_EQ(0, mprotect(page, page_size, PROT_READ));
	EXPECT_ERRNO(EFAULT, ioctl(self->fd, IOMMU_HWPT_ALLOC, cmd));
	EXPECT_EQ(self->objects, objects());
	/* The parent is not left held by the HWPT taken back. */
	ASSERT_EQ(0, mprotect(page, page_size, PROT_READ | PROT_WRITE));
	cmd->pt_id = self->ioas_id;
	cmd->flags = IOMMU_HWPT_ALLOC_NEST_PARENT;
	cmd->data_type = IOMMU_HWPT_DATA_NONE;
	cmd->data_len = 0;
	ASSERT_EQ(0, mprotect(page, page_size, PROT_READ));
	EXPECT_ERRNO(EFAULT, ioctl(self->fd, IOMMU_HWPT_ALLOC, cmd));
	EXPECT_EQ(self->objects, objects());

	/* An invalidation that cannot answer still happened: EFAULT. */
	test_nested(self->idev_id, self->parent_id, 1, &a);
	ASSERT_EQ(0, mprotect(page, page_size, PROT_READ | PROT_WRITE));
	icmd = (void *)page;
	*icmd = (struct iommu_hwpt_invalidate){
		.size = sizeof(*icmd),
		.hwpt_id = a,
		.data_uptr = (uintptr_t)&req,
		.data_type = IOMMU_HWPT_INVALIDATE_DATA_SELFTEST,
		.entry_len = sizeof(req),
		.entry_num = 1,
	};
	req.iotlb_id = 2;
	ASSERT_EQ(0, mprotect(page, page_size, PROT_READ));
	EXPECT_ERRNO(EFAULT, ioctl(self->fd, IOMMU_HWPT_INVALIDATE, icmd));
	check_iotlbs(a, 0x4, 1);
	munmap(page, page_size);
	test_ioctl_destroy(a);
	test_ioctl_destroy(self->parent_id);
	ASSERT_EQ(0, _test_ioctl_destroy(self->fd, self->stdev_id));
	/* The IOAS alone. */
	EXPECT_EQ(1, objects());
}

/* Closing the context with the device on a nested HWPT, children alive. */
TEST_F(nested, close_with_everything)
{
	__u32 a, b, out, stdev2;

	test_nested(self->idev_id, self->parent_id, 1, &a);
	test_nested(self->idev_id, self->parent_id, 2, &b);
	test_cmd_mock_domain_replace(self->stdev_id, a, &out);
	test_cmd_mock_domain(b, &stdev2, NULL, NULL);
	EXPECT_EQ(self->objects + 3, objects());
	/* The teardown closes the file: every object goes, leaves first. */
}

/* Destroying the device's selftest object while it is on a nested HWPT. */
TEST_F(nested, device_gone_first)
{
	__u32 a, out;

	test_nested(self->idev_id, self->parent_id, 1, &a);
	test_cmd_mock_domain_replace(self->stdev_id, a, &out);
	test_ioctl_destroy(self->stdev_id);
	EXPECT_EQ(0, fdinfo_obj(self->fd, "hwpt_nested", a, "devices"));
	/* The device is gone; the nested HWPT and its parent can go. */
	EXPECT_ERRNO(EBUSY, _test_ioctl_destroy(self->fd, self->parent_id));
	test_ioctl_destroy(a);
	test_ioctl_destroy(self->parent_id);
	test_ioctl_destroy(self->ioas_id);
	EXPECT_EQ(0, objects());
}

/* Shared between the two threads of a race; all through these. */
#define LOAD(x) __atomic_load_n(&(x), __ATOMIC_SEQ_CST)
#define STORE(x, v) __atomic_store_n(&(x), v, __ATOMIC_SEQ_CST)
#define BUMP(x) __atomic_add_fetch(&(x), 1, __ATOMIC_SEQ_CST)

struct race {
	int fd;
	__u32 idev_id;
	__u32 stdev_id;
	__u32 parent_id;
	__u32 nested_id;
	bool stop;
	/* Outcomes, to check that both sides really met. */
	unsigned int ok, gone, other;
};

/* Invalidate whatever nested HWPT is current, as fast as possible. */
static void *race_invalidate(void *arg)
{
	struct iommu_hwpt_invalidate_selftest reqs[2] = {
		{ .iotlb_id = 1 },
		{ .flags = IOMMU_TEST_INVALIDATE_FLAG_ALL },
	};
	struct race *r = arg;
	__u32 done;

	while (!LOAD(r->stop)) {
		if (!_test_inv(r->fd, LOAD(r->nested_id), reqs, 2, &done)) {
			if (done != 2)
				BUMP(r->other);
			BUMP(r->ok);
		} else if (errno == ENOENT && !done) {
			BUMP(r->gone);
		} else {
			BUMP(r->other);
		}
	}
	return NULL;
}

/*
 * One thread invalidates the current nested HWPT while the other destroys
 * it and makes a new one. Every invalidation either finds the HWPT whole
 * or not at all; a destroy while one runs is refused.
 */
TEST_F(nested, race_invalidate_destroy)
{
	struct race r = {
		.fd = self->fd,
		.parent_id = self->parent_id,
	};
	unsigned int i, destroyed = 0, busy = 0;
	pthread_t t;
	__u32 id;

	test_nested(self->idev_id, self->parent_id, 5, &id);
	STORE(r.nested_id, id);
	ASSERT_EQ(0, pthread_create(&t, NULL, race_invalidate, &r));
	/* Until both sides got through at least once, within reason. */
	for (i = 0; i < RACE_LOOPS || (!LOAD(r.ok) && i < 100 * RACE_LOOPS);
	     i++) {
		if (_test_ioctl_destroy(self->fd, LOAD(r.nested_id))) {
			ASSERT_EQ(EBUSY, errno);
			busy++;
			continue;
		}
		destroyed++;
		test_nested(self->idev_id, self->parent_id, 5, &id);
		STORE(r.nested_id, id);
	}
	STORE(r.stop, true);
	ASSERT_EQ(0, pthread_join(t, NULL));
	TH_LOG("%u destroyed, %u busy; %u invalidations done, %u found none",
	       destroyed, busy, LOAD(r.ok), LOAD(r.gone));
	EXPECT_EQ(0, LOAD(r.other));
	EXPECT_LT(0, destroyed);
	EXPECT_LT(0, LOAD(r.ok));
	test_ioctl_destroy(LOAD(r.nested_id));
	EXPECT_EQ(self->objects, objects());
}

/* Move the device to the parent, again and again. */
static void *race_replace(void *arg)
{
	struct race *r = arg;
	__u32 out;

	while (!LOAD(r->stop)) {
		if (_test_cmd_mock_domain_replace(r->fd, r->stdev_id,
						  r->parent_id, &out))
			BUMP(r->other);
		else
			BUMP(r->ok);
	}
	return NULL;
}

/*
 * One thread puts the device on a new nested HWPT, invalidates it and
 * destroys it as soon as it may, while the other moves the device back
 * to the parent: each destroy is refused or done, never under a device.
 */
TEST_F(nested, race_replace_destroy)
{
	struct iommu_hwpt_invalidate_selftest req = { .iotlb_id = 0 };
	struct race r = {
		.fd = self->fd,
		.stdev_id = self->stdev_id,
		.parent_id = self->parent_id,
	};
	unsigned int i, destroyed = 0;
	__u32 a, out, done;
	pthread_t t;

	ASSERT_EQ(0, pthread_create(&t, NULL, race_replace, &r));
	for (i = 0; i != RACE_LOOPS / 4; i++) {
		test_nested(self->idev_id, self->parent_id, 3, &a);
		test_cmd_mock_domain_replace(self->stdev_id, a, &out);
		ASSERT_EQ(0, inv(a, &req, 1, &done));
		ASSERT_EQ(1, done);
		/* The other thread moves the device off it, soon. */
		while (_test_ioctl_destroy(self->fd, a)) {
			ASSERT_EQ(EBUSY, errno);
			sched_yield();
		}
		destroyed++;
		/* Destroyed means no device is on it, and none can be. */
		EXPECT_ERRNO(ENOENT,
			     _test_cmd_mock_domain_replace(self->fd,
							   self->stdev_id, a,
							   &out));
	}
	STORE(r.stop, true);
	ASSERT_EQ(0, pthread_join(t, NULL));
	TH_LOG("%u nested HWPTs destroyed, %u replaces to the parent",
	       destroyed, LOAD(r.ok));
	EXPECT_EQ(0, LOAD(r.other));
	EXPECT_EQ(self->parent_id,
		  fdinfo_obj(self->fd, "device", self->idev_id, "hwpt"));
}

/* Make children of the parent and destroy them, until it is gone. */
static void *race_alloc_nested(void *arg)
{
	struct race *r = arg;
	__u32 id;

	for (;;) {
		if (_test_nested(r->fd, r->idev_id, r->parent_id, 1, &id)) {
			/* EINVAL: the parent is gone. */
			if (errno != EINVAL)
				BUMP(r->other);
			BUMP(r->gone);
			return NULL;
		}
		BUMP(r->ok);
		if (_test_ioctl_destroy(r->fd, id))
			BUMP(r->other);
	}
}

/*
 * Destroying the parent while the other thread makes children of it: it
 * is refused while a child exists, and once done no child can be made.
 */
TEST_F(nested, race_parent_destroy)
{
	struct race r = {
		.fd = self->fd,
		.idev_id = self->idev_id,
		.parent_id = self->parent_id,
	};
	unsigned int busy = 0;
	pthread_t t;

	ASSERT_EQ(0, pthread_create(&t, NULL, race_alloc_nested, &r));
	/* Let the children come and go for a while first. */
	while (LOAD(r.ok) < 200 && !LOAD(r.gone))
		sched_yield();
	while (_test_ioctl_destroy(self->fd, self->parent_id)) {
		ASSERT_EQ(EBUSY, errno);
		busy++;
	}
	ASSERT_EQ(0, pthread_join(t, NULL));
	TH_LOG("%u children made; the parent was busy %u times", LOAD(r.ok),
	       busy);
	EXPECT_EQ(0, LOAD(r.other));
	EXPECT_EQ(1, LOAD(r.gone));
	EXPECT_EQ(self->objects - 1, objects());
}

/* IOMMU_HWPT_INVALIDATE's structure size contract, as every ioctl's. */
TEST_F(nested, cmd_length)
{
	struct {
		struct iommu_hwpt_invalidate cmd;
		__u8 extra;
	} cmd = {};
	__u32 a;

	test_nested(self->idev_id, self->parent_id, 1, &a);
	cmd.cmd.hwpt_id = a;
	cmd.cmd.data_type = IOMMU_HWPT_INVALIDATE_DATA_SELFTEST;
	cmd.cmd.size = offsetof(struct iommu_hwpt_invalidate, __reserved) +
		       sizeof(cmd.cmd.__reserved) - 1;
	EXPECT_ERRNO(EINVAL, ioctl(self->fd, IOMMU_HWPT_INVALIDATE, &cmd));
	cmd.cmd.size = sizeof(cmd.cmd) + 1;
	cmd.extra = 1;
	EXPECT_ERRNO(E2BIG, ioctl(self->fd, IOMMU_HWPT_INVALIDATE, &cmd));
	cmd.extra = 0;
	ASSERT_EQ(0, ioctl(self->fd, IOMMU_HWPT_INVALIDATE, &cmd));
}

TEST_HARNESS_MAIN
