// SPDX-License-Identifier: GPL-2.0-only
/*
 * The in-kernel access API of include/linux/iommufd.h, as the driver of an
 * emulated device uses it, driven through the IOMMU_TEST_CMD operations:
 *
 *  - IOMMU_TEST_OP_CREATE_ACCESS makes an access on an IOAS and hands it
 *    to userspace as a file descriptor; closing it destroys the access.
 *    The access holds its IOAS and its context.
 *  - IOMMU_TEST_OP_ACCESS_PAGES pins the pages behind a range of IOVA, as
 *    iommufd_access_pin_pages() does for a driver, and checks they are the
 *    pages of the memory the test names; DESTROY_ACCESS_PAGES unpins them.
 *    Unmapping pinned IOVA asks the access to unpin it first (its unmap
 *    op), so the unmap goes through and the pin is gone.
 *  - IOMMU_TEST_OP_ACCESS_RW copies between a buffer of the test and the
 *    memory behind a range of IOVA, as iommufd_access_rw() does.
 *  - IOMMU_TEST_OP_ACCESS_REPLACE_IOAS moves an access to another IOAS.
 *
 * An access pins the memory of a map whole, as a domain does, and
 * IOMMU_TEST_OP_MD_CHECK_REFS counts each pinned map once. Every test runs
 * on an IOAS without a domain, where nothing but the access pins, and on
 * one with a mock domain, where the map is pinned already.
 *
 * The sub_page tests map one IOVA page as two halves of two different
 * pages of memory, which only an IOAS without a domain allows. An access
 * that may pin cannot attach to it (EADDRINUSE): no list of pages can say
 * what is behind that IOVA page, so while such an access is attached its
 * IOAS maps whole CPU pages only. Reads and writes, byte by byte, go to
 * both halves. A copy of it into an IOAS with a domain, which maps whole
 * pages, is refused too.
 */
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>

#include "iommufd_utils.h"

#define BUF_PAGES 8
#define NEEDS_PIN MOCK_FLAGS_ACCESS_CREATE_NEEDS_PIN_PAGES
#define SLOW MOCK_ACCESS_RW_SLOW_PATH
/* More than the test operations take in one call. */
#define TOO_LONG ((16UL << 20) + 1)
#define MAX_ACCESSES 4

static unsigned long page_size;
static size_t buf_size;

static __attribute__((constructor)) void setup_sizes(void)
{
	page_size = sysconf(_SC_PAGE_SIZE);
	buf_size = BUF_PAGES * page_size;
}

/* Bytes that differ from seed to seed and from page to page. */
static void fill_pattern(char *p, size_t length, unsigned int seed)
{
	size_t i;

	for (i = 0; i != length; i++)
		p[i] = i * 31 + seed * 101 + i / page_size;
}

/* Written memory of that many bytes. */
static char *alloc_buffer(struct __test_metadata *_metadata, size_t length,
			  unsigned int seed)
{
	char *p;

	p = mmap(NULL, length, PROT_READ | PROT_WRITE,
		 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, p);
	fill_pattern(p, length, seed);
	return p;
}

static int map_read_only(int fd, __u32 ioas_id, void *buf, size_t length,
			 __u64 iova)
{
	return _test_ioctl_ioas_map(fd, ioas_id, buf, length, &iova,
				    IOMMU_IOAS_MAP_FIXED_IOVA |
					    IOMMU_IOAS_MAP_READABLE);
}

