// SPDX-License-Identifier: GPL-2.0-only
/*
 * VFIO devices whose DMA iommufd sets up, whichever way they were opened:
 *
 *  - through their cdev (device_cdev.c), bound with VFIO_DEVICE_BIND_IOMMUFD
 *    and attached by userspace to an IOAS or HWPT of its choice;
 *  - through their group, once VFIO_GROUP_SET_CONTAINER joined the group to
 *    an iommufd context instead of a type1 container: the file passed is a
 *    /dev/iommu, or /dev/vfio/vfio when iommufd provides it
 *    (CONFIG_IOMMUFD_VFIO_CONTAINER). The first open of a device of such a
 *    group binds it to the context and attaches it to the context's compat
 *    IOAS, the one the container ioctls on that context map into; the last
 *    close unbinds it.
 *
 * Devices translated by an IOMMU bind as iommufd devices: iommufd owns their
 * group's DMA (refusing while a kernel driver does DMA in the group) and
 * attaches them to domains. Emulated devices (mdev) do no DMA of their own:
 * they bind as an iommufd access, and their driver's vfio_pin_pages(),
 * vfio_unpin_pages() and vfio_dma_rw() go through it; an unmap under their
 * pins reaches the driver's dma_unmap(). No-IOMMU groups cannot join an
 * iommufd context: there is no isolation for iommufd to own.
 *
 * Locking: a group joins or leaves a context under vfio_group::group_lock,
 * and cannot leave while one of its devices is open (container_users, as
 * for a type1 container). Binding, attaching and unbinding run under
 * vfio_device_set::lock, which protects the iommufd fields of struct
 * vfio_device; on the group path group_lock is held inside it.
 */
#include <linux/file.h>
#include <linux/iommu.h>
#include <linux/iommufd.h>
#include <linux/lockdep.h>
#include <linux/module.h>
#include <linux/overflow.h>
#include <linux/pci.h>
#include <linux/sched.h>
#include <linux/seq_file.h>
#include <linux/vfio.h>
#include <linux/xarray.h>

#include "vfio.h"

MODULE_IMPORT_NS(IOMMUFD);

static bool vfio_device_emulated(struct vfio_device *device)
{
	return device->group->type == VFIO_EMULATED_IOMMU;
}

/* iommufd unmaps IOVA an emulated device pinned: its driver lets go. */
static void vfio_iommufd_access_unmap(void *data, unsigned long iova,
				      unsigned long length)
{
	struct vfio_device *device = data;

	device->ops->dma_unmap(device, iova, length);
}

/* Drivers that pin implement dma_unmap(); the others only read and write. */
static const struct iommufd_access_ops vfio_iommufd_access_ops_pin = {
	.needs_pin_pages = 1,
	.unmap = vfio_iommufd_access_unmap,
};

static const struct iommufd_access_ops vfio_iommufd_access_ops = {
};

/**
 * vfio_iommufd_bind() - bind a device to an iommufd context
 * @device: the device, not open yet
 * @ictx: the context
 * @devid: set to the device's (or the access's) ID in @ictx
 *
 * Context: holds the device set's lock.
 * Return: 0, or the error of iommufd_device_bind() or
 * iommufd_access_create().
 */
int vfio_iommufd_bind(struct vfio_device *device, struct iommufd_ctx *ictx,
		      u32 *devid)
{
	struct iommufd_access *access;
	struct iommufd_device *idev;

	lockdep_assert_held(&device->dev_set->lock);

	if (vfio_device_emulated(device)) {
		access = iommufd_access_create(ictx, device->ops->dma_unmap ?
						&vfio_iommufd_access_ops_pin :
						&vfio_iommufd_access_ops,
					       device, devid);
		if (IS_ERR(access))
			return PTR_ERR(access);
		device->iommufd_access = access;
		xa_init(&device->iommufd_pins);
		return 0;
	}
	idev = iommufd_device_bind(ictx, device->dev, devid);
	if (IS_ERR(idev))
		return PTR_ERR(idev);
	device->iommufd_device = idev;
	return 0;
}

