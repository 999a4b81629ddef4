// SPDX-License-Identifier: GPL-2.0-only
/*
 * The DMA API of emulated VFIO devices, vfio_pin_pages(),
 * vfio_unpin_pages() and vfio_dma_rw(), on a device bound through its
 * cdev to iommufd, where they go through the device's iommufd access.
 * The device is an mdev of our mpin sample (samples/vfio-mdev/mpin.h),
 * which makes those calls when the test writes it a command, and answers
 * with what it read through the page it was given.
 *
 * What is checked: a pin at any byte of a page pins that page (type1
 * accepts such IOVAs, and vfio-ccw passes them), and the page is the one
 * userspace mapped; what a pin and a copy may reach; and that unmapping
 * a pinned range makes VFIO ask the driver to unpin (dma_unmap()) before
 * the unmap completes.
 */
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/syscall.h>

#include "iommufd_utils.h"
#include "vfio_edu.h"
#include "../../../../samples/vfio-mdev/mpin.h"

#define MPIN_MODULE "/lib/modules/mpin.ko"
#define MPIN_CREATE "/sys/class/mdev_bus/mpin/mdev_supported_types/mpin-1/create"
#define MPIN_UUID "0c5e8f6a-7d4b-4e21-9a3f-5b6c7d8e9f01"
#define MDEV_DEVICES "/sys/bus/mdev/devices"

/* Where the test maps its buffer: any IOVA works without a domain. */
#define IOVA_BASE 0x100000ULL
#define BUF_PAGES 4

/*
 * A SKIP in a 6.1 fixture setup still runs the test body, so leave the
 * test process with the harness's "skipped" exit status instead.
 */
#define SKIP_TEST_PROCESS(fmt, ...) VM_SKIP(_exit(255), fmt, ##__VA_ARGS__)

static unsigned long page_size;

static __attribute__((constructor)) void setup_page_size(void)
{
	page_size = sysconf(_SC_PAGE_SIZE);
}

/* The byte at @off of the buffer: differs between neighbours and pages. */
static unsigned char pattern(size_t off)
{
	return (off * 7 + off / 4096 * 13 + 1) & 0xff;
}

/* Run @cmd on the device; its results come back in @cmd. */
static int mpin(int fd, struct mpin_cmd *cmd)
{
	if (pwrite(fd, cmd, sizeof(*cmd), 0) != sizeof(*cmd))
		return -1;
	if (pread(fd, cmd, sizeof(*cmd), 0) != sizeof(*cmd))
		return -1;
	return 0;
}

/* MPIN_OP_PIN; returns the device's result, its data in @data. */
static int pin(struct __test_metadata *_metadata, int fd, __u64 iova,
	       __u64 npage, __u32 prot, __u8 *data)
{
	struct mpin_cmd cmd = {
		.op = MPIN_OP_PIN,
		.iova = iova,
		.length = npage,
		.prot = prot,
	};

	ASSERT_EQ(0, mpin(fd, &cmd));
	if (data)
		memcpy(data, cmd.data, sizeof(cmd.data));
	return cmd.result;
}

static int unpin(struct __test_metadata *_metadata, int fd, __u64 iova,
		 __u64 npage)
{
	struct mpin_cmd cmd = {
		.op = MPIN_OP_UNPIN,
		.iova = iova,
		.length = npage,
	};

	ASSERT_EQ(0, mpin(fd, &cmd));
	return cmd.result;
}

/* MPIN_OP_READ or MPIN_OP_WRITE of @length bytes from or to @data. */
static int dma_rw(struct __test_metadata *_metadata, int fd, __u64 iova,
		  void *data, __u64 length, bool write)
{
	struct mpin_cmd cmd = {
		.op = write ? MPIN_OP_WRITE : MPIN_OP_READ,
		.iova = iova,
		.length = length,
	};

	if (write)
		memcpy(cmd.data, data, length);
	ASSERT_EQ(0, mpin(fd, &cmd));
	if (!write && !cmd.result)
		memcpy(data, cmd.data, length);
	return cmd.result;
}

/* What the device holds: ranges pinned, and ranges dma_unmap() took. */
static void pin_counts(struct __test_metadata *_metadata, int fd,
		       __u32 *pinned, __u32 *unmapped)
{
	struct mpin_cmd cmd = { .op = MPIN_OP_NOP };

	ASSERT_EQ(0, mpin(fd, &cmd));
	ASSERT_EQ(0, cmd.result);
	*pinned = cmd.pinned;
	*unmapped = cmd.unmapped;
}

