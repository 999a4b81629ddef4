// SPDX-License-Identifier: GPL-2.0-only
/*
 * In-kernel access to IOAS memory, for devices without an IOMMU of their
 * own (emulated and mediated devices): the access API of
 * include/linux/iommufd.h.
 *
 * A driver creates an access on a context and attaches it to an IOAS. It
 * can then copy to and from IOVA (iommufd_access_rw()) or pin the pages
 * behind an IOVA range to DMA to them itself (iommufd_access_pin_pages()).
 * Pins hold up unmapping: before an IOAS unmaps memory an access pinned,
 * it calls the access's unmap() op, which must unpin the range before it
 * returns. The access also holds the context's file, so the context
 * outlives every access made on it.
 *
 * Moving an access to another IOAS, or detaching it, has the driver drop
 * its pins first (the unmap() op for the whole IOVA space). Meanwhile new
 * pins and copies fail with -ENOENT, and unpins still reach the IOAS the
 * pins were made in: a pin is always undone in the IOAS that holds it.
 *
 * Lock order: iommufd_access::change_lock, then the driver's own locks
 * (taken by its unmap() op), then iommufd_access::ioas_lock, then
 * io_pagetable::access_lock, then io_pagetable::iova_rwsem. unmap() ops
 * are called with only change_lock held, or none, as they call back into
 * iommufd_access_unpin_pages().
 */
#include <linux/file.h>
#include <linux/fs.h>
#include <linux/iommufd.h>
#include <linux/lockdep.h>
#include <linux/seq_file.h>
#include <linux/slab.h>

#include "iommufd_private.h"

/**
 * struct iommufd_access - an in-kernel user of an IOAS's memory
 * @obj: the object header; the creating driver holds a reference
 * @ictx: the context, whose file the access holds
 * @ops: the driver's callbacks
 * @data: the driver's argument to @ops
 * @change_lock: serialises attach, replace and detach, including the
 *               unmap() op they call
 * @ioas_lock: protects @ioas, @ioas_unpin, @iopt_id, @pins and @changing
 * @ioas: where new pins and copies go: the IOAS attached to, or NULL while
 *        detached or moving
 * @ioas_unpin: the IOAS that holds the access's pins and a reference for
 *              the access; equal to @ioas but while moving, or while the
 *              last pins of a detached access drain
 * @iopt_id: index in @ioas_unpin's io_pagetable::accesses
 * @pins: successful iommufd_access_pin_pages() calls not yet undone
 * @changing: an attach, replace or detach is asking the driver to unpin
 * @ioas_id: ID of the IOAS attached to, 0 if none, for fdinfo: written
 *           under @ioas_lock, read without it, as a pin may hold that lock
 *           for long
 */
struct iommufd_access {
	struct iommufd_object obj;
	struct iommufd_ctx *ictx;
	const struct iommufd_access_ops *ops;
	void *data;
	struct mutex change_lock; /* serialises attach/replace/detach */
	struct mutex ioas_lock; /* protects ioas, ioas_unpin, iopt_id, pins */
	struct iommufd_ioas *ioas;
	struct iommufd_ioas *ioas_unpin;
	u32 iopt_id;
	unsigned long pins;
	bool changing;
	u32 ioas_id;
};

/**
 * iommufd_access_create() - make an access on a context
 * @ictx: the context
 * @ops: the driver's callbacks; @ops->unmap is required with
 *       @ops->needs_pin_pages
 * @data: argument for @ops
 * @id: set to the ID userspace sees for the access
 *
 * Return: the access, or an ERR_PTR(): -EINVAL for bad @ops, -ENOMEM.
 */
struct iommufd_access *
iommufd_access_create(struct iommufd_ctx *ictx,
		      const struct iommufd_access_ops *ops, void *data, u32 *id)
{
	struct iommufd_access *access;

	if (ops->needs_pin_pages && !ops->unmap)
		return ERR_PTR(-EINVAL);
	access = iommufd_object_alloc(ictx, struct iommufd_access,
				      IOMMUFD_OBJ_ACCESS);
	if (IS_ERR(access))
		return access;
	access->ictx = ictx;
	access->ops = ops;
	access->data = data;
	mutex_init(&access->change_lock);
	mutex_init(&access->ioas_lock);
	get_file(ictx->file);
	/* The creating driver's reference, dropped by iommufd_access_destroy(). */
	refcount_inc(&access->obj.users);
	*id = access->obj.id;
	iommufd_object_publish(ictx, &access->obj);
	return access;
}
EXPORT_SYMBOL_NS_GPL(iommufd_access_create, IOMMUFD);

