// SPDX-License-Identifier: GPL-2.0-only
/*
 * IOMMU_IOAS_MAP_FILE: mapping the memory of a file rather than of an
 * address range.
 *
 * The file fixture runs each test on three kinds of file, a memfd, a
 * memfd of 2 MiB huge pages (MFD_HUGETLB) and a file on a tmpfs mount,
 * each in an IOAS with a mock domain, where a map pins at once, and in one
 * without, where pinning waits for an access or the first domain. The test
 * maps the file MAP_SHARED too: its pages are the pages the IOAS must
 * reach, which IOMMU_TEST_OP_MD_CHECK_MAP (the domain's PFNs) and
 * IOMMU_TEST_OP_ACCESS_PAGES (an access's pins) compare, and data written
 * on either side must be seen on the other, through an in-kernel access
 * (IOMMU_TEST_OP_ACCESS_RW), read() and the mapping.
 *
 * Errors: a file is looked up when it is pinned, so a range past the end
 * of the file, or a file truncated under a mapping, fails with EINVAL
 * when the IOAS pins: at map time with a domain, at attach or on access
 * without one. A file that is neither shmem nor hugetlbfs is refused at
 * once (EINVAL), as are writeable maps of files open read-only or sealed
 * against writes (EPERM).
 *
 * The file's page references are plain references, not FOLL_PIN pins, so
 * IOMMU_TEST_OP_MD_CHECK_REFS cannot count them. Their release is checked
 * on a private hugetlbfs mount instead, whose free huge page count
 * (statfs) comes back only once every reference to its pages is dropped.
 *
 * Accounting is checked as in iommufd_account.c: in a child that becomes
 * a user of its own with a small RLIMIT_MEMLOCK.
 */
/* For memfd_create(), F_ADD_SEALS and setresuid(). */
#define _GNU_SOURCE
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>

#include <linux/falloc.h>
#include <linux/vfio.h>

#include "iommufd_utils.h"

#ifndef MFD_HUGETLB
#define MFD_HUGETLB 0x0004U
#endif
#ifndef F_SEAL_FUTURE_WRITE
#define F_SEAL_FUTURE_WRITE 0x0010
#endif

#define HUGE_SIZE (2UL << 20)
/* Units (pages or huge pages) in the file of the fixture. */
#define FILE_UNITS 4
/* Pages of the memlock limit of the accounting children. */
#define LIMIT_PAGES 8
/* In-kernel accesses that may pin pages as well as copy. */
#define ACCESS_FLAGS MOCK_FLAGS_ACCESS_CREATE_NEEDS_PIN_PAGES
/* The largest copy IOMMU_TEST_OP_ACCESS_RW takes is larger. */
#define RW_CHUNK (1024UL * 1024)

static unsigned long page_size;

static __attribute__((constructor)) void setup_page_size(void)
{
	page_size = sysconf(_SC_PAGE_SIZE);
}

/* Bytes that differ from seed to seed and from page to page. */
static void fill_pattern(char *p, size_t length, unsigned int seed)
{
	size_t i;

	for (i = 0; i != length; i++)
		p[i] = i * 31 + seed * 101 + i / page_size;
}

/* Copy length bytes at iova out through the access, in steps. */
static int access_read(int fd, int access_fd, __u64 iova, size_t length,
		       char *out)
{
	while (length) {
		size_t n = length < RW_CHUNK ? length : RW_CHUNK;
		int rc;

		rc = _test_cmd_access_rw(fd, access_fd, iova, n, out, 0);
		if (rc)
			return rc;
		iova += n;
		out += n;
		length -= n;
	}
	return 0;
}

enum file_kind {
	FILE_MEMFD,
	FILE_MEMFD_HUGE,
	FILE_TMPFS,
};

/*
 * A private tmpfs mount in a new directory of /tmp, which dir receives,
 * or -1. The test VM has no /dev/shm.
 */
static int mount_tmpfs(char *dir)
{
	strcpy(dir, "/tmp/iommufd_map_file.XXXXXX");
	if (!mkdtemp(dir))
		return -1;
	if (mount("tmpfs", dir, "tmpfs", 0, "size=64m")) {
		rmdir(dir);
		return -1;
	}
	return 0;
}

static void umount_tmpfs(char *dir)
{
	umount2(dir, MNT_DETACH);
	rmdir(dir);
}

/* A new file of the kind, of length bytes, or -1. */
static int make_file(enum file_kind kind, size_t length)
{
	char dir[64], path[96];
	int mfd;

	switch (kind) {
	case FILE_MEMFD:
		mfd = memfd_create("iommufd_map_file",
				   MFD_CLOEXEC | MFD_ALLOW_SEALING);
		break;
	case FILE_MEMFD_HUGE:
		mfd = memfd_create("iommufd_map_file_huge",
				   MFD_CLOEXEC | MFD_HUGETLB |
					   MFD_ALLOW_SEALING);
		break;
	default:
		/* The open file keeps the detached mount alive. */
		if (mount_tmpfs(dir))
			return -1;
		snprintf(path, sizeof(path), "%s/file", dir);
		mfd = open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
		unlink(path);
		umount_tmpfs(dir);
		break;
	}
	if (mfd < 0)
		return -1;
	if (ftruncate(mfd, length)) {
		close(mfd);
		return -1;
	}
	return mfd;
}

FIXTURE(file)
{
	int fd;
	__u32 ioas_id;
	__u32 stdev_id;
	__u32 hwpt_id;
	int mfd;
	/* The file, mapped MAP_SHARED. */
	char *map;
	/* Its page size, and its size. */
	size_t unit;
	size_t size;
};

FIXTURE_VARIANT(file)
{
	bool domain;
	enum file_kind kind;
};

FIXTURE_VARIANT_ADD(file, memfd)
{
	.kind = FILE_MEMFD,
};

FIXTURE_VARIANT_ADD(file, memfd_domain)
{
	.domain = true,
	.kind = FILE_MEMFD,
};

FIXTURE_VARIANT_ADD(file, hugetlb)
{
	.kind = FILE_MEMFD_HUGE,
};

FIXTURE_VARIANT_ADD(file, hugetlb_domain)
{
	.domain = true,
	.kind = FILE_MEMFD_HUGE,
};

FIXTURE_VARIANT_ADD(file, tmpfs)
{
	.kind = FILE_TMPFS,
};

FIXTURE_VARIANT_ADD(file, tmpfs_domain)
{
	.domain = true,
	.kind = FILE_TMPFS,
};

FIXTURE_SETUP(file)
{
	/* Kernel-chosen IOVAs stay where a mock domain can come later. */
	const struct iommu_iova_range aperture = {
		.start = MOCK_APERTURE_START,
		.last = MOCK_APERTURE_LAST,
	};

	self->mfd = -1;
	self->map = MAP_FAILED;
	self->unit = variant->kind == FILE_MEMFD_HUGE ? HUGE_SIZE : page_size;
	self->size = FILE_UNITS * self->unit;

	self->fd = open("/dev/iommu", O_RDWR);
	ASSERT_LE(0, self->fd);
	test_ioctl_ioas_alloc(&self->ioas_id);
	test_ioctl_ioas_allow_iovas(self->ioas_id, &aperture, 1);
	if (variant->domain)
		test_cmd_mock_domain(self->ioas_id, &self->stdev_id,
				     &self->hwpt_id, NULL);

	self->mfd = make_file(variant->kind, self->size);
	if (self->mfd < 0 && variant->kind == FILE_MEMFD_HUGE)
		VM_SKIP(return, "no 2 MiB huge pages for a memfd: %s",
			strerror(errno));
	if (self->mfd < 0 && variant->kind == FILE_TMPFS)
		VM_SKIP(return, "cannot mount tmpfs: %s", strerror(errno));
	ASSERT_LE(0, self->mfd);
	self->map = mmap(NULL, self->size, PROT_READ | PROT_WRITE, MAP_SHARED,
			 self->mfd, 0);
	ASSERT_NE(MAP_FAILED, self->map);
	fill_pattern(self->map, self->size, 1);
}

/* No ASSERT in a teardown: the 6.1 harness would loop on it. */
FIXTURE_TEARDOWN(file)
{
	if (self->map != MAP_FAILED)
		munmap(self->map, self->size);
	if (self->mfd >= 0)
		close(self->mfd);
	close(self->fd);
}

#define map_file(mfd, start, length, iova_p)                                  \
	ASSERT_EQ(0, _test_ioctl_ioas_map_file(self->fd, self->ioas_id, mfd,  \
					       start, length, iova_p,          \
					       TEST_MAP_RW))

