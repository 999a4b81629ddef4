// SPDX-License-Identifier: GPL-2.0-only
/*
 * Nothing iommufd holds may wait on userspace, or on a long pin.
 *
 * A copy to or from user memory registered with a userfaultfd waits until
 * the process serves the fault, which may be never. Those tests start an
 * ioctl in a thread whose copy faults on such memory, wait until the fault
 * is pending, and then, while it still is, do in the main thread what a
 * lock or an object reference held by the faulting ioctl would block:
 * another ioctl on the same IOAS, or the removal of the device. Only then
 * is the fault served and the first ioctl checked. A kernel that holds a
 * lock across the copy hangs there until the harness's timeout.
 *
 * 6.1's long-term GUP does not wait for a userfaultfd (it fails the fault
 * at once), but pinning a large buffer still takes long. Those tests make
 * pinning slow (one page per GUP call) and start a pinning ioctl in a
 * thread; once VmPin shows that it charged the memory, which it does just
 * before it pins, the main thread's ioctls on the same IOAS must finish
 * while the pinning ioctl is still running.
 */
#include <pthread.h>

#include "iommufd_utils.h"

static unsigned long psize;

/* Wait up to 10 s for VmPin to grow past @kb: the charge before a pin. */
static int wait_vm_pin_above(long kb)
{
	int i;

	for (i = 0; i != 10000; i++) {
		if (test_vm_pin_kb() > kb)
			return 0;
		usleep(1000);
	}
	return -1;
}

/* Pages per GUP call for the whole kernel; IOPT_PIN_BATCH by default. */
static int set_pin_batch(int fd, unsigned int pages)
{
	struct iommu_test_cmd cmd = {
		.size = sizeof(cmd),
		.op = IOMMU_TEST_OP_SET_TEMP_MEMORY_LIMIT,
		/* A pointer a page; the u32 meets upstream's floor of 12. */
		.memory_limit = { .limit = pages * sizeof(void *) +
					   sizeof(__u32) },
	};

	return ioctl(fd, IOMMU_TEST_CMD, &cmd);
}

/* The slow buffer: 64 MiB of small pages, one GUP call for each. */
#define SLOW_PAGES 16384
#define DEFAULT_PIN_BATCH 4096

FIXTURE(uffd)
{
	int fd;
	__u32 ioas_id;
	struct uffd_mem mem;
	char *plain;
	char *slow;
};

FIXTURE_SETUP(uffd)
{
	psize = sysconf(_SC_PAGESIZE);
	self->mem.uffd = -1;
	self->mem.buf = NULL;
	self->fd = open("/dev/iommu", O_RDWR);
	ASSERT_NE(-1, self->fd);
	test_ioctl_ioas_alloc(&self->ioas_id);
	if (uffd_mem_init(&self->mem, 16))
		SKIP(return, "no userfaultfd: %s", strerror(errno));
	self->plain = test_alloc_small_pages(4);
	ASSERT_NE(NULL, self->plain);
	self->slow = test_alloc_small_pages(SLOW_PAGES);
	ASSERT_NE(NULL, self->slow);
}

FIXTURE_TEARDOWN(uffd)
{
	uffd_mem_free(&self->mem);
	if (self->plain)
		munmap(self->plain, 4 * psize);
	if (self->slow)
		munmap(self->slow, SLOW_PAGES * psize);
	set_pin_batch(self->fd, DEFAULT_PIN_BATCH);
	close(self->fd);
}

/*
 * While an ioctl on the fixture's IOAS waits on userspace, another IOAS
 * ioctl that writes the IOVA tree (map, then unmap, of plain memory) and
 * one that reads it must go through.
 */
static void other_ioctls_pass(struct __test_metadata *_metadata, int fd,
			      __u32 ioas_id, char *plain)
{
	struct iommu_iova_range ranges[4];
	__u32 num = 4;
	__u64 iova;

	ASSERT_EQ(0, _test_ioctl_ioas_map(fd, ioas_id, plain, 4 * psize, &iova,
					  TEST_MAP_RW));
	ASSERT_EQ(0, _test_ioctl_ioas_unmap(fd, ioas_id, iova, 4 * psize,
					    NULL));
	ASSERT_EQ(0, _test_ioctl_iova_ranges(fd, ioas_id, ranges, &num, NULL));
}

/*
 * Start @request in a thread, wait until it charged the slow buffer (it is
 * about to pin it, one page per GUP call), and check that other ioctls on
 * the IOAS finish while it still runs; then that it succeeded.
 */
