// SPDX-License-Identifier: GPL-2.0-only
/*
 * IO page faults through fault queues, against the mock IOMMU:
 * IOMMU_FAULT_QUEUE_ALLOC, IOMMU_HWPT_ALLOC with IOMMU_HWPT_FAULT_ID_VALID
 * on a nested HWPT, IOMMU_TEST_OP_TRIGGER_IOPF, and the queue's file.
 *
 * The mock device counts the page responses that reach it, and keeps the
 * last one; its selftest object shows them in the context's fdinfo, and
 * the queue shows how many faults it is delivering and how many wait for
 * an answer. The invariant every test checks in the end: each fault the
 * kernel accepted reaches the device answered exactly once, by userspace
 * or, when the device leaves the HWPT, by the kernel with
 * IOMMUFD_PAGE_RESP_INVALID.
 */
#include <poll.h>
#include <pthread.h>
#include <stddef.h>
#include <stdio.h>
#include <sys/mman.h>

#include "iommufd_utils.h"

#define BUF_PAGES 4
#define PGFAULT_SIZE sizeof(struct iommu_hwpt_pgfault)
#define RESP_SIZE sizeof(struct iommu_hwpt_page_response)
/* Faults one race triggers. */
#define RACE_FAULTS 1000

static unsigned long page_size;

static void __attribute__((constructor)) iopf_init(void)
{
	page_size = sysconf(_SC_PAGE_SIZE);
}

static int _test_fault_alloc(int fd, __u32 flags, __u32 *id, int *fault_fd)
{
	struct iommu_fault_alloc cmd = {
		.size = sizeof(cmd),
		.flags = flags,
	};
	int rc;

	rc = ioctl(fd, IOMMU_FAULT_QUEUE_ALLOC, &cmd);
	if (rc)
		return rc;
	*id = cmd.out_fault_id;
	*fault_fd = cmd.out_fault_fd;
	return 0;
}

/* A mock nested HWPT on parent_id whose faults go to fault_id. */
static int _test_iopf_hwpt(int fd, __u32 dev_id, __u32 parent_id,
			   __u32 flags, __u32 fault_id, __u32 *hwpt_id)
{
	struct iommu_hwpt_selftest data = {
		.iotlb = IOMMU_TEST_IOTLB_DEFAULT,
	};
	struct iommu_hwpt_alloc cmd = {
		.size = sizeof(cmd),
		.flags = flags,
		.dev_id = dev_id,
		.pt_id = parent_id,
		.data_type = IOMMU_HWPT_DATA_SELFTEST,
		.data_len = sizeof(data),
		.data_uptr = (uintptr_t)&data,
		.fault_id = fault_id,
	};
	int rc;

	rc = ioctl(fd, IOMMU_HWPT_ALLOC, &cmd);
	if (!rc)
		*hwpt_id = cmd.out_hwpt_id;
	return rc;
}

static int _test_trigger(int fd, __u32 dev_id, __u32 pasid, __u32 grpid)
{
	struct iommu_test_cmd cmd = {
		.size = sizeof(cmd),
		.op = IOMMU_TEST_OP_TRIGGER_IOPF,
		.trigger_iopf = {
			.dev_id = dev_id,
			.pasid = pasid,
			.grpid = grpid,
			.perm = IOMMU_PGFAULT_PERM_READ |
				IOMMU_PGFAULT_PERM_WRITE,
			.addr = 0xdeadbeaf000ULL + grpid,
		},
	};

	return ioctl(fd, IOMMU_TEST_CMD, &cmd);
}

#define trigger(grpid)                                                         \
	ASSERT_EQ(0, _test_trigger(self->fd, self->idev_id, 0, grpid))

/* Answer cookie with code; the bytes write() returned. */
static ssize_t answer(int fault_fd, __u32 cookie, __u32 code)
{
	struct iommu_hwpt_page_response resp = {
		.cookie = cookie,
		.code = code,
	};

	return write(fault_fd, &resp, sizeof(resp));
}

static long long fdinfo_objects(int fd)
{
	char *text = fdinfo_read(fd);
	const char *v = text ? fdinfo_field(text, "objects:\t") : NULL;
	long long n = v ? strtoll(v, NULL, 0) : -1;

	free(text);
	return n;
}

/* What the mock device and the queue saw. */
#define responses() fdinfo_obj(self->fd, "selftest", self->stdev_id, "responses")
#define last_code() fdinfo_obj(self->fd, "selftest", self->stdev_id, "last_code")
#define last_grpid()                                                           \
	fdinfo_obj(self->fd, "selftest", self->stdev_id, "last_grpid")