/* The whole file, seen through the domain, an access and read(). */
TEST_F(file, basic)
{
	char *buf = malloc(self->size + 6 * page_size);
	__u32 pages_id;
	__u64 iova;
	int access_fd;

	ASSERT_NE(NULL, buf);
	map_file(self->mfd, 0, self->size, &iova);
	/* The kernel keeps the file's huge page alignment in the IOVA. */
	ASSERT_EQ(0, iova % self->unit);
	if (variant->domain)
		check_mock_map(self->hwpt_id, iova, self->size, self->map);

	test_cmd_create_access(self->ioas_id, ACCESS_FLAGS, &access_fd);
	ASSERT_EQ(0, access_read(self->fd, access_fd, iova, self->size, buf));
	ASSERT_EQ(0, memcmp(buf, self->map, self->size));

	/* Written through the IOVA, seen in the file. */
	fill_pattern(buf, page_size, 2);
	test_cmd_access_rw(access_fd, iova + self->unit + 16, page_size, buf,
			   MOCK_ACCESS_RW_WRITE);
	ASSERT_EQ(0, memcmp(buf, self->map + self->unit + 16, page_size));
	memset(buf + page_size, 0, page_size);
	ASSERT_EQ(page_size, pread(self->mfd, buf + page_size, page_size,
				   self->unit + 16));
	ASSERT_EQ(0, memcmp(buf, buf + page_size, page_size));

	/* Written to the file, seen through the IOVA. hugetlbfs has no write(). */
	fill_pattern(buf, 3 * page_size, 3);
	if (variant->kind == FILE_MEMFD_HUGE)
		memcpy(self->map + self->size - 3 * page_size - 5, buf,
		       3 * page_size);
	else
		ASSERT_EQ(3 * page_size,
			  pwrite(self->mfd, buf, 3 * page_size,
				 self->size - 3 * page_size - 5));
	memset(buf + 3 * page_size, 0, 3 * page_size);
	test_cmd_access_rw(access_fd, iova + self->size - 3 * page_size - 5,
			   3 * page_size, buf + 3 * page_size, 0);
	ASSERT_EQ(0, memcmp(buf, buf + 3 * page_size, 3 * page_size));
	/* Also on the slow path, which never uses the domain's pins. */
	memset(buf + 3 * page_size, 0, 3 * page_size);
	test_cmd_access_rw(access_fd, iova + self->size - 3 * page_size - 5,
			   3 * page_size, buf + 3 * page_size,
			   MOCK_ACCESS_RW_SLOW_PATH);
	ASSERT_EQ(0, memcmp(buf, buf + 3 * page_size, 3 * page_size));

	/* An access pins the very pages of the file. */
	test_cmd_access_pages(access_fd, iova + self->unit, 2 * page_size,
			      self->map + self->unit, MOCK_FLAGS_ACCESS_WRITE,
			      &pages_id);
	test_cmd_destroy_access_pages(access_fd, pages_id);
	ASSERT_EQ(0, close(access_fd));

	test_ioctl_ioas_unmap(self->ioas_id, iova, self->size);
	/* Unmapped: nothing is left to reach. */
	test_cmd_create_access(self->ioas_id, ACCESS_FLAGS, &access_fd);
	EXPECT_ERRNO(ENOENT, _test_cmd_access_rw(self->fd, access_fd, iova,
						 page_size, buf, 0));
	close(access_fd);
	free(buf);
}

/*
 * A file whose units are in every state the page cache knows without swap:
 * written, holes, and allocated by fallocate() but never written, which a
 * shmem file zeroes only when the page is first used: the map must take
 * each unit as a read would, the written ones as they are, and zeroed
 * pages for the rest, never what the memory held before. Shmem pins take
 * what the page cache holds in batches and fall back to a read for the
 * rest, so the states alternate in runs of one to three units.
 */
TEST_F(file, cache_states)
{
	/* w: written, h: hole, f: fallocate()d */
	static const char layout[] = "wwhhfffwhfwh";
	size_t units = strlen(layout), size = units * self->unit, i;
	char *expect = calloc(1, size), *buf = malloc(size), *map, *junk;
	size_t junk_size = 8UL << 20;
	int mfd, access_fd;
	__u64 iova;

	ASSERT_NE(NULL, expect);
	ASSERT_NE(NULL, buf);
	mfd = make_file(variant->kind, size);
	ASSERT_LE(0, mfd);
	map = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, mfd, 0);
	ASSERT_NE(MAP_FAILED, map);
	/* Freed memory full of junk, for fallocate() to find. */
	junk = mmap(NULL, junk_size, PROT_READ | PROT_WRITE,
		    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, junk);
	memset(junk, 0xa5, junk_size);
	ASSERT_EQ(0, munmap(junk, junk_size));
	for (i = 0; i != units; i++) {
		char *unit = expect + i * self->unit;

		if (layout[i] == 'w') {
			fill_pattern(unit, self->unit, i + 7);
			/* Written through the mapping: not a hole after. */
			memcpy(map + i * self->unit, unit, self->unit);
		} else if (layout[i] == 'f') {
			ASSERT_EQ(0, fallocate(mfd, 0, i * self->unit,
					       self->unit));
		}
	}

	map_file(mfd, 0, size, &iova);
	test_cmd_create_access(self->ioas_id, ACCESS_FLAGS, &access_fd);
	ASSERT_EQ(0, access_read(self->fd, access_fd, iova, size, buf));
	/* Braces: ASSERT_EQ() with TH_LOG() is more than one statement. */
	for (i = 0; i != units; i++) {
		ASSERT_EQ(0, memcmp(expect + i * self->unit,
				    buf + i * self->unit, self->unit))
			TH_LOG("unit %zu, '%c', differs", i, layout[i]);
	}
	/* The holes are the file's now: the domain maps its very pages. */
	ASSERT_EQ(0, memcmp(expect, map, size));
	if (variant->domain)
		check_mock_map(self->hwpt_id, iova, size, map);
	ASSERT_EQ(0, close(access_fd));
	test_ioctl_ioas_unmap(self->ioas_id, iova, size);
	munmap(map, size);
	close(mfd);
	free(buf);
	free(expect);
}

/* Offsets into the file, at fixed IOVAs; a domain that comes later. */
TEST_F(file, offsets)
{
	__u64 iova = MOCK_APERTURE_START + 64 * HUGE_SIZE;
	__u64 second = iova + 16 * HUGE_SIZE;
	__u32 stdev_id, hwpt_id;
	char buf[64], want[64];
	int access_fd;

	ASSERT_EQ(0, _test_ioctl_ioas_map_file(self->fd, self->ioas_id,
					       self->mfd, self->unit,
					       2 * self->unit, &iova,
					       IOMMU_IOAS_MAP_FIXED_IOVA |
						       TEST_MAP_RW));
	ASSERT_EQ(MOCK_APERTURE_START + 64 * HUGE_SIZE, iova);
	/* Read-only, the last page of the file only. */
	ASSERT_EQ(0, _test_ioctl_ioas_map_file(self->fd, self->ioas_id,
					       self->mfd,
					       self->size - page_size,
					       page_size, &second,
					       IOMMU_IOAS_MAP_FIXED_IOVA |
						       IOMMU_IOAS_MAP_READABLE));

	hwpt_id = self->hwpt_id;
	if (!variant->domain)
		test_cmd_mock_domain(self->ioas_id, &stdev_id, &hwpt_id, NULL);
	check_mock_map(hwpt_id, iova, 2 * self->unit, self->map + self->unit);
	check_mock_map(hwpt_id, second, page_size,
		       self->map + self->size - page_size);

	test_cmd_create_access(self->ioas_id, ACCESS_FLAGS, &access_fd);
	test_cmd_access_rw(access_fd, second + page_size - sizeof(buf),
			   sizeof(buf), buf, 0);
	ASSERT_EQ(0, memcmp(buf, self->map + self->size - sizeof(buf),
			    sizeof(buf)));
	/* The read-only mapping takes no writes, not even the kernel's. */
	EXPECT_ERRNO(EPERM, _test_cmd_access_rw(self->fd, access_fd, second,
						sizeof(buf), buf,
						MOCK_ACCESS_RW_WRITE));
	close(access_fd);
	if (!variant->domain)
		test_ioctl_destroy(stdev_id);
	test_ioctl_ioas_unmap_all(self->ioas_id, 2 * self->unit + page_size);

	/*
	 * Without a domain IOVA and file offset may begin inside a page,
	 * with a domain they must meet its IO page size.
	 */
	if (variant->domain) {
		EXPECT_ERRNO(EINVAL,
			     _test_ioctl_ioas_map_file(self->fd, self->ioas_id,
						       self->mfd, 1, page_size,
						       &iova, TEST_MAP_RW));
		return;
	}
	map_file(self->mfd, page_size + 100, 3 * page_size, &iova);
	ASSERT_EQ(100, iova % page_size);
	/*
	 * An access that pins needs whole pages, as an IOAS with a domain
	 * does; one that only reads and writes copies bytes.
	 */
	EXPECT_ERRNO(EADDRINUSE, _test_cmd_create_access(self->fd,
							 self->ioas_id,
							 ACCESS_FLAGS,
							 &access_fd));
	test_cmd_create_access(self->ioas_id, 0, &access_fd);
	test_cmd_access_rw(access_fd, iova + page_size - 10, sizeof(buf), buf,
			   0);
	memcpy(want, self->map + 2 * page_size + 90, sizeof(want));
	ASSERT_EQ(0, memcmp(buf, want, sizeof(buf)));
	close(access_fd);
}