static void pin_runs_alone(struct __test_metadata *_metadata, int fd,
			   __u32 ioas_id, char *plain, unsigned long request,
			   void *arg)
{
	long before = test_vm_pin_kb();
	struct bg_ioctl bg;

	ASSERT_LE(0, before);
	ASSERT_EQ(0, set_pin_batch(fd, 1));
	ASSERT_EQ(0, bg_ioctl_start(&bg, fd, request, arg));
	ASSERT_EQ(0, wait_vm_pin_above(before));
	other_ioctls_pass(_metadata, fd, ioas_id, plain);
	/* The others did not wait for it: it is still pinning. */
	EXPECT_FALSE(bg_ioctl_done(&bg));
	ASSERT_EQ(0, pthread_join(bg.thread, NULL));
	ASSERT_EQ(0, set_pin_batch(fd, DEFAULT_PIN_BATCH));
	ASSERT_EQ(0, bg.rc);
}

/* MAP pins (with a domain) before it takes the IOAS's lock. */
TEST_F(uffd, map)
{
	struct iommu_ioas_map cmd = {
		.size = sizeof(cmd),
		.flags = TEST_MAP_RW,
		.ioas_id = self->ioas_id,
		.user_va = (uintptr_t)self->slow,
		.length = SLOW_PAGES * psize,
	};

	test_cmd_mock_domain(self->ioas_id, NULL, NULL, NULL);
	pin_runs_alone(_metadata, self->fd, self->ioas_id, self->plain,
		       IOMMU_IOAS_MAP, &cmd);
	test_ioctl_ioas_unmap(self->ioas_id, cmd.iova, cmd.length);
}

/*
 * COPY out of an IOAS without a domain (nothing pinned there) into the
 * fixture's: the pin happens for the destination, before its lock.
 */
TEST_F(uffd, copy)
{
	struct iommu_ioas_copy cmd = {
		.size = sizeof(cmd),
		.flags = TEST_MAP_RW,
		.dst_ioas_id = self->ioas_id,
		.length = SLOW_PAGES * psize,
	};
	__u64 src_iova;

	test_cmd_mock_domain(self->ioas_id, NULL, NULL, NULL);
	test_ioctl_ioas_alloc(&cmd.src_ioas_id);
	test_ioctl_ioas_map(cmd.src_ioas_id, self->slow, cmd.length, &src_iova);
	cmd.src_iova = src_iova;
	pin_runs_alone(_metadata, self->fd, self->ioas_id, self->plain,
		       IOMMU_IOAS_COPY, &cmd);
	test_ioctl_ioas_unmap(self->ioas_id, cmd.dst_iova, cmd.length);
}

/* The first device of an IOAS pins everything, before the IOAS's lock. */
TEST_F(uffd, first_domain)
{
	struct iommu_test_cmd cmd = {
		.size = sizeof(cmd),
		.op = IOMMU_TEST_OP_MOCK_DOMAIN,
		.id = self->ioas_id,
	};

	/* Inside the mock domain's aperture, or the attach must fail. */
	test_ioctl_ioas_map_fixed(self->ioas_id, self->slow,
				  SLOW_PAGES * psize, MOCK_APERTURE_START);
	pin_runs_alone(_metadata, self->fd, self->ioas_id, self->plain,
		       IOMMU_TEST_CMD, &cmd);
	test_ioctl_destroy(cmd.mock_domain.out_stdev_id);
}

/*
 * An access pin of memory nothing pinned yet, before the IOAS's lock. Of
 * 16 MiB, the most the mock's ACCESS_PAGES takes: an access pins only the
 * pages it asks for, and a pin of one page would be over before the other
 * ioctls had started.
 */
TEST_F(uffd, access_pin)
{
	struct iommu_test_cmd cmd = {
		.size = sizeof(cmd),
		.op = IOMMU_TEST_OP_ACCESS_PAGES,
		.access_pages = { .length = 16 << 20 },
	};
	int access_fd;
	__u64 iova;

	test_ioctl_ioas_map(self->ioas_id, self->slow, SLOW_PAGES * psize,
			    &iova);
	test_cmd_create_access(self->ioas_id,
			       MOCK_FLAGS_ACCESS_CREATE_NEEDS_PIN_PAGES,
			       &access_fd);
	cmd.id = access_fd;
	cmd.access_pages.iova = iova;
	pin_runs_alone(_metadata, self->fd, self->ioas_id, self->plain,
		       IOMMU_TEST_CMD, &cmd);
	test_cmd_destroy_access_pages(access_fd,
				      cmd.access_pages.out_access_pages_id);
	close(access_fd);
}

