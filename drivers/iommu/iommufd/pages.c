// SPDX-License-Identifier: GPL-2.0-only
/*
 * User memory behind IOVA mappings: pinning and accounting.
 *
 * An iopt_pages is a range of one process's virtual memory, made by
 * IOMMU_IOAS_MAP and shared by every area that maps part of it
 * (IOMMU_IOAS_COPY shares it between IOASes). Nothing is pinned while no
 * device can reach the memory. What is pinned is what a user asked for, a
 * range of pages at a time:
 *  - an area, while its IOAS has at least one IOMMU domain, pins the pages
 *    it maps (after a VFIO v1 cut, only its own piece of the MAP);
 *  - an in-kernel access pins the pages it asked for, however large the
 *    mapping around them is;
 *  - a copy between kernel and IOVA pins nothing when it can reach the
 *    memory through the mapper's page tables (see iopt_pages_rw()).
 * Every page has a count of the pins on it, in chunks of IOPT_CHUNK_PAGES
 * pages kept in an xarray: the first pin of a page pins it (FOLL_LONGTERM)
 * and charges it, later ones only count, and the last unpin unpins and
 * uncharges it. So a page is pinned, and charged, once however many areas,
 * IOASes, domains and accesses use it.
 *
 * Charging happens before pinning, so a pin over the limit fails without
 * touching the memory:
 *  - IOPT_ACCOUNT_USER (default): the mapping user's locked_vm, checked
 *    against RLIMIT_MEMLOCK, as io_uring does;
 *  - IOPT_ACCOUNT_MM: the process's mm->locked_vm, as VFIO type1 does;
 *  - IOPT_ACCOUNT_NONE: mappers with CAP_IPC_LOCK are not limited.
 * The limit is that of the process that mapped the memory, whichever task
 * causes the pin. In every mode mm->pinned_vm (VmPin in /proc/PID/status)
 * shows the pins. The charge is returned to the user and mm it was taken
 * from, whichever task unpins, also after the process has exited.
 *
 * Pinning (GUP) takes long for a large range and may wait for userspace
 * (a FUSE file's fault; 6.1's long-term GUP fails a userfaultfd fault at
 * once instead of waiting). So it runs without iopt_pages::mutex: a pin
 * goes through its range a window at a time, and in each first counts,
 * under the mutex, the pages that are pinned already, then pins the others
 * unlocked, and installs them under the mutex again; a page another pin
 * installed meanwhile wins, and ours is dropped. The io_pagetable pins
 * what it needs before it locks its IOVA tree (see iopt_prepin_range()),
 * so that a pin under the tree's lock only counts (which may allocate the
 * counts of a run, never wait for userspace).
 *
 * Large pages: 6.1's GUP hands back one struct page per 4 KiB however
 * large the folio is. Where a pin finds a whole chunk of pages physically
 * contiguous, it keeps them as a run (see struct iopt_chunk), with one
 * count, and consecutive runs of one window as one span: a huge page costs
 * per 16 MiB, not per 4 KiB page, to count, to map (iopt_pages_contig()
 * finds a span's length at once) and to unpin (in one call for
 * consecutive runs). What goes to the IOMMU is mapped a physically
 * contiguous run per iommu_map(), so that the driver can use its largest
 * IOPTEs.
 *
 * IOMMU_IOAS_MAP_FILE names the memory by a shmem or hugetlbfs file
 * instead (iopt_pages::file): its pages come from the file's page cache,
 * see pages_file.c, are counted and charged like user memory, and are
 * never reached through a user address.
 *
 * Lock order: see io_pagetable.h.
 */
#include <linux/highmem.h>
#include <linux/io.h>
#include <linux/kernel.h>
#include <linux/kthread.h>
#include <linux/lockdep.h>
#include <linux/mm.h>
#include <linux/overflow.h>
#include <linux/rcupdate.h>
#include <linux/mmap_lock.h>
#include <linux/sched/mm.h>
#include <linux/sched/signal.h>
#include <linux/sched/task.h>
#include <linux/sched/user.h>
#include <linux/shmem_fs.h>
#include <linux/slab.h>
#include <linux/iommufd.h>

#include "io_pagetable.h"

/*
 * A pin goes through its range a window of pages at a time: it counts what
 * is pinned under iopt_pages::mutex, pins the rest without it, and installs
 * that under the mutex again, so that the list of pages it holds is
 * bounded. A power of two and a multiple of IOPT_CHUNK_PAGES: windows hold
 * whole chunks, so that a pin covering a chunk covers it in one window.
 */
#define IOPT_PIN_WINDOW 4096

/*
 * Pages pinned per GUP call: bounds the time between signal checks. The
 * test suite can shrink it to make pinning take many small steps.
 */
#define IOPT_PIN_BATCH IOPT_PIN_WINDOW

/*
 * A pin of up to this many pages (a small map, an access to a page or two)
 * keeps the list of its pages on the stack, and counts what is pinned
 * already and finds its gaps in one go.
 */
#define IOPT_PIN_SMALL 8

/*
 * Pinning may wait for userspace, and userspace may need iova_rwsem, or
 * the IOAS and group locks above the layer, meanwhile: lockdep learns
 * that order from every new table, IOAS and group
 * (iopt_pin_may_wait_for()) and sees every iopt_pages_pin_get() take
 * this map, whether or not it then pins anything, so that a call under
 * one of those locks is reported as the deadlock it can be the first
 * time it runs, not only when it happens to pin.
 */
#ifdef CONFIG_LOCKDEP
static struct lockdep_map iopt_pin_wait_map =
	STATIC_LOCKDEP_MAP_INIT("iopt_pin_wait", &iopt_pin_wait_map);
#endif

/**
 * iopt_pin_may_wait_for() - tell lockdep that a pin may wait on a lock
 * @rwsem: the iova_rwsem of a new io_pagetable
 */
void iopt_pin_may_wait_for(struct rw_semaphore *rwsem)
{
	lock_map_acquire(&iopt_pin_wait_map);
	might_lock(rwsem);
	lock_map_release(&iopt_pin_wait_map);
}

/**
 * iopt_pin_may_wait_for_mutex() - iopt_pin_may_wait_for() for a mutex
 * @mutex: a new IOAS's or group's lock, held while a first domain is added
 */
void iopt_pin_may_wait_for_mutex(struct mutex *mutex)
{
	lock_map_acquire(&iopt_pin_wait_map);
	might_lock(mutex);
	lock_map_release(&iopt_pin_wait_map);
}

/* What a pin may wait for: see iopt_pin_wait_map. */
static void iopt_pin_may_wait(void)
{
	lock_map_acquire(&iopt_pin_wait_map);
	lock_map_release(&iopt_pin_wait_map);
}

#ifdef CONFIG_IOMMUFD_TEST
unsigned int iommufd_test_pin_batch = IOPT_PIN_BATCH;

static unsigned long iopt_pin_batch(void)
{
	return max(READ_ONCE(iommufd_test_pin_batch), 1U);
}
#else
static unsigned long iopt_pin_batch(void)
{
	return IOPT_PIN_BATCH;
}
#endif

/*
 * The pins on IOPT_CHUNK_PAGES consecutive pages of an iopt_pages (fewer
 * for the last chunk of a shorter one, so that a one-page MAP costs a few
 * bytes). A chunk exists while one of its pages is pinned, and counts the
 * pins of each page: the first pin of a page pins it, the last unpins it.
 *
 * A pin that covers a whole chunk nobody pinned and finds its pages
 * physically contiguous (a huge page, or memory that happens to be) makes
 * it a run: no page list (page j is @first + j) and no counts (every page
 * has @run_count pins). A 1 GiB huge page is 1024 runs, and counting,
 * mapping and unpinning it cost per chunk, not per 4 KiB page. A run gets
 * its counts when a pin covers a part of it (an access to one page of a
 * huge page, a VFIO v1 cut), and a page list when a page of it is pinned
 * again and GUP gives another page than @first + j; it never loses them.
 * Other pins make tables, with both in the same allocation.
 *
 * Consecutive runs that one pin makes in one window, physically contiguous
 * with each other, are one object instead: a span, up to a window of pages
 * (16 MiB), at the indexes of all the chunks it covers (a few multi-index
 * entries, see iopt_piece_order()). Pins count a span only whole; a pin
 * that covers a part of it, or a VFIO v1 cut inside it, first replaces it
 * with one run per chunk (iopt_span_split()), which can fail, and does so
 * where failing is allowed. So a 1 GiB page is 64 spans:
 * a pin, an unpin or a walk for mapping looks at 64 objects, not 1024.
 *
 * Lock-free readers (iopt_chunk_page()) hold a pin on the page they read,
 * which keeps the memory of its chunk; they read under RCU, as a span
 * split meanwhile is freed after a grace period. A chunk's page list, once
 * set, stays until the chunk goes, and pages pinned before it was set are
 * @first + j as it says.
 */
