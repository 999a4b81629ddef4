// SPDX-License-Identifier: GPL-2.0-only
/*
 * CONFIG_IOMMUFD_TEST: the IOMMU_TEST_CMD ioctl and the mock IOMMU.
 *
 * Test operations reach into the subsystem to set up what userspace alone
 * cannot (a device's reserved IOVA, devices behind a mock IOMMU) and to
 * check internal invariants (what a domain maps, how often a page is
 * pinned). Nothing here is built into a production kernel, and no
 * production path calls into this file.
 *
 * The mock IOMMU lives on a bus of its own, "iommufd_mock", whose
 * iommu_ops are the mock's: 6.1 looks IOMMU ops up per bus, so the mock
 * and the real intel-iommu serve their own devices side by side in one
 * kernel. Its IO page is half a CPU page, so that the tests catch code
 * that confuses the two; its aperture is [MOCK_APERTURE_START,
 * MOCK_APERTURE_LAST]. A mock domain is an xarray from IO page number to
 * physical address, and it WARNs when asked to map over a mapping, to
 * unmap a hole, or when freed non-empty: iommufd must never do any of
 * these, and a WARN fails the test that caused it.
 *
 * Dirty tracking: a domain made with IOMMU_HWPT_ALLOC_DIRTY_TRACKING has
 * dirty ops. Each IOPTE (xarray entry) carries a dirty bit, which nothing
 * but IOMMU_TEST_OP_DIRTY sets: it stands in for a device's DMA writes. A
 * device made with MOCK_FLAGS_DEVICE_HUGE_IOVA gets domains that also map
 * MOCK_HUGE_PAGE_SIZE IOPTEs; their IO pages carry a huge bit, and the
 * dirty state of such an IOPTE is reported for the whole of it, as
 * hardware with large IOPTEs does. 6.1's domain_alloc(type) cannot know
 * the device, so iommufd's domains come from mock_domain_alloc_user().
 *
 * Nesting: any mock paging domain may parent nested ones (the flag
 * IOMMU_HWPT_ALLOC_NEST_PARENT is accepted and changes nothing in it). A
 * mock nested domain (IOMMU_HWPT_DATA_SELFTEST) has no table at all, only
 * MOCK_NESTED_DOMAIN_IOTLB_NUM "IOTLB entries" set from struct
 * iommu_hwpt_selftest, which IOMMU_HWPT_INVALIDATE clears one by one or
 * all together and IOMMU_TEST_OP_MD_CHECK_IOTLB reads back.
 */
#include <linux/anon_inodes.h>
#include <linux/completion.h>
#include <linux/device.h>
#include <linux/file.h>
#include <linux/idr.h>
#include <linux/iommu.h>
#include <linux/iommufd.h>
#include <linux/mm.h>
#include <linux/overflow.h>
#include <linux/property.h>
#include <linux/refcount.h>
#include <linux/seq_file.h>
#include <linux/slab.h>
#include <linux/workqueue.h>
#include <linux/xarray.h>
#include <uapi/linux/iommufd.h>

#include "iommufd_private.h"
#include "iommufd_test.h"

#define MOCK_IO_PAGE_SIZE (PAGE_SIZE / 2)
#define MOCK_HUGE_PAGE_SIZE (512 * MOCK_IO_PAGE_SIZE)

/*
 * An xarray entry of a mock domain: the physical IO page number, and the
 * IOPTE's dirty and huge bits above it (below bit 62, as xa_mk_value()
 * needs).
 */
#define MOCK_PFN_DIRTY BIT(61)
#define MOCK_PFN_HUGE BIT(60)
#define MOCK_PFN_MASK (MOCK_PFN_HUGE - 1)

/* mock_domain::flags */
enum {
	MOCK_DOMAIN_DIRTY_TRACKING, /* a bit number */
};

static struct bus_type iommufd_mock_bus = {
	.name = "iommufd_mock",
};

static struct iommu_device mock_iommu;
static DEFINE_IDA(mock_dev_ida);

/* The group of every MOCK_FLAGS_DEVICE_SHARED_GROUP device; see below. */
static DEFINE_MUTEX(mock_shared_group_lock);
static struct iommu_group *mock_shared_group; /* protected by the lock */

/**
 * struct mock_domain - a domain of the mock IOMMU
 * @domain: the generic domain
 * @pfns: IO page number -> xa_mk_value(physical address / IO page size,
 *        with MOCK_PFN_DIRTY and MOCK_PFN_HUGE)
 * @flags: MOCK_DOMAIN_DIRTY_TRACKING, set while tracking is on
 */
struct mock_domain {
	struct iommu_domain domain;
	struct xarray pfns;
	unsigned long flags;
};

/* The physical address an entry of mock_domain::pfns maps. */
static phys_addr_t mock_entry_phys(void *ent)
{
	return (phys_addr_t)(xa_to_value(ent) & MOCK_PFN_MASK) *
	       MOCK_IO_PAGE_SIZE;
}

static struct mock_domain *to_mock_domain(struct iommu_domain *domain)
{
	return container_of(domain, struct mock_domain, domain);
}

/**
 * struct mock_nested_domain - a nested domain of the mock IOMMU
 * @domain: the generic domain, of type IOMMU_DOMAIN_NESTED
 * @parent: the paging domain it is nested on
 * @iotlb: the mock IOTLB entries; 0 once invalidated
 */
struct mock_nested_domain {
	struct iommu_domain domain;
	struct mock_domain *parent;
	u32 iotlb[MOCK_NESTED_DOMAIN_IOTLB_NUM];
};

static struct mock_nested_domain *
to_mock_nested_domain(struct iommu_domain *domain)
{
	return container_of(domain, struct mock_nested_domain, domain);
}

/**
 * struct mock_dev - a device behind the mock IOMMU
 * @dev: the device, on iommufd_mock_bus
 * @id: number in the device's name
 * @flags: MOCK_FLAGS_DEVICE_* it was made with
 * @responses: page responses the device received, see mock_page_response()
 * @last_grpid: the group of the last one
 * @last_code: its code
 */
struct mock_dev {
	struct device dev;
	int id;
	u32 flags;
	atomic_t responses;
	u32 last_grpid;
	u32 last_code;
};

/**
 * struct selftest_obj - IOMMU_TEST_OP_MOCK_DOMAIN's object: a mock device
 * bound to the context and attached
 * @obj: the object header; IOMMU_DESTROY of it removes the device
 * @mdev: the mock device
 * @idev: the device's binding to the context
 */
struct selftest_obj {
	struct iommufd_object obj;
	struct mock_dev *mdev;
	struct iommufd_device *idev;
};

static const struct iommu_ops mock_ops;
static const struct iommu_domain_ops mock_nested_ops;

static struct iommu_domain *mock_domain_alloc(unsigned int type)
{
	struct mock_domain *mock;

	if (type != IOMMU_DOMAIN_UNMANAGED && type != IOMMU_DOMAIN_BLOCKED &&
	    type != IOMMU_DOMAIN_IDENTITY)
		return NULL;
	mock = kzalloc(sizeof(*mock), GFP_KERNEL);
	if (!mock)
		return NULL;
	xa_init(&mock->pfns);
	if (type == IOMMU_DOMAIN_UNMANAGED) {
		mock->domain.geometry.aperture_start = MOCK_APERTURE_START;
		mock->domain.geometry.aperture_end = MOCK_APERTURE_LAST;
		mock->domain.geometry.force_aperture = true;
	}
	mock->domain.pgsize_bitmap = MOCK_IO_PAGE_SIZE;
	return &mock->domain;
}

static void mock_domain_free(struct iommu_domain *domain)
{
	struct mock_domain *mock = to_mock_domain(domain);

	/* iommufd unmaps everything before it frees a domain. */
	WARN_ON(!xa_empty(&mock->pfns));
	xa_destroy(&mock->pfns);
	kfree(mock);
}

static int mock_domain_attach_dev(struct iommu_domain *domain,
				  struct device *dev)
{
	struct mock_dev *mdev = container_of(dev, struct mock_dev, dev);

	if (dev->bus != &iommufd_mock_bus)
		return -EINVAL;
	/* A device that cannot track dirty IOVA must not use such a domain. */
	if (domain->dirty_ops && (mdev->flags & MOCK_FLAGS_DEVICE_NO_DIRTY))
		return -EINVAL;
	return 0;
}

/*
 * 6.1 detaches with detach_dev() when a group has no default domain to go
 * back to, which happens to a mock device whose default domain could not
 * be allocated (fault injection does that).
 */
static void mock_domain_detach_dev(struct iommu_domain *domain,
				   struct device *dev)
{
}

static size_t mock_domain_unmap_pages(struct iommu_domain *domain,
				      unsigned long iova, size_t pgsize,
				      size_t pgcount,
				      struct iommu_iotlb_gather *gather)
{
	struct mock_domain *mock = to_mock_domain(domain);
	size_t done;

