// SPDX-License-Identifier: GPL-2.0-only
/*
 * HWPTs: IOMMU paging domains kept identical to an IOAS.
 *
 * A HWPT owns one iommu_domain and the io_pagetable of its IOAS keeps that
 * domain an exact mirror of what the IOAS maps (iopt_table_add_domain()).
 * A HWPT is made either by userspace with IOMMU_HWPT_ALLOC, and then lives
 * until IOMMU_DESTROY, or by attaching a device straight to an IOAS, and
 * then it is an automatic HWPT: shared by every device whose IOMMU can use
 * it, and destroyed with the last of them.
 *
 * Lock order: iommufd_group::lock (device.c; VFIO holds its device set
 * lock before it), then iommufd_ioas::mutex, which protects the IOAS's
 * HWPT list and each HWPT's device count. Under the IOAS mutex the IOMMU
 * core takes its group mutex to attach or replace a domain, and
 * io_pagetable::iova_rwsem is taken to fill a new domain or reserve a
 * device's IOVA; those two are never held together. The memory a first
 * domain needs is pinned before any of these locks (iopt_prepin_range()),
 * as pinning may wait for userspace. Destroying a HWPT takes the IOAS
 * mutex, and only after dropping it iova_rwsem to empty the domain.
 */
#include <linux/iommu.h>
#include <linux/lockdep.h>
#include <linux/seq_file.h>
#include <linux/slab.h>
#include <uapi/linux/iommufd.h>

#include "iommufd_private.h"

/**
 * iommufd_hwpt_alloc() - make a HWPT that mirrors an IOAS
 * @ictx: the context that will own it
 * @ioas: the IOAS; the HWPT takes a reference on it
 * @dev: a device whose IOMMU makes the domain
 * @flags: IOMMU_HWPT_ALLOC_DIRTY_TRACKING or 0
 * @auto_domain: whether the HWPT is an automatic one
 * @why: IOPT_WHY_LEN bytes for the reason of a failure, or NULL
 *
 * A driver with a domain_alloc_user() op makes the domain for @dev and
 * @flags; the others make one for @dev's bus, which cannot track dirty
 * IOVA.
 *
 * The HWPT is returned unpublished: the caller publishes it, or takes it
 * back with iommufd_object_unwind() after dropping @ioas->mutex.
 *
 * Context: caller holds @ioas->mutex.
 * Return: the HWPT, or an ERR_PTR(): -ENOMEM, -EOPNOTSUPP if @flags asks
 * for dirty tracking @dev's IOMMU cannot do, -EADDRINUSE if the IOAS maps
 * IOVA the domain cannot translate, or the IOMMU driver's error.
 */
struct iommufd_hw_pagetable *
iommufd_hwpt_alloc(struct iommufd_ctx *ictx, struct iommufd_ioas *ioas,
		   struct device *dev, u32 flags, bool auto_domain, char *why)
{
	const struct iommu_ops *ops = dev_iommu_ops(dev);
	struct iommufd_hw_pagetable *hwpt;
	int rc;

	lockdep_assert_held(&ioas->mutex);

	if (flags & ~IOMMU_HWPT_ALLOC_DIRTY_TRACKING)
		return ERR_PTR(-EOPNOTSUPP);
	if ((flags & IOMMU_HWPT_ALLOC_DIRTY_TRACKING) &&
	    (!ops->domain_alloc_user ||
	     !device_iommu_capable(dev, IOMMU_CAP_DIRTY_TRACKING)))
		return ERR_PTR(-EOPNOTSUPP);

	hwpt = iommufd_object_alloc(ictx, struct iommufd_hw_pagetable,
				    IOMMUFD_OBJ_HWPT_PAGING);
	if (IS_ERR(hwpt))
		return hwpt;
	INIT_LIST_HEAD(&hwpt->ioas_item);

