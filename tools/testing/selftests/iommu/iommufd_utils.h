/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Helpers shared by the iommufd selftests.
 *
 * Naming: _foo() issues the ioctl and returns its result (0 or -1 with
 * errno set) so a test can check a failure; foo() asserts that it worked.
 * Both take the fixture's /dev/iommu file descriptor from self->fd, so they
 * are only usable inside a TEST_F whose fixture has an 'fd' member.
 */
#ifndef __SELFTEST_IOMMUFD_UTILS
#define __SELFTEST_IOMMUFD_UTILS

#include <errno.h>
#include <stdbool.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <linux/iommufd.h>
#include <linux/userfaultfd.h>

#include "../kselftest_harness.h"
#include "../../../../drivers/iommu/iommufd/iommufd_test.h"

/*
 * Skip for want of something the test VM of vmtest/ has: its edu devices
 * and their IOMMU groups, vfio-pci, the mtty module, huge pages, fault
 * injection. The VM's init sets IOMMUFD_TEST_VM, and there the lack
 * means the VM is broken: the test fails instead. On any other machine
 * it is a skip. statement is as for SKIP(): what leaves the test.
 */
#define VM_SKIP(statement, fmt, ...)                                           \
	do {                                                                   \
		char __why[256];                                               \
									       \
		snprintf(__why, sizeof(__why), fmt, ##__VA_ARGS__);            \
		if (getenv("IOMMUFD_TEST_VM")) {                               \
			TH_LOG("not a skip in the test VM: %s", __why);        \
			ASSERT_EQ(NULL, getenv("IOMMUFD_TEST_VM"));            \
		}                                                              \
		SKIP(statement, "%s", __why);                                  \
	} while (0)

/* Assert that an expression failed with -1 and the given errno. */
#define EXPECT_ERRNO(expected_errno, cmd)                                     \
	({                                                                     \
		int __rc = (cmd);                                              \
		ASSERT_EQ(-1, __rc);                                           \
		EXPECT_EQ(expected_errno, errno);                              \
	})

/* /proc/self/fdinfo: what a /dev/iommu or VFIO device file shows. */
#define FDINFO_MAX (1024 * 1024)

/* The fdinfo text of @fd, NUL-terminated, in a malloc()ed buffer. */
static inline char *fdinfo_read(int fd)
{
	char path[64];
	size_t len = 0;
	ssize_t n;
	char *buf;
	int pfd;

	snprintf(path, sizeof(path), "/proc/self/fdinfo/%d", fd);
	pfd = open(path, O_RDONLY);
	if (pfd < 0)
		return NULL;
	buf = malloc(FDINFO_MAX + 1);
	while (buf && len < FDINFO_MAX &&
	       (n = read(pfd, buf + len, FDINFO_MAX - len)) > 0)
		len += n;
	close(pfd);
	if (buf)
		buf[len] = 0;
	return buf;
}

/* The rest of the line that starts with @key (e.g. "pinned-pages:\t"). */
static inline const char *fdinfo_field(const char *text, const char *key)
{
	size_t klen = strlen(key);
	const char *p = text;

	while (p && *p) {
		if (!strncmp(p, key, klen))
			return p + klen;
		p = strchr(p, '\n');
		if (p)
			p++;
	}
	return NULL;
}

/* The number after @key in the fdinfo of @fd (e.g. "objects:\t"), or -1. */
static inline long long fdinfo_num(int fd, const char *key)
{
	char *text = fdinfo_read(fd);
	const char *v = text ? fdinfo_field(text, key) : NULL;
	long long n = v ? strtoll(v, NULL, 0) : -1;

	free(text);
	return n;
}

/*
 * The value of " @name=" in the fdinfo line of the object of @type with
 * ID @id, or -1 if there is no such line or field.
 */
static inline long long fdinfo_obj(int fd, const char *type, unsigned int id,
				   const char *name)
{
	char key[64], field[64];
	const char *line, *v, *end;
	long long n = -1;
	char *text;

	text = fdinfo_read(fd);
	if (!text)
		return -1;
	snprintf(key, sizeof(key), "%s:\tid=%u ", type, id);
	snprintf(field, sizeof(field), " %s=", name);
	line = fdinfo_field(text, key);
	if (line) {
		end = strchr(line, '\n');
		v = strstr(line - 1, field);
		if (v && (!end || v < end))
			n = strtoll(v + strlen(field), NULL, 0);
	}
	free(text);
	return n;
}

/* The last refusal line, without its key, in a malloc()ed buffer or NULL. */
static inline char *fdinfo_refusal(int fd)
{
	char *text = fdinfo_read(fd);
	const char *v = text ? fdinfo_field(text, "last-refusal:\t") : NULL;
	char *line = NULL;

	if (v)
		line = strndup(v, strcspn(v, "\n"));
	free(text);
	return line;
}

/* The last refusal names @op, @err and contains each of the strings. */
#define EXPECT_REFUSAL(op, err, ...)                                           \
	do {                                                                   \
		const char *const __want[] = { op " " err " ", __VA_ARGS__ };  \
		char *__r = fdinfo_refusal(self->fd);                          \
		unsigned int __i;                                              \
		ASSERT_NE(NULL, __r);                                          \
		TH_LOG("last-refusal: %s", __r);                               \
		EXPECT_EQ(0, strncmp(__r, __want[0], strlen(__want[0])));     \
		for (__i = 1; __i < ARRAY_SIZE(__want); __i++)                 \
			EXPECT_NE(NULL, strstr(__r, __want[__i]));             \
		free(__r);                                                     \
	} while (0)

/*
 * @pages small pages of private anonymous memory, written so that they
 * exist, or NULL. THP is kept out: MD_CHECK_REFS tells the pins of each
 * small page apart, but only those of a huge page as a whole.
 */
static inline char *test_alloc_small_pages(unsigned long pages)
{
	size_t length = pages * sysconf(_SC_PAGESIZE);
	char *buf;

	buf = mmap(NULL, length, PROT_READ | PROT_WRITE,
		   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (buf == MAP_FAILED)
		return NULL;
	madvise(buf, length, MADV_NOHUGEPAGE);
	memset(buf, 0x6b, length);
	return buf;
}

/* One ioctl run in a thread: its number, argument, and result. */
struct bg_ioctl {
	pthread_t thread;
	int fd;
	unsigned long request;
	void *arg;
	int rc;
	int err;
	bool done;
};

static inline void *bg_ioctl_fn(void *data)
{
	struct bg_ioctl *bg = data;

	bg->rc = ioctl(bg->fd, bg->request, bg->arg);
	bg->err = errno;
	__atomic_store_n(&bg->done, true, __ATOMIC_RELEASE);
	return NULL;
}

static inline bool bg_ioctl_done(struct bg_ioctl *bg)
{
	return __atomic_load_n(&bg->done, __ATOMIC_ACQUIRE);
}

static inline int bg_ioctl_start(struct bg_ioctl *bg, int fd,
				 unsigned long request, void *arg)
{
	bg->fd = fd;
	bg->request = request;
	bg->arg = arg;
	__atomic_store_n(&bg->done, false, __ATOMIC_RELAXED);
	return pthread_create(&bg->thread, NULL, bg_ioctl_fn, bg);
}

/* @pages pages of anonymous memory whose first touch waits for @uffd. */
struct uffd_mem {
	int uffd;
	char *buf;
	size_t len;
};

static inline int uffd_mem_init(struct uffd_mem *mem, unsigned long pages)
{
	struct uffdio_api api = { .api = UFFD_API };
	struct uffdio_register reg = { .mode = UFFDIO_REGISTER_MODE_MISSING };

	mem->len = pages * sysconf(_SC_PAGESIZE);
	mem->uffd = syscall(__NR_userfaultfd, O_CLOEXEC | O_NONBLOCK);
	if (mem->uffd < 0)
		return -1;
	if (ioctl(mem->uffd, UFFDIO_API, &api))
		return -1;
	mem->buf = mmap(NULL, mem->len, PROT_READ | PROT_WRITE,
			MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (mem->buf == MAP_FAILED)
		return -1;
	/* One fault per small page, so that one fill serves them all. */
	madvise(mem->buf, mem->len, MADV_NOHUGEPAGE);
	reg.range.start = (uintptr_t)mem->buf;
	reg.range.len = mem->len;
	return ioctl(mem->uffd, UFFDIO_REGISTER, &reg);
}

/* Wait up to 10 s for a fault on @mem to be pending. */
static inline int uffd_mem_wait_fault(struct uffd_mem *mem)
{
	struct pollfd pfd = { .fd = mem->uffd, .events = POLLIN };
	struct uffd_msg msg;

	if (poll(&pfd, 1, 10000) != 1)
		return -1;
	if (read(mem->uffd, &msg, sizeof(msg)) != sizeof(msg))
		return -1;
	return msg.event == UFFD_EVENT_PAGEFAULT ? 0 : -1;
}

/* Serve every fault: fill the whole range with 0x5a and wake the waiters. */
static inline int uffd_mem_fill(struct uffd_mem *mem)
{
	struct uffdio_copy copy = {
		.dst = (uintptr_t)mem->buf,
		.len = mem->len,
	};
	char *src;
	int rc;

	src = malloc(mem->len);
	if (!src)
		return -1;
	memset(src, 0x5a, mem->len);
	copy.src = (uintptr_t)src;
	rc = ioctl(mem->uffd, UFFDIO_COPY, &copy);
	free(src);
	return rc;
}

static inline void uffd_mem_free(struct uffd_mem *mem)
{
	if (mem->buf && mem->buf != MAP_FAILED)
		munmap(mem->buf, mem->len);
	if (mem->uffd >= 0)
		close(mem->uffd);
}

/*
 * @length bytes of the default huge page size (2 MiB in the test VM),
 * private and filled with @fill, or NULL when the pool has too few free.
 */
static inline char *test_alloc_huge_pages(size_t length, int fill)
{
	char *buf;

	buf = mmap(NULL, length, PROT_READ | PROT_WRITE,
		   MAP_PRIVATE | MAP_ANONYMOUS | MAP_HUGETLB, -1, 0);
	if (buf == MAP_FAILED)
		return NULL;
	memset(buf, fill, length);
	return buf;
}

/*
 * A "field: value" line of a /proc file such as /proc/meminfo: "kB"
 * fields in kB, "Cap" fields as their hex value. -1 when it is missing.
 */
static inline long long test_proc_field(const char *path, const char *field)
{
	size_t len = strlen(field);
	long long value = -1;
	char line[256];
	FILE *f;

	f = fopen(path, "r");
	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f)) {
		if (strncmp(line, field, len) || line[len] != ':')
			continue;
		value = strtoll(line + len + 1, NULL,
				strncmp(field, "Cap", 3) ? 10 : 16);
		break;
	}
	fclose(f);
	return value;
}

/* A field of /proc/self/status, as test_proc_field() reads it. */
static inline long long test_proc_status(const char *field)
{
	return test_proc_field("/proc/self/status", field);
}

/* This process's VmPin (mm->pinned_vm) in kB, or -1. */
static inline long test_vm_pin_kb(void)
{
	return test_proc_status("VmPin");
}

/*
 * An open file of @length bytes on a hugetlbfs mount of its own, mounted
 * with @options (its page size and size limit) and detached at once: the
 * open file keeps the mount alive. Its free blocks count only this file's
 * pages, where HugePages_Free counts the whole VM's, which test programs
 * running alongside take and give back. -1 if there is no such mount.
 */
static inline int test_private_hugetlbfs(const char *options, size_t length)
{
	char dir[] = "/tmp/iommufd_hugetlbfs.XXXXXX";
	char path[64];
	int fd;

	if (!mkdtemp(dir))
		return -1;
	if (mount("none", dir, "hugetlbfs", 0, options)) {
		rmdir(dir);
		return -1;
	}
	snprintf(path, sizeof(path), "%s/file", dir);
	fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd >= 0)
		unlink(path);
	umount2(dir, MNT_DETACH);
	rmdir(dir);
	if (fd >= 0 && ftruncate(fd, length)) {
		close(fd);
		return -1;
	}
	return fd;
}