	for (done = 0; done != pgsize * pgcount; done += MOCK_IO_PAGE_SIZE) {
		void *old = xa_erase(&mock->pfns,
				     (iova + done) / MOCK_IO_PAGE_SIZE);

		if (WARN_ON(!old))
			break;
	}
	return done;
}

static int mock_domain_map_pages(struct iommu_domain *domain,
				 unsigned long iova, phys_addr_t paddr,
				 size_t pgsize, size_t pgcount, int prot,
				 gfp_t gfp, size_t *mapped)
{
	struct mock_domain *mock = to_mock_domain(domain);
	size_t done;

	for (done = 0; done != pgsize * pgcount; done += MOCK_IO_PAGE_SIZE) {
		void *old;

		old = xa_store(&mock->pfns, (iova + done) / MOCK_IO_PAGE_SIZE,
			       xa_mk_value((paddr + done) / MOCK_IO_PAGE_SIZE |
					   (pgsize == MOCK_IO_PAGE_SIZE ?
						    0 :
						    MOCK_PFN_HUGE)),
			       gfp);
		if (xa_is_err(old) || WARN_ON(old)) {
			if (!xa_is_err(old))
				xa_store(&mock->pfns,
					 (iova + done) / MOCK_IO_PAGE_SIZE,
					 old, GFP_ATOMIC);
			mock_domain_unmap_pages(domain, iova, MOCK_IO_PAGE_SIZE,
						done / MOCK_IO_PAGE_SIZE, NULL);
			*mapped = 0;
			return xa_is_err(old) ? xa_err(old) : -EEXIST;
		}
	}
	*mapped = done;
	return 0;
}

static phys_addr_t mock_domain_iova_to_phys(struct iommu_domain *domain,
					    dma_addr_t iova)
{
	struct mock_domain *mock = to_mock_domain(domain);
	void *ent = xa_load(&mock->pfns, iova / MOCK_IO_PAGE_SIZE);

	if (!ent)
		return 0;
	return mock_entry_phys(ent) + iova % MOCK_IO_PAGE_SIZE;
}

static int mock_domain_set_dirty_tracking(struct iommu_domain *domain,
					  bool enabled)
{
	struct mock_domain *mock = to_mock_domain(domain);

	if (enabled)
		set_bit(MOCK_DOMAIN_DIRTY_TRACKING, &mock->flags);
	else
		clear_bit(MOCK_DOMAIN_DIRTY_TRACKING, &mock->flags);
	return 0;
}

/*
 * The walks over a mock domain's entries hold the xarray's lock and let go
 * of it every MOCK_WALK_STEP entries, to reschedule.
 */
#define MOCK_WALK_STEP 1024

/* Let go of the xarray's lock held by a walk, reschedule, take it again. */
static void mock_walk_breathe(struct xa_state *xas)
{
	xas_pause(xas);
	xas_unlock(xas);
	cond_resched();
	xas_lock(xas);
}

/* Dirty IOPTEs found under the xarray's lock, recorded after it. */
#define MOCK_DIRTY_BATCH 16

struct mock_dirty_found {
	unsigned long index;
	bool huge;
};

/*
 * Find the dirty IOPTEs among entries [*@first, @last], clearing their
 * dirty bits unless @flags has IOMMU_DIRTY_NO_CLEAR; a huge IOPTE is
 * found once, at its head, however many of its IO pages are dirty.
 * Stops early when @found is full. Return: the number found; *@first is
 * where to go on from, past @last when the walk is done.
 */
static unsigned int mock_find_dirty(struct mock_domain *mock,
				    unsigned long *first, unsigned long last,
				    unsigned long flags,
				    struct mock_dirty_found *found)
{
	XA_STATE(xas, &mock->pfns, *first);
	unsigned int n = 0, seen = 0;
	void *ent;

	xas_lock(&xas);
	xas_for_each(&xas, ent, last) {
		unsigned long v = xa_to_value(ent), head = xas.xa_index;

		if (v & MOCK_PFN_DIRTY) {
			if (!(flags & IOMMU_DIRTY_NO_CLEAR))
				xas_store(&xas,
					  xa_mk_value(v & ~MOCK_PFN_DIRTY));
			if (v & MOCK_PFN_HUGE)
				head = ALIGN_DOWN(head, MOCK_HUGE_PAGE_SIZE /
							MOCK_IO_PAGE_SIZE);
			if (!n || found[n - 1].index != head) {
				found[n].index = head;
				found[n].huge = v & MOCK_PFN_HUGE;
				if (++n == MOCK_DIRTY_BATCH) {
					*first = xas.xa_index + 1;
					break;
				}
			}
		}
		/* Last, as it moves @xas on. */
		if (++seen % MOCK_WALK_STEP == 0)
			mock_walk_breathe(&xas);
	}
	xas_unlock(&xas);
	if (n != MOCK_DIRTY_BATCH)
		*first = last + 1;
	return n;
}

/*
 * Report each IOPTE, a huge one whole, that has a dirty IO page. A huge
 * IOPTE that straddles either end of the range is looked at whole.
 */
static int mock_domain_read_and_clear_dirty(struct iommu_domain *domain,
					    unsigned long iova, size_t size,
					    unsigned long flags,
					    struct iommu_dirty_bitmap *dirty)
{
	const unsigned long huge_mask = MOCK_HUGE_PAGE_SIZE /
					MOCK_IO_PAGE_SIZE - 1;
	struct mock_domain *mock = to_mock_domain(domain);
	unsigned long first = iova / MOCK_IO_PAGE_SIZE;
	unsigned long last = (iova + size - 1) / MOCK_IO_PAGE_SIZE;
	struct mock_dirty_found found[MOCK_DIRTY_BATCH];
	unsigned int n, i;
	void *ent;

	/* As hardware: nothing is recorded while tracking is off. */
	if (dirty->bitmap &&
	    !test_bit(MOCK_DOMAIN_DIRTY_TRACKING, &mock->flags))
		return -EINVAL;
	if (!size)
		return 0;

	ent = xa_load(&mock->pfns, first);
	if (ent && (xa_to_value(ent) & MOCK_PFN_HUGE))
		first &= ~huge_mask;
	ent = xa_load(&mock->pfns, last);
	if (ent && (xa_to_value(ent) & MOCK_PFN_HUGE))
		last |= huge_mask;

	while (first <= last) {
		n = mock_find_dirty(mock, &first, last, flags, found);
		for (i = 0; i != n; i++)
			iommu_dirty_bitmap_record(dirty,
						  found[i].index *
							  MOCK_IO_PAGE_SIZE,
						  found[i].huge ?
							  MOCK_HUGE_PAGE_SIZE :
							  MOCK_IO_PAGE_SIZE);
		cond_resched();
	}
	return 0;
}

static const struct iommu_dirty_ops mock_dirty_ops = {
	.set_dirty_tracking = mock_domain_set_dirty_tracking,
	.read_and_clear_dirty = mock_domain_read_and_clear_dirty,
};

/* A nested domain on mock paging domain @parent, as @user_data says. */
static struct iommu_domain *
mock_nested_domain_alloc(struct iommu_domain *parent, u32 flags,
			 const struct iommu_user_data *user_data)
{
	struct mock_nested_domain *nested;
	struct iommu_hwpt_selftest cfg;
	unsigned int i;
	int rc;

	if (flags || user_data->type != IOMMU_HWPT_DATA_SELFTEST)
		return ERR_PTR(-EOPNOTSUPP);
	if (parent->ops != mock_ops.default_domain_ops)
		return ERR_PTR(-EINVAL);
	rc = iommu_copy_struct_from_user(&cfg, user_data,
					 IOMMU_HWPT_DATA_SELFTEST, iotlb);
	if (rc)
		return ERR_PTR(rc);

	nested = kzalloc(sizeof(*nested), GFP_KERNEL_ACCOUNT);
	if (!nested)
		return ERR_PTR(-ENOMEM);
	nested->parent = to_mock_domain(parent);
	nested->domain.type = IOMMU_DOMAIN_NESTED;
	nested->domain.ops = &mock_nested_ops;
	for (i = 0; i < MOCK_NESTED_DOMAIN_IOTLB_NUM; i++)
		nested->iotlb[i] = cfg.iotlb;
	return &nested->domain;
}

/*
 * iommufd's domains: sized for @dev (MOCK_FLAGS_DEVICE_HUGE_IOVA adds the
 * huge IOPTE size), with dirty ops when @flags asks for them; or, with a
 * @parent, a nested one.
 */
