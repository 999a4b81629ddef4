// SPDX-License-Identifier: GPL-2.0-only
/*
 * The VFIO container API, served by an iommufd context.
 *
 * Programs written for VFIO's type1 container (QEMU, DPDK, ...) open
 * /dev/vfio/vfio, join groups to it with VFIO_GROUP_SET_CONTAINER and map
 * memory with VFIO_IOMMU_MAP_DMA. Any iommufd context answers those
 * ioctls: /dev/iommu itself, and /dev/vfio/vfio when iommufd provides it
 * (CONFIG_IOMMUFD_VFIO_CONTAINER, main.c). The container ioctls name no
 * IOAS, so they all work on one IOAS of the context, its compat IOAS
 * (ictx->vfio_ioas): the first VFIO group joined to the context makes one
 * unless userspace picked one with IOMMU_VFIO_IOAS, and devices opened
 * through such a group attach to it (drivers/vfio/iommufd.c). The compat
 * IOAS is an ordinary object otherwise: userspace may look it up, map into
 * it with IOMMU_IOAS_MAP, or destroy it.
 *
 * What type1 does and this emulation does the same: API version and
 * extensions, SET_IOMMU for TYPE1 and TYPE1v2, GET_INFO with the IOVA
 * page sizes, the usable IOVA ranges (reserved regions cut out) and the
 * DMA-available capability, MAP_DMA and UNMAP_DMA with UNMAP_ALL, pinned
 * memory charged to the process's locked_vm (/dev/vfio/vfio) or as
 * IOMMU_OPTION_RLIMIT_MODE says. Where upstream Linux's emulation and
 * type1 differ, this follows upstream:
 *
 *  - TYPE1v2 unmaps whole mappings only: a range that cuts one fails with
 *    ENOENT (type1: EINVAL). TYPE1 (v1) turns large IOPTEs off and cuts
 *    mappings at the range's ends, so any page-aligned part of a mapping
 *    can be unmapped (type1 v1 unmapped a whole mapping when the range
 *    held its first IOVA, and nothing when it did not).
 *  - The DMA-available capability reports U32_MAX: the limit is memory,
 *    not a count of mappings.
 *  - VFIO_DMA_MAP_FLAG_VADDR, VFIO_UPDATE_VADDR and dirty page tracking
 *    through the container (VFIO_IOMMU_DIRTY_PAGES, the unmap dirty
 *    bitmap) are not emulated: the extensions read 0, the flags EINVAL,
 *    the ioctl ENOTTY. No-IOMMU mode is not emulated either.
 *  - VFIO_DMA_CC_IOMMU reads 0: iommufd does not turn on snoop control
 *    in the domains it makes, so it cannot promise that a device's
 *    no-snoop DMA is coherent (KVM then keeps emulating WBINVD).
 *
 * And, as type1 and unlike upstream's emulation, MAP_DMA and UNMAP_DMA
 * want page-aligned IOVAs, sizes and addresses and at least one of READ
 * and WRITE (EINVAL otherwise).
 */
#include <linux/iommu.h>
#include <linux/iommufd.h>
#include <linux/overflow.h>
#include <linux/slab.h>
#include <linux/uaccess.h>
#include <uapi/linux/iommufd.h>
#include <uapi/linux/vfio.h>

#include "iommufd_private.h"

/* The compat IOAS, referenced; ERR_PTR(-ENODEV) while there is none. */
static struct iommufd_ioas *iommufd_vfio_ioas_get(struct iommufd_ctx *ictx)
{
	struct iommufd_ioas *ioas;

	xa_lock(&ictx->objects);
	ioas = ictx->vfio_ioas;
	if (!ioas || !refcount_inc_not_zero(&ioas->obj.users))
		ioas = ERR_PTR(-ENODEV);
	xa_unlock(&ictx->objects);
	return ioas;
}

