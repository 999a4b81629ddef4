// SPDX-License-Identifier: GPL-2.0-only
/*
 * VFIO devices bound to iommufd through their character device,
 * /dev/vfio/devices/vfioN, with real DMA: QEMU's edu device (see
 * vfio_edu.h) copying through the emulated Intel IOMMU of the test VM.
 *
 *  - VFIO_DEVICE_BIND_IOMMUFD, then VFIO_DEVICE_ATTACH_IOMMUFD_PT to an
 *    IOAS, then DMA both ways; until it is bound, the device file takes
 *    nothing but BIND;
 *  - the IOMMU stops DMA to and from an IOVA that is not mapped, or no
 *    longer is, and reports a DMAR fault in the kernel log;
 *  - a second ATTACH to another IOAS replaces the first, without a
 *    detach (6.1's VT-d still blocks DMA for the moment it moves the
 *    device); DETACH leaves a device alone in its group unable to reach
 *    memory;
 *  - DMA ownership of an IOMMU group: while a kernel driver (virtio-pci)
 *    drives one device of a group, no other device of it can be bound;
 *    while one is bound, no kernel driver can probe another; the devices
 *    of a group go to one iommufd context only; the legacy group file
 *    and the device cdev exclude each other;
 *  - the errnos of the three new ioctls for bad input;
 *  - closing the iommufd and the device file, in either order, releases
 *    the pins and the device; the IOAS outlives the device;
 *  - the legacy container path (type1) is unchanged.
 *
 * The VM (vmtest/lib.sh) has edu devices in IOMMU groups of their own,
 * and one edu that shares its group with a virtio-rng bound to
 * virtio-pci. The tests move these between drivers through sysfs. The
 * fixture notes each device's driver and driver_override first, and the
 * teardown puts them back whatever happened, having first closed every
 * file the test left open (vfio-pci waits for the device's files before
 * it lets go of a device). Only a test killed by its timeout skips the
 * teardown.
 *
 * Every transfer moves DMA_LEN bytes between the start of the device
 * buffer and the start of a page of RAM, each test buffer filled with a
 * pattern of its own (fill(), holds()). A DMA from RAM that the IOMMU
 * refuses leaves the device buffer as it was or, as QEMU hands the
 * device zeros for a refused read, zeroed: never with the data at the
 * IOVA (expect_refused_read()). A refused DMA to RAM changes nothing.
 */
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <poll.h>
#include <pthread.h>
#include <sys/eventfd.h>
#include <linux/kvm.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>

#include <stdarg.h>

#include "iommufd_utils.h"
#include "vfio_edu.h"

/* Seconds: sysfs binds, 100 ms per DMA and waits for the kernel log. */
#define VFIO_TIMEOUT 120

/* IOVAs, all below the 28 bits edu can address. */
#define IOVA_SRC 0x100000ULL
#define IOVA_DST 0x200000ULL
/* Mapped, then unmapped again. */
#define IOVA_GONE 0x300000ULL
/* Never mapped. */
#define IOVA_NEVER 0x7ff000ULL
/* Bytes per transfer, well inside edu's 4 KiB buffer. */
#define DMA_LEN 1024
/* How long the IOMMU's fault report may take to reach the log. */
#define FAULT_WAIT_MS 3000

/* The reason to skip when bind_vfio() finds no cdev. */
#define NO_CDEV "%s on vfio-pci has no VFIO device cdev"

/* A VFIO ioctl number that no kernel has. */
#define VFIO_UNKNOWN_IOCTL _IO(VFIO_TYPE, VFIO_BASE + 60)

/*
 * A SKIP in a 6.1 fixture setup still runs the test body, so leave the
 * test process with the harness's "skipped" exit status instead.
 */
#define SKIP_TEST_PROCESS(fmt, ...) VM_SKIP(_exit(255), fmt, ##__VA_ARGS__)

