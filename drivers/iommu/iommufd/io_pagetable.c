// SPDX-License-Identifier: GPL-2.0-only
/*
 * The io_pagetable: the IOVA space of an IOAS and the user memory mapped
 * in it.
 *
 * This file holds the table itself (init, destroy, fdinfo, the reasons
 * operations give) and what changes its mappings: mapping memory as areas
 * (IOMMU_IOAS_MAP, and IOMMU_IOAS_COPY through the pieces of another
 * table), unmapping areas whole, and cutting them for VFIO type1 v1. The
 * other files of the layer are listed in io_pagetable.h.
 *
 * Locking: io_pagetable::iova_rwsem, taken here for writing to change the
 * areas; the memory a map needs is pinned before it is taken. What it
 * protects and the lock order are in io_pagetable.h.
 */
#include <linux/err.h>
#include <linux/iommu.h>
#include <linux/kernel.h>
#include <linux/lockdep.h>
#include <linux/mm.h>
#include <linux/overflow.h>
#include <linux/seq_file.h>
#include <linux/slab.h>

#include "io_pagetable.h"
#include "iommufd_private.h"

/* Set up @area to map @length bytes of @pages from @start_byte at @iova. */
static int iopt_area_prepare(struct io_pagetable *iopt, struct iopt_area *area,
			     struct iopt_pages *pages, unsigned long iova,
			     unsigned long start_byte, unsigned long length,
			     int iommu_prot, char *why)
{
	lockdep_assert_held_write(&iopt->iova_rwsem);

	if ((iommu_prot & IOMMU_WRITE) && !pages->writable) {
		iopt_why(why,
			 "IOVA 0x%lx would be writable but its source is mapped read-only",
			 iova);
		return -EPERM;
	}
	/*
	 * Every piece must start and end on an IO page and meet its memory
	 * there, or the domains could not map it: a COPY of areas that meet
	 * inside a page can make such pieces.
	 */
	if (((start_byte % PAGE_SIZE) | iova | length) &
	    (iopt->iova_alignment - 1)) {
		iopt_why(why,
			 "a piece at IOVA 0x%lx of 0x%lx bytes does not meet the IO page size 0x%lx",
			 iova, length, iopt->iova_alignment);
		return -EINVAL;
	}
	area->span.kind = IOPT_SPAN_AREA;
	area->span.start = iova;
	if (check_add_overflow(iova, length - 1, &area->span.last))
		return -EOVERFLOW;
	area->start_byte = start_byte;
	area->iommu_prot = iommu_prot;
	return 0;
}

/* Take the pieces before @failed back out of the domains. */
static void iopt_unuse_pieces(struct io_pagetable *iopt,
			      struct list_head *pieces,
			      struct iopt_map_piece *failed)
{
	struct iopt_map_piece *piece;

	lockdep_assert_held_write(&iopt->iova_rwsem);

	list_for_each_entry(piece, pieces, next) {
		if (piece == failed)
			break;
		iopt_area_unuse(iopt, piece->area);
	}
}

/**
 * iopt_prepin_release() - drop what iopt_prepin_range() took
 * @pre: filled by iopt_prepin_range(), or zeroed
 */
void iopt_prepin_release(struct iopt_prepin *pre)
{
	unsigned long i;

	for (i = 0; i != pre->n; i++) {
		struct iopt_prepin_slice *slice = &pre->slices[i];

		if (i < pre->pinned && !slice->taken)
			iopt_pages_pin_put(slice->pages, slice->byte,
					   slice->length);
		iopt_put_pages(slice->pages);
	}
	if (pre->slices != &pre->one)
		kvfree(pre->slices);
	pre->slices = NULL;
	pre->n = 0;
	pre->pinned = 0;
}

/**
 * iopt_prepin_take() - take over a pin of iopt_prepin_range()
 * @pre: filled by iopt_prepin_range()
 * @i: the slice, in the order of the range's areas
 * @pages: the memory the caller would pin
 * @byte: the offset into @pages of the first byte the caller would pin
 * @length: the bytes the caller would pin
 *
 * A caller that pins, under the table's lock, exactly what slice @i pinned
 * before the lock (the layout did not change meanwhile) can have that pin
 * instead of counting a second one, which iopt_prepin_release() would drop
 * again at once.
 *
 * Return: true if the pin is now the caller's, to drop with
 * iopt_pages_pin_put(); false if the caller must pin.
 */
