// SPDX-License-Identifier: GPL-2.0-only
/*
 * /dev/iommu: the character device, its contexts and their objects.
 *
 * Every open of /dev/iommu makes a context (struct iommufd_ctx). A context
 * owns objects (IOASes, HWPTs, the devices drivers bound to it, in-kernel
 * accesses, and the test mock's objects) and names each by a small integer
 * ID that userspace passes back in ioctls.
 *
 * Objects are created in two steps. iommufd_object_alloc() allocates the
 * object and reserves its ID, but lookups cannot see it yet: the ioctl is
 * free to build it, answer userspace, and only then publish it with
 * iommufd_object_publish(). If anything fails on the way, including the
 * copy of the answer to userspace, iommufd_object_unwind() (or
 * iommufd_object_drop() before the type's own setup) takes it back and
 * userspace never learns of an ID that did not work. Nothing may fail
 * after publishing.
 *
 * An object's users count holds one reference for being published, one for
 * each ioctl that looked it up and one for each object built on top of it;
 * a bound device and an access also hold one for their driver.
 * IOMMU_DESTROY removes an object only when that count is exactly one, so
 * an object in use is never freed under its users: the caller gets EBUSY.
 * The objects whose life the kernel decides (devices, automatic HWPTs,
 * accesses) go by iommufd_object_remove() instead, which unpublishes the
 * object and waits for the ioctls using it. A driver that binds devices
 * (VFIO) holds the context's file until it unbinds them, and so does every
 * access, so the context outlives them; the test mock's devices are plain
 * objects of the context. Once the file is released, the objects left are
 * destroyed, dependants before what they depend on.
 *
 * All ioctls of /dev/iommu pass through iommufd_dev_ioctl(), the one place
 * that checks the structure size contract of the uAPI header, and records
 * the reason a handler gave for failing in the context, for fdinfo (see
 * fdinfo.c), and logs it with pr_debug(). VFIO's ioctls
 * that bind and attach devices reach iommufd through the kernel API.
 */
#define pr_fmt(fmt) "iommufd: " fmt

#include <linux/file.h>
#include <linux/fs.h>
#include <linux/iommufd.h>
#include <linux/miscdevice.h>
#include <linux/module.h>
#include <linux/nospec.h>
#include <linux/seq_file.h>
#include <linux/slab.h>
#include <uapi/linux/iommufd.h>

#include "iommufd_private.h"
#ifdef CONFIG_IOMMUFD_TEST
#include "iommufd_test.h"
#endif

/**
 * struct iommufd_obj_ops - what each type of object does
 * @name: the type's name in fdinfo
 * @destroy: tear down the type's part of the object
 * @show: print the object's fields for fdinfo as " key=value" pairs, or
 *        NULL; called with a reference held and no lock
 */
struct iommufd_obj_ops {
	const char *name;
	void (*destroy)(struct iommufd_object *obj);
	void (*show)(struct seq_file *m, struct iommufd_object *obj);
};

static const struct iommufd_obj_ops iommufd_obj_ops[] = {
	[IOMMUFD_OBJ_IOAS] = {
		.name = "ioas",
		.destroy = iommufd_ioas_free,
		.show = iommufd_ioas_show,
	},
	[IOMMUFD_OBJ_HWPT_PAGING] = {
		.name = "hwpt",
		.destroy = iommufd_hwpt_destroy,
		.show = iommufd_hwpt_show,
	},
	[IOMMUFD_OBJ_HWPT_NESTED] = {
		.name = "hwpt_nested",
		.destroy = iommufd_hwpt_nested_destroy,
		.show = iommufd_hwpt_nested_show,
	},
	[IOMMUFD_OBJ_DEVICE] = {
		.name = "device",
		.destroy = iommufd_device_destroy,
		.show = iommufd_device_show,
	},
	[IOMMUFD_OBJ_ACCESS] = {
		.name = "access",
		.destroy = iommufd_access_destroy_object,
		.show = iommufd_access_show,
	},
	[IOMMUFD_OBJ_FAULT] = {
		.name = "fault",
		.destroy = iommufd_fault_destroy,
		.show = iommufd_fault_show,
	},
#ifdef CONFIG_IOMMUFD_TEST
	[IOMMUFD_OBJ_SELFTEST] = {
		.name = "selftest",
		.destroy = iommufd_selftest_destroy,
		.show = iommufd_selftest_show,
	},
#endif
};

