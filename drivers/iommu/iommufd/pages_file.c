// SPDX-License-Identifier: GPL-2.0-only
/*
 * The pages of a file behind IOVA: IOMMU_IOAS_MAP_FILE.
 *
 * A file mapping names its memory by (file, offset) rather than by a user
 * address, so that a VMM can map guest memory that no process maps, or
 * map it again after the process that mapped it has changed. Only files
 * whose page cache is their memory qualify: shmem (memfd, tmpfs) and
 * hugetlbfs (memfd with MFD_HUGETLB, files on a hugetlbfs mount).
 *
 * Pages are taken from the page cache by index, never through page
 * tables: a hole is filled the way a read fault of a shared mapping would
 * fill it (zeroed memory added to the file), a page past the end of the
 * file is refused with -EINVAL. So the errors a file mapping can meet
 * arise when it is pinned, which is at map time only if the IOAS has a
 * domain already.
 *
 * What differs from upstream, which pins with memfd_pin_folios(): 6.1 has
 * no such call and exports no way to take FOLL_PIN pins of page cache
 * folios, so this file holds plain folio references, one per page handed
 * out, and drops them with put_page(). Consequences:
 *  - pages the file has already are not moved out of ZONE_MOVABLE or CMA
 *    before they are held, as FOLL_LONGTERM would: a long-lived mapping
 *    can stand in the way of memory hot-unplug and of CMA allocations.
 *    Only the pages that fill holes are allocated elsewhere, as pinning
 *    runs under memalloc_pin_save(). Migration and compaction leave a page
 *    with extra references alone, so the pages themselves do not move
 *    while devices use them;
 *  - folio_maybe_dma_pinned() does not see these references.
 * Either way the file keeps its pages: reclaim does not free a page that
 * has references, and a page removed from the file by truncation or hole
 * punching stays allocated, and mapped for DMA, until the mapping is
 * unpinned. Writes devices or the kernel make after that no longer reach
 * the file, as with upstream.
 *
 * Devices may have written to the pages of a writable mapping, so the
 * pages are marked dirty when they are released.
 *
 * A writable mapping needs the file open for writing, and holds the
 * mapping's write count (mapping_map_writable()) as a shared writable mmap
 * does: a memfd sealed with F_SEAL_WRITE or F_SEAL_FUTURE_WRITE is refused,
 * and F_SEAL_WRITE cannot be added while the mapping exists. An
 * append-only file is refused too, as mmap() refuses it to a writer.
 *
 * A page with a memory error (hwpoison) is never handed out: -EIO, as a
 * read() of it gets.
 */
#include <linux/fs.h>
#include <linux/falloc.h>
#include <linux/file.h>
#include <linux/highmem.h>
#include <linux/hugetlb.h>
#include <linux/magic.h>
#include <linux/mm.h>
#include <linux/pagemap.h>
#include <linux/pagevec.h>
#include <linux/sched/mm.h>
#include <linux/shmem_fs.h>

#include "io_pagetable.h"

/*
 * Whether @mapping is the page cache of a hugetlbfs inode, also behind a
 * SysV SHM_HUGETLB segment. is_file_hugepages() would need symbols 6.1
 * does not export to modules.
 */
static bool iopt_file_is_hugetlb(struct address_space *mapping)
{
	return IS_ENABLED(CONFIG_HUGETLBFS) &&
	       mapping->host->i_sb->s_magic == HUGETLBFS_MAGIC;
}

static unsigned int iopt_file_seals(struct address_space *mapping)
{
#ifdef CONFIG_HUGETLBFS
	if (iopt_file_is_hugetlb(mapping))
		return HUGETLBFS_I(mapping->host)->seals;
#endif
	return SHMEM_I(mapping->host)->seals;
}

/**
 * iopt_alloc_file_pages() - describe a range of a file's memory
 * @file: a shmem or hugetlbfs file; the iopt_pages holds it from now on
 * @start: offset into the file of the first byte
 * @length: number of bytes
 * @writable: whether devices may write the memory
 * @account_mode: one of enum iopt_account_mode, as for iopt_alloc_pages()
 * @usage: the totals of the mapping context, which outlives the memory
 *
 * The pages are charged to the calling process and user as for user
 * memory, when they are pinned; nothing is looked up yet, so neither holes
 * nor the size of the file matter here.
 *
 * Return: the new iopt_pages with one reference, or an ERR_PTR(): -EINVAL
 * for an empty range or a file that is not a regular file of shmem or
 * hugetlbfs,
 * -EOVERFLOW when the range wraps or lies past the largest file offset,
 * -EPERM for a file not open for reading, or not open for writing,
 * append-only or sealed against writes when @writable, -ENOMEM.
 */
