// SPDX-License-Identifier: GPL-2.0-only
/*
 * iommufd_bench: what the IOAS ioctls of /dev/iommu cost.
 *
 * A benchmark, not a test: it measures and prints, and only fails (exit
 * status 1) when something it relies on fails in a way it did not expect.
 * Four sections:
 *
 *  latency       round trip of trivial ioctls: IOMMU_DESTROY of an ID that
 *                does not exist, IOMMU_IOAS_IOVA_RANGES with room for
 *                MAX_RANGES ranges; and, to read them against, the
 *                clock_gettime() itself and getppid(), a system call that
 *                does next to nothing
 *  map_unmap     IOMMU_IOAS_MAP (kernel-chosen IOVA) + IOMMU_IOAS_UNMAP of
 *                a whole buffer, backed by 4 KiB pages, THP or hugetlb, of
 *                sizes from 4 KiB to 1 GiB
 *  area_scaling  cost of one map and one unmap as the number of areas in
 *                one IOAS grows to AREA_MAX, with fixed and with
 *                kernel-chosen IOVAs, and while refilling holes; it tells
 *                an IOVA allocator or lookup that is linear in the number
 *                of areas from a logarithmic one
 *  container     VFIO_IOMMU_MAP_DMA + VFIO_IOMMU_UNMAP_DMA through VFIO's
 *                type1 container (/dev/vfio/vfio) and through iommufd's
 *                container API (/dev/iommu) on the same kernel, with an
 *                edu device on vfio-pci in a real VT-d domain, and the
 *                ratio of the two; only on a kernel whose /dev/vfio/vfio
 *                is type1 (see "Section 4" below)
 *  dirty         IOMMU_HWPT_GET_DIRTY_BITMAP over 1 GiB of IOVA of a mock
 *                HWPT that tracks dirty IOVA, 4 KiB a bit (a 32 KiB
 *                bitmap), with nothing, everything and one page in 512
 *                dirty; the mock plays the DMA writes between the reads
 *                (IOMMU_TEST_OP_DIRTY, not timed)
 *
 * "iommufd_bench compare mock" and "iommufd_bench compare vtd" run
 * Section 6 instead: the figures make bench compares between our kernel
 * and upstream's, one phase per boot (see there).
 *
 * It only uses the upstream iommufd uAPI (IOMMU_IOAS_ALLOC, IOMMU_IOAS_MAP,
 * IOMMU_IOAS_MAP_FILE, IOMMU_IOAS_UNMAP, IOMMU_IOAS_IOVA_RANGES,
 * IOMMU_DESTROY, IOMMU_VFIO_IOAS, IOMMU_HWPT_ALLOC, IOMMU_HWPT_INVALIDATE
 * and the dirty tracking ioctls), upstream's test
 * commands of the mock IOMMU, and the VFIO group and container uAPI, so
 * that it runs
 * unchanged on any kernel with upstream's iommufd and the figures of two
 * kernels can be compared line by line.
 *
 * Every figure is printed on one line:
 *
 *	bench: <section> <name> <value> <unit>
 *
 * where <name> starts with the domain variant the IOAS was measured with
 * (see struct domain_variant). "bench: header" lines describe the run and
 * "bench: note" lines say what was skipped and why. Every loop is bounded
 * by a count and by a time budget, and each variant's run by RUN_BUDGET_S.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>

#include <linux/iommufd.h>
#include <linux/vfio.h>

#include "../../../../drivers/iommu/iommufd/iommufd_test.h"
#include "vfio_edu.h"
#include "pin_floor/pin_floor.h"

#ifndef MAP_HUGE_SHIFT
#define MAP_HUGE_SHIFT		26
#endif
#ifndef MAP_HUGE_2MB
#define MAP_HUGE_2MB		(21 << MAP_HUGE_SHIFT)
#endif

#ifndef ARRAY_SIZE
#define ARRAY_SIZE(a)		(sizeof(a) / sizeof((a)[0]))
#endif

#define NSEC_PER_SEC		1000000000ULL
#define KIB			1024ULL
#define MIB			(1024 * KIB)
#define GIB			(1024 * MIB)
#define HUGE_2M			(2 * MIB)

/* Each domain variant's run; every section stops early once it is spent. */
#define RUN_BUDGET_S		170.0

/* latency: calls per measured operation, and their time budget */
#define LAT_WARMUP		100
#define LAT_MAX_CALLS		100000
#define LAT_BUDGET_S		2.0

/*
 * map_unmap: pairs per backing and size and their time budget; a size
 * that takes longer than MU_SIZE_LIMIT_S (allocation included) ends the
 * series of its backing.
 */
#define MU_MAX_PAIRS		10000
#define MU_BUDGET_S		1.0
#define MU_SIZE_LIMIT_S		10.0

/* area_scaling: most areas in one IOAS, and the budget of each phase */
#define AREA_MAX		100000
#define AREA_WARMUP		1000
#define AREA_MAP_BUDGET_S	15.0
#define AREA_UNMAP_BUDGET_S	10.0
#define AREA_MAX_WINDOWS	8

/* An object ID no context hands out (they are allocated from 1 up). */
#define NO_SUCH_ID		0xfffffff0U
#define MAX_RANGES		8

static int iommufd = -1;
static __u64 run_end;
static __u64 page_size;

static const char budget_spent[] = "run time budget spent";

/* Print "bench: error <message>" and exit with status 1. */
static void fail(const char *fmt, ...)
{
	va_list ap;

	printf("bench: error ");
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	putchar('\n');
	exit(1);
}

static void die(int err, const char *what)
{
	fail("%s: errno %d (%s)", what, err, strerror(err));
}

static __u64 now_ns(void)
{
	struct timespec ts;

	if (clock_gettime(CLOCK_MONOTONIC, &ts))
		die(errno, "clock_gettime");
	return (__u64)ts.tv_sec * NSEC_PER_SEC + ts.tv_nsec;
}

/* Now plus @seconds, but never past the end of the whole run. */
static __u64 deadline(double seconds)
{
	__u64 end = now_ns() + (__u64)(seconds * NSEC_PER_SEC);

	return end < run_end ? end : run_end;
}

static bool run_over(void)
{
	return now_ns() >= run_end;
}

static __u64 round_up_u64(__u64 value, __u64 align)
{
	return (value + align - 1) / align * align;
}

/* Print "bench: note <message>". */
static void notef(const char *fmt, ...)
{
	va_list ap;

	printf("bench: note ");
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	putchar('\n');
}

/* Print one figure; its name is formatted from @fmt as by printf(). */
static void figure(const char *section, double value, const char *unit,
		   const char *fmt, ...)
{
	char name[128];
	int prec = 3;
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(name, sizeof(name), fmt, ap);
	va_end(ap);
	if (value >= 1000)
		prec = 0;
	else if (value >= 10)
		prec = 1;
	printf("bench: %s %s %.*f %s\n", section, name, prec, value, unit);
}

/* A number from /proc/meminfo (in kB for sizes), or -1. */
static long read_meminfo(const char *key)
{
	size_t key_len = strlen(key);
	char line[128];
	long value = -1;
	FILE *f;

	f = fopen("/proc/meminfo", "r");
	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f)) {
		if (!strncmp(line, key, key_len) && line[key_len] == ':') {
			value = strtol(line + key_len + 1, NULL, 10);
			break;
		}
	}
	fclose(f);
	return value;
}

/* The AnonHugePages of the mapping holding @va, in kB, or -1. */
static long smaps_anon_huge_kb(const void *va)
{
	unsigned long start, end, addr = (uintptr_t)va;
	bool inside = false;
	char line[256];
	long kb = -1;
	FILE *f;

	f = fopen("/proc/self/smaps", "r");
	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f)) {
		if (sscanf(line, "%lx-%lx ", &start, &end) == 2) {
			inside = addr >= start && addr < end;
			continue;
		}
		if (inside && sscanf(line, "AnonHugePages: %ld", &kb) == 1)
			break;
	}
	fclose(f);
	return kb;
}

/* The selected THP mode ("always", "madvise", "never"), or "unknown". */
static void thp_mode(char *mode, size_t len)
{
	char line[128], *left, *right;
	FILE *f;

	snprintf(mode, len, "unknown");
	f = fopen("/sys/kernel/mm/transparent_hugepage/enabled", "r");
	if (!f)
		return;
	if (fgets(line, sizeof(line), f)) {
		left = strchr(line, '[');
		right = left ? strchr(left, ']') : NULL;
		if (right) {
			*right = '\0';
			snprintf(mode, len, "%s", left + 1);
		}
	}
	fclose(f);
}

/* "4KiB", "2MiB", "1GiB", ... */
static void size_name(__u64 size, char *name, size_t len)
{
	const char *unit = "KiB";
	__u64 scale = KIB;

	if (size >= GIB && !(size % GIB)) {
		unit = "GiB";
		scale = GIB;
	} else if (size >= MIB && !(size % MIB)) {
		unit = "MiB";
		scale = MIB;
	}
	snprintf(name, len, "%llu%s", (unsigned long long)(size / scale),
		 unit);
}

/* ioctl wrappers: they die on any failure the caller cannot expect */

static __u32 ioas_alloc(void)
{
	struct iommu_ioas_alloc cmd = {
		.size = sizeof(cmd),
	};

	if (ioctl(iommufd, IOMMU_IOAS_ALLOC, &cmd))
		die(errno, "IOMMU_IOAS_ALLOC");
	return cmd.out_ioas_id;
}

static void destroy(__u32 id)
{
	struct iommu_destroy cmd = {
		.size = sizeof(cmd),
		.id = id,
	};

	if (ioctl(iommufd, IOMMU_DESTROY, &cmd))
		die(errno, "IOMMU_DESTROY");
}

/*
 * Fill @ranges (room for MAX_RANGES) with the IOVA ranges of @ioas_id and
 * @align with its IOVA alignment; return how many of @ranges are valid.
 */
static __u32 ioas_ranges(__u32 ioas_id, struct iommu_iova_range *ranges,
			 __u64 *align)
{
	struct iommu_ioas_iova_ranges cmd = {
		.size = sizeof(cmd),
		.ioas_id = ioas_id,
		.num_iovas = MAX_RANGES,
		.allowed_iovas = (uintptr_t)ranges,
	};

	/* EMSGSIZE: more ranges than room, the first MAX_RANGES are valid */
	if (ioctl(iommufd, IOMMU_IOAS_IOVA_RANGES, &cmd) && errno != EMSGSIZE)
		die(errno, "IOMMU_IOAS_IOVA_RANGES");
	*align = cmd.out_iova_alignment ? cmd.out_iova_alignment : 1;
	return cmd.num_iovas < MAX_RANGES ? cmd.num_iovas : MAX_RANGES;
}

/*
 * Map @length bytes at @va readable and writeable, at *@iova when @fixed,
 * else where the kernel chooses, which is returned in *@iova. Returns 0 or
 * an errno for the caller to judge.
 */
static int ioas_map(__u32 ioas_id, void *va, __u64 length, __u64 *iova,
		    bool fixed)
{
	struct iommu_ioas_map cmd = {
		.size = sizeof(cmd),
		.flags = IOMMU_IOAS_MAP_READABLE | IOMMU_IOAS_MAP_WRITEABLE,
		.ioas_id = ioas_id,
		.user_va = (uintptr_t)va,
		.length = length,
	};

	if (fixed) {
		cmd.flags |= IOMMU_IOAS_MAP_FIXED_IOVA;
		cmd.iova = *iova;
	}
	if (ioctl(iommufd, IOMMU_IOAS_MAP, &cmd))
		return errno;
	*iova = cmd.iova;
	return 0;
}

static void ioas_unmap(__u32 ioas_id, __u64 iova, __u64 length)
{
	struct iommu_ioas_unmap cmd = {
		.size = sizeof(cmd),
		.ioas_id = ioas_id,
		.iova = iova,
		.length = length,
	};

	if (ioctl(iommufd, IOMMU_IOAS_UNMAP, &cmd))
		die(errno, "IOMMU_IOAS_UNMAP");
	if (cmd.length != length)
		fail("IOMMU_IOAS_UNMAP unmapped %llu of %llu bytes",
		     (unsigned long long)cmd.length,
		     (unsigned long long)length);
}

/*
 * Domain variants: what the IOAS of a measurement has attached. Every
 * section runs once per entry of variants[] and starts its figure names
 * with the entry's name, so that the figures of two variants (or of two
 * kernels) line up.
 *
 * Only "none" can be measured with the upstream uAPI alone. A mock-domain
 * variant goes into variants[] here: its attach() creates a mock device
 * on the new IOAS with IOMMU_TEST_CMD, so that IOMMU_IOAS_MAP pins the
 * memory and fills an IO page table, and returns the ID of the object to
 * destroy before the IOAS. Nothing else has to change.
 */
struct domain_variant {
	const char *name;
	const char *desc;
	/* Attach to @ioas_id; return the ID to destroy before the IOAS. */
	__u32 (*attach)(__u32 ioas_id);
};

/*
 * A mock device of CONFIG_IOMMUFD_TEST attached to the IOAS: MAP pins the
 * memory and fills the mock IO page table. The test command has the same
 * layout upstream, so this runs there too (where the mock may refuse to
 * work beside a real IOMMU; the variant is then skipped with a note).
 */
static __u32 attach_mock(__u32 ioas_id)
{
	struct iommu_test_cmd cmd = {
		.size = sizeof(cmd),
		.op = IOMMU_TEST_OP_MOCK_DOMAIN,
		.id = ioas_id,
	};

	if (ioctl(iommufd, IOMMU_TEST_CMD, &cmd))
		return 0;
	return cmd.mock_domain.out_stdev_id;
}

static const struct domain_variant variants[] = {
	{
		.name = "none",
		.desc = "plain IOAS, nothing attached, MAP pins nothing",
	},
	{
		.name = "mock",
		.desc = "mock device attached, MAP pins and fills its IO page table",
		.attach = attach_mock,
	},
	{ }
};

