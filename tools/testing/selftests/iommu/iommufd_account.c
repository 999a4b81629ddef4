// SPDX-License-Identifier: GPL-2.0-only
/*
 * Accounting of pinned memory, and IOMMU_OPTION.
 *
 * Memory is pinned on demand: the range of an IOMMU_IOAS_MAP is pinned,
 * and charged, while one of its mappings is in an IOAS that has an IOMMU
 * domain, or while an in-kernel access pins part of it. So a map into an
 * IOAS with a domain is charged at once, the first domain of an IOAS
 * charges what the IOAS maps already, and the last one to go gives it
 * back. The charge is for the whole range, once however many copies and
 * domains use it, against RLIMIT_MEMLOCK of the process that mapped: by
 * default to the user that mapped (its locked_vm), or with
 * IOMMU_OPTION_RLIMIT_MODE 1 to the process's locked_vm (VmLck). A mapper
 * with CAP_IPC_LOCK is never charged. Either way mm->pinned_vm (VmPin)
 * counts the pins.
 *
 * The guest runs everything as root, and test programs run side by side,
 * while the default charge is per user. So each check runs in a child
 * that opens /dev/iommu as root, sets its limit and then becomes a user
 * no one else is (20000 + the test's pid), which drops every capability.
 * The test waits for its children and fails if one of them did.
 *
 * Also covered: the IOMMU_OPTION ABI for RLIMIT_MODE and HUGE_PAGES,
 * that copies and second domains are not charged again, that unmap,
 * close, death and the last domain give the charge back, and that the
 * pins of an in-kernel access are charged like a domain's.
 */
/* For setresuid(). */
#define _GNU_SOURCE
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/wait.h>

#include "iommufd_utils.h"

/* The limit of the unprivileged children, in pages. */
#define LIMIT_PAGES 8

static unsigned long page_size;

static __attribute__((constructor)) void setup_page_size(void)
{
	page_size = sysconf(_SC_PAGE_SIZE);
}

/* What VmPin and VmLck show for that many pages. */
static long long kb(unsigned long pages)
{
	return pages * page_size / 1024;
}

#define ASSERT_PINNED_PAGES(pages) ASSERT_EQ(kb(pages), test_proc_status("VmPin"))
#define ASSERT_LOCKED_PAGES(pages) ASSERT_EQ(kb(pages), test_proc_status("VmLck"))

/* Written memory of that many pages, so each page is a page of its own. */
static char *alloc_pages(struct __test_metadata *_metadata, unsigned long pages)
{
	char *buf = test_alloc_small_pages(pages);

	ASSERT_NE(NULL, buf);
	return buf;
}

/* A context opened as root, optionally charging the process. */
static int open_context(struct __test_metadata *_metadata, __u64 rlimit_mode)
{
	int fd;

	fd = open("/dev/iommu", O_RDWR);
	ASSERT_LE(0, fd);
	if (rlimit_mode)
		ASSERT_EQ(0, _test_ioctl_option(fd, IOMMU_OPTION_RLIMIT_MODE,
						IOMMU_OPTION_OP_SET, 0,
						&rlimit_mode));
	return fd;
}

/*
 * Map that many pages of buf at an IOVA the kernel chooses, which goes to
 * *iova unless iova is NULL.
 */
static int map_pages(int fd, __u32 ioas_id, void *buf, unsigned long pages,
		     __u64 *iova)
{
	__u64 got = 0;
	int rc;

	rc = _test_ioctl_ioas_map(fd, ioas_id, buf, pages * page_size, &got,
				  TEST_MAP_RW);
	if (iova)
		*iova = got;
	return rc;
}

static int unmap_all(int fd, __u32 ioas_id)
{
	return _test_ioctl_ioas_unmap(fd, ioas_id, 0, UINT64_MAX, NULL);
}

/*
 * A new IOAS whose kernel-chosen IOVAs lie in the mock aperture, so that
 * what it maps without a domain leaves room for one to come.
 */
static int alloc_ioas(int fd, __u32 *ioas_id)
{
	const struct iommu_iova_range aperture = {
		.start = MOCK_APERTURE_START,
		.last = MOCK_APERTURE_LAST,
	};
	int rc;

	rc = _test_ioctl_ioas_alloc(fd, ioas_id);
	if (rc)
		return rc;
	return _test_ioctl_ioas_allow_iovas(fd, *ioas_id, &aperture, 1);
}

/* Give the IOAS a domain: a mock device, which *stdev_id removes. */
static int add_domain(int fd, __u32 ioas_id, __u32 *stdev_id)
{
	return _test_cmd_mock_domain(fd, ioas_id, stdev_id, NULL, NULL);
}

/* A one-byte message between a test and its child. */
static void send_byte(struct __test_metadata *_metadata, int fd)
{
	ASSERT_EQ(1, write(fd, "x", 1));
}

static void receive_byte(struct __test_metadata *_metadata, int fd)
{
	char c;

	ASSERT_EQ(1, read(fd, &c, 1));
}

/*
 * A child of a user with LIMIT_PAGES that can map exactly 'room' pages
 * more, and not one page beyond.
 */
static pid_t spawn_room_check(struct __test_metadata *_metadata, uid_t uid,
			      unsigned long room)
{
	pid_t pid;

	pid = fork();
	ASSERT_LE(0, pid);
	if (!pid) {
		char *buf = alloc_pages(_metadata, room + 1);
		__u32 ioas_id;
		int fd;

		fd = open_context(_metadata, 0);
		test_become(_metadata, uid, LIMIT_PAGES);
		ASSERT_EQ(0, alloc_ioas(fd, &ioas_id));
		ASSERT_EQ(0, add_domain(fd, ioas_id, NULL));
		if (room)
			ASSERT_EQ(0, map_pages(fd, ioas_id, buf, room, NULL));
		EXPECT_ERRNO(ENOMEM, map_pages(fd, ioas_id,
					       buf + room * page_size, 1,
					       NULL));
		ASSERT_PINNED_PAGES(room);
		ASSERT_EQ(0, close(fd));
		ASSERT_PINNED_PAGES(0);
		end_child();
	}
	return pid;
}

FIXTURE(account)
{
	int fd;
	/* A user of this test alone. */
	uid_t uid;
};

FIXTURE_SETUP(account)
{
	self->uid = 20000 + getpid();
	self->fd = open("/dev/iommu", O_RDWR);
	ASSERT_LE(0, self->fd);
}

/* No ASSERT in a teardown: the 6.1 harness would loop on it. */
FIXTURE_TEARDOWN(account)
{
	close(self->fd);
}

