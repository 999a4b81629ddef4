// SPDX-License-Identifier: GPL-2.0-only
/*
 * Error paths under allocation failure: a sweep of fault injection points.
 *
 * Each variant of the fixture is a scenario: a short sequence of iommufd
 * calls that works when nothing fails. The test runs it again and again
 * with the kernel told to fail the Nth fault injection point this task
 * reaches, for N = 1, 2, 3, ..., until a run ends without the failure
 * having happened: then every point the sequence reaches has failed once.
 * A run stops at its first failing call, whatever the errno, and closes
 * everything; a fresh /dev/iommu file then checks that no page of the
 * buffer is left pinned (IOMMU_TEST_OP_MD_CHECK_REFS). The console check
 * catches what the kernel says about the failure paths: WARN, KASAN,
 * lockdep, kmemleak.
 *
 * The knob is /proc/self/task/<tid>/fail-nth: writing N makes the Nth
 * should_fail() call of that task, from now on, return true, whichever
 * fault attribute it checks (failslab, fail_page_alloc, fail_usercopy),
 * ignoring their probability and task filter. It reads back as the count
 * still to go, 0 once the failure happened. Two things get in the way:
 *
 *  - failslab and fail_page_alloc filter before they ask should_fail():
 *    by default neither fails allocations that may sleep in reclaim, and
 *    fail_page_alloc skips order 0. So this program sets ignore-gfp-wait
 *    to N for both and min-order to 0, and verbose to 0 for every fail*
 *    attribute, as at verbose 2 each failure dumps a stack that the
 *    console check would take for a splat. It puts them back at exit.
 *  - Reading and writing fail-nth copy from and to userspace, and such
 *    copies are injection points too; see nth_disarm().
 *
 * The count is armed right before the sequence and read back right after
 * it, in the thread that makes the calls (the harness runs each test in a
 * child process of its own), and between the two the sequence makes no
 * other system call: the harness's own allocations never fail.
 */
/* For memfd_create(). */
#define _GNU_SOURCE
#include <dirent.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/statfs.h>
#include <sys/syscall.h>

#include <linux/vfio.h>

#include "iommufd_utils.h"

/* Give up on a scenario that still reaches new failure points after this. */
#define NTH_MAX 3000
/* Seconds for one sweep: a few hundred runs that make mock devices. */
#define NTH_TIMEOUT 600
#define NTH_BUF_PAGES 16
#define NTH_DEBUGFS "/sys/kernel/debug"
/* Injected failures are tallied per errno below this. */
#define NTH_ERRNOS 256

#define NTH_RW (IOMMU_IOAS_MAP_READABLE | IOMMU_IOAS_MAP_WRITEABLE)
#define NTH_FIXED_RW (IOMMU_IOAS_MAP_FIXED_IOVA | NTH_RW)
#define NTH_ALL UINT64_MAX

static unsigned long page_size;
/* The memory the scenarios map, pin and check. */
static char *nth_buf;
/* One page of user memory on the other side of IOMMU_TEST_OP_ACCESS_RW. */
static char *nth_rw_buf;
/*
 * A private hugetlbfs mount of NTH_HUGE_PAGES pages for the file of the
 * map_file_huge scenario, or "" without one. The file's page references
 * are not the pins MD_CHECK_REFS counts; the mount's free pages (statfs)
 * are back to all of them only once every reference is dropped.
 */
static char nth_huge_dir[64];
#define NTH_HUGE_SIZE (2UL << 20)
#define NTH_HUGE_PAGES 4

/*
 * A debugfs file this program changes, with what it held before. The
 * verbose files are found at run time, one per fail* directory.
 */
struct nth_knob {
	char path[128];
	const char *value;
	bool required;
	bool changed;
	char saved[16];
};

#define NTH_MAX_KNOBS 24

static struct nth_knob nth_knobs[NTH_MAX_KNOBS] = {
	{ NTH_DEBUGFS "/failslab/ignore-gfp-wait", "N", true },
	{ NTH_DEBUGFS "/fail_page_alloc/ignore-gfp-wait", "N", true },
	{ NTH_DEBUGFS "/fail_page_alloc/min-order", "0", true },
	{ NTH_DEBUGFS "/failslab/verbose", "0", true },
	{ NTH_DEBUGFS "/fail_page_alloc/verbose", "0", true },
};

/* Why the sweeps cannot run, or NULL when they can. */
static const char *nth_unavailable;
static char nth_reason[256];
#define NTH_CONFIGS "FAILSLAB, FAIL_PAGE_ALLOC, FAULT_INJECTION_DEBUG_FS"

static int nth_write_file(const char *path, const char *value)
{
	ssize_t len = strlen(value);
	int fd, rc = 0;

	fd = open(path, O_WRONLY);
	if (fd < 0)
		return -1;
	if (write(fd, value, len) != len)
		rc = -1;
	close(fd);
	return rc;
}