/**
 * iommufd_access_destroy() - end an access
 * @access: from iommufd_access_create(); detached if still attached
 */
void iommufd_access_destroy(struct iommufd_access *access)
{
	struct file *file = access->ictx->file;

	/*
	 * Detach while the access can still be referenced: an unmap that
	 * needs its pins gone asks it only while it can take a reference,
	 * and would give up meanwhile with -EBUSY.
	 */
	iommufd_access_detach(access);
	iommufd_object_remove(access->ictx, &access->obj, 1);
	/* Last, as it may release the context. */
	fput(file);
}
EXPORT_SYMBOL_NS_GPL(iommufd_access_destroy, IOMMUFD);

/**
 * iommufd_access_destroy_object() - release an access's object
 * @obj: the access's object header
 */
void iommufd_access_destroy_object(struct iommufd_object *obj)
{
	struct iommufd_access *access =
		container_of(obj, struct iommufd_access, obj);

	iommufd_access_detach(access);
	/* The driver ends the access with pins it never undid. */
	WARN_ON(access->ioas_unpin);
	mutex_destroy(&access->ioas_lock);
	mutex_destroy(&access->change_lock);
}

/**
 * iommufd_access_show() - an access's fdinfo fields
 * @m: the fdinfo file
 * @obj: the access, referenced
 *
 * Takes no lock: a pin may hold the access's lock while GUP runs.
 */
void iommufd_access_show(struct seq_file *m, struct iommufd_object *obj)
{
	struct iommufd_access *access =
		container_of(obj, struct iommufd_access, obj);

	seq_printf(m, " ioas=%u pins=%lu", READ_ONCE(access->ioas_id),
		   READ_ONCE(access->pins));
}

/**
 * iommufd_access_show_fdinfo() - where an access is, for its driver's fdinfo
 * @m: the fdinfo file of the driver's device file
 * @access: the access; the caller keeps it meanwhile
 *
 * Prints the context (as its fdinfo names it) and the access's object
 * line: its ID there, the IOAS it is attached to and its pins.
 */
void iommufd_access_show_fdinfo(struct seq_file *m,
				struct iommufd_access *access)
{
	seq_printf(m, "iommufd-ctx:\t%u\niommufd-", access->ictx->id);
	iommufd_object_show(m, &access->obj);
}
EXPORT_SYMBOL_NS_GPL(iommufd_access_show_fdinfo, IOMMUFD);

/*
 * Enter @access in @ioas's list under a new ID; one that may pin pages also
 * has the table mapped in whole CPU pages from now on.
 */
static int iommufd_access_enlist(struct iommufd_access *access,
				 struct iommufd_ioas *ioas, u32 *iopt_id)
{
	char why[IOPT_WHY_LEN] = "";
	int rc;

	mutex_lock(&ioas->iopt.access_lock);
	rc = xa_alloc(&ioas->iopt.accesses, iopt_id, access, xa_limit_16b,
		      GFP_KERNEL_ACCOUNT);
	if (!rc && access->ops->needs_pin_pages) {
		rc = iopt_add_pinning_access(&ioas->iopt, why);
		if (rc)
			xa_erase(&ioas->iopt.accesses, *iopt_id);
	}
	mutex_unlock(&ioas->iopt.access_lock);
	if (rc)
		iommufd_ctx_refused(access->ictx, "access attach", rc, why);
	return rc;
}

/* Undo iommufd_access_enlist(). */
static void iommufd_access_forget(struct iommufd_access *access,
				  struct iommufd_ioas *ioas, u32 iopt_id)
{
	mutex_lock(&ioas->iopt.access_lock);
	xa_erase(&ioas->iopt.accesses, iopt_id);
	if (access->ops->needs_pin_pages)
		iopt_remove_pinning_access(&ioas->iopt);
	mutex_unlock(&ioas->iopt.access_lock);
}

