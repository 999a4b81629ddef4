// SPDX-License-Identifier: GPL-2.0-only
/*
 * mpin: a test-only emulated VFIO device that pins, unpins, reads and
 * writes IOVA when userspace tells it to. See mpin.h for its interface.
 *
 * An emulated device does no DMA of its own: its driver pins the memory
 * behind an IOVA (vfio_pin_pages()) and touches it with the CPU, or copies
 * through VFIO (vfio_dma_rw()). Real drivers (vfio-ccw, the vGPU drivers)
 * do so when their device's guest asks; mpin does so when its user asks,
 * so that the tests of VFIO's two paths for emulated devices, the cdev
 * bound to iommufd and the group in a type1 container, can reach them.
 *
 * What it pins it keeps in a list, and gives back when asked, when the
 * IOVA space takes the range away (the dma_unmap() contract: a driver
 * must let go of every pin inside the range before it returns), or when
 * the device is closed.
 *
 * Locking: no lock dma_unmap() takes may be held across vfio_pin_pages().
 * VFIO's type1 calls dma_unmap() under its device list lock, which it
 * takes under the lock its pin path takes, so such a lock closes a cycle
 * (three threads deadlock). Commands are serialised by @cmd_lock, which
 * dma_unmap() does not take; the list of pins has a spinlock of its own,
 * under which nothing of VFIO's is called. A pin is in the list only once
 * vfio_pin_pages() returned: an unmap in between finds it missing, and
 * VFIO asks again, by which time it is there.
 */
#include <linux/delay.h>
#include <linux/highmem.h>
#include <linux/iommu.h>
#include <linux/kvm_host.h>
#include <linux/list.h>
#include <linux/mdev.h>
#include <linux/module.h>
#include <linux/mutex.h>
#include <linux/overflow.h>
#include <linux/slab.h>
#include <linux/spinlock.h>
#include <linux/uaccess.h>
#include <linux/vfio.h>

#include "mpin.h"

#define MPIN_NAME "mpin"
#define MPIN_MAX_DEVICES 4

static_assert(MPIN_PROT_READ == IOMMU_READ);
static_assert(MPIN_PROT_WRITE == IOMMU_WRITE);

/**
 * struct mpin_pin - one range pinned by MPIN_OP_PIN
 * @node: entry in mpin_state::pins
 * @iova: the IOVA it was pinned with, maybe unaligned
 * @npage: pages pinned from the page holding @iova
 */
struct mpin_pin {
	struct list_head node;
	u64 iova;
	int npage;
};

/**
 * struct mpin_state - one mpin device
 * @vdev: the VFIO device
 * @cmd_lock: serialises the commands, and protects @last
 * @pins_lock: protects @pins, @npins, @unmapped and @unmap_calls
 * @pins: struct mpin_pin, the ranges pinned
 * @npins: entries in @pins
 * @unmapped: ranges dma_unmap() unpinned since the device was opened
 * @unmap_calls: dma_unmap() calls since the device was created
 * @unmap_delay_ms: how long dma_unmap() sleeps first, MPIN_OP_UNMAP_DELAY;
 *                  set under @cmd_lock, read without a lock (READ_ONCE())
 * @last: the last command, with its results
 * @opened_with_kvm: vfio_device::kvm was set at the last open_device()
 * @kvm: that VM, referenced until close_device(), as a driver that uses
 *       the VM must: VFIO hands it over for open_device() only; set and
 *       cleared under the VM's kvm->lock
 */
struct mpin_state {
	struct vfio_device vdev;
	struct mutex cmd_lock; /* serialises commands, protects last */
	spinlock_t pins_lock; /* protects pins, npins, unmapped, unmap_calls */
	struct list_head pins;
	unsigned int npins;
	unsigned int unmapped;
	unsigned int unmap_calls;
	unsigned int unmap_delay_ms;
	struct mpin_cmd last;
	bool opened_with_kvm;
	struct kvm *kvm;
};

/*
 * The parent: a device of class "mpin", as the mdev core names the types
 * of a parent after its class: mpin-1.
 */