/**
 * iommufd_object_show() - print one object's fdinfo line
 * @m: the fdinfo file
 * @obj: the object, referenced by the caller
 */
void iommufd_object_show(struct seq_file *m, struct iommufd_object *obj)
{
	const struct iommufd_obj_ops *ops = &iommufd_obj_ops[obj->type];

	seq_printf(m, "%s:\tid=%u", ops->name, obj->id);
	if (ops->show)
		ops->show(m, obj);
	seq_putc(m, '\n');
}

/* Woken whenever an object reference is dropped, see iommufd_object_remove(). */
static DECLARE_WAIT_QUEUE_HEAD(iommufd_put_wait);

/* How long iommufd_object_remove() waits before it reports a stuck user. */
#define IOMMUFD_REMOVE_REPORT_PERIOD (10 * HZ)

/**
 * iommufd_object_reserve() - allocate an object and reserve an ID for it
 * @ictx: context that will own the object
 * @size: size of the containing structure
 * @type: object type
 *
 * The object is not visible to lookups until iommufd_object_publish().
 * Use the iommufd_object_alloc() wrapper rather than calling this.
 *
 * Return: the zeroed object, or an ERR_PTR() on failure.
 */
struct iommufd_object *iommufd_object_reserve(struct iommufd_ctx *ictx,
					      size_t size,
					      enum iommufd_object_type type)
{
	struct iommufd_object *obj = kzalloc(size, GFP_KERNEL_ACCOUNT);
	int rc = -ENOMEM;

	/*
	 * XA_ZERO_ENTRY holds the ID without publishing anything: xa_load()
	 * reads it as NULL, so a guessed ID cannot reach a half-built object.
	 */
	if (obj)
		rc = xa_alloc(&ictx->objects, &obj->id, XA_ZERO_ENTRY,
			      xa_limit_31b, GFP_KERNEL_ACCOUNT);
	if (rc) {
		kfree(obj);
		return ERR_PTR(rc);
	}
	/* The published reference; see iommufd_object_publish(). */
	refcount_set(&obj->users, 1);
	obj->type = type;
	return obj;
}

/**
 * iommufd_object_publish() - publish a fully built object
 * @ictx: owning context
 * @obj: object from iommufd_object_alloc()
 *
 * After this, userspace can use and destroy the object at any moment; the
 * caller must not touch it again without a reference.
 */
void iommufd_object_publish(struct iommufd_ctx *ictx,
			    struct iommufd_object *obj)
{
	xa_lock(&ictx->objects);
	__iommufd_object_publish(ictx, obj);
	xa_unlock(&ictx->objects);
}

/**
 * __iommufd_object_publish() - iommufd_object_publish() under the lock
 * @ictx: owning context, whose objects' xa_lock is held
 * @obj: object from iommufd_object_alloc()
 *
 * For a caller that makes the object reachable in another way in the same
 * locked section, so that nobody finds it by one way before the other.
 */
void __iommufd_object_publish(struct iommufd_ctx *ictx,
			      struct iommufd_object *obj)
{
	void *old;

	lockdep_assert_held(&ictx->objects.xa_lock);
	/* The slot exists already, so this store cannot need memory. */
	old = __xa_store(&ictx->objects, obj->id, obj, GFP_ATOMIC);
	WARN_ON(old);
}

/**
 * iommufd_object_drop() - release an unpublished object
 * @ictx: owning context
 * @obj: object from iommufd_object_alloc() that was never published
 *
 * Only for objects whose type-specific part was never set up; otherwise
 * use iommufd_object_unwind().
 */
void iommufd_object_drop(struct iommufd_ctx *ictx, struct iommufd_object *obj)
{
	void *old;

	old = xa_erase(&ictx->objects, obj->id);
	WARN_ON(old);
	kfree(obj);
}

