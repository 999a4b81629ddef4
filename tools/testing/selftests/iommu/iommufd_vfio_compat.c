// SPDX-License-Identifier: GPL-2.0-only
/*
 * The VFIO type1 container API that every iommufd context answers
 * (drivers/iommu/iommufd/vfio_compat.c), as a VMM sees it, with the mock
 * IOMMU standing in for a device: a /dev/iommu file whose compat IOAS
 * (picked with IOMMU_VFIO_IOAS) has a mock domain attached is a container
 * with a group in it.
 *
 *  - IOMMU_VFIO_IOAS: its size contract and errnos, and that the pick
 *    goes away with the IOAS, never to name a later IOAS of the same ID;
 *  - VFIO_GET_API_VERSION, VFIO_CHECK_EXTENSION, VFIO_SET_IOMMU, and
 *    that TYPE1 (v1) turns large IOPTEs off on the compat IOAS;
 *  - VFIO_IOMMU_GET_INFO read the way QEMU reads it: argsz grows to hold
 *    the capability chain, which comes whole or not at all, and nothing
 *    lands past argsz; the IOVA ranges leave the reserved IOVA out;
 *  - VFIO_IOMMU_MAP_DMA and VFIO_IOMMU_UNMAP_DMA: bad input, overlaps,
 *    the sizes unmap reports, UNMAP_ALL, v2 refusing to cut a mapping
 *    and v1 cutting it at page boundaries, what in-kernel accesses do to
 *    both, and what is not emulated;
 *  - accounting: /dev/vfio/vfio charges the process's locked_vm (VmLck)
 *    as type1 did, /dev/iommu the user, both against RLIMIT_MEMLOCK.
 *
 * The mapping tests run once per IOMMU type (fixture variants), on a mock
 * domain: every map and unmap is checked against what the domain
 * translates (IOMMU_TEST_OP_MD_CHECK_MAP), and every test ends with its
 * buffer unpinned (IOMMU_TEST_OP_MD_CHECK_REFS).
 *
 * On a kernel without the emulation every VFIO ioctl on /dev/iommu and
 * IOMMU_VFIO_IOAS fail with ENOTTY, so every test here fails there: each
 * one expects some VFIO ioctl or IOMMU_VFIO_IOAS to work, or to fail with
 * an errno other than ENOTTY, before anything else.
 */
/* For setresuid(). */
#define _GNU_SOURCE
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/wait.h>

#include <linux/vfio.h>

#include "iommufd_utils.h"

/* Pages of the buffer every mapping test maps from. */
#define BUF_PAGES 16
/* The RLIMIT_MEMLOCK of the accounting tests' children, in pages. */
#define LIMIT_PAGES 8
/* Room for GET_INFO's answer, in u64 so the caps are aligned. */
#define INFO_WORDS 128
#define INFO_FILL 0xa5

static unsigned long page_size;

static __attribute__((constructor)) void setup_page_size(void)
{
	page_size = sysconf(_SC_PAGE_SIZE);
}

/* IOMMU_VFIO_IOAS; *ioas_id is read for SET and written by GET. */
static int vfio_ioas(int fd, __u16 op, __u32 *ioas_id)
{
	struct iommu_vfio_ioas cmd = {
		.size = sizeof(cmd),
		.op = op,
		.ioas_id = ioas_id ? *ioas_id : 0,
	};
	int rc;

	rc = ioctl(fd, IOMMU_VFIO_IOAS, &cmd);
	if (!rc && op == IOMMU_VFIO_IOAS_GET && ioas_id)
		*ioas_id = cmd.ioas_id;
	return rc;
}

/* Assert that the compat IOAS is the expected one. */
#define expect_compat_ioas(expected)                                           \
	({                                                                     \
		__u32 __got = 0;                                               \
		ASSERT_EQ(0, vfio_ioas(self->fd, IOMMU_VFIO_IOAS_GET, &__got));\
		ASSERT_EQ((__u32)(expected), __got);                           \
	})

static int map_dma(int fd, __u64 iova, const void *vaddr, __u64 size,
		   __u32 flags)
{
	struct vfio_iommu_type1_dma_map map = {
		.argsz = sizeof(map),
		.flags = flags,
		.vaddr = (uintptr_t)vaddr,
		.iova = iova,
		.size = size,
	};

	return ioctl(fd, VFIO_IOMMU_MAP_DMA, &map);
}

#define MAP_RW (VFIO_DMA_MAP_FLAG_READ | VFIO_DMA_MAP_FLAG_WRITE)

/* *unmapped, unless NULL, gets the size the kernel reports. */
static int unmap_dma(int fd, __u64 iova, __u64 size, __u32 flags,
		     __u64 *unmapped)
{
	struct vfio_iommu_type1_dma_unmap unmap = {
		.argsz = sizeof(unmap),
		.flags = flags,
		.iova = iova,
		.size = size,
	};
	int rc;

	rc = ioctl(fd, VFIO_IOMMU_UNMAP_DMA, &unmap);
	if (unmapped)
		*unmapped = unmap.size;
	return rc;
}

/* Unmap a range and assert the kernel reports expected bytes unmapped. */
#define test_unmap_dma(iova, size, expected)                                   \
	({                                                                     \
		__u64 __unmapped = UINT64_MAX;                                 \
		ASSERT_EQ(0, unmap_dma(self->fd, iova, size, 0, &__unmapped)); \
		ASSERT_EQ((__u64)(expected), __unmapped);                      \
	})

#define test_unmap_dma_all(expected)                                           \
	({                                                                     \
		__u64 __unmapped = UINT64_MAX;                                 \
		ASSERT_EQ(0, unmap_dma(self->fd, 0, 0,                         \
				       VFIO_DMA_UNMAP_FLAG_ALL,                \
				       &__unmapped));                          \
		ASSERT_EQ((__u64)(expected), __unmapped);                      \
	})

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
 * VFIO_IOMMU_GET_INFO with the given argsz into words, every byte of
 * which is INFO_FILL before the call.
 */
static int get_info(int fd, __u64 *words, __u32 argsz)
{
	struct vfio_iommu_type1_info *info = (void *)words;

	memset(words, INFO_FILL, INFO_WORDS * sizeof(*words));
	info->argsz = argsz;
	return ioctl(fd, VFIO_IOMMU_GET_INFO, words);
}

/* Every byte of [from, to) of words still holds INFO_FILL. */
static bool info_untouched(const __u64 *words, size_t from, size_t to)
{
	const __u8 *bytes = (const __u8 *)words;

	for (; from < to; from++)
		if (bytes[from] != INFO_FILL)
			return false;
	return true;
}

/*
 * Walk the capability chain as QEMU does (hdr->next until 0, offsets from
 * the start of the info) and return the capability with that ID, or NULL.
 * Every header must lie inside the answer, after the fixed part, aligned,
 * and the chain must end.
 */
static struct vfio_info_cap_header *
find_cap(struct __test_metadata *_metadata, __u64 *words, __u16 id)
{
	struct vfio_iommu_type1_info *info = (void *)words;
	struct vfio_info_cap_header *found = NULL;
	__u32 offset = info->cap_offset;
	unsigned int hops = 0;

	while (offset) {
		struct vfio_info_cap_header *hdr = (void *)words + offset;

		ASSERT_LE(sizeof(*info), offset);
		ASSERT_EQ(0, offset % sizeof(__u64));
		ASSERT_GE(info->argsz, offset + sizeof(*hdr));
		ASSERT_GT(8, ++hops);
		if (hdr->id == id) {
			ASSERT_EQ(NULL, found);
			found = hdr;
		}
		offset = hdr->next;
	}
	return found;
}

/* The IOVA range capability, asserted present and inside the answer. */
static struct vfio_iommu_type1_info_cap_iova_range *
find_iova_cap(struct __test_metadata *_metadata, __u64 *words)
{
	struct vfio_iommu_type1_info_cap_iova_range *cap;
	struct vfio_iommu_type1_info *info = (void *)words;

	cap = (void *)find_cap(_metadata, words,
			       VFIO_IOMMU_TYPE1_INFO_CAP_IOVA_RANGE);
	ASSERT_NE(NULL, cap);
	ASSERT_EQ(1, cap->header.version);
	ASSERT_GE(info->argsz,
		  (char *)&cap->iova_ranges[cap->nr_iovas] - (char *)words);
	return cap;
}

