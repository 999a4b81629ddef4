// SPDX-License-Identifier: GPL-2.0-only
/*
 * The VFIO device cdev: /dev/vfio/devices/vfioX, a VFIO device opened on
 * its own, without its group, whose DMA is set up through iommufd.
 *
 * An open cdev file is useless until VFIO_DEVICE_BIND_IOMMUFD binds the
 * device to an iommufd context: iommufd then owns the DMA of the device's
 * IOMMU group (the IOMMU core refuses while a kernel DMA driver or another
 * owner uses the group) and the device's DMA is blocked. Only then is the
 * device opened (its driver's open_device()), and the file answers every
 * ioctl of a VFIO device file, plus attach and detach to an IOAS or HWPT
 * of the context. Closing the file closes the device and unbinds it; the
 * context lives on, referenced, until then.
 *
 * A device is open through at most one path at a time: while any device of
 * a group is bound through its cdev, the group's file cannot be opened (so
 * no container can take the group), and while the group file is open, no
 * cdev of the group can bind. Within the cdev path, one file binds a
 * device.
 *
 * Binding is drivers/vfio/iommufd.c's, shared with groups joined to an
 * iommufd context: devices with an IOMMU bind as iommufd devices and
 * attach to an IOAS or HWPT; emulated devices bind as an iommufd access
 * and attach to an IOAS only. No-IOMMU devices get no cdev: there is no
 * isolation for iommufd to own.
 *
 * KVM's VFIO device (KVM_DEV_VFIO_FILE_ADD) takes a cdev file as it takes
 * a group file. The file remembers the VM and binding hands it to the
 * device (vfio_device::kvm, for its driver's open_device()), so userspace
 * adds the file before it binds it. KVM counts a cdev's DMA as not cache
 * coherent: iommufd does not turn on snoop control.
 *
 * Locking: vfio_device_set::lock serialises bind, attach, detach and close
 * of the devices of a set, and protects the iommufd fields of struct
 * vfio_device; vfio_group::group_lock protects cdev_device_open_cnt;
 * vfio_cdev_file::kvm_lock the VM a file was added to. KVM takes
 * kvm_lock under its kvm->lock to let go of the file, so binding holds it,
 * inside the device set's lock, only to take VFIO's reference on the VM
 * (vfio_device_get_kvm_safe()); the driver's open_device(), which may
 * take kvm->lock, runs without it. The reference goes after the device's
 * close_device(), as for a device opened through its group.
 */
#include <linux/cdev.h>
#include <linux/fs.h>
#include <linux/iommu.h>
#include <linux/iommufd.h>
#include <linux/lockdep.h>
#include <linux/module.h>
#include <linux/sched.h>
#include <linux/slab.h>
#include <linux/uaccess.h>
#include <linux/vfio.h>

#include "vfio.h"

MODULE_IMPORT_NS(IOMMUFD);

static dev_t vfio_device_devt;

/**
 * struct vfio_cdev_file - one open file of a device cdev
 * @device: the device; the file holds a registration reference
 * @bound: set once VFIO_DEVICE_BIND_IOMMUFD opened the device through this
 *	   file; read without locks by the file's other operations
 * @kvm_lock: protects @kvm
 * @kvm: the VM whose KVM VFIO device holds this file, or NULL; KVM clears
 *	 it before it lets go of the file. Binding hands it to the device.
 */
struct vfio_cdev_file {
	struct vfio_device *device;
	bool bound;
	struct mutex kvm_lock; /* protects kvm */
	struct kvm *kvm;
};

static bool vfio_device_has_cdev(struct vfio_device *device)
{
	return device->group->type != VFIO_NO_IOMMU;
}

static int vfio_device_cdev_open(struct inode *inode, struct file *filep)
{
	struct vfio_device *device =
		container_of(inode->i_cdev, struct vfio_device, cdev);
	struct vfio_cdev_file *df;

	if (!vfio_device_try_get_registration(device))
		return -ENODEV;

	df = kzalloc(sizeof(*df), GFP_KERNEL_ACCOUNT);
	if (!df) {
		vfio_device_put_registration(device);
		return -ENOMEM;
	}
	df->device = device;
	mutex_init(&df->kvm_lock);
	filep->private_data = df;
	/* Regions are read and written at offsets, like a group's device fd. */
	filep->f_mode |= FMODE_PREAD | FMODE_PWRITE;
	return 0;
}

/* Keep the group file from opening while a device is bound by its cdev. */
static int vfio_device_cdev_block_group(struct vfio_device *device)
{
	struct vfio_group *group = device->group;
	int ret = 0;

	mutex_lock(&group->group_lock);
	if (group->opened_file)
		ret = -EBUSY;
	else
		group->cdev_device_open_cnt++;
	mutex_unlock(&group->group_lock);
	return ret;
}