/* IOVA_RANGES writes its answer to user memory after the lock. */
TEST_F(uffd, iova_ranges)
{
	struct iommu_ioas_iova_ranges cmd = {
		.size = sizeof(cmd),
		.ioas_id = self->ioas_id,
		.num_iovas = 4,
		.allowed_iovas = (uintptr_t)self->mem.buf,
	};
	struct iommu_iova_range *range = (void *)self->mem.buf;
	struct bg_ioctl bg;

	ASSERT_EQ(0, bg_ioctl_start(&bg, self->fd, IOMMU_IOAS_IOVA_RANGES,
				    &cmd));
	ASSERT_EQ(0, uffd_mem_wait_fault(&self->mem));
	other_ioctls_pass(_metadata, self->fd, self->ioas_id, self->plain);
	ASSERT_EQ(0, uffd_mem_fill(&self->mem));
	ASSERT_EQ(0, pthread_join(bg.thread, NULL));
	ASSERT_EQ(0, bg.rc);
	/* One range, the whole IOVA space, written after the fill. */
	ASSERT_EQ(1, cmd.num_iovas);
	ASSERT_EQ(0, range[0].start);
	ASSERT_EQ(UINT64_MAX, range[0].last);
}

/*
 * An access copying out of IOVA whose memory waits on userspace (no
 * domain: the copy goes through the mapper's address space).
 */
TEST_F(uffd, access_rw)
{
	struct iommu_test_cmd cmd = {
		.size = sizeof(cmd),
		.op = IOMMU_TEST_OP_ACCESS_RW,
		.access_rw = { .length = 64 },
	};
	struct bg_ioctl bg;
	char out[64];
	int access_fd;
	__u64 iova;

	test_ioctl_ioas_map(self->ioas_id, self->mem.buf, self->mem.len, &iova);
	test_cmd_create_access(self->ioas_id, 0, &access_fd);
	cmd.id = access_fd;
	cmd.access_rw.iova = iova;
	cmd.access_rw.uptr = (uintptr_t)out;
	ASSERT_EQ(0, bg_ioctl_start(&bg, self->fd, IOMMU_TEST_CMD, &cmd));
	ASSERT_EQ(0, uffd_mem_wait_fault(&self->mem));
	other_ioctls_pass(_metadata, self->fd, self->ioas_id, self->plain);
	ASSERT_EQ(0, uffd_mem_fill(&self->mem));
	ASSERT_EQ(0, pthread_join(bg.thread, NULL));
	ASSERT_EQ(0, bg.rc);
	ASSERT_EQ(0x5a, out[0]);
	ASSERT_EQ(0x5a, out[63]);
	close(access_fd);
}

/*
 * ACCESS_RW run by a kernel worker (MOCK_ACCESS_RW_KTHREAD) whose copy
 * waits on a userfaultfd that nobody serves: the process that waits for
 * the worker can still be killed. It used to wait uninterruptibly, and as
 * it kept the process's files open, the userfaultfd was never closed and
 * neither of the two ever ended.
 */
TEST_F(uffd, access_rw_kthread_killable)
{
	int ready[2], status, i;
	pid_t pid;
	char c;

	ASSERT_EQ(0, pipe(ready));
	pid = fork();
	ASSERT_LE(0, pid);
	if (!pid) {
		struct iommu_test_cmd cmd = {
			.size = sizeof(cmd),
			.op = IOMMU_TEST_OP_ACCESS_RW,
			.access_rw = { .length = 64,
				       .flags = MOCK_ACCESS_RW_KTHREAD },
		};
		struct uffd_mem mem = { .uffd = -1 };
		int fd = open("/dev/iommu", O_RDWR);
		struct bg_ioctl bg;
		int access_fd;
		__u32 ioas_id;
		char out[64];
		__u64 iova;

		close(ready[0]);
		ASSERT_LE(0, fd);
		/* Registrations are not inherited: one of its own. */
		ASSERT_EQ(0, uffd_mem_init(&mem, 1));
		ASSERT_EQ(0, _test_ioctl_ioas_alloc(fd, &ioas_id));
		ASSERT_EQ(0, _test_ioctl_ioas_map(fd, ioas_id, mem.buf, mem.len,
						  &iova, TEST_MAP_RW));
		ASSERT_EQ(0, _test_cmd_create_access(fd, ioas_id, 0,
						     &access_fd));
		cmd.id = access_fd;
		cmd.access_rw.iova = iova;
		cmd.access_rw.uptr = (uintptr_t)out;
		ASSERT_EQ(0, bg_ioctl_start(&bg, fd, IOMMU_TEST_CMD, &cmd));
		ASSERT_EQ(0, uffd_mem_wait_fault(&mem));
		ASSERT_EQ(1, write(ready[1], "r", 1));
		for (;;)
			pause();
	}
	close(ready[1]);
	/* The worker's copy waits on the child's userfaultfd. */
	ASSERT_EQ(1, read(ready[0], &c, 1));
	close(ready[0]);
	ASSERT_EQ(0, kill(pid, SIGKILL));
	for (i = 0; i != 1000; i++) {
		if (waitpid(pid, &status, WNOHANG) == pid)
			break;
		usleep(10 * 1000);
	}
	ASSERT_NE(1000, i) {
		TH_LOG("the killed child did not end in 10 s");
	}
	ASSERT_TRUE(WIFSIGNALED(status));
	ASSERT_EQ(SIGKILL, WTERMSIG(status));
}

