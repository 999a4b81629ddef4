// SPDX-License-Identifier: GPL-2.0-only
/*
 * Threads racing on one /dev/iommu context, for a bounded time, so that
 * KASAN, lockdep and kmemleak see the locking and the lifetimes of
 * iommufd under concurrency.
 *
 * STRESS_WORKERS threads share one context and STRESS_IOAS slots that
 * each name an IOAS. Each worker runs random operations: map one to four
 * pages of a shared buffer at a kernel-chosen IOVA or at a fixed one in
 * an IOVA window of its own, unmap what it mapped, unmap everything in a
 * slot, copy what it mapped to a slot, replace the IOAS of a slot
 * (IOMMU_DESTROY, which fails with EBUSY while the IOAS is in use), attach
 * and remove mock devices, allocate a HWPT and attach a device to it, and
 * drive an in-kernel access: pin, unpin, read and write, move it to
 * another IOAS, close it. One more thread opens a context of its own,
 * fills it (IOAS, map, maybe a mock device, an access that pins) and
 * closes it again, sometimes closing the context before the access,
 * which then keeps it alive.
 *
 * The workers see each other's work only through IDs that may be stale,
 * so some failures are what a race should give: ENOENT, EBUSY, EEXIST,
 * EINVAL, ENOSPC and EADDRINUSE, and EOPNOTSUPP for IOMMU_HWPT_ALLOC on
 * an ID that now names a HWPT. Any other error fails the test (EFAULT,
 * ENOMEM: nothing is charged, as root has CAP_IPC_LOCK), as does any
 * error of the private context. The invariant checked in the end, after
 * every file is closed, is that no page of the buffers is pinned; the
 * private context checks it each time it has closed.
 *
 * It runs for STRESS_SECONDS, or as many as IOMMUFD_STRESS_SECONDS in the
 * environment says.
 *
 * The shared_access tests race the operations of ONE access against each
 * other, which the workers above never do: each of them drives an access
 * of its own. One thread moves the access between two IOASes and back
 * (IOMMU_TEST_OP_ACCESS_REPLACE_IOAS), two pin and unpin through it, one
 * reads and writes through it, and one unmaps and maps again the areas of
 * both IOASes. In the 'destroy' variant one more thread closes the access
 * and makes a new one, over and over, while the others use it. Both IOASes
 * map the same buffer at the same IOVAs, so whichever IOAS the access is
 * on, every range the threads name is mapped but for the areas being
 * unmapped. Pins and copies may fail with ENOENT or EINVAL meanwhile (the
 * access is being moved, or the area unmapped), an unpin with ENOENT (the
 * unmap op dropped the pin first), an unmap with EBUSY (the access is
 * between two IOASes, still holding pins in the old one) and, in the
 * 'destroy' variant, anything naming the access with EBADF. Afterwards,
 * with nothing racing, each IOAS must unmap everything at once, no page
 * of the buffer may stay pinned, and VmPin must be back where it started.
 * In the 'unmap' variant one more thread unmaps one or two areas at a
 * time, racing the thread that unmaps and maps them again and the unmaps
 * the pins' unmap ops cause: two unmaps of one area must not both reach
 * it, nor one use it after the other freed it (KASAN), and an unmap may
 * then find nothing left, which is no error. It does not track what it
 * unmapped, so in the end only an unmap of everything is checked.
 * It runs for SHARED_SECONDS, or IOMMUFD_SHARED_SECONDS.
 */
#include <pthread.h>
#include <sched.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <time.h>

#include "iommufd_utils.h"

#define STRESS_SECONDS 5
#define STRESS_MAX_SECONDS 600
/* Room for a slow kernel to finish the last operations and clean up. */
#define STRESS_TIMEOUT 120
#define STRESS_WORKERS 3
#define STRESS_THREADS (STRESS_WORKERS + 1)
#define STRESS_IOAS 3
#define STRESS_BUF_PAGES 64
#define STRESS_OWN_PAGES 8
/* Mappings a worker remembers; it unmaps the oldest to make room. */
#define STRESS_MAPS 8
#define STRESS_DEVICES 2
/* Each worker's fixed IOVAs are in a window this far from the next. */
#define STRESS_WINDOW_STRIDE (64UL << 20)
#define STRESS_WINDOW_PAGES 64
/* Attaching to any ID picks one up to this; most objects live below. */
#define STRESS_ANY_ID 64

#define STRESS_RW (IOMMU_IOAS_MAP_READABLE | IOMMU_IOAS_MAP_WRITEABLE)
#define STRESS_FIXED_RW (IOMMU_IOAS_MAP_FIXED_IOVA | STRESS_RW)
#define STRESS_ACCESS_PINS MOCK_FLAGS_ACCESS_CREATE_NEEDS_PIN_PAGES

enum stress_op {
	STRESS_MAP,
	STRESS_MAP_FIXED,
	STRESS_UNMAP,
	STRESS_UNMAP_ALL,
	STRESS_COPY,
	STRESS_IOAS_DESTROY,
	STRESS_IOAS_ALLOC,
	STRESS_IOAS_ALLOW,
	STRESS_MOCK_DOMAIN,
	STRESS_DEVICE_DESTROY,
	STRESS_HWPT_ALLOC,
	STRESS_HWPT_DESTROY,
	STRESS_ACCESS_CREATE,
	STRESS_ACCESS_PAGES,
	STRESS_ACCESS_UNPIN,
	STRESS_ACCESS_RW,
	STRESS_ACCESS_REPLACE,
	STRESS_ACCESS_CLOSE,
	STRESS_REOPEN,
	STRESS_REOPEN_PINS,
	STRESS_NUM_OPS
};

static const char *const stress_op_names[STRESS_NUM_OPS] = {
	[STRESS_MAP] = "map",
	[STRESS_MAP_FIXED] = "map fixed",
	[STRESS_UNMAP] = "unmap",
	[STRESS_UNMAP_ALL] = "unmap all",
	[STRESS_COPY] = "copy",
	[STRESS_IOAS_DESTROY] = "IOAS destroy",
	[STRESS_IOAS_ALLOC] = "IOAS alloc",
	[STRESS_IOAS_ALLOW] = "IOAS allow IOVA",
	[STRESS_MOCK_DOMAIN] = "mock domain",
	[STRESS_DEVICE_DESTROY] = "device destroy",
	[STRESS_HWPT_ALLOC] = "HWPT alloc",
	[STRESS_HWPT_DESTROY] = "HWPT destroy",
	[STRESS_ACCESS_CREATE] = "access create",
	[STRESS_ACCESS_PAGES] = "access pin",
	[STRESS_ACCESS_UNPIN] = "access unpin",
	[STRESS_ACCESS_RW] = "access rw",
	[STRESS_ACCESS_REPLACE] = "access replace",
	[STRESS_ACCESS_CLOSE] = "access close",
	[STRESS_REOPEN] = "private context",
	[STRESS_REOPEN_PINS] = "private unpinned",
};

static unsigned long page_size;

struct stress;

/* A mapping a worker made; length 0 for a free entry. */
struct stress_map {
	__u32 ioas_id;
	__u64 iova;
	__u64 length;
};

/* One thread and what it owns. Only that thread touches it while it runs. */
struct stress_worker {
	struct stress *st;
	pthread_t thread;
	unsigned int index;
	unsigned int rnd;
	char *rw_buf;
	struct stress_map maps[STRESS_MAPS];
	unsigned int next_map;
	__u32 stdev_ids[STRESS_DEVICES];
	__u32 idev_ids[STRESS_DEVICES];
	__u32 hwpt_id;
	__u32 hwpt_stdev_id;
	int access_fd;
	__u32 access_ioas_id;
	__u32 pages_id;
	bool pinned;
	unsigned int ok[STRESS_NUM_OPS];
	unsigned int raced[STRESS_NUM_OPS];
};

struct stress {
	/* The shared context. */
	int fd;
	/* IOAS IDs, 0 while a worker replaces one; __atomic_* access. */
	__u32 ioas[STRESS_IOAS];
	/* What the workers map. */
	char *buf;
	/* What the private context maps. */
	char *own_buf;
	/* Set to end the run; __atomic_* access. */
	bool stop;
	pthread_mutex_t lock; /* protects bad, bad_op and bad_errno */
	unsigned int bad;
	enum stress_op bad_op;
	int bad_errno;
	struct stress_worker workers[STRESS_THREADS];
};

