/* SPDX-License-Identifier: GPL-2.0 WITH Linux-syscall-note */
/*
 * iommufd: userspace control of IO address spaces through /dev/iommu.
 *
 * The command numbers and structure layouts in this file are the ones
 * upstream Linux defines, so that programs written against upstream work
 * unchanged on this kernel. Commands this kernel does not implement yet
 * are defined all the same, so that such programs still build; they fail
 * with ENOTTY at run time, as their kernel-doc says.
 */
#ifndef _UAPI_IOMMUFD_H
#define _UAPI_IOMMUFD_H

#include <linux/ioctl.h>
#include <linux/types.h>

#define IOMMUFD_TYPE (';')

/**
 * DOC: General ioctl format
 *
 * Every iommufd ioctl takes a pointer to one structure whose first member
 * is a __u32 ``size``: the number of bytes userspace passes. The ioctl
 * number is built with _IO() and does not encode the length, so a
 * structure can grow at its end without the command number changing.
 *
 * The kernel reads ``size`` first and then:
 *
 *  - rejects a ``size`` below the length of the first version of the
 *    structure with EINVAL;
 *  - treats bytes it does not know of (``size`` larger than its own
 *    structure) as a request for a newer feature: they must be zero, or
 *    the ioctl fails with E2BIG;
 *  - treats a ``size`` shorter than its own structure but not shorter than
 *    the first version as an older program, and reads the missing tail as
 *    zero.
 *
 * Results are written back only up to the ``size`` userspace passed.
 *
 * Beyond the errnos each ioctl documents, these have one meaning for all:
 *
 *  - ENOTTY: this ioctl number is not implemented at all;
 *  - E2BIG: the structure has non-zero bytes past what the kernel knows;
 *  - EOPNOTSUPP: the structure is understood, but a flag or a field value
 *    (reserved fields included) asks for something not supported;
 *  - EINVAL: the request is understood but a field is wrong;
 *  - ENOENT: an object ID or an IOVA does not exist;
 *  - ENOMEM: out of memory;
 *  - EOVERFLOW: arithmetic on the supplied values overflowed.
 */
enum {
	IOMMUFD_CMD_BASE = 0x80,
	IOMMUFD_CMD_DESTROY = IOMMUFD_CMD_BASE,
	IOMMUFD_CMD_IOAS_ALLOC = 0x81,
	IOMMUFD_CMD_IOAS_ALLOW_IOVAS = 0x82,
	IOMMUFD_CMD_IOAS_COPY = 0x83,
	IOMMUFD_CMD_IOAS_IOVA_RANGES = 0x84,
	IOMMUFD_CMD_IOAS_MAP = 0x85,
	IOMMUFD_CMD_IOAS_UNMAP = 0x86,
	IOMMUFD_CMD_OPTION = 0x87,
	IOMMUFD_CMD_VFIO_IOAS = 0x88,
	IOMMUFD_CMD_HWPT_ALLOC = 0x89,
	IOMMUFD_CMD_GET_HW_INFO = 0x8a,
	IOMMUFD_CMD_HWPT_SET_DIRTY_TRACKING = 0x8b,
	IOMMUFD_CMD_HWPT_GET_DIRTY_BITMAP = 0x8c,
	IOMMUFD_CMD_HWPT_INVALIDATE = 0x8d,
	IOMMUFD_CMD_FAULT_QUEUE_ALLOC = 0x8e,
	IOMMUFD_CMD_IOAS_MAP_FILE = 0x8f,
	IOMMUFD_CMD_VIOMMU_ALLOC = 0x90,
	IOMMUFD_CMD_VDEVICE_ALLOC = 0x91,
	IOMMUFD_CMD_IOAS_CHANGE_PROCESS = 0x92,
	IOMMUFD_CMD_VEVENTQ_ALLOC = 0x93,
};

/**
 * struct iommu_destroy - ioctl(IOMMU_DESTROY)
 * @size: sizeof(struct iommu_destroy)
 * @id: ID of the object to destroy
 *
 * Destroy any object the context holds by its ID. Fails with EBUSY while
 * another object still depends on it (for example an IOAS with a device
 * attached), and with ENOENT when @id names no object.
 */
struct iommu_destroy {
	__u32 size;
	__u32 id;
};

#define IOMMU_DESTROY _IO(IOMMUFD_TYPE, IOMMUFD_CMD_DESTROY)

/**
 * struct iommu_ioas_alloc - ioctl(IOMMU_IOAS_ALLOC)
 * @size: sizeof(struct iommu_ioas_alloc)
 * @flags: Must be 0
 * @out_ioas_id: ID of the new IOAS
 *
 * Create an empty IO address space. Nothing is mapped in it and no IOVA is
 * reserved until memory is mapped or a device is attached.
 */
struct iommu_ioas_alloc {
	__u32 size;
	__u32 flags;
	__u32 out_ioas_id;
};

#define IOMMU_IOAS_ALLOC _IO(IOMMUFD_TYPE, IOMMUFD_CMD_IOAS_ALLOC)

/**
 * struct iommu_iova_range - one span of IOVA
 * @start: First IOVA of the span
 * @last: Last IOVA of the span, inclusive
 */
struct iommu_iova_range {
	__aligned_u64 start;
	__aligned_u64 last;
};

