#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""Read the guest console, show progress, and judge the run.

The guest prints IOMMUFD-TEST-BEGIN/END around each test program, and the
kselftest harness prints '#  RUN fixture.test' and 'ok N name' / 'not ok N
name' lines. Every kernel splat (BUG, WARNING, KASAN, UBSAN, lockdep,
kmemleak, Oops, ...) fails the run and is charged to the test that was
running when it appeared. A guest that never reaches its final line hung
or crashed, which fails too.

Usage: console_check.py LOGFILE RESULTFILE < console
RESULTFILE gets one line per result: 'PASS name', 'FAIL name: why' or
'SKIP name'.
"""
import re
import sys

SPLAT = re.compile(
    r'BUG:|WARNING:|KASAN:|UBSAN:|possible circular locking|'
    r'inconsistent lock state|possible recursive locking|'
    r'suspicious RCU usage|lock held when returning|'
    r'unreferenced object|Oops|Call Trace|Kernel panic|'
    r'general protection fault|INFO: task .* blocked|'
    r'lockdep is turned off|list_add corruption|list_del corruption')
TAP = re.compile(r'^(not ok|ok) \d+ (\S+)(.*)$')
RUN = re.compile(r'^#\s+RUN\s+(\S+)')


def main():
    logf = open(sys.argv[1], 'w')
    results = []
    program = None
    test = None
    phase = 'boot'
    done = False
    splats = []
    ended = set()
    leak = None  # index in splats of the kmemleak report being read
    for raw in sys.stdin.buffer:
        line = raw.decode('utf-8', 'replace').rstrip('\r\n')
        logf.write(line + '\n')
        logf.flush()
        text = line.strip()
        m = re.search(r'IOMMUFD-TEST-BEGIN (\S+)', text)
        if m:
            program, test, phase = m.group(1), None, m.group(1)
            print(f'  running {program}', flush=True)
            continue
        m = re.search(r'IOMMUFD-TEST-END (\S+) rc=(\d+)', text)
        if m:
            ended.add(m.group(1))
            print(f'  {m.group(1)} exited with {m.group(2)}', flush=True)
            program, test, phase = None, None, 'after tests'
            continue
        if 'IOMMUFD-GUEST: kmemleak scan' in text and 'done' not in text:
            phase = 'kmemleak scan'
        if 'IOMMUFD-DEMO-END' in text:
            results.append(('PASS' if text.endswith('rc=0') else 'FAIL',
                            'demo', text))
        if text.startswith('demo:'):
            print('  ' + text, flush=True)
        if 'IOMMUFD-GUEST: done' in text:
            done = True
        m = RUN.match(text)
        if m and program:
            test = m.group(1)
            continue
        m = TAP.match(text)
        if m and program:
            name = f'{program}:{m.group(2)}'
            rest = m.group(3)
            if '# SKIP' in rest:
                verdict = 'SKIP'
            else:
                verdict = 'PASS' if m.group(1) == 'ok' else 'FAIL'
            results.append((verdict, name, ''))
            print(f'  {verdict} {name}', flush=True)
            continue
        # Name a leak by who allocated it: the first frame of its
        # backtrace that is not the allocator itself.
        m = re.match(r'\[<[0-9a-f]+>\] (\S+)', text)
        if m and leak is not None:
            frame = m.group(1)
            if not re.match(r'(__)?(kmem_cache|kmalloc|kmemleak|slab|'
                            r'__kmalloc|kzalloc|alloc_pages|__alloc)',
                            frame):
                where, msg = splats[leak]
                splats[leak] = (where, f'{msg}, allocated by {frame}')
                print(f'    allocated by {frame}', flush=True)
                leak = None
            continue
        if SPLAT.search(text):
            where = f'{program}:{test}' if program and test else phase
            splats.append((where, text))
            leak = len(splats) - 1 if 'unreferenced object' in text else None
            print(f'  SPLAT during {where}: {text}', flush=True)

    # A splat fails the test it happened in, even if the test said ok.
    failed_by_splat = {}
    for where, text in splats:
        failed_by_splat.setdefault(where, text)
    out = []
    for verdict, name, _ in results:
        if name in failed_by_splat:
            out.append(f'FAIL {name}: kernel splat: {failed_by_splat.pop(name)}')
        else:
            out.append(f'{verdict} {name}')
    for where, text in failed_by_splat.items():
        out.append(f'FAIL splat during {where}: {text}')
    for p in sorted(set(r[1].split(':')[0] for r in results) - ended - {'demo'}):
        out.append(f'FAIL {p}: the test program did not finish')
    if not done:
        out.append('FAIL vm: the guest did not finish (hang, crash or timeout)')
    elif not results:
        out.append('FAIL vm: the guest ran no test')
    else:
        out.append('PASS vm: guest finished, console clean' if not splats
                   else 'FAIL vm: kernel splats in the console log')
    with open(sys.argv[2], 'w') as f:
        f.write('\n'.join(out) + '\n')


if __name__ == '__main__':
    main()
