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
 * Lock order: iommufd_access::ioas_lock, then io_pagetable::access_lock,
 * then io_pagetable::iova_rwsem. unmap() ops are called with none of them
 * held, as they call back into iommufd_access_unpin_pages().
 */
#include <linux/file.h>
#include <linux/fs.h>
#include <linux/iommufd.h>
#include <linux/lockdep.h>
#include <linux/slab.h>

#include "iommufd_private.h"

/**
 * struct iommufd_access - an in-kernel user of an IOAS's memory
 * @obj: the object header; the creating driver holds a reference
 * @ictx: the context, whose file the access holds
 * @ops: the driver's callbacks
 * @data: the driver's argument to @ops
 * @ioas_lock: protects @ioas and @iopt_id
 * @ioas: the IOAS attached to, holding a reference, or NULL
 * @iopt_id: index in the IOAS's io_pagetable::accesses
 */
struct iommufd_access {
	struct iommufd_object obj;
	struct iommufd_ctx *ictx;
	const struct iommufd_access_ops *ops;
	void *data;
	struct mutex ioas_lock; /* protects ioas and iopt_id */
	struct iommufd_ioas *ioas;
	u32 iopt_id;
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
	mutex_destroy(&access->ioas_lock);
}

/*
 * Leave the current IOAS, first asking the driver to unpin everything.
 * Called with @access->ioas_lock held; drops it around the callback, and
 * keeps @access->ioas meanwhile so that the driver's unpins find it.
 */
static void iommufd_access_leave(struct iommufd_access *access)
{
	struct iommufd_ioas *ioas = access->ioas;

	lockdep_assert_held(&access->ioas_lock);

	if (!ioas)
		return;
	mutex_lock(&ioas->iopt.access_lock);
	xa_erase(&ioas->iopt.accesses, access->iopt_id);
	mutex_unlock(&ioas->iopt.access_lock);
	/*
	 * No unmap notification reaches the access any more, so tell it
	 * itself: pins into the old IOAS must go.
	 */
	if (access->ops->unmap) {
		mutex_unlock(&access->ioas_lock);
		access->ops->unmap(access->data, 0, ULONG_MAX);
		mutex_lock(&access->ioas_lock);
	}
	access->ioas = NULL;
	iommufd_put_object(&ioas->obj);
}

static int iommufd_access_join(struct iommufd_access *access, u32 ioas_id,
			       bool replace)
{
	struct iommufd_ioas *ioas;
	u32 new_id;
	int rc;

	ioas = iommufd_ioas_lookup(access->ictx, ioas_id);
	if (IS_ERR(ioas))
		return PTR_ERR(ioas);

	mutex_lock(&access->ioas_lock);
	if (access->ioas == ioas) {
		rc = 0;
		goto out_put;
	}
	if (access->ioas && !replace) {
		rc = -EINVAL;
		goto out_put;
	}
	if (!access->ioas && replace) {
		rc = -ENOENT;
		goto out_put;
	}
	mutex_lock(&ioas->iopt.access_lock);
	rc = xa_alloc(&ioas->iopt.accesses, &new_id, access, xa_limit_16b,
		      GFP_KERNEL_ACCOUNT);
	mutex_unlock(&ioas->iopt.access_lock);
	if (rc)
		goto out_put;
	/* Leaves by access->iopt_id, the old IOAS's slot. */
	iommufd_access_leave(access);
	/* Keep the lookup's reference for as long as we are attached. */
	access->ioas = ioas;
	access->iopt_id = new_id;
	mutex_unlock(&access->ioas_lock);
	return 0;

out_put:
	mutex_unlock(&access->ioas_lock);
	iommufd_put_object(&ioas->obj);
	return rc;
}

/**
 * iommufd_access_attach() - attach an access to an IOAS
 * @access: the access, not attached
 * @ioas_id: the IOAS's ID
 *
 * Return: 0; -ENOENT for a bad ID; -EINVAL if already attached elsewhere;
 * -ENOMEM.
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
 * The driver's unmap() op is asked to drop every pin into the old IOAS.
 *
 * Return: 0; -ENOENT for a bad ID or an access that is not attached;
 * -ENOMEM.
 */
int iommufd_access_replace(struct iommufd_access *access, u32 ioas_id)
{
	return iommufd_access_join(access, ioas_id, true);
}
EXPORT_SYMBOL_NS_GPL(iommufd_access_replace, IOMMUFD);

/**
 * iommufd_access_detach() - detach an access from its IOAS
 * @access: the access; nothing happens if it is not attached
 */
void iommufd_access_detach(struct iommufd_access *access)
{
	mutex_lock(&access->ioas_lock);
	iommufd_access_leave(access);
	mutex_unlock(&access->ioas_lock);
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
 * Return: 0; -EINVAL for a zero length or an access without
 * needs_pin_pages; -EOVERFLOW; -ENOENT if the access is not attached or
 * part of the range is not mapped; -EPERM to write read-only memory;
 * -ENOMEM (also for the memory limit); -EFAULT.
 */
int iommufd_access_pin_pages(struct iommufd_access *access, unsigned long iova,
			     unsigned long length, struct page **out_pages,
			     unsigned int flags)
{
	unsigned long last;
	int rc;

	if (!access->ops->needs_pin_pages)
		return -EINVAL;
	rc = iommufd_access_begin(access, iova, length, &last);
	if (rc)
		return rc;
	rc = iopt_access_pin(&access->ioas->iopt, iova, last, out_pages,
			     flags & IOMMUFD_ACCESS_RW_WRITE);
	mutex_unlock(&access->ioas_lock);
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
	unsigned long last;

	if (WARN_ON(iommufd_access_begin(access, iova, length, &last)))
		return;
	iopt_access_unpin(&access->ioas->iopt, iova, last);
	mutex_unlock(&access->ioas_lock);
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
 * -EPERM to write read-only memory; -EFAULT, -ENOMEM.
 */
int iommufd_access_rw(struct iommufd_access *access, unsigned long iova,
		      void *data, size_t length, unsigned int flags)
{
	unsigned long last;
	int rc;

	rc = iommufd_access_begin(access, iova, length, &last);
	if (rc)
		return rc;
	rc = iopt_access_rw(&access->ioas->iopt, iova, last, data,
			    flags & IOMMUFD_ACCESS_RW_WRITE,
			    flags & __IOMMUFD_ACCESS_RW_SLOW_PATH);
	mutex_unlock(&access->ioas_lock);
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
