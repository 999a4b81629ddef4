// SPDX-License-Identifier: GPL-2.0-only
/*
 * Devices bound to an iommufd context, and their attachment to IOASes and
 * HWPTs: the kernel API of include/linux/iommufd.h.
 *
 * A driver that owns a device (VFIO, or the test mock) binds it to a
 * context. Binding makes the context the DMA owner of the device's IOMMU
 * group, which the IOMMU core refuses while a kernel driver in the group
 * uses the DMA API: from then on the group sits in a blocking domain until
 * the device is attached. Attaching to an IOAS reuses an automatic HWPT of
 * that IOAS whose domain the device's IOMMU accepts, or makes a new one;
 * attaching to a HWPT uses its domain. Detaching returns the group to the
 * blocking domain, so a bound device is never left with DMA to memory
 * nobody mapped for it. The device object belongs to the driver: userspace
 * sees its ID but cannot destroy it, and unbinding removes it.
 *
 * 6.1's IOMMU core knows only group-level DMA ownership, so this binds
 * at most one device of a group to a context; devices that share a group
 * need the device-level ownership of the VFIO work.
 *
 * Lock order is that of hw_pagetable.c: iommufd_device::lock first.
 */
#include <linux/device.h>
#include <linux/iommu.h>
#include <linux/iommufd.h>
#include <linux/lockdep.h>
#include <linux/slab.h>

#include "iommufd_private.h"

/**
 * iommufd_device_bind() - hand a device's DMA to an iommufd context
 * @ictx: the context
 * @dev: the device; the caller keeps it alive until iommufd_device_unbind()
 * @id: set to the ID userspace uses for the device
 *
 * Return: the bound device, or an ERR_PTR(): -ENODEV if the device has no
 * IOMMU group, -EINVAL if its IOMMU cannot enforce cache coherency,
 * -EPERM or -EBUSY if the group's DMA cannot be owned by the context (a
 * kernel driver uses it, or another owner has it), -ENOMEM.
 */
struct iommufd_device *iommufd_device_bind(struct iommufd_ctx *ictx,
					   struct device *dev, u32 *id)
{
	struct iommufd_device *idev;
	struct iommu_group *group;
	int rc;

	group = iommu_group_get(dev);
	if (!group)
		return ERR_PTR(-ENODEV);
	if (!device_iommu_capable(dev, IOMMU_CAP_CACHE_COHERENCY)) {
		rc = -EINVAL;
		goto err_put_group;
	}
	rc = iommu_group_claim_dma_owner(group, ictx);
	if (rc)
		goto err_put_group;

