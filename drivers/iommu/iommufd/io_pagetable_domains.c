// SPDX-License-Identifier: GPL-2.0-only
/*
 * The IOMMU domains of an io_pagetable, kept identical to it.
 *
 * Every domain added with iopt_table_add_domain() maps every area of the
 * table, and every later map and unmap changes every domain under the same
 * write lock, so that a domain never differs from its table: a map that
 * fails in one domain is taken back out of the others. While the table has
 * a domain its areas pin the memory they map; the first domain pins it,
 * the last one to go unpins it. The domains limit the table in turn: their
 * apertures and smallest IO page sizes decide which IOVA it accepts
 * (iopt_update_constraints()), and large IOPTEs can be turned off so that
 * VFIO type1 v1 can unmap part of a mapping. Dirty tracking reads and
 * clears the dirty bits of a domain's IOPTEs, for IOMMU drivers that keep
 * them (in 6.1 only the test mock does).
 *
 * Locking: io_pagetable::iova_rwsem, for writing to change the domains or
 * the pins of the areas, for reading to walk a domain's dirty bits; the
 * memory a first domain needs is pinned before it is taken
 * (iopt_prepin_range()). The lock order is in io_pagetable.h.
 */
#include <linux/iommu.h>
#include <linux/iova_bitmap.h>
#include <linux/kernel.h>
#include <linux/lockdep.h>
#include <linux/log2.h>
#include <linux/mm.h>
#include <linux/overflow.h>
#include <linux/scatterlist.h>
#include <linux/sched.h>
#include <linux/sizes.h>

#include "io_pagetable.h"
#include "iommufd_private.h"

/*
 * Runs of memory per iommu_map_sg() call, at most: bounds the scatterlist
 * (32 bytes a run) and the time between two points of rescheduling.
 */
#define IOPT_MAP_RUNS 512
/* The longest run one scatterlist entry takes: its length is 32 bits. */
#define IOPT_MAP_RUN_MAX SZ_1G

/*
 * Map up to IOPT_MAP_RUNS runs of @area, from @done bytes into it on, with
 * one iommu_map_sg(). Return: the bytes mapped, or a negative errno, with
 * nothing of the batch mapped.
 */
static ssize_t iopt_area_map_batch(struct iopt_area *area,
				   struct iommu_domain *domain,
				   struct scatterlist *sgl, unsigned int nents,
				   unsigned long done)
{
	unsigned long length = iopt_area_length(area), batch = 0;
	unsigned long iova = area->span.start + done;
	unsigned int n = 0;
	ssize_t ret;

	while (n != nents && done + batch != length) {
		unsigned long byte = area->start_byte + done + batch;
		unsigned long run;
		phys_addr_t phys;

		run = iopt_pages_contig(area->pages, byte,
					min(length - done - batch,
					    IOPT_MAP_RUN_MAX), false, &phys);
		/*
		 * What sg_init_table() does, an entry at a time: a table
		 * sized for 4 KiB pages holds few huge pages, and zeroing
		 * all 16 KiB of it took longer than the IOMMU driver took
		 * to map them.
		 */
		memset(&sgl[n], 0, sizeof(*sgl));
		sg_set_page(&sgl[n++], pfn_to_page(PHYS_PFN(phys)), run,
			    offset_in_page(phys));
		batch += run;
	}
	sg_mark_end(&sgl[n - 1]);
	ret = iommu_map_sg(domain, iova, sgl, n, area->iommu_prot);
	/* All or nothing, or the IOMMU core is broken. */
	if (WARN_ON_ONCE(ret >= 0 && ret != batch)) {
		iommu_unmap(domain, iova, ret);
		return -EIO;
	}
	return ret;
}

/*
 * Map @area into @domain; *@mapped is set to how much of its start is
 * mapped, also on failure. Physically contiguous runs of the memory go to
 * the IOMMU driver whole, so that it can use its largest IOPTEs, unless
 * the IOAS disabled them. Runs go IOPT_MAP_RUNS at a time through
 * iommu_map_sg(), so that the driver syncs its IOTLB once per batch:
 * VT-d in caching mode (QEMU's) flushes after every map call, which is
 * once per 4 KiB page of scattered memory through iommu_map(). With large
 * IOPTEs off, the pages go one iommu_map() each: iommu_map_sg() would
 * merge contiguous pages into large IOPTEs.
 */