bool iopt_prepin_take(struct iopt_prepin *pre, unsigned long i,
		      struct iopt_pages *pages, unsigned long byte,
		      unsigned long length)
{
	struct iopt_prepin_slice *slice;

	if (i >= pre->pinned)
		return false;
	slice = &pre->slices[i];
	if (slice->taken || slice->pages != pages || slice->byte != byte ||
	    slice->length != length)
		return false;
	slice->taken = true;
	return true;
}

/**
 * iopt_prepin_range() - pin a range's memory before taking locks
 * @iopt: the table
 * @start: first IOVA
 * @last: last IOVA, inclusive
 * @pre: set to what was taken, for iopt_prepin_release()
 * @why: IOPT_WHY_LEN bytes for the reason of a failure, or NULL
 *
 * Pins the memory every area maps inside [@start, @last], with no lock
 * held, so that a pin taken afterwards under a lock only counts
 * (see pages.c: pinning may wait for userspace). The areas may change
 * meanwhile; the pins then are merely unused, as the pins under the lock
 * decide.
 *
 * Context: may wait for userspace; hold no iommufd lock.
 * Return: 0, or an error of iopt_pages_pin_get(); on failure nothing is
 * held.
 */
int iopt_prepin_range(struct io_pagetable *iopt, unsigned long start,
		      unsigned long last, struct iopt_prepin *pre, char *why)
{
	struct iopt_span *span;
	unsigned long n = 0;
	int rc = 0;

	*pre = (struct iopt_prepin){};
	down_read(&iopt->iova_rwsem);
	for (span = iopt_span_first(iopt, start, last); span;
	     span = iopt_span_next(span, last))
		n += span->kind == IOPT_SPAN_AREA;
	if (n == 1)
		pre->slices = &pre->one;
	else if (n)
		pre->slices = kvcalloc(n, sizeof(*pre->slices),
				       GFP_KERNEL_ACCOUNT | __GFP_NOWARN);
	if (n && !pre->slices)
		rc = -ENOMEM;
	for (span = iopt_span_first(iopt, start, last); span && !rc;
	     span = iopt_span_next(span, last)) {
		struct iopt_prepin_slice *slice = &pre->slices[pre->n];
		unsigned long from = max(start, span->start);
		struct iopt_area *area;

		if (span->kind != IOPT_SPAN_AREA)
			continue;
		area = container_of(span, struct iopt_area, span);
		kref_get(&area->pages->kref);
		slice->pages = area->pages;
		slice->byte = area->start_byte + (from - span->start);
		slice->length = min(last, span->last) - from + 1;
		pre->n++;
	}
	up_read(&iopt->iova_rwsem);

	while (!rc && pre->pinned != pre->n) {
		struct iopt_prepin_slice *slice = &pre->slices[pre->pinned];

		rc = iopt_pages_pin_get(slice->pages, slice->byte,
					slice->length, why);
		if (!rc)
			pre->pinned++;
	}
	if (rc)
		iopt_prepin_release(pre);
	return rc;
}

/* Drop the pins iopt_pin_pieces() took that no area took over. */
static void iopt_unpin_pieces(struct list_head *pieces)
{
	struct iopt_map_piece *piece;

	list_for_each_entry(piece, pieces, next) {
		if (!piece->pinned)
			continue;
		iopt_pages_pin_put(piece->pages, piece->start_byte,
				   piece->length);
		piece->pinned = false;
	}
}

/* Pin the memory of every piece, without the table's lock. */
static int iopt_pin_pieces(struct list_head *pieces, char *why)
{
	struct iopt_map_piece *piece;
	int rc;

	list_for_each_entry(piece, pieces, next) {
		if (piece->pinned)
			continue;
		rc = iopt_pages_pin_get(piece->pages, piece->start_byte,
					piece->length, why);
		if (rc) {
			iopt_unpin_pieces(pieces);
			return rc;
		}
		piece->pinned = true;
	}
	return 0;
}

/*
 * Check that @length bytes may be mapped at the fixed *@iova, or choose
 * the IOVA for them, for the pieces of iopt_map_pieces().
 */
static int iopt_place_pieces(struct io_pagetable *iopt,
			     struct list_head *pieces, unsigned long length,
			     unsigned long *iova, bool fixed, char *why)
{
	struct iopt_map_piece *piece;

	lockdep_assert_held(&iopt->iova_rwsem);

	if (!length || (length & (iopt->iova_alignment - 1))) {
		iopt_why(why,
			 "length 0x%lx is not a multiple of 0x%lx, the IOVA alignment of the IOAS",
			 length, iopt->iova_alignment);
		return -EINVAL;
	}
	if (fixed)
		return iopt_check_fixed_iova(iopt, *iova, length, why);
	piece = list_first_entry(pieces, struct iopt_map_piece, next);
	return iopt_alloc_iova(iopt, iova,
			       iopt_pages_align_hint(piece->pages) +
				       piece->start_byte,
			       length, why);
}

