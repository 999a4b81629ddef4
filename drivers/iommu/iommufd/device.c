// SPDX-License-Identifier: GPL-2.0-only
/*
 * Devices bound to an iommufd context, and their attachment to IOASes and
 * HWPTs: the kernel API of include/linux/iommufd.h.
 *
 * A driver that owns a device (VFIO, or the test mock) binds it to a
 * context. Userspace speaks of devices, but the IOMMU group stays the unit
 * of isolation: devices of one group can reach each other's DMA, and the
 * IOMMU translates them all through one domain. So:
 *
 *  - Binding a device makes the context the DMA owner of its whole group
 *    (iommu_device_claim_dma_owner()). The IOMMU core refuses while a
 *    kernel driver that uses the DMA API is bound to any device of the
 *    group, or while another owner (another context, a VFIO container)
 *    holds it; and while the context owns the group, no such driver can
 *    probe. Other devices of the group may be bound to the same context.
 *  - struct iommufd_group is the context's view of one group: the HWPT the
 *    group is attached to and the bound devices attached through it. The
 *    first device to attach moves the group from the blocking domain to
 *    the HWPT's domain; the others may only attach to that same HWPT; the
 *    last to detach returns the group to blocking. A bound device is never
 *    left with DMA to memory nobody mapped for it.
 *  - Attaching again replaces: the group moves to the new domain
 *    (iommu_group_replace_domain()), with every device of the group that
 *    was attached. DMA never reaches memory that neither domain maps, but
 *    6.1's drivers (VT-d among them) detach before they attach, so DMA may
 *    be blocked for a moment in between.
 *  - A device that detaches while a sibling stays attached keeps
 *    translating through the group's HWPT: the group, not the device, is
 *    what the IOMMU translates. Only the last detach blocks DMA.
 *  - While the group is on a HWPT, the IOVA its IOMMU reserves for any of
 *    its devices (the MSI window, RMRRs) is reserved in the IOAS, so
 *    userspace can never map over it; the attach fails with EADDRINUSE if
 *    the IOAS already does.
 *
 * Attaching to an IOAS reuses an automatic HWPT of that IOAS whose domain
 * the device's IOMMU accepts, or makes a new one; attaching to a HWPT uses
 * its domain. A nested HWPT is in its parent's IOAS: the group's reserved
 * IOVA is reserved there, and that IOAS's mutex counts its devices. The
 * device object belongs to the driver: userspace sees its ID but cannot
 * destroy it, and unbinding removes it.
 *
 * Lock order: iommufd_group::lock, then iommufd_ioas::mutex (hw_pagetable.c
 * continues from there). Two IOAS mutexes are never held together.
 */
#define pr_fmt(fmt) "iommufd: " fmt

#include <linux/device.h>
#include <linux/iommu.h>
#include <linux/iommufd.h>
#include <linux/irqdomain.h>
#include <linux/lockdep.h>
#include <linux/log2.h>
#include <linux/module.h>
#include <linux/pci.h>
#include <linux/pci-ats.h>
#include <linux/property.h>
#include <linux/sched/signal.h>
#include <linux/seq_file.h>
#include <linux/slab.h>
#include <linux/string.h>
#include <uapi/linux/iommufd.h>

#include "iommufd_private.h"

static bool allow_unsafe_interrupts;
module_param(allow_unsafe_interrupts, bool, 0644);
MODULE_PARM_DESC(allow_unsafe_interrupts,
		 "Bind devices whose IOMMU cannot isolate their MSIs (remapping). Such a device can raise any interrupt of the host: only for trusted users.");

static void iommufd_group_release(struct kref *ref)
	__releases(&igroup->ictx->groups.xa_lock)
{
	struct iommufd_group *igroup =
		container_of(ref, struct iommufd_group, ref);

	__xa_erase(&igroup->ictx->groups, iommu_group_id(igroup->group));
	xa_unlock(&igroup->ictx->groups);
	WARN_ON(igroup->hwpt || !list_empty(&igroup->devices));
	iommu_group_put(igroup->group);
	mutex_destroy(&igroup->lock);
	kfree(igroup);
}

static void iommufd_group_put(struct iommufd_group *igroup)
{
	/* Lookups happen under the lock, so they never see a dying entry. */
	kref_put_lock(&igroup->ref, iommufd_group_release,
		      &igroup->ictx->groups.xa_lock);
}

