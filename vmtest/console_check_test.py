#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""Self-test of console_check.py on synthetic console logs.

The logs are built from an excerpt of a real console log of a sequential
run: the same programs' output is interleaved, in the form the guest
gives it when it runs tests at the same time ('[ time] IOMMUFD-OUT
<program>: <line>' records in the kernel log), and kernel reports are
injected: a WARNING, a KASAN report, a lockdep report, kmemleak reports
and splats of tasks that are no test program. Each check says which test
console_check.py must fail, and that no other test fails.

Usage: python3 vmtest/console_check_test.py [-v]
Runs in well under a second; exits non-zero if a check fails.
"""
import os
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import console_check  # noqa: E402

# From build/console.log of a sequential run (6.1.192-iommufd #7): the end
# of boot, two of the test programs and the end of the run.
REAL_LOG = """\
[   30.312588] input: ImExPS/2 Generic Explorer Mouse as /devices/platform/i8042/serio1/input/input3
[   30.333460] Freeing unused kernel image (initmem) memory: 1060K
[   30.333922] Write protecting the kernel read-only data: 16384k
[   30.373479] Freeing unused kernel image (text/rodata gap) memory: 2044K
[   30.389527] Freeing unused kernel image (rodata/data gap) memory: 1344K
[   30.391100] Run /init as init process
IOMMUFD-GUEST: kernel 6.1.192-iommufd, mode test
IOMMUFD-GUEST: hugetlb pages 64
IOMMUFD-GUEST: iommu group 0: 0000:00:00.0(0x8086:0x29c0,none)
IOMMUFD-GUEST: iommu group 1: 0000:00:01.0(0x1234:0x11e8,none)
IOMMUFD-GUEST: iommu group 2: 0000:00:02.0(0x1234:0x11e8,none)
IOMMUFD-GUEST: iommu group 3: 0000:00:03.0(0x1b36:0x000e,none) 0000:01:01.0(0x1234:0x11e8,none) 0000:01:02.0(0x1af4:0x1005,virtio-pci)
IOMMUFD-GUEST: iommu group 4: 0000:00:1f.0(0x8086:0x2918,none) 0000:00:1f.2(0x8086:0x2922,none) 0000:00:1f.3(0x8086:0x2930,none)
IOMMUFD-TEST-BEGIN iommufd
TAP version 13
1..13
# Starting 13 tests from 2 test cases.
#  RUN           global.open_close ...
#            OK  global.open_close
ok 1 global.open_close
#  RUN           global.close_frees_everything ...
#            OK  global.close_frees_everything
ok 2 global.close_frees_everything
#  RUN           iommufd.destroy_bad_id ...
#            OK  iommufd.destroy_bad_id
ok 3 iommufd.destroy_bad_id
#  RUN           iommufd.ioas_alloc_destroy ...
#            OK  iommufd.ioas_alloc_destroy
ok 4 iommufd.ioas_alloc_destroy
#  RUN           iommufd.ioas_alloc_bad_flags ...
#            OK  iommufd.ioas_alloc_bad_flags
ok 5 iommufd.ioas_alloc_bad_flags
#  RUN           iommufd.ioas_alloc_efault ...
#            OK  iommufd.ioas_alloc_efault
ok 6 iommufd.ioas_alloc_efault
#  RUN           iommufd.ioas_ids_are_per_context ...
#            OK  iommufd.ioas_ids_are_per_context
ok 7 iommufd.ioas_ids_are_per_context
#  RUN           iommufd.iova_ranges_empty_ioas ...
#            OK  iommufd.iova_ranges_empty_ioas
ok 8 iommufd.iova_ranges_empty_ioas
#  RUN           iommufd.iova_ranges_emsgsize ...
#            OK  iommufd.iova_ranges_emsgsize
ok 9 iommufd.iova_ranges_emsgsize
#  RUN           iommufd.iova_ranges_bad_input ...
#            OK  iommufd.iova_ranges_bad_input
ok 10 iommufd.iova_ranges_bad_input
#  RUN           iommufd.unknown_ioctl ...
#            OK  iommufd.unknown_ioctl
ok 11 iommufd.unknown_ioctl
#  RUN           iommufd.cmd_length ...
# iommufd.c:417:cmd_length:IOMMU_DESTROY
# iommufd.c:417:cmd_length:IOMMU_IOAS_ALLOC
# iommufd.c:417:cmd_length:IOMMU_IOAS_IOVA_RANGES
# iommufd.c:417:cmd_length:IOMMU_IOAS_ALLOW_IOVAS
# iommufd.c:417:cmd_length:IOMMU_IOAS_MAP
# iommufd.c:417:cmd_length:IOMMU_IOAS_COPY
# iommufd.c:417:cmd_length:IOMMU_IOAS_UNMAP
#            OK  iommufd.cmd_length
ok 12 iommufd.cmd_length
#  RUN           iommufd.alloc_destroy_cycles ...
# iommufd.c:475:alloc_destroy_cycles:100000 alloc/destroy cycles in 85990 ms
#            OK  iommufd.alloc_destroy_cycles
ok 13 iommufd.alloc_destroy_cycles
# PASSED: 13 / 13 tests passed.
# Totals: pass:13 fail:0 xfail:0 xpass:0 skip:0 error:0
IOMMUFD-TEST-END iommufd rc=0
IOMMUFD-TEST-BEGIN iommufd_reserved
TAP version 13
1..9
# Starting 9 tests from 2 test cases.
#  RUN           reserved.iova_ranges_skip_it ...
#            OK  reserved.iova_ranges_skip_it
ok 1 reserved.iova_ranges_skip_it
#  RUN           reserved.second_reservation ...
#            OK  reserved.second_reservation
ok 2 reserved.second_reservation
#  RUN           reserved.fixed_map_refused ...
#            OK  reserved.fixed_map_refused
ok 3 reserved.fixed_map_refused
#  RUN           reserved.auto_map_avoids_it ...
#            OK  reserved.auto_map_avoids_it
ok 4 reserved.auto_map_avoids_it
#  RUN           reserved.conflicts ...
#            OK  reserved.conflicts
ok 5 reserved.conflicts
#  RUN           reserved.survives_unmap_all ...
#            OK  reserved.survives_unmap_all
ok 6 reserved.survives_unmap_all
#  RUN           reserved.bad_input ...
#            OK  reserved.bad_input
ok 7 reserved.bad_input
#  RUN           reserved.cmd_length ...
#            OK  reserved.cmd_length
ok 8 reserved.cmd_length
#  RUN           reserved.destroy_with_reservations ...
#            OK  reserved.destroy_with_reservations
ok 9 reserved.destroy_with_reservations
# PASSED: 9 / 9 tests passed.
# Totals: pass:9 fail:0 xfail:0 xpass:0 skip:0 error:0
IOMMUFD-TEST-END iommufd_reserved rc=0
IOMMUFD-GUEST: kmemleak scan
IOMMUFD-GUEST: kmemleak scan done
IOMMUFD-GUEST: done
[  239.212354] ACPI: PM: Preparing to enter system sleep state S5
[  239.234730] reboot: Power down
"""

# Shaped like a real KASAN report of this kernel (one at boot, in
# build/bench-debug.log once), but in a test program's task.
KASAN = """\
==================================================================
BUG: KASAN: use-after-free in iopt_unmap_iova+0x1f/0x30
Read of size 8 at addr ff1100006d431b00 by task iommufd/70

CPU: 0 PID: 70 Comm: iommufd Not tainted 6.1.192-iommufd #7
Call Trace:
 <TASK>
 dump_stack_lvl+0x4c/0x5f
 kasan_report+0xd7/0x180
 iopt_unmap_iova+0x1f/0x30
 </TASK>

Allocated by task 70:
 kasan_save_stack+0x1e/0x40
Freed by task 70:
 kasan_save_stack+0x1e/0x40
=================================================================="""

WARNING = """\
------------[ cut here ]------------
WARNING: CPU: 1 PID: {pid} at drivers/iommu/iommufd/io_pagetable.c:321 iopt_area_split+0x1a/0x2b
Modules linked in:
CPU: 1 PID: {pid} Comm: {comm} Not tainted 6.1.192-iommufd #7
Hardware name: QEMU Standard PC (Q35 + ICH9, 2009), BIOS 1.16.2-debian-1.16.2-1 04/01/2014
RIP: 0010:iopt_area_split+0x1a/0x2b
Call Trace:
 <TASK>
 iommufd_ioas_unmap+0x10/0x20
 </TASK>
---[ end trace 0000000000000000 ]---"""

LOCKDEP = """\
======================================================
WARNING: possible circular locking dependency detected
6.1.192-iommufd #7 Not tainted
------------------------------------------------------
iommufd/70 is trying to acquire lock:
ffff888004f3a0a8 (&iopt->iova_rwsem){++++}-{3:3}, at: iopt_map_pages+0x5d/0x1c0

but task is already holding lock:
ffff888004f3a070 (&ioas->mutex){+.+.}-{3:3}, at: iommufd_ioas_map+0x9a/0x1b0

which lock already depends on the new lock.

stack backtrace:
CPU: 0 PID: 70 Comm: iommufd Not tainted 6.1.192-iommufd #7
Call Trace:
 <TASK>
 dump_stack_lvl+0x4c/0x5f
 </TASK>"""

LEAK = """\
unreferenced object 0xffff888005a1c100 (size 64):
  comm "{comm}", pid 77, jiffies {jiffies}
  hex dump (first 32 bytes):
    00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00  ................
  backtrace:
    [<000000009c3e5f1a>] kmalloc_trace+0x26/0x60
    [<00000000b1a2c3d4>] iopt_alloc_area+0x1c/0x80
    [<00000000e5f6a7b8>] iopt_map_pages+0x5d/0x1c0"""

# Jiffies at the first clock mark, at 31.0 s, and per second: HZ is 250,
# but under TCG the tick falls behind the printk clock.
J0 = 4294969296
JIFFIES_PER_S = 250 * 0.97


def split_real_log():
    """The boot lines, each program's output, and the end of the run."""
    boot, progs, tail, cur = [], {}, [], None
    for line in REAL_LOG.splitlines():
        if line.startswith('IOMMUFD-TEST-BEGIN '):
            cur = line.split()[1]
            progs[cur] = []
        elif line.startswith('IOMMUFD-TEST-END '):
            cur = None
        elif cur:
            progs[cur].append(line)
        elif progs:
            tail.append(line)
        else:
            boot.append(line)
    return boot, progs, tail


def stamp(t, text):
    return f'[{t:12.6f}] {text}'


class Parallel:
    """A console log of two programs run at the same time."""

    def __init__(self, clock=True):
        boot, progs, self.tail = split_real_log()
        self.lines = list(boot)
        self.lines.append('IOMMUFD-GUEST: running the tests, 2 at a time')
        # iommufd prints a line every 50 ms, iommufd_reserved every 70
        # ms, both from 31 s on: their lines interleave unevenly.
        events = []
        if clock:
            events.append((31.0, f'IOMMUFD-CLOCK jiffies={J0} cpu_clk_ms=31000.000000'))
        for name, step in (('iommufd', 0.05), ('iommufd_reserved', 0.07)):
            t = 31.0 + step
            events.append((t, f'IOMMUFD-TEST-BEGIN {name}'))
            for line in progs[name]:
                t += step
                events.append((t, f'IOMMUFD-OUT {name}: {line}'))
            events.append((t + step, f'IOMMUFD-TEST-END {name} rc=0'))
        events.sort(key=lambda e: e[0])
        self.events = events
        self.lines += [stamp(t, text) for t, text in events]
        self.lines += self.tail[:1]  # IOMMUFD-GUEST: kmemleak scan
        self.end = ['IOMMUFD-GUEST: kmemleak scan done', 'IOMMUFD-GUEST: done']
        if clock:
            j1 = J0 + round(29 * JIFFIES_PER_S)
            self.lines.append(stamp(60.0, f'IOMMUFD-CLOCK jiffies={j1} '
                                          'cpu_clk_ms=60000.000000'))

    def test_at(self, prog, t):
        """The test program prog had begun last at time t."""
        test = None
        for when, text in self.events:
            if when <= t and text.startswith(f'IOMMUFD-OUT {prog}: #  RUN'):
                test = f'{prog}:{text.split()[4]}'
        return test

    def time_of(self, anchor):
        for t, text in self.events:
            if anchor in text:
                return t
        raise KeyError(anchor)

    def inject_after(self, anchor, report, between=None):
        """Put a kernel report right after the first line with anchor;
        with between, that line comes after each line of the report (as
        another program's output would)."""
        for i, line in enumerate(self.lines):
            if anchor in line:
                t = float(line[1:13]) + 0.001
                new = []
                for r in report.splitlines():
                    new.append(stamp(t, r))
                    if between:
                        new.append(stamp(t, between))
                self.lines[i + 1:i + 1] = new
                return
        raise KeyError(anchor)

    def add_leak(self, comm, t):
        """A kmemleak report for an object allocated at time t."""
        jiffies = J0 + round((t - 31.0) * JIFFIES_PER_S)
        self.lines += LEAK.format(comm=comm, jiffies=jiffies).splitlines()

    def log(self):
        return self.lines + self.end


def run(lines):
    progress = []
    c = console_check.Checker(say=progress.append)
    for line in lines:
        c.feed(line)
    return c.finish(), progress


class Test:
    def __init__(self, verbose):
        self.verbose = verbose
        self.failed = 0
        self.passed = 0
        seq, _ = run(REAL_LOG.splitlines())
        # Every result the two programs give, by name.
        self.all = [r.split()[1] for r in seq if r.split()[1].startswith('iommufd')]

    def check(self, what, lines, fail=(), note=None):
        """Run the checker on lines: exactly the results named in fail
        must fail, every other test must pass, and a result line must
        contain note."""
        out, progress = run(lines)
        problems = []
        # 'FAIL iommufd:iommufd.cmd_length: kernel splat: ...' names
        # iommufd:iommufd.cmd_length; 'FAIL splat during boot: ...' names
        # 'splat during boot'.
        names = {line.split(' ', 1)[1].split(': ', 1)[0]: line.split()[0]
                 for line in out}
        fails = {n for n, verdict in names.items() if verdict == 'FAIL'}
        if fails != set(fail):
            problems.append(f'failed {sorted(fails)}, expected {sorted(fail)}')
        missing = set(self.all) - set(names)
        if missing:
            problems.append(f'results missing: {sorted(missing)}')
        extra = set(names) - set(self.all) - set(fail) - {'vm'}
        if extra:
            problems.append(f'results no test gave: {sorted(extra)}')
        if note and not any(note in line for line in out):
            problems.append(f'no result line says {note!r}')
        if problems:
            self.failed += 1
            print(f'FAIL {what}')
            for p in problems:
                print(f'    {p}')
            for line in out:
                if not line.startswith('PASS'):
                    print(f'    | {line}')
        else:
            self.passed += 1
            print(f'ok   {what}')
        if self.verbose:
            for line in progress:
                print(f'    > {line}')
            for line in out:
                print(f'    | {line}')
        return out


def main():
    t = Test('-v' in sys.argv)
    real = REAL_LOG.splitlines()
    t.check('the real sequential log: all PASS', real)
    t.check('a clean interleaved log of two programs: all PASS', Parallel().log())

    # Sequential runs keep their old rules.
    seq = list(real)
    i = seq.index('#  RUN           reserved.conflicts ...')
    seq[i + 1:i + 1] = [stamp(40.0, r) for r in
                        WARNING.format(pid=71, comm='iommufd_reserve').splitlines()]
    t.check('sequential: a WARNING fails the running test',
            seq, fail=['iommufd_reserved:reserved.conflicts', 'vm'])
    seq = list(real)
    seq[i + 1:i + 1] = [stamp(40.0, r) for r in
                        WARNING.format(pid=9, comm='kworker/1:2').splitlines()]
    t.check('sequential: a kworker WARNING fails the running test too',
            seq, fail=['iommufd_reserved:reserved.conflicts', 'vm'])

    seq = list(real)
    i = seq.index('ok 4 reserved.auto_map_avoids_it')
    seq[i + 1:i + 1] = [stamp(40.0, r) for r in
                        WARNING.format(pid=9, comm='kworker/1:2').splitlines()]
    t.check('sequential: a kworker WARNING between two tests fails the one before',
            seq, fail=['iommufd_reserved:reserved.auto_map_avoids_it', 'vm'])
    seq = list(real)
    seq[i + 1:i + 1] = [stamp(40.0, r) for r in
                        WARNING.format(pid=71, comm='iommufd_reserve').splitlines()]
    t.check('sequential: its own WARNING between two tests fails the one after',
            seq, fail=['iommufd_reserved:reserved.conflicts', 'vm'])

    p = Parallel()
    p.inject_after('iommufd_reserved: #  RUN           reserved.conflicts',
                   WARNING.format(pid=71, comm='iommufd_reserve'))
    t.check('WARNING, Comm: of a program (cut to 15 characters)', p.log(),
            fail=['iommufd_reserved:reserved.conflicts', 'vm'])

    p = Parallel()
    p.inject_after('iommufd_reserved: #  RUN           reserved.fixed_map_refused',
                   KASAN)
    t.check('KASAN report, by task iommufd/70, while the other program is in a test',
            p.log(), fail=['iommufd:iommufd.ioas_alloc_destroy', 'vm'])

    p = Parallel()
    p.inject_after('iommufd: #  RUN           iommufd.cmd_length', LOCKDEP)
    t.check('lockdep report, iommufd/70 is trying to acquire lock',
            p.log(), fail=['iommufd:iommufd.cmd_length', 'vm'])

    p = Parallel()
    p.inject_after('iommufd_reserved: ok 4 reserved.auto_map_avoids_it',
                   WARNING.format(pid=71, comm='iommufd_reserve'))
    t.check('WARNING between two tests of its program: the next test '
            '(its RUN line was still in the pipe)', p.log(),
            fail=['iommufd_reserved:reserved.conflicts', 'vm'])

    p = Parallel()
    anchor = 'iommufd: #  RUN           iommufd.iova_ranges_emsgsize'
    p.inject_after(anchor, WARNING.format(pid=12, comm='kworker/0:1'))
    other = p.test_at('iommufd_reserved', p.time_of(anchor))
    t.check(f'WARNING of a kworker while two tests run: both fail ({other} too)',
            p.log(), fail=['iommufd:iommufd.iova_ranges_emsgsize', other, 'vm'],
            note='no test program: charged to each of the 2 tests running')

    p = Parallel()
    p.inject_after('iommufd_reserved: #  RUN           reserved.conflicts',
                   WARNING.format(pid=71, comm='iommufd_reserve'),
                   between='IOMMUFD-OUT iommufd: # iommufd.c:417:cmd_length:x')
    t.check('WARNING with the other program\'s output between its lines', p.log(),
            fail=['iommufd_reserved:reserved.conflicts', 'vm'])

    p = Parallel()
    p.inject_after('iommufd_reserved: #  RUN           reserved.conflicts',
                   WARNING.format(pid=71, comm='iommufd_reserve') + '\n' +
                   WARNING.format(pid=70, comm='iommufd'))
    other = p.test_at('iommufd', p.time_of('reserved: #  RUN           reserved.conflicts'))
    t.check(f'two WARNINGs in a row, one of each program ({other})', p.log(),
            fail=['iommufd_reserved:reserved.conflicts', other, 'vm'])

    p = Parallel()
    p.inject_after('iommufd: #  RUN           iommufd.cmd_length',
                   '\n'.join(WARNING.format(pid=70, comm='iommufd').splitlines()[3:]))
    t.check('a bare backtrace (dump_stack) names its task before Call Trace',
            p.log(), fail=['iommufd:iommufd.cmd_length', 'vm'])

    p = Parallel()
    p.inject_after('Run /init', WARNING.format(pid=1, comm='swapper/0'))
    t.check('WARNING during boot', p.log(), fail=['splat during boot', 'vm'])

    p = Parallel()
    t_leak = (p.time_of('iommufd_reserved: #  RUN           reserved.bad_input') +
              p.time_of('iommufd_reserved: ok 7 reserved.bad_input')) / 2
    p.add_leak('iommufd_reserve', t_leak)
    t.check('kmemleak report, comm "iommufd_reserve", dated into a test',
            p.log(), fail=['iommufd_reserved:reserved.bad_input', 'vm'],
            note='allocated by iopt_alloc_area')

    p = Parallel(clock=False)
    p.add_leak('iommufd', 40.0)
    t.check('kmemleak report without clock marks: the program', p.log(),
            fail=['splat during iommufd', 'vm'], note='allocated by iopt_alloc_area')

    p = Parallel()
    p.add_leak('softirq', 40.0)
    t.check('kmemleak report of no test program: the kmemleak scan', p.log(),
            fail=['splat during kmemleak scan', 'vm'])

    seq = list(real)
    i = seq.index('IOMMUFD-GUEST: kmemleak scan done')
    seq[i:i] = LEAK.format(comm='iommufd', jiffies=J0).splitlines()
    t.check('sequential: kmemleak report of a program', seq,
            fail=['splat during iommufd', 'vm'])

    p = Parallel()
    p.lines = [x for x in p.lines if 'IOMMUFD-TEST-END iommufd_reserved' not in x]
    t.check('a program that never ends', p.log(),
            fail=['iommufd_reserved'], note='the test program did not finish')

    p = Parallel()
    i = p.lines.index(stamp(31.15, 'IOMMUFD-OUT iommufd: 1..13'))
    p.lines.insert(i + 1, stamp(31.15, 'IOMMUFD-OUT+ iommufd: ok 99 not.a_result'))
    t.check('the rest of a cut long line is no result', p.log())

    # The script itself, as check.sh runs it.
    with tempfile.TemporaryDirectory() as d:
        logf, resf = os.path.join(d, 'console.log'), os.path.join(d, 'results')
        p = Parallel()
        p.inject_after('iommufd: #  RUN           iommufd.cmd_length', LOCKDEP)
        text = '\n'.join(p.log()) + '\n'
        here = os.path.dirname(os.path.abspath(__file__))
        script = os.path.join(here, 'console_check.py')
        subprocess.run([sys.executable, script, logf, resf], input=text.encode(),
                       stdout=subprocess.DEVNULL, check=True)
        ok = (open(logf).read() == text and
              'FAIL iommufd:iommufd.cmd_length: kernel splat:' in open(resf).read())
        print(f'{"ok  " if ok else "FAIL"} console_check.py LOG RESULTS < console')
        t.passed += ok
        t.failed += not ok

    print(f'console_check_test: {t.passed} checks passed, {t.failed} failed')
    sys.exit(1 if t.failed else 0)


if __name__ == '__main__':
    main()