/**
 * iopt_map_pieces() - map a list of memory pieces at consecutive IOVAs
 * @iopt: the table
 * @pieces: list of struct iopt_map_piece, in IOVA order
 * @length: total length of the pieces
 * @iova: the IOVA to map at if @fixed, else set to the IOVA chosen
 * @iommu_prot: IOMMU_READ/IOMMU_WRITE/IOMMU_CACHE bits
 * @fixed: whether *@iova is given by the caller
 * @why: IOPT_WHY_LEN bytes for the reason of a failure, or NULL
 *
 * All pieces are mapped or none is. On success each piece's area and its
 * reference to the pages move into the table, and the piece's pointers are
 * cleared; iopt_free_pieces() releases whatever is left either way.
 *
 * Return: 0, or -EINVAL, -EOVERFLOW, -EEXIST, -EPERM, -ENOSPC, -ENOMEM.
 */
int iopt_map_pieces(struct io_pagetable *iopt, struct list_head *pieces,
		    unsigned long length, unsigned long *iova, int iommu_prot,
		    bool fixed, char *why)
{
	struct iopt_map_piece *piece;
	bool pinned = false;
	unsigned long cur;
	int rc;

	list_for_each_entry(piece, pieces, next) {
		piece->area = kzalloc(sizeof(*piece->area), GFP_KERNEL_ACCOUNT);
		if (!piece->area)
			return -ENOMEM;
	}

	/*
	 * Pinning can take seconds, or wait for userspace (a FUSE file): do
	 * it before taking the table's lock when the table has domains.
	 * Should the first domain come meanwhile, pin and look again. A map
	 * that has no place to go fails before it pins, as it would without
	 * the pin (EEXIST rather than EFAULT for bad memory at a busy IOVA);
	 * the place is looked for again under the lock.
	 */
	for (;;) {
		if (!pinned && !xa_empty(&iopt->domains)) {
			down_read(&iopt->iova_rwsem);
			rc = iopt_place_pieces(iopt, pieces, length, iova, fixed,
					       why);
			up_read(&iopt->iova_rwsem);
			if (!rc)
				rc = iopt_pin_pieces(pieces, why);
			if (rc)
				return rc;
			pinned = true;
		}
		down_write(&iopt->iova_rwsem);
		if (pinned || xa_empty(&iopt->domains))
			break;
		up_write(&iopt->iova_rwsem);
	}
	rc = iopt_place_pieces(iopt, pieces, length, iova, fixed, why);
	if (rc)
		goto out_unlock;

	/* Check every piece before changing anything. */
	cur = *iova;
	list_for_each_entry(piece, pieces, next) {
		rc = iopt_area_prepare(iopt, piece->area, piece->pages, cur,
				       piece->start_byte, piece->length,
				       iommu_prot, why);
		if (rc)
			goto out_unlock;
		cur += piece->length;
	}
	list_for_each_entry(piece, pieces, next) {
		piece->area->pages = piece->pages;
		rc = iopt_area_use(iopt, piece);
		if (rc) {
			iopt_unuse_pieces(iopt, pieces, piece);
			goto out_unlock;
		}
	}
	list_for_each_entry(piece, pieces, next) {
		iopt_span_insert(iopt, &piece->area->span);
		piece->area = NULL;
		/*
		 * The area took the piece's reference; a pin the area did not
		 * take over (the domains went meanwhile) needs one of its own
		 * until it is dropped below.
		 */
		if (piece->pinned)
			kref_get(&piece->pages->kref);
		else
			piece->pages = NULL;
	}
out_unlock:
	up_write(&iopt->iova_rwsem);
	/* Pins no area took over: the map failed or the domains went. */
	iopt_unpin_pieces(pieces);
	return rc;
}

/* What a piece still owns once iopt_map_pieces() is done with it. */
static void iopt_release_piece(struct iopt_map_piece *piece)
{
	kfree(piece->area);
	if (piece->pages)
		iopt_put_pages(piece->pages);
}

/**
 * iopt_free_pieces() - release a list of pieces
 * @pieces: list of struct iopt_map_piece allocated with kmalloc
 *
 * Drops the page references and frees the areas the pieces still own.
 */