static int iopt_area_map_domain(struct io_pagetable *iopt,
				struct iopt_area *area,
				struct iommu_domain *domain,
				unsigned long *mapped)
{
	unsigned long length = iopt_area_length(area);
	bool batch = !iopt->disable_large_pages;
	struct scatterlist *sgl = NULL;
	unsigned long done = 0;
	unsigned int nents = 0;
	int rc = 0;

	lockdep_assert_held_write(&iopt->iova_rwsem);

	while (done != length) {
		unsigned long byte = area->start_byte + done;
		unsigned long run;
		phys_addr_t phys;
		ssize_t ret;

		run = iopt_pages_contig(area->pages, byte,
					min(length - done, IOPT_MAP_RUN_MAX),
					iopt->disable_large_pages, &phys);
		/* More than one run: a scatterlist, if memory allows. */
		if (batch && !sgl && run != length - done) {
			nents = min_t(unsigned long, IOPT_MAP_RUNS,
				      (length - done) / PAGE_SIZE + 2);
			sgl = kmalloc_array(nents, sizeof(*sgl),
					    GFP_KERNEL_ACCOUNT | __GFP_NOWARN);
			batch = !!sgl;
		}
		if (sgl) {
			ret = iopt_area_map_batch(area, domain, sgl, nents,
						  done);
			if (ret < 0) {
				rc = ret;
				break;
			}
			run = ret;
		} else {
			rc = iommu_map(domain, area->span.start + done, phys,
				       run, area->iommu_prot);
			if (rc)
				break;
		}
		done += run;
		cond_resched();
	}
	kfree(sgl);
	*mapped = done;
	return rc;
}

/* Remove the first @length bytes of @area from @domain. Cannot fail. */
static void iopt_area_unmap_domain(struct iopt_area *area,
				   struct iommu_domain *domain,
				   unsigned long length)
{
	size_t unmapped;

	if (!length)
		return;
	unmapped = iommu_unmap(domain, area->span.start, length);
	/* The domain holds what we put there, or the IOMMU driver is broken. */
	WARN_ON(unmapped != length);
}

static int iopt_area_fill_domain(struct io_pagetable *iopt,
				 struct iopt_area *area,
				 struct iommu_domain *domain)
{
	unsigned long mapped;
	int rc;

	lockdep_assert_held_write(&iopt->iova_rwsem);

	rc = iopt_area_map_domain(iopt, area, domain, &mapped);
	if (rc)
		iopt_area_unmap_domain(area, domain, mapped);
	return rc;
}

/*
 * Map @area into every domain of the table. On failure the domains are as
 * they were: an IOMMU domain never differs from its IOAS.
 */
static int iopt_area_fill_domains(struct io_pagetable *iopt,
				  struct iopt_area *area)
{
	struct iommu_domain *domain, *undo;
	unsigned long index, uindex;
	int rc;

	lockdep_assert_held_write(&iopt->iova_rwsem);

	xa_for_each(&iopt->domains, index, domain) {
		rc = iopt_area_fill_domain(iopt, area, domain);
		if (rc)
			goto err_unfill;
	}
	return 0;

err_unfill:
	xa_for_each(&iopt->domains, uindex, undo) {
		if (uindex == index)
			break;
		iopt_area_unmap_domain(area, undo, iopt_area_length(area));
	}
	return rc;
}

static void iopt_area_unfill_domains(struct io_pagetable *iopt,
				     struct iopt_area *area)
{
	struct iommu_domain *domain;
	unsigned long index;

	lockdep_assert_held_write(&iopt->iova_rwsem);

	xa_for_each(&iopt->domains, index, domain)
		iopt_area_unmap_domain(area, domain, iopt_area_length(area));
}

static void iopt_area_unpin(struct iopt_area *area)
{
	iopt_pages_pin_put(area->pages, area->start_byte,
			   iopt_area_length(area));
}