/**
 * struct iommu_ioas_iova_ranges - ioctl(IOMMU_IOAS_IOVA_RANGES)
 * @size: sizeof(struct iommu_ioas_iova_ranges)
 * @ioas_id: IOAS to query
 * @num_iovas: In: how many struct iommu_iova_range fit at @allowed_iovas.
 *             Out: how many ranges the IOAS has.
 * @__reserved: Must be 0
 * @allowed_iovas: User pointer to an array of struct iommu_iova_range
 * @out_iova_alignment: Alignment, in bytes, that every IOVA and length
 *                      given to IOMMU_IOAS_MAP must have
 *
 * Report the IOVA ranges that may be mapped in the IOAS, in increasing
 * order. What is usable shrinks when a device is attached whose IOMMU
 * cannot translate some IOVAs or reserves them (for example the MSI
 * window), and when userspace restricts the IOAS with
 * IOMMU_IOAS_ALLOW_IOVAS; the answer is only valid until the next such
 * change.
 *
 * When the array is too small the kernel fills it as far as it goes, sets
 * @num_iovas to the number of ranges there are and fails with EMSGSIZE, so
 * that userspace can size the array and call again. A @num_iovas of 0 with
 * any @allowed_iovas is a plain query of the count.
 *
 * Every range satisfies::
 *
 *   start % out_iova_alignment == 0
 *   (last + 1) % out_iova_alignment == 0
 */
struct iommu_ioas_iova_ranges {
	__u32 size;
	__u32 ioas_id;
	__u32 num_iovas;
	__u32 __reserved;
	__aligned_u64 allowed_iovas;
	__aligned_u64 out_iova_alignment;
};

#define IOMMU_IOAS_IOVA_RANGES _IO(IOMMUFD_TYPE, IOMMUFD_CMD_IOAS_IOVA_RANGES)

/**
 * struct iommu_ioas_allow_iovas - ioctl(IOMMU_IOAS_ALLOW_IOVAS)
 * @size: sizeof(struct iommu_ioas_allow_iovas)
 * @ioas_id: IOAS to restrict
 * @num_iovas: Number of struct iommu_iova_range at @allowed_iovas
 * @__reserved: Must be 0
 * @allowed_iovas: User pointer to an array of struct iommu_iova_range
 *
 * Restrict the IOVAs the kernel may choose for IOMMU_IOAS_MAP and
 * IOMMU_IOAS_COPY calls without IOMMU_IOAS_MAP_FIXED_IOVA to the listed
 * ranges, replacing any earlier list. A @num_iovas of 0 lifts the
 * restriction. Mappings at fixed IOVAs are not affected, nor is what
 * IOMMU_IOAS_IOVA_RANGES reports.
 *
 * A VMM uses this to keep kernel-chosen IOVAs inside what the guest can
 * see, for example. Each range must have @start below @last, and ranges
 * must not overlap each other (EINVAL) nor an IOVA reserved by an
 * attached device (EADDRINUSE). The update is all or nothing.
 */
struct iommu_ioas_allow_iovas {
	__u32 size;
	__u32 ioas_id;
	__u32 num_iovas;
	__u32 __reserved;
	__aligned_u64 allowed_iovas;
};

#define IOMMU_IOAS_ALLOW_IOVAS _IO(IOMMUFD_TYPE, IOMMUFD_CMD_IOAS_ALLOW_IOVAS)

/**
 * enum iommufd_ioas_map_flags - flags of IOMMU_IOAS_MAP and IOMMU_IOAS_COPY
 * @IOMMU_IOAS_MAP_FIXED_IOVA: Map at the IOVA userspace gives instead of one
 *                             the kernel chooses
 * @IOMMU_IOAS_MAP_WRITEABLE: Devices may write to the memory
 * @IOMMU_IOAS_MAP_READABLE: Devices may read the memory
 */
enum iommufd_ioas_map_flags {
	IOMMU_IOAS_MAP_FIXED_IOVA = 1 << 0,
	IOMMU_IOAS_MAP_WRITEABLE = 1 << 1,
	IOMMU_IOAS_MAP_READABLE = 1 << 2,
};

/**
 * struct iommu_ioas_map - ioctl(IOMMU_IOAS_MAP)
 * @size: sizeof(struct iommu_ioas_map)
 * @flags: Combination of enum iommufd_ioas_map_flags; at least one of
 *         READABLE and WRITEABLE
 * @ioas_id: IOAS to map into
 * @__reserved: Must be 0
 * @user_va: Start of the user memory to map
 * @length: Number of bytes to map
 * @iova: With IOMMU_IOAS_MAP_FIXED_IOVA, the IOVA to map at; otherwise set
 *        by the kernel to the IOVA it chose
 *
 * Make the user memory at @user_va reachable by the devices of the IOAS at
 * @iova. The memory is pinned, and charged to the caller's locked memory,
 * once some device can reach it; while nothing is attached, the mapping
 * only reserves its IOVA.
 *
 * @iova, @user_va and @length must be aligned to the IOAS's
 * out_iova_alignment (see IOMMU_IOAS_IOVA_RANGES). A fixed IOVA range must
 * not overlap an existing mapping (EEXIST) nor a reserved IOVA (EINVAL).
 * A kernel-chosen IOVA is never 0, lies in the allowed ranges and keeps as
 * much of @user_va's alignment as the length allows, so that huge pages
 * stay huge in the IO page table; ENOSPC when no such IOVA is free.
 */
struct iommu_ioas_map {
	__u32 size;
	__u32 flags;
	__u32 ioas_id;
	__u32 __reserved;
	__aligned_u64 user_va;
	__aligned_u64 length;
	__aligned_u64 iova;
};

#define IOMMU_IOAS_MAP _IO(IOMMUFD_TYPE, IOMMUFD_CMD_IOAS_MAP)