static __attribute__((constructor)) void stress_setup_sizes(void)
{
	page_size = sysconf(_SC_PAGE_SIZE);
}

static bool stress_stopped(struct stress *st)
{
	return __atomic_load_n(&st->stop, __ATOMIC_ACQUIRE);
}

static void stress_stop(struct stress *st)
{
	__atomic_store_n(&st->stop, true, __ATOMIC_RELEASE);
}

/* Record an error no race explains, and end the run. */
static void stress_bad(struct stress_worker *w, enum stress_op op, int err)
{
	struct stress *st = w->st;

	pthread_mutex_lock(&st->lock);
	if (!st->bad++) {
		st->bad_op = op;
		st->bad_errno = err;
	}
	pthread_mutex_unlock(&st->lock);
	stress_stop(st);
}

/*
 * Count the result of an operation on the shared context. Return true
 * if it worked.
 */
static bool stress_check(struct stress_worker *w, enum stress_op op, int rc)
{
	int err = errno;

	if (!rc) {
		w->ok[op]++;
		return true;
	}
	switch (err) {
	case ENOENT:
	case EBUSY:
	case EEXIST:
	case EINVAL:
	case ENOSPC:
	case EADDRINUSE:
		w->raced[op]++;
		return false;
	case EOPNOTSUPP:
		if (op == STRESS_HWPT_ALLOC) {
			w->raced[op]++;
			return false;
		}
		break;
	}
	stress_bad(w, op, err);
	return false;
}

/* The private context has no race to blame: anything but 0 is bad. */
static bool stress_strict(struct stress_worker *w, enum stress_op op, int rc)
{
	if (!rc) {
		w->ok[op]++;
		return true;
	}
	stress_bad(w, op, errno);
	return false;
}

/* A number below n, from the thread's xorshift generator. */
static unsigned int stress_rand(struct stress_worker *w, unsigned int n)
{
	unsigned int x = w->rnd;

	x ^= x << 13;
	x ^= x >> 17;
	x ^= x << 5;
	w->rnd = x;
	return x % n;
}

static __u32 stress_pick_ioas(struct stress_worker *w)
{
	unsigned int slot = stress_rand(w, STRESS_IOAS);

	return __atomic_load_n(&w->st->ioas[slot], __ATOMIC_RELAXED);
}

/*
 * A tracked mapping, from a random entry on: one in the IOAS @ioas_id if
 * there is one (any when @ioas_id is 0), else any. NULL if there is none.
 */
static struct stress_map *stress_pick_map_in(struct stress_worker *w,
					     __u32 ioas_id)
{
	unsigned int first = stress_rand(w, STRESS_MAPS);
	struct stress_map *any = NULL;
	unsigned int i;

	for (i = 0; i != STRESS_MAPS; i++) {
		struct stress_map *map = &w->maps[(first + i) % STRESS_MAPS];

		if (!map->length)
			continue;
		if (!ioas_id || map->ioas_id == ioas_id)
			return map;
		if (!any)
			any = map;
	}
	return any;
}

static struct stress_map *stress_pick_map(struct stress_worker *w)
{
	return stress_pick_map_in(w, 0);
}

/* Someone else may have unmapped it, or mapped something else there. */
static void stress_unmap_one(struct stress_worker *w, struct stress_map *map)
{
	stress_check(w, STRESS_UNMAP,
		     _test_ioctl_ioas_unmap(w->st->fd, map->ioas_id, map->iova,
					    map->length, NULL));
	map->length = 0;
}

static void stress_track(struct stress_worker *w, __u32 ioas_id, __u64 iova,
			 __u64 length)
{
	struct stress_map *map = &w->maps[w->next_map];

	if (map->length)
		stress_unmap_one(w, map);
	map->ioas_id = ioas_id;
	map->iova = iova;
	map->length = length;
	w->next_map = (w->next_map + 1) % STRESS_MAPS;
}

static void stress_map(struct stress_worker *w, bool fixed)
{
	unsigned int pages = 1 + stress_rand(w, 4);
	unsigned int offset = stress_rand(w, STRESS_BUF_PAGES - pages + 1);
	__u64 length = pages * page_size;
	__u32 ioas_id = stress_pick_ioas(w);
	__u32 flags = STRESS_RW;
	__u64 iova = 0;

	if (fixed) {
		iova = MOCK_APERTURE_START +
		       (w->index + 1) * STRESS_WINDOW_STRIDE +
		       stress_rand(w, STRESS_WINDOW_PAGES - pages + 1) *
			       page_size;
		flags = STRESS_FIXED_RW;
	}
	if (stress_check(w, fixed ? STRESS_MAP_FIXED : STRESS_MAP,
			 _test_ioctl_ioas_map(w->st->fd, ioas_id,
					      w->st->buf + offset * page_size,
					      length, &iova, flags)))
		stress_track(w, ioas_id, iova, length);
}

static void stress_unmap(struct stress_worker *w)
{
	struct stress_map *map = stress_pick_map(w);

	if (map)
		stress_unmap_one(w, map);
}

/* Every mapping of a slot, whoever made it. */
static void stress_unmap_all(struct stress_worker *w)
{
	stress_check(w, STRESS_UNMAP_ALL,
		     _test_ioctl_ioas_unmap(w->st->fd, stress_pick_ioas(w), 0,
					    UINT64_MAX, NULL));
}

/* A whole tracked mapping or its first pages, to a slot. */
static void stress_copy(struct stress_worker *w)
{
	struct stress_map *map = stress_pick_map(w);
	__u32 dst_id = stress_pick_ioas(w);
	__u64 length, iova = 0;

	if (!map)
		return;
	length = (1 + stress_rand(w, map->length / page_size)) * page_size;
	if (stress_check(w, STRESS_COPY,
			 _test_ioctl_ioas_copy(w->st->fd, dst_id, map->ioas_id,
					       map->iova, length, &iova,
					       STRESS_RW)))
		stress_track(w, dst_id, iova, length);
}

/*
 * Take the IOAS out of a slot and destroy it, then put a new one in. The
 * slot reads 0 meanwhile, and only the worker that took the ID out can
 * destroy it; an IOAS in use (EBUSY) goes back into its slot.
 */
static void stress_replace_ioas(struct stress_worker *w)
{
	const struct iommu_iova_range aperture = {
		.start = MOCK_APERTURE_START,
		.last = MOCK_APERTURE_LAST,
	};
	struct stress *st = w->st;
	unsigned int slot = stress_rand(w, STRESS_IOAS);
	__u32 id;

	id = __atomic_exchange_n(&st->ioas[slot], 0, __ATOMIC_ACQ_REL);
	if (!id)
		return;
	if (!stress_check(w, STRESS_IOAS_DESTROY,
			  _test_ioctl_destroy(st->fd, id))) {
		__atomic_store_n(&st->ioas[slot], id, __ATOMIC_RELEASE);
		return;
	}
	/* Allocating needs no luck: only ENOMEM could make it fail. */
	if (!stress_strict(w, STRESS_IOAS_ALLOC,
			   _test_ioctl_ioas_alloc(st->fd, &id)))
		return;
	/*
	 * Keeps kernel-chosen IOVAs inside the mock aperture. A stale ID
	 * may have mapped outside it already: EADDRINUSE.
	 */
	stress_check(w, STRESS_IOAS_ALLOW,
		     _test_ioctl_ioas_allow_iovas(st->fd, id, &aperture, 1));
	__atomic_store_n(&st->ioas[slot], id, __ATOMIC_RELEASE);
}

/*
 * Destroy an object of ours. Returns the ID to keep: 0 if it is gone, or
 * the ID again if it is busy, say looked up through a stale ID by another
 * worker that is attaching to it.
 */
static __u32 stress_destroy(struct stress_worker *w, enum stress_op op,
			    __u32 id)
{
	int rc = _test_ioctl_destroy(w->st->fd, id);
	bool busy = rc && errno == EBUSY;

	stress_check(w, op, rc);
	return busy ? id : 0;
}