/* The context's entry for @dev's group, made on the first bind. */
static struct iommufd_group *iommufd_group_get(struct iommufd_ctx *ictx,
					       struct device *dev)
{
	struct iommufd_group *igroup, *cur;
	struct iommu_group *group;

	group = iommu_group_get(dev);
	if (!group)
		return ERR_PTR(-ENODEV);

	igroup = kzalloc(sizeof(*igroup), GFP_KERNEL_ACCOUNT);
	if (!igroup) {
		iommu_group_put(group);
		return ERR_PTR(-ENOMEM);
	}
	kref_init(&igroup->ref);
	igroup->ictx = ictx;
	igroup->group = group;
	mutex_init(&igroup->lock);
	iopt_pin_may_wait_for_mutex(&igroup->lock);
	INIT_LIST_HEAD(&igroup->devices);

	xa_lock(&ictx->groups);
	cur = __xa_cmpxchg(&ictx->groups, iommu_group_id(group), NULL, igroup,
			   GFP_KERNEL);
	if (cur && !xa_is_err(cur))
		kref_get(&cur->ref);
	xa_unlock(&ictx->groups);
	if (!cur)
		return igroup;

	/* Another device of the group is bound already (or no memory). */
	iommu_group_put(group);
	mutex_destroy(&igroup->lock);
	kfree(igroup);
	return xa_is_err(cur) ? ERR_PTR(xa_err(cur)) : cur;
}

/**
 * iommufd_ctx_has_group() - whether a context owns an IOMMU group's DMA
 * @ictx: the context
 * @group: the group
 *
 * Return: true while a device of @group is bound to @ictx.
 */
bool iommufd_ctx_has_group(struct iommufd_ctx *ictx, struct iommu_group *group)
{
	struct iommufd_group *igroup;
	bool ret;

	xa_lock(&ictx->groups);
	igroup = xa_load(&ictx->groups, iommu_group_id(group));
	ret = igroup && igroup->claims;
	xa_unlock(&ictx->groups);
	return ret;
}
EXPORT_SYMBOL_NS_GPL(iommufd_ctx_has_group, IOMMUFD);

static void iommufd_group_unclaim(struct iommufd_group *igroup,
				  struct device *dev)
{
	xa_lock(&igroup->ictx->groups);
	igroup->claims--;
	xa_unlock(&igroup->ictx->groups);
	iommu_device_release_dma_owner(dev);
}

/* Whether @dev's IOMMU keeps its MSIs from raising other interrupts. */
static bool iommufd_msi_isolated(struct device *dev)
{
	return device_iommu_capable(dev, IOMMU_CAP_INTR_REMAP) ||
	       irq_domain_check_msi_remap();
}

/* Whether the driver bound to @dev does DMA through the kernel's DMA API. */
static bool iommufd_driver_uses_dma_api(struct device *dev,
					struct device_driver *drv)
{
	/* 6.1 keeps driver_managed_dma in the bus's driver structures. */
	if (dev_is_pci(dev))
		return !to_pci_driver(drv)->driver_managed_dma;
	return true;
}

struct iommufd_dma_user {
	struct device *bound;
	char *why;
};

static int iommufd_name_dma_user(struct device *dev, void *data)
{
	struct iommufd_dma_user *user = data;
	struct device_driver *drv = READ_ONCE(dev->driver);

	if (dev == user->bound || !drv ||
	    !iommufd_driver_uses_dma_api(dev, drv))
		return 0;
	iopt_why(user->why,
		 "IOMMU group %d: its device %s is bound to the kernel driver %s, which uses the DMA API; unbind it first",
		 iommu_group_id(dev->iommu_group), dev_name(dev), drv->name);
	return 1;
}

/*
 * Say in the kernel log and in the context's fdinfo why the group could
 * not be owned: VFIO's bind ioctl has only an errno to give, and EPERM
 * alone names nobody.
 */
static void iommufd_explain_claim(struct iommufd_ctx *ictx, struct device *dev,
				  struct iommu_group *group, int rc)
{
	char why[IOPT_WHY_LEN];
	struct iommufd_dma_user user = { .bound = dev, .why = why };

	if (rc != -EPERM)
		return;
	if (!iommu_group_for_each_dev(group, &user, iommufd_name_dma_user))
		iopt_why(why,
			 "IOMMU group %d: another user (a VFIO container or another iommufd context) owns its DMA",
			 iommu_group_id(group));
	dev_notice_ratelimited(dev, "iommufd: cannot own the DMA of %s\n",
			       why);
	iommufd_ctx_refused(ictx, "device bind", rc, why);
}