struct iopt_pages *iopt_alloc_file_pages(struct file *file, u64 start,
					 unsigned long length, bool writable,
					 enum iopt_account_mode account_mode,
					 struct iopt_usage *usage)
{
	struct address_space *mapping = file->f_mapping;
	unsigned long offset = start % PAGE_SIZE;
	struct iopt_pages *pages;
	u64 last;
	int rc;

	if (!length)
		return ERR_PTR(-EINVAL);
	if (check_add_overflow(start, (u64)length - 1, &last) ||
	    last >= (u64)MAX_LFS_FILESIZE)
		return ERR_PTR(-EOVERFLOW);
	/* A device node on devtmpfs has shmem's page cache, but no memory. */
	if (!S_ISREG(file_inode(file)->i_mode) ||
	    (!shmem_mapping(mapping) && !iopt_file_is_hugetlb(mapping)))
		return ERR_PTR(-EINVAL);
	if (!(file->f_mode & FMODE_READ))
		return ERR_PTR(-EPERM);
	if (writable) {
		if (!(file->f_mode & FMODE_WRITE) ||
		    IS_APPEND(file_inode(file)) ||
		    (iopt_file_seals(mapping) &
		     (F_SEAL_WRITE | F_SEAL_FUTURE_WRITE)))
			return ERR_PTR(-EPERM);
		/* Fails once F_SEAL_WRITE is set, and holds it off. */
		rc = mapping_map_writable(mapping);
		if (rc)
			return ERR_PTR(rc);
	}

	/* The offset into the first page plays the part of the user address. */
	pages = iopt_alloc_pages((void __user *)offset, length, writable,
				 account_mode, usage);
	if (IS_ERR(pages)) {
		if (writable)
			mapping_unmap_writable(mapping);
		return pages;
	}
	pages->uptr = NULL;
	pages->file = get_file(file);
	pages->file_start = start - offset;
	return pages;
}

/**
 * iopt_file_release() - let go of the file of a dying iopt_pages
 * @pages: the iopt_pages, with no page held any more
 */
void iopt_file_release(struct iopt_pages *pages)
{
	if (pages->writable)
		mapping_unmap_writable(pages->file->f_mapping);
	fput(pages->file);
	pages->file = NULL;
}

/*
 * Fill the hole at huge page @hidx of a hugetlbfs file, as a read fault of
 * a shared mapping would. Only through the filesystem's fallocate can a
 * huge page be added to the page cache without a VMA in 6.1. The file's
 * own method is called rather than vfs_fallocate(), so that a file open
 * read-only can be mapped as well: adding zeroed pages within the file's
 * size changes nothing a reader could see.
 */
static int iopt_file_fill_huge(struct file *file, struct hstate *h,
			       pgoff_t hidx)
{
	loff_t pos = (loff_t)hidx << huge_page_shift(h);
	int rc;

	if (!file->f_op->fallocate)
		return -EINVAL;
	/*
	 * A hole in a huge page that the end of the file cuts: a fault there
	 * fails (SIGBUS), and filling it would reach past the end, which
	 * F_SEAL_GROW refuses and RLIMIT_FSIZE answers with SIGXFSZ.
	 */
	if (pos + huge_page_size(h) > i_size_read(file_inode(file)))
		return -EINVAL;
	rc = file->f_op->fallocate(file, FALLOC_FL_KEEP_SIZE, pos,
				   huge_page_size(h));
	/* The huge page pool is empty, or the file's size limit is hit. */
	if (rc == -ENOSPC)
		return -ENOMEM;
	/*
	 * hugetlbfs stops at any pending signal, not only a fatal one. A
	 * pin that fails undoes all it did, and the holes it filled stay
	 * filled: have the system call restarted, as a fault would be
	 * retried, rather than fail it with EINTR.
	 */
	if (rc == -EINTR)
		return -ERESTARTSYS;
	return rc;
}