/**
 * iommufd_vfio_compat_ioas_create() - make sure the context has a compat IOAS
 * @ictx: the context a VFIO group is joined to
 *
 * Keeps the compat IOAS the context has, or makes a new IOAS the compat
 * one. The new IOAS belongs to userspace like any other: it can learn its
 * ID with IOMMU_VFIO_IOAS and destroy it; closing the context does.
 *
 * Return: 0 or -ENOMEM.
 */
int iommufd_vfio_compat_ioas_create(struct iommufd_ctx *ictx)
{
	struct iommufd_ioas *ioas, *old;

	old = iommufd_vfio_ioas_get(ictx);
	if (!IS_ERR(old)) {
		iommufd_put_object(&old->obj);
		return 0;
	}

	ioas = iommufd_ioas_alloc(ictx);
	if (IS_ERR(ioas))
		return PTR_ERR(ioas);
	/*
	 * Published with the pointer to it: a group that finds the compat
	 * IOAS must find its ID usable too.
	 */
	xa_lock(&ictx->objects);
	old = ictx->vfio_ioas;
	if (!old) {
		ictx->vfio_ioas = ioas;
		__iommufd_object_publish(ictx, &ioas->obj);
	}
	xa_unlock(&ictx->objects);
	/* Another group got there first: use its IOAS. */
	if (old)
		iommufd_object_unwind(ictx, &ioas->obj);
	return 0;
}
EXPORT_SYMBOL_NS_GPL(iommufd_vfio_compat_ioas_create, IOMMUFD);

/**
 * iommufd_vfio_compat_ioas_get_id() - the ID of the compat IOAS
 * @ictx: the context
 * @out_ioas_id: set to the ID, to attach a device or an access to
 *
 * Return: 0, or -ENODEV if the context has no compat IOAS (userspace
 * cleared it or destroyed it).
 */
int iommufd_vfio_compat_ioas_get_id(struct iommufd_ctx *ictx, u32 *out_ioas_id)
{
	struct iommufd_ioas *ioas = iommufd_vfio_ioas_get(ictx);

	if (IS_ERR(ioas))
		return PTR_ERR(ioas);
	*out_ioas_id = ioas->obj.id;
	iommufd_put_object(&ioas->obj);
	return 0;
}
EXPORT_SYMBOL_NS_GPL(iommufd_vfio_compat_ioas_get_id, IOMMUFD);

/**
 * iommufd_vfio_ioas() - IOMMU_VFIO_IOAS
 * @ucmd: the ioctl, with a struct iommu_vfio_ioas
 *
 * Return: 0; -ENODEV to GET while there is no compat IOAS; -ENOENT to SET
 * an ID that names no IOAS; -EOPNOTSUPP for a bad @op or reserved field.
 */
int iommufd_vfio_ioas(struct iommufd_ucmd *ucmd)
{
	struct iommu_vfio_ioas *cmd = ucmd->args;
	struct iommufd_ctx *ictx = ucmd->ictx;
	struct iommufd_ioas *ioas;

	if (cmd->__reserved)
		return -EOPNOTSUPP;

	switch (cmd->op) {
	case IOMMU_VFIO_IOAS_GET:
		ioas = iommufd_vfio_ioas_get(ictx);
		if (IS_ERR(ioas))
			return iommufd_ucmd_fail(ucmd, PTR_ERR(ioas),
						 "the context has no VFIO compat IOAS");
		cmd->ioas_id = ioas->obj.id;
		iommufd_put_object(&ioas->obj);
		return iommufd_ucmd_reply(ucmd, sizeof(*cmd));
	case IOMMU_VFIO_IOAS_SET:
		ioas = iommufd_ioas_lookup(ictx, cmd->ioas_id);
		if (IS_ERR(ioas))
			return iommufd_ucmd_fail(ucmd, PTR_ERR(ioas),
						 "no IOAS with ID %u",
						 cmd->ioas_id);
		/* Our reference keeps it from being destroyed meanwhile. */
		xa_lock(&ictx->objects);
		ictx->vfio_ioas = ioas;
		xa_unlock(&ictx->objects);
		iommufd_put_object(&ioas->obj);
		return 0;
	case IOMMU_VFIO_IOAS_CLEAR:
		xa_lock(&ictx->objects);
		ictx->vfio_ioas = NULL;
		xa_unlock(&ictx->objects);
		return 0;
	default:
		return -EOPNOTSUPP;
	}
}