static void vfio_device_cdev_unblock_group(struct vfio_device *device)
{
	struct vfio_group *group = device->group;

	mutex_lock(&group->group_lock);
	group->cdev_device_open_cnt--;
	mutex_unlock(&group->group_lock);
}

/* Close the device and end its binding. */
static void vfio_device_cdev_unbind(struct vfio_cdev_file *df)
{
	struct vfio_device *device = df->device;
	struct iommufd_ctx *ictx;

	mutex_lock(&device->dev_set->lock);
	vfio_assert_device_open(device);
	/*
	 * The driver stops DMA and drops its pins in close_device(), before
	 * the group goes back to the kernel or the access is destroyed.
	 */
	if (device->ops->close_device)
		device->ops->close_device(device);
	vfio_device_put_kvm(device);
	/* Unbinding detaches and hands the group's DMA back. */
	vfio_iommufd_unbind(device);
	ictx = device->iommufd_ictx;
	device->iommufd_ictx = NULL;
	device->open_count--;
	mutex_unlock(&device->dev_set->lock);

	iommufd_ctx_put(ictx);
	module_put(device->dev->driver->owner);
	vfio_device_cdev_unblock_group(device);
}

static int vfio_device_cdev_release(struct inode *inode, struct file *filep)
{
	struct vfio_cdev_file *df = filep->private_data;
	struct vfio_device *device = df->device;

	if (df->bound)
		vfio_device_cdev_unbind(df);
	vfio_device_put_registration(device);
	mutex_destroy(&df->kvm_lock);
	kfree(df);
	return 0;
}

static int vfio_device_cdev_bind(struct vfio_cdev_file *df,
				 struct vfio_device_bind_iommufd __user *arg)
{
	unsigned long minsz = offsetofend(struct vfio_device_bind_iommufd,
					  out_devid);
	struct vfio_device *device = df->device;
	struct vfio_device_bind_iommufd bind;
	struct iommufd_ctx *ictx;
	u32 devid;
	int ret;

	if (copy_from_user(&bind, arg, minsz))
		return -EFAULT;
	if (bind.argsz < minsz || bind.flags || bind.iommufd < 0)
		return -EINVAL;

	ret = vfio_device_cdev_block_group(device);
	if (ret)
		return ret;

	mutex_lock(&device->dev_set->lock);
	/* Bound already, through this file or another. */
	if (df->bound || device->open_count) {
		ret = -EINVAL;
		goto out_unlock;
	}
	ictx = iommufd_ctx_from_fd(bind.iommufd);
	if (IS_ERR(ictx)) {
		ret = PTR_ERR(ictx);
		goto out_unlock;
	}
	if (!try_module_get(device->dev->driver->owner)) {
		ret = -ENODEV;
		goto err_put_ctx;
	}

	ret = vfio_iommufd_bind(device, ictx, &devid);
	if (ret)
		goto err_put_module;
	device->iommufd_ictx = ictx;
	device->open_count = 1;
	/* The VM this file was added to, if any, as for a group's first open. */
	mutex_lock(&df->kvm_lock);
	vfio_device_get_kvm_safe(device, df->kvm);
	mutex_unlock(&df->kvm_lock);
	if (device->ops->open_device)
		ret = device->ops->open_device(device);
	if (ret)
		goto err_unbind;

	if (put_user(devid, &arg->out_devid)) {
		ret = -EFAULT;
		goto err_close;
	}
	/* Other operations of the file may now use the device. */
	smp_store_release(&df->bound, true);
	mutex_unlock(&device->dev_set->lock);
	return 0;

err_close:
	if (device->ops->close_device)
		device->ops->close_device(device);
err_unbind:
	device->open_count = 0;
	vfio_device_put_kvm(device);
	device->iommufd_ictx = NULL;
	vfio_iommufd_unbind(device);
err_put_module:
	module_put(device->dev->driver->owner);
err_put_ctx:
	iommufd_ctx_put(ictx);
out_unlock:
	mutex_unlock(&device->dev_set->lock);
	vfio_device_cdev_unblock_group(device);
	return ret;
}

static void vfio_device_cdev_detach_iommufd(struct vfio_device *device)
{
	lockdep_assert_held(&device->dev_set->lock);
	if (device->iommufd_access) {
		if (device->iommufd_attached)
			iommufd_access_detach(device->iommufd_access);
	} else {
		iommufd_device_detach(device->iommufd_device);
	}
	device->iommufd_attached = false;
}

static int vfio_device_cdev_attach(struct vfio_device *device,
				   struct vfio_device_attach_iommufd_pt __user *arg)
{
	unsigned long minsz = offsetofend(struct vfio_device_attach_iommufd_pt,
					  pt_id);
	struct vfio_device_attach_iommufd_pt attach;
	int ret;