static int nth_read_file(const char *path, char *buf, size_t size)
{
	ssize_t len;
	int fd;

	fd = open(path, O_RDONLY);
	if (fd < 0)
		return -1;
	len = read(fd, buf, size - 1);
	close(fd);
	if (len <= 0)
		return -1;
	buf[len] = 0;
	buf[strcspn(buf, "\n")] = 0;
	return 0;
}

/* Add <dir>/verbose of every fail* attribute not in the table yet. */
static void nth_find_verbose_knobs(void)
{
	unsigned int num = 0;
	struct dirent *dent;
	DIR *dir;

	while (num != NTH_MAX_KNOBS && nth_knobs[num].value)
		num++;
	dir = opendir(NTH_DEBUGFS);
	if (!dir)
		return;
	while ((dent = readdir(dir)) && num != NTH_MAX_KNOBS) {
		struct nth_knob *knob = &nth_knobs[num];
		unsigned int i;

		if (strncmp(dent->d_name, "fail", 4) ||
		    strlen(dent->d_name) > 64)
			continue;
		snprintf(knob->path, sizeof(knob->path),
			 NTH_DEBUGFS "/%.64s/verbose", dent->d_name);
		for (i = 0; i != num; i++)
			if (!strcmp(nth_knobs[i].path, knob->path))
				break;
		if (i != num || access(knob->path, W_OK))
			continue;
		knob->value = "0";
		num++;
	}
	closedir(dir);
}

static void nth_restore_knobs(void)
{
	int i;

	for (i = NTH_MAX_KNOBS - 1; i >= 0; i--) {
		struct nth_knob *knob = &nth_knobs[i];

		if (!knob->changed)
			continue;
		nth_write_file(knob->path, knob->saved);
		knob->changed = false;
	}
}

/* The private hugetlbfs mount, if there can be one. */
static void nth_mount_huge(void)
{
	strcpy(nth_huge_dir, "/tmp/iommufd_fail_nth.XXXXXX");
	if (!mkdtemp(nth_huge_dir)) {
		nth_huge_dir[0] = 0;
		return;
	}
	if (mount("none", nth_huge_dir, "hugetlbfs", 0,
		  "pagesize=2M,size=8M")) {
		rmdir(nth_huge_dir);
		nth_huge_dir[0] = 0;
	}
}

/* Runs once, in the harness's parent process, before any test. */
static __attribute__((constructor)) void nth_setup(void)
{
	char path[64];
	unsigned int i;
	int fd;

	page_size = sysconf(_SC_PAGE_SIZE);
	nth_buf = test_alloc_small_pages(NTH_BUF_PAGES);
	nth_rw_buf = test_alloc_small_pages(1);
	if (!nth_buf || !nth_rw_buf) {
		nth_unavailable = "cannot map the test buffers";
		return;
	}

	snprintf(path, sizeof(path), "/proc/self/task/%d/fail-nth", getpid());
	fd = open(path, O_RDWR);
	if (fd < 0) {
		nth_unavailable = "no fail-nth (FAULT_INJECTION?)";
		return;
	}
	close(fd);

	nth_mount_huge();
	nth_find_verbose_knobs();
	for (i = 0; i != NTH_MAX_KNOBS && nth_knobs[i].value; i++) {
		struct nth_knob *knob = &nth_knobs[i];

		if (nth_read_file(knob->path, knob->saved,
				  sizeof(knob->saved)) ||
		    nth_write_file(knob->path, knob->value)) {
			if (!knob->required)
				continue;
			snprintf(nth_reason, sizeof(nth_reason),
				 "cannot set %.128s (debugfs mounted? %s?)",
				 knob->path, NTH_CONFIGS);
			nth_unavailable = nth_reason;
			nth_restore_knobs();
			return;
		}
		knob->changed = true;
	}
}

/* Only the parent gets here: the test children leave with _exit(). */
static __attribute__((destructor)) void nth_cleanup(void)
{
	nth_restore_knobs();
	if (nth_huge_dir[0]) {
		umount2(nth_huge_dir, MNT_DETACH);
		rmdir(nth_huge_dir);
	}
}

static int nth_open_knob(void)
{
	char path[64];

	snprintf(path, sizeof(path), "/proc/self/task/%ld/fail-nth",
		 (long)syscall(SYS_gettid));
	return open(path, O_RDWR);
}

static void nth_arm(struct __test_metadata *_metadata, int nth_fd,
		    unsigned int nth)
{
	char buf[16];
	int len;

	len = snprintf(buf, sizeof(buf), "%u", nth);
	ASSERT_EQ(len, pwrite(nth_fd, buf, len, 0));
}

/*
 * Disarm, and tell whether the armed failure happened. fail-nth holding
 * k > 0 means it did not; but reading it is a copy to userspace, which
 * counts k down once more, and at k = 1 fails with EFAULT. Writing 0
 * copies from userspace first, with the same effect. Either way the
 * count is 0 afterwards, which a last read checks: a read of 0 counts
 * nothing down.
 */