/* IOMMU_OPTION */

TEST_F(account, option_rlimit_mode)
{
	__u64 val;
	__u32 ioas_id;
	int fd2;

	test_ioctl_option_expect(IOMMU_OPTION_RLIMIT_MODE, 0, 0);
	test_ioctl_option_set(IOMMU_OPTION_RLIMIT_MODE, 0, 1);
	test_ioctl_option_expect(IOMMU_OPTION_RLIMIT_MODE, 0, 1);

	/* Per context: another one still has the default. */
	fd2 = open("/dev/iommu", O_RDWR);
	ASSERT_LE(0, fd2);
	val = UINT64_MAX;
	ASSERT_EQ(0, _test_ioctl_option(fd2, IOMMU_OPTION_RLIMIT_MODE,
					IOMMU_OPTION_OP_GET, 0, &val));
	ASSERT_EQ(0, val);
	ASSERT_EQ(0, close(fd2));

	test_ioctl_option_set(IOMMU_OPTION_RLIMIT_MODE, 0, 0);
	test_ioctl_option_expect(IOMMU_OPTION_RLIMIT_MODE, 0, 0);
	val = 2;
	EXPECT_ERRNO(EINVAL,
		     _test_ioctl_option(self->fd, IOMMU_OPTION_RLIMIT_MODE,
					IOMMU_OPTION_OP_SET, 0, &val));
	test_ioctl_option_expect(IOMMU_OPTION_RLIMIT_MODE, 0, 0);

	/* A global option: no object (upstream: EOPNOTSUPP). */
	val = 0;
	EXPECT_ERRNO(EOPNOTSUPP,
		     _test_ioctl_option(self->fd, IOMMU_OPTION_RLIMIT_MODE,
					IOMMU_OPTION_OP_GET, 1, &val));
	EXPECT_ERRNO(EOPNOTSUPP,
		     _test_ioctl_option(self->fd, IOMMU_OPTION_RLIMIT_MODE,
					IOMMU_OPTION_OP_SET, 1, &val));

	/* Fixed once the context has objects; reading is still fine. */
	test_ioctl_ioas_alloc(&ioas_id);
	val = 1;
	EXPECT_ERRNO(EBUSY,
		     _test_ioctl_option(self->fd, IOMMU_OPTION_RLIMIT_MODE,
					IOMMU_OPTION_OP_SET, 0, &val));
	val = 0;
	EXPECT_ERRNO(EBUSY,
		     _test_ioctl_option(self->fd, IOMMU_OPTION_RLIMIT_MODE,
					IOMMU_OPTION_OP_SET, 0, &val));
	test_ioctl_option_expect(IOMMU_OPTION_RLIMIT_MODE, 0, 0);
	test_ioctl_destroy(ioas_id);
	test_ioctl_option_set(IOMMU_OPTION_RLIMIT_MODE, 0, 1);
	test_ioctl_option_expect(IOMMU_OPTION_RLIMIT_MODE, 0, 1);
}

TEST_F(account, option_rlimit_mode_needs_cap)
{
	pid_t pid;

	pid = fork();
	ASSERT_LE(0, pid);
	if (!pid) {
		int fd = open_context(_metadata, 0);
		__u64 val;

		test_become(_metadata, self->uid, LIMIT_PAGES);
		val = 1;
		EXPECT_ERRNO(EPERM,
			     _test_ioctl_option(fd, IOMMU_OPTION_RLIMIT_MODE,
						IOMMU_OPTION_OP_SET, 0, &val));
		val = 0;
		EXPECT_ERRNO(EPERM,
			     _test_ioctl_option(fd, IOMMU_OPTION_RLIMIT_MODE,
						IOMMU_OPTION_OP_SET, 0, &val));
		val = UINT64_MAX;
		ASSERT_EQ(0, _test_ioctl_option(fd, IOMMU_OPTION_RLIMIT_MODE,
						IOMMU_OPTION_OP_GET, 0, &val));
		ASSERT_EQ(0, val);
		end_child();
	}
	wait_child(_metadata, pid);
}

TEST_F(account, option_huge_pages)
{
	__u32 ioas_id, other, gone, stdev_id, hwpt_id;
	__u64 val;

	test_ioctl_ioas_alloc(&ioas_id);
	test_ioctl_ioas_alloc(&other);
	test_ioctl_option_expect(IOMMU_OPTION_HUGE_PAGES, ioas_id, 1);
	test_ioctl_option_set(IOMMU_OPTION_HUGE_PAGES, ioas_id, 0);
	test_ioctl_option_expect(IOMMU_OPTION_HUGE_PAGES, ioas_id, 0);
	/* Per IOAS. */
	test_ioctl_option_expect(IOMMU_OPTION_HUGE_PAGES, other, 1);
	/* Setting what is set already is fine. */
	test_ioctl_option_set(IOMMU_OPTION_HUGE_PAGES, ioas_id, 0);
	test_ioctl_option_set(IOMMU_OPTION_HUGE_PAGES, ioas_id, 1);
	test_ioctl_option_expect(IOMMU_OPTION_HUGE_PAGES, ioas_id, 1);

	val = 2;
	EXPECT_ERRNO(EINVAL,
		     _test_ioctl_option(self->fd, IOMMU_OPTION_HUGE_PAGES,
					IOMMU_OPTION_OP_SET, ioas_id, &val));
	val = UINT64_MAX;
	EXPECT_ERRNO(EINVAL,
		     _test_ioctl_option(self->fd, IOMMU_OPTION_HUGE_PAGES,
					IOMMU_OPTION_OP_SET, ioas_id, &val));
	test_ioctl_option_expect(IOMMU_OPTION_HUGE_PAGES, ioas_id, 1);

	/* It needs an IOAS. */
	test_ioctl_ioas_alloc(&gone);
	test_ioctl_destroy(gone);
	val = 0;
	EXPECT_ERRNO(ENOENT,
		     _test_ioctl_option(self->fd, IOMMU_OPTION_HUGE_PAGES,
					IOMMU_OPTION_OP_GET, 0, &val));
	EXPECT_ERRNO(ENOENT,
		     _test_ioctl_option(self->fd, IOMMU_OPTION_HUGE_PAGES,
					IOMMU_OPTION_OP_GET, gone, &val));
	EXPECT_ERRNO(ENOENT,
		     _test_ioctl_option(self->fd, IOMMU_OPTION_HUGE_PAGES,
					IOMMU_OPTION_OP_SET, gone, &val));
	/* A HWPT, or a device, is no IOAS. */
	test_cmd_mock_domain(other, &stdev_id, &hwpt_id, NULL);
	EXPECT_ERRNO(ENOENT,
		     _test_ioctl_option(self->fd, IOMMU_OPTION_HUGE_PAGES,
					IOMMU_OPTION_OP_GET, hwpt_id, &val));
	EXPECT_ERRNO(ENOENT,
		     _test_ioctl_option(self->fd, IOMMU_OPTION_HUGE_PAGES,
					IOMMU_OPTION_OP_GET, stdev_id, &val));
	test_ioctl_destroy(stdev_id);
	test_ioctl_destroy(ioas_id);
	test_ioctl_destroy(other);
}

