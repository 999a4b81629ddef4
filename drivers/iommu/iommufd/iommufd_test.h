/* SPDX-License-Identifier: GPL-2.0 */
/*
 * IOMMU_TEST_CMD: the test-only ioctl of CONFIG_IOMMUFD_TEST.
 *
 * The operation numbers, the structure layout and the constants are those
 * of upstream Linux 6.12, so that upstream's kselftests and syzkaller's
 * iommufd descriptions drive this kernel unchanged. Operations this tree
 * does not implement yet fail with EOPNOTSUPP.
 */
#ifndef _UAPI_IOMMUFD_TEST_H
#define _UAPI_IOMMUFD_TEST_H

#include <linux/iommufd.h>
#include <linux/types.h>

enum {
	IOMMU_TEST_OP_ADD_RESERVED = 1,
	IOMMU_TEST_OP_MOCK_DOMAIN,
	IOMMU_TEST_OP_MD_CHECK_MAP,
	IOMMU_TEST_OP_MD_CHECK_REFS,
	IOMMU_TEST_OP_CREATE_ACCESS,
	IOMMU_TEST_OP_DESTROY_ACCESS_PAGES,
	IOMMU_TEST_OP_ACCESS_PAGES,
	IOMMU_TEST_OP_ACCESS_RW,
	IOMMU_TEST_OP_SET_TEMP_MEMORY_LIMIT,
	IOMMU_TEST_OP_MOCK_DOMAIN_REPLACE,
	IOMMU_TEST_OP_ACCESS_REPLACE_IOAS,
	IOMMU_TEST_OP_MOCK_DOMAIN_FLAGS,
	IOMMU_TEST_OP_DIRTY,
	IOMMU_TEST_OP_MD_CHECK_IOTLB,
	IOMMU_TEST_OP_TRIGGER_IOPF,
};

/* The IOVA window a mock domain can translate. */
enum {
	MOCK_APERTURE_START = 1UL << 24,
	MOCK_APERTURE_LAST = (1UL << 31) - 1,
};

enum {
	MOCK_FLAGS_ACCESS_WRITE = 1 << 0,
	MOCK_FLAGS_ACCESS_SYZ = 1 << 16,
};

/*
 * MOCK_ACCESS_RW_KTHREAD is ours, not upstream's: the copy runs in a
 * kernel thread, as VFIO's mdev drivers do from work items, and is made
 * with IOMMUFD_ACCESS_RW_KTHREAD.
 */
enum {
	MOCK_ACCESS_RW_WRITE = 1 << 0,
	MOCK_ACCESS_RW_SLOW_PATH = 1 << 2,
	MOCK_ACCESS_RW_KTHREAD = 1 << 30,
};

enum {
	MOCK_FLAGS_ACCESS_CREATE_NEEDS_PIN_PAGES = 1 << 0,
};

enum {
	MOCK_FLAGS_DEVICE_NO_DIRTY = 1 << 0,
	MOCK_FLAGS_DEVICE_HUGE_IOVA = 1 << 1,
};

enum {
	MOCK_NESTED_DOMAIN_IOTLB_ID_MAX = 3,
	MOCK_NESTED_DOMAIN_IOTLB_NUM = 4,
};

/**
 * struct iommu_test_cmd - ioctl(IOMMU_TEST_CMD)
 * @size: sizeof(struct iommu_test_cmd)
 * @op: one of IOMMU_TEST_OP_*
 * @id: the object the operation acts on, usually an IOAS
 * @__reserved: 0; not checked, as upstream does not check it
 * @add_reserved: IOMMU_TEST_OP_ADD_RESERVED: reserve @length bytes of IOVA
 *                from @start in the IOAS @id, as a device's reserved
 *                region would
 * @mock_domain: layout of IOMMU_TEST_OP_MOCK_DOMAIN
 * @mock_domain_flags: layout of IOMMU_TEST_OP_MOCK_DOMAIN_FLAGS
 * @mock_domain_replace: layout of IOMMU_TEST_OP_MOCK_DOMAIN_REPLACE
 * @check_map: layout of IOMMU_TEST_OP_MD_CHECK_MAP
 * @check_refs: layout of IOMMU_TEST_OP_MD_CHECK_REFS
 * @create_access: layout of IOMMU_TEST_OP_CREATE_ACCESS
 * @destroy_access_pages: layout of IOMMU_TEST_OP_DESTROY_ACCESS_PAGES
 * @access_pages: layout of IOMMU_TEST_OP_ACCESS_PAGES
 * @access_rw: layout of IOMMU_TEST_OP_ACCESS_RW
 * @memory_limit: layout of IOMMU_TEST_OP_SET_TEMP_MEMORY_LIMIT
 * @access_replace_ioas: layout of IOMMU_TEST_OP_ACCESS_REPLACE_IOAS
 * @dirty: layout of IOMMU_TEST_OP_DIRTY
 * @check_iotlb: layout of IOMMU_TEST_OP_MD_CHECK_IOTLB
 * @trigger_iopf: layout of IOMMU_TEST_OP_TRIGGER_IOPF
 * @last: marks the end of the first version of the structure
 */
