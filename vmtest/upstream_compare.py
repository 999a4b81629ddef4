#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""Compare upstream 6.12's selftests on upstream 6.12 and on our kernel.

Usage: upstream_compare.py PREFIX UPSTREAM_RESULTS OUR_RESULTS

Each results file is console_check.py's: 'PASS prog:case', 'FAIL
prog:case: why', 'SKIP prog:case', plus lines about whole programs and
the VM. PREFIX is what the guest's program names start with; it is left
out of the names printed. Prints one line per test case (its verdict on
upstream, then on ours) and the summary; exits 1 if a case that passes on
upstream does not pass on ours (a regression), 2 if upstream's own run
passed nothing (it is no referee then).
"""
import sys


def read(path, prefix):
    """{case: (verdict, why)} of the test cases in a results file."""
    cases = {}
    with open(path) as f:
        for line in f:
            verdict, _, rest = line.rstrip('\n').partition(' ')
            name, _, why = rest.partition(': ')
            if not name.startswith(prefix) or ':' not in name:
                continue
            name = name[len(prefix):]
            # A case that passed and then met a splat is listed twice.
            if cases.get(name, ('PASS',))[0] != 'FAIL':
                cases[name] = (verdict, why)
    return cases


def main():
    prefix, up_path, ours_path = sys.argv[1:4]
    up = read(up_path, prefix)
    ours = read(ours_path, prefix)
    passing = [c for c in up if up[c][0] == 'PASS']
    regressions = [c for c in passing if ours.get(c, ('MISSING',))[0] != 'PASS']
    print(f'{"upstream":8} {"ours":8} test case')
    for case in list(up) + [c for c in ours if c not in up]:
        u = up.get(case, ('-',))[0]
        o = ours.get(case, ('MISSING',))[0]
        print(f'{u:8} {o:8} {case}')
    print()
    print(f'{len(passing)} cases pass on upstream 6.12; '
          f'{len(passing) - len(regressions)} of them pass on ours; '
          f'{len(regressions)} regressions')
    for case in regressions:
        verdict, why = ours.get(case, ('MISSING', 'no result on ours'))
        print(f'  regression: {case}: {verdict}{": " + why if why else ""}')
    if not passing:
        print('upstream 6.12 passed no test case: no referee')
        return 2
    return 1 if regressions else 0


if __name__ == '__main__':
    sys.exit(main())