/**
 * iommufd_device_bind() - hand a device's DMA to an iommufd context
 * @ictx: the context
 * @dev: the device; the caller keeps it alive until iommufd_device_unbind()
 * @id: set to the ID userspace uses for the device
 *
 * Return: the bound device, or an ERR_PTR(): -ENODEV if the device has no
 * IOMMU group; -EINVAL if its IOMMU cannot enforce cache coherency; -EPERM
 * if its IOMMU cannot isolate MSIs (unless allow_unsafe_interrupts), or if
 * a kernel DMA-API driver or another owner uses the group (the kernel log
 * names which); -EBUSY if the group is attached elsewhere; -ENOMEM.
 */
struct iommufd_device *iommufd_device_bind(struct iommufd_ctx *ictx,
					   struct device *dev, u32 *id)
{
	struct iommufd_group *igroup;
	struct iommufd_device *idev;
	int rc;

	igroup = iommufd_group_get(ictx, dev);
	if (IS_ERR(igroup))
		return ERR_CAST(igroup);

	if (!device_iommu_capable(dev, IOMMU_CAP_CACHE_COHERENCY)) {
		dev_notice_ratelimited(dev, "iommufd: its IOMMU cannot enforce cache coherent DMA\n");
		rc = -EINVAL;
		iommufd_ctx_refused(ictx, "device bind", rc,
				    "the device's IOMMU cannot enforce cache coherent DMA");
		goto err_put_group;
	}
	if (!iommufd_msi_isolated(dev)) {
		if (!allow_unsafe_interrupts) {
			dev_notice_ratelimited(dev, "iommufd: its IOMMU cannot isolate MSIs (no interrupt remapping); see iommufd.allow_unsafe_interrupts\n");
			rc = -EPERM;
			iommufd_ctx_refused(ictx, "device bind", rc,
					    "the device's IOMMU cannot isolate MSIs (no interrupt remapping); see iommufd.allow_unsafe_interrupts");
			goto err_put_group;
		}
		dev_warn(dev, "iommufd: binding a device whose MSIs are not isolated, as allow_unsafe_interrupts says\n");
	}

	rc = iommu_device_claim_dma_owner(dev, ictx);
	if (rc) {
		iommufd_explain_claim(ictx, dev, igroup->group, rc);
		goto err_put_group;
	}
	xa_lock(&ictx->groups);
	igroup->claims++;
	xa_unlock(&ictx->groups);

	idev = iommufd_object_alloc(ictx, struct iommufd_device,
				    IOMMUFD_OBJ_DEVICE);
	if (IS_ERR(idev)) {
		rc = PTR_ERR(idev);
		goto err_release;
	}
	idev->ictx = ictx;
	idev->dev = dev;
	idev->igroup = igroup;
	INIT_LIST_HEAD(&idev->group_item);
	mutex_init(&idev->fault_lock);
	/* The binding driver's reference, dropped by iommufd_device_unbind(). */
	refcount_inc(&idev->obj.users);
	*id = idev->obj.id;
	iommufd_object_publish(ictx, &idev->obj);
	return idev;

err_release:
	iommufd_group_unclaim(igroup, dev);
err_put_group:
	iommufd_group_put(igroup);
	return ERR_PTR(rc);
}
EXPORT_SYMBOL_NS_GPL(iommufd_device_bind, IOMMUFD);

/**
 * iommufd_device_unbind() - give a bound device back to its driver
 * @idev: the device from iommufd_device_bind()
 *
 * Detaches the device if needed and ends the context's DMA ownership.
 *
 * Context: may sleep while ioctls that use the device finish.
 */
void iommufd_device_unbind(struct iommufd_device *idev)
{
	iommufd_object_remove(idev->ictx, &idev->obj, 1);
}
EXPORT_SYMBOL_NS_GPL(iommufd_device_unbind, IOMMUFD);

/**
 * iommufd_device_show() - a bound device's fdinfo fields
 * @m: the fdinfo file
 * @obj: the device, referenced
 *
 * Context: takes the group's lock.
 */
void iommufd_device_show(struct seq_file *m, struct iommufd_object *obj)
{
	struct iommufd_device *idev =
		container_of(obj, struct iommufd_device, obj);
	struct iommufd_group *igroup = idev->igroup;

	seq_printf(m, " dev=%s group=%d", dev_name(idev->dev),
		   iommu_group_id(igroup->group));
	mutex_lock(&igroup->lock);
	if (idev->attached)
		seq_printf(m, " hwpt=%u ioas=%u", igroup->hwpt->obj.id,
			   igroup->hwpt->ioas->obj.id);
	else
		seq_puts(m, " hwpt=none");
	mutex_unlock(&igroup->lock);
}