	if (ops->domain_alloc_user) {
		hwpt->domain = ops->domain_alloc_user(dev, flags);
		if (IS_ERR(hwpt->domain)) {
			rc = PTR_ERR(hwpt->domain);
			goto err_drop;
		}
		/* A driver that claims the capability must honour the flag. */
		if (WARN_ON_ONCE((flags & IOMMU_HWPT_ALLOC_DIRTY_TRACKING) &&
				 !hwpt->domain->dirty_ops)) {
			rc = -EOPNOTSUPP;
			goto err_free_domain;
		}
	} else {
		hwpt->domain = iommu_domain_alloc(dev->bus);
		if (!hwpt->domain) {
			rc = -ENOMEM;
			goto err_drop;
		}
	}
	strscpy(hwpt->iommu,
		dev->iommu && dev->iommu->iommu_dev &&
				dev->iommu->iommu_dev->dev ?
			dev_name(dev->iommu->iommu_dev->dev) :
			"?",
		sizeof(hwpt->iommu));
	rc = iopt_table_add_domain(&ioas->iopt, hwpt->domain, why);
	if (rc)
		goto err_free_domain;

	/* The caller's lookup keeps the IOAS alive while we take our own. */
	refcount_inc(&ioas->obj.users);
	hwpt->ioas = ioas;
	hwpt->auto_domain = auto_domain;
	list_add_tail(&hwpt->ioas_item, &ioas->hwpt_list);
	return hwpt;

err_free_domain:
	iommu_domain_free(hwpt->domain);
err_drop:
	iommufd_object_drop(ictx, &hwpt->obj);
	return ERR_PTR(rc);
}

/**
 * iommufd_hwpt_show() - a HWPT's fdinfo fields
 * @m: the fdinfo file
 * @obj: the HWPT, referenced
 *
 * Context: takes the IOAS mutex.
 */
void iommufd_hwpt_show(struct seq_file *m, struct iommufd_object *obj)
{
	struct iommufd_hw_pagetable *hwpt =
		container_of(obj, struct iommufd_hw_pagetable, obj);
	unsigned long pgsizes = hwpt->domain->pgsize_bitmap;
	unsigned int devices;

	mutex_lock(&hwpt->ioas->mutex);
	devices = hwpt->devices;
	mutex_unlock(&hwpt->ioas->mutex);
	/* Only the smallest IO page is used while large pages are off. */
	if (READ_ONCE(hwpt->ioas->iopt.disable_large_pages))
		pgsizes &= -pgsizes;
	seq_printf(m, " ioas=%u auto=%d iommu=%s pgsizes=0x%lx devices=%u",
		   hwpt->ioas->obj.id, hwpt->auto_domain, hwpt->iommu, pgsizes,
		   devices);
}

/**
 * iommufd_hwpt_destroy() - release a HWPT that no device uses any more
 * @obj: the HWPT's object header
 */
void iommufd_hwpt_destroy(struct iommufd_object *obj)
{
	struct iommufd_hw_pagetable *hwpt =
		container_of(obj, struct iommufd_hw_pagetable, obj);
	struct iommufd_ioas *ioas = hwpt->ioas;

	if (WARN_ON(hwpt->devices))
		return;
	/*
	 * Without devices nobody but us can touch the list entry; an
	 * automatic HWPT was already taken off the list by its last detach.
	 */
	if (!list_empty(&hwpt->ioas_item)) {
		mutex_lock(&ioas->mutex);
		list_del_init(&hwpt->ioas_item);
		mutex_unlock(&ioas->mutex);
	}
	iopt_table_remove_domain(&ioas->iopt, hwpt->domain);
	iommu_domain_free(hwpt->domain);
	iommufd_put_object(&ioas->obj);
}

