// SPDX-License-Identifier: GPL-2.0-only
/*
 * The IOVA space of an io_pagetable: which IOVA is used, which is free,
 * and where a mapping without a fixed IOVA goes.
 *
 * An io_pagetable keeps every used run of IOVA - areas that map user memory
 * and IOVA reserved by devices - as a struct iopt_span in one red-black
 * tree ordered by IOVA. Spans never overlap, so the same tree answers "what
 * is at this IOVA" and, because each node also records the free IOVA
 * before it and the largest such gap in its subtree, "where is the lowest
 * free run of this size", both in logarithmic time. Choosing IOVAs for
 * userspace therefore costs the same with ten areas as with a million.
 *
 * This file holds the tree (lookup, insert, remove), the choice of IOVA for
 * a map (iopt_alloc_iova()) and the checks of a fixed one, the ranges
 * userspace allows kernel-chosen IOVAs to come from (iopt_set_allowed()),
 * and the walk over the IOVA that is not reserved.
 *
 * Locking: all tree state is protected by io_pagetable::iova_rwsem; the
 * callers here hold it, as the lockdep assertions say, except that
 * iopt_set_allowed() takes it itself. The lock order is in io_pagetable.h.
 */
#include <linux/kernel.h>
#include <linux/lockdep.h>
#include <linux/log2.h>
#include <linux/mm.h>
#include <linux/overflow.h>
#include <linux/rbtree_augmented.h>
#include <linux/slab.h>
#include <linux/sched/signal.h>

#include "io_pagetable.h"
#include "iommufd_private.h"

static unsigned long iopt_span_gap(struct iopt_span *span)
{
	return span->gap;
}

RB_DECLARE_CALLBACKS_MAX(static, iopt_span_cb, struct iopt_span, rb,
			 unsigned long, max_gap, iopt_span_gap);

/* The first span that intersects [start, last], in IOVA order. */
struct iopt_span *iopt_span_first(struct io_pagetable *iopt,
				  unsigned long start, unsigned long last)
{
	struct rb_node *node = iopt->spans.rb_node;
	struct iopt_span *found = NULL;

	lockdep_assert_held(&iopt->iova_rwsem);

	/* Spans are disjoint, so ordering by start also orders by last. */
	while (node) {
		struct iopt_span *span = rb_entry(node, struct iopt_span, rb);

		if (span->last >= start) {
			found = span;
			node = node->rb_left;
		} else {
			node = node->rb_right;
		}
	}
	if (found && found->start <= last)
		return found;
	return NULL;
}

/* Walk every area in IOVA order; the caller holds iova_rwsem. */
struct iopt_area *iopt_area_first(struct io_pagetable *iopt)
{
	return iopt_area_from(rb_first(&iopt->spans));
}

/* The caller has checked that @span overlaps nothing in the tree. */
void iopt_span_insert(struct io_pagetable *iopt, struct iopt_span *span)
{
	struct rb_node **link = &iopt->spans.rb_node;
	struct iopt_span *prev = NULL, *next = NULL;
	struct rb_node *parent = NULL, *node;

	lockdep_assert_held_write(&iopt->iova_rwsem);

	while (*link) {
		struct iopt_span *cur;

		parent = *link;
		cur = rb_entry(parent, struct iopt_span, rb);
		if (span->start < cur->start) {
			next = cur;
			link = &parent->rb_left;
		} else {
			prev = cur;
			link = &parent->rb_right;
		}
	}
	span->gap = span->start - (prev ? prev->last + 1 : 0);
	span->max_gap = span->gap;

	/*
	 * Every node on the path gets the new node in its subtree: raise
	 * their maxima before linking, so that the rebalancing rotations
	 * start from correct values.
	 */
	for (node = iopt->spans.rb_node; node != &span->rb && node;) {
		struct iopt_span *cur = rb_entry(node, struct iopt_span, rb);

		cur->max_gap = max(cur->max_gap, span->gap);
		node = span->start < cur->start ? node->rb_left : node->rb_right;
	}
	rb_link_node(&span->rb, parent, link);
	rb_insert_augmented(&span->rb, &iopt->spans, &iopt_span_cb);

	/* The gap before the next span shrank by what the new span took. */
	if (next) {
		next->gap = next->start - (span->last + 1);
		iopt_span_cb_propagate(&next->rb, NULL);
	}
}

