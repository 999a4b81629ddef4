/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The pieces an io_pagetable is made of: spans of used IOVA, the areas that
 * map user memory, and the iopt_pages that describe that memory.
 *
 * Locking: io_pagetable::iova_rwsem protects the span tree, every span's
 * start, last, gap and max_gap, the allowed ranges, and an area's pages,
 * start_byte and iommu_prot while the area is in the tree. An iopt_pages
 * is immutable once created and lives as long as its kref.
 */
#ifndef __IO_PAGETABLE_H
#define __IO_PAGETABLE_H

#include <linux/kref.h>
#include <linux/list.h>
#include <linux/rbtree.h>
#include <linux/types.h>

struct io_pagetable;
struct mm_struct;

enum iopt_span_kind {
	IOPT_SPAN_AREA,
	IOPT_SPAN_RESERVED,
};

/**
 * struct iopt_span - a run of used IOVA in an io_pagetable
 * @rb: node in io_pagetable::spans, ordered by @start
 * @start: first IOVA of the span
 * @last: last IOVA of the span, inclusive
 * @gap: number of free IOVAs between the previous span (or IOVA 0) and
 *       @start
 * @max_gap: the largest @gap in this node's subtree, so that a free run of
 *           a given size is found in logarithmic time
 * @kind: what uses the span
 *
 * Spans never overlap: an IOVA is used by at most one area or reservation.
 */
struct iopt_span {
	struct rb_node rb;
	unsigned long start;
	unsigned long last;
	unsigned long gap;
	unsigned long max_gap;
	enum iopt_span_kind kind;
};

/**
 * struct iopt_area - user memory mapped at a range of IOVA
 * @span: the IOVA range, of kind IOPT_SPAN_AREA
 * @pages: the user memory; the area holds a reference
 * @start_byte: offset into @pages of the byte mapped at the first IOVA
 * @iommu_prot: IOMMU_READ/IOMMU_WRITE/IOMMU_CACHE bits of the mapping
 */
struct iopt_area {
	struct iopt_span span;
	struct iopt_pages *pages;
	unsigned long start_byte;
	int iommu_prot;
};

static inline unsigned long iopt_area_length(struct iopt_area *area)
{
	return area->span.last - area->span.start + 1;
}

/**
 * struct iopt_reserved - IOVA that must never be mapped
 * @span: the IOVA range, of kind IOPT_SPAN_RESERVED
 * @owner: who reserved it and removes it again; NULL for reservations
 *         that last as long as the io_pagetable
 */
struct iopt_reserved {
	struct iopt_span span;
	void *owner;
};

/**
 * struct iopt_pages - a range of user memory that IOVA can map
 * @kref: one reference per area using the memory
 * @uptr: page aligned start of the range in @source_mm
 * @npages: number of pages in the range
 * @writable: whether the memory may be mapped for device writes
 * @source_mm: the address space @uptr belongs to
 *
 * IOMMU_IOAS_COPY shares one iopt_pages between areas of several IOASes, so
 * that memory is pinned and charged once however often it is mapped.
 */
struct iopt_pages {
	struct kref kref;
	void __user *uptr;
	unsigned long npages;
	bool writable;
	struct mm_struct *source_mm;
};

/**
 * struct iopt_allowed - a range kernel-chosen IOVAs may come from
 * @start: first IOVA
 * @last: last IOVA, inclusive
 */
struct iopt_allowed {
	unsigned long start;
	unsigned long last;
};

/**
 * struct iopt_map_piece - a slice of memory on its way into an IOVA range
 * @next: entry in the caller's list
 * @pages: the memory; the piece holds a reference until it is mapped
 * @area: the area that will map the slice, until it is in the table
 * @start_byte: offset into @pages of the slice's first byte
 * @length: bytes in the slice
 */
struct iopt_map_piece {
	struct list_head next;
	struct iopt_pages *pages;
	struct iopt_area *area;
	unsigned long start_byte;
	unsigned long length;
};

int iopt_map_pieces(struct io_pagetable *iopt, struct list_head *pieces,
		    unsigned long length, unsigned long *iova, int iommu_prot,
		    bool fixed);
void iopt_free_pieces(struct list_head *pieces);
int iopt_get_pieces(struct io_pagetable *iopt, unsigned long iova,
		    unsigned long length, struct list_head *pieces);

/* pages.c */
struct iopt_pages *iopt_alloc_pages(void __user *uptr, unsigned long length,
				    bool writable);
void iopt_release_pages(struct kref *kref);

static inline void iopt_put_pages(struct iopt_pages *pages)
{
	kref_put(&pages->kref, iopt_release_pages);
}

#endif