TEST_F(account, option_bad_input)
{
	struct {
		struct iommu_option cmd;
		__u64 tail;
	} buf = {};
	struct iommu_option *cmd = &buf.cmd;
	const size_t min_size =
		offsetof(struct iommu_option, val64) + sizeof(cmd->val64);
	__u32 ioas_id;

	test_ioctl_ioas_alloc(&ioas_id);
	cmd->size = sizeof(*cmd);
	cmd->op = IOMMU_OPTION_OP_GET;
	cmd->option_id = IOMMU_OPTION_HUGE_PAGES;
	cmd->object_id = ioas_id;
	ASSERT_EQ(0, ioctl(self->fd, IOMMU_OPTION, cmd));
	ASSERT_EQ(1, cmd->val64);

	/* Unknown options and operations. */
	cmd->option_id = 2;
	EXPECT_ERRNO(EOPNOTSUPP, ioctl(self->fd, IOMMU_OPTION, cmd));
	cmd->option_id = UINT32_MAX;
	EXPECT_ERRNO(EOPNOTSUPP, ioctl(self->fd, IOMMU_OPTION, cmd));
	cmd->option_id = IOMMU_OPTION_HUGE_PAGES;
	cmd->op = 2;
	EXPECT_ERRNO(EOPNOTSUPP, ioctl(self->fd, IOMMU_OPTION, cmd));
	cmd->option_id = IOMMU_OPTION_RLIMIT_MODE;
	cmd->object_id = 0;
	EXPECT_ERRNO(EOPNOTSUPP, ioctl(self->fd, IOMMU_OPTION, cmd));
	cmd->op = IOMMU_OPTION_OP_GET;
	cmd->__reserved = 1;
	EXPECT_ERRNO(EOPNOTSUPP, ioctl(self->fd, IOMMU_OPTION, cmd));
	cmd->option_id = IOMMU_OPTION_HUGE_PAGES;
	cmd->object_id = ioas_id;
	EXPECT_ERRNO(EOPNOTSUPP, ioctl(self->fd, IOMMU_OPTION, cmd));
	cmd->__reserved = 0;

	/* The size: short, an unknown tail, a zero tail. */
	cmd->size = min_size - 1;
	EXPECT_ERRNO(EINVAL, ioctl(self->fd, IOMMU_OPTION, cmd));
	cmd->size = sizeof(buf);
	buf.tail = 1;
	EXPECT_ERRNO(E2BIG, ioctl(self->fd, IOMMU_OPTION, cmd));
	buf.tail = 0;
	cmd->val64 = 7;
	ASSERT_EQ(0, ioctl(self->fd, IOMMU_OPTION, cmd));
	ASSERT_EQ(1, cmd->val64);
	ASSERT_EQ(24, min_size);
	test_ioctl_destroy(ioas_id);
}

/* The default mode: the user's locked_vm */

TEST_F(account, limit_to_the_page)
{
	pid_t pid;

	pid = fork();
	ASSERT_LE(0, pid);
	if (!pid) {
		char *buf = alloc_pages(_metadata, 2 * LIMIT_PAGES + 1);
		char *extra = buf + LIMIT_PAGES * page_size;
		__u32 ioas_id;
		int fd;

		fd = open_context(_metadata, 0);
		test_become(_metadata, self->uid, LIMIT_PAGES);
		ASSERT_EQ(0, alloc_ioas(fd, &ioas_id));
		/* With a domain every map pins, and is charged, at once. */
		ASSERT_EQ(0, add_domain(fd, ioas_id, NULL));
		ASSERT_PINNED_PAGES(0);

		/* All of the limit in one map, then not a page more. */
		ASSERT_EQ(0, map_pages(fd, ioas_id, buf, LIMIT_PAGES, NULL));
		ASSERT_PINNED_PAGES(LIMIT_PAGES);
		ASSERT_EQ(0, _test_cmd_check_refs(fd, buf,
						  LIMIT_PAGES * page_size, 1));
		EXPECT_ERRNO(ENOMEM, map_pages(fd, ioas_id, extra, 1, NULL));
		EXPECT_ERRNO(ENOMEM,
			     map_pages(fd, ioas_id, extra, LIMIT_PAGES, NULL));
		/* The failures pinned and mapped nothing. */
		ASSERT_PINNED_PAGES(LIMIT_PAGES);
		ASSERT_EQ(0, _test_cmd_check_refs(fd, extra,
						  LIMIT_PAGES * page_size, 0));
		/* The user's charge is not the process's locked_vm. */
		ASSERT_LOCKED_PAGES(0);

		/* Unmap gives it all back. */
		ASSERT_EQ(0, unmap_all(fd, ioas_id));
		ASSERT_PINNED_PAGES(0);
		ASSERT_EQ(0, _test_cmd_check_refs(fd, buf,
						  LIMIT_PAGES * page_size, 0));

		/* In pieces, the limit holds to the page as well. */
		ASSERT_EQ(0,
			  map_pages(fd, ioas_id, extra, LIMIT_PAGES - 1, NULL));
		ASSERT_EQ(0, map_pages(fd, ioas_id, buf, 1, NULL));
		ASSERT_PINNED_PAGES(LIMIT_PAGES);
		EXPECT_ERRNO(ENOMEM, map_pages(fd, ioas_id, buf, 1, NULL));
		ASSERT_EQ(0, unmap_all(fd, ioas_id));

		/* Too much at once pins none of it. */
		EXPECT_ERRNO(ENOMEM,
			     map_pages(fd, ioas_id, buf, LIMIT_PAGES + 1, NULL));
		ASSERT_PINNED_PAGES(0);
		ASSERT_EQ(0, _test_cmd_check_refs(fd, buf,
						  (LIMIT_PAGES + 1) * page_size,
						  0));
		ASSERT_EQ(0, map_pages(fd, ioas_id, buf, LIMIT_PAGES, NULL));
		ASSERT_PINNED_PAGES(LIMIT_PAGES);
		end_child();
	}
	wait_child(_metadata, pid);
}

