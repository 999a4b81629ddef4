/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * QEMU's "edu" PCI device driven from userspace through VFIO, for the
 * tests of VFIO devices bound to iommufd.
 *
 * edu (QEMU hw/misc/edu.c) is a teaching device with a DMA engine that
 * copies between a 4 KiB buffer of its own, at device address 0x40000,
 * and a bus address: behind an IOMMU, an IOVA. What to know about it:
 *  - a transfer must end before the last byte of that buffer: one that
 *    reaches it stops the whole VM with a "hardware error", so edu_dma()
 *    refuses it;
 *  - the engine masks bus addresses to 28 bits: IOVAs stay below 256 MiB;
 *  - it masters the bus only once the PCI command register lets it;
 *  - a transfer takes 100 ms of virtual time, during which the device
 *    ignores its DMA registers; the start bit clears when it is done;
 *  - when the IOMMU refuses a read, QEMU hands the device zeros instead
 *    of the data; a refused write goes nowhere.
 *
 * The VFIO regions are accessed with pread()/pwrite() on the device
 * file, 32 bits at a time: 6.1's vfio-pci splits wider accesses, and edu
 * ignores a write to the upper half of its 64-bit registers. No BAR is
 * mmap()ed, so closing the device file lets go of the device, which
 * vfio-pci waits for before it unbinds.
 *
 * Also here: finding the devices by their IDs and IOMMU groups, moving
 * them between drivers through sysfs and back, the ioctls of the VFIO
 * device cdev, and waiting for a message of the kernel in /dev/kmsg.
 *
 * Every function returns 0, or -1 with errno set, unless it says
 * otherwise; none of them uses the test harness.
 */
#ifndef __SELFTEST_IOMMU_VFIO_EDU_H
#define __SELFTEST_IOMMU_VFIO_EDU_H

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>

#include <linux/iommufd.h>
#include <linux/kvm.h>
#include <linux/pci_regs.h>
#include <linux/vfio.h>

#define EDU_VENDOR 0x1234
#define EDU_DEVICE 0x11e8
#define EDU_IDENT 0x010000ed

/* BAR0 registers; all accessed 32 bits wide. */
#define EDU_REG_IDENT 0x00
/* Reads back the complement of what was written. */
#define EDU_REG_LIVENESS 0x04
#define EDU_REG_DMA_SRC 0x80
#define EDU_REG_DMA_DST 0x88
#define EDU_REG_DMA_COUNT 0x90
#define EDU_REG_DMA_CMD 0x98
#define EDU_DMA_START 0x1
/* Device buffer to RAM; without it, RAM to the device buffer. */
#define EDU_DMA_TO_RAM 0x2

/* The device's DMA buffer, in device addresses. */
#define EDU_BUF_ADDR 0x40000
#define EDU_BUF_SIZE 4096
/* Bus addresses wider than this are cut. */
#define EDU_BUS_LIMIT 0x10000000ULL
/* A transfer takes 100 ms of virtual time; allow for a slow host. */
#define EDU_DMA_TIMEOUT_MS 5000

#define VIRTIO_VENDOR 0x1af4
/* virtio-rng: transitional on a conventional PCI bus, modern on PCIe. */
#define VIRTIO_RNG_DEVICE 0x1005
#define VIRTIO_RNG_DEVICE_MODERN 0x1044

#define PCI_DEVICES "/sys/bus/pci/devices"
#define PCI_DRIVERS "/sys/bus/pci/drivers"
/* "0000:00:01.0" and the like, with room to spare. */
#define PCI_BDF_SIZE 32
#define PCI_DRIVER_SIZE 64

static inline long edu_ms_since(const struct timespec *start)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	return (now.tv_sec - start->tv_sec) * 1000 +
	       (now.tv_nsec - start->tv_nsec) / 1000000;
}

/* sysfs */

/* Write text to a sysfs file in one write(), as sysfs wants. */
static inline int sysfs_write(const char *path, const char *text)
{
	size_t len = strlen(text);
	ssize_t rc;
	int saved;
	int fd;

	fd = open(path, O_WRONLY);
	if (fd < 0)
		return -1;
	rc = write(fd, text, len);
	saved = errno;
	close(fd);
	if (rc == (ssize_t)len)
		return 0;
	errno = rc < 0 ? saved : EIO;
	return -1;
}