/*
 * Move @access from the IOAS it is on (if any) to @ioas (NULL: detach),
 * whose reference the access takes over on success. A driver that holds
 * pins in the old IOAS is asked to unpin everything there first. If pins
 * are left over (one the driver did not know of yet when asked), an attach
 * or replace fails with -EBUSY and nothing changes, while a detach leaves
 * them to drain: their unpins still reach the old IOAS, which the last one
 * lets go of.
 *
 * Return: 0, -EBUSY, -ENOMEM; -EADDRINUSE if the access may pin pages and
 * @ioas maps something that is not in whole CPU pages.
 */
static int iommufd_access_change_ioas(struct iommufd_access *access,
				      struct iommufd_ioas *ioas)
{
	struct iommufd_ioas *old;
	u32 old_id, new_id = 0;
	bool draining, has_pins;
	int rc;

	lockdep_assert_held(&access->change_lock);

	mutex_lock(&access->ioas_lock);
	old = access->ioas_unpin;
	old_id = access->iopt_id;
	draining = old && !access->ioas;
	mutex_unlock(&access->ioas_lock);
	if (draining)
		return ioas ? -EBUSY : 0;
	if (old == ioas)
		return 0;

	if (ioas) {
		rc = iommufd_access_enlist(access, ioas, &new_id);
		if (rc)
			return rc;
	}

	mutex_lock(&access->ioas_lock);
	/* From here new pins and copies fail; unpins still reach @old. */
	access->ioas = NULL;
	access->changing = true;
	has_pins = access->pins;
	mutex_unlock(&access->ioas_lock);
	/*
	 * Only a driver with pins is asked: one that has dropped them (in
	 * its close_device(), say) need not walk the whole IOVA space.
	 */
	if (old && has_pins && access->ops->unmap)
		access->ops->unmap(access->data, 0, ULONG_MAX);

	mutex_lock(&access->ioas_lock);
	if (old && access->pins && ioas) {
		access->changing = false;
		access->ioas = old;
		mutex_unlock(&access->ioas_lock);
		iommufd_access_forget(access, ioas, new_id);
		return -EBUSY;
	}
	if (old && access->pins) {
		/*
		 * A detach: the last unpin lets go of @old, but only once
		 * @changing is clear, so @old is still ours to forget here.
		 */
		mutex_unlock(&access->ioas_lock);
		iommufd_access_forget(access, old, old_id);
		mutex_lock(&access->ioas_lock);
		access->changing = false;
		WRITE_ONCE(access->ioas_id, 0);
		draining = access->pins;
		if (!draining)
			access->ioas_unpin = NULL;
		mutex_unlock(&access->ioas_lock);
		if (!draining)
			iommufd_put_object(&old->obj);
		return 0;
	}
	access->changing = false;
	access->ioas = ioas;
	access->ioas_unpin = ioas;
	access->iopt_id = new_id;
	WRITE_ONCE(access->ioas_id, ioas ? ioas->obj.id : 0);
	mutex_unlock(&access->ioas_lock);
	if (old) {
		iommufd_access_forget(access, old, old_id);
		iommufd_put_object(&old->obj);
	}
	return 0;
}

static int iommufd_access_join(struct iommufd_access *access, u32 ioas_id,
			       bool replace)
{
	struct iommufd_ioas *ioas, *cur;
	bool draining;
	int rc;

	ioas = iommufd_ioas_lookup(access->ictx, ioas_id);
	if (IS_ERR(ioas))
		return PTR_ERR(ioas);

	mutex_lock(&access->change_lock);
	mutex_lock(&access->ioas_lock);
	cur = access->ioas_unpin;
	draining = cur && !access->ioas;
	mutex_unlock(&access->ioas_lock);
	if (draining)
		rc = -EBUSY;
	else if (cur == ioas)
		rc = -EALREADY;
	else if (cur && !replace)
		rc = -EINVAL;
	else if (!cur && replace)
		rc = -ENOENT;
	else
		rc = iommufd_access_change_ioas(access, ioas);
	mutex_unlock(&access->change_lock);
	/* On success the access keeps the lookup's reference. */
	if (rc)
		iommufd_put_object(&ioas->obj);
	return rc == -EALREADY ? 0 : rc;
}

/**
 * iommufd_access_attach() - attach an access to an IOAS
 * @access: the access, not attached
 * @ioas_id: the IOAS's ID
 *
 * Return: 0; -ENOENT for a bad ID; -EINVAL if already attached elsewhere;
 * -EBUSY while pins of a detached access are still being undone; -ENOMEM;
 * -EADDRINUSE for an access with needs_pin_pages if the IOAS maps
 * something that is not in whole CPU pages (while such an access is
 * attached, the IOAS maps whole CPU pages only).
 */