/*
 * A mapping that starts and ends a few pages into the file's units: the
 * kernel keeps what lies in one huge page as runs taken straight from the
 * folio, and a chunk across two huge pages page by page. Every page must
 * land where it belongs, also after a pin of one page inside a run.
 */
TEST_F(file, unaligned_runs)
{
	const bool huge = self->unit == HUGE_SIZE;
	/* A file of small pages has FILE_UNITS pages only. */
	const size_t start = (huge ? 3 : 1) * page_size;
	const size_t length = self->size - start - (huge ? 2 : 1) * page_size;
	const size_t mid = huge ? self->unit + HUGE_SIZE / 2 : page_size;
	__u32 stdev_id = 0, hwpt_id = self->hwpt_id, pages_id;
	int access_fd;
	__u64 iova;

	if (!variant->domain)
		test_cmd_mock_domain(self->ioas_id, &stdev_id, &hwpt_id, NULL);
	map_file(self->mfd, start, length, &iova);
	check_mock_map(hwpt_id, iova, length, self->map + start);

	test_cmd_create_access(self->ioas_id, ACCESS_FLAGS, &access_fd);
	test_cmd_access_pages(access_fd, iova + mid, page_size,
			      self->map + start + mid, MOCK_FLAGS_ACCESS_WRITE,
			      &pages_id);
	test_cmd_destroy_access_pages(access_fd, pages_id);
	ASSERT_EQ(0, close(access_fd));
	check_mock_map(hwpt_id, iova, length, self->map + start);

	test_ioctl_ioas_unmap(self->ioas_id, iova, length);
	if (stdev_id)
		test_ioctl_destroy(stdev_id);
}

/*
 * A range past the end of the file is refused when the IOAS pins it,
 * which with a domain is the map itself.
 */
TEST_F(file, past_the_end)
{
	__u64 start = self->size - self->unit;
	__u32 stdev_id, pin_id;
	int access_fd;
	char buf[16];
	__u64 iova;

	if (variant->domain) {
		EXPECT_ERRNO(EINVAL, _test_ioctl_ioas_map_file(self->fd,
							       self->ioas_id,
							       self->mfd, start,
							       2 * self->unit,
							       &iova,
							       TEST_MAP_RW));
		EXPECT_ERRNO(EINVAL, _test_ioctl_ioas_map_file(self->fd,
							       self->ioas_id,
							       self->mfd,
							       self->size,
							       self->unit,
							       &iova,
							       TEST_MAP_RW));
		/* Nothing was mapped. */
		test_ioctl_ioas_unmap_all(self->ioas_id, 0);
		/* Once the file is long enough, the same map works. */
		ASSERT_EQ(0, ftruncate(self->mfd, self->size + self->unit));
		map_file(self->mfd, start, 2 * self->unit, &iova);
		test_ioctl_ioas_unmap_all(self->ioas_id, 2 * self->unit);
		return;
	}

	map_file(self->mfd, start, 2 * self->unit, &iova);
	test_cmd_create_access(self->ioas_id, ACCESS_FLAGS, &access_fd);
	/* The part inside the file can be read, the rest cannot. */
	test_cmd_access_rw(access_fd, iova, sizeof(buf), buf, 0);
	ASSERT_EQ(0, memcmp(buf, self->map + start, sizeof(buf)));
	EXPECT_ERRNO(EINVAL, _test_cmd_access_rw(self->fd, access_fd,
						 iova + self->unit, sizeof(buf),
						 buf, 0));
	/* A pin takes only its own pages: inside the file, not past it. */
	test_cmd_access_pages(access_fd, iova, page_size, NULL, 0, &pin_id);
	EXPECT_ERRNO(EINVAL,
		     _test_cmd_access_pages(self->fd, access_fd,
					    iova + self->unit, page_size, NULL,
					    0, NULL));
	test_cmd_destroy_access_pages(access_fd, pin_id);
	/* The first domain pins everything, and cannot. */
	EXPECT_ERRNO(EINVAL, _test_cmd_mock_domain(self->fd, self->ioas_id,
						   &stdev_id, NULL, NULL));
	/* Grown, the file has it all. */
	ASSERT_EQ(0, ftruncate(self->mfd, self->size + self->unit));
	test_cmd_access_rw(access_fd, iova + self->unit, sizeof(buf), buf, 0);
	test_cmd_mock_domain(self->ioas_id, &stdev_id, NULL, NULL);
	test_ioctl_destroy(stdev_id);
	close(access_fd);
	test_ioctl_ioas_unmap_all(self->ioas_id, 2 * self->unit);
}

/*
 * A file whose size is not a whole number of its pages: fallocate() past
 * the end of a hugetlbfs file makes one. Only the small pages that start
 * before the end are the file's, however large the page holding them.
 */
TEST_F(file, past_an_unaligned_end)
{
	__u64 iova;

	if (!variant->domain)
		SKIP(return, "the domain variant pins at map time");
	ASSERT_EQ(0, fallocate(self->mfd, 0, self->size, page_size));
	ASSERT_EQ(self->size + page_size, lseek(self->mfd, 0, SEEK_END));
	map_file(self->mfd, self->size, page_size, &iova);
	test_ioctl_ioas_unmap(self->ioas_id, iova, page_size);
	EXPECT_ERRNO(EINVAL, _test_ioctl_ioas_map_file(self->fd,
						       self->ioas_id,
						       self->mfd, self->size,
						       2 * page_size, &iova,
						       TEST_MAP_RW));
	EXPECT_ERRNO(EINVAL, _test_ioctl_ioas_map_file(self->fd,
						       self->ioas_id,
						       self->mfd,
						       self->size + page_size,
						       page_size, &iova,
						       TEST_MAP_RW));
	/*
	 * A hole in a huge page the end cuts is not filled: a fault there
	 * fails too, and filling it would grow the file past its end.
	 */
	if (variant->kind == FILE_MEMFD_HUGE) {
		ASSERT_EQ(0, fallocate(self->mfd,
				       FALLOC_FL_PUNCH_HOLE |
					       FALLOC_FL_KEEP_SIZE,
				       self->size, HUGE_SIZE));
		EXPECT_ERRNO(EINVAL,
			     _test_ioctl_ioas_map_file(self->fd, self->ioas_id,
						       self->mfd, self->size,
						       page_size, &iova,
						       TEST_MAP_RW));
		ASSERT_EQ(self->size + page_size,
			  lseek(self->mfd, 0, SEEK_END));
	}
	/* Nothing was left mapped. */
	test_ioctl_ioas_unmap_all(self->ioas_id, 0);
}

/*
 * A page with a memory error (MADV_HWPOISON makes one) never reaches a
 * device, nor a kernel copy: the map that would pin it fails with EIO, as
 * a read() of it does. The rest of the file maps. The poisoned page is
 * lost to the VM for good.
 */
TEST_F(file, poisoned_page)
{
	__u64 iova;

	if (!variant->domain)
		SKIP(return, "the domain variant pins at map time");
	if (madvise(self->map + self->unit, page_size, MADV_HWPOISON))
		VM_SKIP(return, "no MADV_HWPOISON: %s", strerror(errno));
	EXPECT_ERRNO(EIO, _test_ioctl_ioas_map_file(self->fd, self->ioas_id,
						    self->mfd, 0, self->size,
						    &iova, TEST_MAP_RW));
	EXPECT_ERRNO(EIO, _test_ioctl_ioas_map_file(self->fd, self->ioas_id,
						    self->mfd, self->unit,
						    page_size, &iova,
						    TEST_MAP_RW));
	test_ioctl_ioas_unmap_all(self->ioas_id, 0);
	map_file(self->mfd, 2 * self->unit, self->unit, &iova);
	check_mock_map(self->hwpt_id, iova, self->unit,
		       self->map + 2 * self->unit);
	test_ioctl_ioas_unmap(self->ioas_id, iova, self->unit);
	/* The poisoned page is gone from the mapping: never touch it. */
	ASSERT_EQ(0, munmap(self->map, self->size));
	self->map = MAP_FAILED;
}

/*
 * Truncating a pinned file does not take the pages from the devices: they
 * stay until the unmap. Unpinned, the mapping cannot be pinned any more.
 */