/**
 * iommufd_device_destroy() - release a device's object when it is unbound
 * @obj: the device's object header
 */
void iommufd_device_destroy(struct iommufd_object *obj)
{
	struct iommufd_device *idev =
		container_of(obj, struct iommufd_device, obj);

	iommufd_device_detach(idev);
	iommufd_group_unclaim(idev->igroup, idev->dev);
	iommufd_group_put(idev->igroup);
	mutex_destroy(&idev->fault_lock);
}

/*
 * 6.1 calls the domain's attach_dev() whatever IOMMU the device is behind,
 * so a domain must never meet a device of another IOMMU driver.
 */
static bool iommufd_domain_fits(struct iommu_domain *domain,
				struct device *dev)
{
	return domain->ops == dev_iommu_ops(dev)->default_domain_ops;
}

/* How many devices of @igroup are attached (to its HWPT). */
static unsigned int iommufd_group_attached(struct iommufd_group *igroup)
{
	struct iommufd_device *cur;
	unsigned int n = 0;

	lockdep_assert_held(&igroup->lock);
	list_for_each_entry(cur, &igroup->devices, group_item)
		n++;
	return n;
}

/*
 * Put @idev's group on @hwpt. The first device attaches the group; a
 * sibling of an attached device joins the group's HWPT; a replacement
 * moves the group, with every attached device of it, straight to @hwpt.
 * On success @idev is attached, and @hwpt counts, and is referenced by,
 * every device newly on it; the caller settles the old HWPT's side.
 */
static int iommufd_group_set_hwpt(struct iommufd_device *idev,
				  struct iommufd_hw_pagetable *hwpt,
				  bool replace, char *why)
{
	struct iommufd_group *igroup = idev->igroup;
	struct iommufd_hw_pagetable *old = igroup->hwpt;
	bool reserve;
	unsigned int n;
	int rc;

	lockdep_assert_held(&igroup->lock);
	lockdep_assert_held(&hwpt->ioas->mutex);

	/* A nested domain's driver is its parent's. */
	if (!iommufd_domain_fits(iommufd_hwpt_paging_domain(hwpt),
				 idev->dev)) {
		iopt_why(why, "HWPT %u was made by another IOMMU driver than %s's",
			 hwpt->obj.id, dev_name(idev->dev));
		return -EINVAL;
	}
	if (old == hwpt) {
		if (idev->attached)
			return 0;
	} else if (old && !replace) {
		/* One group, one domain: a sibling cannot pick another. */
		iopt_why(why,
			 "IOMMU group %d of %s is attached to HWPT %u: its devices share one domain",
			 iommu_group_id(igroup->group), dev_name(idev->dev),
			 old->obj.id);
		return -EINVAL;
	}

	/*
	 * IO page faults are routed per device (fault.c), but a domain
	 * change moves the whole group: a HWPT with a fault queue, coming
	 * or going, is only for a device attached alone.
	 */
	if ((hwpt->fault || (old && old->fault)) &&
	    iommufd_group_attached(igroup) > idev->attached) {
		iopt_why(why,
			 "IO page faults need %s to be the only attached device of IOMMU group %d",
			 dev_name(idev->dev), iommu_group_id(igroup->group));
		return -EINVAL;
	}

	/*
	 * The domain translates for every device of the group, attached or
	 * not, so the group's reserved IOVA is reserved in the IOAS for as
	 * long as the group is on one of its HWPTs. A sibling joining the
	 * group's HWPT may have come into the group after that (hotplug):
	 * its regions are added then, and a conflict fails its attach.
	 */
	reserve = !old || old->ioas != hwpt->ioas;
	rc = iopt_reserve_group_regions(&hwpt->ioas->iopt, igroup->group,
					igroup, why);
	if (rc)
		return rc;
	rc = iommufd_fault_attach_prepare(idev, hwpt);
	if (rc) {
		iopt_why(why, "another fault handler is registered for %s",
			 dev_name(idev->dev));
		goto err_unreserve;
	}

	if (!old)
		rc = iommu_attach_group(hwpt->domain, igroup->group);
	else if (old != hwpt)
		rc = iommu_group_replace_domain(igroup->group, hwpt->domain);
	if (rc) {
		iommufd_fault_attach_abort(idev);
		goto err_unreserve;
	}
	iommufd_fault_attach_commit(idev, hwpt);

	if (old != hwpt) {
		n = iommufd_group_attached(igroup);
		hwpt->devices += n;
		refcount_add(n, &hwpt->obj.users);
		igroup->hwpt = hwpt;
	}
	if (!idev->attached) {
		hwpt->devices++;
		refcount_inc(&hwpt->obj.users);
		list_add_tail(&idev->group_item, &igroup->devices);
		idev->attached = true;
	}
	return 0;

err_unreserve:
	if (reserve)
		iopt_remove_reserved_iova(&hwpt->ioas->iopt, igroup);
	return rc;
}

