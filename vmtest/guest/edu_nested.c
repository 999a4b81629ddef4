// SPDX-License-Identifier: GPL-2.0
/*
 * The init of the guest that QEMU starts inside the test VM in
 * vfio_qemu_nested: that QEMU was given one of the VM's edu devices with
 * -device vfio-pci, through the VFIO container, so this program drives
 * a real (emulated one level up) device, not one of the nested QEMU.
 *
 * It finds the edu in sysfs, maps its BAR0 through resource0, checks the
 * identification, liveness and factorial registers, lets the device
 * master the bus, and has it copy 1 KiB of a locked buffer into the
 * device and back into another page by DMA. The bus addresses it gives
 * the device are guest-physical addresses, read from /proc/self/pagemap:
 * the nested QEMU mapped this guest's RAM into the container at its
 * guest-physical addresses, and the IOMMU of the test VM translates them.
 *
 * It prints "EDU-NESTED: PASS" or "EDU-NESTED: FAIL: <why>" on the
 * console and reboots, which ends QEMU (-no-reboot).
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdint.h>
#include <linux/types.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/reboot.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define EDU_VENDOR 0x1234
#define EDU_DEVICE 0x11e8
#define EDU_BAR_SIZE 0x100000

#define EDU_REG_IDENT 0x00
#define EDU_REG_LIVENESS 0x04
#define EDU_REG_FACTORIAL 0x08
#define EDU_REG_STATUS 0x20
#define EDU_STATUS_COMPUTING 0x1
#define EDU_REG_DMA_SRC 0x80
#define EDU_REG_DMA_DST 0x88
#define EDU_REG_DMA_COUNT 0x90
#define EDU_REG_DMA_CMD 0x98
#define EDU_DMA_START 0x1
#define EDU_DMA_TO_RAM 0x2

/* The device's own buffer, in device addresses. */
#define EDU_BUF_ADDR 0x40000
/*
 * Less than the device's 4 KiB: a transfer that reaches the end of its
 * buffer stops the whole VM (QEMU 7.2's edu_check_range()).
 */
#define DMA_LEN 1024
/* The engine keeps 28 bits of a bus address. */
#define EDU_BUS_LIMIT 0x10000000ULL
/* 100 ms of the test VM's time per transfer, which TCG stretches. */
#define WAIT_SECS 60

#define PAGE_SIZE 4096
#define PCI_DEVICES "/sys/bus/pci/devices"

/* Device memory: every access must reach the device, in order. */
static volatile __u32 *bar;

static void finish(const char *fmt, ...)
{
	va_list ap;

	printf("EDU-NESTED: ");
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
	fflush(stdout);
	sync();
	/* Not power off: this kernel has no ACPI. QEMU runs -no-reboot. */
	reboot(RB_AUTOBOOT);
	exit(1);
}

#define fail(fmt, ...) finish("FAIL: " fmt, ##__VA_ARGS__)

static __u32 rd(unsigned int reg)
{
	return bar[reg / 4];
}

static void wr(unsigned int reg, __u32 val)
{
	bar[reg / 4] = val;
}

static long read_hex(const char *dev, const char *attr)
{
	char path[512], buf[32];
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), PCI_DEVICES "/%s/%s", dev, attr);
	fd = open(path, O_RDONLY);
	if (fd < 0)
		return -1;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return -1;
	buf[n] = 0;
	return strtol(buf, NULL, 16);
}

/* The first edu in BDF order; there is one. */
static int find_edu(char *bdf, size_t size)
{
	struct dirent *de;
	int found = 0;
	DIR *dir;

	dir = opendir(PCI_DEVICES);
	if (!dir)
		return -1;
	while (!found && (de = readdir(dir))) {
		if (de->d_name[0] == '.' ||
		    read_hex(de->d_name, "vendor") != EDU_VENDOR ||
		    read_hex(de->d_name, "device") != EDU_DEVICE ||
		    strlen(de->d_name) >= size)
			continue;
		strcpy(bdf, de->d_name);
		found = 1;
	}
	closedir(dir);
	return found ? 0 : -1;
}

/* Let the device answer memory accesses and master the bus. */
static int enable_device(const char *bdf)
{
	char path[512];
	__u16 cmd;
	int fd, rc = -1;

	snprintf(path, sizeof(path), PCI_DEVICES "/%s/config", bdf);
	fd = open(path, O_RDWR);
	if (fd < 0)
		return -1;
	if (pread(fd, &cmd, 2, 4) == 2) {
		cmd |= 0x2 | 0x4; /* PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER */
		if (pwrite(fd, &cmd, 2, 4) == 2 && pread(fd, &cmd, 2, 4) == 2 &&
		    (cmd & 0x6) == 0x6)
			rc = 0;
	}
	close(fd);
	return rc;
}