/**
 * vfio_iommufd_unbind() - undo vfio_iommufd_bind()
 * @device: the device, closed already
 *
 * Detaches the device and, for one with an IOMMU, hands its group's DMA
 * back to the kernel.
 *
 * Context: holds the device set's lock.
 */
void vfio_iommufd_unbind(struct vfio_device *device)
{
	lockdep_assert_held(&device->dev_set->lock);

	if (device->iommufd_access) {
		iommufd_access_destroy(device->iommufd_access);
		xa_destroy(&device->iommufd_pins);
	} else {
		iommufd_device_unbind(device->iommufd_device);
	}
	device->iommufd_access = NULL;
	device->iommufd_device = NULL;
	device->iommufd_attached = false;
}

/**
 * vfio_iommufd_show_fdinfo() - what a VFIO device file is bound to
 * @m: the fdinfo file of a device file, opened by cdev or through the group
 * @device: the device
 *
 * Names the device, and, once it is bound to an iommufd context, the
 * context and the device's object there (for an emulated device, its
 * access) with what it is attached to. A device of a type1 container shows
 * its name only.
 *
 * Context: takes the device set's lock, killably.
 */
void vfio_iommufd_show_fdinfo(struct seq_file *m, struct vfio_device *device)
{
	seq_printf(m, "vfio-device:\t%s\n", dev_name(device->dev));
	/*
	 * A bind or an attach holds the lock while it may wait on userspace
	 * (pinning memory, writing the reply): a reader can at least be
	 * killed, and then prints no more.
	 */
	if (mutex_lock_killable(&device->dev_set->lock))
		return;
	if (device->iommufd_access)
		iommufd_access_show_fdinfo(m, device->iommufd_access);
	else if (device->iommufd_device)
		iommufd_device_show_fdinfo(m, device->iommufd_device);
	mutex_unlock(&device->dev_set->lock);
}

/*
 * Pins of an emulated device count per page, as type1 counts them: 6.1's
 * drivers were written against type1 and rely on it. kvmgt pins the pages
 * of a 2 MiB GTT entry one by one and unpins them as one range; vfio-ap's
 * dma_unmap() unpins its IOVA whether it pinned it or not, which type1
 * ignores. An iommufd access holds its user to unpinning exactly the
 * ranges it pinned (it WARNs otherwise, and keeps the IOVA from being
 * unmapped), so VFIO pins each page through the access on its own and
 * counts in vfio_device::iommufd_pins how often each IOVA page is pinned:
 * an unpin takes one pin of each page that has one, and no more.
 */

/* One more pin of IOVA page @index. Return: 0 or -ENOMEM. */
static int vfio_iommufd_pins_inc(struct xarray *pins, unsigned long index)
{
	XA_STATE(xas, pins, index);
	void *entry;

	do {
		xas_lock(&xas);
		entry = xas_load(&xas);
		xas_store(&xas, xa_mk_value(entry ? xa_to_value(entry) + 1 : 1));
		xas_unlock(&xas);
	} while (xas_nomem(&xas, GFP_KERNEL_ACCOUNT));
	return xas_error(&xas);
}

/* One pin less of IOVA page @index. Return: false if it had none. */
static bool vfio_iommufd_pins_dec(struct xarray *pins, unsigned long index)
{
	XA_STATE(xas, pins, index);
	unsigned long count;
	void *entry;

	xas_lock(&xas);
	entry = xas_load(&xas);
	count = entry ? xa_to_value(entry) : 0;
	/* Neither store allocates: the slot is there already. */
	if (count)
		xas_store(&xas, count == 1 ? NULL : xa_mk_value(count - 1));
	xas_unlock(&xas);
	return count;
}

/**
 * vfio_device_iommufd_pin_pages() - vfio_pin_pages() for an iommufd-bound device
 * @device: the device
 * @iova: an IOVA in the first page; its offset into the page is the
 *        caller's to keep, as with type1 (vfio-ccw passes such IOVAs)
 * @npage: number of pages, counted from the page holding @iova
 * @prot: IOMMU_READ and IOMMU_WRITE
 * @pages: filled with the pinned pages
 *
 * Return: @npage, or a negative errno: -EINVAL for a device with an IOMMU
 * of its own (it has no business pinning), -EOVERFLOW for pages past the
 * end of the IOVA space, or the access's error for the first page it could
 * not pin; then none stays pinned.
 */