void iopt_free_pieces(struct list_head *pieces)
{
	struct iopt_map_piece *piece, *tmp;

	list_for_each_entry_safe(piece, tmp, pieces, next) {
		list_del(&piece->next);
		iopt_release_piece(piece);
		kfree(piece);
	}
}

/*
 * Map @pages, made by the caller for this one map, as the only piece: on
 * the stack, since nothing outlives the call. Consumes the caller's
 * reference to @pages.
 */
static int iopt_map_new_pages(struct io_pagetable *iopt,
			      struct iopt_pages *pages,
			      unsigned long start_byte, unsigned long length,
			      unsigned long *iova, int iommu_prot, bool fixed,
			      char *why)
{
	struct iopt_map_piece piece = {
		.pages = pages,
		.start_byte = start_byte,
		.length = length,
	};
	LIST_HEAD(pieces);
	int rc;

	list_add(&piece.next, &pieces);
	rc = iopt_map_pieces(iopt, &pieces, length, iova, iommu_prot, fixed,
			     why);
	iopt_release_piece(&piece);
	return rc;
}

/**
 * iopt_map_user_pages() - map user memory into an IO address space
 * @iopt: the table
 * @iova: the IOVA to map at if @fixed, else set to the IOVA chosen
 * @uptr: first byte of user memory
 * @length: number of bytes
 * @iommu_prot: IOMMU_READ/IOMMU_WRITE/IOMMU_CACHE bits
 * @fixed: whether *@iova is given by the caller
 * @account_mode: where to charge the pinned memory
 * @why: IOPT_WHY_LEN bytes for the reason of a failure, or NULL
 *
 * Nothing is pinned while the table has no domain; otherwise the memory
 * is pinned and charged here, before the table is locked.
 *
 * Return: 0, or a negative errno as for iopt_map_pieces() and
 * iopt_alloc_pages().
 */
int iopt_map_user_pages(struct io_pagetable *iopt, unsigned long *iova,
			void __user *uptr, unsigned long length, int iommu_prot,
			bool fixed, enum iopt_account_mode account_mode,
			char *why)
{
	struct iopt_pages *pages;

	pages = iopt_alloc_pages(uptr, length, iommu_prot & IOMMU_WRITE,
				 account_mode, iopt->usage);
	if (IS_ERR(pages))
		return PTR_ERR(pages);
	return iopt_map_new_pages(iopt, pages, uptr - pages->uptr, length,
				  iova, iommu_prot, fixed, why);
}

/**
 * iopt_map_file_pages() - map part of a file into an IO address space
 * @iopt: the table
 * @iova: the IOVA to map at if @fixed, else set to the IOVA chosen
 * @file: a shmem or hugetlbfs file, which the mapping holds
 * @start: offset into the file of the first byte
 * @length: number of bytes
 * @iommu_prot: IOMMU_READ/IOMMU_WRITE/IOMMU_CACHE bits
 * @fixed: whether *@iova is given by the caller
 * @account_mode: where to charge the pinned memory
 * @why: IOPT_WHY_LEN bytes for the reason of a failure, or NULL
 *
 * As iopt_map_user_pages(), with the file's pages in place of user memory.
 *
 * Return: 0, or a negative errno as for iopt_map_pieces() and
 * iopt_alloc_file_pages(); -EINVAL also when the IOAS has a domain and
 * the range reaches past the end of the file.
 */
int iopt_map_file_pages(struct io_pagetable *iopt, unsigned long *iova,
			struct file *file, u64 start, unsigned long length,
			int iommu_prot, bool fixed,
			enum iopt_account_mode account_mode, char *why)
{
	struct iopt_pages *pages;

	pages = iopt_alloc_file_pages(file, start, length,
				      iommu_prot & IOMMU_WRITE, account_mode,
				      iopt->usage);
	if (IS_ERR(pages))
		return PTR_ERR(pages);
	return iopt_map_new_pages(iopt, pages, start % PAGE_SIZE, length,
				  iova, iommu_prot, fixed, why);
}

/**
 * iopt_get_pieces() - describe the memory mapped at a range of IOVA
 * @iopt: the table
 * @iova: first IOVA
 * @length: number of bytes
 * @pieces: list to add one struct iopt_map_piece per area to
 *
 * The range must be mapped without gaps. Each piece holds a reference to
 * its pages; release them with iopt_free_pieces(), also on failure.
 *
 * Return: 0, -EINVAL for a zero length, -EOVERFLOW, -ENOENT when part of
 * the range is not mapped, -ENOMEM.
 */