/*
 * Child processes of a test. A failed ASSERT in one leaves it through the
 * harness with a non-zero status; end_child() turns failed EXPECTs into
 * one, and wait_child() fails the test on either.
 */
#define end_child() _exit(_metadata->passed ? 0 : 1)

static inline void wait_child(struct __test_metadata *_metadata, pid_t pid)
{
	int status;

	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	ASSERT_TRUE(WIFEXITED(status));
	ASSERT_EQ(0, WEXITSTATUS(status));
}

/*
 * Set RLIMIT_MEMLOCK to @limit_pages and, unless @uid is 0, become that
 * user, without any capability left.
 */
static inline void test_become(struct __test_metadata *_metadata, uid_t uid,
			       unsigned long limit_pages)
{
	rlim_t bytes = limit_pages * sysconf(_SC_PAGESIZE);
	struct rlimit limit = { .rlim_cur = bytes, .rlim_max = bytes };

	ASSERT_EQ(0, setrlimit(RLIMIT_MEMLOCK, &limit));
	if (!uid)
		return;
	/* From root, setuid() sets the real, effective and saved IDs. */
	ASSERT_EQ(0, setuid(uid));
	ASSERT_EQ(0, test_proc_status("CapEff"));
}

static inline int _test_ioctl_destroy(int fd, unsigned int id)
{
	struct iommu_destroy cmd = {
		.size = sizeof(cmd),
		.id = id,
	};

	return ioctl(fd, IOMMU_DESTROY, &cmd);
}