/**
 * iommufd_hwpt_alloc_ioctl() - IOMMU_HWPT_ALLOC
 * @ucmd: the ioctl, with a struct iommu_hwpt_alloc
 *
 * Return: 0; -EOPNOTSUPP for flags, data types or nesting this kernel
 * lacks and for non-zero reserved fields; -EINVAL for a @pt_id that names
 * no IOAS or inconsistent data; -ENOENT for a bad @dev_id; or the errors
 * of iommufd_hwpt_alloc().
 */
int iommufd_hwpt_alloc_ioctl(struct iommufd_ucmd *ucmd)
{
	struct iommu_hwpt_alloc *cmd = ucmd->args;
	struct iommufd_hw_pagetable *hwpt;
	struct iopt_prepin pre = {};
	struct iommufd_object *dev_obj;
	struct iommufd_object *pt_obj;
	struct iommufd_device *idev;
	struct iommufd_ioas *ioas;
	int rc;

	if (cmd->__reserved || cmd->__reserved2)
		return -EOPNOTSUPP;
	if ((cmd->data_type == IOMMU_HWPT_DATA_NONE && cmd->data_len) ||
	    (cmd->data_type != IOMMU_HWPT_DATA_NONE && !cmd->data_len))
		return -EINVAL;
	if ((cmd->flags & ~IOMMU_HWPT_ALLOC_DIRTY_TRACKING) ||
	    cmd->data_type != IOMMU_HWPT_DATA_NONE)
		return iommufd_ucmd_fail(ucmd, -EOPNOTSUPP,
					 "nesting and faults are not supported");

	dev_obj = iommufd_object_lookup(ucmd->ictx, cmd->dev_id,
					IOMMUFD_OBJ_DEVICE);
	if (IS_ERR(dev_obj))
		return iommufd_ucmd_fail(ucmd, -ENOENT,
					 "no device with ID %u", cmd->dev_id);
	idev = container_of(dev_obj, struct iommufd_device, obj);

	pt_obj = iommufd_object_lookup(ucmd->ictx, cmd->pt_id,
				       IOMMUFD_OBJ_ANY);
	if (IS_ERR(pt_obj)) {
		rc = iommufd_ucmd_fail(ucmd, -EINVAL, "no object with ID %u",
				       cmd->pt_id);
		goto out_put_dev;
	}
	if (pt_obj->type != IOMMUFD_OBJ_IOAS) {
		rc = pt_obj->type == IOMMUFD_OBJ_HWPT_PAGING ? -EOPNOTSUPP :
							       -EINVAL;
		rc = iommufd_ucmd_fail(ucmd, rc, "object %u is not an IOAS",
				       cmd->pt_id);
		goto out_put_pt;
	}
	ioas = container_of(pt_obj, struct iommufd_ioas, obj);

	/* A first domain pins everything: before the IOAS's lock. */
	if (xa_empty(&ioas->iopt.domains)) {
		rc = iopt_prepin_range(&ioas->iopt, 0, ULONG_MAX, &pre,
				       ucmd->reason);
		if (rc)
			goto out_put_pt;
	}
	mutex_lock(&ioas->mutex);
	hwpt = iommufd_hwpt_alloc(ucmd->ictx, ioas, idev->dev, cmd->flags,
				  false, ucmd->reason);
	mutex_unlock(&ioas->mutex);
	iopt_prepin_release(&pre);
	if (IS_ERR(hwpt)) {
		rc = PTR_ERR(hwpt);
		if (rc == -EOPNOTSUPP && !ucmd->reason[0])
			iommufd_ucmd_fail(ucmd, rc,
					  "%s's IOMMU cannot track dirty IOVA",
					  dev_name(idev->dev));
		goto out_put_pt;
	}
	/* The HWPT holds its IOAS; the device is not needed any more. */
	iommufd_put_object(pt_obj);
	iommufd_put_object(dev_obj);

	cmd->out_hwpt_id = hwpt->obj.id;
	rc = iommufd_ucmd_reply(ucmd, sizeof(*cmd));
	if (rc)
		iommufd_object_unwind(ucmd->ictx, &hwpt->obj);
	else
		iommufd_object_publish(ucmd->ictx, &hwpt->obj);
	return rc;

out_put_pt:
	iommufd_put_object(pt_obj);
out_put_dev:
	iommufd_put_object(dev_obj);
	return rc;
}