struct iommu_test_cmd {
	__u32 size;
	__u32 op;
	__u32 id;
	__u32 __reserved;
	union {
		struct {
			__aligned_u64 start;
			__aligned_u64 length;
		} add_reserved;
		struct {
			__u32 out_stdev_id;
			__u32 out_hwpt_id;
			__u32 out_idev_id;
		} mock_domain;
		struct {
			__u32 out_stdev_id;
			__u32 out_hwpt_id;
			__u32 out_idev_id;
			__u32 dev_flags;
		} mock_domain_flags;
		struct {
			__u32 pt_id;
		} mock_domain_replace;
		struct {
			__aligned_u64 iova;
			__aligned_u64 length;
			__aligned_u64 uptr;
		} check_map;
		struct {
			__aligned_u64 length;
			__aligned_u64 uptr;
			__u32 refs;
		} check_refs;
		struct {
			__u32 out_access_fd;
			__u32 flags;
		} create_access;
		struct {
			__u32 access_pages_id;
		} destroy_access_pages;
		struct {
			__u32 flags;
			__u32 out_access_pages_id;
			__aligned_u64 iova;
			__aligned_u64 length;
			__aligned_u64 uptr;
		} access_pages;
		struct {
			__aligned_u64 iova;
			__aligned_u64 length;
			__aligned_u64 uptr;
			__u32 flags;
		} access_rw;
		struct {
			__u32 limit;
		} memory_limit;
		struct {
			__u32 ioas_id;
		} access_replace_ioas;
		struct {
			__u32 flags;
			__aligned_u64 iova;
			__aligned_u64 length;
			__aligned_u64 page_size;
			__aligned_u64 uptr;
			__aligned_u64 out_nr_dirty;
		} dirty;
		struct {
			__u32 id;
			__u32 iotlb;
		} check_iotlb;
		struct {
			__u32 dev_id;
			__u32 pasid;
			__u32 grpid;
			__u32 perm;
			__u64 addr;
		} trigger_iopf;
	};
	__u32 last;
};

#define IOMMU_TEST_CMD _IO(IOMMUFD_TYPE, IOMMUFD_CMD_BASE + 32)

/* What IOMMU_GET_HW_INFO reports for a mock device. */
#define IOMMU_HW_INFO_TYPE_SELFTEST	0xfeedbeef
#define IOMMU_HW_INFO_SELFTEST_REGVAL	0xdeadbeef

/**
 * struct iommu_test_hw_info - the mock IOMMU's IOMMU_GET_HW_INFO data
 * @flags: none defined
 * @test_reg: always IOMMU_HW_INFO_SELFTEST_REGVAL
 */
struct iommu_test_hw_info {
	__u32 flags;
	__u32 test_reg;
};

/*
 * Test-only data types of the mock IOMMU's nested HWPTs: IOMMU_HWPT_ALLOC
 * takes IOMMU_HWPT_DATA_SELFTEST on a mock HWPT made with
 * IOMMU_HWPT_ALLOC_NEST_PARENT, and IOMMU_HWPT_INVALIDATE takes
 * IOMMU_HWPT_INVALIDATE_DATA_SELFTEST requests on the nested HWPT. Its
 * MOCK_NESTED_DOMAIN_IOTLB_NUM IOTLB entries start as
 * struct iommu_hwpt_selftest says; IOMMU_TEST_OP_MD_CHECK_IOTLB reads them.
 */

/* A data type for IOMMU_HWPT_ALLOC outside enum iommu_hwpt_data_type. */
#define IOMMU_HWPT_DATA_SELFTEST	0xdead
#define IOMMU_TEST_IOTLB_DEFAULT	0xbadbeef

/**
 * struct iommu_hwpt_selftest - mock nested HWPT data
 * @iotlb: initial value of every mock IOTLB entry
 */
struct iommu_hwpt_selftest {
	__u32 iotlb;
};

/* Invalidation data types outside enum iommu_hwpt_invalidate_data_type. */
#define IOMMU_HWPT_INVALIDATE_DATA_SELFTEST		0xdeadbeef
#define IOMMU_HWPT_INVALIDATE_DATA_SELFTEST_INVALID	0xdadbeef

enum {
	IOMMU_TEST_INVALIDATE_FLAG_ALL = 1 << 0,
};

/**
 * struct iommu_hwpt_invalidate_selftest - one mock IOTLB invalidation
 * @flags: IOMMU_TEST_INVALIDATE_FLAG_ALL to invalidate every entry
 * @iotlb_id: the entry to invalidate otherwise
 */
struct iommu_hwpt_invalidate_selftest {
	__u32 flags;
	__u32 iotlb_id;
};

/*
 * A mock device with PASIDs: IOMMU_GET_HW_INFO reports MOCK_PASID_WIDTH
 * bits for it (0 for other mock devices). None attaches to a PASID here.
 */
enum {
	MOCK_FLAGS_DEVICE_PASID = 1 << 2,
};

#define MOCK_PASID_WIDTH 20

/*
 * Ours, not upstream's (hence the high bit): a mock device whose IOMMU
 * does not isolate MSIs, to test iommufd.allow_unsafe_interrupts.
 */
enum {
	MOCK_FLAGS_DEVICE_NO_MSI_ISOLATION = 1U << 31,
};

/*
 * Ours, not upstream's (upstream's device flags count up from bit 0): mock
 * devices made with MOCK_FLAGS_DEVICE_SHARED_GROUP all join one IOMMU
 * group, and each reports one reserved region of MOCK_SHARED_RESV_LENGTH
 * bytes at MOCK_SHARED_RESV_START + (n % MOCK_SHARED_RESV_SLOTS) *
 * MOCK_SHARED_RESV_STRIDE, n being the number in its device name. That is
 * a group whose devices reserve different IOVA, as two PCI functions with
 * RMRRs of their own behind one bridge do; the regions lie inside the mock
 * aperture.
 */
enum {
	MOCK_FLAGS_DEVICE_SHARED_GROUP = 1U << 30,
};

enum {
	MOCK_SHARED_RESV_START = 1UL << 30,
	MOCK_SHARED_RESV_STRIDE = 1UL << 20,
	MOCK_SHARED_RESV_LENGTH = 1UL << 18,
	MOCK_SHARED_RESV_SLOTS = 512,
};

#endif
