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
#include <pthread.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/eventfd.h>
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

/* MPIN_OP_UNPIN or MPIN_OP_UNPIN_SPAN; returns the device's result. */
static int unpin_op(struct __test_metadata *_metadata, int fd, __u32 op,
		    __u64 iova, __u64 npage)
{
	struct mpin_cmd cmd = {
		.op = op,
		.iova = iova,
		.length = npage,
	};

	ASSERT_EQ(0, mpin(fd, &cmd));
	return cmd.result;
}

#define unpin(_metadata, fd, iova, npage) \
	unpin_op(_metadata, fd, MPIN_OP_UNPIN, iova, npage)
#define unpin_span(_metadata, fd, iova, npage) \
	unpin_op(_metadata, fd, MPIN_OP_UNPIN_SPAN, iova, npage)

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

/* How often the driver's dma_unmap() has been called, ever. */
static __u32 unmap_calls(struct __test_metadata *_metadata, int fd)
{
	struct mpin_cmd cmd = { .op = MPIN_OP_NOP };

	ASSERT_EQ(0, mpin(fd, &cmd));
	return cmd.unmap_calls;
}

/* MPIN_OP_KVM: 1 if the device was opened with a KVM, else 0. */
static int opened_with_kvm(struct __test_metadata *_metadata, int fd)
{
	struct mpin_cmd cmd = { .op = MPIN_OP_KVM };

	ASSERT_EQ(0, mpin(fd, &cmd));
	return cmd.result;
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

/* Load mpin and create its device. */
static void mpin_load(struct __test_metadata *_metadata)
{
	int fd;

	fd = open(MPIN_MODULE, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		SKIP_TEST_PROCESS("no %s", MPIN_MODULE);
	if (syscall(__NR_finit_module, fd, "", 0) && errno != EEXIST)
		SKIP_TEST_PROCESS("cannot load mpin: %s", strerror(errno));
	close(fd);
	ASSERT_EQ(0, sysfs_write(MPIN_CREATE, MPIN_UUID));
}

/* The path of the mpin device's cdev. */
static void mpin_cdev_path(struct __test_metadata *_metadata, char *cdev,
			   size_t size)
{
	char dir[PATH_MAX];
	struct dirent *ent;
	DIR *d;

	snprintf(dir, sizeof(dir), MDEV_DEVICES "/" MPIN_UUID "/vfio-dev");
	d = opendir(dir);
	ASSERT_NE(NULL, d);
	cdev[0] = 0;
	while ((ent = readdir(d)))
		if (!strncmp(ent->d_name, "vfio", 4))
			snprintf(cdev, size, "/dev/vfio/devices/%s",
				 ent->d_name);
	closedir(d);
	ASSERT_NE(0, cdev[0]);
}

/* Load mpin, create its device and find the device's cdev. */
static void mpin_create(struct __test_metadata *_metadata, char *cdev,
			size_t size)
{
	mpin_load(_metadata);
	mpin_cdev_path(_metadata, cdev, size);
}

FIXTURE_SETUP(mpin)
{
	__u64 iova = IOVA_BASE;
	char cdev[PATH_MAX];
	size_t i;
	__u32 pt;

	mpin_create(_metadata, cdev, sizeof(cdev));
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

struct remover {
	int rc;
	bool done;
};

static void *mpin_remove_fn(void *arg)
{
	struct remover *r = arg;

	r->rc = sysfs_write(MDEV_DEVICES "/" MPIN_UUID "/remove", "1");
	__atomic_store_n(&r->done, true, __ATOMIC_RELEASE);
	return NULL;
}

/*
 * The removal of a device whose file is open waits for the file to be
 * closed. Meanwhile no one can open the device again: new users used to
 * be let in through its cdev, and kept the removal waiting as long as
 * they liked, on a device whose driver was going away.
 */
TEST(mpin_removal_lets_no_one_in)
{
	struct remover r = {};
	char cdev[PATH_MAX];
	pthread_t remover;
	int fd, again, i;

	mpin_create(_metadata, cdev, sizeof(cdev));
	fd = open(cdev, O_RDWR);
	ASSERT_LE(0, fd);
	ASSERT_EQ(0, pthread_create(&remover, NULL, mpin_remove_fn, &r));
	/* Until the removal has begun, the cdev opens; 2 s at most. */
	for (i = 0; i != 100; i++) {
		again = open(cdev, O_RDWR);
		if (again < 0)
			break;
		close(again);
		usleep(20 * 1000);
	}
	EXPECT_NE(100, i);
	/* It still waits for the open file. */
	EXPECT_FALSE(__atomic_load_n(&r.done, __ATOMIC_ACQUIRE));
	ASSERT_EQ(0, close(fd));
	ASSERT_EQ(0, pthread_join(remover, NULL));
	ASSERT_EQ(0, r.rc);
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
 * dma_unmap() is for what the IOVA space takes away. Closing the device
 * does not call it: the driver gives its pins back in close_device(), and
 * only after that does VFIO end the access (a vGPU driver would walk the
 * whole IOVA space page by page, after close_device() tore down what its
 * dma_unmap() uses). A detach while open asks only a driver with pins.
 */
TEST_F(mpin, close_calls_no_unmap)
{
	__u8 data[MPIN_DATA_SIZE];
	__u32 calls, pinned, unmapped;
	char cdev[PATH_MAX];
	__u32 pt;

	/* A detach without pins, and one with a pin, which it takes. */
	calls = unmap_calls(_metadata, self->fd);
	ASSERT_EQ(0, vfio_device_detach(self->fd));
	ASSERT_EQ(calls, unmap_calls(_metadata, self->fd));
	pt = self->ioas;
	ASSERT_EQ(0, vfio_device_attach(self->fd, &pt));
	ASSERT_EQ(1, pin(_metadata, self->fd, IOVA_BASE, 1, MPIN_PROT_READ,
			 data));
	ASSERT_EQ(0, vfio_device_detach(self->fd));
	ASSERT_EQ(calls + 1, unmap_calls(_metadata, self->fd));
	pin_counts(_metadata, self->fd, &pinned, &unmapped);
	ASSERT_EQ(0, pinned);
	ASSERT_EQ(1, unmapped);

	/* Closed with a pin left: close_device() gives it back. */
	ASSERT_EQ(0, vfio_device_attach(self->fd, &pt));
	ASSERT_EQ(1, pin(_metadata, self->fd, IOVA_BASE + page_size, 1,
			 MPIN_PROT_READ, data));
	calls = unmap_calls(_metadata, self->fd);
	ASSERT_EQ(0, close(self->fd));
	mpin_cdev_path(_metadata, cdev, sizeof(cdev));
	self->fd = open(cdev, O_RDWR);
	ASSERT_LE(0, self->fd);
	ASSERT_EQ(0, vfio_device_bind_iommufd(self->fd, self->iommufd, NULL));
	ASSERT_EQ(calls, unmap_calls(_metadata, self->fd));
	pin_counts(_metadata, self->fd, &pinned, &unmapped);
	ASSERT_EQ(0, pinned);

	/* And closed without: nothing either. */
	ASSERT_EQ(0, vfio_device_attach(self->fd, &pt));
	ASSERT_EQ(0, close(self->fd));
	self->fd = open(cdev, O_RDWR);
	ASSERT_LE(0, self->fd);
	ASSERT_EQ(0, vfio_device_bind_iommufd(self->fd, self->iommufd, NULL));
	ASSERT_EQ(calls, unmap_calls(_metadata, self->fd));
}

static int set_unmap_delay(struct __test_metadata *_metadata, int fd,
			   __u64 ms)
{
	struct mpin_cmd cmd = { .op = MPIN_OP_UNMAP_DELAY, .length = ms };

	ASSERT_EQ(0, mpin(fd, &cmd));
	return cmd.result;
}

/*
 * While an unmap waits in dma_unmap() for the driver to let go, its range
 * takes no new pins, or the wait might never end. Another unmap of that
 * range, refused because it would cut a mapping, must leave the first
 * one's fence up: it lifts only its own.
 */
TEST_F(mpin, refused_unmap_keeps_anothers_fence)
{
	struct iommu_ioas_unmap u = {
		.size = sizeof(u),
		.ioas_id = self->ioas,
		.iova = IOVA_BASE,
		.length = 2 * page_size,
	};
	const __u64 c = IOVA_BASE + 2 * page_size;
	__u8 data[MPIN_DATA_SIZE];
	struct bg_ioctl bg;
	__u64 len, iova;
	__u32 calls;

	/* Two mappings of two pages: the first pinned, at IOVA_BASE. */
	ASSERT_EQ(0, _test_ioctl_ioas_unmap(self->iommufd, self->ioas,
					    IOVA_BASE, BUF_PAGES * page_size,
					    &len));
	iova = IOVA_BASE;
	ASSERT_EQ(0, _test_ioctl_ioas_map(self->iommufd, self->ioas, self->buf,
					  2 * page_size, &iova,
					  IOMMU_IOAS_MAP_FIXED_IOVA |
						  IOMMU_IOAS_MAP_READABLE));
	len = c;
	ASSERT_EQ(0, _test_ioctl_ioas_map(self->iommufd, self->ioas,
					  self->buf + 2 * page_size,
					  2 * page_size, &len,
					  IOMMU_IOAS_MAP_FIXED_IOVA |
						  IOMMU_IOAS_MAP_READABLE));
	ASSERT_EQ(1, pin(_metadata, self->fd, IOVA_BASE, 1, MPIN_PROT_READ,
			 data));
	calls = unmap_calls(_metadata, self->fd);
	ASSERT_EQ(0, set_unmap_delay(_metadata, self->fd, 3000));

	/* The first unmap, until it waits in dma_unmap(). */
	ASSERT_EQ(0, bg_ioctl_start(&bg, self->iommufd, IOMMU_IOAS_UNMAP, &u));
	while (unmap_calls(_metadata, self->fd) == calls &&
	       !bg_ioctl_done(&bg))
		usleep(1000);
	ASSERT_FALSE(bg_ioctl_done(&bg));

	/* Refused: it would cut the second mapping. */
	EXPECT_ERRNO(ENOENT, _test_ioctl_ioas_unmap(self->iommufd, self->ioas,
						    IOVA_BASE, 3 * page_size,
						    &len));
	/* The first unmap's range still takes no pin. */
	EXPECT_GT(0, pin(_metadata, self->fd, IOVA_BASE + page_size, 1,
			 MPIN_PROT_READ, data));
	/* Checked while it waited: else the check proved nothing. */
	EXPECT_FALSE(bg_ioctl_done(&bg));
	/* Outside it, pins work. */
	EXPECT_EQ(1, pin(_metadata, self->fd, c, 1, MPIN_PROT_READ, data));

	ASSERT_EQ(0, pthread_join(bg.thread, NULL));
	ASSERT_EQ(0, bg.rc);
	ASSERT_EQ(2 * page_size, u.length);
	ASSERT_EQ(0, set_unmap_delay(_metadata, self->fd, 0));
	ASSERT_GT(0, pin(_metadata, self->fd, IOVA_BASE, 1, MPIN_PROT_READ,
			 data));
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

	mpin_load(_metadata);
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

/*
 * Unpins of another shape than the pins, as 6.1's kvmgt and vfio-ap make
 * them: pages pinned one by one and unpinned as one span, and spans of
 * pages never pinned, mapped (or, but for type1, not). type1 counts pins
 * per page and passes over pages that are not pinned, and so does VFIO
 * over iommufd.
 * Before, the span took one pin of four off the access (the IOVA then
 * could not be unmapped), and an unpin of pages not pinned WARNed.
 */
TEST_F(mpin_group, unpin_other_shapes)
{
	__u8 data[MPIN_DATA_SIZE];
	__u32 pinned, unmapped;
	int i;

	for (i = 0; i != 2; i++)
		ASSERT_EQ(1, pin(_metadata, self->fd, IOVA_BASE + i * page_size,
				 1, MPIN_PROT_READ, data));
	/* A page pinned twice gives up one pin per unpin. */
	for (i = 0; i != 2; i++)
		ASSERT_EQ(1, pin(_metadata, self->fd,
				 IOVA_BASE + 2 * page_size, 1, MPIN_PROT_READ,
				 data));
	ASSERT_EQ(0, unpin_span(_metadata, self->fd, IOVA_BASE, 2));
	pin_counts(_metadata, self->fd, &pinned, &unmapped);
	ASSERT_EQ(2, pinned);
	ASSERT_EQ(0, unpin_span(_metadata, self->fd, IOVA_BASE + 3 * page_size,
				1));
	/* type1 WARNs for an IOVA not mapped at all; iommufd passes over. */
	if (vfio_container_is_iommufd(self->container))
		ASSERT_EQ(0, unpin_span(_metadata, self->fd,
					IOVA_BASE + BUF_PAGES * page_size, 2));
	ASSERT_EQ(0, unpin(_metadata, self->fd, IOVA_BASE + 2 * page_size, 1));
	ASSERT_EQ(0, unpin(_metadata, self->fd, IOVA_BASE + 2 * page_size, 1));
	pin_counts(_metadata, self->fd, &pinned, &unmapped);
	ASSERT_EQ(0, pinned);

	/* Nothing stays pinned: the IOVA unmaps, with no pin to let go. */
	ASSERT_EQ(0, container_dma(self->container, false, IOVA_BASE, NULL,
				   BUF_PAGES * page_size));
	pin_counts(_metadata, self->fd, &pinned, &unmapped);
	ASSERT_EQ(0, unmapped);
}

/* As mpin.close_calls_no_unmap, for a device opened through its group. */
TEST_F(mpin_group, close_calls_no_unmap)
{
	__u8 data[MPIN_DATA_SIZE];
	__u32 calls, pinned, unmapped;

	ASSERT_EQ(1, pin(_metadata, self->fd, IOVA_BASE, 1, MPIN_PROT_READ,
			 data));
	calls = unmap_calls(_metadata, self->fd);
	ASSERT_EQ(0, close(self->fd));
	self->fd = ioctl(self->group, VFIO_GROUP_GET_DEVICE_FD, MPIN_UUID);
	ASSERT_LE(0, self->fd);
	ASSERT_EQ(calls, unmap_calls(_metadata, self->fd));
	pin_counts(_metadata, self->fd, &pinned, &unmapped);
	ASSERT_EQ(0, pinned);
	ASSERT_EQ(0, unmapped);

	/* The memory is still mapped, and pins again. */
	ASSERT_EQ(1, pin(_metadata, self->fd, IOVA_BASE, 1, MPIN_PROT_READ,
			 data));
	ASSERT_TRUE(holds_pattern(data, 0, 64));
	ASSERT_EQ(0, close(self->fd));
	self->fd = ioctl(self->group, VFIO_GROUP_GET_DEVICE_FD, MPIN_UUID);
	ASSERT_LE(0, self->fd);
	ASSERT_EQ(calls, unmap_calls(_metadata, self->fd));
}

/*
 * The KVM of a group reaches the device when the device is opened, the
 * 6.1 way: a device already open when the group is added has none.
 */
TEST_F(mpin_group, kvm_at_open)
{
	int vm, kvm_dev;

	kvm_dev = kvm_vfio_create(&vm);
	if (kvm_dev < 0)
		VM_SKIP(return, "no KVM VFIO device: %s", strerror(errno));
	ASSERT_EQ(0, opened_with_kvm(_metadata, self->fd));
	ASSERT_EQ(0, kvm_vfio_file(kvm_dev, KVM_DEV_VFIO_GROUP_ADD,
				   self->group));
	ASSERT_EQ(0, opened_with_kvm(_metadata, self->fd));
	/* A device file from a group is a VFIO file; it gives no KVM. */
	ASSERT_EQ(0, kvm_vfio_file(kvm_dev, KVM_DEV_VFIO_FILE_ADD, self->fd));
	ASSERT_EQ(0, opened_with_kvm(_metadata, self->fd));
	/* KVM lets go of it, or the device would stay open. */
	ASSERT_EQ(0, kvm_vfio_file(kvm_dev, KVM_DEV_VFIO_FILE_DEL, self->fd));
	ASSERT_EQ(0, close(self->fd));
	self->fd = ioctl(self->group, VFIO_GROUP_GET_DEVICE_FD, MPIN_UUID);
	ASSERT_LE(0, self->fd);
	ASSERT_EQ(1, opened_with_kvm(_metadata, self->fd));
	ASSERT_EQ(0, kvm_vfio_file(kvm_dev, KVM_DEV_VFIO_GROUP_DEL,
				   self->group));
	/* The device keeps what it was opened with until its last close. */
	ASSERT_EQ(1, opened_with_kvm(_metadata, self->fd));
	ASSERT_EQ(0, close(kvm_dev));
	ASSERT_EQ(0, close(vm));
	ASSERT_EQ(0, close(self->fd));
	self->fd = ioctl(self->group, VFIO_GROUP_GET_DEVICE_FD, MPIN_UUID);
	ASSERT_LE(0, self->fd);
	ASSERT_EQ(0, opened_with_kvm(_metadata, self->fd));

	/*
	 * Closing the KVM VFIO device lets go of the group under the VM's
	 * kvm->lock, which mpin takes in open_device() and close_device(),
	 * as s390's drivers do: VFIO must not hold, around those, the lock
	 * KVM then waits for. Lockdep sees both orders here.
	 */
	kvm_dev = kvm_vfio_create(&vm);
	ASSERT_LE(0, kvm_dev);
	ASSERT_EQ(0, kvm_vfio_file(kvm_dev, KVM_DEV_VFIO_GROUP_ADD,
				   self->group));
	ASSERT_EQ(0, close(self->fd));
	self->fd = ioctl(self->group, VFIO_GROUP_GET_DEVICE_FD, MPIN_UUID);
	ASSERT_LE(0, self->fd);
	ASSERT_EQ(1, opened_with_kvm(_metadata, self->fd));
	ASSERT_EQ(0, close(kvm_dev));
	ASSERT_EQ(0, close(vm));
	ASSERT_EQ(1, opened_with_kvm(_metadata, self->fd));
}

/*
 * KVM's VFIO pseudo device and the device cdev (KVM_DEV_VFIO_FILE_*, as
 * QEMU 9.1's iommufd backend uses them): an mpin device, its cdev not yet
 * opened, a context, and a VM with its KVM VFIO device.
 */
FIXTURE(mpin_kvm)
{
	char cdev[PATH_MAX];
	int iommufd;
	int vm;
	int kvm_dev;
};

FIXTURE_SETUP(mpin_kvm)
{
	mpin_create(_metadata, self->cdev, sizeof(self->cdev));
	self->iommufd = open("/dev/iommu", O_RDWR);
	ASSERT_LE(0, self->iommufd);
	self->kvm_dev = kvm_vfio_create(&self->vm);
	if (self->kvm_dev < 0)
		SKIP_TEST_PROCESS("no KVM VFIO device: %s", strerror(errno));
}

/* No ASSERT here, as in the mpin fixture's teardown. */
FIXTURE_TEARDOWN(mpin_kvm)
{
	long max = sysconf(_SC_OPEN_MAX);
	int fd;

	/* The test process is the test's alone: close all it left open. */
	for (fd = 3; fd < max && fd < 65536; fd++)
		close(fd);
	EXPECT_EQ(0, sysfs_write(MDEV_DEVICES "/" MPIN_UUID "/remove", "1"));
}

/* Open the cdev, bind it to @iommufd and attach it to a new IOAS. */
static int open_bound(struct __test_metadata *_metadata, const char *cdev,
		      int iommufd)
{
	__u32 ioas, pt;
	int fd;

	fd = open(cdev, O_RDWR);
	ASSERT_LE(0, fd);
	ASSERT_EQ(0, vfio_device_bind_iommufd(fd, iommufd, NULL));
	ASSERT_EQ(0, _test_ioctl_ioas_alloc(iommufd, &ioas));
	pt = ioas;
	ASSERT_EQ(0, vfio_device_attach(fd, &pt));
	return fd;
}

/* What KVM_DEV_VFIO_FILE_ADD and _DEL take, and their errnos. */
TEST_F(mpin_kvm, add_del)
{
	struct kvm_device_attr attr = { .group = KVM_DEV_VFIO_FILE };
	int fd, other, efd, closed;

	attr.attr = KVM_DEV_VFIO_FILE_ADD;
	ASSERT_EQ(0, ioctl(self->kvm_dev, KVM_HAS_DEVICE_ATTR, &attr));
	attr.attr = KVM_DEV_VFIO_FILE_DEL;
	ASSERT_EQ(0, ioctl(self->kvm_dev, KVM_HAS_DEVICE_ATTR, &attr));

	/* A cdev file not bound yet, as a VMM adds it. */
	fd = open(self->cdev, O_RDWR);
	ASSERT_LE(0, fd);
	ASSERT_EQ(0, kvm_vfio_file(self->kvm_dev, KVM_DEV_VFIO_FILE_ADD, fd));
	EXPECT_ERRNO(EEXIST,
		     kvm_vfio_file(self->kvm_dev, KVM_DEV_VFIO_FILE_ADD, fd));
	/* Another file of the same cdev is another file. */
	other = open(self->cdev, O_RDWR);
	ASSERT_LE(0, other);
	EXPECT_ERRNO(ENOENT,
		     kvm_vfio_file(self->kvm_dev, KVM_DEV_VFIO_FILE_DEL, other));
	ASSERT_EQ(0, vfio_device_bind_iommufd(fd, self->iommufd, NULL));
	ASSERT_EQ(0, kvm_vfio_file(self->kvm_dev, KVM_DEV_VFIO_FILE_DEL, fd));
	EXPECT_ERRNO(ENOENT,
		     kvm_vfio_file(self->kvm_dev, KVM_DEV_VFIO_FILE_DEL, fd));
	/* A bound one, and an unbound one beside it. */
	ASSERT_EQ(0, kvm_vfio_file(self->kvm_dev, KVM_DEV_VFIO_FILE_ADD, fd));
	ASSERT_EQ(0,
		  kvm_vfio_file(self->kvm_dev, KVM_DEV_VFIO_FILE_ADD, other));
	ASSERT_EQ(0,
		  kvm_vfio_file(self->kvm_dev, KVM_DEV_VFIO_FILE_DEL, other));
	ASSERT_EQ(0, kvm_vfio_file(self->kvm_dev, KVM_DEV_VFIO_FILE_DEL, fd));

	/* Files that are no VFIO file, and fds that are no file. */
	efd = eventfd(0, 0);
	ASSERT_LE(0, efd);
	EXPECT_ERRNO(EINVAL, kvm_vfio_file(self->kvm_dev, KVM_DEV_VFIO_FILE_ADD,
					   self->iommufd));
	EXPECT_ERRNO(EINVAL,
		     kvm_vfio_file(self->kvm_dev, KVM_DEV_VFIO_FILE_ADD, efd));
	EXPECT_ERRNO(EINVAL, kvm_vfio_file(self->kvm_dev, KVM_DEV_VFIO_FILE_ADD,
					   self->kvm_dev));
	EXPECT_ERRNO(EINVAL, kvm_vfio_file(self->kvm_dev, KVM_DEV_VFIO_FILE_ADD,
					   self->vm));
	EXPECT_ERRNO(ENOENT,
		     kvm_vfio_file(self->kvm_dev, KVM_DEV_VFIO_FILE_DEL, efd));
	closed = dup(efd);
	ASSERT_LE(0, closed);
	ASSERT_EQ(0, close(closed));
	EXPECT_ERRNO(EBADF,
		     kvm_vfio_file(self->kvm_dev, KVM_DEV_VFIO_FILE_ADD, closed));
	EXPECT_ERRNO(EBADF,
		     kvm_vfio_file(self->kvm_dev, KVM_DEV_VFIO_FILE_DEL, closed));
	EXPECT_ERRNO(EBADF,
		     kvm_vfio_file(self->kvm_dev, KVM_DEV_VFIO_FILE_ADD, -1));
	EXPECT_ERRNO(EBADF, kvm_vfio_file(self->kvm_dev, KVM_DEV_VFIO_FILE_ADD,
					  INT32_MAX));
	/* A bad pointer to the fd, and an attribute that does not exist. */
	attr.attr = KVM_DEV_VFIO_FILE_ADD;
	attr.addr = 8;
	EXPECT_ERRNO(EFAULT,
		     ioctl(self->kvm_dev, KVM_SET_DEVICE_ATTR, &attr));
	EXPECT_ERRNO(ENXIO, kvm_vfio_file(self->kvm_dev, 100, fd));
	ASSERT_EQ(0, close(efd));
	ASSERT_EQ(0, close(other));
	ASSERT_EQ(0, close(fd));
}

/*
 * The VM reaches the device (vfio_device::kvm, what its driver sees in
 * open_device()) when a cdev file added to KVM binds it, and only then:
 * not when the file is added after binding, not without KVM.
 */
TEST_F(mpin_kvm, kvm_reaches_device)
{
	int fd;

	fd = open(self->cdev, O_RDWR);
	ASSERT_LE(0, fd);
	ASSERT_EQ(0, kvm_vfio_file(self->kvm_dev, KVM_DEV_VFIO_FILE_ADD, fd));
	ASSERT_EQ(0, vfio_device_bind_iommufd(fd, self->iommufd, NULL));
	ASSERT_EQ(1, opened_with_kvm(_metadata, fd));
	ASSERT_EQ(0, kvm_vfio_file(self->kvm_dev, KVM_DEV_VFIO_FILE_DEL, fd));
	ASSERT_EQ(0, close(fd));

	fd = open_bound(_metadata, self->cdev, self->iommufd);
	ASSERT_EQ(0, opened_with_kvm(_metadata, fd));
	ASSERT_EQ(0, kvm_vfio_file(self->kvm_dev, KVM_DEV_VFIO_FILE_ADD, fd));
	ASSERT_EQ(0, opened_with_kvm(_metadata, fd));
	ASSERT_EQ(0, close(fd));
	/* KVM holds the file: the device stays bound to it. */
	fd = open(self->cdev, O_RDWR);
	ASSERT_LE(0, fd);
	EXPECT_ERRNO(EINVAL, vfio_device_bind_iommufd(fd, self->iommufd, NULL));
	ASSERT_EQ(0, close(self->kvm_dev));
	ASSERT_EQ(0, close(self->vm));
	ASSERT_EQ(0, vfio_device_bind_iommufd(fd, self->iommufd, NULL));
	ASSERT_EQ(0, opened_with_kvm(_metadata, fd));
	ASSERT_EQ(0, close(fd));

	/* A file added, then removed before it binds, gives no KVM. */
	self->kvm_dev = kvm_vfio_create(&self->vm);
	ASSERT_LE(0, self->kvm_dev);
	fd = open(self->cdev, O_RDWR);
	ASSERT_LE(0, fd);
	ASSERT_EQ(0, kvm_vfio_file(self->kvm_dev, KVM_DEV_VFIO_FILE_ADD, fd));
	ASSERT_EQ(0, kvm_vfio_file(self->kvm_dev, KVM_DEV_VFIO_FILE_DEL, fd));
	ASSERT_EQ(0, vfio_device_bind_iommufd(fd, self->iommufd, NULL));
	ASSERT_EQ(0, opened_with_kvm(_metadata, fd));
	ASSERT_EQ(0, close(fd));
}

/*
 * Every order of closing the KVM VFIO device, the VM and the cdev file
 * (added to KVM, bound, with a page pinned): each ends with the device
 * unbound (a new file binds it) and its pin returned; kmemleak and
 * KASAN watch the rest.
 */
TEST_F(mpin_kvm, close_orders)
{
	static const char orders[6][3] = {
		"kvc", "kcv", "vkc", "vck", "ckv", "cvk",
	};
	__u32 ioas, pt, pinned, unmapped;
	__u64 iova = IOVA_BASE;
	unsigned int i, j;
	int fd, files[3];
	__u8 *buf;

	buf = mmap(NULL, page_size, PROT_READ | PROT_WRITE,
		   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, buf);
	memset(buf, 0x5a, page_size);
	for (i = 0; i != 6; i++) {
		if (i) {
			self->kvm_dev = kvm_vfio_create(&self->vm);
			ASSERT_LE(0, self->kvm_dev);
		}
		fd = open(self->cdev, O_RDWR);
		ASSERT_LE(0, fd);
		ASSERT_EQ(0, kvm_vfio_file(self->kvm_dev,
					   KVM_DEV_VFIO_FILE_ADD, fd));
		ASSERT_EQ(0, vfio_device_bind_iommufd(fd, self->iommufd,
						      NULL));
		iova = IOVA_BASE;
		ASSERT_EQ(0, _test_ioctl_ioas_alloc(self->iommufd, &ioas));
		pt = ioas;
		ASSERT_EQ(0, vfio_device_attach(fd, &pt));
		ASSERT_EQ(0, _test_ioctl_ioas_map(self->iommufd, ioas, buf,
						  page_size, &iova,
						  IOMMU_IOAS_MAP_FIXED_IOVA |
							  IOMMU_IOAS_MAP_READABLE));
		ASSERT_EQ(1, pin(_metadata, fd, IOVA_BASE, 1, MPIN_PROT_READ,
				 NULL));
		files[0] = self->kvm_dev;
		files[1] = self->vm;
		files[2] = fd;
		for (j = 0; j != 3; j++)
			ASSERT_EQ(0, close(files[orders[i][j] == 'k' ? 0 :
					   orders[i][j] == 'v' ? 1 : 2]));
		/* Unbound: the IOAS can be destroyed, the device binds. */
		ASSERT_EQ(0, _test_ioctl_destroy(self->iommufd, ioas));
		fd = open_bound(_metadata, self->cdev, self->iommufd);
		pin_counts(_metadata, fd, &pinned, &unmapped);
		ASSERT_EQ(0, pinned);
		ASSERT_EQ(0, close(fd));
	}
	munmap(buf, page_size);
}

struct kvm_race {
	int kvm_dev;
	int fd;
	unsigned int rounds;
	int err;
};

/* Add and remove the file, over and over, while the test binds it. */
static void *kvm_add_del_fn(void *arg)
{
	struct kvm_race *r = arg;
	unsigned int i;

	for (i = 0; i != r->rounds && !r->err; i++) {
		if (kvm_vfio_file(r->kvm_dev, KVM_DEV_VFIO_FILE_ADD, r->fd) ||
		    kvm_vfio_file(r->kvm_dev, KVM_DEV_VFIO_FILE_DEL, r->fd))
			r->err = errno;
	}
	return NULL;
}

/*
 * KVM adds and removes a cdev file while the file binds, pins, unpins
 * and the device closes: the device opened with the VM or without, never
 * a torn state (lockdep checks KVM's lock against VFIO's).
 */
TEST_F_TIMEOUT(mpin_kvm, add_del_race_bind, 180)
{
	struct kvm_race r = { .kvm_dev = self->kvm_dev, .rounds = 2000 };
	__u64 iova = IOVA_BASE;
	unsigned int round, i;
	pthread_t thread;
	__u32 ioas, pt;
	int kvm;
	__u8 *buf;

	buf = mmap(NULL, page_size, PROT_READ | PROT_WRITE,
		   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, buf);
	ASSERT_EQ(0, _test_ioctl_ioas_alloc(self->iommufd, &ioas));
	ASSERT_EQ(0, _test_ioctl_ioas_map(self->iommufd, ioas, buf, page_size,
					  &iova, IOMMU_IOAS_MAP_FIXED_IOVA |
						 IOMMU_IOAS_MAP_READABLE));
	for (round = 0; round != 4; round++) {
		r.fd = open(self->cdev, O_RDWR);
		ASSERT_LE(0, r.fd);
		ASSERT_EQ(0, pthread_create(&thread, NULL, kvm_add_del_fn, &r));
		ASSERT_EQ(0, vfio_device_bind_iommufd(r.fd, self->iommufd,
						      NULL));
		kvm = opened_with_kvm(_metadata, r.fd);
		ASSERT_TRUE(kvm == 0 || kvm == 1);
		pt = ioas;
		ASSERT_EQ(0, vfio_device_attach(r.fd, &pt));
		for (i = 0; i != 50; i++) {
			ASSERT_EQ(1, pin(_metadata, r.fd, IOVA_BASE, 1,
					 MPIN_PROT_READ, NULL));
			ASSERT_EQ(0, unpin(_metadata, r.fd, IOVA_BASE, 1));
		}
		ASSERT_EQ(0, pthread_join(thread, NULL));
		ASSERT_EQ(0, r.err);
		ASSERT_EQ(0, close(r.fd));
	}
	munmap(buf, page_size);
}

/* Each round creates and destroys a VM: slow under TCG. */
#define VM_CLOSE_ROUNDS 100

struct kvm_closer {
	pthread_barrier_t *go;
	int kvm_dev;
	int err;
};

static void *kvm_close_fn(void *arg)
{
	struct kvm_closer *c = arg;

	pthread_barrier_wait(c->go);
	if (close(c->kvm_dev))
		c->err = errno;
	return NULL;
}

/*
 * KVM lets go of a cdev file, and the VM goes with it, while the file
 * binds: the VM's last reference is its KVM VFIO device's, whose close
 * takes the VM back from the file and drops it. Binding must hand the
 * driver either no VM or one it can still take a reference on: mpin
 * takes one, as a vGPU driver does, and on a VM already being destroyed
 * the reference count warns (and KASAN sees the use after free).
 */
TEST_F_TIMEOUT(mpin_kvm, vm_close_race_bind, 300)
{
	unsigned int round, with_vm = 0;
	/* KVM's debugfs names each live VM "<pid>-<VM fd>". */
	bool debugfs = !access("/sys/kernel/debug/kvm", F_OK);
	char vm_dir[64];
	pthread_barrier_t go;
	pthread_t thread;
	int vm, fd, kvm;

	ASSERT_EQ(0, pthread_barrier_init(&go, NULL, 2));
	for (round = 0; round != VM_CLOSE_ROUNDS; round++) {
		struct kvm_closer c = { .go = &go };

		c.kvm_dev = kvm_vfio_create(&vm);
		ASSERT_LE(0, c.kvm_dev);
		snprintf(vm_dir, sizeof(vm_dir), "/sys/kernel/debug/kvm/%d-%d",
			 getpid(), vm);
		fd = open(self->cdev, O_RDWR);
		ASSERT_LE(0, fd);
		ASSERT_EQ(0, kvm_vfio_file(c.kvm_dev, KVM_DEV_VFIO_FILE_ADD, fd));
		/* From now on only the KVM VFIO device holds the VM. */
		ASSERT_EQ(0, close(vm));
		ASSERT_EQ(0, pthread_create(&thread, NULL, kvm_close_fn, &c));
		pthread_barrier_wait(&go);
		ASSERT_EQ(0, vfio_device_bind_iommufd(fd, self->iommufd, NULL));
		ASSERT_EQ(0, pthread_join(thread, NULL));
		ASSERT_EQ(0, c.err);
		kvm = opened_with_kvm(_metadata, fd);
		ASSERT_TRUE(kvm == 0 || kvm == 1);
		with_vm += kvm;
		/* Alive only if the device holds it; then it goes at close. */
		if (debugfs)
			ASSERT_EQ(kvm, !access(vm_dir, F_OK));
		ASSERT_EQ(0, close(fd));
		if (debugfs)
			ASSERT_NE(0, access(vm_dir, F_OK));
	}
	pthread_barrier_destroy(&go);
	TH_LOG("%u of %u binds got the VM", with_vm, VM_CLOSE_ROUNDS);
}

TEST_HARNESS_MAIN