#define delivering() fdinfo_obj(self->fd, "fault", self->fault_id, "delivering")
#define awaiting() fdinfo_obj(self->fd, "fault", self->fault_id, "awaiting")

FIXTURE(iopf)
{
	int fd;
	__u32 ioas_id;
	__u32 stdev_id;
	__u32 idev_id;
	__u32 parent_id;
	__u32 fault_id;
	int fault_fd;
	__u32 iopf_id;
	char *buf;
};

/*
 * A mock device on an IOAS that maps a buffer, a nesting parent, a fault
 * queue and a nested HWPT whose faults go to it; the device is not on it.
 */
FIXTURE_SETUP(iopf)
{
	test_setup_mock_hwpt(BUF_PAGES, MOCK_APERTURE_START, NULL,
			     IOMMU_HWPT_ALLOC_NEST_PARENT, &self->parent_id);
	ASSERT_EQ(0, _test_fault_alloc(self->fd, 0, &self->fault_id,
				       &self->fault_fd));
	ASSERT_EQ(0, _test_iopf_hwpt(self->fd, self->idev_id, self->parent_id,
				     IOMMU_HWPT_FAULT_ID_VALID, self->fault_id,
				     &self->iopf_id));
}

FIXTURE_TEARDOWN(iopf)
{
	if (self->fault_fd >= 0)
		close(self->fault_fd);
	if (self->fd >= 0)
		close(self->fd);
	munmap(self->buf, BUF_PAGES * page_size);
}

/* IOMMU_FAULT_QUEUE_ALLOC itself, and what holds the queue. */
TEST_F(iopf, queue_alloc)
{
	struct {
		struct iommu_fault_alloc cmd;
		__u32 extra;
	} cmd = {};
	long long objects = fdinfo_objects(self->fd);
	__u32 id;
	int ffd;

	EXPECT_ERRNO(EOPNOTSUPP, _test_fault_alloc(self->fd, 1, &id, &ffd));
	EXPECT_ERRNO(EOPNOTSUPP,
		     _test_fault_alloc(self->fd, 1U << 31, &id, &ffd));
	cmd.cmd.size = offsetof(struct iommu_fault_alloc, out_fault_fd) +
		       sizeof(cmd.cmd.out_fault_fd) - 1;
	EXPECT_ERRNO(EINVAL, ioctl(self->fd, IOMMU_FAULT_QUEUE_ALLOC, &cmd));
	cmd.cmd.size = sizeof(cmd);
	cmd.extra = 1;
	EXPECT_ERRNO(E2BIG, ioctl(self->fd, IOMMU_FAULT_QUEUE_ALLOC, &cmd));
	EXPECT_EQ(objects, fdinfo_objects(self->fd));

	ASSERT_EQ(0, _test_fault_alloc(self->fd, 0, &id, &ffd));
	EXPECT_NE(0, id);
	EXPECT_LE(0, ffd);
	EXPECT_EQ(FD_CLOEXEC, fcntl(ffd, F_GETFD) & FD_CLOEXEC);
	EXPECT_EQ(0, fdinfo_obj(self->fd, "fault", id, "delivering"));
	EXPECT_EQ(objects + 1, fdinfo_objects(self->fd));
	/* Held by its file. */
	EXPECT_ERRNO(EBUSY, _test_ioctl_destroy(self->fd, id));
	ASSERT_EQ(0, close(ffd));
	test_ioctl_destroy(id);
	EXPECT_EQ(objects, fdinfo_objects(self->fd));

	/* The fixture's queue is held by its HWPT after its file is shut. */
	ASSERT_EQ(0, close(self->fault_fd));
	self->fault_fd = -1;
	EXPECT_ERRNO(EBUSY, _test_ioctl_destroy(self->fd, self->fault_id));
	test_ioctl_destroy(self->iopf_id);
	test_ioctl_destroy(self->fault_id);
	EXPECT_EQ(objects - 2, fdinfo_objects(self->fd));
}