#define IOPT_CHUNK_SHIFT 8
#define IOPT_CHUNK_PAGES BIT(IOPT_CHUNK_SHIFT)
#define IOPT_CHUNK_MASK (IOPT_CHUNK_PAGES - 1)

struct iopt_chunk {
	unsigned long start;	/* index of the first page it covers */
	unsigned int used;	/* pages with pins */
	unsigned int npages;	/* pages it covers: more than a chunk's for a span */
	unsigned int run_count;	/* pins of every page while @count is NULL */
	bool own_arrays;	/* @count and @page are allocations of their own */
	unsigned int *count;	/* pins per page, or NULL */
	struct page **page;	/* the pinned pages, or NULL */
	struct page *first;	/* for a NULL @page: the first page */
	struct rcu_head rcu;	/* a split span is freed after readers */
};

/* The index of the first page of the chunk holding @index. */
static unsigned long iopt_chunk_start(unsigned long index)
{
	return index & ~(unsigned long)IOPT_CHUNK_MASK;
}

/* The index of the last page @chunk covers. */
static unsigned long iopt_chunk_last(const struct iopt_chunk *chunk)
{
	return chunk->start + chunk->npages - 1;
}

/* Whether @chunk is a span: it covers more than one chunk's index. */
static bool iopt_chunk_is_span(const struct iopt_chunk *chunk)
{
	return chunk->npages > IOPT_CHUNK_PAGES;
}

/* A table, or with @run an empty run to fill; not yet in the xarray. */
static struct iopt_chunk *iopt_chunk_alloc(struct iopt_pages *pages,
					   unsigned long index, bool run)
{
	unsigned long n = min(IOPT_CHUNK_PAGES,
			      pages->npages - iopt_chunk_start(index));
	struct iopt_chunk *chunk;

	if (run) {
		chunk = kmalloc(sizeof(*chunk), GFP_KERNEL_ACCOUNT);
		if (!chunk)
			return NULL;
		chunk->page = NULL;
		chunk->count = NULL;
		chunk->own_arrays = true;
	} else {
		/* A page pointer means something only while its count is not 0. */
		chunk = kmalloc(sizeof(*chunk) + n * sizeof(*chunk->page) +
					n * sizeof(*chunk->count),
				GFP_KERNEL_ACCOUNT);
		if (!chunk)
			return NULL;
		chunk->page = (struct page **)(chunk + 1);
		chunk->count = (unsigned int *)(chunk->page + n);
		memset(chunk->count, 0, n * sizeof(*chunk->count));
		chunk->own_arrays = false;
	}
	chunk->start = iopt_chunk_start(index);
	chunk->used = 0;
	chunk->npages = n;
	chunk->run_count = 0;
	chunk->first = NULL;
	return chunk;
}

/*
 * A span is in the xarray as a few multi-index entries (XARRAY_MULTI), one
 * per naturally aligned power-of-two piece of its chunk indexes: storing,
 * erasing and splitting it cost per piece, not per chunk. The order of the
 * piece that starts at @ci and ends at @last at most:
 */
static unsigned int iopt_piece_order(unsigned long ci, unsigned long last)
{
	unsigned int order = ilog2(last - ci + 1);

	return ci ? min_t(unsigned int, order, __ffs(ci)) : order;
}

/* Store @entry (NULL: erase) at the piece of 2^@order indexes from @ci. */
static int iopt_piece_store(struct iopt_pages *pages, unsigned long ci,
			    unsigned int order, void *entry)
{
	XA_STATE_ORDER(xas, &pages->chunks, ci, order);

	do {
		xas_lock(&xas);
		xas_store(&xas, entry);
		xas_unlock(&xas);
	} while (entry && xas_nomem(&xas, GFP_KERNEL_ACCOUNT));
	return xas_error(&xas);
}

/* Store @entry (NULL: erase) at the chunk indexes [ci, last], by piece. */
static int iopt_pieces_store(struct iopt_pages *pages, unsigned long ci,
			     unsigned long last, void *entry)
{
	unsigned int order;
	int rc;

	for (; ci <= last; ci += 1UL << order) {
		order = iopt_piece_order(ci, last);
		rc = iopt_piece_store(pages, ci, order, entry);
		if (rc)
			return rc;
	}
	return 0;
}

/*
 * Store @chunk at the index of every chunk it covers; on failure none
 * holds it. Return: 0 or -ENOMEM.
 */
static int iopt_chunk_store(struct iopt_pages *pages, struct iopt_chunk *chunk)
{
	unsigned long ci = chunk->start >> IOPT_CHUNK_SHIFT;
	unsigned long last = iopt_chunk_last(chunk) >> IOPT_CHUNK_SHIFT;
	int rc;

	/* A span's pieces are split in place, inside their leaf node. */
	BUILD_BUG_ON(IOPT_PIN_WINDOW / IOPT_CHUNK_PAGES > XA_CHUNK_SIZE);
	rc = iopt_pieces_store(pages, ci, last, chunk);
	if (rc)
		iopt_pieces_store(pages, ci, last, NULL);
	return rc;
}

/* Take @chunk out of the xarray, at every index it covers. */
static void iopt_chunk_erase(struct iopt_pages *pages,
			     struct iopt_chunk *chunk)
{
	/* Storing NULL allocates nothing, and cannot fail. */
	iopt_pieces_store(pages, chunk->start >> IOPT_CHUNK_SHIFT,
			  iopt_chunk_last(chunk) >> IOPT_CHUNK_SHIFT, NULL);
}

/* Free a chunk no page of which is pinned: no reader can look at it. */
static void iopt_chunk_free(struct iopt_pages *pages, struct iopt_chunk *chunk)
{
	iopt_chunk_erase(pages, chunk);
	if (chunk->own_arrays) {
		kfree(chunk->count);
		kfree(chunk->page);
	}
	kfree(chunk);
}

/* Whether [first, last] covers all of @chunk. */
static bool iopt_chunk_covered(const struct iopt_chunk *chunk,
			       unsigned long first, unsigned long last)
{
	return first <= chunk->start && last >= iopt_chunk_last(chunk);
}

/* Give a run a count per page, so that pins can cover parts of it. */
static int iopt_chunk_add_counts(struct iopt_chunk *chunk)
{
	unsigned int *count;

	if (chunk->count)
		return 0;
	if (WARN_ON_ONCE(iopt_chunk_is_span(chunk)))
		return -EINVAL;
	count = kmalloc_array(chunk->npages, sizeof(*count),
			      GFP_KERNEL_ACCOUNT);
	if (!count)
		return -ENOMEM;
	memset32(count, chunk->run_count, chunk->npages);
	chunk->count = count;
	return 0;
}

/*
 * Give a run a page list, so that a page of it can be pinned again as
 * whatever page GUP gives. Readers may look at the list as soon as it is
 * set: it is filled first.
 */
static int iopt_chunk_add_list(struct iopt_chunk *chunk)
{
	struct page **list;
	unsigned int j;

	if (chunk->page)
		return 0;
	if (WARN_ON_ONCE(iopt_chunk_is_span(chunk)))
		return -EINVAL;
	list = kmalloc_array(chunk->npages, sizeof(*list), GFP_KERNEL_ACCOUNT);
	if (!list)
		return -ENOMEM;
	for (j = 0; j != chunk->npages; j++)
		list[j] = nth_page(chunk->first, j);
	/* Filled before it is seen: pairs with iopt_chunk_page(). */
	smp_store_release(&chunk->page, list);
	return 0;
}

/*
 * The page at @index, which lies in @chunk and is pinned by the caller.
 * Return: the page.
 */
static struct page *iopt_chunk_page(const struct iopt_chunk *chunk,
				    unsigned long index)
{
	/* Pairs with iopt_chunk_add_list(). */
	struct page **list = smp_load_acquire(&chunk->page);
	unsigned long j = index - chunk->start;

	return list ? list[j] : nth_page(chunk->first, j);
}

/* A page a pin still has to pin itself, in its list of pages. */
#define IOPT_GAP ((struct page *)1UL)

/*
 * In a list of pages, after the first page of a chunk: the rest of the
 * chunk follows that page contiguously, and is not written out (see
 * iopt_pages_fill_runs()).
 */
#define IOPT_RUN_REST ((struct page *)2UL)

/* Whether the @n entries of @got for a chunk say only their first page. */
static bool iopt_got_is_run(struct page **got, unsigned long n)
{
	return n > 1 && got[1] == IOPT_RUN_REST;
}

/* Write out the pages of such entries. */
static void iopt_got_expand(struct page **got, unsigned long n)
{
	unsigned long j;

	if (!iopt_got_is_run(got, n))
		return;
	for (j = 1; j != n; j++)
		got[j] = nth_page(got[0], j);
}