#define test_ioctl_destroy(id) ASSERT_EQ(0, _test_ioctl_destroy(self->fd, id))

static inline int _test_ioctl_ioas_alloc(int fd, __u32 *id)
{
	struct iommu_ioas_alloc cmd = {
		.size = sizeof(cmd),
	};
	int rc;

	rc = ioctl(fd, IOMMU_IOAS_ALLOC, &cmd);
	if (rc)
		return rc;
	*id = cmd.out_ioas_id;
	return 0;
}

#define test_ioctl_ioas_alloc(id)                                              \
	({                                                                     \
		__u32 *__id = (id);                                            \
		ASSERT_EQ(0, _test_ioctl_ioas_alloc(self->fd, __id));          \
		ASSERT_NE(0, *__id);                                           \
	})

static inline int _test_ioctl_iova_ranges(int fd, __u32 ioas_id,
					  struct iommu_iova_range *ranges,
					  __u32 *num, __u64 *alignment)
{
	struct iommu_ioas_iova_ranges cmd = {
		.size = sizeof(cmd),
		.ioas_id = ioas_id,
		.num_iovas = *num,
		.allowed_iovas = (uintptr_t)ranges,
	};
	int rc;

	rc = ioctl(fd, IOMMU_IOAS_IOVA_RANGES, &cmd);
	*num = cmd.num_iovas;
	if (alignment)
		*alignment = cmd.out_iova_alignment;
	return rc;
}