struct bench_ioas {
	__u32 ioas_id;
	__u32 attach_id;	/* 0 when nothing is attached */
};

static void bench_ioas_create(struct bench_ioas *b,
			      const struct domain_variant *dv)
{
	b->ioas_id = ioas_alloc();
	b->attach_id = dv->attach ? dv->attach(b->ioas_id) : 0;
}

static void bench_ioas_free(struct bench_ioas *b)
{
	if (b->attach_id)
		destroy(b->attach_id);
	destroy(b->ioas_id);
	b->ioas_id = 0;
	b->attach_id = 0;
}

/* Section 1: latency */

enum lat_op {
	LAT_CLOCK,
	LAT_DESTROY,
	LAT_RANGES,
	LAT_GETPPID,
	NR_LAT_OPS,
};

static const char * const lat_names[NR_LAT_OPS] = {
	[LAT_CLOCK] = "clock_gettime",
	[LAT_DESTROY] = "destroy_enoent",
	[LAT_RANGES] = "iova_ranges",
	[LAT_GETPPID] = "getppid",
};

/* Issue @op once and return how long it took, in ns. */
static __u64 lat_once(enum lat_op op, __u32 ioas_id)
{
	struct iommu_iova_range ranges[MAX_RANGES];
	struct iommu_ioas_iova_ranges rcmd = {
		.size = sizeof(rcmd),
		.ioas_id = ioas_id,
		.num_iovas = MAX_RANGES,
		.allowed_iovas = (uintptr_t)ranges,
	};
	struct iommu_destroy dcmd = {
		.size = sizeof(dcmd),
		.id = NO_SUCH_ID,
	};
	__u64 t0, t1;
	int rc;

	switch (op) {
	case LAT_DESTROY:
		t0 = now_ns();
		rc = ioctl(iommufd, IOMMU_DESTROY, &dcmd);
		t1 = now_ns();
		if (!rc)
			fail("IOMMU_DESTROY of unused ID %u worked",
			     NO_SUCH_ID);
		if (errno != ENOENT)
			die(errno, "IOMMU_DESTROY of an unused ID");
		break;
	case LAT_RANGES:
		t0 = now_ns();
		rc = ioctl(iommufd, IOMMU_IOAS_IOVA_RANGES, &rcmd);
		t1 = now_ns();
		if (rc && errno != EMSGSIZE)
			die(errno, "IOMMU_IOAS_IOVA_RANGES");
		break;
	case LAT_GETPPID:
		/* syscall(): no C library may answer it from a cache */
		t0 = now_ns();
		syscall(SYS_getppid);
		t1 = now_ns();
		break;
	default:
		t0 = now_ns();
		t1 = now_ns();
		break;
	}
	return t1 - t0;
}

static int cmp_u64(const void *a, const void *b)
{
	__u64 x = *(const __u64 *)a, y = *(const __u64 *)b;

	return x < y ? -1 : x > y;
}

static void bench_latency(const struct domain_variant *dv)
{
	struct bench_ioas b;
	__u64 *ns;
	int op;

	ns = calloc(LAT_MAX_CALLS, sizeof(*ns));
	if (!ns)
		die(ENOMEM, "calloc");
	bench_ioas_create(&b, dv);
	for (op = 0; op < NR_LAT_OPS; op++) {
		__u64 end, sum = 0, median;
		unsigned int i, n = 0;

		if (run_over()) {
			notef("latency %s.%s skipped: %s", dv->name,
			      lat_names[op], budget_spent);
			continue;
		}
		for (i = 0; i < LAT_WARMUP; i++)
			lat_once(op, b.ioas_id);
		end = deadline(LAT_BUDGET_S);
		while (n < LAT_MAX_CALLS) {
			ns[n] = lat_once(op, b.ioas_id);
			sum += ns[n];
			n++;
			if (!(n % 64) && now_ns() >= end)
				break;
		}
		qsort(ns, n, sizeof(*ns), cmp_u64);
		median = n % 2 ? ns[n / 2] : (ns[n / 2 - 1] + ns[n / 2]) / 2;
		figure("latency", median, "ns", "%s.%s.median",
		       dv->name, lat_names[op]);
		figure("latency", (double)sum / n, "ns", "%s.%s.mean",
		       dv->name, lat_names[op]);
		figure("latency", n, "calls", "%s.%s.calls",
		       dv->name, lat_names[op]);
	}
	bench_ioas_free(&b);
	free(ns);
}

/* Section 2: map_unmap */

enum backing {
	BACK_4K,
	BACK_THP,
	BACK_HUGETLB,
	NR_BACKINGS,
};

static const char * const backing_names[NR_BACKINGS] = {
	[BACK_4K] = "4k",
	[BACK_THP] = "thp",
	[BACK_HUGETLB] = "hugetlb",
};

/* Buffer sizes, 0-terminated. */
static const __u64 mu_sizes[] = {
	4 * KIB, 64 * KIB, 2 * MIB, 64 * MIB, GIB, 0
};

struct buf {
	void *mem;		/* what mmap() returned */
	size_t mem_len;
	char *va;		/* start, aligned for the backing */
	size_t len;		/* bytes at @va: the size, rounded up */
};

static void buf_free(struct buf *b)
{
	if (b->mem && munmap(b->mem, b->mem_len))
		die(errno, "munmap");
	b->mem = NULL;
}

/*
 * Allocate at least @size bytes backed as @bk and touch every page; THP
 * and hugetlb buffers are 2 MiB aligned and a whole number of 2 MiB pages,
 * and every buffer is aligned to at least @iova_align. On failure, say why
 * in @why and return false.
 */
static bool buf_alloc(struct buf *b, enum backing bk, __u64 size,
		      __u64 iova_align, char *why, size_t why_len)
{
	__u64 mmap_align = bk == BACK_HUGETLB ? HUGE_2M : page_size;
	__u64 align = bk == BACK_4K ? page_size : HUGE_2M;
	int flags = MAP_PRIVATE | MAP_ANONYMOUS;
	long avail;
	size_t i;

	memset(b, 0, sizeof(*b));
	if (iova_align > align)
		align = iova_align;
	b->len = round_up_u64(size, align);
	/* room to align the start */
	b->mem_len = b->len + align - mmap_align;
	if (bk == BACK_HUGETLB) {
		flags |= MAP_HUGETLB | MAP_HUGE_2MB;
	} else {
		/* Leave room for the system: touching all of it could OOM */
		avail = read_meminfo("MemAvailable");
		if (avail >= 0 && b->len / KIB > (__u64)avail / 4 * 3) {
			snprintf(why, why_len,
				 "needs %llu MiB, MemAvailable is only %ld MiB",
				 (unsigned long long)(b->len / MIB),
				 avail / 1024);
			return false;
		}
	}
	b->mem = mmap(NULL, b->mem_len, PROT_READ | PROT_WRITE, flags, -1, 0);
	if (b->mem == MAP_FAILED) {
		int err = errno;

		b->mem = NULL;
		snprintf(why, why_len,
			 "mmap of %llu MiB failed: %s (HugePages_Free %ld)",
			 (unsigned long long)(b->len / MIB), strerror(err),
			 read_meminfo("HugePages_Free"));
		return false;
	}
	b->va = (char *)(uintptr_t)round_up_u64((uintptr_t)b->mem, align);
	if (bk == BACK_THP && madvise(b->va, b->len, MADV_HUGEPAGE)) {
		snprintf(why, why_len, "madvise(MADV_HUGEPAGE) failed: %s",
			 strerror(errno));
		buf_free(b);
		return false;
	}
	/* Without THP support this fails, and the pages are small anyway */
	if (bk == BACK_4K)
		madvise(b->va, b->len, MADV_NOHUGEPAGE);
	for (i = 0; i < b->len; i += page_size)
		b->va[i] = 1;
	return true;
}

/* Time map + unmap pairs of the first @size bytes of @b and print them. */
static void mu_measure(const char *prefix, __u32 ioas_id, struct buf *b,
		       __u64 size)
{
	__u64 end = deadline(MU_BUDGET_S);
	__u64 map_ns = 0, unmap_ns = 0;
	unsigned int pairs = 0;
	double seconds;

	while (pairs < MU_MAX_PAIRS) {
		__u64 t0, t1, t2;
		__u64 iova = 0;
		int rc;

		t0 = now_ns();
		rc = ioas_map(ioas_id, b->va, size, &iova, false);
		t1 = now_ns();
		if (rc)
			die(rc, "IOMMU_IOAS_MAP");
		ioas_unmap(ioas_id, iova, size);
		t2 = now_ns();
		map_ns += t1 - t0;
		unmap_ns += t2 - t1;
		pairs++;
		if (t2 >= end)
			break;
	}
	/* at least 1 ns, not to divide by 0 */
	seconds = (double)(map_ns + unmap_ns + 1) / NSEC_PER_SEC;
	figure("map_unmap", (double)(map_ns + unmap_ns) / 1000 / pairs, "us",
	       "%s.pair", prefix);
	figure("map_unmap", (double)map_ns / 1000 / pairs, "us",
	       "%s.map", prefix);
	figure("map_unmap", (double)unmap_ns / 1000 / pairs, "us",
	       "%s.unmap", prefix);
	figure("map_unmap", (double)size * pairs / GIB / seconds, "GiB/s",
	       "%s.rate", prefix);
	figure("map_unmap", (double)size / 4096 * pairs / seconds,
	       "4KiB_pages/s", "%s.pages", prefix);
	figure("map_unmap", pairs, "pairs", "%s.pairs", prefix);
}

/*
 * Measure one backing and size, allocation included; return how long it
 * all took in seconds, or 0 when it was skipped (with a note).
 */
static double mu_size(const char *prefix, __u32 ioas_id, __u64 align,
		      enum backing bk, __u64 size)
{
	__u64 t0 = now_ns();
	char why[160];
	struct buf buf;
	long kb;

	if (size % align) {
		notef("map_unmap %s skipped: IOVA alignment is %llu", prefix,
		      (unsigned long long)align);
		return 0;
	}
	if (!buf_alloc(&buf, bk, size, align, why, sizeof(why))) {
		notef("map_unmap %s skipped: %s", prefix, why);
		return 0;
	}
	if (bk == BACK_THP) {
		/* how much of the buffer THP made huge */
		kb = smaps_anon_huge_kb(buf.va);
		if (kb >= 0)
			figure("map_unmap", 100.0 * kb * KIB / buf.len, "%",
			       "%s.huge", prefix);
	}
	mu_measure(prefix, ioas_id, &buf, size);
	buf_free(&buf);
	return (double)(now_ns() - t0) / NSEC_PER_SEC;
}

static void bench_map_unmap(const struct domain_variant *dv)
{
	struct iommu_iova_range ranges[MAX_RANGES];
	char prefix[64], size_str[32];
	struct bench_ioas b;
	double seconds;
	__u64 align;
	int bk, si;

	bench_ioas_create(&b, dv);
	ioas_ranges(b.ioas_id, ranges, &align);
	for (bk = 0; bk < NR_BACKINGS; bk++) {
		/* why the rest of this backing's sizes are skipped */
		char stop[96] = "";

		for (si = 0; mu_sizes[si]; si++) {
			size_name(mu_sizes[si], size_str, sizeof(size_str));
			snprintf(prefix, sizeof(prefix), "%s.%s.%s", dv->name,
				 backing_names[bk], size_str);
			if (!stop[0] && run_over())
				snprintf(stop, sizeof(stop), "%s",
					 budget_spent);
			if (stop[0]) {
				notef("map_unmap %s skipped: %s", prefix, stop);
				continue;
			}
			seconds = mu_size(prefix, b.ioas_id, align, bk,
					  mu_sizes[si]);
			if (seconds > MU_SIZE_LIMIT_S)
				snprintf(stop, sizeof(stop),
					 "%s took %.1f s, limit %.0f s",
					 size_str, seconds, MU_SIZE_LIMIT_S);
		}
	}
	bench_ioas_free(&b);
}

/* Section 3: area_scaling */

/* Area counts that close a timing window, 0-terminated. */
static const unsigned int area_cps[] = {
	1000, 4000, 16000, 64000, AREA_MAX, 0
};

/* The first checkpoint above @count and below @total, else @total. */
static unsigned int next_cp(unsigned int count, unsigned int total)
{
	unsigned int i;

	for (i = 0; area_cps[i]; i++)
		if (area_cps[i] > count && area_cps[i] < total)
			return area_cps[i];
	return total;
}

/* The last checkpoint below @count, else 0. */
static unsigned int prev_cp(unsigned int count)
{
	unsigned int i, cp = 0;

	for (i = 0; area_cps[i]; i++)
		if (area_cps[i] < count)
			cp = area_cps[i];
	return cp;
}

/*
 * A timing window: @ops maps or unmaps that took @ns, between @at - @ops
 * and @at areas (or, for a refill, refill maps).
 */
struct window {
	unsigned int at;
	unsigned int ops;
	__u64 ns;
};

struct series {
	struct window w[AREA_MAX_WINDOWS];
	unsigned int n;
};

static void series_add(struct series *s, unsigned int at, unsigned int ops,
		       __u64 ns)
{
	if (s->n < AREA_MAX_WINDOWS && ops) {
		s->w[s->n].at = at;
		s->w[s->n].ops = ops;
		s->w[s->n].ns = ns;
		s->n++;
	}
}

static double window_us(const struct window *w)
{
	return (double)w->ns / 1000 / w->ops;
}

/*
 * Print the us per operation of every window, and the ratio of the cost
 * at the most areas to the cost at the fewest. With the checkpoints up to
 * AREA_MAX it stays near 1 when the cost does not depend on the number of
 * areas or grows with its logarithm (log2 of 82000 over log2 of 500 is
 * under 2), and is over 100 when it grows linearly (the windows average
 * 82000 and 500 areas).
 */