/*
 * @n devices of @igroup left @hwpt: lift the group's reserved IOVA from
 * its IOAS if @unreserve (the group is blocked now, or on another IOAS),
 * and drop all but one of their references. The caller drops the last
 * with iommufd_hwpt_put_last() once it holds no lock: destroying an
 * automatic HWPT waits for ioctls that may be waiting for those locks.
 *
 * Return: whether @hwpt is an automatic HWPT that lost its last device.
 */
static bool iommufd_hwpt_put_devices(struct iommufd_group *igroup,
				     struct iommufd_hw_pagetable *hwpt,
				     unsigned int n, bool unreserve)
{
	struct iommufd_ioas *ioas = hwpt->ioas;
	bool last;

	lockdep_assert_held(&igroup->lock);

	if (unreserve)
		iopt_remove_reserved_iova(&ioas->iopt, igroup);
	mutex_lock(&ioas->mutex);
	hwpt->devices -= n;
	last = hwpt->auto_domain && !hwpt->devices;
	/* Off the list, no attach can pick the dying HWPT up again. */
	if (last)
		list_del_init(&hwpt->ioas_item);
	mutex_unlock(&ioas->mutex);

	while (n-- > 1)
		iommufd_put_object(&hwpt->obj);
	return last;
}

static void iommufd_hwpt_put_last(struct iommufd_ctx *ictx,
				  struct iommufd_hw_pagetable *hwpt, bool last)
{
	if (last)
		iommufd_object_remove(ictx, &hwpt->obj, 1);
	else
		iommufd_put_object(&hwpt->obj);
}

/* Find or make an automatic HWPT of @ioas for @idev's group, and use it. */
static struct iommufd_hw_pagetable *
iommufd_device_set_ioas(struct iommufd_device *idev, struct iommufd_ioas *ioas,
			bool replace, struct iopt_prepin *pre, char *why)
{
	struct iommufd_hw_pagetable *cur = idev->igroup->hwpt;
	struct iommufd_hw_pagetable *hwpt;
	int rc;

	mutex_lock(&ioas->mutex);
	/* Already there, or joining a sibling that is. */
	if (cur && cur->ioas == ioas && cur->auto_domain) {
		rc = iommufd_group_set_hwpt(idev, cur, replace, why);
		hwpt = cur;
		goto out_unlock;
	}
	/* A sibling is attached elsewhere: no point in making a domain. */
	if (cur && !replace) {
		iopt_why(why,
			 "IOMMU group %d of %s is attached to HWPT %u: its devices share one domain",
			 iommu_group_id(idev->igroup->group),
			 dev_name(idev->dev), cur->obj.id);
		rc = -EINVAL;
		goto out_unlock;
	}
	list_for_each_entry(hwpt, &ioas->hwpt_list, ioas_item) {
		if (!hwpt->auto_domain ||
		    !iommufd_domain_fits(hwpt->domain, idev->dev))
			continue;
		rc = iommufd_group_set_hwpt(idev, hwpt, replace, why);
		/* EINVAL: this IOMMU cannot use the domain; try the next. */
		if (rc != -EINVAL)
			goto out_unlock;
	}

	hwpt = iommufd_hwpt_alloc(idev->ictx, ioas, idev->dev, 0, NULL, true,
				  pre, why);
	if (IS_ERR(hwpt)) {
		rc = PTR_ERR(hwpt);
		goto out_unlock;
	}
	/* The domain already maps the IOAS: no window with DMA unmapped. */
	rc = iommufd_group_set_hwpt(idev, hwpt, replace, why);
	if (rc) {
		list_del_init(&hwpt->ioas_item);
		mutex_unlock(&ioas->mutex);
		iommufd_object_unwind(idev->ictx, &hwpt->obj);
		return ERR_PTR(rc);
	}
	iommufd_object_publish(idev->ictx, &hwpt->obj);
out_unlock:
	mutex_unlock(&ioas->mutex);
	return rc ? ERR_PTR(rc) : hwpt;
}