/* The HWPT @id names, held; see iommufd_put_object(). */
static struct iommufd_hw_pagetable *
iommufd_hwpt_lookup(struct iommufd_ucmd *ucmd, u32 id)
{
	struct iommufd_object *obj;

	obj = iommufd_object_lookup(ucmd->ictx, id, IOMMUFD_OBJ_HWPT_PAGING);
	if (IS_ERR(obj)) {
		iommufd_ucmd_fail(ucmd, PTR_ERR(obj), "no HWPT with ID %u", id);
		return ERR_CAST(obj);
	}
	return container_of(obj, struct iommufd_hw_pagetable, obj);
}

/**
 * iommufd_hwpt_set_dirty_tracking() - IOMMU_HWPT_SET_DIRTY_TRACKING
 * @ucmd: the ioctl, with a struct iommu_hwpt_set_dirty_tracking
 *
 * Return: 0; -EOPNOTSUPP for unknown flags, a non-zero @__reserved or a
 * HWPT allocated without IOMMU_HWPT_ALLOC_DIRTY_TRACKING; -ENOENT for a
 * bad @hwpt_id; or the IOMMU driver's error.
 */
int iommufd_hwpt_set_dirty_tracking(struct iommufd_ucmd *ucmd)
{
	struct iommu_hwpt_set_dirty_tracking *cmd = ucmd->args;
	struct iommufd_hw_pagetable *hwpt;
	int rc;

	if ((cmd->flags & ~IOMMU_HWPT_DIRTY_TRACKING_ENABLE) || cmd->__reserved)
		return -EOPNOTSUPP;

	hwpt = iommufd_hwpt_lookup(ucmd, cmd->hwpt_id);
	if (IS_ERR(hwpt))
		return PTR_ERR(hwpt);
	/* The HWPT holds its IOAS, whose table holds the domain. */
	rc = iopt_set_dirty_tracking(&hwpt->ioas->iopt, hwpt->domain,
				     cmd->flags &
					     IOMMU_HWPT_DIRTY_TRACKING_ENABLE);
	iommufd_put_object(&hwpt->obj);
	return rc;
}

/**
 * iommufd_hwpt_get_dirty_bitmap() - IOMMU_HWPT_GET_DIRTY_BITMAP
 * @ucmd: the ioctl, with a struct iommu_hwpt_get_dirty_bitmap
 *
 * Return: 0 or the errno the uAPI header lists, see
 * iopt_read_and_clear_dirty().
 */
int iommufd_hwpt_get_dirty_bitmap(struct iommufd_ucmd *ucmd)
{
	struct iommu_hwpt_get_dirty_bitmap *cmd = ucmd->args;
	struct iommufd_hw_pagetable *hwpt;
	unsigned long flags = 0;
	int rc;

	if ((cmd->flags & ~IOMMU_HWPT_GET_DIRTY_BITMAP_NO_CLEAR) ||
	    cmd->__reserved)
		return -EOPNOTSUPP;

	hwpt = iommufd_hwpt_lookup(ucmd, cmd->hwpt_id);
	if (IS_ERR(hwpt))
		return PTR_ERR(hwpt);
	if (cmd->flags & IOMMU_HWPT_GET_DIRTY_BITMAP_NO_CLEAR)
		flags |= IOMMU_DIRTY_NO_CLEAR;
	rc = iopt_read_and_clear_dirty(&hwpt->ioas->iopt, hwpt->domain, flags,
				       cmd->iova, cmd->length, cmd->page_size,
				       u64_to_user_ptr(cmd->data));
	iommufd_put_object(&hwpt->obj);
	return rc;
}