static struct iommu_domain *
mock_domain_alloc_user(struct device *dev, u32 flags,
		       struct iommu_domain *parent,
		       const struct iommu_user_data *user_data)
{
	struct mock_dev *mdev = container_of(dev, struct mock_dev, dev);
	struct iommu_domain *domain;

	if (parent)
		return mock_nested_domain_alloc(parent, flags, user_data);

	if (flags & ~(IOMMU_HWPT_ALLOC_NEST_PARENT |
		      IOMMU_HWPT_ALLOC_DIRTY_TRACKING))
		return ERR_PTR(-EOPNOTSUPP);
	if (user_data)
		return ERR_PTR(-EOPNOTSUPP);
	if ((flags & IOMMU_HWPT_ALLOC_DIRTY_TRACKING) &&
	    (mdev->flags & MOCK_FLAGS_DEVICE_NO_DIRTY))
		return ERR_PTR(-EOPNOTSUPP);

	domain = mock_domain_alloc(IOMMU_DOMAIN_UNMANAGED);
	if (!domain)
		return ERR_PTR(-ENOMEM);
	/* What iommu_domain_alloc() would have filled in. */
	domain->type = IOMMU_DOMAIN_UNMANAGED;
	domain->ops = mock_ops.default_domain_ops;
	if (mdev->flags & MOCK_FLAGS_DEVICE_HUGE_IOVA)
		domain->pgsize_bitmap |= MOCK_HUGE_PAGE_SIZE;
	if (flags & IOMMU_HWPT_ALLOC_DIRTY_TRACKING)
		domain->dirty_ops = &mock_dirty_ops;
	return domain;
}

static bool mock_capable(struct device *dev, enum iommu_cap cap)
{
	struct mock_dev *mdev = container_of(dev, struct mock_dev, dev);

	switch (cap) {
	case IOMMU_CAP_CACHE_COHERENCY:
		return true;
	case IOMMU_CAP_INTR_REMAP:
		/* Mock devices raise no interrupts: isolated, unless told. */
		return !(mdev->flags & MOCK_FLAGS_DEVICE_NO_MSI_ISOLATION);
	case IOMMU_CAP_DIRTY_TRACKING:
		return !(mdev->flags & MOCK_FLAGS_DEVICE_NO_DIRTY);
	default:
		return false;
	}
}

static void *mock_hw_info(struct device *dev, u32 *length, u32 *type)
{
	const struct iommu_test_hw_info info = {
		.test_reg = IOMMU_HW_INFO_SELFTEST_REGVAL,
	};
	void *data = kmemdup(&info, sizeof(info), GFP_KERNEL);

	*type = IOMMU_HW_INFO_TYPE_SELFTEST;
	*length = sizeof(info);
	return data ?: ERR_PTR(-ENOMEM);
}

/*
 * Devices made with MOCK_FLAGS_DEVICE_SHARED_GROUP share one group, which
 * lives from its first device until iommufd_test_exit(): a group whose
 * devices come and go while it stays, as a PCI bridge's do.
 */
static struct iommu_group *mock_device_group(struct device *dev)
{
	struct mock_dev *mdev = container_of(dev, struct mock_dev, dev);
	struct iommu_group *group;

	if (!(mdev->flags & MOCK_FLAGS_DEVICE_SHARED_GROUP))
		return generic_device_group(dev);

	mutex_lock(&mock_shared_group_lock);
	if (!mock_shared_group) {
		group = iommu_group_alloc();
		if (IS_ERR(group))
			goto out_unlock;
		mock_shared_group = group;
	}
	group = iommu_group_ref_get(mock_shared_group);
out_unlock:
	mutex_unlock(&mock_shared_group_lock);
	return group;
}

/* A shared-group device's own region; see MOCK_FLAGS_DEVICE_SHARED_GROUP. */
static void mock_get_resv_regions(struct device *dev, struct list_head *head)
{
	struct mock_dev *mdev = container_of(dev, struct mock_dev, dev);
	struct iommu_resv_region *region;

	if (!(mdev->flags & MOCK_FLAGS_DEVICE_SHARED_GROUP))
		return;
	region = iommu_alloc_resv_region(MOCK_SHARED_RESV_START +
					 (mdev->id % MOCK_SHARED_RESV_SLOTS) *
					 MOCK_SHARED_RESV_STRIDE,
					 MOCK_SHARED_RESV_LENGTH, 0,
					 IOMMU_RESV_RESERVED, GFP_KERNEL);
	if (region)
		list_add_tail(&region->list, head);
}

static struct iommu_device *mock_probe_device(struct device *dev)
{
	if (dev->bus != &iommufd_mock_bus)
		return ERR_PTR(-ENODEV);
	return &mock_iommu;
}

static int mock_def_domain_type(struct device *dev)
{
	return IOMMU_DOMAIN_IDENTITY;
}

/*
 * The answer to a page request reaching the device: counted, and the last
 * one kept, for the selftest object's fdinfo. The core calls this under
 * its lock of the device's pending faults, one answer at a time.
 */
static int mock_page_response(struct device *dev, struct iommu_fault_event *evt,
			      struct iommu_page_response *msg)
{
	struct mock_dev *mdev = container_of(dev, struct mock_dev, dev);

	WRITE_ONCE(mdev->last_grpid, msg->grpid);
	WRITE_ONCE(mdev->last_code, msg->code);
	atomic_inc(&mdev->responses);
	return 0;
}

static const struct iommu_ops mock_ops = {
	.owner = THIS_MODULE,
	.pgsize_bitmap = MOCK_IO_PAGE_SIZE,
	.capable = mock_capable,
	.hw_info = mock_hw_info,
	.domain_alloc = mock_domain_alloc,
	.domain_alloc_user = mock_domain_alloc_user,
	.probe_device = mock_probe_device,
	.device_group = mock_device_group,
	.get_resv_regions = mock_get_resv_regions,
	.def_domain_type = mock_def_domain_type,
	.page_response = mock_page_response,
	.default_domain_ops = &(const struct iommu_domain_ops) {
		.attach_dev = mock_domain_attach_dev,
		.detach_dev = mock_domain_detach_dev,
		.map_pages = mock_domain_map_pages,
		.unmap_pages = mock_domain_unmap_pages,
		.iova_to_phys = mock_domain_iova_to_phys,
		.free = mock_domain_free,
	},
};

static int mock_nested_attach_dev(struct iommu_domain *domain,
				  struct device *dev)
{
	struct mock_nested_domain *nested = to_mock_nested_domain(domain);

	/* The device translates through the parent: the same rules. */
	return mock_domain_attach_dev(&nested->parent->domain, dev);
}

static void mock_nested_domain_free(struct iommu_domain *domain)
{
	kfree(to_mock_nested_domain(domain));
}

/* Carry out one request of IOMMU_HWPT_INVALIDATE on the mock's IOTLB. */
static int mock_nested_invalidate_one(struct mock_nested_domain *nested,
				      const struct iommu_hwpt_invalidate_selftest *inv)
{
	unsigned int first = inv->iotlb_id, last = inv->iotlb_id;

	if (inv->flags & ~IOMMU_TEST_INVALIDATE_FLAG_ALL)
		return -EOPNOTSUPP;
	/* Checked with FLAG_ALL too, as upstream's mock does. */
	if (inv->iotlb_id > MOCK_NESTED_DOMAIN_IOTLB_ID_MAX)
		return -EINVAL;
	if (inv->flags & IOMMU_TEST_INVALIDATE_FLAG_ALL) {
		first = 0;
		last = MOCK_NESTED_DOMAIN_IOTLB_NUM - 1;
	}
	/* Racing invalidations only ever store 0. */
	while (first <= last)
		WRITE_ONCE(nested->iotlb[first++], 0);
	return 0;
}

/*
 * IOMMU_HWPT_INVALIDATE of a mock nested domain: each request clears one
 * IOTLB entry, or all with IOMMU_TEST_INVALIDATE_FLAG_ALL. Stops at the
 * first bad request; @array->entry_num becomes the number carried out.
 */
static int mock_nested_cache_invalidate_user(struct iommu_domain *domain,
					     struct iommu_user_data_array *array)
{
	struct mock_nested_domain *nested = to_mock_nested_domain(domain);
	struct iommu_hwpt_invalidate_selftest inv;
	unsigned int done = 0;
	int rc = 0;

	if (array->type != IOMMU_HWPT_INVALIDATE_DATA_SELFTEST)
		rc = -EINVAL;
	while (!rc && done != array->entry_num) {
		rc = iommu_copy_struct_from_user_array(&inv, array,
						       IOMMU_HWPT_INVALIDATE_DATA_SELFTEST,
						       done, iotlb_id);
		if (!rc)
			rc = mock_nested_invalidate_one(nested, &inv);
		if (!rc)
			done++;
		cond_resched();
	}
	array->entry_num = done;
	return rc;
}

static const struct iommu_domain_ops mock_nested_ops = {
	.attach_dev = mock_nested_attach_dev,
	.detach_dev = mock_domain_detach_dev,
	.cache_invalidate_user = mock_nested_cache_invalidate_user,
	.free = mock_nested_domain_free,
};

static void mock_dev_release(struct device *dev)
{
	struct mock_dev *mdev = container_of(dev, struct mock_dev, dev);

	ida_free(&mock_dev_ida, mdev->id);
	kfree(mdev);
}

/* What the firmware of a MOCK_FLAGS_DEVICE_PASID device says of it. */
static const struct property_entry mock_pasid_props[] = {
	PROPERTY_ENTRY_U32("pasid-num-bits", MOCK_PASID_WIDTH),
	{}
};