/* A context on /dev/iommu with no compat IOAS. */
FIXTURE(no_ioas)
{
	int fd;
};

FIXTURE_SETUP(no_ioas)
{
	self->fd = open("/dev/iommu", O_RDWR);
	ASSERT_LE(0, self->fd);
}

/* No ASSERT in a teardown: the 6.1 harness would loop on it. */
FIXTURE_TEARDOWN(no_ioas)
{
	close(self->fd);
}

/* The size rules every iommufd ioctl follows, and the reserved field. */
TEST_F(no_ioas, vfio_ioas_size)
{
	struct {
		struct iommu_vfio_ioas cmd;
		__u64 tail;
	} big = {};
	struct iommu_vfio_ioas *cmd = &big.cmd;
	__u32 ioas_id;

	test_ioctl_ioas_alloc(&ioas_id);
	cmd->ioas_id = ioas_id;
	cmd->op = IOMMU_VFIO_IOAS_SET;

	cmd->size = sizeof(*cmd) - 1;
	EXPECT_ERRNO(EINVAL, ioctl(self->fd, IOMMU_VFIO_IOAS, cmd));
	cmd->size = 0;
	EXPECT_ERRNO(EINVAL, ioctl(self->fd, IOMMU_VFIO_IOAS, cmd));
	cmd->size = sizeof(big);
	big.tail = 0xaa;
	EXPECT_ERRNO(E2BIG, ioctl(self->fd, IOMMU_VFIO_IOAS, cmd));
	EXPECT_ERRNO(ENODEV, vfio_ioas(self->fd, IOMMU_VFIO_IOAS_GET, NULL));

	/* A zero tail is fine. */
	big.tail = 0;
	ASSERT_EQ(0, ioctl(self->fd, IOMMU_VFIO_IOAS, cmd));
	expect_compat_ioas(ioas_id);

	cmd->size = sizeof(*cmd);
	cmd->__reserved = 1;
	EXPECT_ERRNO(EOPNOTSUPP, ioctl(self->fd, IOMMU_VFIO_IOAS, cmd));
	cmd->__reserved = 0;
	cmd->op = IOMMU_VFIO_IOAS_CLEAR + 1;
	EXPECT_ERRNO(EOPNOTSUPP, ioctl(self->fd, IOMMU_VFIO_IOAS, cmd));
	cmd->op = UINT16_MAX;
	EXPECT_ERRNO(EOPNOTSUPP, ioctl(self->fd, IOMMU_VFIO_IOAS, cmd));
	/* None of the failures changed the pick. */
	expect_compat_ioas(ioas_id);
}

TEST_F(no_ioas, vfio_ioas_set_get_clear)
{
	__u32 ioas_id, ioas2_id, stdev_id, hwpt_id, idev_id, bad;

	EXPECT_ERRNO(ENODEV, vfio_ioas(self->fd, IOMMU_VFIO_IOAS_GET, NULL));
	test_ioctl_ioas_alloc(&ioas_id);
	test_ioctl_ioas_alloc(&ioas2_id);
	test_cmd_mock_domain(ioas2_id, &stdev_id, &hwpt_id, &idev_id);

	/* Only an IOAS can be picked. */
	bad = 0;
	EXPECT_ERRNO(ENOENT, vfio_ioas(self->fd, IOMMU_VFIO_IOAS_SET, &bad));
	bad = UINT32_MAX;
	EXPECT_ERRNO(ENOENT, vfio_ioas(self->fd, IOMMU_VFIO_IOAS_SET, &bad));
	EXPECT_ERRNO(ENOENT, vfio_ioas(self->fd, IOMMU_VFIO_IOAS_SET,
				       &hwpt_id));
	EXPECT_ERRNO(ENOENT, vfio_ioas(self->fd, IOMMU_VFIO_IOAS_SET,
				       &idev_id));
	EXPECT_ERRNO(ENODEV, vfio_ioas(self->fd, IOMMU_VFIO_IOAS_GET, NULL));

	ASSERT_EQ(0, vfio_ioas(self->fd, IOMMU_VFIO_IOAS_SET, &ioas_id));
	expect_compat_ioas(ioas_id);
	ASSERT_EQ(0, vfio_ioas(self->fd, IOMMU_VFIO_IOAS_SET, &ioas2_id));
	expect_compat_ioas(ioas2_id);
	/* A failed SET keeps the pick. */
	EXPECT_ERRNO(ENOENT, vfio_ioas(self->fd, IOMMU_VFIO_IOAS_SET, &bad));
	expect_compat_ioas(ioas2_id);

	/* CLEAR forgets the pick, and does it again without complaint. */
	ASSERT_EQ(0, vfio_ioas(self->fd, IOMMU_VFIO_IOAS_CLEAR, NULL));
	EXPECT_ERRNO(ENODEV, vfio_ioas(self->fd, IOMMU_VFIO_IOAS_GET, NULL));
	ASSERT_EQ(0, vfio_ioas(self->fd, IOMMU_VFIO_IOAS_CLEAR, NULL));
	EXPECT_ERRNO(ENODEV,
		     ioctl(self->fd, VFIO_SET_IOMMU, VFIO_TYPE1v2_IOMMU));

	/* Neither SET nor CLEAR destroyed anything. */
	test_ioctl_destroy(stdev_id);
	test_ioctl_destroy(ioas2_id);
	test_ioctl_destroy(ioas_id);
}

/* Without a compat IOAS the container ioctls that need one say ENODEV. */
TEST_F(no_ioas, container_without_ioas)
{
	__u64 words[INFO_WORDS];
	char *buf = test_alloc_small_pages(1);

	ASSERT_NE(NULL, buf);
	/* These need no IOAS, as type1 needs no group for them. */
	ASSERT_EQ(VFIO_API_VERSION, ioctl(self->fd, VFIO_GET_API_VERSION));
	ASSERT_EQ(1, ioctl(self->fd, VFIO_CHECK_EXTENSION,
			   VFIO_TYPE1v2_IOMMU));

	EXPECT_ERRNO(ENODEV, ioctl(self->fd, VFIO_SET_IOMMU, VFIO_TYPE1_IOMMU));
	EXPECT_ERRNO(ENODEV,
		     ioctl(self->fd, VFIO_SET_IOMMU, VFIO_TYPE1v2_IOMMU));
	EXPECT_ERRNO(ENODEV, get_info(self->fd, words, sizeof(words)));
	EXPECT_ERRNO(ENODEV, map_dma(self->fd, MOCK_APERTURE_START, buf,
				     page_size, MAP_RW));
	EXPECT_ERRNO(ENODEV, unmap_dma(self->fd, MOCK_APERTURE_START,
				       page_size, 0, NULL));
	EXPECT_ERRNO(ENODEV, unmap_dma(self->fd, 0, 0, VFIO_DMA_UNMAP_FLAG_ALL,
				       NULL));
	check_refs(buf, page_size, 0);
	munmap(buf, page_size);
}

/*
 * Destroying the compat IOAS clears the pick, and an IOAS that gets the
 * same ID later is not picked by accident.
 */