/* IOMMU_HWPT_FAULT_ID_VALID: only on nested HWPTs, only a real queue. */
TEST_F(iopf, hwpt_alloc)
{
	__u32 id = 0;

	EXPECT_EQ(self->fault_id,
		  fdinfo_obj(self->fd, "hwpt_nested", self->iopf_id, "fault"));
	/* A paging HWPT takes no fault queue, a parent or not. */
	EXPECT_ERRNO(EOPNOTSUPP,
		     _test_cmd_hwpt_alloc(self->fd, self->idev_id,
					  self->ioas_id,
					  IOMMU_HWPT_FAULT_ID_VALID, &id));
	EXPECT_ERRNO(EOPNOTSUPP,
		     _test_cmd_hwpt_alloc(self->fd, self->idev_id,
					  self->ioas_id,
					  IOMMU_HWPT_FAULT_ID_VALID |
						  IOMMU_HWPT_ALLOC_NEST_PARENT,
					  &id));
	/* IDs that name no queue. */
	EXPECT_ERRNO(ENOENT, _test_iopf_hwpt(self->fd, self->idev_id,
					     self->parent_id,
					     IOMMU_HWPT_FAULT_ID_VALID,
					     UINT32_MAX, &id));
	EXPECT_ERRNO(ENOENT, _test_iopf_hwpt(self->fd, self->idev_id,
					     self->parent_id,
					     IOMMU_HWPT_FAULT_ID_VALID,
					     self->ioas_id, &id));
	EXPECT_ERRNO(ENOENT, _test_iopf_hwpt(self->fd, self->idev_id,
					     self->parent_id,
					     IOMMU_HWPT_FAULT_ID_VALID, 0, &id));
	/* Without the flag, fault_id is not looked at. */
	ASSERT_EQ(0, _test_iopf_hwpt(self->fd, self->idev_id, self->parent_id,
				     0, UINT32_MAX, &id));
	EXPECT_EQ(0, fdinfo_obj(self->fd, "hwpt_nested", id, "fault"));
	test_ioctl_destroy(id);
	/* Two HWPTs may share a queue; the queue is held by both. */
	ASSERT_EQ(0, _test_iopf_hwpt(self->fd, self->idev_id, self->parent_id,
				     IOMMU_HWPT_FAULT_ID_VALID, self->fault_id,
				     &id));
	ASSERT_EQ(0, close(self->fault_fd));
	self->fault_fd = -1;
	test_ioctl_destroy(self->iopf_id);
	EXPECT_ERRNO(EBUSY, _test_ioctl_destroy(self->fd, self->fault_id));
	test_ioctl_destroy(id);
	test_ioctl_destroy(self->fault_id);
}

/* One fault, read, answered: the answer reaches the device. */
TEST_F(iopf, deliver_and_answer)
{
	struct iommu_hwpt_pgfault msg[2];
	struct pollfd pfd = { .fd = self->fault_fd, .events = POLLIN };
	__u32 out, answered;

	/* No handler while the device is on no fault-capable HWPT. */
	EXPECT_ERRNO(EINVAL, _test_trigger(self->fd, self->idev_id, 0, 1));
	EXPECT_EQ(0, read(self->fault_fd, msg, sizeof(msg)));
	EXPECT_EQ(0, poll(&pfd, 1, 0));

	test_cmd_mock_domain_replace(self->stdev_id, self->iopf_id, &out);
	EXPECT_EQ(self->iopf_id, out);
	EXPECT_ERRNO(EBUSY, _test_ioctl_destroy(self->fd, self->iopf_id));
	ASSERT_EQ(0, _test_trigger(self->fd, self->idev_id, 1, 2));
	EXPECT_EQ(1, poll(&pfd, 1, 0));
	EXPECT_EQ(POLLIN, pfd.revents & POLLIN);
	EXPECT_EQ(1, delivering());

	memset(msg, 0xff, sizeof(msg));
	ASSERT_EQ(PGFAULT_SIZE, read(self->fault_fd, msg, sizeof(msg)));
	EXPECT_EQ(IOMMU_PGFAULT_FLAGS_PASID_VALID |
			  IOMMU_PGFAULT_FLAGS_LAST_PAGE,
		  msg[0].flags);
	EXPECT_EQ(self->idev_id, msg[0].dev_id);
	EXPECT_EQ(1, msg[0].pasid);
	EXPECT_EQ(2, msg[0].grpid);
	EXPECT_EQ(IOMMU_PGFAULT_PERM_READ | IOMMU_PGFAULT_PERM_WRITE,
		  msg[0].perm);
	EXPECT_EQ(0, msg[0].__reserved);
	EXPECT_EQ(0xdeadbeaf002ULL, msg[0].addr);
	EXPECT_EQ(0, msg[0].length);
	EXPECT_NE(0, msg[0].cookie);
	/* The second slot was not written. */
	EXPECT_EQ(UINT32_MAX, msg[1].flags);
	EXPECT_EQ(0, delivering());
	EXPECT_EQ(1, awaiting());
	EXPECT_EQ(0, poll(&pfd, 1, 0));
	EXPECT_EQ(0, responses());

	ASSERT_EQ(RESP_SIZE, answer(self->fault_fd, msg[0].cookie,
				    IOMMUFD_PAGE_RESP_SUCCESS));
	EXPECT_EQ(1, responses());
	EXPECT_EQ(2, last_grpid());
	EXPECT_EQ(IOMMUFD_PAGE_RESP_SUCCESS, last_code());
	EXPECT_EQ(0, awaiting());
	/* Once only. */
	EXPECT_ERRNO(EINVAL, answer(self->fault_fd, msg[0].cookie,
				    IOMMUFD_PAGE_RESP_SUCCESS));

	/* Without a PASID; answered INVALID. */
	trigger(7);
	answered = msg[0].cookie;
	ASSERT_EQ(PGFAULT_SIZE, read(self->fault_fd, msg, PGFAULT_SIZE));
	/* Not the number of the fault answered: a late answer misses. */
	EXPECT_NE(answered, msg[0].cookie);
	EXPECT_ERRNO(EINVAL, answer(self->fault_fd, answered,
				    IOMMUFD_PAGE_RESP_SUCCESS));
	EXPECT_EQ(IOMMU_PGFAULT_FLAGS_LAST_PAGE, msg[0].flags);
	EXPECT_EQ(0, msg[0].pasid);
	ASSERT_EQ(RESP_SIZE, answer(self->fault_fd, msg[0].cookie,
				    IOMMUFD_PAGE_RESP_INVALID));
	EXPECT_EQ(2, responses());
	EXPECT_EQ(7, last_grpid());
	EXPECT_EQ(IOMMUFD_PAGE_RESP_INVALID, last_code());

	/* Off the HWPTs; a trigger needs a device. */
	test_cmd_mock_domain_replace(self->stdev_id, self->ioas_id, &out);
	test_ioctl_destroy(self->iopf_id);
	test_ioctl_destroy(self->parent_id);
	EXPECT_ERRNO(ENOENT, _test_trigger(self->fd, self->stdev_id, 0, 1));
	EXPECT_ERRNO(ENOENT, _test_trigger(self->fd, 9999, 0, 1));
}