/*
 * Make @piece's area visible to the devices of the table: while the table
 * has domains, the area pins its memory and every domain maps it. The pin
 * the piece took before the table was locked is handed to the area:
 * iopt_map_pieces() pins every piece first when the table has domains.
 */
int iopt_area_use(struct io_pagetable *iopt, struct iopt_map_piece *piece)
{
	struct iopt_area *area = piece->area;
	int rc;

	lockdep_assert_held_write(&iopt->iova_rwsem);

	if (xa_empty(&iopt->domains))
		return 0;
	if (WARN_ON_ONCE(!piece->pinned))
		return -EINVAL;
	piece->pinned = false;
	area->pinned = true;
	rc = iopt_area_fill_domains(iopt, area);
	if (rc) {
		iopt_area_unpin(area);
		area->pinned = false;
	}
	return rc;
}

void iopt_area_unuse(struct io_pagetable *iopt, struct iopt_area *area)
{
	lockdep_assert_held_write(&iopt->iova_rwsem);

	iopt_area_unfill_domains(iopt, area);
	if (area->pinned) {
		iopt_area_unpin(area);
		area->pinned = false;
	}
}

/*
 * Recompute what the attached domains impose on the table: the IOVA every
 * one of them can translate (the intersection of their apertures), and
 * the mapping granularity (the largest of their smallest IO page sizes;
 * bytes while there is no domain).
 */
static void iopt_update_constraints(struct io_pagetable *iopt)
{
	struct iommu_domain *domain;
	unsigned long index;

	lockdep_assert_held_write(&iopt->iova_rwsem);

	iopt->aperture_start = 0;
	iopt->aperture_last = ULONG_MAX;
	/*
	 * Mapping page by page needs pages on both sides, and so does an
	 * access that pins: it hands out whole CPU pages.
	 */
	iopt->iova_alignment = iopt->disable_large_pages ||
			       iopt->pinning_accesses ? PAGE_SIZE : 1;
	xa_for_each(&iopt->domains, index, domain) {
		iopt->iova_alignment = max(iopt->iova_alignment,
					   1UL << __ffs(domain->pgsize_bitmap));
		if (!domain->geometry.force_aperture)
			continue;
		iopt->aperture_start = max_t(unsigned long,
					     iopt->aperture_start,
					     domain->geometry.aperture_start);
		iopt->aperture_last = min_t(unsigned long, iopt->aperture_last,
					    domain->geometry.aperture_end);
	}
}

/* Is every area aligned to @align in IOVA, length and memory offset? */
static bool iopt_areas_aligned(struct io_pagetable *iopt, unsigned long align)
{
	struct iopt_area *area;

	lockdep_assert_held(&iopt->iova_rwsem);

	for (area = iopt_area_first(iopt); area; area = iopt_area_next(area))
		if ((area->span.start | iopt_area_length(area) |
		     area->start_byte) & (align - 1))
			return false;
	return true;
}

/* Can @domain translate everything the table maps and allows? */
static int iopt_check_domain_fits(struct io_pagetable *iopt,
				  struct iommu_domain *domain, char *why)
{
	unsigned long align = 1UL << __ffs(domain->pgsize_bitmap);
	unsigned long ap_start = 0, ap_last = ULONG_MAX;
	struct iopt_area *area;
	unsigned int i;

	lockdep_assert_held(&iopt->iova_rwsem);

	if (domain->geometry.force_aperture) {
		ap_start = domain->geometry.aperture_start;
		ap_last = domain->geometry.aperture_end;
	}
	for (i = 0; i != iopt->num_allowed; i++) {
		if (iopt->allowed[i].start < ap_start ||
		    iopt->allowed[i].last > ap_last) {
			iopt_why(why,
				 "allowed IOVA 0x%lx-0x%lx is outside the domain's aperture 0x%lx-0x%lx",
				 iopt->allowed[i].start, iopt->allowed[i].last,
				 ap_start, ap_last);
			return -EADDRINUSE;
		}
	}
	for (area = iopt_area_first(iopt); area; area = iopt_area_next(area)) {
		if (area->span.start < ap_start || area->span.last > ap_last) {
			iopt_why(why,
				 "the mapping at IOVA 0x%lx-0x%lx is outside the domain's aperture 0x%lx-0x%lx",
				 area->span.start, area->span.last, ap_start,
				 ap_last);
			return -EADDRINUSE;
		}
	}
	if (!iopt_areas_aligned(iopt, align)) {
		iopt_why(why,
			 "a mapping is not aligned to 0x%lx, the domain's smallest IO page",
			 align);
		return -EADDRINUSE;
	}
	return 0;
}