TEST_F(no_ioas, destroy_clears_pick)
{
	__u32 ioas_id, again, stdev_id;
	char *buf = test_alloc_small_pages(1);

	ASSERT_NE(NULL, buf);
	test_ioctl_ioas_alloc(&ioas_id);
	ASSERT_EQ(0, vfio_ioas(self->fd, IOMMU_VFIO_IOAS_SET, &ioas_id));

	/* An IOAS in use cannot be destroyed, and stays picked. */
	test_cmd_mock_domain(ioas_id, &stdev_id, NULL, NULL);
	ASSERT_EQ(0, ioctl(self->fd, VFIO_SET_IOMMU, VFIO_TYPE1v2_IOMMU));
	EXPECT_ERRNO(EBUSY, _test_ioctl_destroy(self->fd, ioas_id));
	expect_compat_ioas(ioas_id);
	ASSERT_EQ(0, map_dma(self->fd, MOCK_APERTURE_START, buf, page_size,
			     MAP_RW));
	check_refs(buf, page_size, 1);
	test_ioctl_destroy(stdev_id);

	/* Destroying it with a mapping in it unpins and forgets it. */
	test_ioctl_destroy(ioas_id);
	check_refs(buf, page_size, 0);
	EXPECT_ERRNO(ENODEV, vfio_ioas(self->fd, IOMMU_VFIO_IOAS_GET, NULL));
	EXPECT_ERRNO(ENODEV, map_dma(self->fd, MOCK_APERTURE_START, buf,
				     page_size, MAP_RW));

	/* IDs are handed out again: the new IOAS has the old ID. */
	test_ioctl_ioas_alloc(&again);
	ASSERT_EQ(ioas_id, again);
	EXPECT_ERRNO(ENODEV, vfio_ioas(self->fd, IOMMU_VFIO_IOAS_GET, NULL));
	EXPECT_ERRNO(ENODEV, map_dma(self->fd, MOCK_APERTURE_START, buf,
				     page_size, MAP_RW));
	EXPECT_ERRNO(ENODEV,
		     ioctl(self->fd, VFIO_SET_IOMMU, VFIO_TYPE1v2_IOMMU));
	test_ioctl_option_expect(IOMMU_OPTION_HUGE_PAGES, again, 1);
	test_ioctl_destroy(again);
	munmap(buf, page_size);
}

TEST_F(no_ioas, api_version_and_extensions)
{
	static const struct {
		unsigned long extension;
		int supported;
	} extensions[] = {
		{ VFIO_TYPE1_IOMMU, 1 },
		{ VFIO_TYPE1v2_IOMMU, 1 },
		{ VFIO_UNMAP_ALL, 1 },
		{ VFIO_SPAPR_TCE_IOMMU, 0 },
		{ VFIO_DMA_CC_IOMMU, 0 },
		{ VFIO_TYPE1_NESTING_IOMMU, 0 },
		{ VFIO_SPAPR_TCE_v2_IOMMU, 0 },
		{ VFIO_NOIOMMU_IOMMU, 0 },
		{ VFIO_UPDATE_VADDR, 0 },
		{ 0, 0 },
		{ 1000, 0 },
	};
	unsigned int i;

	ASSERT_EQ(0, VFIO_API_VERSION);
	ASSERT_EQ(VFIO_API_VERSION, ioctl(self->fd, VFIO_GET_API_VERSION));
	for (i = 0; i != ARRAY_SIZE(extensions); i++) {
		TH_LOG("extension %lu", extensions[i].extension);
		ASSERT_EQ(extensions[i].supported,
			  ioctl(self->fd, VFIO_CHECK_EXTENSION,
				extensions[i].extension));
	}
}

TEST_F(no_ioas, set_iommu)
{
	static const unsigned long refused[] = {
		0,
		VFIO_SPAPR_TCE_IOMMU,
		VFIO_DMA_CC_IOMMU,
		VFIO_TYPE1_NESTING_IOMMU,
		VFIO_SPAPR_TCE_v2_IOMMU,
		VFIO_NOIOMMU_IOMMU,
		1000,
	};
	__u32 v1_ioas, v2_ioas;
	unsigned int i;

	test_ioctl_ioas_alloc(&v1_ioas);
	test_ioctl_ioas_alloc(&v2_ioas);

	ASSERT_EQ(0, vfio_ioas(self->fd, IOMMU_VFIO_IOAS_SET, &v2_ioas));
	for (i = 0; i != ARRAY_SIZE(refused); i++)
		EXPECT_ERRNO(EINVAL,
			     ioctl(self->fd, VFIO_SET_IOMMU, refused[i]));
	/* v2 leaves large IOPTEs on. */
	ASSERT_EQ(0, ioctl(self->fd, VFIO_SET_IOMMU, VFIO_TYPE1v2_IOMMU));
	test_ioctl_option_expect(IOMMU_OPTION_HUGE_PAGES, v2_ioas, 1);

	/* v1 turns them off on the compat IOAS, and only there. */
	ASSERT_EQ(0, vfio_ioas(self->fd, IOMMU_VFIO_IOAS_SET, &v1_ioas));
	test_ioctl_option_expect(IOMMU_OPTION_HUGE_PAGES, v1_ioas, 1);
	ASSERT_EQ(0, ioctl(self->fd, VFIO_SET_IOMMU, VFIO_TYPE1_IOMMU));
	test_ioctl_option_expect(IOMMU_OPTION_HUGE_PAGES, v1_ioas, 0);
	test_ioctl_option_expect(IOMMU_OPTION_HUGE_PAGES, v2_ioas, 1);

	test_ioctl_destroy(v1_ioas);
	test_ioctl_destroy(v2_ioas);
}

/* What GET_INFO tells depends on the domains attached, as with type1. */
TEST_F(no_ioas, info_follows_domains)
{
	struct vfio_iommu_type1_info_cap_iova_range *cap;
	struct vfio_iommu_type1_info *info;
	__u64 words[INFO_WORDS];
	__u32 ioas_id, stdev_id;

	info = (void *)words;
	test_ioctl_ioas_alloc(&ioas_id);
	ASSERT_EQ(0, vfio_ioas(self->fd, IOMMU_VFIO_IOAS_SET, &ioas_id));

	/* No domain: any page size from a CPU page, all of the IOVA. */
	ASSERT_EQ(0, get_info(self->fd, words, sizeof(words)));
	ASSERT_EQ((__u64)~(page_size - 1), info->iova_pgsizes);
	cap = find_iova_cap(_metadata, words);
	ASSERT_EQ(1, cap->nr_iovas);
	ASSERT_EQ(0, cap->iova_ranges[0].start);
	ASSERT_EQ(UINT64_MAX, cap->iova_ranges[0].end);

	/* The mock domain: half-page IO pages, so CPU pages; its aperture. */
	test_cmd_mock_domain(ioas_id, &stdev_id, NULL, NULL);
	ASSERT_EQ(0, get_info(self->fd, words, sizeof(words)));
	ASSERT_EQ(page_size, info->iova_pgsizes);
	cap = find_iova_cap(_metadata, words);
	ASSERT_EQ(1, cap->nr_iovas);
	ASSERT_EQ(MOCK_APERTURE_START, cap->iova_ranges[0].start);
	ASSERT_EQ(MOCK_APERTURE_LAST, cap->iova_ranges[0].end);

	/* And back when it goes. */
	test_ioctl_destroy(stdev_id);
	ASSERT_EQ(0, get_info(self->fd, words, sizeof(words)));
	cap = find_iova_cap(_metadata, words);
	ASSERT_EQ(1, cap->nr_iovas);
	ASSERT_EQ(UINT64_MAX, cap->iova_ranges[0].end);
	test_ioctl_destroy(ioas_id);
}

/*
 * A container with a group: the compat IOAS has a mock domain, and
 * VFIO_SET_IOMMU picked the variant's type.
 */
FIXTURE(compat)
{
	int fd;
	__u32 ioas_id;
	__u32 stdev_id;
	__u32 hwpt_id;
	char *buf;
	/* An in-kernel access, closed by the teardown if a test fails. */
	int access_fd;
};

FIXTURE_VARIANT(compat)
{
	unsigned long type;
};

FIXTURE_VARIANT_ADD(compat, type1v2)
{
	.type = VFIO_TYPE1v2_IOMMU,
};

FIXTURE_VARIANT_ADD(compat, type1)
{
	.type = VFIO_TYPE1_IOMMU,
};