static int iommufd_device_set_hwpt(struct iommufd_device *idev,
				   struct iommufd_hw_pagetable *hwpt,
				   bool replace, char *why)
{
	int rc;

	mutex_lock(&hwpt->ioas->mutex);
	/*
	 * An automatic HWPT lives only while devices use it: one without
	 * devices lost its last one and is on its way out.
	 */
	if (hwpt->auto_domain && !hwpt->devices)
		rc = -ENOENT;
	else
		rc = iommufd_group_set_hwpt(idev, hwpt, replace, why);
	mutex_unlock(&hwpt->ioas->mutex);
	return rc;
}

static int iommufd_device_change_pt(struct iommufd_device *idev, u32 *pt_id,
				    bool replace)
{
	struct iommufd_group *igroup = idev->igroup;
	struct iommufd_hw_pagetable *hwpt, *old;
	const char *op = replace ? "device replace" : "device attach";
	struct iopt_prepin pre = {};
	struct iommufd_object *pt_obj;
	char why[IOPT_WHY_LEN] = "";
	struct iommufd_ioas *ioas;
	unsigned int n = 0;
	bool last = false;
	int rc = 0;

	pt_obj = iommufd_object_lookup(idev->ictx, *pt_id, IOMMUFD_OBJ_ANY);
	if (IS_ERR(pt_obj)) {
		iopt_why(why, "no IOAS or HWPT with ID %u", *pt_id);
		iommufd_ctx_refused(idev->ictx, op, PTR_ERR(pt_obj), why);
		return PTR_ERR(pt_obj);
	}

	/*
	 * An IOAS's first domain pins all its memory, which may wait for
	 * userspace: pin before taking the group's and the IOAS's locks, and
	 * again if the IOAS changed before they were taken (pre.stale).
	 */
again:
	if (pt_obj->type == IOMMUFD_OBJ_IOAS) {
		ioas = container_of(pt_obj, struct iommufd_ioas, obj);
		if (xa_empty(&ioas->iopt.domains)) {
			rc = iopt_prepin_range(&ioas->iopt, 0, ULONG_MAX, &pre,
					       why);
			if (rc)
				goto out_put;
		}
	}

	mutex_lock(&igroup->lock);
	if (idev->attached != replace) {
		rc = replace ? -EINVAL : -EBUSY;
		goto out_unlock;
	}
	old = igroup->hwpt;
	switch (pt_obj->type) {
	case IOMMUFD_OBJ_IOAS:
		ioas = container_of(pt_obj, struct iommufd_ioas, obj);
		hwpt = iommufd_device_set_ioas(idev, ioas, replace, &pre, why);
		rc = PTR_ERR_OR_ZERO(hwpt);
		break;
	case IOMMUFD_OBJ_HWPT_PAGING:
	case IOMMUFD_OBJ_HWPT_NESTED:
		hwpt = container_of(pt_obj, struct iommufd_hw_pagetable, obj);
		rc = iommufd_device_set_hwpt(idev, hwpt, replace, why);
		break;
	default:
		iopt_why(why, "object %u is neither an IOAS nor a HWPT",
			 *pt_id);
		rc = -EINVAL;
		break;
	}
	if (rc)
		goto out_unlock;

	if (old && old != hwpt) {
		/* The whole group moved. */
		n = iommufd_group_attached(igroup);
		last = iommufd_hwpt_put_devices(igroup, old, n,
						old->ioas != hwpt->ioas);
	}
	iopt_table_refresh_domains(&hwpt->ioas->iopt);
	*pt_id = hwpt->obj.id;
out_unlock:
	mutex_unlock(&igroup->lock);
	if (n)
		iommufd_hwpt_put_last(idev->ictx, old, last);
	iopt_prepin_release(&pre);
	if (pre.stale) {
		pre.stale = false;
		if (!fatal_signal_pending(current))
			goto again;
		rc = -EINTR;
	}
out_put:
	iommufd_put_object(pt_obj);
	if (rc)
		iommufd_ctx_refused(idev->ictx, op, rc, why);
	return rc;
}