/* Drop the pins of every area, when the last domain goes. */
static void iopt_unpin_all(struct io_pagetable *iopt)
{
	struct iopt_area *area;

	lockdep_assert_held_write(&iopt->iova_rwsem);

	for (area = iopt_area_first(iopt); area; area = iopt_area_next(area)) {
		if (area->pinned) {
			iopt_area_unpin(area);
			area->pinned = false;
		}
	}
}

/*
 * Pin the memory of every area, when the first domain comes: an area
 * takes the pin @pre took of it before the lock, if the layout is still
 * the same, and otherwise counts one more on memory something else has
 * pinned. -EAGAIN when an area's memory is not pinned (mapped since
 * @pre was taken): nothing is pinned then, and the caller pins again
 * without the lock.
 */
static int iopt_pin_all(struct io_pagetable *iopt, struct iopt_prepin *pre)
{
	struct iopt_area *area;
	unsigned long i = 0;
	int rc;

	lockdep_assert_held_write(&iopt->iova_rwsem);

	for (area = iopt_area_first(iopt); area; area = iopt_area_next(area)) {
		if (!iopt_prepin_take(pre, i++, area->pages, area->start_byte,
				      iopt_area_length(area))) {
			rc = iopt_pages_pin_counted(area->pages,
						    area->start_byte,
						    iopt_area_length(area));
			if (rc) {
				iopt_unpin_all(iopt);
				return rc;
			}
		}
		area->pinned = true;
	}
	return 0;
}

/**
 * iopt_table_add_domain() - make an IOMMU domain mirror the table
 * @iopt: the table
 * @domain: an empty paging domain
 * @pre: the caller's iopt_prepin_range() of the whole table, taken before
 *       its locks when the table had no domain; else empty
 * @why: IOPT_WHY_LEN bytes for the reason of a failure, or NULL
 *
 * Maps every area into @domain and keeps it in step with every later map
 * and unmap until iopt_table_remove_domain(). The domain's aperture and IO
 * page size then restrict what the table accepts.
 *
 * The first domain of a table pins the memory of every area. It never
 * pins here, as the caller holds locks (pinning may wait for userspace):
 * it takes over the pins of @pre that still match an area (the caller
 * releases @pre as usual), and only counts one more on memory something
 * else pinned. If an area's memory is not pinned at all (mapped since
 * @pre was taken, or @pre is empty because the caller saw a domain that
 * went away since), it sets @pre->stale and fails with -EAGAIN: the
 * caller drops its locks, releases @pre, pins the table again with
 * iopt_prepin_range() and retries.
 *
 * Return: 0; -EAGAIN with @pre->stale set, see above; -EADDRINUSE if
 * something mapped or allowed lies outside the domain's aperture or is
 * not aligned to its IO page size; -ENOMEM, or the IOMMU driver's error;
 * on failure @domain is left empty and nothing stays pinned for it.
 */
int iopt_table_add_domain(struct io_pagetable *iopt,
			  struct iommu_domain *domain,
			  struct iopt_prepin *pre, char *why)
{
	struct iopt_area *area, *undo;
	bool first;
	u32 index;
	int rc;

	if (!domain->pgsize_bitmap)
		return -EINVAL;