/* Read a sysfs file into buf, without its trailing newline. */
static inline int sysfs_read(const char *path, char *buf, size_t size)
{
	ssize_t rc;
	int saved;
	int fd;

	fd = open(path, O_RDONLY);
	if (fd < 0)
		return -1;
	rc = read(fd, buf, size - 1);
	saved = errno;
	close(fd);
	if (rc < 0) {
		errno = saved;
		return -1;
	}
	buf[rc] = 0;
	if (rc && buf[rc - 1] == '\n')
		buf[rc - 1] = 0;
	return 0;
}

/* The last part of what the symbolic link at path points to. */
static inline int sysfs_link_name(const char *path, char *name, size_t size)
{
	char target[PATH_MAX];
	const char *base;
	ssize_t rc;

	rc = readlink(path, target, sizeof(target) - 1);
	if (rc < 0)
		return -1;
	target[rc] = 0;
	base = strrchr(target, '/');
	base = base ? base + 1 : target;
	if (strlen(base) >= size) {
		errno = ENAMETOOLONG;
		return -1;
	}
	strcpy(name, base);
	return 0;
}

/* PCI devices and their drivers */

/* A hexadecimal ID attribute ("vendor", "device") of a device, or -1. */
static inline long pci_id(const char *bdf, const char *attr)
{
	char path[PATH_MAX];
	char buf[32];

	snprintf(path, sizeof(path), PCI_DEVICES "/%s/%s", bdf, attr);
	if (sysfs_read(path, buf, sizeof(buf)))
		return -1;
	return strtol(buf, NULL, 16);
}

static inline bool pci_is(const char *bdf, long vendor, long device)
{
	return pci_id(bdf, "vendor") == vendor &&
	       pci_id(bdf, "device") == device;
}

static inline bool pci_is_edu(const char *bdf)
{
	return pci_is(bdf, EDU_VENDOR, EDU_DEVICE);
}

static inline bool pci_is_virtio_rng(const char *bdf)
{
	return pci_is(bdf, VIRTIO_VENDOR, VIRTIO_RNG_DEVICE) ||
	       pci_is(bdf, VIRTIO_VENDOR, VIRTIO_RNG_DEVICE_MODERN);
}

/* The name of the driver bound to the device, "" when there is none. */
static inline int pci_driver(const char *bdf, char *name, size_t size)
{
	char path[PATH_MAX];

	snprintf(path, sizeof(path), PCI_DEVICES "/%s/driver", bdf);
	if (!sysfs_link_name(path, name, size))
		return 0;
	if (errno != ENOENT)
		return -1;
	name[0] = 0;
	return 0;
}

/* 1 when the device is bound to that driver, 0 when not, -1 on error. */
static inline int pci_has_driver(const char *bdf, const char *driver)
{
	char now[PCI_DRIVER_SIZE];

	if (pci_driver(bdf, now, sizeof(now)))
		return -1;
	return !strcmp(now, driver);
}

/* The device's driver_override, "" when it has none. */
static inline int pci_override(const char *bdf, char *name, size_t size)
{
	char path[PATH_MAX];

	snprintf(path, sizeof(path), PCI_DEVICES "/%s/driver_override", bdf);
	if (sysfs_read(path, name, size))
		return -1;
	if (!strcmp(name, "(null)"))
		name[0] = 0;
	return 0;
}

/* Set the device's driver_override; "" clears it. */
static inline int pci_set_override(const char *bdf, const char *driver)
{
	char path[PATH_MAX];

	snprintf(path, sizeof(path), PCI_DEVICES "/%s/driver_override", bdf);
	return sysfs_write(path, driver[0] ? driver : "\n");
}