/* read() and write() refuse what they cannot take, and lose nothing. */
TEST_F(iopf, file_contract)
{
	struct iommu_hwpt_page_response resp[2] = {};
	struct iommu_hwpt_pgfault msg[3];
	char *ro, *none;
	__u32 out;

	test_cmd_mock_domain_replace(self->stdev_id, self->iopf_id, &out);
	trigger(1);
	trigger(2);
	trigger(3);
	EXPECT_EQ(3, delivering());

	/* Sizes that are not whole messages, offsets. */
	EXPECT_ERRNO(ESPIPE, read(self->fault_fd, msg, PGFAULT_SIZE - 1));
	EXPECT_ERRNO(ESPIPE, read(self->fault_fd, msg, PGFAULT_SIZE + 1));
	EXPECT_ERRNO(ESPIPE, pread(self->fault_fd, msg, PGFAULT_SIZE, 0));
	EXPECT_ERRNO(ESPIPE, lseek(self->fault_fd, 0, SEEK_SET));
	/* Nothing asked for, nothing read, as upstream. */
	EXPECT_EQ(0, read(self->fault_fd, msg, 0));
	EXPECT_EQ(3, delivering());
	/* Nowhere to put it: EFAULT, and the fault stays queued. */
	none = mmap(NULL, page_size, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS,
		    -1, 0);
	ASSERT_NE(MAP_FAILED, none);
	EXPECT_ERRNO(EFAULT, read(self->fault_fd, none, PGFAULT_SIZE));
	ro = mmap(NULL, page_size, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1,
		  0);
	ASSERT_NE(MAP_FAILED, ro);
	EXPECT_ERRNO(EFAULT, read(self->fault_fd, ro, PGFAULT_SIZE));
	EXPECT_EQ(3, delivering());
	EXPECT_EQ(0, awaiting());

	/* Two fit: two come, oldest first; the third stays. */
	ASSERT_EQ(2 * PGFAULT_SIZE,
		  read(self->fault_fd, msg, 2 * PGFAULT_SIZE));
	EXPECT_EQ(1, msg[0].grpid);
	EXPECT_EQ(2, msg[1].grpid);
	EXPECT_NE(msg[0].cookie, msg[1].cookie);
	EXPECT_EQ(1, delivering());
	EXPECT_EQ(2, awaiting());

	/* Answers: bad sizes, codes, cookies, memory. */
	resp[0].cookie = msg[0].cookie;
	EXPECT_ERRNO(ESPIPE, write(self->fault_fd, resp, RESP_SIZE - 1));
	EXPECT_ERRNO(ESPIPE, pwrite(self->fault_fd, resp, RESP_SIZE, 0));
	resp[0].code = 2;
	EXPECT_ERRNO(EINVAL, write(self->fault_fd, resp, RESP_SIZE));
	resp[0].code = UINT32_MAX;
	EXPECT_ERRNO(EINVAL, write(self->fault_fd, resp, RESP_SIZE));
	EXPECT_ERRNO(EINVAL, answer(self->fault_fd, 0, 0));
	EXPECT_ERRNO(EINVAL, answer(self->fault_fd, UINT32_MAX, 0));
	EXPECT_ERRNO(EFAULT, write(self->fault_fd, none, RESP_SIZE));
	EXPECT_EQ(0, write(self->fault_fd, resp, 0));
	EXPECT_EQ(2, awaiting());
	EXPECT_EQ(0, responses());

	/* The first of two answers good, the second not: one is done. */
	resp[0].code = IOMMUFD_PAGE_RESP_SUCCESS;
	resp[1].cookie = msg[1].cookie;
	resp[1].code = 5;
	EXPECT_EQ(RESP_SIZE, write(self->fault_fd, resp, sizeof(resp)));
	EXPECT_EQ(1, responses());
	EXPECT_EQ(1, last_grpid());
	/* Both good. */
	ASSERT_EQ(PGFAULT_SIZE, read(self->fault_fd, &msg[2], PGFAULT_SIZE));
	resp[0].cookie = msg[2].cookie;
	resp[1].code = IOMMUFD_PAGE_RESP_SUCCESS;
	EXPECT_EQ(sizeof(resp), write(self->fault_fd, resp, sizeof(resp)));
	EXPECT_EQ(3, responses());
	EXPECT_EQ(0, awaiting());
	EXPECT_EQ(0, delivering());
	/* Nothing left: a read returns nothing, and does not wait. */
	EXPECT_EQ(0, read(self->fault_fd, msg, sizeof(msg)));
	munmap(ro, page_size);
	munmap(none, page_size);
}

