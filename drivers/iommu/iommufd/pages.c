// SPDX-License-Identifier: GPL-2.0-only
/*
 * User memory behind IOVA mappings.
 *
 * An iopt_pages records a range of a process's virtual memory that one or
 * more areas map. Nothing is pinned while no device can reach the memory:
 * pinning and accounting happen when a domain or an in-kernel access needs
 * the pages, and are undone when the last of them lets go.
 */
#include <linux/kernel.h>
#include <linux/overflow.h>
#include <linux/sched/mm.h>
#include <linux/slab.h>

#include "io_pagetable.h"

/**
 * iopt_alloc_pages() - describe a range of the current process's memory
 * @uptr: first byte of the range
 * @length: number of bytes
 * @writable: whether devices may write the memory
 *
 * Return: the new iopt_pages with one reference, or an ERR_PTR():
 * -EINVAL for an empty or absurdly long range, -EOVERFLOW when the range
 * wraps around the address space, -ENOMEM.
 */
struct iopt_pages *iopt_alloc_pages(void __user *uptr, unsigned long length,
				    bool writable)
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
	pages->uptr = (void __user *)ALIGN_DOWN(start, PAGE_SIZE);
	end -= ALIGN_DOWN(start, PAGE_SIZE);
	/* Rounds up without the overflow DIV_ROUND_UP() would have here. */
	pages->npages = end / PAGE_SIZE + !!(end % PAGE_SIZE);
	pages->writable = writable;
	pages->source_mm = current->mm;
	mmgrab(pages->source_mm);
	return pages;
}

/**
 * iopt_release_pages() - free an iopt_pages when its last user is gone
 * @kref: the iopt_pages' kref
 */
void iopt_release_pages(struct kref *kref)
{
	struct iopt_pages *pages = container_of(kref, struct iopt_pages, kref);

	mmdrop(pages->source_mm);
	kfree(pages);
}
