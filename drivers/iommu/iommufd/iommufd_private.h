/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Internal interfaces of iommufd, grouped by the file that owns them.
 */
#ifndef __IOMMUFD_PRIVATE_H
#define __IOMMUFD_PRIVATE_H

#include <linux/build_bug.h>
#include <linux/kref.h>
#include <linux/container_of.h>
#include <linux/rbtree.h>
#include <linux/refcount.h>
#include <linux/list.h>
#include <linux/mutex.h>
#include <linux/rwsem.h>
#include <linux/spinlock.h>
#include <linux/stddef.h>
#include <linux/types.h>
#include <linux/uaccess.h>
#include <linux/wait.h>
#include <linux/xarray.h>

#include "io_pagetable.h"

struct device;
struct file;
struct seq_file;
struct iommu_domain;
struct iommu_group;
struct page;

/**
 * struct iommufd_ctx - one open file of /dev/iommu
 * @file: the file this context belongs to
 * @objects: every object of the context, indexed by its ID. An ID that is
 *           reserved but not yet published holds XA_ZERO_ENTRY, which
 *           lookups read as absent. The xarray's lock also serialises the
 *           last-reference checks of IOMMU_DESTROY against lookups.
 * @account_mode: where memory pinned for this context is charged, see
 *                IOMMU_OPTION_RLIMIT_MODE; changes only while @objects is
 *                empty, under its lock
 * @groups: the struct iommufd_group of each IOMMU group with devices bound
 *          to the context, indexed by group ID, under the xarray's lock
 * @vfio_ioas: the IOAS the VFIO container ioctls work on (vfio_compat.c),
 *             or NULL; under the lock of @objects, and cleared there when
 *             that IOAS is destroyed, so it never points at a freed one
 * @id: names the context in fdinfo, unique while the system runs
 * @usage: memory the context's mappings pin and charge
 * @fdinfo_lock: fdinfo takes and drops its object references under it;
 *               IOMMU_DESTROY's second look holds it, see fdinfo.c
 * @refusal_lock: protects @refusal
 * @refusal: the last operation refused with a reason, see fdinfo.c
 */
struct iommufd_ctx {
	struct file *file;
	struct xarray objects;
	enum iopt_account_mode account_mode;
	struct xarray groups;
	struct iommufd_ioas *vfio_ioas;
	unsigned int id;
	struct iopt_usage usage;
	struct mutex fdinfo_lock; /* fdinfo's object references */
	spinlock_t refusal_lock; /* protects refusal */
	struct iommufd_refusal {
		const char *op;
		int rc;
		char why[IOPT_WHY_LEN];
	} refusal;
};

/* fdinfo.c */
void iommufd_ctx_refused(struct iommufd_ctx *ictx, const char *op, int rc,
			 const char *why);
void iommufd_ctx_show_fdinfo(struct seq_file *m, struct iommufd_ctx *ictx);

/* Length of the human-readable reason an ioctl may give beside its errno. */
#define IOMMUFD_REASON_LEN IOPT_WHY_LEN

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
 * fault here can still undo the creation, and with no object looked up
 * held: the copy may wait for userspace (a userfaultfd page), and a driver
 * unbinding a device waits for the ioctls that hold it.
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
	IOMMUFD_OBJ_HWPT_PAGING,
	IOMMUFD_OBJ_HWPT_NESTED,
	IOMMUFD_OBJ_DEVICE,
	IOMMUFD_OBJ_ACCESS,
	IOMMUFD_OBJ_FAULT,
#ifdef CONFIG_IOMMUFD_TEST
	IOMMUFD_OBJ_SELFTEST,
#endif
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
void __iommufd_object_publish(struct iommufd_ctx *ictx,
			      struct iommufd_object *obj);
void iommufd_object_drop(struct iommufd_ctx *ictx, struct iommufd_object *obj);
void iommufd_object_unwind(struct iommufd_ctx *ictx,
			   struct iommufd_object *obj);
int iommufd_ucmd_reply_publish(struct iommufd_ucmd *ucmd,
			       struct iommufd_object *obj, size_t len);
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

void iommufd_put_object(struct iommufd_object *obj);
void iommufd_object_show(struct seq_file *m, struct iommufd_object *obj);
void iommufd_object_remove(struct iommufd_ctx *ictx,
			   struct iommufd_object *obj, unsigned int owned);

/* io_pagetable.c */
struct iopt_allowed;
struct iopt_pages;