static bool nth_disarm(struct __test_metadata *_metadata, int nth_fd)
{
	char buf[16] = {};
	ssize_t len;
	bool fired;

	len = pread(nth_fd, buf, sizeof(buf) - 1, 0);
	if (len < 0)
		ASSERT_EQ(EFAULT, errno);
	fired = len > 0 && !strtoul(buf, NULL, 10);

	if (pwrite(nth_fd, "0", 1, 0) != 1)
		ASSERT_EQ(EFAULT, errno);

	memset(buf, 0, sizeof(buf));
	ASSERT_LT(0, pread(nth_fd, buf, sizeof(buf) - 1, 0));
	ASSERT_EQ(0, strtoul(buf, NULL, 10));
	return fired;
}

/* The objects of one run. Only what is open is closed at its end. */
struct nth_run {
	int fd;
	int access_fd;
	__u32 ioas_id;
	__u32 ioas2_id;
	__u32 stdev_id;
	__u32 idev_id;
	__u64 iova;
	/* The file of the map_file scenarios, and its page size. */
	int mfd;
	unsigned long unit;
};

/*
 * A scenario: @prepare (may be NULL) runs before arming and asserts that
 * it worked; @steps is the swept sequence, returning 0 or -1 with errno
 * of the first call that failed. @steps makes iommufd calls only, and
 * opens run->fd itself when @opens_fd.
 */
FIXTURE_VARIANT(fail_nth)
{
	bool opens_fd;
	bool needs_huge_mount;
	void (*prepare)(struct __test_metadata *_metadata,
			struct nth_run *run);
	int (*steps)(struct nth_run *run);
};

FIXTURE(fail_nth)
{
	int nth_fd;
	struct nth_run run;
};

static void nth_run_close(struct nth_run *run)
{
	if (run->access_fd >= 0)
		close(run->access_fd);
	if (run->fd >= 0)
		close(run->fd);
	if (run->mfd >= 0)
		close(run->mfd);
	memset(run, 0, sizeof(*run));
	run->fd = -1;
	run->access_fd = -1;
	run->mfd = -1;
}

FIXTURE_SETUP(fail_nth)
{
	self->nth_fd = -1;
	self->run.fd = -1;
	self->run.access_fd = -1;
	self->run.mfd = -1;
}

/* Closing is all there is to undo, so it cannot fail here. */
FIXTURE_TEARDOWN(fail_nth)
{
	nth_run_close(&self->run);
	if (self->nth_fd >= 0)
		close(self->nth_fd);
}

/* Open, allow, query and destroy IOASes; the open is swept too. */
static int nth_steps_ioas(struct nth_run *run)
{
	const struct iommu_iova_range allowed = {
		.start = MOCK_APERTURE_START,
		.last = MOCK_APERTURE_LAST,
	};
	struct iommu_iova_range ranges[4];
	__u32 num = ARRAY_SIZE(ranges);
	__u32 second;

	run->fd = open("/dev/iommu", O_RDWR);
	if (run->fd < 0)
		return -1;
	if (_test_ioctl_ioas_alloc(run->fd, &run->ioas_id) ||
	    _test_ioctl_ioas_allow_iovas(run->fd, run->ioas_id, &allowed, 1) ||
	    _test_ioctl_iova_ranges(run->fd, run->ioas_id, ranges, &num,
				    NULL) ||
	    _test_ioctl_ioas_alloc(run->fd, &second))
		return -1;
	return _test_ioctl_destroy(run->fd, second);
}

static void nth_prepare_ioas(struct __test_metadata *_metadata,
			     struct nth_run *run)
{
	ASSERT_EQ(0, _test_ioctl_ioas_alloc(run->fd, &run->ioas_id));
}

/* Map at a chosen and at a fixed IOVA, then unmap, with no domain. */
static int nth_steps_map_unmap(struct nth_run *run)
{
	__u64 fixed = MOCK_APERTURE_START;
	__u64 iova;

	if (_test_ioctl_ioas_map(run->fd, run->ioas_id, nth_buf,
				 4 * page_size, &iova, NTH_RW) ||
	    _test_ioctl_ioas_map(run->fd, run->ioas_id, nth_buf + page_size,
				 4 * page_size, &fixed, NTH_FIXED_RW) ||
	    _test_ioctl_ioas_unmap(run->fd, run->ioas_id, iova, 4 * page_size,
				   NULL))
		return -1;
	return _test_ioctl_ioas_unmap(run->fd, run->ioas_id, 0, NTH_ALL, NULL);
}

/*
 * Attach a mock domain to an empty IOAS and map (pinning at once), copy
 * to a second IOAS without a domain and part of it back, unmap it all.
 */