/* VFIO_CHECK_EXTENSION: 1 for what the emulation really does. */
static long iommufd_vfio_check_extension(unsigned long type)
{
	switch (type) {
	case VFIO_TYPE1_IOMMU:
	case VFIO_TYPE1v2_IOMMU:
	case VFIO_UNMAP_ALL:
		return 1;
	default:
		/* DMA_CC, NOIOMMU, UPDATE_VADDR, nesting: see the top. */
		return 0;
	}
}

static long iommufd_vfio_set_iommu(struct iommufd_ctx *ictx,
				   unsigned long type)
{
	struct iommufd_ioas *ioas;
	int rc = 0;

	if (type != VFIO_TYPE1_IOMMU && type != VFIO_TYPE1v2_IOMMU)
		return -EINVAL;
	/* As type1: no IOMMU to set before a group joined. */
	ioas = iommufd_vfio_ioas_get(ictx);
	if (IS_ERR(ioas))
		return PTR_ERR(ioas);
	/* v1 unmaps parts of mappings: every IOPTE must be one page. */
	if (type == VFIO_TYPE1_IOMMU)
		rc = iopt_set_large_pages(&ioas->iopt, false);
	iommufd_put_object(&ioas->obj);
	return rc;
}

/* type1's rule: everything page aligned, something to map, no wrap. */
static bool iommufd_vfio_range_ok(u64 iova, u64 size, u64 vaddr)
{
	u64 iova_last, vaddr_last;

	if (!size || ((iova | size | vaddr) & ~PAGE_MASK) ||
	    check_add_overflow(iova, size - 1, &iova_last) ||
	    check_add_overflow(vaddr, size - 1, &vaddr_last))
		return false;
	/* The IOVA and the address must fit the kernel's unsigned long. */
	return iova_last == (unsigned long)iova_last &&
	       vaddr_last == (unsigned long)vaddr_last;
}

static long iommufd_vfio_map_dma(struct iommufd_ctx *ictx, void __user *arg)
{
	u32 access = VFIO_DMA_MAP_FLAG_READ | VFIO_DMA_MAP_FLAG_WRITE;
	size_t minsz = offsetofend(struct vfio_iommu_type1_dma_map, size);
	struct vfio_iommu_type1_dma_map map;
	int prot = IOMMU_CACHE;
	char why[IOPT_WHY_LEN] = "";
	struct iommufd_ioas *ioas;
	unsigned long iova;
	int rc;

	if (copy_from_user(&map, arg, minsz))
		return -EFAULT;
	if (map.argsz < minsz || (map.flags & ~access) || !map.flags ||
	    !iommufd_vfio_range_ok(map.iova, map.size, map.vaddr))
		return -EINVAL;
	if (map.flags & VFIO_DMA_MAP_FLAG_READ)
		prot |= IOMMU_READ;
	if (map.flags & VFIO_DMA_MAP_FLAG_WRITE)
		prot |= IOMMU_WRITE;

	ioas = iommufd_vfio_ioas_get(ictx);
	if (IS_ERR(ioas))
		return PTR_ERR(ioas);
	iova = map.iova;
	rc = iopt_map_user_pages(&ioas->iopt, &iova, u64_to_user_ptr(map.vaddr),
				 map.size, prot, true, ictx->account_mode, why);
	iommufd_put_object(&ioas->obj);
	if (rc)
		iommufd_ctx_refused(ictx, "VFIO_IOMMU_MAP_DMA", rc, why);
	return rc;
}