static struct mock_dev *mock_dev_create(u32 flags)
{
	struct mock_dev *mdev;
	int rc;

	mdev = kzalloc(sizeof(*mdev), GFP_KERNEL);
	if (!mdev)
		return ERR_PTR(-ENOMEM);
	mdev->id = ida_alloc(&mock_dev_ida, GFP_KERNEL);
	if (mdev->id < 0) {
		rc = mdev->id;
		kfree(mdev);
		return ERR_PTR(rc);
	}
	mdev->flags = flags;
	device_initialize(&mdev->dev);
	mdev->dev.release = mock_dev_release;
	mdev->dev.bus = &iommufd_mock_bus;
	rc = dev_set_name(&mdev->dev, "iommufd_mock%u", mdev->id);
	if (rc)
		goto err_put;
	rc = device_add(&mdev->dev);
	if (rc)
		goto err_put;
	/* PASID width as firmware gives it; device_del() frees the node. */
	if (flags & MOCK_FLAGS_DEVICE_PASID) {
		rc = device_create_managed_software_node(&mdev->dev,
							 mock_pasid_props,
							 NULL);
		if (rc)
			goto err_del;
	}
	/* The mock bus has no IOMMU notifier: probe by hand. */
	rc = iommu_probe_device(&mdev->dev);
	if (rc)
		goto err_del;
	return mdev;

err_del:
	device_del(&mdev->dev);
err_put:
	put_device(&mdev->dev);
	return ERR_PTR(rc);
}

static void mock_dev_destroy(struct mock_dev *mdev)
{
	iommu_release_device(&mdev->dev);
	device_unregister(&mdev->dev);
}

/**
 * iommufd_selftest_show() - a mock device's fdinfo fields
 * @m: the fdinfo file
 * @obj: the selftest object, referenced
 *
 * The page responses the device received, so that tests see an answer
 * written to a fault queue reach the device.
 */
void iommufd_selftest_show(struct seq_file *m, struct iommufd_object *obj)
{
	struct selftest_obj *sobj = container_of(obj, struct selftest_obj, obj);
	struct mock_dev *mdev = sobj->mdev;

	seq_printf(m, " dev=%s responses=%u last_grpid=%u last_code=%u",
		   dev_name(&mdev->dev), atomic_read(&mdev->responses),
		   READ_ONCE(mdev->last_grpid), READ_ONCE(mdev->last_code));
}

/**
 * iommufd_selftest_destroy() - remove a mock device made by MOCK_DOMAIN
 * @obj: the selftest object's header
 */
void iommufd_selftest_destroy(struct iommufd_object *obj)
{
	struct selftest_obj *sobj = container_of(obj, struct selftest_obj, obj);

	if (sobj->idev)
		iommufd_device_unbind(sobj->idev);
	if (sobj->mdev)
		mock_dev_destroy(sobj->mdev);
}

static int iommufd_test_mock_domain(struct iommufd_ucmd *ucmd)
{
	struct iommu_test_cmd *cmd = ucmd->args;
	struct iommufd_ctx *ictx = ucmd->ictx;
	struct selftest_obj *sobj;
	u32 pt_id = cmd->id;
	u32 dev_flags = 0;
	u32 idev_id;
	int rc;

	/*
	 * PASID describes the device to a feature this kernel lacks (PASID
	 * attach): such a device is an ordinary mock device here, and the
	 * feature's own ioctls fail cleanly. It reports MOCK_PASID_WIDTH in
	 * IOMMU_GET_HW_INFO.
	 */
	if (cmd->op == IOMMU_TEST_OP_MOCK_DOMAIN_FLAGS)
		dev_flags = cmd->mock_domain_flags.dev_flags;
	if (dev_flags & ~(MOCK_FLAGS_DEVICE_NO_DIRTY |
			  MOCK_FLAGS_DEVICE_HUGE_IOVA | MOCK_FLAGS_DEVICE_PASID |
			  MOCK_FLAGS_DEVICE_NO_MSI_ISOLATION |
			  MOCK_FLAGS_DEVICE_SHARED_GROUP))
		return iommufd_ucmd_fail(ucmd, -EINVAL,
					 "mock device flags 0x%x are not supported",
					 dev_flags);

	sobj = iommufd_object_alloc(ictx, struct selftest_obj,
				    IOMMUFD_OBJ_SELFTEST);
	if (IS_ERR(sobj))
		return PTR_ERR(sobj);

	sobj->mdev = mock_dev_create(dev_flags);
	if (IS_ERR(sobj->mdev)) {
		rc = PTR_ERR(sobj->mdev);
		sobj->mdev = NULL;
		goto err_unwind;
	}
	sobj->idev = iommufd_device_bind(ictx, &sobj->mdev->dev, &idev_id);
	if (IS_ERR(sobj->idev)) {
		rc = PTR_ERR(sobj->idev);
		sobj->idev = NULL;
		goto err_unwind;
	}
	rc = iommufd_device_attach(sobj->idev, &pt_id);
	if (rc)
		goto err_unwind;

	/* The layouts of the two ops agree on these three fields. */
	cmd->mock_domain.out_stdev_id = sobj->obj.id;
	cmd->mock_domain.out_hwpt_id = pt_id;
	cmd->mock_domain.out_idev_id = idev_id;
	return iommufd_ucmd_reply_publish(ucmd, &sobj->obj, sizeof(*cmd));

err_unwind:
	iommufd_object_unwind(ictx, &sobj->obj);
	return rc;
}

/* Move the mock device of selftest object @cmd->id to another IOAS/HWPT. */
static int iommufd_test_mock_domain_replace(struct iommufd_ucmd *ucmd)
{
	struct iommu_test_cmd *cmd = ucmd->args;
	u32 pt_id = cmd->mock_domain_replace.pt_id;
	struct selftest_obj *sobj;
	struct iommufd_object *obj;
	int rc;

	obj = iommufd_object_lookup(ucmd->ictx, cmd->id, IOMMUFD_OBJ_SELFTEST);
	if (IS_ERR(obj))
		return iommufd_ucmd_fail(ucmd, PTR_ERR(obj),
					 "no mock device object with ID %u",
					 cmd->id);
	sobj = container_of(obj, struct selftest_obj, obj);
	rc = iommufd_device_replace(sobj->idev, &pt_id);
	iommufd_put_object(obj);
	if (rc)
		return rc;
	cmd->mock_domain_replace.pt_id = pt_id;
	return iommufd_ucmd_reply(ucmd, sizeof(*cmd));
}

/* Look up a HWPT of the mock IOMMU. */
static struct iommufd_hw_pagetable *
iommufd_test_mock_hwpt(struct iommufd_ucmd *ucmd, u32 id)
{
	struct iommufd_hw_pagetable *hwpt;
	struct iommufd_object *obj;

	obj = iommufd_object_lookup(ucmd->ictx, id, IOMMUFD_OBJ_HWPT_PAGING);
	if (IS_ERR(obj))
		return ERR_CAST(obj);
	hwpt = container_of(obj, struct iommufd_hw_pagetable, obj);
	if (hwpt->domain->ops != mock_ops.default_domain_ops) {
		iommufd_put_object(obj);
		return ERR_PTR(-EINVAL);
	}
	return hwpt;
}

/*
 * The page behind a user address, with a reference; see put_page(). The
 * checks call it for each page of ranges as long as userspace likes: it
 * yields, and fails with -EINTR once the caller is killed.
 */
static struct page *iommufd_test_user_page(unsigned long uptr)
{
	struct page *page;
	long n;

	if (fatal_signal_pending(current))
		return ERR_PTR(-EINTR);
	cond_resched();

	n = get_user_pages_fast(uptr & PAGE_MASK, 1, 0, &page);
	if (n < 0)
		return ERR_PTR(n);
	return n == 1 ? page : ERR_PTR(-EFAULT);
}

/* IO pages MD_CHECK_MAP compares for each lookup of the HWPT. */
#define MOCK_CHECK_MAP_BATCH 32

/*
 * Does the mock HWPT @cmd->id map each IO page of the range at the user's
 * page? The user's pages are found without holding the HWPT: finding one
 * may wait on userspace (a userfaultfd), and a device detaching from the
 * HWPT would wait for the reference.
 */