int iommufd_access_attach(struct iommufd_access *access, u32 ioas_id)
{
	return iommufd_access_join(access, ioas_id, false);
}
EXPORT_SYMBOL_NS_GPL(iommufd_access_attach, IOMMUFD);

/**
 * iommufd_access_replace() - move an attached access to another IOAS
 * @access: the attached access
 * @ioas_id: the new IOAS's ID
 *
 * If the access holds pins, the driver's unmap() op is asked to drop every
 * pin into the old IOAS; pins and copies issued meanwhile fail with -ENOENT.
 *
 * Return: 0; -ENOENT for a bad ID or an access that is not attached;
 * -EBUSY if the driver still held pins into the old IOAS after its unmap()
 * op returned (the access stays where it was); -ENOMEM; -EADDRINUSE as for
 * iommufd_access_attach().
 */
int iommufd_access_replace(struct iommufd_access *access, u32 ioas_id)
{
	return iommufd_access_join(access, ioas_id, true);
}
EXPORT_SYMBOL_NS_GPL(iommufd_access_replace, IOMMUFD);

/**
 * iommufd_access_detach() - detach an access from its IOAS
 * @access: the access; nothing happens if it is not attached
 *
 * If the access holds pins, the driver's unmap() op is asked to drop them
 * first. Pins it still holds after that keep the IOAS until they are undone.
 */
void iommufd_access_detach(struct iommufd_access *access)
{
	mutex_lock(&access->change_lock);
	iommufd_access_change_ioas(access, NULL);
	mutex_unlock(&access->change_lock);
}
EXPORT_SYMBOL_NS_GPL(iommufd_access_detach, IOMMUFD);

/**
 * iommufd_access_notify_unmap() - ask the accesses of an IOAS to unpin
 * @iopt: the IOAS's table, not locked
 * @iova: first IOVA about to be unmapped
 * @length: number of bytes
 */
void iommufd_access_notify_unmap(struct io_pagetable *iopt, unsigned long iova,
				 unsigned long length)
{
	struct iommufd_access *access;
	unsigned long index;

	/*
	 * The callbacks run unlocked, as they take the access's own locks;
	 * a reference keeps each access alive meanwhile, and one already
	 * being destroyed (no references left) is skipped.
	 */
	mutex_lock(&iopt->access_lock);
	xa_for_each(&iopt->accesses, index, access) {
		if (!access->ops->unmap ||
		    !refcount_inc_not_zero(&access->obj.users))
			continue;
		mutex_unlock(&iopt->access_lock);
		access->ops->unmap(access->data, iova, length);
		iommufd_put_object(&access->obj);
		mutex_lock(&iopt->access_lock);
	}
	mutex_unlock(&iopt->access_lock);
}

/* Check a range and find the attached IOAS; holds the ioas_lock on success. */
static int iommufd_access_begin(struct iommufd_access *access,
				unsigned long iova, unsigned long length,
				unsigned long *last)
{
	if (!length)
		return -EINVAL;
	if (check_add_overflow(iova, length - 1, last))
		return -EOVERFLOW;
	mutex_lock(&access->ioas_lock);
	if (!access->ioas) {
		mutex_unlock(&access->ioas_lock);
		return -ENOENT;
	}
	return 0;
}

/**
 * iommufd_access_pin_pages() - pin the pages behind a range of IOVA
 * @access: an attached access whose ops have needs_pin_pages
 * @iova: first IOVA; its offset into a page is the offset into the first
 *        page returned
 * @length: number of bytes
 * @out_pages: filled with one page for each CPU page the range touches
 * @flags: IOMMUFD_ACCESS_RW_WRITE if the pages will be written
 *
 * Return: 0; -EINVAL for a zero length, an access without
 * needs_pin_pages, or a range whose areas meet inside a page; -EOVERFLOW;
 * -ENOENT if the access is not attached or part of the range is not mapped;
 * -EPERM to write memory mapped read-only, or to pin for reading memory
 * mapped write-only; -ENOMEM (also for the memory limit);
 * -EFAULT.
 */
