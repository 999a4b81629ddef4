// SPDX-License-Identifier: GPL-2.0-only
/*
 * IOVA reserved in an io_pagetable: ranges that must never be mapped, such
 * as the MSI doorbell window and the firmware's direct mappings of the
 * devices whose IOMMU groups translate through the table's domains
 * (iopt_reserve_group_regions()).
 *
 * Each reservation is a struct iopt_reserved on io_pagetable::reservations,
 * removed by the owner that made it, or with the table when it has none.
 * Reservations may overlap one another but no mapping and no allowed
 * range. The span tree holds their union, rebuilt from the list on every
 * change, so that removing a reservation never allocates and cannot fail.
 *
 * Locking: io_pagetable::iova_rwsem for writing, which the callers of
 * iopt_reserve_iova() hold and the other functions take. The lock order is
 * in io_pagetable.h.
 */
#include <linux/iommu.h>
#include <linux/kernel.h>
#include <linux/list_sort.h>
#include <linux/lockdep.h>
#include <linux/slab.h>

#include "io_pagetable.h"
#include "iommufd_private.h"

/* Take every reservation's span out of the tree. */
static void iopt_unlink_reserved(struct io_pagetable *iopt)
{
	struct iopt_reserved *reserved;

	lockdep_assert_held_write(&iopt->iova_rwsem);

	list_for_each_entry(reserved, &iopt->reservations, node) {
		if (!reserved->in_tree)
			continue;
		iopt_span_remove(iopt, &reserved->span);
		reserved->in_tree = false;
	}
}

static int iopt_reserved_cmp(void *priv, const struct list_head *a,
			     const struct list_head *b)
{
	const struct iopt_reserved *l = list_entry(a, struct iopt_reserved,
						   node);
	const struct iopt_reserved *r = list_entry(b, struct iopt_reserved,
						   node);

	return l->start > r->start;
}

/*
 * Reservations may overlap (every device behind one IOMMU reserves the
 * same MSI window), but spans in the tree may not. So the tree holds the
 * union: each run of overlapping or touching reservations is one span,
 * that of the lowest reservation of the run, stretched over the run.
 * Rebuilding never allocates, so that removing a reservation cannot fail.
 */
static void iopt_rebuild_reserved(struct io_pagetable *iopt)
{
	struct iopt_reserved *reserved, *leader = NULL;

	lockdep_assert_held_write(&iopt->iova_rwsem);

	iopt_unlink_reserved(iopt);
	list_sort(NULL, &iopt->reservations, iopt_reserved_cmp);
	list_for_each_entry(reserved, &iopt->reservations, node) {
		if (leader && (leader->span.last == ULONG_MAX ||
			       reserved->start <= leader->span.last + 1)) {
			leader->span.last = max(leader->span.last,
						reserved->last);
			continue;
		}
		if (leader) {
			iopt_span_insert(iopt, &leader->span);
			leader->in_tree = true;
		}
		leader = reserved;
		leader->span.start = reserved->start;
		leader->span.last = reserved->last;
	}
	if (leader) {
		iopt_span_insert(iopt, &leader->span);
		leader->in_tree = true;
	}
}

/**
 * iopt_reserve_iova() - keep a range of IOVA from ever being mapped
 * @iopt: the table
 * @start: first IOVA
 * @last: last IOVA, inclusive
 * @owner: identifies the reservation for iopt_remove_reserved_iova(); NULL
 *         for one that lasts as long as the table
 *
 * Reservations may not overlap a mapping or a range userspace allowed for
 * kernel-chosen IOVAs; they may overlap each other.
 *
 * Context: caller holds @iopt->iova_rwsem for writing.
 * Return: 0, -EADDRINUSE if the range overlaps a mapping or an allowed
 * range, -ENOMEM.
 */
int iopt_reserve_iova(struct io_pagetable *iopt, unsigned long start,
		      unsigned long last, void *owner)
{
	struct iopt_reserved *reserved;
	struct iopt_span *span;
	unsigned int i;

	lockdep_assert_held_write(&iopt->iova_rwsem);

	for (span = iopt_span_first(iopt, start, last); span;
	     span = iopt_span_next(span, last))
		if (span->kind == IOPT_SPAN_AREA)
			return -EADDRINUSE;
	for (i = 0; i != iopt->num_allowed; i++)
		if (iopt->allowed[i].start <= last &&
		    iopt->allowed[i].last >= start)
			return -EADDRINUSE;

	reserved = kzalloc(sizeof(*reserved), GFP_KERNEL_ACCOUNT);
	if (!reserved)
		return -ENOMEM;
	reserved->span.kind = IOPT_SPAN_RESERVED;
	reserved->start = start;
	reserved->last = last;
	reserved->owner = owner;
	list_add_tail(&reserved->node, &iopt->reservations);
	iopt_rebuild_reserved(iopt);
	return 0;
}