/* Leaving the HWPT answers every fault of the device, read or not. */
TEST_F(iopf, leave_answers_pending)
{
	struct iommu_hwpt_pgfault msg;
	__u32 out;

	test_cmd_mock_domain_replace(self->stdev_id, self->iopf_id, &out);
	trigger(1);
	trigger(2);
	trigger(3);
	ASSERT_EQ(PGFAULT_SIZE, read(self->fault_fd, &msg, PGFAULT_SIZE));
	EXPECT_EQ(2, delivering());
	EXPECT_EQ(1, awaiting());

	/* Replacing onto the same HWPT changes nothing. */
	test_cmd_mock_domain_replace(self->stdev_id, self->iopf_id, &out);
	EXPECT_EQ(2, delivering());
	EXPECT_EQ(0, responses());

	test_cmd_mock_domain_replace(self->stdev_id, self->parent_id, &out);
	EXPECT_EQ(3, responses());
	EXPECT_EQ(IOMMUFD_PAGE_RESP_INVALID, last_code());
	EXPECT_EQ(0, delivering());
	EXPECT_EQ(0, awaiting());
	EXPECT_ERRNO(EINVAL, answer(self->fault_fd, msg.cookie, 0));
	EXPECT_EQ(0, read(self->fault_fd, &msg, PGFAULT_SIZE));
	/* And no more faults reach the queue. */
	EXPECT_ERRNO(EINVAL, _test_trigger(self->fd, self->idev_id, 0, 4));
	EXPECT_EQ(0, delivering());
	test_ioctl_destroy(self->iopf_id);
}

/* A read() or write() of the queue's file, in a thread. */
struct bg_rw {
	pthread_t thread;
	int fd;
	bool write;
	char *buf;
	size_t count;
	ssize_t rc;
	int err;
	bool done;
};

static void *bg_rw_fn(void *arg)
{
	struct bg_rw *bg = arg;

	bg->rc = bg->write ? write(bg->fd, bg->buf, bg->count) :
			     read(bg->fd, bg->buf, bg->count);
	bg->err = errno;
	__atomic_store_n(&bg->done, true, __ATOMIC_RELEASE);
	return NULL;
}

/*
 * While a read() or write() of the queue waits on its buffer's page (a
 * userfaultfd's), the device keeps faulting, poll() answers, and the
 * device leaves the HWPT, which answers its faults: none of them waits
 * for the page. @mem's fault is then served and @bg joined.
 */