int vfio_device_iommufd_pin_pages(struct vfio_device *device, dma_addr_t iova,
				  int npage, int prot, struct page **pages)
{
	unsigned long first = ALIGN_DOWN(iova, PAGE_SIZE), last, at;
	unsigned int flags = (prot & IOMMU_WRITE) ? IOMMUFD_ACCESS_RW_WRITE : 0;
	int i, ret;

	if (!device->iommufd_access || iova > ULONG_MAX)
		return -EINVAL;
	if (check_add_overflow(first, (unsigned long)(npage - 1) * PAGE_SIZE,
			       &last))
		return -EOVERFLOW;
	for (i = 0; i != npage; i++) {
		at = first + i * PAGE_SIZE;
		ret = iommufd_access_pin_pages(device->iommufd_access, at,
					       PAGE_SIZE, &pages[i], flags);
		if (ret)
			goto out_unpin;
		ret = vfio_iommufd_pins_inc(&device->iommufd_pins,
					    at >> PAGE_SHIFT);
		if (ret) {
			iommufd_access_unpin_pages(device->iommufd_access, at,
						   PAGE_SIZE);
			goto out_unpin;
		}
	}
	return npage;

out_unpin:
	vfio_device_iommufd_unpin_pages(device, first, i);
	return ret;
}

/**
 * vfio_device_iommufd_unpin_pages() - vfio_unpin_pages() for an iommufd-bound device
 * @device: the device
 * @iova: an IOVA in the first page
 * @npage: number of pages, counted from the page holding @iova; pages
 *         that are not pinned are passed over, as type1 does
 */
void vfio_device_iommufd_unpin_pages(struct vfio_device *device,
				     dma_addr_t iova, int npage)
{
	unsigned long first = ALIGN_DOWN(iova, PAGE_SIZE), at;
	int i;

	if (WARN_ON(!device->iommufd_access) || iova > ULONG_MAX)
		return;
	for (i = 0; i < npage; i++) {
		at = first + i * PAGE_SIZE;
		/* Past the end of the IOVA space nothing is pinned. */
		if (at < first)
			break;
		if (vfio_iommufd_pins_dec(&device->iommufd_pins,
					  at >> PAGE_SHIFT))
			iommufd_access_unpin_pages(device->iommufd_access, at,
						   PAGE_SIZE);
	}
}

/**
 * vfio_device_iommufd_dma_rw() - vfio_dma_rw() for an iommufd-bound device
 * @device: the device
 * @iova: first IOVA
 * @data: kernel buffer
 * @len: bytes to copy
 * @write: whether to copy @data to the IOVA, rather than from it
 *
 * Return: 0 or a negative errno.
 */
int vfio_device_iommufd_dma_rw(struct vfio_device *device, dma_addr_t iova,
			       void *data, size_t len, bool write)
{
	unsigned int flags = write ? IOMMUFD_ACCESS_RW_WRITE : 0;

	if (!device->iommufd_access || iova > ULONG_MAX)
		return -EINVAL;
	/* A kernel thread (a driver's worker) has no user memory of its own. */
	if (!current->mm)
		flags |= IOMMUFD_ACCESS_RW_KTHREAD;
	return iommufd_access_rw(device->iommufd_access, iova, data, len,
				 flags);
}

/* Say why a group with a kernel DMA user cannot be given to userspace. */
static int vfio_group_name_dma_user(struct device *dev, void *data)
{
	struct device_driver *drv = READ_ONCE(dev->driver);
	struct iommu_group *group = data;

	/* 6.1 keeps driver_managed_dma in the bus's driver structures. */
	if (!drv || (dev_is_pci(dev) && to_pci_driver(drv)->driver_managed_dma))
		return 0;
	dev_notice_ratelimited(dev,
			       "vfio: IOMMU group %d cannot join a container: this device is bound to %s, a kernel driver that does DMA; unbind it first\n",
			       iommu_group_id(group), drv->name);
	return 1;
}