FIXTURE_SETUP(compat)
{
	self->access_fd = -1;
	self->fd = open("/dev/iommu", O_RDWR);
	ASSERT_LE(0, self->fd);
	self->buf = test_alloc_small_pages(BUF_PAGES);
	ASSERT_NE(NULL, self->buf);
	test_ioctl_ioas_alloc(&self->ioas_id);
	ASSERT_EQ(0, vfio_ioas(self->fd, IOMMU_VFIO_IOAS_SET, &self->ioas_id));
	test_cmd_mock_domain(self->ioas_id, &self->stdev_id, &self->hwpt_id,
			     NULL);
	ASSERT_EQ(0, ioctl(self->fd, VFIO_SET_IOMMU, variant->type));
}

FIXTURE_TEARDOWN(compat)
{
	int fd = open("/dev/iommu", O_RDWR);

	/* The access holds the IOAS, and its pins, past the close. */
	if (self->access_fd >= 0)
		close(self->access_fd);
	close(self->fd);
	/* No ASSERT here: a failed check shows as a failed test instead. */
	if (fd >= 0 && _test_cmd_check_refs(fd, self->buf,
					    BUF_PAGES * page_size, 0)) {
		TH_LOG("the buffer is still pinned after close");
		_metadata->passed = 0;
	}
	close(fd);
	munmap(self->buf, BUF_PAGES * page_size);
}

#define IOVA MOCK_APERTURE_START
#define PAGES(n) ((__u64)(n) * page_size)
#define BUF(n) (self->buf + PAGES(n))

/* The IOVA of page n of a mapping at IOVA is mapped to page n of buf. */
#define check_mapped(iova, n_pages, buf_page)                                  \
	check_mock_map(self->hwpt_id, iova, PAGES(n_pages), BUF(buf_page))

#define check_unmapped(iova, n_pages)                                          \
	EXPECT_ERRNO(EINVAL, _test_cmd_check_map(self->fd, self->hwpt_id,      \
						 iova, PAGES(n_pages),         \
						 self->buf))

TEST_F(compat, get_info)
{
	struct vfio_iommu_type1_info_cap_iova_range *cap;
	struct vfio_iommu_type1_info_dma_avail *avail;
	const size_t info_size = sizeof(struct vfio_iommu_type1_info);
	/* Up to iova_pgsizes: what users from before cap_offset pass. */
	const size_t minsz = offsetof(struct vfio_iommu_type1_info,
				      iova_pgsizes) + sizeof(__u64);
	struct vfio_iommu_type1_info *info;
	__u64 words[INFO_WORDS];
	__u32 argsz, needed;

	info = (void *)words;
	/* Two holes in the aperture: a device's reserved regions. */
	ASSERT_EQ(0, add_reserved(self->fd, self->ioas_id, IOVA + PAGES(16),
				  PAGES(4)));
	ASSERT_EQ(0, add_reserved(self->fd, self->ioas_id, IOVA + PAGES(64),
				  PAGES(1)));

	EXPECT_ERRNO(EINVAL, get_info(self->fd, words, minsz - 1));
	EXPECT_ERRNO(EINVAL, get_info(self->fd, words, 0));

	/* Without cap_offset: the fixed part, nothing more. */
	ASSERT_EQ(0, get_info(self->fd, words, minsz));
	ASSERT_EQ(VFIO_IOMMU_INFO_PGSIZES | VFIO_IOMMU_INFO_CAPS, info->flags);
	ASSERT_EQ(page_size, info->iova_pgsizes);
	needed = info->argsz;
	ASSERT_LT(info_size, needed);
	ASSERT_TRUE(info_untouched(words, minsz, sizeof(words)));

	/* Room for the fixed part only: the size needed, no caps. */
	ASSERT_EQ(0, get_info(self->fd, words, info_size));
	ASSERT_EQ(needed, info->argsz);
	ASSERT_EQ(0, info->cap_offset);
	ASSERT_TRUE(info_untouched(words, info_size, sizeof(words)));
	ASSERT_GE(sizeof(words), needed + 64);

	/* Every argsz a program might try: all caps or none, never more. */
	for (argsz = info_size; argsz <= needed + 64; argsz++) {
		ASSERT_EQ(0, get_info(self->fd, words, argsz));
		ASSERT_EQ(needed, info->argsz);
		ASSERT_EQ(VFIO_IOMMU_INFO_PGSIZES | VFIO_IOMMU_INFO_CAPS,
			  info->flags);
		ASSERT_EQ(page_size, info->iova_pgsizes);
		if (argsz < needed) {
			ASSERT_EQ(0, info->cap_offset);
			ASSERT_TRUE(info_untouched(words, info_size,
						   sizeof(words)));
			continue;
		}
		ASSERT_EQ(info_size, info->cap_offset);
		ASSERT_TRUE(info_untouched(words, needed, sizeof(words)));
	}

	/* The last answer, parsed as QEMU parses it. */
	cap = find_iova_cap(_metadata, words);
	ASSERT_EQ(3, cap->nr_iovas);
	ASSERT_EQ(IOVA, cap->iova_ranges[0].start);
	ASSERT_EQ(IOVA + PAGES(16) - 1, cap->iova_ranges[0].end);
	ASSERT_EQ(IOVA + PAGES(20), cap->iova_ranges[1].start);
	ASSERT_EQ(IOVA + PAGES(64) - 1, cap->iova_ranges[1].end);
	ASSERT_EQ(IOVA + PAGES(65), cap->iova_ranges[2].start);
	ASSERT_EQ(MOCK_APERTURE_LAST, cap->iova_ranges[2].end);

	avail = (void *)find_cap(_metadata, words,
				 VFIO_IOMMU_TYPE1_INFO_DMA_AVAIL);
	ASSERT_NE(NULL, avail);
	ASSERT_EQ(1, avail->header.version);
	ASSERT_GE(needed, (char *)(avail + 1) - (char *)words);
	ASSERT_EQ(UINT32_MAX, avail->avail);

	/* What the cap leaves out cannot be mapped: EINVAL, as type1. */
	EXPECT_ERRNO(EINVAL, map_dma(self->fd, IOVA + PAGES(15), self->buf,
				     PAGES(2), MAP_RW));
	EXPECT_ERRNO(EINVAL, map_dma(self->fd, IOVA + PAGES(64), self->buf,
				     PAGES(1), MAP_RW));
	EXPECT_ERRNO(EINVAL, map_dma(self->fd, IOVA - PAGES(1), self->buf,
				     PAGES(1), MAP_RW));
	ASSERT_EQ(0, map_dma(self->fd, IOVA + PAGES(20), self->buf, PAGES(4),
			     MAP_RW));
	check_mapped(IOVA + PAGES(20), 4, 0);
	test_unmap_dma_all(PAGES(4));
}