static inline int _test_ioctl_ioas_map(int fd, __u32 ioas_id, void *buffer,
				       __u64 length, __u64 *iova,
				       __u32 flags)
{
	struct iommu_ioas_map cmd = {
		.size = sizeof(cmd),
		.flags = flags,
		.ioas_id = ioas_id,
		.user_va = (uintptr_t)buffer,
		.length = length,
	};
	int rc;

	if (flags & IOMMU_IOAS_MAP_FIXED_IOVA)
		cmd.iova = *iova;

	rc = ioctl(fd, IOMMU_IOAS_MAP, &cmd);
	*iova = cmd.iova;
	return rc;
}

#define TEST_MAP_RW (IOMMU_IOAS_MAP_WRITEABLE | IOMMU_IOAS_MAP_READABLE)

/* Map read/write at an IOVA the kernel chooses and stores in *iova_p. */
#define test_ioctl_ioas_map(ioas_id, buffer, length, iova_p)                   \
	ASSERT_EQ(0, _test_ioctl_ioas_map(self->fd, ioas_id, buffer, length,   \
					  iova_p, TEST_MAP_RW))

/* Map read/write at exactly the given IOVA. */
#define test_ioctl_ioas_map_fixed(ioas_id, buffer, length, iova)               \
	({                                                                     \
		__u64 __want = (iova);                                         \
		__u64 __iova = __want;                                         \
		ASSERT_EQ(0, _test_ioctl_ioas_map(self->fd, ioas_id, buffer,   \
						  length, &__iova,             \
						  IOMMU_IOAS_MAP_FIXED_IOVA |  \
							  TEST_MAP_RW));       \
		ASSERT_EQ(__want, __iova);                                     \
	})

/*
 * IOMMU_IOAS_MAP_FILE: length bytes of the file mfd from offset start.
 * *iova is the IOVA with IOMMU_IOAS_MAP_FIXED_IOVA, else receives it.
 */
static inline int _test_ioctl_ioas_map_file(int fd, __u32 ioas_id, int mfd,
					    __u64 start, __u64 length,
					    __u64 *iova, __u32 flags)
{
	struct iommu_ioas_map_file cmd = {
		.size = sizeof(cmd),
		.flags = flags,
		.ioas_id = ioas_id,
		.fd = mfd,
		.start = start,
		.length = length,
	};
	int rc;

	if (flags & IOMMU_IOAS_MAP_FIXED_IOVA)
		cmd.iova = *iova;

	rc = ioctl(fd, IOMMU_IOAS_MAP_FILE, &cmd);
	*iova = cmd.iova;
	return rc;
}

/*
 * *unmapped, when not NULL, receives the number of bytes the kernel says
 * it unmapped.
 */
static inline int _test_ioctl_ioas_unmap(int fd, __u32 ioas_id,
					 __u64 iova, __u64 length,
					 __u64 *unmapped)
{
	struct iommu_ioas_unmap cmd = {
		.size = sizeof(cmd),
		.ioas_id = ioas_id,
		.iova = iova,
		.length = length,
	};
	int rc;

	rc = ioctl(fd, IOMMU_IOAS_UNMAP, &cmd);
	if (unmapped)
		*unmapped = cmd.length;
	return rc;
}

/* Unmap a range made of whole mappings: all of it must come back. */
#define test_ioctl_ioas_unmap(ioas_id, iova, length)                           \
	({                                                                     \
		__u64 __length = (length);                                     \
		__u64 __unmapped = 0;                                          \
		ASSERT_EQ(0, _test_ioctl_ioas_unmap(self->fd, ioas_id, iova,   \
						    __length, &__unmapped));   \
		ASSERT_EQ(__length, __unmapped);                               \
	})

/* Unmap everything; the kernel must report expected_length bytes. */
#define test_ioctl_ioas_unmap_all(ioas_id, expected_length)                    \
	({                                                                     \
		__u64 __unmapped = UINT64_MAX;                                 \
		ASSERT_EQ(0, _test_ioctl_ioas_unmap(self->fd, ioas_id, 0,      \
						    UINT64_MAX, &__unmapped)); \
		ASSERT_EQ((__u64)(expected_length), __unmapped);               \
	})