static int iommufd_test_md_check_map(struct iommufd_ucmd *ucmd)
{
	struct iommu_test_cmd *cmd = ucmd->args;
	unsigned long iova = cmd->check_map.iova;
	unsigned long uptr = cmd->check_map.uptr;
	unsigned long length = cmd->check_map.length;
	phys_addr_t want[MOCK_CHECK_MAP_BATCH];
	struct iommufd_hw_pagetable *hwpt;
	struct mock_domain *mock;
	unsigned long end, n, i;

	if ((iova | uptr | length) % MOCK_IO_PAGE_SIZE ||
	    cmd->check_map.iova > ULONG_MAX || cmd->check_map.uptr > ULONG_MAX ||
	    cmd->check_map.length > ULONG_MAX ||
	    check_add_overflow(uptr, length, &end))
		return -EINVAL;

	/* The HWPT is looked up even for no pages: a bad ID is ENOENT. */
	do {
		n = min_t(unsigned long, length / MOCK_IO_PAGE_SIZE,
			  MOCK_CHECK_MAP_BATCH);
		for (i = 0; i != n; i++) {
			unsigned long at = uptr + i * MOCK_IO_PAGE_SIZE;
			struct page *page = iommufd_test_user_page(at);

			if (IS_ERR(page))
				return PTR_ERR(page);
			want[i] = page_to_phys(page) + at % PAGE_SIZE;
			put_page(page);
		}

		hwpt = iommufd_test_mock_hwpt(ucmd, cmd->id);
		if (IS_ERR(hwpt))
			return PTR_ERR(hwpt);
		mock = to_mock_domain(hwpt->domain);
		for (i = 0; i != n; i++, iova += MOCK_IO_PAGE_SIZE) {
			void *ent = xa_load(&mock->pfns,
					    iova / MOCK_IO_PAGE_SIZE);

			if (!ent || mock_entry_phys(ent) != want[i])
				break;
		}
		iommufd_put_object(&hwpt->obj);
		if (i != n)
			return iommufd_ucmd_fail(ucmd, -EINVAL,
						 "IOVA 0x%lx does not map the user's page",
						 iova);
		uptr += n * MOCK_IO_PAGE_SIZE;
		length -= n * MOCK_IO_PAGE_SIZE;
	} while (length);
	return 0;
}

/*
 * Mark the IO pages of the @page_size blocks of IOVA from @iova whose bits
 * are set in @bits dirty. Under the xarray's lock, so that an entry
 * cannot be unmapped meanwhile. Return: the number of blocks that had an
 * IO page mapped.
 */
static u64 mock_mark_dirty(struct mock_domain *mock, const unsigned long *bits,
			   unsigned long nbits, unsigned long iova,
			   unsigned long page_size)
{
	unsigned long n, seen = 0, blocks = 0;
	XA_STATE(xas, &mock->pfns, 0);
	u64 count = 0;

	xas_lock(&xas);
	for_each_set_bit(n, bits, nbits) {
		unsigned long start = iova + n * page_size;
		bool mapped = false;
		void *ent;

		/* No overflow: the caller checked the last block's end. */
		xas_set(&xas, start / MOCK_IO_PAGE_SIZE);
		xas_for_each(&xas, ent,
			     (start + (page_size - 1)) / MOCK_IO_PAGE_SIZE) {
			mapped = true;
			xas_store(&xas, xa_mk_value(xa_to_value(ent) |
						    MOCK_PFN_DIRTY));
			if (++seen % MOCK_WALK_STEP == 0)
				mock_walk_breathe(&xas);
		}
		count += mapped;
		if (++blocks % MOCK_WALK_STEP == 0)
			mock_walk_breathe(&xas);
	}
	xas_unlock(&xas);
	return count;
}

/* Largest bitmap IOMMU_TEST_OP_DIRTY reads, in bits. */
#define MOCK_DIRTY_MAX_BITS (SZ_16M * BITS_PER_BYTE)

/*
 * IOMMU_TEST_OP_DIRTY: play a device's DMA writes into mock HWPT @cmd->id.
 * Bit n of the user bitmap marks the IO pages of the n-th @page_size block
 * of IOVA from @iova dirty; out_nr_dirty counts the blocks that had an IO
 * page mapped. Only while the HWPT tracks dirty IOVA (-EINVAL otherwise).
 */
static int iommufd_test_dirty(struct iommufd_ucmd *ucmd)
{
	struct iommu_test_cmd *cmd = ucmd->args;
	void __user *uptr = u64_to_user_ptr(cmd->dirty.uptr);
	u64 page_size = cmd->dirty.page_size;
	u64 length = cmd->dirty.length;
	u64 iova = cmd->dirty.iova;
	struct iommufd_hw_pagetable *hwpt;
	unsigned long nbits, *bits;
	struct mock_domain *mock;
	int rc = 0;
	u64 last;

	if (!page_size || !length || iova % page_size || length % page_size ||
	    !uptr)
		return -EINVAL;
	if (check_add_overflow(iova, length - 1, &last) || last > ULONG_MAX)
		return -EOVERFLOW;
	if (length / page_size > MOCK_DIRTY_MAX_BITS)
		return -EOVERFLOW;
	nbits = length / page_size;

	/* The HWPT first, as upstream: a bad ID is ENOENT, not EFAULT. */
	hwpt = iommufd_test_mock_hwpt(ucmd, cmd->id);
	if (IS_ERR(hwpt))
		return PTR_ERR(hwpt);
	mock = to_mock_domain(hwpt->domain);
	if (!test_bit(MOCK_DOMAIN_DIRTY_TRACKING, &mock->flags)) {
		rc = iommufd_ucmd_fail(ucmd, -EINVAL,
				       "HWPT %u does not track dirty IOVA",
				       cmd->id);
		goto out_put;
	}
	bits = kvcalloc(BITS_TO_LONGS(nbits), sizeof(*bits),
			GFP_KERNEL_ACCOUNT);
	if (!bits) {
		rc = -ENOMEM;
		goto out_put;
	}
	if (copy_from_user(bits, uptr, DIV_ROUND_UP(nbits, BITS_PER_BYTE))) {
		rc = -EFAULT;
		goto out_free;
	}

	cmd->dirty.out_nr_dirty = mock_mark_dirty(mock, bits, nbits, iova,
						  page_size);
	rc = iommufd_ucmd_reply(ucmd, sizeof(*cmd));
out_free:
	kvfree(bits);
out_put:
	iommufd_put_object(&hwpt->obj);
	return rc;
}

/*
 * IOMMU_TEST_OP_MD_CHECK_IOTLB: whether entry @check_iotlb.id of mock
 * nested HWPT @id holds @check_iotlb.iotlb (-EINVAL if not).
 */
static int iommufd_test_md_check_iotlb(struct iommufd_ucmd *ucmd)
{
	struct iommu_test_cmd *cmd = ucmd->args;
	struct iommufd_hw_pagetable *hwpt;
	struct iommufd_object *obj;
	u32 id = cmd->check_iotlb.id;
	u32 val;
	int rc = 0;

	obj = iommufd_object_lookup(ucmd->ictx, cmd->id,
				    IOMMUFD_OBJ_HWPT_NESTED);
	if (IS_ERR(obj))
		return iommufd_ucmd_fail(ucmd, PTR_ERR(obj),
					 "no nested HWPT with ID %u", cmd->id);
	hwpt = container_of(obj, struct iommufd_hw_pagetable, obj);
	if (hwpt->domain->ops != &mock_nested_ops) {
		rc = -EINVAL;
		goto out_put;
	}
	if (id > MOCK_NESTED_DOMAIN_IOTLB_ID_MAX) {
		rc = iommufd_ucmd_fail(ucmd, -EINVAL,
				       "the mock has no IOTLB entry %u", id);
		goto out_put;
	}
	val = READ_ONCE(to_mock_nested_domain(hwpt->domain)->iotlb[id]);
	if (val != cmd->check_iotlb.iotlb)
		rc = iommufd_ucmd_fail(ucmd, -EINVAL,
				       "IOTLB entry %u holds 0x%x, not 0x%x", id,
				       val, cmd->check_iotlb.iotlb);
out_put:
	iommufd_put_object(obj);
	return rc;
}

/*
 * IOMMU_TEST_OP_TRIGGER_IOPF: mock device @dev_id asks for a page, as a
 * PCIe page request closing its group would. Unlike upstream, which
 * always succeeds, the IOMMU core's refusal is returned: -EINVAL when the
 * device has no fault handler (it is on no HWPT with a fault queue),
 * -ENODEV from iommufd's while the device moves between HWPTs.
 */
static int iommufd_test_trigger_iopf(struct iommufd_ucmd *ucmd)
{
	struct iommu_test_cmd *cmd = ucmd->args;
	struct iommu_fault_event evt = {
		.fault = {
			.type = IOMMU_FAULT_PAGE_REQ,
			.prm = {
				.flags = IOMMU_FAULT_PAGE_REQUEST_LAST_PAGE,
				.pasid = cmd->trigger_iopf.pasid,
				.grpid = cmd->trigger_iopf.grpid,
				.perm = cmd->trigger_iopf.perm,
				.addr = cmd->trigger_iopf.addr,
			},
		},
	};
	struct iommufd_device *idev;
	struct iommufd_object *obj;
	int rc;

	obj = iommufd_object_lookup(ucmd->ictx, cmd->trigger_iopf.dev_id,
				    IOMMUFD_OBJ_DEVICE);
	if (IS_ERR(obj))
		return iommufd_ucmd_fail(ucmd, PTR_ERR(obj),
					 "no device with ID %u",
					 cmd->trigger_iopf.dev_id);
	idev = container_of(obj, struct iommufd_device, obj);
	if (idev->dev->bus != &iommufd_mock_bus) {
		rc = -EINVAL;
		goto out_put;
	}
	/* PASID 0 stands for none, as upstream's IOMMU_NO_PASID. */
	if (cmd->trigger_iopf.pasid)
		evt.fault.prm.flags |= IOMMU_FAULT_PAGE_REQUEST_PASID_VALID;
	rc = iommu_report_device_fault(idev->dev, &evt);
out_put:
	iommufd_put_object(obj);
	return rc;
}