/**
 * iommufd_object_unwind() - tear down and release an unpublished
 *                                      object
 * @ictx: owning context
 * @obj: object from iommufd_object_alloc() that was never published
 *
 * Runs the type's destroy function first, so the object must be complete
 * enough for it.
 */
void iommufd_object_unwind(struct iommufd_ctx *ictx,
			   struct iommufd_object *obj)
{
	iommufd_obj_ops[obj->type].destroy(obj);
	iommufd_object_drop(ictx, obj);
}

/**
 * iommufd_ucmd_reply_publish() - answer an ioctl that made an object
 * @ucmd: the ioctl, whose answer names @obj
 * @obj: object from iommufd_object_alloc(), complete but unpublished
 * @len: size of the answer
 *
 * The answer goes first: an object whose ID userspace never learnt is
 * taken back with iommufd_object_unwind() rather than published.
 *
 * Return: 0 with @obj published, or -EFAULT with @obj gone.
 */
int iommufd_ucmd_reply_publish(struct iommufd_ucmd *ucmd,
			       struct iommufd_object *obj, size_t len)
{
	int rc = iommufd_ucmd_reply(ucmd, len);

	if (rc)
		iommufd_object_unwind(ucmd->ictx, obj);
	else
		iommufd_object_publish(ucmd->ictx, obj);
	return rc;
}

/**
 * iommufd_object_lookup() - look up a published object and take a reference
 * @ictx: context to look in
 * @id: the object's ID
 * @type: the type the caller needs, or IOMMUFD_OBJ_ANY
 *
 * Context: takes the objects xarray lock.
 * Return: the object, to be released with iommufd_put_object(), or
 * ERR_PTR(-ENOENT) if @id names no published object of @type.
 */
struct iommufd_object *iommufd_object_lookup(struct iommufd_ctx *ictx, u32 id,
					     enum iommufd_object_type type)
{
	struct iommufd_object *obj;

	xa_lock(&ictx->objects);
	obj = xa_load(&ictx->objects, id);
	if (!obj || (type != IOMMUFD_OBJ_ANY && obj->type != type) ||
	    !refcount_inc_not_zero(&obj->users))
		obj = ERR_PTR(-ENOENT);
	xa_unlock(&ictx->objects);
	return obj;
}

/**
 * iommufd_put_object() - drop a reference from iommufd_object_lookup()
 * @obj: the object
 */
void iommufd_put_object(struct iommufd_object *obj)
{
	/* The published reference keeps this from reaching zero. */
	refcount_dec(&obj->users);
	if (wq_has_sleeper(&iommufd_put_wait))
		wake_up_all(&iommufd_put_wait);
}

/**
 * iommufd_object_remove() - destroy an object that the kernel owns
 * @ictx: owning context
 * @obj: published object
 * @owned: references the caller holds besides the published one, which
 *         it gives up here
 *
 * For objects whose life the kernel decides rather than IOMMU_DESTROY: a
 * bound device when its driver unbinds, an automatic HWPT when its last
 * device leaves. The object is unpublished at once, so no new lookup finds
 * it; ioctls that already hold it are waited for, then it is destroyed.
 *
 * Context: may sleep.
 */
void iommufd_object_remove(struct iommufd_ctx *ictx,
			   struct iommufd_object *obj, unsigned int owned)
{
	xa_lock(&ictx->objects);
	if (xa_load(&ictx->objects, obj->id) == obj)
		__xa_erase(&ictx->objects, obj->id);
	xa_unlock(&ictx->objects);