static struct class *mpin_class;
static struct device mpin_parent_dev;
static struct mdev_parent mpin_parent;
static atomic_t mpin_available = ATOMIC_INIT(MPIN_MAX_DEVICES);

static struct mpin_state *to_mpin(struct vfio_device *vdev)
{
	return container_of(vdev, struct mpin_state, vdev);
}

/* Unpin and free the pins on @list, taken off mpin::pins already. */
static void mpin_unpin_list(struct mpin_state *mpin, struct list_head *list)
{
	struct mpin_pin *pin, *next;

	list_for_each_entry_safe(pin, next, list, node) {
		vfio_unpin_pages(&mpin->vdev, pin->iova, pin->npage);
		list_del(&pin->node);
		kfree(pin);
	}
}

static int mpin_pin(struct mpin_state *mpin, struct mpin_cmd *cmd)
{
	size_t offset = offset_in_page(cmd->iova);
	struct page **pages;
	struct mpin_pin *pin;
	void *va;
	int ret;

	lockdep_assert_held(&mpin->cmd_lock);

	memset(cmd->data, 0, sizeof(cmd->data));
	if (cmd->length > INT_MAX)
		return -EINVAL;
	/* Too many pages is vfio_pin_pages()'s to refuse, with E2BIG. */
	pages = kcalloc(clamp_t(u64, cmd->length, 1,
				VFIO_PIN_PAGES_MAX_ENTRIES),
			sizeof(*pages), GFP_KERNEL);
	if (!pages)
		return -ENOMEM;
	pin = kzalloc(sizeof(*pin), GFP_KERNEL);
	if (!pin) {
		ret = -ENOMEM;
		goto out_free;
	}

	ret = vfio_pin_pages(&mpin->vdev, cmd->iova, cmd->length, cmd->prot,
			     pages);
	if (ret <= 0) {
		kfree(pin);
		goto out_free;
	}
	pin->iova = cmd->iova;
	pin->npage = ret;
	spin_lock(&mpin->pins_lock);
	list_add_tail(&pin->node, &mpin->pins);
	mpin->npins++;
	spin_unlock(&mpin->pins_lock);

	/* What the CPU sees at the IOVA, through the page VFIO gave. */
	va = kmap_local_page(pages[0]);
	memcpy(cmd->data, va + offset,
	       min_t(size_t, sizeof(cmd->data), PAGE_SIZE - offset));
	kunmap_local(va);
out_free:
	kfree(pages);
	return ret;
}

static int mpin_unpin_cmd(struct mpin_state *mpin, struct mpin_cmd *cmd)
{
	struct mpin_pin *pin;
	LIST_HEAD(list);

	lockdep_assert_held(&mpin->cmd_lock);

	spin_lock(&mpin->pins_lock);
	list_for_each_entry(pin, &mpin->pins, node) {
		if (pin->iova == cmd->iova && pin->npage == cmd->length) {
			list_move(&pin->node, &list);
			mpin->npins--;
			break;
		}
	}
	spin_unlock(&mpin->pins_lock);
	if (list_empty(&list))
		return -ENOENT;
	mpin_unpin_list(mpin, &list);
	return 0;
}

/*
 * One vfio_unpin_pages() of the span, as kvmgt and vfio-ap unpin: the
 * ranges held inside it are forgotten, not unpinned one by one.
 */
static int mpin_unpin_span(struct mpin_state *mpin, struct mpin_cmd *cmd)
{
	u64 start = ALIGN_DOWN(cmd->iova, PAGE_SIZE), last;
	struct mpin_pin *pin, *next;

	lockdep_assert_held(&mpin->cmd_lock);

	if (!cmd->length || cmd->length > VFIO_PIN_PAGES_MAX_ENTRIES ||
	    check_add_overflow(start, cmd->length * PAGE_SIZE - 1, &last))
		return -EINVAL;
	spin_lock(&mpin->pins_lock);
	list_for_each_entry_safe(pin, next, &mpin->pins, node) {
		u64 pin_start = ALIGN_DOWN(pin->iova, PAGE_SIZE);

		if (pin_start < start ||
		    pin_start + (u64)pin->npage * PAGE_SIZE - 1 > last)
			continue;
		list_del(&pin->node);
		kfree(pin);
		mpin->npins--;
	}
	spin_unlock(&mpin->pins_lock);
	vfio_unpin_pages(&mpin->vdev, cmd->iova, cmd->length);
	return 0;
}