/* Say by how much pinning @n more pages would exceed RLIMIT_MEMLOCK. */
static void iopt_why_limit(struct iopt_pages *pages, unsigned long n,
			   unsigned long locked, char *why)
{
	unsigned long limit;

	limit = task_rlimit(pages->source_task, RLIMIT_MEMLOCK) >> PAGE_SHIFT;
	iopt_why(why,
		 "RLIMIT_MEMLOCK of %s: pinning %lu KiB more with %lu KiB locked exceeds the limit of %lu KiB by %lu KiB",
		 pages->account_mode == IOPT_ACCOUNT_MM ? "the process" :
							  "the user",
		 n << (PAGE_SHIFT - 10), locked << (PAGE_SHIFT - 10),
		 limit << (PAGE_SHIFT - 10),
		 (locked + n - min(limit, locked + n)) << (PAGE_SHIFT - 10));
}

static int iopt_charge_user(struct iopt_pages *pages, unsigned long n,
			    char *why)
{
	struct user_struct *user = pages->source_user;
	long cur = atomic_long_read(&user->locked_vm);
	unsigned long limit;

	limit = task_rlimit(pages->source_task, RLIMIT_MEMLOCK) >> PAGE_SHIFT;

	do {
		if (n > limit || (unsigned long)cur > limit - n) {
			iopt_why_limit(pages, n, cur, why);
			return -ENOMEM;
		}
	} while (!atomic_long_try_cmpxchg(&user->locked_vm, &cur, cur + n));
	return 0;
}

/* Charge @n pages about to be pinned. */
static int iopt_pages_charge(struct iopt_pages *pages, unsigned long n,
			     char *why)
{
	struct iopt_usage *usage = pages->usage;
	int rc = 0;

	switch (pages->account_mode) {
	case IOPT_ACCOUNT_NONE:
		break;
	case IOPT_ACCOUNT_USER:
		rc = iopt_charge_user(pages, n, why);
		break;
	case IOPT_ACCOUNT_MM:
		mmap_write_lock(pages->source_mm);
		rc = __account_locked_vm(pages->source_mm, n, true,
					 pages->source_task, false);
		if (rc)
			iopt_why_limit(pages, n, pages->source_mm->locked_vm,
				       why);
		mmap_write_unlock(pages->source_mm);
		break;
	}
	if (rc)
		return rc;
	atomic64_add(n, &pages->source_mm->pinned_vm);
	atomic_long_add(n, &usage->pinned);
	if (pages->account_mode != IOPT_ACCOUNT_NONE) {
		atomic_long_add(n, &usage->charged);
		WRITE_ONCE(usage->charged_uid,
			   from_kuid(&init_user_ns, pages->source_user->uid));
		WRITE_ONCE(usage->charged_pid,
			   task_tgid_nr(pages->source_task));
	}
	return 0;
}

/* Give back the charge of @n pages no longer pinned. */
static void iopt_pages_uncharge(struct iopt_pages *pages, unsigned long n)
{
	if (!n)
		return;
	atomic64_sub(n, &pages->source_mm->pinned_vm);
	atomic_long_sub(n, &pages->usage->pinned);
	if (pages->account_mode != IOPT_ACCOUNT_NONE)
		atomic_long_sub(n, &pages->usage->charged);
	switch (pages->account_mode) {
	case IOPT_ACCOUNT_NONE:
		break;
	case IOPT_ACCOUNT_USER:
		atomic_long_sub(n, &pages->source_user->locked_vm);
		break;
	case IOPT_ACCOUNT_MM:
		/*
		 * Only the mm_struct is guaranteed here (mmgrab), which is
		 * all that taking its mmap lock and adjusting a counter need,
		 * even after the process exited.
		 */
		mmap_write_lock(pages->source_mm);
		__account_locked_vm(pages->source_mm, n, false,
				    pages->source_task, false);
		mmap_write_unlock(pages->source_mm);
		break;
	}
}

/*
 * Pin @n pages from page @first on into @out, from whichever task this
 * runs in.
 */
static long __iopt_pages_gup(struct iopt_pages *pages, unsigned long first,
			     unsigned long n, unsigned int flags,
			     struct page **out)
{
	unsigned long start = (unsigned long)pages->uptr + first * PAGE_SIZE;
	long rc;

	if (current->mm == pages->source_mm)
		return pin_user_pages_fast(start, n, flags, out);

	/* Another process uses the fd: reach into the mapper's memory. */
	if (!mmget_not_zero(pages->source_mm))
		return -EFAULT;
	mmap_read_lock(pages->source_mm);
	rc = pin_user_pages_remote(pages->source_mm, start, n, flags, out,
				   NULL, NULL);
	mmap_read_unlock(pages->source_mm);
	mmput(pages->source_mm);
	return rc;
}

/*
 * Whether every mapping of [start, start + n pages) copies on write or is
 * shmem, so that pinning it for writing is harmless; see iopt_pages_gup().
 * A false answer is safe: the memory is then pinned read-only.
 */
static bool iopt_pages_write_pin_ok(struct iopt_pages *pages,
				    unsigned long first, unsigned long n)
{
	unsigned long start = (unsigned long)pages->uptr + first * PAGE_SIZE;
	unsigned long end = start + n * PAGE_SIZE;
	struct mm_struct *mm = pages->source_mm;
	struct vm_area_struct *vma;
	bool ok = true;

	if (!mmget_not_zero(mm))
		return false;
	mmap_read_lock(mm);
	while (start < end) {
		vma = find_vma(mm, start);
		if (!vma || vma->vm_start > start) {
			ok = false;
			break;
		}
		/* shmem's mapping, as vma_is_shmem() (not exported) asks. */
		if ((vma->vm_flags & VM_SHARED) &&
		    !(vma->vm_file && shmem_mapping(vma->vm_file->f_mapping))) {
			ok = false;
			break;
		}
		start = vma->vm_end;
	}
	mmap_read_unlock(mm);
	mmput(mm);
	return ok;
}

/*
 * 6.1's GUP does not unshare a page-cache page of a private mapping that
 * is pinned read-only: the process's next write would copy it, and the
 * device would keep reading the stale page. So memory a device only reads
 * is still pinned for writing where that breaks the copy-on-write first
 * (private mappings) or changes nothing (anonymous and shmem memory).
 * Shared mappings of other files are pinned read-only, as a write pin
 * would mark their page cache dirty for as long as the pin lasts.
 */
static long iopt_pages_gup(struct iopt_pages *pages, unsigned long first,
			   unsigned long n, struct page **out)
{
	long rc;

	if (!pages->writable && !iopt_pages_write_pin_ok(pages, first, n))
		return __iopt_pages_gup(pages, first, n, FOLL_LONGTERM, out);
	rc = __iopt_pages_gup(pages, first, n, FOLL_LONGTERM | FOLL_WRITE,
			      out);
	if (rc > 0 || pages->writable)
		return rc;
	return __iopt_pages_gup(pages, first, n, FOLL_LONGTERM, out);
}

/* Say why GUP could not pin the page at @index, from its mapping. */
static void iopt_why_gup(struct iopt_pages *pages, unsigned long index,
			 long rc, char *why)
{
	unsigned long va = (unsigned long)pages->uptr + index * PAGE_SIZE;
	const char *what = "GUP refused it";
	struct vm_area_struct *vma;

	/* A signal: the errno says it all. */
	if (!why || rc == -EINTR || rc == -ERESTARTSYS)
		return;
	if (pages->file) {
		iopt_why(why,
			 "cannot take the page at offset 0x%llx of the file (%pe)%s",
			 pages->file_start + (u64)index * PAGE_SIZE,
			 ERR_PTR(rc),
			 rc == -EINVAL ? ": past its end" : "");
		return;
	}
	if (mmget_not_zero(pages->source_mm)) {
		mmap_read_lock(pages->source_mm);
		vma = vma_lookup(pages->source_mm, va);
		if (!vma)
			what = "nothing is mapped there";
		else if (vma->vm_flags & (VM_IO | VM_PFNMAP))
			what = "it is a PFN mapping (VM_IO/VM_PFNMAP), not pinnable memory";
		else if (pages->writable && !(vma->vm_flags & VM_WRITE))
			what = "the mapping is read-only but the map asked for device writes";
		mmap_read_unlock(pages->source_mm);
		mmput(pages->source_mm);
	} else {
		what = "the process that mapped it has exited";
	}
	iopt_why(why, "cannot pin the page at user address 0x%lx (%pe): %s",
		 va, ERR_PTR(rc), what);
}

static struct iopt_chunk *iopt_chunk_at(struct iopt_pages *pages,
					unsigned long index)
{
	return xa_load(&pages->chunks, index >> IOPT_CHUNK_SHIFT);
}

/* The last index of the chunk holding @index, capped at @last. */
static unsigned long iopt_chunk_end(unsigned long index, unsigned long last)
{
	return min(last, index | IOPT_CHUNK_MASK);
}

/*
 * Where a walk from @index, which @chunk (or no chunk, NULL) holds, goes
 * on: the last index of @chunk, or of the empty chunk, capped at @last.
 */
static unsigned long iopt_walk_end(const struct iopt_chunk *chunk,
				   unsigned long index, unsigned long last)
{
	return chunk ? min(last, iopt_chunk_last(chunk)) :
		       iopt_chunk_end(index, last);
}