/*
 * Attach a new mock device, or remove one of ours. Mostly to the IOAS of
 * a slot; sometimes to whatever a small ID names, which can be the HWPT
 * of another worker's device, just while that device goes.
 */
static void stress_device(struct stress_worker *w)
{
	unsigned int i = stress_rand(w, STRESS_DEVICES);
	__u32 pt_id;

	if (w->stdev_ids[i]) {
		w->stdev_ids[i] = stress_destroy(w, STRESS_DEVICE_DESTROY,
						 w->stdev_ids[i]);
		return;
	}
	if (stress_rand(w, 4))
		pt_id = stress_pick_ioas(w);
	else
		pt_id = 1 + stress_rand(w, STRESS_ANY_ID);
	if (!stress_check(w, STRESS_MOCK_DOMAIN,
			  _test_cmd_mock_domain(w->st->fd, pt_id,
						&w->stdev_ids[i], NULL,
						&w->idev_ids[i])))
		w->stdev_ids[i] = 0;
}

/*
 * A HWPT for one of our devices on a slot's IOAS, with a device of its
 * own; next time, both go. A HWPT that a device of another worker found
 * through a stale ID stays busy until that device goes.
 */
static void stress_hwpt(struct stress_worker *w)
{
	struct stress *st = w->st;
	unsigned int i;

	if (w->hwpt_id) {
		if (w->hwpt_stdev_id)
			w->hwpt_stdev_id = stress_destroy(w,
							  STRESS_DEVICE_DESTROY,
							  w->hwpt_stdev_id);
		if (!w->hwpt_stdev_id)
			w->hwpt_id = stress_destroy(w, STRESS_HWPT_DESTROY,
						    w->hwpt_id);
		return;
	}
	for (i = 0; i != STRESS_DEVICES; i++)
		if (w->stdev_ids[i])
			break;
	if (i == STRESS_DEVICES)
		return;
	if (!stress_check(w, STRESS_HWPT_ALLOC,
			  _test_cmd_hwpt_alloc(st->fd, w->idev_ids[i],
					       stress_pick_ioas(w), 0,
					       &w->hwpt_id))) {
		w->hwpt_id = 0;
		return;
	}
	if (!stress_check(w, STRESS_MOCK_DOMAIN,
			  _test_cmd_mock_domain(st->fd, w->hwpt_id,
						&w->hwpt_stdev_id, NULL,
						NULL)))
		w->hwpt_stdev_id = 0;
}

static void stress_access_close(struct stress_worker *w)
{
	if (w->access_fd < 0)
		return;
	/* Closing drops the pins, and cannot fail. */
	stress_strict(w, STRESS_ACCESS_CLOSE, close(w->access_fd));
	w->access_fd = -1;
	w->pinned = false;
}

/* Drop the pin we hold, if any, and pin the pages of a mapping. */
static void stress_access_repin(struct stress_worker *w, struct stress_map *map)
{
	int fd = w->st->fd;
	__u32 flags = 0;

	/* Unmapping may have dropped it already: ENOENT. */
	if (w->pinned)
		stress_check(w, STRESS_ACCESS_UNPIN,
			     _test_cmd_destroy_access_pages(fd, w->access_fd,
							    w->pages_id));
	w->pinned = false;
	if (!map)
		return;
	if (stress_rand(w, 2))
		flags = MOCK_FLAGS_ACCESS_WRITE;
	w->pinned = stress_check(w, STRESS_ACCESS_PAGES,
				 _test_cmd_access_pages(fd, w->access_fd,
							map->iova, map->length,
							NULL, flags,
							&w->pages_id));
}

/* Copy at most a page: the test op's bounce buffer is kmalloc'd. */
static void stress_access_rw(struct stress_worker *w, struct stress_map *map)
{
	__u64 iova, length;
	__u32 flags = 0;

	if (!map)
		return;
	length = 1 + stress_rand(w, page_size);
	iova = map->iova + stress_rand(w, map->length - length + 1);
	if (stress_rand(w, 2))
		flags |= MOCK_ACCESS_RW_WRITE;
	if (stress_rand(w, 2))
		flags |= MOCK_ACCESS_RW_SLOW_PATH;
	stress_check(w, STRESS_ACCESS_RW,
		     _test_cmd_access_rw(w->st->fd, w->access_fd, iova, length,
					 w->rw_buf, flags));
}

/* Create an access, or use the one we have in one of several ways. */
static void stress_access(struct stress_worker *w)
{
	struct stress *st = w->st;
	__u32 ioas_id;

	if (w->access_fd < 0) {
		ioas_id = stress_pick_ioas(w);
		if (stress_check(w, STRESS_ACCESS_CREATE,
				 _test_cmd_create_access(st->fd, ioas_id,
							 STRESS_ACCESS_PINS,
							 &w->access_fd)))
			w->access_ioas_id = ioas_id;
		else
			w->access_fd = -1;
		return;
	}

	switch (stress_rand(w, 8)) {
	case 0:
		stress_access_close(w);
		break;
	case 1:
		ioas_id = stress_pick_ioas(w);
		if (stress_check(w, STRESS_ACCESS_REPLACE,
				 _test_cmd_access_replace_ioas(st->fd,
							       w->access_fd,
							       ioas_id)))
			w->access_ioas_id = ioas_id;
		break;
	case 2:
	case 3:
		stress_access_repin(w, stress_pick_map_in(w,
							  w->access_ioas_id));
		break;
	default:
		stress_access_rw(w, stress_pick_map_in(w, w->access_ioas_id));
		break;
	}
}

static void *stress_worker_run(void *arg)
{
	struct stress_worker *w = arg;

	while (!stress_stopped(w->st)) {
		unsigned int dice = stress_rand(w, 100);

		if (dice < 18)
			stress_map(w, false);
		else if (dice < 30)
			stress_map(w, true);
		else if (dice < 42)
			stress_unmap(w);
		else if (dice < 44)
			stress_unmap_all(w);
		else if (dice < 54)
			stress_copy(w);
		else if (dice < 57)
			stress_replace_ioas(w);
		else if (dice < 70)
			stress_device(w);
		else if (dice < 78)
			stress_hwpt(w);
		else
			stress_access(w);
	}
	/* The rest goes when the shared context is closed. */
	stress_access_close(w);
	return NULL;
}

/*
 * One life of a private context. Both orders of closing: the context
 * first, when the access keeps it alive and still works through the
 * shared file, or the access first. Once both are closed the context is
 * gone, and nothing of its memory may stay pinned.
 */
static void stress_private_context(struct stress_worker *w)
{
	size_t length = STRESS_OWN_PAGES * page_size;
	struct stress *st = w->st;
	__u64 iova = MOCK_APERTURE_START;
	__u32 ioas_id = 0, pages_id;
	int fd, access_fd = -1;

	fd = open("/dev/iommu", O_RDWR);
	if (fd < 0) {
		stress_bad(w, STRESS_REOPEN, errno);
		return;
	}
	if (!stress_strict(w, STRESS_REOPEN,
			   _test_ioctl_ioas_alloc(fd, &ioas_id)) ||
	    !stress_strict(w, STRESS_REOPEN,
			   _test_ioctl_ioas_map(fd, ioas_id, st->own_buf,
						length, &iova,
						STRESS_FIXED_RW)))
		goto out_close;
	if (stress_rand(w, 2) &&
	    !stress_strict(w, STRESS_REOPEN,
			   _test_cmd_mock_domain(fd, ioas_id, NULL, NULL,
						 NULL)))
		goto out_close;
	if (!stress_strict(w, STRESS_REOPEN,
			   _test_cmd_create_access(fd, ioas_id,
						   STRESS_ACCESS_PINS,
						   &access_fd))) {
		access_fd = -1;
		goto out_close;
	}
	if (!stress_strict(w, STRESS_REOPEN,
			   _test_cmd_access_pages(fd, access_fd, iova,
						  2 * page_size, st->own_buf,
						  MOCK_FLAGS_ACCESS_WRITE,
						  &pages_id)) ||
	    !stress_strict(w, STRESS_REOPEN,
			   _test_cmd_access_rw(fd, access_fd, iova + page_size,
					       page_size, w->rw_buf, 0)))
		goto out_close;
	if (stress_rand(w, 2)) {
		close(fd);
		fd = -1;
		stress_strict(w, STRESS_REOPEN,
			      _test_cmd_access_rw(st->fd, access_fd,
						  iova + 3 * page_size, 64,
						  w->rw_buf,
						  MOCK_ACCESS_RW_WRITE));
	}

out_close:
	if (access_fd >= 0)
		close(access_fd);
	if (fd >= 0)
		close(fd);
	stress_strict(w, STRESS_REOPEN_PINS,
		      _test_cmd_check_refs(st->fd, st->own_buf, length, 0));
}

