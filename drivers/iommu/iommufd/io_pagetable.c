// SPDX-License-Identifier: GPL-2.0-only
/*
 * The IOVA space of an IO address space.
 *
 * An io_pagetable describes which IOVAs of an IOAS userspace may use and,
 * as mapping support is added, what is mapped where. Callers name IOVA
 * spans by their first and their last IOVA: 'last' is inclusive, so a span
 * that reaches the top of the address space is representable without
 * overflow.
 */
#include <linux/kernel.h>
#include <linux/lockdep.h>
#include <linux/mm.h>

#include "iommufd_private.h"

/**
 * iopt_init_table() - initialise an empty IOVA space
 * @iopt: the table to initialise
 *
 * Every IOVA is usable and nothing is mapped.
 */
void iopt_init_table(struct io_pagetable *iopt)
{
	init_rwsem(&iopt->iova_rwsem);
	/* Mapping granularity until a domain with larger pages is attached. */
	iopt->iova_alignment = PAGE_SIZE;
}

/**
 * iopt_destroy_table() - release an IOVA space
 * @iopt: the table
 *
 * The table must no longer be reachable by any other thread.
 */
void iopt_destroy_table(struct io_pagetable *iopt)
{
	lockdep_assert_not_held(&iopt->iova_rwsem);
}

/**
 * iopt_find_usable_span() - find the next span of IOVA that may be mapped
 * @iopt: the table
 * @from: lowest IOVA of interest
 * @start: set to the first IOVA of the span found
 * @last: set to the last IOVA of the span found, inclusive
 *
 * Nothing restricts the IOVA space yet, so the usable span that starts at
 * or after @from is everything from @from to the top.
 *
 * Context: caller holds @iopt->iova_rwsem.
 * Return: true if a span was found.
 */
bool iopt_find_usable_span(struct io_pagetable *iopt, unsigned long from,
			   unsigned long *start, unsigned long *last)
{
	lockdep_assert_held(&iopt->iova_rwsem);

	*start = from;
	*last = ULONG_MAX;
	return true;
}