/* cmd returns 0, or -1 with errno, which the failure report shows. */
#define ASSERT_OK(cmd)                                                         \
	({                                                                     \
		int __rc = (cmd);                                              \
		if (__rc)                                                      \
			TH_LOG("%s: %s", #cmd, strerror(errno));               \
		ASSERT_EQ(0, __rc);                                            \
	})

static unsigned long page_size;

static __attribute__((constructor)) void setup_page_size(void)
{
	page_size = sysconf(_SC_PAGE_SIZE);
}

static unsigned char pattern_byte(unsigned int seed, unsigned int i)
{
	return seed * 37 + i * 7 + (i >> 8);
}

/* The first DMA_LEN bytes of buf get the pattern of seed. */
static void fill(void *buf, unsigned int seed)
{
	unsigned char *p = buf;
	unsigned int i;

	for (i = 0; i != DMA_LEN; i++)
		p[i] = pattern_byte(seed, i);
}

static bool holds(const void *buf, unsigned int seed)
{
	const unsigned char *p = buf;
	unsigned int i;

	for (i = 0; i != DMA_LEN; i++)
		if (p[i] != pattern_byte(seed, i))
			return false;
	return true;
}

static bool zeroed(const void *buf)
{
	const unsigned char *p = buf;
	unsigned int i;

	for (i = 0; i != DMA_LEN; i++)
		if (p[i])
			return false;
	return true;
}

/* Pages of written memory, each used as one DMA buffer. */
static char *alloc_pages(struct __test_metadata *_metadata,
			 unsigned int pages)
{
	char *buf = test_alloc_small_pages(pages);

	ASSERT_NE(NULL, buf);
	return buf;
}

/*
 * Whether the fdinfo of @fd has a line starting with @key whose rest
 * starts with @value (printf-style).
 */
static bool fdinfo_has(int fd, const char *key, const char *value, ...)
{
	char *text = fdinfo_read(fd);
	const char *v = text ? fdinfo_field(text, key) : NULL;
	char want[256];
	va_list ap;
	bool ok;

	va_start(ap, value);
	vsnprintf(want, sizeof(want), value, ap);
	va_end(ap);
	ok = v && !strncmp(v, want, strlen(want));
	if (!ok)
		fprintf(stderr, "# fdinfo of fd %d lacks \"%s%s\":\n%s", fd, key,
			want, text ? text : "(unreadable)\n");
	free(text);
	return ok;
}

/* Whether the fdinfo of @fd has no line starting with @key. */
static bool fdinfo_lacks(int fd, const char *key)
{
	char *text = fdinfo_read(fd);
	bool lacks = text && !fdinfo_field(text, key);

	free(text);
	return lacks;
}

FIXTURE(vfio_edu)
{
	/* An edu alone in its IOMMU group. */
	struct pci_binding solo;
	/*
	 * An edu that shares its group, and the virtio-rng of that group;
	 * bdf "" when the VM has none.
	 */
	struct pci_binding shared;
	struct pci_binding rng;
};

FIXTURE_SETUP(vfio_edu)
{
	char bdf[PCI_BDF_SIZE];
	char rng[PCI_BDF_SIZE];

	if (access("/dev/iommu", F_OK) || access(PCI_DRIVERS "/vfio-pci", F_OK))
		SKIP_TEST_PROCESS("no /dev/iommu or no vfio-pci driver");
	if (edu_find(false, bdf, sizeof(bdf)))
		SKIP_TEST_PROCESS("no edu device in an IOMMU group of its own");
	ASSERT_OK(pci_binding_save(&self->solo, bdf));
	if (!edu_find(true, bdf, sizeof(bdf)) &&
	    pci_group_find(bdf, pci_is_virtio_rng, rng, sizeof(rng), NULL) == 1) {
		ASSERT_OK(pci_binding_save(&self->shared, bdf));
		ASSERT_OK(pci_binding_save(&self->rng, rng));
	}
}

/* EXPECT only: an ASSERT here would run the teardown again. */
FIXTURE_TEARDOWN(vfio_edu)
{
	long max = sysconf(_SC_OPEN_MAX);
	int fd;

	/* The test process is the test's alone: close all it left open. */
	for (fd = 3; fd < max && fd < 65536; fd++)
		close(fd);
	EXPECT_EQ(0, pci_binding_restore(&self->solo));
	EXPECT_EQ(0, pci_binding_restore(&self->shared));
	EXPECT_EQ(0, pci_binding_restore(&self->rng));
}

/*
 * Give a device without a driver to vfio-pci and find its cdev: 0, or
 * -1 when the kernel made no cdev, for the test to skip with NO_CDEV.
 */
static int bind_vfio(struct __test_metadata *_metadata, const char *bdf,
		     char *cdev)
{
	ASSERT_OK(pci_bind_vfio(bdf));
	ASSERT_EQ(1, pci_has_driver(bdf, "vfio-pci"));
	return vfio_cdev_path(bdf, cdev, PATH_MAX) ? -1 : 0;
}

/* A context, with the edu bound to it and attached to an IOAS. */
struct bound {
	int iommufd;
	int fd;
	__u32 devid;
	__u32 ioas;
	__u32 hwpt;
	struct edu edu;
};

static void bind_attach(struct __test_metadata *_metadata, const char *cdev,
			struct bound *b)
{
	b->iommufd = open("/dev/iommu", O_RDWR);
	ASSERT_LE(0, b->iommufd);
	b->fd = open(cdev, O_RDWR);
	ASSERT_LE(0, b->fd);
	ASSERT_OK(vfio_device_bind_iommufd(b->fd, b->iommufd, &b->devid));
	ASSERT_OK(_test_ioctl_ioas_alloc(b->iommufd, &b->ioas));
	b->hwpt = b->ioas;
	ASSERT_OK(vfio_device_attach(b->fd, &b->hwpt));
	ASSERT_NE(b->ioas, b->hwpt);
	ASSERT_OK(edu_init(&b->edu, b->fd));
}

/* Map length bytes at buf read/write at exactly iova. */
static void map_fixed(struct __test_metadata *_metadata, int iommufd,
		      __u32 ioas, void *buf, size_t length, __u64 iova)
{
	__u64 got = iova;

	ASSERT_OK(_test_ioctl_ioas_map(iommufd, ioas, buf, length, &got,
				       IOMMU_IOAS_MAP_FIXED_IOVA |
					       TEST_MAP_RW));
	ASSERT_EQ(iova, got);
}

static void unmap_fixed(struct __test_metadata *_metadata, int iommufd,
			__u32 ioas, size_t length, __u64 iova)
{
	__u64 unmapped = 0;

	ASSERT_OK(_test_ioctl_ioas_unmap(iommufd, ioas, iova, length,
					 &unmapped));
	ASSERT_EQ(length, unmapped);
}

/* RAM at iova to the device buffer. */
static void to_device(struct __test_metadata *_metadata,
		      const struct edu *edu, __u64 iova)
{
	ASSERT_OK(edu_dma(edu, false, iova, 0, DMA_LEN));
}

/* The device buffer to RAM at iova. */
static void to_ram(struct __test_metadata *_metadata, const struct edu *edu,
		   __u64 iova)
{
	ASSERT_OK(edu_dma(edu, true, iova, 0, DMA_LEN));
}

/*
 * buf holds a copy of the device buffer made after a DMA from RAM that
 * the IOMMU refused: the device buffer must still hold the pattern of
 * seed before, or zeros.
 */
static void expect_refused_read(struct __test_metadata *_metadata,
				const void *buf, unsigned int before)
{
	if (holds(buf, before))
		return;
	if (!zeroed(buf))
		TH_LOG("the device read data through an IOVA it cannot reach");
	ASSERT_TRUE(zeroed(buf));
}

/*
 * Wait for the IOMMU's report of a fault at iova in the kernel log. QEMU's
 * VT-d has a single fault recording register: when faults come close
 * together it may raise the fault interrupt with no record to read, and
 * the kernel logs only "DRHD: handling fault status". That still shows
 * the IOMMU refused a DMA; what reached memory is checked apart.
 */
static void expect_dmar_fault(struct __test_metadata *_metadata, int kmsg,
			      __u64 iova)
{
	bool fault = false;
	char needle[64];
	char line[512];

	snprintf(needle, sizeof(needle), "fault addr 0x%llx ",
		 (unsigned long long)iova & ~0xfffULL);
	while (!kmsg_wait(kmsg, "DMAR", "fault", FAULT_WAIT_MS, line,
			  sizeof(line))) {
		TH_LOG("kernel: %s", line);
		fault = true;
		if (strstr(line, needle))
			return;
	}
	if (!fault)
		TH_LOG("no DMAR fault at 0x%llx in the kernel log",
		       (unsigned long long)iova);
	EXPECT_TRUE(fault);
}

/* The name of the errnos the tests accept more than one of. */
static const char *errno_name(int err)
{
	switch (err) {
	case EPERM:
		return "EPERM";
	case EBUSY:
		return "EBUSY";
	case EINVAL:
		return "EINVAL";
	default:
		return strerror(err);
	}
}

TEST_F_TIMEOUT(vfio_edu, cdev_dma_round_trip, VFIO_TIMEOUT)
{
	__u32 rw = VFIO_REGION_INFO_FLAG_READ | VFIO_REGION_INFO_FLAG_WRITE;
	struct vfio_device_info info = { .argsz = sizeof(info) };
	struct vfio_region_info region = { .argsz = sizeof(region) };
	char cdev[PATH_MAX];
	__u32 devid = 0;
	int iommufd, fd;
	char *src, *dst;
	struct edu edu;
	__u32 ioas;
	__u32 hwpt;

	if (bind_vfio(_metadata, self->solo.bdf, cdev))
		VM_SKIP(return, NO_CDEV, self->solo.bdf);
	src = alloc_pages(_metadata, 2);
	dst = src + page_size;

	iommufd = open("/dev/iommu", O_RDWR);
	ASSERT_LE(0, iommufd);
	fd = open(cdev, O_RDWR);
	ASSERT_LE(0, fd);

	/* Until it is bound, the device file takes nothing but BIND. */
	EXPECT_ERRNO(EINVAL, ioctl(fd, VFIO_DEVICE_GET_INFO, &info));
	ASSERT_OK(vfio_device_bind_iommufd(fd, iommufd, &devid));
	ASSERT_NE(0, devid);

	/* Then it is a VFIO PCI device like any other. */
	ASSERT_OK(ioctl(fd, VFIO_DEVICE_GET_INFO, &info));
	ASSERT_TRUE(info.flags & VFIO_DEVICE_FLAGS_PCI);
	ASSERT_LT(VFIO_PCI_CONFIG_REGION_INDEX, info.num_regions);
	region.index = VFIO_PCI_BAR0_REGION_INDEX;
	ASSERT_OK(ioctl(fd, VFIO_DEVICE_GET_REGION_INFO, &region));
	ASSERT_EQ(1ULL << 20, region.size);
	ASSERT_EQ(rw, region.flags & rw);
	region.index = VFIO_PCI_CONFIG_REGION_INDEX;
	ASSERT_OK(ioctl(fd, VFIO_DEVICE_GET_REGION_INFO, &region));
	ASSERT_LE(256, region.size);
	ASSERT_EQ(rw, region.flags & rw);

	/* Attached to an IOAS, the device gets a HWPT the kernel made. */
	ASSERT_OK(_test_ioctl_ioas_alloc(iommufd, &ioas));
	hwpt = ioas;
	ASSERT_OK(vfio_device_attach(fd, &hwpt));
	ASSERT_NE(0, hwpt);
	ASSERT_NE(ioas, hwpt);
	ASSERT_NE(devid, hwpt);
	map_fixed(_metadata, iommufd, ioas, src, page_size, IOVA_SRC);
	map_fixed(_metadata, iommufd, ioas, dst, page_size, IOVA_DST);

	ASSERT_OK(edu_init(&edu, fd));
	fill(src, 1);
	memset(dst, 0, page_size);
	to_device(_metadata, &edu, IOVA_SRC);
	to_ram(_metadata, &edu, IOVA_DST);
	ASSERT_TRUE(holds(dst, 1));
	/* No more than DMA_LEN bytes came. */
	ASSERT_TRUE(zeroed(dst + DMA_LEN));
}

/* edu's interrupt registers: raise sets status bits, ack clears them. */
#define EDU_REG_IRQ_STATUS 0x24
#define EDU_REG_IRQ_RAISE 0x60
#define EDU_REG_IRQ_ACK 0x64

/* Device registers through a mapping: every access must reach the device. */
static __u32 mmio_read32(__u32 *bar, unsigned int reg)
{
	return __atomic_load_n(&bar[reg / 4], __ATOMIC_RELAXED);
}

static void mmio_write32(__u32 *bar, unsigned int reg, __u32 val)
{
	__atomic_store_n(&bar[reg / 4], val, __ATOMIC_RELAXED);
}

static int set_msi_eventfd(int fd, int efd)
{
	struct {
		struct vfio_irq_set set;
		__s32 fd;
	} irq = {
		.set = {
			.argsz = sizeof(irq),
			.flags = VFIO_IRQ_SET_ACTION_TRIGGER |
				 (efd < 0 ? VFIO_IRQ_SET_DATA_NONE :
					    VFIO_IRQ_SET_DATA_EVENTFD),
			.index = VFIO_PCI_MSI_IRQ_INDEX,
			.count = efd < 0 ? 0 : 1,
		},
		.fd = efd,
	};

	if (efd < 0)
		irq.set.argsz = sizeof(irq.set);
	return ioctl(fd, VFIO_DEVICE_SET_IRQS, &irq);
}

/*
 * The rest of a VFIO device file through the cdev: BAR0 mapped into the
 * process, an MSI the device raises reaching an eventfd (through the
 * guest's interrupt remapping), and device reset when it has one.
 */
TEST_F_TIMEOUT(vfio_edu, cdev_mmap_irq_reset, VFIO_TIMEOUT)
{
	struct vfio_irq_info irq_info = {
		.argsz = sizeof(irq_info),
		.index = VFIO_PCI_MSI_IRQ_INDEX,
	};
	struct vfio_device_info info = { .argsz = sizeof(info) };
	struct vfio_region_info region = {
		.argsz = sizeof(region),
		.index = VFIO_PCI_BAR0_REGION_INDEX,
	};
	struct pollfd pfd;
	char cdev[PATH_MAX];
	__u32 *bar;
	struct bound b;
	__u64 count;
	__u32 val;
	int efd;

	if (bind_vfio(_metadata, self->solo.bdf, cdev))
		VM_SKIP(return, NO_CDEV, self->solo.bdf);
	bind_attach(_metadata, cdev, &b);

	/* BAR0 in the process's address space. */
	ASSERT_OK(ioctl(b.fd, VFIO_DEVICE_GET_REGION_INFO, &region));
	ASSERT_TRUE(region.flags & VFIO_REGION_INFO_FLAG_MMAP);
	bar = mmap(NULL, region.size, PROT_READ | PROT_WRITE, MAP_SHARED,
		   b.fd, region.offset);
	ASSERT_NE(MAP_FAILED, bar);
	ASSERT_EQ(EDU_IDENT, mmio_read32(bar, EDU_REG_IDENT));
	mmio_write32(bar, EDU_REG_LIVENESS, 0x12345678);
	ASSERT_EQ(~0x12345678U, mmio_read32(bar, EDU_REG_LIVENESS));

	/* An MSI of the device signals an eventfd. */
	ASSERT_OK(ioctl(b.fd, VFIO_DEVICE_GET_IRQ_INFO, &irq_info));
	ASSERT_LE(1, irq_info.count);
	ASSERT_TRUE(irq_info.flags & VFIO_IRQ_INFO_EVENTFD);
	efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	ASSERT_LE(0, efd);
	ASSERT_OK(set_msi_eventfd(b.fd, efd));
	ASSERT_OK(edu_write32(&b.edu, EDU_REG_IRQ_RAISE, 0x100));
	pfd.fd = efd;
	pfd.events = POLLIN;
	ASSERT_EQ(1, poll(&pfd, 1, 5000));
	ASSERT_EQ(sizeof(count), read(efd, &count, sizeof(count)));
	ASSERT_LE(1, count);
	ASSERT_OK(edu_read32(&b.edu, EDU_REG_IRQ_STATUS, &val));
	ASSERT_EQ(0x100, val);
	ASSERT_OK(edu_write32(&b.edu, EDU_REG_IRQ_ACK, 0x100));
	ASSERT_OK(set_msi_eventfd(b.fd, -1));

	/* Reset, when the device can be reset on its own. */
	ASSERT_OK(ioctl(b.fd, VFIO_DEVICE_GET_INFO, &info));
	if (info.flags & VFIO_DEVICE_FLAGS_RESET) {
		ASSERT_OK(ioctl(b.fd, VFIO_DEVICE_RESET));
		ASSERT_EQ(EDU_IDENT, mmio_read32(bar, EDU_REG_IDENT));
	} else {
		TH_LOG("%s has no reset of its own", self->solo.bdf);
	}
	ASSERT_OK(munmap(bar, region.size));
}

/*
 * Load the device buffer from IOVA_SRC (seed 1), then have the device
 * read the unreachable iova: the IOMMU reports it, and what the device
 * holds afterwards (copied to dst at IOVA_DST) is not what lies there.
 */
static void read_refused(struct __test_metadata *_metadata,
			 const struct edu *edu, int kmsg, __u64 iova, char *dst)
{
	to_device(_metadata, edu, IOVA_SRC);
	to_device(_metadata, edu, iova);
	expect_dmar_fault(_metadata, kmsg, iova);
	memset(dst, 0, page_size);
	to_ram(_metadata, edu, IOVA_DST);
	expect_refused_read(_metadata, dst, 1);
}

TEST_F_TIMEOUT(vfio_edu, unmapped_iova, VFIO_TIMEOUT)
{
	char *src, *dst, *gone;
	char cdev[PATH_MAX];
	struct bound b;
	int kmsg;

	if (bind_vfio(_metadata, self->solo.bdf, cdev))
		VM_SKIP(return, NO_CDEV, self->solo.bdf);
	src = alloc_pages(_metadata, 3);
	dst = src + page_size;
	gone = src + 2 * page_size;

	bind_attach(_metadata, cdev, &b);
	map_fixed(_metadata, b.iommufd, b.ioas, src, page_size, IOVA_SRC);
	map_fixed(_metadata, b.iommufd, b.ioas, dst, page_size, IOVA_DST);
	map_fixed(_metadata, b.iommufd, b.ioas, gone, page_size, IOVA_GONE);
	unmap_fixed(_metadata, b.iommufd, b.ioas, page_size, IOVA_GONE);
	fill(src, 1);
	fill(gone, 2);
	kmsg = kmsg_open();
	ASSERT_LE(0, kmsg);

	/* Reads: what was at IOVA_GONE never reaches the device. */
	read_refused(_metadata, &b.edu, kmsg, IOVA_GONE, dst);
	read_refused(_metadata, &b.edu, kmsg, IOVA_NEVER, dst);

	/* Writes: the buffer that was at IOVA_GONE stays as it was. */
	to_device(_metadata, &b.edu, IOVA_SRC);
	to_ram(_metadata, &b.edu, IOVA_GONE);
	expect_dmar_fault(_metadata, kmsg, IOVA_GONE);
	ASSERT_TRUE(holds(gone, 2));
	memset(dst, 0, page_size);
	to_ram(_metadata, &b.edu, IOVA_NEVER);
	expect_dmar_fault(_metadata, kmsg, IOVA_NEVER);
	ASSERT_TRUE(holds(gone, 2));
	ASSERT_TRUE(holds(src, 1));
	ASSERT_TRUE(zeroed(dst));

	/* The faults did not stop the device. */
	to_ram(_metadata, &b.edu, IOVA_DST);
	ASSERT_TRUE(holds(dst, 1));
}

TEST_F_TIMEOUT(vfio_edu, replace, VFIO_TIMEOUT)
{
	char *src1, *src2, *dst1, *dst2;
	char cdev[PATH_MAX];
	__u32 ioas2, hwpt;
	struct bound b;

	if (bind_vfio(_metadata, self->solo.bdf, cdev))
		VM_SKIP(return, NO_CDEV, self->solo.bdf);
	src1 = alloc_pages(_metadata, 4);
	src2 = src1 + page_size;
	dst1 = src1 + 2 * page_size;
	dst2 = src1 + 3 * page_size;

	/* The same IOVAs lead to other pages in each IOAS. */
	bind_attach(_metadata, cdev, &b);
	ASSERT_OK(_test_ioctl_ioas_alloc(b.iommufd, &ioas2));
	map_fixed(_metadata, b.iommufd, b.ioas, src1, page_size, IOVA_SRC);
	map_fixed(_metadata, b.iommufd, b.ioas, dst1, page_size, IOVA_DST);
	map_fixed(_metadata, b.iommufd, ioas2, src2, page_size, IOVA_SRC);
	map_fixed(_metadata, b.iommufd, ioas2, dst2, page_size, IOVA_DST);
	fill(src1, 1);
	fill(src2, 2);
	memset(dst1, 0, page_size);
	memset(dst2, 0, page_size);

	to_device(_metadata, &b.edu, IOVA_SRC);
	to_ram(_metadata, &b.edu, IOVA_DST);
	ASSERT_TRUE(holds(dst1, 1));
	ASSERT_TRUE(zeroed(dst2));

	/* A second ATTACH, no DETACH before it. */
	hwpt = ioas2;
	ASSERT_OK(vfio_device_attach(b.fd, &hwpt));
	ASSERT_NE(ioas2, hwpt);
	ASSERT_NE(b.hwpt, hwpt);
	to_device(_metadata, &b.edu, IOVA_SRC);
	to_ram(_metadata, &b.edu, IOVA_DST);
	ASSERT_TRUE(holds(dst2, 2));
	ASSERT_TRUE(holds(dst1, 1));

	/* And back. */
	fill(src1, 3);
	hwpt = b.ioas;
	ASSERT_OK(vfio_device_attach(b.fd, &hwpt));
	ASSERT_NE(b.ioas, hwpt);
	to_device(_metadata, &b.edu, IOVA_SRC);
	to_ram(_metadata, &b.edu, IOVA_DST);
	ASSERT_TRUE(holds(dst1, 3));
	ASSERT_TRUE(holds(dst2, 2));
}

TEST_F_TIMEOUT(vfio_edu, detach, VFIO_TIMEOUT)
{
	char cdev[PATH_MAX];
	char *src, *dst;
	struct bound b;
	__u32 hwpt;

	if (bind_vfio(_metadata, self->solo.bdf, cdev))
		VM_SKIP(return, NO_CDEV, self->solo.bdf);
	src = alloc_pages(_metadata, 2);
	dst = src + page_size;

	bind_attach(_metadata, cdev, &b);
	map_fixed(_metadata, b.iommufd, b.ioas, src, page_size, IOVA_SRC);
	map_fixed(_metadata, b.iommufd, b.ioas, dst, page_size, IOVA_DST);
	fill(src, 1);
	memset(dst, 0, page_size);
	to_device(_metadata, &b.edu, IOVA_SRC);
	to_ram(_metadata, &b.edu, IOVA_DST);
	ASSERT_TRUE(holds(dst, 1));

	/* Detached, the device reaches no memory, mapped or not. */
	ASSERT_OK(vfio_device_detach(b.fd));
	fill(src, 2);
	memset(dst, 0, page_size);
	to_device(_metadata, &b.edu, IOVA_SRC);
	to_ram(_metadata, &b.edu, IOVA_DST);
	ASSERT_TRUE(zeroed(dst));

	/* Attached again, it does; and it had not read pattern 2. */
	hwpt = b.ioas;
	ASSERT_OK(vfio_device_attach(b.fd, &hwpt));
	ASSERT_NE(b.ioas, hwpt);
	to_ram(_metadata, &b.edu, IOVA_DST);
	expect_refused_read(_metadata, dst, 1);
	to_device(_metadata, &b.edu, IOVA_SRC);
	to_ram(_metadata, &b.edu, IOVA_DST);
	ASSERT_TRUE(holds(dst, 2));
}

TEST_F_TIMEOUT(vfio_edu, group_owned_by_kernel_driver, VFIO_TIMEOUT)
{
	struct vfio_device_info info = { .argsz = sizeof(info) };
	const char *edu = self->shared.bdf;
	const char *rng = self->rng.bdf;
	char cdev[PATH_MAX];
	char line[512];
	int iommufd, fd;
	int kmsg;
	int rc, err;

	if (!edu[0])
		VM_SKIP(return, "no edu that shares its group with a virtio-rng");
	if (strcmp(self->rng.driver, "virtio-pci"))
		VM_SKIP(return, "%s is not bound to virtio-pci", rng);

	/* vfio-pci may take the edu: it owns nothing until a bind. */
	if (bind_vfio(_metadata, edu, cdev))
		VM_SKIP(return, NO_CDEV, edu);
	iommufd = open("/dev/iommu", O_RDWR);
	ASSERT_LE(0, iommufd);
	fd = open(cdev, O_RDWR);
	ASSERT_LE(0, fd);
	kmsg = kmsg_open();
	ASSERT_LE(0, kmsg);

	/* A kernel driver drives the rng: its group is not the user's. */
	rc = vfio_device_bind_iommufd(fd, iommufd, NULL);
	err = errno;
	ASSERT_EQ(-1, rc);
	TH_LOG("BIND of %s while %s is on virtio-pci: %s", edu, rng,
	       errno_name(err));
	ASSERT_EQ(EPERM, err);
	/* The kernel says which device and driver are in the way. */
	ASSERT_OK(kmsg_wait(kmsg, "cannot own the DMA of IOMMU group", rng,
			    2000, line, sizeof(line)));
	TH_LOG("kernel: %s", line);
	ASSERT_NE(NULL, strstr(line, edu));
	ASSERT_NE(NULL, strstr(line, "virtio-pci"));
	EXPECT_ERRNO(EINVAL, ioctl(fd, VFIO_DEVICE_GET_INFO, &info));
	/* And the context keeps the reason for its fdinfo. */
	{
		char *text = fdinfo_read(iommufd);
		const char *r = text ? fdinfo_field(text, "last-refusal:\t") :
				       NULL;

		ASSERT_NE(NULL, r);
		TH_LOG("last-refusal: %.*s", (int)strcspn(r, "\n"), r);
		EXPECT_EQ(0, strncmp(r, "device bind -EPERM IOMMU group ", 31));
		EXPECT_NE(NULL, strstr(r, rng));
		EXPECT_NE(NULL, strstr(r, "kernel driver virtio-pci"));
		free(text);
	}

	/* Without the driver, the same file binds. */
	ASSERT_OK(pci_unbind(rng));
	ASSERT_OK(vfio_device_bind_iommufd(fd, iommufd, NULL));

	/* Now no kernel driver may take the rng. */
	rc = pci_bind(rng, "virtio-pci");
	if (rc)
		TH_LOG("binding %s to virtio-pci: %s", rng, strerror(errno));
	ASSERT_EQ(-1, rc);
	ASSERT_EQ(0, pci_has_driver(rng, "virtio-pci"));

	/* Closing the device file gives the group back to the kernel. */
	ASSERT_OK(close(fd));
	ASSERT_OK(pci_bind(rng, "virtio-pci"));
	ASSERT_EQ(1, pci_has_driver(rng, "virtio-pci"));
}

TEST_F_TIMEOUT(vfio_edu, group_owned_by_one_context, VFIO_TIMEOUT)
{
	const char *edu = self->shared.bdf;
	const char *rng = self->rng.bdf;
	char edu_cdev[PATH_MAX];
	char rng_cdev[PATH_MAX];
	__u32 edu_id, rng_id;
	int edu_fd, rng_fd;
	int ctx_a, ctx_b;
	int rc, err;

	if (!edu[0])
		VM_SKIP(return, "no edu that shares its group with a virtio-rng");

	ASSERT_OK(pci_unbind(rng));
	if (bind_vfio(_metadata, edu, edu_cdev))
		VM_SKIP(return, NO_CDEV, edu);
	ASSERT_OK(pci_bind_vfio(rng));
	ASSERT_OK(vfio_cdev_path(rng, rng_cdev, sizeof(rng_cdev)));

	ctx_a = open("/dev/iommu", O_RDWR);
	ASSERT_LE(0, ctx_a);
	ctx_b = open("/dev/iommu", O_RDWR);
	ASSERT_LE(0, ctx_b);
	edu_fd = open(edu_cdev, O_RDWR);
	ASSERT_LE(0, edu_fd);
	rng_fd = open(rng_cdev, O_RDWR);
	ASSERT_LE(0, rng_fd);

	ASSERT_OK(vfio_device_bind_iommufd(edu_fd, ctx_a, &edu_id));
	/* Another context may not have a device of the same group... */
	rc = vfio_device_bind_iommufd(rng_fd, ctx_b, NULL);
	err = errno;
	ASSERT_EQ(-1, rc);
	TH_LOG("BIND of %s to a second context: %s", rng, errno_name(err));
	ASSERT_EQ(EPERM, err);
	EXPECT_TRUE(fdinfo_has(ctx_b, "last-refusal:\t",
			       "device bind -EPERM IOMMU group %d: another user",
			       pci_iommu_group(rng)));
	/* ...the same one may. */
	ASSERT_OK(vfio_device_bind_iommufd(rng_fd, ctx_a, &rng_id));
	ASSERT_NE(edu_id, rng_id);
}

/*
 * The shared group's edu and rng, both given to vfio-pci and opened
 * through their cdevs; the rng's driver comes back in the teardown.
 */
static void open_shared_group(struct __test_metadata *_metadata,
			      FIXTURE_DATA(vfio_edu) * self, int *edu_fd,
			      int *rng_fd)
{
	char edu_cdev[PATH_MAX];
	char rng_cdev[PATH_MAX];

	ASSERT_OK(pci_unbind(self->rng.bdf));
	ASSERT_OK(bind_vfio(_metadata, self->shared.bdf, edu_cdev));
	ASSERT_OK(pci_bind_vfio(self->rng.bdf));
	ASSERT_OK(vfio_cdev_path(self->rng.bdf, rng_cdev, sizeof(rng_cdev)));
	*edu_fd = open(edu_cdev, O_RDWR);
	ASSERT_LE(0, *edu_fd);
	*rng_fd = open(rng_cdev, O_RDWR);
	ASSERT_LE(0, *rng_fd);
}

/*
 * One IOMMU group, one domain: the devices of a group bound to a context
 * attach to the same HWPT, and a replacement moves them all.
 */
TEST_F_TIMEOUT(vfio_edu, group_devices_share_hwpt, VFIO_TIMEOUT)
{
	__u32 ioas1, ioas2, hwpt1, hwpt2, pt;
	int edu_fd, rng_fd, iommufd;

	if (!self->shared.bdf[0])
		VM_SKIP(return, "no edu that shares its group with a virtio-rng");
	open_shared_group(_metadata, self, &edu_fd, &rng_fd);
	iommufd = open("/dev/iommu", O_RDWR);
	ASSERT_LE(0, iommufd);
	ASSERT_OK(vfio_device_bind_iommufd(edu_fd, iommufd, NULL));
	ASSERT_OK(vfio_device_bind_iommufd(rng_fd, iommufd, NULL));
	ASSERT_OK(_test_ioctl_ioas_alloc(iommufd, &ioas1));
	ASSERT_OK(_test_ioctl_ioas_alloc(iommufd, &ioas2));

	hwpt1 = ioas1;
	ASSERT_OK(vfio_device_attach(edu_fd, &hwpt1));
	/* The group is on hwpt1: its other device cannot pick another. */
	pt = ioas2;
	EXPECT_ERRNO(EINVAL, vfio_device_attach(rng_fd, &pt));
	pt = ioas1;
	ASSERT_OK(vfio_device_attach(rng_fd, &pt));
	ASSERT_EQ(hwpt1, pt);

	/* Replacing through one device moves the group. */
	hwpt2 = ioas2;
	ASSERT_OK(vfio_device_attach(edu_fd, &hwpt2));
	ASSERT_NE(hwpt1, hwpt2);
	pt = ioas2;
	ASSERT_OK(vfio_device_attach(rng_fd, &pt));
	ASSERT_EQ(hwpt2, pt);
	/* hwpt1 lost its devices, and went with them. */
	EXPECT_ERRNO(ENOENT, _test_ioctl_destroy(iommufd, hwpt1));
	EXPECT_ERRNO(EBUSY, _test_ioctl_destroy(iommufd, hwpt2));

	/* The group stays on hwpt2 until its last device leaves. */
	ASSERT_OK(vfio_device_detach(edu_fd));
	EXPECT_ERRNO(EBUSY, _test_ioctl_destroy(iommufd, hwpt2));
	ASSERT_OK(vfio_device_detach(rng_fd));
	EXPECT_ERRNO(ENOENT, _test_ioctl_destroy(iommufd, hwpt2));
}

/* VFIO_DEVICE_GET_PCI_HOT_RESET_INFO into info, for up to 4 devices. */
struct reset_info {
	struct vfio_pci_hot_reset_info hdr;
	struct vfio_pci_dependent_device devices[4];
};

static int hot_reset_info(int fd, struct reset_info *info)
{
	memset(info, 0xff, sizeof(*info));
	info->hdr.argsz = sizeof(*info);
	return ioctl(fd, VFIO_DEVICE_GET_PCI_HOT_RESET_INFO, info);
}

static int hot_reset(int fd, __u32 count, int group_fd)
{
	struct {
		struct vfio_pci_hot_reset hdr;
		__s32 fds[1];
	} reset = {
		.hdr = { .argsz = sizeof(reset), .count = count },
		.fds = { group_fd },
	};

	return ioctl(fd, VFIO_DEVICE_PCI_HOT_RESET, &reset);
}

/* The devfn in a BDF "dddd:bb:ss.f". */
static unsigned int edu_devfn(const char *bdf)
{
	unsigned int dom, bus, slot, fn;

	if (sscanf(bdf, "%x:%x:%x.%x", &dom, &bus, &slot, &fn) != 4)
		return ~0U;
	return slot << 3 | fn;
}

/*
 * A bus reset of a cdev-bound device: its iommufd context proves that
 * the caller owns every device on the bus, with no group files.
 */
TEST_F_TIMEOUT(vfio_edu, hot_reset_cdev, VFIO_TIMEOUT)
{
	int edu_fd, rng_fd, iommufd, other;
	struct reset_info info;
	__u32 edu_id, rng_id;
	struct edu edu;
	unsigned int i;
	int rc;

	if (!self->shared.bdf[0])
		VM_SKIP(return, "no edu that shares its group with a virtio-rng");
	open_shared_group(_metadata, self, &edu_fd, &rng_fd);
	iommufd = open("/dev/iommu", O_RDWR);
	ASSERT_LE(0, iommufd);
	other = open("/dev/iommu", O_RDWR);
	ASSERT_LE(0, other);

	/* Not bound: not even a hot reset. */
	EXPECT_ERRNO(EINVAL, hot_reset(edu_fd, 0, -1));
	ASSERT_OK(vfio_device_bind_iommufd(edu_fd, iommufd, &edu_id));

	/*
	 * The affected devices by devid: the edu's own ID, and the rng,
	 * not bound but in the group the context owns, as OWNED.
	 */
	rc = hot_reset_info(edu_fd, &info);
	if (rc && errno == ENODEV)
		VM_SKIP(return, "%s cannot be reset by slot or bus",
			self->shared.bdf);
	ASSERT_OK(rc);
	ASSERT_EQ(VFIO_PCI_HOT_RESET_FLAG_DEV_ID |
			  VFIO_PCI_HOT_RESET_FLAG_DEV_ID_OWNED,
		  info.hdr.flags);
	ASSERT_EQ(2, info.hdr.count);
	for (i = 0; i != 2; i++) {
		__u32 want = VFIO_PCI_DEVID_OWNED;

		if (info.devices[i].devfn == edu_devfn(self->shared.bdf))
			want = edu_id;
		ASSERT_EQ(want, info.devices[i].devid);
	}
	/* Too small a buffer: ENOSPC, and how many there are. */
	info.hdr.argsz = sizeof(info.hdr);
	EXPECT_ERRNO(ENOSPC, ioctl(edu_fd, VFIO_DEVICE_GET_PCI_HOT_RESET_INFO,
				   &info));
	ASSERT_EQ(2, info.hdr.count);
	ASSERT_EQ(VFIO_PCI_HOT_RESET_FLAG_DEV_ID, info.hdr.flags);

	/* Group files are no proof for a cdev-bound device. */
	EXPECT_ERRNO(EINVAL, hot_reset(edu_fd, 1, iommufd));

	/*
	 * The context owns the group, so both devices on the bus are its
	 * (the rng is bound to vfio-pci, opened but not bound).
	 */
	rc = hot_reset(edu_fd, 0, -1);
	if (rc && errno == ENODEV)
		VM_SKIP(return, "%s cannot be reset by slot or bus",
			self->shared.bdf);
	ASSERT_OK(rc);
	ASSERT_OK(edu_init(&edu, edu_fd));

	/* The rng cannot go to another context meanwhile. */
	EXPECT_NE(0, vfio_device_bind_iommufd(rng_fd, other, NULL));
	ASSERT_OK(vfio_device_bind_iommufd(rng_fd, iommufd, &rng_id));
	ASSERT_OK(hot_reset_info(rng_fd, &info));
	ASSERT_EQ(2, info.hdr.count);
	for (i = 0; i != 2; i++)
		ASSERT_TRUE(info.devices[i].devid == edu_id ||
			    info.devices[i].devid == rng_id);
	ASSERT_NE(info.devices[0].devid, info.devices[1].devid);
	ASSERT_OK(hot_reset(rng_fd, 0, -1));
	ASSERT_OK(edu_init(&edu, edu_fd));
}

TEST_F_TIMEOUT(vfio_edu, group_file_excludes_cdev, VFIO_TIMEOUT)
{
	char cdev[PATH_MAX];
	char group[64];
	int iommufd, fd;
	int group_fd;
	int n;

	if (bind_vfio(_metadata, self->solo.bdf, cdev))
		VM_SKIP(return, NO_CDEV, self->solo.bdf);
	n = pci_iommu_group(self->solo.bdf);
	ASSERT_LE(0, n);
	snprintf(group, sizeof(group), "/dev/vfio/%d", n);
	iommufd = open("/dev/iommu", O_RDWR);
	ASSERT_LE(0, iommufd);

	/* The group file open: the cdev may open, but not bind. */
	group_fd = open(group, O_RDWR);
	ASSERT_LE(0, group_fd);
	fd = open(cdev, O_RDWR);
	ASSERT_LE(0, fd);
	EXPECT_ERRNO(EBUSY, vfio_device_bind_iommufd(fd, iommufd, NULL));
	ASSERT_OK(close(group_fd));
	ASSERT_OK(vfio_device_bind_iommufd(fd, iommufd, NULL));

	/* The cdev bound: the group file does not open. */
	EXPECT_ERRNO(EBUSY, open(group, O_RDWR));
	ASSERT_OK(close(fd));
	group_fd = open(group, O_RDWR);
	ASSERT_LE(0, group_fd);
}

TEST_F_TIMEOUT(vfio_edu, bad_input, VFIO_TIMEOUT)
{
	struct vfio_device_bind_iommufd bind = { .argsz = sizeof(bind) };
	struct vfio_device_attach_iommufd_pt attach = {
		.argsz = sizeof(attach),
	};
	struct vfio_device_detach_iommufd_pt detach = {
		.argsz = sizeof(detach),
	};
	struct vfio_device_info info = { .argsz = sizeof(info) };
	char cdev[PATH_MAX];
	int iommufd, fd, fd2;
	__u32 devid, ioas;
	int not_open;
	int stat_fd;
	__u32 hwpt;
	__u32 val;
	int rc, err;

	if (bind_vfio(_metadata, self->solo.bdf, cdev))
		VM_SKIP(return, NO_CDEV, self->solo.bdf);
	iommufd = open("/dev/iommu", O_RDWR);
	ASSERT_LE(0, iommufd);
	ASSERT_OK(_test_ioctl_ioas_alloc(iommufd, &ioas));
	fd = open(cdev, O_RDWR);
	ASSERT_LE(0, fd);
	stat_fd = open("/proc/self/stat", O_RDONLY);
	ASSERT_LE(0, stat_fd);
	not_open = dup(stat_fd);
	ASSERT_LE(0, not_open);
	ASSERT_OK(close(not_open));

	/* Before BIND: nothing else. */
	EXPECT_ERRNO(EINVAL, ioctl(fd, VFIO_DEVICE_GET_INFO, &info));
	EXPECT_ERRNO(EINVAL, pread(fd, &val, sizeof(val), 0));
	attach.pt_id = ioas;
	EXPECT_ERRNO(EINVAL, ioctl(fd, VFIO_DEVICE_ATTACH_IOMMUFD_PT, &attach));
	EXPECT_ERRNO(EINVAL, ioctl(fd, VFIO_DEVICE_DETACH_IOMMUFD_PT, &detach));
	rc = ioctl(fd, VFIO_UNKNOWN_IOCTL);
	TH_LOG("an unknown ioctl before BIND: %s",
	       rc ? strerror(errno) : "accepted");

	/* BIND */
	bind.iommufd = iommufd;
	/* Each struct ends with the field its ioctl needs last. */
	bind.argsz = sizeof(bind) - 1;
	EXPECT_ERRNO(EINVAL, ioctl(fd, VFIO_DEVICE_BIND_IOMMUFD, &bind));
	bind.argsz = 0;
	EXPECT_ERRNO(EINVAL, ioctl(fd, VFIO_DEVICE_BIND_IOMMUFD, &bind));
	bind.argsz = sizeof(bind);
	bind.flags = 1;
	EXPECT_ERRNO(EINVAL, ioctl(fd, VFIO_DEVICE_BIND_IOMMUFD, &bind));
	bind.flags = 0;
	/* A negative number is refused as such, before any lookup. */
	bind.iommufd = -1;
	EXPECT_ERRNO(EINVAL, ioctl(fd, VFIO_DEVICE_BIND_IOMMUFD, &bind));
	bind.iommufd = not_open;
	EXPECT_ERRNO(EBADF, ioctl(fd, VFIO_DEVICE_BIND_IOMMUFD, &bind));
	bind.iommufd = stat_fd;
	EXPECT_ERRNO(EBADFD, ioctl(fd, VFIO_DEVICE_BIND_IOMMUFD, &bind));
	bind.iommufd = fd;
	EXPECT_ERRNO(EBADFD, ioctl(fd, VFIO_DEVICE_BIND_IOMMUFD, &bind));
	/* None of them bound the device. */
	EXPECT_ERRNO(EINVAL, ioctl(fd, VFIO_DEVICE_GET_INFO, &info));

	bind.iommufd = iommufd;
	ASSERT_OK(ioctl(fd, VFIO_DEVICE_BIND_IOMMUFD, &bind));
	devid = bind.out_devid;
	ASSERT_NE(0, devid);
	/* Once per file. */
	EXPECT_ERRNO(EINVAL, ioctl(fd, VFIO_DEVICE_BIND_IOMMUFD, &bind));
	rc = ioctl(fd, VFIO_UNKNOWN_IOCTL);
	TH_LOG("an unknown ioctl after BIND: %s",
	       rc ? strerror(errno) : "accepted");

	/* A second file of the device does not bind while the first is. */
	fd2 = open(cdev, O_RDWR);
	if (fd2 < 0) {
		TH_LOG("a second open of %s: %s", cdev, strerror(errno));
	} else {
		rc = vfio_device_bind_iommufd(fd2, iommufd, NULL);
		err = errno;
		ASSERT_EQ(-1, rc);
		TH_LOG("BIND of a second file of the device: %s",
		       errno_name(err));
		ASSERT_TRUE(err == EBUSY || err == EINVAL);
		EXPECT_ERRNO(EINVAL, ioctl(fd2, VFIO_DEVICE_GET_INFO, &info));
		ASSERT_OK(close(fd2));
	}

	/* ATTACH */
	attach.argsz = sizeof(attach) - 1;
	attach.pt_id = ioas;
	EXPECT_ERRNO(EINVAL, ioctl(fd, VFIO_DEVICE_ATTACH_IOMMUFD_PT, &attach));
	attach.argsz = sizeof(attach);
	attach.flags = 1;
	EXPECT_ERRNO(EINVAL, ioctl(fd, VFIO_DEVICE_ATTACH_IOMMUFD_PT, &attach));
	attach.flags = 0;
	attach.pt_id = devid + 1000;
	EXPECT_ERRNO(ENOENT, ioctl(fd, VFIO_DEVICE_ATTACH_IOMMUFD_PT, &attach));
	attach.pt_id = devid;
	EXPECT_ERRNO(EINVAL, ioctl(fd, VFIO_DEVICE_ATTACH_IOMMUFD_PT, &attach));
	/* Only the known part of a longer struct is read. */
	attach.argsz = sizeof(attach) + 8;
	attach.pt_id = ioas;
	ASSERT_OK(ioctl(fd, VFIO_DEVICE_ATTACH_IOMMUFD_PT, &attach));
	hwpt = attach.pt_id;
	ASSERT_NE(ioas, hwpt);
	/* The HWPT it is attached to, by its id: nothing changes. */
	attach.argsz = sizeof(attach);
	ASSERT_OK(vfio_device_attach(fd, &attach.pt_id));
	ASSERT_EQ(hwpt, attach.pt_id);

	/* DETACH */
	detach.argsz = sizeof(detach) - 1;
	EXPECT_ERRNO(EINVAL, ioctl(fd, VFIO_DEVICE_DETACH_IOMMUFD_PT, &detach));
	detach.argsz = sizeof(detach);
	detach.flags = 1;
	EXPECT_ERRNO(EINVAL, ioctl(fd, VFIO_DEVICE_DETACH_IOMMUFD_PT, &detach));
	detach.flags = 0;
	ASSERT_OK(ioctl(fd, VFIO_DEVICE_DETACH_IOMMUFD_PT, &detach));
	/* Detaching a detached device is no error. */
	ASSERT_OK(ioctl(fd, VFIO_DEVICE_DETACH_IOMMUFD_PT, &detach));
}

TEST_F_TIMEOUT(vfio_edu, close_order, VFIO_TIMEOUT)
{
	size_t length = 4 * page_size;
	char cdev[PATH_MAX];
	int iommufd, fd;
	__u64 unmapped;
	struct bound b;
	int device_first;
	long start;
	char *buf;

	if (bind_vfio(_metadata, self->solo.bdf, cdev))
		VM_SKIP(return, NO_CDEV, self->solo.bdf);
	buf = alloc_pages(_metadata, 4);
	start = test_vm_pin_kb();
	ASSERT_LE(0, start);

	for (device_first = 0; device_first != 2; device_first++) {
		bind_attach(_metadata, cdev, &b);
		map_fixed(_metadata, b.iommufd, b.ioas, buf, length, IOVA_SRC);
		ASSERT_EQ(start + (long)(length / 1024), test_vm_pin_kb());
		if (device_first) {
			ASSERT_OK(close(b.fd));
			ASSERT_OK(close(b.iommufd));
		} else {
			/* The bound device holds the context. */
			ASSERT_OK(close(b.iommufd));
			ASSERT_EQ(start + (long)(length / 1024),
				  test_vm_pin_kb());
			ASSERT_OK(close(b.fd));
		}
		ASSERT_EQ(start, test_vm_pin_kb());

		/* The device is free again: a new context binds it. */
		iommufd = open("/dev/iommu", O_RDWR);
		ASSERT_LE(0, iommufd);
		fd = open(cdev, O_RDWR);
		ASSERT_LE(0, fd);
		ASSERT_OK(vfio_device_bind_iommufd(fd, iommufd, NULL));
		ASSERT_OK(close(fd));
		ASSERT_OK(close(iommufd));
	}

	/* The IOAS and its maps outlive the device. */
	bind_attach(_metadata, cdev, &b);
	map_fixed(_metadata, b.iommufd, b.ioas, buf, length / 2, IOVA_SRC);
	map_fixed(_metadata, b.iommufd, b.ioas, buf + length / 2, length / 2,
		  IOVA_DST);
	ASSERT_OK(close(b.fd));
	ASSERT_EQ(start, test_vm_pin_kb());
	ASSERT_OK(_test_ioctl_ioas_unmap(b.iommufd, b.ioas, 0, UINT64_MAX,
					 &unmapped));
	ASSERT_EQ(length, unmapped);
	ASSERT_OK(_test_ioctl_destroy(b.iommufd, b.ioas));
}

TEST_F_TIMEOUT(vfio_edu, legacy_container, VFIO_TIMEOUT)
{
	struct vfio_group_status status = { .argsz = sizeof(status) };
	struct vfio_iommu_type1_dma_map map = {
		.argsz = sizeof(map),
		.flags = VFIO_DMA_MAP_FLAG_READ | VFIO_DMA_MAP_FLAG_WRITE,
		.size = page_size,
	};
	struct vfio_device_bind_iommufd bind = { .argsz = sizeof(bind) };
	struct vfio_device_attach_iommufd_pt attach = {
		.argsz = sizeof(attach),
	};
	struct vfio_device_detach_iommufd_pt detach = {
		.argsz = sizeof(detach),
	};
	int container, group, fd;
	char cdev[PATH_MAX];
	int iommufd, cdev_fd;
	char group_path[64];
	char *src, *dst;
	struct edu edu;
	bool has_cdev;

	has_cdev = !bind_vfio(_metadata, self->solo.bdf, cdev);
	src = alloc_pages(_metadata, 2);
	dst = src + page_size;
	snprintf(group_path, sizeof(group_path), "/dev/vfio/%d",
		 pci_iommu_group(self->solo.bdf));

	container = open("/dev/vfio/vfio", O_RDWR);
	ASSERT_LE(0, container);
	ASSERT_EQ(VFIO_API_VERSION, ioctl(container, VFIO_GET_API_VERSION));
	ASSERT_EQ(1, ioctl(container, VFIO_CHECK_EXTENSION,
			   VFIO_TYPE1v2_IOMMU));
	group = open(group_path, O_RDWR);
	ASSERT_LE(0, group);
	ASSERT_OK(ioctl(group, VFIO_GROUP_GET_STATUS, &status));
	ASSERT_TRUE(status.flags & VFIO_GROUP_FLAGS_VIABLE);
	ASSERT_OK(ioctl(group, VFIO_GROUP_SET_CONTAINER, &container));
	ASSERT_OK(ioctl(container, VFIO_SET_IOMMU, VFIO_TYPE1v2_IOMMU));
	map.vaddr = (uintptr_t)src;
	map.iova = IOVA_SRC;
	ASSERT_OK(ioctl(container, VFIO_IOMMU_MAP_DMA, &map));
	map.vaddr = (uintptr_t)dst;
	map.iova = IOVA_DST;
	ASSERT_OK(ioctl(container, VFIO_IOMMU_MAP_DMA, &map));

	fd = ioctl(group, VFIO_GROUP_GET_DEVICE_FD, self->solo.bdf);
	ASSERT_LE(0, fd);
	ASSERT_OK(edu_init(&edu, fd));
	fill(src, 5);
	memset(dst, 0, page_size);
	to_device(_metadata, &edu, IOVA_SRC);
	to_ram(_metadata, &edu, IOVA_DST);
	ASSERT_TRUE(holds(dst, 5));

	/*
	 * The cdev ioctls are for cdev files only: BIND is refused, ATTACH
	 * and DETACH go to vfio-pci, which knows neither.
	 */
	iommufd = open("/dev/iommu", O_RDWR);
	ASSERT_LE(0, iommufd);
	bind.iommufd = iommufd;
	EXPECT_ERRNO(EINVAL, ioctl(fd, VFIO_DEVICE_BIND_IOMMUFD, &bind));
	EXPECT_ERRNO(ENOTTY, ioctl(fd, VFIO_DEVICE_ATTACH_IOMMUFD_PT, &attach));
	EXPECT_ERRNO(ENOTTY, ioctl(fd, VFIO_DEVICE_DETACH_IOMMUFD_PT, &detach));

	if (!has_cdev) {
		TH_LOG(NO_CDEV, self->solo.bdf);
		return;
	}
	/* The group is in use: its devices' cdevs do not bind. */
	cdev_fd = open(cdev, O_RDWR);
	ASSERT_LE(0, cdev_fd);
	EXPECT_ERRNO(EBUSY, vfio_device_bind_iommufd(cdev_fd, iommufd, NULL));
}

/* Bind the device at @bdf to vfio-pci and open its group's file. */
static int open_vfio_group(struct __test_metadata *_metadata, const char *bdf)
{
	char cdev[PATH_MAX];
	char group_path[64];
	int group;

	bind_vfio(_metadata, bdf, cdev);
	snprintf(group_path, sizeof(group_path), "/dev/vfio/%d",
		 pci_iommu_group(bdf));
	group = open(group_path, O_RDWR);
	ASSERT_LE(0, group);
	return group;
}

/* A type1 container's map and unmap, over and over, until told to stop. */
struct container_churn {
	int container;
	__u64 vaddr;
	bool stop;
};

static void *container_churn_fn(void *arg)
{
	struct container_churn *churn = arg;
	struct vfio_iommu_type1_dma_map map = {
		.argsz = sizeof(map),
		.flags = VFIO_DMA_MAP_FLAG_READ | VFIO_DMA_MAP_FLAG_WRITE,
		.vaddr = churn->vaddr,
		.iova = IOVA_SRC,
		.size = page_size,
	};
	struct vfio_iommu_type1_dma_unmap unmap = {
		.argsz = sizeof(unmap),
		.iova = IOVA_SRC,
		.size = page_size,
	};

	/* Failures are expected whenever no group holds the container. */
	while (!__atomic_load_n(&churn->stop, __ATOMIC_ACQUIRE)) {
		ioctl(churn->container, VFIO_IOMMU_MAP_DMA, &map);
		ioctl(churn->container, VFIO_IOMMU_UNMAP_DMA, &unmap);
	}
	return NULL;
}

/*
 * The last group leaving a type1 container frees the IOMMU driver's data
 * while another thread's MAP_DMA or UNMAP_DMA on the container may be
 * using it (syzkaller found the use-after-free). Race the two; the console
 * oracle fails the test on any report.
 */
TEST_F_TIMEOUT(vfio_edu, legacy_container_unset_race, VFIO_TIMEOUT)
{
	struct container_churn churn = {};
	pthread_t thread;
	int group, i;

	group = open_vfio_group(_metadata, self->solo.bdf);
	churn.vaddr = (uintptr_t)alloc_pages(_metadata, 1);
	churn.container = open("/dev/vfio/vfio", O_RDWR);
	ASSERT_LE(0, churn.container);
	ASSERT_OK(pthread_create(&thread, NULL, container_churn_fn, &churn));
	for (i = 0; i != 300; i++) {
		ASSERT_OK(ioctl(group, VFIO_GROUP_SET_CONTAINER,
				&churn.container));
		ASSERT_OK(ioctl(churn.container, VFIO_SET_IOMMU,
				VFIO_TYPE1v2_IOMMU));
		ASSERT_OK(ioctl(group, VFIO_GROUP_UNSET_CONTAINER));
	}
	__atomic_store_n(&churn.stop, true, __ATOMIC_RELEASE);
	ASSERT_OK(pthread_join(thread, NULL));
	ASSERT_OK(close(group));
	ASSERT_OK(close(churn.container));
}

/* Closes the container file it is given, each time it is told to. */
struct container_closer {
	pthread_barrier_t go;
	pthread_barrier_t done;
	int container;
	bool stop;
};

static void *container_closer_fn(void *arg)
{
	struct container_closer *c = arg;

	for (;;) {
		pthread_barrier_wait(&c->go);
		if (__atomic_load_n(&c->stop, __ATOMIC_ACQUIRE))
			return NULL;
		close(c->container);
		pthread_barrier_wait(&c->done);
	}
}

/*
 * The groups keep a container after its file is closed: the close tells
 * the IOMMU driver (type1's notify()) while the last group leaving may be
 * freeing the driver's data. Race the close with the unset, each round
 * with a new container; the console oracle fails the test on any report.
 */
TEST_F_TIMEOUT(vfio_edu, legacy_container_close_race, VFIO_TIMEOUT)
{
	struct container_closer closer = {};
	pthread_t thread;
	int group, i;

	group = open_vfio_group(_metadata, self->solo.bdf);
	ASSERT_OK(pthread_barrier_init(&closer.go, NULL, 2));
	ASSERT_OK(pthread_barrier_init(&closer.done, NULL, 2));
	ASSERT_OK(pthread_create(&thread, NULL, container_closer_fn, &closer));
	for (i = 0; i != 300; i++) {
		closer.container = open("/dev/vfio/vfio", O_RDWR);
		ASSERT_LE(0, closer.container);
		ASSERT_OK(ioctl(group, VFIO_GROUP_SET_CONTAINER,
				&closer.container));
		ASSERT_OK(ioctl(closer.container, VFIO_SET_IOMMU,
				VFIO_TYPE1v2_IOMMU));
		pthread_barrier_wait(&closer.go);
		ASSERT_OK(ioctl(group, VFIO_GROUP_UNSET_CONTAINER));
		pthread_barrier_wait(&closer.done);
	}
	__atomic_store_n(&closer.stop, true, __ATOMIC_RELEASE);
	pthread_barrier_wait(&closer.go);
	ASSERT_OK(pthread_join(thread, NULL));
	/* The group is free again: it joins a new container. */
	closer.container = open("/dev/vfio/vfio", O_RDWR);
	ASSERT_LE(0, closer.container);
	ASSERT_OK(ioctl(group, VFIO_GROUP_SET_CONTAINER, &closer.container));
	ASSERT_OK(ioctl(group, VFIO_GROUP_UNSET_CONTAINER));
	ASSERT_OK(close(closer.container));
	ASSERT_OK(close(group));
}

/* The MSI doorbell window of x86: IOVA no device may be given. */
#define MSI_START 0xfee00000ULL
#define MSI_LAST 0xfeefffffULL

/* Whether IOMMU_IOAS_IOVA_RANGES of ioas leaves out [start, last]. */
static bool iova_hole(struct __test_metadata *_metadata, int iommufd,
		      __u32 ioas, __u64 start, __u64 last)
{
	struct iommu_iova_range ranges[16];
	struct iommu_ioas_iova_ranges cmd = {
		.size = sizeof(cmd),
		.ioas_id = ioas,
		.num_iovas = 16,
		.allowed_iovas = (uintptr_t)ranges,
	};
	__u32 i;

	if (ioctl(iommufd, IOMMU_IOAS_IOVA_RANGES, &cmd))
		return false;
	for (i = 0; i != cmd.num_iovas; i++)
		if (ranges[i].start <= last && ranges[i].last >= start)
			return false;
	return true;
}

/*
 * A real device's IOMMU reserves IOVA (the MSI window): attaching keeps it
 * out of the IOAS, and is refused while the IOAS maps it. Also what the
 * IOMMU reports of itself, and a HWPT userspace makes for the device.
 */
TEST_F_TIMEOUT(vfio_edu, reserved_iova_hw_info_hwpt, VFIO_TIMEOUT)
{
	struct iommu_hw_info_vtd vtd = {};
	struct iommu_hw_info info = {
		.size = sizeof(info),
		.data_len = sizeof(vtd),
		.data_uptr = (uintptr_t)&vtd,
	};
	char cdev[PATH_MAX];
	struct bound b;
	__u32 ioas2, hwpt, out;
	__u64 iova;
	char *buf;

	if (bind_vfio(_metadata, self->solo.bdf, cdev))
		VM_SKIP(return, NO_CDEV, self->solo.bdf);
	buf = alloc_pages(_metadata, 2);
	bind_attach(_metadata, cdev, &b);

	/* Attached: the window is a hole, and cannot be mapped. */
	ASSERT_TRUE(iova_hole(_metadata, b.iommufd, b.ioas, MSI_START,
			      MSI_LAST));
	iova = MSI_START;
	EXPECT_ERRNO(EINVAL,
		     _test_ioctl_ioas_map(b.iommufd, b.ioas, buf, page_size,
					  &iova, IOMMU_IOAS_MAP_FIXED_IOVA |
							 TEST_MAP_RW));

	/* Detached, the window is IOVA like any other. */
	ASSERT_OK(vfio_device_detach(b.fd));
	ASSERT_FALSE(iova_hole(_metadata, b.iommufd, b.ioas, MSI_START,
			       MSI_LAST));
	map_fixed(_metadata, b.iommufd, b.ioas, buf, page_size, MSI_START);
	out = b.ioas;
	EXPECT_ERRNO(EADDRINUSE, vfio_device_attach(b.fd, &out));
	unmap_fixed(_metadata, b.iommufd, b.ioas, page_size, MSI_START);
	out = b.ioas;
	ASSERT_OK(vfio_device_attach(b.fd, &out));

	/* Replacing to an IOAS that maps the window is refused too. */
	ASSERT_OK(_test_ioctl_ioas_alloc(b.iommufd, &ioas2));
	map_fixed(_metadata, b.iommufd, ioas2, buf, page_size, MSI_START);
	out = ioas2;
	EXPECT_ERRNO(EADDRINUSE, vfio_device_attach(b.fd, &out));
	ASSERT_TRUE(iova_hole(_metadata, b.iommufd, b.ioas, MSI_START,
			      MSI_LAST));
	unmap_fixed(_metadata, b.iommufd, ioas2, page_size, MSI_START);

	/* VT-d describes itself; its capability registers are not empty. */
	info.dev_id = b.devid;
	ASSERT_OK(ioctl(b.iommufd, IOMMU_GET_HW_INFO, &info));
	ASSERT_EQ(IOMMU_HW_INFO_TYPE_INTEL_VTD, info.out_data_type);
	ASSERT_EQ(sizeof(vtd), info.data_len);
	ASSERT_NE(0, vtd.cap_reg);
	ASSERT_NE(0, vtd.ecap_reg);
	TH_LOG("VT-d cap 0x%llx ecap 0x%llx", (unsigned long long)vtd.cap_reg,
	       (unsigned long long)vtd.ecap_reg);
	/* edu has no PASID capability: no PASID bits, no PASID caps. */
	ASSERT_EQ(0, info.out_max_pasid_log2);
	ASSERT_EQ(0, info.out_capabilities & (IOMMU_HW_CAP_PCI_PASID_EXEC |
					      IOMMU_HW_CAP_PCI_PASID_PRIV));
	/*
	 * No dirty tracking on VT-d here: 6.1's intel-iommu has none, and
	 * QEMU 7.2 does not emulate second-stage A/D bits (ECAP.SSADS, bit
	 * 45, is clear). Neither reported nor faked.
	 */
	ASSERT_EQ(0, info.out_capabilities & IOMMU_HW_CAP_DIRTY_TRACKING);
	EXPECT_ERRNO(EOPNOTSUPP,
		     _test_cmd_hwpt_alloc(b.iommufd, b.devid, ioas2,
					  IOMMU_HWPT_ALLOC_DIRTY_TRACKING,
					  &hwpt));
	/* Nor nesting: 6.1's intel-iommu cannot make a nesting parent. */
	EXPECT_ERRNO(EOPNOTSUPP,
		     _test_cmd_hwpt_alloc(b.iommufd, b.devid, ioas2,
					  IOMMU_HWPT_ALLOC_NEST_PARENT,
					  &hwpt));

	/* A HWPT made for the device on the second IOAS, and DMA through it. */
	ASSERT_OK(_test_cmd_hwpt_alloc(b.iommufd, b.devid, ioas2, 0, &hwpt));
	map_fixed(_metadata, b.iommufd, ioas2, buf, 2 * page_size, IOVA_SRC);
	out = hwpt;
	ASSERT_OK(vfio_device_attach(b.fd, &out));
	ASSERT_EQ(hwpt, out);
	ASSERT_TRUE(iova_hole(_metadata, b.iommufd, ioas2, MSI_START,
			      MSI_LAST));
	ASSERT_FALSE(iova_hole(_metadata, b.iommufd, b.ioas, MSI_START,
			       MSI_LAST));
	fill(buf, 9);
	memset(buf + page_size, 0, page_size);
	to_device(_metadata, &b.edu, IOVA_SRC);
	to_ram(_metadata, &b.edu, IOVA_SRC + page_size);
	ASSERT_TRUE(holds(buf + page_size, 9));
	EXPECT_ERRNO(EBUSY, _test_ioctl_destroy(b.iommufd, hwpt));
	ASSERT_OK(vfio_device_detach(b.fd));
	ASSERT_OK(_test_ioctl_destroy(b.iommufd, hwpt));
}

/*
 * The group path through iommufd: VFIO_GROUP_SET_CONTAINER with a
 * /dev/iommu file (either backend of /dev/vfio/vfio), and what programs
 * written for the type1 container see whichever backend serves
 * /dev/vfio/vfio.
 */

static int open_group(struct __test_metadata *_metadata, const char *bdf)
{
	char path[64];
	int group;

	snprintf(path, sizeof(path), "/dev/vfio/%d", pci_iommu_group(bdf));
	group = open(path, O_RDWR);
	ASSERT_LE(0, group);
	return group;
}

static void container_map(struct __test_metadata *_metadata, int container,
			  void *buf, size_t size, __u64 iova)
{
	struct vfio_iommu_type1_dma_map map = {
		.argsz = sizeof(map),
		.flags = VFIO_DMA_MAP_FLAG_READ | VFIO_DMA_MAP_FLAG_WRITE,
		.vaddr = (uintptr_t)buf,
		.iova = iova,
		.size = size,
	};

	ASSERT_OK(ioctl(container, VFIO_IOMMU_MAP_DMA, &map));
}

/* Copy a pattern RAM -> device -> RAM through two IOVAs of the container. */
static void container_round_trip(struct __test_metadata *_metadata, int fd,
				 char *src, char *dst, unsigned int seed)
{
	struct edu edu;

	ASSERT_OK(edu_init(&edu, fd));
	fill(src, seed);
	memset(dst, 0, page_size);
	to_device(_metadata, &edu, IOVA_SRC);
	to_ram(_metadata, &edu, IOVA_DST);
	ASSERT_TRUE(holds(dst, seed));
}

/*
 * A /dev/iommu file works as the container of a group: the group joins
 * the context, its device attaches to the compat IOAS on open, and the
 * type1 ioctls on that file and IOMMU_IOAS_MAP on the compat IOAS both
 * reach the device. The group cannot leave while the device is open.
 */
/*
 * fdinfo of the device file, by cdev and by group, names the context (as
 * the context's own fdinfo does), the device's ID there and what it is
 * attached to; the context's fdinfo shows the device, its HWPT on VT-d
 * and the pages a map pinned.
 */
TEST_F_TIMEOUT(vfio_edu, fdinfo_device_files, VFIO_TIMEOUT)
{
	struct iommu_vfio_ioas vioas = {
		.size = sizeof(vioas),
		.op = IOMMU_VFIO_IOAS_GET,
	};
	struct vfio_region_info region = { .argsz = sizeof(region) };
	char cdev[PATH_MAX], ctx[32], want[64];
	__u32 devid = 0, ioas, hwpt, stdev, mock_ioas;
	__u64 bar_iova;
	void *bar;
	int iommufd, group, fd;
	const char *v;
	char *text, *buf;

	if (bind_vfio(_metadata, self->solo.bdf, cdev))
		VM_SKIP(return, NO_CDEV, self->solo.bdf);
	buf = alloc_pages(_metadata, 3);
	iommufd = open("/dev/iommu", O_RDWR);
	ASSERT_LE(0, iommufd);
	text = fdinfo_read(iommufd);
	ASSERT_NE(NULL, text);
	v = fdinfo_field(text, "iommufd-ctx:\t");
	ASSERT_NE(NULL, v);
	snprintf(ctx, sizeof(ctx), "%.*s\n", (int)strcspn(v, "\n"), v);
	free(text);

	fd = open(cdev, O_RDWR);
	ASSERT_LE(0, fd);
	/* Not bound yet: the device only. */
	EXPECT_TRUE(fdinfo_has(fd, "vfio-device:\t", "%s\n", self->solo.bdf));
	EXPECT_TRUE(fdinfo_lacks(fd, "iommufd-ctx:"));
	ASSERT_OK(vfio_device_bind_iommufd(fd, iommufd, &devid));
	EXPECT_TRUE(fdinfo_has(fd, "iommufd-ctx:\t", "%s", ctx));
	EXPECT_TRUE(fdinfo_has(fd, "iommufd-device:\t", "id=%u dev=%s group=",
			       devid, self->solo.bdf));
	EXPECT_TRUE(fdinfo_has(iommufd, "device:\t", "id=%u dev=%s group=",
			       devid, self->solo.bdf));
	ASSERT_OK(_test_ioctl_ioas_alloc(iommufd, &ioas));
	hwpt = ioas;
	ASSERT_OK(vfio_device_attach(fd, &hwpt));
	map_fixed(_metadata, iommufd, ioas, buf, 3 * page_size, IOVA_SRC);
	text = fdinfo_read(fd);
	ASSERT_NE(NULL, text);
	v = fdinfo_field(text, "iommufd-device:\t");
	ASSERT_NE(NULL, v);
	snprintf(want, sizeof(want), " hwpt=%u ioas=%u\n", hwpt, ioas);
	EXPECT_NE(NULL, strstr(v, want));
	free(text);
	EXPECT_TRUE(fdinfo_has(iommufd, "hwpt:\t", "id=%u ioas=%u auto=1 iommu=dmar",
			       hwpt, ioas));
	EXPECT_TRUE(fdinfo_has(iommufd, "pinned-pages:\t", "3\n"));

	/* A mock device cannot use the VT-d domain: the refusal says so. */
	ASSERT_OK(_test_ioctl_ioas_alloc(iommufd, &mock_ioas));
	ASSERT_OK(_test_cmd_mock_domain(iommufd, mock_ioas, &stdev, NULL, NULL));
	EXPECT_ERRNO(EINVAL, _test_cmd_mock_domain_replace(iommufd, stdev,
							   hwpt, NULL));
	EXPECT_TRUE(fdinfo_has(iommufd, "last-refusal:\t",
			       "device replace -EINVAL HWPT %u was made by another IOMMU driver",
			       hwpt));
	ASSERT_OK(_test_ioctl_destroy(iommufd, stdev));
	ASSERT_OK(_test_ioctl_destroy(iommufd, mock_ioas));

	/* The device's BAR is not memory: mapping it cannot pin it. */
	region.index = VFIO_PCI_BAR0_REGION_INDEX;
	ASSERT_OK(ioctl(fd, VFIO_DEVICE_GET_REGION_INFO, &region));
	bar = mmap(NULL, region.size, PROT_READ | PROT_WRITE, MAP_SHARED, fd,
		   region.offset);
	ASSERT_NE(MAP_FAILED, bar);
	EXPECT_NE(0, _test_ioctl_ioas_map(iommufd, ioas, bar, page_size,
					  &bar_iova, TEST_MAP_RW));
	EXPECT_TRUE(fdinfo_has(iommufd, "last-refusal:\t",
			       "IOMMU_IOAS_MAP -EFAULT cannot pin the page at user address %p (-EFAULT): it is a PFN mapping",
			       bar));
	munmap(bar, region.size);
	ASSERT_OK(close(fd));
	/* Closed: unbound, its HWPT went with it, nothing is pinned. */
	EXPECT_TRUE(fdinfo_lacks(iommufd, "device:\t"));
	EXPECT_TRUE(fdinfo_lacks(iommufd, "hwpt:\t"));
	EXPECT_TRUE(fdinfo_has(iommufd, "pinned-pages:\t", "0\n"));
	ASSERT_OK(_test_ioctl_destroy(iommufd, ioas));

	/* Through the group, joined to the same context. */
	group = open_group(_metadata, self->solo.bdf);
	ASSERT_OK(ioctl(group, VFIO_GROUP_SET_CONTAINER, &iommufd));
	ASSERT_OK(ioctl(iommufd, IOMMU_VFIO_IOAS, &vioas));
	ASSERT_OK(ioctl(iommufd, VFIO_SET_IOMMU, VFIO_TYPE1v2_IOMMU));
	fd = ioctl(group, VFIO_GROUP_GET_DEVICE_FD, self->solo.bdf);
	ASSERT_LE(0, fd);
	EXPECT_TRUE(fdinfo_has(fd, "vfio-device:\t", "%s\n", self->solo.bdf));
	EXPECT_TRUE(fdinfo_has(fd, "iommufd-ctx:\t", "%s", ctx));
	text = fdinfo_read(fd);
	ASSERT_NE(NULL, text);
	v = fdinfo_field(text, "iommufd-device:\t");
	ASSERT_NE(NULL, v);
	snprintf(want, sizeof(want), " ioas=%u\n", vioas.ioas_id);
	EXPECT_NE(NULL, strstr(v, want));
	free(text);
	ASSERT_OK(close(fd));
	ASSERT_OK(ioctl(group, VFIO_GROUP_UNSET_CONTAINER));
	ASSERT_OK(close(group));
	ASSERT_OK(close(iommufd));
}

TEST_F_TIMEOUT(vfio_edu, group_iommufd_container, VFIO_TIMEOUT)
{
	struct vfio_group_status status = { .argsz = sizeof(status) };
	struct iommu_vfio_ioas vioas = {
		.size = sizeof(vioas),
		.op = IOMMU_VFIO_IOAS_GET,
	};
	char cdev[PATH_MAX];
	int iommufd, group, fd;
	char *src, *dst;

	bind_vfio(_metadata, self->solo.bdf, cdev);
	src = alloc_pages(_metadata, 3);
	dst = src + page_size;
	iommufd = open("/dev/iommu", O_RDWR);
	ASSERT_LE(0, iommufd);
	group = open_group(_metadata, self->solo.bdf);

	/* No compat IOAS before a group joins, no IOMMU to set. */
	EXPECT_ERRNO(ENODEV, ioctl(iommufd, IOMMU_VFIO_IOAS, &vioas));
	EXPECT_ERRNO(ENODEV, ioctl(iommufd, VFIO_SET_IOMMU,
				   VFIO_TYPE1v2_IOMMU));
	ASSERT_OK(ioctl(group, VFIO_GROUP_SET_CONTAINER, &iommufd));
	ASSERT_OK(ioctl(group, VFIO_GROUP_GET_STATUS, &status));
	ASSERT_EQ(VFIO_GROUP_FLAGS_VIABLE | VFIO_GROUP_FLAGS_CONTAINER_SET,
		  status.flags);
	/* One container per group. */
	EXPECT_ERRNO(EINVAL, ioctl(group, VFIO_GROUP_SET_CONTAINER, &iommufd));
	ASSERT_OK(ioctl(iommufd, IOMMU_VFIO_IOAS, &vioas));
	ASSERT_NE(0, vioas.ioas_id);
	ASSERT_OK(ioctl(iommufd, VFIO_SET_IOMMU, VFIO_TYPE1v2_IOMMU));

	/* One IOVA by the container ioctl, one by the iommufd one. */
	container_map(_metadata, iommufd, src, page_size, IOVA_SRC);
	map_fixed(_metadata, iommufd, vioas.ioas_id, dst, page_size, IOVA_DST);
	fd = ioctl(group, VFIO_GROUP_GET_DEVICE_FD, self->solo.bdf);
	ASSERT_LE(0, fd);
	container_round_trip(_metadata, fd, src, dst, 21);

	/* The IOAS holds a device now: not destroyable, not leavable. */
	EXPECT_ERRNO(EBUSY, _test_ioctl_destroy(iommufd, vioas.ioas_id));
	EXPECT_ERRNO(EBUSY, ioctl(group, VFIO_GROUP_UNSET_CONTAINER));
	ASSERT_OK(close(fd));
	ASSERT_OK(ioctl(group, VFIO_GROUP_UNSET_CONTAINER));
	ASSERT_OK(ioctl(group, VFIO_GROUP_GET_STATUS, &status));
	ASSERT_EQ(VFIO_GROUP_FLAGS_VIABLE, status.flags);
	EXPECT_ERRNO(EINVAL, ioctl(group, VFIO_GROUP_UNSET_CONTAINER));
	/* Back to the kernel: the device file cannot be had without one. */
	EXPECT_ERRNO(EINVAL, ioctl(group, VFIO_GROUP_GET_DEVICE_FD,
				   self->solo.bdf));
	ASSERT_OK(_test_ioctl_destroy(iommufd, vioas.ioas_id));
	ASSERT_OK(close(group));
	ASSERT_OK(close(iommufd));
}

/*
 * A group whose compat IOAS userspace destroyed cannot open its devices
 * (ENODEV), and one given an IOAS of the user's choice attaches there.
 */
TEST_F_TIMEOUT(vfio_edu, group_iommufd_picked_ioas, VFIO_TIMEOUT)
{
	struct iommu_vfio_ioas vioas = {
		.size = sizeof(vioas),
		.op = IOMMU_VFIO_IOAS_GET,
	};
	char cdev[PATH_MAX];
	int iommufd, group, fd;
	char *src, *dst;
	__u32 mine;

	bind_vfio(_metadata, self->solo.bdf, cdev);
	src = alloc_pages(_metadata, 2);
	dst = src + page_size;
	iommufd = open("/dev/iommu", O_RDWR);
	ASSERT_LE(0, iommufd);
	group = open_group(_metadata, self->solo.bdf);
	ASSERT_OK(ioctl(group, VFIO_GROUP_SET_CONTAINER, &iommufd));
	ASSERT_OK(ioctl(iommufd, IOMMU_VFIO_IOAS, &vioas));
	ASSERT_OK(_test_ioctl_destroy(iommufd, vioas.ioas_id));
	EXPECT_ERRNO(ENODEV, ioctl(iommufd, IOMMU_VFIO_IOAS, &vioas));
	EXPECT_ERRNO(ENODEV, ioctl(group, VFIO_GROUP_GET_DEVICE_FD,
				   self->solo.bdf));

	ASSERT_OK(_test_ioctl_ioas_alloc(iommufd, &mine));
	vioas.op = IOMMU_VFIO_IOAS_SET;
	vioas.ioas_id = mine;
	ASSERT_OK(ioctl(iommufd, IOMMU_VFIO_IOAS, &vioas));
	ASSERT_OK(ioctl(iommufd, VFIO_SET_IOMMU, VFIO_TYPE1_IOMMU));
	map_fixed(_metadata, iommufd, mine, src, page_size, IOVA_SRC);
	map_fixed(_metadata, iommufd, mine, dst, page_size, IOVA_DST);
	fd = ioctl(group, VFIO_GROUP_GET_DEVICE_FD, self->solo.bdf);
	ASSERT_LE(0, fd);
	container_round_trip(_metadata, fd, src, dst, 22);
	EXPECT_ERRNO(EBUSY, _test_ioctl_destroy(iommufd, mine));
	ASSERT_OK(close(fd));
	ASSERT_OK(close(group));
	ASSERT_OK(close(iommufd));
}

/*
 * Two groups in one /dev/vfio/vfio container, each device DMAing through
 * the same mappings; the container closed before the devices; and nothing
 * left pinned or charged to the process once all is closed. The test runs
 * as root, with CAP_IPC_LOCK: type1 charges the process's locked_vm
 * (VmLck) anyway, iommufd (as upstream's) charges nothing and shows its
 * pins in VmPin, so the count to watch depends on the backend.
 */
TEST_F_TIMEOUT(vfio_edu, container_two_groups_close_order, VFIO_TIMEOUT)
{
	const char *bdf2 = self->shared.bdf;
	int container, group1, group2, fd1, fd2;
	char cdev[PATH_MAX];
	long lck_before, lck_mapped;
	struct edu edu1, edu2;
	const char *counter;
	bool iommufd;
	char *src, *dst;

	/*
	 * The other edu alone in its group is vfio_qemu_nested's, which may
	 * run meanwhile: take the one that shares its group with the rng.
	 */
	if (!bdf2[0])
		VM_SKIP(return, "no edu that shares its group with a virtio-rng");
	ASSERT_OK(pci_unbind(self->rng.bdf));
	bind_vfio(_metadata, self->solo.bdf, cdev);
	bind_vfio(_metadata, bdf2, cdev);
	src = alloc_pages(_metadata, 2);
	dst = src + page_size;
	container = open("/dev/vfio/vfio", O_RDWR);
	ASSERT_LE(0, container);
	iommufd = vfio_container_is_iommufd(container);
	TH_LOG("/dev/vfio/vfio is served by %s",
	       iommufd ? "iommufd" : "VFIO type1");
	counter = iommufd ? "VmPin:" : "VmLck:";
	lck_before = proc_status_kb(counter);
	ASSERT_LE(0, lck_before);
	group1 = open_group(_metadata, self->solo.bdf);
	group2 = open_group(_metadata, bdf2);
	ASSERT_OK(ioctl(group1, VFIO_GROUP_SET_CONTAINER, &container));
	ASSERT_OK(ioctl(container, VFIO_SET_IOMMU, VFIO_TYPE1v2_IOMMU));
	ASSERT_OK(ioctl(group2, VFIO_GROUP_SET_CONTAINER, &container));
	container_map(_metadata, container, src, 2 * page_size, IOVA_SRC);
	/* Both pages are pinned once a device translates through them. */
	fd1 = ioctl(group1, VFIO_GROUP_GET_DEVICE_FD, self->solo.bdf);
	ASSERT_LE(0, fd1);
	fd2 = ioctl(group2, VFIO_GROUP_GET_DEVICE_FD, bdf2);
	ASSERT_LE(0, fd2);
	lck_mapped = proc_status_kb(counter);
	ASSERT_EQ(lck_before + 2 * page_size / 1024, lck_mapped);

	/* The second page of the one mapping is the destination. */
	ASSERT_OK(edu_init(&edu1, fd1));
	ASSERT_OK(edu_init(&edu2, fd2));
	fill(src, 23);
	memset(dst, 0, page_size);
	to_device(_metadata, &edu1, IOVA_SRC);
	to_ram(_metadata, &edu1, IOVA_SRC + page_size);
	ASSERT_TRUE(holds(dst, 23));
	fill(src, 24);
	memset(dst, 0, page_size);
	to_device(_metadata, &edu2, IOVA_SRC);
	to_ram(_metadata, &edu2, IOVA_SRC + page_size);
	ASSERT_TRUE(holds(dst, 24));

	/* The container goes first; the groups and devices keep it. */
	ASSERT_OK(close(container));
	fill(src, 25);
	to_device(_metadata, &edu2, IOVA_SRC);
	to_ram(_metadata, &edu2, IOVA_SRC + page_size);
	ASSERT_TRUE(holds(dst, 25));
	ASSERT_OK(close(fd1));
	ASSERT_OK(close(group1));
	ASSERT_EQ(lck_mapped, proc_status_kb(counter));
	ASSERT_OK(close(fd2));
	ASSERT_OK(close(group2));
	/* The last user of the container took its mappings and charge. */
	ASSERT_EQ(lck_before, proc_status_kb(counter));
}

/*
 * A group with a device on a kernel DMA driver cannot join a container,
 * whichever serves it: not viable, and SET_CONTAINER fails with EPERM.
 * Joining a /dev/iommu file, the kernel log names the driver.
 */
TEST_F_TIMEOUT(vfio_edu, group_container_kernel_driver, VFIO_TIMEOUT)
{
	struct vfio_group_status status = { .argsz = sizeof(status) };
	const char *edu = self->shared.bdf;
	const char *rng = self->rng.bdf;
	int container, iommufd, group;
	char cdev[PATH_MAX];
	char line[512];
	int kmsg;

	if (!edu[0])
		VM_SKIP(return, "no edu that shares its group with a virtio-rng");
	if (strcmp(self->rng.driver, "virtio-pci"))
		VM_SKIP(return, "%s is not bound to virtio-pci", rng);
	bind_vfio(_metadata, edu, cdev);
	container = open("/dev/vfio/vfio", O_RDWR);
	ASSERT_LE(0, container);
	iommufd = open("/dev/iommu", O_RDWR);
	ASSERT_LE(0, iommufd);
	kmsg = kmsg_open();
	ASSERT_LE(0, kmsg);
	group = open_group(_metadata, edu);
	ASSERT_OK(ioctl(group, VFIO_GROUP_GET_STATUS, &status));
	ASSERT_EQ(0, status.flags & VFIO_GROUP_FLAGS_VIABLE);

	EXPECT_ERRNO(EPERM, ioctl(group, VFIO_GROUP_SET_CONTAINER, &container));
	EXPECT_ERRNO(EPERM, ioctl(group, VFIO_GROUP_SET_CONTAINER, &iommufd));
	ASSERT_OK(kmsg_wait(kmsg, "cannot join a container", rng, 2000, line,
			    sizeof(line)));
	TH_LOG("kernel: %s", line);
	ASSERT_NE(NULL, strstr(line, "virtio-pci"));

	/* Without the driver the group joins, and the driver cannot come. */
	ASSERT_OK(pci_unbind(rng));
	ASSERT_OK(ioctl(group, VFIO_GROUP_SET_CONTAINER, &iommufd));
	ASSERT_OK(ioctl(group, VFIO_GROUP_UNSET_CONTAINER));
	ASSERT_OK(close(group));
	ASSERT_OK(pci_bind(rng, "virtio-pci"));
	ASSERT_EQ(1, pci_has_driver(rng, "virtio-pci"));
}

/*
 * Hot reset through a group joined to /dev/iommu: the group file is the
 * proof of ownership, as with type1, and the affected devices are listed
 * by group, not by device ID (that is for cdev-bound devices).
 */
TEST_F_TIMEOUT(vfio_edu, group_iommufd_hot_reset, VFIO_TIMEOUT)
{
	struct reset_info info;
	int iommufd, group, fd;
	char cdev[PATH_MAX];
	struct edu edu;
	unsigned int i;
	int rc;

	if (!self->shared.bdf[0])
		VM_SKIP(return, "no edu that shares its group with a virtio-rng");
	ASSERT_OK(pci_unbind(self->rng.bdf));
	bind_vfio(_metadata, self->shared.bdf, cdev);
	ASSERT_OK(pci_bind_vfio(self->rng.bdf));
	iommufd = open("/dev/iommu", O_RDWR);
	ASSERT_LE(0, iommufd);
	group = open_group(_metadata, self->shared.bdf);
	ASSERT_OK(ioctl(group, VFIO_GROUP_SET_CONTAINER, &iommufd));
	ASSERT_OK(ioctl(iommufd, VFIO_SET_IOMMU, VFIO_TYPE1v2_IOMMU));
	fd = ioctl(group, VFIO_GROUP_GET_DEVICE_FD, self->shared.bdf);
	ASSERT_LE(0, fd);

	rc = hot_reset_info(fd, &info);
	if (rc && errno == ENODEV)
		VM_SKIP(return, "%s cannot be reset by slot or bus",
			self->shared.bdf);
	ASSERT_OK(rc);
	ASSERT_EQ(0, info.hdr.flags);
	ASSERT_EQ(2, info.hdr.count);
	for (i = 0; i != 2; i++)
		ASSERT_EQ(pci_iommu_group(self->shared.bdf),
			  (int)info.devices[i].group_id);
	/* The group file proves ownership; an empty list does not. */
	EXPECT_ERRNO(EINVAL, hot_reset(fd, 0, -1));
	ASSERT_OK(hot_reset(fd, 1, group));
	ASSERT_OK(edu_init(&edu, fd));
	ASSERT_OK(close(fd));
	ASSERT_OK(close(group));
	ASSERT_OK(close(iommufd));
}

/*
 * KVM's group association, as QEMU 7.2 makes it, for a group joined to
 * an iommufd context: the group is added before and after its device is
 * opened, and removed; the device works throughout.
 */
TEST_F_TIMEOUT(vfio_edu, group_iommufd_kvm, VFIO_TIMEOUT)
{
	int iommufd, group, fd, vm, kvm_dev;
	char cdev[PATH_MAX];
	char *src, *dst;
	struct edu edu;

	kvm_dev = kvm_vfio_create(&vm);
	if (kvm_dev < 0)
		VM_SKIP(return, "no KVM VFIO device: %s", strerror(errno));
	bind_vfio(_metadata, self->solo.bdf, cdev);
	src = alloc_pages(_metadata, 2);
	dst = src + page_size;
	iommufd = open("/dev/iommu", O_RDWR);
	ASSERT_LE(0, iommufd);
	group = open_group(_metadata, self->solo.bdf);
	ASSERT_OK(ioctl(group, VFIO_GROUP_SET_CONTAINER, &iommufd));
	ASSERT_OK(ioctl(iommufd, VFIO_SET_IOMMU, VFIO_TYPE1v2_IOMMU));
	ASSERT_OK(kvm_vfio_file(kvm_dev, KVM_DEV_VFIO_GROUP_ADD, group));
	/* Once only. */
	EXPECT_ERRNO(EEXIST, kvm_vfio_file(kvm_dev, KVM_DEV_VFIO_GROUP_ADD,
					   group));
	/* Not a VFIO file. */
	EXPECT_ERRNO(EINVAL, kvm_vfio_file(kvm_dev, KVM_DEV_VFIO_GROUP_ADD,
					   iommufd));
	container_map(_metadata, iommufd, src, 2 * page_size, IOVA_SRC);
	fd = ioctl(group, VFIO_GROUP_GET_DEVICE_FD, self->solo.bdf);
	ASSERT_LE(0, fd);
	ASSERT_OK(edu_init(&edu, fd));
	/* The device file the group gave is a VFIO file too (upstream's). */
	ASSERT_OK(kvm_vfio_file(kvm_dev, KVM_DEV_VFIO_FILE_ADD, fd));
	EXPECT_ERRNO(EEXIST, kvm_vfio_file(kvm_dev, KVM_DEV_VFIO_FILE_ADD, fd));
	fill(src, 26);
	memset(dst, 0, page_size);
	to_device(_metadata, &edu, IOVA_SRC);
	to_ram(_metadata, &edu, IOVA_SRC + page_size);
	ASSERT_TRUE(holds(dst, 26));
	ASSERT_OK(kvm_vfio_file(kvm_dev, KVM_DEV_VFIO_FILE_DEL, fd));
	ASSERT_OK(kvm_vfio_file(kvm_dev, KVM_DEV_VFIO_GROUP_DEL, group));
	ASSERT_OK(close(fd));
	ASSERT_OK(kvm_vfio_file(kvm_dev, KVM_DEV_VFIO_GROUP_ADD, group));
	/* The VM goes first; then the group, which it held. */
	ASSERT_OK(close(kvm_dev));
	ASSERT_OK(close(vm));
	ASSERT_OK(close(group));
	ASSERT_OK(close(iommufd));
}

/*
 * KVM's file association as QEMU 9.1 makes it for a device it opened
 * through its cdev: the cdev file goes to KVM_DEV_VFIO_FILE_ADD before it
 * is bound to iommufd, the device is attached and does DMA, and KVM lets
 * go of the file while the device works. 6.1 took group files only
 * (EINVAL). KVM keeps a reference to the file: the device stays bound
 * after its fd is closed, until KVM lets go of it.
 */
TEST_F_TIMEOUT(vfio_edu, cdev_kvm, VFIO_TIMEOUT)
{
	int vm, kvm_dev, fd;
	char cdev[PATH_MAX];
	char *src, *dst;
	struct bound b;

	kvm_dev = kvm_vfio_create(&vm);
	if (kvm_dev < 0)
		VM_SKIP(return, "no KVM VFIO device: %s", strerror(errno));
	if (bind_vfio(_metadata, self->solo.bdf, cdev))
		VM_SKIP(return, NO_CDEV, self->solo.bdf);
	src = alloc_pages(_metadata, 2);
	dst = src + page_size;

	b.iommufd = open("/dev/iommu", O_RDWR);
	ASSERT_LE(0, b.iommufd);
	b.fd = open(cdev, O_RDWR);
	ASSERT_LE(0, b.fd);
	ASSERT_OK(kvm_vfio_file(kvm_dev, KVM_DEV_VFIO_FILE_ADD, b.fd));
	ASSERT_OK(vfio_device_bind_iommufd(b.fd, b.iommufd, &b.devid));
	ASSERT_OK(_test_ioctl_ioas_alloc(b.iommufd, &b.ioas));
	b.hwpt = b.ioas;
	ASSERT_OK(vfio_device_attach(b.fd, &b.hwpt));
	ASSERT_OK(edu_init(&b.edu, b.fd));
	map_fixed(_metadata, b.iommufd, b.ioas, src, 2 * page_size, IOVA_SRC);
	fill(src, 27);
	memset(dst, 0, page_size);
	to_device(_metadata, &b.edu, IOVA_SRC);
	ASSERT_OK(kvm_vfio_file(kvm_dev, KVM_DEV_VFIO_FILE_DEL, b.fd));
	EXPECT_ERRNO(ENOENT, kvm_vfio_file(kvm_dev, KVM_DEV_VFIO_FILE_DEL,
					   b.fd));
	to_ram(_metadata, &b.edu, IOVA_SRC + page_size);
	ASSERT_TRUE(holds(dst, 27));

	/* A bound cdev can be added too; KVM's reference keeps it bound. */
	ASSERT_OK(kvm_vfio_file(kvm_dev, KVM_DEV_VFIO_FILE_ADD, b.fd));
	ASSERT_OK(close(b.fd));
	fd = open(cdev, O_RDWR);
	ASSERT_LE(0, fd);
	EXPECT_ERRNO(EINVAL, vfio_device_bind_iommufd(fd, b.iommufd, NULL));
	/* KVM's release closes the device; then it binds again. */
	ASSERT_OK(close(kvm_dev));
	ASSERT_OK(close(vm));
	ASSERT_OK(vfio_device_bind_iommufd(fd, b.iommufd, NULL));
	ASSERT_OK(close(fd));
	ASSERT_OK(close(b.iommufd));
}

/*
 * An emulated VFIO device: an mdev of the mtty sample driver. It does no
 * DMA of its own, so its cdev binds it as an iommufd access, which reads
 * and writes the IOAS it is attached to (and only an IOAS).
 */
#define MTTY_MODULE "/lib/modules/mtty.ko"
#define MTTY_CREATE "/sys/class/mdev_bus/mtty/mdev_supported_types/mtty-1/create"
#define MTTY_UUID "6b2ea3e4-43ad-4a21-9b2d-3c7a0f1e2d01"
#define MDEV_DEVICES "/sys/bus/mdev/devices"
#define MTTY_VENDOR 0x4348

/*
 * Large IOPTEs on VT-d. intel-iommu's debugfs prints the page table of a
 * device's domain, one line per leaf: "IOVA_PFN | PML5E PML4E PDPE PDE
 * PTE", the entries on the walk to it. A 2 MiB leaf is a PDE with the
 * page-size bit and no PTE; a 1 GiB leaf a PDPE with it and no PDE.
 */
#define DMAR_TABLE "/sys/kernel/debug/iommu/intel/domain_translation_struct"
#define DMA_PTE_LARGE_PAGE 0x80ULL
#define HUGE_1G_FREE "/sys/kernel/mm/hugepages/hugepages-1048576kB/free_hugepages"
#ifndef MAP_HUGE_SHIFT
#define MAP_HUGE_SHIFT 26
#endif
#define MAP_HUGE_2M (21 << MAP_HUGE_SHIFT)
#define MAP_HUGE_1G (30 << MAP_HUGE_SHIFT)

/* A leaf of the domain's page table, as debugfs shows it. */
struct dmar_leaf {
	unsigned long long pfn;
	unsigned long long pte[5];	/* PML5E, PML4E, PDPE, PDE, PTE */
};

/*
 * The leaves of the page table of @bdf's domain with an IOVA page number
 * in [first_pfn, last_pfn], at most @max of them. Return: how many, or -1.
 */
static int dmar_leaves(const char *bdf, unsigned long long first_pfn,
		       unsigned long long last_pfn, struct dmar_leaf *leaves,
		       int max)
{
	char line[512], device[64];
	bool ours = false;
	int n = 0;
	FILE *f;

	snprintf(device, sizeof(device), "Device %s @", bdf);
	f = fopen(DMAR_TABLE, "r");
	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f)) {
		struct dmar_leaf leaf;

		if (!strncmp(line, "Device ", 7)) {
			ours = !strncmp(line, device, strlen(device));
			continue;
		}
		if (!ours || sscanf(line, "%llx | %llx %llx %llx %llx %llx",
				    &leaf.pfn, &leaf.pte[0], &leaf.pte[1],
				    &leaf.pte[2], &leaf.pte[3],
				    &leaf.pte[4]) != 6)
			continue;
		if (leaf.pfn < first_pfn || leaf.pfn > last_pfn)
			continue;
		if (n == max) {
			n++;
			break;
		}
		leaves[n++] = leaf;
	}
	fclose(f);
	return n;
}