static void *stress_reopen_run(void *arg)
{
	struct stress_worker *w = arg;

	while (!stress_stopped(w->st))
		stress_private_context(w);
	return NULL;
}

static unsigned int stress_seconds(void)
{
	const char *env = getenv("IOMMUFD_STRESS_SECONDS");
	unsigned long seconds;

	if (!env)
		return STRESS_SECONDS;
	seconds = strtoul(env, NULL, 10);
	if (!seconds || seconds > STRESS_MAX_SECONDS)
		return STRESS_SECONDS;
	return seconds;
}

FIXTURE(stress)
{
	struct stress st;
	unsigned int started;
};

FIXTURE_SETUP(stress)
{
	const struct iommu_iova_range aperture = {
		.start = MOCK_APERTURE_START,
		.last = MOCK_APERTURE_LAST,
	};
	struct stress *st = &self->st;
	unsigned int i, seed = time(NULL);

	st->fd = -1;
	pthread_mutex_init(&st->lock, NULL);
	for (i = 0; i != STRESS_THREADS; i++) {
		struct stress_worker *w = &st->workers[i];

		w->st = st;
		w->index = i;
		w->rnd = (seed + i * 0x9e3779b9U) | 1;
		w->access_fd = -1;
		w->rw_buf = test_alloc_small_pages(1);
		ASSERT_NE(NULL, w->rw_buf);
	}
	TH_LOG("random seed %u", seed);

	st->buf = test_alloc_small_pages(STRESS_BUF_PAGES);
	ASSERT_NE(NULL, st->buf);
	st->own_buf = test_alloc_small_pages(STRESS_OWN_PAGES);
	ASSERT_NE(NULL, st->own_buf);
	st->fd = open("/dev/iommu", O_RDWR);
	ASSERT_LE(0, st->fd);
	for (i = 0; i != STRESS_IOAS; i++) {
		ASSERT_EQ(0, _test_ioctl_ioas_alloc(st->fd, &st->ioas[i]));
		ASSERT_EQ(0, _test_ioctl_ioas_allow_iovas(st->fd, st->ioas[i],
							  &aperture, 1));
	}
}

static void stress_join(struct stress *st, unsigned int *started)
{
	stress_stop(st);
	while (*started)
		pthread_join(st->workers[--*started].thread, NULL);
}

/* EXPECT only: after a failed ASSERT the threads may still run. */
FIXTURE_TEARDOWN(stress)
{
	struct stress *st = &self->st;
	unsigned int i;

	stress_join(st, &self->started);
	for (i = 0; i != STRESS_THREADS; i++)
		if (st->workers[i].access_fd >= 0)
			close(st->workers[i].access_fd);
	if (st->fd >= 0)
		close(st->fd);
	pthread_mutex_destroy(&st->lock);
}

static void stress_report(struct __test_metadata *_metadata,
			  struct stress *st, unsigned int *ok)
{
	unsigned int op, i;

	for (op = 0; op != STRESS_NUM_OPS; op++) {
		unsigned int raced = 0;

		ok[op] = 0;
		for (i = 0; i != STRESS_THREADS; i++) {
			ok[op] += st->workers[i].ok[op];
			raced += st->workers[i].raced[op];
		}
		TH_LOG("%-16s %7u worked %7u lost a race",
		       stress_op_names[op], ok[op], raced);
	}
}

TEST_F_TIMEOUT(stress, race, STRESS_TIMEOUT)
{
	struct stress *st = &self->st;
	unsigned int seconds = stress_seconds();
	unsigned int ok[STRESS_NUM_OPS];
	struct timespec end, now;
	int fd;

	for (; self->started != STRESS_THREADS; self->started++) {
		struct stress_worker *w = &st->workers[self->started];

		ASSERT_EQ(0, pthread_create(&w->thread, NULL,
					    w->index == STRESS_WORKERS ?
						    stress_reopen_run :
						    stress_worker_run,
					    w));
	}

	ASSERT_EQ(0, clock_gettime(CLOCK_MONOTONIC, &end));
	end.tv_sec += seconds;
	do {
		usleep(100 * 1000);
		ASSERT_EQ(0, clock_gettime(CLOCK_MONOTONIC, &now));
	} while (!stress_stopped(st) &&
		 (now.tv_sec < end.tv_sec ||
		  (now.tv_sec == end.tv_sec && now.tv_nsec < end.tv_nsec)));
	stress_join(st, &self->started);

	stress_report(_metadata, st, ok);
	if (st->bad)
		TH_LOG("%u unexpected errors, the first: %s failed with %s",
		       st->bad, stress_op_names[st->bad_op],
		       strerror(st->bad_errno));
	EXPECT_EQ(0, st->bad);

	/* Everything goes with the files; then nothing may stay pinned. */
	close(st->fd);
	st->fd = -1;
	fd = open("/dev/iommu", O_RDWR);
	ASSERT_LE(0, fd);
	EXPECT_EQ(0, _test_cmd_check_refs(fd, st->buf,
					  STRESS_BUF_PAGES * page_size, 0));
	EXPECT_EQ(0, _test_cmd_check_refs(fd, st->own_buf,
					  STRESS_OWN_PAGES * page_size, 0));
	close(fd);

	/* The run did get somewhere. */
	EXPECT_LT(0, ok[STRESS_MAP]);
	EXPECT_LT(0, ok[STRESS_MOCK_DOMAIN]);
	EXPECT_LT(0, ok[STRESS_ACCESS_CREATE]);
	EXPECT_LT(0, ok[STRESS_REOPEN_PINS]);
}

/* Several threads on one access. */

#define SHARED_SECONDS 3
#define SHARED_TIMEOUT 120
#define SHARED_IOAS 2
/* The buffer is mapped as SHARED_AREAS areas of SHARED_AREA_PAGES each. */
#define SHARED_AREAS 4
#define SHARED_AREA_PAGES 4
#define SHARED_BUF_PAGES (SHARED_AREAS * SHARED_AREA_PAGES)
#define SHARED_PINNERS 2

enum shared_op {
	SHARED_REPLACE,
	SHARED_PIN,
	SHARED_UNPIN,
	SHARED_RW,
	SHARED_UNMAP,
	SHARED_MAP,
	SHARED_CLOSE,
	SHARED_CREATE,
	SHARED_NUM_OPS
};

static const char *const shared_op_names[SHARED_NUM_OPS] = {
	[SHARED_REPLACE] = "replace IOAS",
	[SHARED_PIN] = "pin",
	[SHARED_UNPIN] = "unpin",
	[SHARED_RW] = "rw",
	[SHARED_UNMAP] = "unmap",
	[SHARED_MAP] = "map again",
	[SHARED_CLOSE] = "close access",
	[SHARED_CREATE] = "create access",
};

struct shared;

struct shared_thread {
	struct shared *sh;
	pthread_t thread;
	bool running;
	unsigned int rnd;
	char *rw_buf;
	unsigned int ok[SHARED_NUM_OPS];
	unsigned int raced[SHARED_NUM_OPS];
};

enum {
	SHARED_T_REPLACE,
	SHARED_T_RW,
	SHARED_T_MAP,
	SHARED_T_CLOSE,
	SHARED_T_UNMAP,
	SHARED_T_PIN,
	SHARED_THREADS = SHARED_T_PIN + SHARED_PINNERS
};

struct shared {
	int fd;
	__u32 ioas[SHARED_IOAS];
	/* The access, or -1 while none is open; __atomic_* access. */
	int access_fd;
	char *buf;
	/* Which areas are mapped in each IOAS; only the map thread. */
	bool mapped[SHARED_IOAS][SHARED_AREAS];
	bool destroy;
	/* The 'unmap' variant: another thread unmaps areas too. */
	bool unmapper;
	bool stop;
	pthread_mutex_t lock; /* protects bad, bad_op and bad_errno */
	unsigned int bad;
	enum shared_op bad_op;
	int bad_errno;
	struct shared_thread threads[SHARED_THREADS];
};