int iopt_get_pieces(struct io_pagetable *iopt, unsigned long iova,
		    unsigned long length, struct list_head *pieces)
{
	unsigned long last, cur = iova;
	struct iopt_span *span;
	int rc = 0;

	if (!length)
		return -EINVAL;
	if (check_add_overflow(iova, length - 1, &last))
		return -EOVERFLOW;

	down_read(&iopt->iova_rwsem);
	for (span = iopt_span_first(iopt, iova, last); span;
	     span = iopt_span_next(span, last)) {
		struct iopt_area *area =
			container_of(span, struct iopt_area, span);
		struct iopt_map_piece *piece;

		if (span->kind != IOPT_SPAN_AREA || span->start > cur)
			break;
		piece = kzalloc(sizeof(*piece), GFP_KERNEL_ACCOUNT);
		if (!piece) {
			rc = -ENOMEM;
			goto out_unlock;
		}
		piece->pages = area->pages;
		kref_get(&piece->pages->kref);
		piece->start_byte = area->start_byte + (cur - span->start);
		piece->length = min(last, span->last) - cur + 1;
		list_add_tail(&piece->next, pieces);
		if (span->last >= last)
			goto out_unlock;
		cur = span->last + 1;
	}
	rc = -ENOENT;
out_unlock:
	up_read(&iopt->iova_rwsem);
	return rc;
}

static void iopt_area_destroy(struct io_pagetable *iopt,
			      struct iopt_area *area)
{
	lockdep_assert_held_write(&iopt->iova_rwsem);

	iopt_area_unuse(iopt, area);
	iopt_span_remove(iopt, &area->span);
	iopt_put_pages(area->pages);
	kfree(area);
}

/* How often unmap asks in-kernel accesses to let go of one area. */
#define IOPT_UNMAP_ACCESS_TRIES 16

/**
 * iopt_area_unmapping() - is an unmap waiting for accesses to leave @area?
 * @iopt: the table, whose iova_rwsem is held
 * @area: an area of the table
 *
 * Return: true if new access pins and copies must keep off @area.
 */
bool iopt_area_unmapping(struct io_pagetable *iopt, struct iopt_area *area)
{
	struct iopt_unmapping *u;

	lockdep_assert_held(&iopt->iova_rwsem);

	list_for_each_entry(u, &iopt->unmapping, next)
		if (u->start <= area->span.last && u->last >= area->span.start)
			return true;
	return false;
}

/* Does a copy of iopt_access_rw() in flight reach into [start, last]? */
static bool iopt_copying_in(struct io_pagetable *iopt, unsigned long start,
			    unsigned long last)
{
	struct iopt_copying *c;
	bool found = false;

	spin_lock(&iopt->copying_lock);
	list_for_each_entry(c, &iopt->copying, next) {
		if (c->start <= last && c->last >= start) {
			found = true;
			break;
		}
	}
	spin_unlock(&iopt->copying_lock);
	return found;
}

/*
 * Unmap every area inside [start, last]. Areas are unmapped whole: if any
 * area sticks out of the range, nothing is unmapped. In-kernel accesses
 * that pinned memory of an area are told to unpin it first, and copies in
 * flight into the range are waited for; the table lock is dropped
 * meanwhile, the range refuses new access pins and copies (struct
 * iopt_unmapping), and is looked at again after.
 */