/*
 * The last index of the stretch of missing chunks from @index on, which
 * no chunk holds, up to the next chunk or @last: found in one search.
 */
static unsigned long iopt_gap_end(struct iopt_pages *pages,
				  unsigned long index, unsigned long last)
{
	unsigned long ci = (index >> IOPT_CHUNK_SHIFT) + 1;

	if (ci > last >> IOPT_CHUNK_SHIFT ||
	    !xa_find(&pages->chunks, &ci, last >> IOPT_CHUNK_SHIFT,
		     XA_PRESENT))
		return last;
	return (ci << IOPT_CHUNK_SHIFT) - 1;
}

/*
 * Replace the span @span with one run per chunk, counted as it was, so
 * that pins can cover parts of it. Readers may still look at @span: it
 * is freed after them. Return: 0, or -ENOMEM (-EINVAL for a span larger
 * than a window, which is a bug) with @span left as it was.
 */
static int iopt_span_split(struct iopt_pages *pages, struct iopt_chunk *span)
{
	unsigned long n = DIV_ROUND_UP(span->npages, IOPT_CHUNK_PAGES), i;
	unsigned long ci = span->start >> IOPT_CHUNK_SHIFT;
	struct iopt_chunk *runs[IOPT_PIN_WINDOW / IOPT_CHUNK_PAGES];
	unsigned int order;

	lockdep_assert_held(&pages->mutex);
	if (WARN_ON_ONCE(n > ARRAY_SIZE(runs)))
		return -EINVAL;

	for (i = 0; i != n; i++) {
		unsigned long start = span->start + i * IOPT_CHUNK_PAGES;

		runs[i] = iopt_chunk_alloc(pages, start, true);
		if (!runs[i]) {
			while (i--)
				kfree(runs[i]);
			return -ENOMEM;
		}
		runs[i]->first = nth_page(span->first, i * IOPT_CHUNK_PAGES);
		runs[i]->run_count = span->run_count;
		runs[i]->used = runs[i]->npages;
	}
	/*
	 * Each piece becomes an entry per index, in the leaf node that holds
	 * it already: nothing to allocate, nothing to fail. Then each index
	 * gets its run in place.
	 */
	for (i = ci; i < ci + n; i += 1UL << order) {
		XA_STATE(xas, &pages->chunks, i);

		order = iopt_piece_order(i, ci + n - 1);
		if (!order)
			continue;
		xas_lock(&xas);
		xas_split(&xas, span, order);
		xas_unlock(&xas);
	}
	for (i = 0; i != n; i++)
		xa_store(&pages->chunks, ci + i, runs[i], GFP_KERNEL_ACCOUNT);
	kfree_rcu(span, rcu);
	return 0;
}

/*
 * Split the span holding @index, if one does and [first, last] covers
 * only a part of it. Return: 0 or -ENOMEM.
 */
static int iopt_span_fit(struct iopt_pages *pages, unsigned long index,
			 unsigned long first, unsigned long last)
{
	struct iopt_chunk *chunk = iopt_chunk_at(pages, index);

	if (!chunk || !iopt_chunk_is_span(chunk) ||
	    iopt_chunk_covered(chunk, first, last))
		return 0;
	return iopt_span_split(pages, chunk);
}

/* Whether no page of [first, last] is pinned: no chunk holds one. */
static bool iopt_pages_none(struct iopt_pages *pages, unsigned long first,
			    unsigned long last)
{
	unsigned long ci = first >> IOPT_CHUNK_SHIFT;

	lockdep_assert_held(&pages->mutex);
	return !xa_find(&pages->chunks, &ci, last >> IOPT_CHUNK_SHIFT,
			XA_PRESENT);
}

/*
 * Give the runs that [first, last] covers in part a count per page, after
 * splitting the spans it covers in part: only those of its two ends can
 * be such. Return: 0 or -ENOMEM.
 */
static int iopt_pages_count_ends(struct iopt_pages *pages,
				 unsigned long first, unsigned long last)
{
	unsigned long ends[] = { first, last };
	struct iopt_chunk *chunk;
	unsigned int i;
	int rc;

	lockdep_assert_held(&pages->mutex);

	for (i = 0; i != ARRAY_SIZE(ends); i++) {
		rc = iopt_span_fit(pages, ends[i], first, last);
		if (rc)
			return rc;
		chunk = iopt_chunk_at(pages, ends[i]);
		if (!chunk || chunk->count ||
		    iopt_chunk_covered(chunk, first, last))
			continue;
		rc = iopt_chunk_add_counts(chunk);
		if (rc)
			return rc;
	}
	return 0;
}

/*
 * Unpin @n pages nobody counts any more, from GUP or from the file;
 * devices may have written them.
 */
static void iopt_pages_release(struct iopt_pages *pages, struct page **list,
			       unsigned long n)
{
	if (!n)
		return;
	if (pages->file)
		iopt_file_unpin(pages, list, n);
	else
		unpin_user_pages_dirty_lock(list, n, pages->writable);
}

/*
 * Physically contiguous pages to unpin, gathered so that a huge page goes
 * back to the mm in one call however many chunks it spans.
 */
struct iopt_unpin_run {
	struct page *first;
	unsigned long n;
};

static void iopt_unpin_run_flush(struct iopt_pages *pages,
				 struct iopt_unpin_run *run)
{
	if (!run->n)
		return;
	if (pages->file)
		iopt_file_unpin_run(pages, run->first, run->n);
	else
		unpin_user_page_range_dirty_lock(run->first, run->n,
						 pages->writable);
	run->n = 0;
}

static void iopt_unpin_run_add(struct iopt_pages *pages,
			       struct iopt_unpin_run *run, struct page *first,
			       unsigned long n)
{
	if (run->n &&
	    page_to_pfn(first) == page_to_pfn(run->first) + run->n) {
		run->n += n;
		return;
	}
	iopt_unpin_run_flush(pages, run);
	run->first = first;
	run->n = n;
}

/* How many pages of [first, last] are not pinned. */
static unsigned long iopt_pages_gaps(struct iopt_pages *pages,
				     unsigned long first, unsigned long last)
{
	unsigned long index, end, j, gaps = 0;
	struct iopt_chunk *chunk;

	lockdep_assert_held(&pages->mutex);

	for (index = first; index <= last; index = end + 1) {
		chunk = iopt_chunk_at(pages, index);
		if (!chunk) {
			end = iopt_gap_end(pages, index, last);
			gaps += end - index + 1;
			continue;
		}
		end = iopt_walk_end(chunk, index, last);
		/* A run without counts has every page pinned. */
		if (!chunk->count)
			continue;
		for (j = index; j <= end; j++)
			gaps += !chunk->count[j & IOPT_CHUNK_MASK];
	}
	return gaps;
}

/*
 * Count one more pin on every page of [first, last] that is pinned. With
 * @got, the list of the range's pages, set its entry to NULL for a page
 * counted and to IOPT_GAP for one the caller has to pin. Return: the
 * number of such gaps. iopt_pages_count_ends() prepared the range.
 *
 * A count cannot overflow: each pin is an area or an access pin, and four
 * billion of them do not fit in memory.
 */
static unsigned long iopt_pages_count(struct iopt_pages *pages,
				      unsigned long first, unsigned long last,
				      struct page **got)
{
	unsigned long index, end, j, gaps = 0;
	struct iopt_chunk *chunk;

	lockdep_assert_held(&pages->mutex);

	for (index = first; index <= last; index = end + 1) {
		chunk = iopt_chunk_at(pages, index);
		if (!chunk) {
			end = iopt_gap_end(pages, index, last);
			gaps += end - index + 1;
			for (j = index; got && j <= end; j++)
				got[j - first] = IOPT_GAP;
			continue;
		}
		end = iopt_walk_end(chunk, index, last);
		if (!chunk->count) {
			/* Covered whole, see iopt_pages_count_ends(). */
			WARN_ON_ONCE(!iopt_chunk_covered(chunk, first, last));
			chunk->run_count++;
			for (j = index; got && j <= end; j++)
				got[j - first] = NULL;
			continue;
		}
		for (j = index; j <= end; j++) {
			unsigned int *count = &chunk->count[j & IOPT_CHUNK_MASK];

			if (*count) {
				(*count)++;
				if (got)
					got[j - first] = NULL;
			} else {
				gaps++;
				if (got)
					got[j - first] = IOPT_GAP;
			}
		}
	}
	return gaps;
}

/*
 * Drop one pin from the pages [index, end] of @chunk, which has counts,
 * unpinning those that lose their last one. Return: how many were
 * unpinned.
 */
static unsigned long iopt_chunk_drop(struct iopt_pages *pages,
				     struct iopt_chunk *chunk,
				     unsigned long index, unsigned long end,
				     struct iopt_unpin_run *unpin)
{
	unsigned long j = index & IOPT_CHUNK_MASK;
	unsigned long stop = end & IOPT_CHUNK_MASK;
	unsigned long run = 0, zeroed = 0;