static unsigned int shared_rand(struct shared_thread *t, unsigned int n)
{
	unsigned int x = t->rnd;

	x ^= x << 13;
	x ^= x >> 17;
	x ^= x << 5;
	t->rnd = x;
	return x % n;
}

static bool shared_stopped(struct shared *sh)
{
	return __atomic_load_n(&sh->stop, __ATOMIC_ACQUIRE);
}

static int shared_access_fd(struct shared *sh)
{
	return __atomic_load_n(&sh->access_fd, __ATOMIC_ACQUIRE);
}

static __u64 shared_iova(unsigned int page)
{
	return MOCK_APERTURE_START + page * page_size;
}

/*
 * Count the result of an operation; @ok_errs lists the errnos the race
 * explains, 0-terminated. Any other error ends the run. Returns true if
 * the operation worked.
 */
static bool shared_check(struct shared_thread *t, enum shared_op op, int rc,
			 const int *ok_errs)
{
	struct shared *sh = t->sh;
	int err = errno;

	if (!rc) {
		t->ok[op]++;
		return true;
	}
	for (; *ok_errs; ok_errs++) {
		if (err == *ok_errs) {
			t->raced[op]++;
			return false;
		}
	}
	/* An access closed under us is no error in the 'destroy' variant. */
	if (sh->destroy && err == EBADF) {
		t->raced[op]++;
		return false;
	}
	pthread_mutex_lock(&sh->lock);
	if (!sh->bad++) {
		sh->bad_op = op;
		sh->bad_errno = err;
	}
	pthread_mutex_unlock(&sh->lock);
	__atomic_store_n(&sh->stop, true, __ATOMIC_RELEASE);
	return false;
}

static const int shared_no_errs[] = { 0 };
/* Detached, being moved, or the area is being unmapped or is not there. */
static const int shared_use_errs[] = { ENOENT, EINVAL, 0 };
/* The unmap op dropped the pin already. */
static const int shared_unpin_errs[] = { ENOENT, 0 };
/* The access is between two IOASes and still holds pins in the old one. */
static const int shared_unmap_errs[] = { EBUSY, 0 };
/* ... or, in the 'unmap' variant, another unmap was there first. */
static const int shared_unmapper_errs[] = { EBUSY, ENOENT, 0 };

/* Move the access to the other IOAS, and back, as fast as it goes. */
static void *shared_replace_run(void *arg)
{
	struct shared_thread *t = arg;
	struct shared *sh = t->sh;
	unsigned int next = 1;

	while (!shared_stopped(sh)) {
		int access_fd = shared_access_fd(sh);

		if (access_fd < 0) {
			sched_yield();
			continue;
		}
		/*
		 * Replacing the IOAS an access is on changes nothing; an
		 * access just made may be on either, so that is no error.
		 */
		shared_check(t, SHARED_REPLACE,
			     _test_cmd_access_replace_ioas(sh->fd, access_fd,
							   sh->ioas[next]),
			     shared_no_errs);
		next = (next + 1) % SHARED_IOAS;
	}
	return NULL;
}

/* Pin one to SHARED_AREA_PAGES + 1 pages, maybe across two areas, unpin. */
static void *shared_pin_run(void *arg)
{
	struct shared_thread *t = arg;
	struct shared *sh = t->sh;

	while (!shared_stopped(sh)) {
		unsigned int pages = 1 + shared_rand(t, SHARED_AREA_PAGES + 1);
		unsigned int first = shared_rand(t, SHARED_BUF_PAGES - pages + 1);
		int access_fd = shared_access_fd(sh);
		__u32 flags = 0, pages_id = 0;

		if (access_fd < 0) {
			sched_yield();
			continue;
		}
		if (shared_rand(t, 2))
			flags = MOCK_FLAGS_ACCESS_WRITE;
		if (!shared_check(t, SHARED_PIN,
				  _test_cmd_access_pages(sh->fd, access_fd,
							 shared_iova(first),
							 pages * page_size,
							 NULL, flags,
							 &pages_id),
				  shared_use_errs))
			continue;
		/* Hold it a little, now and then, for the others to meet. */
		if (!shared_rand(t, 4))
			sched_yield();
		shared_check(t, SHARED_UNPIN,
			     _test_cmd_destroy_access_pages(sh->fd, access_fd,
							    pages_id),
			     shared_unpin_errs);
	}
	return NULL;
}

/* Copy at most a page from or to anywhere in the mapped range. */
static void *shared_rw_run(void *arg)
{
	struct shared_thread *t = arg;
	struct shared *sh = t->sh;
	const size_t total = SHARED_BUF_PAGES * page_size;

	while (!shared_stopped(sh)) {
		size_t length = 1 + shared_rand(t, page_size);
		size_t offset = shared_rand(t, total - length + 1);
		int access_fd = shared_access_fd(sh);
		__u32 flags = 0;

		if (access_fd < 0) {
			sched_yield();
			continue;
		}
		if (shared_rand(t, 2))
			flags |= MOCK_ACCESS_RW_WRITE;
		if (shared_rand(t, 2))
			flags |= MOCK_ACCESS_RW_SLOW_PATH;
		shared_check(t, SHARED_RW,
			     _test_cmd_access_rw(sh->fd, access_fd,
						 shared_iova(0) + offset,
						 length, t->rw_buf, flags),
			     shared_use_errs);
	}
	return NULL;
}

/*
 * Unmap an area of either IOAS and map it again at once. An area whose
 * unmap was refused stays mapped; the next try goes to it again.
 */
static void *shared_map_run(void *arg)
{
	struct shared_thread *t = arg;
	struct shared *sh = t->sh;

	while (!shared_stopped(sh)) {
		unsigned int i = shared_rand(t, SHARED_IOAS);
		unsigned int area = shared_rand(t, SHARED_AREAS);
		unsigned int first = area * SHARED_AREA_PAGES;
		size_t length = SHARED_AREA_PAGES * page_size;
		__u64 iova = shared_iova(first);
		int rc;

		rc = _test_ioctl_ioas_unmap(sh->fd, sh->ioas[i], iova, length,
					    NULL);
		/*
		 * In the 'unmap' variant the other thread may have unmapped
		 * the area first: it is unmapped all the same.
		 */
		if (rc && errno == ENOENT && sh->unmapper)
			t->raced[SHARED_UNMAP]++;
		else if (!shared_check(t, SHARED_UNMAP, rc, shared_unmap_errs))
			continue;
		sh->mapped[i][area] = false;
		/* Nothing else maps: this must work. */
		if (shared_check(t, SHARED_MAP,
				 _test_ioctl_ioas_map(sh->fd, sh->ioas[i],
						      sh->buf +
							      first * page_size,
						      length, &iova,
						      STRESS_FIXED_RW),
				 shared_no_errs))
			sh->mapped[i][area] = true;
	}
	return NULL;
}

/*
 * The 'unmap' variant: unmap one area, or two next to each other, of
 * either IOAS, while shared_map_run() unmaps and maps them again.
 */
static void *shared_unmap_run(void *arg)
{
	struct shared_thread *t = arg;
	struct shared *sh = t->sh;

	while (!shared_stopped(sh)) {
		unsigned int i = shared_rand(t, SHARED_IOAS);
		unsigned int area = shared_rand(t, SHARED_AREAS);
		unsigned int n = area + 1 < SHARED_AREAS ?
					 1 + shared_rand(t, 2) : 1;

		shared_check(t, SHARED_UNMAP,
			     _test_ioctl_ioas_unmap(sh->fd, sh->ioas[i],
						    shared_iova(area *
								SHARED_AREA_PAGES),
						    n * SHARED_AREA_PAGES *
							    page_size,
						    NULL),
			     shared_unmapper_errs);
	}
	return NULL;
}