/*
 * The VM's one 1 GiB huge page is wanted by vfio_dpdk_testpmd too, which
 * may run at the same time: DPDK takes the largest huge pages there are.
 * Whoever makes this directory has the page; vfio_dpdk_testpmd.sh waits
 * for it the same way.
 */
#define HUGE_1G_CLAIM "/tmp/iommufd-hugetlb-1g"
#define HUGE_1G_WAIT_S 400

static long huge_1g_free(void)
{
	long n = -1;
	FILE *f = fopen(HUGE_1G_FREE, "r");

	if (f) {
		if (fscanf(f, "%ld", &n) != 1)
			n = -1;
		fclose(f);
	}
	return n;
}

/*
 * hugetlb memory reaches the VT-d domain as 2 MiB and 1 GiB IOPTEs, one
 * per huge page, and the device's DMA through them lands in the right
 * page; memory of small pages stays in 4 KiB IOPTEs.
 */
TEST_F_TIMEOUT(vfio_edu, large_iopte, VFIO_TIMEOUT + HUGE_1G_WAIT_S)
{
	const size_t sz2m = 2UL << 20, sz1g = 1UL << 30;
	const __u64 iova2m = 0x800000, iova1g = 0x40000000;
	struct dmar_leaf leaves[8];
	char cdev[PATH_MAX];
	char *huge, *giant, *small;
	struct bound b;
	int i;

	if (bind_vfio(_metadata, self->solo.bdf, cdev))
		VM_SKIP(return, NO_CDEV, self->solo.bdf);
	if (access(DMAR_TABLE, R_OK))
		VM_SKIP(return, "no %s (CONFIG_INTEL_IOMMU_DEBUGFS)",
			DMAR_TABLE);
	bind_attach(_metadata, cdev, &b);

	/* Two 2 MiB pages: two PDE leaves. */
	huge = mmap(NULL, 2 * sz2m, PROT_READ | PROT_WRITE,
		    MAP_PRIVATE | MAP_ANONYMOUS | MAP_HUGETLB | MAP_HUGE_2M,
		    -1, 0);
	ASSERT_NE(MAP_FAILED, huge);
	memset(huge, 0, 2 * sz2m);
	map_fixed(_metadata, b.iommufd, b.ioas, huge, 2 * sz2m, iova2m);
	ASSERT_EQ(2, dmar_leaves(self->solo.bdf, iova2m / page_size,
				 (iova2m + 2 * sz2m) / page_size - 1, leaves,
				 8));
	for (i = 0; i != 2; i++) {
		ASSERT_EQ(iova2m / page_size + i * (sz2m / page_size),
			  leaves[i].pfn);
		ASSERT_TRUE(leaves[i].pte[3] & DMA_PTE_LARGE_PAGE);
		ASSERT_EQ(0, leaves[i].pte[4]);
	}
	/* The device writes through the second one, at an offset. */
	fill(huge + sz2m + 0x5000, 7);
	to_device(_metadata, &b.edu, iova2m + sz2m + 0x5000);
	to_ram(_metadata, &b.edu, iova2m + 0x3000);
	ASSERT_TRUE(holds(huge + 0x3000, 7));

	/* Small pages: one PTE leaf per 4 KiB page. */
	small = alloc_pages(_metadata, 4);
	map_fixed(_metadata, b.iommufd, b.ioas, small, 4 * page_size,
		  IOVA_SRC);
	ASSERT_EQ(4, dmar_leaves(self->solo.bdf, IOVA_SRC / page_size,
				 IOVA_SRC / page_size + 3, leaves, 8));
	for (i = 0; i != 4; i++)
		ASSERT_FALSE(leaves[i].pte[3] & DMA_PTE_LARGE_PAGE);
	unmap_fixed(_metadata, b.iommufd, b.ioas, 4 * page_size, IOVA_SRC);
	unmap_fixed(_metadata, b.iommufd, b.ioas, 2 * sz2m, iova2m);
	ASSERT_EQ(0, dmar_leaves(self->solo.bdf, iova2m / page_size,
				 (iova2m + 2 * sz2m) / page_size - 1, leaves,
				 8));

	/* A 1 GiB page: one PDPE leaf. The test VM reserves one. */
	for (i = 0; mkdir(HUGE_1G_CLAIM, 0700); i++) {
		ASSERT_EQ(EEXIST, errno);
		ASSERT_GT(HUGE_1G_WAIT_S, i);
		sleep(1);
	}
	if (huge_1g_free() < 1) {
		rmdir(HUGE_1G_CLAIM);
		VM_SKIP(return, "no free 1 GiB huge page");
	}
	giant = mmap(NULL, sz1g, PROT_READ | PROT_WRITE,
		     MAP_PRIVATE | MAP_ANONYMOUS | MAP_HUGETLB | MAP_HUGE_1G,
		     -1, 0);
	ASSERT_NE(MAP_FAILED, giant);
	giant[0] = 1;
	map_fixed(_metadata, b.iommufd, b.ioas, giant, sz1g, iova1g);
	ASSERT_EQ(1, dmar_leaves(self->solo.bdf, iova1g / page_size,
				 (iova1g + sz1g) / page_size - 1, leaves, 8));
	ASSERT_EQ(iova1g / page_size, leaves[0].pfn);
	ASSERT_TRUE(leaves[0].pte[2] & DMA_PTE_LARGE_PAGE);
	ASSERT_EQ(0, leaves[0].pte[3]);
	ASSERT_EQ(0, leaves[0].pte[4]);
	unmap_fixed(_metadata, b.iommufd, b.ioas, sz1g, iova1g);
	ASSERT_EQ(0, dmar_leaves(self->solo.bdf, iova1g / page_size,
				 (iova1g + sz1g) / page_size - 1, leaves, 8));
	ASSERT_EQ(0, munmap(giant, sz1g));
	ASSERT_EQ(0, rmdir(HUGE_1G_CLAIM));
	ASSERT_EQ(0, munmap(huge, 2 * sz2m));
}