TEST_F(file, truncated_under_the_mapping)
{
	__u32 stdev_id;
	int access_fd;
	char buf[16];
	__u64 iova;

	map_file(self->mfd, 0, self->size, &iova);
	test_cmd_create_access(self->ioas_id, ACCESS_FLAGS, &access_fd);
	ASSERT_EQ(0, munmap(self->map, self->size));
	self->map = MAP_FAILED;
	ASSERT_EQ(0, ftruncate(self->mfd, 0));

	if (variant->domain) {
		/* The domain's pins keep the old pages. */
		test_cmd_access_rw(access_fd, iova + self->unit, sizeof(buf),
				   buf, MOCK_ACCESS_RW_WRITE);
		test_cmd_access_rw(access_fd, iova + self->unit, sizeof(buf),
				   buf, 0);
		/* Without the pins, the file has no page there. */
		EXPECT_ERRNO(EINVAL,
			     _test_cmd_access_rw(self->fd, access_fd,
						 iova + self->unit, sizeof(buf),
						 buf, MOCK_ACCESS_RW_SLOW_PATH));
		close(access_fd);
		test_ioctl_ioas_unmap(self->ioas_id, iova, self->size);
		return;
	}
	EXPECT_ERRNO(EINVAL, _test_cmd_access_rw(self->fd, access_fd, iova,
						 sizeof(buf), buf, 0));
	EXPECT_ERRNO(EINVAL, _test_cmd_mock_domain(self->fd, self->ioas_id,
						   &stdev_id, NULL, NULL));
	/* Grown again, the file has pages there again: zeroes. */
	ASSERT_EQ(0, ftruncate(self->mfd, self->size));
	memset(buf, 0x55, sizeof(buf));
	test_cmd_access_rw(access_fd, iova + 2 * self->unit, sizeof(buf), buf,
			   0);
	ASSERT_EQ(0, buf[0] | buf[sizeof(buf) - 1]);
	close(access_fd);
	test_ioctl_ioas_unmap(self->ioas_id, iova, self->size);
}

/* The mapping holds the file: closing the fd changes nothing. */
TEST_F(file, close_orders)
{
	char *want = malloc(self->size);
	char *buf = malloc(self->size);
	__u32 stdev_id;
	int access_fd;
	__u64 iova;
	int mfd2;

	ASSERT_NE(NULL, buf);
	ASSERT_NE(NULL, want);
	/* A closed descriptor cannot be mapped. */
	mfd2 = dup(self->mfd);
	ASSERT_LE(0, mfd2);
	ASSERT_EQ(0, close(mfd2));
	EXPECT_ERRNO(EBADF, _test_ioctl_ioas_map_file(self->fd, self->ioas_id,
						      mfd2, 0, self->size,
						      &iova, TEST_MAP_RW));

	/* Closed after the map, before the first pin without a domain. */
	mfd2 = dup(self->mfd);
	ASSERT_LE(0, mfd2);
	map_file(mfd2, 0, self->size, &iova);
	ASSERT_EQ(0, close(mfd2));
	test_cmd_create_access(self->ioas_id, ACCESS_FLAGS, &access_fd);
	ASSERT_EQ(0, access_read(self->fd, access_fd, iova, self->size, buf));
	ASSERT_EQ(0, memcmp(buf, self->map, self->size));
	if (!variant->domain) {
		test_cmd_mock_domain(self->ioas_id, &stdev_id, NULL, NULL);
		test_ioctl_destroy(stdev_id);
	}

	/* The last descriptor and mapping go: the IOAS still has it all. */
	memcpy(want, self->map, self->size);
	ASSERT_EQ(0, munmap(self->map, self->size));
	self->map = MAP_FAILED;
	ASSERT_EQ(0, close(self->mfd));
	self->mfd = -1;
	memset(buf, 0, self->size);
	ASSERT_EQ(0, access_read(self->fd, access_fd, iova, self->size, buf));
	ASSERT_EQ(0, memcmp(buf, want, self->size));
	/* And takes writes, which later reads see. */
	fill_pattern(want, page_size, 6);
	test_cmd_access_rw(access_fd, iova + self->unit, page_size, want,
			   MOCK_ACCESS_RW_WRITE);
	memset(buf, 0, page_size);
	test_cmd_access_rw(access_fd, iova + self->unit, page_size, buf,
			   MOCK_ACCESS_RW_SLOW_PATH);
	ASSERT_EQ(0, memcmp(buf, want, page_size));
	close(access_fd);
	/* A domain after everything else went: the file is still there. */
	if (!variant->domain) {
		test_cmd_mock_domain(self->ioas_id, &stdev_id, NULL, NULL);
		test_ioctl_destroy(stdev_id);
	}
	test_ioctl_ioas_unmap(self->ioas_id, iova, self->size);
	free(want);
	free(buf);
}

/* COPY shares a file mapping with another IOAS, with or without domain. */
TEST_F(file, copy)
{
	__u32 dst_ioas_id, dst_stdev_id, dst_hwpt_id;
	__u64 iova, dst, back;
	int access_fd;
	char buf[64];

	const struct iommu_iova_range aperture = {
		.start = MOCK_APERTURE_START,
		.last = MOCK_APERTURE_LAST,
	};

	map_file(self->mfd, 0, self->size, &iova);
	test_ioctl_ioas_alloc(&dst_ioas_id);
	test_ioctl_ioas_allow_iovas(dst_ioas_id, &aperture, 1);
	test_ioctl_ioas_copy(dst_ioas_id, self->ioas_id, iova, self->size,
			     &dst);
	/* A domain of the copy's IOAS pins the file's pages. */
	test_cmd_mock_domain(dst_ioas_id, &dst_stdev_id, &dst_hwpt_id, NULL);
	check_mock_map(dst_hwpt_id, dst, self->size, self->map);
	/* Part of it back into the first IOAS. */
	test_ioctl_ioas_copy(self->ioas_id, dst_ioas_id, dst + self->unit,
			     self->unit, &back);
	if (variant->domain)
		check_mock_map(self->hwpt_id, back, self->unit,
			       self->map + self->unit);

	/* Written through one IOAS, read through the other. */
	test_cmd_create_access(dst_ioas_id, ACCESS_FLAGS, &access_fd);
	fill_pattern(buf, sizeof(buf), 4);
	test_cmd_access_rw(access_fd, dst + self->unit + 8, sizeof(buf), buf,
			   MOCK_ACCESS_RW_WRITE);
	close(access_fd);
	test_cmd_create_access(self->ioas_id, ACCESS_FLAGS, &access_fd);
	memset(buf, 0, sizeof(buf));
	test_cmd_access_rw(access_fd, back + 8, sizeof(buf), buf, 0);
	ASSERT_EQ(0, memcmp(buf, self->map + self->unit + 8, sizeof(buf)));
	close(access_fd);

	/* The source unmapped, the copies keep the file's pages. */
	test_ioctl_ioas_unmap(self->ioas_id, iova, self->size);
	check_mock_map(dst_hwpt_id, dst, self->size, self->map);
	test_ioctl_destroy(dst_stdev_id);
	test_ioctl_destroy(dst_ioas_id);
	test_ioctl_ioas_unmap(self->ioas_id, back, self->unit);
}

/* File and user memory, even of the same file, side by side. */
TEST_F(file, mixed_with_user_memory)
{
	char *anon = test_alloc_small_pages(4);
	__u64 file_iova, va_iova, anon_iova, copy;
	__u32 stdev_id, hwpt_id;
	int access_fd;
	char buf[32];

	ASSERT_NE(NULL, anon);
	map_file(self->mfd, 0, self->size, &file_iova);
	test_ioctl_ioas_map(self->ioas_id, self->map, self->size, &va_iova);
	test_ioctl_ioas_map(self->ioas_id, anon, 4 * page_size, &anon_iova);
	/* A COPY that spans a file and a user mapping, if they touch. */
	test_ioctl_ioas_copy(self->ioas_id, self->ioas_id, file_iova,
			     self->size, &copy);

	hwpt_id = self->hwpt_id;
	if (!variant->domain)
		test_cmd_mock_domain(self->ioas_id, &stdev_id, &hwpt_id, NULL);
	check_mock_map(hwpt_id, file_iova, self->size, self->map);
	check_mock_map(hwpt_id, va_iova, self->size, self->map);
	check_mock_map(hwpt_id, anon_iova, 4 * page_size, anon);
	check_mock_map(hwpt_id, copy, self->size, self->map);
	/* The user mapping pins with GUP: the file's pins are not counted. */
	check_refs(anon, 4 * page_size, 1);

	/* The same byte of the file, through both mappings. */
	test_cmd_create_access(self->ioas_id, ACCESS_FLAGS, &access_fd);
	fill_pattern(buf, sizeof(buf), 5);
	test_cmd_access_rw(access_fd, va_iova + 2 * self->unit, sizeof(buf),
			   buf, MOCK_ACCESS_RW_WRITE);
	memset(buf, 0, sizeof(buf));
	test_cmd_access_rw(access_fd, file_iova + 2 * self->unit, sizeof(buf),
			   buf, 0);
	ASSERT_EQ(0, memcmp(buf, self->map + 2 * self->unit, sizeof(buf)));
	close(access_fd);

	test_ioctl_ioas_unmap(self->ioas_id, va_iova, self->size);
	check_refs(self->map, self->size, 0);
	check_mock_map(hwpt_id, file_iova, self->size, self->map);
	if (!variant->domain)
		test_ioctl_destroy(stdev_id);
	test_ioctl_ioas_unmap(self->ioas_id, file_iova, self->size);
	test_ioctl_ioas_unmap(self->ioas_id, copy, self->size);
	test_ioctl_ioas_unmap(self->ioas_id, anon_iova, 4 * page_size);
	check_refs(anon, 4 * page_size, 0);
	munmap(anon, 4 * page_size);
}