	idev = iommufd_object_alloc(ictx, struct iommufd_device,
				    IOMMUFD_OBJ_DEVICE);
	if (IS_ERR(idev)) {
		rc = PTR_ERR(idev);
		goto err_release;
	}
	idev->ictx = ictx;
	idev->dev = dev;
	idev->group = group;
	mutex_init(&idev->lock);
	/* The binding driver's reference, dropped by iommufd_device_unbind(). */
	refcount_inc(&idev->obj.users);
	*id = idev->obj.id;
	iommufd_object_publish(ictx, &idev->obj);
	return idev;

err_release:
	iommu_group_release_dma_owner(group);
err_put_group:
	iommu_group_put(group);
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
 * iommufd_device_destroy() - release a device's object when it is unbound
 * @obj: the device's object header
 */
void iommufd_device_destroy(struct iommufd_object *obj)
{
	struct iommufd_device *idev =
		container_of(obj, struct iommufd_device, obj);

	iommufd_device_detach(idev);
	iommu_group_release_dma_owner(idev->group);
	iommu_group_put(idev->group);
	mutex_destroy(&idev->lock);
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

/* Attach to an automatic HWPT of @ioas, reusing one when the IOMMU can. */
static struct iommufd_hw_pagetable *
iommufd_device_attach_ioas(struct iommufd_device *idev,
			   struct iommufd_ioas *ioas)
{
	struct iommufd_hw_pagetable *hwpt;
	int rc;

	mutex_lock(&ioas->mutex);
	list_for_each_entry(hwpt, &ioas->hwpt_list, ioas_item) {
		if (!hwpt->auto_domain ||
		    !iommufd_domain_fits(hwpt->domain, idev->dev))
			continue;
		rc = iommu_attach_group(hwpt->domain, idev->group);
		/* EINVAL: this IOMMU cannot use the domain; try the next. */
		if (rc == -EINVAL)
			continue;
		if (rc)
			goto err_unlock;
		goto out_attached;
	}

	hwpt = iommufd_hwpt_alloc(idev->ictx, ioas, idev->dev, true);
	if (IS_ERR(hwpt)) {
		rc = PTR_ERR(hwpt);
		goto err_unlock;
	}
	/* The domain already maps the IOAS: no window with DMA unmapped. */
	rc = iommu_attach_group(hwpt->domain, idev->group);
	if (rc) {
		list_del_init(&hwpt->ioas_item);
		mutex_unlock(&ioas->mutex);
		iommufd_object_unwind(idev->ictx, &hwpt->obj);
		return ERR_PTR(rc);
	}
	iommufd_object_publish(idev->ictx, &hwpt->obj);
out_attached:
	hwpt->devices++;
	refcount_inc(&hwpt->obj.users);
	mutex_unlock(&ioas->mutex);
	iopt_table_refresh_domains(&ioas->iopt);
	return hwpt;

err_unlock:
	mutex_unlock(&ioas->mutex);
	return ERR_PTR(rc);
}

static int iommufd_device_attach_hwpt(struct iommufd_device *idev,
				      struct iommufd_hw_pagetable *hwpt)
{
	int rc;

	if (!iommufd_domain_fits(hwpt->domain, idev->dev))
		return -EINVAL;
	mutex_lock(&hwpt->ioas->mutex);
	/*
	 * An automatic HWPT lives only while devices use it: one without
	 * devices lost its last one and is on its way out.
	 */
	if (hwpt->auto_domain && !hwpt->devices)
		rc = -ENOENT;
	else
		rc = iommu_attach_group(hwpt->domain, idev->group);
	if (!rc) {
		hwpt->devices++;
		refcount_inc(&hwpt->obj.users);
	}
	mutex_unlock(&hwpt->ioas->mutex);
	if (!rc)
		iopt_table_refresh_domains(&hwpt->ioas->iopt);
	return rc;
}

/**
 * iommufd_device_attach() - let a bound device DMA to an IOAS or HWPT
 * @idev: the bound device
 * @pt_id: in: ID of an IOAS or a HWPT; out: ID of the HWPT attached to
 *
 * Return: 0; -EBUSY if the device is already attached; -ENOENT for a bad
 * ID; -EINVAL if the ID names neither an IOAS nor a HWPT, or the device's
 * IOMMU cannot use the HWPT; -EADDRINUSE if the IOAS maps IOVA the
 * device's IOMMU cannot; -ENOMEM or the IOMMU driver's error.
 */
int iommufd_device_attach(struct iommufd_device *idev, u32 *pt_id)
{
	struct iommufd_hw_pagetable *hwpt;
	struct iommufd_object *pt_obj;
	struct iommufd_ioas *ioas;
	int rc = 0;

	pt_obj = iommufd_object_lookup(idev->ictx, *pt_id, IOMMUFD_OBJ_ANY);
	if (IS_ERR(pt_obj))
		return PTR_ERR(pt_obj);

	mutex_lock(&idev->lock);
	if (idev->hwpt) {
		rc = -EBUSY;
		goto out_unlock;
	}
	switch (pt_obj->type) {
	case IOMMUFD_OBJ_IOAS:
		ioas = container_of(pt_obj, struct iommufd_ioas, obj);
		hwpt = iommufd_device_attach_ioas(idev, ioas);
		if (IS_ERR(hwpt))
			rc = PTR_ERR(hwpt);
		break;
	case IOMMUFD_OBJ_HWPT_PAGING:
		hwpt = container_of(pt_obj, struct iommufd_hw_pagetable, obj);
		rc = iommufd_device_attach_hwpt(idev, hwpt);
		break;
	default:
		rc = -EINVAL;
		break;
	}
	if (!rc) {
		idev->hwpt = hwpt;
		*pt_id = hwpt->obj.id;
	}
out_unlock:
	mutex_unlock(&idev->lock);
	iommufd_put_object(pt_obj);
	return rc;
}
EXPORT_SYMBOL_NS_GPL(iommufd_device_attach, IOMMUFD);

/**
 * iommufd_device_detach() - stop a bound device's DMA to its HWPT
 * @idev: the bound device; nothing happens if it is not attached
 *
 * The device's group goes back to blocking all DMA. An automatic HWPT
 * left without devices is destroyed.
 */
void iommufd_device_detach(struct iommufd_device *idev)
{
	struct iommufd_hw_pagetable *hwpt;
	struct iommufd_ioas *ioas;
	bool last;

	mutex_lock(&idev->lock);
	hwpt = idev->hwpt;
	if (!hwpt) {
		mutex_unlock(&idev->lock);
		return;
	}
	ioas = hwpt->ioas;
	mutex_lock(&ioas->mutex);
	iommu_detach_group(hwpt->domain, idev->group);
	hwpt->devices--;
	last = hwpt->auto_domain && !hwpt->devices;
	/* Off the list, no attach can pick the dying HWPT up again. */
	if (last)
		list_del_init(&hwpt->ioas_item);
	mutex_unlock(&ioas->mutex);
	idev->hwpt = NULL;
	mutex_unlock(&idev->lock);

	if (last)
		iommufd_object_remove(idev->ictx, &hwpt->obj, 1);
	else
		iommufd_put_object(&hwpt->obj);
}
EXPORT_SYMBOL_NS_GPL(iommufd_device_detach, IOMMUFD);

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
