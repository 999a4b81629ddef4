// SPDX-License-Identifier: GPL-2.0-only
/*
 * The io_pagetable side of in-kernel accesses (access.c): walking a range
 * of IOVA area by area, to pin the pages behind it (iopt_access_pin()),
 * to unpin them, or to copy between a kernel buffer and the memory
 * (iopt_access_rw()). The range must be mapped without a gap.
 *
 * An access pin counts in its area (iopt_area::num_accesses) as well as
 * on the pages, so that unmapping the area first asks the access to let
 * go; an area being unmapped refuses new access pins and copies.
 *
 * Locking: io_pagetable::iova_rwsem for reading while the areas are
 * walked. The memory is pinned before it is taken (iopt_prepin_range(),
 * whose pins the walk then takes over where the areas did not change; an
 * area mapped since then makes the pin start over) and copied after it is
 * dropped, as both may wait for userspace; an unmap of the range waits for
 * such a copy (struct iopt_copying). The lock order is in io_pagetable.h.
 */
#include <linux/iommu.h>
#include <linux/iommufd.h>
#include <linux/kernel.h>
#include <linux/lockdep.h>
#include <linux/mm.h>
#include <linux/sched/signal.h>
#include <linux/slab.h>

#include "io_pagetable.h"
#include "iommufd_private.h"

/**
 * struct iopt_piece_op - what to do on each area of a range of IOVA
 * @fn: called with the area, the first IOVA of the range inside it and
 *      the length of that part
 * @arg: passed to @fn
 */
struct iopt_piece_op {
	int (*fn)(struct iopt_area *area, unsigned long iova,
		  unsigned long len, void *arg);
	void *arg;
};

/*
 * Walk the areas that map [iova, last] without a gap, calling @op on the
 * part of each that the range covers. Stops at the first error. -ENOENT
 * if the range is not mapped in full.
 */
static int iopt_walk_pieces(struct io_pagetable *iopt, unsigned long iova,
			    unsigned long last, const struct iopt_piece_op *op)
{
	unsigned long cur = iova;
	struct iopt_span *span;
	int rc;

	lockdep_assert_held(&iopt->iova_rwsem);

	for (span = iopt_span_first(iopt, iova, last); span;
	     span = iopt_span_next(span, last)) {
		unsigned long len;

		if (span->kind != IOPT_SPAN_AREA || span->start > cur)
			return -ENOENT;
		len = min(last, span->last) - cur + 1;
		rc = op->fn(container_of(span, struct iopt_area, span), cur, len,
			    op->arg);
		if (rc)
			return rc;
		if (span->last >= last)
			return 0;
		cur = span->last + 1;
	}
	return -ENOENT;
}

static unsigned long iopt_area_byte(struct iopt_area *area, unsigned long iova)
{
	return area->start_byte + (iova - area->span.start);
}

/**
 * struct iopt_access_pin_args - state of one iopt_access_pin() walk
 * @iopt: the table
 * @out_pages: where the next area's pages go
 * @first: first IOVA of the whole range
 * @last: last IOVA of the whole range
 * @write: the pages will be written
 * @pre: the pins taken before the walk, which the walk takes over
 * @area_nr: the number of areas walked so far
 * @failed: the area that refused, set on failure
 */
struct iopt_access_pin_args {
	struct io_pagetable *iopt;
	struct page **out_pages;
	unsigned long first;
	unsigned long last;
	bool write;
	struct iopt_prepin *pre;
	unsigned long area_nr;
	struct iopt_area *failed;
};

/*
 * Userspace decides what a device may do with the memory it maps: an
 * access reads only what was mapped readable and writes only what was
 * mapped writeable, as the device's DMA through an IOMMU would.
 */
static bool iopt_access_prot_ok(struct iopt_area *area, bool write)
{
	return area->iommu_prot & (write ? IOMMU_WRITE : IOMMU_READ);
}

/*
 * Pages are handed out whole, one per CPU page of IOVA, so the areas of
 * the range may meet only on page boundaries (two areas inside one IOVA
 * page would hand out two pages for it, one more than the caller has
 * room for), and IOVA and memory must agree on where pages begin.
 */
