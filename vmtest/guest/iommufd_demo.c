// SPDX-License-Identifier: GPL-2.0
/*
 * A short tour of /dev/iommu, run in the guest by 'make run': a tiny
 * userspace driver for QEMU's edu device. It opens an iommufd context and
 * an IO address space (IOAS), gives an edu to vfio-pci, binds the edu's
 * VFIO device cdev to the context and attaches it to the IOAS, maps two
 * buffers and has the device copy data RAM -> device -> RAM by DMA. Then
 * it has the device write to an IOVA that is no longer mapped, and shows
 * that the IOMMU stopped it. Every step prints what it did, and what the
 * kernel said when it refused. The exit status is 0 when every step
 * worked.
 *
 * edu (QEMU hw/misc/edu.c): BAR0 registers, 32 bits wide, 0x00 ident,
 * 0x80/0x88/0x90 DMA source, destination and count, 0x98 DMA command
 * (bit 0 start, cleared when done; bit 1 device to RAM); a 4 KiB buffer
 * at device address 0x40000. A transfer must end before the last byte of
 * that buffer (one that reaches it stops the VM), and bus addresses are
 * cut to 28 bits. The selftests' vfio_edu.h has the same helpers, with
 * more checks.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include <linux/iommufd.h>
#include <linux/pci_regs.h>
#include <linux/vfio.h>

#define EDU_IDENT 0x010000ed
#define EDU_BUF_ADDR 0x40000
#define EDU_DMA_START 0x1
#define EDU_DMA_TO_RAM 0x2

#define IOVA_SRC 0x100000
#define IOVA_DST 0x200000
#define IOVA_GONE 0x300000
#define DMA_LEN 1024

#define PCI_DEVICES "/sys/bus/pci/devices"

static const char hello[] =
	"Hello from RAM: this line went to the edu device and back by DMA";
static const char victim[] = "still here: the IOMMU kept the device out";

/* What to undo on the way out. */
static int device_fd = -1;
static char bound_bdf[64];

static void cleanup(void)
{
	char path[PATH_MAX];
	int fd;

	if (device_fd >= 0)
		close(device_fd);
	device_fd = -1;
	if (!bound_bdf[0])
		return;
	/* vfio-pci lets the device go once its file is closed. */
	snprintf(path, sizeof(path), PCI_DEVICES "/%s/driver/unbind",
		 bound_bdf);
	fd = open(path, O_WRONLY);
	if (fd >= 0) {
		if (write(fd, bound_bdf, strlen(bound_bdf)) < 0)
			printf("demo: unbinding %s failed: %s\n", bound_bdf,
			       strerror(errno));
		close(fd);
	}
	snprintf(path, sizeof(path), PCI_DEVICES "/%s/driver_override",
		 bound_bdf);
	fd = open(path, O_WRONLY);
	if (fd >= 0) {
		if (write(fd, "\n", 1) < 0)
			printf("demo: clearing driver_override failed: %s\n",
			       strerror(errno));
		close(fd);
	}
	bound_bdf[0] = 0;
}

static int fail(const char *what)
{
	printf("demo: %s failed: %s\n", what, strerror(errno));
	cleanup();
	return 1;
}

static int sysfs_write(const char *path, const char *text)
{
	int fd = open(path, O_WRONLY);
	ssize_t rc;

	if (fd < 0)
		return -1;
	rc = write(fd, text, strlen(text));
	close(fd);
	return rc < 0 ? -1 : 0;
}

/* The last part of the link at path ("" when there is none). */
static void link_name(const char *path, char *name, size_t size)
{
	char target[PATH_MAX];
	ssize_t n = readlink(path, target, sizeof(target) - 1);
	char *base;

	name[0] = 0;
	if (n < 0)
		return;
	target[n] = 0;
	base = strrchr(target, '/');
	base = base ? base + 1 : target;
	if (strlen(base) < size)
		strcpy(name, base);
}

static long read_hex(const char *bdf, const char *attr)
{
	char path[PATH_MAX];
	char buf[32] = "";
	FILE *f;

	snprintf(path, sizeof(path), PCI_DEVICES "/%s/%s", bdf, attr);
	f = fopen(path, "r");
	if (!f)
		return -1;
	if (!fgets(buf, sizeof(buf), f))
		buf[0] = 0;
	fclose(f);
	return strtol(buf, NULL, 16);
}

/* Devices in the IOMMU group of bdf, itself included. */
static int group_size(const char *bdf)
{
	char path[PATH_MAX];
	struct dirent *de;
	int n = 0;
	DIR *dir;

	snprintf(path, sizeof(path), PCI_DEVICES "/%s/iommu_group/devices",
		 bdf);
	dir = opendir(path);
	if (!dir)
		return -1;
	while ((de = readdir(dir)))
		n += de->d_name[0] != '.';
	closedir(dir);
	return n;
}