/* The 'destroy' variant: close the access and make another, on and on. */
static void *shared_close_run(void *arg)
{
	struct shared_thread *t = arg;
	struct shared *sh = t->sh;

	while (!shared_stopped(sh)) {
		unsigned int spins = shared_rand(t, 64);
		__u32 ioas_id = sh->ioas[shared_rand(t, SHARED_IOAS)];
		int access_fd;

		while (spins-- && !shared_stopped(sh))
			sched_yield();
		access_fd = __atomic_exchange_n(&sh->access_fd, -1,
						__ATOMIC_ACQ_REL);
		/* Closing drops every pin and cannot fail. */
		shared_check(t, SHARED_CLOSE, close(access_fd), shared_no_errs);
		/*
		 * The others may still name the old number; only an access
		 * can take it again, as nothing else opens files meanwhile.
		 */
		if (!shared_check(t, SHARED_CREATE,
				  _test_cmd_create_access(sh->fd, ioas_id,
							  STRESS_ACCESS_PINS,
							  &access_fd),
				  shared_no_errs))
			break;
		__atomic_store_n(&sh->access_fd, access_fd, __ATOMIC_RELEASE);
	}
	return NULL;
}

FIXTURE(shared_access)
{
	struct shared sh;
	long vm_pin;
};

FIXTURE_VARIANT(shared_access)
{
	bool destroy;
	bool unmapper;
};

FIXTURE_VARIANT_ADD(shared_access, replace)
{
	.destroy = false,
};

FIXTURE_VARIANT_ADD(shared_access, destroy)
{
	.destroy = true,
};

FIXTURE_VARIANT_ADD(shared_access, unmap)
{
	.unmapper = true,
};

FIXTURE_SETUP(shared_access)
{
	const size_t length = SHARED_AREA_PAGES * page_size;
	struct shared *sh = &self->sh;
	unsigned int i, area, seed = time(NULL);

	sh->fd = -1;
	sh->access_fd = -1;
	sh->destroy = variant->destroy;
	sh->unmapper = variant->unmapper;
	pthread_mutex_init(&sh->lock, NULL);
	for (i = 0; i != SHARED_THREADS; i++) {
		struct shared_thread *t = &sh->threads[i];

		t->sh = sh;
		t->rnd = (seed + i * 0x9e3779b9U) | 1;
		t->rw_buf = test_alloc_small_pages(1);
		ASSERT_NE(NULL, t->rw_buf);
	}
	TH_LOG("random seed %u", seed);

	sh->buf = test_alloc_small_pages(SHARED_BUF_PAGES);
	ASSERT_NE(NULL, sh->buf);
	self->vm_pin = test_vm_pin_kb();
	ASSERT_LE(0, self->vm_pin);

	sh->fd = open("/dev/iommu", O_RDWR);
	ASSERT_LE(0, sh->fd);
	for (i = 0; i != SHARED_IOAS; i++) {
		ASSERT_EQ(0, _test_ioctl_ioas_alloc(sh->fd, &sh->ioas[i]));
		for (area = 0; area != SHARED_AREAS; area++) {
			__u64 iova = shared_iova(area * SHARED_AREA_PAGES);
			char *p = sh->buf + area * length;

			ASSERT_EQ(0, _test_ioctl_ioas_map(sh->fd, sh->ioas[i],
							  p, length, &iova,
							  STRESS_FIXED_RW));
			sh->mapped[i][area] = true;
		}
	}
	ASSERT_EQ(0, _test_cmd_create_access(sh->fd, sh->ioas[0],
					     STRESS_ACCESS_PINS,
					     &sh->access_fd));
}

static void shared_join(struct shared *sh)
{
	unsigned int i;

	__atomic_store_n(&sh->stop, true, __ATOMIC_RELEASE);
	for (i = 0; i != SHARED_THREADS; i++) {
		if (!sh->threads[i].running)
			continue;
		pthread_join(sh->threads[i].thread, NULL);
		sh->threads[i].running = false;
	}
}

/* EXPECT only: after a failed ASSERT the threads may still run. */
FIXTURE_TEARDOWN(shared_access)
{
	struct shared *sh = &self->sh;

	shared_join(sh);
	if (sh->access_fd >= 0)
		close(sh->access_fd);
	if (sh->fd >= 0)
		close(sh->fd);
	pthread_mutex_destroy(&sh->lock);
}

static void *(*const shared_runs[SHARED_THREADS])(void *) = {
	[SHARED_T_REPLACE] = shared_replace_run,
	[SHARED_T_RW] = shared_rw_run,
	[SHARED_T_MAP] = shared_map_run,
	[SHARED_T_CLOSE] = shared_close_run,
	[SHARED_T_UNMAP] = shared_unmap_run,
	[SHARED_T_PIN ... SHARED_THREADS - 1] = shared_pin_run,
};

TEST_F_TIMEOUT(shared_access, race, SHARED_TIMEOUT)
{
	const char *env = getenv("IOMMUFD_SHARED_SECONDS");
	unsigned int seconds = SHARED_SECONDS;
	struct shared *sh = &self->sh;
	unsigned int ok[SHARED_NUM_OPS];
	unsigned int op, i, area;
	struct timespec end, now;
	__u64 mapped, unmapped;
	int rc;

	if (env && strtoul(env, NULL, 10) &&
	    strtoul(env, NULL, 10) <= STRESS_MAX_SECONDS)
		seconds = strtoul(env, NULL, 10);

	for (i = 0; i != SHARED_THREADS; i++) {
		if (i == SHARED_T_CLOSE && !variant->destroy)
			continue;
		if (i == SHARED_T_UNMAP && !variant->unmapper)
			continue;
		ASSERT_EQ(0, pthread_create(&sh->threads[i].thread, NULL,
					    shared_runs[i], &sh->threads[i]));
		sh->threads[i].running = true;
	}

	ASSERT_EQ(0, clock_gettime(CLOCK_MONOTONIC, &end));
	end.tv_sec += seconds;
	do {
		usleep(100 * 1000);
		ASSERT_EQ(0, clock_gettime(CLOCK_MONOTONIC, &now));
	} while (!shared_stopped(sh) &&
		 (now.tv_sec < end.tv_sec ||
		  (now.tv_sec == end.tv_sec && now.tv_nsec < end.tv_nsec)));
	shared_join(sh);

	for (op = 0; op != SHARED_NUM_OPS; op++) {
		unsigned int raced = 0;

		ok[op] = 0;
		for (i = 0; i != SHARED_THREADS; i++) {
			ok[op] += sh->threads[i].ok[op];
			raced += sh->threads[i].raced[op];
		}
		TH_LOG("%-16s %7u worked %7u lost a race",
		       shared_op_names[op], ok[op], raced);
	}
	if (sh->bad)
		TH_LOG("%u unexpected errors, the first: %s failed with %s",
		       sh->bad, shared_op_names[sh->bad_op],
		       strerror(sh->bad_errno));
	EXPECT_EQ(0, sh->bad);

	/*
	 * Nothing races now. The access is still there, maybe with pins:
	 * unmapping asks it to drop them, so everything goes at once.
	 */
	for (i = 0; i != SHARED_IOAS; i++) {
		mapped = 0;
		for (area = 0; area != SHARED_AREAS; area++)
			if (sh->mapped[i][area])
				mapped += SHARED_AREA_PAGES * page_size;
		unmapped = 0;
		rc = _test_ioctl_ioas_unmap(sh->fd, sh->ioas[i], 0, UINT64_MAX,
					    &unmapped);
		if (rc)
			TH_LOG("IOAS %u does not unmap: %s", sh->ioas[i],
			       strerror(errno));
		EXPECT_EQ(0, rc);
		/* Only the map thread knows what it mapped, if alone. */
		if (!variant->unmapper)
			EXPECT_EQ(mapped, unmapped);
	}
	EXPECT_EQ(0, _test_cmd_check_refs(sh->fd, sh->buf,
					  SHARED_BUF_PAGES * page_size, 0));
	EXPECT_EQ(self->vm_pin, test_vm_pin_kb());

	/* The access and both IOASes go. */
	if (sh->access_fd >= 0)
		EXPECT_EQ(0, close(sh->access_fd));
	sh->access_fd = -1;
	for (i = 0; i != SHARED_IOAS; i++)
		EXPECT_EQ(0, _test_ioctl_destroy(sh->fd, sh->ioas[i]));
	EXPECT_EQ(self->vm_pin, test_vm_pin_kb());

	/* The race did happen. */
	EXPECT_LT(0, ok[SHARED_REPLACE]);
	EXPECT_LT(0, ok[SHARED_PIN]);
	EXPECT_LT(0, ok[SHARED_UNMAP]);
	EXPECT_LT(0, ok[SHARED_RW]);
	if (variant->destroy)
		EXPECT_LT(0, ok[SHARED_CLOSE]);
}