	for (; j <= stop; j++) {
		if (WARN_ON_ONCE(!chunk->count[j]) || --chunk->count[j]) {
			if (chunk->page)
				iopt_pages_release(pages,
						   &chunk->page[j - run], run);
			run = 0;
			continue;
		}
		if (!chunk->page)
			iopt_unpin_run_add(pages, unpin,
					   nth_page(chunk->first, j), 1);
		run++;
		zeroed++;
	}
	/* Runs of one folio go back to the mm in one call. */
	if (chunk->page)
		iopt_pages_release(pages, &chunk->page[j - run], run);
	chunk->used -= zeroed;
	return zeroed;
}

/*
 * Drop one pin from every page of [first, last], unpinning the pages that
 * lose their last one. Return: how many were unpinned, to uncharge.
 */
static unsigned long iopt_pages_drop(struct iopt_pages *pages,
				     unsigned long first, unsigned long last)
{
	struct iopt_unpin_run unpin = {};
	unsigned long index, end, unpinned = 0;
	struct iopt_chunk *chunk;

	lockdep_assert_held(&pages->mutex);

	for (index = first; index <= last; index = end + 1) {
		chunk = iopt_chunk_at(pages, index);
		/* Only pins that were counted are dropped. */
		if (WARN_ON_ONCE(!chunk))
			break;
		end = iopt_walk_end(chunk, index, last);
		if (chunk->count) {
			unpinned += iopt_chunk_drop(pages, chunk, index, end,
						    &unpin);
		} else {
			/*
			 * A pin on part of a run gave it counts, on part of a
			 * span split it.
			 */
			if (WARN_ON_ONCE(!iopt_chunk_covered(chunk, first,
							     last)) ||
			    WARN_ON_ONCE(!chunk->run_count) ||
			    --chunk->run_count)
				continue;
			iopt_unpin_run_add(pages, &unpin, chunk->first,
					   chunk->npages);
			unpinned += chunk->npages;
			chunk->used = 0;
		}
		if (!chunk->used)
			iopt_chunk_free(pages, chunk);
		cond_resched();
	}
	iopt_unpin_run_flush(pages, &unpin);
	return unpinned;
}

/* Drop the pins iopt_pages_count() counted: the NULL entries of @got. */
static unsigned long iopt_pages_drop_counted(struct iopt_pages *pages,
					     unsigned long first,
					     struct page **got,
					     unsigned long n)
{
	unsigned long i = 0, end, unpinned = 0;

	while (i < n) {
		if (got[i]) {
			i++;
			continue;
		}
		for (end = i + 1; end < n && !got[end]; end++)
			;
		unpinned += iopt_pages_drop(pages, first + i, first + end - 1);
		i = end;
	}
	return unpinned;
}

/* Mark entries [@from, @end) of @got as gaps to pin. */
static void iopt_got_regap(struct page **got, unsigned long from,
			   unsigned long end)
{
	while (from < end)
		got[from++] = IOPT_GAP;
}

/* Unpin the pages of @got this pin pinned itself, making them gaps again. */
static void iopt_pages_release_own(struct iopt_pages *pages,
				   struct page **got, unsigned long n)
{
	unsigned long i = 0, end;

	while (i < n) {
		if (!got[i] || got[i] == IOPT_GAP) {
			i++;
			continue;
		}
		for (end = i + 1; end < n && got[end] && got[end] != IOPT_GAP;
		     end++)
			;
		iopt_pages_release(pages, got + i, end - i);
		for (; i != end; i++)
			got[i] = IOPT_GAP;
	}
}

/*
 * Pin the gaps of @got, the list of the pages from @first on, without
 * iopt_pages::mutex; with @all, every page of the list, whatever @got
 * holds. On failure nothing stays pinned by this call.
 */
static int iopt_pages_fill(struct iopt_pages *pages, unsigned long first,
			   struct page **got, unsigned long n, bool all,
			   char *why)
{
	unsigned long i = 0, end;
	long rc;

	while (i < n) {
		if (!all && got[i] != IOPT_GAP) {
			i++;
			continue;
		}
		if (all) {
			end = min(n, i + iopt_pin_batch());
		} else {
			end = i + 1;
			while (end < n && got[end] == IOPT_GAP &&
			       end - i < iopt_pin_batch())
				end++;
		}
		if (fatal_signal_pending(current)) {
			rc = -EINTR;
			goto out_release;
		}
		if (pages->file)
			rc = iopt_file_pin(pages, first + i, end - i, got + i);
		else
			rc = iopt_pages_gup(pages, first + i, end - i, got + i);
		/*
		 * Only the first rc entries are pins: 6.1's GUP writes past
		 * them, as fast GUP lists the pages of a huge page before it
		 * finds it cannot pin them (one shared copy-on-write that
		 * the slow path then fails to unshare), and migration clears
		 * the list. Without @all the gaps are marked in @got, and
		 * what follows would take a leftover for a pin: mark them
		 * again.
		 */
		if (!all)
			iopt_got_regap(got, i + max(rc, 0L), end);
		/*
		 * 6.1's GUP returns 0, not an error, for some ranges it
		 * rejects (e.g. an address that overflows): no progress is a
		 * bad address.
		 */
		if (rc <= 0) {
			rc = rc ? rc : -EFAULT;
			iopt_why_gup(pages, first + i, rc, why);
			goto out_release;
		}
		i += rc;
		cond_resched();
	}
	return 0;

out_release:
	if (all)
		iopt_pages_release(pages, got, i);
	else
		iopt_pages_release_own(pages, got, n);
	return rc;
}

/*
 * Unpin every page of @got, the list of the pages from @first on, all of
 * which this pin pinned; chunks of it may be runs (IOPT_RUN_REST).
 */
static void iopt_pages_release_all(struct iopt_pages *pages,
				   unsigned long first, struct page **got,
				   unsigned long n)
{
	unsigned long index, end, last = first + n - 1;

	for (index = first; n && index <= last; index = end + 1) {
		struct page **ours = got + (index - first);

		end = iopt_chunk_end(index, last);
		if (iopt_got_is_run(ours, end - index + 1))
			iopt_file_unpin_run(pages, ours[0], end - index + 1);
		else
			iopt_pages_release(pages, ours, end - index + 1);
	}
}

/*
 * Pin all pages of a file mapping into @got, the list of the pages from
 * @first on, nothing of which is pinned, as iopt_pages_fill() does; but a
 * whole chunk that lies in one huge page is taken straight from its folio
 * and left a run in @got, its first page and IOPT_RUN_REST: no page of it
 * is looked at or listed. That is what makes IOMMU_IOAS_MAP_FILE of
 * hugetlbfs cheaper than pinning the same memory by its address. The
 * whole chunks of a window that lie in one huge page take one lookup.
 */
static int iopt_pages_fill_runs(struct iopt_pages *pages, unsigned long first,
				struct page **got, unsigned long n, char *why)
{
	unsigned long index, end, last = first + n - 1;
	long rc;

	for (index = first; index <= last; index = end + 1) {
		struct page **ours = got + (index - first);
		unsigned long len, whole, j;

		end = iopt_chunk_end(index, last);
		len = end - index + 1;
		if (len > 1 && index == iopt_chunk_start(index) &&
		    len == min(IOPT_CHUNK_PAGES, pages->npages - index)) {
			if (fatal_signal_pending(current)) {
				rc = -EINTR;
				goto out_release;
			}
			/* The whole chunks from here on, in one lookup. */
			whole = last + 1 == pages->npages ?
					last - index + 1 :
					iopt_chunk_start(last + 1) - index;
			rc = iopt_file_pin_run(pages, index, whole,
					       IOPT_CHUNK_PAGES, ours);
			if (rc < 0) {
				iopt_why_gup(pages, index, rc, why);
				goto out_release;
			}
			if (rc) {
				end = index + rc - 1;
				for (j = 0; j < rc; j += IOPT_CHUNK_PAGES) {
					ours[j] = nth_page(ours[0], j);
					if (min_t(unsigned long, rc - j,
						  IOPT_CHUNK_PAGES) > 1)
						ours[j + 1] = IOPT_RUN_REST;
				}
				continue;
			}
		}
		rc = iopt_pages_fill(pages, index, ours, len, true, why);
		if (rc)
			goto out_release;
	}
	return 0;

out_release:
	iopt_pages_release_all(pages, first, got, index - first);
	return rc;
}

/*
 * Whether the @n pages of @list are physically contiguous. With a virtual
 * memmap (x86-64), nth_page() is a pointer addition. A pin of a huge page
 * by its address looks at every one of its 4 KiB pages here, as GUP did
 * to list them: eight entries per branch, which costs about half as much
 * under TCG as one.
 */
static unsigned long iopt_page_off(struct page **list, struct page *first,
				   unsigned long k)
{
	return (unsigned long)list[k] ^ (unsigned long)nth_page(first, k);
}

