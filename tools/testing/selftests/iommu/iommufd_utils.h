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

static inline int _test_ioctl_ioas_alloc(int fd, uint32_t *id)
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
		uint32_t *__id = (id);                                         \
		ASSERT_EQ(0, _test_ioctl_ioas_alloc(self->fd, __id));          \
		ASSERT_NE(0, *__id);                                           \
	})

static inline int _test_ioctl_iova_ranges(int fd, uint32_t ioas_id,
					  struct iommu_iova_range *ranges,
					  uint32_t *num, uint64_t *alignment)
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

#endif
