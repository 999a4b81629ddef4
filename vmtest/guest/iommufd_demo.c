// SPDX-License-Identifier: GPL-2.0
/*
 * A short tour of /dev/iommu, run in the guest by 'make run': open a
 * context, create an IO address space, ask which IOVAs it can map, and
 * destroy it again. Every step prints what it did, and what the kernel
 * said when it refused.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <linux/iommufd.h>

static int fail(const char *what)
{
	printf("demo: %s failed: %s\n", what, strerror(errno));
	return 1;
}

int main(void)
{
	struct iommu_ioas_alloc alloc = { .size = sizeof(alloc) };
	struct iommu_ioas_iova_ranges ranges = { .size = sizeof(ranges) };
	struct iommu_destroy destroy = { .size = sizeof(destroy) };
	struct iommu_iova_range *list;
	__u32 i;
	int fd;

	fd = open("/dev/iommu", O_RDWR);
	if (fd < 0)
		return fail("open /dev/iommu");
	printf("demo: opened /dev/iommu (fd %d): a new iommufd context\n", fd);

	if (ioctl(fd, IOMMU_IOAS_ALLOC, &alloc))
		return fail("IOMMU_IOAS_ALLOC");
	printf("demo: IOMMU_IOAS_ALLOC made IO address space %u\n",
	       alloc.out_ioas_id);

	/* First ask how many ranges there are, then fetch them. */
	ranges.ioas_id = alloc.out_ioas_id;
	if (!ioctl(fd, IOMMU_IOAS_IOVA_RANGES, &ranges) || errno != EMSGSIZE)
		return fail("IOMMU_IOAS_IOVA_RANGES (count)");
	printf("demo: IOMMU_IOAS_IOVA_RANGES: %u usable range(s)\n",
	       ranges.num_iovas);
	list = calloc(ranges.num_iovas, sizeof(*list));
	if (!list)
		return fail("calloc");
	ranges.allowed_iovas = (uintptr_t)list;
	if (ioctl(fd, IOMMU_IOAS_IOVA_RANGES, &ranges))
		return fail("IOMMU_IOAS_IOVA_RANGES");
	for (i = 0; i != ranges.num_iovas; i++)
		printf("demo:   IOVA 0x%016llx - 0x%016llx\n",
		       (unsigned long long)list[i].start,
		       (unsigned long long)list[i].last);
	printf("demo:   mappings must be aligned to %llu bytes\n",
	       (unsigned long long)ranges.out_iova_alignment);
	free(list);

	destroy.id = alloc.out_ioas_id;
	if (ioctl(fd, IOMMU_DESTROY, &destroy))
		return fail("IOMMU_DESTROY");
	printf("demo: IOMMU_DESTROY removed IO address space %u\n", destroy.id);
	if (ioctl(fd, IOMMU_DESTROY, &destroy) && errno == ENOENT)
		printf("demo: destroying it again is refused: %s\n",
		       strerror(errno));

	close(fd);
	printf("demo: closed the context; the kernel freed what was left\n");
	return 0;
}