TEST_F(compat, map_bad_input)
{
	struct vfio_iommu_type1_dma_map map = {
		.argsz = sizeof(map),
		.flags = MAP_RW,
		.vaddr = (uintptr_t)self->buf,
		.iova = IOVA,
		.size = PAGES(1),
	};
	__u64 iova = IOVA;

	map.argsz = sizeof(map) - 1;
	EXPECT_ERRNO(EINVAL, ioctl(self->fd, VFIO_IOMMU_MAP_DMA, &map));
	map.argsz = 0;
	EXPECT_ERRNO(EINVAL, ioctl(self->fd, VFIO_IOMMU_MAP_DMA, &map));
	map.argsz = sizeof(map);

	EXPECT_ERRNO(EINVAL, map_dma(self->fd, IOVA, self->buf, PAGES(1), 0));
	EXPECT_ERRNO(EINVAL, map_dma(self->fd, IOVA, self->buf, PAGES(1),
				     MAP_RW | VFIO_DMA_MAP_FLAG_VADDR));
	EXPECT_ERRNO(EINVAL, map_dma(self->fd, IOVA, self->buf, PAGES(1),
				     MAP_RW | (1U << 3)));
	EXPECT_ERRNO(EINVAL, map_dma(self->fd, IOVA, self->buf, PAGES(1),
				     MAP_RW | (1U << 31)));
	EXPECT_ERRNO(EINVAL, map_dma(self->fd, IOVA, self->buf, 0, MAP_RW));
	/* Page aligned, as type1 wants, even where the mock IO page is not. */
	EXPECT_ERRNO(EINVAL, map_dma(self->fd, IOVA + page_size / 2, self->buf,
				     PAGES(1), MAP_RW));
	EXPECT_ERRNO(EINVAL, map_dma(self->fd, IOVA + 1, self->buf, PAGES(1),
				     MAP_RW));
	EXPECT_ERRNO(EINVAL, map_dma(self->fd, IOVA, self->buf,
				     page_size / 2, MAP_RW));
	EXPECT_ERRNO(EINVAL, map_dma(self->fd, IOVA, self->buf + page_size / 2,
				     PAGES(1), MAP_RW));
	/* Ranges that wrap. */
	EXPECT_ERRNO(EINVAL, map_dma(self->fd, -PAGES(1), self->buf, PAGES(2),
				     MAP_RW));
	EXPECT_ERRNO(EINVAL, map_dma(self->fd, IOVA, (void *)-PAGES(1),
				     PAGES(2), MAP_RW));

	/* Outside the aperture: the errno IOMMU_IOAS_MAP gives. */
	EXPECT_ERRNO(EINVAL, map_dma(self->fd, 0, self->buf, PAGES(1), MAP_RW));
	iova = 0;
	EXPECT_ERRNO(EINVAL, _test_ioctl_ioas_map(self->fd, self->ioas_id,
						  self->buf, PAGES(1), &iova,
						  IOMMU_IOAS_MAP_FIXED_IOVA |
							  TEST_MAP_RW));
	/* Memory that is not there. */
	EXPECT_ERRNO(EFAULT, map_dma(self->fd, IOVA, NULL, PAGES(1), MAP_RW));

	/* A longer argsz is fine, as with type1. */
	map.argsz = sizeof(map) + 8;
	ASSERT_EQ(0, ioctl(self->fd, VFIO_IOMMU_MAP_DMA, &map));
	check_mapped(IOVA, 1, 0);
	/* Nothing else got mapped. */
	test_unmap_dma_all(PAGES(1));
}

TEST_F(compat, map_unmap)
{
	__u64 unmapped;

	ASSERT_EQ(0, map_dma(self->fd, IOVA, self->buf, PAGES(4), MAP_RW));
	check_mapped(IOVA, 4, 0);
	check_refs(self->buf, PAGES(4), 1);
	/* Read-only and write-only maps are maps too. */
	ASSERT_EQ(0, map_dma(self->fd, IOVA + PAGES(8), BUF(4), PAGES(2),
			     VFIO_DMA_MAP_FLAG_READ));
	ASSERT_EQ(0, map_dma(self->fd, IOVA + PAGES(10), BUF(6), PAGES(2),
			     VFIO_DMA_MAP_FLAG_WRITE));
	check_mapped(IOVA + PAGES(8), 4, 4);
	/* The same memory twice is pinned twice. */
	ASSERT_EQ(0, map_dma(self->fd, IOVA + PAGES(16), self->buf, PAGES(1),
			     MAP_RW));
	check_refs(self->buf, PAGES(1), 2);

	/* An empty range unmaps nothing, successfully. */
	test_unmap_dma(IOVA + PAGES(4), PAGES(4), 0);
	test_unmap_dma(IOVA + PAGES(100), PAGES(1), 0);

	/* Unmap reports what it unmapped: whole mappings, gaps included. */
	test_unmap_dma(IOVA, PAGES(8), PAGES(4));
	check_unmapped(IOVA, 4);
	check_refs(self->buf, PAGES(1), 1);
	check_refs(BUF(1), PAGES(3), 0);
	test_unmap_dma(IOVA + PAGES(8), PAGES(4), PAGES(4));
	check_unmapped(IOVA + PAGES(8), 4);

	/* UNMAP_ALL wants iova and size 0. */
	EXPECT_ERRNO(EINVAL, unmap_dma(self->fd, IOVA, 0,
				       VFIO_DMA_UNMAP_FLAG_ALL, NULL));
	EXPECT_ERRNO(EINVAL, unmap_dma(self->fd, 0, PAGES(1),
				       VFIO_DMA_UNMAP_FLAG_ALL, NULL));
	EXPECT_ERRNO(EINVAL, unmap_dma(self->fd, IOVA + PAGES(16), PAGES(1),
				       VFIO_DMA_UNMAP_FLAG_ALL, NULL));
	check_mapped(IOVA + PAGES(16), 1, 0);
	test_unmap_dma_all(PAGES(1));
	check_unmapped(IOVA + PAGES(16), 1);
	check_refs(self->buf, PAGES(BUF_PAGES), 0);
	/* And again, on nothing. */
	ASSERT_EQ(0, unmap_dma(self->fd, 0, 0, VFIO_DMA_UNMAP_FLAG_ALL,
			       &unmapped));
	ASSERT_EQ(0, unmapped);
}

TEST_F(compat, unmap_bad_input)
{
	struct vfio_iommu_type1_dma_unmap unmap = {
		.iova = IOVA,
		.size = PAGES(1),
	};

	ASSERT_EQ(0, map_dma(self->fd, IOVA, self->buf, PAGES(4), MAP_RW));

	unmap.argsz = sizeof(unmap) - 1;
	EXPECT_ERRNO(EINVAL, ioctl(self->fd, VFIO_IOMMU_UNMAP_DMA, &unmap));
	EXPECT_ERRNO(EINVAL, unmap_dma(self->fd, IOVA, 0, 0, NULL));
	EXPECT_ERRNO(EINVAL, unmap_dma(self->fd, IOVA + 1, PAGES(4), 0, NULL));
	EXPECT_ERRNO(EINVAL, unmap_dma(self->fd, IOVA + page_size / 2, PAGES(4),
				       0, NULL));
	EXPECT_ERRNO(EINVAL, unmap_dma(self->fd, IOVA, PAGES(4) + page_size / 2,
				       0, NULL));
	EXPECT_ERRNO(EINVAL, unmap_dma(self->fd, -PAGES(1), PAGES(2), 0, NULL));
	/* Not emulated: no dirty bitmap, no VADDR, no unknown flag. */
	EXPECT_ERRNO(EINVAL,
		     unmap_dma(self->fd, IOVA, PAGES(4),
			       VFIO_DMA_UNMAP_FLAG_GET_DIRTY_BITMAP, NULL));
	EXPECT_ERRNO(EINVAL, unmap_dma(self->fd, IOVA, PAGES(4),
				       VFIO_DMA_UNMAP_FLAG_VADDR, NULL));
	EXPECT_ERRNO(EINVAL,
		     unmap_dma(self->fd, 0, 0,
			       VFIO_DMA_UNMAP_FLAG_ALL |
				       VFIO_DMA_UNMAP_FLAG_VADDR,
			       NULL));
	EXPECT_ERRNO(EINVAL, unmap_dma(self->fd, IOVA, PAGES(4), 1U << 3, NULL));
	EXPECT_ERRNO(EINVAL, unmap_dma(self->fd, IOVA, PAGES(4), 1U << 31,
				       NULL));
	EXPECT_ERRNO(ENOTTY, ioctl(self->fd, VFIO_IOMMU_DIRTY_PAGES, NULL));
	/* Nothing was unmapped by any of them. */
	check_mapped(IOVA, 4, 0);

	/* A longer argsz is fine. */
	unmap.argsz = sizeof(unmap) + 64;
	unmap.size = PAGES(4);
	ASSERT_EQ(0, ioctl(self->fd, VFIO_IOMMU_UNMAP_DMA, &unmap));
	ASSERT_EQ(PAGES(4), unmap.size);
	check_unmapped(IOVA, 4);
}