TEST_F(account, charged_by_the_first_domain)
{
	pid_t pid;

	pid = fork();
	ASSERT_LE(0, pid);
	if (!pid) {
		char *buf = alloc_pages(_metadata, LIMIT_PAGES + 1);
		char *extra = buf + LIMIT_PAGES * page_size;
		size_t length = LIMIT_PAGES * page_size;
		__u32 ioas_id, other, idev_id, stdev_id, hwpt_id;
		__u64 extra_iova;
		int fd;

		fd = open_context(_metadata, 0);
		test_become(_metadata, self->uid, LIMIT_PAGES);
		ASSERT_EQ(0, alloc_ioas(fd, &ioas_id));
		/* A device on another IOAS, to ask IOMMU_HWPT_ALLOC with. */
		ASSERT_EQ(0, alloc_ioas(fd, &other));
		ASSERT_EQ(0,
			  _test_cmd_mock_domain(fd, other, NULL, NULL, &idev_id));

		/* Without a domain nothing is charged, even over the limit. */
		ASSERT_EQ(0, map_pages(fd, ioas_id, buf, LIMIT_PAGES, NULL));
		ASSERT_EQ(0, map_pages(fd, ioas_id, extra, 1, &extra_iova));
		ASSERT_PINNED_PAGES(0);
		ASSERT_EQ(0, _test_cmd_check_refs(fd, buf, length, 0));

		/* So no first domain can come, and trying pins nothing. */
		EXPECT_ERRNO(ENOMEM, add_domain(fd, ioas_id, NULL));
		EXPECT_ERRNO(ENOMEM, _test_cmd_hwpt_alloc(fd, idev_id, ioas_id,
							  0, NULL));
		ASSERT_PINNED_PAGES(0);
		ASSERT_EQ(0, _test_cmd_check_refs(fd, buf, length + page_size,
						  0));

		/* Within the limit it comes, and charges all the IOAS maps. */
		ASSERT_EQ(0, _test_ioctl_ioas_unmap(fd, ioas_id, extra_iova,
						    page_size, NULL));
		ASSERT_EQ(0, add_domain(fd, ioas_id, &stdev_id));
		ASSERT_PINNED_PAGES(LIMIT_PAGES);
		ASSERT_EQ(0, _test_cmd_check_refs(fd, buf, length, 1));
		EXPECT_ERRNO(ENOMEM, map_pages(fd, ioas_id, extra, 1, NULL));

		/* A second domain, even one without a device, no more. */
		ASSERT_EQ(0, _test_cmd_hwpt_alloc(fd, idev_id, ioas_id, 0,
						  &hwpt_id));
		ASSERT_PINNED_PAGES(LIMIT_PAGES);

		/* The last domain to go gives it all back; the maps stay. */
		ASSERT_EQ(0, _test_ioctl_destroy(fd, stdev_id));
		ASSERT_PINNED_PAGES(LIMIT_PAGES);
		ASSERT_EQ(0, _test_ioctl_destroy(fd, hwpt_id));
		ASSERT_PINNED_PAGES(0);
		ASSERT_EQ(0, _test_cmd_check_refs(fd, buf, length, 0));

		/* Back to the user, whose other IOAS can take all of it... */
		ASSERT_EQ(0, map_pages(fd, other, extra, 1, NULL));
		ASSERT_EQ(0, map_pages(fd, other, buf, LIMIT_PAGES - 1, NULL));
		ASSERT_PINNED_PAGES(LIMIT_PAGES);
		/* ...which leaves no room for this one's domain. */
		EXPECT_ERRNO(ENOMEM, add_domain(fd, ioas_id, NULL));
		ASSERT_PINNED_PAGES(LIMIT_PAGES);
		ASSERT_EQ(0, close(fd));
		ASSERT_PINNED_PAGES(0);
		end_child();
	}
	wait_child(_metadata, pid);
}

TEST_F(account, charged_per_user)
{
	pid_t pid;

	pid = fork();
	ASSERT_LE(0, pid);
	if (!pid) {
		char *buf = alloc_pages(_metadata, LIMIT_PAGES);
		__u32 ioas1, ioas2;
		int fd1, fd2;

		fd1 = open_context(_metadata, 0);
		fd2 = open_context(_metadata, 0);
		test_become(_metadata, self->uid, LIMIT_PAGES);
		ASSERT_EQ(0, alloc_ioas(fd1, &ioas1));
		ASSERT_EQ(0, alloc_ioas(fd2, &ioas2));
		ASSERT_EQ(0, add_domain(fd1, ioas1, NULL));
		ASSERT_EQ(0, add_domain(fd2, ioas2, NULL));

		/* Two contexts of one user share the limit. */
		ASSERT_EQ(0, map_pages(fd1, ioas1, buf, LIMIT_PAGES / 2, NULL));
		ASSERT_EQ(0, map_pages(fd2, ioas2, buf, LIMIT_PAGES / 2, NULL));
		ASSERT_PINNED_PAGES(LIMIT_PAGES);
		EXPECT_ERRNO(ENOMEM, map_pages(fd2, ioas2, buf, 1, NULL));
		EXPECT_ERRNO(ENOMEM, map_pages(fd1, ioas1, buf, 1, NULL));

		/* Closing one gives its share back. */
		ASSERT_EQ(0, close(fd1));
		ASSERT_PINNED_PAGES(LIMIT_PAGES / 2);
		ASSERT_EQ(0, map_pages(fd2, ioas2, buf, LIMIT_PAGES / 2, NULL));
		EXPECT_ERRNO(ENOMEM, map_pages(fd2, ioas2, buf, 1, NULL));
		ASSERT_EQ(0, close(fd2));
		ASSERT_PINNED_PAGES(0);
		end_child();
	}
	wait_child(_metadata, pid);
}