void iopt_span_remove(struct io_pagetable *iopt, struct iopt_span *span)
{
	struct rb_node *prev = rb_prev(&span->rb);
	struct rb_node *next = rb_next(&span->rb);

	lockdep_assert_held_write(&iopt->iova_rwsem);

	rb_erase_augmented(&span->rb, &iopt->spans, &iopt_span_cb);
	/* The next span's gap now reaches back to the previous span. */
	if (next) {
		struct iopt_span *nspan = rb_entry(next, struct iopt_span, rb);

		nspan->gap = nspan->start;
		if (prev)
			nspan->gap -= rb_entry(prev, struct iopt_span, rb)->last + 1;
		iopt_span_cb_propagate(next, NULL);
	}
}

/**
 * struct iopt_alloc_req - what a kernel-chosen IOVA range must satisfy
 * @lo: lowest IOVA the range may use
 * @hi: highest IOVA the range may use
 * @length: number of bytes
 * @align: power of two that the first IOVA minus @offset must be a
 *         multiple of
 * @offset: below @align
 */
struct iopt_alloc_req {
	unsigned long lo;
	unsigned long hi;
	unsigned long length;
	unsigned long align;
	unsigned long offset;
};

/* Place the request in the free run [start, last] if it fits there. */
static bool iopt_fit_in_gap(const struct iopt_alloc_req *req,
			    unsigned long start, unsigned long last,
			    unsigned long *iova)
{
	unsigned long first;

	start = max(start, req->lo);
	last = min(last, req->hi);
	if (start > last)
		return false;
	first = ALIGN_DOWN(start, req->align) + req->offset;
	if (first < start && check_add_overflow(first, req->align, &first))
		return false;
	if (first > last || last - first < req->length - 1)
		return false;
	*iova = first;
	return true;
}

/*
 * Find the lowest fitting free run in the subtree at @node: subtrees whose
 * largest gap is too small, or that lie wholly outside [lo, hi], are never
 * entered, so this visits O(height) nodes unless alignment rejects gaps
 * that are large enough. The recursion is bounded by the tree's height.
 */
static bool iopt_find_gap(struct rb_node *node,
			  const struct iopt_alloc_req *req, unsigned long *iova)
{
	struct iopt_span *span;

	if (!node)
		return false;
	span = rb_entry(node, struct iopt_span, rb);
	if (span->max_gap < req->length)
		return false;
	/* Gaps on the left end before span->start. */
	if (span->start > req->lo && iopt_find_gap(node->rb_left, req, iova))
		return true;
	/* This gap, and all on the right, begin above the window. */
	if (span->start - span->gap > req->hi)
		return false;
	if (span->gap >= req->length &&
	    iopt_fit_in_gap(req, span->start - span->gap, span->start - 1,
			    iova))
		return true;
	return iopt_find_gap(node->rb_right, req, iova);
}

static bool iopt_find_free(struct io_pagetable *iopt,
			   const struct iopt_alloc_req *req, unsigned long *iova)
{
	struct rb_node *last_node;
	struct iopt_span *last;

	if (iopt_find_gap(iopt->spans.rb_node, req, iova))
		return true;
	/* The free run after the highest span is no span's gap. */
	last_node = rb_last(&iopt->spans);
	if (!last_node)
		return iopt_fit_in_gap(req, 0, ULONG_MAX, iova);
	last = rb_entry(last_node, struct iopt_span, rb);
	if (last->last == ULONG_MAX)
		return false;
	return iopt_fit_in_gap(req, last->last + 1, ULONG_MAX, iova);
}

/*
 * Choose an IOVA for @length bytes of user memory at @uptr. The IOVA keeps
 * as much of @uptr's alignment as the length can use, up to the huge page
 * size, so that huge pages can map as huge IOPTEs. IOVA 0 and the top page
 * are never chosen.
 */