static int nth_steps_domain_copy(struct nth_run *run)
{
	__u64 iova, copy, back;

	if (_test_cmd_mock_domain(run->fd, run->ioas_id, &run->stdev_id, NULL,
				  NULL) ||
	    _test_ioctl_ioas_map(run->fd, run->ioas_id, nth_buf,
				 8 * page_size, &iova, NTH_RW) ||
	    _test_ioctl_ioas_alloc(run->fd, &run->ioas2_id) ||
	    _test_ioctl_ioas_copy(run->fd, run->ioas2_id, run->ioas_id, iova,
				  8 * page_size, &copy, NTH_RW) ||
	    _test_ioctl_ioas_copy(run->fd, run->ioas_id, run->ioas2_id,
				  copy + 2 * page_size, 4 * page_size, &back,
				  NTH_RW) ||
	    _test_ioctl_ioas_unmap(run->fd, run->ioas_id, 0, NTH_ALL, NULL) ||
	    _test_ioctl_ioas_unmap(run->fd, run->ioas2_id, 0, NTH_ALL, NULL))
		return -1;
	return _test_ioctl_destroy(run->fd, run->stdev_id);
}

/* Two areas of different iopt_pages, mapped before any domain. */
static void nth_prepare_mapped(struct __test_metadata *_metadata,
			       struct nth_run *run)
{
	__u64 second = MOCK_APERTURE_START + 64 * page_size;

	nth_prepare_ioas(_metadata, run);
	run->iova = MOCK_APERTURE_START;
	ASSERT_EQ(0, _test_ioctl_ioas_map(run->fd, run->ioas_id, nth_buf,
					  4 * page_size, &run->iova,
					  NTH_FIXED_RW));
	ASSERT_EQ(0, _test_ioctl_ioas_map(run->fd, run->ioas_id,
					  nth_buf + 4 * page_size,
					  8 * page_size, &second,
					  NTH_FIXED_RW));
}

/* The first domain pins and fills what the IOAS maps already. */
static int nth_steps_attach_after_map(struct nth_run *run)
{
	if (_test_cmd_mock_domain(run->fd, run->ioas_id, &run->stdev_id, NULL,
				  NULL) ||
	    _test_ioctl_ioas_unmap(run->fd, run->ioas_id, run->iova,
				   4 * page_size, NULL) ||
	    _test_ioctl_destroy(run->fd, run->stdev_id))
		return -1;
	return _test_ioctl_ioas_unmap(run->fd, run->ioas_id, 0, NTH_ALL, NULL);
}

static void nth_prepare_device(struct __test_metadata *_metadata,
			       struct nth_run *run)
{
	nth_prepare_mapped(_metadata, run);
	ASSERT_EQ(0, _test_cmd_mock_domain(run->fd, run->ioas_id,
					   &run->stdev_id, NULL,
					   &run->idev_id));
}

/*
 * A second domain with IOMMU_HWPT_ALLOC, filled from the IOAS, a second
 * device attached to it, and a map and unmap that reach both domains.
 */
static int nth_steps_hwpt_alloc(struct nth_run *run)
{
	__u64 iova = MOCK_APERTURE_START + 128 * page_size;
	__u32 hwpt_id, stdev_id;

	if (_test_cmd_hwpt_alloc(run->fd, run->idev_id, run->ioas_id, 0,
				 &hwpt_id) ||
	    _test_cmd_mock_domain(run->fd, hwpt_id, &stdev_id, NULL, NULL) ||
	    _test_ioctl_ioas_map(run->fd, run->ioas_id, nth_buf,
				 2 * page_size, &iova, NTH_FIXED_RW) ||
	    _test_ioctl_ioas_unmap(run->fd, run->ioas_id, 0, NTH_ALL, NULL) ||
	    _test_ioctl_destroy(run->fd, stdev_id))
		return -1;
	return _test_ioctl_destroy(run->fd, hwpt_id);
}

/*
 * Dirty tracking: a HWPT made for it, tracking turned on (which clears the
 * IOPTEs), writes played by the mock, the bitmap read twice (walker and
 * its page pins), once without clearing, then tracking off and the HWPT
 * destroyed. The bitmap does not start on a u64, and ends where a page
 * ends or just past it, depending on where the array lies.
 */
static int nth_steps_dirty(struct nth_run *run)
{
	static __u64 marks[1], bitmap[2 * 4096 / sizeof(__u64)];
	__u8 *bits = (__u8 *)bitmap + sizeof(bitmap) / 2 - 1;
	__u64 length = 4 * page_size;
	__u32 hwpt_id;

	marks[0] = 0x5;
	if (_test_cmd_hwpt_alloc(run->fd, run->idev_id, run->ioas_id,
				 IOMMU_HWPT_ALLOC_DIRTY_TRACKING, &hwpt_id) ||
	    _test_cmd_set_dirty_tracking(run->fd, hwpt_id, true) ||
	    _test_cmd_mock_dirty(run->fd, hwpt_id, run->iova, length,
				 page_size, marks, NULL) ||
	    _test_cmd_get_dirty_bitmap(run->fd, hwpt_id, run->iova, length,
				       page_size / 2, bits,
				       IOMMU_HWPT_GET_DIRTY_BITMAP_NO_CLEAR) ||
	    _test_cmd_get_dirty_bitmap(run->fd, hwpt_id, run->iova, length,
				       page_size, bits, 0) ||
	    _test_cmd_set_dirty_tracking(run->fd, hwpt_id, false))
		return -1;
	return _test_ioctl_destroy(run->fd, hwpt_id);
}