static bool iopt_access_pin_fits(struct iopt_access_pin_args *args,
				 unsigned long byte, unsigned long iova,
				 unsigned long len)
{
	if (byte % PAGE_SIZE != iova % PAGE_SIZE)
		return false;
	if (iova != args->first && iova % PAGE_SIZE)
		return false;
	return iova + len - 1 == args->last || (iova + len) % PAGE_SIZE == 0;
}

static int iopt_access_pin_area(struct iopt_area *area, unsigned long iova,
				unsigned long len, void *arg)
{
	struct iopt_access_pin_args *args = arg;
	unsigned long byte = iopt_area_byte(area, iova);
	unsigned long n;
	int rc;

	if (iopt_area_unmapping(args->iopt, area) ||
	    !iopt_access_pin_fits(args, byte, iova, len))
		rc = -EINVAL;
	else if (!iopt_access_prot_ok(area, args->write))
		rc = -EPERM;
	else if (iopt_prepin_take(args->pre, args->area_nr++, area->pages,
				  byte, len))
		rc = 0;
	else
		rc = iopt_pages_pin_counted(area->pages, byte, len);
	if (rc) {
		args->failed = area;
		return rc;
	}
	atomic_inc(&area->num_accesses);
	n = (byte + len - 1) / PAGE_SIZE - byte / PAGE_SIZE + 1;
	iopt_pages_get_pages(area->pages, byte, n, args->out_pages);
	args->out_pages += n;
	return 0;
}

static int iopt_access_unpin_area(struct iopt_area *area, unsigned long iova,
				  unsigned long len, void *arg)
{
	if (area == arg)
		return -EINTR;
	if (WARN_ON(!atomic_read(&area->num_accesses)))
		return 0;
	atomic_dec(&area->num_accesses);
	iopt_pages_pin_put(area->pages, iopt_area_byte(area, iova), len);
	return 0;
}

/**
 * iopt_access_pin() - pin the pages behind a range of IOVA for the kernel
 * @iopt: the table
 * @iova: first IOVA
 * @last: last IOVA, inclusive
 * @out_pages: filled with one page per CPU page the range touches
 * @write: the pages will be written
 * @why: IOPT_WHY_LEN bytes for the reason of a failure, or NULL
 *
 * The pages stay pinned until iopt_access_unpin() of the same range, which
 * unmapping the range waits for.
 *
 * Return: 0; -ENOENT if part of the range is not mapped; -EINVAL if an
 * area is being unmapped, maps IOVA at an offset into its pages, or two
 * areas of the range meet inside a page; -EPERM
 * for a write to memory mapped read-only or a read of memory mapped
 * write-only; -EINTR if the task is killed while the
 * areas keep changing under the pin; or an error of iopt_pages_pin_get().
 */
int iopt_access_pin(struct io_pagetable *iopt, unsigned long iova,
		    unsigned long last, struct page **out_pages, bool write,
		    char *why)
{
	struct iopt_access_pin_args args = {
		.iopt = iopt,
		.out_pages = out_pages,
		.first = iova,
		.last = last,
		.write = write,
	};
	struct iopt_piece_op pin = { iopt_access_pin_area, &args };
	struct iopt_piece_op unpin = { iopt_access_unpin_area };
	struct iopt_prepin pre;
	int rc;

	for (;;) {
		/* Unless the areas changed meanwhile, the walk takes these. */
		rc = iopt_prepin_range(iopt, iova, last, &pre, why);
		if (rc)
			return rc;
		/* Each try starts afresh: a stale @failed would cut the undo. */
		args.pre = &pre;
		args.area_nr = 0;
		args.out_pages = out_pages;
		args.failed = NULL;
		down_read(&iopt->iova_rwsem);
		rc = iopt_walk_pieces(iopt, iova, last, &pin);
		/* Undo the areas before the one that failed. */
		if (rc) {
			unpin.arg = args.failed;
			iopt_walk_pieces(iopt, iova, last, &unpin);
		}
		up_read(&iopt->iova_rwsem);
		iopt_prepin_release(&pre);
		/* -EAGAIN: an area mapped since the pre-pin; pin it too. */
		if (rc != -EAGAIN)
			return rc;
		if (fatal_signal_pending(current))
			return -EINTR;
	}
}

/**
 * iopt_access_unpin() - undo iopt_access_pin()
 * @iopt: the table
 * @iova: first IOVA, as given to iopt_access_pin()
 * @last: last IOVA, as given to iopt_access_pin()
 */