static void others_pass_while_copying(struct __test_metadata *_metadata,
				      FIXTURE_DATA(iopf) * self,
				      struct uffd_mem *mem, struct bg_rw *bg)
{
	struct pollfd pfd = { .fd = self->fault_fd, .events = POLLIN };
	__u32 out;

	ASSERT_EQ(0, pthread_create(&bg->thread, NULL, bg_rw_fn, bg));
	ASSERT_EQ(0, uffd_mem_wait_fault(mem));
	trigger(2);
	EXPECT_EQ(1, poll(&pfd, 1, 0));
	EXPECT_EQ(POLLIN, pfd.revents & POLLIN);
	test_cmd_mock_domain_replace(self->stdev_id, self->parent_id, &out);
	EXPECT_EQ(2, responses());
	EXPECT_EQ(IOMMUFD_PAGE_RESP_INVALID, last_code());
	/* All that while, the copy was waiting. */
	EXPECT_FALSE(__atomic_load_n(&bg->done, __ATOMIC_ACQUIRE));
	ASSERT_EQ(0, uffd_mem_fill(mem));
	ASSERT_EQ(0, pthread_join(bg->thread, NULL));
	EXPECT_EQ(0, delivering());
	EXPECT_EQ(0, awaiting());
}

/*
 * A read() whose buffer waits on userspace: once the page is there, the
 * faults are gone, answered by the device's leaving, and it reads none.
 */
TEST_F(iopf, read_waits_alone)
{
	struct uffd_mem mem = { .uffd = -1 };
	struct bg_rw bg = {
		.fd = self->fault_fd,
		.count = PGFAULT_SIZE,
	};
	__u32 out;

	if (uffd_mem_init(&mem, 1))
		SKIP(return, "no userfaultfd: %s", strerror(errno));
	test_cmd_mock_domain_replace(self->stdev_id, self->iopf_id, &out);
	trigger(1);
	bg.buf = mem.buf;
	others_pass_while_copying(_metadata, self, &mem, &bg);
	EXPECT_EQ(0, bg.rc);
	uffd_mem_free(&mem);
}

/*
 * A write() whose answer waits on userspace: once it is there, the fault
 * it names was answered by the device's leaving, and it is refused.
 */
TEST_F(iopf, write_waits_alone)
{
	struct uffd_mem mem = { .uffd = -1 };
	struct bg_rw bg = {
		.fd = self->fault_fd,
		.write = true,
		.count = RESP_SIZE,
	};
	struct iommu_hwpt_pgfault msg;
	__u32 out;

	if (uffd_mem_init(&mem, 1))
		SKIP(return, "no userfaultfd: %s", strerror(errno));
	test_cmd_mock_domain_replace(self->stdev_id, self->iopf_id, &out);
	trigger(1);
	ASSERT_EQ(PGFAULT_SIZE, read(self->fault_fd, &msg, PGFAULT_SIZE));
	EXPECT_EQ(1, awaiting());
	bg.buf = mem.buf;
	others_pass_while_copying(_metadata, self, &mem, &bg);
	/* The fill wrote 0x5a5a5a5a as the code: no valid answer. */
	EXPECT_EQ(-1, bg.rc);
	EXPECT_EQ(EINVAL, bg.err);
	EXPECT_EQ(2, responses());
	uffd_mem_free(&mem);
}

/* From one queue's HWPT to another's: the old queue's faults answered. */
TEST_F(iopf, replace_between_queues)
{
	struct iommu_hwpt_pgfault msg;
	__u32 fault2, iopf2, out;
	int ffd2;

	ASSERT_EQ(0, _test_fault_alloc(self->fd, 0, &fault2, &ffd2));
	ASSERT_EQ(0, _test_iopf_hwpt(self->fd, self->idev_id, self->parent_id,
				     IOMMU_HWPT_FAULT_ID_VALID, fault2,
				     &iopf2));
	test_cmd_mock_domain_replace(self->stdev_id, self->iopf_id, &out);
	trigger(1);
	test_cmd_mock_domain_replace(self->stdev_id, iopf2, &out);
	EXPECT_EQ(1, responses());
	EXPECT_EQ(0, delivering());
	trigger(2);
	EXPECT_EQ(1, fdinfo_obj(self->fd, "fault", fault2, "delivering"));
	EXPECT_EQ(0, read(self->fault_fd, &msg, PGFAULT_SIZE));
	ASSERT_EQ(PGFAULT_SIZE, read(ffd2, &msg, PGFAULT_SIZE));
	EXPECT_EQ(2, msg.grpid);
	ASSERT_EQ(RESP_SIZE, answer(ffd2, msg.cookie, 0));
	EXPECT_EQ(2, responses());
	EXPECT_EQ(IOMMUFD_PAGE_RESP_SUCCESS, last_code());
	/* A queue's cookies are its own. */
	trigger(3);
	ASSERT_EQ(PGFAULT_SIZE, read(ffd2, &msg, PGFAULT_SIZE));
	EXPECT_ERRNO(EINVAL, answer(self->fault_fd, msg.cookie, 0));
	close(ffd2);
	/* The fault read from a closed queue is answered on the way out. */
	test_cmd_mock_domain_replace(self->stdev_id, self->ioas_id, &out);
	EXPECT_EQ(3, responses());
	test_ioctl_destroy(iopf2);
	test_ioctl_destroy(fault2);
}