/*
 * Whether @folio can take @n more references. Each page pinned from a file
 * is one reference on its folio, so a folio mapped over and over could
 * count up to an overflow (and a use-after-free); half the range keeps
 * clear of it with room for pins racing this check.
 */
static bool iopt_folio_refs_room(struct folio *folio, unsigned long n)
{
	return folio_ref_count(folio) <= INT_MAX / 2 - (int)n;
}

/*
 * The huge folio of the hugetlbfs file holding byte @pos, page aligned,
 * with one reference; in *@sub the index of @pos's page in it, and in
 * *@avail how many pages from there on are the file's: up to the end of
 * the folio or of the file, whose size need not be a whole number of huge
 * pages (fallocate() sets it to any byte). The page cache of a 6.1
 * hugetlbfs inode is indexed in huge pages, and each entry is a whole
 * huge folio.
 */
static struct folio *iopt_file_huge_folio(struct file *file, loff_t pos,
					  unsigned long *sub,
					  unsigned long *avail)
{
	struct address_space *mapping = file->f_mapping;
	struct hstate *h = hstate_inode(mapping->host);
	pgoff_t hidx = pos >> huge_page_shift(h);
	struct folio *folio;
	loff_t size;
	int rc;

	for (;;) {
		if (pos >= i_size_read(mapping->host))
			return ERR_PTR(-EINVAL);
		folio = filemap_get_folio(mapping, hidx);
		if (folio)
			break;
		/*
		 * A hole: fill it and look again. A hole punch may empty it
		 * again first; that is no reason to fail.
		 */
		rc = iopt_file_fill_huge(file, h, hidx);
		if (rc)
			return ERR_PTR(rc);
		if (fatal_signal_pending(current))
			return ERR_PTR(-EINTR);
	}
	/* A racing truncation may leave a page past the new end for a while. */
	size = i_size_read(mapping->host);
	if (pos >= size) {
		folio_put(folio);
		return ERR_PTR(-EINVAL);
	}
	/* hugetlbfs keeps a poisoned huge page in the file; read() says EIO. */
	if (folio_test_hwpoison(folio)) {
		folio_put(folio);
		return ERR_PTR(-EIO);
	}
	if (!iopt_folio_refs_room(folio, folio_nr_pages(folio))) {
		folio_put(folio);
		return ERR_PTR(-ENOMEM);
	}
	*sub = (pos & ~huge_page_mask(h)) >> PAGE_SHIFT;
	*avail = min_t(u64, folio_nr_pages(folio) - *sub,
		       DIV_ROUND_UP_ULL(size - pos, PAGE_SIZE));
	return folio;
}

/*
 * Reference up to @n pages of the hugetlbfs file from byte @pos on, all
 * inside one huge page.
 */
static long iopt_file_pin_huge(struct file *file, loff_t pos, unsigned long n,
			       struct page **out)
{
	unsigned long sub, avail, i;
	struct folio *folio;

	folio = iopt_file_huge_folio(file, pos, &sub, &avail);
	if (IS_ERR(folio))
		return PTR_ERR(folio);
	n = min(n, avail);
	if (n > 1)
		folio_ref_add(folio, n - 1);
	for (i = 0; i != n; i++)
		out[i] = folio_page(folio, sub + i);
	return n;
}

/*
 * Reference the page of the shmem file at byte @pos, reading it back from
 * swap or allocating a zeroed page for a hole: the same lookup as a read.
 * shmem refuses an index at or past the end of the file with -EINVAL.
 */
static long iopt_file_pin_shmem(struct file *file, loff_t pos,
				struct page **out)
{
	struct address_space *mapping = file->f_mapping;
	struct page *page;

	page = shmem_read_mapping_page_gfp(mapping, pos >> PAGE_SHIFT,
					   mapping_gfp_mask(mapping));
	if (IS_ERR(page))
		return PTR_ERR(page);
	if (!iopt_folio_refs_room(page_folio(page), 0)) {
		put_page(page);
		return -ENOMEM;
	}
	*out = page;
	return 1;
}

/*
 * Reference up to @n pages of the shmem file from page @index on that its
 * page cache holds ready to use, a batch of folios at one lookup and no
 * folio lock: the rest (holes, pages in swap, pages fallocate() left to be
 * zeroed, poisoned pages, pages at or past the end of the file) go
 * through iopt_file_pin_shmem(). Return: the number of pages referenced.
 */