/**
 * struct iopt_prepin_slice - the part of an area's memory a range covers
 * @pages: the area's memory, referenced
 * @byte: offset into @pages of the first byte covered
 * @length: bytes covered
 * @taken: the pin went to the caller (iopt_prepin_take()), release leaves it
 */
struct iopt_prepin_slice {
	struct iopt_pages *pages;
	unsigned long byte;
	unsigned long length;
	bool taken;
};

/**
 * struct iopt_prepin - pins taken on a range's memory before locking
 * @slices: what the range covered of each area that was in it
 * @one: @slices of a range inside one area, which needs no allocation
 * @n: entries in @slices
 * @pinned: entries of @slices pinned so far
 * @stale: set by iopt_table_add_domain() when the table changed since the
 *         pins were taken: the caller drops its locks, releases, pins the
 *         table again and retries
 */
struct iopt_prepin {
	struct iopt_prepin_slice *slices;
	struct iopt_prepin_slice one;
	unsigned long n;
	unsigned long pinned;
	bool stale;
};

/**
 * struct io_pagetable - the IOVA space of an IOAS
 * @iova_rwsem: protects the layout of the IOVA space: @spans, every span
 *              in it, @allowed and @num_allowed
 * @spans: every used run of IOVA (areas and reservations), see
 *         io_pagetable_iova.c
 * @reservations: every struct iopt_reserved, which may overlap; @spans
 *                holds their union
 * @unmapping: every struct iopt_unmapping: ranges whose areas accesses may
 *             not pin or copy from while an unmap waits for them
 * @copying_lock: protects @copying
 * @copying: every struct iopt_copying: copies of iopt_access_rw() that
 *           looked their range up and have not finished, which an unmap of
 *           that range waits for
 * @copying_done: woken when a copy leaves @copying
 * @allowed: sorted ranges that kernel-chosen IOVAs must come from
 * @num_allowed: entries in @allowed; 0 means any IOVA
 * @iova_alignment: every IOVA and length mapped must be aligned to this
 * @domains: the IOMMU domains that mirror the table, see
 *           iopt_table_add_domain()
 * @aperture_start: lowest IOVA every domain can translate
 * @aperture_last: highest IOVA every domain can translate
 * @usage: the totals of the context, see struct iopt_usage
 * @disable_large_pages: map every CPU page with its own IOPTEs
 * @pinning_accesses: attached in-kernel accesses that may pin pages, which
 *                    need every mapping to be made of whole CPU pages
 * @access_lock: protects @accesses; taken before @iova_rwsem
 * @accesses: the in-kernel accesses attached to the IOAS
 *
 * Everything else is protected by @iova_rwsem; the domains are written
 * with it held for writing, so a reader sees them in step with @spans.
 */
struct io_pagetable {
	struct rw_semaphore iova_rwsem;
	struct rb_root spans;
	struct list_head reservations;
	struct list_head unmapping;
	spinlock_t copying_lock; /* protects copying */
	struct list_head copying;
	wait_queue_head_t copying_done;
	struct iopt_allowed *allowed;
	unsigned int num_allowed;
	unsigned long iova_alignment;
	struct xarray domains;
	unsigned long aperture_start;
	unsigned long aperture_last;
	struct iopt_usage *usage;
	bool disable_large_pages;
	unsigned int pinning_accesses;
	struct mutex access_lock; /* protects accesses */
	struct xarray accesses;
};

void iopt_init_table(struct io_pagetable *iopt, struct iopt_usage *usage);
void iopt_show(struct seq_file *m, struct io_pagetable *iopt);
void iopt_destroy_table(struct io_pagetable *iopt);
int iopt_prepin_range(struct io_pagetable *iopt, unsigned long start,
		      unsigned long last, struct iopt_prepin *pre, char *why);
void iopt_prepin_release(struct iopt_prepin *pre);
bool iopt_prepin_take(struct iopt_prepin *pre, unsigned long i,
		      struct iopt_pages *pages, unsigned long byte,
		      unsigned long length);
int iopt_map_user_pages(struct io_pagetable *iopt, unsigned long *iova,
			void __user *uptr, unsigned long length, int iommu_prot,
			bool fixed, enum iopt_account_mode account_mode,
			char *why);
int iopt_map_file_pages(struct io_pagetable *iopt, unsigned long *iova,
			struct file *file, u64 start, unsigned long length,
			int iommu_prot, bool fixed,
			enum iopt_account_mode account_mode, char *why);