/*
 * An unmap of the range a copy is in waits for the copy, without holding
 * the IOAS's lock (other ioctls go through, and a new copy of the range
 * is refused meanwhile): once IOMMU_IOAS_UNMAP returns, no copy reaches
 * the memory that was mapped there. The unmap returned at once before,
 * while the copy still went on to the memory.
 */
TEST_F(uffd, unmap_waits_for_access_rw)
{
	struct iommu_test_cmd cmd = {
		.size = sizeof(cmd),
		.op = IOMMU_TEST_OP_ACCESS_RW,
		.access_rw = { .length = 64, .flags = MOCK_ACCESS_RW_WRITE },
	};
	struct iommu_ioas_unmap unmap = {
		.size = sizeof(unmap),
		.ioas_id = self->ioas_id,
		.length = self->mem.len,
	};
	struct bg_ioctl rw, un;
	char in[64], out[64];
	int access_fd;
	__u64 iova;

	memset(in, 0x3c, sizeof(in));
	test_ioctl_ioas_map(self->ioas_id, self->mem.buf, self->mem.len, &iova);
	test_cmd_create_access(self->ioas_id, 0, &access_fd);
	cmd.id = access_fd;
	cmd.access_rw.iova = iova;
	cmd.access_rw.uptr = (uintptr_t)in;
	unmap.iova = iova;
	ASSERT_EQ(0, bg_ioctl_start(&rw, self->fd, IOMMU_TEST_CMD, &cmd));
	ASSERT_EQ(0, uffd_mem_wait_fault(&self->mem));
	ASSERT_EQ(0, bg_ioctl_start(&un, self->fd, IOMMU_IOAS_UNMAP, &unmap));
	/* Long enough for an unmap that does not wait to be done. */
	usleep(300 * 1000);
	EXPECT_FALSE(bg_ioctl_done(&un));
	EXPECT_ERRNO(EINVAL, _test_cmd_access_rw(self->fd, access_fd, iova,
						 sizeof(out), out, 0));
	other_ioctls_pass(_metadata, self->fd, self->ioas_id, self->plain);
	EXPECT_FALSE(bg_ioctl_done(&un));

	ASSERT_EQ(0, uffd_mem_fill(&self->mem));
	ASSERT_EQ(0, pthread_join(rw.thread, NULL));
	ASSERT_EQ(0, rw.rc);
	ASSERT_EQ(0, pthread_join(un.thread, NULL));
	ASSERT_EQ(0, un.rc);
	ASSERT_EQ(self->mem.len, unmap.length);
	/* The copy landed before the unmap. */
	ASSERT_EQ(0, memcmp(self->mem.buf, in, sizeof(in)));
	close(access_fd);
}

/*
 * GET_HW_INFO writes to user memory that waits on userspace; meanwhile
 * the device goes away (its driver unbinds it), which waits for every
 * ioctl still holding the device.
 */