/*
 * Replacement: the device moves to a second IOAS (a new automatic HWPT,
 * filled and pinned, the old one destroyed), to a HWPT made for it, and
 * back; and it describes its IOMMU.
 */
static int nth_steps_replace(struct nth_run *run)
{
	__u64 iova = MOCK_APERTURE_START;
	struct iommu_test_hw_info info;
	struct iommu_hw_info cmd = {
		.size = sizeof(cmd),
		.dev_id = run->idev_id,
		.data_len = sizeof(info),
		.data_uptr = (uintptr_t)&info,
	};
	__u32 hwpt_id;

	if (_test_ioctl_ioas_alloc(run->fd, &run->ioas2_id) ||
	    _test_ioctl_ioas_map(run->fd, run->ioas2_id, nth_buf,
				 2 * page_size, &iova, NTH_FIXED_RW) ||
	    _test_cmd_mock_domain_replace(run->fd, run->stdev_id,
					  run->ioas2_id, NULL) ||
	    _test_cmd_hwpt_alloc(run->fd, run->idev_id, run->ioas_id, 0,
				 &hwpt_id) ||
	    _test_cmd_mock_domain_replace(run->fd, run->stdev_id, hwpt_id,
					  NULL) ||
	    _test_cmd_mock_domain_replace(run->fd, run->stdev_id,
					  run->ioas2_id, NULL) ||
	    _test_ioctl_destroy(run->fd, hwpt_id) ||
	    ioctl(run->fd, IOMMU_GET_HW_INFO, &cmd))
		return -1;
	return _test_ioctl_destroy(run->fd, run->stdev_id);
}

/*
 * Nesting: a parent, a nested HWPT on it, the device moved onto it, one
 * invalidation, and everything taken apart again.
 */
static int nth_steps_nested(struct nth_run *run)
{
	struct iommu_hwpt_selftest data = { .iotlb = IOMMU_TEST_IOTLB_DEFAULT };
	struct iommu_hwpt_invalidate_selftest req = {
		.flags = IOMMU_TEST_INVALIDATE_FLAG_ALL,
	};
	struct iommu_hwpt_alloc alloc = {
		.size = sizeof(alloc),
		.dev_id = run->idev_id,
		.data_type = IOMMU_HWPT_DATA_SELFTEST,
		.data_len = sizeof(data),
		.data_uptr = (uintptr_t)&data,
	};
	struct iommu_hwpt_invalidate inv = {
		.size = sizeof(inv),
		.data_uptr = (uintptr_t)&req,
		.data_type = IOMMU_HWPT_INVALIDATE_DATA_SELFTEST,
		.entry_len = sizeof(req),
		.entry_num = 1,
	};
	__u32 parent_id;

	if (_test_cmd_hwpt_alloc(run->fd, run->idev_id, run->ioas_id,
				 IOMMU_HWPT_ALLOC_NEST_PARENT, &parent_id))
		return -1;
	alloc.pt_id = parent_id;
	if (ioctl(run->fd, IOMMU_HWPT_ALLOC, &alloc))
		return -1;
	inv.hwpt_id = alloc.out_hwpt_id;
	if (_test_cmd_mock_domain_replace(run->fd, run->stdev_id,
					  alloc.out_hwpt_id, NULL) ||
	    ioctl(run->fd, IOMMU_HWPT_INVALIDATE, &inv) ||
	    _test_cmd_mock_domain_replace(run->fd, run->stdev_id,
					  run->ioas_id, NULL) ||
	    _test_ioctl_destroy(run->fd, alloc.out_hwpt_id))
		return -1;
	return _test_ioctl_destroy(run->fd, parent_id);
}

/* The IO page fault part of nth_steps_iopf(), with the queue open. */
static int nth_iopf_fault(struct nth_run *run, __u32 fault_id, int fault_fd)
{
	struct iommu_hwpt_selftest data = { .iotlb = IOMMU_TEST_IOTLB_DEFAULT };
	struct iommu_hwpt_alloc alloc = {
		.size = sizeof(alloc),
		.flags = IOMMU_HWPT_FAULT_ID_VALID,
		.dev_id = run->idev_id,
		.data_type = IOMMU_HWPT_DATA_SELFTEST,
		.data_len = sizeof(data),
		.data_uptr = (uintptr_t)&data,
		.fault_id = fault_id,
	};
	struct iommu_test_cmd trigger = {
		.size = sizeof(trigger),
		.op = IOMMU_TEST_OP_TRIGGER_IOPF,
		.trigger_iopf = { .dev_id = run->idev_id, .grpid = 1 },
	};
	struct iommu_hwpt_page_response resp = {};
	struct iommu_hwpt_pgfault msg;
	__u32 parent_id;

	if (_test_cmd_hwpt_alloc(run->fd, run->idev_id, run->ioas_id,
				 IOMMU_HWPT_ALLOC_NEST_PARENT, &parent_id))
		return -1;
	alloc.pt_id = parent_id;
	if (ioctl(run->fd, IOMMU_HWPT_ALLOC, &alloc) ||
	    _test_cmd_mock_domain_replace(run->fd, run->stdev_id,
					  alloc.out_hwpt_id, NULL) ||
	    ioctl(run->fd, IOMMU_TEST_CMD, &trigger) ||
	    ioctl(run->fd, IOMMU_TEST_CMD, &trigger))
		return -1;
	if (read(fault_fd, &msg, sizeof(msg)) != sizeof(msg))
		return -1;
	resp.cookie = msg.cookie;
	if (write(fault_fd, &resp, sizeof(resp)) != sizeof(resp))
		return -1;
	/* The second fault is answered by the kernel as the device leaves. */
	if (_test_cmd_mock_domain_replace(run->fd, run->stdev_id, run->ioas_id,
					  NULL) ||
	    _test_ioctl_destroy(run->fd, alloc.out_hwpt_id))
		return -1;
	return _test_ioctl_destroy(run->fd, parent_id);
}