FIXTURE(vfio_mdev)
{
	char cdev[PATH_MAX];
};

FIXTURE_SETUP(vfio_mdev)
{
	char dir[PATH_MAX];
	struct dirent *ent;
	DIR *d;
	int fd;

	fd = open(MTTY_MODULE, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		SKIP_TEST_PROCESS("no %s", MTTY_MODULE);
	if (syscall(__NR_finit_module, fd, "", 0) && errno != EEXIST)
		SKIP_TEST_PROCESS("cannot load mtty: %s", strerror(errno));
	close(fd);
	ASSERT_OK(sysfs_write(MTTY_CREATE, MTTY_UUID));

	snprintf(dir, sizeof(dir), MDEV_DEVICES "/" MTTY_UUID "/vfio-dev");
	d = opendir(dir);
	ASSERT_NE(NULL, d);
	self->cdev[0] = 0;
	while ((ent = readdir(d)))
		if (!strncmp(ent->d_name, "vfio", 4))
			snprintf(self->cdev, sizeof(self->cdev),
				 "/dev/vfio/devices/%s", ent->d_name);
	closedir(d);
	ASSERT_NE(0, self->cdev[0]);
}

FIXTURE_TEARDOWN(vfio_mdev)
{
	long max = sysconf(_SC_OPEN_MAX);
	int fd;

	for (fd = 3; fd < max && fd < 65536; fd++)
		close(fd);
	EXPECT_EQ(0, sysfs_write(MDEV_DEVICES "/" MTTY_UUID "/remove", "1"));
}

TEST_F_TIMEOUT(vfio_mdev, bind_as_access, VFIO_TIMEOUT)
{
	struct vfio_device_info info = { .argsz = sizeof(info) };
	struct vfio_region_info region = {
		.argsz = sizeof(region),
		.index = VFIO_PCI_CONFIG_REGION_INDEX,
	};
	__u32 devid = 0, ioas1, ioas2, pt, stale, bar, after;
	int iommufd, fd, group_fd;
	char group[64];
	char name[32];
	__u16 vendor;

	iommufd = open("/dev/iommu", O_RDWR);
	ASSERT_LE(0, iommufd);
	fd = open(self->cdev, O_RDWR);
	ASSERT_LE(0, fd);
	EXPECT_ERRNO(EINVAL, ioctl(fd, VFIO_DEVICE_GET_INFO, &info));
	ASSERT_OK(vfio_device_bind_iommufd(fd, iommufd, &devid));
	ASSERT_NE(0, devid);

	/* Its group file is closed to others while it is bound. */
	ASSERT_OK(sysfs_link_name(MDEV_DEVICES "/" MTTY_UUID "/iommu_group",
				  name, sizeof(name)));
	snprintf(group, sizeof(group), "/dev/vfio/%s", name);
	group_fd = open(group, O_RDWR);
	EXPECT_EQ(-1, group_fd);
	EXPECT_EQ(EBUSY, errno);

	/* Attached to an IOAS, the ID that comes back is the IOAS's. */
	ASSERT_OK(_test_ioctl_ioas_alloc(iommufd, &ioas1));
	ASSERT_OK(_test_ioctl_ioas_alloc(iommufd, &ioas2));
	pt = ioas1;
	ASSERT_OK(vfio_device_attach(fd, &pt));
	ASSERT_EQ(ioas1, pt);
	EXPECT_ERRNO(EBUSY, _test_ioctl_destroy(iommufd, ioas1));
	/* Again: replaced, to the other IOAS. */
	pt = ioas2;
	ASSERT_OK(vfio_device_attach(fd, &pt));
	ASSERT_EQ(ioas2, pt);
	/* Its fdinfo: bound as an access of the context, on the IOAS. */
	EXPECT_TRUE(fdinfo_has(fd, "vfio-device:\t", "%s\n", MTTY_UUID));
	EXPECT_TRUE(fdinfo_has(fd, "iommufd-access:\t", "id=%u ioas=%u pins=0",
			       devid, ioas2));
	ASSERT_OK(_test_ioctl_destroy(iommufd, ioas1));
	EXPECT_ERRNO(EBUSY, _test_ioctl_destroy(iommufd, ioas2));
	/* No IOAS by that ID any more: nothing changes. */
	stale = ioas1;
	EXPECT_NE(0, vfio_device_attach(fd, &stale));
	EXPECT_ERRNO(EBUSY, _test_ioctl_destroy(iommufd, ioas2));

	/* The device itself works: the sample's PCI config space. */
	ASSERT_OK(ioctl(fd, VFIO_DEVICE_GET_INFO, &info));
	ASSERT_TRUE(info.flags & VFIO_DEVICE_FLAGS_PCI);
	ASSERT_OK(ioctl(fd, VFIO_DEVICE_GET_REGION_INFO, &region));
	ASSERT_EQ(sizeof(vendor),
		  pread(fd, &vendor, sizeof(vendor), region.offset));
	ASSERT_EQ(MTTY_VENDOR, vendor);
	/*
	 * mtty keeps 0xff bytes of config space: reads past them fail
	 * rather than read past its buffer (a KASAN report, found by
	 * syzkaller), also one that starts inside and ends outside.
	 */
	EXPECT_EQ(-1, pread(fd, name, 4, region.offset + 0xfc));
	EXPECT_EQ(-1, pread(fd, name, sizeof(name), region.offset + 0x795));
	/*
	 * A BAR in config space is written whole: narrower writes are
	 * ignored. One used to take four bytes from mtty_write()'s one-
	 * or two-byte buffer (a stack out-of-bounds read, for KASAN) and
	 * store them as the BAR.
	 */
	ASSERT_EQ(4, pread(fd, &bar, 4, region.offset + 0x10));
	EXPECT_EQ(1, pwrite(fd, "\xff", 1, region.offset + 0x10));
	EXPECT_EQ(2, pwrite(fd, "\xff\xff", 2, region.offset + 0x10));
	ASSERT_EQ(4, pread(fd, &after, 4, region.offset + 0x10));
	EXPECT_EQ(bar, after);
	/*
	 * BAR n is port n's registers: mtty-1 has BAR0 and its 8 bytes
	 * only. Accesses to other BARs, or past BAR0's end, fail rather
	 * than index past the port array (UBSAN, then an Oops; found by
	 * syzkaller), also at an offset a u16 would wrap to 0.
	 */
	region.index = VFIO_PCI_BAR0_REGION_INDEX;
	ASSERT_OK(ioctl(fd, VFIO_DEVICE_GET_REGION_INFO, &region));
	ASSERT_EQ(8, region.size);
	EXPECT_EQ(1, pread(fd, name, 1, region.offset + 5));
	/*
	 * A register is one byte: a wider read returns it and zeros (it
	 * returned stack bytes, zero only on kernels built to clear them).
	 */
	memset(name, 0x5a, 4);
	EXPECT_EQ(4, pread(fd, name, 4, region.offset));
	EXPECT_EQ(0, name[1] | name[2] | name[3]);
	EXPECT_EQ(-1, pread(fd, name, 1, region.offset + 8));
	EXPECT_EQ(-1, pwrite(fd, name, 4, region.offset + 6));
	EXPECT_EQ(-1, pwrite(fd, name, 1, region.offset + 0x10000));
	for (region.index = VFIO_PCI_BAR1_REGION_INDEX;
	     region.index <= VFIO_PCI_BAR5_REGION_INDEX; region.index++) {
		ASSERT_OK(ioctl(fd, VFIO_DEVICE_GET_REGION_INFO, &region));
		ASSERT_EQ(0, region.size);
		EXPECT_EQ(-1, pwrite(fd, name, 1, region.offset));
		EXPECT_EQ(-1, pread(fd, name, 1, region.offset));
	}

	/* Detached, the IOAS is free; detaching again does nothing. */
	ASSERT_OK(vfio_device_detach(fd));
	ASSERT_OK(vfio_device_detach(fd));
	ASSERT_OK(_test_ioctl_destroy(iommufd, ioas2));

	/* Closing the iommufd first: the device file keeps the context. */
	ASSERT_OK(_test_ioctl_ioas_alloc(iommufd, &ioas1));
	pt = ioas1;
	ASSERT_OK(vfio_device_attach(fd, &pt));
	ASSERT_OK(close(iommufd));
	ASSERT_OK(ioctl(fd, VFIO_DEVICE_GET_INFO, &info));
	ASSERT_OK(close(fd));
}

/*
 * The mdev through its group, joined to a /dev/iommu file: opening it
 * binds it as an access attached to the compat IOAS, which therefore
 * cannot be destroyed until the device is closed.
 */
TEST_F_TIMEOUT(vfio_mdev, group_iommufd_container, VFIO_TIMEOUT)
{
	struct vfio_device_info info = { .argsz = sizeof(info) };
	struct iommu_vfio_ioas vioas = {
		.size = sizeof(vioas),
		.op = IOMMU_VFIO_IOAS_GET,
	};
	int iommufd, group, fd, cdev_fd;
	char path[64];
	char name[32];

	ASSERT_OK(sysfs_link_name(MDEV_DEVICES "/" MTTY_UUID "/iommu_group",
				  name, sizeof(name)));
	snprintf(path, sizeof(path), "/dev/vfio/%s", name);
	group = open(path, O_RDWR);
	ASSERT_LE(0, group);
	iommufd = open("/dev/iommu", O_RDWR);
	ASSERT_LE(0, iommufd);
	ASSERT_OK(ioctl(group, VFIO_GROUP_SET_CONTAINER, &iommufd));
	ASSERT_OK(ioctl(iommufd, VFIO_SET_IOMMU, VFIO_TYPE1v2_IOMMU));
	ASSERT_OK(ioctl(iommufd, IOMMU_VFIO_IOAS, &vioas));

	fd = ioctl(group, VFIO_GROUP_GET_DEVICE_FD, MTTY_UUID);
	ASSERT_LE(0, fd);
	ASSERT_OK(ioctl(fd, VFIO_DEVICE_GET_INFO, &info));
	ASSERT_TRUE(info.flags & VFIO_DEVICE_FLAGS_PCI);
	/* The access holds the compat IOAS. */
	EXPECT_ERRNO(EBUSY, _test_ioctl_destroy(iommufd, vioas.ioas_id));
	/* And its cdev cannot bind while the group has it open. */
	cdev_fd = open(self->cdev, O_RDWR);
	ASSERT_LE(0, cdev_fd);
	EXPECT_ERRNO(EBUSY, vfio_device_bind_iommufd(cdev_fd, iommufd, NULL));
	ASSERT_OK(close(cdev_fd));
	ASSERT_OK(close(fd));
	ASSERT_OK(_test_ioctl_destroy(iommufd, vioas.ioas_id));
	ASSERT_OK(close(group));
	ASSERT_OK(close(iommufd));
}

TEST_HARNESS_MAIN