	while (owned--)
		refcount_dec(&obj->users);
	/*
	 * Zero users marks the object dead for refcount_inc_not_zero() in
	 * paths that find it other than by ID. No ioctl holds an object
	 * across a wait on userspace (see iommufd_ucmd_reply()), so the wait
	 * is short; one that is not is a bug, reported every period. The
	 * object cannot be destroyed under its user, so the wait goes on.
	 */
	while (!wait_event_timeout(iommufd_put_wait,
				   refcount_dec_if_one(&obj->users),
				   IOMMUFD_REMOVE_REPORT_PERIOD))
		pr_crit("object %u of type %u is still in use after %u s, waiting\n",
			obj->id, obj->type,
			jiffies_to_msecs(IOMMUFD_REMOVE_REPORT_PERIOD) / 1000);
	iommufd_obj_ops[obj->type].destroy(obj);
	kfree(obj);
}

/*
 * Unpublish @obj if nothing but the context holds it. Called with the
 * xarray lock held so that no lookup can take a reference in between.
 */
static bool __iommufd_object_try_remove(struct iommufd_ctx *ictx,
					struct iommufd_object *obj)
{
	lockdep_assert_held(&ictx->objects.xa_lock);

	if (!refcount_dec_if_one(&obj->users))
		return false;
	__xa_erase(&ictx->objects, obj->id);
	/* The VFIO container ioctls must not find it any more. */
	if (ictx->vfio_ioas && &ictx->vfio_ioas->obj == obj)
		ictx->vfio_ioas = NULL;
	return true;
}

static void iommufd_object_free(struct iommufd_object *obj)
{
	iommufd_obj_ops[obj->type].destroy(obj);
	kfree(obj);
}

/**
 * iommufd_ucmd_fail() - fail an ioctl with an errno and a reason in words
 * @ucmd: the ioctl
 * @rc: negative errno to return
 * @fmt: printf-style reason, naming the object or device at fault
 *
 * Return: @rc, so that a handler can end with ``return
 * iommufd_ucmd_fail(ucmd, -EBUSY, "...")``.
 */
int iommufd_ucmd_fail(struct iommufd_ucmd *ucmd, int rc, const char *fmt, ...)
{
	va_list args;

	va_start(args, fmt);
	vsnprintf(ucmd->reason, sizeof(ucmd->reason), fmt, args);
	va_end(args);
	return rc;
}

/*
 * Unpublish object @id of @ictx if nothing but the table holds it. Returns
 * the object, NULL if there is none, or ERR_PTR(-EBUSY) with the number
 * of its other holders in *@users.
 */
static struct iommufd_object *iommufd_destroy_try(struct iommufd_ctx *ictx,
						  u32 id, unsigned int *users)
{
	struct iommufd_object *obj;

	xa_lock(&ictx->objects);
	obj = xa_load(&ictx->objects, id);
	if (obj && !__iommufd_object_try_remove(ictx, obj)) {
		*users = refcount_read(&obj->users) - 1;
		obj = ERR_PTR(-EBUSY);
	}
	xa_unlock(&ictx->objects);
	return obj;
}

static int iommufd_destroy(struct iommufd_ucmd *ucmd)
{
	struct iommu_destroy *cmd = ucmd->args;
	struct iommufd_ctx *ictx = ucmd->ictx;
	struct iommufd_object *obj;
	unsigned int users = 0;

	obj = iommufd_destroy_try(ictx, cmd->id, &users);
	if (obj == ERR_PTR(-EBUSY)) {
		/*
		 * fdinfo may hold the object just now: it takes its
		 * references only under fdinfo_lock, so look again holding
		 * that, when fdinfo holds none.
		 */
		mutex_lock(&ictx->fdinfo_lock);
		obj = iommufd_destroy_try(ictx, cmd->id, &users);
		mutex_unlock(&ictx->fdinfo_lock);
	}

	if (!obj)
		return iommufd_ucmd_fail(ucmd, -ENOENT, "no object with ID %u",
					 cmd->id);
	if (IS_ERR(obj))
		return iommufd_ucmd_fail(ucmd, PTR_ERR(obj),
					 "object %u is still used by %u others",
					 cmd->id, users);
	iommufd_object_free(obj);
	return 0;
}