/**
 * iommufd_device_attach() - let a bound device DMA to an IOAS or HWPT
 * @idev: the bound device
 * @pt_id: in: ID of an IOAS or a HWPT; out: ID of the HWPT attached to
 *
 * If another device of the group is attached, @idev joins it, and @pt_id
 * must lead to the same HWPT.
 *
 * Return: 0; -EBUSY if the device is already attached; -ENOENT for a bad
 * ID; -EINVAL if the ID names neither an IOAS nor a HWPT, if the device's
 * IOMMU cannot use the HWPT, or if the group is attached to another one;
 * -EADDRINUSE if the IOAS maps IOVA the device's IOMMU cannot, or reserves
 * for the device (its MSI window, say); -ENOMEM or the IOMMU driver's
 * error.
 */
int iommufd_device_attach(struct iommufd_device *idev, u32 *pt_id)
{
	return iommufd_device_change_pt(idev, pt_id, false);
}
EXPORT_SYMBOL_NS_GPL(iommufd_device_attach, IOMMUFD);

/**
 * iommufd_device_replace() - move an attached device to another IOAS/HWPT
 * @idev: the attached device
 * @pt_id: in: ID of an IOAS or a HWPT; out: ID of the HWPT attached to
 *
 * The device's group moves from its HWPT to the new one, with all its
 * attached devices. DMA is translated by either or, while the IOMMU
 * driver switches (6.1's detach and attach), blocked; never let through.
 * On failure nothing changes.
 *
 * Return: 0; -EINVAL if the device is not attached; otherwise as for
 * iommufd_device_attach().
 */
int iommufd_device_replace(struct iommufd_device *idev, u32 *pt_id)
{
	return iommufd_device_change_pt(idev, pt_id, true);
}
EXPORT_SYMBOL_NS_GPL(iommufd_device_replace, IOMMUFD);

/**
 * iommufd_device_detach() - detach a bound device from its HWPT
 * @idev: the bound device; nothing happens if it is not attached
 *
 * With the group's last attached device, the group goes back to blocking
 * all DMA. Before that the device's DMA still goes through the HWPT its
 * siblings use, as the IOMMU translates the group as one. An automatic
 * HWPT left without devices is destroyed.
 */
void iommufd_device_detach(struct iommufd_device *idev)
{
	struct iommufd_group *igroup = idev->igroup;
	struct iommufd_hw_pagetable *hwpt;
	bool last, group_left;

	mutex_lock(&igroup->lock);
	if (!idev->attached) {
		mutex_unlock(&igroup->lock);
		return;
	}
	hwpt = igroup->hwpt;
	list_del_init(&idev->group_item);
	idev->attached = false;
	/*
	 * Only the group's last device blocks DMA: until then this device
	 * still translates through the HWPT with its siblings, and the
	 * group's reserved IOVA stays reserved.
	 */
	group_left = list_empty(&igroup->devices);
	if (group_left) {
		iommu_detach_group(hwpt->domain, igroup->group);
		igroup->hwpt = NULL;
	}
	/* Its faults are answered: it has no HWPT to fix them in now. */
	iommufd_fault_attach_commit(idev, NULL);
	last = iommufd_hwpt_put_devices(igroup, hwpt, 1, group_left);
	mutex_unlock(&igroup->lock);
	iommufd_hwpt_put_last(idev->ictx, hwpt, last);
}
EXPORT_SYMBOL_NS_GPL(iommufd_device_detach, IOMMUFD);

/*
 * The PASID bits a device may use, for IOMMU_GET_HW_INFO: a PCI device's
 * once its PASID capability is enabled (with what that capability lets
 * it ask for in @caps), any other device's as its firmware describes it
 * ("pasid-num-bits"), never more than its IOMMU takes; 0 if either side
 * has no PASIDs.
 */
static u8 iommufd_device_max_pasid_log2(struct device *dev, u64 *caps)
{
	struct iommu_device *iommu = dev->iommu ? dev->iommu->iommu_dev : NULL;
	u64 pci_caps = 0;
	u32 max = 0, bits;

	if (!iommu || !iommu->max_pasids)
		return 0;
	if (dev_is_pci(dev)) {
#ifdef CONFIG_PCI_PASID
		struct pci_dev *pdev = to_pci_dev(dev);
		u16 ctrl;
		int n;

		n = pdev->pasid_enabled ? pci_max_pasids(pdev) : 0;
		if (n <= 0 || pci_read_config_word(pdev, pdev->pasid_cap +
							 PCI_PASID_CTRL, &ctrl))
			return 0;
		max = n;
		if (ctrl & PCI_PASID_CTRL_EXEC)
			pci_caps |= IOMMU_HW_CAP_PCI_PASID_EXEC;
		if (ctrl & PCI_PASID_CTRL_PRIV)
			pci_caps |= IOMMU_HW_CAP_PCI_PASID_PRIV;
#endif
	} else if (!device_property_read_u32(dev, "pasid-num-bits", &bits) &&
		   bits && bits < 32) {
		max = 1U << bits;
	}
	max = min(max, iommu->max_pasids);
	if (!max)
		return 0;
	*caps |= pci_caps;
	return ilog2(max);
}