int iopt_unmap_iova(struct io_pagetable *iopt, unsigned long iova,
		    unsigned long length, unsigned long *unmapped, char *why);
int iopt_unmap_everything(struct io_pagetable *iopt, unsigned long *unmapped);
/* The most cuts one iopt_cut_iova() makes: the two ends of a range. */
#define IOPT_CUT_MAX 2
int iopt_cut_iova(struct io_pagetable *iopt, const unsigned long *lasts,
		  unsigned int n);
#ifdef CONFIG_IOMMUFD_TEST
unsigned long iopt_test_nth_area_iova(struct io_pagetable *iopt,
				      unsigned int nth);
#endif

/* io_pagetable_iova.c */
unsigned long iopt_count_reserved_spans(struct io_pagetable *iopt);
bool iopt_find_usable_span(struct io_pagetable *iopt, unsigned long from,
			   unsigned long *start, unsigned long *last);
int iopt_set_allowed(struct io_pagetable *iopt, struct iopt_allowed *allowed,
		     unsigned int num, char *why);

/* io_pagetable_reserved.c */
int iopt_reserve_iova(struct io_pagetable *iopt, unsigned long start,
		      unsigned long last, void *owner);
void iopt_remove_reserved_iova(struct io_pagetable *iopt, void *owner);
int iopt_reserve_group_regions(struct io_pagetable *iopt,
			       struct iommu_group *group, void *owner,
			       char *why);

/* io_pagetable_domains.c */
int iopt_table_add_domain(struct io_pagetable *iopt,
			  struct iommu_domain *domain,
			  struct iopt_prepin *pre, char *why);
void iopt_table_remove_domain(struct io_pagetable *iopt,
			      struct iommu_domain *domain);
void iopt_table_refresh_domains(struct io_pagetable *iopt);
int iopt_set_large_pages(struct io_pagetable *iopt, bool enable);
int iopt_add_pinning_access(struct io_pagetable *iopt, char *why);
void iopt_remove_pinning_access(struct io_pagetable *iopt);
int iopt_set_dirty_tracking(struct io_pagetable *iopt,
			    struct iommu_domain *domain, bool enable);
int iopt_read_and_clear_dirty(struct io_pagetable *iopt,
			      struct iommu_domain *domain, unsigned long flags,
			      u64 iova, u64 length, u64 page_size,
			      u64 __user *data);

/* io_pagetable_access.c */
int iopt_access_pin(struct io_pagetable *iopt, unsigned long iova,
		    unsigned long last, struct page **out_pages, bool write,
		    char *why);
void iopt_access_unpin(struct io_pagetable *iopt, unsigned long iova,
		       unsigned long last);
int iopt_access_rw(struct io_pagetable *iopt, unsigned long iova,
		   unsigned long last, void *data, unsigned int flags);

/* ioas.c */

/**
 * struct iommufd_ioas - an IO address space object
 * @obj: the object header
 * @iopt: the IOVA space and what is mapped in it
 * @mutex: protects @hwpt_list; taken before @iopt.iova_rwsem
 * @hwpt_list: the HWPTs whose domains mirror @iopt
 */
struct iommufd_ioas {
	struct iommufd_object obj;
	struct io_pagetable iopt;
	struct mutex mutex; /* protects hwpt_list */
	struct list_head hwpt_list;
};

static inline struct iommufd_ioas *iommufd_ioas_lookup(struct iommufd_ctx *ictx,
						       u32 id)
{
	return container_of(iommufd_object_lookup(ictx, id, IOMMUFD_OBJ_IOAS),
			    struct iommufd_ioas, obj);
}

struct iommufd_ioas *iommufd_ioas_alloc(struct iommufd_ctx *ictx);
int iommufd_ioas_alloc_ioctl(struct iommufd_ucmd *ucmd);
void iommufd_ioas_free(struct iommufd_object *obj);
void iommufd_ioas_show(struct seq_file *m, struct iommufd_object *obj);
int iommufd_ioas_ranges_ioctl(struct iommufd_ucmd *ucmd);
int iommufd_ioas_allow_ioctl(struct iommufd_ucmd *ucmd);
int iommufd_ioas_map_ioctl(struct iommufd_ucmd *ucmd);
int iommufd_ioas_map_file_ioctl(struct iommufd_ucmd *ucmd);
int iommufd_ioas_copy_ioctl(struct iommufd_ucmd *ucmd);
int iommufd_ioas_unmap_ioctl(struct iommufd_ucmd *ucmd);
int iommufd_ioas_option(struct iommufd_ucmd *ucmd);