static int iommufd_option_rlimit_mode(struct iommufd_ucmd *ucmd)
{
	struct iommu_option *cmd = ucmd->args;
	struct iommufd_ctx *ictx = ucmd->ictx;
	int rc = 0;

	if (cmd->object_id)
		return -EOPNOTSUPP;

	if (cmd->op == IOMMU_OPTION_OP_GET) {
		cmd->val64 = ictx->account_mode == IOPT_ACCOUNT_MM;
		return iommufd_ucmd_reply(ucmd, sizeof(*cmd));
	}
	if (cmd->op != IOMMU_OPTION_OP_SET)
		return -EOPNOTSUPP;
	if (!capable(CAP_SYS_RESOURCE))
		return iommufd_ucmd_fail(ucmd, -EPERM,
					 "changing the accounting needs CAP_SYS_RESOURCE");

	/* Objects charged one way must be uncharged the same way. */
	xa_lock(&ictx->objects);
	if (!xa_empty(&ictx->objects))
		rc = -EBUSY;
	else if (cmd->val64 > 1)
		rc = -EINVAL;
	else
		ictx->account_mode = cmd->val64 ? IOPT_ACCOUNT_MM :
						  IOPT_ACCOUNT_USER;
	xa_unlock(&ictx->objects);
	if (rc == -EBUSY)
		return iommufd_ucmd_fail(ucmd, rc,
					 "the accounting can only change while the context has no objects");
	return rc;
}

static int iommufd_option(struct iommufd_ucmd *ucmd)
{
	struct iommu_option *cmd = ucmd->args;

	if (cmd->__reserved)
		return -EOPNOTSUPP;

	switch (cmd->option_id) {
	case IOMMU_OPTION_RLIMIT_MODE:
		return iommufd_option_rlimit_mode(ucmd);
	case IOMMU_OPTION_HUGE_PAGES:
		return iommufd_ioas_option(ucmd);
	default:
		return -EOPNOTSUPP;
	}
}

static struct miscdevice iommufd_vfio_misc_dev;

/* Names the contexts in fdinfo. */
static atomic_t iommufd_ctx_ids = ATOMIC_INIT(0);

static int iommufd_dev_open(struct inode *inode, struct file *filp)
{
	struct iommufd_ctx *ictx;

	ictx = kzalloc(sizeof(*ictx), GFP_KERNEL_ACCOUNT);
	if (!ictx)
		return -ENOMEM;
	xa_init_flags(&ictx->objects, XA_FLAGS_ALLOC1 | XA_FLAGS_ACCOUNT);
	xa_init(&ictx->groups);
	mutex_init(&ictx->fdinfo_lock);
	spin_lock_init(&ictx->refusal_lock);
	ictx->id = atomic_inc_return(&iommufd_ctx_ids);
	ictx->file = filp;
	ictx->account_mode = IOPT_ACCOUNT_USER;
	/*
	 * A program that opened /dev/vfio/vfio expects type1's accounting:
	 * pinned memory charged to its process's locked_vm.
	 */
	if (IS_ENABLED(CONFIG_IOMMUFD_VFIO_CONTAINER) &&
	    filp->private_data == &iommufd_vfio_misc_dev)
		ictx->account_mode = IOPT_ACCOUNT_MM;
	filp->private_data = ictx;
	return 0;
}

static int iommufd_dev_release(struct inode *inode, struct file *filp)
{
	struct iommufd_ctx *ictx = filp->private_data;
	struct iommufd_object *obj;
	unsigned long index;
	bool progress;

	/*
	 * No ioctl can run any more, so the only references left are the
	 * published ones and those objects hold on each other. Destroying
	 * every object nothing depends on, over and over, takes the graph
	 * apart leaves first.
	 */
	do {
		progress = false;
		xa_for_each(&ictx->objects, index, obj) {
			xa_lock(&ictx->objects);
			if (!__iommufd_object_try_remove(ictx, obj)) {
				xa_unlock(&ictx->objects);
				continue;
			}
			xa_unlock(&ictx->objects);
			iommufd_object_free(obj);
			progress = true;
		}
	} while (progress);

	/* Whatever is left holds a reference to itself: a bug, so leak it. */
	WARN_ON(!xa_empty(&ictx->objects));
	xa_destroy(&ictx->objects);
	/* Every device is unbound, so every group entry went with it. */
	WARN_ON(!xa_empty(&ictx->groups));
	xa_destroy(&ictx->groups);
	/* Every pin went with its object. */
	WARN_ON(atomic_long_read(&ictx->usage.pinned));
	mutex_destroy(&ictx->fdinfo_lock);
	kfree(ictx);
	return 0;
}