static void series_report(const char *dom, const char *what,
			  const struct series *s)
{
	const struct window *lo = NULL, *hi = NULL;
	unsigned int i;

	for (i = 0; i < s->n; i++) {
		const struct window *w = &s->w[i];

		figure("area_scaling", window_us(w), "us", "%s.%s.at_%u",
		       dom, what, w->at);
		if (!lo || w->at < lo->at)
			lo = w;
		if (!hi || w->at > hi->at)
			hi = w;
	}
	if (lo && lo != hi)
		figure("area_scaling", window_us(hi) / window_us(lo), "x",
		       "%s.%s.ratio_%u_%u", dom, what, hi->at, lo->at);
}

/* The areas of one IOAS; each maps the same buffer, @unit bytes long. */
struct areas {
	__u32 ioas_id;
	char *page;
	__u64 unit;
	bool fixed;
	__u64 base;		/* fixed: slot i is at @base + 2 * i * @unit */
	__u64 *iova;		/* IOVA of the area in each slot, 0 if none */
	unsigned int nr;	/* areas mapped */
};

/*
 * Map @count areas into slots @first, @first + @step, ..., timing windows
 * that close at the checkpoints (counted in maps done here) and at the
 * last map. Returns how many were mapped: fewer than @count when the time
 * budget ran out or the kernel ran out of room, and then *@why says which.
 */
static unsigned int areas_map(struct areas *a, unsigned int first,
			      unsigned int step, unsigned int count,
			      struct series *s, const char **why)
{
	__u64 end = deadline(AREA_MAP_BUDGET_S), t_prev, t;
	unsigned int done = 0, prev = 0, cp = next_cp(0, count);

	*why = NULL;
	s->n = 0;
	t_prev = now_ns();
	while (done < count) {
		unsigned int slot = first + done * step;
		__u64 iova = a->base + 2 * (__u64)slot * a->unit;
		int rc;

		rc = ioas_map(a->ioas_id, a->page, a->unit, &iova, a->fixed);
		if (rc == ENOMEM || rc == ENOSPC) {
			*why = rc == ENOMEM ? "ENOMEM" : "ENOSPC";
			break;
		}
		if (rc)
			die(rc, "IOMMU_IOAS_MAP");
		if (!iova)
			fail("IOMMU_IOAS_MAP chose IOVA 0");
		a->iova[slot] = iova;
		a->nr++;
		done++;
		if (done == cp) {
			t = now_ns();
			series_add(s, done, done - prev, t - t_prev);
			t_prev = t;
			prev = done;
			cp = next_cp(done, count);
			if (t >= end && done < count) {
				*why = "time budget spent";
				break;
			}
		} else if (!(done % 256) && now_ns() >= end) {
			*why = "time budget spent";
			break;
		}
	}
	/* the partial window of a series that stopped early */
	series_add(s, done, done - prev, now_ns() - t_prev);
	return done;
}

/*
 * Unmap the areas one by one, last slot first, timing windows that close
 * when the number of areas left falls to a checkpoint. A window is named
 * after the number of areas at its start, like the map window that covers
 * the same counts. Returns 0, or when the time budget ran out first the
 * name (at_N) of the first window not measured.
 */
static unsigned int areas_unmap_all(struct areas *a, unsigned int nslots,
				    struct series *s)
{
	__u64 end = deadline(AREA_UNMAP_BUDGET_S), t_prev, t;
	unsigned int top = a->nr, low = prev_cp(a->nr);
	unsigned int slot = nslots;

	s->n = 0;
	t_prev = now_ns();
	while (slot > 0 && a->nr) {
		slot--;
		if (!a->iova[slot])
			continue;
		ioas_unmap(a->ioas_id, a->iova[slot], a->unit);
		a->iova[slot] = 0;
		a->nr--;
		if (a->nr == low) {
			t = now_ns();
			series_add(s, top, top - low, t - t_prev);
			t_prev = t;
			top = low;
			low = prev_cp(low);
			if (t >= end && a->nr)
				return top;
		} else if (!(a->nr % 256) && now_ns() >= end) {
			return top;
		}
	}
	return 0;
}

/*
 * Unmap the areas in the odd slots below @nslots, first to last; return
 * how many, and their total time in *@ns. They are slots 1, 3, 5, ... so
 * a refill of the same number goes into the same slots.
 */
static unsigned int areas_punch(struct areas *a, unsigned int nslots,
				__u64 *ns)
{
	__u64 end = deadline(AREA_UNMAP_BUDGET_S), t0 = now_ns();
	unsigned int slot, done = 0;

	for (slot = 1; slot < nslots; slot += 2) {
		if (!a->iova[slot])
			break;
		ioas_unmap(a->ioas_id, a->iova[slot], a->unit);
		a->iova[slot] = 0;
		a->nr--;
		done++;
		if (!(done % 256) && now_ns() >= end)
			break;
	}
	*ns = now_ns() - t0;
	return done;
}

/* Say which windows a map series stopped short of, and why. */
static void note_map_stop(const char *dom, const char *what,
			  unsigned int done, unsigned int count,
			  const char *why)
{
	char list[128] = "";
	size_t len = 0;
	unsigned int i;

	for (i = 0; area_cps[i] && len < sizeof(list); i++)
		if (area_cps[i] > done && area_cps[i] < count)
			len += snprintf(list + len, sizeof(list) - len,
					" at_%u", area_cps[i]);
	if (len < sizeof(list))
		snprintf(list + len, sizeof(list) - len, " at_%u", count);
	notef("area_scaling %s.%s stopped at %u of %u (%s), skipped:%s",
	      dom, what, done, count, why, list);
}

/* Start an IOAS for area_scaling; false (with a note) if it cannot be. */
static bool areas_start(struct areas *a, struct bench_ioas *b,
			const struct domain_variant *dv, const char *what)
{
	struct iommu_iova_range ranges[MAX_RANGES];
	__u64 align, need, base;
	__u32 n, i;

	bench_ioas_create(b, dv);
	a->ioas_id = b->ioas_id;
	a->nr = 0;
	a->base = 0;
	memset(a->iova, 0, AREA_MAX * sizeof(*a->iova));
	n = ioas_ranges(b->ioas_id, ranges, &align);
	if (a->unit % align) {
		notef("area_scaling %s.%s skipped: IOVA alignment is %llu",
		      dv->name, what, (unsigned long long)align);
		return false;
	}
	if (!a->fixed)
		return true;
	/* Room for AREA_MAX areas with a one-unit hole after each one */
	need = 2ULL * AREA_MAX * a->unit;
	for (i = 0; i < n; i++) {
		/* not at IOVA 0, which marks an empty slot */
		base = round_up_u64(ranges[i].start ? ranges[i].start : 1,
				    a->unit);
		if (base < ranges[i].start || base > ranges[i].last)
			continue;	/* wrapped around, or too little */
		if (ranges[i].last - base >= need - 1) {
			a->base = base;
			return true;
		}
	}
	notef("area_scaling %s.%s skipped: no IOVA range holds %llu bytes",
	      dv->name, what, (unsigned long long)need);
	return false;
}

/*
 * Build AREA_MAX areas at fixed or kernel-chosen IOVAs, then unmap them
 * one by one; return how many areas were built.
 */
static unsigned int area_run(const struct domain_variant *dv,
			     struct areas *a, bool fixed)
{
	const char *what = fixed ? "fixed" : "kernel";
	unsigned int done = 0, skipped;
	struct bench_ioas b;
	struct series s;
	const char *why;
	char name[32];

	a->fixed = fixed;
	if (run_over()) {
		notef("area_scaling %s.%s skipped: %s", dv->name, what,
		      budget_spent);
		return 0;
	}
	if (!areas_start(a, &b, dv, what))
		goto out;

	/*
	 * Warm up (caches, allocators) so that the first window, which the
	 * ratio divides by, is not inflated by cold starts.
	 */
	done = areas_map(a, 0, 1, AREA_WARMUP, &s, &why);
	areas_unmap_all(a, done, &s);
	if (a->nr) {
		notef("area_scaling %s.%s skipped: warm-up took too long",
		      dv->name, what);
		done = 0;
		goto out;
	}

	snprintf(name, sizeof(name), "%s.map", what);
	done = areas_map(a, 0, 1, AREA_MAX, &s, &why);
	series_report(dv->name, name, &s);
	if (done < AREA_MAX)
		note_map_stop(dv->name, name, done, AREA_MAX, why);

	snprintf(name, sizeof(name), "%s.unmap", what);
	skipped = areas_unmap_all(a, done, &s);
	series_report(dv->name, name, &s);
	if (skipped)
		notef("area_scaling %s.%s stopped (%s), skipped: at_%u down",
		      dv->name, name, budget_spent, skipped);
out:
	/* frees whatever areas are left */
	bench_ioas_free(&b);
	return done;
}

/*
 * Kernel-chosen IOVAs with holes: build @count areas in a fresh IOAS
 * (untimed), unmap every other one, then time the maps that refill as
 * many holes, in windows counted in refill maps.
 */
static void area_holes(const struct domain_variant *dv, struct areas *a,
		       unsigned int count)
{
	const char *what = "kernel.refill";
	unsigned int built, punched, refilled;
	struct bench_ioas b;
	struct series s;
	const char *why;
	__u64 ns;

	a->fixed = false;
	if (run_over()) {
		notef("area_scaling %s.%s skipped: %s", dv->name, what,
		      budget_spent);
		return;
	}
	if (count < 2) {
		notef("area_scaling %s.%s skipped: too few areas were built",
		      dv->name, what);
		return;
	}
	if (!areas_start(a, &b, dv, what))
		goto out;
	built = areas_map(a, 0, 1, count, &s, &why);
	if (built < count)
		notef("area_scaling %s.%s built only %u of %u areas (%s)",
		      dv->name, what, built, count, why);
	punched = areas_punch(a, built, &ns);
	if (!punched) {
		notef("area_scaling %s.%s skipped: no holes punched",
		      dv->name, what);
		goto out;
	}
	figure("area_scaling", (double)ns / 1000 / punched, "us",
	       "%s.kernel.punch.unmap", dv->name);
	figure("area_scaling", punched, "holes", "%s.kernel.punch.holes",
	       dv->name);
	refilled = areas_map(a, 1, 2, punched, &s, &why);
	series_report(dv->name, "kernel.refill.map", &s);
	if (refilled < punched)
		note_map_stop(dv->name, "kernel.refill.map", refilled, punched,
			      why);
out:
	bench_ioas_free(&b);
}