/**
 * struct iommu_ioas_map_file - ioctl(IOMMU_IOAS_MAP_FILE)
 * @size: sizeof(struct iommu_ioas_map_file)
 * @flags: As for IOMMU_IOAS_MAP
 * @ioas_id: IOAS to map into
 * @fd: File whose memory is mapped: a memfd, or another shmem (tmpfs) or
 *      hugetlbfs file
 * @start: Offset in bytes into the file of the first byte to map
 * @length: Number of bytes to map
 * @iova: As for IOMMU_IOAS_MAP
 *
 * Like IOMMU_IOAS_MAP, but the memory is named by a file and an offset
 * rather than by a user address: the pages come from the file's page
 * cache, whether or not the process maps the file, and the mapping keeps
 * the file open until it is unmapped. @start plays the part of user_va for
 * alignment: it must meet out_iova_alignment, and a kernel-chosen IOVA
 * keeps its alignment. Pinning and accounting are as for IOMMU_IOAS_MAP.
 *
 * EBADF if @fd is not an open file; EINVAL if it is not a regular file
 * of shmem or hugetlbfs; EOVERFLOW if the range wraps or lies past the
 * largest file offset. The file must be open for reading, and for a
 * writeable mapping also for writing, not append-only and not sealed
 * against writes (EPERM); such a mapping stops the file from being sealed
 * so while it lasts. The file's pages are looked up when the mapping is
 * pinned, so a range that reaches past the end of the file fails with
 * EINVAL, and one holding a page with a memory error with EIO, when that
 * happens: at once if the IOAS has a domain, otherwise when a device is
 * attached or an access reaches the memory.
 */
struct iommu_ioas_map_file {
	__u32 size;
	__u32 flags;
	__u32 ioas_id;
	__s32 fd;
	__aligned_u64 start;
	__aligned_u64 length;
	__aligned_u64 iova;
};

#define IOMMU_IOAS_MAP_FILE _IO(IOMMUFD_TYPE, IOMMUFD_CMD_IOAS_MAP_FILE)

/**
 * struct iommu_ioas_copy - ioctl(IOMMU_IOAS_COPY)
 * @size: sizeof(struct iommu_ioas_copy)
 * @flags: Combination of enum iommufd_ioas_map_flags
 * @dst_ioas_id: IOAS to map into
 * @src_ioas_id: IOAS whose mappings supply the memory
 * @length: Number of bytes to copy
 * @dst_iova: With IOMMU_IOAS_MAP_FIXED_IOVA, the IOVA to map at in the
 *            destination; otherwise set by the kernel to the IOVA it chose
 * @src_iova: First IOVA of the source range
 *
 * Map in the destination IOAS the same memory that the source IOAS has
 * mapped from @src_iova to @src_iova + @length - 1, as IOMMU_IOAS_MAP of
 * that memory would, but without pinning or charging it a second time.
 * The source range must be covered by mappings without gaps (ENOENT
 * otherwise). A writeable copy of memory that was mapped read-only fails
 * with EPERM. The source and destination may be the same IOAS.
 */
struct iommu_ioas_copy {
	__u32 size;
	__u32 flags;
	__u32 dst_ioas_id;
	__u32 src_ioas_id;
	__aligned_u64 length;
	__aligned_u64 dst_iova;
	__aligned_u64 src_iova;
};

#define IOMMU_IOAS_COPY _IO(IOMMUFD_TYPE, IOMMUFD_CMD_IOAS_COPY)

/**
 * struct iommu_ioas_unmap - ioctl(IOMMU_IOAS_UNMAP)
 * @size: sizeof(struct iommu_ioas_unmap)
 * @ioas_id: IOAS to unmap from
 * @iova: First IOVA to unmap
 * @length: In: number of bytes to unmap. Out: number of bytes unmapped
 *
 * Remove every mapping inside the range. Mappings are removed whole: a
 * range that would cut one fails with ENOENT and unmaps nothing, and so
 * does a range with nothing mapped in it. @iova 0 with @length U64_MAX
 * removes everything and succeeds even on an empty IOAS.
 */
struct iommu_ioas_unmap {
	__u32 size;
	__u32 ioas_id;
	__aligned_u64 iova;
	__aligned_u64 length;
};

#define IOMMU_IOAS_UNMAP _IO(IOMMUFD_TYPE, IOMMUFD_CMD_IOAS_UNMAP)

/**
 * enum iommufd_option - what IOMMU_OPTION reads or changes
 * @IOMMU_OPTION_RLIMIT_MODE: how pinned memory is charged, for the whole
 *	context; @object_id must be 0. 0 charges the user's locked_vm
 *	against RLIMIT_MEMLOCK (the default); 1 charges the process's
 *	locked_vm, as VFIO type1 does. Changing it needs CAP_SYS_RESOURCE
 *	and a context without objects.
 * @IOMMU_OPTION_HUGE_PAGES: per IOAS (@object_id). 1 (the default) lets
 *	contiguous memory map with large IO page table entries; 0 maps
 *	every page on its own, which keeps any single page unmappable later.
 */
enum iommufd_option {
	IOMMU_OPTION_RLIMIT_MODE = 0,
	IOMMU_OPTION_HUGE_PAGES = 1,
};

/**
 * enum iommufd_option_ops - what IOMMU_OPTION does with the option
 * @IOMMU_OPTION_OP_SET: store @val64 in the option
 * @IOMMU_OPTION_OP_GET: return the option's value in @val64
 */
enum iommufd_option_ops {
	IOMMU_OPTION_OP_SET = 0,
	IOMMU_OPTION_OP_GET = 1,
};

/**
 * struct iommu_option - ioctl(IOMMU_OPTION)
 * @size: sizeof(struct iommu_option)
 * @option_id: one of enum iommufd_option
 * @op: one of enum iommufd_option_ops
 * @__reserved: must be 0
 * @object_id: the object the option belongs to, 0 for global options
 * @val64: In for OP_SET, out for OP_GET
 *
 * Read or change an option of the context or of one of its objects.
 */