/*
 * Two pins racing for the same pages that nobody pinned yet: both count
 * what is pinned, pin the rest without a lock, and install it; one page
 * pinned twice must end as one pin, and the loser's pages unpinned and
 * uncharged (check_refs counts the FOLL_PIN references of each page).
 * One GUP call per page makes the window wide. Unpins race too.
 */
#define RACE_PAGES 64
#define RACE_ROUNDS 100

struct pin_racer {
	pthread_barrier_t *barrier;
	int fd;
	int access_fd;
	__u64 iova;
	__u64 length;
	void *uptr;
	__u32 pin_id;
	int pin_rc;
	int unpin_rc;
};

static void *pin_racer_run(void *arg)
{
	struct pin_racer *r = arg;

	pthread_barrier_wait(r->barrier);
	r->pin_rc = _test_cmd_access_pages(r->fd, r->access_fd, r->iova,
					   r->length, r->uptr, 0, &r->pin_id);
	pthread_barrier_wait(r->barrier);
	pthread_barrier_wait(r->barrier);
	r->unpin_rc = r->pin_rc ? 0 :
		      _test_cmd_destroy_access_pages(r->fd, r->access_fd,
						     r->pin_id);
	return NULL;
}

static int race_pin_batch(int fd, unsigned int pages)
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

/*
 * A third access may read 16 bytes across the middle of the memory while
 * the pins race: through the pinned pages when they are, without holding
 * the lock the pins take. It stops for the checks, as a read counts a pin
 * on its two pages for its time.
 */
struct span_reader {
	pthread_t thread;
	int fd;
	int access_fd;
	__u64 iova;
	const char *expect;
	/* Set to end the reads; __atomic_* access. */
	bool stop;
	unsigned int reads;
	unsigned int bad;
};

static void *span_reader_run(void *arg)
{
	struct span_reader *r = arg;
	char got[16];

	while (!__atomic_load_n(&r->stop, __ATOMIC_ACQUIRE)) {
		if (_test_cmd_access_rw(r->fd, r->access_fd, r->iova,
					sizeof(got), got, 0) ||
		    memcmp(got, r->expect, sizeof(got)))
			r->bad++;
		r->reads++;
	}
	return NULL;
}

static int span_reader_start(struct span_reader *r)
{
	__atomic_store_n(&r->stop, false, __ATOMIC_RELEASE);
	return pthread_create(&r->thread, NULL, span_reader_run, r);
}

static int span_reader_stop(struct span_reader *r)
{
	__atomic_store_n(&r->stop, true, __ATOMIC_RELEASE);
	return pthread_join(r->thread, NULL);
}

/*
 * Race two access pins, of @len[i] bytes from @off[i] each, over @length
 * bytes of @buf mapped whole into a new IOAS, RACE_ROUNDS times, with GUP
 * calls of @batch pages; with @read, a span_reader reads meanwhile. After
 * the pins, every page is pinned once; after the unpins, none.
 */
static void race_pins(struct __test_metadata *_metadata, char *buf,
		      size_t length, const size_t off[2], const size_t len[2],
		      unsigned int batch, bool read)
{
	__u32 needs_pin = MOCK_FLAGS_ACCESS_CREATE_NEEDS_PIN_PAGES;
	struct span_reader reader = {};
	struct pin_racer racer[2] = {};
	pthread_barrier_t barrier;
	pthread_t thread[2];
	__u64 iova = 0;
	__u32 ioas_id;
	long pin_kb;
	int fd, round, i;

	fd = open("/dev/iommu", O_RDWR);
	ASSERT_LE(0, fd);
	pin_kb = test_vm_pin_kb();
	ASSERT_EQ(0, _test_ioctl_ioas_alloc(fd, &ioas_id));
	ASSERT_EQ(0, _test_ioctl_ioas_map(fd, ioas_id, buf, length, &iova,
					  IOMMU_IOAS_MAP_WRITEABLE |
						  IOMMU_IOAS_MAP_READABLE));
	ASSERT_EQ(0, pthread_barrier_init(&barrier, NULL, 3));
	for (i = 0; i != 2; i++) {
		racer[i].barrier = &barrier;
		racer[i].fd = fd;
		ASSERT_EQ(0, _test_cmd_create_access(fd, ioas_id, needs_pin,
						     &racer[i].access_fd));
		racer[i].iova = iova + off[i];
		racer[i].length = len[i];
		racer[i].uptr = buf + off[i];
	}
	reader.fd = fd;
	reader.iova = iova + length / 2 - 8;
	reader.expect = buf + length / 2 - 8;
	reader.access_fd = -1;
	if (read)
		ASSERT_EQ(0, _test_cmd_create_access(fd, ioas_id, 0,
						     &reader.access_fd));
	ASSERT_EQ(0, race_pin_batch(fd, batch));

	for (round = 0; round != RACE_ROUNDS; round++) {
		if (read)
			ASSERT_EQ(0, span_reader_start(&reader));
		for (i = 0; i != 2; i++)
			ASSERT_EQ(0, pthread_create(&thread[i], NULL,
						    pin_racer_run, &racer[i]));
		pthread_barrier_wait(&barrier);
		pthread_barrier_wait(&barrier);
		if (read)
			ASSERT_EQ(0, span_reader_stop(&reader));
		/* Both pinned: every page once, none twice. */
		EXPECT_EQ(0, racer[0].pin_rc);
		EXPECT_EQ(0, racer[1].pin_rc);
		EXPECT_EQ(0, _test_cmd_check_refs(fd, buf, length, 1));
		EXPECT_EQ(pin_kb + (long)(length / 1024), test_vm_pin_kb());
		if (read)
			ASSERT_EQ(0, span_reader_start(&reader));
		pthread_barrier_wait(&barrier);
		for (i = 0; i != 2; i++) {
			ASSERT_EQ(0, pthread_join(thread[i], NULL));
			EXPECT_EQ(0, racer[i].unpin_rc);
		}
		if (read)
			ASSERT_EQ(0, span_reader_stop(&reader));
		EXPECT_EQ(0, _test_cmd_check_refs(fd, buf, length, 0));
		EXPECT_EQ(pin_kb, test_vm_pin_kb());
		if (!_metadata->passed)
			break;
	}
	if (read) {
		EXPECT_EQ(0, reader.bad);
		EXPECT_LT(0, reader.reads);
		EXPECT_EQ(0, close(reader.access_fd));
	}
	EXPECT_EQ(0, race_pin_batch(fd, 512));
	for (i = 0; i != 2; i++)
		EXPECT_EQ(0, close(racer[i].access_fd));
	pthread_barrier_destroy(&barrier);
	EXPECT_EQ(0, close(fd));
}

TEST(pins_race_to_one_pin_per_page)
{
	size_t length = RACE_PAGES * page_size;
	/* Overlapping by half: the middle is pinned by whoever wins. */
	const size_t off[2] = { 0, length / 4 };
	const size_t len[2] = { 3 * length / 4, 3 * length / 4 };
	char *buf;

	buf = test_alloc_small_pages(RACE_PAGES);
	ASSERT_NE(NULL, buf);
	/* One GUP call per page makes the window wide. */
	race_pins(_metadata, buf, length, off, len, 1, false);
}

/*
 * The same race over a 2 MiB hugetlb page, whose pins are kept as runs of
 * 1 MiB and spans of them: one pin covers it whole, the other all but 100
 * pages at each end, so that either may make the span and the other split
 * it or count it, while a third access reads across the middle.
 */
TEST(pins_race_over_huge_page)
{
	const size_t length = 2UL << 20;
	const size_t off[2] = { 0, 100 * page_size };
	const size_t len[2] = { length, length - 200 * page_size };
	char *buf;
	int i;

	buf = test_alloc_huge_pages(length, 0);
	if (!buf)
		SKIP(return, "no 2 MiB hugetlb page free");
	for (i = 0; i != 16; i++)
		buf[length / 2 - 8 + i] = 0x40 + i;
	/* Many GUP calls each: the pins overlap in time. */
	race_pins(_metadata, buf, length, off, len, 16, true);
	EXPECT_EQ(0, munmap(buf, length));
}