/* VFIO_DMA_MAP into used IOVA fails as IOMMU_IOAS_MAP does: EEXIST. */
TEST_F(compat, map_overlap)
{
	__u64 iova;

	ASSERT_EQ(0, map_dma(self->fd, IOVA + PAGES(4), self->buf, PAGES(4),
			     MAP_RW));
	EXPECT_ERRNO(EEXIST, map_dma(self->fd, IOVA + PAGES(4), BUF(8),
				     PAGES(4), MAP_RW));
	EXPECT_ERRNO(EEXIST, map_dma(self->fd, IOVA + PAGES(2), BUF(8),
				     PAGES(4), MAP_RW));
	EXPECT_ERRNO(EEXIST, map_dma(self->fd, IOVA + PAGES(7), BUF(8),
				     PAGES(4), MAP_RW));
	EXPECT_ERRNO(EEXIST, map_dma(self->fd, IOVA, BUF(4), PAGES(12),
				     MAP_RW));
	EXPECT_ERRNO(EEXIST, map_dma(self->fd, IOVA + PAGES(5), BUF(8),
				     PAGES(1), MAP_RW));
	iova = IOVA + PAGES(2);
	EXPECT_ERRNO(EEXIST, _test_ioctl_ioas_map(self->fd, self->ioas_id,
						  BUF(8), PAGES(4), &iova,
						  IOMMU_IOAS_MAP_FIXED_IOVA |
							  TEST_MAP_RW));
	/* The failures pinned nothing and mapped nothing. */
	check_refs(BUF(4), PAGES(12), 0);
	check_mapped(IOVA + PAGES(4), 4, 0);
	check_unmapped(IOVA, 4);

	/* Right next to it on either side is free. */
	ASSERT_EQ(0, map_dma(self->fd, IOVA, BUF(8), PAGES(4), MAP_RW));
	ASSERT_EQ(0, map_dma(self->fd, IOVA + PAGES(8), BUF(12), PAGES(4),
			     MAP_RW));
	check_mapped(IOVA + PAGES(8), 4, 12);
	/* Whole mappings side by side unmap together, in either type. */
	test_unmap_dma(IOVA, PAGES(12), PAGES(12));
	test_unmap_dma_all(0);
}

/*
 * Unmapping part of a mapping: v2 refuses (ENOENT) and unmaps nothing; v1
 * cuts the mapping at page boundaries, in any order.
 */
TEST_F(compat, unmap_part)
{
	unsigned int order[BUF_PAGES];
	unsigned int i;

	ASSERT_EQ(0, map_dma(self->fd, IOVA, self->buf, PAGES(BUF_PAGES),
			     MAP_RW));
	check_mapped(IOVA, BUF_PAGES, 0);

	if (variant->type == VFIO_TYPE1v2_IOMMU) {
		EXPECT_ERRNO(ENOENT, unmap_dma(self->fd, IOVA, PAGES(1), 0,
					       NULL));
		EXPECT_ERRNO(ENOENT, unmap_dma(self->fd, IOVA + PAGES(3),
					       PAGES(2), 0, NULL));
		EXPECT_ERRNO(ENOENT,
			     unmap_dma(self->fd, IOVA + PAGES(BUF_PAGES - 1),
				       PAGES(1), 0, NULL));
		EXPECT_ERRNO(ENOENT, unmap_dma(self->fd, IOVA + PAGES(1),
					       PAGES(BUF_PAGES), 0, NULL));
		check_mapped(IOVA, BUF_PAGES, 0);
		check_refs(self->buf, PAGES(BUF_PAGES), 1);
		test_unmap_dma(IOVA, PAGES(BUF_PAGES), PAGES(BUF_PAGES));
		check_unmapped(IOVA, BUF_PAGES);
		return;
	}

	/* A fixed shuffle of the pages: ends, middles, neighbours. */
	for (i = 0; i != BUF_PAGES; i++)
		order[i] = (i * 7 + 5) % BUF_PAGES;
	for (i = 0; i != BUF_PAGES; i++) {
		TH_LOG("unmapping page %u", order[i]);
		test_unmap_dma(IOVA + PAGES(order[i]), PAGES(1), PAGES(1));
		check_unmapped(IOVA + PAGES(order[i]), 1);
		/* The page the cut took is unpinned at once, as type1 does. */
		check_refs(self->buf + PAGES(order[i]), PAGES(1), 0);
		/* A second time there is nothing left to unmap. */
		test_unmap_dma(IOVA + PAGES(order[i]), PAGES(1), 0);
	}
	for (i = 0; i != BUF_PAGES; i++)
		check_unmapped(IOVA + PAGES(i), 1);
	test_unmap_dma_all(0);
	check_refs(self->buf, PAGES(BUF_PAGES), 0);
}

/* v1: a range that cuts two mappings takes the parts inside it. */
TEST_F(compat, unmap_across_mappings)
{
	__u64 iova;

	ASSERT_EQ(0, map_dma(self->fd, IOVA, self->buf, PAGES(8), MAP_RW));
	ASSERT_EQ(0, map_dma(self->fd, IOVA + PAGES(8), BUF(8), PAGES(8),
			     MAP_RW));

	if (variant->type == VFIO_TYPE1v2_IOMMU) {
		EXPECT_ERRNO(ENOENT, unmap_dma(self->fd, IOVA + PAGES(4),
					       PAGES(8), 0, NULL));
		check_mapped(IOVA, 16, 0);
		test_unmap_dma_all(PAGES(16));
		return;
	}

	test_unmap_dma(IOVA + PAGES(4), PAGES(8), PAGES(8));
	check_mapped(IOVA, 4, 0);
	check_unmapped(IOVA + PAGES(4), 8);
	check_mapped(IOVA + PAGES(12), 4, 12);
	/* The parts left are whole mappings to IOMMU_IOAS_UNMAP as well. */
	test_ioctl_ioas_unmap(self->ioas_id, IOVA, PAGES(4));
	/* And the IOVA given back is free for a new mapping. */
	iova = IOVA + PAGES(4);
	ASSERT_EQ(0, map_dma(self->fd, iova, BUF(4), PAGES(8), MAP_RW));
	check_mapped(IOVA + PAGES(4), 12, 4);
	test_unmap_dma_all(PAGES(12));
}

/*
 * An in-kernel access pinning part of a mapping: unmapping whole
 * mappings asks it to unpin, as IOMMU_IOAS_UNMAP does, and goes through.
 */
TEST_F(compat, unmap_asks_access)
{
	__u32 pages_id;

	ASSERT_EQ(0, map_dma(self->fd, IOVA, self->buf, PAGES(4), MAP_RW));
	test_cmd_create_access(self->ioas_id,
			       MOCK_FLAGS_ACCESS_CREATE_NEEDS_PIN_PAGES,
			       &self->access_fd);
	test_cmd_access_pages(self->access_fd, IOVA + PAGES(1), PAGES(2),
			      BUF(1), MOCK_FLAGS_ACCESS_WRITE, &pages_id);
	/* One pin per range of memory, however many users it has. */
	check_refs(self->buf, PAGES(4), 1);

	test_unmap_dma(IOVA, PAGES(4), PAGES(4));
	/* The access's unmap op dropped its pin. */
	EXPECT_ERRNO(ENOENT, _test_cmd_destroy_access_pages(self->fd,
							    self->access_fd,
							    pages_id));
	check_refs(self->buf, PAGES(4), 0);
	check_unmapped(IOVA, 4);

	/* UNMAP_ALL asks too. */
	ASSERT_EQ(0, map_dma(self->fd, IOVA, self->buf, PAGES(4), MAP_RW));
	test_cmd_access_pages(self->access_fd, IOVA, PAGES(4), self->buf, 0,
			      &pages_id);
	test_unmap_dma_all(PAGES(4));
	EXPECT_ERRNO(ENOENT, _test_cmd_destroy_access_pages(self->fd,
							    self->access_fd,
							    pages_id));
	check_refs(self->buf, PAGES(4), 0);
	ASSERT_EQ(0, close(self->access_fd));
	self->access_fd = -1;
}

/*
 * Cutting a mapping an access pins. v1 refuses with EINVAL (upstream's
 * errno: access pins cannot be split), and the refusal changes nothing:
 * not the mappings, not the pins, and not how the mappings are split
 * (IOMMU_IOAS_UNMAP shows it). v2 cuts nothing anyway: ENOENT, as without
 * the pin.
 */