static bool iopt_pages_contiguous(struct page **list, unsigned long n)
{
	struct page *first = list[0];
	unsigned long i;

	for (i = 0; i + 8 <= n; i += 8)
		if (iopt_page_off(list, first, i) |
		    iopt_page_off(list, first, i + 1) |
		    iopt_page_off(list, first, i + 2) |
		    iopt_page_off(list, first, i + 3) |
		    iopt_page_off(list, first, i + 4) |
		    iopt_page_off(list, first, i + 5) |
		    iopt_page_off(list, first, i + 6) |
		    iopt_page_off(list, first, i + 7))
			return false;
	for (; i != n; i++)
		if (list[i] != nth_page(first, i))
			return false;
	return true;
}

/*
 * Whether @got, the pages of [index, end] that this pin pinned, are a
 * whole chunk and physically contiguous: a run.
 */
static bool iopt_got_run(struct iopt_pages *pages, unsigned long index,
			 unsigned long end, struct page **got)
{
	unsigned long n = end - index + 1;

	return index == iopt_chunk_start(index) &&
	       n == min(IOPT_CHUNK_PAGES, pages->npages - index) &&
	       (iopt_got_is_run(got, n) || iopt_pages_contiguous(got, n));
}

/*
 * Make a missing chunk for @got, the pages from @index on that this pin
 * pinned: a run if they are the whole chunk and contiguous, and then a
 * span of it and the missing chunks after it up to @last that continue
 * it physically. *@end is set to the last index it covers.
 */
static int iopt_pages_new_chunk(struct iopt_pages *pages, unsigned long index,
				unsigned long last, struct page **got,
				unsigned long *end)
{
	unsigned long next, stop, limit;
	struct iopt_chunk *chunk;
	bool run;
	int rc;

	*end = iopt_chunk_end(index, last);
	run = iopt_got_run(pages, index, *end, got);
	chunk = iopt_chunk_alloc(pages, index, run);
	if (!chunk)
		return -ENOMEM;
	/* A span takes only missing chunks: up to the next one there. */
	limit = run ? iopt_gap_end(pages, index, last) : *end;
	while (*end != limit) {
		next = *end + 1;
		stop = iopt_chunk_end(next, last);
		if (got[next - index] != nth_page(got[0], next - index) ||
		    !iopt_got_run(pages, next, stop, got + (next - index)))
			break;
		chunk->npages += stop - next + 1;
		*end = stop;
	}
	rc = iopt_chunk_store(pages, chunk);
	if (rc)
		kfree(chunk);
	return rc;
}

/* Write out the pages of the runs of @got, for [index, end], by chunk. */
static void iopt_got_expand_range(struct page **got, unsigned long index,
				  unsigned long end)
{
	unsigned long i, stop;

	for (i = index; i <= end; i = stop + 1) {
		stop = iopt_chunk_end(i, end);
		iopt_got_expand(got + (i - index), stop - i + 1);
	}
}

/*
 * Make an existing chunk able to take the pages this pin pinned for
 * [index, end], @got: counts for a run covered in part, a page list for
 * one whose gaps get other pages than its first page says.
 */
static int iopt_pages_fit_chunk(struct iopt_chunk *chunk, unsigned long index,
				unsigned long end, unsigned long first,
				unsigned long last, struct page **got)
{
	unsigned long j;
	int rc;

	if (!chunk->count) {
		if (iopt_chunk_covered(chunk, first, last))
			return 0;
		rc = iopt_chunk_add_counts(chunk);
		if (rc)
			return rc;
	}
	if (chunk->page)
		return 0;
	for (j = index; j <= end; j++) {
		struct page *page = got[j - index];

		if (!page || chunk->count[j - chunk->start])
			continue;
		if (page != nth_page(chunk->first, j - chunk->start))
			return iopt_chunk_add_list(chunk);
	}
	return 0;
}

/*
 * Make sure every chunk of [first, last] exists and can take the pages of
 * @got this pin pinned. A chunk that does not exist has no pinned page,
 * so the caller pinned all of its pages in the range itself. On failure
 * the chunks made here are gone again; what was added to others stays,
 * harmless, and so do spans split.
 */
static int iopt_pages_make_chunks(struct iopt_pages *pages,
				  unsigned long first, unsigned long last,
				  struct page **got)
{
	unsigned long index, end;
	struct iopt_chunk *chunk;
	int rc = 0;

	lockdep_assert_held(&pages->mutex);

	for (index = first; index <= last; index = end + 1) {
		struct page **ours = got + (index - first);

		chunk = iopt_chunk_at(pages, index);
		if (!chunk) {
			rc = iopt_pages_new_chunk(pages, index, last, ours,
						  &end);
		} else {
			/* Another pin made it meanwhile: rare, and per page. */
			rc = iopt_span_fit(pages, index, first, last);
			if (rc)
				break;
			chunk = iopt_chunk_at(pages, index);
			end = iopt_walk_end(chunk, index, last);
			iopt_got_expand_range(ours, index, end);
			rc = iopt_pages_fit_chunk(chunk, index, end, first,
						  last, ours);
		}
		if (rc)
			break;
	}
	if (!rc)
		return 0;
	/* Chunks that existed before have pinned pages; ours have none. */
	for (index = first; index <= last; index = end + 1) {
		chunk = iopt_chunk_at(pages, index);
		end = iopt_walk_end(chunk, index, last);
		if (chunk && !chunk->used)
			iopt_chunk_free(pages, chunk);
	}
	return rc;
}

/*
 * Put the pages this pin pinned into their chunks, unless another pin put
 * one there meanwhile: that one is counted, and ours is left in @got for
 * the caller to unpin. iopt_pages_make_chunks() made room. Return: how
 * many of ours are left.
 */
static unsigned long iopt_pages_install(struct iopt_pages *pages,
					unsigned long first,
					struct page **got, unsigned long n)
{
	unsigned long index, end, j, last = first + n - 1, surplus = 0;
	struct iopt_chunk *chunk;

	lockdep_assert_held(&pages->mutex);

	for (index = first; index <= last; index = end + 1) {
		struct page **ours = got + (index - first);

		chunk = iopt_chunk_at(pages, index);
		end = iopt_walk_end(chunk, index, last);
		if (!chunk->count) {
			/*
			 * A run or span without counts is covered whole:
			 * counted whole when it was there then, or all ours
			 * now.
			 */
			if (!ours[0])
				continue;
			if (!chunk->used) {
				/* Made for us by iopt_pages_new_chunk(). */
				chunk->first = ours[0];
				chunk->used = chunk->npages;
				chunk->run_count = 1;
				continue;
			}
			/* Another pin made it meanwhile. */
			chunk->run_count++;
			for (j = index; j <= end; j++)
				got[surplus++] = got[j - first];
			continue;
		}
		for (j = index; j <= end; j++) {
			unsigned int *count = &chunk->count[j & IOPT_CHUNK_MASK];

			if (!got[j - first])
				continue;
			if (*count) {
				(*count)++;
				got[surplus++] = got[j - first];
				continue;
			}
			/* Without a list, iopt_pages_fit_chunk() checked it. */
			if (chunk->page)
				chunk->page[j & IOPT_CHUNK_MASK] = got[j - first];
			*count = 1;
			chunk->used++;
		}
	}
	return surplus;
}

/* Drop one pin from the pages [first, last] and uncharge what it frees. */
static void iopt_pages_unpin(struct iopt_pages *pages, unsigned long first,
			     unsigned long last)
{
	unsigned long unpinned;

	mutex_lock(&pages->mutex);
	unpinned = iopt_pages_drop(pages, first, last);
	mutex_unlock(&pages->mutex);
	iopt_pages_uncharge(pages, unpinned);
}

/*
 * Pin [first, last], pages of one window, taking the charge of the pages
 * this pin pins from *@budget (charged by the caller; more is charged when
 * more is missing than the caller found). On failure nothing of the window
 * is pinned by this call.
 */
static int iopt_pages_pin_window(struct iopt_pages *pages,
				 unsigned long first, unsigned long last,
				 struct page **got, unsigned long *budget,
				 char *why)
{
	unsigned long n = last - first + 1, gaps, surplus, unpinned;
	bool all;
	int rc;

	mutex_lock(&pages->mutex);
	/* Nothing pinned (new memory): nothing to count, pin all of it. */
	all = iopt_pages_none(pages, first, last);
	if (!all) {
		rc = iopt_pages_count_ends(pages, first, last);
		if (rc) {
			mutex_unlock(&pages->mutex);
			return rc;
		}
	}
	gaps = all ? n : iopt_pages_count(pages, first, last, got);
	mutex_unlock(&pages->mutex);
	if (!gaps)
		return 0;

	/* Pages were unpinned since the caller looked. */
	if (gaps > *budget) {
		rc = iopt_pages_charge(pages, gaps - *budget, why);
		if (rc)
			goto out_drop;
		*budget = gaps;
	}
	if (all && pages->file)
		rc = iopt_pages_fill_runs(pages, first, got, n, why);
	else
		rc = iopt_pages_fill(pages, first, got, n, all, why);
	if (rc)
		goto out_drop;

	mutex_lock(&pages->mutex);
	rc = iopt_pages_make_chunks(pages, first, last, got);
	if (rc) {
		mutex_unlock(&pages->mutex);
		if (all)
			iopt_pages_release_all(pages, first, got, n);
		else
			iopt_pages_release_own(pages, got, n);
		goto out_drop;
	}
	surplus = iopt_pages_install(pages, first, got, n);
	mutex_unlock(&pages->mutex);
	/* Pages another pin installed first: ours were never used. */
	iopt_pages_release(pages, got, surplus);
	*budget -= gaps - surplus;
	return 0;

out_drop:
	/* With @all nothing was counted, and @got may be partly unset. */
	if (!all) {
		mutex_lock(&pages->mutex);
		unpinned = iopt_pages_drop_counted(pages, first, got, n);
		mutex_unlock(&pages->mutex);
		iopt_pages_uncharge(pages, unpinned);
	}
	return rc;
}