/**
 * vfio_group_set_iommufd() - VFIO_GROUP_SET_CONTAINER with an iommufd file
 * @group: the group, whose file is open and joined to nothing
 * @file: the file userspace passed
 *
 * Joins @group to the file's iommufd context and makes sure the context
 * has a compat IOAS for the group's devices to attach to. As with type1,
 * a group that a kernel driver still does DMA in is refused here already;
 * binding its devices would be refused anyway.
 *
 * Context: holds @group->group_lock.
 * Return: 0; -EINVAL if @file is no iommufd file or @group has no IOMMU;
 * -EPERM if the group's DMA is used by a kernel driver or another owner
 * (the kernel log names the driver); -ENOMEM.
 */
int vfio_group_set_iommufd(struct vfio_group *group, struct file *file)
{
	struct iommufd_ctx *ictx;
	int ret;

	lockdep_assert_held(&group->group_lock);

	ictx = iommufd_ctx_from_file(file);
	if (IS_ERR(ictx))
		return -EINVAL;
	if (group->type == VFIO_NO_IOMMU) {
		ret = -EINVAL;
		goto err_put;
	}
	if (group->type == VFIO_IOMMU &&
	    iommu_group_dma_owner_claimed(group->iommu_group)) {
		if (!iommu_group_for_each_dev(group->iommu_group,
					      group->iommu_group,
					      vfio_group_name_dma_user))
			pr_notice_ratelimited("vfio: IOMMU group %d cannot join a container: another container or iommufd context owns its DMA\n",
					      iommu_group_id(group->iommu_group));
		ret = -EPERM;
		goto err_put;
	}
	ret = iommufd_vfio_compat_ioas_create(ictx);
	if (ret)
		goto err_put;
	group->iommufd = ictx;
	/* As a type1 container's: one for the joining, one per open device. */
	group->container_users = 1;
	return 0;

err_put:
	iommufd_ctx_put(ictx);
	return ret;
}

/**
 * vfio_group_unset_iommufd() - the group leaves its iommufd context
 * @group: a group joined to a context, none of whose devices is open
 *
 * Context: holds @group->group_lock.
 */
void vfio_group_unset_iommufd(struct vfio_group *group)
{
	lockdep_assert_held(&group->group_lock);

	WARN_ON(group->container_users != 1);
	iommufd_ctx_put(group->iommufd);
	group->iommufd = NULL;
	group->container_users = 0;
}

/**
 * vfio_device_group_use_iommufd() - a device of a joined group is opened
 * @device: the device
 *
 * The open device keeps its group file open and the group in its context.
 *
 * Context: holds the group's group_lock.
 * Return: 0, or -EINVAL if the group is joined to no iommufd context.
 */
int vfio_device_group_use_iommufd(struct vfio_device *device)
{
	struct vfio_group *group = device->group;

	lockdep_assert_held(&group->group_lock);

	if (!group->iommufd || WARN_ON(!group->container_users))
		return -EINVAL;
	get_file(group->opened_file);
	group->container_users++;
	return 0;
}

/**
 * vfio_device_group_unuse_iommufd() - undo vfio_device_group_use_iommufd()
 * @device: the device, closed
 */
void vfio_device_group_unuse_iommufd(struct vfio_device *device)
{
	struct vfio_group *group = device->group;

	mutex_lock(&group->group_lock);
	WARN_ON(group->container_users <= 1);
	group->container_users--;
	fput(group->opened_file);
	mutex_unlock(&group->group_lock);
}

/**
 * vfio_device_group_bind_iommufd() - bind and attach on a device's first open
 * @device: a device of a group joined to an iommufd context, being opened
 *
 * Binds the device to the group's context and attaches it, or its access,
 * to the compat IOAS, before its driver's open_device() runs.
 *
 * Context: holds the device set's lock, then the group's group_lock.
 * Return: 0; -ENODEV if the context has no compat IOAS any more; or the
 * error of the bind or the attach.
 */