static long iopt_file_pin_cached(struct file *file, pgoff_t index,
				 unsigned long n, struct page **out)
{
	struct address_space *mapping = file->f_mapping;
	pgoff_t eof = DIV_ROUND_UP(i_size_read(mapping->host), PAGE_SIZE);
	unsigned long done = 0, sub, k, j;
	struct folio_batch batch;
	pgoff_t next = index;
	unsigned int i;

	if (index >= eof)
		return 0;
	n = min(n, eof - index);
	folio_batch_init(&batch);
	filemap_get_folios_contig(mapping, &next, index + n - 1, &batch);
	/* The folios follow each other in the file from @index on. */
	for (i = 0; i != folio_batch_count(&batch); i++) {
		struct folio *folio = batch.folios[i];

		if (done == n || folio->index > index + done ||
		    !folio_test_uptodate(folio))
			break;
		sub = index + done - folio->index;
		k = min(n - done, folio_nr_pages(folio) - sub);
		for (j = 0; j != k; j++) {
			if (PageHWPoison(folio_page(folio, sub + j)))
				break;
			out[done + j] = folio_page(folio, sub + j);
		}
		/* The batch's reference serves the first page. */
		if (j > 1 && !iopt_folio_refs_room(folio, j - 1))
			j = 0;	/* iopt_file_pin_shmem() refuses it */
		if (j > 1)
			folio_ref_add(folio, j - 1);
		if (!j)
			break;
		done += j;
		batch.folios[i] = NULL;
		if (j != k)
			break;
	}
	for (; i != folio_batch_count(&batch); i++)
		if (batch.folios[i])
			folio_put(batch.folios[i]);
	return done;
}

/**
 * iopt_file_pin() - hold pages of a file mapping
 * @pages: the memory, a file mapping
 * @first: index of the first page, counted from pages->file_start
 * @n: number of pages wanted
 * @out: room for @n page pointers
 *
 * Like GUP: stops at the first page it cannot take, and then returns how
 * many it took, or the error if none. Each page handed out holds one
 * reference, see iopt_file_unpin().
 *
 * Context: may sleep, allocate, read from swap or take the inode lock.
 * Return: the number of pages taken, or -EINVAL (past the end of the
 * file), -ENOMEM (also for an empty hugetlb pool), -EIO (poisoned page),
 * -EINTR (a fatal signal while a hugetlbfs hole was filled), or
 * -ERESTARTSYS (another signal stopped hugetlbfs from filling one).
 */
long iopt_file_pin(struct iopt_pages *pages, unsigned long first,
		   unsigned long n, struct page **out)
{
	bool huge = iopt_file_is_hugetlb(pages->file->f_mapping);
	loff_t pos = pages->file_start + (loff_t)first * PAGE_SIZE;
	unsigned long done = 0;
	unsigned int flags;
	long rc = 0;

	/* Pages allocated for holes stay out of ZONE_MOVABLE and CMA. */
	flags = memalloc_pin_save();
	while (done != n) {
		if (huge)
			rc = iopt_file_pin_huge(pages->file, pos, n - done,
						out + done);
		else
			rc = iopt_file_pin_cached(pages->file,
						  pos >> PAGE_SHIFT, n - done,
						  out + done) ?:
			     iopt_file_pin_shmem(pages->file, pos, out + done);
		if (rc <= 0)
			break;
		done += rc;
		pos += (loff_t)rc * PAGE_SIZE;
	}
	memalloc_pin_restore(flags);
	return done ? done : rc;
}

/**
 * iopt_file_pin_run() - hold pages of a file that lie in one huge page
 * @pages: the memory, a file mapping
 * @first: index of the first page, counted from pages->file_start
 * @n: number of pages wanted
 * @unit: when not all @n lie in the huge page of the first, take a
 *        multiple of this many
 * @page: set to the first page
 *
 * For pages kept as runs (see pages.c): no list of them is written. A
 * huge page's pages are physically contiguous.
 *
 * Context: as iopt_file_pin().
 * Return: the number of pages held from @first on, @n or a multiple of
 * @unit, each holding a reference; 0 when the file is not on hugetlbfs or
 * fewer than @unit pages lie in the huge page, nothing held; an error of
 * iopt_file_pin().
 */