static const struct file_operations iommufd_fops;

/**
 * iommufd_ctx_from_file() - the context of an open /dev/iommu
 * @file: a file the caller holds
 *
 * A driver that binds devices keeps the context with this reference, so
 * the context outlives the user's file descriptor until the driver is done
 * (VFIO: until the device file is closed).
 *
 * Return: the context, referenced (drop with iommufd_ctx_put()), or
 * ERR_PTR(-EBADFD) if @file is not /dev/iommu.
 */
struct iommufd_ctx *iommufd_ctx_from_file(struct file *file)
{
	if (file->f_op != &iommufd_fops)
		return ERR_PTR(-EBADFD);
	get_file(file);
	return file->private_data;
}
EXPORT_SYMBOL_NS_GPL(iommufd_ctx_from_file, IOMMUFD);

/**
 * iommufd_ctx_from_fd() - the context of a /dev/iommu file descriptor
 * @fd: a file descriptor of the calling process
 *
 * Return: the context, referenced (drop with iommufd_ctx_put()), or an
 * ERR_PTR(): -EBADF if @fd is not open, -EBADFD if it is not /dev/iommu.
 */
struct iommufd_ctx *iommufd_ctx_from_fd(int fd)
{
	struct iommufd_ctx *ictx;
	struct file *file;

	file = fget(fd);
	if (!file)
		return ERR_PTR(-EBADF);
	ictx = iommufd_ctx_from_file(file);
	fput(file);
	return ictx;
}
EXPORT_SYMBOL_NS_GPL(iommufd_ctx_from_fd, IOMMUFD);

/**
 * iommufd_ctx_put() - drop a reference from iommufd_ctx_from_file()
 * @ictx: the context
 */
void iommufd_ctx_put(struct iommufd_ctx *ictx)
{
	fput(ictx->file);
}
EXPORT_SYMBOL_NS_GPL(iommufd_ctx_put, IOMMUFD);

/* Room on the stack for the largest structure any ioctl takes. */
union iommufd_ucmd_buffer {
	struct iommu_destroy destroy;
	struct iommu_ioas_alloc ioas_alloc;
	struct iommu_ioas_iova_ranges iova_ranges;
	struct iommu_ioas_allow_iovas allow_iovas;
	struct iommu_ioas_map map;
	struct iommu_ioas_map_file map_file;
	struct iommu_ioas_copy copy;
	struct iommu_ioas_unmap unmap;
	struct iommu_option option;
	struct iommu_hwpt_alloc hwpt;
	struct iommu_hw_info hw_info;
	struct iommu_vfio_ioas vfio_ioas;
	struct iommu_hwpt_set_dirty_tracking set_dirty_tracking;
	struct iommu_hwpt_get_dirty_bitmap get_dirty_bitmap;
	struct iommu_hwpt_invalidate invalidate;
	struct iommu_fault_alloc fault_alloc;
#ifdef CONFIG_IOMMUFD_TEST
	struct iommu_test_cmd test;
#endif
};

/**
 * struct iommufd_ioctl_op - how one ioctl is checked and run
 * @name: the ioctl's name, for the refusals fdinfo shows
 * @size: the kernel's size of the structure
 * @min_size: size of the structure's first version; shorter is EINVAL
 * @ioctl_num: the full ioctl number, so a number built with another type
 *             or direction does not match
 * @execute: the handler
 */
struct iommufd_ioctl_op {
	const char *name;
	unsigned int size;
	unsigned int min_size;
	unsigned int ioctl_num;
	int (*execute)(struct iommufd_ucmd *ucmd);
};

/*
 * One table entry per ioctl, indexed by command number. @_name is the
 * part shared by the IOMMU_<name> ioctl and its IOMMUFD_CMD_<name> number.
 */