static int iommufd_test_md_check_refs(struct iommufd_ucmd *ucmd)
{
	struct iommu_test_cmd *cmd = ucmd->args;
	unsigned long uptr = cmd->check_refs.uptr;
	unsigned long length = cmd->check_refs.length;
	unsigned long refs = cmd->check_refs.refs;
	unsigned long run_uptr = 0, run_pages = 0, run_nr = 0, run_pins = 0;
	struct folio *run_folio = NULL;
	unsigned long end;

	if ((uptr | length) % PAGE_SIZE || cmd->check_refs.uptr > ULONG_MAX ||
	    cmd->check_refs.length > ULONG_MAX ||
	    check_add_overflow(uptr, length, &end))
		return -EINVAL;

	/*
	 * FOLL_PIN counts the pins of a small page in its refcount,
	 * GUP_PIN_COUNTING_BIAS for each. Those of a large folio (THP,
	 * hugetlb) go to the folio's pincount, one for each pinned page, all
	 * of its pages together, so its pages are checked as a run: a folio
	 * the range covers whole must hold refs pins for each of its pages,
	 * one it covers in part at least refs for each page inside the
	 * range, as the pages outside may be pinned as well.
	 */
	for (;; length -= PAGE_SIZE, uptr += PAGE_SIZE) {
		struct folio *folio = NULL;
		unsigned long pins = 0, nr = 0;

		if (length) {
			struct page *page = iommufd_test_user_page(uptr);

			if (IS_ERR(page))
				return PTR_ERR(page);
			folio = page_folio(page);
			nr = folio_nr_pages(folio);
			if (folio_test_large(folio))
				pins = atomic_read(folio_pincount_ptr(folio));
			else
				pins = page_ref_count(page) /
				       GUP_PIN_COUNTING_BIAS;
			put_page(page);
		}
		/* Only compared: the folio is not touched after put_page(). */
		if (run_folio && folio != run_folio) {
			if (run_pages == run_nr ? run_pins != refs * run_nr :
						  run_pins < refs * run_pages)
				return iommufd_ucmd_fail(ucmd, -EIO,
							 "%lu pages at 0x%lx of a compound page of %lu hold %lu pins, not %s%lu",
							 run_pages, run_uptr,
							 run_nr, run_pins,
							 run_pages == run_nr ?
								 "" :
								 "at least ",
							 refs * run_pages);
			run_folio = NULL;
		}
		if (!length)
			return 0;
		if (nr > 1) {
			if (!run_folio) {
				run_folio = folio;
				run_uptr = uptr;
				run_pages = 0;
				run_nr = nr;
			}
			run_pages++;
			run_pins = pins;
			continue;
		}
		if (pins != refs)
			return iommufd_ucmd_fail(ucmd, -EIO,
						 "page at 0x%lx is pinned %lu times, not %lu",
						 uptr, pins, refs);
	}
}

static int iommufd_test_add_reserved(struct iommufd_ucmd *ucmd)
{
	struct iommu_test_cmd *cmd = ucmd->args;
	struct iommufd_ioas *ioas;
	unsigned long last;
	int rc;

	if (!cmd->add_reserved.length)
		return -EINVAL;
	if (cmd->add_reserved.start > ULONG_MAX ||
	    cmd->add_reserved.length > ULONG_MAX ||
	    check_add_overflow((unsigned long)cmd->add_reserved.start,
			       (unsigned long)cmd->add_reserved.length - 1,
			       &last))
		return -EOVERFLOW;

	ioas = iommufd_ioas_lookup(ucmd->ictx, cmd->id);
	if (IS_ERR(ioas))
		return PTR_ERR(ioas);
	down_write(&ioas->iopt.iova_rwsem);
	/* No owner: the reservation lasts as long as the IOAS. */
	rc = iopt_reserve_iova(&ioas->iopt, cmd->add_reserved.start, last,
			       NULL);
	up_write(&ioas->iopt.iova_rwsem);
	iommufd_put_object(&ioas->obj);
	return rc;
}

/**
 * struct selftest_access - an in-kernel access driven from userspace
 * @access: the access
 * @file: the file userspace holds; closing it destroys the access
 * @lock: protects @items and @next_id
 * @items: the ranges pinned, struct selftest_access_item
 * @next_id: ID of the next item
 * @pins: made with needs_pin_pages, so ACCESS_PAGES may be used
 */
struct selftest_access {
	struct iommufd_access *access;
	bool pins;
	struct file *file;
	struct mutex lock; /* protects items and next_id */
	struct list_head items;
	unsigned int next_id;
};

/**
 * struct selftest_access_item - one ACCESS_PAGES pin
 * @node: entry in selftest_access::items
 * @iova: first IOVA pinned
 * @length: bytes pinned
 * @id: what userspace calls it
 */
struct selftest_access_item {
	struct list_head node;
	unsigned long iova;
	unsigned long length;
	unsigned int id;
};

/* Largest range one test access call handles; keeps kvcalloc() quiet. */
#define MOCK_ACCESS_MAX_LENGTH SZ_16M

/* The access's unmap op: drop every pin that touches the range. */
static void iommufd_test_access_unmap(void *data, unsigned long iova,
				      unsigned long length)
{
	unsigned long last = iova + (length - 1);
	struct selftest_access *staccess = data;
	struct selftest_access_item *item, *tmp;

	mutex_lock(&staccess->lock);
	list_for_each_entry_safe(item, tmp, &staccess->items, node) {
		if (item->iova > last || item->iova + item->length - 1 < iova)
			continue;
		list_del(&item->node);
		iommufd_access_unpin_pages(staccess->access, item->iova,
					   item->length);
		kfree(item);
	}
	mutex_unlock(&staccess->lock);
}

static const struct iommufd_access_ops selftest_access_ops_pin = {
	.needs_pin_pages = 1,
	.unmap = iommufd_test_access_unmap,
};

static const struct iommufd_access_ops selftest_access_ops = {
	.unmap = iommufd_test_access_unmap,
};

static int iommufd_test_access_release(struct inode *inode, struct file *file)
{
	struct selftest_access *staccess = file->private_data;

	/* Destroying detaches, which asks the unmap op to drop every pin. */
	if (staccess->access)
		iommufd_access_destroy(staccess->access);
	WARN_ON(!list_empty(&staccess->items));
	mutex_destroy(&staccess->lock);
	kfree(staccess);
	return 0;
}

static const struct file_operations iommufd_test_access_fops = {
	.release = iommufd_test_access_release,
};

/* The access behind a file descriptor, holding the file; see fput(). */
static struct selftest_access *iommufd_test_access_get(int fd)
{
	struct file *file = fget(fd);

	if (!file)
		return ERR_PTR(-EBADF);
	if (file->f_op != &iommufd_test_access_fops) {
		fput(file);
		return ERR_PTR(-EBADF);
	}
	return file->private_data;
}

static int iommufd_test_create_access(struct iommufd_ucmd *ucmd)
{
	struct iommu_test_cmd *cmd = ucmd->args;
	struct selftest_access *staccess;
	struct iommufd_access *access;
	struct file *file;
	int fd, rc;
	u32 id;

	if (cmd->create_access.flags &
	    ~MOCK_FLAGS_ACCESS_CREATE_NEEDS_PIN_PAGES)
		return -EOPNOTSUPP;

	staccess = kzalloc(sizeof(*staccess), GFP_KERNEL_ACCOUNT);
	if (!staccess)
		return -ENOMEM;
	mutex_init(&staccess->lock);
	INIT_LIST_HEAD(&staccess->items);
	file = anon_inode_getfile("[iommufd_test_access]",
				  &iommufd_test_access_fops, staccess, O_RDWR);
	if (IS_ERR(file)) {
		mutex_destroy(&staccess->lock);
		kfree(staccess);
		return PTR_ERR(file);
	}
	/* From here on, fput() frees staccess. */
	staccess->file = file;

	fd = get_unused_fd_flags(O_CLOEXEC);
	if (fd < 0) {
		rc = fd;
		goto err_fput;
	}
	access = iommufd_access_create(ucmd->ictx,
				       (cmd->create_access.flags &
					MOCK_FLAGS_ACCESS_CREATE_NEEDS_PIN_PAGES) ?
					       &selftest_access_ops_pin :
					       &selftest_access_ops,
				       staccess, &id);
	if (IS_ERR(access)) {
		rc = PTR_ERR(access);
		goto err_put_fd;
	}
	staccess->access = access;
	staccess->pins = cmd->create_access.flags &
			 MOCK_FLAGS_ACCESS_CREATE_NEEDS_PIN_PAGES;
	rc = iommufd_access_attach(access, cmd->id);
	if (rc)
		goto err_put_fd;
	cmd->create_access.out_access_fd = fd;
	rc = iommufd_ucmd_reply(ucmd, sizeof(*cmd));
	if (rc)
		goto err_put_fd;
	fd_install(fd, file);
	return 0;

err_put_fd:
	put_unused_fd(fd);
err_fput:
	fput(file);
	return rc;
}