struct iommu_option {
	__u32 size;
	__u32 option_id;
	__u16 op;
	__u16 __reserved;
	__u32 object_id;
	__aligned_u64 val64;
};

#define IOMMU_OPTION _IO(IOMMUFD_TYPE, IOMMUFD_CMD_OPTION)

/**
 * enum iommufd_vfio_ioas_op - what IOMMU_VFIO_IOAS does
 * @IOMMU_VFIO_IOAS_GET: report the IOAS the VFIO container emulation uses
 * @IOMMU_VFIO_IOAS_SET: make @ioas_id the IOAS the emulation uses
 * @IOMMU_VFIO_IOAS_CLEAR: forget the chosen IOAS, turning the emulation off
 */
enum iommufd_vfio_ioas_op {
	IOMMU_VFIO_IOAS_GET = 0,
	IOMMU_VFIO_IOAS_SET = 1,
	IOMMU_VFIO_IOAS_CLEAR = 2,
};

/**
 * struct iommu_vfio_ioas - ioctl(IOMMU_VFIO_IOAS)
 * @size: sizeof(struct iommu_vfio_ioas)
 * @ioas_id: In for IOMMU_VFIO_IOAS_SET: the IOAS to use. Out for
 *           IOMMU_VFIO_IOAS_GET: the IOAS in use
 * @op: one of enum iommufd_vfio_ioas_op
 * @__reserved: must be 0
 *
 * The VFIO container ioctls carry no object IDs, so an iommufd standing in
 * for /dev/vfio/vfio works on one IOAS picked for the purpose; this ioctl
 * reads or changes the pick. A VFIO group joined to the iommufd while no
 * IOAS is picked gets a new one, and a group already joined keeps the IOAS
 * it got. Neither SET nor CLEAR destroys an IOAS created that way, and
 * destroying the picked IOAS clears the pick.
 *
 * Return: 0; ENODEV to GET while no IOAS is picked; ENOENT to SET an ID
 * that names no IOAS; EOPNOTSUPP for a bad @op or a non-zero @__reserved.
 */
struct iommu_vfio_ioas {
	__u32 size;
	__u32 ioas_id;
	__u16 op;
	__u16 __reserved;
};

#define IOMMU_VFIO_IOAS _IO(IOMMUFD_TYPE, IOMMUFD_CMD_VFIO_IOAS)

/**
 * enum iommufd_hwpt_alloc_flags - flags for IOMMU_HWPT_ALLOC
 * @IOMMU_HWPT_ALLOC_NEST_PARENT: the paging HWPT may parent nested HWPTs;
 *	only if the device's IOMMU can nest (EOPNOTSUPP otherwise: VT-d on
 *	this kernel cannot)
 * @IOMMU_HWPT_ALLOC_DIRTY_TRACKING: the domain can track pages DMA wrote,
 *	see IOMMU_HWPT_SET_DIRTY_TRACKING; only for a device whose
 *	IOMMU_GET_HW_INFO reports IOMMU_HW_CAP_DIRTY_TRACKING (EOPNOTSUPP
 *	otherwise). Devices whose IOMMU cannot track dirty pages cannot be
 *	attached to such a HWPT (EINVAL)
 * @IOMMU_HWPT_FAULT_ID_VALID: @fault_id names a fault queue that the IO
 *	page faults of the devices attached to the HWPT go to; only for a
 *	nested HWPT (EOPNOTSUPP for a paging one)
 *
 * A nested HWPT takes no flag but IOMMU_HWPT_FAULT_ID_VALID (EOPNOTSUPP).
 */
enum iommufd_hwpt_alloc_flags {
	IOMMU_HWPT_ALLOC_NEST_PARENT = 1 << 0,
	IOMMU_HWPT_ALLOC_DIRTY_TRACKING = 1 << 1,
	IOMMU_HWPT_FAULT_ID_VALID = 1 << 2,
};

/**
 * enum iommu_hwpt_data_type - driver-specific data for IOMMU_HWPT_ALLOC
 * @IOMMU_HWPT_DATA_NONE: none; the HWPT is a paging domain filled from
 *	an IOAS
 * @IOMMU_HWPT_DATA_VTD_S1: struct iommu_hwpt_vtd_s1, an Intel VT-d stage-1
 *	table nested on a parent HWPT (not supported here: 6.1's intel-iommu
 *	cannot nest)
 */
enum iommu_hwpt_data_type {
	IOMMU_HWPT_DATA_NONE = 0,
	IOMMU_HWPT_DATA_VTD_S1 = 1,
};

/**
 * enum iommu_hwpt_vtd_s1_flags - attributes of a VT-d stage-1 page table
 * @IOMMU_VTD_S1_SRE: supervisor requests are allowed (SRE)
 * @IOMMU_VTD_S1_EAFE: the extended accessed flag is in use (EAFE)
 * @IOMMU_VTD_S1_WPE: write protection holds for supervisor requests (WPE)
 */
enum iommu_hwpt_vtd_s1_flags {
	IOMMU_VTD_S1_SRE = 1 << 0,
	IOMMU_VTD_S1_EAFE = 1 << 1,
	IOMMU_VTD_S1_WPE = 1 << 2,
};

/**
 * struct iommu_hwpt_vtd_s1 - data of IOMMU_HWPT_DATA_VTD_S1
 * @flags: combination of enum iommu_hwpt_vtd_s1_flags
 * @pgtbl_addr: root of the stage-1 table, an address in the IOVA space of
 *              the parent HWPT
 * @addr_width: width in bits of the addresses the stage-1 table translates
 * @__reserved: must be 0
 *
 * A stage-1 page table that userspace (usually a guest) owns and that the
 * IOMMU walks on top of the stage-2 translation of the parent HWPT.
 */