static int mpin_rw(struct mpin_state *mpin, struct mpin_cmd *cmd, bool write)
{
	if (cmd->length > sizeof(cmd->data))
		return -EINVAL;
	if (!write)
		memset(cmd->data, 0, sizeof(cmd->data));
	return vfio_dma_rw(&mpin->vdev, cmd->iova, cmd->data, cmd->length,
			   write);
}

static ssize_t mpin_read(struct vfio_device *vdev, char __user *buf,
			 size_t count, loff_t *ppos)
{
	struct mpin_state *mpin = to_mpin(vdev);
	struct mpin_cmd cmd;

	if (*ppos != 0 || count != sizeof(cmd))
		return -EINVAL;
	mutex_lock(&mpin->cmd_lock);
	cmd = mpin->last;
	mutex_unlock(&mpin->cmd_lock);
	if (copy_to_user(buf, &cmd, sizeof(cmd)))
		return -EFAULT;
	return count;
}

static ssize_t mpin_write(struct vfio_device *vdev, const char __user *buf,
			  size_t count, loff_t *ppos)
{
	struct mpin_state *mpin = to_mpin(vdev);
	struct mpin_cmd cmd;
	int ret;

	if (*ppos != 0 || count != sizeof(cmd))
		return -EINVAL;
	if (copy_from_user(&cmd, buf, sizeof(cmd)))
		return -EFAULT;

	mutex_lock(&mpin->cmd_lock);
	switch (cmd.op) {
	case MPIN_OP_NOP:
		ret = 0;
		break;
	case MPIN_OP_PIN:
		ret = mpin_pin(mpin, &cmd);
		break;
	case MPIN_OP_UNPIN:
		ret = mpin_unpin_cmd(mpin, &cmd);
		break;
	case MPIN_OP_UNPIN_SPAN:
		ret = mpin_unpin_span(mpin, &cmd);
		break;
	case MPIN_OP_READ:
	case MPIN_OP_WRITE:
		ret = mpin_rw(mpin, &cmd, cmd.op == MPIN_OP_WRITE);
		break;
	case MPIN_OP_KVM:
		ret = mpin->opened_with_kvm;
		break;
	case MPIN_OP_UNMAP_DELAY:
		ret = cmd.length > 10000 ? -EINVAL : 0;
		if (!ret)
			WRITE_ONCE(mpin->unmap_delay_ms, cmd.length);
		break;
	default:
		mutex_unlock(&mpin->cmd_lock);
		return -EOPNOTSUPP;
	}
	cmd.result = ret;
	spin_lock(&mpin->pins_lock);
	cmd.pinned = mpin->npins;
	cmd.unmapped = mpin->unmapped;
	cmd.unmap_calls = mpin->unmap_calls;
	spin_unlock(&mpin->pins_lock);
	mpin->last = cmd;
	mutex_unlock(&mpin->cmd_lock);
	return count;
}

/* The IOVA space unmaps [iova, iova + length): let go of pins inside. */
static void mpin_dma_unmap(struct vfio_device *vdev, u64 iova, u64 length)
{
	struct mpin_state *mpin = to_mpin(vdev);
	unsigned int delay_ms = READ_ONCE(mpin->unmap_delay_ms);
	struct mpin_pin *pin, *next;
	LIST_HEAD(list);

	spin_lock(&mpin->pins_lock);
	mpin->unmap_calls++;
	spin_unlock(&mpin->pins_lock);
	if (delay_ms)
		msleep(delay_ms);
	spin_lock(&mpin->pins_lock);
	list_for_each_entry_safe(pin, next, &mpin->pins, node) {
		u64 start = ALIGN_DOWN(pin->iova, PAGE_SIZE);
		u64 last = start + (u64)pin->npage * PAGE_SIZE - 1;

		if (!length || start > iova + (length - 1) || last < iova)
			continue;
		list_move_tail(&pin->node, &list);
		mpin->npins--;
		mpin->unmapped++;
	}
	spin_unlock(&mpin->pins_lock);
	mpin_unpin_list(mpin, &list);
}

