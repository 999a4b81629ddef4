/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The pieces an io_pagetable is made of: spans of used IOVA, the areas that
 * map user memory, and the iopt_pages that describe that memory; and what
 * the files of the io_pagetable layer share:
 *  - io_pagetable.c: the table; mapping, copying, cutting and unmapping
 *    areas;
 *  - io_pagetable_iova.c: the span tree, free IOVA and the allowed ranges;
 *  - io_pagetable_reserved.c: IOVA that devices reserve;
 *  - io_pagetable_domains.c: the IOMMU domains, kept identical to the
 *    table; dirty tracking;
 *  - io_pagetable_access.c: IOVA walks for in-kernel accesses;
 *  - pages.c: the memory behind the areas, pinning and accounting.
 *
 * Vocabulary: 'last' is the last IOVA of a range, inclusive, so that a
 * range can reach ULONG_MAX; 'end' would be exclusive and is not used for
 * IOVA. Every sum of user-supplied values is checked for overflow.
 *
 * Locking: io_pagetable::iova_rwsem protects the span tree, every span's
 * start, last, gap and max_gap, the allowed ranges, and an area's pages,
 * start_byte and iommu_prot while the area is in the tree. An iopt_pages
 * is immutable once created and lives as long as its kref.
 *
 * Lock order of the layer: io_pagetable::access_lock, then
 * io_pagetable::iova_rwsem, then iopt_pages::mutex, then the source mm's
 * mmap_lock (for a file's memory, the file's own locks);
 * io_pagetable::copying_lock is innermost, held for list changes only.
 * The locks of the
 * objects above the layer (iommufd_ioas::mutex, iommufd_access::ioas_lock:
 * see device.c, hw_pagetable.c and access.c) come before all of these.
 * Pinning may wait for userspace, so the memory a change needs is pinned
 * before iova_rwsem is taken (see iopt_prepin_range()), and a pin taken
 * under it only counts (iopt_pages_pin_counted()); lockdep checks this
 * (iopt_pin_may_wait_for()).
 */
#ifndef __IO_PAGETABLE_H
#define __IO_PAGETABLE_H

#include <linux/kref.h>
#include <linux/list.h>
#include <linux/mutex.h>
#include <linux/rbtree.h>
#include <linux/types.h>
#include <linux/xarray.h>

struct file;
struct io_pagetable;
struct mm_struct;
struct rw_semaphore;

/* Room for the reason an operation gives beside its errno, see iopt_why(). */
#define IOPT_WHY_LEN 128

/*
 * Operations that can fail for a reason the errno alone does not tell
 * take a buffer of IOPT_WHY_LEN bytes, or NULL, and describe the reason
 * there on failure only (no formatting on success paths).
 */
__printf(2, 3) void iopt_why(char *why, const char *fmt, ...);

/**
 * struct iopt_usage - the memory a context pins, for its fdinfo
 * @pinned: pages pinned, once however many areas and domains use them
 * @charged: of those, pages charged against RLIMIT_MEMLOCK
 * @charged_uid: the user (in the initial namespace) of the last charge
 * @charged_pid: the process (initial namespace) of the last charge, or 0
 *
 * Every iopt_pages of a context points at its context's usage: a COPY
 * only shares memory between IOASes of one context.
 */
struct iopt_usage {
	atomic_long_t pinned;
	atomic_long_t charged;
	uid_t charged_uid;
	pid_t charged_pid;
};

enum iopt_span_kind {
	IOPT_SPAN_AREA,
	IOPT_SPAN_RESERVED,
};

/**
 * struct iopt_span - a run of used IOVA in an io_pagetable
 * @rb: node in io_pagetable::spans, ordered by @start
 * @start: first IOVA of the span
 * @last: last IOVA of the span, inclusive
 * @gap: number of free IOVAs between the previous span (or IOVA 0) and
 *       @start
 * @max_gap: the largest @gap in this node's subtree, so that a free run of
 *           a given size is found in logarithmic time
 * @kind: what uses the span
 *
 * Spans never overlap: an IOVA is used by at most one area or reservation.
 */