TEST_F(account, killed_holder_gives_back)
{
	int ready[2], hold[2];
	pid_t holder;
	int status;
	char c;

	ASSERT_EQ(0, pipe(ready));
	ASSERT_EQ(0, pipe(hold));
	holder = fork();
	ASSERT_LE(0, holder);
	if (!holder) {
		char *buf = alloc_pages(_metadata, LIMIT_PAGES);
		__u32 ioas_id;
		int fd;

		close(ready[0]);
		close(hold[1]);
		fd = open_context(_metadata, 0);
		test_become(_metadata, self->uid, LIMIT_PAGES);
		ASSERT_EQ(0, alloc_ioas(fd, &ioas_id));
		ASSERT_EQ(0, add_domain(fd, ioas_id, NULL));
		ASSERT_EQ(0, map_pages(fd, ioas_id, buf, LIMIT_PAGES, NULL));
		send_byte(_metadata, ready[1]);
		/*
		 * Hold the pins until killed. Nothing is ever written to
		 * the pipe: should the test end first, read() sees EOF.
		 */
		if (read(hold[0], &c, 1) >= 0)
			_exit(1);
		_exit(2);
	}
	close(ready[1]);
	close(hold[0]);
	receive_byte(_metadata, ready[0]);
	close(ready[0]);

	/* While it holds them, another process of the user has no room. */
	wait_child(_metadata, spawn_room_check(_metadata, self->uid, 0));

	ASSERT_EQ(0, kill(holder, SIGKILL));
	ASSERT_EQ(holder, waitpid(holder, &status, 0));
	ASSERT_TRUE(WIFSIGNALED(status));
	ASSERT_EQ(SIGKILL, WTERMSIG(status));
	close(hold[1]);

	/* Its death gave everything back. */
	wait_child(_metadata,
		   spawn_room_check(_metadata, self->uid, LIMIT_PAGES));
}

TEST_F(account, copy_is_not_charged)
{
	pid_t pid;

	pid = fork();
	ASSERT_LE(0, pid);
	if (!pid) {
		char *buf = alloc_pages(_metadata, LIMIT_PAGES);
		size_t length = LIMIT_PAGES * page_size;
		__u64 src = 0, dst = 0, again = 0, plain_iova = 0;
		__u32 ioas1, ioas2, plain;
		int fd;

		fd = open_context(_metadata, 0);
		test_become(_metadata, self->uid, LIMIT_PAGES);
		ASSERT_EQ(0, alloc_ioas(fd, &ioas1));
		ASSERT_EQ(0, alloc_ioas(fd, &ioas2));
		ASSERT_EQ(0, alloc_ioas(fd, &plain));
		ASSERT_EQ(0, add_domain(fd, ioas1, NULL));
		ASSERT_EQ(0, add_domain(fd, ioas2, NULL));
		ASSERT_EQ(0, _test_ioctl_ioas_map(fd, ioas1, buf, length, &src,
						  TEST_MAP_RW));

		/* At the limit, copies still work: they pin nothing new. */
		ASSERT_EQ(0, _test_ioctl_ioas_copy(fd, ioas2, ioas1, src,
						   length, &dst, TEST_MAP_RW));
		ASSERT_EQ(0,
			  _test_ioctl_ioas_copy(fd, ioas1, ioas1, src, length,
						&again, TEST_MAP_RW));
		ASSERT_EQ(0, _test_ioctl_ioas_copy(fd, plain, ioas1, src,
						   length, &plain_iova,
						   TEST_MAP_RW));
		ASSERT_PINNED_PAGES(LIMIT_PAGES);
		ASSERT_EQ(0, _test_cmd_check_refs(fd, buf, length, 1));
		EXPECT_ERRNO(ENOMEM, map_pages(fd, ioas2, buf, 1, NULL));

		/* The charge stays while a copy in a domain maps the pages. */
		ASSERT_EQ(0,
			  _test_ioctl_ioas_unmap(fd, ioas1, src, length, NULL));
		ASSERT_PINNED_PAGES(LIMIT_PAGES);
		ASSERT_EQ(0, unmap_all(fd, ioas1));
		ASSERT_PINNED_PAGES(LIMIT_PAGES);
		EXPECT_ERRNO(ENOMEM, map_pages(fd, ioas1, buf, 1, NULL));
		/* The copy in the IOAS without a domain does not keep it. */
		ASSERT_EQ(0, unmap_all(fd, ioas2));
		ASSERT_PINNED_PAGES(0);
		/* Copied into a domain again, it is charged again, once. */
		ASSERT_EQ(0, _test_ioctl_ioas_copy(fd, ioas2, plain, plain_iova,
						   length, &dst, TEST_MAP_RW));
		ASSERT_PINNED_PAGES(LIMIT_PAGES);
		ASSERT_EQ(0, unmap_all(fd, ioas2));
		ASSERT_PINNED_PAGES(0);

		/* A second map of the same memory is a second pin, though. */
		ASSERT_EQ(0, map_pages(fd, ioas1, buf, LIMIT_PAGES / 2, NULL));
		ASSERT_EQ(0, map_pages(fd, ioas2, buf, LIMIT_PAGES / 2, NULL));
		ASSERT_EQ(0, _test_cmd_check_refs(fd, buf, length / 2, 2));
		ASSERT_PINNED_PAGES(LIMIT_PAGES);
		EXPECT_ERRNO(ENOMEM, map_pages(fd, ioas1, buf, 1, NULL));
		ASSERT_EQ(0, close(fd));
		ASSERT_PINNED_PAGES(0);
		end_child();
	}
	wait_child(_metadata, pid);
}

TEST_F(account, domains_are_not_charged)
{
	pid_t pid;

	pid = fork();
	ASSERT_LE(0, pid);
	if (!pid) {
		char *buf = alloc_pages(_metadata, LIMIT_PAGES);
		size_t length = LIMIT_PAGES * page_size;
		__u32 ioas_id, hwpt[3], idev;
		__u64 iova = 0;
		int fd;

		/*
		 * Devices are set up as root, mapping is done as the user:
		 * the charge is the mapper's, made when the map pins.
		 */
		fd = open_context(_metadata, 0);
		ASSERT_EQ(0, alloc_ioas(fd, &ioas_id));
		ASSERT_EQ(0, _test_cmd_mock_domain(fd, ioas_id, NULL, &hwpt[0],
						   &idev));
		ASSERT_EQ(0,
			  _test_cmd_hwpt_alloc(fd, idev, ioas_id, 0, &hwpt[1]));
		ASSERT_EQ(0,
			  _test_cmd_mock_domain(fd, hwpt[1], NULL, NULL, NULL));
		test_become(_metadata, self->uid, LIMIT_PAGES);

		ASSERT_EQ(0, _test_ioctl_ioas_map(fd, ioas_id, buf, length,
						  &iova, TEST_MAP_RW));
		ASSERT_EQ(0,
			  _test_cmd_check_map(fd, hwpt[0], iova, length, buf));
		ASSERT_EQ(0,
			  _test_cmd_check_map(fd, hwpt[1], iova, length, buf));
		ASSERT_PINNED_PAGES(LIMIT_PAGES);
		ASSERT_EQ(0, _test_cmd_check_refs(fd, buf, length, 1));
		EXPECT_ERRNO(ENOMEM, map_pages(fd, ioas_id, buf, 1, NULL));

		/* A domain filled afterwards does not charge either. */
		ASSERT_EQ(0,
			  _test_cmd_hwpt_alloc(fd, idev, ioas_id, 0, &hwpt[2]));
		ASSERT_EQ(0,
			  _test_cmd_check_map(fd, hwpt[2], iova, length, buf));
		ASSERT_PINNED_PAGES(LIMIT_PAGES);

		ASSERT_EQ(0, unmap_all(fd, ioas_id));
		ASSERT_PINNED_PAGES(0);
		ASSERT_EQ(0, map_pages(fd, ioas_id, buf, LIMIT_PAGES, NULL));
		ASSERT_EQ(0, close(fd));
		ASSERT_PINNED_PAGES(0);
		end_child();
	}
	wait_child(_metadata, pid);
}