/* The guest-physical address of the page at addr, which is present. */
static __u64 phys_addr(const void *addr)
{
	__u64 entry;
	int fd;

	fd = open("/proc/self/pagemap", O_RDONLY);
	if (fd < 0)
		fail("open /proc/self/pagemap: %s", strerror(errno));
	if (pread(fd, &entry, 8, (uintptr_t)addr / PAGE_SIZE * 8) != 8)
		fail("read /proc/self/pagemap: %s", strerror(errno));
	close(fd);
	if (!(entry >> 63))
		fail("page at %p is not present", addr);
	entry &= (1ULL << 55) - 1;
	if (!entry)
		fail("pagemap hides the page frame numbers");
	return entry * PAGE_SIZE;
}

static void dma(__u32 src, __u32 dst, __u32 cmd)
{
	time_t start = time(NULL);

	wr(EDU_REG_DMA_SRC, src);
	wr(EDU_REG_DMA_DST, dst);
	wr(EDU_REG_DMA_COUNT, DMA_LEN);
	wr(EDU_REG_DMA_CMD, cmd | EDU_DMA_START);
	while (rd(EDU_REG_DMA_CMD) & EDU_DMA_START) {
		if (time(NULL) - start > WAIT_SECS)
			fail("DMA %#x -> %#x did not end in %d s", src, dst,
			     WAIT_SECS);
		usleep(1000);
	}
}

int main(void)
{
	__u64 src_pa, dst_pa;
	unsigned char *buf;
	char path[512];
	char bdf[64];
	__u32 val;
	time_t start;
	int fd, i;

	mkdir("/proc", 0755);
	mkdir("/sys", 0755);
	if (mount("proc", "/proc", "proc", 0, NULL) ||
	    mount("sysfs", "/sys", "sysfs", 0, NULL))
		fail("mount /proc and /sys: %s", strerror(errno));

	if (find_edu(bdf, sizeof(bdf)))
		fail("no edu device (%x:%x) in " PCI_DEVICES, EDU_VENDOR,
		     EDU_DEVICE);
	printf("EDU-NESTED: edu at %s\n", bdf);
	if (enable_device(bdf))
		fail("cannot enable memory and bus mastering of %s", bdf);
	snprintf(path, sizeof(path), PCI_DEVICES "/%s/resource0", bdf);
	fd = open(path, O_RDWR | O_SYNC);
	if (fd < 0)
		fail("open %s: %s", path, strerror(errno));
	bar = mmap(NULL, EDU_BAR_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, fd,
		   0);
	if (bar == MAP_FAILED)
		fail("mmap %s: %s", path, strerror(errno));

	/* 0x010000ed: version 1.0 of the device called ed(u). */
	val = rd(EDU_REG_IDENT);
	if ((val & 0xff) != 0xed)
		fail("identification register reads %#x", val);
	wr(EDU_REG_LIVENESS, 0x12345678);
	val = rd(EDU_REG_LIVENESS);
	if (val != ~0x12345678U)
		fail("liveness register reads %#x after 0x12345678", val);
	wr(EDU_REG_FACTORIAL, 10);
	start = time(NULL);
	while (rd(EDU_REG_STATUS) & EDU_STATUS_COMPUTING) {
		if (time(NULL) - start > WAIT_SECS)
			fail("factorial still computing after %d s", WAIT_SECS);
		usleep(1000);
	}
	val = rd(EDU_REG_FACTORIAL);
	if (val != 3628800)
		fail("10! reads %u", val);
	printf("EDU-NESTED: registers: ident %#x, liveness, 10! = %u\n",
	       rd(EDU_REG_IDENT), val);

	/* Two pages: the source, and the destination of the way back. */
	buf = mmap(NULL, 2 * PAGE_SIZE, PROT_READ | PROT_WRITE,
		   MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);
	if (buf == MAP_FAILED)
		fail("mmap buffer: %s", strerror(errno));
	if (mlock(buf, 2 * PAGE_SIZE))
		fail("mlock: %s", strerror(errno));
	for (i = 0; i < PAGE_SIZE; i++) {
		buf[i] = (unsigned char)(i * 7 + 3);
		buf[PAGE_SIZE + i] = 0x5a;
	}
	src_pa = phys_addr(buf);
	dst_pa = phys_addr(buf + PAGE_SIZE);
	printf("EDU-NESTED: buffer pages at guest-physical %#llx and %#llx\n",
	       (unsigned long long)src_pa, (unsigned long long)dst_pa);
	if (src_pa >= EDU_BUS_LIMIT || dst_pa >= EDU_BUS_LIMIT)
		fail("buffer above the 28 bits of bus address edu has");

	dma(src_pa, EDU_BUF_ADDR, 0);
	dma(EDU_BUF_ADDR, dst_pa, EDU_DMA_TO_RAM);
	for (i = 0; i < PAGE_SIZE; i++) {
		unsigned char want = i < DMA_LEN ? buf[i] : 0x5a;

		if (buf[PAGE_SIZE + i] != want)
			fail("byte %d came back as %#x, not %#x", i,
			     buf[PAGE_SIZE + i], want);
	}
	finish("PASS: %d bytes from %#llx through the device to %#llx",
	       DMA_LEN, (unsigned long long)src_pa,
	       (unsigned long long)dst_pa);
	return 0;
}