/* Close orders: the queue's file first, with faults pending. */
TEST_F(iopf, close_queue_first)
{
	__u32 out;

	test_cmd_mock_domain_replace(self->stdev_id, self->iopf_id, &out);
	trigger(1);
	trigger(2);
	ASSERT_EQ(0, close(self->fault_fd));
	self->fault_fd = -1;
	/* Still routed there, still queued. */
	trigger(3);
	EXPECT_EQ(3, delivering());
	EXPECT_ERRNO(EBUSY, _test_ioctl_destroy(self->fd, self->fault_id));
	test_cmd_mock_domain_replace(self->stdev_id, self->parent_id, &out);
	EXPECT_EQ(3, responses());
	test_ioctl_destroy(self->iopf_id);
	test_ioctl_destroy(self->fault_id);
}

/* Close orders: the device goes first, with faults pending. */
TEST_F(iopf, device_first)
{
	struct iommu_hwpt_pgfault msg;
	__u32 out;

	test_cmd_mock_domain_replace(self->stdev_id, self->iopf_id, &out);
	trigger(1);
	trigger(2);
	ASSERT_EQ(PGFAULT_SIZE, read(self->fault_fd, &msg, PGFAULT_SIZE));
	test_ioctl_destroy(self->stdev_id);
	EXPECT_EQ(0, delivering());
	EXPECT_EQ(0, awaiting());
	EXPECT_ERRNO(EINVAL, answer(self->fault_fd, msg.cookie, 0));
	EXPECT_EQ(0, read(self->fault_fd, &msg, PGFAULT_SIZE));
	test_ioctl_destroy(self->iopf_id);
	test_ioctl_destroy(self->parent_id);
	ASSERT_EQ(0, close(self->fault_fd));
	self->fault_fd = -1;
	test_ioctl_destroy(self->fault_id);
	test_ioctl_destroy(self->ioas_id);
	EXPECT_EQ(0, fdinfo_objects(self->fd));
}

/*
 * Close orders: /dev/iommu first. The queue's file keeps the context,
 * with its device still on the HWPT: faults can still be read and
 * answered, and closing the queue's file then takes everything down.
 */
TEST_F(iopf, close_context_first)
{
	struct iommu_hwpt_pgfault msg;
	__u32 out;

	test_cmd_mock_domain_replace(self->stdev_id, self->iopf_id, &out);
	trigger(1);
	trigger(2);
	ASSERT_EQ(0, close(self->fd));
	self->fd = -1;
	ASSERT_EQ(PGFAULT_SIZE, read(self->fault_fd, &msg, PGFAULT_SIZE));
	EXPECT_EQ(1, msg.grpid);
	ASSERT_EQ(RESP_SIZE, answer(self->fault_fd, msg.cookie, 0));
	ASSERT_EQ(PGFAULT_SIZE, read(self->fault_fd, &msg, PGFAULT_SIZE));
	/* This one is left for the context's end to answer. */
	EXPECT_EQ(2, msg.grpid);
	ASSERT_EQ(0, close(self->fault_fd));
	self->fault_fd = -1;
}

/* A fault-capable HWPT is for a device attached alone in its group. */
TEST_F(iopf, shared_group)
{
	__u32 stdev1, stdev2, out;

	ASSERT_EQ(0, _test_cmd_mock_domain_flags(self->fd, self->ioas_id,
						 MOCK_FLAGS_DEVICE_SHARED_GROUP,
						 &stdev1));
	ASSERT_EQ(0, _test_cmd_mock_domain_flags(self->fd, self->ioas_id,
						 MOCK_FLAGS_DEVICE_SHARED_GROUP,
						 &stdev2));
	EXPECT_ERRNO(EINVAL, _test_cmd_mock_domain_replace(self->fd, stdev1,
							   self->iopf_id,
							   &out));
	/* Alone again, it may. */
	test_ioctl_destroy(stdev2);
	test_cmd_mock_domain_replace(stdev1, self->iopf_id, &out);
	EXPECT_EQ(self->iopf_id, out);
	/* And no sibling may join it there. */
	EXPECT_ERRNO(EINVAL,
		     _test_cmd_mock_domain_flags(self->fd, self->iopf_id,
						 MOCK_FLAGS_DEVICE_SHARED_GROUP,
						 &stdev2));
	test_ioctl_destroy(stdev1);
}