TEST_F(account, access_pins_are_charged)
{
	pid_t pid;

	pid = fork();
	ASSERT_LE(0, pid);
	if (!pid) {
		/* One map four times the limit: nothing of it is pinned yet. */
		char *buf = alloc_pages(_metadata, 4 * LIMIT_PAGES);
		__u32 needs_pin = MOCK_FLAGS_ACCESS_CREATE_NEEDS_PIN_PAGES;
		__u32 ioas_id, first_id, wide_id;
		int fd, access_fd;
		__u64 iova;

		fd = open_context(_metadata, 0);
		test_become(_metadata, self->uid, LIMIT_PAGES);
		ASSERT_EQ(0, alloc_ioas(fd, &ioas_id));
		ASSERT_EQ(0, map_pages(fd, ioas_id, buf, 4 * LIMIT_PAGES,
				       &iova));
		ASSERT_EQ(0, _test_cmd_create_access(fd, ioas_id, needs_pin,
						     &access_fd));
		ASSERT_PINNED_PAGES(0);

		/* An access pin charges the pages it pins, not its map. */
		ASSERT_EQ(0, _test_cmd_access_pages(fd, access_fd, iova,
						    page_size, buf, 0,
						    &first_id));
		ASSERT_PINNED_PAGES(1);
		/* A pin over a pinned page shares it: charged once. */
		ASSERT_EQ(0, _test_cmd_access_pages(fd, access_fd, iova,
						    LIMIT_PAGES * page_size,
						    buf, 0, &wide_id));
		ASSERT_PINNED_PAGES(LIMIT_PAGES);
		EXPECT_ERRNO(ENOMEM,
			     _test_cmd_access_pages(fd, access_fd,
						    iova + LIMIT_PAGES *
								   page_size,
						    page_size,
						    buf + LIMIT_PAGES *
								  page_size,
						    0, NULL));
		ASSERT_PINNED_PAGES(LIMIT_PAGES);

		/* The shared page stays pinned while one pin holds it. */
		ASSERT_EQ(0, _test_cmd_destroy_access_pages(fd, access_fd,
							    first_id));
		ASSERT_PINNED_PAGES(LIMIT_PAGES);
		ASSERT_EQ(0, _test_cmd_destroy_access_pages(fd, access_fd,
							    wide_id));
		ASSERT_PINNED_PAGES(0);
		/* The last page of the map, then a straddle of two. */
		ASSERT_EQ(0, _test_cmd_access_pages(fd, access_fd,
						    iova + (4 * LIMIT_PAGES - 1) *
								   page_size,
						    page_size, NULL, 0, NULL));
		ASSERT_PINNED_PAGES(1);
		ASSERT_EQ(0, _test_cmd_access_pages(fd, access_fd,
						    iova + page_size / 2,
						    page_size, NULL, 0, NULL));
		ASSERT_PINNED_PAGES(3);
		/* And closing the access with pins held gives it all back. */
		ASSERT_EQ(0, close(access_fd));
		ASSERT_PINNED_PAGES(0);
		ASSERT_EQ(0, close(fd));
		end_child();
	}
	wait_child(_metadata, pid);
}

/*
 * A copy between the kernel and IOVA made from a kernel thread borrows
 * the mapper's mm: it pins nothing, so a map far beyond the limit can be
 * read and written, and memory never touched is faulted in.
 */