struct iopt_span {
	struct rb_node rb;
	unsigned long start;
	unsigned long last;
	unsigned long gap;
	unsigned long max_gap;
	enum iopt_span_kind kind;
};

/**
 * struct iopt_area - user memory mapped at a range of IOVA
 * @span: the IOVA range, of kind IOPT_SPAN_AREA
 * @pages: the user memory; the area holds a reference
 * @start_byte: offset into @pages of the byte mapped at the first IOVA
 * @iommu_prot: IOMMU_READ/IOMMU_WRITE/IOMMU_CACHE bits of the mapping
 * @pinned: the area holds a pin on the pages it maps (its table has
 *          domains)
 * @num_accesses: pins in-kernel accesses hold through this area; each also
 *                holds a pin on @pages
 */
struct iopt_area {
	struct iopt_span span;
	struct iopt_pages *pages;
	unsigned long start_byte;
	int iommu_prot;
	bool pinned;
	atomic_t num_accesses;
};

/**
 * struct iopt_unmapping - a range an unmap asks accesses to let go of
 * @next: entry in io_pagetable::unmapping
 * @start: first IOVA
 * @last: last IOVA
 *
 * While an unmap waits for in-kernel accesses to unpin, the areas of its
 * range take no new access pins or copies, so that the wait ends. Each
 * unmap has its own entry, so one that gives up lifts only its own.
 */
struct iopt_unmapping {
	struct list_head next;
	unsigned long start;
	unsigned long last;
};

bool iopt_area_unmapping(struct io_pagetable *iopt, struct iopt_area *area);

/**
 * struct iopt_copying - a copy between the kernel and a range of IOVA
 * @next: entry in io_pagetable::copying
 * @start: first IOVA
 * @last: last IOVA
 *
 * An in-kernel access copies without the table's lock held, as the copy
 * may wait for userspace. It is listed from the moment it finds its range
 * mapped until it is done, so that an unmap of the range can wait for it:
 * once IOMMU_IOAS_UNMAP returns, no copy reaches the memory that was
 * mapped there, as no DMA does once an IOMMU domain is unmapped.
 */
struct iopt_copying {
	struct list_head next;
	unsigned long start;
	unsigned long last;
};

static inline unsigned long iopt_area_length(struct iopt_area *area)
{
	return area->span.last - area->span.start + 1;
}

/* io_pagetable_iova.c: the span tree; the callers hold iova_rwsem */
struct iopt_span *iopt_span_first(struct io_pagetable *iopt,
				  unsigned long start, unsigned long last);
void iopt_span_insert(struct io_pagetable *iopt, struct iopt_span *span);
void iopt_span_remove(struct io_pagetable *iopt, struct iopt_span *span);
struct iopt_area *iopt_area_first(struct io_pagetable *iopt);
int iopt_alloc_iova(struct io_pagetable *iopt, unsigned long *iova,
		    unsigned long uptr, unsigned long length, char *why);
int iopt_check_fixed_iova(struct io_pagetable *iopt, unsigned long iova,
			  unsigned long length, char *why);

static inline struct iopt_span *iopt_span_next(struct iopt_span *span,
					       unsigned long last)
{
	struct rb_node *node = rb_next(&span->rb);

	if (!node)
		return NULL;
	span = rb_entry(node, struct iopt_span, rb);
	return span->start <= last ? span : NULL;
}

/* The first area at or after @node in IOVA order, skipping reservations. */
static inline struct iopt_area *iopt_area_from(struct rb_node *node)
{
	for (; node; node = rb_next(node)) {
		struct iopt_span *span = rb_entry(node, struct iopt_span, rb);

		if (span->kind == IOPT_SPAN_AREA)
			return container_of(span, struct iopt_area, span);
	}
	return NULL;
}