int iopt_alloc_iova(struct io_pagetable *iopt, unsigned long *iova,
		    unsigned long uptr, unsigned long length, char *why)
{
	unsigned long max_align = PAGE_SIZE;
	struct iopt_alloc_req req = {
		.lo = max(PAGE_SIZE, iopt->aperture_start),
		.hi = min(ULONG_MAX - PAGE_SIZE, iopt->aperture_last),
		.length = length,
	};
	unsigned int i;

	lockdep_assert_held(&iopt->iova_rwsem);

	/* Keeps roundup_pow_of_two() from overflowing; upstream's bound. */
	if (!length || length >= ULONG_MAX / 2)
		return -EOVERFLOW;

#ifdef CONFIG_TRANSPARENT_HUGEPAGE
	max_align = HPAGE_PMD_SIZE;
#endif
	req.align = roundup_pow_of_two(length);
	if (uptr)
		req.align = min(req.align, 1UL << __ffs(uptr));
	req.align = min(req.align, max_align);
	/*
	 * Memory that starts inside a page keeps its offset in the IOVA, so
	 * that IOVA and memory share page boundaries.
	 */
	if (uptr % PAGE_SIZE) {
		req.align = PAGE_SIZE;
		req.offset = uptr % PAGE_SIZE;
		if (req.offset & (iopt->iova_alignment - 1))
			goto err_align;
	} else if (req.align < iopt->iova_alignment) {
		goto err_align;
	}

	if (!iopt->num_allowed) {
		if (iopt_find_free(iopt, &req, iova))
			return 0;
		goto err_nospc;
	}

	/* Allowed ranges are sorted: the first that fits has the lowest IOVA. */
	for (i = 0; i != iopt->num_allowed; i++) {
		struct iopt_alloc_req window = req;

		window.lo = max(req.lo, iopt->allowed[i].start);
		window.hi = min(req.hi, iopt->allowed[i].last);
		if (window.lo > window.hi)
			continue;
		if (iopt_find_free(iopt, &window, iova))
			return 0;
	}
err_nospc:
	iopt_why(why,
		 "no free IOVA range of 0x%lx bytes aligned to 0x%lx in [0x%lx, 0x%lx]%s",
		 length, req.align, req.lo, req.hi,
		 iopt->num_allowed ? " within the allowed ranges" : "");
	return -ENOSPC;
err_align:
	iopt_why(why,
		 "memory at user address 0x%lx cannot meet the IOVA alignment 0x%lx of the IOAS",
		 uptr, iopt->iova_alignment);
	return -EINVAL;
}

/* May userspace map @length bytes at the fixed IOVA @iova? */
int iopt_check_fixed_iova(struct io_pagetable *iopt, unsigned long iova,
			  unsigned long length, char *why)
{
	struct iopt_span *span;
	unsigned long last;

	lockdep_assert_held(&iopt->iova_rwsem);

	if (iova & (iopt->iova_alignment - 1)) {
		iopt_why(why,
			 "IOVA 0x%lx is not aligned to 0x%lx, the IOVA alignment of the IOAS",
			 iova, iopt->iova_alignment);
		return -EINVAL;
	}
	if (check_add_overflow(iova, length - 1, &last))
		return -EOVERFLOW;
	/* Outside an attached domain's aperture counts as reserved. */
	if (iova < iopt->aperture_start || last > iopt->aperture_last) {
		iopt_why(why,
			 "IOVA 0x%lx-0x%lx is outside the aperture 0x%lx-0x%lx of the domains",
			 iova, last, iopt->aperture_start,
			 iopt->aperture_last);
		return -EINVAL;
	}
	for (span = iopt_span_first(iopt, iova, last); span;
	     span = iopt_span_next(span, last)) {
		if (span->kind == IOPT_SPAN_RESERVED) {
			iopt_why(why,
				 "IOVA 0x%lx-0x%lx overlaps reserved IOVA 0x%lx-0x%lx",
				 iova, last, span->start, span->last);
			return -EINVAL;
		}
	}
	span = iopt_span_first(iopt, iova, last);
	if (span) {
		iopt_why(why,
			 "IOVA 0x%lx-0x%lx overlaps the mapping at IOVA 0x%lx-0x%lx",
			 iova, last, span->start, span->last);
		return -EEXIST;
	}
	return 0;
}

/* Let the entry at @i of the heap @a[0, @n) sink to where it belongs. */
static void iopt_allowed_sift(struct iopt_allowed *a, size_t i, size_t n)
{
	size_t child;

	while ((child = 2 * i + 1) < n) {
		if (child + 1 < n && a[child + 1].start > a[child].start)
			child++;
		if (a[i].start >= a[child].start)
			return;
		swap(a[i], a[child]);
		i = child;
	}
}

/*
 * Sort @a by start. A heapsort, as lib/sort.c's, but userspace may hand
 * over millions of ranges (seconds of sorting): it yields as it goes, and
 * gives up with -EINTR once the caller is killed.
 */
static int iopt_allowed_sort(struct iopt_allowed *a, size_t n)
{
	size_t i, done = 0;

	for (i = n / 2; i-- > 0; done++) {
		iopt_allowed_sift(a, i, n);
		if (done % 4096 == 4095 && fatal_signal_pending(current))
			return -EINTR;
		cond_resched();
	}
	for (i = n; i-- > 1; done++) {
		swap(a[0], a[i]);
		iopt_allowed_sift(a, 0, i);
		if (done % 4096 == 4095 && fatal_signal_pending(current))
			return -EINTR;
		cond_resched();
	}
	return 0;
}