/*
 * Count a pin on every page of [first, last] if all of them are pinned
 * already. Return: 0 if they were, else the number of pages that are not
 * (nothing counted), or -ENOMEM.
 */
static long iopt_pages_count_pinned(struct iopt_pages *pages,
				    unsigned long first, unsigned long last)
{
	long rc;

	mutex_lock(&pages->mutex);
	rc = iopt_pages_gaps(pages, first, last);
	if (!rc)
		rc = iopt_pages_count_ends(pages, first, last);
	if (!rc)
		iopt_pages_count(pages, first, last, NULL);
	mutex_unlock(&pages->mutex);
	return rc;
}

/**
 * iopt_pages_pin_get() - pin the pages of a byte range of the memory
 * @pages: the memory
 * @byte: offset from pages->uptr of the first byte
 * @length: number of bytes, not zero, within the memory
 * @why: IOPT_WHY_LEN bytes for the reason of a failure, or NULL
 *
 * Counts a pin on every page the range touches, pinning and charging
 * those nobody pinned yet. Pinning runs without any lock of the memory
 * held, as it may take long or wait for userspace.
 *
 * Context: may sleep for long; see the lock order in io_pagetable.h.
 * Return: 0; -ENOMEM when the memory limit is reached or memory runs out,
 * -EFAULT for memory that cannot be pinned, -EINTR or -ERESTARTSYS for a
 * signal. On failure nothing is pinned.
 */
int iopt_pages_pin_get(struct iopt_pages *pages, unsigned long byte,
		       unsigned long length, char *why)
{
	unsigned long first = byte / PAGE_SIZE;
	unsigned long last = (byte + length - 1) / PAGE_SIZE;
	unsigned long n = last - first + 1, budget = 0, index, end;
	struct page *small[IOPT_PIN_SMALL];
	long gaps;
	struct page **got = small;
	int rc = 0;

	if (WARN_ON_ONCE(!length || last >= pages->npages))
		return -EINVAL;

	iopt_pin_may_wait();
	if (n > IOPT_PIN_SMALL) {
		/* Usually everything is pinned, and a pin only counts. */
		gaps = iopt_pages_count_pinned(pages, first, last);
		if (gaps <= 0)
			return gaps;
		/* Charged first: a pin over the limit touches no memory. */
		budget = gaps;
		rc = iopt_pages_charge(pages, budget, why);
		if (rc)
			return rc;
		/* Not zeroed: the count or the pin writes every entry. */
		got = kvmalloc_array(min(n, IOPT_PIN_WINDOW), sizeof(*got),
				     GFP_KERNEL_ACCOUNT | __GFP_NOWARN);
		if (!got) {
			iopt_pages_uncharge(pages, budget);
			return -ENOMEM;
		}
	}
	for (index = first; index <= last; index = end + 1) {
		end = min(last, index | (IOPT_PIN_WINDOW - 1));
		rc = iopt_pages_pin_window(pages, index, end, got, &budget,
					   why);
		if (rc)
			break;
	}
	/* A failed pin takes nothing: drop the windows it pinned. */
	if (rc && index != first)
		iopt_pages_unpin(pages, first, index - 1);
	iopt_pages_uncharge(pages, budget);
	if (got != small)
		kvfree(got);
	return rc;
}

/**
 * iopt_pages_pin_counted() - count a pin on pages that are all pinned
 * @pages: the memory
 * @byte: offset from pages->uptr of the first byte
 * @length: number of bytes, not zero, within the memory
 *
 * The pin a caller holding io_pagetable::iova_rwsem may take: it only
 * counts, and never pins memory, which may wait for userspace. A caller
 * that finds a page not pinned drops its locks, pins the range before
 * taking them again (iopt_prepin_range()) and tries once more.
 *
 * Context: takes iopt_pages::mutex; may allocate.
 * Return: 0 when every page the range touches was pinned and has one
 * more pin now; -EAGAIN when one was not (nothing is counted); -ENOMEM.
 */
int iopt_pages_pin_counted(struct iopt_pages *pages, unsigned long byte,
			   unsigned long length)
{
	unsigned long first = byte / PAGE_SIZE;
	unsigned long last = (byte + length - 1) / PAGE_SIZE;
	long rc;

	if (WARN_ON_ONCE(!length || last >= pages->npages))
		return -EINVAL;
	rc = iopt_pages_count_pinned(pages, first, last);
	return rc > 0 ? -EAGAIN : rc;
}

/**
 * iopt_pages_pin_put() - drop a pin from iopt_pages_pin_get()
 * @pages: the memory
 * @byte: as given to iopt_pages_pin_get()
 * @length: as given to iopt_pages_pin_get()
 *
 * Pages that lose their last pin are unpinned and uncharged.
 */
void iopt_pages_pin_put(struct iopt_pages *pages, unsigned long byte,
			unsigned long length)
{
	iopt_pages_unpin(pages, byte / PAGE_SIZE,
			 (byte + length - 1) / PAGE_SIZE);
}

/**
 * iopt_pages_prepare_split() - make a pin splittable without failure
 * @pages: the memory
 * @byte: where iopt_pages_pin_split() will split a pin, which the caller
 *        holds
 *
 * A span both halves would touch is split into runs, and a run both
 * would touch needs a count per page.
 *
 * Return: 0 or -ENOMEM.
 */
int iopt_pages_prepare_split(struct iopt_pages *pages, unsigned long byte)
{
	unsigned long before = (byte - 1) / PAGE_SIZE, at = byte / PAGE_SIZE;
	struct iopt_chunk *chunk;
	int rc = 0;

	mutex_lock(&pages->mutex);
	chunk = iopt_chunk_at(pages, at);
	if (WARN_ON_ONCE(!chunk))
		goto out;
	/* The halves will be dropped one at a time: no span across them. */
	if (iopt_chunk_is_span(chunk) && chunk->start != at) {
		rc = iopt_span_split(pages, chunk);
		if (rc)
			goto out;
		chunk = iopt_chunk_at(pages, at);
	}
	if (iopt_chunk_start(before) == iopt_chunk_start(at))
		rc = iopt_chunk_add_counts(chunk);
out:
	mutex_unlock(&pages->mutex);
	return rc;
}

/**
 * iopt_pages_pin_split() - count what the halves of a split pin share
 * @pages: the memory
 * @byte: a pin on [x, y] becomes pins on [x, @byte) and [@byte, y];
 *        iopt_pages_prepare_split() was called for it
 *
 * Both halves are dropped on their own later: a page they share, when
 * @byte falls inside one, needs one count more. It is pinned already, so
 * this only counts.
 */
void iopt_pages_pin_split(struct iopt_pages *pages, unsigned long byte)
{
	unsigned long before = (byte - 1) / PAGE_SIZE, at = byte / PAGE_SIZE;
	struct iopt_chunk *chunk;

	if (before != at)
		return;
	mutex_lock(&pages->mutex);
	chunk = iopt_chunk_at(pages, at);
	if (!WARN_ON_ONCE(!chunk || !chunk->count))
		chunk->count[at - chunk->start]++;
	mutex_unlock(&pages->mutex);
}

/**
 * iopt_alloc_pages() - describe a range of the current process's memory
 * @uptr: first byte of the range
 * @length: number of bytes
 * @writable: whether devices may write the memory
 * @account_mode: one of enum iopt_account_mode; callers with CAP_IPC_LOCK
 *                are never charged
 * @usage: the totals of the mapping context, which outlives the memory
 *
 * Nothing is pinned yet, see iopt_pages_pin_get().
 *
 * Return: the new iopt_pages with one reference, or an ERR_PTR():
 * -EINVAL for an empty or absurdly long range, -EOVERFLOW when the range
 * wraps around the address space, -ENOMEM.
 */
struct iopt_pages *iopt_alloc_pages(void __user *uptr, unsigned long length,
				    bool writable,
				    enum iopt_account_mode account_mode,
				    struct iopt_usage *usage)
{
	unsigned long start = (unsigned long)uptr;
	struct iopt_pages *pages;
	unsigned long end;