/* An edu alone in its IOMMU group. */
static int find_edu(char *bdf, size_t size)
{
	struct dirent *de;
	DIR *dir;

	dir = opendir(PCI_DEVICES);
	if (!dir)
		return -1;
	errno = ENODEV;
	while ((de = readdir(dir))) {
		if (read_hex(de->d_name, "vendor") == 0x1234 &&
		    read_hex(de->d_name, "device") == 0x11e8 &&
		    group_size(de->d_name) == 1 && strlen(de->d_name) < size) {
			strcpy(bdf, de->d_name);
			closedir(dir);
			return 0;
		}
	}
	closedir(dir);
	return -1;
}

/* Where region index is in the device file. */
static int region(int fd, unsigned int index, __u64 *offset)
{
	struct vfio_region_info info = {
		.argsz = sizeof(info),
		.index = index,
	};

	if (ioctl(fd, VFIO_DEVICE_GET_REGION_INFO, &info))
		return -1;
	*offset = info.offset;
	return 0;
}

static __u64 bar0;

static int edu_write(__u32 reg, __u32 val)
{
	return pwrite(device_fd, &val, 4, bar0 + reg) == 4 ? 0 : -1;
}

static int edu_read(__u32 reg, __u32 *val)
{
	return pread(device_fd, val, 4, bar0 + reg) == 4 ? 0 : -1;
}

/* Copy DMA_LEN bytes between the device buffer and an IOVA, and wait. */
static int edu_dma(int to_ram, __u64 iova)
{
	__u32 cmd = EDU_DMA_START | (to_ram ? EDU_DMA_TO_RAM : 0);
	int ms;

	if (edu_write(0x80, to_ram ? EDU_BUF_ADDR : iova) ||
	    edu_write(0x88, to_ram ? iova : EDU_BUF_ADDR) ||
	    edu_write(0x90, DMA_LEN) || edu_write(0x98, cmd))
		return -1;
	/* 100 ms of virtual time per transfer; give it 5 s. */
	for (ms = 0; ms < 5000; ms += 10) {
		usleep(10000);
		if (edu_read(0x98, &cmd))
			return -1;
		if (!(cmd & EDU_DMA_START))
			return 0;
	}
	errno = ETIMEDOUT;
	return -1;
}

static int map(int fd, __u32 ioas, void *buf, __u64 iova)
{
	struct iommu_ioas_map cmd = {
		.size = sizeof(cmd),
		.flags = IOMMU_IOAS_MAP_FIXED_IOVA | IOMMU_IOAS_MAP_READABLE |
			 IOMMU_IOAS_MAP_WRITEABLE,
		.ioas_id = ioas,
		.user_va = (uintptr_t)buf,
		.length = 4096,
		.iova = iova,
	};

	return ioctl(fd, IOMMU_IOAS_MAP, &cmd);
}

static int print_ranges(int fd, __u32 ioas)
{
	struct iommu_ioas_iova_ranges ranges = {
		.size = sizeof(ranges),
		.ioas_id = ioas,
	};
	struct iommu_iova_range *list;
	__u32 i;

	/* First ask how many ranges there are, then fetch them. */
	if (!ioctl(fd, IOMMU_IOAS_IOVA_RANGES, &ranges) || errno != EMSGSIZE)
		return -1;
	list = calloc(ranges.num_iovas, sizeof(*list));
	if (!list)
		return -1;
	ranges.allowed_iovas = (uintptr_t)list;
	if (ioctl(fd, IOMMU_IOAS_IOVA_RANGES, &ranges)) {
		free(list);
		return -1;
	}
	for (i = 0; i != ranges.num_iovas; i++)
		printf("demo:   IOVA 0x%016llx - 0x%016llx\n",
		       (unsigned long long)list[i].start,
		       (unsigned long long)list[i].last);
	free(list);
	return 0;
}