/**
 * iopt_set_allowed() - replace the ranges kernel-chosen IOVAs come from
 * @iopt: the table
 * @allowed: array of ranges from kvmalloc(), or NULL; the table takes it
 *           over on success
 * @num: number of ranges; 0 lifts the restriction
 * @why: IOPT_WHY_LEN bytes for the reason of a failure, or NULL
 *
 * Return: 0; -EINVAL if a range is empty or reversed, or two overlap;
 * -EINTR if the caller was killed while they were sorted;
 * -EADDRINUSE if a range overlaps reserved IOVA. On failure nothing
 * changes and the caller still owns @allowed.
 */
int iopt_set_allowed(struct io_pagetable *iopt, struct iopt_allowed *allowed,
		     unsigned int num, char *why)
{
	struct iopt_span *span;
	unsigned int i, n;
	int rc;

	for (i = 0; i != num; i++)
		if (allowed[i].start >= allowed[i].last)
			return -EINVAL;
	rc = iopt_allowed_sort(allowed, num);
	if (rc)
		return rc;
	for (i = 1; i < num; i++)
		if (allowed[i].start <= allowed[i - 1].last)
			return -EINVAL;
	/* Ranges that touch are one run of IOVA: a map may span them. */
	for (i = 1, n = min(num, 1U); i < num; i++) {
		if (allowed[i].start == allowed[n - 1].last + 1)
			allowed[n - 1].last = allowed[i].last;
		else
			allowed[n++] = allowed[i];
	}
	num = n;

	down_write(&iopt->iova_rwsem);
	for (i = 0; i != num; i++) {
		unsigned long last = allowed[i].last;

		cond_resched();
		if (allowed[i].start < iopt->aperture_start ||
		    last > iopt->aperture_last) {
			iopt_why(why,
				 "allowed IOVA 0x%lx-0x%lx is outside the aperture 0x%lx-0x%lx of the domains",
				 allowed[i].start, last, iopt->aperture_start,
				 iopt->aperture_last);
			up_write(&iopt->iova_rwsem);
			return -EADDRINUSE;
		}

		for (span = iopt_span_first(iopt, allowed[i].start, last); span;
		     span = iopt_span_next(span, last)) {
			if (span->kind == IOPT_SPAN_RESERVED) {
				iopt_why(why,
					 "allowed IOVA 0x%lx-0x%lx overlaps reserved IOVA 0x%lx-0x%lx",
					 allowed[i].start, last, span->start,
					 span->last);
				up_write(&iopt->iova_rwsem);
				return -EADDRINUSE;
			}
		}
	}
	swap(iopt->allowed, allowed);
	iopt->num_allowed = num;
	up_write(&iopt->iova_rwsem);
	kvfree(allowed);
	return 0;
}

/**
 * iopt_count_reserved_spans() - bound the number of reserved runs of IOVA
 * @iopt: the table
 *
 * Context: caller holds @iopt->iova_rwsem.
 * Return: the number of reservations, at least the number of separate
 * reserved runs that iopt_find_usable_span() steps over.
 */
unsigned long iopt_count_reserved_spans(struct io_pagetable *iopt)
{
	struct iopt_reserved *reserved;
	unsigned long n = 0;

	lockdep_assert_held(&iopt->iova_rwsem);

	list_for_each_entry(reserved, &iopt->reservations, node)
		n++;
	return n;
}

/**
 * iopt_find_usable_span() - find the next span of IOVA that may be mapped
 * @iopt: the table
 * @from: lowest IOVA of interest
 * @start: set to the first IOVA of the span found
 * @last: set to the last IOVA of the span found, inclusive
 *
 * Usable means not reserved; mapped IOVA counts as usable.
 *
 * Context: caller holds @iopt->iova_rwsem.
 * Return: true if a span was found.
 */
bool iopt_find_usable_span(struct io_pagetable *iopt, unsigned long from,
			   unsigned long *start, unsigned long *last)
{
	struct iopt_span *span;

	lockdep_assert_held(&iopt->iova_rwsem);

	from = max(from, iopt->aperture_start);
	if (from > iopt->aperture_last)
		return false;
	for (span = iopt_span_first(iopt, from, iopt->aperture_last); span;
	     span = iopt_span_next(span, iopt->aperture_last)) {
		if (span->kind != IOPT_SPAN_RESERVED)
			continue;
		if (span->start > from) {
			*start = from;
			*last = span->start - 1;
			return true;
		}
		if (span->last >= iopt->aperture_last)
			return false;
		from = span->last + 1;
	}
	*start = from;
	*last = iopt->aperture_last;
	return true;
}