/* A file sealed against writes maps read-only, and only so. */
static void expect_read_only_maps(struct __test_metadata *_metadata, int fd,
				  __u32 ioas_id, int mfd, size_t size)
{
	__u64 iova;

	EXPECT_ERRNO(EPERM, _test_ioctl_ioas_map_file(fd, ioas_id, mfd, 0,
						      size, &iova,
						      TEST_MAP_RW));
	ASSERT_EQ(0, _test_ioctl_ioas_map_file(fd, ioas_id, mfd, 0, size,
					       &iova,
					       IOMMU_IOAS_MAP_READABLE));
	ASSERT_EQ(0, _test_ioctl_ioas_unmap(fd, ioas_id, iova, size, NULL));
}

/*
 * Writeable maps need a file open for writing and not sealed against
 * writes, and hold off F_SEAL_WRITE as a shared writable mmap does.
 */
TEST_F(file, write_permission)
{
	char path[64];
	__u64 iova;
	int ro;

	/* A read-only descriptor of the same file: /proc/self/fd reopens. */
	snprintf(path, sizeof(path), "/proc/self/fd/%d", self->mfd);
	ro = open(path, O_RDONLY);
	ASSERT_LE(0, ro);
	EXPECT_ERRNO(EPERM, _test_ioctl_ioas_map_file(self->fd, self->ioas_id,
						      ro, 0, self->size, &iova,
						      TEST_MAP_RW));
	EXPECT_ERRNO(EPERM, _test_ioctl_ioas_map_file(self->fd, self->ioas_id,
						      ro, 0, self->size, &iova,
						      IOMMU_IOAS_MAP_WRITEABLE));
	ASSERT_EQ(0, _test_ioctl_ioas_map_file(self->fd, self->ioas_id, ro, 0,
					       self->size, &iova,
					       IOMMU_IOAS_MAP_READABLE));
	if (variant->domain)
		check_mock_map(self->hwpt_id, iova, self->size, self->map);
	test_ioctl_ioas_unmap(self->ioas_id, iova, self->size);
	close(ro);

	/* Write-only: devices could read what the opener may not. */
	ro = open(path, O_WRONLY);
	ASSERT_LE(0, ro);
	EXPECT_ERRNO(EPERM, _test_ioctl_ioas_map_file(self->fd, self->ioas_id,
						      ro, 0, self->size, &iova,
						      TEST_MAP_RW));
	close(ro);

	if (variant->kind == FILE_TMPFS)
		return;
	/* A writeable mapping, like a shared mmap, blocks F_SEAL_WRITE. */
	ASSERT_EQ(0, munmap(self->map, self->size));
	self->map = MAP_FAILED;
	map_file(self->mfd, 0, self->size, &iova);
	EXPECT_ERRNO(EBUSY, fcntl(self->mfd, F_ADD_SEALS, F_SEAL_WRITE));
	test_ioctl_ioas_unmap(self->ioas_id, iova, self->size);
	ASSERT_EQ(0, fcntl(self->mfd, F_ADD_SEALS, F_SEAL_WRITE));
	expect_read_only_maps(_metadata, self->fd, self->ioas_id, self->mfd,
			      self->size);
}

/* FS_IOC_SETFLAGS: <linux/fs.h> cannot be included with <sys/mount.h>. */
#ifndef FS_IOC_SETFLAGS
#define FS_IOC_SETFLAGS _IOW('f', 2, long)
#endif
#ifndef FS_APPEND_FL
#define FS_APPEND_FL 0x00000020
#endif

/*
 * An append-only file (chattr +a) is not written in place, which a
 * writeable map would let devices do: it is refused, as a shared
 * writeable mmap() of the file is. Read-only maps are fine.
 */
TEST_F(file, append_only)
{
	int flags = FS_APPEND_FL;
	__u64 iova;

	/* hugetlbfs has no file attributes; tmpfs has, with TMPFS_XATTR. */
	if (variant->kind == FILE_MEMFD_HUGE)
		SKIP(return, "hugetlbfs files cannot be append-only");
	if (ioctl(self->mfd, FS_IOC_SETFLAGS, &flags))
		VM_SKIP(return, "no append-only files: %s", strerror(errno));
	expect_read_only_maps(_metadata, self->fd, self->ioas_id, self->mfd,
			      self->size);
	EXPECT_ERRNO(EPERM, _test_ioctl_ioas_map_file(self->fd, self->ioas_id,
						      self->mfd, 0, page_size,
						      &iova,
						      IOMMU_IOAS_MAP_WRITEABLE));
	flags = 0;
	ASSERT_EQ(0, ioctl(self->mfd, FS_IOC_SETFLAGS, &flags));
	map_file(self->mfd, 0, self->size, &iova);
	test_ioctl_ioas_unmap(self->ioas_id, iova, self->size);
}

TEST_F(file, future_write_seal)
{
	if (variant->kind == FILE_TMPFS)
		SKIP(return, "only a memfd can be sealed");
	ASSERT_EQ(0, fcntl(self->mfd, F_ADD_SEALS, F_SEAL_FUTURE_WRITE));
	expect_read_only_maps(_metadata, self->fd, self->ioas_id, self->mfd,
			      self->size);
}

/*
 * Two threads: one maps and unmaps the file, the other truncates and
 * grows it. Every map either works or finds the file short (EINVAL).
 * Bounded in time too: under emulation, zeroing huge pages again and
 * again is slow.
 */
#define RACE_ROUNDS 200
#define RACE_SECONDS 5

struct race_args {
	int mfd;
	size_t size;
	char *map;
	bool stop;
};

static void *race_truncate(void *arg)
{
	struct race_args *args = arg;

	while (!__atomic_load_n(&args->stop, __ATOMIC_RELAXED)) {
		if (ftruncate(args->mfd, args->size / 2) ||
		    ftruncate(args->mfd, args->size))
			return (void *)1;
	}
	return NULL;
}

TEST_F(file, race_with_truncate)
{
	struct race_args args = { .mfd = self->mfd, .size = self->size };
	unsigned int i, mapped = 0, short_file = 0;
	struct timespec now, end;
	pthread_t thread;
	__u64 iova;
	void *ret;

	/* The pages beyond the half come and go; the mmap must not touch. */
	ASSERT_EQ(0, munmap(self->map, self->size));
	self->map = MAP_FAILED;
	ASSERT_EQ(0, clock_gettime(CLOCK_MONOTONIC, &end));
	end.tv_sec += RACE_SECONDS;
	ASSERT_EQ(0, pthread_create(&thread, NULL, race_truncate, &args));
	for (i = 0; i != RACE_ROUNDS; i++) {
		__u32 stdev_id;
		int rc;

		ASSERT_EQ(0, clock_gettime(CLOCK_MONOTONIC, &now));
		if (now.tv_sec > end.tv_sec ||
		    (now.tv_sec == end.tv_sec && now.tv_nsec > end.tv_nsec))
			break;

		rc = _test_ioctl_ioas_map_file(self->fd, self->ioas_id,
					       self->mfd, 0, self->size, &iova,
					       TEST_MAP_RW);
		if (rc) {
			ASSERT_EQ(EINVAL, errno);
			short_file++;
			continue;
		}
		mapped++;
		if (!variant->domain &&
		    !_test_cmd_mock_domain(self->fd, self->ioas_id, &stdev_id,
					   NULL, NULL))
			test_ioctl_destroy(stdev_id);
		test_ioctl_ioas_unmap(self->ioas_id, iova, self->size);
	}
	__atomic_store_n(&args.stop, true, __ATOMIC_RELAXED);
	ASSERT_EQ(0, pthread_join(thread, &ret));
	ASSERT_EQ(NULL, ret);
	TH_LOG("%u maps, %u found the file short", mapped, short_file);
	/* The file ends whole: it maps, and pins where there is a domain. */
	map_file(self->mfd, 0, self->size, &iova);
	test_ioctl_ioas_unmap(self->ioas_id, iova, self->size);
}

/* A file of @length bytes on a hugetlbfs mount of its own, 32 MiB big. */
static int huge_file_private(size_t length)
{
	return test_private_hugetlbfs("pagesize=2M,size=32M", length);
}

/* Free huge pages of the mount of @fd's file, see huge_file_private(). */
static long mount_blocks_free(int fd)
{
	struct statfs st;

	return fstatfs(fd, &st) ? -1 : (long)st.f_bfree;
}

/*
 * Units 1 and 2 of the file are punched out and brought back, one written
 * (an uptodate page) and one fallocate()d (for shmem, not uptodate), over
 * and over: a pin finds a page, a hole, a fresh page or a swapped one.
 */
static void *race_punch(void *arg)
{
	struct race_args *args = arg;
	size_t unit = args->size / FILE_UNITS;

	while (!__atomic_load_n(&args->stop, __ATOMIC_RELAXED)) {
		if (fallocate(args->mfd,
			      FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, unit,
			      2 * unit))
			return (void *)1;
		memset(args->map + unit, 0x5a, unit);
		if (fallocate(args->mfd, 0, 2 * unit, unit))
			return (void *)2;
	}
	return NULL;
}