TEST_F(uffd, hw_info_vs_unbind)
{
	struct iommu_hw_info cmd = {
		.size = sizeof(cmd),
		.data_len = psize,
		.data_uptr = (uintptr_t)self->mem.buf,
	};
	struct bg_ioctl bg;
	__u32 stdev_id;

	test_cmd_mock_domain(self->ioas_id, &stdev_id, NULL, &cmd.dev_id);
	ASSERT_EQ(0, bg_ioctl_start(&bg, self->fd, IOMMU_GET_HW_INFO, &cmd));
	ASSERT_EQ(0, uffd_mem_wait_fault(&self->mem));
	test_ioctl_destroy(stdev_id);
	ASSERT_EQ(0, uffd_mem_fill(&self->mem));
	ASSERT_EQ(0, pthread_join(bg.thread, NULL));
	ASSERT_EQ(0, bg.rc);
	ASSERT_EQ(IOMMU_HW_INFO_TYPE_SELFTEST, cmd.out_data_type);
}

/*
 * The test interface's MD_CHECK_MAP finds the user's pages without holding
 * the mock HWPT: while it waits on userspace, the device detaches and its
 * automatic HWPT goes away at once; the check then finds no HWPT. The
 * detach used to wait for the check, and so for userspace.
 */
TEST_F(uffd, check_map_vs_detach)
{
	struct iommu_test_cmd cmd = {
		.size = sizeof(cmd),
		.op = IOMMU_TEST_OP_MD_CHECK_MAP,
		.check_map = { .length = psize,
			       .uptr = (uintptr_t)self->mem.buf },
	};
	__u32 stdev_id, hwpt_id;
	struct bg_ioctl bg;
	__u64 iova;

	test_cmd_mock_domain(self->ioas_id, &stdev_id, &hwpt_id, NULL);
	test_ioctl_ioas_map(self->ioas_id, self->plain, psize, &iova);
	cmd.id = hwpt_id;
	cmd.check_map.iova = iova;
	ASSERT_EQ(0, bg_ioctl_start(&bg, self->fd, IOMMU_TEST_CMD, &cmd));
	ASSERT_EQ(0, uffd_mem_wait_fault(&self->mem));
	test_ioctl_destroy(stdev_id);
	ASSERT_EQ(0, uffd_mem_fill(&self->mem));
	ASSERT_EQ(0, pthread_join(bg.thread, NULL));
	ASSERT_EQ(-1, bg.rc);
	ASSERT_EQ(ENOENT, bg.err);
}

/*
 * IOMMU_HWPT_ALLOC on an IOAS without a domain pins the IOAS's memory
 * first, which may take long. It does not hold the device meanwhile, so
 * the device's driver can unbind it (which waits for every holder of the
 * device) at once; the allocation then finds the device gone.
 */
TEST_F(uffd, hwpt_alloc_vs_unbind)
{
	struct iommu_hwpt_alloc cmd = { .size = sizeof(cmd) };
	long before = test_vm_pin_kb();
	__u32 other_id, stdev_id;
	struct bg_ioctl bg;

	ASSERT_LE(0, before);
	test_ioctl_ioas_alloc(&other_id);
	test_cmd_mock_domain(other_id, &stdev_id, NULL, &cmd.dev_id);
	test_ioctl_ioas_map_fixed(self->ioas_id, self->slow,
				  SLOW_PAGES * psize, MOCK_APERTURE_START);
	cmd.pt_id = self->ioas_id;
	ASSERT_EQ(0, set_pin_batch(self->fd, 1));
	ASSERT_EQ(0, bg_ioctl_start(&bg, self->fd, IOMMU_HWPT_ALLOC, &cmd));
	ASSERT_EQ(0, wait_vm_pin_above(before));
	test_ioctl_destroy(stdev_id);
	/* The unbind did not wait for it: it is still pinning. */
	EXPECT_FALSE(bg_ioctl_done(&bg));
	ASSERT_EQ(0, pthread_join(bg.thread, NULL));
	ASSERT_EQ(0, set_pin_batch(self->fd, DEFAULT_PIN_BATCH));
	ASSERT_EQ(-1, bg.rc);
	ASSERT_EQ(ENOENT, bg.err);
	/* Its pins went with it. */
	ASSERT_EQ(before, test_vm_pin_kb());
	test_ioctl_destroy(other_id);
}

/*
 * A nested IOMMU_HWPT_ALLOC hands the IOMMU driver a structure in user
 * memory, here memory that waits on userspace. It is copied in before the
 * device is held, so the device's driver can unbind it meanwhile (which
 * waits for every holder of the device) at once; the allocation then
 * finds the device gone. The unbind waited for the fault before.
 */