static int iopt_unmap_range(struct io_pagetable *iopt, unsigned long start,
			    unsigned long last, unsigned long *unmapped,
			    char *why)
{
	struct iopt_unmapping unmapping = {
		.next = LIST_HEAD_INIT(unmapping.next),
		.start = start,
		.last = last,
	};
	unsigned long bytes = 0, asked = 0, length;
	struct iopt_area *area, *busy;
	struct iopt_span *span, *next;
	unsigned int tries = 0;
	int rc = 0;

again:
	down_write(&iopt->iova_rwsem);
	/* Refuse a cut before asking anyone to unpin: one walk for both. */
	busy = NULL;
	for (span = iopt_span_first(iopt, start, last); span;
	     span = iopt_span_next(span, last)) {
		if (span->kind != IOPT_SPAN_AREA)
			continue;
		if (span->start < start || span->last > last) {
			iopt_why(why,
				 "IOVA 0x%lx-0x%lx would cut the mapping at IOVA 0x%lx-0x%lx, which is unmapped whole",
				 start, last, span->start, span->last);
			rc = -ENOENT;
			goto out_refuse;
		}
		area = container_of(span, struct iopt_area, span);
		if (!busy && atomic_read(&area->num_accesses))
			busy = area;
	}
	if (busy) {
		/* Count the attempts per area, not per unmap. */
		tries = (tries && asked == busy->span.start) ? tries + 1 : 1;
		asked = busy->span.start;
		if (tries > IOPT_UNMAP_ACCESS_TRIES) {
			pr_warn_ratelimited("iommufd: an in-kernel access does not unpin IOVA 0x%lx\n",
					    asked);
			rc = -EBUSY;
			goto out_refuse;
		}
		if (list_empty(&unmapping.next))
			list_add(&unmapping.next, &iopt->unmapping);
		/* The area may be gone once the lock is dropped. */
		length = iopt_area_length(busy);
		up_write(&iopt->iova_rwsem);
		iommufd_access_notify_unmap(iopt, asked, length);
		goto again;
	}
	if (iopt_copying_in(iopt, start, last)) {
		if (list_empty(&unmapping.next))
			list_add(&unmapping.next, &iopt->unmapping);
		up_write(&iopt->iova_rwsem);
		/* A copy may wait for userspace: only a kill ends this early. */
		if (wait_event_killable(iopt->copying_done,
					!iopt_copying_in(iopt, start, last))) {
			down_write(&iopt->iova_rwsem);
			rc = -EINTR;
			goto out_refuse;
		}
		goto again;
	}
	for (span = iopt_span_first(iopt, start, last); span; span = next) {
		next = iopt_span_next(span, last);
		if (span->kind != IOPT_SPAN_AREA)
			continue;
		bytes += span->last - span->start + 1;
		iopt_area_destroy(iopt, container_of(span, struct iopt_area,
						     span));
		/* A million areas take long: the table's lock may sleep. */
		cond_resched();
	}
	list_del(&unmapping.next);
	up_write(&iopt->iova_rwsem);
	*unmapped = bytes;
	return 0;

out_refuse:
	/* Accesses may use what is left; other unmaps keep their ranges. */
	list_del(&unmapping.next);
	up_write(&iopt->iova_rwsem);
	return rc;
}

/**
 * iopt_unmap_iova() - unmap the areas inside a range of IOVA
 * @iopt: the table
 * @iova: first IOVA of the range
 * @length: number of bytes
 * @unmapped: set to the number of bytes unmapped
 * @why: IOPT_WHY_LEN bytes for the reason of a failure, or NULL
 *
 * Return: 0 (also when nothing was mapped in the range), -EINVAL for a zero
 * length, -EOVERFLOW, -ENOENT when the range would cut an area, -EBUSY
 * when an in-kernel access keeps a pin in it, or -EINTR when the task was
 * killed while a copy into the range held it up; on failure nothing is
 * unmapped.
 */
int iopt_unmap_iova(struct io_pagetable *iopt, unsigned long iova,
		    unsigned long length, unsigned long *unmapped, char *why)
{
	unsigned long last;

	if (!length)
		return -EINVAL;
	if (check_add_overflow(iova, length - 1, &last))
		return -EOVERFLOW;
	return iopt_unmap_range(iopt, iova, last, unmapped, why);
}

/**
 * iopt_unmap_everything() - unmap every area
 * @iopt: the table
 * @unmapped: set to the number of bytes unmapped
 *
 * Return: 0 (an empty table is not an error), or as iopt_unmap_iova().
 */
int iopt_unmap_everything(struct io_pagetable *iopt, unsigned long *unmapped)
{
	return iopt_unmap_range(iopt, 0, ULONG_MAX, unmapped, NULL);
}

/* The area that holds @iova, or NULL. */
static struct iopt_area *iopt_area_at(struct io_pagetable *iopt,
				      unsigned long iova)
{
	struct iopt_span *span = iopt_span_first(iopt, iova, iova);

	if (!span || span->kind != IOPT_SPAN_AREA)
		return NULL;
	return container_of(span, struct iopt_area, span);
}

/*
 * 0 if @area may end at @last, which it holds, or why not; -ENOMEM when
 * the split could not be prepared.
 */
static int iopt_area_check_split(struct io_pagetable *iopt,
				 struct iopt_area *area, unsigned long last)
{
	lockdep_assert_held(&iopt->iova_rwsem);