/* Print the kernel's DMAR fault line for iova, if it comes within 2 s. */
static void show_fault(int kmsg, __u64 iova)
{
	char rec[8192];
	char needle[64];
	char *text;
	int ms = 0;
	ssize_t n;

	snprintf(needle, sizeof(needle), "fault addr 0x%llx ",
		 (unsigned long long)iova);
	while (kmsg >= 0 && ms < 2000) {
		n = read(kmsg, rec, sizeof(rec) - 1);
		if (n < 0 && errno == EAGAIN) {
			usleep(10000);
			ms += 10;
			continue;
		}
		/* EPIPE: records were overwritten; go on with the next. */
		if (n < 0 && errno == EPIPE)
			continue;
		if (n <= 0)
			break;
		rec[n] = 0;
		/* "prio,seq,usec,flags;text": facility 0 is the kernel's. */
		text = strchr(rec, ';');
		if (text && !(strtoul(rec, NULL, 10) >> 3) &&
		    strstr(text, "DMAR") && strstr(text, needle)) {
			text[strcspn(text, "\n")] = 0;
			printf("demo: the kernel logged: %s\n", text + 1);
			return;
		}
	}
	printf("demo: (no DMAR line for it in /dev/kmsg within 2 s)\n");
}

int main(void)
{
	struct vfio_device_bind_iommufd bind = { .argsz = sizeof(bind) };
	struct vfio_device_attach_iommufd_pt attach = {
		.argsz = sizeof(attach),
	};
	struct iommu_ioas_unmap unmap = { .size = sizeof(unmap) };
	struct vfio_device_info info = { .argsz = sizeof(info) };
	struct iommu_ioas_alloc alloc = { .size = sizeof(alloc) };
	char path[PATH_MAX], driver[64], cdev[64], bdf[64];
	struct dirent *de;
	__u64 config;
	int fd, kmsg;
	__u16 command;
	char *buf;
	__u32 val;
	DIR *dir;

	setvbuf(stdout, NULL, _IOLBF, 0);
	fd = open("/dev/iommu", O_RDWR);
	if (fd < 0)
		return fail("open /dev/iommu");
	printf("demo: opened /dev/iommu (fd %d): a new iommufd context\n", fd);
	if (ioctl(fd, IOMMU_IOAS_ALLOC, &alloc))
		return fail("IOMMU_IOAS_ALLOC");
	printf("demo: IOMMU_IOAS_ALLOC made IO address space %u; it may map\n",
	       alloc.out_ioas_id);
	if (print_ranges(fd, alloc.out_ioas_id))
		return fail("IOMMU_IOAS_IOVA_RANGES");

	/* A device of our own: an edu that shares its IOMMU group with none. */
	if (find_edu(bdf, sizeof(bdf)))
		return fail("finding an edu device alone in its IOMMU group");
	snprintf(path, sizeof(path), PCI_DEVICES "/%s/driver", bdf);
	link_name(path, driver, sizeof(driver));
	printf("demo: found edu device %s, alone in its IOMMU group, driver %s\n",
	       bdf, driver[0] ? driver : "none");
	if (strcmp(driver, "vfio-pci")) {
		snprintf(path, sizeof(path), PCI_DEVICES "/%s/driver_override",
			 bdf);
		if (sysfs_write(path, "vfio-pci"))
			return fail("writing vfio-pci to driver_override");
		snprintf(bound_bdf, sizeof(bound_bdf), "%s", bdf);
		if (sysfs_write("/sys/bus/pci/drivers/vfio-pci/bind", bdf))
			return fail("binding the edu to vfio-pci");
		printf("demo: gave %s to vfio-pci\n", bdf);
	}

	snprintf(path, sizeof(path), PCI_DEVICES "/%s/vfio-dev", bdf);
	dir = opendir(path);
	if (!dir)
		return fail("opening the device's vfio-dev directory");
	cdev[0] = 0;
	while ((de = readdir(dir)))
		if (!strncmp(de->d_name, "vfio", 4))
			snprintf(cdev, sizeof(cdev), "/dev/vfio/devices/%.32s",
				 de->d_name);
	closedir(dir);
	device_fd = open(cdev, O_RDWR);
	if (device_fd < 0)
		return fail("opening the VFIO device cdev");
	printf("demo: opened its VFIO device cdev %s\n", cdev);
	if (ioctl(device_fd, VFIO_DEVICE_GET_INFO, &info))
		printf("demo: unbound, the device refuses VFIO_DEVICE_GET_INFO: %s\n",
		       strerror(errno));

	bind.iommufd = fd;
	if (ioctl(device_fd, VFIO_DEVICE_BIND_IOMMUFD, &bind))
		return fail("VFIO_DEVICE_BIND_IOMMUFD");
	printf("demo: VFIO_DEVICE_BIND_IOMMUFD: the context owns its DMA now\n");
	printf("demo:   and knows it as device %u\n", bind.out_devid);
	attach.pt_id = alloc.out_ioas_id;
	if (ioctl(device_fd, VFIO_DEVICE_ATTACH_IOMMUFD_PT, &attach))
		return fail("VFIO_DEVICE_ATTACH_IOMMUFD_PT");
	printf("demo: VFIO_DEVICE_ATTACH_IOMMUFD_PT: its DMA goes through IO address space %u\n",
	       alloc.out_ioas_id);
	printf("demo:   in IOMMU page table (HWPT) %u, made for it\n",
	       attach.pt_id);
	printf("demo: with the device attached, the IO address space may map\n");
	if (print_ranges(fd, alloc.out_ioas_id))
		return fail("IOMMU_IOAS_IOVA_RANGES");

	if (region(device_fd, VFIO_PCI_BAR0_REGION_INDEX, &bar0) ||
	    region(device_fd, VFIO_PCI_CONFIG_REGION_INDEX, &config))
		return fail("VFIO_DEVICE_GET_REGION_INFO");
	if (edu_read(0x00, &val))
		return fail("reading the edu's ident register");
	if (val != EDU_IDENT) {
		errno = ENODEV;
		return fail("checking the edu's ident register");
	}
	printf("demo: the edu answers through BAR0: ident 0x%08x\n", val);

	buf = mmap(NULL, 3 * 4096, PROT_READ | PROT_WRITE,
		   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (buf == MAP_FAILED)
		return fail("mmap");
	memset(buf, 0, 3 * 4096);
	strcpy(buf, hello);
	if (map(fd, alloc.out_ioas_id, buf, IOVA_SRC) ||
	    map(fd, alloc.out_ioas_id, buf + 4096, IOVA_DST))
		return fail("IOMMU_IOAS_MAP");
	printf("demo: IOMMU_IOAS_MAP: a source page at IOVA 0x%x, an empty page at IOVA 0x%x\n",
	       IOVA_SRC, IOVA_DST);

	if (pread(device_fd, &command, 2, config + PCI_COMMAND) != 2)
		return fail("reading the PCI command register");
	command |= PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER;
	if (pwrite(device_fd, &command, 2, config + PCI_COMMAND) != 2)
		return fail("writing the PCI command register");
	printf("demo: set bus master in the PCI command register: the edu may DMA\n");

	if (edu_dma(0, IOVA_SRC))
		return fail("DMA from IOVA 0x100000 to the device");
	printf("demo: DMA of %d bytes from IOVA 0x%x into the device: done\n",
	       DMA_LEN, IOVA_SRC);
	if (edu_dma(1, IOVA_DST))
		return fail("DMA from the device to IOVA 0x200000");
	printf("demo: DMA of %d bytes from the device to IOVA 0x%x: done\n",
	       DMA_LEN, IOVA_DST);
	printf("demo: the empty page now reads \"%.*s\"\n", DMA_LEN,
	       buf + 4096);
	if (strcmp(buf + 4096, hello)) {
		errno = EIO;
		return fail("checking the data that came back");
	}

	/* A page mapped and unmapped again: its IOVA leads nowhere now. */
	strcpy(buf + 2 * 4096, victim);
	unmap.ioas_id = alloc.out_ioas_id;
	unmap.iova = IOVA_GONE;
	unmap.length = 4096;
	if (map(fd, alloc.out_ioas_id, buf + 2 * 4096, IOVA_GONE) ||
	    ioctl(fd, IOMMU_IOAS_UNMAP, &unmap))
		return fail("IOMMU_IOAS_MAP and IOMMU_IOAS_UNMAP");
	printf("demo: mapped a third page at IOVA 0x%x, reading \"%s\", and unmapped it\n",
	       IOVA_GONE, victim);
	kmsg = open("/dev/kmsg", O_RDONLY | O_NONBLOCK);
	if (kmsg >= 0)
		lseek(kmsg, 0, SEEK_END);
	if (edu_dma(1, IOVA_GONE))
		return fail("DMA from the device to IOVA 0x300000");
	printf("demo: DMA from the device to IOVA 0x%x: the device is done\n",
	       IOVA_GONE);
	printf("demo:   and the unmapped page still reads \"%s\"\n",
	       buf + 2 * 4096);
	if (strcmp(buf + 2 * 4096, victim)) {
		errno = EIO;
		return fail("checking the IOMMU stopped the DMA");
	}
	printf("demo: the IOMMU stopped it; the kernel's log says so in a line\n");
	printf("demo:   \"DMAR: [DMA Write NO_PASID] ... fault addr 0x%x ...\"\n",
	       IOVA_GONE);
	show_fault(kmsg, IOVA_GONE);
	if (kmsg >= 0)
		close(kmsg);

	printf("demo: closing the device file unbinds it from the context\n");
	if (bound_bdf[0])
		printf("demo: and %s goes back to no driver\n", bdf);
	cleanup();
	close(fd);
	printf("demo: closed the context; the kernel freed what was left\n");
	printf("demo: every step worked\n");
	return 0;
}