	down_write(&iopt->iova_rwsem);
	rc = iopt_check_domain_fits(iopt, domain, why);
	if (rc)
		goto out_unlock;
	/* The first domain is the first device: the memory must be pinned. */
	first = xa_empty(&iopt->domains);
	if (first) {
		rc = iopt_pin_all(iopt, pre);
		if (rc == -EAGAIN)
			pre->stale = true;
		if (rc)
			goto out_unlock;
	}
	rc = xa_alloc(&iopt->domains, &index, domain, xa_limit_32b,
		      GFP_KERNEL_ACCOUNT);
	if (rc)
		goto err_unpin;
	for (area = iopt_area_first(iopt); area; area = iopt_area_next(area)) {
		rc = iopt_area_fill_domain(iopt, area, domain);
		if (rc)
			goto err_unfill;
	}
	iopt_update_constraints(iopt);
	up_write(&iopt->iova_rwsem);
	return 0;

err_unfill:
	for (undo = iopt_area_first(iopt); undo; undo = iopt_area_next(undo)) {
		if (undo == area)
			break;
		iopt_area_unmap_domain(undo, domain, iopt_area_length(undo));
	}
	xa_erase(&iopt->domains, index);
err_unpin:
	if (first)
		iopt_unpin_all(iopt);
out_unlock:
	up_write(&iopt->iova_rwsem);
	return rc;
}

/**
 * iopt_table_remove_domain() - stop mirroring the table in a domain
 * @iopt: the table
 * @domain: a domain added with iopt_table_add_domain()
 *
 * Unmaps everything from @domain, which is empty afterwards. Cannot fail.
 */
void iopt_table_remove_domain(struct io_pagetable *iopt,
			      struct iommu_domain *domain)
{
	struct iommu_domain *cur;
	struct iopt_area *area;
	unsigned long index;

	down_write(&iopt->iova_rwsem);
	xa_for_each(&iopt->domains, index, cur)
		if (cur == domain)
			break;
	if (WARN_ON(cur != domain))
		goto out_unlock;
	for (area = iopt_area_first(iopt); area; area = iopt_area_next(area)) {
		iopt_area_unmap_domain(area, domain, iopt_area_length(area));
		cond_resched();
	}
	xa_erase(&iopt->domains, index);
	if (xa_empty(&iopt->domains))
		iopt_unpin_all(iopt);
	iopt_update_constraints(iopt);
out_unlock:
	up_write(&iopt->iova_rwsem);
}

/**
 * iopt_table_refresh_domains() - take note of changed domain geometry
 * @iopt: the table
 *
 * Some IOMMU drivers (intel-iommu in 6.1) narrow a domain's aperture to
 * what the hardware can translate only when the first device attaches.
 * Call after every attach so that IOVA ranges and checks use the real
 * figures.
 */
void iopt_table_refresh_domains(struct io_pagetable *iopt)
{
	down_write(&iopt->iova_rwsem);
	iopt_update_constraints(iopt);
	up_write(&iopt->iova_rwsem);
}

/**
 * iopt_set_large_pages() - allow or forbid IOPTEs larger than a CPU page
 * @iopt: the table
 * @enable: whether contiguous memory may map with large IOPTEs
 *
 * Forbidding them maps every CPU page on its own, so everything must then
 * be mapped in whole CPU pages.
 *
 * Return: 0; -EINVAL to forbid them while domains already map something;
 * -EADDRINUSE to forbid them while an area is not page aligned.
 */
int iopt_set_large_pages(struct io_pagetable *iopt, bool enable)
{
	int rc = 0;

	down_write(&iopt->iova_rwsem);
	if (enable || iopt->disable_large_pages) {
		iopt->disable_large_pages = !enable;
		goto out_update;
	}
	/* The domains' IOPTEs are set already; they cannot be split. */
	if (!xa_empty(&iopt->domains) && iopt_area_first(iopt)) {
		rc = -EINVAL;
		goto out_unlock;
	}
	if (!iopt_areas_aligned(iopt, PAGE_SIZE)) {
		rc = -EADDRINUSE;
		goto out_unlock;
	}
	iopt->disable_large_pages = true;
out_update:
	iopt_update_constraints(iopt);
out_unlock:
	up_write(&iopt->iova_rwsem);
	return rc;
}