/* Unbind the device from its driver; nothing to do when it has none. */
static inline int pci_unbind(const char *bdf)
{
	char path[PATH_MAX];

	snprintf(path, sizeof(path), PCI_DEVICES "/%s/driver", bdf);
	if (access(path, F_OK))
		return errno == ENOENT ? 0 : -1;
	snprintf(path, sizeof(path), PCI_DEVICES "/%s/driver/unbind", bdf);
	return sysfs_write(path, bdf);
}

/*
 * Bind a device that has no driver to that driver. Fails with the error
 * of the driver's probe, or ENODEV when the driver does not match.
 */
static inline int pci_bind(const char *bdf, const char *driver)
{
	char path[PATH_MAX];

	snprintf(path, sizeof(path), PCI_DRIVERS "/%s/bind", driver);
	return sysfs_write(path, bdf);
}

/* Give a device that has no driver to vfio-pci; done if it has it. */
static inline int pci_bind_vfio(const char *bdf)
{
	int rc = pci_has_driver(bdf, "vfio-pci");

	if (rc)
		return rc < 0 ? -1 : 0;
	if (pci_set_override(bdf, "vfio-pci"))
		return -1;
	return pci_bind(bdf, "vfio-pci");
}

/* The number of the device's IOMMU group, or -1. */
static inline int pci_iommu_group(const char *bdf)
{
	char path[PATH_MAX];
	char name[32];

	snprintf(path, sizeof(path), PCI_DEVICES "/%s/iommu_group", bdf);
	if (sysfs_link_name(path, name, sizeof(name)))
		return -1;
	return atoi(name);
}

/*
 * Call fn for each device in the IOMMU group of bdf, other than bdf,
 * until it returns true; copy that one's name to out. 1 when one was
 * found, 0 when not (*others, when not NULL, counts the others), -1 on
 * error.
 */
static inline int pci_group_find(const char *bdf, bool (*fn)(const char *),
				 char *out, size_t size, int *others)
{
	char path[PATH_MAX];
	struct dirent *de;
	int found = 0;
	int count = 0;
	DIR *dir;

	snprintf(path, sizeof(path), PCI_DEVICES "/%s/iommu_group/devices",
		 bdf);
	dir = opendir(path);
	if (!dir)
		return -1;
	while (!found && (de = readdir(dir))) {
		if (de->d_name[0] == '.' || !strcmp(de->d_name, bdf))
			continue;
		count++;
		if (fn && fn(de->d_name) && strlen(de->d_name) < size) {
			strcpy(out, de->d_name);
			found = 1;
		}
	}
	closedir(dir);
	if (others)
		*others = count;
	return found;
}

/*
 * The first edu, in BDF order, alone in its IOMMU group (shared false)
 * or sharing it with other devices (shared true). -1 with ENODEV when
 * there is none.
 */
static inline int edu_find(bool shared, char *bdf, size_t size)
{
	struct dirent **names;
	bool found = false;
	int others;
	int i, n;

	n = scandir(PCI_DEVICES, &names, NULL, alphasort);
	if (n < 0)
		return -1;
	for (i = 0; i != n; i++) {
		const char *name = names[i]->d_name;

		if (found || name[0] == '.' || !pci_is_edu(name) ||
		    pci_group_find(name, NULL, NULL, 0, &others) < 0 ||
		    !!others != shared || strlen(name) >= size)
			continue;
		strcpy(bdf, name);
		found = true;
	}
	for (i = 0; i != n; i++)
		free(names[i]);
	free(names);
	if (found)
		return 0;
	errno = ENODEV;
	return -1;
}

/*
 * The character device of the VFIO device of a device bound to
 * vfio-pci, "/dev/vfio/devices/vfioN". -1 with ENOENT when the kernel
 * made none.
 */
static inline int vfio_cdev_path(const char *bdf, char *path, size_t size)
{
	char dirpath[PATH_MAX];
	struct dirent *de;
	int rc = -1;
	DIR *dir;

	snprintf(dirpath, sizeof(dirpath), PCI_DEVICES "/%s/vfio-dev", bdf);
	dir = opendir(dirpath);
	if (!dir)
		return -1;
	errno = ENOENT;
	while (rc && (de = readdir(dir))) {
		if (strncmp(de->d_name, "vfio", 4))
			continue;
		snprintf(path, size, "/dev/vfio/devices/%s", de->d_name);
		rc = access(path, F_OK);
	}
	closedir(dir);
	return rc;
}