static int iommufd_test_access_replace_ioas(struct iommufd_ucmd *ucmd)
{
	struct iommu_test_cmd *cmd = ucmd->args;
	struct selftest_access *staccess;
	int rc;

	staccess = iommufd_test_access_get(cmd->id);
	if (IS_ERR(staccess))
		return PTR_ERR(staccess);
	rc = iommufd_access_replace(staccess->access,
				    cmd->access_replace_ioas.ioas_id);
	fput(staccess->file);
	return rc;
}

/* Are @pages the pages behind the user memory at @uptr? -EBADE if not. */
static int iommufd_test_check_pages(unsigned long uptr, struct page **pages,
				    unsigned long npages)
{
	for (; npages; npages--, pages++, uptr += PAGE_SIZE) {
		struct page *page = iommufd_test_user_page(uptr);

		if (IS_ERR(page))
			return PTR_ERR(page);
		put_page(page);
		if (page != *pages)
			return -EBADE;
	}
	return 0;
}

/**
 * iommufd_test_syz_iova() - the IOVA syzkaller means
 * @iopt: the table the IOVA is in
 * @syz: an IOVA in syzkaller's form
 *
 * A random 64-bit IOVA almost never lands on a mapping, so with
 * MOCK_FLAGS_ACCESS_SYZ upstream's test interface reads the IOVA's eight
 * bytes as two u32s in memory order: the index of an area of the IOAS
 * (from the lowest IOVA) and an offset into it.
 *
 * Return: the IOVA, or 0 if the IOAS has no such area.
 */
unsigned long iommufd_test_syz_iova(struct io_pagetable *iopt, u64 syz)
{
	struct {
		u32 nth_area;
		u32 offset;
	} layout;
	unsigned long iova;

	BUILD_BUG_ON(sizeof(layout) != sizeof(syz));
	memcpy(&layout, &syz, sizeof(layout));
	iova = iopt_test_nth_area_iova(iopt, layout.nth_area);
	return iova ? iova + layout.offset : 0;
}

/**
 * iommufd_test_syz_copy_src() - IOMMU_IOAS_COPY's source in syzkaller's form
 * @ucmd: the ioctl
 * @ioas_id: the source IOAS
 * @iova: the source IOVA, converted in place if @flags asks for it
 * @flags: the copy's flags; MOCK_FLAGS_ACCESS_SYZ is taken out
 */
void iommufd_test_syz_copy_src(struct iommufd_ucmd *ucmd, u32 ioas_id,
			       u64 *iova, u32 *flags)
{
	struct iommufd_ioas *ioas;

	if (!(*flags & MOCK_FLAGS_ACCESS_SYZ))
		return;
	*flags &= ~(u32)MOCK_FLAGS_ACCESS_SYZ;
	ioas = iommufd_ioas_lookup(ucmd->ictx, ioas_id);
	if (IS_ERR(ioas))
		return;
	*iova = iommufd_test_syz_iova(&ioas->iopt, *iova);
	iommufd_put_object(&ioas->obj);
}

/* Unpin and forget the ACCESS_PAGES pin @id; -ENOENT if there is none. */
static int iommufd_test_access_item_destroy(struct selftest_access *staccess,
					    unsigned int id)
{
	struct selftest_access_item *item;
	int rc = -ENOENT;

	mutex_lock(&staccess->lock);
	list_for_each_entry(item, &staccess->items, node) {
		if (item->id != id)
			continue;
		list_del(&item->node);
		iommufd_access_unpin_pages(staccess->access, item->iova,
					   item->length);
		kfree(item);
		rc = 0;
		break;
	}
	mutex_unlock(&staccess->lock);
	return rc;
}

static int iommufd_test_access_pages(struct iommufd_ucmd *ucmd)
{
	struct iommu_test_cmd *cmd = ucmd->args;
	unsigned long iova = cmd->access_pages.iova;
	unsigned long length = cmd->access_pages.length;
	unsigned long uptr = cmd->access_pages.uptr;
	struct selftest_access_item *item;
	struct selftest_access *staccess;
	unsigned long npages, last;
	struct page **pages;
	unsigned int id;
	int rc;

	if (length > MOCK_ACCESS_MAX_LENGTH)
		return -ENOMEM;
	if (cmd->access_pages.flags &
	    ~(MOCK_FLAGS_ACCESS_WRITE | MOCK_FLAGS_ACCESS_SYZ))
		return -EOPNOTSUPP;

	staccess = iommufd_test_access_get(cmd->id);
	if (IS_ERR(staccess))
		return PTR_ERR(staccess);
	if (cmd->access_pages.flags & MOCK_FLAGS_ACCESS_SYZ) {
		cmd->access_pages.iova =
			iommufd_access_test_syz_iova(staccess->access,
						     cmd->access_pages.iova);
		iova = cmd->access_pages.iova;
	}
	if (!staccess->pins) {
		rc = -EOPNOTSUPP;
		goto out_put;
	}
	/* The errnos of iommufd_access_pin_pages(), which upstream's give. */
	if (!length) {
		rc = -EINVAL;
		goto out_put;
	}
	if (cmd->access_pages.iova > ULONG_MAX ||
	    check_add_overflow(iova, length - 1, &last)) {
		rc = -EOVERFLOW;
		goto out_put;
	}

	npages = (ALIGN_DOWN(last, PAGE_SIZE) - ALIGN_DOWN(iova, PAGE_SIZE)) /
		 PAGE_SIZE + 1;
	pages = kvcalloc(npages, sizeof(*pages), GFP_KERNEL_ACCOUNT);
	if (!pages) {
		rc = -ENOMEM;
		goto out_put;
	}

	/* Held across the pin so the unmap op sees the item or no pin. */
	mutex_lock(&staccess->lock);
	rc = iommufd_access_pin_pages(staccess->access, iova, length, pages,
				      cmd->access_pages.flags &
					      MOCK_FLAGS_ACCESS_WRITE);
	if (rc)
		goto out_unlock;
	/* The user's memory at @uptr holds the IOVA's byte: EBADE if not. */
	if (uptr) {
		rc = -EBADE;
		if ((uptr - iova) % PAGE_SIZE == 0)
			rc = iommufd_test_check_pages(uptr & PAGE_MASK, pages,
						      npages);
		if (rc)
			goto out_unpin;
	}
	item = kzalloc(sizeof(*item), GFP_KERNEL_ACCOUNT);
	if (!item) {
		rc = -ENOMEM;
		goto out_unpin;
	}
	item->iova = iova;
	item->length = length;
	item->id = staccess->next_id++;
	cmd->access_pages.out_access_pages_id = item->id;
	id = item->id;
	list_add_tail(&item->node, &staccess->items);
	mutex_unlock(&staccess->lock);
	kvfree(pages);

	/*
	 * Answer without the lock the unmap op takes: the copy may wait on
	 * userspace. An answer that cannot be written undoes the pin.
	 */
	rc = iommufd_ucmd_reply(ucmd, sizeof(*cmd));
	/* By id: the unmap op may have freed the item already. */
	if (rc)
		iommufd_test_access_item_destroy(staccess, id);
	goto out_put;

out_unpin:
	iommufd_access_unpin_pages(staccess->access, iova, length);
out_unlock:
	mutex_unlock(&staccess->lock);
	kvfree(pages);
out_put:
	fput(staccess->file);
	return rc;
}

static int iommufd_test_access_destroy_pages(struct iommufd_ucmd *ucmd)
{
	struct iommu_test_cmd *cmd = ucmd->args;
	unsigned int id = cmd->destroy_access_pages.access_pages_id;
	struct selftest_access *staccess;
	int rc;

	staccess = iommufd_test_access_get(cmd->id);
	if (IS_ERR(staccess))
		return PTR_ERR(staccess);
	rc = iommufd_test_access_item_destroy(staccess, id);
	fput(staccess->file);
	return rc;
}

static_assert((unsigned int)MOCK_ACCESS_RW_WRITE == IOMMUFD_ACCESS_RW_WRITE);
static_assert((unsigned int)MOCK_ACCESS_RW_SLOW_PATH ==
	      __IOMMUFD_ACCESS_RW_SLOW_PATH);

/* A copy made from a kernel thread, for MOCK_ACCESS_RW_KTHREAD. */
/*
 * One ACCESS_RW in a worker. The worker may wait on userspace (a
 * userfaultfd) for as long as userspace likes, and no signal reaches it;
 * the ioctl waits killably, so whichever of the two ends last frees this.
 * @file keeps the access until then.
 */
