// SPDX-License-Identifier: GPL-2.0-only
/*
 * What a context owns, pins and last refused, in /proc/PID/fdinfo/FD.
 *
 * An operator whose host runs out of locked memory, or whose VMM's map
 * fails with a bare errno, reads the fdinfo of the VMM's /dev/iommu (or of
 * its /dev/vfio/vfio, which is the same file when iommufd serves it): the
 * memory the context pinned and charged, one line per object, and the
 * last refusal with its reason in words. Nothing here is an ioctl: the
 * uAPI stays upstream's.
 *
 * The object lines are bounded (IOMMUFD_FDINFO_MAX_OBJECTS): a context
 * with more objects prints how many were left out, and an IOAS prints
 * counts of its areas, never the areas.
 *
 * Each object is printed holding a reference on it, like an ioctl does,
 * but no lock of the context: the type's show function takes the locks it
 * needs, in their usual order. References are taken only under the
 * context's fdinfo_lock, so IOMMU_DESTROY of an object that seems busy
 * looks again holding that lock instead of failing with EBUSY: looking at
 * a context never changes what it does.
 *
 * A refusal is recorded only when the handler gave a reason: formatting
 * happens on failure paths alone, and a successful ioctl neither clears
 * nor touches the record.
 */
#include <linux/err.h>
#include <linux/iommufd.h>
#include <linux/seq_file.h>
#include <linux/spinlock.h>
#include <linux/uidgid.h>
#include <linux/user_namespace.h>

#include "iommufd_private.h"

/* Object lines printed at most; the rest are counted. */
#define IOMMUFD_FDINFO_MAX_OBJECTS 256

/**
 * iommufd_ctx_refused() - record why an operation on a context failed
 * @ictx: the context
 * @op: the ioctl or kernel-API operation, a string constant
 * @rc: the negative errno it failed with
 * @why: the reason in words; nothing is recorded when it is empty
 *
 * Context: any; takes a spinlock.
 */
void iommufd_ctx_refused(struct iommufd_ctx *ictx, const char *op, int rc,
			 const char *why)
{
	if (!why || !why[0])
		return;
	spin_lock(&ictx->refusal_lock);
	ictx->refusal.op = op;
	ictx->refusal.rc = rc;
	strscpy(ictx->refusal.why, why, sizeof(ictx->refusal.why));
	spin_unlock(&ictx->refusal_lock);
}

static void iommufd_fdinfo_refusal(struct seq_file *m, struct iommufd_ctx *ictx)
{
	struct iommufd_refusal r;

	/* A copy, so that the line is never half of two refusals. */
	spin_lock(&ictx->refusal_lock);
	r = ictx->refusal;
	spin_unlock(&ictx->refusal_lock);
	if (r.op)
		seq_printf(m, "last-refusal:\t%s %pe %s\n", r.op, ERR_PTR(r.rc),
			   r.why);
}

static const char *iommufd_fdinfo_account_name(enum iopt_account_mode mode)
{
	switch (mode) {
	case IOPT_ACCOUNT_USER:
		return "user";
	case IOPT_ACCOUNT_MM:
		return "mm";
	default:
		return "none";
	}
}

/*
 * Take a reference on the first published object from *@index on, and set
 * *@index to its ID. IDs are 31 bits (xa_limit_31b), so *@index + 1 never
 * wraps.
 */
static struct iommufd_object *iommufd_fdinfo_next(struct iommufd_ctx *ictx,
						  unsigned long *index)
{
	struct iommufd_object *obj;

	xa_lock(&ictx->objects);
	for (;;) {
		obj = xa_find(&ictx->objects, index, ULONG_MAX, XA_PRESENT);
		/* A dying object (no users left) is skipped. */
		if (!obj || refcount_inc_not_zero(&obj->users))
			break;
		(*index)++;
	}
	xa_unlock(&ictx->objects);
	return obj;
}

/**
 * iommufd_ctx_show_fdinfo() - print a context in its file's fdinfo
 * @m: the fdinfo file
 * @ictx: the context
 *
 * Context: may sleep; takes the locks of each object in turn.
 */
void iommufd_ctx_show_fdinfo(struct seq_file *m, struct iommufd_ctx *ictx)
{
	struct iopt_usage *usage = &ictx->usage;
	struct iommufd_object *obj;
	unsigned long index = 0, shown = 0, hidden = 0;

	seq_printf(m, "iommufd-ctx:\t%u\n", ictx->id);
	seq_printf(m, "account-mode:\t%s\n",
		   iommufd_fdinfo_account_name(READ_ONCE(ictx->account_mode)));
	seq_printf(m, "pinned-pages:\t%ld\n",
		   atomic_long_read(&usage->pinned));
	seq_printf(m, "charged-pages:\t%ld\n",
		   atomic_long_read(&usage->charged));
	/* Who the last charge went to: the mapper's user, or its process. */
	if (READ_ONCE(usage->charged_pid))
		seq_printf(m, "charged-to:\tuid %u pid %d\n",
			   from_kuid_munged(seq_user_ns(m),
					    KUIDT_INIT(READ_ONCE(usage->charged_uid))),
			   READ_ONCE(usage->charged_pid));

	mutex_lock(&ictx->fdinfo_lock);
	while ((obj = iommufd_fdinfo_next(ictx, &index))) {
		if (shown < IOMMUFD_FDINFO_MAX_OBJECTS) {
			iommufd_object_show(m, obj);
			shown++;
		} else {
			hidden++;
		}
		iommufd_put_object(obj);
		index++;
	}
	mutex_unlock(&ictx->fdinfo_lock);
	seq_printf(m, "objects:\t%lu\n", shown + hidden);
	if (hidden)
		seq_printf(m, "objects-not-shown:\t%lu\n", hidden);
	iommufd_fdinfo_refusal(m, ictx);
}

/**
 * iommufd_device_show_fdinfo() - where a bound device is, for its driver's
 *                                fdinfo
 * @m: the fdinfo file of the driver's device file
 * @idev: the bound device; the caller keeps it bound meanwhile
 *
 * Prints the context (as its fdinfo names it) and the device's object
 * line: its ID there, and the HWPT and IOAS it is attached to.
 *
 * Context: may sleep; takes the device's group lock.
 */
void iommufd_device_show_fdinfo(struct seq_file *m, struct iommufd_device *idev)
{
	seq_printf(m, "iommufd-ctx:\t%u\niommufd-", idev->ictx->id);
	iommufd_object_show(m, &idev->obj);
}
EXPORT_SYMBOL_NS_GPL(iommufd_device_show_fdinfo, IOMMUFD);