/* Are the @n bytes at @data those of the buffer from @off on? */
static bool holds_pattern(const __u8 *data, size_t off, size_t n)
{
	size_t i;

	for (i = 0; i != n; i++)
		if (data[i] != pattern(off + i))
			return false;
	return true;
}

static bool all_zero(const __u8 *data, size_t n)
{
	while (n--)
		if (*data++)
			return false;
	return true;
}

FIXTURE(mpin)
{
	int iommufd;
	int fd;
	__u32 ioas;
	__u8 *buf;
};

FIXTURE_SETUP(mpin)
{
	char dir[PATH_MAX], cdev[PATH_MAX] = "";
	struct dirent *ent;
	__u64 iova = IOVA_BASE;
	size_t i;
	__u32 pt;
	DIR *d;
	int fd;

	fd = open(MPIN_MODULE, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		SKIP_TEST_PROCESS("no %s", MPIN_MODULE);
	if (syscall(__NR_finit_module, fd, "", 0) && errno != EEXIST)
		SKIP_TEST_PROCESS("cannot load mpin: %s", strerror(errno));
	close(fd);
	ASSERT_EQ(0, sysfs_write(MPIN_CREATE, MPIN_UUID));

	snprintf(dir, sizeof(dir), MDEV_DEVICES "/" MPIN_UUID "/vfio-dev");
	d = opendir(dir);
	ASSERT_NE(NULL, d);
	while ((ent = readdir(d)))
		if (!strncmp(ent->d_name, "vfio", 4))
			snprintf(cdev, sizeof(cdev), "/dev/vfio/devices/%s",
				 ent->d_name);
	closedir(d);
	ASSERT_NE(0, cdev[0]);

	self->iommufd = open("/dev/iommu", O_RDWR);
	ASSERT_LE(0, self->iommufd);
	self->fd = open(cdev, O_RDWR);
	ASSERT_LE(0, self->fd);
	ASSERT_EQ(0, vfio_device_bind_iommufd(self->fd, self->iommufd, NULL));
	ASSERT_EQ(0, _test_ioctl_ioas_alloc(self->iommufd, &self->ioas));
	pt = self->ioas;
	ASSERT_EQ(0, vfio_device_attach(self->fd, &pt));

	self->buf = mmap(NULL, BUF_PAGES * page_size, PROT_READ | PROT_WRITE,
			 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, self->buf);
	for (i = 0; i != BUF_PAGES * page_size; i++)
		self->buf[i] = pattern(i);
	ASSERT_EQ(0, _test_ioctl_ioas_map(self->iommufd, self->ioas, self->buf,
					  BUF_PAGES * page_size, &iova,
					  IOMMU_IOAS_MAP_FIXED_IOVA |
						  IOMMU_IOAS_MAP_READABLE |
						  IOMMU_IOAS_MAP_WRITEABLE));
}

/*
 * No ASSERT here: in the 6.1 harness a failed assertion in a teardown that
 * runs after a failed test jumps back into the teardown for ever.
 */
FIXTURE_TEARDOWN(mpin)
{
	close(self->fd);
	close(self->iommufd);
	munmap(self->buf, BUF_PAGES * page_size);
	EXPECT_EQ(0, sysfs_write(MDEV_DEVICES "/" MPIN_UUID "/remove", "1"));
}

/* The device describes its one region, where commands go. */
TEST_F(mpin, region)
{
	struct vfio_device_info info = { .argsz = sizeof(info) };
	struct mpin_cmd cmd = {};
	__u64 offset;

	ASSERT_EQ(0, ioctl(self->fd, VFIO_DEVICE_GET_INFO, &info));
	ASSERT_EQ(1, info.num_regions);
	ASSERT_EQ(0, vfio_region(self->fd, MPIN_CMD_REGION, sizeof(cmd),
				 &offset));
	ASSERT_EQ(0, offset);
	/* Only whole commands, at offset 0, and only known ones. */
	EXPECT_ERRNO(EINVAL, (int)pwrite(self->fd, &cmd, sizeof(cmd) - 1, 0));
	EXPECT_ERRNO(EINVAL, (int)pwrite(self->fd, &cmd, sizeof(cmd), 8));
	cmd.op = 100;
	EXPECT_ERRNO(EOPNOTSUPP, (int)pwrite(self->fd, &cmd, sizeof(cmd), 0));
}

/*
 * A pin at any byte of a page pins that page, as with type1: the driver
 * keeps the offset and reads through the page it got, and what it reads
 * there is the user's memory at that IOVA. The unpin takes the same IOVA.
 */
TEST_F(mpin, unaligned_iova)
{
	static const size_t offsets[] = { 1, 123, 2048, 4095 };
	__u32 pinned, unmapped;
	__u8 data[MPIN_DATA_SIZE];
	unsigned int i;

	for (i = 0; i != ARRAY_SIZE(offsets); i++) {
		size_t off = page_size + offsets[i];
		size_t n = page_size - offsets[i];

		if (n > MPIN_DATA_SIZE)
			n = MPIN_DATA_SIZE;
		ASSERT_EQ(1, pin(_metadata, self->fd, IOVA_BASE + off, 1,
				 MPIN_PROT_READ | MPIN_PROT_WRITE, data));
		ASSERT_TRUE(holds_pattern(data, off, n));
		/* Where the page ends, the driver stopped reading. */
		ASSERT_TRUE(all_zero(data + n, MPIN_DATA_SIZE - n));
		pin_counts(_metadata, self->fd, &pinned, &unmapped);
		ASSERT_EQ(1, pinned);
		ASSERT_EQ(0, unpin(_metadata, self->fd, IOVA_BASE + off, 1));
		pin_counts(_metadata, self->fd, &pinned, &unmapped);
		ASSERT_EQ(0, pinned);
	}

	/* Several pages from an unaligned IOVA: from its page on. */
	ASSERT_EQ(BUF_PAGES, pin(_metadata, self->fd, IOVA_BASE + 5, BUF_PAGES,
				 MPIN_PROT_READ, data));
	ASSERT_TRUE(holds_pattern(data, 5, MPIN_DATA_SIZE));
	ASSERT_EQ(0, unpin(_metadata, self->fd, IOVA_BASE + 5, BUF_PAGES));

	/* The pinned page is the user's page, not a copy of it. */
	ASSERT_EQ(1, pin(_metadata, self->fd, IOVA_BASE + 2 * page_size + 77,
			 1, MPIN_PROT_READ, data));
	self->buf[2 * page_size + 77] ^= 0xff;
	ASSERT_EQ(1, pin(_metadata, self->fd, IOVA_BASE + 2 * page_size + 77,
			 1, MPIN_PROT_READ, data));
	ASSERT_EQ((__u8)(pattern(2 * page_size + 77) ^ 0xff), data[0]);
	ASSERT_EQ(0, unpin(_metadata, self->fd, IOVA_BASE + 2 * page_size + 77,
			   1));
	ASSERT_EQ(0, unpin(_metadata, self->fd, IOVA_BASE + 2 * page_size + 77,
			   1));
	pin_counts(_metadata, self->fd, &pinned, &unmapped);
	ASSERT_EQ(0, pinned);
	ASSERT_EQ(0, unmapped);
}

/* What a pin may reach: mapped IOVA only, and writable only if mapped so. */
TEST_F(mpin, pin_bounds)
{
	__u64 ro_iova = IOVA_BASE + 64 * page_size;
	__u32 pinned, unmapped;
	__u8 data[MPIN_DATA_SIZE];
	void *ro;

	/* No pages, or more than one call may pin. */
	ASSERT_EQ(-EINVAL, pin(_metadata, self->fd, IOVA_BASE, 0,
			       MPIN_PROT_READ, data));
	ASSERT_EQ(-E2BIG, pin(_metadata, self->fd, IOVA_BASE,
			      page_size / sizeof(long) + 1, MPIN_PROT_READ,
			      data));
	/* Past the end of the mapping, from an aligned IOVA and not. */
	ASSERT_GT(0, pin(_metadata, self->fd, IOVA_BASE, BUF_PAGES + 1,
			 MPIN_PROT_READ, data));
	ASSERT_GT(0, pin(_metadata, self->fd,
			 IOVA_BASE + (BUF_PAGES - 1) * page_size + 9, 2,
			 MPIN_PROT_READ, data));
	/* Before it, and where nothing is mapped at all. */
	ASSERT_GT(0, pin(_metadata, self->fd, IOVA_BASE - 1, 1, MPIN_PROT_READ,
			 data));
	ASSERT_GT(0, pin(_metadata, self->fd, IOVA_BASE + 32 * page_size + 3,
			 1, MPIN_PROT_READ, data));
	/* The last page, through its last byte. */
	ASSERT_EQ(1, pin(_metadata, self->fd,
			 IOVA_BASE + BUF_PAGES * page_size - 1, 1,
			 MPIN_PROT_READ, data));
	ASSERT_TRUE(holds_pattern(data, BUF_PAGES * page_size - 1, 1));
	/* An unpin must name the pin as it was made. */
	ASSERT_EQ(-ENOENT, unpin(_metadata, self->fd,
				 IOVA_BASE + BUF_PAGES * page_size - 1, 2));
	ASSERT_EQ(0, unpin(_metadata, self->fd,
			   IOVA_BASE + BUF_PAGES * page_size - 1, 1));

	/* Read-only memory: pinned to read, not to write. */
	ro = mmap(NULL, page_size, PROT_READ | PROT_WRITE,
		  MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, ro);
	memset(ro, 0x5a, page_size);
	ASSERT_EQ(0, _test_ioctl_ioas_map(self->iommufd, self->ioas, ro,
					  page_size, &ro_iova,
					  IOMMU_IOAS_MAP_FIXED_IOVA |
						  IOMMU_IOAS_MAP_READABLE));
	ASSERT_GT(0, pin(_metadata, self->fd, ro_iova + 100, 1,
			 MPIN_PROT_READ | MPIN_PROT_WRITE, data));
	ASSERT_EQ(1, pin(_metadata, self->fd, ro_iova + 100, 1, MPIN_PROT_READ,
			 data));
	ASSERT_EQ(0x5a, data[0]);
	ASSERT_EQ(0, unpin(_metadata, self->fd, ro_iova + 100, 1));

	pin_counts(_metadata, self->fd, &pinned, &unmapped);
	ASSERT_EQ(0, pinned);
	ASSERT_EQ(0, munmap(ro, page_size));
}

/* vfio_dma_rw(): any bytes of mapped IOVA, across pages, and no further. */
TEST_F(mpin, dma_rw)
{
	__u64 ro_iova = IOVA_BASE + 64 * page_size;
	size_t off = page_size - 8;
	__u8 data[MPIN_DATA_SIZE], ones[16];
	void *ro;
	size_t i;

	ASSERT_EQ(0, dma_rw(_metadata, self->fd, IOVA_BASE + off, data,
			    MPIN_DATA_SIZE, false));
	ASSERT_TRUE(holds_pattern(data, off, MPIN_DATA_SIZE));

	/* A write across a page boundary lands in the user's memory. */
	memset(ones, 0xff, sizeof(ones));
	ASSERT_EQ(0, dma_rw(_metadata, self->fd, IOVA_BASE + off, ones,
			    sizeof(ones), true));
	for (i = 0; i != sizeof(ones); i++)
		ASSERT_EQ(0xff, self->buf[off + i]);
	ASSERT_TRUE(holds_pattern(self->buf + off + sizeof(ones),
				  off + sizeof(ones), 16));

	/* Past the end of the mapping, or in none. */
	ASSERT_GT(0, dma_rw(_metadata, self->fd,
			    IOVA_BASE + BUF_PAGES * page_size - 8, data, 16,
			    false));
	ASSERT_GT(0, dma_rw(_metadata, self->fd, IOVA_BASE - 8, data, 8,
			    false));

	/* Read-only memory is read, not written. */
	ro = mmap(NULL, page_size, PROT_READ | PROT_WRITE,
		  MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, ro);
	memset(ro, 0x5a, page_size);
	ASSERT_EQ(0, _test_ioctl_ioas_map(self->iommufd, self->ioas, ro,
					  page_size, &ro_iova,
					  IOMMU_IOAS_MAP_FIXED_IOVA |
						  IOMMU_IOAS_MAP_READABLE));
	ASSERT_GT(0, dma_rw(_metadata, self->fd, ro_iova + 3, ones,
			    sizeof(ones), true));
	ASSERT_EQ(0x5a, ((__u8 *)ro)[3]);
	ASSERT_EQ(0, dma_rw(_metadata, self->fd, ro_iova + 3, data, 4, false));
	ASSERT_EQ(0x5a, data[3]);
	ASSERT_EQ(0, munmap(ro, page_size));
}

/*
 * Unmapping IOVA the driver has pinned asks the driver to unpin first
 * (its dma_unmap()), and the unmap succeeds; pins outside the range stay.
 * Closing the device with pins left gives them back too.
 */
TEST_F(mpin, unmap_unpins)
{
	__u64 unmapped_len, iova2 = IOVA_BASE + 64 * page_size;
	__u32 pinned, unmapped;
	__u8 data[MPIN_DATA_SIZE];

	ASSERT_EQ(0, _test_ioctl_ioas_map(self->iommufd, self->ioas, self->buf,
					  page_size, &iova2,
					  IOMMU_IOAS_MAP_FIXED_IOVA |
						  IOMMU_IOAS_MAP_READABLE));
	ASSERT_EQ(1, pin(_metadata, self->fd, IOVA_BASE + page_size + 17, 1,
			 MPIN_PROT_READ | MPIN_PROT_WRITE, data));
	ASSERT_EQ(2, pin(_metadata, self->fd, IOVA_BASE + 2 * page_size, 2,
			 MPIN_PROT_READ, data));
	ASSERT_EQ(1, pin(_metadata, self->fd, iova2 + 1, 1, MPIN_PROT_READ,
			 data));

	ASSERT_EQ(0, _test_ioctl_ioas_unmap(self->iommufd, self->ioas,
					    IOVA_BASE, BUF_PAGES * page_size,
					    &unmapped_len));
	ASSERT_EQ(BUF_PAGES * page_size, unmapped_len);
	pin_counts(_metadata, self->fd, &pinned, &unmapped);
	ASSERT_EQ(1, pinned);
	ASSERT_EQ(2, unmapped);
	/* Gone from the IOAS: nothing to pin there any more. */
	ASSERT_GT(0, pin(_metadata, self->fd, IOVA_BASE + page_size + 17, 1,
			 MPIN_PROT_READ, data));

	/* The last pin is left for the close to give back. */
	ASSERT_EQ(0, close(self->fd));
	self->fd = -1;
	ASSERT_EQ(0, _test_ioctl_ioas_unmap(self->iommufd, self->ioas, iova2,
					    page_size, &unmapped_len));
}

/*
 * The same device opened through its group, the way programs written for
 * the VFIO group API open an emulated device: the group joins an iommufd
 * context (a /dev/iommu file) or whatever serves /dev/vfio/vfio (iommufd
 * or type1), memory is mapped with VFIO_IOMMU_MAP_DMA, and the driver's
 * pins, copies and dma_unmap() work the same on every backend.
 */
FIXTURE(mpin_group)
{
	int container;
	int group;
	int fd;
	__u8 *buf;
};

FIXTURE_VARIANT(mpin_group)
{
	const char *container;
};

FIXTURE_VARIANT_ADD(mpin_group, iommufd)
{
	.container = "/dev/iommu",
};

FIXTURE_VARIANT_ADD(mpin_group, vfio_container)
{
	.container = "/dev/vfio/vfio",
};

static int container_dma(int container, bool map, __u64 iova, void *buf,
			 __u64 size)
{
	struct vfio_iommu_type1_dma_map m = {
		.argsz = sizeof(m),
		.flags = VFIO_DMA_MAP_FLAG_READ | VFIO_DMA_MAP_FLAG_WRITE,
		.vaddr = (uintptr_t)buf,
		.iova = iova,
		.size = size,
	};
	struct vfio_iommu_type1_dma_unmap u = {
		.argsz = sizeof(u),
		.iova = iova,
		.size = size,
	};

	if (map)
		return ioctl(container, VFIO_IOMMU_MAP_DMA, &m);
	if (ioctl(container, VFIO_IOMMU_UNMAP_DMA, &u))
		return -1;
	return u.size == size ? 0 : -1;
}

FIXTURE_SETUP(mpin_group)
{
	char path[PATH_MAX], name[32];
	size_t i;
	int fd;

	fd = open(MPIN_MODULE, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		SKIP_TEST_PROCESS("no %s", MPIN_MODULE);
	if (syscall(__NR_finit_module, fd, "", 0) && errno != EEXIST)
		SKIP_TEST_PROCESS("cannot load mpin: %s", strerror(errno));
	close(fd);
	ASSERT_EQ(0, sysfs_write(MPIN_CREATE, MPIN_UUID));
	ASSERT_EQ(0, sysfs_link_name(MDEV_DEVICES "/" MPIN_UUID "/iommu_group",
				     name, sizeof(name)));
	snprintf(path, sizeof(path), "/dev/vfio/%s", name);

	self->container = open(variant->container, O_RDWR);
	ASSERT_LE(0, self->container);
	self->group = open(path, O_RDWR);
	ASSERT_LE(0, self->group);
	ASSERT_EQ(0, ioctl(self->group, VFIO_GROUP_SET_CONTAINER,
			   &self->container));
	ASSERT_EQ(0, ioctl(self->container, VFIO_SET_IOMMU,
			   VFIO_TYPE1v2_IOMMU));
	self->buf = mmap(NULL, BUF_PAGES * page_size, PROT_READ | PROT_WRITE,
			 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, self->buf);
	for (i = 0; i != BUF_PAGES * page_size; i++)
		self->buf[i] = pattern(i);
	ASSERT_EQ(0, container_dma(self->container, true, IOVA_BASE, self->buf,
				   BUF_PAGES * page_size));
	self->fd = ioctl(self->group, VFIO_GROUP_GET_DEVICE_FD, MPIN_UUID);
	ASSERT_LE(0, self->fd);
}

/* No ASSERT here, as in the mpin fixture's teardown. */
FIXTURE_TEARDOWN(mpin_group)
{
	close(self->fd);
	close(self->group);
	close(self->container);
	munmap(self->buf, BUF_PAGES * page_size);
	EXPECT_EQ(0, sysfs_write(MDEV_DEVICES "/" MPIN_UUID "/remove", "1"));
}

TEST_F(mpin_group, pin_rw_unmap)
{
	__u8 data[MPIN_DATA_SIZE], word[8] = "mpin-grp";
	size_t off = page_size + 123;
	__u32 pinned, unmapped;

	/* An unaligned IOVA pins its page; the data is the user's. */
	ASSERT_EQ(1, pin(_metadata, self->fd, IOVA_BASE + off, 1,
			 MPIN_PROT_READ | MPIN_PROT_WRITE, data));
	ASSERT_TRUE(holds_pattern(data, off, 64));
	pin_counts(_metadata, self->fd, &pinned, &unmapped);
	ASSERT_EQ(1, pinned);
	ASSERT_EQ(0, unpin(_metadata, self->fd, IOVA_BASE + off, 1));

	/* vfio_dma_rw() both ways, across a page boundary. */
	off = 2 * page_size - 4;
	ASSERT_EQ(0, dma_rw(_metadata, self->fd, IOVA_BASE + off, word,
			    sizeof(word), true));
	ASSERT_EQ(0, memcmp(self->buf + off, word, sizeof(word)));
	memset(word, 0, sizeof(word));
	ASSERT_EQ(0, dma_rw(_metadata, self->fd, IOVA_BASE + off, word,
			    sizeof(word), false));
	ASSERT_EQ(0, memcmp(self->buf + off, word, sizeof(word)));

	/*
	 * Unmapping under a pin makes the driver let go (dma_unmap()). Not
	 * on VFIO's type1: it calls dma_unmap() under its device list lock,
	 * which it takes under the lock vfio_unpin_pages() takes (type1's
	 * register_device() and notify path, 6.1 as upstream): lockdep
	 * reports the inversion, and it can deadlock. That is type1's, and
	 * iommufd does not have it.
	 */
	if (vfio_container_is_iommufd(self->container)) {
		ASSERT_EQ(2, pin(_metadata, self->fd, IOVA_BASE + 2 * page_size,
				 2, MPIN_PROT_READ, data));
		ASSERT_EQ(0, container_dma(self->container, false, IOVA_BASE,
					   NULL, BUF_PAGES * page_size));
		pin_counts(_metadata, self->fd, &pinned, &unmapped);
		ASSERT_EQ(0, pinned);
		ASSERT_EQ(1, unmapped);
	} else {
		TH_LOG("type1: no unmap under pins (its lock inversion)");
		ASSERT_EQ(0, container_dma(self->container, false, IOVA_BASE,
					   NULL, BUF_PAGES * page_size));
	}
	ASSERT_GT(0, pin(_metadata, self->fd, IOVA_BASE, 1, MPIN_PROT_READ,
			 data));
}

TEST_HARNESS_MAIN