int vfio_device_group_bind_iommufd(struct vfio_device *device)
{
	struct iommufd_ctx *ictx = device->group->iommufd;
	u32 ioas_id, devid;
	int ret;

	lockdep_assert_held(&device->dev_set->lock);
	lockdep_assert_held(&device->group->group_lock);

	ret = iommufd_vfio_compat_ioas_get_id(ictx, &ioas_id);
	if (ret)
		return ret;
	ret = vfio_iommufd_bind(device, ictx, &devid);
	if (ret)
		return ret;
	if (device->iommufd_access)
		ret = iommufd_access_attach(device->iommufd_access, ioas_id);
	else
		ret = iommufd_device_attach(device->iommufd_device, &ioas_id);
	if (ret) {
		vfio_iommufd_unbind(device);
		return ret;
	}
	device->iommufd_attached = true;
	return 0;
}

/**
 * vfio_device_group_unbind_iommufd() - last step of a group device's last close
 * @device: the device, closed by its driver
 *
 * Context: holds the device set's lock.
 */
void vfio_device_group_unbind_iommufd(struct vfio_device *device)
{
	vfio_iommufd_unbind(device);
}

#if !IS_ENABLED(CONFIG_VFIO_CONTAINER)
/*
 * Without a type1 container, every device that may pin is bound to
 * iommufd: the DMA API of emulated devices for drivers, as container.c
 * has it otherwise. The arguments are checked the same way.
 */

/**
 * vfio_pin_pages() - pin user pages an emulated device's IOVA maps
 * @device: a device from vfio_register_emulated_iommu_dev(), open
 * @iova: IOVA of the first page
 * @npage: number of pages, at most VFIO_PIN_PAGES_MAX_ENTRIES
 * @prot: IOMMU_READ and IOMMU_WRITE
 * @pages: filled with the pinned pages
 *
 * Return: @npage, or a negative errno.
 */
int vfio_pin_pages(struct vfio_device *device, dma_addr_t iova,
		   int npage, int prot, struct page **pages)
{
	if (!pages || npage <= 0 || !vfio_assert_device_open(device))
		return -EINVAL;
	if (npage > VFIO_PIN_PAGES_MAX_ENTRIES)
		return -E2BIG;
	if (!vfio_device_iommufd_bound(device))
		return -EINVAL;
	return vfio_device_iommufd_pin_pages(device, iova, npage, prot, pages);
}
EXPORT_SYMBOL(vfio_pin_pages);

/**
 * vfio_unpin_pages() - unpin what vfio_pin_pages() pinned
 * @device: the device
 * @iova: IOVA of the first page, as pinned
 * @npage: number of pages, as pinned
 */
void vfio_unpin_pages(struct vfio_device *device, dma_addr_t iova, int npage)
{
	if (WARN_ON(npage <= 0 || npage > VFIO_PIN_PAGES_MAX_ENTRIES))
		return;
	if (WARN_ON(!vfio_assert_device_open(device)))
		return;
	if (WARN_ON(!vfio_device_iommufd_bound(device)))
		return;
	vfio_device_iommufd_unpin_pages(device, iova, npage);
}
EXPORT_SYMBOL(vfio_unpin_pages);

/**
 * vfio_dma_rw() - read or write an emulated device's IOVA with the CPU
 * @device: the device
 * @iova: first IOVA
 * @data: kernel buffer
 * @len: bytes to copy
 * @write: whether to copy @data to the IOVA, rather than from it
 *
 * Return: 0 or a negative errno.
 */
int vfio_dma_rw(struct vfio_device *device, dma_addr_t iova, void *data,
		size_t len, bool write)
{
	if (!data || !len || !vfio_assert_device_open(device))
		return -EINVAL;
	if (!vfio_device_iommufd_bound(device))
		return -EINVAL;
	return vfio_device_iommufd_dma_rw(device, iova, data, len, write);
}
EXPORT_SYMBOL(vfio_dma_rw);
#endif