/* What a device is bound to, to put it back. */
struct pci_binding {
	/* "" when there is no such device. */
	char bdf[PCI_BDF_SIZE];
	char driver[PCI_DRIVER_SIZE];
	char override[PCI_DRIVER_SIZE];
};

static inline int pci_binding_save(struct pci_binding *b, const char *bdf)
{
	if (strlen(bdf) >= sizeof(b->bdf)) {
		errno = ENAMETOOLONG;
		return -1;
	}
	strcpy(b->bdf, bdf);
	if (pci_driver(bdf, b->driver, sizeof(b->driver)))
		return -1;
	return pci_override(bdf, b->override, sizeof(b->override));
}

/*
 * Put the device back on the driver it had, with the driver_override it
 * had. Nothing may hold a VFIO file of the device: vfio-pci's unbind
 * waits for them.
 */
static inline int pci_binding_restore(const struct pci_binding *b)
{
	char now[PCI_DRIVER_SIZE];
	bool moved;

	if (!b->bdf[0])
		return 0;
	if (pci_driver(b->bdf, now, sizeof(now)))
		return -1;
	moved = strcmp(now, b->driver);
	if (moved && pci_unbind(b->bdf))
		return -1;
	if (pci_set_override(b->bdf, b->override))
		return -1;
	if (moved && b->driver[0] && pci_bind(b->bdf, b->driver))
		return -1;
	return 0;
}

/* The VFIO device cdev */

static inline int vfio_device_bind_iommufd(int fd, int iommufd, __u32 *devid)
{
	struct vfio_device_bind_iommufd bind = {
		.argsz = sizeof(bind),
		.iommufd = iommufd,
	};
	int rc;

	rc = ioctl(fd, VFIO_DEVICE_BIND_IOMMUFD, &bind);
	if (!rc && devid)
		*devid = bind.out_devid;
	return rc;
}

/*
 * Attach to an IOAS or HWPT; *pt_id becomes the HWPT the device is
 * attached to.
 */
static inline int vfio_device_attach(int fd, __u32 *pt_id)
{
	struct vfio_device_attach_iommufd_pt attach = {
		.argsz = sizeof(attach),
		.pt_id = *pt_id,
	};
	int rc;

	rc = ioctl(fd, VFIO_DEVICE_ATTACH_IOMMUFD_PT, &attach);
	if (!rc)
		*pt_id = attach.pt_id;
	return rc;
}

static inline int vfio_device_detach(int fd)
{
	struct vfio_device_detach_iommufd_pt detach = {
		.argsz = sizeof(detach),
	};

	return ioctl(fd, VFIO_DEVICE_DETACH_IOMMUFD_PT, &detach);
}

/* The edu device through its VFIO device file */

struct edu {
	/* The VFIO device file, bound or from a group. */
	int fd;
	/* Where BAR0 and the config space are in the file. */
	__u64 bar0;
	__u64 config;
};

/* Where region index is in the file, checking it is read/write. */
static inline int vfio_region(int fd, __u32 index, __u64 min_size,
			      __u64 *offset)
{
	struct vfio_region_info info = {
		.argsz = sizeof(info),
		.index = index,
	};
	__u32 rw = VFIO_REGION_INFO_FLAG_READ | VFIO_REGION_INFO_FLAG_WRITE;

	if (ioctl(fd, VFIO_DEVICE_GET_REGION_INFO, &info))
		return -1;
	if (info.size < min_size || (info.flags & rw) != rw) {
		errno = ENXIO;
		return -1;
	}
	*offset = info.offset;
	return 0;
}

/* A read or write of n bytes returned rc: 0, or -1 with errno set. */
static inline int edu_io_result(ssize_t rc, size_t n)
{
	if (rc == (ssize_t)n)
		return 0;
	if (rc >= 0)
		errno = EIO;
	return -1;
}