#define IOMMUFD_IOCTL(_name, _fn, _struct, _last)                             \
	[IOMMUFD_CMD_##_name - IOMMUFD_CMD_BASE] = {                           \
		.name = "IOMMU_" #_name,                                       \
		.size = sizeof(_struct) +                                      \
			BUILD_BUG_ON_ZERO(sizeof(union iommufd_ucmd_buffer) <  \
					  sizeof(_struct)),                    \
		.min_size = offsetofend(_struct, _last),                       \
		.ioctl_num = IOMMU_##_name,                                    \
		.execute = _fn,                                                \
	}

static const struct iommufd_ioctl_op iommufd_ioctl_ops[] = {
	IOMMUFD_IOCTL(DESTROY, iommufd_destroy, struct iommu_destroy, id),
	IOMMUFD_IOCTL(IOAS_ALLOC, iommufd_ioas_alloc_ioctl,
		      struct iommu_ioas_alloc, out_ioas_id),
	IOMMUFD_IOCTL(IOAS_ALLOW_IOVAS, iommufd_ioas_allow_ioctl,
		      struct iommu_ioas_allow_iovas, allowed_iovas),
	IOMMUFD_IOCTL(IOAS_COPY, iommufd_ioas_copy_ioctl, struct iommu_ioas_copy,
		      src_iova),
	IOMMUFD_IOCTL(IOAS_IOVA_RANGES, iommufd_ioas_ranges_ioctl,
		      struct iommu_ioas_iova_ranges, out_iova_alignment),
	IOMMUFD_IOCTL(IOAS_MAP, iommufd_ioas_map_ioctl, struct iommu_ioas_map, iova),
	IOMMUFD_IOCTL(IOAS_UNMAP, iommufd_ioas_unmap_ioctl, struct iommu_ioas_unmap,
		      length),
	IOMMUFD_IOCTL(OPTION, iommufd_option, struct iommu_option, val64),
	IOMMUFD_IOCTL(VFIO_IOAS, iommufd_vfio_ioas, struct iommu_vfio_ioas,
		      __reserved),
	IOMMUFD_IOCTL(HWPT_ALLOC, iommufd_hwpt_alloc_ioctl,
		      struct iommu_hwpt_alloc, __reserved),
	IOMMUFD_IOCTL(GET_HW_INFO, iommufd_get_hw_info, struct iommu_hw_info,
		      __reserved),
	IOMMUFD_IOCTL(HWPT_SET_DIRTY_TRACKING, iommufd_hwpt_set_dirty_tracking,
		      struct iommu_hwpt_set_dirty_tracking, __reserved),
	IOMMUFD_IOCTL(HWPT_GET_DIRTY_BITMAP, iommufd_hwpt_get_dirty_bitmap,
		      struct iommu_hwpt_get_dirty_bitmap, data),
	IOMMUFD_IOCTL(HWPT_INVALIDATE, iommufd_hwpt_invalidate,
		      struct iommu_hwpt_invalidate, __reserved),
	IOMMUFD_IOCTL(FAULT_QUEUE_ALLOC, iommufd_fault_alloc,
		      struct iommu_fault_alloc, out_fault_fd),
	IOMMUFD_IOCTL(IOAS_MAP_FILE, iommufd_ioas_map_file_ioctl,
		      struct iommu_ioas_map_file, iova),
#ifdef CONFIG_IOMMUFD_TEST
	IOMMUFD_IOCTL(TEST_CMD, iommufd_test, struct iommu_test_cmd, last),
#endif
};