/*
 * Pins of a file that loses pages to hole punching meanwhile: every map,
 * pin and copy succeeds (the file keeps its size), what was pinned is
 * unpinned and uncharged, and punched pages are freed once unpinned.
 */
TEST_F(file, race_with_hole_punch)
{
	struct race_args args = { .size = self->size };
	long pin_kb = test_vm_pin_kb(), huge_free = -1;
	char *buf = malloc(self->size);
	struct timespec now, end;
	unsigned int i, mapped = 0;
	pthread_t thread;
	int access_fd;
	__u64 iova;
	void *ret;

	ASSERT_NE(NULL, buf);
	ASSERT_LE(0, pin_kb);
	/* The huge pages are counted on a mount of the test's own. */
	if (variant->kind == FILE_MEMFD_HUGE) {
		ASSERT_EQ(0, munmap(self->map, self->size));
		ASSERT_EQ(0, close(self->mfd));
		self->map = MAP_FAILED;
		self->mfd = huge_file_private(self->size);
		if (self->mfd < 0)
			VM_SKIP(return, "cannot mount hugetlbfs: %s",
				strerror(errno));
		self->map = mmap(NULL, self->size, PROT_READ | PROT_WRITE,
				 MAP_SHARED, self->mfd, 0);
		ASSERT_NE(MAP_FAILED, self->map);
		fill_pattern(self->map, self->size, 1);
		huge_free = mount_blocks_free(self->mfd);
		ASSERT_LE(0, huge_free);
	}
	args.mfd = self->mfd;
	args.map = self->map;
	test_cmd_create_access(self->ioas_id, ACCESS_FLAGS, &access_fd);
	ASSERT_EQ(0, clock_gettime(CLOCK_MONOTONIC, &end));
	end.tv_sec += RACE_SECONDS;
	ASSERT_EQ(0, pthread_create(&thread, NULL, race_punch, &args));
	for (i = 0; i != RACE_ROUNDS; i++) {
		__u32 stdev_id, pages_id;

		ASSERT_EQ(0, clock_gettime(CLOCK_MONOTONIC, &now));
		if (now.tv_sec > end.tv_sec ||
		    (now.tv_sec == end.tv_sec && now.tv_nsec > end.tv_nsec))
			break;

		map_file(self->mfd, 0, self->size, &iova);
		mapped++;
		/* Read while unpinned (through the file), then pin. */
		ASSERT_EQ(0, access_read(self->fd, access_fd, iova, self->size,
					 buf));
		ASSERT_EQ(0, _test_cmd_access_pages(self->fd, access_fd,
						    iova + self->unit,
						    self->unit, NULL, 0,
						    &pages_id));
		if (!variant->domain)
			test_cmd_mock_domain(self->ioas_id, &stdev_id, NULL,
					     NULL);
		ASSERT_EQ(0, access_read(self->fd, access_fd, iova, self->size,
					 buf));
		test_cmd_destroy_access_pages(access_fd, pages_id);
		if (!variant->domain)
			test_ioctl_destroy(stdev_id);
		test_ioctl_ioas_unmap(self->ioas_id, iova, self->size);
	}
	__atomic_store_n(&args.stop, true, __ATOMIC_RELAXED);
	ASSERT_EQ(0, pthread_join(thread, &ret));
	ASSERT_EQ(NULL, ret);
	TH_LOG("%u maps raced hole punching", mapped);
	ASSERT_LT(0, mapped);

	/* Every pin was dropped and uncharged. */
	ASSERT_EQ(pin_kb, test_vm_pin_kb());
	/*
	 * The punched huge pages went back to the mount: none stayed pinned.
	 * A page kept by a reference would leave fewer free than before.
	 */
	fill_pattern(self->map, self->size, 3);
	if (variant->kind == FILE_MEMFD_HUGE)
		ASSERT_LE(huge_free, mount_blocks_free(self->mfd));

	/* The file as it is now is what the domain and the access see. */
	map_file(self->mfd, 0, self->size, &iova);
	if (variant->domain)
		check_mock_map(self->hwpt_id, iova, self->size, self->map);
	ASSERT_EQ(0, access_read(self->fd, access_fd, iova, self->size, buf));
	ASSERT_EQ(0, memcmp(buf, self->map, self->size));
	test_ioctl_ioas_unmap(self->ioas_id, iova, self->size);
	ASSERT_EQ(0, close(access_fd));
	free(buf);
}

/* Arguments refused before any file is looked at. */
FIXTURE(bad_input)
{
	int fd;
	__u32 ioas_id;
	int mfd;
};

FIXTURE_SETUP(bad_input)
{
	self->fd = open("/dev/iommu", O_RDWR);
	ASSERT_LE(0, self->fd);
	test_ioctl_ioas_alloc(&self->ioas_id);
	self->mfd = make_file(FILE_MEMFD, 4 * page_size);
	ASSERT_LE(0, self->mfd);
}

FIXTURE_TEARDOWN(bad_input)
{
	close(self->mfd);
	close(self->fd);
}

#define map_file_err(err, mfd, start, length, flags)                          \
	({                                                                     \
		__u64 __iova = MOCK_APERTURE_START;                            \
		EXPECT_ERRNO(err, _test_ioctl_ioas_map_file(self->fd,          \
							    self->ioas_id,     \
							    mfd, start,        \
							    length, &__iova,   \
							    flags));           \
	})

TEST_F(bad_input, arguments)
{
	struct iommu_ioas_map_file cmd = {
		.size = sizeof(cmd),
		.flags = TEST_MAP_RW,
		.ioas_id = self->ioas_id,
		.fd = self->mfd,
		.length = page_size,
	};

	/* The structure. */
	cmd.size = offsetof(struct iommu_ioas_map_file, iova);
	EXPECT_ERRNO(EINVAL, ioctl(self->fd, IOMMU_IOAS_MAP_FILE, &cmd));
	cmd.size = sizeof(cmd);
	cmd.ioas_id = self->ioas_id + 100;
	EXPECT_ERRNO(ENOENT, ioctl(self->fd, IOMMU_IOAS_MAP_FILE, &cmd));
	cmd.ioas_id = 0;
	EXPECT_ERRNO(ENOENT, ioctl(self->fd, IOMMU_IOAS_MAP_FILE, &cmd));
	cmd.ioas_id = self->ioas_id;

	/* Flags, checked before anything else. */
	map_file_err(EOPNOTSUPP, self->mfd, 0, page_size, 1U << 3);
	map_file_err(EOPNOTSUPP, -1, 0, page_size, TEST_MAP_RW | 1U << 31);
	map_file_err(EINVAL, self->mfd, 0, page_size, 0);
	map_file_err(EINVAL, self->mfd, 0, page_size,
		     IOMMU_IOAS_MAP_FIXED_IOVA);

	/* Lengths and offsets. */
	map_file_err(EINVAL, self->mfd, 0, 0, TEST_MAP_RW);
	map_file_err(EOVERFLOW, self->mfd, 0, UINT64_MAX, TEST_MAP_RW);
	map_file_err(EOVERFLOW, self->mfd, UINT64_MAX - page_size + 1,
		     2 * page_size, TEST_MAP_RW);
	map_file_err(EOVERFLOW, self->mfd, UINT64_MAX, 1, TEST_MAP_RW);
	/* Past the largest offset a file can have. */
	map_file_err(EOVERFLOW, self->mfd, 1ULL << 63, page_size, TEST_MAP_RW);
	map_file_err(EOVERFLOW, self->mfd, (1ULL << 63) - page_size,
		     2 * page_size, TEST_MAP_RW);
	/* IOVAs that do not fit, or wrap. */
	cmd.flags = IOMMU_IOAS_MAP_FIXED_IOVA | TEST_MAP_RW;
	cmd.iova = UINT64_MAX;
	EXPECT_ERRNO(EOVERFLOW, ioctl(self->fd, IOMMU_IOAS_MAP_FILE, &cmd));
	cmd.iova = UINT64_MAX - page_size + 1;
	cmd.length = 2 * page_size;
	EXPECT_ERRNO(EOVERFLOW, ioctl(self->fd, IOMMU_IOAS_MAP_FILE, &cmd));
	cmd.flags = TEST_MAP_RW;
	cmd.length = page_size;

	/* The IOAS. */
	cmd.ioas_id = self->ioas_id + 1;
	EXPECT_ERRNO(ENOENT, ioctl(self->fd, IOMMU_IOAS_MAP_FILE, &cmd));
	cmd.ioas_id = self->ioas_id;

	/* Nothing of it was mapped. */
	test_ioctl_ioas_unmap_all(self->ioas_id, 0);
}

