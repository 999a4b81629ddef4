/* SPDX-License-Identifier: GPL-2.0-only WITH Linux-syscall-note */
/*
 * mpin: a test-only emulated VFIO device (an mdev) that pins, unpins,
 * reads and writes IOVA on command, so that tests can drive the DMA API
 * of emulated devices from userspace: vfio_pin_pages(), vfio_unpin_pages()
 * and vfio_dma_rw(), whether the device is bound through its cdev to
 * iommufd or opened through its group with a type1 container.
 *
 * Creating one: load mpin.ko, then write a UUID to
 * /sys/class/mdev_bus/mpin/mdev_supported_types/mpin-1/create.
 *
 * The device has one region, index MPIN_CMD_REGION, of the size of struct
 * mpin_cmd at offset 0 of the device file, and no interrupts:
 *  - pwrite() of a whole struct mpin_cmd at offset 0 runs the command;
 *  - pread() of it at offset 0 returns the last command with its results.
 * Any other access fails with EINVAL.
 *
 * The driver keeps what it pinned. MPIN_OP_UNPIN unpins a range only with
 * the IOVA and page count it was pinned with (ENOENT otherwise). When the
 * IOVA space unmaps a pinned range, VFIO calls the driver's dma_unmap(),
 * which unpins every range that overlaps it and counts it in @unmapped.
 * Closing the device unpins what is left.
 *
 * MPIN_OP_UNPIN_SPAN unpins as kvmgt and vfio-ap do: one
 * vfio_unpin_pages() of the span named, whatever it was pinned as (pages
 * pinned one by one, unpinned together) and whether it was pinned at all.
 * The driver forgets the ranges it holds inside the span.
 */
#ifndef _SAMPLES_VFIO_MDEV_MPIN_H
#define _SAMPLES_VFIO_MDEV_MPIN_H

#include <linux/types.h>

#define MPIN_CMD_REGION 0
#define MPIN_DATA_SIZE 64

enum mpin_op {
	MPIN_OP_NOP = 0,	/* only fills in @pinned and @unmapped */
	MPIN_OP_PIN = 1,	/* vfio_pin_pages(iova, npage, prot) */
	MPIN_OP_UNPIN = 2,	/* vfio_unpin_pages(iova, npage) */
	MPIN_OP_READ = 3,	/* vfio_dma_rw(iova, data, length, false) */
	MPIN_OP_WRITE = 4,	/* vfio_dma_rw(iova, data, length, true) */
	MPIN_OP_KVM = 5,	/* @result: 1 if the device opened with a KVM */
	MPIN_OP_UNMAP_DELAY = 6, /* dma_unmap() sleeps @length ms first */
	MPIN_OP_UNPIN_SPAN = 7,	/* vfio_unpin_pages(iova, npage) of any span */
};

/* @prot of MPIN_OP_PIN: the values of IOMMU_READ and IOMMU_WRITE. */
#define MPIN_PROT_READ 1
#define MPIN_PROT_WRITE 2

/**
 * struct mpin_cmd - one command of the mpin device
 * @op: enum mpin_op
 * @prot: MPIN_OP_PIN: MPIN_PROT_*
 * @iova: first IOVA; any byte alignment
 * @length: MPIN_OP_PIN, MPIN_OP_UNPIN and MPIN_OP_UNPIN_SPAN: number of
 *          pages, counted from the page that holds @iova; MPIN_OP_READ
 *          and MPIN_OP_WRITE: bytes, at most MPIN_DATA_SIZE; MPIN_OP_UNMAP_DELAY: how many
 *          milliseconds, at most 10000, every later dma_unmap() sleeps
 *          before it unpins (0: none), so that a test can act while an
 *          unmap waits for the driver
 * @result: out: what the call returned: the pages pinned, 0, or -errno;
 *          MPIN_OP_KVM: 1 if vfio_device::kvm was set when the device was
 *          opened (its VFIO file was added to a KVM VFIO device), else 0
 * @pinned: out: ranges the driver holds pinned after the command
 * @unmapped: out: ranges dma_unmap() has unpinned since the device opened
 * @unmap_calls: out: dma_unmap() calls the device has had since it was
 *               created, whether they unpinned anything or not
 * @data: MPIN_OP_WRITE: in, what to write; MPIN_OP_READ: out, what was
 *        read; MPIN_OP_PIN: out, the first MPIN_DATA_SIZE bytes at @iova,
 *        read through the pinned page (fewer where the page ends, the
 *        rest 0)
 */
struct mpin_cmd {
	__u32 op;
	__u32 prot;
	__u64 iova;
	__u64 length;
	__s32 result;
	__u32 pinned;
	__u32 unmapped;
	__u32 unmap_calls;
	__u8 data[MPIN_DATA_SIZE];
};

#endif