static long iommufd_dev_ioctl(struct file *filp, unsigned int cmd,
			      unsigned long arg)
{
	struct iommufd_ucmd ucmd = {
		.ictx = filp->private_data,
		.uargs = (void __user *)arg,
	};
	const struct iommufd_ioctl_op *op;
	union iommufd_ucmd_buffer buf;
	unsigned int nr = _IOC_NR(cmd);
	int rc;

	/*
	 * Every context also answers the VFIO container's ioctls, which
	 * share our ioctl type and number below IOMMUFD_CMD_BASE.
	 */
	if (nr < IOMMUFD_CMD_BASE)
		return iommufd_vfio_ioctl(ucmd.ictx, cmd, arg);
	if (nr - IOMMUFD_CMD_BASE >= ARRAY_SIZE(iommufd_ioctl_ops))
		return -ENOTTY;
	op = &iommufd_ioctl_ops[array_index_nospec(nr - IOMMUFD_CMD_BASE,
						   ARRAY_SIZE(iommufd_ioctl_ops))];
	/* Also rejects the holes of the table, whose ioctl_num is 0. */
	if (op->ioctl_num != cmd)
		return -ENOTTY;

	rc = get_user(ucmd.user_size, (u32 __user *)ucmd.uargs);
	if (rc)
		return rc;
	if (ucmd.user_size < op->min_size)
		return -EINVAL;
	ucmd.args = &buf;
	/* Zero-fills a short structure, E2BIG for a non-zero unknown tail. */
	rc = copy_struct_from_user(ucmd.args, op->size, ucmd.uargs,
				   ucmd.user_size);
	if (rc)
		return rc;

	rc = op->execute(&ucmd);
	if (rc && ucmd.reason[0]) {
		iommufd_ctx_refused(ucmd.ictx, op->name, rc, ucmd.reason);
		pr_debug("%s failed with %d: %s\n", op->name, rc, ucmd.reason);
	}
	return rc;
}

static void iommufd_dev_show_fdinfo(struct seq_file *m, struct file *filp)
{
	iommufd_ctx_show_fdinfo(m, filp->private_data);
}

static const struct file_operations iommufd_fops = {
	.owner = THIS_MODULE,
	.open = iommufd_dev_open,
	.release = iommufd_dev_release,
	.show_fdinfo = iommufd_dev_show_fdinfo,
	.unlocked_ioctl = iommufd_dev_ioctl,
	.compat_ioctl = compat_ptr_ioctl,
};

static struct miscdevice iommufd_misc_dev = {
	.minor = MISC_DYNAMIC_MINOR,
	.name = "iommu",
	.fops = &iommufd_fops,
	.nodename = "iommu",
	.mode = 0660,
};

/*
 * /dev/vfio/vfio, when VFIO has no container of its own: the same files as
 * /dev/iommu, whose contexts answer the container ioctls (vfio_compat.c).
 */
static struct miscdevice iommufd_vfio_misc_dev = {
	.minor = VFIO_MINOR,
	.name = "vfio",
	.fops = &iommufd_fops,
	.nodename = "vfio/vfio",
	.mode = 0666,
};

static int __init iommufd_init(void)
{
	int rc;

	rc = iommufd_test_init();
	if (rc)
		return rc;
	rc = misc_register(&iommufd_misc_dev);
	if (rc)
		goto err_test;
	if (IS_ENABLED(CONFIG_IOMMUFD_VFIO_CONTAINER)) {
		rc = misc_register(&iommufd_vfio_misc_dev);
		if (rc)
			goto err_misc;
		pr_info("/dev/vfio/vfio is served by iommufd, not by VFIO's type1 container\n");
	}
	return 0;

err_misc:
	misc_deregister(&iommufd_misc_dev);
err_test:
	iommufd_test_exit();
	return rc;
}

static void __exit iommufd_exit(void)
{
	if (IS_ENABLED(CONFIG_IOMMUFD_VFIO_CONTAINER))
		misc_deregister(&iommufd_vfio_misc_dev);
	misc_deregister(&iommufd_misc_dev);
	iommufd_test_exit();
}

module_init(iommufd_init);
module_exit(iommufd_exit);

#if IS_ENABLED(CONFIG_IOMMUFD_VFIO_CONTAINER)
MODULE_ALIAS_MISCDEV(VFIO_MINOR);
MODULE_ALIAS("devname:vfio/vfio");
#endif
MODULE_DESCRIPTION("iommufd: userspace control of IO address spaces");
MODULE_LICENSE("GPL");