/* hw_pagetable.c */

/**
 * struct iommufd_hw_pagetable - an IOMMU domain a device can attach to
 * @obj: the object header; IOMMUFD_OBJ_HWPT_PAGING or IOMMUFD_OBJ_HWPT_NESTED
 * @ioas: the IOAS the domain (a nested one: its parent's) mirrors; a
 *        paging HWPT holds a reference on it, a nested one reaches it
 *        through @parent
 * @domain: the IOMMU domain: a paging one filled from @ioas, or a nested
 *          one whose table userspace owns
 * @parent: a nested HWPT's paging parent, referenced; NULL for a paging one
 * @nest_parent: a paging HWPT made with IOMMU_HWPT_ALLOC_NEST_PARENT, which
 *               nested HWPTs may use as their @parent
 * @auto_domain: made by attaching a device to @ioas rather than by
 *               IOMMU_HWPT_ALLOC; destroyed with its last device
 * @devices: number of devices attached, under @ioas->mutex
 * @ioas_item: a paging HWPT's entry in @ioas->hwpt_list, under
 *             @ioas->mutex; a nested HWPT is on no list
 * @iommu: name of the IOMMU that made @domain, for fdinfo
 * @fault: the fault queue the IO page faults of the HWPT's devices go to,
 *         referenced; only a nested HWPT made with
 *         IOMMU_HWPT_FAULT_ID_VALID has one
 */
struct iommufd_hw_pagetable {
	struct iommufd_object obj;
	struct iommufd_ioas *ioas;
	struct iommu_domain *domain;
	struct iommufd_hw_pagetable *parent;
	char iommu[32];
	bool nest_parent;
	bool auto_domain;
	unsigned int devices;
	struct list_head ioas_item;
	struct iommufd_fault *fault;
};

/* The paging domain of @hwpt: its own, or its parent's if it is nested. */
static inline struct iommu_domain *
iommufd_hwpt_paging_domain(struct iommufd_hw_pagetable *hwpt)
{
	return hwpt->parent ? hwpt->parent->domain : hwpt->domain;
}

struct iommu_user_data;
struct iommufd_hw_pagetable *
iommufd_hwpt_alloc(struct iommufd_ctx *ictx, struct iommufd_ioas *ioas,
		   struct device *dev, u32 flags,
		   const struct iommu_user_data *user_data, bool auto_domain,
		   struct iopt_prepin *pre, char *why);
void iommufd_hwpt_destroy(struct iommufd_object *obj);
void iommufd_hwpt_show(struct seq_file *m, struct iommufd_object *obj);
void iommufd_hwpt_nested_destroy(struct iommufd_object *obj);
void iommufd_hwpt_nested_show(struct seq_file *m, struct iommufd_object *obj);
int iommufd_hwpt_alloc_ioctl(struct iommufd_ucmd *ucmd);
int iommufd_hwpt_invalidate(struct iommufd_ucmd *ucmd);
int iommufd_hwpt_set_dirty_tracking(struct iommufd_ucmd *ucmd);
int iommufd_hwpt_get_dirty_bitmap(struct iommufd_ucmd *ucmd);

/* device.c */

/**
 * struct iommufd_group - an IOMMU group as seen by one context
 * @ref: the bound devices of the group in the context; the entry in
 *       iommufd_ctx::groups goes with the last
 * @ictx: the context
 * @group: the IOMMU group, referenced
 * @lock: protects @hwpt, @devices and each device's attachment; taken
 *        before the IOAS mutex
 * @hwpt: the HWPT the whole group is attached to, or NULL while it blocks
 *        DMA; the group's attached devices each hold a reference on it
 * @devices: the group's bound devices that are attached, through
 *           iommufd_device::group_item
 * @claims: the group's devices whose DMA ownership the context holds;
 *          under the lock of iommufd_ctx::groups. Not @ref: a failing
 *          bind holds a reference without owning anything.
 */
struct iommufd_group {
	struct kref ref;
	unsigned int claims;
	struct iommufd_ctx *ictx;
	struct iommu_group *group;
	struct mutex lock; /* protects hwpt, devices */
	struct iommufd_hw_pagetable *hwpt;
	struct list_head devices;
};