static long iommufd_vfio_unmap_dma(struct iommufd_ctx *ictx, void __user *arg)
{
	size_t minsz = offsetofend(struct vfio_iommu_type1_dma_unmap, size);
	struct vfio_iommu_type1_dma_unmap unmap;
	char why[IOPT_WHY_LEN] = "";
	unsigned long unmapped = 0;
	struct iommufd_ioas *ioas;
	int rc;

	if (copy_from_user(&unmap, arg, minsz))
		return -EFAULT;
	if (unmap.argsz < minsz || (unmap.flags & ~VFIO_DMA_UNMAP_FLAG_ALL))
		return -EINVAL;
	if (unmap.flags & VFIO_DMA_UNMAP_FLAG_ALL) {
		if (unmap.iova || unmap.size)
			return -EINVAL;
	} else if (!iommufd_vfio_range_ok(unmap.iova, unmap.size, 0)) {
		return -EINVAL;
	}

	ioas = iommufd_vfio_ioas_get(ictx);
	if (IS_ERR(ioas))
		return PTR_ERR(ioas);
	if (unmap.flags & VFIO_DMA_UNMAP_FLAG_ALL) {
		rc = iopt_unmap_everything(&ioas->iopt, &unmapped);
	} else {
		/* v1: end the mappings the range cuts at its two ends. */
		if (READ_ONCE(ioas->iopt.disable_large_pages)) {
			unsigned long lasts[] = { unmap.iova + unmap.size - 1,
						  unmap.iova - 1 };

			rc = iopt_cut_iova(&ioas->iopt, lasts,
					   unmap.iova ? 2 : 1);
			if (rc)
				goto out_put;
		}
		rc = iopt_unmap_iova(&ioas->iopt, unmap.iova, unmap.size,
				     &unmapped, why);
	}
out_put:
	iommufd_put_object(&ioas->obj);
	if (rc) {
		iommufd_ctx_refused(ictx, "VFIO_IOMMU_UNMAP_DMA", rc, why);
		return rc;
	}
	unmap.size = unmapped;
	if (copy_to_user(arg, &unmap, minsz))
		return -EFAULT;
	return 0;
}

/* The IO page sizes every domain of the IOAS can map, as type1 reports. */
static u64 iommufd_vfio_pgsizes(struct io_pagetable *iopt)
{
	unsigned long pgsizes = ULONG_MAX;
	struct iommu_domain *domain;
	unsigned long index;

	lockdep_assert_held(&iopt->iova_rwsem);

	xa_for_each(&iopt->domains, index, domain)
		pgsizes &= domain->pgsize_bitmap;
	/* Below a CPU page is no use to userspace: round up to one page. */
	if (pgsizes & ~PAGE_MASK) {
		pgsizes &= PAGE_MASK;
		pgsizes |= PAGE_SIZE;
	}
	/* Nothing below the table's own granularity can be mapped. */
	return pgsizes & ~(iopt->iova_alignment - 1);
}

/*
 * The capabilities of VFIO_IOMMU_GET_INFO, DMA-available then the usable
 * IOVA ranges, built in a kernel buffer under the table lock and copied
 * out after it; *@len is set to their size.
 */
static void *iommufd_vfio_info_caps(struct io_pagetable *iopt, size_t *len)
{
	struct vfio_iommu_type1_info_cap_iova_range *iovas;
	struct vfio_iommu_type1_info_dma_avail *avail;
	size_t avail_len = ALIGN(sizeof(*avail), sizeof(u64));
	unsigned long start, last, from = 0;
	size_t iovas_len, room;
	u32 n = 0;
	void *buf;

	lockdep_assert_held(&iopt->iova_rwsem);

	/* A usable range before each reservation and one after the last. */
	room = iopt_count_reserved_spans(iopt) + 1;
	iovas_len = ALIGN(struct_size(iovas, iova_ranges, room), sizeof(u64));
	buf = kvzalloc(avail_len + iovas_len,
		       GFP_KERNEL_ACCOUNT | __GFP_NOWARN);
	if (!buf)
		return ERR_PTR(-ENOMEM);

	avail = buf;
	avail->header.id = VFIO_IOMMU_TYPE1_INFO_DMA_AVAIL;
	avail->header.version = 1;
	/* The limit is memory, not a number of mappings: as upstream. */
	avail->avail = U32_MAX;

	avail->header.next = avail_len;	/* from the first cap, fixed up below */
	iovas = buf + avail_len;
	iovas->header.id = VFIO_IOMMU_TYPE1_INFO_CAP_IOVA_RANGE;
	iovas->header.version = 1;
	while (n < room && iopt_find_usable_span(iopt, from, &start, &last)) {
		iovas->iova_ranges[n].start = start;
		iovas->iova_ranges[n].end = last;
		n++;
		if (last == ULONG_MAX)
			break;
		from = last + 1;
	}
	iovas->nr_iovas = n;
	iovas_len = ALIGN(struct_size(iovas, iova_ranges, n), sizeof(u64));
	*len = avail_len + iovas_len;
	return buf;
}