long iopt_file_pin_run(struct iopt_pages *pages, unsigned long first,
		       unsigned long n, unsigned long unit, struct page **page)
{
	loff_t pos = pages->file_start + (loff_t)first * PAGE_SIZE;
	struct folio *folio;
	unsigned long sub, avail;
	unsigned int flags;

	if (!iopt_file_is_hugetlb(pages->file->f_mapping))
		return 0;
	flags = memalloc_pin_save();
	folio = iopt_file_huge_folio(pages->file, pos, &sub, &avail);
	memalloc_pin_restore(flags);
	if (IS_ERR(folio))
		return PTR_ERR(folio);
	if (n > avail)
		n = round_down(avail, unit);
	if (!n) {
		folio_put(folio);
		return 0;
	}
	if (n > 1)
		folio_ref_add(folio, n - 1);
	*page = folio_page(folio, sub);
	return n;
}

/*
 * Drop @k references to @folio, marking it dirty first if writable. A
 * folio dirty already is left alone, unlocked, as
 * unpin_user_pages_dirty_lock() does: should writeback be cleaning it
 * right now, it writes out what devices wrote, all that marking it dirty
 * asks for.
 */
static void iopt_file_put(struct iopt_pages *pages, struct folio *folio,
			  unsigned long k)
{
	if (pages->writable && !folio_test_dirty(folio)) {
		folio_lock(folio);
		folio_mark_dirty(folio);
		folio_unlock(folio);
	}
	folio_put_refs(folio, k);
}

/**
 * iopt_file_unpin() - release pages from iopt_file_pin()
 * @pages: the file mapping they came from
 * @list: the pages
 * @n: number of pages
 *
 * Pages of a writable mapping are marked dirty first, as devices may have
 * written them: the file keeps what they wrote.
 */
void iopt_file_unpin(struct iopt_pages *pages, struct page **list,
		     unsigned long n)
{
	unsigned long i = 0, k;

	/* Consecutive pages of one folio go back together. */
	while (i != n) {
		struct folio *folio = page_folio(list[i]);

		k = 1;
		while (i + k != n && k < INT_MAX &&
		       page_folio(list[i + k]) == folio)
			k++;
		iopt_file_put(pages, folio, k);
		i += k;
	}
}

/**
 * iopt_file_unpin_run() - release physically contiguous pages
 * @pages: the file mapping they came from
 * @page: the first page
 * @n: number of pages, each taken by iopt_file_pin()
 *
 * As iopt_file_unpin(), a folio at a time.
 */
void iopt_file_unpin_run(struct iopt_pages *pages, struct page *page,
			 unsigned long n)
{
	while (n) {
		struct folio *folio = page_folio(page);
		unsigned long k;

		/* A folio has fewer than INT_MAX pages. */
		k = min(n, folio_nr_pages(folio) -
				   (page_to_pfn(page) - folio_pfn(folio)));
		iopt_file_put(pages, folio, k);
		page = nth_page(page, k);
		n -= k;
	}
}

/**
 * iopt_file_rw() - copy between a kernel buffer and a file mapping
 * @pages: the memory, a file mapping
 * @byte: offset from the first page of the first byte
 * @data: the kernel buffer
 * @length: number of bytes, within the range
 * @write: copy @data into the memory rather than out of it
 *
 * Each page is held only while it is copied, and not charged: a copy
 * reaches the file as a read() or write() of it would.
 *
 * Return: 0, or an error of iopt_file_pin().
 */
int iopt_file_rw(struct iopt_pages *pages, unsigned long byte, void *data,
		 unsigned long length, bool write)
{
	while (length) {
		unsigned long off = byte % PAGE_SIZE;
		unsigned long n = min(length, PAGE_SIZE - off);
		struct page *page;
		void *kaddr;
		long rc;

		rc = iopt_file_pin(pages, byte / PAGE_SIZE, 1, &page);
		if (rc < 0)
			return rc;
		kaddr = kmap_local_page(page);
		if (write)
			memcpy(kaddr + off, data, n);
		else
			memcpy(data, kaddr + off, n);
		kunmap_local(kaddr);
		if (write) {
			flush_dcache_page(page);
			set_page_dirty_lock(page);
		}
		put_page(page);
		byte += n;
		data += n;
		length -= n;
		cond_resched();
	}
	return 0;
}