static inline int edu_read32(const struct edu *edu, __u32 reg, __u32 *val)
{
	return edu_io_result(pread(edu->fd, val, 4, edu->bar0 + reg), 4);
}

static inline int edu_write32(const struct edu *edu, __u32 reg, __u32 val)
{
	return edu_io_result(pwrite(edu->fd, &val, 4, edu->bar0 + reg), 4);
}

/* Let the device decode its BAR and master the bus. */
static inline int edu_bus_master(const struct edu *edu)
{
	__u16 cmd;

	if (edu_io_result(pread(edu->fd, &cmd, 2, edu->config + PCI_COMMAND),
			  2))
		return -1;
	cmd |= PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER;
	return edu_io_result(pwrite(edu->fd, &cmd, 2,
				    edu->config + PCI_COMMAND), 2);
}

/*
 * Find the regions of the VFIO device file fd, check that it is an edu
 * that answers (ENODEV when not) and let it master the bus.
 */
static inline int edu_init(struct edu *edu, int fd)
{
	__u32 val;

	edu->fd = fd;
	if (vfio_region(fd, VFIO_PCI_BAR0_REGION_INDEX, 1 << 20, &edu->bar0) ||
	    vfio_region(fd, VFIO_PCI_CONFIG_REGION_INDEX, 256, &edu->config))
		return -1;
	if (edu_read32(edu, EDU_REG_IDENT, &val))
		return -1;
	if (val != EDU_IDENT) {
		errno = ENODEV;
		return -1;
	}
	if (edu_write32(edu, EDU_REG_LIVENESS, 0x5aa5f00f) ||
	    edu_read32(edu, EDU_REG_LIVENESS, &val))
		return -1;
	if (val != ~0x5aa5f00fU) {
		errno = ENODEV;
		return -1;
	}
	return edu_bus_master(edu);
}

/*
 * Copy count bytes between offset in the device buffer and the bus
 * address iova, to RAM or from it, and wait for the engine to finish.
 * EINVAL for a transfer the device cannot take, ETIMEDOUT when it does
 * not finish. The IOMMU blocking the DMA is not an error: the device
 * finishes all the same.
 */
static inline int edu_dma(const struct edu *edu, bool to_ram, __u64 iova,
			  __u32 offset, __u32 count)
{
	__u64 addr = EDU_BUF_ADDR + offset;
	struct timespec start;
	__u32 cmd;

	if (!count || offset + count >= EDU_BUF_SIZE ||
	    iova + count > EDU_BUS_LIMIT) {
		errno = EINVAL;
		return -1;
	}
	if (edu_write32(edu, EDU_REG_DMA_SRC, to_ram ? addr : iova) ||
	    edu_write32(edu, EDU_REG_DMA_DST, to_ram ? iova : addr) ||
	    edu_write32(edu, EDU_REG_DMA_COUNT, count))
		return -1;
	cmd = EDU_DMA_START | (to_ram ? EDU_DMA_TO_RAM : 0);
	if (edu_write32(edu, EDU_REG_DMA_CMD, cmd))
		return -1;
	clock_gettime(CLOCK_MONOTONIC, &start);
	do {
		usleep(5000);
		if (edu_read32(edu, EDU_REG_DMA_CMD, &cmd))
			return -1;
		if (!(cmd & EDU_DMA_START))
			return 0;
	} while (edu_ms_since(&start) < EDU_DMA_TIMEOUT_MS);
	errno = ETIMEDOUT;
	return -1;
}

/* The kernel log */

/* A /dev/kmsg record is at most this long. */
#define KMSG_RECORD_SIZE 8192

/* /dev/kmsg, from its end: what the kernel logs from now on. */
static inline int kmsg_open(void)
{
	int fd = open("/dev/kmsg", O_RDONLY | O_NONBLOCK);

	if (fd < 0)
		return -1;
	if (lseek(fd, 0, SEEK_END) < 0) {
		close(fd);
		return -1;
	}
	return fd;
}

/*
 * The text of the next record the kernel itself logged (not one that a
 * program wrote to /dev/kmsg), waiting up to timeout_ms for it. -1 with
 * ETIMEDOUT when none came.
 */