struct race {
	int fd;
	int fault_fd;
	__u32 idev_id;
	bool stop;
	unsigned int accepted, refused, answered, bad;
};

#define LOAD(x) __atomic_load_n(&(x), __ATOMIC_SEQ_CST)
#define STORE(x, v) __atomic_store_n(&(x), v, __ATOMIC_SEQ_CST)
#define BUMP(x, n) __atomic_add_fetch(&(x), n, __ATOMIC_SEQ_CST)

/* The device: RACE_FAULTS page requests, accepted or not. */
static void *race_device(void *arg)
{
	struct race *r = arg;
	unsigned int i;

	for (i = 0; i != RACE_FAULTS; i++) {
		/*
		 * Refused: EINVAL with no handler, ENODEV from ours while
		 * the device is between HWPTs.
		 */
		if (!_test_trigger(r->fd, r->idev_id, 0, i))
			BUMP(r->accepted, 1);
		else if (errno == EINVAL || errno == ENODEV)
			BUMP(r->refused, 1);
		else
			BUMP(r->bad, 1);
	}
	return NULL;
}

/* The VMM: read whatever comes and answer it, until told to stop. */
static void *race_vmm(void *arg)
{
	struct iommu_hwpt_page_response resp[8];
	struct iommu_hwpt_pgfault msg[8];
	struct race *r = arg;
	struct pollfd pfd = { .fd = r->fault_fd, .events = POLLIN };
	ssize_t n, i;

	while (!LOAD(r->stop)) {
		poll(&pfd, 1, 10);
		n = read(r->fault_fd, msg, sizeof(msg));
		if (n < 0) {
			BUMP(r->bad, 1);
			continue;
		}
		n /= PGFAULT_SIZE;
		for (i = 0; i != n; i++) {
			resp[i].cookie = msg[i].cookie;
			resp[i].code = IOMMUFD_PAGE_RESP_SUCCESS;
		}
		/* The device may have left meanwhile: EINVAL, answered. */
		for (i = 0; i != n; i++)
			if (answer(r->fault_fd, resp[i].cookie,
				   resp[i].code) == RESP_SIZE)
				BUMP(r->answered, 1);
	}
	return NULL;
}

/*
 * The device faults, the VMM reads and answers, and the device is moved
 * on and off the HWPT all the while: every accepted fault reaches the
 * device answered exactly once.
 */
TEST_F(iopf, race_replace)
{
	struct race r = {
		.fd = self->fd,
		.fault_fd = self->fault_fd,
		.idev_id = self->idev_id,
	};
	pthread_t dev, vmm;
	unsigned int moves = 0;
	__u32 out;

	test_cmd_mock_domain_replace(self->stdev_id, self->iopf_id, &out);
	ASSERT_EQ(0, pthread_create(&vmm, NULL, race_vmm, &r));
	ASSERT_EQ(0, pthread_create(&dev, NULL, race_device, &r));
	while (LOAD(r.accepted) + LOAD(r.refused) + LOAD(r.bad) <
	       RACE_FAULTS) {
		test_cmd_mock_domain_replace(self->stdev_id,
					     moves % 2 ? self->iopf_id :
							 self->parent_id,
					     &out);
		moves++;
	}
	ASSERT_EQ(0, pthread_join(dev, NULL));
	/* Off the HWPT: whatever is left is answered by the kernel. */
	test_cmd_mock_domain_replace(self->stdev_id, self->parent_id, &out);
	STORE(r.stop, true);
	ASSERT_EQ(0, pthread_join(vmm, NULL));
	TH_LOG("%u moves; %u faults accepted, %u refused, %u answered by the VMM",
	       moves, r.accepted, r.refused, r.answered);
	EXPECT_EQ(0, r.bad);
	EXPECT_EQ(r.accepted, responses());
	EXPECT_LE(r.answered, r.accepted);
	EXPECT_EQ(0, delivering());
	EXPECT_EQ(0, awaiting());
}

TEST_HARNESS_MAIN