/*
 * IO page faults: a fault queue, a nested HWPT that reports to it, the
 * device moved onto it, two faults, one read and answered, the other
 * left for the kernel, and everything taken apart. The queue's file is
 * closed in any case, so that it does not keep the context alive.
 */
static int nth_steps_iopf(struct nth_run *run)
{
	struct iommu_fault_alloc cmd = { .size = sizeof(cmd) };
	int rc, err;

	if (ioctl(run->fd, IOMMU_FAULT_QUEUE_ALLOC, &cmd))
		return -1;
	rc = nth_iopf_fault(run, cmd.out_fault_id, cmd.out_fault_fd);
	err = errno;
	close(cmd.out_fault_fd);
	errno = err;
	if (rc)
		return rc;
	return _test_ioctl_destroy(run->fd, cmd.out_fault_id);
}

/*
 * An in-kernel access that pins: two pins, a read through the pinned
 * pages and a write through the user address space, one pin dropped by
 * hand and the other by unmapping under it, then the access closed.
 */
static int nth_steps_access(struct nth_run *run)
{
	__u32 first, second;

	if (_test_cmd_create_access(run->fd, run->ioas_id,
				    MOCK_FLAGS_ACCESS_CREATE_NEEDS_PIN_PAGES,
				    &run->access_fd) ||
	    _test_cmd_access_pages(run->fd, run->access_fd, run->iova,
				   2 * page_size, nth_buf,
				   MOCK_FLAGS_ACCESS_WRITE, &first) ||
	    _test_cmd_access_pages(run->fd, run->access_fd,
				   run->iova + 2 * page_size, 2 * page_size,
				   nth_buf + 2 * page_size, 0, &second) ||
	    _test_cmd_access_rw(run->fd, run->access_fd, run->iova + 16,
				page_size, nth_rw_buf, 0) ||
	    _test_cmd_access_rw(run->fd, run->access_fd,
				run->iova + page_size + 8, page_size / 2,
				nth_rw_buf,
				MOCK_ACCESS_RW_WRITE |
					MOCK_ACCESS_RW_SLOW_PATH) ||
	    _test_cmd_destroy_access_pages(run->fd, run->access_fd, first) ||
	    _test_ioctl_ioas_unmap(run->fd, run->ioas_id, 0, NTH_ALL, NULL))
		return -1;
	if (close(run->access_fd))
		return -1;
	run->access_fd = -1;
	return 0;
}

/*
 * A VFIO type1 (v1) container emulated on the compat IOAS, which has a
 * mock domain: a map, GET_INFO with its capability chain, two unmaps
 * that cut the mapping (iopt_cut_iova()), and UNMAP_ALL.
 */
static void nth_prepare_compat(struct __test_metadata *_metadata,
			       struct nth_run *run)
{
	struct iommu_vfio_ioas set = {
		.size = sizeof(set),
		.op = IOMMU_VFIO_IOAS_SET,
	};

	nth_prepare_ioas(_metadata, run);
	set.ioas_id = run->ioas_id;
	ASSERT_EQ(0, ioctl(run->fd, IOMMU_VFIO_IOAS, &set));
	ASSERT_EQ(0, _test_cmd_mock_domain(run->fd, run->ioas_id,
					   &run->stdev_id, NULL, NULL));
	ASSERT_EQ(0, ioctl(run->fd, VFIO_SET_IOMMU, VFIO_TYPE1_IOMMU));
}