TEST_F(bad_input, descriptors)
{
	char dir[] = "/tmp/iommufd_map_file.XXXXXX";
	char path[96];
	int pipefd[2];
	int fd;

	map_file_err(EBADF, -1, 0, page_size, TEST_MAP_RW);
	map_file_err(EBADF, 100000, 0, page_size, TEST_MAP_RW);
	fd = dup(self->mfd);
	ASSERT_LE(0, fd);
	close(fd);
	map_file_err(EBADF, fd, 0, page_size, TEST_MAP_RW);
	/* O_PATH descriptors name a file but open nothing. */
	snprintf(path, sizeof(path), "/proc/self/fd/%d", self->mfd);
	fd = open(path, O_PATH);
	ASSERT_LE(0, fd);
	map_file_err(EBADF, fd, 0, page_size, TEST_MAP_RW);
	close(fd);

	/* Files whose page cache is not their memory. */
	ASSERT_EQ(0, pipe(pipefd));
	map_file_err(EINVAL, pipefd[0], 0, page_size, IOMMU_IOAS_MAP_READABLE);
	map_file_err(EINVAL, pipefd[1], 0, page_size, TEST_MAP_RW);
	close(pipefd[0]);
	close(pipefd[1]);
	fd = open("/proc/self/status", O_RDONLY);
	ASSERT_LE(0, fd);
	map_file_err(EINVAL, fd, 0, page_size, IOMMU_IOAS_MAP_READABLE);
	close(fd);
	/* /dev/iommu, a device node on devtmpfs, which is shmem. */
	map_file_err(EINVAL, self->fd, 0, page_size, TEST_MAP_RW);
	/* A directory of tmpfs. */
	ASSERT_EQ(0, mount_tmpfs(path));
	fd = open(path, O_RDONLY | O_DIRECTORY);
	ASSERT_LE(0, fd);
	map_file_err(EINVAL, fd, 0, page_size, IOMMU_IOAS_MAP_READABLE);
	close(fd);
	umount_tmpfs(path);

	/* ramfs: page cache, but not shmem. */
	ASSERT_NE(NULL, mkdtemp(dir));
	if (mount("ramfs", dir, "ramfs", 0, NULL)) {
		rmdir(dir);
		VM_SKIP(return, "cannot mount ramfs: %s", strerror(errno));
	}
	snprintf(path, sizeof(path), "%s/file", dir);
	fd = open(path, O_RDWR | O_CREAT, 0600);
	ASSERT_LE(0, fd);
	ASSERT_EQ(0, ftruncate(fd, page_size));
	map_file_err(EINVAL, fd, 0, page_size, TEST_MAP_RW);
	close(fd);
	umount2(dir, MNT_DETACH);
	rmdir(dir);

	test_ioctl_ioas_unmap_all(self->ioas_id, 0);
}

/* A fixed IOVA in use is refused, and the file is not kept. */
TEST_F(bad_input, fixed_iova_in_use)
{
	__u64 iova = MOCK_APERTURE_START;

	ASSERT_EQ(0, _test_ioctl_ioas_map_file(self->fd, self->ioas_id,
					       self->mfd, 0, 2 * page_size,
					       &iova,
					       IOMMU_IOAS_MAP_FIXED_IOVA |
						       TEST_MAP_RW));
	map_file_err(EEXIST, self->mfd, 0, page_size,
		     IOMMU_IOAS_MAP_FIXED_IOVA | TEST_MAP_RW);
	test_ioctl_ioas_unmap_all(self->ioas_id, 2 * page_size);
	/* The failed map left no writer behind: the seal goes on. */
	ASSERT_EQ(0, fcntl(self->mfd, F_ADD_SEALS, F_SEAL_WRITE));
}

/*
 * The VFIO container of the context is an IOAS like any other: a file
 * mapped into it is unmapped with VFIO_IOMMU_UNMAP_DMA, and VFIO's own
 * maps go on working beside it.
 */
TEST_F(bad_input, vfio_compat_container)
{
	struct iommu_vfio_ioas set = {
		.size = sizeof(set),
		.op = IOMMU_VFIO_IOAS_SET,
		.ioas_id = self->ioas_id,
	};
	char *anon = test_alloc_small_pages(2);
	struct vfio_iommu_type1_dma_map map = {
		.argsz = sizeof(map),
		.flags = VFIO_DMA_MAP_FLAG_READ | VFIO_DMA_MAP_FLAG_WRITE,
		.vaddr = (uintptr_t)anon,
		.iova = MOCK_APERTURE_START + 16 * page_size,
		.size = 2 * page_size,
	};
	struct vfio_iommu_type1_dma_unmap unmap = {
		.argsz = sizeof(unmap),
		.iova = MOCK_APERTURE_START,
		.size = 4 * page_size,
	};
	__u64 iova = MOCK_APERTURE_START;

	ASSERT_NE(NULL, anon);
	ASSERT_EQ(0, ioctl(self->fd, IOMMU_VFIO_IOAS, &set));
	test_cmd_mock_domain(self->ioas_id, NULL, NULL, NULL);
	ASSERT_EQ(0, ioctl(self->fd, VFIO_SET_IOMMU, VFIO_TYPE1v2_IOMMU));
	ASSERT_EQ(0, _test_ioctl_ioas_map_file(self->fd, self->ioas_id,
					       self->mfd, 0, 4 * page_size,
					       &iova,
					       IOMMU_IOAS_MAP_FIXED_IOVA |
						       TEST_MAP_RW));
	ASSERT_EQ(0, ioctl(self->fd, VFIO_IOMMU_MAP_DMA, &map));
	ASSERT_EQ(0, ioctl(self->fd, VFIO_IOMMU_UNMAP_DMA, &unmap));
	ASSERT_EQ(4 * page_size, unmap.size);
	unmap.iova = map.iova;
	unmap.size = map.size;
	ASSERT_EQ(0, ioctl(self->fd, VFIO_IOMMU_UNMAP_DMA, &unmap));
	ASSERT_EQ(2 * page_size, unmap.size);
	munmap(anon, 2 * page_size);
}

/*
 * The huge pages of a file on a private hugetlbfs mount come back to the
 * mount (statfs) only when nothing holds them: the pins of a domain, of
 * an access and of a copy are all dropped.
 */
TEST(huge_pages_come_back)
{
	char dir[] = "/tmp/iommufd_map_file.XXXXXX";
	__u32 ioas_id, ioas2_id, stdev_id, pages_id;
	struct statfs st;
	__u64 iova, copy;
	char path[64];
	int fd, mfd, access_fd, i;

	ASSERT_NE(NULL, mkdtemp(dir));
	if (mount("none", dir, "hugetlbfs", 0, "pagesize=2M,size=8M")) {
		rmdir(dir);
		VM_SKIP(return, "cannot mount hugetlbfs: %s", strerror(errno));
	}
	ASSERT_EQ(0, statfs(dir, &st));
	ASSERT_EQ(4, st.f_blocks);
	ASSERT_EQ(4, st.f_bfree);

	for (i = 0; i != 3; i++) {
		snprintf(path, sizeof(path), "%s/file", dir);
		mfd = open(path, O_RDWR | O_CREAT, 0600);
		ASSERT_LE(0, mfd);
		ASSERT_EQ(0, ftruncate(mfd, 3 * HUGE_SIZE));
		fd = open("/dev/iommu", O_RDWR);
		ASSERT_LE(0, fd);
		ASSERT_EQ(0, _test_ioctl_ioas_alloc(fd, &ioas_id));
		ASSERT_EQ(0, _test_cmd_mock_domain(fd, ioas_id, &stdev_id,
						   NULL, NULL));
		ASSERT_EQ(0, _test_ioctl_ioas_map_file(fd, ioas_id, mfd, 0,
						       3 * HUGE_SIZE, &iova,
						       TEST_MAP_RW));
		/* The holes were filled from the mount's pool. */
		ASSERT_EQ(0, statfs(dir, &st));
		ASSERT_EQ(1, st.f_bfree);
		ASSERT_EQ(0, _test_ioctl_ioas_alloc(fd, &ioas2_id));
		ASSERT_EQ(0, _test_ioctl_ioas_copy(fd, ioas2_id, ioas_id, iova,
						   3 * HUGE_SIZE, &copy,
						   TEST_MAP_RW));
		ASSERT_EQ(0, _test_cmd_create_access(fd, ioas2_id,
						     ACCESS_FLAGS, &access_fd));
		ASSERT_EQ(0, _test_cmd_access_pages(fd, access_fd,
						    copy + HUGE_SIZE - page_size,
						    2 * page_size, NULL,
						    MOCK_FLAGS_ACCESS_WRITE,
						    &pages_id));
		/* The pool is empty: a fourth huge page cannot be had. */
		ASSERT_EQ(0, ftruncate(mfd, 5 * HUGE_SIZE));
		EXPECT_ERRNO(ENOMEM,
			     _test_ioctl_ioas_map_file(fd, ioas_id, mfd,
						       3 * HUGE_SIZE,
						       2 * HUGE_SIZE, &iova,
						       TEST_MAP_RW));
		/* Each round closes in another order. */
		if (i == 0) {
			close(mfd);
			unlink(path);
			close(access_fd);
			close(fd);
		} else if (i == 1) {
			ASSERT_EQ(0, _test_ioctl_ioas_unmap(fd, ioas_id, 0,
							    UINT64_MAX, NULL));
			ASSERT_EQ(0, ftruncate(mfd, 0));
			close(fd);
			close(access_fd);
			close(mfd);
			unlink(path);
		} else {
			unlink(path);
			close(access_fd);
			close(fd);
			ASSERT_EQ(0, ftruncate(mfd, 0));
			close(mfd);
		}
		/* The file's release runs from task work: it ran by now. */
		ASSERT_EQ(0, statfs(dir, &st));
		ASSERT_EQ(4, st.f_bfree);
	}
	ASSERT_EQ(0, umount2(dir, 0));
	rmdir(dir);
}