static void __iopt_remove_reserved_iova(struct io_pagetable *iopt,
					void *owner)
{
	struct iopt_reserved *reserved, *next;

	lockdep_assert_held_write(&iopt->iova_rwsem);

	/* Out of the tree first: a leader may carry others' ranges. */
	iopt_unlink_reserved(iopt);
	list_for_each_entry_safe(reserved, next, &iopt->reservations, node) {
		if (reserved->owner != owner)
			continue;
		list_del(&reserved->node);
		kfree(reserved);
	}
	iopt_rebuild_reserved(iopt);
}

/**
 * iopt_remove_reserved_iova() - drop every reservation of one owner
 * @iopt: the table
 * @owner: the owner given to iopt_reserve_iova()
 */
void iopt_remove_reserved_iova(struct io_pagetable *iopt, void *owner)
{
	down_write(&iopt->iova_rwsem);
	__iopt_remove_reserved_iova(iopt, owner);
	up_write(&iopt->iova_rwsem);
}

/* Whether @owner already reserves exactly [@start, @last]. */
static bool iopt_owner_reserves(struct io_pagetable *iopt, unsigned long start,
				unsigned long last, void *owner)
{
	struct iopt_reserved *reserved;

	lockdep_assert_held(&iopt->iova_rwsem);

	list_for_each_entry(reserved, &iopt->reservations, node)
		if (reserved->owner == owner && reserved->start == start &&
		    reserved->last == last)
			return true;
	return false;
}

/**
 * iopt_reserve_group_regions() - reserve the IOVA an IOMMU group claims
 * @iopt: the table
 * @group: a group about to translate through the table's domains
 * @owner: owner of the reservations, for iopt_remove_reserved_iova()
 * @why: IOPT_WHY_LEN bytes for the reason of a failure, or NULL
 *
 * The IOMMU driver reports, per device, IOVA it must not map: the MSI
 * doorbell window, firmware-required direct mappings (RMRR). A mapping
 * there would hijack interrupts or clash with the firmware's DMA. A domain
 * translates for every device of the group, so the union over the group
 * is reserved. Regions the driver marks relaxable (direct mappings only a
 * kernel driver needs) are left out, as for VFIO's type1.
 *
 * Calling it again for a group @owner already reserved for adds only what
 * is new, e.g. the regions of a device that joined the group since, so
 * that repeated calls do not pile up reservations.
 *
 * Return: 0; -EADDRINUSE if the IOAS maps or allows IOVA in such a region
 * (nothing is added then, what @owner reserved before stays); -ENOMEM.
 */
int iopt_reserve_group_regions(struct io_pagetable *iopt,
			       struct iommu_group *group, void *owner,
			       char *why)
{
	struct iommu_resv_region *resv, *next;
	struct iopt_reserved *reserved;
	LIST_HEAD(regions);
	int rc;

	rc = iommu_get_group_resv_regions(group, &regions);
	if (rc)
		goto out_free;
	down_write(&iopt->iova_rwsem);
	/*
	 * Reserved under the list's address first, so that a failure takes
	 * back only what this call added; then handed over to @owner.
	 */
	list_for_each_entry(resv, &regions, list) {
		unsigned long last = resv->start + resv->length - 1;

		if (resv->type == IOMMU_RESV_DIRECT_RELAXABLE || !resv->length ||
		    iopt_owner_reserves(iopt, resv->start, last, owner))
			continue;
		rc = iopt_reserve_iova(iopt, resv->start, last, &regions);
		if (rc) {
			if (rc == -EADDRINUSE)
				iopt_why(why,
					 "IOMMU group %d must reserve IOVA 0x%lx-0x%lx (%s), which the IOAS maps or allows",
					 iommu_group_id(group),
					 (unsigned long)resv->start, last,
					 resv->type == IOMMU_RESV_MSI ||
							 resv->type ==
								 IOMMU_RESV_SW_MSI ?
						 "MSI" :
						 "reserved region");
			__iopt_remove_reserved_iova(iopt, &regions);
			break;
		}
	}
	if (!rc)
		list_for_each_entry(reserved, &iopt->reservations, node)
			if (reserved->owner == &regions)
				reserved->owner = owner;
	up_write(&iopt->iova_rwsem);
out_free:
	/* The group's list is a copy made for us. */
	list_for_each_entry_safe(resv, next, &regions, list)
		kfree(resv);
	return rc;
}