	if (copy_from_user(&attach, arg, minsz))
		return -EFAULT;
	if (attach.argsz < minsz || attach.flags)
		return -EINVAL;

	mutex_lock(&device->dev_set->lock);
	if (device->iommufd_access) {
		/* An emulated device reads and writes an IOAS, nothing else. */
		ret = device->iommufd_attached ?
			iommufd_access_replace(device->iommufd_access,
					       attach.pt_id) :
			iommufd_access_attach(device->iommufd_access,
					      attach.pt_id);
	} else if (device->iommufd_attached) {
		ret = iommufd_device_replace(device->iommufd_device,
					     &attach.pt_id);
	} else {
		ret = iommufd_device_attach(device->iommufd_device,
					    &attach.pt_id);
	}
	if (!ret)
		device->iommufd_attached = true;
	if (!ret && put_user(attach.pt_id, &arg->pt_id)) {
		/* Leave no attachment the caller did not learn about. */
		vfio_device_cdev_detach_iommufd(device);
		ret = -EFAULT;
	}
	mutex_unlock(&device->dev_set->lock);
	return ret;
}

static int vfio_device_cdev_detach(struct vfio_device *device,
				   struct vfio_device_detach_iommufd_pt __user *arg)
{
	unsigned long minsz = offsetofend(struct vfio_device_detach_iommufd_pt,
					  flags);
	struct vfio_device_detach_iommufd_pt detach;

	if (copy_from_user(&detach, arg, minsz))
		return -EFAULT;
	if (detach.argsz < minsz || detach.flags)
		return -EINVAL;

	mutex_lock(&device->dev_set->lock);
	vfio_device_cdev_detach_iommufd(device);
	mutex_unlock(&device->dev_set->lock);
	return 0;
}

/* The device, if this file bound it; NULL before. */
static struct vfio_device *vfio_cdev_file_device(struct file *filep)
{
	struct vfio_cdev_file *df = filep->private_data;

	/* Pairs with the release in vfio_device_cdev_bind(). */
	return smp_load_acquire(&df->bound) ? df->device : NULL;
}

static long vfio_device_cdev_ioctl(struct file *filep, unsigned int cmd,
				   unsigned long arg)
{
	struct vfio_device *device = vfio_cdev_file_device(filep);
	void __user *uarg = (void __user *)arg;

	if (cmd == VFIO_DEVICE_BIND_IOMMUFD)
		return vfio_device_cdev_bind(filep->private_data, uarg);
	if (!device)
		return -EINVAL;

	switch (cmd) {
	case VFIO_DEVICE_ATTACH_IOMMUFD_PT:
		return vfio_device_cdev_attach(device, uarg);
	case VFIO_DEVICE_DETACH_IOMMUFD_PT:
		return vfio_device_cdev_detach(device, uarg);
	default:
		return vfio_device_ioctl(device, cmd, arg);
	}
}

static ssize_t vfio_device_cdev_read(struct file *filep, char __user *buf,
				     size_t count, loff_t *ppos)
{
	struct vfio_device *device = vfio_cdev_file_device(filep);

	if (!device || !device->ops->read)
		return -EINVAL;
	return device->ops->read(device, buf, count, ppos);
}

static ssize_t vfio_device_cdev_write(struct file *filep,
				      const char __user *buf, size_t count,
				      loff_t *ppos)
{
	struct vfio_device *device = vfio_cdev_file_device(filep);

	if (!device || !device->ops->write)
		return -EINVAL;
	return device->ops->write(device, buf, count, ppos);
}

static int vfio_device_cdev_mmap(struct file *filep, struct vm_area_struct *vma)
{
	struct vfio_device *device = vfio_cdev_file_device(filep);

	if (!device || !device->ops->mmap)
		return -EINVAL;
	return device->ops->mmap(device, vma);
}

/**
 * vfio_device_owned_by_iommufd() - whether a context owns a device's group
 * @device: a device of the caller's device set
 * @ictx: the context of a device the caller opened through its cdev
 *
 * For a hot reset: the context owns the DMA of every group in which it
 * has a device bound, and so may reset any device of such a group.
 *
 * Return: true if @ictx owns the DMA of @device's IOMMU group.
 */
bool vfio_device_owned_by_iommufd(struct vfio_device *device,
				  struct iommufd_ctx *ictx)
{
	struct iommu_group *group = iommu_group_get(device->dev);
	bool owned;

	if (!group)
		return false;
	owned = iommufd_ctx_has_group(ictx, group);
	iommu_group_put(group);
	return owned;
}
EXPORT_SYMBOL_GPL(vfio_device_owned_by_iommufd);

