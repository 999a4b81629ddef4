// SPDX-License-Identifier: GPL-2.0
/*
 * pin_floor: pin_user_pages_fast() alone, for make bench.
 *
 * iommufd's IOMMU_IOAS_MAP pins the user memory it maps and then writes
 * IO page table entries. The benchmark's floor is the first half on its
 * own: this module pins a user range with pin_user_pages_fast() and the
 * flags iommufd pins with (FOLL_WRITE | FOLL_LONGTERM), holds the pins,
 * and unpins them with unpin_user_pages() on request or on close. It is
 * built as an external module against each kernel the benchmark runs on
 * (our 6.1 and upstream 6.12), from this one source, so the floor of
 * both is measured by the same code in the same run.
 *
 * /dev/pin_floor, one pinned range per open file:
 *   PIN_FLOOR_PIN   pin [va, va + length), EBUSY if the file holds one
 *   PIN_FLOOR_UNPIN release it
 * Both report the time of the pin or unpin calls alone (out_ns): the
 * page array is allocated before and freed after the clock runs.
 */
#include <linux/fs.h>
#include <linux/ktime.h>
#include <linux/miscdevice.h>
#include <linux/mm.h>
#include <linux/module.h>
#include <linux/mutex.h>
#include <linux/sizes.h>
#include <linux/slab.h>
#include <linux/uaccess.h>

#include "pin_floor.h"

/* At most 1 GiB of 4 KiB pages: a 2 MiB page array. */
#define PIN_FLOOR_MAX_PAGES	(SZ_1G >> PAGE_SHIFT)

struct pin_floor {
	struct mutex lock;	/* protects the fields below */
	struct page **pages;
	unsigned long npages;
};

static int pin_floor_open(struct inode *inode, struct file *file)
{
	struct pin_floor *pf = kzalloc(sizeof(*pf), GFP_KERNEL);

	if (!pf)
		return -ENOMEM;
	mutex_init(&pf->lock);
	file->private_data = pf;
	return 0;
}

static u64 pin_floor_release_pages(struct pin_floor *pf)
{
	u64 t0;

	lockdep_assert_held(&pf->lock);
	t0 = ktime_get_ns();
	unpin_user_pages(pf->pages, pf->npages);
	t0 = ktime_get_ns() - t0;
	kvfree(pf->pages);
	pf->pages = NULL;
	pf->npages = 0;
	return t0;
}

static long pin_floor_pin(struct pin_floor *pf, struct pin_floor_cmd *cmd)
{
	unsigned long npages, done = 0;
	struct page **pages;
	u64 t0;
	int rc;

	if (!cmd->length || !PAGE_ALIGNED(cmd->va) ||
	    !PAGE_ALIGNED(cmd->length))
		return -EINVAL;
	npages = cmd->length >> PAGE_SHIFT;
	if (npages > PIN_FLOOR_MAX_PAGES)
		return -E2BIG;
	if (pf->pages)
		return -EBUSY;
	pages = kvmalloc_array(npages, sizeof(*pages), GFP_KERNEL);
	if (!pages)
		return -ENOMEM;
	t0 = ktime_get_ns();
	while (done < npages) {
		rc = pin_user_pages_fast(cmd->va + (done << PAGE_SHIFT),
					 npages - done,
					 FOLL_WRITE | FOLL_LONGTERM,
					 pages + done);
		if (rc <= 0) {
			if (done)
				unpin_user_pages(pages, done);
			kvfree(pages);
			return rc ? rc : -EFAULT;
		}
		done += rc;
	}
	cmd->out_ns = ktime_get_ns() - t0;
	cmd->out_pages = npages;
	pf->pages = pages;
	pf->npages = npages;
	return 0;
}

static long pin_floor_ioctl(struct file *file, unsigned int op,
			    unsigned long arg)
{
	struct pin_floor *pf = file->private_data;
	void __user *uarg = (void __user *)arg;
	struct pin_floor_cmd cmd;
	long rc;

	if (op != PIN_FLOOR_PIN && op != PIN_FLOOR_UNPIN)
		return -ENOTTY;
	if (copy_from_user(&cmd, uarg, sizeof(cmd)))
		return -EFAULT;
	mutex_lock(&pf->lock);
	if (op == PIN_FLOOR_PIN) {
		rc = pin_floor_pin(pf, &cmd);
	} else if (!pf->pages) {
		rc = -ENOENT;
	} else {
		cmd.out_pages = pf->npages;
		cmd.out_ns = pin_floor_release_pages(pf);
		rc = 0;
	}
	mutex_unlock(&pf->lock);
	if (!rc && copy_to_user(uarg, &cmd, sizeof(cmd)))
		rc = -EFAULT;
	return rc;
}

static int pin_floor_release(struct inode *inode, struct file *file)
{
	struct pin_floor *pf = file->private_data;

	mutex_lock(&pf->lock);
	if (pf->pages)
		pin_floor_release_pages(pf);
	mutex_unlock(&pf->lock);
	mutex_destroy(&pf->lock);
	kfree(pf);
	return 0;
}

static const struct file_operations pin_floor_fops = {
	.owner = THIS_MODULE,
	.open = pin_floor_open,
	.release = pin_floor_release,
	.unlocked_ioctl = pin_floor_ioctl,
};

static struct miscdevice pin_floor_dev = {
	.minor = MISC_DYNAMIC_MINOR,
	.name = "pin_floor",
	.fops = &pin_floor_fops,
	.mode = 0600,
};

module_misc_device(pin_floor_dev);

MODULE_DESCRIPTION("pin_user_pages_fast() alone: the floor of make bench");
MODULE_LICENSE("GPL");