static inline int _test_ioctl_ioas_copy(int fd, __u32 dst_ioas_id,
					__u32 src_ioas_id, __u64 src_iova,
					__u64 length, __u64 *dst_iova,
					__u32 flags)
{
	struct iommu_ioas_copy cmd = {
		.size = sizeof(cmd),
		.flags = flags,
		.dst_ioas_id = dst_ioas_id,
		.src_ioas_id = src_ioas_id,
		.length = length,
		.src_iova = src_iova,
	};
	int rc;

	if (flags & IOMMU_IOAS_MAP_FIXED_IOVA)
		cmd.dst_iova = *dst_iova;

	rc = ioctl(fd, IOMMU_IOAS_COPY, &cmd);
	*dst_iova = cmd.dst_iova;
	return rc;
}

/* Copy read/write to an IOVA the kernel chooses and stores in *iova_p. */
#define test_ioctl_ioas_copy(dst_id, src_id, src_iova, length, iova_p)         \
	ASSERT_EQ(0, _test_ioctl_ioas_copy(self->fd, dst_id, src_id, src_iova, \
					   length, iova_p, TEST_MAP_RW))

/* Copy read/write to exactly dst_iova. */
#define test_ioctl_ioas_copy_fixed(dst_id, src_id, src_iova, length, dst_iova) \
	({                                                                     \
		__u64 __want = (dst_iova);                                     \
		__u64 __iova = __want;                                         \
		ASSERT_EQ(0, _test_ioctl_ioas_copy(self->fd, dst_id, src_id,   \
						   src_iova, length, &__iova,  \
						   IOMMU_IOAS_MAP_FIXED_IOVA | \
							   TEST_MAP_RW));      \
		ASSERT_EQ(__want, __iova);                                     \
	})

static inline int
_test_ioctl_ioas_allow_iovas(int fd, __u32 ioas_id,
			     const struct iommu_iova_range *ranges,
			     __u32 num)
{
	struct iommu_ioas_allow_iovas cmd = {
		.size = sizeof(cmd),
		.ioas_id = ioas_id,
		.num_iovas = num,
		.allowed_iovas = (uintptr_t)ranges,
	};

	return ioctl(fd, IOMMU_IOAS_ALLOW_IOVAS, &cmd);
}

#define test_ioctl_ioas_allow_iovas(ioas_id, ranges, num)                      \
	ASSERT_EQ(0, _test_ioctl_ioas_allow_iovas(self->fd, ioas_id, ranges,   \
						  num))

/* IOMMU_OPTION */

static inline int _test_ioctl_option(int fd, __u32 option_id, __u16 op,
				     __u32 object_id, __u64 *val64)
{
	struct iommu_option cmd = {
		.size = sizeof(cmd),
		.option_id = option_id,
		.op = op,
		.object_id = object_id,
		.val64 = *val64,
	};
	int rc;

	rc = ioctl(fd, IOMMU_OPTION, &cmd);
	if (!rc)
		*val64 = cmd.val64;
	return rc;
}

#define test_ioctl_option_set(option_id, object_id, value)                    \
	({                                                                     \
		__u64 __val = (value);                                         \
		ASSERT_EQ(0, _test_ioctl_option(self->fd, option_id,           \
						IOMMU_OPTION_OP_SET,           \
						object_id, &__val));           \
	})

/* Read an option and assert that it holds the expected value. */
#define test_ioctl_option_expect(option_id, object_id, expected)              \
	({                                                                     \
		__u64 __val = UINT64_MAX;                                      \
		ASSERT_EQ(0, _test_ioctl_option(self->fd, option_id,           \
						IOMMU_OPTION_OP_GET,           \
						object_id, &__val));           \
		ASSERT_EQ((__u64)(expected), __val);                           \
	})

/*
 * IOMMU_TEST_CMD: mock devices and domains, and the checks that look
 * inside the kernel. Any of the out pointers may be NULL.
 */

static inline int _test_cmd_mock_domain(int fd, __u32 pt_id, __u32 *stdev_id,
					__u32 *hwpt_id, __u32 *idev_id)
{
	struct iommu_test_cmd cmd = {
		.size = sizeof(cmd),
		.op = IOMMU_TEST_OP_MOCK_DOMAIN,
		.id = pt_id,
	};
	int rc;

	rc = ioctl(fd, IOMMU_TEST_CMD, &cmd);
	if (rc)
		return rc;
	if (stdev_id)
		*stdev_id = cmd.mock_domain.out_stdev_id;
	if (hwpt_id)
		*hwpt_id = cmd.mock_domain.out_hwpt_id;
	if (idev_id)
		*idev_id = cmd.mock_domain.out_idev_id;
	return 0;
}

/*
 * Create a mock device and attach it to pt_id, an IOAS or a HWPT.
 * Destroying *stdev_id detaches and removes the device again.
 */
#define test_cmd_mock_domain(pt_id, stdev_id, hwpt_id, idev_id)               \
	ASSERT_EQ(0, _test_cmd_mock_domain(self->fd, pt_id, stdev_id,          \
					   hwpt_id, idev_id))

