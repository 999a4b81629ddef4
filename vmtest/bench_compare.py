#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""make bench's table: our kernel beside upstream 6.12.

Reads the consoles bench.sh saved, <kernel>-<phase>-r<round>.log in DIR,
takes each figure's median over the rounds, and prints, per figure, ours,
upstream's, the ratio ours/upstream (below 1: ours is faster) and the
goals of issue 11 as PASS/FAIL lines. The goals are measurements: the
exit status is 0 whatever they say (non-zero only if no figure was read).

usage: bench_compare.py DIR OURS UPSTREAM
"""
import glob
import os
import re
import statistics
import sys

FIG = re.compile(r'^bench: (cmp|cmpinfo) (\S+) (\S+) (\S+)')
# Figures that are not iommufd's code on either side: the goal "ours at
# least 1.2x faster" does not apply to them (they are the reference the
# others are read against: mm's pinning, VFIO's own type1, and ref.*, the
# base kernel: ref.getppid is the cost of a system call that does nothing).
REF = ('floor.', 'type1.', 'ref.')
SPEEDUP = 1.2


def read(directory, kernel):
    """{name: [values over rounds]}, {name: unit}, order, notes."""
    values, units, order, notes = {}, {}, [], []
    files = sorted(glob.glob(os.path.join(directory, kernel + '-*-r*.log')))
    # mock before vtd, whatever the file names sort as
    files.sort(key=lambda f: ('-vtd-' in f, f))
    for path in files:
        with open(path, errors='replace') as f:
            for line in f:
                line = line.rstrip('\r\n')
                m = FIG.match(line)
                if m:
                    kind, name, value, unit = m.groups()
                    if kind == 'cmpinfo':
                        name = 'info:' + name
                    if name not in values:
                        values[name] = []
                        order.append(name)
                    units[name] = unit
                    if value != 'n/a':
                        try:
                            values[name].append(float(value))
                        except ValueError:
                            # a kernel message cut into the line
                            notes.append('%s: garbled: %s'
                                         % (os.path.basename(path), line))
                elif line.startswith('bench: header kernel '):
                    notes.append('kernel: ' + line.split()[3])
                elif line.startswith(('bench: error', 'bench: note cmp')):
                    notes.append('%s: %s' % (os.path.basename(path), line))
    return values, units, order, notes


def med(v):
    return statistics.median(v) if v else None


def spread(v):
    """(max - min) / median over the rounds, in %."""
    if len(v) < 2 or not statistics.median(v):
        return None
    return 100.0 * (max(v) - min(v)) / statistics.median(v)


def fmt(x):
    if x is None:
        return 'n/a'
    if x >= 1000:
        return '%.0f' % x
    if x >= 10:
        return '%.1f' % x
    return '%.3g' % x


def main():
    directory, ours, ups = sys.argv[1:4]
    ov, ou, order, onotes = read(directory, ours)
    uv, _, uorder, unotes = read(directory, ups)
    for name in uorder:
        if name not in ov:
            order.append(name)
    if not order:
        print('bench: no figures found in %s' % directory)
        return 1
    # one log per phase and round: the rounds of the phase run most
    phases = {}
    for path in glob.glob(os.path.join(directory, ours + '-*-r*.log')):
        phase = os.path.basename(path)[len(ours) + 1:].rsplit('-r', 1)[0]
        phases[phase] = phases.get(phase, 0) + 1
    rounds = max(phases.values(), default=0)

    def release(notes):
        rel = sorted({n[8:] for n in notes if n.startswith('kernel: ')})
        return ', '.join(rel) or '?'

    print('make bench: ours = %s (%s), upstream = %s (%s), QEMU TCG;'
          % (release(onotes), ours, release(unotes), ups))
    onotes = [n for n in onotes if not n.startswith('kernel: ')]
    unotes = [n for n in unotes if not n.startswith('kernel: ')]
    print('each figure is the median over %d rounds (one boot per kernel'
          ' and phase) of a median' % rounds)
    print('of repeats in the boot; times in us; ratio = ours / upstream'
          ' (< 1: ours faster);')
    print('goal = ours at least %.1fx faster (ratio <= %.3f); ref = not'
          ' iommufd code (no goal);' % (SPEEDUP, 1 / SPEEDUP))
    print('noise = largest (max - min) / median over the rounds of the'
          ' two kernels, in %;')
    print('best = ratio of the two kernels\' fastest rounds: the host'
          ' slows whole stretches')
    print('of a boot by up to 2x at times (see README), which the median'
          ' of 5 may catch on one side.')
    print()
    hdr = '%-34s %11s %11s %7s %6s %6s  %s' % ('figure', 'ours', 'upstream',
                                              'ratio', 'best', 'noise',
                                              'goal')
    print(hdr)
    print('-' * len(hdr))
    passed = failed = best_passed = 0
    for name in order:
        o, u = ov.get(name, []), uv.get(name, [])
        mo, mu = med(o), med(u)
        unit = ou.get(name, 'us')
        if name.startswith('info:'):
            print('%-34s %11s %11s %7s %6s %6s  %s' % (name[5:], fmt(mo),
                  fmt(mu), '', '', '', unit))
            continue
        vs_va = ''
        if name.endswith('.map_file') and mu is None:
            # No MAP_FILE upstream (6.12): the same memory mapped by VA.
            u = uv.get(name[:-len('_file')], [])
            mu = med(u)
            vs_va = ' (upstream: by VA)' if mu is not None else ''
        ratio = mo / mu if mo and mu else None
        best = min(o) / min(u) if o and u and min(o) and min(u) else None
        noises = [s for s in (spread(o), spread(u)) if s is not None]
        noise = '%.0f%%' % max(noises) if noises else ''
        if name.startswith(REF):
            verdict = 'ref'
        elif mo is None:
            verdict = 'FAIL (n/a on ours)'
            failed += 1
        elif mu is None:
            verdict = 'n/a upstream'
        elif ratio <= 1 / SPEEDUP:
            verdict = 'PASS'
            passed += 1
        else:
            verdict = 'FAIL'
            failed += 1
        if verdict in ('PASS', 'FAIL') and best and best <= 1 / SPEEDUP:
            best_passed += 1
        verdict += vs_va
        print('%-34s %11s %11s %7s %6s %6s  %s' % (name, fmt(mo), fmt(mu),
              '%.2f' % ratio if ratio else 'n/a',
              '%.2f' % best if best else 'n/a', noise, verdict))
    print()
    print('GOALS (measurements of this run, not a test verdict):')
    print('%s  every figure at least %.1fx upstream\'s: %d of %d pass'
          ' (%d on the best rounds)'
          % ('PASS' if not failed and passed else 'FAIL', SPEEDUP, passed,
             passed + failed, best_passed))

    def goal(ok, text):
        print('%s  %s' % ('PASS' if ok else 'FAIL', text))

    for dom in ('mock', 'vtd'):
        for b in ('thp', 'hugetlb2m', 'hugetlb1g'):
            mo = med(ov.get('%s.%s.map' % (dom, b), []))
            fo = med(ov.get('floor.%s.pin' % b, []))
            mu = med(uv.get('%s.%s.map' % (dom, b), []))
            fu = med(uv.get('floor.%s.pin' % b, []))
            r = mo / fo if mo and fo else None
            ru = ' (upstream %.1fx)' % (mu / fu) if mu and fu else ''
            goal(r is not None and r <= 2,
                 '%s %s map <= 2x pin_user_pages_fast() of the same memory:'
                 ' %s%s' % (dom, b, '%.1fx' % r if r else 'n/a', ru))
    for op in ('pin', 'read', 'write'):
        big = med(ov.get('access.1g.%s' % op, []))
        small = med(ov.get('access.4k.%s' % op, []))
        ub = med(uv.get('access.1g.%s' % op, []))
        us = med(uv.get('access.4k.%s' % op, []))
        r = big / small if big and small else None
        ru = ' (upstream %.2fx)' % (ub / us) if ub and us else ''
        goal(r is not None and r <= 2,
             'one-page access %s in a 1 GiB mapping <= 2x one in a 4 KiB'
             ' mapping: %s%s' % (op, '%.2fx' % r if r else 'n/a', ru))
    for dom in ('mock', 'vtd'):
        va = med(ov.get('%s.hugetlbfs1g.map' % dom, []))
        mf = med(ov.get('%s.hugetlbfs1g.map_file' % dom, []))
        r = va / mf if va and mf else None
        goal(r is not None and r >= 5,
             '%s MAP_FILE of 1 GiB hugetlbfs >= 5x faster than by VA: %s'
             % (dom, '%.1fx' % r if r else 'n/a (no IOMMU_IOAS_MAP_FILE)'))
    # Each distinct note once, with the boots that printed it.
    seen = {}
    for n in onotes + unotes:
        where, text = n.split(': ', 1)
        seen.setdefault(text, []).append(where[:-len('.log')])
    if seen:
        print()
        print('notes and errors of the runs:')
        for text, where in seen.items():
            print('  %s  [%s]' % (text, ', '.join(where)))
    return 0


if __name__ == '__main__':
    sys.exit(main())