struct iommu_hwpt_vtd_s1 {
	__aligned_u64 flags;
	__aligned_u64 pgtbl_addr;
	__u32 addr_width;
	__u32 __reserved;
};

/**
 * struct iommu_hwpt_alloc - ioctl(IOMMU_HWPT_ALLOC)
 * @size: sizeof(struct iommu_hwpt_alloc)
 * @flags: combination of enum iommufd_hwpt_alloc_flags
 * @dev_id: a device bound to this context, whose IOMMU makes the domain
 * @pt_id: the IOAS whose mappings the domain mirrors; or, for a nested
 *         HWPT, a HWPT allocated with IOMMU_HWPT_ALLOC_NEST_PARENT
 * @out_hwpt_id: ID of the new HWPT
 * @__reserved: must be 0
 * @data_type: one of enum iommu_hwpt_data_type
 * @data_len: bytes at @data_uptr
 * @data_uptr: driver-specific data
 * @fault_id: a fault queue from IOMMU_FAULT_QUEUE_ALLOC, when @flags has
 *            IOMMU_HWPT_FAULT_ID_VALID
 * @__reserved2: must be 0
 *
 * Make an IO page table on @dev_id's IOMMU. With @data_type
 * IOMMU_HWPT_DATA_NONE, @pt_id is an IOAS and the HWPT is a paging one
 * that mirrors it. Otherwise @pt_id is a paging HWPT made with
 * IOMMU_HWPT_ALLOC_NEST_PARENT and the HWPT is a nested one: a page table
 * userspace owns, described by @data_type and @data_uptr, that the IOMMU
 * walks on top of the parent's translation, and whose caches userspace
 * flushes with IOMMU_HWPT_INVALIDATE. The device is not attached to the
 * HWPT; attach it (or other compatible devices) later. The HWPT keeps the
 * IOAS, or its parent, from being destroyed until it is destroyed (EBUSY).
 *
 * Errors: EOPNOTSUPP for non-zero reserved fields, unknown flags, flags or
 * a data type the device's IOMMU cannot honour; EINVAL if @data_type and
 * @data_len disagree (one is zero and the other not), if @pt_id is
 * neither an IOAS nor a paging HWPT, if that HWPT cannot parent a nested
 * one of the device's IOMMU (not made with IOMMU_HWPT_ALLOC_NEST_PARENT,
 * automatic, or of another IOMMU), or if @data_len is shorter than the
 * first version of the data type's structure or longer than the kernel's;
 * ENOENT for a bad @dev_id, or a @fault_id that names no fault queue;
 * EFAULT for unreadable data; ENOMEM.
 */
struct iommu_hwpt_alloc {
	__u32 size;
	__u32 flags;
	__u32 dev_id;
	__u32 pt_id;
	__u32 out_hwpt_id;
	__u32 __reserved;
	__u32 data_type;
	__u32 data_len;
	__aligned_u64 data_uptr;
	__u32 fault_id;
	__u32 __reserved2;
};

#define IOMMU_HWPT_ALLOC _IO(IOMMUFD_TYPE, IOMMUFD_CMD_HWPT_ALLOC)

/**
 * enum iommu_hw_info_vtd_flags - flags of struct iommu_hw_info_vtd
 * @IOMMU_HW_INFO_VTD_ERRATA_772415_SPR17: the IOMMU has Intel erratum
 *	772415 (SPR17): a HWPT allocated with IOMMU_HWPT_ALLOC_NEST_PARENT
 *	must not hold read-only mappings
 */
enum iommu_hw_info_vtd_flags {
	IOMMU_HW_INFO_VTD_ERRATA_772415_SPR17 = 1 << 0,
};

/**
 * struct iommu_hw_info_vtd - data of IOMMU_HW_INFO_TYPE_INTEL_VTD
 * @flags: combination of enum iommu_hw_info_vtd_flags
 * @__reserved: must be 0
 * @cap_reg: the IOMMU's Capability Register, raw
 * @ecap_reg: the IOMMU's Extended Capability Register, raw
 *
 * The register values are passed on undecoded; the VT-d specification
 * defines their bits. A VMM uses them, for example, to present a guest
 * with an emulated VT-d whose page tables the host IOMMU can walk.
 */
struct iommu_hw_info_vtd {
	__u32 flags;
	__u32 __reserved;
	__aligned_u64 cap_reg;
	__aligned_u64 ecap_reg;
};

/**
 * enum iommu_hw_info_type - format of the data of IOMMU_GET_HW_INFO
 * @IOMMU_HW_INFO_TYPE_NONE: as output: the driver reports no hardware data
 * @IOMMU_HW_INFO_TYPE_DEFAULT: as input: whatever format the driver reports
 *	by default (a later upstream addition, kept for source compatibility)
 * @IOMMU_HW_INFO_TYPE_INTEL_VTD: struct iommu_hw_info_vtd
 */
enum iommu_hw_info_type {
	IOMMU_HW_INFO_TYPE_NONE = 0,
	IOMMU_HW_INFO_TYPE_DEFAULT = 0,
	IOMMU_HW_INFO_TYPE_INTEL_VTD = 1,
};

/**
 * enum iommufd_hw_capabilities - bits of iommu_hw_info.out_capabilities
 * @IOMMU_HW_CAP_DIRTY_TRACKING: the IOMMU can record which pages DMA wrote,
 *	so IOMMU_HWPT_SET_DIRTY_TRACKING and IOMMU_HWPT_GET_DIRTY_BITMAP can
 *	work on HWPTs the device is attached to
 * @IOMMU_HW_CAP_PCI_PASID_EXEC: the device may send PASID requests with
 *	the Execute Requested bit; meaningless while out_max_pasid_log2 is 0
 * @IOMMU_HW_CAP_PCI_PASID_PRIV: the device may send PASID requests with
 *	the Privileged Mode Requested bit; meaningless while
 *	out_max_pasid_log2 is 0
 */