/**
 * struct iommufd_device - a device bound to a context
 * @obj: the object header; besides the published reference, the driver
 *       that bound the device holds one until it unbinds
 * @ictx: the context
 * @dev: the device
 * @igroup: the device's group in the context, whose DMA the context owns
 * @group_item: entry in iommufd_group::devices while attached
 * @attached: whether the device is attached to iommufd_group::hwpt
 * @fault_handler: whether the device's IOMMU fault handler is ours, see
 *                 fault.c; under the group's lock
 * @fault_lock: protects @fault_hwpt; taken by the fault handler
 * @fault_hwpt: the HWPT whose fault queue the device's faults go to, or
 *              NULL to refuse them
 */
struct iommufd_device {
	struct iommufd_object obj;
	struct iommufd_ctx *ictx;
	struct device *dev;
	struct iommufd_group *igroup;
	struct list_head group_item;
	bool attached;
	bool fault_handler;
	struct mutex fault_lock; /* protects fault_hwpt */
	struct iommufd_hw_pagetable *fault_hwpt;
};

void iommufd_device_destroy(struct iommufd_object *obj);
void iommufd_device_show(struct seq_file *m, struct iommufd_object *obj);
int iommufd_get_hw_info(struct iommufd_ucmd *ucmd);

/* fault.c */

/**
 * struct iommufd_fault - a fault queue: IO page faults for userspace
 * @obj: the object header; the queue's file holds a reference
 * @ictx: the context, whose file the queue's file holds
 * @mutex: protects @deliver and @response
 * @deliver: faults not read yet, oldest first
 * @response: faults read and not answered yet, by cookie
 * @next_cookie: where the search for the next free cookie starts: cookies
 *               go round, so that a late answer to a fault answered
 *               already (its device moved on) does not reach the fault
 *               that would get its number next
 * @wait: woken when a fault is queued, for poll()
 */
struct iommufd_fault {
	struct iommufd_object obj;
	struct iommufd_ctx *ictx;
	struct mutex mutex; /* protects deliver, response, next_cookie */
	struct list_head deliver;
	struct xarray response;
	u32 next_cookie;
	wait_queue_head_t wait;
};

int iommufd_fault_alloc(struct iommufd_ucmd *ucmd);
void iommufd_fault_destroy(struct iommufd_object *obj);
void iommufd_fault_show(struct seq_file *m, struct iommufd_object *obj);
struct iommufd_fault *iommufd_fault_lookup(struct iommufd_ucmd *ucmd, u32 id);
int iommufd_fault_attach_prepare(struct iommufd_device *idev,
				 struct iommufd_hw_pagetable *hwpt);
void iommufd_fault_attach_commit(struct iommufd_device *idev,
				 struct iommufd_hw_pagetable *hwpt);
void iommufd_fault_attach_abort(struct iommufd_device *idev);

/* vfio_compat.c */
int iommufd_vfio_ioas(struct iommufd_ucmd *ucmd);
long iommufd_vfio_ioctl(struct iommufd_ctx *ictx, unsigned int cmd,
			unsigned long arg);

/* access.c */
struct iommufd_access;
void iommufd_access_notify_unmap(struct io_pagetable *iopt, unsigned long iova,
				 unsigned long length);
void iommufd_access_destroy_object(struct iommufd_object *obj);
void iommufd_access_show(struct seq_file *m, struct iommufd_object *obj);

/* selftest.c */
#ifdef CONFIG_IOMMUFD_TEST
/* IOMMU_TEST_CMD has no name in the command enum; give it one here. */
#define IOMMUFD_CMD_TEST_CMD (IOMMUFD_CMD_BASE + 32)
int iommufd_test(struct iommufd_ucmd *ucmd);
void iommufd_selftest_destroy(struct iommufd_object *obj);
void iommufd_selftest_show(struct seq_file *m, struct iommufd_object *obj);
int iommufd_test_init(void);
void iommufd_test_exit(void);
void iommufd_test_syz_copy_src(struct iommufd_ucmd *ucmd, u32 ioas_id,
			       u64 *iova, u32 *flags);
unsigned long iommufd_access_test_syz_iova(struct iommufd_access *access,
					   u64 syz);
unsigned long iommufd_test_syz_iova(struct io_pagetable *iopt, u64 syz);
#else
static inline void iommufd_test_syz_copy_src(struct iommufd_ucmd *ucmd,
					     u32 ioas_id, u64 *iova,
					     u32 *flags)
{
}

static inline int iommufd_test_init(void)
{
	return 0;
}

static inline void iommufd_test_exit(void)
{
}
#endif

#endif