/*
 * First domains come and go while the layout changes. Two threads each
 * attach a new mock device to an IOAS that maps @buf, check that the
 * domain it got maps @buf, and remove the device again; a third maps and
 * unmaps a second buffer in the same IOAS meanwhile. An attach may bring
 * the IOAS's first domain, pinned before the locks and taken over under
 * them; find that the domain it saw has gone when it locks, and pin then;
 * or find the areas changed since it pinned. GUP takes a page a call, so
 * that the windows between pinning and locking are wide. The pins are
 * counted once nothing races: meanwhile a page may hold a second pin for
 * a moment, that of a pin which lost the race to install it (pages.c).
 * first_hwpts_race does the same with IOMMU_HWPT_ALLOC and IOMMU_DESTROY
 * of the HWPT, for a mock device attached to another, empty IOAS.
 */
struct domain_racer {
	int fd;
	__u32 ioas_id;
	/* IOMMU_HWPT_ALLOC for this device instead of attaching new ones */
	__u32 idev_id;
	char *buf;
	size_t length;
	__u64 iova;
	unsigned int attached;
	unsigned int bad;
	char what[96];
};

static void domain_racer_fail(struct domain_racer *r, const char *what,
			      unsigned int round)
{
	if (!r->bad++)
		snprintf(r->what, sizeof(r->what), "%s in round %u: %s", what,
			 round, strerror(errno));
}

static void *domain_racer_run(void *arg)
{
	struct domain_racer *r = arg;
	__u32 stdev_id, hwpt_id;
	unsigned int round;

	for (round = 0; round != RACE_ROUNDS; round++) {
		if (r->idev_id ?
			    _test_cmd_hwpt_alloc(r->fd, r->idev_id, r->ioas_id,
						 0, &hwpt_id) :
			    _test_cmd_mock_domain(r->fd, r->ioas_id,
						  &stdev_id, &hwpt_id, NULL)) {
			domain_racer_fail(r, r->idev_id ? "HWPT alloc" : "attach",
					  round);
			continue;
		}
		r->attached++;
		if (_test_cmd_check_map(r->fd, hwpt_id, r->iova, r->length,
					r->buf))
			domain_racer_fail(r, "domain map", round);
		if (_test_ioctl_destroy(r->fd, r->idev_id ? hwpt_id : stdev_id))
			domain_racer_fail(r, "destroy", round);
	}
	return NULL;
}

struct remapper {
	int fd;
	__u32 ioas_id;
	char *buf;
	size_t length;
	__u64 iova;
	bool stop;
	unsigned int rounds;
	unsigned int bad;
};

static void *remapper_run(void *arg)
{
	struct remapper *m = arg;
	__u64 iova;

	while (!__atomic_load_n(&m->stop, __ATOMIC_ACQUIRE)) {
		iova = m->iova;
		if (_test_ioctl_ioas_map(m->fd, m->ioas_id, m->buf, m->length,
					 &iova, IOMMU_IOAS_MAP_FIXED_IOVA |
							IOMMU_IOAS_MAP_READABLE |
							IOMMU_IOAS_MAP_WRITEABLE) ||
		    _test_ioctl_ioas_unmap(m->fd, m->ioas_id, m->iova,
					   m->length, NULL))
			m->bad++;
		m->rounds++;
	}
	return NULL;
}

static void race_first_domains(struct __test_metadata *_metadata,
			       bool hwpt_alloc)
{
	size_t length = RACE_PAGES * page_size;
	struct domain_racer racer[2] = {};
	struct remapper remap = {};
	pthread_t thread[2], remap_thread;
	/* Inside the mock's aperture, or no mock domain could attach. */
	__u64 iova = MOCK_APERTURE_START;
	__u32 ioas_id, empty_ioas_id;
	__u32 idev_id = 0, idev_stdev_id = 0;
	char *buf, *buf2;
	__u32 stdev_id;
	long pin_kb;
	int fd, i;

	buf = test_alloc_small_pages(RACE_PAGES);
	buf2 = test_alloc_small_pages(RACE_PAGES);
	ASSERT_NE(NULL, buf);
	ASSERT_NE(NULL, buf2);
	fd = open("/dev/iommu", O_RDWR);
	ASSERT_LE(0, fd);
	pin_kb = test_vm_pin_kb();
	ASSERT_EQ(0, _test_ioctl_ioas_alloc(fd, &ioas_id));
	ASSERT_EQ(0, _test_ioctl_ioas_map(fd, ioas_id, buf, length, &iova,
					  IOMMU_IOAS_MAP_FIXED_IOVA |
						  IOMMU_IOAS_MAP_WRITEABLE |
						  IOMMU_IOAS_MAP_READABLE));
	if (hwpt_alloc) {
		/* A device to make HWPTs for, its own domain elsewhere. */
		ASSERT_EQ(0, _test_ioctl_ioas_alloc(fd, &empty_ioas_id));
		ASSERT_EQ(0, _test_cmd_mock_domain(fd, empty_ioas_id,
						   &idev_stdev_id, NULL,
						   &idev_id));
	}
	ASSERT_EQ(0, race_pin_batch(fd, 1));

	remap.fd = fd;
	remap.ioas_id = ioas_id;
	remap.buf = buf2;
	remap.length = length;
	remap.iova = iova + (1UL << 28);
	ASSERT_EQ(0, pthread_create(&remap_thread, NULL, remapper_run, &remap));
	for (i = 0; i != 2; i++) {
		racer[i].fd = fd;
		racer[i].ioas_id = ioas_id;
		racer[i].buf = buf;
		racer[i].length = length;
		racer[i].iova = iova;
		racer[i].idev_id = idev_id;
		ASSERT_EQ(0, pthread_create(&thread[i], NULL, domain_racer_run,
					    &racer[i]));
	}
	for (i = 0; i != 2; i++) {
		ASSERT_EQ(0, pthread_join(thread[i], NULL));
		EXPECT_EQ(0, racer[i].bad)
			TH_LOG("racer %d: %u failures, first: %s", i,
			       racer[i].bad, racer[i].what);
		EXPECT_EQ(RACE_ROUNDS, racer[i].attached);
	}
	__atomic_store_n(&remap.stop, true, __ATOMIC_RELEASE);
	ASSERT_EQ(0, pthread_join(remap_thread, NULL));
	EXPECT_EQ(0, remap.bad);
	EXPECT_LT(0, remap.rounds);

	/* No domain left: nothing is pinned. */
	EXPECT_EQ(0, _test_cmd_check_refs(fd, buf, length, 0));
	EXPECT_EQ(0, _test_cmd_check_refs(fd, buf2, length, 0));
	EXPECT_EQ(pin_kb, test_vm_pin_kb());
	/* One more first domain, alone: each page of @buf pinned once. */
	ASSERT_EQ(0, _test_cmd_mock_domain(fd, ioas_id, &stdev_id, NULL, NULL));
	EXPECT_EQ(0, _test_cmd_check_refs(fd, buf, length, 1));
	EXPECT_EQ(pin_kb + (long)(length / 1024), test_vm_pin_kb());
	EXPECT_EQ(0, _test_ioctl_destroy(fd, stdev_id));
	EXPECT_EQ(0, _test_cmd_check_refs(fd, buf, length, 0));
	EXPECT_EQ(pin_kb, test_vm_pin_kb());
	EXPECT_EQ(0, _test_ioctl_ioas_unmap(fd, ioas_id, iova, length, NULL));
	if (hwpt_alloc)
		EXPECT_EQ(0, _test_ioctl_destroy(fd, idev_stdev_id));
	EXPECT_EQ(0, race_pin_batch(fd, 512));
	EXPECT_EQ(0, close(fd));
	EXPECT_EQ(0, munmap(buf, length));
	EXPECT_EQ(0, munmap(buf2, length));
}

TEST(first_domains_race)
{
	race_first_domains(_metadata, false);
}

TEST(first_hwpts_race)
{
	race_first_domains(_metadata, true);
}

TEST_HARNESS_MAIN