static int nth_steps_compat(struct nth_run *run)
{
	struct vfio_iommu_type1_dma_map map = {
		.argsz = sizeof(map),
		.flags = VFIO_DMA_MAP_FLAG_READ | VFIO_DMA_MAP_FLAG_WRITE,
		.vaddr = (uintptr_t)nth_buf,
		.iova = MOCK_APERTURE_START,
		.size = 8 * page_size,
	};
	struct vfio_iommu_type1_dma_unmap unmap = {
		.argsz = sizeof(unmap),
		.iova = MOCK_APERTURE_START + 2 * page_size,
		.size = 2 * page_size,
	};
	__u64 info[64];

	memset(info, 0, sizeof(info));
	((struct vfio_iommu_type1_info *)info)->argsz = sizeof(info);
	if (ioctl(run->fd, VFIO_IOMMU_MAP_DMA, &map) ||
	    ioctl(run->fd, VFIO_IOMMU_GET_INFO, info) ||
	    ioctl(run->fd, VFIO_IOMMU_UNMAP_DMA, &unmap))
		return -1;
	unmap.iova = MOCK_APERTURE_START;
	unmap.size = page_size;
	if (ioctl(run->fd, VFIO_IOMMU_UNMAP_DMA, &unmap))
		return -1;
	unmap.flags = VFIO_DMA_UNMAP_FLAG_ALL;
	unmap.iova = 0;
	unmap.size = 0;
	if (ioctl(run->fd, VFIO_IOMMU_UNMAP_DMA, &unmap))
		return -1;
	/* Cut or not, all that was left must have gone. */
	if (unmap.size != 5 * page_size) {
		errno = EIO;
		return -1;
	}
	return 0;
}

/*
 * IOMMU_IOAS_MAP_FILE: a file mapped with no domain, pinned by the first
 * domain, mapped again into the domain (pinned at once), copied to a
 * second IOAS, read and written there by an access through the file and
 * pinned by it, then unmapped. The file is 4 of its pages long.
 */
static int nth_steps_map_file(struct nth_run *run)
{
	__u64 iova = MOCK_APERTURE_START;
	__u64 second = iova + 64 * run->unit;
	__u32 pages_id;
	__u64 copy;

	if (_test_ioctl_ioas_map_file(run->fd, run->ioas_id, run->mfd, 0,
				      2 * run->unit, &iova, NTH_FIXED_RW) ||
	    _test_cmd_mock_domain(run->fd, run->ioas_id, &run->stdev_id, NULL,
				  NULL) ||
	    _test_ioctl_ioas_map_file(run->fd, run->ioas_id, run->mfd,
				      run->unit, 3 * run->unit, &second,
				      NTH_FIXED_RW) ||
	    _test_ioctl_ioas_alloc(run->fd, &run->ioas2_id) ||
	    _test_ioctl_ioas_copy(run->fd, run->ioas2_id, run->ioas_id, iova,
				  2 * run->unit, &copy, NTH_RW) ||
	    _test_cmd_create_access(run->fd, run->ioas2_id,
				    MOCK_FLAGS_ACCESS_CREATE_NEEDS_PIN_PAGES,
				    &run->access_fd) ||
	    _test_cmd_access_rw(run->fd, run->access_fd,
				copy + run->unit - page_size / 2, page_size,
				nth_rw_buf,
				MOCK_ACCESS_RW_WRITE |
					MOCK_ACCESS_RW_SLOW_PATH) ||
	    _test_cmd_access_pages(run->fd, run->access_fd, copy,
				   2 * page_size, NULL, MOCK_FLAGS_ACCESS_WRITE,
				   &pages_id) ||
	    _test_ioctl_ioas_unmap(run->fd, run->ioas_id, 0, NTH_ALL, NULL) ||
	    _test_ioctl_ioas_unmap(run->fd, run->ioas2_id, 0, NTH_ALL, NULL))
		return -1;
	return _test_ioctl_destroy(run->fd, run->stdev_id);
}

static void nth_prepare_memfd(struct __test_metadata *_metadata,
			      struct nth_run *run)
{
	nth_prepare_ioas(_metadata, run);
	run->unit = page_size;
	run->mfd = memfd_create("iommufd_fail_nth", MFD_CLOEXEC);
	ASSERT_LE(0, run->mfd);
	ASSERT_EQ(0, ftruncate(run->mfd, 4 * run->unit));
	/* Half of the file's pages exist, the rest are holes. */
	ASSERT_EQ(2 * page_size, pwrite(run->mfd, nth_buf, 2 * page_size, 0));
}

static void nth_prepare_hugetlb(struct __test_metadata *_metadata,
				struct nth_run *run)
{
	char path[96];

	nth_prepare_ioas(_metadata, run);
	run->unit = NTH_HUGE_SIZE;
	snprintf(path, sizeof(path), "%s/file", nth_huge_dir);
	run->mfd = open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	ASSERT_LE(0, run->mfd);
	ASSERT_EQ(0, unlink(path));
	/* All holes: hugetlbfs has no write(). */
	ASSERT_EQ(0, ftruncate(run->mfd, 4 * run->unit));
}

FIXTURE_VARIANT_ADD(fail_nth, map_file)
{
	.prepare = nth_prepare_memfd,
	.steps = nth_steps_map_file,
};

FIXTURE_VARIANT_ADD(fail_nth, map_file_huge)
{
	.needs_huge_mount = true,
	.prepare = nth_prepare_hugetlb,
	.steps = nth_steps_map_file,
};

FIXTURE_VARIANT_ADD(fail_nth, ioas)
{
	.opens_fd = true,
	.steps = nth_steps_ioas,
};