static inline int _test_cmd_hwpt_alloc(int fd, __u32 dev_id, __u32 pt_id,
				       __u32 flags, __u32 *hwpt_id)
{
	struct iommu_hwpt_alloc cmd = {
		.size = sizeof(cmd),
		.flags = flags,
		.dev_id = dev_id,
		.pt_id = pt_id,
	};
	int rc;

	rc = ioctl(fd, IOMMU_HWPT_ALLOC, &cmd);
	if (rc)
		return rc;
	if (hwpt_id)
		*hwpt_id = cmd.out_hwpt_id;
	return 0;
}

/*
 * The start the fixtures of the HWPT features share: a context in
 * self->fd; an IOAS in self->ioas_id that maps self->buf, @npages small
 * pages, at @iova; a mock device attached to it (self->stdev_id,
 * self->idev_id, its domain's HWPT in *@domain_id unless that is NULL);
 * and a HWPT of @flags for that device on the IOAS, in *@hwpt_id.
 */
#define test_setup_mock_hwpt(npages, iova, domain_id, flags, hwpt_id)         \
	do {                                                                   \
		unsigned long __npages = (npages);                             \
									       \
		self->fd = open("/dev/iommu", O_RDWR);                         \
		ASSERT_LE(0, self->fd);                                        \
		test_ioctl_ioas_alloc(&self->ioas_id);                         \
		self->buf = test_alloc_small_pages(__npages);                  \
		ASSERT_NE(NULL, self->buf);                                    \
		test_ioctl_ioas_map_fixed(self->ioas_id, self->buf,            \
					  __npages * page_size, iova);         \
		test_cmd_mock_domain(self->ioas_id, &self->stdev_id,           \
				     domain_id, &self->idev_id);               \
		ASSERT_EQ(0, _test_cmd_hwpt_alloc(self->fd, self->idev_id,     \
						  self->ioas_id, flags,        \
						  hwpt_id));                   \
	} while (0)

/* A HWPT on dev_id's IOMMU that mirrors the IOAS pt_id, not attached. */
#define test_cmd_hwpt_alloc(dev_id, pt_id, hwpt_id)                            \
	ASSERT_EQ(0, _test_cmd_hwpt_alloc(self->fd, dev_id, pt_id, 0, hwpt_id))

/* Move mock device stdev_id to pt_id; *hwpt_id: the HWPT it is now on. */
static inline int _test_cmd_mock_domain_replace(int fd, __u32 stdev_id,
						__u32 pt_id, __u32 *hwpt_id)
{
	struct iommu_test_cmd cmd = {
		.size = sizeof(cmd),
		.op = IOMMU_TEST_OP_MOCK_DOMAIN_REPLACE,
		.id = stdev_id,
		.mock_domain_replace = { .pt_id = pt_id },
	};
	int rc;

	rc = ioctl(fd, IOMMU_TEST_CMD, &cmd);
	if (rc)
		return rc;
	if (hwpt_id)
		*hwpt_id = cmd.mock_domain_replace.pt_id;
	return 0;
}

#define test_cmd_mock_domain_replace(stdev_id, pt_id, hwpt_id)                \
	ASSERT_EQ(0, _test_cmd_mock_domain_replace(self->fd, stdev_id, pt_id,  \
						   hwpt_id))

/* A mock device with MOCK_FLAGS_DEVICE_* dev_flags, attached to pt_id. */
static inline int _test_cmd_mock_domain_flags(int fd, __u32 pt_id,
					      __u32 dev_flags, __u32 *stdev_id)
{
	struct iommu_test_cmd cmd = {
		.size = sizeof(cmd),
		.op = IOMMU_TEST_OP_MOCK_DOMAIN_FLAGS,
		.id = pt_id,
		.mock_domain_flags = { .dev_flags = dev_flags },
	};
	int rc;

	rc = ioctl(fd, IOMMU_TEST_CMD, &cmd);
	if (rc)
		return rc;
	if (stdev_id)
		*stdev_id = cmd.mock_domain_flags.out_stdev_id;
	return 0;
}

/*
 * 0 when every mock IO page of [iova, iova + length) in the domain of
 * hwpt_id translates to the memory behind uptr; -1 with EINVAL when one
 * does not.
 */
static inline int _test_cmd_check_map(int fd, __u32 hwpt_id, __u64 iova,
				      __u64 length, const void *uptr)
{
	struct iommu_test_cmd cmd = {
		.size = sizeof(cmd),
		.op = IOMMU_TEST_OP_MD_CHECK_MAP,
		.id = hwpt_id,
		.check_map = {
			.iova = iova,
			.length = length,
			.uptr = (uintptr_t)uptr,
		},
	};

	return ioctl(fd, IOMMU_TEST_CMD, &cmd);
}

#define check_mock_map(hwpt_id, iova, length, uptr)                           \
	ASSERT_EQ(0, _test_cmd_check_map(self->fd, hwpt_id, iova, length, uptr))