enum iommufd_hw_capabilities {
	IOMMU_HW_CAP_DIRTY_TRACKING = 1 << 0,
	IOMMU_HW_CAP_PCI_PASID_EXEC = 1 << 1,
	IOMMU_HW_CAP_PCI_PASID_PRIV = 1 << 2,
};

/**
 * enum iommufd_hw_info_flags - flags of IOMMU_GET_HW_INFO
 * @IOMMU_HW_INFO_FLAG_INPUT_TYPE: @in_data_type names the format wanted;
 *	without this flag, its value is ignored and the default format is
 *	reported (a later upstream addition, kept for source compatibility)
 */
enum iommufd_hw_info_flags {
	IOMMU_HW_INFO_FLAG_INPUT_TYPE = 1 << 0,
};

/**
 * struct iommu_hw_info - ioctl(IOMMU_GET_HW_INFO)
 * @size: sizeof(struct iommu_hw_info)
 * @flags: combination of enum iommufd_hw_info_flags
 * @dev_id: a device bound to this context
 * @data_len: In: bytes available at @data_uptr. Out: bytes of data the
 *            driver has
 * @data_uptr: user buffer for the driver's data
 * @in_data_type: with IOMMU_HW_INFO_FLAG_INPUT_TYPE, one of enum
 *                iommu_hw_info_type: the format asked for. It shares its
 *                storage with @out_data_type
 * @out_data_type: one of enum iommu_hw_info_type: the format of the data
 * @out_max_pasid_log2: number of PASID bits the device can use; 0 when it
 *                      has no PASID support
 * @__reserved: must be 0
 * @out_capabilities: combination of enum iommufd_hw_capabilities
 *
 * Describe the IOMMU that translates for @dev_id, so that userspace can
 * learn what it may ask of it (nesting formats, dirty tracking, PASIDs)
 * before building page tables, for a guest for example.
 *
 * The kernel copies at most @data_len bytes of its data, zeroes whatever
 * of the buffer is left over, and sets @data_len to the size of its full
 * data. A @data_len of 0 asks only for that size and for @out_data_type.
 * An IOMMU driver with nothing to report gives IOMMU_HW_INFO_TYPE_NONE and
 * no data.
 *
 * Errors: ENOENT if @dev_id is not a bound device; EOPNOTSUPP for unknown
 * @flags, a non-zero @__reserved, or an @in_data_type the driver does not
 * report; EFAULT if @data_uptr cannot be written.
 */
struct iommu_hw_info {
	__u32 size;
	__u32 flags;
	__u32 dev_id;
	__u32 data_len;
	__aligned_u64 data_uptr;
	union {
		__u32 in_data_type;
		__u32 out_data_type;
	};
	__u8 out_max_pasid_log2;
	__u8 __reserved[3];
	__aligned_u64 out_capabilities;
};

#define IOMMU_GET_HW_INFO _IO(IOMMUFD_TYPE, IOMMUFD_CMD_GET_HW_INFO)

/**
 * enum iommufd_hwpt_set_dirty_tracking_flags - start or stop dirty tracking
 * @IOMMU_HWPT_DIRTY_TRACKING_ENABLE: start recording DMA writes; without
 *	this flag, stop
 */
enum iommufd_hwpt_set_dirty_tracking_flags {
	IOMMU_HWPT_DIRTY_TRACKING_ENABLE = 1,
};

/**
 * struct iommu_hwpt_set_dirty_tracking - ioctl(IOMMU_HWPT_SET_DIRTY_TRACKING)
 * @size: sizeof(struct iommu_hwpt_set_dirty_tracking)
 * @flags: combination of enum iommufd_hwpt_set_dirty_tracking_flags
 * @hwpt_id: the HWPT to change
 * @__reserved: must be 0
 *
 * Turn on or off the recording of which pages of the HWPT's IO page table
 * DMA writes to. The HWPT must have been allocated with
 * IOMMU_HWPT_ALLOC_DIRTY_TRACKING. Turning it on forgets whatever was
 * recorded before, so the next IOMMU_HWPT_GET_DIRTY_BITMAP reports only
 * writes made after it; turning it on or off again is harmless.
 *
 * Errors: EOPNOTSUPP for unknown @flags, a non-zero @__reserved or a HWPT
 * allocated without IOMMU_HWPT_ALLOC_DIRTY_TRACKING; ENOENT if @hwpt_id is
 * not a HWPT.
 */
struct iommu_hwpt_set_dirty_tracking {
	__u32 size;
	__u32 flags;
	__u32 hwpt_id;
	__u32 __reserved;
};

#define IOMMU_HWPT_SET_DIRTY_TRACKING \
	_IO(IOMMUFD_TYPE, IOMMUFD_CMD_HWPT_SET_DIRTY_TRACKING)

/**
 * enum iommufd_hwpt_get_dirty_bitmap_flags - how the dirty bits are read
 * @IOMMU_HWPT_GET_DIRTY_BITMAP_NO_CLEAR: report the dirty state but leave
 *	it recorded; cheaper when the range is about to be unmapped anyway
 */
enum iommufd_hwpt_get_dirty_bitmap_flags {
	IOMMU_HWPT_GET_DIRTY_BITMAP_NO_CLEAR = 1,
};

