// SPDX-License-Identifier: GPL-2.0-only
/*
 * HWPTs: IOMMU paging domains kept identical to an IOAS, and nested
 * domains on top of them.
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
 * as pinning may wait for userspace; if the IOAS changed before they were
 * taken, they are dropped and the IOAS pinned again. Destroying a HWPT
 * takes the IOAS mutex, and only after dropping it iova_rwsem to empty
 * the domain.
 *
 * Nesting: a paging HWPT made with IOMMU_HWPT_ALLOC_NEST_PARENT may parent
 * nested HWPTs (IOMMUFD_OBJ_HWPT_NESTED). A nested HWPT holds a domain of
 * type IOMMU_DOMAIN_NESTED whose page table userspace owns (a guest's
 * stage 1) and the IOMMU walks through the parent's translation of the
 * IOAS. iommufd never maps into it: it is on no IOAS's list and in no
 * io_pagetable, and userspace flushes its caches with
 * IOMMU_HWPT_INVALIDATE after changing the table. The nested HWPT holds a
 * reference on its parent, so the parent cannot be destroyed first
 * (EBUSY), and it counts its devices under the parent's IOAS mutex, as
 * devices attached to it are in that IOAS's IOVA space (its reserved
 * regions are the device's group's).
 */
#include <linux/iommu.h>
#include <linux/lockdep.h>
#include <linux/sched/signal.h>
#include <linux/seq_file.h>
#include <linux/slab.h>
#include <uapi/linux/iommufd.h>

#include "iommufd_private.h"

/* Name the IOMMU behind @dev in @hwpt, for fdinfo. */
static void iommufd_hwpt_name_iommu(struct iommufd_hw_pagetable *hwpt,
				    struct device *dev)
{
	strscpy(hwpt->iommu,
		dev->iommu && dev->iommu->iommu_dev &&
				dev->iommu->iommu_dev->dev ?
			dev_name(dev->iommu->iommu_dev->dev) :
			"?",
		sizeof(hwpt->iommu));
}

/*
 * Whether @dev's IOMMU can make a paging domain with @flags and @user_data:
 * 0 or -EOPNOTSUPP, with the reason in @why.
 */
static int iommufd_hwpt_paging_supported(struct device *dev, u32 flags,
					 const struct iommu_user_data *user_data,
					 char *why)
{
	const struct iommu_ops *ops = dev_iommu_ops(dev);

	if (flags & ~(IOMMU_HWPT_ALLOC_NEST_PARENT |
		      IOMMU_HWPT_ALLOC_DIRTY_TRACKING))
		return -EOPNOTSUPP;
	if ((flags || user_data) && !ops->domain_alloc_user) {
		iopt_why(why, "the IOMMU of %s cannot make %s domains",
			 dev_name(dev),
			 flags & IOMMU_HWPT_ALLOC_NEST_PARENT ?
				 "nesting parent" :
			 flags ? "dirty tracking" : "driver-specific");
		return -EOPNOTSUPP;
	}
	if ((flags & IOMMU_HWPT_ALLOC_DIRTY_TRACKING) &&
	    !device_iommu_capable(dev, IOMMU_CAP_DIRTY_TRACKING))
		return -EOPNOTSUPP;
	return 0;
}

/**
 * iommufd_hwpt_alloc() - make a HWPT that mirrors an IOAS
 * @ictx: the context that will own it
 * @ioas: the IOAS; the HWPT takes a reference on it
 * @dev: a device whose IOMMU makes the domain
 * @flags: IOMMU_HWPT_ALLOC_NEST_PARENT, IOMMU_HWPT_ALLOC_DIRTY_TRACKING
 *         or 0
 * @user_data: driver-specific data for the domain, or NULL
 * @auto_domain: whether the HWPT is an automatic one
 * @pre: the caller's pre-pin of the IOAS, see iopt_table_add_domain()
 * @why: IOPT_WHY_LEN bytes for the reason of a failure, or NULL
 *
 * A driver with a domain_alloc_user() op makes the domain for @dev, @flags
 * and @user_data; the others make one for @dev's bus, which can neither
 * track dirty IOVA nor parent nested domains.
 *
 * The HWPT is returned unpublished: the caller publishes it, or takes it
 * back with iommufd_object_unwind() after dropping @ioas->mutex.
 *
 * Context: caller holds @ioas->mutex.
 * Return: the HWPT, or an ERR_PTR(): -ENOMEM, -EOPNOTSUPP for @flags or
 * @user_data @dev's IOMMU cannot honour, -EADDRINUSE if the IOAS maps
 * IOVA the domain cannot translate, -EAGAIN with @pre->stale set when
 * @pre must be taken again (see iopt_table_add_domain()), or the IOMMU
 * driver's error.
 */