static void bench_area_scaling(const struct domain_variant *dv)
{
	struct areas a = { };
	unsigned int built;
	size_t i;

	a.unit = page_size;
	a.iova = calloc(AREA_MAX, sizeof(*a.iova));
	if (!a.iova)
		die(ENOMEM, "calloc");
	a.page = mmap(NULL, a.unit, PROT_READ | PROT_WRITE,
		      MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (a.page == MAP_FAILED)
		die(errno, "mmap");
	for (i = 0; i < a.unit; i += page_size)
		a.page[i] = 1;

	area_run(dv, &a, true);
	built = area_run(dv, &a, false);
	area_holes(dv, &a, built);

	if (munmap(a.page, a.unit))
		die(errno, "munmap");
	free(a.iova);
}

/*
 * Section 4: container
 *
 * The VFIO container API (VFIO_IOMMU_MAP_DMA and VFIO_IOMMU_UNMAP_DMA)
 * served by VFIO's own type1 container, /dev/vfio/vfio on a kernel with
 * CONFIG_VFIO_CONTAINER, and by an iommufd context, /dev/iommu, on the
 * same kernel, with the same device: an edu alone in its IOMMU group,
 * given to vfio-pci. Each backend gets the group (SET_CONTAINER), TYPE1v2
 * and the device file (GET_DEVICE_FD), so that both map into a real
 * VT-d domain and pin the memory they map. Then, at CT_IOVA:
 *
 *  page_pair  one MAP_DMA + UNMAP_DMA of one 4 KiB page, over and over:
 *             median and mean of batches of CT_LAT_BATCH pairs (one
 *             clock_gettime() costs about 1 us under TCG: a batch makes
 *             it negligible), in ns per pair, and the median of each
 *             round
 *  buf64M_4k  one mapping of a 64 MiB buffer of 4 KiB pages: map and
 *             unmap in ms, and their rates
 *  buf64M_2M  the same with 2 MiB hugetlb pages, when there are enough
 *  pages4096  CT_PAGES mappings of one 4 KiB page each (as DPDK maps its
 *             memory), all mapped then all unmapped: us per mapping
 *
 * The backends take turns (type1, iommufd, type1, ...) for CT_ROUNDS
 * rounds, with new files each turn, so that both see the same VM; each
 * figure sums all rounds. "ratio.<workload>" is iommufd's time over
 * type1's (the median for page_pair, map + unmap for the others): above
 * 1, iommufd is slower. Any failure ends the section with "bench: error"
 * before it prints a figure (the run goes on and exits with status 1);
 * the device goes back to the driver it had.
 */

#define CT_ROUNDS		3
/* All mappings start here; the VM's VT-d has 39 bits of IOVA. */
#define CT_IOVA			0x1000000ULL
#define CT_BUF_SIZE		(64 * MIB)
#define CT_PAGES		4096
#define CT_LAT_BATCH		16
#define CT_LAT_WARMUP		256
#define CT_LAT_MAX_SAMPLES	100000
/* Budgets of one backend's turn at each workload, and of the section */
#define CT_LAT_BUDGET_S		1.0
#define CT_WORK_BUDGET_S	1.5
#define CT_MAX_REPEATS		50
#define CT_BUDGET_S		150.0

enum ct_backend {
	CT_TYPE1,
	CT_IOMMUFD,
	NR_CT_BACKENDS,
};

static const char * const ct_names[NR_CT_BACKENDS] = {
	[CT_TYPE1] = "type1",
	[CT_IOMMUFD] = "iommufd",
};

static const char * const ct_paths[NR_CT_BACKENDS] = {
	[CT_TYPE1] = "/dev/vfio/vfio",
	[CT_IOMMUFD] = "/dev/iommu",
};

enum ct_work {
	CT_PAGE_PAIR,
	CT_BUF_4K,
	CT_BUF_2M,
	CT_MANY,
	NR_CT_WORKS,
};

static const char * const ct_work_names[NR_CT_WORKS] = {
	[CT_PAGE_PAIR] = "page_pair",
	[CT_BUF_4K] = "buf64M_4k",
	[CT_BUF_2M] = "buf64M_2M",
	[CT_MANY] = "pages4096",
};

/* What one backend measured, all rounds together. */
struct ct_result {
	/* page_pair: ns per pair of each batch, and each turn's median */
	double *lat;
	unsigned int nlat;
	double turn_median[CT_ROUNDS];
	unsigned int turns;
	/* the others: total map and unmap time over @reps repeats */
	__u64 map_ns[NR_CT_WORKS];
	__u64 unmap_ns[NR_CT_WORKS];
	unsigned int reps[NR_CT_WORKS];
	/* VmLck growth while buf64M_4k is mapped, kB; -1 until read */
	long lck_mapped_kb;
};

/* The files of one backend's turn; -1 when not open. */
struct ct_files {
	int container;
	int group;
	int device;
};

/* Why the section stopped, for "bench: error". */
static char ct_err[256];

static bool ct_fail(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(ct_err, sizeof(ct_err), fmt, ap);
	va_end(ap);
	return false;
}

static bool ct_map(const struct ct_files *f, const char *be, void *va,
		   __u64 iova, __u64 size)
{
	struct vfio_iommu_type1_dma_map map = {
		.argsz = sizeof(map),
		.flags = VFIO_DMA_MAP_FLAG_READ | VFIO_DMA_MAP_FLAG_WRITE,
		.vaddr = (uintptr_t)va,
		.iova = iova,
		.size = size,
	};

	if (ioctl(f->container, VFIO_IOMMU_MAP_DMA, &map))
		return ct_fail("%s: VFIO_IOMMU_MAP_DMA of %llu bytes at IOVA 0x%llx: %s",
			       be, (unsigned long long)size,
			       (unsigned long long)iova, strerror(errno));
	return true;
}

static bool ct_unmap(const struct ct_files *f, const char *be, __u64 iova,
		     __u64 size)
{
	struct vfio_iommu_type1_dma_unmap unmap = {
		.argsz = sizeof(unmap),
		.iova = iova,
		.size = size,
	};

	if (ioctl(f->container, VFIO_IOMMU_UNMAP_DMA, &unmap))
		return ct_fail("%s: VFIO_IOMMU_UNMAP_DMA of %llu bytes at IOVA 0x%llx: %s",
			       be, (unsigned long long)size,
			       (unsigned long long)iova, strerror(errno));
	if (unmap.size != size)
		return ct_fail("%s: VFIO_IOMMU_UNMAP_DMA at 0x%llx unmapped %llu of %llu bytes",
			       be, (unsigned long long)iova,
			       (unsigned long long)unmap.size,
			       (unsigned long long)size);
	return true;
}

static void ct_close(struct ct_files *f)
{
	/* the device, then the group (it leaves the container), then it */
	if (f->device >= 0)
		close(f->device);
	if (f->group >= 0)
		close(f->group);
	if (f->container >= 0)
		close(f->container);
	f->device = -1;
	f->group = -1;
	f->container = -1;
}

/*
 * Open backend @b's container file and join @bdf's group @group_path to
 * it as a type1 program does, up to the device file.
 */
static bool ct_open(struct ct_files *f, enum ct_backend b,
		    const char *group_path, const char *bdf)
{
	struct vfio_group_status status = { .argsz = sizeof(status) };
	const char *be = ct_names[b];

	f->device = -1;
	f->group = -1;
	f->container = open(ct_paths[b], O_RDWR);
	if (f->container < 0)
		return ct_fail("%s: open %s: %s", be, ct_paths[b],
			       strerror(errno));
	f->group = open(group_path, O_RDWR);
	if (f->group < 0)
		return ct_fail("%s: open %s: %s", be, group_path,
			       strerror(errno));
	if (ioctl(f->group, VFIO_GROUP_GET_STATUS, &status))
		return ct_fail("%s: VFIO_GROUP_GET_STATUS: %s", be,
			       strerror(errno));
	if (!(status.flags & VFIO_GROUP_FLAGS_VIABLE))
		return ct_fail("%s: group %s is not viable", be, group_path);
	if (ioctl(f->group, VFIO_GROUP_SET_CONTAINER, &f->container))
		return ct_fail("%s: VFIO_GROUP_SET_CONTAINER: %s", be,
			       strerror(errno));
	if (ioctl(f->container, VFIO_SET_IOMMU, VFIO_TYPE1v2_IOMMU))
		return ct_fail("%s: VFIO_SET_IOMMU(TYPE1v2): %s", be,
			       strerror(errno));
	f->device = ioctl(f->group, VFIO_GROUP_GET_DEVICE_FD, bdf);
	if (f->device < 0)
		return ct_fail("%s: VFIO_GROUP_GET_DEVICE_FD %s: %s", be, bdf,
			       strerror(errno));
	return true;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static double ct_median(double *v, unsigned int n)
{
	qsort(v, n, sizeof(*v), cmp_double);
	return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

/* page_pair: batches of map + unmap of @page, for CT_LAT_BUDGET_S. */
static bool ct_page_pair(const struct ct_files *f, const char *be,
			 char *page, struct ct_result *r)
{
	unsigned int i, first = r->nlat;
	__u64 end, t0, t1;

	for (i = 0; i < CT_LAT_WARMUP; i++)
		if (!ct_map(f, be, page, CT_IOVA, page_size) ||
		    !ct_unmap(f, be, CT_IOVA, page_size))
			return false;
	end = deadline(CT_LAT_BUDGET_S);
	while (r->nlat < CT_LAT_MAX_SAMPLES) {
		t0 = now_ns();
		for (i = 0; i < CT_LAT_BATCH; i++)
			if (!ct_map(f, be, page, CT_IOVA, page_size) ||
			    !ct_unmap(f, be, CT_IOVA, page_size))
				return false;
		t1 = now_ns();
		r->lat[r->nlat++] = (double)(t1 - t0) / CT_LAT_BATCH;
		if (t1 >= end)
			break;
	}
	/* the order of the samples does not matter: sort them in place */
	if (r->turns < CT_ROUNDS && r->nlat > first)
		r->turn_median[r->turns++] = ct_median(r->lat + first,
						       r->nlat - first);
	return true;
}

/* buf64M_*: map and unmap all of @b as one mapping, at least once. */
static bool ct_buffer(const struct ct_files *f, const char *be,
		      const struct buf *b, enum ct_work w,
		      struct ct_result *r)
{
	__u64 end = deadline(CT_WORK_BUDGET_S), t0, t1, t2;
	unsigned int n = 0;

	do {
		t0 = now_ns();
		if (!ct_map(f, be, b->va, CT_IOVA, CT_BUF_SIZE))
			return false;
		t1 = now_ns();
		r->map_ns[w] += t1 - t0;
		/* what the mapping charged to VmLck, once, not timed */
		if (w == CT_BUF_4K && r->lck_mapped_kb < 0) {
			r->lck_mapped_kb = proc_status_kb("VmLck:");
			t1 = now_ns();
		}
		if (!ct_unmap(f, be, CT_IOVA, CT_BUF_SIZE))
			return false;
		t2 = now_ns();
		r->unmap_ns[w] += t2 - t1;
		r->reps[w]++;
		n++;
	} while (t2 < end && n < CT_MAX_REPEATS);
	return true;
}

/* pages4096: CT_PAGES one-page mappings, then their unmaps. */
static bool ct_many(const struct ct_files *f, const char *be,
		    const struct buf *b, struct ct_result *r)
{
	__u64 end = deadline(CT_WORK_BUDGET_S), t0, t1, t2;
	unsigned int i, n = 0;

	do {
		t0 = now_ns();
		for (i = 0; i < CT_PAGES; i++)
			if (!ct_map(f, be, b->va + i * page_size,
				    CT_IOVA + i * page_size, page_size))
				return false;
		t1 = now_ns();
		for (i = 0; i < CT_PAGES; i++)
			if (!ct_unmap(f, be, CT_IOVA + i * page_size,
				      page_size))
				return false;
		t2 = now_ns();
		r->map_ns[CT_MANY] += t1 - t0;
		r->unmap_ns[CT_MANY] += t2 - t1;
		r->reps[CT_MANY]++;
		n++;
	} while (t2 < end && n < CT_MAX_REPEATS);
	return true;
}

/* One backend's turn: open, every workload, close, VmLck as before. */
static bool ct_turn(enum ct_backend b, const char *group_path,
		    const char *bdf, const struct buf *buf4k,
		    const struct buf *buf2m, long lck0, struct ct_result *r)
{
	const char *be = ct_names[b];
	struct ct_files f;
	long lck;
	bool ok;

	ok = ct_open(&f, b, group_path, bdf) &&
	     ct_page_pair(&f, be, buf4k->va, r) &&
	     ct_buffer(&f, be, buf4k, CT_BUF_4K, r) &&
	     (!buf2m->mem || ct_buffer(&f, be, buf2m, CT_BUF_2M, r)) &&
	     ct_many(&f, be, buf4k, r);
	ct_close(&f);
	if (!ok)
		return false;
	lck = proc_status_kb("VmLck:");
	if (lck != lck0)
		return ct_fail("%s: VmLck is %ld kB, files closed, %ld kB before",
			       be, lck, lck0);
	return true;
}

/* Print what both backends measured, and iommufd's cost over type1's. */
static void ct_report(struct ct_result *r, long lck0, int rounds)
{
	double cost[NR_CT_BACKENDS][NR_CT_WORKS] = { };
	int b, w;

	figure("container", rounds, "rounds", "rounds");
	for (b = 0; b < NR_CT_BACKENDS; b++) {
		const char *be = ct_names[b];
		double sum = 0, med;
		unsigned int i;

		for (i = 0; i < r[b].nlat; i++)
			sum += r[b].lat[i];
		med = ct_median(r[b].lat, r[b].nlat);
		cost[b][CT_PAGE_PAIR] = med;
		figure("container", med, "ns", "%s.page_pair.median", be);
		figure("container", sum / r[b].nlat, "ns", "%s.page_pair.mean",
		       be);
		figure("container", (double)r[b].nlat * CT_LAT_BATCH, "pairs",
		       "%s.page_pair.pairs", be);
		/* how much the turns differ: the noise of the ratio */
		for (i = 0; i < r[b].turns; i++)
			figure("container", r[b].turn_median[i], "ns",
			       "%s.page_pair.median_round%u", be, i + 1);
		for (w = CT_BUF_4K; w <= CT_BUF_2M; w++) {
			double map_s, unmap_s;

			if (!r[b].reps[w])
				continue;
			map_s = (double)r[b].map_ns[w] / r[b].reps[w] /
				NSEC_PER_SEC;
			unmap_s = (double)r[b].unmap_ns[w] / r[b].reps[w] /
				  NSEC_PER_SEC;
			cost[b][w] = map_s + unmap_s;
			figure("container", map_s * 1000, "ms", "%s.%s.map", be,
			       ct_work_names[w]);
			figure("container", unmap_s * 1000, "ms", "%s.%s.unmap",
			       be, ct_work_names[w]);
			figure("container", (double)CT_BUF_SIZE / GIB / map_s,
			       "GiB/s", "%s.%s.map_rate", be, ct_work_names[w]);
			figure("container", (double)CT_BUF_SIZE / GIB / unmap_s,
			       "GiB/s", "%s.%s.unmap_rate", be,
			       ct_work_names[w]);
			figure("container", r[b].reps[w], "pairs", "%s.%s.pairs",
			       be, ct_work_names[w]);
		}
		if (r[b].lck_mapped_kb >= 0)
			figure("container", r[b].lck_mapped_kb - lck0, "kB",
			       "%s.buf64M_4k.vmlck", be);
		w = CT_MANY;
		cost[b][w] = (double)(r[b].map_ns[w] + r[b].unmap_ns[w]) /
			     r[b].reps[w];
		figure("container",
		       (double)r[b].map_ns[w] / r[b].reps[w] / CT_PAGES / 1000,
		       "us", "%s.%s.map", be, ct_work_names[w]);
		figure("container",
		       (double)r[b].unmap_ns[w] / r[b].reps[w] / CT_PAGES / 1000,
		       "us", "%s.%s.unmap", be, ct_work_names[w]);
		figure("container", r[b].reps[w], "runs", "%s.%s.runs", be,
		       ct_work_names[w]);
	}
	for (w = 0; w < NR_CT_WORKS; w++)
		if (cost[CT_TYPE1][w] > 0 && cost[CT_IOMMUFD][w] > 0)
			figure("container",
			       cost[CT_IOMMUFD][w] / cost[CT_TYPE1][w], "x",
			       "ratio.%s", ct_work_names[w]);
}

/*
 * Whether the section can run here: a type1 /dev/vfio/vfio, vfio-pci,
 * and an edu alone in its IOMMU group. When not, say why.
 */
static bool ct_can_run(char *bdf, size_t size, char *group_path,
		       size_t path_size)
{
	bool iommufd_serves;
	int fd, group;

	fd = open("/dev/vfio/vfio", O_RDWR);
	if (fd < 0) {
		notef("container skipped: no /dev/vfio/vfio (%s)",
		      strerror(errno));
		return false;
	}
	iommufd_serves = vfio_container_is_iommufd(fd);
	close(fd);
	if (iommufd_serves) {
		notef("container skipped: iommufd serves /dev/vfio/vfio, no type1 to compare with");
		return false;
	}
	if (access(PCI_DRIVERS "/vfio-pci", F_OK)) {
		notef("container skipped: no vfio-pci driver");
		return false;
	}
	if (edu_find(false, bdf, size)) {
		notef("container skipped: no edu device alone in its IOMMU group");
		return false;
	}
	group = pci_iommu_group(bdf);
	if (group < 0) {
		notef("container skipped: %s has no IOMMU group", bdf);
		return false;
	}
	snprintf(group_path, path_size, "/dev/vfio/%d", group);
	return true;
}

/* Return false when the section failed ("bench: error" says why). */
static bool bench_container(void)
{
	struct ct_result r[NR_CT_BACKENDS] = { };
	struct buf buf4k = { }, buf2m = { };
	struct pci_binding saved = { };
	char bdf[PCI_BDF_SIZE], group_path[64];
	int b, round, rounds = 0;
	char why[160];
	bool ok = false;
	long lck0, lck;

	if (!ct_can_run(bdf, sizeof(bdf), group_path, sizeof(group_path)))
		return true;
	run_end = now_ns() + (__u64)(CT_BUDGET_S * NSEC_PER_SEC);
	lck0 = proc_status_kb("VmLck:");
	if (lck0 < 0) {
		ct_fail("no VmLck in /proc/self/status");
		goto out;
	}
	for (b = 0; b < NR_CT_BACKENDS; b++) {
		r[b].lck_mapped_kb = -1;
		r[b].lat = calloc(CT_LAT_MAX_SAMPLES, sizeof(*r[b].lat));
		if (!r[b].lat) {
			ct_fail("calloc: %s", strerror(errno));
			goto out;
		}
	}
	if (!buf_alloc(&buf4k, BACK_4K, CT_BUF_SIZE, page_size, why,
		       sizeof(why))) {
		ct_fail("the 64 MiB buffer: %s", why);
		goto out;
	}
	if (!buf_alloc(&buf2m, BACK_HUGETLB, CT_BUF_SIZE, HUGE_2M, why,
		       sizeof(why)))
		notef("container %s skipped: %s", ct_work_names[CT_BUF_2M],
		      why);

	if (pci_binding_save(&saved, bdf)) {
		ct_fail("%s: reading its driver: %s", bdf, strerror(errno));
		goto out;
	}
	if (pci_has_driver(bdf, "vfio-pci") != 1 &&
	    (pci_unbind(bdf) || pci_bind_vfio(bdf))) {
		ct_fail("%s: giving it to vfio-pci: %s", bdf, strerror(errno));
		goto out;
	}
	if (pci_has_driver(bdf, "vfio-pci") != 1) {
		ct_fail("%s is not on vfio-pci after binding it", bdf);
		goto out;
	}
	printf("bench: header container device %s group %s iova 0x%llx;",
	       bdf, group_path, (unsigned long long)CT_IOVA);
	printf(" ratio = iommufd's time / type1's\n");

	for (round = 0; round < CT_ROUNDS; round++) {
		if (round && run_over()) {
			notef("container: only %d of %d rounds: %s", round,
			      CT_ROUNDS, budget_spent);
			break;
		}
		for (b = 0; b < NR_CT_BACKENDS; b++)
			if (!ct_turn(b, group_path, bdf, &buf4k, &buf2m, lck0,
				     &r[b]))
				goto out;
		rounds++;
	}
	ok = true;
out:
	buf_free(&buf2m);
	buf_free(&buf4k);
	lck = proc_status_kb("VmLck:");
	if (ok && lck != lck0)
		ok = ct_fail("VmLck is %ld kB after the section, %ld kB before",
			     lck, lck0);
	if (ok)
		ct_report(r, lck0, rounds);
	else
		printf("bench: error container: %s\n", ct_err);
	for (b = 0; b < NR_CT_BACKENDS; b++)
		free(r[b].lat);
	if (pci_binding_restore(&saved)) {
		printf("bench: error container: cannot give %s back to \"%s\": %s\n",
		       saved.bdf, saved.driver, strerror(errno));
		ok = false;
	}
	return ok;
}

/* The kernel, what "domain" means, and the memory the run can use. */
static void print_header(void)
{
	const struct domain_variant *dv;
	struct utsname u;
	char thp[32];

	if (uname(&u))
		die(errno, "uname");
	printf("bench: header kernel %s arch %s cpus %ld page_size %llu;",
	       u.release, u.machine, sysconf(_SC_NPROCESSORS_ONLN),
	       (unsigned long long)page_size);
	printf(" domain = what the IOAS has attached, first part of names:");
	for (dv = variants; dv->name; dv++)
		printf(" %s = %s;", dv->name, dv->desc);
	putchar('\n');
	thp_mode(thp, sizeof(thp));
	printf("bench: header memory thp %s hugetlb_free %ld", thp,
	       read_meminfo("HugePages_Free"));
	printf(" hugetlb_total %ld hugepagesize_kB %ld",
	       read_meminfo("HugePages_Total"), read_meminfo("Hugepagesize"));
	printf(" mem_available_MiB %ld\n", read_meminfo("MemAvailable") / 1024);
}

/*
 * Section 5: dirty. One IOAS with a mock device, DIRTY_MAPS mappings of one
 * buffer filling DIRTY_SPAN of IOVA (so that little memory is pinned), and
 * a HWPT allocated with IOMMU_HWPT_ALLOC_DIRTY_TRACKING on it.
 */
#define DIRTY_SPAN		GIB
#define DIRTY_MAPS		16
#define DIRTY_BIT		(4 * KIB)
#define DIRTY_MAX_READS		50
#define DIRTY_BUDGET_S		20.0

enum dirty_case { DIRTY_CLEAN, DIRTY_ALL, DIRTY_SPARSE, NR_DIRTY_CASES };

static const char * const dirty_names[NR_DIRTY_CASES] = {
	[DIRTY_CLEAN] = "clean",
	[DIRTY_ALL] = "all_dirty",
	[DIRTY_SPARSE] = "sparse_1in512",
};

/* Play DMA writes: the blocks whose bits are set in @marks turn dirty. */
static void dirty_play(__u32 hwpt_id, __u64 iova, const void *marks)
{
	struct iommu_test_cmd cmd = {
		.size = sizeof(cmd),
		.op = IOMMU_TEST_OP_DIRTY,
		.id = hwpt_id,
		.dirty = {
			.iova = iova,
			.length = DIRTY_SPAN,
			.page_size = DIRTY_BIT,
			.uptr = (uintptr_t)marks,
		},
	};

	if (ioctl(iommufd, IOMMU_TEST_CMD, &cmd))
		die(errno, "IOMMU_TEST_OP_DIRTY");
}

/* The time of one IOMMU_HWPT_GET_DIRTY_BITMAP of the whole span, in ns. */
static __u64 dirty_read(__u32 hwpt_id, __u64 iova, void *bitmap)
{
	struct iommu_hwpt_get_dirty_bitmap cmd = {
		.size = sizeof(cmd),
		.hwpt_id = hwpt_id,
		.iova = iova,
		.length = DIRTY_SPAN,
		.page_size = DIRTY_BIT,
		.data = (uintptr_t)bitmap,
	};
	__u64 t0 = now_ns();

	if (ioctl(iommufd, IOMMU_HWPT_GET_DIRTY_BITMAP, &cmd))
		die(errno, "IOMMU_HWPT_GET_DIRTY_BITMAP");
	return now_ns() - t0;
}

/*
 * Set up Section 5's mock HWPT and time IOMMU_HWPT_GET_DIRTY_BITMAP in
 * each case, for up to @budget_s seconds a case: @us gets each case's
 * median in microseconds and @reads how many reads it is the median of.
 * False, with the reason in @why, when the kernel cannot do it (no mock
 * IOMMU, no memory, no dirty tracking HWPT).
 */
static bool dirty_measure(double budget_s, double us[NR_DIRTY_CASES],
			  unsigned int reads[NR_DIRTY_CASES], char *why,
			  size_t why_len)
{
	const __u64 bytes = DIRTY_SPAN / DIRTY_BIT / 8;
	struct iommu_test_cmd mock = {
		.size = sizeof(mock),
		.op = IOMMU_TEST_OP_MOCK_DOMAIN,
	};
	struct iommu_hwpt_set_dirty_tracking track = {
		.size = sizeof(track),
		.flags = IOMMU_HWPT_DIRTY_TRACKING_ENABLE,
	};
	struct iommu_hwpt_alloc alloc = {
		.size = sizeof(alloc),
		.flags = IOMMU_HWPT_ALLOC_DIRTY_TRACKING,
	};
	__u8 *marks[NR_DIRTY_CASES], *bitmap;
	__u64 iova = MOCK_APERTURE_START, at, times[DIRTY_MAX_READS];
	__u32 ioas_id, n, c;
	bool ok = false;
	struct buf b;

	ioas_id = ioas_alloc();
	mock.id = ioas_id;
	if (ioctl(iommufd, IOMMU_TEST_CMD, &mock)) {
		snprintf(why, why_len, "no mock IOMMU: %s", strerror(errno));
		destroy(ioas_id);
		return false;
	}
	if (!buf_alloc(&b, BACK_4K, DIRTY_SPAN / DIRTY_MAPS, page_size, why,
		       why_len)) {
		destroy(mock.mock_domain.out_stdev_id);
		destroy(ioas_id);
		return false;
	}
	for (at = iova; at != iova + DIRTY_SPAN; at += b.len)
		if (ioas_map(ioas_id, b.va, b.len, &at, true))
			die(errno, "IOMMU_IOAS_MAP");
	alloc.dev_id = mock.mock_domain.out_idev_id;
	alloc.pt_id = ioas_id;
	if (ioctl(iommufd, IOMMU_HWPT_ALLOC, &alloc)) {
		snprintf(why, why_len, "no dirty tracking HWPT: %s",
			 strerror(errno));
		goto out;
	}
	track.hwpt_id = alloc.out_hwpt_id;
	if (ioctl(iommufd, IOMMU_HWPT_SET_DIRTY_TRACKING, &track))
		die(errno, "IOMMU_HWPT_SET_DIRTY_TRACKING");

	bitmap = calloc(1, bytes);
	for (c = 0; c != NR_DIRTY_CASES; c++) {
		marks[c] = calloc(1, bytes);
		if (!marks[c] || !bitmap)
			fail("out of memory");
	}
	memset(marks[DIRTY_ALL], 0xff, bytes);
	for (n = 0; n < bytes * 8; n += 512)
		marks[DIRTY_SPARSE][n / 8] |= 1U << (n % 8);

	for (c = 0; c != NR_DIRTY_CASES; c++) {
		__u64 end = deadline(budget_s);

		for (n = 0; n != DIRTY_MAX_READS && (!n || now_ns() < end);
		     n++) {
			if (c != DIRTY_CLEAN)
				dirty_play(alloc.out_hwpt_id, iova, marks[c]);
			times[n] = dirty_read(alloc.out_hwpt_id, iova, bitmap);
		}
		qsort(times, n, sizeof(times[0]), cmp_u64);
		us[c] = times[n / 2] / 1e3;
		reads[c] = n;
	}
	for (c = 0; c != NR_DIRTY_CASES; c++)
		free(marks[c]);
	free(bitmap);
	destroy(alloc.out_hwpt_id);
	ok = true;
out:
	ioas_unmap(ioas_id, iova, DIRTY_SPAN);
	destroy(mock.mock_domain.out_stdev_id);
	destroy(ioas_id);
	buf_free(&b);
	return ok;
}

static void bench_dirty(void)
{
	unsigned int reads[NR_DIRTY_CASES], c;
	double us[NR_DIRTY_CASES];
	char why[160];

	run_end = now_ns() + (__u64)(DIRTY_BUDGET_S * 4 * NSEC_PER_SEC);
	if (!dirty_measure(DIRTY_BUDGET_S, us, reads, why, sizeof(why))) {
		notef("dirty: skipped, %s", why);
		return;
	}
	for (c = 0; c != NR_DIRTY_CASES; c++)
		figure("dirty", us[c], "us",
		       "mock get_dirty_bitmap_1G_4K_%s median_of_%u",
		       dirty_names[c], reads[c]);
}

/*
 * Section 6: compare ("iommufd_bench compare mock|vtd")
 *
 * The figures make bench compares between our kernel and upstream 6.12:
 * one boot runs one phase, and the host boots the two kernels in turn,
 * several rounds, and takes the median of each figure over the rounds
 * (vmtest/bench.sh, vmtest/bench_compare.py). Every figure is printed as
 *
 *	bench: cmp <name> <value> <unit>	(value "n/a": not here)
 *	bench: cmpinfo <name> <value> <unit>	(not a time: no ratio)
 *
 * where a time is the median of CMP_REPS repeats in this boot. Phases:
 *
 *  mock  the domain is the mock IOMMU of CONFIG_IOMMUFD_TEST; also the
 *        trivial ioctl, the mock access pins and the pin floor, which do
 *        not depend on the domain
 *  vtd   the domain is VT-d's: an edu device alone in its IOMMU group,
 *        given to vfio-pci and attached through its VFIO cdev; also the
 *        VFIO container API through type1 and through /dev/iommu
 *
 * Per domain (names start with it):
 *  4k_contig, 4k_shuffled  CMP_SIZE of 4 KiB pages, mapped as one
 *        IOMMU_IOAS_MAP and unmapped; "shuffled" has the same pages in a
 *        random order of VA (moved one by one with mremap()), so that no
 *        two neighbours are physically contiguous; cmpinfo says how
 *        contiguous each buffer really was (from /proc/self/pagemap)
 *  thp, hugetlb2m, hugetlb1g  the same with THP (madvise), 2 MiB and
 *        1 GiB hugetlb pages; hugetlb1g maps 1 GiB
 *  memfd, hugetlbfs1g  a 4 KiB-page memfd of CMP_SIZE and a 1 GiB
 *        hugetlbfs memfd: .map_file by IOMMU_IOAS_MAP_FILE (n/a where the
 *        kernel has none) and .map_va by IOMMU_IOAS_MAP of its mmap()
 *  page_fixed  one page mapped at a fixed IOVA of the domain's IOAS while
 *        it is still empty, and unmapped, CMP_AREA_PAIRS times: the
 *        lowest IOVA from CMP_PAGE_IOVA up, page-aligned, in an allowed
 *        range (the mock's aperture starts higher, at 16 MiB); what a
 *        single small map costs with no IOVA to search and no other area
 *  areas.at_<N>  one kernel-chosen IOVA map (and its unmap) of one page
 *        in an IOAS that holds N one-page areas already, packed from the
 *        kernel's first choice of IOVA up (see cmp_areas())
 * Once (mock phase):
 *  ioctl.destroy_enoent, ioctl.iova_ranges  the trivial ioctls: one that
 *        fails (IOMMU_DESTROY of no ID) and one that works
 *  ref.getppid  syscall(SYS_getppid), timed as they are: the cost of
 *        entering the kernel and leaving it, the floor of every figure
 *        (a reference: the base kernel's, not iommufd's)
 *  nodomain.page_fixed.{map,unmap}  page_fixed (see above) in an IOAS
 *        with nothing attached, at CMP_PAGE_IOVA: the map only checks
 *        and inserts the area (nothing to pin or to write into an IO
 *        page table); read against mock.page_fixed and vtd.page_fixed,
 *        it tells the domain's share of a small map from iommufd's own
 *  access.{4k,1g}.{pin,unpin,read,write}  IOMMU_TEST_OP_ACCESS_PAGES of
 *        one page and its DESTROY_ACCESS_PAGES, and ACCESS_RW of one page,
 *        in the middle of a 4 KiB and of a 1 GiB mapping of an IOAS with
 *        no domain (the 1 GiB is untouched memory: only the page accessed
 *        is ever faulted in)
 *  mock.nested.inval_<N>  one IOMMU_HWPT_INVALIDATE of a batch of N = 1,
 *        16, 256 selftest requests (one IOTLB entry each) on a nested
 *        mock HWPT, per call (see cmp_nested())
 *  mock.dirty.{clean,all_dirty,sparse}  IOMMU_HWPT_GET_DIRTY_BITMAP of
 *        1 GiB of IOVA, 4 KiB a bit, with nothing, everything and one bit
 *        in 512 dirty: Section 5's measurement (dirty_measure())
 *  floor.<buffer>.pin  pin_user_pages_fast() of the whole buffer alone,
 *        with FOLL_WRITE | FOLL_LONGTERM, as iommufd pins: the in-kernel
 *        time of the pin_floor module (pin_floor/pin_floor.c), built from
 *        the same source for each kernel; .unpin is unpin_user_pages()
 * vtd phase:
 *  type1.*, compat.*  VFIO_IOMMU_MAP_DMA/UNMAP_DMA through type1's
 *        /dev/vfio/vfio and through /dev/iommu: see Section 4
 */
#define CMP_SIZE		(64 * MIB)
#define CMP_REPS		7
#define CMP_BUDGET_S		4.0
#define CMP_FAST_REPS		301
#define CMP_AREA_MARKS		{ 1000, 16000, 64000 }
#define CMP_AREA_PAIRS		101
#define CMP_PAGE_IOVA		MIB
#define HUGE_1G			GIB
#define CMP_NR_MARKS		3

#ifndef MAP_HUGE_1GB
#define MAP_HUGE_1GB		(30 << MAP_HUGE_SHIFT)
#endif
#ifndef MFD_HUGETLB
#define MFD_HUGETLB		0x0004U
#endif
#ifndef MFD_HUGE_1GB
#define MFD_HUGE_1GB		(30 << 26)
#endif
#ifndef MREMAP_FIXED
#define MREMAP_FIXED		2
#endif

/* The medians of a figure's repeats; @v is sorted in place. */
static double cmp_median(double *v, unsigned int n)
{
	return n ? ct_median(v, n) : 0;
}

static void cmp_print(const char *name, double *v, unsigned int n)
{
	if (!n)
		printf("bench: cmp %s n/a us\n", name);
	else
		printf("bench: cmp %s %.3f us\n", name, cmp_median(v, n));
}

static void cmp_na(const char *name, const char *why)
{
	printf("bench: cmp %s n/a us\n", name);
	notef("cmp %s: %s", name, why);
}

/* The domain of a phase: the IOAS every per-domain figure maps into. */
struct cmp_dom {
	const char *name;
	__u32 ioas_id;
	__u32 mock_id;		/* mock: its device, 0 if none */
	__u32 mock_idev;	/* mock: the device's iommufd device ID */
	int vfio_fd;		/* vtd: the VFIO cdev, -1 if none */
	struct pci_binding saved;
};

static bool cmp_dom_mock(struct cmp_dom *d)
{
	struct iommu_test_cmd cmd = {
		.size = sizeof(cmd),
		.op = IOMMU_TEST_OP_MOCK_DOMAIN,
	};

	d->ioas_id = ioas_alloc();
	cmd.id = d->ioas_id;
	if (ioctl(iommufd, IOMMU_TEST_CMD, &cmd)) {
		notef("cmp mock: no mock domain: %s", strerror(errno));
		return false;
	}
	d->mock_id = cmd.mock_domain.out_stdev_id;
	d->mock_idev = cmd.mock_domain.out_idev_id;
	return true;
}

static bool cmp_dom_vtd(struct cmp_dom *d)
{
	char bdf[PCI_BDF_SIZE], path[PATH_MAX];
	__u32 pt_id, devid;

	d->ioas_id = ioas_alloc();
	if (edu_find(false, bdf, sizeof(bdf))) {
		notef("cmp vtd: no edu alone in its IOMMU group");
		return false;
	}
	if (pci_binding_save(&d->saved, bdf) ||
	    (pci_has_driver(bdf, "vfio-pci") != 1 &&
	     (pci_unbind(bdf) || pci_bind_vfio(bdf)))) {
		notef("cmp vtd: %s to vfio-pci: %s", bdf, strerror(errno));
		return false;
	}
	if (vfio_cdev_path(bdf, path, sizeof(path))) {
		notef("cmp vtd: %s has no VFIO cdev", bdf);
		return false;
	}
	d->vfio_fd = open(path, O_RDWR);
	if (d->vfio_fd < 0 ||
	    vfio_device_bind_iommufd(d->vfio_fd, iommufd, &devid)) {
		notef("cmp vtd: binding %s to iommufd: %s", path,
		      strerror(errno));
		return false;
	}
	pt_id = d->ioas_id;
	if (vfio_device_attach(d->vfio_fd, &pt_id)) {
		notef("cmp vtd: attaching %s: %s", path, strerror(errno));
		return false;
	}
	printf("bench: header cmp vtd device %s %s hwpt %u\n", bdf, path,
	       pt_id);
	return true;
}

static void cmp_dom_free(struct cmp_dom *d)
{
	if (d->vfio_fd >= 0)
		close(d->vfio_fd);
	d->vfio_fd = -1;
	if (d->mock_id)
		destroy(d->mock_id);
	d->mock_id = 0;
	if (d->ioas_id)
		destroy(d->ioas_id);
	d->ioas_id = 0;
	if (pci_binding_restore(&d->saved))
		notef("cmp: cannot give %s back to \"%s\": %s", d->saved.bdf,
		      d->saved.driver, strerror(errno));
	memset(&d->saved, 0, sizeof(d->saved));
}

/* How many of the pages of [va, va + len) follow their VA neighbour in PFN. */
static void cmp_contiguity(const char *name, const char *va, __u64 len)
{
	__u64 n = len / page_size, i, prev = 0, next = 0, entry;
	int fd = open("/proc/self/pagemap", O_RDONLY);

	if (fd < 0)
		return;
	for (i = 0; i < n; i++) {
		__u64 pfn;

		if (pread(fd, &entry, sizeof(entry),
			  (uintptr_t)(va + i * page_size) / page_size *
			  sizeof(entry)) != sizeof(entry))
			break;
		pfn = entry & ((1ULL << 55) - 1);
		if (i && pfn && pfn == prev + 1)
			next++;
		prev = pfn;
	}
	close(fd);
	if (i == n && n > 1)
		printf("bench: cmpinfo %s.pfn_contiguous %.1f %%\n", name,
		       100.0 * next / (n - 1));
}

/* Map and unmap [va, va + len) as one area, CMP_REPS times. */
static void cmp_map_unmap(const struct cmp_dom *d, const char *what,
			  void *va, __u64 len)
{
	double map[CMP_REPS], unmap[CMP_REPS];
	__u64 end, iova, t0, t1, t2;
	unsigned int n = 0;
	char name[96];
	int rc;

	/* One untimed pair: the first touches of page tables and caches */
	iova = 0;
	rc = ioas_map(d->ioas_id, va, len, &iova, false);
	if (rc) {
		snprintf(name, sizeof(name), "%s.%s.map", d->name, what);
		cmp_na(name, strerror(rc));
		snprintf(name, sizeof(name), "%s.%s.unmap", d->name, what);
		cmp_na(name, strerror(rc));
		return;
	}
	ioas_unmap(d->ioas_id, iova, len);
	end = deadline(CMP_BUDGET_S);
	while (n < CMP_REPS && (n < 3 || now_ns() < end)) {
		t0 = now_ns();
		rc = ioas_map(d->ioas_id, va, len, &iova, false);
		t1 = now_ns();
		if (rc)
			die(rc, "IOMMU_IOAS_MAP");
		ioas_unmap(d->ioas_id, iova, len);
		t2 = now_ns();
		map[n] = (t1 - t0) / 1e3;
		unmap[n] = (t2 - t1) / 1e3;
		n++;
	}
	snprintf(name, sizeof(name), "%s.%s.map", d->name, what);
	cmp_print(name, map, n);
	snprintf(name, sizeof(name), "%s.%s.unmap", d->name, what);
	cmp_print(name, unmap, n);
}

/* Map by file, CMP_REPS times; "n/a" when the kernel has no MAP_FILE. */
static void cmp_map_file(const struct cmp_dom *d, const char *what, int fd,
			 __u64 len)
{
	struct iommu_ioas_map_file cmd = {
		.size = sizeof(cmd),
		.flags = IOMMU_IOAS_MAP_READABLE | IOMMU_IOAS_MAP_WRITEABLE,
		.ioas_id = d->ioas_id,
		.fd = fd,
		.length = len,
	};
	double map[CMP_REPS];
	unsigned int n = 0;
	char name[96];
	__u64 end, t0;

	snprintf(name, sizeof(name), "%s.%s.map_file", d->name, what);
	if (ioctl(iommufd, IOMMU_IOAS_MAP_FILE, &cmd)) {
		cmp_na(name, errno == ENOTTY ?
		       "no IOMMU_IOAS_MAP_FILE (ENOTTY)" : strerror(errno));
		return;
	}
	ioas_unmap(d->ioas_id, cmd.iova, len);
	end = deadline(CMP_BUDGET_S);
	while (n < CMP_REPS && (n < 3 || now_ns() < end)) {
		cmd.iova = 0;
		t0 = now_ns();
		if (ioctl(iommufd, IOMMU_IOAS_MAP_FILE, &cmd))
			die(errno, "IOMMU_IOAS_MAP_FILE");
		map[n++] = (now_ns() - t0) / 1e3;
		ioas_unmap(d->ioas_id, cmd.iova, len);
	}
	cmp_print(name, map, n);
}

/*
 * A CMP_SIZE buffer of the same 4 KiB pages as @src, in a random order:
 * each page moved by mremap() to its place in a new range. On success
 * @src is empty and @dst owns the pages.
 */
static bool cmp_shuffle(struct buf *src, struct buf *dst)
{
	__u64 n = src->len / page_size, i, j, t;
	__u64 *perm = calloc(n, sizeof(*perm));
	char *to;

	if (!perm)
		return false;
	to = mmap(NULL, src->len, PROT_READ | PROT_WRITE,
		  MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (to == MAP_FAILED) {
		free(perm);
		return false;
	}
	for (i = 0; i < n; i++)
		perm[i] = i;
	srandom(1);
	for (i = n - 1; i > 0; i--) {
		j = random() % (i + 1);
		t = perm[i];
		perm[i] = perm[j];
		perm[j] = t;
	}
	for (i = 0; i < n; i++)
		if (mremap(src->va + perm[i] * page_size, page_size, page_size,
			   MREMAP_MAYMOVE | MREMAP_FIXED,
			   to + i * page_size) == MAP_FAILED) {
			notef("cmp: mremap: %s", strerror(errno));
			munmap(to, src->len);
			free(perm);
			return false;
		}
	free(perm);
	memset(dst, 0, sizeof(*dst));
	dst->mem = to;
	dst->mem_len = src->len;
	dst->va = to;
	dst->len = src->len;
	return true;
}

/* The pin floor of [va, va + len): pin_floor's in-kernel times. */
static void cmp_floor(int pf, const char *what, void *va, __u64 len)
{
	double pin[CMP_REPS], unpin[CMP_REPS];
	struct pin_floor_cmd cmd;
	unsigned int n = 0;
	bool warm = false;
	char name[96];
	__u64 end;

	if (pf < 0)
		return;
	/* the first round is not timed, as for the maps */
	end = deadline(CMP_BUDGET_S);
	while (n < CMP_REPS && (n < 3 || now_ns() < end)) {
		memset(&cmd, 0, sizeof(cmd));
		cmd.va = (uintptr_t)va;
		cmd.length = len;
		if (ioctl(pf, PIN_FLOOR_PIN, &cmd)) {
			notef("cmp floor.%s: PIN_FLOOR_PIN: %s", what,
			      strerror(errno));
			return;
		}
		pin[n] = cmd.out_ns / 1e3;
		if (ioctl(pf, PIN_FLOOR_UNPIN, &cmd))
			die(errno, "PIN_FLOOR_UNPIN");
		unpin[n] = cmd.out_ns / 1e3;
		if (warm)
			n++;
		warm = true;
	}
	snprintf(name, sizeof(name), "floor.%s.pin", what);
	cmp_print(name, pin, n);
	snprintf(name, sizeof(name), "floor.%s.unpin", what);
	cmp_print(name, unpin, n);
}

/* An mmap()ed memfd of @len bytes, every page written; fd or -1. */
static int cmp_memfd(unsigned int flags, __u64 len, char **va)
{
	__u64 i;
	int fd;

	fd = memfd_create("iommufd_bench", flags);
	if (fd < 0)
		return -1;
	if (ftruncate(fd, len))
		goto err;
	*va = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (*va == MAP_FAILED)
		goto err;
	for (i = 0; i < len; i += page_size)
		(*va)[i] = 1;
	return fd;
err:
	close(fd);
	return -1;
}

/* 1 GiB of anonymous hugetlb memory in one 1 GiB page, or NULL. */
static char *cmp_hugetlb1g(void)
{
	char *va = mmap(NULL, HUGE_1G, PROT_READ | PROT_WRITE,
			MAP_PRIVATE | MAP_ANONYMOUS | MAP_HUGETLB |
			MAP_HUGE_1GB, -1, 0);

	if (va == MAP_FAILED)
		return NULL;
	va[0] = 1;
	return va;
}

/*
 * The memory figures of domain @d; with @pf >= 0 (the pin_floor file)
 * the floor of each buffer too.
 */
static void cmp_memory(const struct cmp_dom *d, int pf)
{
	struct buf b, shuf;
	char why[160], *va;
	int fd;

	if (buf_alloc(&b, BACK_4K, CMP_SIZE, page_size, why, sizeof(why))) {
		if (pf >= 0)
			cmp_contiguity("4k_contig", b.va, b.len);
		cmp_map_unmap(d, "4k_contig", b.va, b.len);
		cmp_floor(pf, "4k_contig", b.va, b.len);
		if (cmp_shuffle(&b, &shuf)) {
			if (pf >= 0)
				cmp_contiguity("4k_shuffled", shuf.va,
					       shuf.len);
			cmp_map_unmap(d, "4k_shuffled", shuf.va, shuf.len);
			cmp_floor(pf, "4k_shuffled", shuf.va, shuf.len);
			buf_free(&shuf);
		}
		buf_free(&b);
	} else {
		notef("cmp 4k: %s", why);
	}
	if (buf_alloc(&b, BACK_THP, CMP_SIZE, HUGE_2M, why, sizeof(why))) {
		long kb = smaps_anon_huge_kb(b.va);

		if (pf >= 0 && kb >= 0)
			printf("bench: cmpinfo thp.huge %.1f %%\n",
			       100.0 * kb * KIB / b.len);
		cmp_map_unmap(d, "thp", b.va, b.len);
		cmp_floor(pf, "thp", b.va, b.len);
		buf_free(&b);
	} else {
		notef("cmp thp: %s", why);
	}
	if (buf_alloc(&b, BACK_HUGETLB, CMP_SIZE, HUGE_2M, why, sizeof(why))) {
		cmp_map_unmap(d, "hugetlb2m", b.va, b.len);
		cmp_floor(pf, "hugetlb2m", b.va, b.len);
		buf_free(&b);
	} else {
		notef("cmp hugetlb2m: %s", why);
	}
	va = cmp_hugetlb1g();
	if (va) {
		cmp_map_unmap(d, "hugetlb1g", va, HUGE_1G);
		cmp_floor(pf, "hugetlb1g", va, HUGE_1G);
		munmap(va, HUGE_1G);
	} else {
		notef("cmp hugetlb1g: no 1 GiB page: %s (see hugepagesz=1G)",
		      strerror(errno));
	}
	fd = cmp_memfd(0, CMP_SIZE, &va);
	if (fd >= 0) {
		cmp_map_file(d, "memfd", fd, CMP_SIZE);
		cmp_map_unmap(d, "memfd", va, CMP_SIZE);
		munmap(va, CMP_SIZE);
		close(fd);
	} else {
		notef("cmp memfd: %s", strerror(errno));
	}
	fd = cmp_memfd(MFD_HUGETLB | MFD_HUGE_1GB, HUGE_1G, &va);
	if (fd >= 0) {
		cmp_map_file(d, "hugetlbfs1g", fd, HUGE_1G);
		cmp_map_unmap(d, "hugetlbfs1g", va, HUGE_1G);
		munmap(va, HUGE_1G);
		close(fd);
	} else {
		notef("cmp hugetlbfs1g: %s", strerror(errno));
	}
}

/*
 * Time a map of the one page at @page and its unmap, CMP_AREA_PAIRS
 * times, into @ioas_id: at IOVA *@fixed, or where the kernel chooses when
 * @fixed is NULL. The figures are <prefix>.map and <prefix>.unmap; a map
 * that fails makes both n/a, with the reason.
 */
static void cmp_page_pairs(__u32 ioas_id, const char *prefix, char *page,
			   const __u64 *fixed)
{
	double map[CMP_AREA_PAIRS], unmap[CMP_AREA_PAIRS];
	unsigned int n;
	char name[96], why[96];
	__u64 iova, t0, t1, t2;
	int rc;

	for (n = 0; n < CMP_AREA_PAIRS; n++) {
		iova = fixed ? *fixed : 0;
		t0 = now_ns();
		rc = ioas_map(ioas_id, page, page_size, &iova, fixed);
		t1 = now_ns();
		if (rc) {
			snprintf(why, sizeof(why), "IOMMU_IOAS_MAP at 0x%llx: %s",
				 fixed ? (unsigned long long)*fixed : 0ULL,
				 strerror(rc));
			snprintf(name, sizeof(name), "%s.map", prefix);
			cmp_na(name, why);
			snprintf(name, sizeof(name), "%s.unmap", prefix);
			cmp_na(name, why);
			return;
		}
		ioas_unmap(ioas_id, iova, page_size);
		t2 = now_ns();
		map[n] = (t1 - t0) / 1e3;
		unmap[n] = (t2 - t1) / 1e3;
	}
	snprintf(name, sizeof(name), "%s.map", prefix);
	cmp_print(name, map, n);
	snprintf(name, sizeof(name), "%s.unmap", prefix);
	cmp_print(name, unmap, n);
}

/* Time one kernel-chosen map and its unmap, CMP_AREA_PAIRS times. */
static void cmp_area_at(const struct cmp_dom *d, char *page, unsigned int at)
{
	char prefix[64];

	snprintf(prefix, sizeof(prefix), "%s.areas.at_%u", d->name, at);
	cmp_page_pairs(d->ioas_id, prefix, page, NULL);
}

/*
 * The lowest IOVA at or above CMP_PAGE_IOVA, aligned to the page and to
 * the IOAS's IOVA alignment, where one page fits in an allowed range of
 * @ioas_id; false if there is none among the first MAX_RANGES.
 */
static bool cmp_page_iova(__u32 ioas_id, __u64 *iova)
{
	struct iommu_iova_range ranges[MAX_RANGES];
	__u64 align, at;
	__u32 n, i;

	n = ioas_ranges(ioas_id, ranges, &align);
	if (align < page_size)
		align = page_size;
	for (i = 0; i < n; i++) {
		if (ranges[i].last < CMP_PAGE_IOVA)
			continue;
		at = ranges[i].start > CMP_PAGE_IOVA ? ranges[i].start :
						       CMP_PAGE_IOVA;
		at = round_up_u64(at, align);
		if (at >= ranges[i].start && at + page_size - 1 > at &&
		    at + page_size - 1 <= ranges[i].last) {
			*iova = at;
			return true;
		}
	}
	return false;
}

/*
 * <prefix>.page_fixed.map/unmap: one page mapped at a fixed IOVA (see
 * cmp_page_iova()) of an empty IOAS and unmapped, CMP_AREA_PAIRS times:
 * the least a map costs, with no IOVA to search and nothing else mapped.
 */
static void cmp_page_fixed(const char *prefix, __u32 ioas_id)
{
	char name[64];
	__u64 iova;
	char *page;

	snprintf(name, sizeof(name), "%s.page_fixed", prefix);
	if (!cmp_page_iova(ioas_id, &iova)) {
		char full[96];

		snprintf(full, sizeof(full), "%s.map", name);
		cmp_na(full, "no allowed IOVA range holds a page");
		snprintf(full, sizeof(full), "%s.unmap", name);
		cmp_na(full, "no allowed IOVA range holds a page");
		return;
	}
	page = mmap(NULL, page_size, PROT_READ | PROT_WRITE,
		    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (page == MAP_FAILED)
		die(errno, "mmap");
	page[0] = 1;
	printf("bench: header cmp %s iova 0x%llx\n", name,
	       (unsigned long long)iova);
	cmp_page_pairs(ioas_id, name, page, &iova);
	munmap(page, page_size);
}

/*
 * Fill the IOAS with one-page areas up to each mark and time a
 * kernel-chosen map there. The areas are mapped at fixed IOVAs, one after
 * the other from where the kernel put its first choice: the layout
 * kernel-chosen maps of one page each would have built, without the
 * cost of building it that way (on a kernel whose IOVA search is linear
 * in the areas, 64000 such maps take minutes under TCG).
 */
static void cmp_areas(const struct cmp_dom *d)
{
	static const unsigned int marks[CMP_NR_MARKS] = CMP_AREA_MARKS;
	struct iommu_ioas_unmap all = {
		.size = sizeof(all),
		.ioas_id = d->ioas_id,
		.length = UINT64_MAX,
	};
	unsigned int m, nr = 0;
	__u64 base = 0, iova;
	char *page;
	int rc;

	page = mmap(NULL, page_size, PROT_READ | PROT_WRITE,
		    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (page == MAP_FAILED)
		die(errno, "mmap");
	page[0] = 1;
	rc = ioas_map(d->ioas_id, page, page_size, &base, false);
	if (rc)
		die(rc, "IOMMU_IOAS_MAP");
	ioas_unmap(d->ioas_id, base, page_size);
	for (m = 0; m < CMP_NR_MARKS; m++) {
		while (nr < marks[m]) {
			iova = base + (__u64)nr * page_size;
			rc = ioas_map(d->ioas_id, page, page_size, &iova,
				      true);
			if (rc) {
				notef("cmp %s.areas: fixed map %u at 0x%llx: %s",
				      d->name, nr, (unsigned long long)iova,
				      strerror(rc));
				goto out;
			}
			nr++;
		}
		cmp_area_at(d, page, marks[m]);
	}
out:
	/* iova 0, length U64_MAX: everything */
	if (ioctl(iommufd, IOMMU_IOAS_UNMAP, &all))
		die(errno, "IOMMU_IOAS_UNMAP of everything");
	munmap(page, page_size);
}

static const unsigned int cmp_inval_batches[] = { 1, 16, 256 };

#define CMP_NR_INVAL_BATCHES	ARRAY_SIZE(cmp_inval_batches)

static void cmp_nested_na(const char *what, int err)
{
	char name[64], why[128];
	unsigned int i;

	snprintf(why, sizeof(why), "%s: %s", what, strerror(err));
	for (i = 0; i < CMP_NR_INVAL_BATCHES; i++) {
		snprintf(name, sizeof(name), "mock.nested.inval_%u",
			 cmp_inval_batches[i]);
		cmp_na(name, why);
	}
}

/*
 * mock.nested.inval_<N>: one IOMMU_HWPT_INVALIDATE of N selftest requests
 * on a nested mock HWPT (IOMMU_HWPT_DATA_SELFTEST on a NEST_PARENT HWPT of
 * the mock device, on the domain's IOAS), each request flushing one IOTLB
 * entry of the mock, in turn; the median over up to CMP_FAST_REPS calls.
 * The cost of a guest's batched IOTLB flushes, per call.
 */
static void cmp_nested(const struct cmp_dom *d)
{
	struct iommu_hwpt_invalidate_selftest reqs[256];
	struct iommu_hwpt_selftest data = {
		.iotlb = IOMMU_TEST_IOTLB_DEFAULT,
	};
	struct iommu_hwpt_alloc parent = {
		.size = sizeof(parent),
		.flags = IOMMU_HWPT_ALLOC_NEST_PARENT,
		.dev_id = d->mock_idev,
		.pt_id = d->ioas_id,
	};
	struct iommu_hwpt_alloc nested = {
		.size = sizeof(nested),
		.dev_id = d->mock_idev,
		.data_type = IOMMU_HWPT_DATA_SELFTEST,
		.data_len = sizeof(data),
		.data_uptr = (uintptr_t)&data,
	};
	struct iommu_hwpt_invalidate inv = {
		.size = sizeof(inv),
		.data_uptr = (uintptr_t)reqs,
		.data_type = IOMMU_HWPT_INVALIDATE_DATA_SELFTEST,
		.entry_len = sizeof(reqs[0]),
	};
	double v[CMP_FAST_REPS];
	unsigned int b, i, n;
	char name[64];
	__u64 end, t0;

	if (ioctl(iommufd, IOMMU_HWPT_ALLOC, &parent)) {
		cmp_nested_na("IOMMU_HWPT_ALLOC of a NEST_PARENT HWPT", errno);
		return;
	}
	nested.pt_id = parent.out_hwpt_id;
	if (ioctl(iommufd, IOMMU_HWPT_ALLOC, &nested)) {
		cmp_nested_na("IOMMU_HWPT_ALLOC of a selftest nested HWPT",
			      errno);
		destroy(parent.out_hwpt_id);
		return;
	}
	inv.hwpt_id = nested.out_hwpt_id;
	memset(reqs, 0, sizeof(reqs));
	for (i = 0; i < ARRAY_SIZE(reqs); i++)
		reqs[i].iotlb_id = i % (MOCK_NESTED_DOMAIN_IOTLB_ID_MAX + 1);
	for (b = 0; b < CMP_NR_INVAL_BATCHES; b++) {
		const unsigned int batch = cmp_inval_batches[b];

		snprintf(name, sizeof(name), "mock.nested.inval_%u", batch);
		end = deadline(CMP_BUDGET_S);
		for (n = 0, i = 0; n < CMP_FAST_REPS; i++) {
			inv.entry_num = batch;
			t0 = now_ns();
			if (ioctl(iommufd, IOMMU_HWPT_INVALIDATE, &inv) ||
			    inv.entry_num != batch) {
				char why[128];

				snprintf(why, sizeof(why),
					 "IOMMU_HWPT_INVALIDATE: %s, %u of %u done",
					 strerror(errno), inv.entry_num, batch);
				cmp_na(name, why);
				n = 0;
				break;
			}
			/* the first calls warm up, untimed */
			if (i >= 10)
				v[n++] = (now_ns() - t0) / 1e3;
			if (n >= 3 && now_ns() >= end)
				break;
		}
		if (n)
			cmp_print(name, v, n);
	}
	destroy(nested.out_hwpt_id);
	destroy(parent.out_hwpt_id);
}

/*
 * mock.dirty.<case>: Section 5's IOMMU_HWPT_GET_DIRTY_BITMAP of 1 GiB of
 * IOVA, 4 KiB a bit, on a mock HWPT that tracks dirty IOVA, with each
 * case's reads given half of CMP_BUDGET_S (a read takes 0.1-0.4 s under
 * TCG: about ten of them).
 */
static void cmp_dirty(void)
{
	static const char * const names[NR_DIRTY_CASES] = {
		[DIRTY_CLEAN] = "clean",
		[DIRTY_ALL] = "all_dirty",
		[DIRTY_SPARSE] = "sparse",
	};
	unsigned int reads[NR_DIRTY_CASES], c;
	double us[NR_DIRTY_CASES];
	char why[160], name[64];
	bool ok;

	ok = dirty_measure(CMP_BUDGET_S / 2, us, reads, why, sizeof(why));
	for (c = 0; c != NR_DIRTY_CASES; c++) {
		snprintf(name, sizeof(name), "mock.dirty.%s", names[c]);
		if (ok)
			cmp_print(name, &us[c], 1);
		else
			cmp_na(name, why);
	}
}

/*
 * Medians of CMP_FAST_REPS calls of the trivial ioctls: one that fails
 * (IOMMU_DESTROY of no ID, ENOENT) and one that works (the IOVA ranges
 * of an empty IOAS); and of getppid(), what entering and leaving the
 * kernel costs on this kernel, whatever iommufd does.
 */
static void cmp_trivial(void)
{
	static const enum lat_op ops[] = {
		LAT_DESTROY, LAT_RANGES, LAT_GETPPID,
	};
	static const char * const names[] = {
		"ioctl.destroy_enoent", "ioctl.iova_ranges", "ref.getppid",
	};
	double v[CMP_FAST_REPS];
	__u32 ioas_id = ioas_alloc();
	unsigned int i, op;

	for (op = 0; op < ARRAY_SIZE(ops); op++) {
		for (i = 0; i < LAT_WARMUP; i++)
			lat_once(ops[op], ioas_id);
		for (i = 0; i < CMP_FAST_REPS; i++)
			v[i] = lat_once(ops[op], ioas_id) / 1e3;
		cmp_print(names[op], v, CMP_FAST_REPS);
	}
	destroy(ioas_id);
}

/*
 * The mock access in the middle of a mapping of @len bytes of untouched
 * anonymous memory, in an IOAS with no domain: pin and unpin one page,
 * read and write one page.
 */
static void cmp_access(const char *what, __u64 len)
{
	double pin[CMP_FAST_REPS], unpin[CMP_FAST_REPS];
	double rd[CMP_FAST_REPS], wr[CMP_FAST_REPS];
	struct iommu_test_cmd cmd;
	__u64 iova = 0, at, t0, t1;
	__u32 ioas_id, pages_id;
	unsigned int i;
	int access_fd;
	char name[96], *va, *page;

	va = mmap(NULL, len, PROT_READ | PROT_WRITE,
		  MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	page = malloc(page_size);
	if (va == MAP_FAILED || !page)
		die(errno, "mmap");
	memset(page, 2, page_size);
	ioas_id = ioas_alloc();
	if (ioas_map(ioas_id, va, len, &iova, false))
		die(errno, "IOMMU_IOAS_MAP");
	at = len / 2 / page_size * page_size;
	memset(&cmd, 0, sizeof(cmd));
	cmd.size = sizeof(cmd);
	cmd.op = IOMMU_TEST_OP_CREATE_ACCESS;
	cmd.id = ioas_id;
	/* an access that pins: ACCESS_PAGES is refused to the others */
	cmd.create_access.flags = MOCK_FLAGS_ACCESS_CREATE_NEEDS_PIN_PAGES;
	if (ioctl(iommufd, IOMMU_TEST_CMD, &cmd)) {
		notef("cmp access: IOMMU_TEST_OP_CREATE_ACCESS: %s",
		      strerror(errno));
		goto out;
	}
	access_fd = cmd.create_access.out_access_fd;
	for (i = 0; i < CMP_FAST_REPS + 10; i++) {
		memset(&cmd, 0, sizeof(cmd));
		cmd.size = sizeof(cmd);
		cmd.op = IOMMU_TEST_OP_ACCESS_PAGES;
		cmd.id = access_fd;
		cmd.access_pages.flags = MOCK_FLAGS_ACCESS_WRITE;
		cmd.access_pages.iova = iova + at;
		cmd.access_pages.length = page_size;
		/* no uptr: the mock's check of the pages costs a GUP each */
		cmd.access_pages.uptr = 0;
		t0 = now_ns();
		if (ioctl(iommufd, IOMMU_TEST_CMD, &cmd)) {
			notef("cmp access: IOMMU_TEST_OP_ACCESS_PAGES: %s",
			      strerror(errno));
			goto close;
		}
		t1 = now_ns();
		pages_id = cmd.access_pages.out_access_pages_id;
		memset(&cmd, 0, sizeof(cmd));
		cmd.size = sizeof(cmd);
		cmd.op = IOMMU_TEST_OP_DESTROY_ACCESS_PAGES;
		cmd.id = access_fd;
		cmd.destroy_access_pages.access_pages_id = pages_id;
		if (ioctl(iommufd, IOMMU_TEST_CMD, &cmd))
			die(errno, "IOMMU_TEST_OP_DESTROY_ACCESS_PAGES");
		/* the first 10 warm up */
		if (i >= 10) {
			pin[i - 10] = (t1 - t0) / 1e3;
			unpin[i - 10] = (now_ns() - t1) / 1e3;
		}
	}
	for (i = 0; i < 2 * CMP_FAST_REPS + 10; i++) {
		bool write = i & 1;

		memset(&cmd, 0, sizeof(cmd));
		cmd.size = sizeof(cmd);
		cmd.op = IOMMU_TEST_OP_ACCESS_RW;
		cmd.id = access_fd;
		cmd.access_rw.iova = iova + at;
		cmd.access_rw.length = page_size;
		cmd.access_rw.uptr = (uintptr_t)page;
		cmd.access_rw.flags = write ? MOCK_ACCESS_RW_WRITE : 0;
		t0 = now_ns();
		if (ioctl(iommufd, IOMMU_TEST_CMD, &cmd)) {
			notef("cmp access: IOMMU_TEST_OP_ACCESS_RW: %s",
			      strerror(errno));
			goto close;
		}
		t1 = now_ns();
		if (i >= 10) {
			if (write)
				wr[(i - 10) / 2] = (t1 - t0) / 1e3;
			else
				rd[(i - 10) / 2] = (t1 - t0) / 1e3;
		}
	}
	snprintf(name, sizeof(name), "access.%s.pin", what);
	cmp_print(name, pin, CMP_FAST_REPS);
	snprintf(name, sizeof(name), "access.%s.unpin", what);
	cmp_print(name, unpin, CMP_FAST_REPS);
	snprintf(name, sizeof(name), "access.%s.read", what);
	cmp_print(name, rd, CMP_FAST_REPS);
	snprintf(name, sizeof(name), "access.%s.write", what);
	cmp_print(name, wr, CMP_FAST_REPS);
close:
	close(access_fd);
out:
	ioas_unmap(ioas_id, iova, len);
	destroy(ioas_id);
	munmap(va, len);
	free(page);
}

/* The VFIO container API, both backends, one turn each: cmp figures. */
static void cmp_container(void)
{
	struct ct_result r[NR_CT_BACKENDS] = { };
	struct buf buf4k = { }, buf2m = { };
	struct pci_binding saved = { };
	char bdf[PCI_BDF_SIZE], group_path[64], name[96], why[160];
	static const char * const cmp_ct_names[NR_CT_BACKENDS] = {
		[CT_TYPE1] = "type1",
		[CT_IOMMUFD] = "compat",
	};
	long lck0;
	int b, w;

	if (!ct_can_run(bdf, sizeof(bdf), group_path, sizeof(group_path)))
		return;
	lck0 = proc_status_kb("VmLck:");
	for (b = 0; b < NR_CT_BACKENDS; b++) {
		r[b].lck_mapped_kb = -1;
		r[b].lat = calloc(CT_LAT_MAX_SAMPLES, sizeof(*r[b].lat));
		if (!r[b].lat)
			die(ENOMEM, "calloc");
	}
	if (!buf_alloc(&buf4k, BACK_4K, CT_BUF_SIZE, page_size, why,
		       sizeof(why)) ||
	    !buf_alloc(&buf2m, BACK_HUGETLB, CT_BUF_SIZE, HUGE_2M, why,
		       sizeof(why))) {
		notef("cmp container: %s", why);
		goto out;
	}
	if (pci_binding_save(&saved, bdf) ||
	    (pci_has_driver(bdf, "vfio-pci") != 1 &&
	     (pci_unbind(bdf) || pci_bind_vfio(bdf)))) {
		notef("cmp container: %s to vfio-pci: %s", bdf,
		      strerror(errno));
		goto out;
	}
	run_end = now_ns() + (__u64)(CT_BUDGET_S * NSEC_PER_SEC);
	for (b = 0; b < NR_CT_BACKENDS; b++)
		if (!ct_turn(b, group_path, bdf, &buf4k, &buf2m, lck0, &r[b])) {
			notef("cmp container: %s", ct_err);
			goto out;
		}
	for (b = 0; b < NR_CT_BACKENDS; b++) {
		const char *be = cmp_ct_names[b];

		snprintf(name, sizeof(name), "%s.page_pair", be);
		printf("bench: cmp %s %.3f us\n", name,
		       ct_median(r[b].lat, r[b].nlat) / 1e3);
		for (w = CT_BUF_4K; w < NR_CT_WORKS; w++) {
			double div = r[b].reps[w] * 1e3;

			if (!r[b].reps[w])
				continue;
			if (w == CT_MANY)
				div *= CT_PAGES;
			printf("bench: cmp %s.%s.map %.3f us\n", be,
			       ct_work_names[w], r[b].map_ns[w] / div);
			printf("bench: cmp %s.%s.unmap %.3f us\n", be,
			       ct_work_names[w], r[b].unmap_ns[w] / div);
		}
	}
out:
	buf_free(&buf2m);
	buf_free(&buf4k);
	for (b = 0; b < NR_CT_BACKENDS; b++)
		free(r[b].lat);
	if (pci_binding_restore(&saved))
		notef("cmp container: cannot give %s back: %s", saved.bdf,
		      strerror(errno));
}

static int bench_compare(const char *phase)
{
	struct cmp_dom d = { .name = phase, .vfio_fd = -1 };
	bool ok;
	int pf;

	run_end = now_ns() + 3600 * NSEC_PER_SEC;
	if (!strcmp(phase, "mock")) {
		__u32 ioas_id;

		cmp_trivial();
		ioas_id = ioas_alloc();
		cmp_page_fixed("nodomain", ioas_id);
		destroy(ioas_id);
		cmp_access("4k", page_size);
		cmp_access("1g", GIB);
		pf = open("/dev/pin_floor", O_RDWR);
		if (pf < 0)
			notef("cmp floor: no /dev/pin_floor (%s): no floor figures",
			      strerror(errno));
		ok = cmp_dom_mock(&d);
		if (ok) {
			cmp_page_fixed(d.name, d.ioas_id);
			cmp_memory(&d, pf);
			cmp_areas(&d);
			cmp_nested(&d);
			cmp_dirty();
		}
		if (pf >= 0)
			close(pf);
	} else if (!strcmp(phase, "vtd")) {
		ok = cmp_dom_vtd(&d);
		if (ok) {
			cmp_page_fixed(d.name, d.ioas_id);
			cmp_memory(&d, -1);
			cmp_areas(&d);
		}
		cmp_dom_free(&d);
		cmp_container();
	} else {
		fail("compare: unknown phase %s (mock, vtd)", phase);
	}
	cmp_dom_free(&d);
	return ok ? 0 : 1;
}

/* Can this kernel attach the variant's device? Say so if not. */
static bool variant_works(const struct domain_variant *dv)
{
	__u32 ioas_id, attach_id;
	int err;

	if (!dv->attach)
		return true;
	ioas_id = ioas_alloc();
	attach_id = dv->attach(ioas_id);
	err = errno;
	if (attach_id)
		destroy(attach_id);
	destroy(ioas_id);
	if (!attach_id)
		notef("%s: skipped, attaching failed: %s", dv->name,
		      strerror(err));
	return attach_id;
}

int main(int argc, char **argv)
{
	const struct domain_variant *dv;
	__u64 start;
	bool ok;

	setvbuf(stdout, NULL, _IOLBF, 0);
	start = now_ns();
	page_size = sysconf(_SC_PAGESIZE);
	print_header();

	iommufd = open("/dev/iommu", O_RDWR);
	if (iommufd < 0)
		die(errno, "open /dev/iommu");
	if (argc == 3 && !strcmp(argv[1], "compare"))
		return bench_compare(argv[2]);

	for (dv = variants; dv->name; dv++) {
		if (!variant_works(dv))
			continue;
		run_end = now_ns() + (__u64)(RUN_BUDGET_S * NSEC_PER_SEC);
		bench_latency(dv);
		bench_map_unmap(dv);
		bench_area_scaling(dv);
	}
	ok = bench_container();
	bench_dirty();

	if (close(iommufd))
		die(errno, "close");
	figure("total", (double)(now_ns() - start) / NSEC_PER_SEC, "s",
	       "run_time");
	return ok ? 0 : 1;
}