/**
 * iopt_add_pinning_access() - an access that may pin pages joins the table
 * @iopt: the table
 * @why: the reason on failure, see iopt_why()
 *
 * From now on until iopt_remove_pinning_access() everything is mapped in
 * whole CPU pages, so that a pin never hands out a page part of which
 * belongs to another mapping.
 *
 * Return: 0; -EADDRINUSE while a mapping is not page aligned.
 */
int iopt_add_pinning_access(struct io_pagetable *iopt, char *why)
{
	int rc = 0;

	down_write(&iopt->iova_rwsem);
	if (!iopt_areas_aligned(iopt, PAGE_SIZE)) {
		iopt_why(why,
			 "a mapping is not aligned to 0x%lx, the CPU page an access pins",
			 PAGE_SIZE);
		rc = -EADDRINUSE;
		goto out_unlock;
	}
	iopt->pinning_accesses++;
	iopt_update_constraints(iopt);
out_unlock:
	up_write(&iopt->iova_rwsem);
	return rc;
}

/**
 * iopt_remove_pinning_access() - undo iopt_add_pinning_access()
 * @iopt: the table
 */
void iopt_remove_pinning_access(struct io_pagetable *iopt)
{
	down_write(&iopt->iova_rwsem);
	if (!WARN_ON(!iopt->pinning_accesses))
		iopt->pinning_accesses--;
	iopt_update_constraints(iopt);
	up_write(&iopt->iova_rwsem);
}

/**
 * iopt_set_dirty_tracking() - start or stop a domain's dirty tracking
 * @iopt: the table
 * @domain: one of the table's domains
 * @enable: start (true) or stop recording
 *
 * Starting first forgets whatever dirty state the IOPTEs hold, so that the
 * first report after it holds only the DMA writes made since.
 *
 * Context: takes @iopt->iova_rwsem for reading, so that the areas and
 * their IOPTEs stay while the domain is walked.
 * Return: 0, -EOPNOTSUPP if @domain was not made for dirty tracking, or
 * the IOMMU driver's error.
 */
int iopt_set_dirty_tracking(struct io_pagetable *iopt,
			    struct iommu_domain *domain, bool enable)
{
	const struct iommu_dirty_ops *ops = domain->dirty_ops;
	struct iommu_iotlb_gather gather;
	struct iommu_dirty_bitmap dirty;
	struct iopt_area *area;
	int rc = 0;

	if (!ops)
		return -EOPNOTSUPP;

	down_read(&iopt->iova_rwsem);
	if (enable) {
		/* No bitmap: the driver only clears. */
		iommu_dirty_bitmap_init(&dirty, NULL, &gather);
		for (area = iopt_area_first(iopt); area && !rc;
		     area = iopt_area_next(area))
			rc = ops->read_and_clear_dirty(domain, area->span.start,
						       iopt_area_length(area),
						       0, &dirty);
		iommu_iotlb_sync(domain, &gather);
	}
	if (!rc)
		rc = ops->set_dirty_tracking(domain, enable);
	up_read(&iopt->iova_rwsem);
	return rc;
}

/**
 * struct iopt_dirty_walk - one IOMMU_HWPT_GET_DIRTY_BITMAP in progress
 * @iopt: the table
 * @domain: the domain whose dirty state is read
 * @dirty: where the driver reports
 * @flags: IOMMU_DIRTY_NO_CLEAR or 0
 */
struct iopt_dirty_walk {
	struct io_pagetable *iopt;
	struct iommu_domain *domain;
	struct iommu_dirty_bitmap dirty;
	unsigned long flags;
};

/* Have the driver report the dirty IOVA of [@iova, @last], all mapped. */
static int iopt_read_dirty_spans(struct iopt_dirty_walk *walk,
				 unsigned long iova, unsigned long last)
{
	const struct iommu_dirty_ops *ops = walk->domain->dirty_ops;
	unsigned long cur = iova;
	struct iopt_span *span;
	int rc;

	lockdep_assert_held(&walk->iopt->iova_rwsem);

	for (span = iopt_span_first(walk->iopt, iova, last); span;
	     span = iopt_span_next(span, last)) {
		unsigned long seg_last = min(span->last, last);

		if (span->kind != IOPT_SPAN_AREA || span->start > cur)
			return -EINVAL;
		rc = ops->read_and_clear_dirty(walk->domain, cur,
					       seg_last - cur + 1, walk->flags,
					       &walk->dirty);
		if (rc)
			return rc;
		if (seg_last == last)
			return 0;
		cur = seg_last + 1;
		cond_resched();
	}
	return -EINVAL;
}