TEST_F(uffd, nested_alloc_vs_unbind)
{
	struct iommu_hwpt_alloc cmd = {
		.size = sizeof(cmd),
		.data_type = IOMMU_HWPT_DATA_SELFTEST,
		.data_len = sizeof(struct iommu_hwpt_selftest),
		.data_uptr = (uintptr_t)self->mem.buf,
	};
	__u32 other_id, stdev_id;
	struct bg_ioctl bg;

	test_ioctl_ioas_alloc(&other_id);
	test_cmd_mock_domain(other_id, &stdev_id, NULL, &cmd.dev_id);
	ASSERT_EQ(0, _test_cmd_hwpt_alloc(self->fd, cmd.dev_id, other_id,
					  IOMMU_HWPT_ALLOC_NEST_PARENT,
					  &cmd.pt_id));
	ASSERT_EQ(0, bg_ioctl_start(&bg, self->fd, IOMMU_HWPT_ALLOC, &cmd));
	ASSERT_EQ(0, uffd_mem_wait_fault(&self->mem));
	test_ioctl_destroy(stdev_id);
	/* The unbind did not wait for it: it still waits on the fault. */
	EXPECT_FALSE(bg_ioctl_done(&bg));
	ASSERT_EQ(0, uffd_mem_fill(&self->mem));
	ASSERT_EQ(0, pthread_join(bg.thread, NULL));
	ASSERT_EQ(-1, bg.rc);
	ASSERT_EQ(ENOENT, bg.err);
	test_ioctl_destroy(cmd.pt_id);
	test_ioctl_destroy(other_id);
}

/*
 * IOMMU_HWPT_GET_DIRTY_BITMAP pins the user bitmap a piece (2 MiB) at a
 * time, the first before the IOAS's lock, each later one between two
 * pieces of the walk: here a second piece that waits on userspace. The
 * lock is held for one piece at a time, so other ioctls of the IOAS go
 * through meanwhile. They waited for the fault before.
 */
TEST_F(uffd, dirty_bitmap_second_piece)
{
	/* One bit per byte: 16 MiB of IOVA per 2 MiB piece of bitmap. */
	const size_t length = 32UL << 20, piece = 2UL << 20;
	struct iommu_hwpt_get_dirty_bitmap cmd = {
		.size = sizeof(cmd),
		.iova = MOCK_APERTURE_START,
		.length = length,
		.page_size = 1,
	};
	struct uffdio_zeropage zero = { .range = { .len = piece } };
	__u32 stdev_id, idev_id;
	struct uffd_mem bitmap;
	struct bg_ioctl bg;

	ASSERT_LE(length, SLOW_PAGES * psize);
	ASSERT_EQ(0, uffd_mem_init(&bitmap, length / 8 / psize));
	test_ioctl_ioas_map_fixed(self->ioas_id, self->slow, length,
				  MOCK_APERTURE_START);
	test_cmd_mock_domain(self->ioas_id, &stdev_id, NULL, &idev_id);
	ASSERT_EQ(0, _test_cmd_hwpt_alloc(self->fd, idev_id, self->ioas_id,
					  IOMMU_HWPT_ALLOC_DIRTY_TRACKING,
					  &cmd.hwpt_id));
	test_cmd_set_dirty_tracking(cmd.hwpt_id, true);
	/* The first piece is there; the second waits on userspace. */
	zero.range.start = (uintptr_t)bitmap.buf;
	ASSERT_EQ(0, ioctl(bitmap.uffd, UFFDIO_ZEROPAGE, &zero));
	cmd.data = (uintptr_t)bitmap.buf;
	ASSERT_EQ(0, bg_ioctl_start(&bg, self->fd, IOMMU_HWPT_GET_DIRTY_BITMAP,
				    &cmd));
	ASSERT_EQ(0, uffd_mem_wait_fault(&bitmap));
	other_ioctls_pass(_metadata, self->fd, self->ioas_id, self->plain);
	EXPECT_FALSE(bg_ioctl_done(&bg));

	/* Serve the fault: the rest of the bitmap, zeroed. */
	zero.range.start = (uintptr_t)bitmap.buf + piece;
	zero.range.len = bitmap.len - piece;
	ASSERT_EQ(0, ioctl(bitmap.uffd, UFFDIO_ZEROPAGE, &zero));
	ASSERT_EQ(0, pthread_join(bg.thread, NULL));
	ASSERT_EQ(0, bg.rc);
	test_ioctl_destroy(cmd.hwpt_id);
	test_ioctl_destroy(stdev_id);
	test_ioctl_ioas_unmap(self->ioas_id, MOCK_APERTURE_START, length);
	uffd_mem_free(&bitmap);
}

TEST_HARNESS_MAIN