/*
 * 0 when every page of [uptr, uptr + length) is pinned exactly refs
 * times; -1 with EIO when one is not. The kernel counts the pins of a
 * compound page (THP, hugetlb) for all its pages together: one the range
 * covers whole must hold refs pins for each of its pages, one it covers
 * in part at least refs for each page in the range. Needs no object, so
 * any /dev/iommu file will do.
 */
static inline int _test_cmd_check_refs(int fd, const void *uptr,
				       __u64 length, unsigned int refs)
{
	struct iommu_test_cmd cmd = {
		.size = sizeof(cmd),
		.op = IOMMU_TEST_OP_MD_CHECK_REFS,
		.check_refs = {
			.length = length,
			.uptr = (uintptr_t)uptr,
			.refs = refs,
		},
	};

	return ioctl(fd, IOMMU_TEST_CMD, &cmd);
}

#define check_refs(uptr, length, refs)                                         \
	ASSERT_EQ(0, _test_cmd_check_refs(self->fd, uptr, length, refs))

/*
 * In-kernel accesses. IOMMU_TEST_OP_CREATE_ACCESS returns the access as a
 * file descriptor of its own, and closing that descriptor destroys it.
 * The other operations name the access by that descriptor in .id, so they
 * may be issued on any /dev/iommu file.
 */
static inline int _test_cmd_create_access(int fd, __u32 ioas_id, __u32 flags,
					  int *access_fd)
{
	struct iommu_test_cmd cmd = {
		.size = sizeof(cmd),
		.op = IOMMU_TEST_OP_CREATE_ACCESS,
		.id = ioas_id,
		.create_access = { .flags = flags },
	};
	int rc;

	rc = ioctl(fd, IOMMU_TEST_CMD, &cmd);
	if (rc)
		return rc;
	*access_fd = cmd.create_access.out_access_fd;
	return 0;
}

#define test_cmd_create_access(ioas_id, flags, access_fd_p)                   \
	({                                                                     \
		int *__afd = (access_fd_p);                                    \
		ASSERT_EQ(0, _test_cmd_create_access(self->fd, ioas_id, flags, \
						     __afd));                  \
		ASSERT_LE(0, *__afd);                                          \
	})

/*
 * Pin the pages behind [iova, iova + length) for the access, and check
 * they are the pages of the memory at uptr (not checked when uptr is
 * NULL). *pages_id names the pin for _test_cmd_destroy_access_pages().
 */
static inline int _test_cmd_access_pages(int fd, int access_fd, __u64 iova,
					 __u64 length, const void *uptr,
					 __u32 flags, __u32 *pages_id)
{
	struct iommu_test_cmd cmd = {
		.size = sizeof(cmd),
		.op = IOMMU_TEST_OP_ACCESS_PAGES,
		.id = access_fd,
		.access_pages = {
			.flags = flags,
			.iova = iova,
			.length = length,
			.uptr = (uintptr_t)uptr,
		},
	};
	int rc;

	rc = ioctl(fd, IOMMU_TEST_CMD, &cmd);
	if (rc)
		return rc;
	if (pages_id)
		*pages_id = cmd.access_pages.out_access_pages_id;
	return 0;
}

#define test_cmd_access_pages(access_fd, iova, length, uptr, flags, id_p)      \
	ASSERT_EQ(0, _test_cmd_access_pages(self->fd, access_fd, iova, length, \
					    uptr, flags, id_p))

static inline int _test_cmd_destroy_access_pages(int fd, int access_fd,
						 __u32 pages_id)
{
	struct iommu_test_cmd cmd = {
		.size = sizeof(cmd),
		.op = IOMMU_TEST_OP_DESTROY_ACCESS_PAGES,
		.id = access_fd,
		.destroy_access_pages = { .access_pages_id = pages_id },
	};

	return ioctl(fd, IOMMU_TEST_CMD, &cmd);
}

#define test_cmd_destroy_access_pages(access_fd, pages_id)                    \
	ASSERT_EQ(0, _test_cmd_destroy_access_pages(self->fd, access_fd,       \
						    pages_id))

/*
 * Copy length bytes between the memory at uptr and the memory behind the
 * IOVA: out of the IOVA, or into it with MOCK_ACCESS_RW_WRITE.
 */
static inline int _test_cmd_access_rw(int fd, int access_fd, __u64 iova,
				      __u64 length, void *uptr, __u32 flags)
{
	struct iommu_test_cmd cmd = {
		.size = sizeof(cmd),
		.op = IOMMU_TEST_OP_ACCESS_RW,
		.id = access_fd,
		.access_rw = {
			.iova = iova,
			.length = length,
			.uptr = (uintptr_t)uptr,
			.flags = flags,
		},
	};

	return ioctl(fd, IOMMU_TEST_CMD, &cmd);
}