/**
 * struct iommu_hwpt_get_dirty_bitmap - ioctl(IOMMU_HWPT_GET_DIRTY_BITMAP)
 * @size: sizeof(struct iommu_hwpt_get_dirty_bitmap)
 * @hwpt_id: the HWPT to read
 * @flags: combination of enum iommufd_hwpt_get_dirty_bitmap_flags
 * @__reserved: must be 0
 * @iova: IOVA that bit 0 of the bitmap stands for
 * @length: number of bytes of IOVA to report on
 * @page_size: bytes of IOVA each bit stands for
 * @data: user pointer to the bitmap, an array of __u64
 *
 * Walk the IO page table of the HWPT from @iova to @iova + @length - 1 and
 * set the bit of every @page_size block DMA wrote to since the last read,
 * which also forgets those writes unless
 * IOMMU_HWPT_GET_DIRTY_BITMAP_NO_CLEAR is given. Bits are only set, never
 * cleared, so start from a zeroed bitmap. With n = (x - @iova) / @page_size,
 * the bit of IOVA x is::
 *
 *   data[n / 64] & (1ULL << (n % 64))
 *
 * @page_size must be a power of two; @iova and @length must be multiples
 * of it and of the IOAS's IOVA alignment; @length must not be 0, and
 * every IOVA of the range must be mapped. The bitmap needs
 * DIV_ROUND_UP(@length / @page_size, 8) bytes and may start at any byte;
 * the kernel writes it a bounded piece at a time and never pins all of a
 * large bitmap at once.
 *
 * The IOMMU reports dirty state per IOPTE: a large IOPTE is reported
 * whole, and its state is forgotten whole. Ask for ranges that start and
 * end on the IOVA of whole mappings (IOMMU_IOAS_MAP calls); a large IOPTE
 * reaching outside the range makes the call fail with EPROTO.
 *
 * IOMMU_IOAS_UNMAP does not report what was dirty: read the range first,
 * with IOMMU_HWPT_GET_DIRTY_BITMAP_NO_CLEAR if nothing else will read it.
 *
 * Errors: EOPNOTSUPP for unknown @flags, a non-zero @__reserved or a HWPT
 * allocated without IOMMU_HWPT_ALLOC_DIRTY_TRACKING; ENOENT if @hwpt_id is
 * not a HWPT; EINVAL for a bad @page_size, @iova or @length, IOVA in the
 * range that is not mapped, or (on the mock IOMMU of CONFIG_IOMMUFD_TEST)
 * dirty tracking that is off; EOVERFLOW if @iova + @length - 1 overflows;
 * EFAULT if the bitmap cannot be written; EPROTO as above.
 */
struct iommu_hwpt_get_dirty_bitmap {
	__u32 size;
	__u32 hwpt_id;
	__u32 flags;
	__u32 __reserved;
	__aligned_u64 iova;
	__aligned_u64 length;
	__aligned_u64 page_size;
	__aligned_u64 data;
};

#define IOMMU_HWPT_GET_DIRTY_BITMAP \
	_IO(IOMMUFD_TYPE, IOMMUFD_CMD_HWPT_GET_DIRTY_BITMAP)

/**
 * enum iommu_hwpt_invalidate_data_type - format of invalidation requests
 * @IOMMU_HWPT_INVALIDATE_DATA_VTD_S1: struct iommu_hwpt_vtd_s1_invalidate
 */
enum iommu_hwpt_invalidate_data_type {
	IOMMU_HWPT_INVALIDATE_DATA_VTD_S1 = 0,
};

/**
 * enum iommu_hwpt_vtd_s1_invalidate_flags - scope of a VT-d invalidation
 * @IOMMU_VTD_INV_FLAGS_LEAF: only leaf entries changed, so cached upper
 *	levels of the page table may be kept
 */
enum iommu_hwpt_vtd_s1_invalidate_flags {
	IOMMU_VTD_INV_FLAGS_LEAF = 1 << 0,
};

/**
 * struct iommu_hwpt_vtd_s1_invalidate - one VT-d stage-1 invalidation
 * @addr: first address of the range; a multiple of 4KiB
 * @npages: number of 4KiB pages in the range
 * @flags: combination of enum iommu_hwpt_vtd_s1_invalidate_flags
 * @__reserved: must be 0
 *
 * After changing a stage-1 table it owns, userspace (typically a VMM
 * passing on a guest's invalidation) names the range whose cached
 * translations went stale. @addr 0 with @npages U64_MAX covers the whole
 * table. Device TLBs of devices with ATS enabled are flushed too.
 */
struct iommu_hwpt_vtd_s1_invalidate {
	__aligned_u64 addr;
	__aligned_u64 npages;
	__u32 flags;
	__u32 __reserved;
};

/**
 * struct iommu_hwpt_invalidate - ioctl(IOMMU_HWPT_INVALIDATE)
 * @size: sizeof(struct iommu_hwpt_invalidate)
 * @hwpt_id: the nested HWPT whose caches to flush
 * @data_uptr: user pointer to an array of requests
 * @data_type: one of enum iommu_hwpt_invalidate_data_type: the format of
 *             every request in the array; the HWPT must accept it
 * @entry_len: size in bytes of one request
 * @entry_num: In: number of requests. Out: how many of them, from the
 *             first, the kernel carried out
 * @__reserved: must be 0
 *
 * Flush the IOMMU caches of a page table that userspace manages, after it
 * changed the table. With @entry_num 0 nothing is flushed and @entry_len
 * and @data_uptr are not looked at: that asks whether the HWPT accepts
 * @data_type.
 *
 * The requests are carried out in order, and the first that cannot be
 * stops the ioctl: @entry_num is written back, whether the ioctl fails or
 * not, with the number carried out, so a failure names the bad request.
 *
 * Errors: EOPNOTSUPP for a non-zero @__reserved or a request with flags
 * the IOMMU does not know; EINVAL for a non-empty array with no
 * @data_uptr, an @entry_len of 0 or more than a page, or more than 2^19
 * entries, for a @data_type the HWPT does not take, an @entry_len shorter
 * than the first version of the request or longer than the kernel's, and
 * for a request the IOMMU refuses; ENOENT if @hwpt_id is not a nested
 * HWPT; EFAULT.
 */