static inline int kmsg_next(int fd, char *line, size_t size, int timeout_ms)
{
	char rec[KMSG_RECORD_SIZE];
	struct timespec start;
	char *text, *end;
	ssize_t n;

	clock_gettime(CLOCK_MONOTONIC, &start);
	for (;;) {
		n = read(fd, rec, sizeof(rec) - 1);
		if (n < 0 && errno == EAGAIN) {
			if (edu_ms_since(&start) >= timeout_ms) {
				errno = ETIMEDOUT;
				return -1;
			}
			usleep(10000);
			continue;
		}
		/* EPIPE: records were overwritten; go on with the next. */
		if (n < 0 && errno == EPIPE)
			continue;
		if (n < 0)
			return -1;
		rec[n] = 0;
		/* "prio,seq,usec,flags;text\n": facility 0 is the kernel. */
		text = strchr(rec, ';');
		if (!text || strtoul(rec, NULL, 10) >> 3)
			continue;
		text++;
		end = strchr(text, '\n');
		if (end)
			*end = 0;
		snprintf(line, size, "%s", text);
		return 0;
	}
}

/*
 * Wait up to timeout_ms for a record of the kernel that contains both
 * strings; its text goes to line.
 */
static inline int kmsg_wait(int fd, const char *a, const char *b,
			    int timeout_ms, char *line, size_t size)
{
	struct timespec start;
	long left;

	clock_gettime(CLOCK_MONOTONIC, &start);
	while ((left = timeout_ms - edu_ms_since(&start)) > 0) {
		if (kmsg_next(fd, line, size, left))
			return -1;
		if (strstr(line, a) && strstr(line, b))
			return 0;
	}
	errno = ETIMEDOUT;
	return -1;
}

/* A "Key:" line of /proc/self/status in kB (VmLck, VmPin), or -1. */
static inline long proc_status_kb(const char *key)
{
	size_t len = strlen(key);
	char line[128];
	long kb = -1;
	FILE *f;

	f = fopen("/proc/self/status", "r");
	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (!strncmp(line, key, len))
			kb = strtol(line + len, NULL, 10);
	fclose(f);
	return kb;
}

/*
 * Whether iommufd serves a container file: it answers IOMMU_VFIO_IOAS,
 * with ENODEV while it has no compat IOAS. VFIO's type1 container fails
 * it with EINVAL before VFIO_SET_IOMMU, ENOTTY after.
 */
static inline bool vfio_container_is_iommufd(int container)
{
	struct iommu_vfio_ioas cmd = {
		.size = sizeof(cmd),
		.op = IOMMU_VFIO_IOAS_GET,
	};

	return !ioctl(container, IOMMU_VFIO_IOAS, &cmd) || errno == ENODEV;
}

/*
 * A KVM VM with KVM's VFIO pseudo device, as a VMM makes them: the
 * device's fd, the VM's in @vm; -1 (and no VM) without /dev/kvm.
 */
static inline int kvm_vfio_create(int *vm)
{
	struct kvm_create_device cd = { .type = KVM_DEV_TYPE_VFIO };
	int kvm, err;

	kvm = open("/dev/kvm", O_RDWR);
	if (kvm < 0)
		return -1;
	*vm = ioctl(kvm, KVM_CREATE_VM, 0);
	err = errno;
	close(kvm);
	if (*vm < 0) {
		errno = err;
		return -1;
	}
	if (ioctl(*vm, KVM_CREATE_DEVICE, &cd)) {
		err = errno;
		close(*vm);
		errno = err;
		return -1;
	}
	return cd.fd;
}

/* KVM_DEV_VFIO_FILE_ADD or _DEL (@op) of the VFIO file @fd. */
static inline int kvm_vfio_file(int kvm_dev, __u64 op, int fd)
{
	struct kvm_device_attr attr = {
		.group = KVM_DEV_VFIO_FILE,
		.attr = op,
		.addr = (uintptr_t)&fd,
	};

	return ioctl(kvm_dev, KVM_SET_DEVICE_ATTR, &attr);
}

#endif