/* Signals count_alarm() took, read and written atomically. */
static int alarms;

static void count_alarm(int sig)
{
	__atomic_fetch_add(&alarms, 1, __ATOMIC_RELAXED);
}

/*
 * hugetlbfs gives up filling a hole at any pending signal, not only a
 * fatal one. Under a stream of timer signals whose handler asks for
 * SA_RESTART, a MAP_FILE that fills the holes of a hugetlbfs file into
 * an IOAS with a domain must be restarted until it is done, not fail
 * with EINTR (as it did), and every round must end with the file's pages
 * mapped and nothing left behind.
 */
TEST(hugetlb_holes_under_signals)
{
	const size_t length = 8 * HUGE_SIZE;
	struct sigaction sa = {
		.sa_handler = count_alarm,
		.sa_flags = SA_RESTART,
	};
	struct itimerval timer = {
		.it_interval = { .tv_usec = 200 },
		.it_value = { .tv_usec = 200 },
	};
	struct itimerval off = {};
	unsigned int i, hit = 0;
	__u32 ioas_id, hwpt_id;
	int fd, mfd, seen;
	char *map;
	__u64 iova;

	mfd = huge_file_private(length);
	if (mfd < 0)
		VM_SKIP(return, "cannot mount hugetlbfs: %s", strerror(errno));
	map = mmap(NULL, length, PROT_READ | PROT_WRITE, MAP_SHARED, mfd, 0);
	ASSERT_NE(MAP_FAILED, map);
	fd = open("/dev/iommu", O_RDWR);
	ASSERT_LE(0, fd);
	ASSERT_EQ(0, _test_ioctl_ioas_alloc(fd, &ioas_id));
	ASSERT_EQ(0, _test_cmd_mock_domain(fd, ioas_id, NULL, &hwpt_id, NULL));
	ASSERT_EQ(0, sigemptyset(&sa.sa_mask));
	ASSERT_EQ(0, sigaction(SIGALRM, &sa, NULL));
	ASSERT_EQ(0, setitimer(ITIMER_REAL, &timer, NULL));
	for (i = 0; i != 8; i++) {
		int rc;

		/* Every huge page a hole again. */
		ASSERT_EQ(0, fallocate(mfd,
				       FALLOC_FL_PUNCH_HOLE |
					       FALLOC_FL_KEEP_SIZE,
				       0, length));
		seen = __atomic_load_n(&alarms, __ATOMIC_RELAXED);
		rc = _test_ioctl_ioas_map_file(fd, ioas_id, mfd, 0, length,
					       &iova, TEST_MAP_RW);
		hit += __atomic_load_n(&alarms, __ATOMIC_RELAXED) != seen;
		ASSERT_EQ(0, rc);
		ASSERT_EQ(0, _test_cmd_check_map(fd, hwpt_id, iova, length,
						 map));
		ASSERT_EQ(0, _test_ioctl_ioas_unmap(fd, ioas_id, iova, length,
						    NULL));
	}
	ASSERT_EQ(0, setitimer(ITIMER_REAL, &off, NULL));
	TH_LOG("%u of %u maps took signals, %d signals", hit, i,
	       __atomic_load_n(&alarms, __ATOMIC_RELAXED));
	/* Or the test proved nothing. */
	ASSERT_LT(0, hit);
	ASSERT_EQ(0, close(fd));
	ASSERT_EQ(0, munmap(map, length));
	/* Nothing kept a page: all come back to the mount when punched. */
	ASSERT_EQ(0, fallocate(mfd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
			       0, length));
	ASSERT_EQ(16, mount_blocks_free(mfd));
	ASSERT_EQ(0, close(mfd));
}

/* VmPin of this process, in pages. */
static long vm_pin_pages(void)
{
	return test_vm_pin_kb() * 1024 / page_size;
}

/*
 * A file mapping is charged like user memory: against RLIMIT_MEMLOCK of
 * the user that mapped, in VmPin and in the context's fdinfo, when it is
 * pinned, once however often it is copied, and given back on unmap.
 */
TEST(accounting)
{
	pid_t pid = fork();

	ASSERT_LE(0, pid);
	if (!pid) {
		const struct iommu_iova_range aperture = {
			.start = MOCK_APERTURE_START,
			.last = MOCK_APERTURE_LAST,
		};
		__u32 ioas_id, ioas2_id, stdev_id;
		__u64 iova, iova2, copy;
		int fd, mfd, rc;

		fd = open("/dev/iommu", O_RDWR);
		ASSERT_LE(0, fd);
		mfd = make_file(FILE_MEMFD, 2 * LIMIT_PAGES * page_size);
		ASSERT_LE(0, mfd);
		test_become(_metadata, 20000 + getpid(), LIMIT_PAGES);
		ASSERT_EQ(0, _test_ioctl_ioas_alloc(fd, &ioas_id));
		ASSERT_EQ(0, _test_ioctl_ioas_allow_iovas(fd, ioas_id,
							  &aperture, 1));

		/* No domain: nothing pinned, nothing charged. */
		ASSERT_EQ(0, _test_ioctl_ioas_map_file(fd, ioas_id, mfd, 0,
						       LIMIT_PAGES * page_size,
						       &iova, TEST_MAP_RW));
		ASSERT_EQ(0, vm_pin_pages());
		ASSERT_EQ(0, fdinfo_num(fd, "pinned-pages:\t"));
		/* The first domain charges it all. */
		ASSERT_EQ(0, _test_cmd_mock_domain(fd, ioas_id, &stdev_id, NULL,
						   NULL));
		ASSERT_EQ(LIMIT_PAGES, vm_pin_pages());
		ASSERT_EQ(LIMIT_PAGES, fdinfo_num(fd, "pinned-pages:\t"));
		ASSERT_EQ(LIMIT_PAGES, fdinfo_num(fd, "charged-pages:\t"));
		/* Not a page more, of the file or of user memory. */
		EXPECT_ERRNO(ENOMEM, _test_ioctl_ioas_map_file(fd, ioas_id, mfd,
							       LIMIT_PAGES *
								       page_size,
							       page_size,
							       &iova2,
							       TEST_MAP_RW));
		/* A copy is not charged again. */
		ASSERT_EQ(0, _test_ioctl_ioas_alloc(fd, &ioas2_id));
		ASSERT_EQ(0, _test_ioctl_ioas_copy(fd, ioas2_id, ioas_id, iova,
						   LIMIT_PAGES * page_size,
						   &copy, TEST_MAP_RW));
		ASSERT_EQ(LIMIT_PAGES, vm_pin_pages());
		/* The domain goes: the charge goes with it. */
		ASSERT_EQ(0, _test_ioctl_destroy(fd, stdev_id));
		ASSERT_EQ(0, vm_pin_pages());
		ASSERT_EQ(0, fdinfo_num(fd, "pinned-pages:\t"));
		ASSERT_EQ(0, fdinfo_num(fd, "charged-pages:\t"));

		/* With a domain a map is charged at once, to the page. */
		ASSERT_EQ(0, _test_ioctl_ioas_unmap(fd, ioas_id, 0, UINT64_MAX,
						    NULL));
		ASSERT_EQ(0, _test_cmd_mock_domain(fd, ioas_id, &stdev_id, NULL,
						   NULL));
		rc = _test_ioctl_ioas_map_file(fd, ioas_id, mfd, 0,
					       (LIMIT_PAGES + 1) * page_size,
					       &iova, TEST_MAP_RW);
		EXPECT_ERRNO(ENOMEM, rc);
		ASSERT_EQ(0, vm_pin_pages());
		ASSERT_EQ(0, _test_ioctl_ioas_map_file(fd, ioas_id, mfd,
						       page_size,
						       (LIMIT_PAGES - 1) *
							       page_size,
						       &iova, TEST_MAP_RW));
		ASSERT_EQ(LIMIT_PAGES - 1, vm_pin_pages());
		ASSERT_EQ(LIMIT_PAGES - 1, fdinfo_num(fd, "pinned-pages:\t"));
		ASSERT_EQ(0, _test_ioctl_ioas_unmap(fd, ioas_id, iova,
						    (LIMIT_PAGES - 1) *
							    page_size,
						    NULL));
		ASSERT_EQ(0, vm_pin_pages());
		ASSERT_EQ(0, fdinfo_num(fd, "pinned-pages:\t"));
		close(mfd);
		close(fd);
		_exit(_metadata->passed ? 0 : 1);
	}
	wait_child(_metadata, pid);
}

TEST_HARNESS_MAIN