/**
 * vfio_device_iommufd_devid() - a device's ID in an iommufd context
 * @device: a device of the caller's device set, whose lock the caller holds
 * @ictx: the context
 *
 * Return: the ID @device has in @ictx if it is bound to it through its
 * cdev; 0 (never an ID) otherwise.
 */
u32 vfio_device_iommufd_devid(struct vfio_device *device,
			      struct iommufd_ctx *ictx)
{
	lockdep_assert_held(&device->dev_set->lock);
	if (device->iommufd_ictx != ictx || !device->iommufd_device)
		return 0;
	return iommufd_device_to_id(device->iommufd_device);
}
EXPORT_SYMBOL_GPL(vfio_device_iommufd_devid);

static void vfio_device_cdev_show_fdinfo(struct seq_file *m, struct file *filep)
{
	struct vfio_cdev_file *df = filep->private_data;

	vfio_iommufd_show_fdinfo(m, df->device);
}

static const struct file_operations vfio_device_cdev_fops = {
	.owner		= THIS_MODULE,
	.open		= vfio_device_cdev_open,
	.release	= vfio_device_cdev_release,
	.read		= vfio_device_cdev_read,
	.write		= vfio_device_cdev_write,
	.unlocked_ioctl	= vfio_device_cdev_ioctl,
	.compat_ioctl	= compat_ptr_ioctl,
	.mmap		= vfio_device_cdev_mmap,
	.show_fdinfo	= vfio_device_cdev_show_fdinfo,
};

/**
 * vfio_file_is_device_cdev() - whether a file is an open device cdev
 * @file: any file
 *
 * Return: true if @file was opened through a /dev/vfio/devices/vfioX.
 */
bool vfio_file_is_device_cdev(struct file *file)
{
	return file->f_op == &vfio_device_cdev_fops;
}

/**
 * vfio_device_cdev_set_kvm() - remember the VM a cdev file was added to
 * @file: an open device cdev (vfio_file_is_device_cdev())
 * @kvm: the VM, or NULL when KVM lets go of the file
 *
 * KVM's VFIO device calls this through vfio_file_set_kvm(). The device
 * gets @kvm when this file binds it, as a group's device gets its group's
 * when it is first opened: a file added after binding changes nothing
 * for the device until it is bound again.
 *
 * Context: may sleep; waits for a bind of the file that is opening the
 * device with the VM.
 */
void vfio_device_cdev_set_kvm(struct file *file, struct kvm *kvm)
{
	struct vfio_cdev_file *df = file->private_data;

	mutex_lock(&df->kvm_lock);
	df->kvm = kvm;
	mutex_unlock(&df->kvm_lock);
}

/**
 * vfio_device_cdev_init() - prepare a new device's cdev
 * @device: the device, being initialised
 */
void vfio_device_cdev_init(struct vfio_device *device)
{
	cdev_init(&device->cdev, &vfio_device_cdev_fops);
	device->cdev.owner = THIS_MODULE;
}

/**
 * vfio_device_cdev_add() - add the device to sysfs, and its cdev if it has one
 * @device: the device, being registered with its group set
 *
 * Return: 0 or a negative errno.
 */
int vfio_device_cdev_add(struct vfio_device *device)
{
	if (!vfio_device_has_cdev(device))
		return device_add(&device->device);
	device->device.devt = MKDEV(MAJOR(vfio_device_devt), device->index);
	return cdev_device_add(&device->cdev, &device->device);
}

/**
 * vfio_device_cdev_del() - undo vfio_device_cdev_add()
 * @device: the device, being unregistered
 *
 * Open cdev files keep working on the registration they hold; new opens
 * fail from now on.
 */
void vfio_device_cdev_del(struct vfio_device *device)
{
	if (device->device.devt)
		cdev_device_del(&device->cdev, &device->device);
	else
		device_del(&device->device);
}

static char *vfio_device_devnode(struct device *dev, umode_t *mode)
{
	return kasprintf(GFP_KERNEL, "vfio/devices/%s", dev_name(dev));
}

/**
 * vfio_cdev_init() - reserve the device cdev numbers
 * @device_class: the vfio-dev class, whose nodes go to /dev/vfio/devices
 *
 * Return: 0 or a negative errno.
 */
int vfio_cdev_init(struct class *device_class)
{
	device_class->devnode = vfio_device_devnode;
	return alloc_chrdev_region(&vfio_device_devt, 0, MINORMASK + 1,
				   "vfio-dev");
}

/**
 * vfio_cdev_cleanup() - undo vfio_cdev_init()
 */
void vfio_cdev_cleanup(void)
{
	unregister_chrdev_region(vfio_device_devt, MINORMASK + 1);
}