struct iommufd_hw_pagetable *
iommufd_hwpt_alloc(struct iommufd_ctx *ictx, struct iommufd_ioas *ioas,
		   struct device *dev, u32 flags,
		   const struct iommu_user_data *user_data, bool auto_domain,
		   struct iopt_prepin *pre, char *why)
{
	const struct iommu_ops *ops = dev_iommu_ops(dev);
	struct iommufd_hw_pagetable *hwpt;
	int rc;

	lockdep_assert_held(&ioas->mutex);

	rc = iommufd_hwpt_paging_supported(dev, flags, user_data, why);
	if (rc)
		return ERR_PTR(rc);

	hwpt = iommufd_object_alloc(ictx, struct iommufd_hw_pagetable,
				    IOMMUFD_OBJ_HWPT_PAGING);
	if (IS_ERR(hwpt))
		return hwpt;
	INIT_LIST_HEAD(&hwpt->ioas_item);

	if (ops->domain_alloc_user) {
		hwpt->domain = ops->domain_alloc_user(dev, flags, NULL,
						      user_data);
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
	iommufd_hwpt_name_iommu(hwpt, dev);
	rc = iopt_table_add_domain(&ioas->iopt, hwpt->domain, pre, why);
	if (rc)
		goto err_free_domain;

	/* The caller's lookup keeps the IOAS alive while we take our own. */
	refcount_inc(&ioas->obj.users);
	hwpt->ioas = ioas;
	hwpt->auto_domain = auto_domain;
	hwpt->nest_parent = flags & IOMMU_HWPT_ALLOC_NEST_PARENT;
	list_add_tail(&hwpt->ioas_item, &ioas->hwpt_list);
	return hwpt;

err_free_domain:
	iommu_domain_free(hwpt->domain);
err_drop:
	iommufd_object_drop(ictx, &hwpt->obj);
	return ERR_PTR(rc);
}

/**
 * iommufd_hwpt_nested_alloc() - make a nested HWPT on a parent HWPT
 * @ictx: the context that will own it
 * @parent: a paging HWPT made with IOMMU_HWPT_ALLOC_NEST_PARENT; the
 *          nested HWPT takes a reference on it
 * @dev: a device whose IOMMU makes the domain
 * @flags: userspace's IOMMU_HWPT_ALLOC flags
 * @user_data: the driver-specific description of the nested table
 * @why: IOPT_WHY_LEN bytes for the reason of a failure
 *
 * The HWPT is returned unpublished: the caller publishes it, or takes it
 * back with iommufd_object_unwind().
 *
 * Return: the HWPT, or an ERR_PTR(): -EOPNOTSUPP for flags, for no data,
 * or for an IOMMU that cannot nest; -EINVAL if @parent cannot parent a
 * nested domain of @dev's IOMMU; -ENOMEM; or the IOMMU driver's error
 * for @user_data.
 */
static struct iommufd_hw_pagetable *
iommufd_hwpt_nested_alloc(struct iommufd_ctx *ictx,
			  struct iommufd_hw_pagetable *parent,
			  struct device *dev, u32 flags,
			  const struct iommu_user_data *user_data, char *why)
{
	const struct iommu_ops *ops = dev_iommu_ops(dev);
	struct iommufd_hw_pagetable *hwpt;
	int rc;

	if ((flags & ~IOMMU_HWPT_FAULT_ID_VALID) || !user_data->len ||
	    !ops->domain_alloc_user) {
		iopt_why(why, "%s",
			 flags & ~IOMMU_HWPT_FAULT_ID_VALID ?
				 "a nested HWPT takes no allocation flags" :
			 !user_data->len ?
				 "a nested HWPT needs data describing its table" :
				 "the device's IOMMU cannot nest");
		return ERR_PTR(-EOPNOTSUPP);
	}
	/* Both immutable: set before the parent was published. */
	if (parent->auto_domain || !parent->nest_parent ||
	    parent->domain->ops != ops->default_domain_ops) {
		iopt_why(why, "HWPT %u cannot parent a nested HWPT of %s",
			 parent->obj.id, dev_name(dev));
		return ERR_PTR(-EINVAL);
	}

	hwpt = iommufd_object_alloc(ictx, struct iommufd_hw_pagetable,
				    IOMMUFD_OBJ_HWPT_NESTED);
	if (IS_ERR(hwpt))
		return hwpt;
	INIT_LIST_HEAD(&hwpt->ioas_item);
	/* The caller's lookup keeps the parent alive while we take ours. */
	refcount_inc(&parent->obj.users);
	hwpt->parent = parent;
	hwpt->ioas = parent->ioas;
	iommufd_hwpt_name_iommu(hwpt, dev);

	/* The fault queue is iommufd's business, not the driver's. */
	hwpt->domain = ops->domain_alloc_user(dev,
					      flags & ~IOMMU_HWPT_FAULT_ID_VALID,
					      parent->domain, user_data);
	if (IS_ERR(hwpt->domain)) {
		rc = PTR_ERR(hwpt->domain);
		hwpt->domain = NULL;
		goto err_unwind;
	}
	/* A driver must make what was asked for, or fail. */
	if (WARN_ON_ONCE(hwpt->domain->type != IOMMU_DOMAIN_NESTED ||
			 !hwpt->domain->ops->cache_invalidate_user)) {
		rc = -EINVAL;
		goto err_unwind;
	}
	return hwpt;

err_unwind:
	iommufd_object_unwind(ictx, &hwpt->obj);
	return ERR_PTR(rc);
}

/**
 * iommufd_hwpt_nested_show() - a nested HWPT's fdinfo fields
 * @m: the fdinfo file
 * @obj: the nested HWPT, referenced
 *
 * Context: takes the parent's IOAS mutex.
 */
void iommufd_hwpt_nested_show(struct seq_file *m, struct iommufd_object *obj)
{
	struct iommufd_hw_pagetable *hwpt =
		container_of(obj, struct iommufd_hw_pagetable, obj);
	unsigned int devices;

	mutex_lock(&hwpt->ioas->mutex);
	devices = hwpt->devices;
	mutex_unlock(&hwpt->ioas->mutex);
	seq_printf(m, " parent=%u ioas=%u iommu=%s devices=%u fault=%u",
		   hwpt->parent->obj.id, hwpt->ioas->obj.id, hwpt->iommu,
		   devices, hwpt->fault ? hwpt->fault->obj.id : 0);
}

/**
 * iommufd_hwpt_nested_destroy() - release a nested HWPT no device uses
 * @obj: the nested HWPT's object header
 */
void iommufd_hwpt_nested_destroy(struct iommufd_object *obj)
{
	struct iommufd_hw_pagetable *hwpt =
		container_of(obj, struct iommufd_hw_pagetable, obj);

	if (WARN_ON(hwpt->devices))
		return;
	if (hwpt->domain)
		iommu_domain_free(hwpt->domain);
	if (hwpt->fault)
		iommufd_put_object(&hwpt->fault->obj);
	iommufd_put_object(&hwpt->parent->obj);
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
	seq_printf(m,
		   " ioas=%u auto=%d iommu=%s pgsizes=0x%lx devices=%u nest_parent=%d",
		   hwpt->ioas->obj.id, hwpt->auto_domain, hwpt->iommu, pgsizes,
		   devices, hwpt->nest_parent);
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

/*
 * IOMMU_HWPT_ALLOC on an IOAS: a paging HWPT for the device @cmd->dev_id
 * names. A first domain pins the IOAS's memory, before the IOAS's lock; a
 * request no domain can honour is refused before that. Pinning may wait
 * for userspace, so the device is not held meanwhile (its driver may be
 * unbinding it): it is looked up again after, and its request checked
 * again.
 */
static struct iommufd_hw_pagetable *
iommufd_hwpt_alloc_paging(struct iommufd_ucmd *ucmd, struct iommufd_ioas *ioas,
			  const struct iommu_user_data *user_data)
{
	struct iommu_hwpt_alloc *cmd = ucmd->args;
	struct iommufd_hw_pagetable *hwpt;
	struct iopt_prepin pre = {};
	struct iommufd_object *dev_obj;
	bool prepinned = false;
	struct device *dev;
	int rc;

again:
	dev_obj = iommufd_object_lookup(ucmd->ictx, cmd->dev_id,
					IOMMUFD_OBJ_DEVICE);
	if (IS_ERR(dev_obj)) {
		iopt_prepin_release(&pre);
		iommufd_ucmd_fail(ucmd, -ENOENT, "no device with ID %u",
				  cmd->dev_id);
		return ERR_PTR(-ENOENT);
	}
	dev = container_of(dev_obj, struct iommufd_device, obj)->dev;
	rc = iommufd_hwpt_paging_supported(dev, cmd->flags,
					   user_data->len ? user_data : NULL,
					   ucmd->reason);
	if (rc)
		goto out_fail;
	if (xa_empty(&ioas->iopt.domains) && !prepinned) {
		iommufd_put_object(dev_obj);
		rc = iopt_prepin_range(&ioas->iopt, 0, ULONG_MAX, &pre,
				       ucmd->reason);
		if (rc)
			return ERR_PTR(rc);
		prepinned = true;
		goto again;
	}
	mutex_lock(&ioas->mutex);
	hwpt = iommufd_hwpt_alloc(ucmd->ictx, ioas, dev, cmd->flags,
				  user_data->len ? user_data : NULL, false,
				  &pre, ucmd->reason);
	mutex_unlock(&ioas->mutex);
	iommufd_put_object(dev_obj);
	iopt_prepin_release(&pre);
	if (pre.stale) {
		/* The IOAS changed since the pre-pin: take it again. */
		pre.stale = false;
		prepinned = false;
		if (fatal_signal_pending(current))
			return ERR_PTR(-EINTR);
		goto again;
	}
	return hwpt;

out_fail:
	iopt_prepin_release(&pre);
	if (rc == -EOPNOTSUPP && !ucmd->reason[0])
		iommufd_ucmd_fail(ucmd, -EOPNOTSUPP,
				  "%s's IOMMU cannot make a domain with flags 0x%x and data type %u",
				  dev_name(dev), cmd->flags, cmd->data_type);
	iommufd_put_object(dev_obj);
	return ERR_PTR(rc);
}

/*
 * IOMMU_HWPT_ALLOC on a paging HWPT: a nested HWPT for the device
 * @cmd->dev_id names. The IOMMU driver reads the structure that describes
 * it, and reading user memory may wait for userspace, while the device's
 * driver may be unbinding it, which waits for every holder of the device:
 * the structure is copied in before the device is looked up again.
 */
static struct iommufd_hw_pagetable *
iommufd_hwpt_alloc_nested(struct iommufd_ucmd *ucmd,
			  struct iommufd_hw_pagetable *parent,
			  const struct iommu_user_data *user_data)
{
	struct iommu_hwpt_alloc *cmd = ucmd->args;
	struct iommu_user_data data = *user_data;
	struct iommufd_hw_pagetable *hwpt;
	struct iommufd_object *dev_obj;
	void *copy = NULL;

	/*
	 * No driver takes more than a page: it refuses a longer one without
	 * reading it. Memory that cannot be read is left to the driver as
	 * well, so that its own checks come first, as they would. Nor is
	 * anything read for a parent that cannot be one: an automatic HWPT,
	 * held here, is removed by its last detach, which would wait.
	 */
	if (data.len && data.len <= PAGE_SIZE && parent->nest_parent &&
	    !parent->auto_domain) {
		copy = kmalloc(data.len, GFP_KERNEL_ACCOUNT);
		if (!copy)
			return ERR_PTR(-ENOMEM);
		if (copy_from_user(copy, data.uptr, data.len)) {
			kfree(copy);
			copy = NULL;
		}
		data.kptr = copy;
	}
	dev_obj = iommufd_object_lookup(ucmd->ictx, cmd->dev_id,
					IOMMUFD_OBJ_DEVICE);
	if (IS_ERR(dev_obj)) {
		kfree(copy);
		iommufd_ucmd_fail(ucmd, -ENOENT, "no device with ID %u",
				  cmd->dev_id);
		return ERR_PTR(-ENOENT);
	}
	hwpt = iommufd_hwpt_nested_alloc(ucmd->ictx, parent,
					 container_of(dev_obj,
						      struct iommufd_device,
						      obj)->dev,
					 cmd->flags, &data, ucmd->reason);
	iommufd_put_object(dev_obj);
	kfree(copy);
	return hwpt;
}

/**
 * iommufd_hwpt_alloc_ioctl() - IOMMU_HWPT_ALLOC
 * @ucmd: the ioctl, with a struct iommu_hwpt_alloc
 *
 * @pt_id names an IOAS, for a paging HWPT, or a paging HWPT made with
 * IOMMU_HWPT_ALLOC_NEST_PARENT, for a nested HWPT on it whose table
 * @data_type and @data_uptr describe.
 *
 * With IOMMU_HWPT_FAULT_ID_VALID, which only a nested HWPT takes, the
 * IO page faults of the devices attached to it go to the fault queue
 * @fault_id.
 *
 * Return: 0; -EOPNOTSUPP for non-zero reserved fields, and flags or data
 * the device's IOMMU cannot honour; -ENOENT for a @fault_id that names no
 * fault queue; -EINVAL
 * for inconsistent @data_type and @data_len, or a @pt_id that names
 * neither an IOAS nor a HWPT that can parent one for the device; -ENOENT
 * for a bad @dev_id; -EFAULT; or the errors of iommufd_hwpt_alloc() and
 * the IOMMU driver.
 */
int iommufd_hwpt_alloc_ioctl(struct iommufd_ucmd *ucmd)
{
	struct iommu_hwpt_alloc *cmd = ucmd->args;
	const struct iommu_user_data user_data = {
		.type = cmd->data_type,
		.uptr = u64_to_user_ptr(cmd->data_uptr),
		.len = cmd->data_len,
	};
	struct iommufd_hw_pagetable *hwpt, *parent;
	struct iommufd_object *dev_obj;
	struct iommufd_object *pt_obj;
	struct iommufd_ioas *ioas;
	int rc;

	/* __reserved2 is padding, which upstream does not check either. */
	if (cmd->__reserved)
		return -EOPNOTSUPP;
	if ((cmd->data_type == IOMMU_HWPT_DATA_NONE && cmd->data_len) ||
	    (cmd->data_type != IOMMU_HWPT_DATA_NONE && !cmd->data_len))
		return -EINVAL;

	dev_obj = iommufd_object_lookup(ucmd->ictx, cmd->dev_id,
					IOMMUFD_OBJ_DEVICE);
	if (IS_ERR(dev_obj))
		return iommufd_ucmd_fail(ucmd, -ENOENT,
					 "no device with ID %u", cmd->dev_id);

	pt_obj = iommufd_object_lookup(ucmd->ictx, cmd->pt_id,
				       IOMMUFD_OBJ_ANY);
	if (IS_ERR(pt_obj)) {
		rc = iommufd_ucmd_fail(ucmd, -EINVAL, "no object with ID %u",
				       cmd->pt_id);
		goto out_put_dev;
	}

	switch (pt_obj->type) {
	case IOMMUFD_OBJ_IOAS:
		/* It looks the device up itself, around the pre-pin. */
		iommufd_put_object(dev_obj);
		dev_obj = NULL;
		ioas = container_of(pt_obj, struct iommufd_ioas, obj);
		hwpt = iommufd_hwpt_alloc_paging(ucmd, ioas, &user_data);
		break;
	case IOMMUFD_OBJ_HWPT_PAGING:
		/* Likewise, around the copy of the user's structure. */
		iommufd_put_object(dev_obj);
		dev_obj = NULL;
		parent = container_of(pt_obj, struct iommufd_hw_pagetable, obj);
		hwpt = iommufd_hwpt_alloc_nested(ucmd, parent, &user_data);
		break;
	default:
		rc = iommufd_ucmd_fail(ucmd, -EINVAL,
				       "object %u is neither an IOAS nor a paging HWPT",
				       cmd->pt_id);
		goto out_put_pt;
	}
	if (IS_ERR(hwpt)) {
		rc = PTR_ERR(hwpt);
		goto out_put_pt;
	}
	/* The HWPT holds what it needs; the device is not needed any more. */
	iommufd_put_object(pt_obj);
	if (dev_obj)
		iommufd_put_object(dev_obj);

	/* Only a nested HWPT gets here with the flag. */
	if (cmd->flags & IOMMU_HWPT_FAULT_ID_VALID) {
		struct iommufd_fault *fault;

		fault = iommufd_fault_lookup(ucmd, cmd->fault_id);
		if (IS_ERR(fault)) {
			iommufd_object_unwind(ucmd->ictx, &hwpt->obj);
			return PTR_ERR(fault);
		}
		/* The lookup's reference becomes the HWPT's. */
		hwpt->fault = fault;
	}

	cmd->out_hwpt_id = hwpt->obj.id;
	return iommufd_ucmd_reply_publish(ucmd, &hwpt->obj, sizeof(*cmd));

out_put_pt:
	iommufd_put_object(pt_obj);
out_put_dev:
	if (dev_obj)
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
 * Return: 0; -EOPNOTSUPP for unknown flags or a HWPT allocated without
 * IOMMU_HWPT_ALLOC_DIRTY_TRACKING (@__reserved is not checked, as
 * upstream does not); -ENOENT for a
 * bad @hwpt_id; or the IOMMU driver's error.
 */
int iommufd_hwpt_set_dirty_tracking(struct iommufd_ucmd *ucmd)
{
	struct iommu_hwpt_set_dirty_tracking *cmd = ucmd->args;
	struct iommufd_hw_pagetable *hwpt;
	int rc;

	if (cmd->flags & ~IOMMU_HWPT_DIRTY_TRACKING_ENABLE)
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

/* Most requests one IOMMU_HWPT_INVALIDATE takes, as upstream bounds it. */
#define IOMMUFD_INVALIDATE_MAX_ENTRIES BIT(19)

/**
 * iommufd_hwpt_invalidate() - IOMMU_HWPT_INVALIDATE
 * @ucmd: the ioctl, with a struct iommu_hwpt_invalidate
 *
 * Hands the array of requests to the nested domain's driver, which carries
 * them out in order and stops at the first it cannot. @entry_num is
 * written back, on failure too, with the number carried out.
 *
 * Return: 0; -EOPNOTSUPP for a non-zero @__reserved; -EINVAL for a
 * non-empty array with no address, an @entry_len of 0 or above a page, or
 * more than IOMMUFD_INVALIDATE_MAX_ENTRIES entries; -ENOENT if @hwpt_id is
 * not a nested HWPT; -EFAULT; or the driver's error for the first request
 * it did not carry out (-EINVAL for a @data_type it does not take or an
 * @entry_len shorter or longer than its requests).
 */
int iommufd_hwpt_invalidate(struct iommufd_ucmd *ucmd)
{
	struct iommu_hwpt_invalidate *cmd = ucmd->args;
	struct iommu_user_data_array array = {
		.type = cmd->data_type,
		.uptr = u64_to_user_ptr(cmd->data_uptr),
		.entry_len = cmd->entry_len,
		.entry_num = cmd->entry_num,
	};
	struct iommufd_hw_pagetable *hwpt;
	struct iommufd_object *obj;
	u32 done = 0;
	int rc;

	if (cmd->__reserved) {
		rc = -EOPNOTSUPP;
		goto out;
	}
	if (cmd->entry_num &&
	    (!cmd->data_uptr || !cmd->entry_len || cmd->entry_len > PAGE_SIZE ||
	     cmd->entry_num > IOMMUFD_INVALIDATE_MAX_ENTRIES)) {
		rc = -EINVAL;
		goto out;
	}

	obj = iommufd_object_lookup(ucmd->ictx, cmd->hwpt_id,
				    IOMMUFD_OBJ_HWPT_NESTED);
	if (IS_ERR(obj)) {
		rc = iommufd_ucmd_fail(ucmd, PTR_ERR(obj),
				       "no nested HWPT with ID %u",
				       cmd->hwpt_id);
		goto out;
	}
	hwpt = container_of(obj, struct iommufd_hw_pagetable, obj);
	/*
	 * The driver reads the requests from user memory with the HWPT held:
	 * a destroy meanwhile fails with EBUSY, as while a device uses it.
	 */
	rc = hwpt->domain->ops->cache_invalidate_user(hwpt->domain, &array);
	done = min(array.entry_num, cmd->entry_num);
	iommufd_put_object(obj);
out:
	cmd->entry_num = done;
	if (iommufd_ucmd_reply(ucmd, sizeof(*cmd)))
		return -EFAULT;
	return rc;
}