/*
 * The iova_bitmap_for_each() step: the driver reports the IOVA in
 * [@iova, @iova + @length - 1], the part of the range the pinned piece of
 * the user bitmap covers. The table is locked for one piece at a time:
 * iova_bitmap_for_each() pins the next piece of the user bitmap between
 * two steps, and pinning may wait for userspace.
 */
static int iopt_read_dirty_window(struct iova_bitmap *bitmap,
				  unsigned long iova, size_t length,
				  void *opaque)
{
	struct iopt_dirty_walk *walk = opaque;
	int rc;

	down_read(&walk->iopt->iova_rwsem);
	rc = iopt_read_dirty_spans(walk, iova, iova + (length - 1));
	/* Cleared dirty bits must not stay cached as set in the IOTLB. */
	if (!(walk->flags & IOMMU_DIRTY_NO_CLEAR))
		iommu_iotlb_sync(walk->domain, walk->dirty.gather);
	up_read(&walk->iopt->iova_rwsem);
	return rc;
}

/**
 * iopt_read_and_clear_dirty() - report a domain's dirty IOVA to userspace
 * @iopt: the table
 * @domain: one of the table's domains
 * @flags: IOMMU_DIRTY_NO_CLEAR to leave the dirty state recorded
 * @iova: first IOVA to report on
 * @length: bytes of IOVA to report on
 * @page_size: bytes of IOVA one bit of the bitmap stands for
 * @data: the user bitmap
 *
 * The user bitmap is pinned and written a bounded piece at a time (see
 * iova_bitmap_for_each()), never whole, so its size is not limited by
 * what the kernel can pin at once. Each piece is pinned without the
 * table's lock, and the IOVA it covers read with it: the mappings may
 * change between two pieces, and each piece is read as it is then.
 *
 * Context: takes @iopt->iova_rwsem for reading, a piece at a time.
 * Return: 0; -EINVAL for a zero @length, a @page_size that is not a power
 * of two, a range not aligned to it or to the table's IOVA alignment, or
 * a range with IOVA that is not mapped; -EOVERFLOW if the range wraps;
 * -EOPNOTSUPP if @domain was not made for dirty tracking; -EFAULT if the
 * bitmap cannot be written; -EPROTO if the driver reported IOVA outside
 * the range; -ENOMEM; or the IOMMU driver's error.
 */
int iopt_read_and_clear_dirty(struct io_pagetable *iopt,
			      struct iommu_domain *domain, unsigned long flags,
			      u64 iova, u64 length, u64 page_size,
			      u64 __user *data)
{
	struct iopt_dirty_walk walk = {
		.iopt = iopt,
		.domain = domain,
		.flags = flags,
	};
	struct iommu_iotlb_gather gather;
	struct iova_bitmap *bitmap;
	u64 last;
	int rc;

	if (!domain->dirty_ops)
		return -EOPNOTSUPP;
	if (!length || !is_power_of_2(page_size))
		return -EINVAL;
	if (check_add_overflow(iova, length - 1, &last) || last > ULONG_MAX)
		return -EOVERFLOW;
	if ((iova | length) & (page_size - 1) ||
	    (iova | length) & (iopt->iova_alignment - 1))
		return -EINVAL;

	/* Pins the first piece of the bitmap, before the table's lock. */
	bitmap = iova_bitmap_alloc(iova, length, page_size, data);
	if (IS_ERR(bitmap))
		return PTR_ERR(bitmap);
	iommu_dirty_bitmap_init(&walk.dirty, bitmap, &gather);

	rc = iova_bitmap_for_each(bitmap, &walk, iopt_read_dirty_window);
	iova_bitmap_free(bitmap);
	return rc;
}