	if (last == area->span.last)
		return 0;
	if (!iopt->disable_large_pages || (last + 1) % iopt->iova_alignment)
		return -EINVAL;
	/* Access pins are counted per area: they cannot be shared out. */
	if (atomic_read(&area->num_accesses))
		return -EINVAL;
	if (iopt_area_unmapping(iopt, area))
		return -EBUSY;
	/* So that iopt_area_split() cannot fail. */
	if (!area->pinned)
		return 0;
	return iopt_pages_prepare_split(area->pages, area->start_byte + 1 +
						     (last - area->span.start));
}

/*
 * Make @last the last IOVA of @area, which holds it, moving the rest of
 * the area to @rest, a zeroed area, over the same memory. The domains map
 * the area page by page (large IOPTEs are off), so their IOPTEs need no
 * change. iopt_area_check_split() said yes. Return: whether @rest is used.
 */
static bool iopt_area_split(struct io_pagetable *iopt, struct iopt_area *area,
			    unsigned long last, struct iopt_area *rest)
{
	lockdep_assert_held_write(&iopt->iova_rwsem);

	if (last == area->span.last)
		return false;
	kref_get(&area->pages->kref);
	rest->pages = area->pages;
	rest->pinned = area->pinned;
	rest->iommu_prot = area->iommu_prot;
	rest->start_byte = area->start_byte + (last + 1 - area->span.start);
	/*
	 * The two halves pin what the area pinned; a page they share, where
	 * the cut falls inside a page, needs one pin more. It is pinned
	 * already, and iopt_area_check_split() prepared the count, so that
	 * this cannot fail: the cut stays all or nothing.
	 */
	if (area->pinned)
		iopt_pages_pin_split(rest->pages, rest->start_byte);
	rest->span.kind = IOPT_SPAN_AREA;
	rest->span.start = last + 1;
	rest->span.last = area->span.last;
	atomic_set(&rest->num_accesses, 0);
	/* @rest goes exactly where @area gave up IOVA: no gap changes. */
	area->span.last = last;
	iopt_span_insert(iopt, &rest->span);
	return true;
}

/**
 * iopt_cut_iova() - end areas at given IOVAs, for VFIO type1 v1's unmap
 * @iopt: the table, with large IOPTEs disabled
 * @lasts: IOVAs that must each be the last IOVA of an area, if mapped
 * @n: number of entries in @lasts, at most IOPT_CUT_MAX
 *
 * An area holding one of @lasts is split in two there, so that an unmap
 * can take part of what one MAP mapped. All cuts are made or none: a cut
 * that cannot be made leaves every area as it was.
 *
 * Return: 0; -EINVAL while large IOPTEs are allowed, for a cut that is
 * not on a page boundary or in an area in-kernel accesses pinned (as
 * upstream); -EBUSY for an area being unmapped; -ENOMEM.
 */
int iopt_cut_iova(struct io_pagetable *iopt, const unsigned long *lasts,
		  unsigned int n)
{
	struct iopt_area *rests[IOPT_CUT_MAX] = {};
	struct iopt_area *area;
	unsigned int i;
	int rc = 0;

	if (WARN_ON_ONCE(n > IOPT_CUT_MAX))
		return -EINVAL;
	/* Allocated first, so that nothing can fail halfway through. */
	for (i = 0; i != n; i++) {
		rests[i] = kzalloc(sizeof(*rests[i]), GFP_KERNEL_ACCOUNT);
		if (!rests[i]) {
			rc = -ENOMEM;
			goto out_free;
		}
	}

	down_write(&iopt->iova_rwsem);
	for (i = 0; i != n && !rc; i++) {
		area = iopt_area_at(iopt, lasts[i]);
		if (area)
			rc = iopt_area_check_split(iopt, area, lasts[i]);
	}
	/* A split leaves both halves as splittable as the area was. */
	for (i = 0; i != n && !rc; i++) {
		area = iopt_area_at(iopt, lasts[i]);
		if (area && iopt_area_split(iopt, area, lasts[i], rests[i]))
			rests[i] = NULL;
	}
	up_write(&iopt->iova_rwsem);
out_free:
	for (i = 0; i != n; i++)
		kfree(rests[i]);
	return rc;
}

/**
 * iopt_why() - describe why an operation failed
 * @why: IOPT_WHY_LEN bytes, or NULL when the caller wants no reason
 * @fmt: printf-style reason, naming the IOVA, mapping or limit at fault
 *
 * Only for failure paths: formatting is not free.
 */