/**
 * iommufd_get_hw_info() - IOMMU_GET_HW_INFO
 * @ucmd: the ioctl, with a struct iommu_hw_info
 *
 * Return: 0 or the errno the uAPI header lists.
 */
int iommufd_get_hw_info(struct iommufd_ucmd *ucmd)
{
	struct iommu_hw_info *cmd = ucmd->args;
	void __user *uptr = u64_to_user_ptr(cmd->data_uptr);
	const struct iommu_ops *ops;
	struct iommufd_object *obj;
	struct iommufd_device *idev;
	u32 type = IOMMU_HW_INFO_TYPE_NONE;
	u32 len = 0, copy;
	u8 max_pasid_log2;
	void *data = NULL;
	u64 caps = 0;
	int rc = 0;

	if (cmd->flags & ~IOMMU_HW_INFO_FLAG_INPUT_TYPE ||
	    memchr_inv(cmd->__reserved, 0, sizeof(cmd->__reserved)))
		return -EOPNOTSUPP;

	obj = iommufd_object_lookup(ucmd->ictx, cmd->dev_id,
				    IOMMUFD_OBJ_DEVICE);
	if (IS_ERR(obj))
		return iommufd_ucmd_fail(ucmd, -ENOENT, "no device with ID %u",
					 cmd->dev_id);
	idev = container_of(obj, struct iommufd_device, obj);

	ops = dev_iommu_ops(idev->dev);
	if (ops->hw_info) {
		data = ops->hw_info(idev->dev, &len, &type);
		if (IS_ERR(data)) {
			rc = PTR_ERR(data);
			data = NULL;
			goto err_put;
		}
	}
	if (cmd->flags & IOMMU_HW_INFO_FLAG_INPUT_TYPE &&
	    cmd->in_data_type != IOMMU_HW_INFO_TYPE_DEFAULT &&
	    cmd->in_data_type != type) {
		rc = iommufd_ucmd_fail(ucmd, -EOPNOTSUPP,
				       "%s's IOMMU reports no data of type %u",
				       dev_name(idev->dev), cmd->in_data_type);
		goto err_put;
	}

	max_pasid_log2 = iommufd_device_max_pasid_log2(idev->dev, &caps);
	if (device_iommu_capable(idev->dev, IOMMU_CAP_DIRTY_TRACKING))
		caps |= IOMMU_HW_CAP_DIRTY_TRACKING;

	/* The device is let go before user memory is written. */
	iommufd_put_object(obj);
	copy = min(cmd->data_len, len);
	if (copy_to_user(uptr, data, copy) ||
	    clear_user(uptr + copy, cmd->data_len - copy)) {
		rc = -EFAULT;
		goto out_free;
	}
	cmd->data_len = len;
	cmd->out_data_type = type;
	/* PASIDs are reported, though none attaches here. */
	cmd->out_max_pasid_log2 = max_pasid_log2;
	cmd->out_capabilities = caps;
	rc = iommufd_ucmd_reply(ucmd, sizeof(*cmd));
out_free:
	kfree(data);
	return rc;

err_put:
	kfree(data);
	iommufd_put_object(obj);
	return rc;
}

/**
 * iommufd_device_to_ictx() - the context a device is bound to
 * @idev: the bound device
 *
 * Return: the context.
 */
struct iommufd_ctx *iommufd_device_to_ictx(struct iommufd_device *idev)
{
	return idev->ictx;
}
EXPORT_SYMBOL_NS_GPL(iommufd_device_to_ictx, IOMMUFD);

/**
 * iommufd_device_to_id() - the ID userspace knows a bound device by
 * @idev: the bound device
 *
 * Return: the ID.
 */
u32 iommufd_device_to_id(struct iommufd_device *idev)
{
	return idev->obj.id;
}
EXPORT_SYMBOL_NS_GPL(iommufd_device_to_id, IOMMUFD);