TEST_F(compat, cut_pinned)
{
	__u32 pages_id;

	ASSERT_EQ(0, map_dma(self->fd, IOVA, self->buf, PAGES(8), MAP_RW));
	ASSERT_EQ(0, map_dma(self->fd, IOVA + PAGES(8), BUF(8), PAGES(8),
			     MAP_RW));
	test_cmd_create_access(self->ioas_id,
			       MOCK_FLAGS_ACCESS_CREATE_NEEDS_PIN_PAGES,
			       &self->access_fd);
	test_cmd_access_pages(self->access_fd, IOVA + PAGES(1), PAGES(1),
			      BUF(1), 0, &pages_id);

	if (variant->type == VFIO_TYPE1v2_IOMMU) {
		EXPECT_ERRNO(ENOENT, unmap_dma(self->fd, IOVA + PAGES(4),
					       PAGES(2), 0, NULL));
		EXPECT_ERRNO(ENOENT, unmap_dma(self->fd, IOVA + PAGES(4),
					       PAGES(8), 0, NULL));
		check_mapped(IOVA, 16, 0);
		/* The access was not asked to unpin. */
		test_cmd_destroy_access_pages(self->access_fd, pages_id);
		ASSERT_EQ(0, close(self->access_fd));
		self->access_fd = -1;
		test_unmap_dma_all(PAGES(16));
		return;
	}

	/* Inside the pinned mapping, away from the pinned page. */
	EXPECT_ERRNO(EINVAL, unmap_dma(self->fd, IOVA + PAGES(4), PAGES(2), 0,
				       NULL));
	/* From the second mapping, whose cut would work, into the first. */
	EXPECT_ERRNO(EINVAL, unmap_dma(self->fd, IOVA + PAGES(4), PAGES(8), 0,
				       NULL));
	check_mapped(IOVA, 16, 0);
	check_refs(self->buf, PAGES(16), 1);
	/* The second mapping is still one: a part of it does not unmap. */
	EXPECT_ERRNO(ENOENT, _test_ioctl_ioas_unmap(self->fd, self->ioas_id,
						    IOVA + PAGES(8), PAGES(4),
						    NULL));
	check_mapped(IOVA + PAGES(8), 8, 8);

	/* Cuts of the other mapping only are fine. */
	test_unmap_dma(IOVA + PAGES(10), PAGES(2), PAGES(2));
	check_unmapped(IOVA + PAGES(10), 2);
	/* And the pin, once dropped, no longer stands in the way. */
	test_cmd_destroy_access_pages(self->access_fd, pages_id);
	test_unmap_dma(IOVA + PAGES(4), PAGES(2), PAGES(2));
	check_mapped(IOVA, 4, 0);
	check_unmapped(IOVA + PAGES(4), 2);
	check_mapped(IOVA + PAGES(6), 4, 6);
	ASSERT_EQ(0, close(self->access_fd));
	self->access_fd = -1;
	test_unmap_dma_all(PAGES(12));
}

/*
 * VFIO v1 cuts inside a huge page, which a domain pinned whole (counted in
 * runs of 1 MiB): each half keeps exactly its own pages pinned.
 */
TEST_F(compat, cut_huge_page)
{
	const size_t len = 2UL << 20;
	const long page_kb = page_size / 1024;
	long base;
	char *huge;

	if (variant->type != VFIO_TYPE1_IOMMU)
		SKIP(return, "only VFIO v1 unmaps part of a mapping");
	huge = test_alloc_huge_pages(len, 0x5a);
	if (!huge)
		SKIP(return, "no 2 MiB hugetlb page free");
	base = test_vm_pin_kb();

	ASSERT_EQ(0, map_dma(self->fd, IOVA, huge, len, MAP_RW));
	check_mock_map(self->hwpt_id, IOVA, len, huge);
	ASSERT_EQ(base + (long)(len / 1024), test_vm_pin_kb());

	/* Pages 100-299: cuts inside the first and the second 1 MiB. */
	test_unmap_dma(IOVA + PAGES(100), PAGES(200), PAGES(200));
	check_unmapped(IOVA + PAGES(100), 200);
	check_mock_map(self->hwpt_id, IOVA, PAGES(100), huge);
	check_mock_map(self->hwpt_id, IOVA + PAGES(300), len - PAGES(300),
		       huge + PAGES(300));
	ASSERT_EQ(base + (long)(len / 1024) - 200 * page_kb, test_vm_pin_kb());

	/* Next to a cut, and then a page alone. */
	test_unmap_dma(IOVA + PAGES(300), PAGES(1), PAGES(1));
	test_unmap_dma(IOVA + PAGES(50), PAGES(1), PAGES(1));
	check_mock_map(self->hwpt_id, IOVA + PAGES(51), PAGES(49),
		       huge + PAGES(51));
	ASSERT_EQ(base + (long)(len / 1024) - 202 * page_kb, test_vm_pin_kb());

	test_unmap_dma_all(len - PAGES(202));
	ASSERT_EQ(base, test_vm_pin_kb());
	check_refs(huge, len, 0);
	ASSERT_EQ(0, munmap(huge, len));
}

/*
 * VFIO v1 cuts of a 2 MiB huge page, mapped whole into the domain as one
 * span of two runs of 1 MiB: a cut exactly at the middle (between the
 * runs, inside the span), one a few pages further, and the first MiB
 * alone afterwards.
 */
TEST_F(compat, cut_huge_page_middle)
{
	const size_t len = 2UL << 20;
	const size_t half = len / 2;
	const long page_kb = page_size / 1024;
	long base;
	char *huge;

	if (variant->type != VFIO_TYPE1_IOMMU)
		SKIP(return, "only VFIO v1 unmaps part of a mapping");
	huge = test_alloc_huge_pages(len, 0x6b);
	if (!huge)
		SKIP(return, "no 2 MiB hugetlb page free");
	base = test_vm_pin_kb();

	ASSERT_EQ(0, map_dma(self->fd, IOVA, huge, len, MAP_RW));
	check_mock_map(self->hwpt_id, IOVA, len, huge);

	/* Pages 256-259: the first cut falls between the two MiBs. */
	test_unmap_dma(IOVA + half, PAGES(4), PAGES(4));
	check_unmapped(IOVA + half, 4);
	check_mock_map(self->hwpt_id, IOVA, half, huge);
	check_mock_map(self->hwpt_id, IOVA + half + PAGES(4),
		       half - PAGES(4), huge + half + PAGES(4));
	ASSERT_EQ(base + (long)(len / 1024) - 4 * page_kb, test_vm_pin_kb());
	check_refs(huge + half, PAGES(4), 0);

	/* The first MiB alone, then the rest. */
	test_unmap_dma(IOVA, half, half);
	ASSERT_EQ(base + (long)(half / 1024) - 4 * page_kb, test_vm_pin_kb());
	check_refs(huge, half + PAGES(4), 0);
	check_mock_map(self->hwpt_id, IOVA + half + PAGES(4),
		       half - PAGES(4), huge + half + PAGES(4));
	test_unmap_dma_all(half - PAGES(4));
	ASSERT_EQ(base, test_vm_pin_kb());
	check_refs(huge, len, 0);
	ASSERT_EQ(0, munmap(huge, len));
}

/*
 * Accounting. Memory is pinned, and charged, while a domain can reach
 * it. A mapper with CAP_IPC_LOCK is not charged, so each check runs in a
 * child that opens its files as root, sets RLIMIT_MEMLOCK and becomes a
 * user no one else is (20000 + the test's pid), without capabilities.
 */

/* A field of /proc/self/status in kB, or -1. */
static long proc_kb(const char *field)
{
	size_t len = strlen(field);
	char line[256];
	long kb = -1;
	FILE *f;

	f = fopen("/proc/self/status", "r");
	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (!strncmp(line, field, len) && line[len] == ':')
			kb = strtol(line + len + 1, NULL, 10);
	fclose(f);
	return kb;
}