#define test_cmd_access_rw(access_fd, iova, length, uptr, flags)              \
	ASSERT_EQ(0, _test_cmd_access_rw(self->fd, access_fd, iova, length,    \
					 uptr, flags))

static inline int _test_cmd_access_replace_ioas(int fd, int access_fd,
						__u32 ioas_id)
{
	struct iommu_test_cmd cmd = {
		.size = sizeof(cmd),
		.op = IOMMU_TEST_OP_ACCESS_REPLACE_IOAS,
		.id = access_fd,
		.access_replace_ioas = { .ioas_id = ioas_id },
	};

	return ioctl(fd, IOMMU_TEST_CMD, &cmd);
}

#define test_cmd_access_replace_ioas(access_fd, ioas_id)                      \
	ASSERT_EQ(0, _test_cmd_access_replace_ioas(self->fd, access_fd,        \
						   ioas_id))

/*
 * Dirty tracking: IOMMU_HWPT_SET_DIRTY_TRACKING, IOMMU_HWPT_GET_DIRTY_BITMAP
 * and the mock IOMMU's IOMMU_TEST_OP_DIRTY, which plays DMA writes.
 */

/* A mock device with dev_flags on pt_id, and all its IDs. */
static inline int _test_cmd_mock_domain_flags_ids(int fd, __u32 pt_id,
						  __u32 dev_flags,
						  __u32 *stdev_id,
						  __u32 *hwpt_id,
						  __u32 *idev_id)
{
	struct iommu_test_cmd cmd = {
		.size = sizeof(cmd),
		.op = IOMMU_TEST_OP_MOCK_DOMAIN_FLAGS,
		.id = pt_id,
		.mock_domain_flags = { .dev_flags = dev_flags },
	};
	int rc;

	rc = ioctl(fd, IOMMU_TEST_CMD, &cmd);
	if (rc)
		return rc;
	if (stdev_id)
		*stdev_id = cmd.mock_domain_flags.out_stdev_id;
	if (hwpt_id)
		*hwpt_id = cmd.mock_domain_flags.out_hwpt_id;
	if (idev_id)
		*idev_id = cmd.mock_domain_flags.out_idev_id;
	return 0;
}

static inline int _test_cmd_set_dirty_tracking(int fd, __u32 hwpt_id,
					       bool enable)
{
	struct iommu_hwpt_set_dirty_tracking cmd = {
		.size = sizeof(cmd),
		.flags = enable ? IOMMU_HWPT_DIRTY_TRACKING_ENABLE : 0,
		.hwpt_id = hwpt_id,
	};

	return ioctl(fd, IOMMU_HWPT_SET_DIRTY_TRACKING, &cmd);
}

#define test_cmd_set_dirty_tracking(hwpt_id, enable)                           \
	ASSERT_EQ(0, _test_cmd_set_dirty_tracking(self->fd, hwpt_id, enable))

static inline int _test_cmd_get_dirty_bitmap(int fd, __u32 hwpt_id,
					     __u64 iova, __u64 length,
					     __u64 page_size, void *bitmap,
					     __u32 flags)
{
	struct iommu_hwpt_get_dirty_bitmap cmd = {
		.size = sizeof(cmd),
		.hwpt_id = hwpt_id,
		.flags = flags,
		.iova = iova,
		.length = length,
		.page_size = page_size,
		.data = (uintptr_t)bitmap,
	};

	return ioctl(fd, IOMMU_HWPT_GET_DIRTY_BITMAP, &cmd);
}

#define test_cmd_get_dirty_bitmap(hwpt_id, iova, length, page_size, bitmap,   \
				  flags)                                       \
	ASSERT_EQ(0, _test_cmd_get_dirty_bitmap(self->fd, hwpt_id, iova,       \
						length, page_size, bitmap,     \
						flags))

/*
 * Mark dirty, as DMA writes would, the page_size blocks of IOVA from iova
 * whose bits are set in bitmap; *nr_dirty: how many of them were mapped.
 */
static inline int _test_cmd_mock_dirty(int fd, __u32 hwpt_id, __u64 iova,
				       __u64 length, __u64 page_size,
				       const void *bitmap, __u64 *nr_dirty)
{
	struct iommu_test_cmd cmd = {
		.size = sizeof(cmd),
		.op = IOMMU_TEST_OP_DIRTY,
		.id = hwpt_id,
		.dirty = {
			.iova = iova,
			.length = length,
			.page_size = page_size,
			.uptr = (uintptr_t)bitmap,
		},
	};
	int rc;

	rc = ioctl(fd, IOMMU_TEST_CMD, &cmd);
	if (rc)
		return rc;
	if (nr_dirty)
		*nr_dirty = cmd.dirty.out_nr_dirty;
	return 0;
}

#define test_cmd_mock_dirty(hwpt_id, iova, length, page_size, bitmap, nr)     \
	ASSERT_EQ(0, _test_cmd_mock_dirty(self->fd, hwpt_id, iova, length,     \
					  page_size, bitmap, nr))

#endif