	/* Keeps the page count below and size_t lengths free of overflow. */
	if (!length || length > SIZE_MAX - PAGE_SIZE)
		return ERR_PTR(-EINVAL);
	if (check_add_overflow(start, length, &end))
		return ERR_PTR(-EOVERFLOW);

	pages = kzalloc(sizeof(*pages), GFP_KERNEL_ACCOUNT);
	if (!pages)
		return ERR_PTR(-ENOMEM);
	kref_init(&pages->kref);
	mutex_init(&pages->mutex);
	xa_init(&pages->chunks);
	pages->uptr = (void __user *)ALIGN_DOWN(start, PAGE_SIZE);
	end -= ALIGN_DOWN(start, PAGE_SIZE);
	/* Rounds up without the overflow DIV_ROUND_UP() would have here. */
	pages->npages = end / PAGE_SIZE + !!(end % PAGE_SIZE);
	pages->writable = writable;
	pages->account_mode = capable(CAP_IPC_LOCK) ? IOPT_ACCOUNT_NONE :
						      account_mode;
	pages->source_mm = current->mm;
	mmgrab(pages->source_mm);
	pages->source_task = current->group_leader;
	get_task_struct(pages->source_task);
	pages->source_user = get_uid(current_user());
	pages->usage = usage;
	return pages;
}

/**
 * iopt_release_pages() - free an iopt_pages when its last area is gone
 * @kref: the iopt_pages' kref
 */
void iopt_release_pages(struct kref *kref)
{
	struct iopt_pages *pages = container_of(kref, struct iopt_pages, kref);

	/*
	 * Every pin was dropped before the last reference, so no chunk is
	 * left, and mostly no xarray node either: xa_destroy() would only
	 * take the lock (with interrupts off) to find that out, once per
	 * small map. A chunk store whose node allocations failed can leave
	 * an empty node behind, which is freed here.
	 */
	if (!xa_empty(&pages->chunks)) {
		unsigned long index = 0;

		WARN_ON(xa_find(&pages->chunks, &index, ULONG_MAX, XA_PRESENT));
		xa_destroy(&pages->chunks);
	}
	if (pages->file)
		iopt_file_release(pages);
	free_uid(pages->source_user);
	put_task_struct(pages->source_task);
	mmdrop(pages->source_mm);
	mutex_destroy(&pages->mutex);
	kfree(pages);
}

/*
 * The page at @index. Context: the caller holds a pin on it, which keeps
 * what its chunk says; the chunk is read under RCU (a span may be split).
 */
static struct page *iopt_pages_page(struct iopt_pages *pages,
				    unsigned long index)
{
	struct page *page;

	rcu_read_lock();
	page = iopt_chunk_page(iopt_chunk_at(pages, index), index);
	rcu_read_unlock();
	return page;
}

/**
 * iopt_pages_contig() - where a byte of the memory is, and how much
 *                       physically contiguous memory starts there
 * @pages: the memory
 * @byte: offset from pages->uptr
 * @max: stop after this many bytes
 * @page_only: stop at the end of the page holding @byte
 * @phys: set to the physical address of @byte
 *
 * Context: the caller holds pins on [@byte, @byte + @max).
 * Return: the number of bytes from @byte, at most @max, that are
 * physically contiguous.
 */
unsigned long iopt_pages_contig(struct iopt_pages *pages, unsigned long byte,
				unsigned long max, bool page_only,
				phys_addr_t *phys)
{
	unsigned long idx = byte / PAGE_SIZE;
	unsigned long len = PAGE_SIZE - byte % PAGE_SIZE;
	struct iopt_chunk *chunk;
	unsigned long pfn;

	rcu_read_lock();
	chunk = iopt_chunk_at(pages, idx);
	pfn = page_to_pfn(iopt_chunk_page(chunk, idx));
	*phys = PFN_PHYS(pfn) + byte % PAGE_SIZE;
	if (page_only) {
		rcu_read_unlock();
		return min(len, max);
	}
	/* Every chunk looked at holds a page of the pinned range. */
	for (;;) {
		/* Pairs with iopt_chunk_add_list(). */
		if (!smp_load_acquire(&chunk->page)) {
			/*
			 * A run's pages are contiguous, those pinned at
			 * least, which are all this looks at.
			 */
			unsigned long rest = iopt_chunk_last(chunk) - idx;

			len += rest * PAGE_SIZE;
			pfn += rest;
			idx += rest;
		}
		if (len >= max)
			break;
		idx++;
		if (idx > iopt_chunk_last(chunk))
			chunk = iopt_chunk_at(pages, idx);
		if (page_to_pfn(iopt_chunk_page(chunk, idx)) != ++pfn)
			break;
		len += PAGE_SIZE;
	}
	rcu_read_unlock();
	return min(len, max);
}

/**
 * iopt_pages_get_pages() - hand out pinned pages
 * @pages: the memory
 * @byte: offset from pages->uptr of a byte in the first page
 * @n: number of pages
 * @out: filled with the @n pages from the one holding @byte on
 *
 * Context: the caller holds pins on those pages.
 */
void iopt_pages_get_pages(struct iopt_pages *pages, unsigned long byte,
			  unsigned long n, struct page **out)
{
	unsigned long idx = byte / PAGE_SIZE, i;
	struct iopt_chunk *chunk = NULL;

	rcu_read_lock();
	for (i = 0; i != n; i++, idx++) {
		if (!i || idx > iopt_chunk_last(chunk))
			chunk = iopt_chunk_at(pages, idx);
		out[i] = iopt_chunk_page(chunk, idx);
	}
	rcu_read_unlock();
}

/* Context: the caller holds pins on the pages of the range. */
static void iopt_pages_copy_pinned(struct iopt_pages *pages,
				   unsigned long byte, void *data,
				   unsigned long length, bool write)
{
	while (length) {
		unsigned long off = byte % PAGE_SIZE;
		unsigned long n = min(length, PAGE_SIZE - off);
		void *kaddr;

		kaddr = kmap_local_page(iopt_pages_page(pages, byte / PAGE_SIZE));
		if (write)
			memcpy(kaddr + off, data, n);
		else
			memcpy(data, kaddr + off, n);
		kunmap_local(kaddr);
		byte += n;
		data += n;
		length -= n;
	}
}

/* Copy through the user address space of the process that mapped it. */
static int iopt_pages_copy_user(struct iopt_pages *pages, unsigned long byte,
				void *data, unsigned long length, bool write)
{
	void __user *uptr = pages->uptr + byte;
	unsigned long left;

	if (write)
		left = copy_to_user(uptr, data, length);
	else
		left = copy_from_user(data, uptr, length);
	return left ? -EFAULT : 0;
}

/**
 * iopt_pages_rw() - copy between a kernel buffer and the memory
 * @pages: the memory
 * @byte: offset from pages->uptr of the first byte
 * @data: the kernel buffer
 * @length: number of bytes, not zero, within the range
 * @flags: IOMMUFD_ACCESS_RW_WRITE to copy @data into the memory;
 *         IOMMUFD_ACCESS_RW_KTHREAD when called from a kernel thread;
 *         __IOMMUFD_ACCESS_RW_SLOW_PATH (tests) to ignore pinned pages
 *
 * Memory that is pinned is copied through the kernel's mapping of its
 * pages. Otherwise nothing is pinned when the mapper's page tables can be
 * used: in the process that mapped it, or in a kernel thread, which
 * borrows the mapper's mm for the copy. Any other task pins the pages the
 * copy touches for the time of the copy.
 *
 * Return: 0, or -EFAULT, -ENOMEM, -EINTR.
 */
int iopt_pages_rw(struct iopt_pages *pages, unsigned long byte, void *data,
		  unsigned long length, unsigned int flags)
{
	bool write = flags & IOMMUFD_ACCESS_RW_WRITE;
	struct mm_struct *mm = pages->source_mm;
	int rc;

	if (!(flags & __IOMMUFD_ACCESS_RW_SLOW_PATH) &&
	    !iopt_pages_count_pinned(pages, byte / PAGE_SIZE,
				     (byte + length - 1) / PAGE_SIZE)) {
		iopt_pages_copy_pinned(pages, byte, data, length, write);
		iopt_pages_pin_put(pages, byte, length);
		return 0;
	}
	/* A file's pages are reached through the file, never a user address. */
	if (pages->file)
		return iopt_file_rw(pages, byte, data, length, write);
	if (current->mm == mm)
		return iopt_pages_copy_user(pages, byte, data, length, write);
	if ((flags & IOMMUFD_ACCESS_RW_KTHREAD) && !current->mm &&
	    (current->flags & PF_KTHREAD)) {
		if (!mmget_not_zero(mm))
			return -EFAULT;
		kthread_use_mm(mm);
		rc = iopt_pages_copy_user(pages, byte, data, length, write);
		kthread_unuse_mm(mm);
		mmput(mm);
		return rc;
	}
	rc = iopt_pages_pin_get(pages, byte, length, NULL);
	if (rc)
		return rc;
	iopt_pages_copy_pinned(pages, byte, data, length, write);
	iopt_pages_pin_put(pages, byte, length);
	return 0;
}