static long mpin_ioctl(struct vfio_device *vdev, unsigned int cmd,
		       unsigned long arg)
{
	void __user *uarg = (void __user *)arg;

	switch (cmd) {
	case VFIO_DEVICE_GET_INFO: {
		struct vfio_device_info info;
		unsigned long minsz = offsetofend(struct vfio_device_info,
						  num_irqs);

		if (copy_from_user(&info, uarg, minsz))
			return -EFAULT;
		if (info.argsz < minsz)
			return -EINVAL;
		info.flags = VFIO_DEVICE_FLAGS_PLATFORM;
		info.num_regions = 1;
		info.num_irqs = 0;
		return copy_to_user(uarg, &info, minsz) ? -EFAULT : 0;
	}
	case VFIO_DEVICE_GET_REGION_INFO: {
		struct vfio_region_info info;
		unsigned long minsz = offsetofend(struct vfio_region_info,
						  offset);

		if (copy_from_user(&info, uarg, minsz))
			return -EFAULT;
		if (info.argsz < minsz)
			return -EINVAL;
		if (info.index != MPIN_CMD_REGION)
			return -EINVAL;
		info.flags = VFIO_REGION_INFO_FLAG_READ |
			     VFIO_REGION_INFO_FLAG_WRITE;
		info.cap_offset = 0;
		info.size = sizeof(struct mpin_cmd);
		info.offset = 0;
		return copy_to_user(uarg, &info, minsz) ? -EFAULT : 0;
	}
	case VFIO_DEVICE_RESET:
		return 0;
	}
	return -ENOTTY;
}

static int mpin_open_device(struct vfio_device *vdev)
{
	struct mpin_state *mpin = to_mpin(vdev);

	mutex_lock(&mpin->cmd_lock);
	memset(&mpin->last, 0, sizeof(mpin->last));
	mpin->opened_with_kvm = vdev->kvm;
	mutex_unlock(&mpin->cmd_lock);
#if IS_ENABLED(CONFIG_KVM)
	/*
	 * As a vGPU driver does: on a VM KVM already let go of, it splats.
	 * It first takes its time, as a driver with more to set up would,
	 * so that a race with KVM letting go of the VM is not missed; and
	 * registers with the VM under kvm->lock, as s390's vfio-ap and zPCI
	 * do, which KVM holds while it lets go of a VFIO file.
	 */
	if (vdev->kvm) {
		usleep_range(1000, 2000);
		mutex_lock(&vdev->kvm->lock);
		kvm_get_kvm(vdev->kvm);
		mpin->kvm = vdev->kvm;
		mutex_unlock(&vdev->kvm->lock);
	}
#endif
	spin_lock(&mpin->pins_lock);
	mpin->unmapped = 0;
	spin_unlock(&mpin->pins_lock);
	return 0;
}

/* What the user left pinned goes back before the IOVA space does. */
static void mpin_close_device(struct vfio_device *vdev)
{
	struct mpin_state *mpin = to_mpin(vdev);
	LIST_HEAD(list);

	spin_lock(&mpin->pins_lock);
	list_splice_init(&mpin->pins, &list);
	mpin->npins = 0;
	spin_unlock(&mpin->pins_lock);
	mpin_unpin_list(mpin, &list);
#if IS_ENABLED(CONFIG_KVM)
	if (mpin->kvm) {
		struct kvm *kvm = mpin->kvm;

		/* Leaves the VM under kvm->lock, as it joined it. */
		mutex_lock(&kvm->lock);
		mpin->kvm = NULL;
		mutex_unlock(&kvm->lock);
		kvm_put_kvm(kvm);
	}
#endif
}