static inline struct iopt_area *iopt_area_next(struct iopt_area *area)
{
	return iopt_area_from(rb_next(&area->span.rb));
}

/**
 * struct iopt_reserved - IOVA that must never be mapped
 * @span: of kind IOPT_SPAN_RESERVED; in the span tree only while
 *        @in_tree, then covering this and every reservation it overlaps
 * @node: entry in io_pagetable::reservations
 * @start: first IOVA reserved
 * @last: last IOVA reserved, inclusive
 * @owner: who reserved it and removes it again; NULL for reservations
 *         that last as long as the io_pagetable
 * @in_tree: @span is in the span tree
 */
struct iopt_reserved {
	struct iopt_span span;
	struct list_head node;
	unsigned long start;
	unsigned long last;
	void *owner;
	bool in_tree;
};

/**
 * enum iopt_account_mode - where pinned memory is charged
 * @IOPT_ACCOUNT_NONE: nowhere (the mapper had CAP_IPC_LOCK)
 * @IOPT_ACCOUNT_USER: the user's locked_vm, against RLIMIT_MEMLOCK
 * @IOPT_ACCOUNT_MM: the process's mm->locked_vm, against RLIMIT_MEMLOCK
 */
enum iopt_account_mode {
	IOPT_ACCOUNT_NONE,
	IOPT_ACCOUNT_USER,
	IOPT_ACCOUNT_MM,
};

/**
 * struct iopt_pages - a range of pinned user memory that IOVA can map
 * @kref: one reference per area using the memory
 * @uptr: page aligned start of the range in @source_mm; NULL for a file
 * @file: the file whose pages these are (IOMMU_IOAS_MAP_FILE), held until
 *        the iopt_pages goes; NULL for memory named by @uptr
 * @file_start: page aligned offset into @file of the first page
 * @npages: number of pages in the range
 * @writable: whether the memory may be mapped for device writes
 * @account_mode: where the pins are charged
 * @source_mm: the address space @uptr belongs to, grabbed
 * @source_task: the process that mapped the memory, whose RLIMIT_MEMLOCK
 *               applies
 * @source_user: the user charged in IOPT_ACCOUNT_USER mode
 * @usage: the totals of the context the memory was mapped in
 * @mutex: protects the pin counts in @chunks and which chunk, run or span
 *         holds each index; readers holding a pin look without it, under
 *         RCU
 * @chunks: the pin count of every page and the pinned pages, in chunks of
 *          consecutive pages, runs and spans (see pages.c); a chunk exists
 *          while one of its pages is pinned
 *
 * IOMMU_IOAS_COPY shares one iopt_pages between areas of several IOASes, so
 * that memory is pinned and charged once however often it is mapped.
 */
struct iopt_pages {
	struct kref kref;
	void __user *uptr;
	struct file *file;
	u64 file_start;
	unsigned long npages;
	bool writable;
	enum iopt_account_mode account_mode;
	struct mm_struct *source_mm;
	struct task_struct *source_task;
	struct user_struct *source_user;
	struct iopt_usage *usage;
	struct mutex mutex; /* protects the counts and objects in chunks */
	struct xarray chunks;
};

/**
 * struct iopt_allowed - a range kernel-chosen IOVAs may come from
 * @start: first IOVA
 * @last: last IOVA, inclusive
 */
struct iopt_allowed {
	unsigned long start;
	unsigned long last;
};

/**
 * struct iopt_map_piece - a slice of memory on its way into an IOVA range
 * @next: entry in the caller's list
 * @pages: the memory; the piece holds a reference until it is mapped
 * @area: the area that will map the slice, until it is in the table
 * @start_byte: offset into @pages of the slice's first byte
 * @length: bytes in the slice
 * @pinned: the piece holds a pin on its slice of @pages, taken before
 *          the table was locked, until its area takes it over
 */