void iopt_access_unpin(struct io_pagetable *iopt, unsigned long iova,
		       unsigned long last)
{
	static const struct iopt_piece_op unpin = { iopt_access_unpin_area };

	down_read(&iopt->iova_rwsem);
	/* Unmap waits for the pins, so the areas are all still here. */
	WARN_ON(iopt_walk_pieces(iopt, iova, last, &unpin));
	up_read(&iopt->iova_rwsem);
}

/**
 * struct iopt_access_rw_args - state of one iopt_access_rw() walk
 * @iopt: the table
 * @pieces: a struct iopt_map_piece for each area of the range
 * @first: the piece of the first area, which needs no allocation: an
 *         access mostly copies a few bytes out of one area
 * @write: the copy goes into the IOVA
 */
struct iopt_access_rw_args {
	struct io_pagetable *iopt;
	struct list_head pieces;
	struct iopt_map_piece first;
	bool write;
};

static int iopt_access_rw_area(struct iopt_area *area, unsigned long iova,
			       unsigned long len, void *arg)
{
	struct iopt_access_rw_args *args = arg;
	struct iopt_map_piece *piece;

	if (iopt_area_unmapping(args->iopt, area))
		return -EINVAL;
	if (!iopt_access_prot_ok(area, args->write))
		return -EPERM;
	if (list_empty(&args->pieces)) {
		piece = &args->first;
	} else {
		piece = kzalloc(sizeof(*piece), GFP_KERNEL_ACCOUNT);
		if (!piece)
			return -ENOMEM;
	}
	kref_get(&area->pages->kref);
	piece->pages = area->pages;
	piece->start_byte = iopt_area_byte(area, iova);
	piece->length = len;
	list_add_tail(&piece->next, &args->pieces);
	return 0;
}

/**
 * iopt_access_rw() - copy between a kernel buffer and IOVA
 * @iopt: the table
 * @iova: first IOVA
 * @last: last IOVA, inclusive
 * @data: the kernel buffer, @last - @iova + 1 bytes
 * @flags: IOMMUFD_ACCESS_RW_* flags, see iopt_pages_rw()
 *
 * The range is looked up under the table's lock, but the copy runs without
 * it, as it may fault on user memory and wait for userspace; an unmap of
 * the range waits for the copy instead (struct iopt_copying).
 *
 * Return: 0; -ENOENT if part of the range is not mapped; -EPERM for a
 * write to memory mapped read-only or a read of memory mapped write-only;
 * -EINVAL while the range is being unmapped;
 * -EFAULT, -ENOMEM or -EINTR from reaching the memory.
 */
int iopt_access_rw(struct io_pagetable *iopt, unsigned long iova,
		   unsigned long last, void *data, unsigned int flags)
{
	struct iopt_access_rw_args args = {
		.iopt = iopt,
		.pieces = LIST_HEAD_INIT(args.pieces),
		.write = flags & IOMMUFD_ACCESS_RW_WRITE,
	};
	struct iopt_copying copying = { .start = iova, .last = last };
	struct iopt_piece_op rw = { iopt_access_rw_area, &args };
	struct iopt_map_piece *piece, *tmp;
	bool listed;
	int rc;

	down_read(&iopt->iova_rwsem);
	rc = iopt_walk_pieces(iopt, iova, last, &rw);
	/* Listed before the lock goes: an unmap that follows sees it. */
	listed = !rc;
	if (listed) {
		spin_lock(&iopt->copying_lock);
		list_add(&copying.next, &iopt->copying);
		spin_unlock(&iopt->copying_lock);
	}
	up_read(&iopt->iova_rwsem);
	list_for_each_entry_safe(piece, tmp, &args.pieces, next) {
		if (!rc)
			rc = iopt_pages_rw(piece->pages, piece->start_byte,
					   data, piece->length, flags);
		data += piece->length;
		iopt_put_pages(piece->pages);
		if (piece != &args.first)
			kfree(piece);
	}
	if (listed) {
		spin_lock(&iopt->copying_lock);
		list_del(&copying.next);
		spin_unlock(&iopt->copying_lock);
		wake_up_all(&iopt->copying_done);
	}
	return rc;
}