FIXTURE_VARIANT_ADD(fail_nth, map_unmap)
{
	.prepare = nth_prepare_ioas,
	.steps = nth_steps_map_unmap,
};

FIXTURE_VARIANT_ADD(fail_nth, domain_copy)
{
	.prepare = nth_prepare_ioas,
	.steps = nth_steps_domain_copy,
};

FIXTURE_VARIANT_ADD(fail_nth, attach_after_map)
{
	.prepare = nth_prepare_mapped,
	.steps = nth_steps_attach_after_map,
};

FIXTURE_VARIANT_ADD(fail_nth, hwpt_alloc)
{
	.prepare = nth_prepare_device,
	.steps = nth_steps_hwpt_alloc,
};

FIXTURE_VARIANT_ADD(fail_nth, dirty)
{
	.prepare = nth_prepare_device,
	.steps = nth_steps_dirty,
};

FIXTURE_VARIANT_ADD(fail_nth, replace)
{
	.prepare = nth_prepare_device,
	.steps = nth_steps_replace,
};

FIXTURE_VARIANT_ADD(fail_nth, nested)
{
	.prepare = nth_prepare_device,
	.steps = nth_steps_nested,
};

FIXTURE_VARIANT_ADD(fail_nth, iopf)
{
	.prepare = nth_prepare_device,
	.steps = nth_steps_iopf,
};

FIXTURE_VARIANT_ADD(fail_nth, access)
{
	.prepare = nth_prepare_mapped,
	.steps = nth_steps_access,
};

FIXTURE_VARIANT_ADD(fail_nth, vfio_compat)
{
	.prepare = nth_prepare_compat,
	.steps = nth_steps_compat,
};

/* After a run is closed, through a context of its own. */
static void nth_assert_unpinned(struct __test_metadata *_metadata,
				unsigned int nth)
{
	int fd, rc;

	fd = open("/dev/iommu", O_RDWR);
	ASSERT_LE(0, fd);
	rc = _test_cmd_check_refs(fd, nth_buf, NTH_BUF_PAGES * page_size, 0);
	close(fd);
	if (rc)
		TH_LOG("pages left pinned by the run that failed point %u",
		       nth);
	ASSERT_EQ(0, rc);

	if (nth_huge_dir[0]) {
		struct statfs st;

		ASSERT_EQ(0, statfs(nth_huge_dir, &st));
		if (st.f_bfree != st.f_blocks)
			TH_LOG("%lu huge pages held after the run that failed point %u",
			       (unsigned long)(st.f_blocks - st.f_bfree), nth);
		ASSERT_EQ(st.f_blocks, st.f_bfree);
	}
}

static void nth_report(struct __test_metadata *_metadata, unsigned int runs,
		       const unsigned int *errnos, unsigned int absorbed)
{
	unsigned int i;

	TH_LOG("%u runs; calls failed with ENOMEM %u, EFAULT %u times",
	       runs, errnos[ENOMEM], errnos[EFAULT]);
	TH_LOG("%u injected failures were absorbed (no call failed)",
	       absorbed);
	for (i = 0; i != NTH_ERRNOS; i++)
		if (errnos[i] && i != ENOMEM && i != EFAULT)
			TH_LOG("%u failed calls with errno %u (%s)", errnos[i],
			       i, strerror(i));
}

TEST_F_TIMEOUT(fail_nth, sweep, NTH_TIMEOUT)
{
	unsigned int errnos[NTH_ERRNOS] = {};
	unsigned int nth, absorbed = 0;
	int rc, err;

	if (nth_unavailable)
		VM_SKIP(return, "%s", nth_unavailable);
	if (variant->needs_huge_mount && !nth_huge_dir[0])
		VM_SKIP(return, "cannot mount hugetlbfs with 2 MiB pages");
	self->nth_fd = nth_open_knob();
	ASSERT_LE(0, self->nth_fd);

	for (nth = 1;; nth++) {
		bool fired;

		if (nth > NTH_MAX)
			TH_LOG("the sequence still reaches new failure points");
		ASSERT_GE(NTH_MAX, nth);

		if (!variant->opens_fd) {
			self->run.fd = open("/dev/iommu", O_RDWR);
			ASSERT_LE(0, self->run.fd);
		}
		if (variant->prepare)
			variant->prepare(_metadata, &self->run);

		nth_arm(_metadata, self->nth_fd, nth);
		rc = variant->steps(&self->run);
		err = errno;
		fired = nth_disarm(_metadata, self->nth_fd);

		nth_run_close(&self->run);
		nth_assert_unpinned(_metadata, nth);
		if (!fired)
			break;
		if (!rc)
			absorbed++;
		else if (err > 0 && err < NTH_ERRNOS)
			errnos[err]++;
	}

	nth_report(_metadata, nth, errnos, absorbed);
	/* With nothing failed on purpose, the sequence must work. */
	if (rc)
		TH_LOG("failed without an injected failure: %s",
		       strerror(err));
	ASSERT_EQ(0, rc);
}

TEST_HARNESS_MAIN