struct iommu_hwpt_invalidate {
	__u32 size;
	__u32 hwpt_id;
	__aligned_u64 data_uptr;
	__u32 data_type;
	__u32 entry_len;
	__u32 entry_num;
	__u32 __reserved;
};

#define IOMMU_HWPT_INVALIDATE _IO(IOMMUFD_TYPE, IOMMUFD_CMD_HWPT_INVALIDATE)

/**
 * enum iommu_hwpt_pgfault_flags - flags of struct iommu_hwpt_pgfault
 * @IOMMU_PGFAULT_FLAGS_PASID_VALID: the request carried a PASID, in @pasid
 * @IOMMU_PGFAULT_FLAGS_LAST_PAGE: the fault closes its group, which is now
 *	waiting for a response
 */
enum iommu_hwpt_pgfault_flags {
	IOMMU_PGFAULT_FLAGS_PASID_VALID = 1 << 0,
	IOMMU_PGFAULT_FLAGS_LAST_PAGE = 1 << 1,
};

/**
 * enum iommu_hwpt_pgfault_perm - access a faulting request asked for
 * @IOMMU_PGFAULT_PERM_READ: read
 * @IOMMU_PGFAULT_PERM_WRITE: write
 * @IOMMU_PGFAULT_PERM_EXEC: execute: a PASID request with its Execute
 *	Requested bit set (PCIe, section 10.4.1)
 * @IOMMU_PGFAULT_PERM_PRIV: privileged: a PASID request with its Privileged
 *	Mode Requested bit set (PCIe, section 10.4.1)
 */
enum iommu_hwpt_pgfault_perm {
	IOMMU_PGFAULT_PERM_READ = 1 << 0,
	IOMMU_PGFAULT_PERM_WRITE = 1 << 1,
	IOMMU_PGFAULT_PERM_EXEC = 1 << 2,
	IOMMU_PGFAULT_PERM_PRIV = 1 << 3,
};

/**
 * struct iommu_hwpt_pgfault - a fault message read from a fault queue
 * @flags: combination of enum iommu_hwpt_pgfault_flags
 * @dev_id: the bound device whose request faulted
 * @pasid: PASID of the request, if @flags says there is one
 * @grpid: the Page Request Group Index the device sent
 * @perm: combination of enum iommu_hwpt_pgfault_perm
 * @__reserved: always 0
 * @addr: the address that faulted
 * @length: how many bytes from @addr the device expects to touch, if it
 *          said (a handler may then fault in that much at once); else 0
 * @cookie: names the fault group; a response echoes the cookie of the
 *          group's last message
 */
struct iommu_hwpt_pgfault {
	__u32 flags;
	__u32 dev_id;
	__u32 pasid;
	__u32 grpid;
	__u32 perm;
	__u32 __reserved;
	__aligned_u64 addr;
	__u32 length;
	__u32 cookie;
};

/**
 * enum iommufd_page_response_code - outcome of handling a fault group
 * @IOMMUFD_PAGE_RESP_SUCCESS: the page tables now cover the faults and the
 *	device should retry ("Success", PCIe section 10.4.2.1)
 * @IOMMUFD_PAGE_RESP_INVALID: the faults could not be resolved and the
 *	device should not retry ("Invalid Request", PCIe section 10.4.2.1)
 */
enum iommufd_page_response_code {
	IOMMUFD_PAGE_RESP_SUCCESS = 0,
	IOMMUFD_PAGE_RESP_INVALID = 1,
};

/**
 * struct iommu_hwpt_page_response - answer written to a fault queue
 * @cookie: the cookie of the fault group answered
 * @code: one of enum iommufd_page_response_code
 */
struct iommu_hwpt_page_response {
	__u32 cookie;
	__u32 code;
};

/**
 * struct iommu_fault_alloc - ioctl(IOMMU_FAULT_QUEUE_ALLOC)
 * @size: sizeof(struct iommu_fault_alloc)
 * @flags: must be 0
 * @out_fault_id: ID of the new fault queue object
 * @out_fault_fd: file descriptor of the new fault queue
 *
 * Create a queue for the I/O page faults of the HWPTs that name it with
 * IOMMU_HWPT_FAULT_ID_VALID. Userspace read()s struct iommu_hwpt_pgfault
 * messages from @out_fault_fd and write()s one struct
 * iommu_hwpt_page_response for each fault group it dealt with.
 *
 * read() takes a multiple of the message's size (ESPIPE otherwise, and for
 * an offset), returns as many messages as fit, 0 if there is none (it
 * does not wait: poll() for POLLIN), EINVAL if the first does not fit.
 * write() takes a multiple of the response's size and returns the bytes of
 * the responses carried out, or the error of the first: EINVAL for a code
 * other than those of enum iommufd_page_response_code or a cookie that
 * names no fault read and not answered yet. A fault the device can no
 * longer be answered through the queue for (it detached, or moved to
 * another HWPT) is answered IOMMUFD_PAGE_RESP_INVALID by the kernel, and
 * its cookie is gone.
 *
 * The queue lives until IOMMU_DESTROY, which is EBUSY while its file is
 * open or a HWPT uses it. Errors: EOPNOTSUPP for non-zero @flags; EMFILE;
 * ENOMEM; EFAULT.
 */
struct iommu_fault_alloc {
	__u32 size;
	__u32 flags;
	__u32 out_fault_id;
	__u32 out_fault_fd;
};

#define IOMMU_FAULT_QUEUE_ALLOC _IO(IOMMUFD_TYPE, IOMMUFD_CMD_FAULT_QUEUE_ALLOC)

#endif