void iopt_why(char *why, const char *fmt, ...)
{
	va_list args;

	if (!why)
		return;
	va_start(args, fmt);
	vsnprintf(why, IOPT_WHY_LEN, fmt, args);
	va_end(args);
}

/**
 * iopt_show() - print counts of what an IOVA space holds, for fdinfo
 * @m: the fdinfo file
 * @iopt: the table
 *
 * Counts, not lists: the output stays short whatever the table holds.
 *
 * Context: takes @iopt->iova_rwsem for reading.
 */
void iopt_show(struct seq_file *m, struct io_pagetable *iopt)
{
	unsigned long areas = 0, bytes = 0, reserved = 0, domains = 0;
	struct iopt_reserved *resv;
	struct iopt_area *area;
	struct iommu_domain *domain;
	unsigned long index;

	down_read(&iopt->iova_rwsem);
	for (area = iopt_area_first(iopt); area; area = iopt_area_next(area)) {
		areas++;
		bytes += iopt_area_length(area);
	}
	list_for_each_entry(resv, &iopt->reservations, node)
		reserved++;
	xa_for_each(&iopt->domains, index, domain)
		domains++;
	seq_printf(m, " areas=%lu mapped=%lu allowed=%u reserved=%lu domains=%lu align=0x%lx",
		   areas, bytes, iopt->num_allowed, reserved, domains,
		   iopt->iova_alignment);
	up_read(&iopt->iova_rwsem);
}

/**
 * iopt_init_table() - initialise an empty IOVA space
 * @iopt: the table to initialise
 * @usage: the totals of the owning context, which outlives the table
 *
 * Every IOVA is usable and nothing is mapped.
 */
void iopt_init_table(struct io_pagetable *iopt, struct iopt_usage *usage)
{
	init_rwsem(&iopt->iova_rwsem);
	iopt_pin_may_wait_for(&iopt->iova_rwsem);
	iopt->spans = RB_ROOT;
	INIT_LIST_HEAD(&iopt->reservations);
	INIT_LIST_HEAD(&iopt->unmapping);
	spin_lock_init(&iopt->copying_lock);
	INIT_LIST_HEAD(&iopt->copying);
	init_waitqueue_head(&iopt->copying_done);
	xa_init_flags(&iopt->domains, XA_FLAGS_ALLOC);
	mutex_init(&iopt->access_lock);
	xa_init_flags(&iopt->accesses, XA_FLAGS_ALLOC);
	/*
	 * Any IOVA at byte granularity until a domain is attached: nothing
	 * translates IOVA yet, and upstream's users rely on it.
	 */
	iopt->iova_alignment = 1;
	iopt->aperture_last = ULONG_MAX;
	iopt->usage = usage;
}

/**
 * iopt_destroy_table() - release an IOVA space and everything mapped in it
 * @iopt: the table
 *
 * The table must no longer be reachable by any other thread.
 */
void iopt_destroy_table(struct io_pagetable *iopt)
{
	unsigned long unmapped;

	/*
	 * Every access let go of the table before it could be destroyed, so
	 * no pin may be left: one that is would keep its area, and the
	 * memory, forever.
	 */
	WARN_ON(iopt_unmap_everything(iopt, &unmapped));
	iopt_remove_reserved_iova(iopt, NULL);
	/* Other reservations belong to attached devices, gone by now. */
	WARN_ON(!RB_EMPTY_ROOT(&iopt->spans));
	WARN_ON(!xa_empty(&iopt->domains));
	xa_destroy(&iopt->domains);
	WARN_ON(!xa_empty(&iopt->accesses));
	xa_destroy(&iopt->accesses);
	mutex_destroy(&iopt->access_lock);
	kvfree(iopt->allowed);
}

#ifdef CONFIG_IOMMUFD_TEST

/**
 * iopt_test_nth_area_iova() - where the @nth area of the table starts
 * @iopt: the table
 * @nth: index of the area, from the lowest IOVA
 *
 * For syzkaller's IOVAs, see iommufd_test_syz_iova().
 *
 * Return: the area's first IOVA, or 0 if the table has no @nth area.
 */
unsigned long iopt_test_nth_area_iova(struct io_pagetable *iopt,
				      unsigned int nth)
{
	unsigned long iova = 0;
	struct iopt_area *area;

	down_read(&iopt->iova_rwsem);
	for (area = iopt_area_first(iopt); area; area = iopt_area_next(area)) {
		if (!nth--) {
			iova = area->span.start;
			break;
		}
	}
	up_read(&iopt->iova_rwsem);
	return iova;
}
#endif
