// SPDX-License-Identifier: GPL-2.0-only
/*
 * User memory behind IOVA mappings: pinning and accounting.
 *
 * An iopt_pages is a range of one process's virtual memory, made by
 * IOMMU_IOAS_MAP and shared by every area that maps it (IOMMU_IOAS_COPY
 * shares it between IOASes). Nothing is pinned while no device can reach
 * the memory: an area pins its iopt_pages while its IOAS has at least one
 * IOMMU domain, and iopt_pages::pin_users counts those areas. The range is
 * pinned whole (FOLL_LONGTERM) by the first and unpinned by the last, so
 * a page is pinned, and charged, once however many areas, IOASes and
 * domains use it.
 *
 * Charging happens before pinning, so a map over the limit fails without
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
 * once instead of waiting). So it runs with no lock held, not even
 * iopt_pages::mutex, and the io_pagetable pins what it needs before it
 * locks its IOVA tree (see iopt_prepin_range()): a pin under the tree's
 * lock then only counts.
 *
 * Lock order: io_pagetable::iova_rwsem, then iopt_pages::mutex, then the
 * source mm's mmap_lock.
 */
#include <linux/highmem.h>
#include <linux/io.h>
#include <linux/kernel.h>
#include <linux/mm.h>
#include <linux/overflow.h>
#include <linux/mmap_lock.h>
#include <linux/sched/mm.h>
#include <linux/sched/signal.h>
#include <linux/sched/task.h>
#include <linux/sched/user.h>
#include <linux/slab.h>

#include "io_pagetable.h"

/*
 * Pages pinned per GUP call: bounds the time between signal checks. The
 * test suite can shrink it to make pinning take many small steps.
 */
#define IOPT_PIN_BATCH 512

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

/* Say by how much pinning @pages would exceed RLIMIT_MEMLOCK. */
static void iopt_why_limit(struct iopt_pages *pages, unsigned long locked,
			   char *why)
{
	unsigned long limit;

	limit = task_rlimit(pages->source_task, RLIMIT_MEMLOCK) >> PAGE_SHIFT;
	iopt_why(why,
		 "RLIMIT_MEMLOCK of %s: pinning %lu KiB more with %lu KiB locked exceeds the limit of %lu KiB by %lu KiB",
		 pages->account_mode == IOPT_ACCOUNT_MM ? "the process" :
							  "the user",
		 pages->npages << (PAGE_SHIFT - 10),
		 locked << (PAGE_SHIFT - 10), limit << (PAGE_SHIFT - 10),
		 (locked + pages->npages - min(limit, locked + pages->npages))
			 << (PAGE_SHIFT - 10));
}

static int iopt_charge_user(struct iopt_pages *pages, char *why)
{
	struct user_struct *user = pages->source_user;
	unsigned long limit, npages = pages->npages;
	long cur = atomic_long_read(&user->locked_vm);

	limit = task_rlimit(pages->source_task, RLIMIT_MEMLOCK) >> PAGE_SHIFT;

	do {
		if (npages > limit || (unsigned long)cur > limit - npages) {
			iopt_why_limit(pages, cur, why);
			return -ENOMEM;
		}
	} while (!atomic_long_try_cmpxchg(&user->locked_vm, &cur,
					  cur + npages));
	return 0;
}

static int iopt_pages_charge(struct iopt_pages *pages, char *why)
{
	struct iopt_usage *usage = pages->usage;
	int rc = 0;

	switch (pages->account_mode) {
	case IOPT_ACCOUNT_NONE:
		break;
	case IOPT_ACCOUNT_USER:
		rc = iopt_charge_user(pages, why);
		break;
	case IOPT_ACCOUNT_MM:
		mmap_write_lock(pages->source_mm);
		rc = __account_locked_vm(pages->source_mm, pages->npages, true,
					 pages->source_task, false);
		if (rc)
			iopt_why_limit(pages, pages->source_mm->locked_vm, why);
		mmap_write_unlock(pages->source_mm);
		break;
	}
	if (rc)
		return rc;
	atomic64_add(pages->npages, &pages->source_mm->pinned_vm);
	atomic_long_add(pages->npages, &usage->pinned);
	if (pages->account_mode != IOPT_ACCOUNT_NONE) {
		atomic_long_add(pages->npages, &usage->charged);
		WRITE_ONCE(usage->charged_uid,
			   from_kuid(&init_user_ns, pages->source_user->uid));
		WRITE_ONCE(usage->charged_pid,
			   task_tgid_nr(pages->source_task));
	}
	return 0;
}