static long iommufd_vfio_get_info(struct iommufd_ctx *ictx, void __user *arg)
{
	size_t minsz = offsetofend(struct vfio_iommu_type1_info, iova_pgsizes);
	struct vfio_iommu_type1_info info = {};
	struct vfio_info_cap_header *hdr;
	struct iommufd_ioas *ioas;
	size_t caps_len, outsz;
	void *caps;
	int rc = 0;

	if (copy_from_user(&info, arg, minsz))
		return -EFAULT;
	if (info.argsz < minsz)
		return -EINVAL;
	/* Users from before the capability chain have no cap_offset. */
	outsz = min_t(size_t, info.argsz, sizeof(info));

	ioas = iommufd_vfio_ioas_get(ictx);
	if (IS_ERR(ioas))
		return PTR_ERR(ioas);
	down_read(&ioas->iopt.iova_rwsem);
	info.iova_pgsizes = iommufd_vfio_pgsizes(&ioas->iopt);
	caps = iommufd_vfio_info_caps(&ioas->iopt, &caps_len);
	up_read(&ioas->iopt.iova_rwsem);
	iommufd_put_object(&ioas->obj);
	if (IS_ERR(caps))
		return PTR_ERR(caps);

	info.flags = VFIO_IOMMU_INFO_PGSIZES | VFIO_IOMMU_INFO_CAPS;
	info.cap_offset = 0;
	/* All capabilities or none: argsz tells how much room they need. */
	if (info.argsz >= sizeof(info) + caps_len) {
		/* Chain the two: offsets count from the start of @info. */
		hdr = caps;
		hdr->next += sizeof(info);
		info.cap_offset = sizeof(info);
		if (copy_to_user(arg + sizeof(info), caps, caps_len))
			rc = -EFAULT;
	}
	kvfree(caps);
	if (rc)
		return rc;
	info.argsz = sizeof(info) + caps_len;
	if (copy_to_user(arg, &info, outsz))
		return -EFAULT;
	return 0;
}

/**
 * iommufd_vfio_ioctl() - a VFIO container ioctl on an iommufd file
 * @ictx: the context
 * @cmd: an ioctl number of type VFIO_TYPE
 * @arg: its argument
 *
 * Return: what type1 returns for the ioctl, see the top of this file;
 * -ENOTTY for ioctls that are not emulated.
 */
long iommufd_vfio_ioctl(struct iommufd_ctx *ictx, unsigned int cmd,
			unsigned long arg)
{
	void __user *uarg = (void __user *)arg;

	switch (cmd) {
	case VFIO_GET_API_VERSION:
		return VFIO_API_VERSION;
	case VFIO_CHECK_EXTENSION:
		return iommufd_vfio_check_extension(arg);
	case VFIO_SET_IOMMU:
		return iommufd_vfio_set_iommu(ictx, arg);
	case VFIO_IOMMU_GET_INFO:
		return iommufd_vfio_get_info(ictx, uarg);
	case VFIO_IOMMU_MAP_DMA:
		return iommufd_vfio_map_dma(ictx, uarg);
	case VFIO_IOMMU_UNMAP_DMA:
		return iommufd_vfio_unmap_dma(ictx, uarg);
	default:
		/* VFIO_IOMMU_DIRTY_PAGES among them: see the top. */
		return -ENOTTY;
	}
}