#define ASSERT_LOCKED_PAGES(n) ASSERT_EQ(PAGES(n) / 1024, proc_kb("VmLck"))
#define ASSERT_PINNED_PAGES(n) ASSERT_EQ(PAGES(n) / 1024, proc_kb("VmPin"))

static void become(struct __test_metadata *_metadata, uid_t uid)
{
	struct rlimit limit = {
		.rlim_cur = PAGES(LIMIT_PAGES),
		.rlim_max = PAGES(LIMIT_PAGES),
	};

	ASSERT_EQ(0, setrlimit(RLIMIT_MEMLOCK, &limit));
	ASSERT_EQ(0, setresuid(uid, uid, uid));
}

/* A container with a group, on fd: compat IOAS, mock domain, TYPE1v2. */
static void make_container(struct __test_metadata *_metadata, int fd,
			   __u32 *stdev_id)
{
	__u32 ioas_id;

	ASSERT_EQ(0, _test_ioctl_ioas_alloc(fd, &ioas_id));
	ASSERT_EQ(0, vfio_ioas(fd, IOMMU_VFIO_IOAS_SET, &ioas_id));
	if (stdev_id)
		ASSERT_EQ(0, _test_cmd_mock_domain(fd, ioas_id, stdev_id, NULL,
						   NULL));
	ASSERT_EQ(0, ioctl(fd, VFIO_SET_IOMMU, VFIO_TYPE1v2_IOMMU));
}

/* /dev/vfio/vfio is type1's file: it charges VmLck, as type1 did. */
TEST(vfio_dev_charges_locked_vm)
{
	uid_t uid = 20000 + getpid();
	char *buf;
	pid_t pid;
	int fd;

	fd = open("/dev/vfio/vfio", O_RDWR);
	if (fd < 0)
		VM_SKIP(return, "no /dev/vfio/vfio: %s", strerror(errno));
	close(fd);
	buf = test_alloc_small_pages(LIMIT_PAGES + 1);
	ASSERT_NE(NULL, buf);

	pid = fork();
	ASSERT_LE(0, pid);
	if (!pid) {
		__u64 mode = UINT64_MAX;
		__u32 ioas_id = 0;

		fd = open("/dev/vfio/vfio", O_RDWR);
		ASSERT_LE(0, fd);
		ASSERT_EQ(0, _test_ioctl_option(fd, IOMMU_OPTION_RLIMIT_MODE,
						IOMMU_OPTION_OP_GET, 0, &mode));
		ASSERT_EQ(1, mode);
		/* Mapped before the group (the domain) came: not charged. */
		make_container(_metadata, fd, NULL);
		ASSERT_EQ(0, vfio_ioas(fd, IOMMU_VFIO_IOAS_GET, &ioas_id));
		become(_metadata, uid);
		ASSERT_EQ(0, map_dma(fd, IOVA, buf, PAGES(2), MAP_RW));
		ASSERT_LOCKED_PAGES(0);
		ASSERT_PINNED_PAGES(0);
		/* The domain charges it. */
		ASSERT_EQ(0, _test_cmd_mock_domain(fd, ioas_id, NULL, NULL,
						   NULL));
		ASSERT_LOCKED_PAGES(2);
		ASSERT_PINNED_PAGES(2);
		ASSERT_EQ(0, close(fd));
		ASSERT_LOCKED_PAGES(0);
		ASSERT_PINNED_PAGES(0);
		end_child();
	}
	wait_child(_metadata, pid);

	pid = fork();
	ASSERT_LE(0, pid);
	if (!pid) {
		__u32 stdev_id;

		fd = open("/dev/vfio/vfio", O_RDWR);
		ASSERT_LE(0, fd);
		make_container(_metadata, fd, &stdev_id);
		become(_metadata, uid);

		/* Charged by exactly the size mapped, pinned as much. */
		ASSERT_EQ(0, map_dma(fd, IOVA, buf, PAGES(3), MAP_RW));
		ASSERT_LOCKED_PAGES(3);
		ASSERT_PINNED_PAGES(3);
		ASSERT_EQ(0, map_dma(fd, IOVA + PAGES(8), buf + PAGES(3),
				     PAGES(LIMIT_PAGES - 3), MAP_RW));
		ASSERT_LOCKED_PAGES(LIMIT_PAGES);
		/* RLIMIT_MEMLOCK holds, and the refusal charges nothing. */
		EXPECT_ERRNO(ENOMEM, map_dma(fd, IOVA + PAGES(32),
					     buf + PAGES(LIMIT_PAGES),
					     PAGES(1), MAP_RW));
		ASSERT_LOCKED_PAGES(LIMIT_PAGES);
		ASSERT_PINNED_PAGES(LIMIT_PAGES);

		/* Unmap gives it back. */
		ASSERT_EQ(0, unmap_dma(fd, IOVA, PAGES(3), 0, NULL));
		ASSERT_LOCKED_PAGES(LIMIT_PAGES - 3);
		ASSERT_EQ(0, unmap_dma(fd, 0, 0, VFIO_DMA_UNMAP_FLAG_ALL, NULL));
		ASSERT_LOCKED_PAGES(0);
		ASSERT_PINNED_PAGES(0);
		ASSERT_EQ(0, _test_cmd_check_refs(fd, buf,
						  PAGES(LIMIT_PAGES + 1), 0));

		/* And so does close. */
		ASSERT_EQ(0, map_dma(fd, IOVA, buf, PAGES(LIMIT_PAGES),
				     MAP_RW));
		ASSERT_LOCKED_PAGES(LIMIT_PAGES);
		ASSERT_EQ(0, close(fd));
		ASSERT_LOCKED_PAGES(0);
		ASSERT_PINNED_PAGES(0);
		end_child();
	}
	wait_child(_metadata, pid);
	fd = open("/dev/iommu", O_RDWR);
	ASSERT_LE(0, fd);
	ASSERT_EQ(0, _test_cmd_check_refs(fd, buf, PAGES(LIMIT_PAGES + 1), 0));
	close(fd);
}

/* /dev/iommu charges the user, not the process, against the same limit. */
TEST(iommu_dev_charges_user)
{
	uid_t uid = 20000 + getpid();
	char *buf;
	pid_t pid;

	buf = test_alloc_small_pages(LIMIT_PAGES + 1);
	ASSERT_NE(NULL, buf);
	pid = fork();
	ASSERT_LE(0, pid);
	if (!pid) {
		__u64 mode = UINT64_MAX;
		__u32 stdev_id;
		int fd;

		fd = open("/dev/iommu", O_RDWR);
		ASSERT_LE(0, fd);
		ASSERT_EQ(0, _test_ioctl_option(fd, IOMMU_OPTION_RLIMIT_MODE,
						IOMMU_OPTION_OP_GET, 0, &mode));
		ASSERT_EQ(0, mode);
		make_container(_metadata, fd, &stdev_id);
		become(_metadata, uid);

		ASSERT_EQ(0, map_dma(fd, IOVA, buf, PAGES(LIMIT_PAGES),
				     MAP_RW));
		ASSERT_PINNED_PAGES(LIMIT_PAGES);
		ASSERT_LOCKED_PAGES(0);
		/* Yet the user's limit is used up. */
		EXPECT_ERRNO(ENOMEM, map_dma(fd, IOVA + PAGES(32),
					     buf + PAGES(LIMIT_PAGES),
					     PAGES(1), MAP_RW));
		ASSERT_EQ(0, unmap_dma(fd, 0, 0, VFIO_DMA_UNMAP_FLAG_ALL, NULL));
		ASSERT_PINNED_PAGES(0);
		/* Given back: the whole limit is there again. */
		ASSERT_EQ(0, map_dma(fd, IOVA, buf + PAGES(1),
				     PAGES(LIMIT_PAGES), MAP_RW));
		ASSERT_EQ(0, close(fd));
		ASSERT_PINNED_PAGES(0);
		end_child();
	}
	wait_child(_metadata, pid);
}

TEST_HARNESS_MAIN