struct mock_rw_work {
	struct work_struct work;
	struct completion done;
	refcount_t users;
	struct file *file;
	struct iommufd_access *access;
	unsigned long iova;
	size_t length;
	unsigned int flags;
	int rc;
	u8 data[];
};

static void mock_rw_work_put(struct mock_rw_work *rw)
{
	if (!refcount_dec_and_test(&rw->users))
		return;
	fput(rw->file);
	kvfree(rw);
}

static void mock_rw_work_fn(struct work_struct *work)
{
	struct mock_rw_work *rw = container_of(work, struct mock_rw_work, work);

	rw->rc = iommufd_access_rw(rw->access, rw->iova, rw->data, rw->length,
				   rw->flags | IOMMUFD_ACCESS_RW_KTHREAD);
	complete(&rw->done);
	mock_rw_work_put(rw);
}

/*
 * A worker of an unbound workqueue is a kernel thread without an mm.
 * -EINTR if a fatal signal came first: the worker goes on alone.
 */
static int mock_access_rw_kthread(struct selftest_access *staccess,
				  unsigned long iova, void *data,
				  size_t length, unsigned int flags)
{
	struct mock_rw_work *rw;
	int rc;

	rw = kvzalloc(struct_size(rw, data, length), GFP_KERNEL_ACCOUNT);
	if (!rw)
		return -ENOMEM;
	INIT_WORK(&rw->work, mock_rw_work_fn);
	init_completion(&rw->done);
	refcount_set(&rw->users, 2);
	rw->file = get_file(staccess->file);
	rw->access = staccess->access;
	rw->iova = iova;
	rw->length = length;
	rw->flags = flags;
	memcpy(rw->data, data, length);
	queue_work(system_unbound_wq, &rw->work);
	if (wait_for_completion_killable(&rw->done)) {
		rc = -EINTR;
	} else {
		rc = rw->rc;
		memcpy(data, rw->data, length);
	}
	mock_rw_work_put(rw);
	return rc;
}

static int iommufd_test_access_rw(struct iommufd_ucmd *ucmd)
{
	struct iommu_test_cmd *cmd = ucmd->args;
	unsigned int flags = cmd->access_rw.flags;
	unsigned long length = cmd->access_rw.length;
	void __user *ubuf = u64_to_user_ptr(cmd->access_rw.uptr);
	struct selftest_access *staccess;
	u8 small[64];
	void *tmp;
	int rc;

	if (length > MOCK_ACCESS_MAX_LENGTH)
		return -ENOMEM;
	if (flags & ~(MOCK_ACCESS_RW_WRITE | MOCK_ACCESS_RW_SLOW_PATH |
		      MOCK_ACCESS_RW_KTHREAD | MOCK_FLAGS_ACCESS_SYZ))
		return -EOPNOTSUPP;

	staccess = iommufd_test_access_get(cmd->id);
	if (IS_ERR(staccess))
		return PTR_ERR(staccess);
	if (flags & MOCK_FLAGS_ACCESS_SYZ) {
		cmd->access_rw.iova =
			iommufd_access_test_syz_iova(staccess->access,
						     cmd->access_rw.iova);
		flags &= ~MOCK_FLAGS_ACCESS_SYZ;
	}
	if (cmd->access_rw.iova > ULONG_MAX) {
		rc = -EOVERFLOW;
		goto out_put;
	}
	/* The tests copy a few bytes at a time, tens of thousands of times. */
	tmp = length <= sizeof(small) ? memset(small, 0, sizeof(small)) :
					kvzalloc(length, GFP_KERNEL_ACCOUNT);
	if (!tmp) {
		rc = -ENOMEM;
		goto out_put;
	}
	if ((flags & MOCK_ACCESS_RW_WRITE) && copy_from_user(tmp, ubuf, length)) {
		rc = -EFAULT;
		goto out_free;
	}
	if (flags & MOCK_ACCESS_RW_KTHREAD)
		rc = mock_access_rw_kthread(staccess, cmd->access_rw.iova,
					    tmp, length,
					    flags & ~MOCK_ACCESS_RW_KTHREAD);
	else
		rc = iommufd_access_rw(staccess->access, cmd->access_rw.iova,
				       tmp, length, flags);
	if (!rc && !(flags & MOCK_ACCESS_RW_WRITE) &&
	    copy_to_user(ubuf, tmp, length))
		rc = -EFAULT;
out_free:
	if (tmp != small)
		kvfree(tmp);
out_put:
	fput(staccess->file);
	return rc;
}

/*
 * The limit is in bytes of temporary memory per step. The only temporary
 * memory of pinning here is the page pointer array one GUP call fills, so
 * a small limit means many small GUP calls. Below upstream's floor (a
 * pointer and a u32, the least its batches work with) it is EINVAL.
 */
static int iommufd_test_set_memory_limit(struct iommufd_ucmd *ucmd)
{
	struct iommu_test_cmd *cmd = ucmd->args;

	if (cmd->memory_limit.limit < sizeof(unsigned long) + sizeof(u32))
		return -EINVAL;
	WRITE_ONCE(iommufd_test_pin_batch,
		   max_t(u32, cmd->memory_limit.limit / sizeof(struct page *),
			 1));
	return 0;
}

/**
 * iommufd_test() - run one IOMMU_TEST_CMD operation
 * @ucmd: the ioctl
 *
 * Return: the operation's result; -EOPNOTSUPP for operations this tree
 * does not implement.
 */
int iommufd_test(struct iommufd_ucmd *ucmd)
{
	struct iommu_test_cmd *cmd = ucmd->args;

	/* __reserved is not checked: upstream does not, and fuzzers set it. */
	switch (cmd->op) {
	case IOMMU_TEST_OP_ADD_RESERVED:
		return iommufd_test_add_reserved(ucmd);
	case IOMMU_TEST_OP_MOCK_DOMAIN:
	case IOMMU_TEST_OP_MOCK_DOMAIN_FLAGS:
		return iommufd_test_mock_domain(ucmd);
	case IOMMU_TEST_OP_MOCK_DOMAIN_REPLACE:
		return iommufd_test_mock_domain_replace(ucmd);
	case IOMMU_TEST_OP_MD_CHECK_MAP:
		return iommufd_test_md_check_map(ucmd);
	case IOMMU_TEST_OP_MD_CHECK_REFS:
		return iommufd_test_md_check_refs(ucmd);
	case IOMMU_TEST_OP_MD_CHECK_IOTLB:
		return iommufd_test_md_check_iotlb(ucmd);
	case IOMMU_TEST_OP_TRIGGER_IOPF:
		return iommufd_test_trigger_iopf(ucmd);
	case IOMMU_TEST_OP_DIRTY:
		return iommufd_test_dirty(ucmd);
	case IOMMU_TEST_OP_SET_TEMP_MEMORY_LIMIT:
		return iommufd_test_set_memory_limit(ucmd);
	case IOMMU_TEST_OP_CREATE_ACCESS:
		return iommufd_test_create_access(ucmd);
	case IOMMU_TEST_OP_ACCESS_REPLACE_IOAS:
		return iommufd_test_access_replace_ioas(ucmd);
	case IOMMU_TEST_OP_ACCESS_PAGES:
		return iommufd_test_access_pages(ucmd);
	case IOMMU_TEST_OP_DESTROY_ACCESS_PAGES:
		return iommufd_test_access_destroy_pages(ucmd);
	case IOMMU_TEST_OP_ACCESS_RW:
		return iommufd_test_access_rw(ucmd);
	default:
		return iommufd_ucmd_fail(ucmd, -EOPNOTSUPP,
					 "test operation %u is not supported",
					 cmd->op);
	}
}

/**
 * iommufd_test_init() - register the mock bus and the mock IOMMU
 *
 * Return: 0 or a negative errno.
 */
int iommufd_test_init(void)
{
	int rc;

	iommufd_mock_bus.iommu_ops = &mock_ops;
	rc = bus_register(&iommufd_mock_bus);
	if (rc)
		return rc;
	/*
	 * Not iommu_device_register(): in 6.1 that would install the mock's
	 * ops on the PCI and platform buses. Only the sysfs node is needed.
	 */
	mock_iommu.ops = &mock_ops;
	/* As wide as any mock device's PASIDs: the device's width counts. */
	mock_iommu.max_pasids = 1U << MOCK_PASID_WIDTH;
	rc = iommu_device_sysfs_add(&mock_iommu, NULL, NULL, "%s",
				    "iommufd_mock");
	if (rc)
		bus_unregister(&iommufd_mock_bus);
	return rc;
}

/**
 * iommufd_test_exit() - undo iommufd_test_init()
 */
void iommufd_test_exit(void)
{
	if (mock_shared_group)
		iommu_group_put(mock_shared_group);
	iommu_device_sysfs_remove(&mock_iommu);
	bus_unregister(&iommufd_mock_bus);
}
