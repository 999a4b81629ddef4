// SPDX-License-Identifier: GPL-2.0-only
/*
 * iommufd core and uAPI contract tests: the character device, the object
 * lifecycle, IOMMU_IOAS_ALLOC and IOMMU_IOAS_IOVA_RANGES, and the size
 * rules every ioctl shares.
 */
#define _GNU_SOURCE
#include <stddef.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>

#include "iommufd_utils.h"

static unsigned long page_size;
/* One page of memory for the commands that need something to map. */
static void *page_buffer;

static __attribute__((constructor)) void setup_sizes(void)
{
	page_size = sysconf(_SC_PAGE_SIZE);
	page_buffer = mmap(NULL, page_size, PROT_READ | PROT_WRITE,
			   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
}

TEST(open_close)
{
	int fd, fd2;

	fd = open("/dev/iommu", O_RDWR);
	ASSERT_LE(0, fd);
	/* Each open is its own context. */
	fd2 = open("/dev/iommu", O_RDWR);
	ASSERT_LE(0, fd2);
	ASSERT_EQ(0, close(fd));
	ASSERT_EQ(0, close(fd2));
}

FIXTURE(iommufd)
{
	int fd;
};

FIXTURE_SETUP(iommufd)
{
	self->fd = open("/dev/iommu", O_RDWR);
	ASSERT_LE(0, self->fd);
}

/*
 * No ASSERT in teardowns: after a failed ASSERT in the test this harness
 * still has its trigger set, so any ASSERT here jumps back into the
 * teardown, forever, until the timeout kills the test.
 */
FIXTURE_TEARDOWN(iommufd)
{
	close(self->fd);
}

TEST_F(iommufd, destroy_bad_id)
{
	EXPECT_ERRNO(ENOENT, _test_ioctl_destroy(self->fd, 0));
	EXPECT_ERRNO(ENOENT, _test_ioctl_destroy(self->fd, 1));
	EXPECT_ERRNO(ENOENT, _test_ioctl_destroy(self->fd, UINT32_MAX));
}

TEST_F(iommufd, ioas_alloc_destroy)
{
	__u32 a, b;

	test_ioctl_ioas_alloc(&a);
	test_ioctl_ioas_alloc(&b);
	ASSERT_NE(a, b);
	test_ioctl_destroy(a);
	/* Gone means gone: a second destroy and a lookup both fail. */
	EXPECT_ERRNO(ENOENT, _test_ioctl_destroy(self->fd, a));
	test_ioctl_destroy(b);
}

TEST_F(iommufd, ioas_alloc_bad_flags)
{
	struct iommu_ioas_alloc cmd = {
		.size = sizeof(cmd),
		.flags = 1,
	};

	EXPECT_ERRNO(EOPNOTSUPP, ioctl(self->fd, IOMMU_IOAS_ALLOC, &cmd));
	cmd.flags = 1U << 31;
	EXPECT_ERRNO(EOPNOTSUPP, ioctl(self->fd, IOMMU_IOAS_ALLOC, &cmd));
}

TEST_F(iommufd, ioas_alloc_efault)
{
	struct iommu_ioas_alloc *cmd;
	__u32 id, again;

	test_ioctl_ioas_alloc(&id);
	test_ioctl_destroy(id);

	/*
	 * The command can be read but the answer cannot be written: the
	 * ioctl fails and must neither leave an object behind nor keep the
	 * ID it reserved, so the next alloc gets that ID again.
	 */
	cmd = mmap(NULL, page_size, PROT_READ | PROT_WRITE,
		   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, cmd);
	cmd->size = sizeof(*cmd);
	ASSERT_EQ(0, mprotect(cmd, page_size, PROT_READ));
	EXPECT_ERRNO(EFAULT, ioctl(self->fd, IOMMU_IOAS_ALLOC, cmd));
	ASSERT_EQ(0, munmap(cmd, page_size));

	EXPECT_ERRNO(ENOENT, _test_ioctl_destroy(self->fd, id));
	test_ioctl_ioas_alloc(&again);
	ASSERT_EQ(id, again);
	test_ioctl_destroy(again);
}

TEST_F(iommufd, ioas_ids_are_per_context)
{
	__u32 id;
	int fd2;

	test_ioctl_ioas_alloc(&id);
	fd2 = open("/dev/iommu", O_RDWR);
	ASSERT_LE(0, fd2);
	EXPECT_ERRNO(ENOENT, _test_ioctl_destroy(fd2, id));
	ASSERT_EQ(0, close(fd2));
	test_ioctl_destroy(id);
}

TEST_F(iommufd, iova_ranges_empty_ioas)
{
	struct iommu_iova_range ranges[4];
	__u64 alignment = 0;
	__u32 ioas_id, num;

	test_ioctl_ioas_alloc(&ioas_id);

	/* With no device attached the whole 64-bit space is usable. */
	memset(ranges, 0xA5, sizeof(ranges));
	num = 4;
	ASSERT_EQ(0, _test_ioctl_iova_ranges(self->fd, ioas_id, ranges, &num,
					     &alignment));
	ASSERT_EQ(1, num);
	ASSERT_EQ(0, ranges[0].start);
	ASSERT_EQ(UINT64_MAX, ranges[0].last);
	/* Nothing translates IOVA yet: any byte may start a mapping. */
	ASSERT_EQ(1, alignment);
	/* Entries past num_iovas are not written. */
	ASSERT_EQ(0xA5A5A5A5A5A5A5A5ULL, ranges[1].start);

	test_ioctl_destroy(ioas_id);
}

TEST_F(iommufd, iova_ranges_emsgsize)
{
	struct iommu_iova_range range = { .start = 7, .last = 7 };
	__u32 ioas_id, num;

	test_ioctl_ioas_alloc(&ioas_id);

	/* A zero-sized array asks for the count; the pointer is not used. */
	num = 0;
	EXPECT_ERRNO(EMSGSIZE, _test_ioctl_iova_ranges(self->fd, ioas_id, NULL,
						       &num, NULL));
	ASSERT_EQ(1, num);
	num = 0;
	EXPECT_ERRNO(EMSGSIZE, _test_ioctl_iova_ranges(self->fd, ioas_id,
						       &range, &num, NULL));
	ASSERT_EQ(1, num);
	ASSERT_EQ(7, range.start);

	/* Then the second call with the size it reported works. */
	ASSERT_EQ(0, _test_ioctl_iova_ranges(self->fd, ioas_id, &range, &num,
					     NULL));
	ASSERT_EQ(1, num);
	ASSERT_EQ(0, range.start);
	ASSERT_EQ(UINT64_MAX, range.last);

	test_ioctl_destroy(ioas_id);
}

TEST_F(iommufd, iova_ranges_bad_input)
{
	struct iommu_ioas_iova_ranges cmd = {
		.size = sizeof(cmd),
		.num_iovas = 1,
	};
	struct iommu_iova_range range;
	__u32 ioas_id, num = 1;

	EXPECT_ERRNO(ENOENT, _test_ioctl_iova_ranges(self->fd, 0, &range, &num,
						     NULL));
	test_ioctl_ioas_alloc(&ioas_id);
	cmd.ioas_id = ioas_id;
	cmd.allowed_iovas = (uintptr_t)&range;

	cmd.__reserved = 1;
	EXPECT_ERRNO(EOPNOTSUPP, ioctl(self->fd, IOMMU_IOAS_IOVA_RANGES, &cmd));
	cmd.__reserved = 0;

	/* An array the kernel cannot write to. */
	cmd.allowed_iovas = 8;
	EXPECT_ERRNO(EFAULT, ioctl(self->fd, IOMMU_IOAS_IOVA_RANGES, &cmd));

	test_ioctl_destroy(ioas_id);
	EXPECT_ERRNO(ENOENT, _test_ioctl_iova_ranges(self->fd, ioas_id, &range,
						     &num, NULL));
}

TEST_F(iommufd, unknown_ioctl)
{
	struct iommu_destroy cmd = {
		.size = sizeof(cmd),
	};

	/* Numbers outside iommufd's range, and the holes in it. */
	EXPECT_ERRNO(ENOTTY, ioctl(self->fd, _IO(IOMMUFD_TYPE, 0x7f), &cmd));
	EXPECT_ERRNO(ENOTTY, ioctl(self->fd, _IO(IOMMUFD_TYPE, 0xff), &cmd));
	EXPECT_ERRNO(ENOTTY, ioctl(self->fd, _IO(IOMMUFD_TYPE, 0x9f), &cmd));
	/* A known number with another type or direction is not the same. */
	EXPECT_ERRNO(ENOTTY, ioctl(self->fd, _IO('x', IOMMUFD_CMD_DESTROY),
				   &cmd));
	EXPECT_ERRNO(ENOTTY,
		     ioctl(self->fd,
			   _IOWR(IOMMUFD_TYPE, IOMMUFD_CMD_DESTROY, __u32),
			   &cmd));
	/* The size is read from user memory: a bad pointer faults. */
	EXPECT_ERRNO(EFAULT, ioctl(self->fd, IOMMU_DESTROY, NULL));
}

/*
 * The size contract, checked for every ioctl: shorter than the first
 * version is EINVAL, unknown non-zero trailing bytes are E2BIG, and zero
 * trailing bytes behave exactly like the exact size. Each ioctl is run
 * with a valid command (fill() sets one up), so "behaves the same" is
 * checked on success paths, not only on errors.
 */
struct length_case {
	const char *name;
	unsigned long ioctl_num;
	size_t size;
	size_t min_size;
	void (*fill)(int fd, void *cmd);
};

static void fill_destroy(int fd, void *buf)
{
	struct iommu_destroy *cmd = buf;

	_test_ioctl_ioas_alloc(fd, &cmd->id);
}

static void fill_ioas_alloc(int fd, void *buf)
{
}

/* CLEAR: an op that succeeds whatever the context holds. */
static void fill_vfio_ioas(int fd, void *buf)
{
	struct iommu_vfio_ioas *cmd = buf;

	cmd->op = IOMMU_VFIO_IOAS_CLEAR;
}

static struct iommu_iova_range length_ranges[8];

static void fill_iova_ranges(int fd, void *buf)
{
	struct iommu_ioas_iova_ranges *cmd = buf;

	_test_ioctl_ioas_alloc(fd, &cmd->ioas_id);
	cmd->num_iovas = 8;
	cmd->allowed_iovas = (uintptr_t)length_ranges;
}

static struct iommu_iova_range length_allowed;

static void fill_ioas_allow_iovas(int fd, void *buf)
{
	struct iommu_ioas_allow_iovas *cmd = buf;

	_test_ioctl_ioas_alloc(fd, &cmd->ioas_id);
	length_allowed.start = 16 * page_size;
	length_allowed.last = 32 * page_size - 1;
	cmd->num_iovas = 1;
	cmd->allowed_iovas = (uintptr_t)&length_allowed;
}

static void fill_ioas_map(int fd, void *buf)
{
	struct iommu_ioas_map *cmd = buf;

	/* A fresh IOAS each time, so the fixed IOVA is always free. */
	_test_ioctl_ioas_alloc(fd, &cmd->ioas_id);
	cmd->flags = IOMMU_IOAS_MAP_FIXED_IOVA | TEST_MAP_RW;
	cmd->user_va = (uintptr_t)page_buffer;
	cmd->length = page_size;
	cmd->iova = page_size;
}

/* A new IOAS with page_buffer mapped at IOVA page_size; returns its ID. */
static __u32 length_mapped_ioas(int fd)
{
	__u64 iova = page_size;
	__u32 ioas_id = 0;

	_test_ioctl_ioas_alloc(fd, &ioas_id);
	_test_ioctl_ioas_map(fd, ioas_id, page_buffer, page_size, &iova,
			     IOMMU_IOAS_MAP_FIXED_IOVA | TEST_MAP_RW);
	return ioas_id;
}

static void fill_ioas_copy(int fd, void *buf)
{
	struct iommu_ioas_copy *cmd = buf;

	cmd->src_ioas_id = length_mapped_ioas(fd);
	_test_ioctl_ioas_alloc(fd, &cmd->dst_ioas_id);
	cmd->flags = IOMMU_IOAS_MAP_FIXED_IOVA | TEST_MAP_RW;
	cmd->length = page_size;
	cmd->dst_iova = page_size;
	cmd->src_iova = page_size;
}

static void fill_ioas_unmap(int fd, void *buf)
{
	struct iommu_ioas_unmap *cmd = buf;

	cmd->ioas_id = length_mapped_ioas(fd);
	cmd->iova = page_size;
	cmd->length = page_size;
}

static void fill_option(int fd, void *buf)
{
	struct iommu_option *cmd = buf;

	/* Reading an option of a fresh IOAS. */
	_test_ioctl_ioas_alloc(fd, &cmd->object_id);
	cmd->option_id = IOMMU_OPTION_HUGE_PAGES;
	cmd->op = IOMMU_OPTION_OP_GET;
}

static void fill_hwpt_alloc(int fd, void *buf)
{
	struct iommu_hwpt_alloc *cmd = buf;
	__u32 ioas_id = 0;

	/* A mock device on a fresh IOAS, and a HWPT for it on that IOAS. */
	_test_ioctl_ioas_alloc(fd, &ioas_id);
	_test_cmd_mock_domain(fd, ioas_id, NULL, NULL, &cmd->dev_id);
	cmd->pt_id = ioas_id;
}

static void fill_get_hw_info(int fd, void *buf)
{
	struct iommu_hw_info *cmd = buf;
	__u32 ioas_id = 0;

	/* A mock device; no data buffer, so only the length comes back. */
	_test_ioctl_ioas_alloc(fd, &ioas_id);
	_test_cmd_mock_domain(fd, ioas_id, NULL, NULL, &cmd->dev_id);
}

/* A HWPT that tracks dirty IOVA, on a fresh IOAS with a mock device. */
static __u32 fill_dirty_hwpt(int fd)
{
	__u32 ioas_id = 0, idev_id = 0, hwpt_id = 0;

	_test_ioctl_ioas_alloc(fd, &ioas_id);
	_test_cmd_mock_domain(fd, ioas_id, NULL, NULL, &idev_id);
	_test_cmd_hwpt_alloc(fd, idev_id, ioas_id,
			     IOMMU_HWPT_ALLOC_DIRTY_TRACKING, &hwpt_id);
	return hwpt_id;
}

static void fill_set_dirty_tracking(int fd, void *buf)
{
	struct iommu_hwpt_set_dirty_tracking *cmd = buf;

	cmd->hwpt_id = fill_dirty_hwpt(fd);
	cmd->flags = IOMMU_HWPT_DIRTY_TRACKING_ENABLE;
}

static void fill_get_dirty_bitmap(int fd, void *buf)
{
	static char *page;
	static __u64 bitmap;
	struct iommu_hwpt_get_dirty_bitmap *cmd = buf;
	__u64 iova = MOCK_APERTURE_START;
	__u32 ioas_id = 0, idev_id = 0;

	/* One page mapped and read, tracking on. */
	if (!page)
		page = test_alloc_small_pages(1);
	_test_ioctl_ioas_alloc(fd, &ioas_id);
	_test_ioctl_ioas_map(fd, ioas_id, page, 4096, &iova,
			     IOMMU_IOAS_MAP_FIXED_IOVA | TEST_MAP_RW);
	_test_cmd_mock_domain(fd, ioas_id, NULL, NULL, &idev_id);
	_test_cmd_hwpt_alloc(fd, idev_id, ioas_id,
			     IOMMU_HWPT_ALLOC_DIRTY_TRACKING, &cmd->hwpt_id);
	_test_cmd_set_dirty_tracking(fd, cmd->hwpt_id, true);
	cmd->iova = iova;
	cmd->length = 4096;
	cmd->page_size = 4096;
	cmd->data = (uintptr_t)&bitmap;
}

static void fill_ioas_map_file(int fd, void *buf)
{
	static int mfd = -1;
	struct iommu_ioas_map_file *cmd = buf;

	/* One page of a memfd, at an IOVA the kernel picks each time. */
	if (mfd < 0) {
		mfd = memfd_create("cmd_length", 0);
		if (mfd >= 0 && ftruncate(mfd, page_size))
			mfd = -1;
	}
	_test_ioctl_ioas_alloc(fd, &cmd->ioas_id);
	cmd->flags = TEST_MAP_RW;
	cmd->fd = mfd;
	cmd->length = page_size;
}

static void fill_fault_queue_alloc(int fd, void *buf)
{
	/* Nothing to fill: the fds it makes live as long as the test. */
}

/*
 * min_size is where the first version of the structure ended: the end of
 * its last member then. Spelled out per ioctl so the table needs no macro.
 */
static const struct length_case length_cases[] = {
	{
		.name = "IOMMU_DESTROY",
		.ioctl_num = IOMMU_DESTROY,
		.size = sizeof(struct iommu_destroy),
		.min_size = offsetof(struct iommu_destroy, id) +
			    sizeof(((struct iommu_destroy *)0)->id),
		.fill = fill_destroy,
	},
	{
		.name = "IOMMU_IOAS_ALLOC",
		.ioctl_num = IOMMU_IOAS_ALLOC,
		.size = sizeof(struct iommu_ioas_alloc),
		.min_size = offsetof(struct iommu_ioas_alloc, out_ioas_id) +
			    sizeof(((struct iommu_ioas_alloc *)0)->out_ioas_id),
		.fill = fill_ioas_alloc,
	},
	{
		.name = "IOMMU_IOAS_IOVA_RANGES",
		.ioctl_num = IOMMU_IOAS_IOVA_RANGES,
		.size = sizeof(struct iommu_ioas_iova_ranges),
		.min_size =
			offsetof(struct iommu_ioas_iova_ranges,
				 out_iova_alignment) +
			sizeof(((struct iommu_ioas_iova_ranges *)0)
				       ->out_iova_alignment),
		.fill = fill_iova_ranges,
	},
	{
		.name = "IOMMU_IOAS_ALLOW_IOVAS",
		.ioctl_num = IOMMU_IOAS_ALLOW_IOVAS,
		.size = sizeof(struct iommu_ioas_allow_iovas),
		.min_size =
			offsetof(struct iommu_ioas_allow_iovas, allowed_iovas) +
			sizeof(((struct iommu_ioas_allow_iovas *)0)
				       ->allowed_iovas),
		.fill = fill_ioas_allow_iovas,
	},
	{
		.name = "IOMMU_IOAS_MAP",
		.ioctl_num = IOMMU_IOAS_MAP,
		.size = sizeof(struct iommu_ioas_map),
		.min_size = offsetof(struct iommu_ioas_map, iova) +
			    sizeof(((struct iommu_ioas_map *)0)->iova),
		.fill = fill_ioas_map,
	},
	{
		.name = "IOMMU_IOAS_COPY",
		.ioctl_num = IOMMU_IOAS_COPY,
		.size = sizeof(struct iommu_ioas_copy),
		.min_size = offsetof(struct iommu_ioas_copy, src_iova) +
			    sizeof(((struct iommu_ioas_copy *)0)->src_iova),
		.fill = fill_ioas_copy,
	},
	{
		.name = "IOMMU_IOAS_UNMAP",
		.ioctl_num = IOMMU_IOAS_UNMAP,
		.size = sizeof(struct iommu_ioas_unmap),
		.min_size = offsetof(struct iommu_ioas_unmap, length) +
			    sizeof(((struct iommu_ioas_unmap *)0)->length),
		.fill = fill_ioas_unmap,
	},
	{
		.name = "IOMMU_OPTION",
		.ioctl_num = IOMMU_OPTION,
		.size = sizeof(struct iommu_option),
		.min_size = offsetof(struct iommu_option, val64) +
			    sizeof(((struct iommu_option *)0)->val64),
		.fill = fill_option,
	},
	{
		.name = "IOMMU_HWPT_ALLOC",
		.ioctl_num = IOMMU_HWPT_ALLOC,
		.size = sizeof(struct iommu_hwpt_alloc),
		.min_size = offsetof(struct iommu_hwpt_alloc, __reserved) +
			    sizeof(((struct iommu_hwpt_alloc *)0)->__reserved),
		.fill = fill_hwpt_alloc,
	},
	{
		.name = "IOMMU_GET_HW_INFO",
		.ioctl_num = IOMMU_GET_HW_INFO,
		.size = sizeof(struct iommu_hw_info),
		.min_size = offsetof(struct iommu_hw_info, __reserved) +
			    sizeof(((struct iommu_hw_info *)0)->__reserved),
		.fill = fill_get_hw_info,
	},
	{
		.name = "IOMMU_VFIO_IOAS",
		.ioctl_num = IOMMU_VFIO_IOAS,
		.size = sizeof(struct iommu_vfio_ioas),
		.min_size = offsetof(struct iommu_vfio_ioas, __reserved) +
			    sizeof(((struct iommu_vfio_ioas *)0)->__reserved),
		.fill = fill_vfio_ioas,
	},
	{
		.name = "IOMMU_HWPT_SET_DIRTY_TRACKING",
		.ioctl_num = IOMMU_HWPT_SET_DIRTY_TRACKING,
		.size = sizeof(struct iommu_hwpt_set_dirty_tracking),
		.min_size =
			offsetof(struct iommu_hwpt_set_dirty_tracking,
				 __reserved) +
			sizeof(((struct iommu_hwpt_set_dirty_tracking *)0)
				       ->__reserved),
		.fill = fill_set_dirty_tracking,
	},
	{
		.name = "IOMMU_HWPT_GET_DIRTY_BITMAP",
		.ioctl_num = IOMMU_HWPT_GET_DIRTY_BITMAP,
		.size = sizeof(struct iommu_hwpt_get_dirty_bitmap),
		.min_size = offsetof(struct iommu_hwpt_get_dirty_bitmap, data) +
			    sizeof(((struct iommu_hwpt_get_dirty_bitmap *)0)->data),
		.fill = fill_get_dirty_bitmap,
	},
	{
		.name = "IOMMU_FAULT_QUEUE_ALLOC",
		.ioctl_num = IOMMU_FAULT_QUEUE_ALLOC,
		.size = sizeof(struct iommu_fault_alloc),
		.min_size = offsetof(struct iommu_fault_alloc, out_fault_fd) +
			    sizeof(((struct iommu_fault_alloc *)0)->out_fault_fd),
		.fill = fill_fault_queue_alloc,
	},
	{
		.name = "IOMMU_IOAS_MAP_FILE",
		.ioctl_num = IOMMU_IOAS_MAP_FILE,
		.size = sizeof(struct iommu_ioas_map_file),
		.min_size = offsetof(struct iommu_ioas_map_file, iova) +
			    sizeof(((struct iommu_ioas_map_file *)0)->iova),
		.fill = fill_ioas_map_file,
	},
};

static int run_sized(int fd, const struct length_case *lc, __u32 size,
		     __u8 tail)
{
	/* Words, so that fill() may store the commands' __u64 members. */
	__u64 words[32] = {};
	__u8 *buf = (__u8 *)words;

	lc->fill(fd, buf);
	*(__u32 *)buf = size;
	if (size > lc->size)
		buf[size - 1] = tail;
	return ioctl(fd, lc->ioctl_num, buf) ? errno : 0;
}

TEST_F(iommufd, cmd_length)
{
	unsigned int i;

	for (i = 0; i != ARRAY_SIZE(length_cases); i++) {
		const struct length_case *lc = &length_cases[i];
		int exact;

		TH_LOG("%s", lc->name);
		EXPECT_EQ(EINVAL, run_sized(self->fd, lc, lc->min_size - 1, 0));
		EXPECT_EQ(EINVAL, run_sized(self->fd, lc, 0, 0));
		EXPECT_EQ(E2BIG, run_sized(self->fd, lc, lc->size + 8, 0xAA));
		exact = run_sized(self->fd, lc, lc->size, 0);
		EXPECT_EQ(0, exact);
		EXPECT_EQ(exact, run_sized(self->fd, lc, lc->size + 8, 0));
		EXPECT_EQ(exact, run_sized(self->fd, lc, lc->min_size, 0));
	}
}

/*
 * Run @count alloc/destroy cycles on @fd. Freed IDs are handed out again,
 * so every alloc must return @first. Returns the number of cycles done.
 */
static int alloc_destroy_loop(int fd, __u32 first, int count)
{
	__u32 id;
	int i;

	for (i = 0; i != count; i++) {
		if (_test_ioctl_ioas_alloc(fd, &id) || id != first ||
		    _test_ioctl_destroy(fd, id))
			break;
	}
	return i;
}

/*
 * 100000 cycles, split over two processes with a context each so that
 * both vCPUs of the test VM work (about a minute on a KASAN kernel under
 * TCG). Neither the ID space nor, as kmemleak checks at the end of the
 * run, memory may grow.
 */
TEST_F_TIMEOUT(iommufd, alloc_destroy_cycles, 600)
{
	struct timespec start, end;
	int status, done;
	__u32 first;
	pid_t child;

	test_ioctl_ioas_alloc(&first);
	test_ioctl_destroy(first);
	clock_gettime(CLOCK_MONOTONIC, &start);
	child = fork();
	ASSERT_LE(0, child);
	if (!child) {
		int fd = open("/dev/iommu", O_RDWR);

		/* A fresh context hands out the same first ID. */
		_exit(fd < 0 || alloc_destroy_loop(fd, first, 50000) != 50000);
	}
	done = alloc_destroy_loop(self->fd, first, 50000);
	ASSERT_EQ(child, waitpid(child, &status, 0));
	ASSERT_EQ(50000, done);
	ASSERT_TRUE(WIFEXITED(status));
	ASSERT_EQ(0, WEXITSTATUS(status));
	clock_gettime(CLOCK_MONOTONIC, &end);
	TH_LOG("100000 alloc/destroy cycles in %ld ms",
	       (long)((end.tv_sec - start.tv_sec) * 1000 +
		      (end.tv_nsec - start.tv_nsec) / 1000000));
}

TEST(close_frees_everything)
{
	__u32 id;
	int fd, i;

	/* Objects still alive at close are destroyed with the context. */
	fd = open("/dev/iommu", O_RDWR);
	ASSERT_LE(0, fd);
	for (i = 0; i != 1000; i++)
		ASSERT_EQ(0, _test_ioctl_ioas_alloc(fd, &id));
	ASSERT_EQ(0, close(fd));
}

TEST_HARNESS_MAIN