struct iopt_map_piece {
	struct list_head next;
	struct iopt_pages *pages;
	struct iopt_area *area;
	unsigned long start_byte;
	unsigned long length;
	bool pinned;
};

/* io_pagetable.c */
int iopt_map_pieces(struct io_pagetable *iopt, struct list_head *pieces,
		    unsigned long length, unsigned long *iova, int iommu_prot,
		    bool fixed, char *why);
void iopt_free_pieces(struct list_head *pieces);
int iopt_get_pieces(struct io_pagetable *iopt, unsigned long iova,
		    unsigned long length, struct list_head *pieces);

/* io_pagetable_domains.c: the callers hold iova_rwsem for writing */
int iopt_area_use(struct io_pagetable *iopt, struct iopt_map_piece *piece);
void iopt_area_unuse(struct io_pagetable *iopt, struct iopt_area *area);

/* pages.c */
struct iopt_pages *iopt_alloc_pages(void __user *uptr, unsigned long length,
				    bool writable,
				    enum iopt_account_mode account_mode,
				    struct iopt_usage *usage);
void iopt_release_pages(struct kref *kref);
#ifdef CONFIG_IOMMUFD_TEST
/* Pages per GUP call, see IOMMU_TEST_OP_SET_TEMP_MEMORY_LIMIT. */
extern unsigned int iommufd_test_pin_batch;
#endif
void iopt_pin_may_wait_for(struct rw_semaphore *rwsem);
void iopt_pin_may_wait_for_mutex(struct mutex *mutex);
int iopt_pages_pin_get(struct iopt_pages *pages, unsigned long byte,
		       unsigned long length, char *why);
int iopt_pages_pin_counted(struct iopt_pages *pages, unsigned long byte,
			   unsigned long length);
void iopt_pages_pin_put(struct iopt_pages *pages, unsigned long byte,
			unsigned long length);
int iopt_pages_prepare_split(struct iopt_pages *pages, unsigned long byte);
void iopt_pages_pin_split(struct iopt_pages *pages, unsigned long byte);
int iopt_pages_rw(struct iopt_pages *pages, unsigned long byte, void *data,
		  unsigned long length, unsigned int flags);
unsigned long iopt_pages_contig(struct iopt_pages *pages, unsigned long byte,
				unsigned long max, bool page_only,
				phys_addr_t *phys);
void iopt_pages_get_pages(struct iopt_pages *pages, unsigned long byte,
			  unsigned long n, struct page **out);

static inline void iopt_put_pages(struct iopt_pages *pages)
{
	kref_put(&pages->kref, iopt_release_pages);
}

/*
 * The address whose alignment a kernel-chosen IOVA for @pages keeps: the
 * user address, or for a file the offset into it (huge pages of a file
 * are aligned in the file, wherever a process maps them).
 */
static inline unsigned long iopt_pages_align_hint(struct iopt_pages *pages)
{
	if (pages->file)
		return pages->file_start;
	return (unsigned long)pages->uptr;
}

/* pages_file.c: the pages of a shmem or hugetlbfs file */
struct iopt_pages *iopt_alloc_file_pages(struct file *file, u64 start,
					 unsigned long length, bool writable,
					 enum iopt_account_mode account_mode,
					 struct iopt_usage *usage);
void iopt_file_release(struct iopt_pages *pages);
long iopt_file_pin(struct iopt_pages *pages, unsigned long first,
		   unsigned long n, struct page **out);
long iopt_file_pin_run(struct iopt_pages *pages, unsigned long first,
		       unsigned long n, unsigned long unit, struct page **page);
void iopt_file_unpin_run(struct iopt_pages *pages, struct page *page,
			 unsigned long n);
void iopt_file_unpin(struct iopt_pages *pages, struct page **list,
		     unsigned long n);
int iopt_file_rw(struct iopt_pages *pages, unsigned long byte, void *data,
		 unsigned long length, bool write);

#endif