int iommufd_access_pin_pages(struct iommufd_access *access, unsigned long iova,
			     unsigned long length, struct page **out_pages,
			     unsigned int flags)
{
	char why[IOPT_WHY_LEN] = "";
	unsigned long last;
	int rc;

	if (!access->ops->needs_pin_pages)
		return -EINVAL;
	rc = iommufd_access_begin(access, iova, length, &last);
	if (rc)
		return rc;
	rc = iopt_access_pin(&access->ioas->iopt, iova, last, out_pages,
			     flags & IOMMUFD_ACCESS_RW_WRITE, why);
	if (!rc)
		access->pins++;
	mutex_unlock(&access->ioas_lock);
	if (rc)
		iommufd_ctx_refused(access->ictx, "access pin", rc, why);
	return rc;
}
EXPORT_SYMBOL_NS_GPL(iommufd_access_pin_pages, IOMMUFD);

/**
 * iommufd_access_unpin_pages() - undo iommufd_access_pin_pages()
 * @access: the access
 * @iova: as given to iommufd_access_pin_pages()
 * @length: as given to iommufd_access_pin_pages()
 */
void iommufd_access_unpin_pages(struct iommufd_access *access,
				unsigned long iova, unsigned long length)
{
	struct iommufd_ioas *drained = NULL;
	unsigned long last;

	if (WARN_ON(!length || check_add_overflow(iova, length - 1, &last)))
		return;
	mutex_lock(&access->ioas_lock);
	/* The IOAS the pin was made in, even while the access moves. */
	if (WARN_ON(!access->ioas_unpin || !access->pins))
		goto out_unlock;
	iopt_access_unpin(&access->ioas_unpin->iopt, iova, last);
	access->pins--;
	/* The last pin of a detached access lets go of the IOAS. */
	if (!access->pins && !access->ioas && !access->changing) {
		drained = access->ioas_unpin;
		access->ioas_unpin = NULL;
	}
out_unlock:
	mutex_unlock(&access->ioas_lock);
	if (drained)
		iommufd_put_object(&drained->obj);
}
EXPORT_SYMBOL_NS_GPL(iommufd_access_unpin_pages, IOMMUFD);

/**
 * iommufd_access_rw() - copy between a kernel buffer and IOVA
 * @access: an attached access
 * @iova: first IOVA
 * @data: the kernel buffer
 * @length: number of bytes
 * @flags: IOMMUFD_ACCESS_RW_WRITE to copy into the IOVA
 *
 * Return: 0; -EINVAL for a zero length or a range being unmapped;
 * -EOVERFLOW; -ENOENT if not attached or part of the range is not mapped;
 * -EPERM to write memory mapped read-only or read memory mapped write-only;
 * -EFAULT, -ENOMEM.
 */
int iommufd_access_rw(struct iommufd_access *access, unsigned long iova,
		      void *data, size_t length, unsigned int flags)
{
	struct iommufd_ioas *ioas;
	unsigned long last;
	int rc;

	rc = iommufd_access_begin(access, iova, length, &last);
	if (rc)
		return rc;
	/*
	 * The copy may fault on user memory and wait for userspace: hold the
	 * IOAS, not the lock that a detach waits for. A copy has nothing to
	 * undo, so one that races a move of the access is harmless.
	 */
	ioas = access->ioas;
	refcount_inc(&ioas->obj.users);
	mutex_unlock(&access->ioas_lock);
	rc = iopt_access_rw(&ioas->iopt, iova, last, data, flags);
	iommufd_put_object(&ioas->obj);
	return rc;
}
EXPORT_SYMBOL_NS_GPL(iommufd_access_rw, IOMMUFD);

#ifdef CONFIG_IOMMUFD_TEST
/**
 * iommufd_access_test_syz_iova() - syzkaller's IOVA of an access's IOAS
 * @access: the access
 * @syz: the IOVA in syzkaller's form, see iommufd_test_syz_iova()
 *
 * Return: the IOVA it stands for, 0 if the access has no IOAS or the IOAS
 * has no such area.
 */
unsigned long iommufd_access_test_syz_iova(struct iommufd_access *access,
					   u64 syz)
{
	unsigned long iova = 0;

	mutex_lock(&access->ioas_lock);
	if (access->ioas)
		iova = iommufd_test_syz_iova(&access->ioas->iopt, syz);
	mutex_unlock(&access->ioas_lock);
	return iova;
}
#endif
