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
#include <fcntl.h>
#include <stdint.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <linux/iommufd.h>

#include "../kselftest_harness.h"

/* Assert that an expression failed with -1 and the given errno. */
#define EXPECT_ERRNO(expected_errno, cmd)                                     \
	({                                                                     \
		int __rc = (cmd);                                              \
		ASSERT_EQ(-1, __rc);                                           \
		EXPECT_EQ(expected_errno, errno);                              \
	})

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

#endif