static void iopt_pages_uncharge(struct iopt_pages *pages)
{
	atomic64_sub(pages->npages, &pages->source_mm->pinned_vm);
	atomic_long_sub(pages->npages, &pages->usage->pinned);
	if (pages->account_mode != IOPT_ACCOUNT_NONE)
		atomic_long_sub(pages->npages, &pages->usage->charged);
	switch (pages->account_mode) {
	case IOPT_ACCOUNT_NONE:
		break;
	case IOPT_ACCOUNT_USER:
		atomic_long_sub(pages->npages, &pages->source_user->locked_vm);
		break;
	case IOPT_ACCOUNT_MM:
		/*
		 * Only the mm_struct is guaranteed here (mmgrab), which is
		 * all that taking its mmap lock and adjusting a counter need,
		 * even after the process exited.
		 */
		mmap_write_lock(pages->source_mm);
		__account_locked_vm(pages->source_mm, pages->npages, false,
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
		if ((vma->vm_flags & VM_SHARED) && !vma_is_shmem(vma)) {
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

	/* A fatal signal: the errno says it all. */
	if (!why || rc == -EINTR)
		return;
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

/*
 * Pin every page of the range into @out, which has room for all of them.
 * On failure nothing stays pinned.
 */
static int iopt_pages_pin(struct iopt_pages *pages, struct page **out,
			  char *why)
{
	unsigned long done = 0;
	long rc;

	while (done != pages->npages) {
		unsigned long n = min_t(unsigned long, pages->npages - done,
					iopt_pin_batch());

		if (fatal_signal_pending(current)) {
			rc = -EINTR;
			goto out_unpin;
		}
		rc = iopt_pages_gup(pages, done, n, out + done);
		/*
		 * 6.1's GUP returns 0, not an error, for some ranges it
		 * rejects (e.g. an address that overflows): no progress is a
		 * bad address.
		 */
		if (rc <= 0) {
			rc = rc ? rc : -EFAULT;
			goto out_unpin;
		}
		done += rc;
		cond_resched();
	}
	return 0;

out_unpin:
	iopt_why_gup(pages, done, rc, why);
	unpin_user_pages(out, done);
	return rc;
}

/* Count one more user if the memory is pinned already. */
static bool iopt_pages_pin_more(struct iopt_pages *pages)
{
	bool pinned;

	mutex_lock(&pages->mutex);
	pinned = pages->pin_users;
	if (pinned)
		pages->pin_users++;
	mutex_unlock(&pages->mutex);
	return pinned;
}

/**
 * iopt_pages_pin_get() - make sure the memory is pinned, and keep it so
 * @pages: the memory
 * @why: IOPT_WHY_LEN bytes for the reason of a failure, or NULL
 *
 * The first user pins and charges the whole range; later ones only count.
 * Pinning runs without any lock held, as it may take long or wait for
 * userspace; should two first users race, the loser drops its pins and
 * charge again and counts as a later user.
 *
 * Context: may sleep for long; no io_pagetable lock should be held.
 * Return: 0; -ENOMEM when the memory limit is reached or memory runs out,
 * -EFAULT for memory that cannot be pinned, -EINTR.
 */
int iopt_pages_pin_get(struct iopt_pages *pages, char *why)
{
	struct page **out;
	int rc;

	if (iopt_pages_pin_more(pages))
		return 0;
	rc = iopt_pages_charge(pages, why);
	if (rc)
		return rc;
	out = kvcalloc(pages->npages, sizeof(*out),
		       GFP_KERNEL_ACCOUNT | __GFP_NOWARN);
	if (!out) {
		rc = -ENOMEM;
		goto out_uncharge;
	}
	rc = iopt_pages_pin(pages, out, why);
	if (rc)
		goto out_free;

	mutex_lock(&pages->mutex);
	if (!pages->pin_users) {
		pages->pages = out;
		pages->pin_users = 1;
		out = NULL;
	} else {
		pages->pin_users++;
	}
	mutex_unlock(&pages->mutex);
	if (!out)
		return 0;
	/* Another first user won: ours were never used. */
	unpin_user_pages(out, pages->npages);
	rc = 0;
out_free:
	kvfree(out);
out_uncharge:
	iopt_pages_uncharge(pages);
	return rc;
}

/**
 * iopt_pages_pin_put() - drop a use from iopt_pages_pin_get()
 * @pages: the memory; unpinned and uncharged when the last use goes
 */
void iopt_pages_pin_put(struct iopt_pages *pages)
{
	mutex_lock(&pages->mutex);
	if (WARN_ON(!pages->pin_users) || --pages->pin_users)
		goto out_unlock;
	/* Devices may have written the memory: let the mm know. */
	unpin_user_pages_dirty_lock(pages->pages, pages->npages,
				    pages->writable);
	kvfree(pages->pages);
	pages->pages = NULL;
	iopt_pages_uncharge(pages);
out_unlock:
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

	/* Every pinning area let go before it dropped its reference. */
	WARN_ON(pages->pin_users);
	free_uid(pages->source_user);
	put_task_struct(pages->source_task);
	mmdrop(pages->source_mm);
	mutex_destroy(&pages->mutex);
	kfree(pages);
}

/**
 * iopt_pages_phys() - physical address of a byte of the memory
 * @pages: the memory, pinned (see iopt_pages_pin_get())
 * @byte: offset from pages->uptr, below npages * PAGE_SIZE
 *
 * Context: the caller holds a pin, which keeps pages->pages in place.
 * Return: the physical address.
 */
phys_addr_t iopt_pages_phys(struct iopt_pages *pages, unsigned long byte)
{
	lockdep_assert_once(READ_ONCE(pages->pin_users));
	return page_to_phys(pages->pages[byte / PAGE_SIZE]) + byte % PAGE_SIZE;
}

/**
 * iopt_pages_contig() - length of physically contiguous memory at a byte
 * @pages: the memory, pinned (see iopt_pages_pin_get())
 * @byte: offset from pages->uptr
 * @max: stop after this many bytes
 * @page_only: stop at the end of the page holding @byte
 *
 * Context: the caller holds a pin, which keeps pages->pages in place.
 * Return: the number of bytes from @byte, at most @max, that are
 * physically contiguous.
 */
unsigned long iopt_pages_contig(struct iopt_pages *pages, unsigned long byte,
				unsigned long max, bool page_only)
{
	unsigned long idx = byte / PAGE_SIZE;
	unsigned long len = PAGE_SIZE - byte % PAGE_SIZE;
	unsigned long pfn;

	lockdep_assert_once(READ_ONCE(pages->pin_users));
	pfn = page_to_pfn(pages->pages[idx]);

	if (page_only)
		return min(len, max);
	while (len < max && idx + 1 < pages->npages &&
	       page_to_pfn(pages->pages[idx + 1]) == pfn + 1) {
		idx++;
		pfn++;
		len += PAGE_SIZE;
	}
	return min(len, max);
}

/* Context: the caller holds a pin, which keeps pages->pages in place. */
static void iopt_pages_copy_pinned(struct iopt_pages *pages,
				   unsigned long byte, void *data,
				   unsigned long length, bool write)
{
	lockdep_assert_once(READ_ONCE(pages->pin_users));

	while (length) {
		unsigned long off = byte % PAGE_SIZE;
		unsigned long n = min(length, PAGE_SIZE - off);
		void *kaddr = kmap_local_page(pages->pages[byte / PAGE_SIZE]);

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

/**
 * iopt_pages_rw() - copy between a kernel buffer and the memory
 * @pages: the memory
 * @byte: offset from pages->uptr of the first byte
 * @data: the kernel buffer
 * @length: number of bytes, within the range
 * @write: copy @data into the memory rather than out of it
 * @slow: do not use the pinned pages even if there are some
 *
 * Pinned memory is copied through the kernel's mapping of its pages. Memory
 * nobody pinned is copied through the user address space when this runs in
 * the process that mapped it, and pinned for the copy otherwise.
 *
 * Return: 0, or -EFAULT, -ENOMEM, -EINTR.
 */
int iopt_pages_rw(struct iopt_pages *pages, unsigned long byte, void *data,
		  unsigned long length, bool write, bool slow)
{
	void __user *uptr = pages->uptr + byte;
	int rc;

	if (!slow && iopt_pages_pin_more(pages)) {
		iopt_pages_copy_pinned(pages, byte, data, length, write);
		iopt_pages_pin_put(pages);
		return 0;
	}
	if (current->mm == pages->source_mm) {
		if (write)
			rc = copy_to_user(uptr, data, length);
		else
			rc = copy_from_user(data, uptr, length);
		return rc ? -EFAULT : 0;
	}
	rc = iopt_pages_pin_get(pages, NULL);
	if (rc)
		return rc;
	iopt_pages_copy_pinned(pages, byte, data, length, write);
	iopt_pages_pin_put(pages);
	return 0;
}
