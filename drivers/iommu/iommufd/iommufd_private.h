/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Internal interfaces of iommufd, grouped by the file that owns them.
 */
#ifndef __IOMMUFD_PRIVATE_H
#define __IOMMUFD_PRIVATE_H

#include <linux/build_bug.h>
#include <linux/container_of.h>
#include <linux/rbtree.h>
#include <linux/refcount.h>
#include <linux/rwsem.h>
#include <linux/stddef.h>
#include <linux/types.h>
#include <linux/uaccess.h>
#include <linux/xarray.h>

struct file;

/**
 * struct iommufd_ctx - one open file of /dev/iommu
 * @file: the file this context belongs to
 * @objects: every object of the context, indexed by its ID. An ID that is
 *           reserved but not yet published holds XA_ZERO_ENTRY, which
 *           lookups read as absent. The xarray's lock also serialises the
 *           last-reference checks of IOMMU_DESTROY against lookups.
 */
struct iommufd_ctx {
	struct file *file;
	struct xarray objects;
};

/* Length of the human-readable reason an ioctl may give beside its errno. */
#define IOMMUFD_REASON_LEN 128

/**
 * struct iommufd_ucmd - one ioctl call in flight
 * @ictx: context the ioctl was issued on
 * @uargs: the user's structure
 * @user_size: the user's idea of the structure's size
 * @args: kernel copy of the structure, zero-extended to the kernel's size
 * @reason: why the ioctl failed, in words, when the errno alone does not
 *          say which object or which device was at fault; empty otherwise
 */
struct iommufd_ucmd {
	struct iommufd_ctx *ictx;
	void __user *uargs;
	u32 user_size;
	void *args;
	char reason[IOMMUFD_REASON_LEN];
};

/*
 * Copy the response back, truncated to what the user passed in. Must be
 * called before the object the ioctl created is published, so that a
 * fault here can still undo the creation.
 */
static inline int iommufd_ucmd_reply(struct iommufd_ucmd *ucmd, size_t len)
{
	size_t n = min_t(size_t, ucmd->user_size, len);

	return copy_to_user(ucmd->uargs, ucmd->args, n) ? -EFAULT : 0;
}

__printf(3, 4) int iommufd_ucmd_fail(struct iommufd_ucmd *ucmd, int rc,
				     const char *fmt, ...);

enum iommufd_object_type {
	IOMMUFD_OBJ_NONE,
	IOMMUFD_OBJ_ANY = IOMMUFD_OBJ_NONE,
	IOMMUFD_OBJ_IOAS,
	IOMMUFD_OBJ_MAX,
};

/**
 * struct iommufd_object - what every object of a context starts with
 * @users: one reference for being published in &iommufd_ctx.objects, one
 *         for each ioctl using the object and one for each object that
 *         depends on it. IOMMU_DESTROY only succeeds while the count is 1.
 * @type: which kind of object this is
 * @id: the object's ID in &iommufd_ctx.objects
 */
struct iommufd_object {
	refcount_t users;
	enum iommufd_object_type type;
	unsigned int id;
};

/* main.c */
struct iommufd_object *iommufd_object_reserve(struct iommufd_ctx *ictx,
					      size_t size,
					      enum iommufd_object_type type);
void iommufd_object_publish(struct iommufd_ctx *ictx,
			    struct iommufd_object *obj);
void iommufd_object_drop(struct iommufd_ctx *ictx, struct iommufd_object *obj);
void iommufd_object_unwind(struct iommufd_ctx *ictx,
			   struct iommufd_object *obj);
struct iommufd_object *iommufd_object_lookup(struct iommufd_ctx *ictx, u32 id,
					     enum iommufd_object_type type);

/*
 * Allocate a zeroed @_struct and reserve its ID. @_struct must begin with
 * its struct iommufd_object named obj: this lets container_of() pass an
 * ERR_PTR() through unchanged.
 */
#define iommufd_object_alloc(ictx, _struct, type)                             \
	container_of(iommufd_object_reserve(                                    \
			     ictx,                                             \
			     sizeof(_struct) +                                 \
				     BUILD_BUG_ON_ZERO(offsetof(_struct, obj)), \
			     type),                                            \
		     _struct, obj)

/* Drop the reference iommufd_object_lookup() took. */
static inline void iommufd_put_object(struct iommufd_object *obj)
{
	/* The published reference keeps this from reaching zero. */
	refcount_dec(&obj->users);
}

/* io_pagetable.c */
struct iopt_allowed;

/**
 * struct io_pagetable - the IOVA space of an IOAS
 * @iova_rwsem: protects the layout of the IOVA space: @spans, every span
 *              in it, @allowed and @num_allowed
 * @spans: every used run of IOVA (areas and reservations), see
 *         io_pagetable.c
 * @allowed: sorted ranges that kernel-chosen IOVAs must come from
 * @num_allowed: entries in @allowed; 0 means any IOVA
 * @iova_alignment: every IOVA and length mapped must be aligned to this
 */
struct io_pagetable {
	struct rw_semaphore iova_rwsem;
	struct rb_root spans;
	struct iopt_allowed *allowed;
	unsigned int num_allowed;
	unsigned long iova_alignment;
};

void iopt_init_table(struct io_pagetable *iopt);
void iopt_destroy_table(struct io_pagetable *iopt);
bool iopt_find_usable_span(struct io_pagetable *iopt, unsigned long from,
			   unsigned long *start, unsigned long *last);
int iopt_map_user_pages(struct io_pagetable *iopt, unsigned long *iova,
			void __user *uptr, unsigned long length, int iommu_prot,
			bool fixed);
int iopt_unmap_iova(struct io_pagetable *iopt, unsigned long iova,
		    unsigned long length, unsigned long *unmapped);
int iopt_unmap_everything(struct io_pagetable *iopt, unsigned long *unmapped);
int iopt_set_allowed(struct io_pagetable *iopt, struct iopt_allowed *allowed,
		     unsigned int num);
int iopt_reserve_iova(struct io_pagetable *iopt, unsigned long start,
		      unsigned long last, void *owner);
void iopt_remove_reserved_iova(struct io_pagetable *iopt, void *owner);

/* ioas.c */

/**
 * struct iommufd_ioas - an IO address space object
 * @obj: the object header
 * @iopt: the IOVA space and what is mapped in it
 */
struct iommufd_ioas {
	struct iommufd_object obj;
	struct io_pagetable iopt;
};

static inline struct iommufd_ioas *iommufd_ioas_lookup(struct iommufd_ctx *ictx,
						       u32 id)
{
	return container_of(iommufd_object_lookup(ictx, id, IOMMUFD_OBJ_IOAS),
			    struct iommufd_ioas, obj);
}

int iommufd_ioas_alloc_ioctl(struct iommufd_ucmd *ucmd);
void iommufd_ioas_free(struct iommufd_object *obj);
int iommufd_ioas_ranges_ioctl(struct iommufd_ucmd *ucmd);
int iommufd_ioas_allow_ioctl(struct iommufd_ucmd *ucmd);
int iommufd_ioas_map_ioctl(struct iommufd_ucmd *ucmd);
int iommufd_ioas_copy_ioctl(struct iommufd_ucmd *ucmd);
int iommufd_ioas_unmap_ioctl(struct iommufd_ucmd *ucmd);

/* selftest.c */
#ifdef CONFIG_IOMMUFD_TEST
/* IOMMU_TEST_CMD has no name in the command enum; give it one here. */
#define IOMMUFD_CMD_TEST_CMD (IOMMUFD_CMD_BASE + 32)
int iommufd_test(struct iommufd_ucmd *ucmd);
#endif

#endif