static int map_write_only(int fd, __u32 ioas_id, void *buf, size_t length,
			  __u64 iova)
{
	return _test_ioctl_ioas_map(fd, ioas_id, buf, length, &iova,
				    IOMMU_IOAS_MAP_FIXED_IOVA |
					    IOMMU_IOAS_MAP_WRITEABLE);
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

/* The accesses a test made; -1 for those it closed already. */
struct access_fds {
	int fds[MAX_ACCESSES];
	unsigned int num;
};

/* An access on ioas_id, that the teardown closes if the test does not. */
static int new_access(struct __test_metadata *_metadata, int fd,
		      struct access_fds *accesses, __u32 ioas_id, __u32 flags)
{
	int access_fd;

	ASSERT_GT(MAX_ACCESSES, accesses->num);
	ASSERT_EQ(0, _test_cmd_create_access(fd, ioas_id, flags, &access_fd));
	ASSERT_LE(0, access_fd);
	ASSERT_NE(fd, access_fd);
	accesses->fds[accesses->num++] = access_fd;
	return access_fd;
}

static void close_access(struct __test_metadata *_metadata,
			 struct access_fds *accesses, int access_fd)
{
	unsigned int i;

	for (i = 0; i != accesses->num; i++) {
		if (accesses->fds[i] != access_fd)
			continue;
		accesses->fds[i] = -1;
		ASSERT_EQ(0, close(access_fd));
		return;
	}
	ASSERT_TRUE(false);
}

/* For teardowns: nothing but close(). */
static void close_all_accesses(struct access_fds *accesses)
{
	unsigned int i;

	for (i = 0; i != accesses->num; i++)
		if (accesses->fds[i] >= 0)
			close(accesses->fds[i]);
}

#define create_access(ioas_id, flags) \
	new_access(_metadata, self->fd, &self->accesses, ioas_id, flags)
#define destroy_access(access_fd) \
	close_access(_metadata, &self->accesses, access_fd)

/*
 * One IOAS with buf mapped read/write at base, and, in the mock_domain
 * variant, a mock device attached to it.
 */
FIXTURE(access)
{
	int fd;
	__u32 ioas_id;
	/* The mock device that gives the IOAS its domain, or 0. */
	__u32 stdev_id;
	char *buf;
	__u64 base;
	/* What MD_CHECK_REFS says for buf before any access pins it. */
	unsigned int mapped_refs;
	struct access_fds accesses;
};

FIXTURE_VARIANT(access)
{
	bool domain;
};

FIXTURE_VARIANT_ADD(access, no_domain)
{
	.domain = false,
};

FIXTURE_VARIANT_ADD(access, mock_domain)
{
	.domain = true,
};

FIXTURE_SETUP(access)
{
	self->buf = alloc_buffer(_metadata, buf_size, 1);
	self->base = MOCK_APERTURE_START;
	self->fd = open("/dev/iommu", O_RDWR);
	ASSERT_LE(0, self->fd);
	test_ioctl_ioas_alloc(&self->ioas_id);
	if (variant->domain)
		test_cmd_mock_domain(self->ioas_id, &self->stdev_id, NULL,
				     NULL);
	test_ioctl_ioas_map_fixed(self->ioas_id, self->buf, buf_size,
				  self->base);
	self->mapped_refs = variant->domain;
}

/*
 * EXPECT only in teardowns: an ASSERT here after a failed test would
 * jump back into the teardown for ever (the 6.1 harness).
 */
FIXTURE_TEARDOWN(access)
{
	close_all_accesses(&self->accesses);
	close(self->fd);
	/* The accesses and the context took every pin with them. */
	expect_unpinned(_metadata, self->buf, buf_size);
	munmap(self->buf, buf_size);
}

/* Take the mock device, and with it the domain, off the IOAS. */
#define remove_domain()                                 \
	({                                              \
		if (self->stdev_id)                     \
			test_ioctl_destroy(self->stdev_id); \
		self->stdev_id = 0;                     \
		self->mapped_refs = 0;                  \
	})

/*
 * Pages [first, first + n) of the fixture's buffer hold a pin (one, as
 * pins share pages), and the other pages only what the map itself holds:
 * an access pin pins the pages it asked for, not the rest of its map.
 */
#define check_pinned_pages(first, n)                                          \
	({                                                                     \
		size_t __from = (first) * page_size;                           \
		size_t __to = __from + (n) * page_size;                        \
									       \
		if (__from)                                                    \
			check_refs(self->buf, __from, self->mapped_refs);      \
		check_refs(self->buf + __from, __to - __from, 1);              \
		if (__to != buf_size)                                          \
			check_refs(self->buf + __to, buf_size - __to,          \
				   self->mapped_refs);                         \
	})

TEST_F(access, create_and_close)
{
	int plain, pinning;
	__u32 pages_id;

	plain = create_access(self->ioas_id, 0);
	pinning = create_access(self->ioas_id, NEEDS_PIN);
	ASSERT_NE(plain, pinning);
	ASSERT_EQ(FD_CLOEXEC, fcntl(pinning, F_GETFD) & FD_CLOEXEC);

	/* An IOAS with an access on it cannot go. */
	EXPECT_ERRNO(EBUSY, _test_ioctl_destroy(self->fd, self->ioas_id));

	/* Closing an access with pins held drops them. */
	test_cmd_access_pages(pinning, self->base, buf_size, self->buf,
			      MOCK_FLAGS_ACCESS_WRITE, &pages_id);
	check_refs(self->buf, buf_size, 1);
	destroy_access(pinning);
	check_refs(self->buf, buf_size, self->mapped_refs);
	EXPECT_ERRNO(EBUSY, _test_ioctl_destroy(self->fd, self->ioas_id));

	destroy_access(plain);
	remove_domain();
	test_ioctl_destroy(self->ioas_id);
}

TEST_F(access, create_bad_input)
{
	const __u32 bad_flags[] = { 1U << 1, 1U << 16, 1U << 31 };
	__u32 gone;
	unsigned int i;
	int access_fd;

	for (i = 0; i != ARRAY_SIZE(bad_flags); i++)
		EXPECT_ERRNO(EOPNOTSUPP,
			     _test_cmd_create_access(self->fd, self->ioas_id,
						     bad_flags[i], &access_fd));

	/* Only an IOAS will do. */
	test_ioctl_ioas_alloc(&gone);
	test_ioctl_destroy(gone);
	EXPECT_ERRNO(ENOENT, _test_cmd_create_access(self->fd, 0, NEEDS_PIN,
						     &access_fd));
	EXPECT_ERRNO(ENOENT, _test_cmd_create_access(self->fd, gone, 0,
						     &access_fd));
	EXPECT_ERRNO(ENOENT, _test_cmd_create_access(self->fd, UINT32_MAX, 0,
						     &access_fd));
	if (self->stdev_id)
		EXPECT_ERRNO(ENOENT,
			     _test_cmd_create_access(self->fd, self->stdev_id,
						     0, &access_fd));

	/* No failure left an access holding the IOAS. */
	remove_domain();
	test_ioctl_destroy(self->ioas_id);
}

TEST_F(access, pin_pages)
{
	__u32 all, part;
	int access_fd;

	access_fd = create_access(self->ioas_id, NEEDS_PIN);
	check_refs(self->buf, buf_size, self->mapped_refs);

	/* All of it for writing; any part, even from inside a page. */
	test_cmd_access_pages(access_fd, self->base, buf_size, self->buf,
			      MOCK_FLAGS_ACCESS_WRITE, &all);
	test_cmd_access_pages(access_fd, self->base + page_size + 100,
			      page_size, self->buf + page_size + 100, 0, &part);
	ASSERT_NE(all, part);
	/* The map is pinned once, however many pins and domains use it. */
	check_refs(self->buf, buf_size, 1);

	test_cmd_destroy_access_pages(access_fd, all);
	/* What stays pinned is the two pages the other pin touches. */
	check_pinned_pages(1, 2);
	EXPECT_ERRNO(ENOENT,
		     _test_cmd_destroy_access_pages(self->fd, access_fd, all));
	test_cmd_destroy_access_pages(access_fd, part);
	check_refs(self->buf, buf_size, self->mapped_refs);
	EXPECT_ERRNO(ENOENT,
		     _test_cmd_destroy_access_pages(self->fd, access_fd, part));
	EXPECT_ERRNO(ENOENT, _test_cmd_destroy_access_pages(self->fd, access_fd,
							    part + 1000));

	/* The last page, alone. */
	test_cmd_access_pages(access_fd, self->base + buf_size - page_size,
			      page_size, self->buf + buf_size - page_size,
			      MOCK_FLAGS_ACCESS_WRITE, &part);
	check_pinned_pages(BUF_PAGES - 1, 1);
	test_cmd_destroy_access_pages(access_fd, part);
	check_refs(self->buf, buf_size, self->mapped_refs);
	destroy_access(access_fd);
}

TEST_F(access, pin_pages_bad_input)
{
	const __u64 ro_iova = self->base + 2 * buf_size;
	const __u64 wo_iova = self->base + 4 * buf_size;
	const __u64 base = self->base;
	char *buf = self->buf;
	int plain, access_fd;
	int pipe_fds[2];
	__u32 pages_id;

	plain = create_access(self->ioas_id, 0);
	access_fd = create_access(self->ioas_id, NEEDS_PIN);

	/* An access made without needs_pin_pages may not pin. */
	EXPECT_ERRNO(EOPNOTSUPP, _test_cmd_access_pages(self->fd, plain, base,
							page_size, buf, 0,
							NULL));

	/* Descriptors that are no access. */
	ASSERT_EQ(0, pipe(pipe_fds));
	EXPECT_ERRNO(EBADF, _test_cmd_access_pages(self->fd, self->fd, base,
						   page_size, buf, 0, NULL));
	EXPECT_ERRNO(EBADF, _test_cmd_access_pages(self->fd, pipe_fds[0], base,
						   page_size, buf, 0, NULL));
	EXPECT_ERRNO(EBADF, _test_cmd_access_pages(self->fd, -1, base,
						   page_size, buf, 0, NULL));
	close(pipe_fds[0]);
	close(pipe_fds[1]);

	/* Ranges not mapped in full: after, across either end, before. */
	EXPECT_ERRNO(ENOENT,
		     _test_cmd_access_pages(self->fd, access_fd,
					    base + buf_size, page_size,
					    buf, 0, NULL));
	EXPECT_ERRNO(ENOENT,
		     _test_cmd_access_pages(self->fd, access_fd,
					    base + buf_size - page_size,
					    2 * page_size,
					    buf + buf_size - page_size, 0,
					    NULL));
	EXPECT_ERRNO(ENOENT, _test_cmd_access_pages(self->fd, access_fd,
						    base - page_size,
						    2 * page_size, buf, 0,
						    NULL));
	EXPECT_ERRNO(ENOENT, _test_cmd_access_pages(self->fd, access_fd, 0,
						    page_size, buf, 0, NULL));

	/* Nothing, too much, and flags no one knows. */
	EXPECT_ERRNO(EINVAL, _test_cmd_access_pages(self->fd, access_fd, base,
						    0, buf, 0, NULL));
	EXPECT_ERRNO(ENOMEM, _test_cmd_access_pages(self->fd, access_fd, base,
						    TOO_LONG, buf, 0, NULL));
	EXPECT_ERRNO(EOPNOTSUPP, _test_cmd_access_pages(self->fd, access_fd,
							base, page_size, buf,
							1U << 1, NULL));

	/* Pages that are not those of the memory named: upstream's EBADE. */
	EXPECT_ERRNO(EBADE, _test_cmd_access_pages(self->fd, access_fd, base,
						   page_size, buf + page_size,
						   0, NULL));
	EXPECT_ERRNO(EBADE, _test_cmd_access_pages(self->fd, access_fd, base,
						   page_size, buf + 8, 0,
						   NULL));
	/* A range past the end of the IOVA space. */
	EXPECT_ERRNO(EOVERFLOW, _test_cmd_access_pages(self->fd, access_fd,
						       UINT64_MAX - page_size + 2,
						       page_size, NULL, 0,
						       NULL));

	/* Memory mapped read-only may be pinned, but not for writing. */
	ASSERT_EQ(0, map_read_only(self->fd, self->ioas_id, buf, buf_size,
				   ro_iova));
	EXPECT_ERRNO(EPERM, _test_cmd_access_pages(self->fd, access_fd,
						   ro_iova, page_size, buf,
						   MOCK_FLAGS_ACCESS_WRITE,
						   NULL));
	test_cmd_access_pages(access_fd, ro_iova, page_size, buf, 0,
			      &pages_id);
	test_cmd_destroy_access_pages(access_fd, pages_id);

	/* Memory mapped write-only may be pinned for writing only. */
	ASSERT_EQ(0, map_write_only(self->fd, self->ioas_id, buf, buf_size,
				    wo_iova));
	EXPECT_ERRNO(EPERM, _test_cmd_access_pages(self->fd, access_fd,
						   wo_iova, page_size, buf, 0,
						   NULL));
	test_cmd_access_pages(access_fd, wo_iova, page_size, buf,
			      MOCK_FLAGS_ACCESS_WRITE, &pages_id);
	test_cmd_destroy_access_pages(access_fd, pages_id);

	/* None of the failures left a pin: each map counts only if mapped. */
	check_refs(buf, buf_size, 3 * self->mapped_refs);
	destroy_access(access_fd);
	destroy_access(plain);
}

/*
 * A pin over several areas: each area's part is pinned before the lock
 * and taken over under it. If a later area refuses, what the earlier ones
 * took must be given back, and nothing may stay pinned twice or not at all.
 */
TEST_F(access, pin_across_areas)
{
	const size_t half = buf_size / 2;
	const __u64 rw = self->base + 4 * buf_size, ro = rw + half;
	const size_t at = half - page_size;
	const unsigned int mapped = 2 * self->mapped_refs;
	__u32 pages_id;
	int access_fd;

	/* buf once more: its first half writable, then its second read-only */
	test_ioctl_ioas_map_fixed(self->ioas_id, self->buf, half, rw);
	ASSERT_EQ(0, map_read_only(self->fd, self->ioas_id, self->buf + half,
				   half, ro));
	access_fd = create_access(self->ioas_id, NEEDS_PIN);
	check_refs(self->buf, buf_size, mapped);

	/* The second area refuses a write: the first gives its pin back. */
	EXPECT_ERRNO(EPERM, _test_cmd_access_pages(self->fd, access_fd,
						   rw + at, 2 * page_size,
						   self->buf + at,
						   MOCK_FLAGS_ACCESS_WRITE,
						   NULL));
	check_refs(self->buf, buf_size, mapped);

	/* A read pins a page in each; the new maps each pin theirs once. */
	test_cmd_access_pages(access_fd, rw + at, 2 * page_size,
			      self->buf + at, 0, &pages_id);
	check_refs(self->buf, at, mapped);
	check_refs(self->buf + at, 2 * page_size, self->mapped_refs + 1);
	check_refs(self->buf + half + page_size, half - page_size, mapped);
	test_cmd_destroy_access_pages(access_fd, pages_id);
	check_refs(self->buf, buf_size, mapped);

	/* Not mapped in full past the end of the second: nothing pinned. */
	EXPECT_ERRNO(ENOENT, _test_cmd_access_pages(self->fd, access_fd,
						    rw + at, half + 2 * page_size,
						    self->buf + at, 0, NULL));
	check_refs(self->buf, buf_size, mapped);

	/* All of both areas, twice over: one pin each per page. */
	test_cmd_access_pages(access_fd, rw, buf_size, self->buf, 0, &pages_id);
	check_refs(self->buf, buf_size, self->mapped_refs + 1);
	test_cmd_destroy_access_pages(access_fd, pages_id);
	check_refs(self->buf, buf_size, mapped);
	destroy_access(access_fd);
	test_ioctl_ioas_unmap(self->ioas_id, rw, buf_size);
	check_refs(self->buf, buf_size, self->mapped_refs);
}

TEST_F(access, unmap_drops_pins)
{
	const size_t half = buf_size / 2;
	const __u64 base = self->base;
	char *buf = self->buf;
	__u32 whole, first, second, across;
	int access_fd;

	access_fd = create_access(self->ioas_id, NEEDS_PIN);

	/* The unmap op drops the pin, so unmap goes through at once. */
	test_cmd_access_pages(access_fd, base, buf_size, buf,
			      MOCK_FLAGS_ACCESS_WRITE, &whole);
	check_refs(buf, buf_size, 1);
	test_ioctl_ioas_unmap(self->ioas_id, base, buf_size);
	check_refs(buf, buf_size, 0);
	EXPECT_ERRNO(ENOENT,
		     _test_cmd_destroy_access_pages(self->fd, access_fd, whole));

	/* Two areas side by side; pins in one, in the other, across both. */
	test_ioctl_ioas_map_fixed(self->ioas_id, buf, half, base);
	test_ioctl_ioas_map_fixed(self->ioas_id, buf + half, half, base + half);
	check_refs(buf, buf_size, self->mapped_refs);
	test_cmd_access_pages(access_fd, base, page_size, buf, 0, &first);
	test_cmd_access_pages(access_fd, base + half, page_size, buf + half, 0,
			      &second);
	test_cmd_access_pages(access_fd, base + half - page_size,
			      2 * page_size, buf + half - page_size, 0,
			      &across);
	check_refs(buf, page_size, 1);
	check_refs(buf + page_size, half - 2 * page_size, self->mapped_refs);
	check_refs(buf + half - page_size, 2 * page_size, 1);
	check_refs(buf + half + page_size, half - page_size,
		   self->mapped_refs);

	/* Unmapping the second area drops the pins that touch it, only. */
	test_ioctl_ioas_unmap(self->ioas_id, base + half, half);
	check_refs(buf, page_size, 1);
	check_refs(buf + page_size, half - page_size, self->mapped_refs);
	check_refs(buf + half, half, 0);
	EXPECT_ERRNO(ENOENT, _test_cmd_destroy_access_pages(self->fd,
							    access_fd, second));
	EXPECT_ERRNO(ENOENT, _test_cmd_destroy_access_pages(self->fd,
							    access_fd, across));
	test_cmd_destroy_access_pages(access_fd, first);
	check_refs(buf, half, self->mapped_refs);

	test_ioctl_ioas_unmap_all(self->ioas_id, half);
	destroy_access(access_fd);
}

TEST_F(access, unmap_many_pinned_areas)
{
	const __u64 first = self->base + 2 * buf_size;
	const unsigned int num = 2 * BUF_PAGES + 4;
	__u32 pages_id;
	unsigned int i;
	int access_fd;

	/* Areas of a page each, every one pinned by a pin of its own. */
	access_fd = create_access(self->ioas_id, NEEDS_PIN);
	for (i = 0; i != num; i++) {
		char *page = self->buf + (i % BUF_PAGES) * page_size;
		__u64 iova = first + i * page_size;

		test_ioctl_ioas_map_fixed(self->ioas_id, page, page_size, iova);
		test_cmd_access_pages(access_fd, iova, page_size, page, 0,
				      &pages_id);
	}

	/* One unmap has the access drop them one area after another. */
	test_ioctl_ioas_unmap(self->ioas_id, first, num * page_size);
	EXPECT_ERRNO(ENOENT, _test_cmd_destroy_access_pages(self->fd, access_fd,
							    pages_id));
	check_refs(self->buf, buf_size, self->mapped_refs);
	destroy_access(access_fd);
}

/* What the closer thread of close_races_unmap shares with the test. */
struct closer {
	int fd;
	__u32 ioas_id;
	__u64 iova;
	const char *buf;
	bool stop;
	unsigned int rounds;
	unsigned int pinned;
	int error;
};

/* Make an access, pin a page through it and close it with the pin. */
static void *closer_thread(void *arg)
{
	struct closer *c = arg;
	int access_fd;
	__u32 id;

	while (!__atomic_load_n(&c->stop, __ATOMIC_ACQUIRE)) {
		if (_test_cmd_create_access(c->fd, c->ioas_id, NEEDS_PIN,
					    &access_fd)) {
			__atomic_store_n(&c->error, errno, __ATOMIC_RELEASE);
			break;
		}
		/* Refused while the page is being unmapped or not mapped. */
		if (!_test_cmd_access_pages(c->fd, access_fd, c->iova, page_size,
					    c->buf, 0, &id))
			c->pinned++;
		else if (errno != EINVAL && errno != ENOENT)
			__atomic_store_n(&c->error, errno, __ATOMIC_RELEASE);
		close(access_fd);
		c->rounds++;
	}
	return NULL;
}

/* Seconds since an arbitrary start, for tests that run for a while. */
static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

/*
 * Closing an access with pins races unmaps of what it pins: the unmap may
 * come while the access is being destroyed. It must still have the pins
 * dropped and unmap, never give up with EBUSY. 3000 rounds or 5 seconds,
 * whichever ends first (the KASAN kernel under TCG is slow).
 */
TEST_F_TIMEOUT(access, close_races_unmap, 120)
{
	struct closer c = {
		.fd = self->fd,
		.ioas_id = self->ioas_id,
		.iova = self->base,
		.buf = self->buf,
	};
	unsigned int unmaps = 0;
	int unmap_err = 0;
	pthread_t thread;
	__u64 unmapped;
	double end;

	ASSERT_EQ(0, pthread_create(&thread, NULL, closer_thread, &c));
	end = now_s() + 5;
	while (unmaps < 3000 && now_s() < end &&
	       !__atomic_load_n(&c.error, __ATOMIC_ACQUIRE)) {
		unmapped = 0;
		if (_test_ioctl_ioas_unmap(self->fd, self->ioas_id, self->base,
					   buf_size, &unmapped)) {
			unmap_err = errno;
			break;
		}
		ASSERT_EQ(buf_size, unmapped);
		test_ioctl_ioas_map_fixed(self->ioas_id, self->buf, buf_size,
					  self->base);
		unmaps++;
	}
	__atomic_store_n(&c.stop, true, __ATOMIC_RELEASE);
	ASSERT_EQ(0, pthread_join(thread, NULL));
	TH_LOG("%u unmaps, %u accesses closed, %u of them with a pin",
	       unmaps, c.rounds, c.pinned);
	ASSERT_EQ(0, unmap_err);
	ASSERT_EQ(0, c.error);
	check_refs(self->buf, buf_size, self->mapped_refs);
}

TEST_F(access, refused_unmap_keeps_access)
{
	const size_t half = buf_size / 2;
	const __u64 base = self->base;
	__u32 pages_id;
	int access_fd;
	char *tmp;

	tmp = malloc(buf_size);
	ASSERT_NE(NULL, tmp);
	test_ioctl_ioas_unmap(self->ioas_id, base, buf_size);
	test_ioctl_ioas_map_fixed(self->ioas_id, self->buf, half, base);
	test_ioctl_ioas_map_fixed(self->ioas_id, self->buf + half, half,
				  base + half);
	access_fd = create_access(self->ioas_id, NEEDS_PIN);
	test_cmd_access_pages(access_fd, base, page_size, self->buf, 0,
			      &pages_id);

	/*
	 * An unmap that would cut the second area unmaps nothing. The
	 * access may have been asked to unpin the first one meanwhile, but
	 * both areas stay mapped and usable through it.
	 */
	EXPECT_ERRNO(ENOENT,
		     _test_ioctl_ioas_unmap(self->fd, self->ioas_id, base,
					    half + page_size, NULL));
	test_cmd_access_rw(access_fd, base, buf_size, tmp, 0);
	ASSERT_EQ(0, memcmp(tmp, self->buf, buf_size));
	test_cmd_access_pages(access_fd, base, buf_size, self->buf, 0,
			      &pages_id);
	test_cmd_destroy_access_pages(access_fd, pages_id);

	test_ioctl_ioas_unmap_all(self->ioas_id, buf_size);
	destroy_access(access_fd);
	free(tmp);
}

TEST_F(access, pins_outlast_domains)
{
	__u32 pages_id, hwpt_id;
	int access_fd;

	/* One page pinned by the access holds that page, not its map. */
	access_fd = create_access(self->ioas_id, NEEDS_PIN);
	test_cmd_access_pages(access_fd, self->base + page_size, page_size,
			      self->buf + page_size, 0, &pages_id);
	check_pinned_pages(1, 1);

	/* A domain coming or going does not change that. */
	if (self->stdev_id) {
		remove_domain();
	} else {
		test_cmd_mock_domain(self->ioas_id, &self->stdev_id, &hwpt_id,
				     NULL);
		check_mock_map(hwpt_id, self->base, buf_size, self->buf);
		self->mapped_refs = 1;
	}
	check_pinned_pages(1, 1);

	test_cmd_destroy_access_pages(access_fd, pages_id);
	check_refs(self->buf, buf_size, self->mapped_refs);
	destroy_access(access_fd);
}

TEST_F(access, close_context_first)
{
	__u32 pages_id;
	int access_fd;
	char *tmp;

	tmp = malloc(buf_size);
	ASSERT_NE(NULL, tmp);
	access_fd = create_access(self->ioas_id, NEEDS_PIN);
	test_cmd_access_pages(access_fd, self->base, buf_size, self->buf, 0,
			      &pages_id);

	/*
	 * The access keeps its context alive. Its operations name it by
	 * its descriptor, so another context can issue them.
	 */
	ASSERT_EQ(0, close(self->fd));
	self->fd = open("/dev/iommu", O_RDWR);
	ASSERT_LE(0, self->fd);
	check_refs(self->buf, buf_size, 1);
	test_cmd_access_rw(access_fd, self->base, buf_size, tmp, 0);
	ASSERT_EQ(0, memcmp(tmp, self->buf, buf_size));
	test_cmd_destroy_access_pages(access_fd, pages_id);
	test_cmd_access_pages(access_fd, self->base, buf_size, self->buf, 0,
			      &pages_id);

	/* Closing the access ends it and the context, with every pin. */
	destroy_access(access_fd);
	check_refs(self->buf, buf_size, 0);
	free(tmp);
}

/*
 * Reads and writes at offsets around page boundaries, of lengths from one
 * byte to more than two pages, fast and slow, checked against a copy of
 * what buf should hold. 'pinned' adds an access pin on the whole map, so
 * that the copies without a domain go through pinned pages as well.
 */
static void check_rw_sweep(struct __test_metadata *_metadata, int fd,
			   int access_fd, __u64 base, char *buf, char *shadow)
{
	const size_t offsets[] = {
		0, 1, page_size - 3, page_size, 3 * page_size + 5,
	};
	const size_t lengths[] = {
		1, 3, page_size - 1, page_size + 2, 2 * page_size + 1,
	};
	unsigned int o, l, slow, seed = 100;
	char *tmp;

	tmp = malloc(buf_size);
	ASSERT_NE(NULL, tmp);
	for (o = 0; o != ARRAY_SIZE(offsets); o++) {
		for (l = 0; l != ARRAY_SIZE(lengths); l++) {
			size_t offset = offsets[o], length = lengths[l];

			for (slow = 0; slow <= SLOW; slow += SLOW) {
				__u32 write = MOCK_ACCESS_RW_WRITE | slow;

				memset(tmp, 0, length);
				ASSERT_EQ(0, _test_cmd_access_rw(fd, access_fd,
								 base + offset,
								 length, tmp,
								 slow));
				ASSERT_EQ(0,
					  memcmp(tmp, shadow + offset, length));

				fill_pattern(tmp, length, seed++);
				ASSERT_EQ(0, _test_cmd_access_rw(fd, access_fd,
								 base + offset,
								 length, tmp,
								 write));
				memcpy(shadow + offset, tmp, length);
				ASSERT_EQ(0, memcmp(buf, shadow, buf_size));
			}
		}
	}
	free(tmp);
}

TEST_F(access, rw)
{
	int plain, pinning;
	__u32 pages_id;
	char *shadow;

	shadow = malloc(buf_size);
	ASSERT_NE(NULL, shadow);
	memcpy(shadow, self->buf, buf_size);

	/* Copying needs no needs_pin_pages. */
	plain = create_access(self->ioas_id, 0);
	check_rw_sweep(_metadata, self->fd, plain, self->base, self->buf,
		       shadow);
	check_refs(self->buf, buf_size, self->mapped_refs);

	/* And works the same while the memory is pinned for an access. */
	pinning = create_access(self->ioas_id, NEEDS_PIN);
	test_cmd_access_pages(pinning, self->base, buf_size, self->buf, 0,
			      &pages_id);
	check_rw_sweep(_metadata, self->fd, plain, self->base, self->buf,
		       shadow);
	check_refs(self->buf, buf_size, 1);
	test_cmd_destroy_access_pages(pinning, pages_id);
	check_refs(self->buf, buf_size, self->mapped_refs);

	destroy_access(pinning);
	destroy_access(plain);
	free(shadow);
}

TEST_F(access, rw_two_areas)
{
	const size_t half = buf_size / 2;
	const __u64 base = self->base;
	char *buf = self->buf;
	unsigned int slow;
	int access_fd;
	char tmp[20];
	char *all;

	/* IOVA order is memory order swapped: the second half comes first. */
	test_ioctl_ioas_unmap(self->ioas_id, base, buf_size);
	test_ioctl_ioas_map_fixed(self->ioas_id, buf + half, half, base);
	test_ioctl_ioas_map_fixed(self->ioas_id, buf, half, base + half);
	access_fd = create_access(self->ioas_id, 0);
	all = malloc(buf_size);
	ASSERT_NE(NULL, all);

	for (slow = 0; slow <= SLOW; slow += SLOW) {
		/* Across the boundary: the end of buf, then its start. */
		test_cmd_access_rw(access_fd, base + half - 10, sizeof(tmp),
				   tmp, slow);
		ASSERT_EQ(0, memcmp(tmp, buf + buf_size - 10, 10));
		ASSERT_EQ(0, memcmp(tmp + 10, buf, 10));

		fill_pattern(tmp, sizeof(tmp), 7 + slow);
		test_cmd_access_rw(access_fd, base + half - 10, sizeof(tmp),
				   tmp, MOCK_ACCESS_RW_WRITE | slow);
		ASSERT_EQ(0, memcmp(buf + buf_size - 10, tmp, 10));
		ASSERT_EQ(0, memcmp(buf, tmp + 10, 10));

		/* Both areas whole. */
		test_cmd_access_rw(access_fd, base, buf_size, all, slow);
		ASSERT_EQ(0, memcmp(all, buf + half, half));
		ASSERT_EQ(0, memcmp(all + half, buf, half));
	}
	destroy_access(access_fd);
	free(all);
}

/* syzkaller's form of an IOVA: the nth area of the IOAS, an offset in it. */
static __u64 syz_iova(__u32 nth_area, __u32 offset)
{
	struct {
		__u32 nth_area;
		__u32 offset;
	} layout = { nth_area, offset };
	__u64 iova;

	memcpy(&iova, &layout, sizeof(iova));
	return iova;
}

/*
 * MOCK_FLAGS_ACCESS_SYZ: upstream's test interface lets syzkaller name an
 * IOVA by area and offset, in ACCESS_RW, ACCESS_PAGES and IOAS_COPY.
 */
TEST_F(access, syzkaller_iovas)
{
	const size_t half = buf_size / 2;
	const __u64 base = self->base;
	char *buf = self->buf;
	__u32 pages_id, ioas2;
	__u64 dst = base;
	int access_fd;
	char tmp[16];

	/* Area 0 maps the second half of buf, area 1 the first. */
	test_ioctl_ioas_unmap(self->ioas_id, base, buf_size);
	test_ioctl_ioas_map_fixed(self->ioas_id, buf + half, half, base);
	test_ioctl_ioas_map_fixed(self->ioas_id, buf, half, base + half);
	access_fd = create_access(self->ioas_id,
				  MOCK_FLAGS_ACCESS_CREATE_NEEDS_PIN_PAGES);

	test_cmd_access_rw(access_fd, syz_iova(1, 8), sizeof(tmp), tmp,
			   MOCK_FLAGS_ACCESS_SYZ);
	ASSERT_EQ(0, memcmp(tmp, buf + 8, sizeof(tmp)));
	test_cmd_access_rw(access_fd, syz_iova(0, 8), sizeof(tmp), tmp,
			   MOCK_FLAGS_ACCESS_SYZ);
	ASSERT_EQ(0, memcmp(tmp, buf + half + 8, sizeof(tmp)));
	/* No third area: IOVA 0, which nothing maps. */
	EXPECT_ERRNO(ENOENT, _test_cmd_access_rw(self->fd, access_fd,
						 syz_iova(2, 0), sizeof(tmp),
						 tmp, MOCK_FLAGS_ACCESS_SYZ));

	test_cmd_access_pages(access_fd, syz_iova(1, 0), page_size, buf,
			      MOCK_FLAGS_ACCESS_SYZ, &pages_id);
	test_cmd_destroy_access_pages(access_fd, pages_id);

	/* A copy whose source is area 1: the first half of buf. */
	test_ioctl_ioas_alloc(&ioas2);
	ASSERT_EQ(0, _test_ioctl_ioas_copy(self->fd, ioas2, self->ioas_id,
					   syz_iova(1, 0), half, &dst,
					   IOMMU_IOAS_MAP_FIXED_IOVA |
						   TEST_MAP_RW |
						   MOCK_FLAGS_ACCESS_SYZ));
	test_cmd_access_replace_ioas(access_fd, ioas2);
	test_cmd_access_rw(access_fd, base, sizeof(tmp), tmp, 0);
	ASSERT_EQ(0, memcmp(tmp, buf, sizeof(tmp)));
	destroy_access(access_fd);
	test_ioctl_ioas_unmap(ioas2, base, half);
	test_ioctl_destroy(ioas2);
}

TEST_F(access, rw_bad_input)
{
	const __u32 bad_flags[] = { 1U << 1, 1U << 3, 1U << 31 };
	const __u64 ro_iova = self->base + 2 * buf_size;
	const __u64 wo_iova = self->base + 4 * buf_size;
	const __u64 base = self->base;
	char tmp[64], *shadow;
	unsigned int i;
	int access_fd;

	shadow = malloc(buf_size);
	ASSERT_NE(NULL, shadow);
	memcpy(shadow, self->buf, buf_size);
	access_fd = create_access(self->ioas_id, 0);

	/* Ranges not mapped in full: after, across either end, before. */
	EXPECT_ERRNO(ENOENT, _test_cmd_access_rw(self->fd, access_fd,
						 base + buf_size, 8, tmp, 0));
	EXPECT_ERRNO(ENOENT, _test_cmd_access_rw(self->fd, access_fd,
						 base + buf_size - 8, 16, tmp,
						 0));
	EXPECT_ERRNO(ENOENT, _test_cmd_access_rw(self->fd, access_fd, base - 8,
						 16, tmp, 0));
	EXPECT_ERRNO(ENOENT,
		     _test_cmd_access_rw(self->fd, access_fd, base + buf_size,
					 8, tmp, MOCK_ACCESS_RW_WRITE));

	/* Nothing, too much, flags no one knows, and no access. */
	EXPECT_ERRNO(EINVAL,
		     _test_cmd_access_rw(self->fd, access_fd, base, 0, tmp, 0));
	EXPECT_ERRNO(EINVAL, _test_cmd_access_rw(self->fd, access_fd, base, 0,
						 tmp, MOCK_ACCESS_RW_WRITE));
	EXPECT_ERRNO(ENOMEM, _test_cmd_access_rw(self->fd, access_fd, base,
						 TOO_LONG, tmp, 0));
	for (i = 0; i != ARRAY_SIZE(bad_flags); i++)
		EXPECT_ERRNO(EOPNOTSUPP,
			     _test_cmd_access_rw(self->fd, access_fd, base,
						 sizeof(tmp), tmp,
						 bad_flags[i]));
	EXPECT_ERRNO(EBADF, _test_cmd_access_rw(self->fd, self->fd, base,
						sizeof(tmp), tmp, 0));

	/* A buffer of the test that the kernel cannot reach. */
	EXPECT_ERRNO(EFAULT, _test_cmd_access_rw(self->fd, access_fd, base,
						 sizeof(tmp), NULL, 0));
	EXPECT_ERRNO(EFAULT,
		     _test_cmd_access_rw(self->fd, access_fd, base,
					 sizeof(tmp), NULL,
					 MOCK_ACCESS_RW_WRITE));

	/* Memory mapped read-only can be read, but not written. */
	ASSERT_EQ(0, map_read_only(self->fd, self->ioas_id, self->buf,
				   buf_size, ro_iova));
	test_cmd_access_rw(access_fd, ro_iova + 3, sizeof(tmp), tmp, 0);
	ASSERT_EQ(0, memcmp(tmp, self->buf + 3, sizeof(tmp)));
	memset(tmp, 0x11, sizeof(tmp));
	EXPECT_ERRNO(EPERM, _test_cmd_access_rw(self->fd, access_fd, ro_iova,
						sizeof(tmp), tmp,
						MOCK_ACCESS_RW_WRITE));
	EXPECT_ERRNO(EPERM,
		     _test_cmd_access_rw(self->fd, access_fd, ro_iova,
					 sizeof(tmp), tmp,
					 MOCK_ACCESS_RW_WRITE | SLOW));

	/* Memory mapped write-only can be written, but not read. */
	ASSERT_EQ(0, map_write_only(self->fd, self->ioas_id, self->buf,
				    buf_size, wo_iova));
	for (i = 0; i != 2; i++) {
		__u32 slow = i ? SLOW : 0;
		char none[sizeof(tmp)] = {};

		memset(tmp, 0, sizeof(tmp));
		EXPECT_ERRNO(EPERM, _test_cmd_access_rw(self->fd, access_fd,
							wo_iova, sizeof(tmp),
							tmp, slow));
		ASSERT_EQ(0, memcmp(tmp, none, sizeof(tmp)));
		fill_pattern(tmp, sizeof(tmp), 50 + i);
		test_cmd_access_rw(access_fd, wo_iova + 5 + i, sizeof(tmp), tmp,
				   MOCK_ACCESS_RW_WRITE | slow);
		memcpy(shadow + 5 + i, tmp, sizeof(tmp));
	}

	/* No failure wrote anything, and the writes wrote what they had. */
	ASSERT_EQ(0, memcmp(self->buf, shadow, buf_size));
	destroy_access(access_fd);
	free(shadow);
}

TEST_F(access, rw_from_another_process)
{
	int access_fd, status;
	char *expect;
	pid_t pid;

	access_fd = create_access(self->ioas_id, 0);
	expect = malloc(buf_size);
	ASSERT_NE(NULL, expect);
	fill_pattern(expect, buf_size, 9);

	/*
	 * The child's buf is a copy of the parent's. Through the access it
	 * reaches the memory of the process that mapped it, the parent's.
	 */
	pid = fork();
	ASSERT_LE(0, pid);
	if (!pid) {
		char *tmp = malloc(buf_size);

		ASSERT_NE(NULL, tmp);
		test_cmd_access_rw(access_fd, self->base, buf_size, tmp, 0);
		ASSERT_EQ(0, memcmp(tmp, self->buf, buf_size));
		test_cmd_access_rw(access_fd, self->base, buf_size / 2, expect,
				   MOCK_ACCESS_RW_WRITE);
		test_cmd_access_rw(access_fd, self->base + buf_size / 2,
				   buf_size / 2, expect + buf_size / 2,
				   MOCK_ACCESS_RW_WRITE | SLOW);
		/* Its own copy did not change. */
		fill_pattern(tmp, buf_size, 1);
		ASSERT_EQ(0, memcmp(tmp, self->buf, buf_size));
		_exit(_metadata->passed ? 0 : 1);
	}
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	ASSERT_TRUE(WIFEXITED(status));
	ASSERT_EQ(0, WEXITSTATUS(status));

	ASSERT_EQ(0, memcmp(self->buf, expect, buf_size));
	check_refs(self->buf, buf_size, self->mapped_refs);
	destroy_access(access_fd);
	free(expect);
}

TEST_F(access, replace_ioas)
{
	__u32 ioas2, pages_id;
	int access_fd;
	char *buf2, *tmp;

	/* A second IOAS, without a domain, with other memory at base. */
	buf2 = alloc_buffer(_metadata, buf_size, 2);
	tmp = malloc(buf_size);
	ASSERT_NE(NULL, tmp);
	test_ioctl_ioas_alloc(&ioas2);
	test_ioctl_ioas_map_fixed(ioas2, buf2, buf_size, self->base);

	access_fd = create_access(self->ioas_id, NEEDS_PIN);
	test_cmd_access_pages(access_fd, self->base, buf_size, self->buf, 0,
			      &pages_id);
	check_refs(self->buf, buf_size, 1);

	/* Moving drops the pins in the old IOAS through the unmap op. */
	test_cmd_access_replace_ioas(access_fd, ioas2);
	EXPECT_ERRNO(ENOENT, _test_cmd_destroy_access_pages(self->fd, access_fd,
							    pages_id));
	check_refs(self->buf, buf_size, self->mapped_refs);

	/* The same IOVA is the new IOAS's memory now. */
	test_cmd_access_rw(access_fd, self->base, buf_size, tmp, 0);
	ASSERT_EQ(0, memcmp(tmp, buf2, buf_size));
	test_cmd_access_pages(access_fd, self->base, buf_size, buf2,
			      MOCK_FLAGS_ACCESS_WRITE, &pages_id);
	check_refs(buf2, buf_size, 1);

	/* The old IOAS is free to go; the new one is not. */
	EXPECT_ERRNO(EBUSY, _test_ioctl_destroy(self->fd, ioas2));
	remove_domain();
	test_ioctl_destroy(self->ioas_id);

	/* Bad IDs, and the IOAS it is on, change nothing: the pin stays. */
	EXPECT_ERRNO(ENOENT, _test_cmd_access_replace_ioas(self->fd, access_fd,
							   self->ioas_id));
	EXPECT_ERRNO(ENOENT,
		     _test_cmd_access_replace_ioas(self->fd, access_fd, 0));
	EXPECT_ERRNO(EBADF, _test_cmd_access_replace_ioas(self->fd, self->fd,
							  ioas2));
	test_cmd_access_replace_ioas(access_fd, ioas2);
	check_refs(buf2, buf_size, 1);
	test_cmd_destroy_access_pages(access_fd, pages_id);
	check_refs(buf2, buf_size, 0);

	destroy_access(access_fd);
	test_ioctl_destroy(ioas2);
	free(tmp);
	ASSERT_EQ(0, munmap(buf2, buf_size));
}

TEST_F(access, replace_among_other_accesses)
{
	int staying, moving;
	__u32 ioas2, pages_id;

	/* Two accesses on the IOAS; the second one moves to another. */
	staying = create_access(self->ioas_id, NEEDS_PIN);
	moving = create_access(self->ioas_id, 0);
	test_ioctl_ioas_alloc(&ioas2);
	test_cmd_access_replace_ioas(moving, ioas2);

	/* The one that stayed is still asked to unpin before an unmap. */
	test_cmd_access_pages(staying, self->base, buf_size, self->buf, 0,
			      &pages_id);
	test_ioctl_ioas_unmap(self->ioas_id, self->base, buf_size);
	check_refs(self->buf, buf_size, 0);
	EXPECT_ERRNO(ENOENT, _test_cmd_destroy_access_pages(self->fd, staying,
							    pages_id));

	/* Each IOAS goes once the access on it is gone. */
	destroy_access(staying);
	remove_domain();
	test_ioctl_destroy(self->ioas_id);
	EXPECT_ERRNO(EBUSY, _test_ioctl_destroy(self->fd, ioas2));
	destroy_access(moving);
	test_ioctl_destroy(ioas2);
}

/*
 * One IOVA page made of two half pages of different memory: the first
 * half of buf1's page at base, the second half of buf2's page right after
 * it. Each half keeps its offset in its page, so that mapping it needs no
 * more than the byte granularity of an IOAS without a domain, but no one
 * page of memory is behind the IOVA page.
 */
FIXTURE(sub_page)
{
	int fd;
	__u32 ioas_id;
	char *buf1;
	char *buf2;
	__u64 base;
	size_t half;
	struct access_fds accesses;
};

FIXTURE_SETUP(sub_page)
{
	self->half = page_size / 2;
	self->buf1 = alloc_buffer(_metadata, page_size, 11);
	self->buf2 = alloc_buffer(_metadata, page_size, 12);
	self->base = MOCK_APERTURE_START;
	self->fd = open("/dev/iommu", O_RDWR);
	ASSERT_LE(0, self->fd);
	test_ioctl_ioas_alloc(&self->ioas_id);
	test_ioctl_ioas_map_fixed(self->ioas_id, self->buf1, self->half,
				  self->base);
	test_ioctl_ioas_map_fixed(self->ioas_id, self->buf2 + self->half,
				  self->half, self->base + self->half);
}

FIXTURE_TEARDOWN(sub_page)
{
	close_all_accesses(&self->accesses);
	close(self->fd);
	expect_unpinned(_metadata, self->buf1, page_size);
	expect_unpinned(_metadata, self->buf2, page_size);
	munmap(self->buf1, page_size);
	munmap(self->buf2, page_size);
}

/* The IOVA alignment IOMMU_IOAS_IOVA_RANGES reports for ioas_id. */
static __u64 iova_alignment(struct __test_metadata *_metadata, int fd,
			    __u32 ioas_id)
{
	struct iommu_iova_range ranges[16];
	__u64 alignment = 0;
	__u32 num = ARRAY_SIZE(ranges);

	ASSERT_EQ(0, _test_ioctl_iova_ranges(fd, ioas_id, ranges, &num,
					     &alignment));
	return alignment;
}

TEST_F(sub_page, pin_access_refused)
{
	const size_t half = self->half;
	__u32 other_id, pages_id;
	int access_fd, plain;
	__u64 iova;

	/*
	 * A list of pages cannot say that the IOVA page is two halves of
	 * two pages: an access that may pin cannot attach, and the failed
	 * attach leaves the IOAS as it was.
	 */
	EXPECT_ERRNO(EADDRINUSE, _test_cmd_create_access(self->fd,
							 self->ioas_id,
							 NEEDS_PIN,
							 &access_fd));
	ASSERT_EQ(1, iova_alignment(_metadata, self->fd, self->ioas_id));
	test_ioctl_ioas_map_fixed(self->ioas_id, self->buf1 + half, half,
				  self->base + page_size);
	test_ioctl_ioas_unmap(self->ioas_id, self->base + page_size, half);
	/* One that only reads and writes may: it copies byte by byte. */
	plain = create_access(self->ioas_id, 0);
	ASSERT_EQ(1, iova_alignment(_metadata, self->fd, self->ioas_id));

	/*
	 * On an IOAS of whole pages it attaches, and from then on the IOAS
	 * takes whole pages only, until it goes.
	 */
	test_ioctl_ioas_alloc(&other_id);
	test_ioctl_ioas_map_fixed(other_id, self->buf1, page_size, self->base);
	access_fd = create_access(other_id, NEEDS_PIN);
	ASSERT_EQ(page_size, iova_alignment(_metadata, self->fd, other_id));
	iova = self->base + page_size;
	EXPECT_ERRNO(EINVAL, _test_ioctl_ioas_map(self->fd, other_id,
						  self->buf2, half, &iova,
						  IOMMU_IOAS_MAP_FIXED_IOVA |
							  TEST_MAP_RW));
	EXPECT_ERRNO(EINVAL, _test_ioctl_ioas_map(self->fd, other_id,
						  self->buf2 + half, page_size,
						  &iova, TEST_MAP_RW));
	EXPECT_ERRNO(EINVAL, _test_ioctl_ioas_copy(self->fd, other_id,
						   self->ioas_id, self->base,
						   page_size, &iova,
						   IOMMU_IOAS_MAP_FIXED_IOVA |
							   TEST_MAP_RW));
	test_cmd_access_pages(access_fd, self->base, page_size, self->buf1,
			      MOCK_FLAGS_ACCESS_WRITE, &pages_id);
	check_refs(self->buf1, page_size, 1);

	/* Nor can it move to the IOAS of halves: it stays where it is. */
	EXPECT_ERRNO(EADDRINUSE,
		     _test_cmd_access_replace_ioas(self->fd, access_fd,
						   self->ioas_id));
	ASSERT_EQ(page_size, iova_alignment(_metadata, self->fd, other_id));
	ASSERT_EQ(1, iova_alignment(_metadata, self->fd, self->ioas_id));
	test_cmd_destroy_access_pages(access_fd, pages_id);
	test_cmd_access_pages(access_fd, self->base, page_size, self->buf1, 0,
			      &pages_id);
	test_cmd_destroy_access_pages(access_fd, pages_id);
	check_refs(self->buf1, page_size, 0);

	/* Gone, it leaves byte granularity behind. */
	destroy_access(access_fd);
	ASSERT_EQ(1, iova_alignment(_metadata, self->fd, other_id));
	test_ioctl_ioas_map_fixed(other_id, self->buf2, half,
				  self->base + page_size);
	test_ioctl_ioas_unmap_all(other_id, page_size + half);
	test_ioctl_destroy(other_id);

	/* Whole pages again, and the IOAS of halves takes one too. */
	test_ioctl_ioas_unmap_all(self->ioas_id, page_size);
	test_ioctl_ioas_map_fixed(self->ioas_id, self->buf2, page_size,
				  self->base);
	access_fd = create_access(self->ioas_id, NEEDS_PIN);
	ASSERT_EQ(page_size, iova_alignment(_metadata, self->fd, self->ioas_id));
	destroy_access(access_fd);
	destroy_access(plain);
}

TEST_F(sub_page, rw)
{
	const size_t half = self->half;
	char *want1, *want2, *tmp;
	unsigned int pass;
	int access_fd;

	want1 = malloc(page_size);
	want2 = malloc(page_size);
	tmp = malloc(page_size);
	ASSERT_NE(NULL, want1);
	ASSERT_NE(NULL, want2);
	ASSERT_NE(NULL, tmp);
	access_fd = create_access(self->ioas_id, 0);

	/* rw is byte-granular: each half goes to its own memory. */
	for (pass = 0; pass != 2; pass++) {
		__u32 slow = pass ? SLOW : 0;

		memcpy(want1, self->buf1, page_size);
		memcpy(want2, self->buf2, page_size);
		fill_pattern(tmp, page_size, 20 + pass);
		memcpy(want1, tmp, half);
		memcpy(want2 + half, tmp + half, half);
		test_cmd_access_rw(access_fd, self->base, page_size, tmp,
				   MOCK_ACCESS_RW_WRITE | slow);
		ASSERT_EQ(0, memcmp(want1, self->buf1, page_size));
		ASSERT_EQ(0, memcmp(want2, self->buf2, page_size));

		/* And reads gather both halves, also across the seam. */
		fill_pattern(self->buf1, half, 30 + pass);
		fill_pattern(self->buf2 + half, half, 40 + pass);
		memset(tmp, 0, page_size);
		test_cmd_access_rw(access_fd, self->base, page_size, tmp, slow);
		ASSERT_EQ(0, memcmp(tmp, self->buf1, half));
		ASSERT_EQ(0, memcmp(tmp + half, self->buf2 + half, half));
		memset(tmp, 0, page_size);
		test_cmd_access_rw(access_fd, self->base + half - 3, 7, tmp,
				   slow);
		ASSERT_EQ(0, memcmp(tmp, self->buf1 + half - 3, 3));
		ASSERT_EQ(0, memcmp(tmp + 3, self->buf2 + half, 4));
	}

	/* Past the second half nothing is mapped. */
	EXPECT_ERRNO(ENOENT, _test_cmd_access_rw(self->fd, access_fd,
						 self->base + half, half + 1,
						 tmp, 0));
	destroy_access(access_fd);
	free(tmp);
	free(want2);
	free(want1);
}

/*
 * The mock IOMMU's IO page is half a CPU page, so the two halves are two
 * whole IO pages of memory: a copy into an IOAS with a mock domain maps
 * each where it belongs.
 */
TEST_F(sub_page, copy_to_mock_domain)
{
	__u32 dst_id, stdev_id, hwpt_id;
	__u64 iova = self->base;

	test_ioctl_ioas_alloc(&dst_id);
	test_cmd_mock_domain(dst_id, &stdev_id, &hwpt_id, NULL);
	ASSERT_EQ(0, _test_ioctl_ioas_copy(self->fd, dst_id, self->ioas_id,
					   self->base, page_size, &iova,
					   IOMMU_IOAS_MAP_FIXED_IOVA |
						   TEST_MAP_RW));
	ASSERT_EQ(0, _test_cmd_check_map(self->fd, hwpt_id, iova, self->half,
					 self->buf1));
	ASSERT_EQ(0, _test_cmd_check_map(self->fd, hwpt_id, iova + self->half,
					 self->half, self->buf2 + self->half));
	test_ioctl_ioas_unmap_all(dst_id, page_size);
	check_refs(self->buf1, page_size, 0);
	check_refs(self->buf2, page_size, 0);
	test_ioctl_destroy(stdev_id);
	test_ioctl_destroy(dst_id);
}

/*
 * With large pages off, an IOAS maps whole CPU pages, and the two halves
 * are no such page: a copy of them is refused before any of it reaches
 * the domain, whether the kernel picks the IOVA or we do.
 */
TEST_F(sub_page, copy_to_page_granular_refused)
{
	__u32 dst_id, stdev_id;
	__u64 iova;

	test_ioctl_ioas_alloc(&dst_id);
	test_ioctl_option_set(IOMMU_OPTION_HUGE_PAGES, dst_id, 0);
	test_cmd_mock_domain(dst_id, &stdev_id, NULL, NULL);
	iova = 0;
	EXPECT_ERRNO(EINVAL, _test_ioctl_ioas_copy(self->fd, dst_id,
						   self->ioas_id, self->base,
						   page_size, &iova,
						   TEST_MAP_RW));
	iova = MOCK_APERTURE_START;
	EXPECT_ERRNO(EINVAL,
		     _test_ioctl_ioas_copy(self->fd, dst_id, self->ioas_id,
					   self->base, page_size, &iova,
					   IOMMU_IOAS_MAP_FIXED_IOVA |
						   TEST_MAP_RW));

	/* Nothing was left mapped in it, nor pinned. */
	test_ioctl_ioas_unmap_all(dst_id, 0);
	check_refs(self->buf1, page_size, 0);
	check_refs(self->buf2, page_size, 0);
	test_ioctl_destroy(stdev_id);
	test_ioctl_destroy(dst_id);
}

TEST_HARNESS_MAIN