static int mpin_init_dev(struct vfio_device *vdev)
{
	struct mpin_state *mpin = to_mpin(vdev);

	if (atomic_dec_if_positive(&mpin_available) < 0)
		return -ENOSPC;
	mutex_init(&mpin->cmd_lock);
	spin_lock_init(&mpin->pins_lock);
	INIT_LIST_HEAD(&mpin->pins);
	return 0;
}

static void mpin_release_dev(struct vfio_device *vdev)
{
	struct mpin_state *mpin = to_mpin(vdev);

	WARN_ON(!list_empty(&mpin->pins));
	mutex_destroy(&mpin->cmd_lock);
	atomic_inc(&mpin_available);
	vfio_free_device(vdev);
}

static const struct vfio_device_ops mpin_dev_ops = {
	.name = "vfio-mpin",
	.init = mpin_init_dev,
	.release = mpin_release_dev,
	.open_device = mpin_open_device,
	.close_device = mpin_close_device,
	.read = mpin_read,
	.write = mpin_write,
	.ioctl = mpin_ioctl,
	.dma_unmap = mpin_dma_unmap,
};

static int mpin_probe(struct mdev_device *mdev)
{
	struct mpin_state *mpin;
	int ret;

	mpin = vfio_alloc_device(mpin_state, vdev, &mdev->dev, &mpin_dev_ops);
	if (IS_ERR(mpin))
		return PTR_ERR(mpin);
	ret = vfio_register_emulated_iommu_dev(&mpin->vdev);
	if (ret)
		goto err_put;
	dev_set_drvdata(&mdev->dev, mpin);
	return 0;

err_put:
	vfio_put_device(&mpin->vdev);
	return ret;
}

static void mpin_remove(struct mdev_device *mdev)
{
	struct mpin_state *mpin = dev_get_drvdata(&mdev->dev);

	vfio_unregister_group_dev(&mpin->vdev);
	vfio_put_device(&mpin->vdev);
}

static unsigned int mpin_get_available(struct mdev_type *mtype)
{
	return atomic_read(&mpin_available);
}

static struct mdev_type mpin_type = {
	.sysfs_name = "1",
	.pretty_name = "IOVA pinning test device",
};

static struct mdev_type *mpin_types[] = {
	&mpin_type,
};

static struct mdev_driver mpin_driver = {
	.device_api = VFIO_DEVICE_API_PLATFORM_STRING,
	.driver = {
		.name = MPIN_NAME,
		.owner = THIS_MODULE,
		.mod_name = KBUILD_MODNAME,
	},
	.probe = mpin_probe,
	.remove = mpin_remove,
	.get_available = mpin_get_available,
};

static void mpin_parent_release(struct device *dev)
{
}

static int __init mpin_init(void)
{
	int ret;

	ret = mdev_register_driver(&mpin_driver);
	if (ret)
		return ret;
	mpin_class = class_create(THIS_MODULE, MPIN_NAME);
	if (IS_ERR(mpin_class)) {
		ret = PTR_ERR(mpin_class);
		goto err_driver;
	}
	mpin_parent_dev.class = mpin_class;
	mpin_parent_dev.release = mpin_parent_release;
	dev_set_name(&mpin_parent_dev, "%s", MPIN_NAME);
	ret = device_register(&mpin_parent_dev);
	if (ret) {
		put_device(&mpin_parent_dev);
		goto err_class;
	}
	ret = mdev_register_parent(&mpin_parent, &mpin_parent_dev, &mpin_driver,
				   mpin_types, ARRAY_SIZE(mpin_types));
	if (ret)
		goto err_unregister;
	return 0;

err_unregister:
	device_unregister(&mpin_parent_dev);
err_class:
	class_destroy(mpin_class);
err_driver:
	mdev_unregister_driver(&mpin_driver);
	return ret;
}

static void __exit mpin_exit(void)
{
	mdev_unregister_parent(&mpin_parent);
	device_unregister(&mpin_parent_dev);
	class_destroy(mpin_class);
	mdev_unregister_driver(&mpin_driver);
}

module_init(mpin_init);
module_exit(mpin_exit);

MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("Test-only mdev that pins and reads IOVA on command");