TEST_F(account, access_rw_from_kthread_pins_nothing)
{
	pid_t pid;

	pid = fork();
	ASSERT_LE(0, pid);
	if (!pid) {
		unsigned long length = 4 * LIMIT_PAGES * page_size;
		char *buf = alloc_pages(_metadata, 4 * LIMIT_PAGES);
		char *fresh, *data, *back;
		__u64 iova, fresh_iova;
		__u32 ioas_id;
		int fd, access_fd;
		unsigned long i;

		fresh = mmap(NULL, length, PROT_READ | PROT_WRITE,
			     MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		ASSERT_NE(MAP_FAILED, fresh);
		data = malloc(length);
		back = malloc(length);
		ASSERT_NE(NULL, data);
		ASSERT_NE(NULL, back);
		for (i = 0; i != length; i++)
			data[i] = i * 7 + 3;

		fd = open_context(_metadata, 0);
		test_become(_metadata, self->uid, LIMIT_PAGES);
		ASSERT_EQ(0, alloc_ioas(fd, &ioas_id));
		ASSERT_EQ(0, map_pages(fd, ioas_id, buf, 4 * LIMIT_PAGES,
				       &iova));
		ASSERT_EQ(0, map_pages(fd, ioas_id, fresh, 4 * LIMIT_PAGES,
				       &fresh_iova));
		ASSERT_EQ(0, _test_cmd_create_access(fd, ioas_id, 0,
						     &access_fd));

		/* Unaligned, across pages, the whole map: nothing pinned. */
		ASSERT_EQ(0, _test_cmd_access_rw(fd, access_fd, iova + 5,
						 length - 5, data,
						 MOCK_ACCESS_RW_WRITE |
							 MOCK_ACCESS_RW_KTHREAD));
		ASSERT_EQ(0, memcmp(buf + 5, data, length - 5));
		memset(back, 0, length);
		ASSERT_EQ(0, _test_cmd_access_rw(fd, access_fd, iova + 5,
						 length - 5, back,
						 MOCK_ACCESS_RW_KTHREAD));
		ASSERT_EQ(0, memcmp(back, data, length - 5));
		ASSERT_PINNED_PAGES(0);

		/* Memory the process never touched is faulted in. */
		ASSERT_EQ(0, _test_cmd_access_rw(fd, access_fd,
						 fresh_iova + page_size - 1,
						 2, data,
						 MOCK_ACCESS_RW_WRITE |
							 MOCK_ACCESS_RW_KTHREAD));
		ASSERT_EQ(data[0], fresh[page_size - 1]);
		ASSERT_EQ(data[1], fresh[page_size]);
		ASSERT_PINNED_PAGES(0);

		/* A read-only map takes no write, from any thread. */
		ASSERT_EQ(0, _test_ioctl_ioas_unmap(fd, ioas_id, iova, length,
						    NULL));
		ASSERT_EQ(0, _test_ioctl_ioas_map(fd, ioas_id, buf, length,
						  &iova, IOMMU_IOAS_MAP_READABLE));
		EXPECT_ERRNO(EPERM,
			     _test_cmd_access_rw(fd, access_fd, iova, 1, data,
						 MOCK_ACCESS_RW_WRITE |
							 MOCK_ACCESS_RW_KTHREAD));
		ASSERT_EQ(0, _test_cmd_access_rw(fd, access_fd, iova, 16, back,
						 MOCK_ACCESS_RW_KTHREAD));
		ASSERT_EQ(0, memcmp(back, buf, 16));
		ASSERT_PINNED_PAGES(0);
		ASSERT_EQ(0, close(access_fd));
		ASSERT_EQ(0, close(fd));
		end_child();
	}
	wait_child(_metadata, pid);
}

/*
 * Once the process that mapped the memory has exited, a kernel thread has
 * no mm to borrow, and another process cannot pin it either: both fail
 * cleanly.
 */
TEST_F(account, access_rw_after_the_mapper_exited)
{
	char *buf = alloc_pages(_metadata, 4);
	__u32 ioas_id;
	int access_fd;
	char byte = 0;
	__u64 iova;
	pid_t pid;

	ASSERT_EQ(0, alloc_ioas(self->fd, &ioas_id));
	pid = fork();
	ASSERT_LE(0, pid);
	if (!pid) {
		/* The child's copy of buf, in the child's mm. */
		iova = MOCK_APERTURE_START;
		ASSERT_EQ(0, _test_ioctl_ioas_map(self->fd, ioas_id, buf,
						  4 * page_size, &iova,
						  TEST_MAP_RW |
						  IOMMU_IOAS_MAP_FIXED_IOVA));
		end_child();
	}
	wait_child(_metadata, pid);
	ASSERT_EQ(0, _test_cmd_create_access(self->fd, ioas_id, 0,
					     &access_fd));
	iova = MOCK_APERTURE_START;
	EXPECT_ERRNO(EFAULT, _test_cmd_access_rw(self->fd, access_fd, iova, 1,
						 &byte,
						 MOCK_ACCESS_RW_KTHREAD));
	EXPECT_ERRNO(EFAULT,
		     _test_cmd_access_rw(self->fd, access_fd, iova, 1, &byte, 0));
	ASSERT_PINNED_PAGES(0);
	ASSERT_EQ(0, close(access_fd));
	ASSERT_EQ(0, unmap_all(self->fd, ioas_id));
}

/* A COPY of a slice into a domain pins that slice, not its source map. */
TEST_F(account, copy_pins_its_slice)
{
	char *buf = alloc_pages(_metadata, 64);
	__u64 src, dst = 0;
	__u32 plain, ioas;

	ASSERT_EQ(0, alloc_ioas(self->fd, &plain));
	ASSERT_EQ(0, alloc_ioas(self->fd, &ioas));
	ASSERT_EQ(0, add_domain(self->fd, ioas, NULL));
	ASSERT_EQ(0, map_pages(self->fd, plain, buf, 64, &src));
	ASSERT_PINNED_PAGES(0);
	ASSERT_EQ(0, _test_ioctl_ioas_copy(self->fd, ioas, plain,
					   src + 10 * page_size, page_size,
					   &dst, TEST_MAP_RW));
	ASSERT_PINNED_PAGES(1);
	ASSERT_EQ(0, _test_cmd_check_refs(self->fd, buf + 10 * page_size,
					  page_size, 1));
	ASSERT_EQ(0, _test_cmd_check_refs(self->fd, buf + 11 * page_size,
					  page_size, 0));
	ASSERT_EQ(0, _test_ioctl_ioas_copy(self->fd, ioas, plain,
					   src + 9 * page_size, 3 * page_size,
					   &dst, TEST_MAP_RW));
	ASSERT_PINNED_PAGES(3);
	ASSERT_EQ(0, _test_cmd_check_refs(self->fd, buf + 10 * page_size,
					  page_size, 1));
	ASSERT_EQ(0, unmap_all(self->fd, ioas));
	ASSERT_PINNED_PAGES(0);
	ASSERT_EQ(0, unmap_all(self->fd, plain));
}

/*
 * Areas in a domain and accesses pin the same pages once: adding and
 * removing the domain leaves the access's pins as they were.
 */
TEST_F(account, domain_and_access_share_pins)
{
	__u32 needs_pin = MOCK_FLAGS_ACCESS_CREATE_NEEDS_PIN_PAGES;
	char *buf = alloc_pages(_metadata, 16);
	__u32 ioas_id, stdev_id, pin_id;
	int access_fd;
	__u64 iova;

	ASSERT_EQ(0, alloc_ioas(self->fd, &ioas_id));
	ASSERT_EQ(0, map_pages(self->fd, ioas_id, buf, 16, &iova));
	ASSERT_EQ(0, _test_cmd_create_access(self->fd, ioas_id, needs_pin,
					     &access_fd));
	ASSERT_EQ(0, _test_cmd_access_pages(self->fd, access_fd,
					    iova + 2 * page_size,
					    4 * page_size,
					    buf + 2 * page_size, 0, &pin_id));
	ASSERT_PINNED_PAGES(4);
	ASSERT_EQ(0, add_domain(self->fd, ioas_id, &stdev_id));
	ASSERT_PINNED_PAGES(16);
	ASSERT_EQ(0, _test_cmd_check_refs(self->fd, buf, 16 * page_size, 1));
	ASSERT_EQ(0, _test_ioctl_destroy(self->fd, stdev_id));
	ASSERT_PINNED_PAGES(4);
	ASSERT_EQ(0, _test_cmd_check_refs(self->fd, buf + 2 * page_size,
					  4 * page_size, 1));
	ASSERT_EQ(0, _test_cmd_check_refs(self->fd, buf, 2 * page_size, 0));
	ASSERT_EQ(0, add_domain(self->fd, ioas_id, &stdev_id));
	ASSERT_EQ(0, _test_cmd_destroy_access_pages(self->fd, access_fd,
						    pin_id));
	ASSERT_PINNED_PAGES(16);
	ASSERT_EQ(0, _test_ioctl_destroy(self->fd, stdev_id));
	ASSERT_PINNED_PAGES(0);
	ASSERT_EQ(0, close(access_fd));
	ASSERT_EQ(0, unmap_all(self->fd, ioas_id));
}

/* IOMMU_OPTION_RLIMIT_MODE 1: the process's locked_vm */

TEST_F(account, process_mode)
{
	int ready[2], go[2];
	pid_t pid;

	ASSERT_EQ(0, pipe(ready));
	ASSERT_EQ(0, pipe(go));
	pid = fork();
	ASSERT_LE(0, pid);
	if (!pid) {
		char *buf = alloc_pages(_metadata, LIMIT_PAGES + 1);
		__u32 ioas_id, stdev_id;
		int fd;

		close(ready[0]);
		close(go[1]);
		fd = open_context(_metadata, 1);
		test_become(_metadata, self->uid, LIMIT_PAGES);
		ASSERT_EQ(0, alloc_ioas(fd, &ioas_id));

		/* Charged when the domain comes, not at the map. */
		ASSERT_EQ(0, map_pages(fd, ioas_id, buf, LIMIT_PAGES, NULL));
		ASSERT_LOCKED_PAGES(0);
		ASSERT_PINNED_PAGES(0);
		ASSERT_EQ(0, add_domain(fd, ioas_id, &stdev_id));
		ASSERT_LOCKED_PAGES(LIMIT_PAGES);
		ASSERT_PINNED_PAGES(LIMIT_PAGES);
		EXPECT_ERRNO(ENOMEM,
			     map_pages(fd, ioas_id,
				       buf + LIMIT_PAGES * page_size, 1, NULL));
		ASSERT_LOCKED_PAGES(LIMIT_PAGES);
		ASSERT_PINNED_PAGES(LIMIT_PAGES);

		/* Let the test check the user was not charged, and wait. */
		send_byte(_metadata, ready[1]);
		receive_byte(_metadata, go[0]);

		/* The domain's end gives it back, and unmap does too. */
		ASSERT_EQ(0, _test_ioctl_destroy(fd, stdev_id));
		ASSERT_LOCKED_PAGES(0);
		ASSERT_PINNED_PAGES(0);
		ASSERT_EQ(0, add_domain(fd, ioas_id, NULL));
		ASSERT_LOCKED_PAGES(LIMIT_PAGES);
		ASSERT_EQ(0, unmap_all(fd, ioas_id));
		ASSERT_LOCKED_PAGES(0);
		ASSERT_PINNED_PAGES(0);
		ASSERT_EQ(0, map_pages(fd, ioas_id, buf, LIMIT_PAGES, NULL));
		ASSERT_LOCKED_PAGES(LIMIT_PAGES);
		ASSERT_EQ(0, close(fd));
		ASSERT_LOCKED_PAGES(0);
		ASSERT_PINNED_PAGES(0);
		end_child();
	}
	close(ready[1]);
	close(go[0]);
	receive_byte(_metadata, ready[0]);

	/* The user's own locked_vm is untouched: a whole limit of room. */
	wait_child(_metadata,
		   spawn_room_check(_metadata, self->uid, LIMIT_PAGES));

	send_byte(_metadata, go[1]);
	close(ready[0]);
	close(go[1]);
	wait_child(_metadata, pid);
}

/* CAP_IPC_LOCK */

TEST_F(account, cap_ipc_lock_not_charged)
{
	pid_t pid;

	pid = fork();
	ASSERT_LE(0, pid);
	if (!pid) {
		char *buf = alloc_pages(_metadata, LIMIT_PAGES);
		__u32 user_ioas, mm_ioas;
		int user_fd, mm_fd;

		/* Root keeps its capabilities; the limit is one page. */
		user_fd = open_context(_metadata, 0);
		mm_fd = open_context(_metadata, 1);
		test_become(_metadata, 0, 1);
		ASSERT_EQ(0, alloc_ioas(user_fd, &user_ioas));
		ASSERT_EQ(0, alloc_ioas(mm_fd, &mm_ioas));
		ASSERT_EQ(0, add_domain(user_fd, user_ioas, NULL));
		ASSERT_EQ(0, add_domain(mm_fd, mm_ioas, NULL));

		ASSERT_EQ(0, map_pages(user_fd, user_ioas, buf, LIMIT_PAGES,
				       NULL));
		ASSERT_EQ(0,
			  map_pages(mm_fd, mm_ioas, buf, LIMIT_PAGES, NULL));
		/* Pinned, and shown as such, but not charged anywhere. */
		ASSERT_PINNED_PAGES(2 * LIMIT_PAGES);
		ASSERT_LOCKED_PAGES(0);
		ASSERT_EQ(0, unmap_all(user_fd, user_ioas));
		ASSERT_EQ(0, unmap_all(mm_fd, mm_ioas));
		ASSERT_PINNED_PAGES(0);
		ASSERT_EQ(0, close(user_fd));
		ASSERT_EQ(0, close(mm_fd));
		end_child();
	}
	wait_child(_metadata, pid);
}

TEST_F(account, cap_ipc_lock_at_map_time)
{
	pid_t pid;

	pid = fork();
	ASSERT_LE(0, pid);
	if (!pid) {
		char *buf = alloc_pages(_metadata, 3 * LIMIT_PAGES + 1);
		char *mine = buf + 2 * LIMIT_PAGES * page_size;
		__u32 ioas_id;
		int fd;

		/* Mapped by root, twice the limit, pinned by nothing yet. */
		fd = open_context(_metadata, 0);
		ASSERT_EQ(0, alloc_ioas(fd, &ioas_id));
		ASSERT_EQ(0,
			  map_pages(fd, ioas_id, buf, 2 * LIMIT_PAGES, NULL));
		test_become(_metadata, self->uid, LIMIT_PAGES);

		/* Pinned by the user's domain, still charged to nobody. */
		ASSERT_EQ(0, add_domain(fd, ioas_id, NULL));
		ASSERT_PINNED_PAGES(2 * LIMIT_PAGES);

		/* The user's own maps have all of the limit, and no more. */
		ASSERT_EQ(0, map_pages(fd, ioas_id, mine, LIMIT_PAGES, NULL));
		ASSERT_PINNED_PAGES(3 * LIMIT_PAGES);
		EXPECT_ERRNO(ENOMEM,
			     map_pages(fd, ioas_id,
				       mine + LIMIT_PAGES * page_size, 1, NULL));
		ASSERT_EQ(0, close(fd));
		ASSERT_PINNED_PAGES(0);
		end_child();
	}
	wait_child(_metadata, pid);
}

TEST_HARNESS_MAIN
