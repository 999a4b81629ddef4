#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""Read the console of a 'make fuzz' guest, show progress, judge the run.

Kernel reports are found as console_check.py finds them (every BUG,
WARNING, KASAN, UBSAN, lockdep, kmemleak report, Oops, ...), one finding
each. The guest script (vmtest/guest/fuzz) adds its own lines:

  IOMMUFD-FUZZ: <progress>
  IOMMUFD-FUZZ-SPLAT: <first line of a report, as the guest saw it>
  IOMMUFD-FUZZ-PROG <proc>: <a line of a program that proc ran>
  IOMMUFD-FUZZ-PROG+ <proc>: <the rest of a line cut to fit a kmsg record>
  IOMMUFD-FUZZ-SPLAT-END

(those four through /dev/kmsg, so timestamped like the kernel's lines)
  IOMMUFD-FUZZ-CALL <call>       (a call some program used)
  IOMMUFD-FUZZ-END programs=N calls=N

Usage: fuzz_check.py LOGFILE SUMMARYFILE < console
Exits 1 if a report was found or the guest did not finish the run.
"""
import os
import re
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import console_check  # noqa: E402

PROG = re.compile(r'IOMMUFD-FUZZ-PROG(\+?) (\S+): ?(.*)$')


class FuzzChecker:
    def __init__(self, say=None):
        self.say = say or (lambda s: print(s, flush=True))
        self.kernel = console_check.Checker(say=self.say)
        self.dumps = []  # [first report line, [(proc, program line)]]
        self.dump = None
        self.calls = []
        self.notes = []
        self.programs = None
        self.ended = False
        self.qemu_abort = None

    def feed(self, line):
        text = line.strip()
        m = console_check.TIMESTAMP.match(text)
        body = m.group(2).strip() if m else text
        if body.startswith('IOMMUFD-FUZZ-SPLAT-END'):
            self.dump = None
        elif body.startswith('IOMMUFD-FUZZ-SPLAT: '):
            self.dump = [body.split(': ', 1)[1], []]
            self.dumps.append(self.dump)
        elif body.startswith('IOMMUFD-FUZZ-SPLAT:+'):
            pass
        elif body.startswith('IOMMUFD-FUZZ-PROG'):
            m = PROG.match(body)
            if m and self.dump is not None:
                lines = self.dump[1]
                if m.group(1) and lines and lines[-1][0] == m.group(2):
                    # The rest of a line cut to fit a kmsg record.
                    lines[-1] = (m.group(2), lines[-1][1] + m.group(3))
                else:
                    lines.append((m.group(2), m.group(3)))
        elif body.startswith('IOMMUFD-FUZZ-CALL '):
            self.calls.append(body.split(' ', 1)[1])
        elif body.startswith('IOMMUFD-FUZZ-END'):
            self.ended = True
            m = re.search(r'programs=(\d+)', body)
            self.programs = int(m.group(1)) if m else None
        elif body.startswith('qemu: hardware error:'):
            # A device model gave up (edu on a DMA outside its buffer):
            # QEMU aborts the VM. Not a kernel report, but the end of the run.
            self.qemu_abort = body
        elif body.startswith('IOMMUFD-FUZZ: '):
            note = body.split(': ', 1)[1]
            self.say(f'  fuzz: {note}')
            if 'unsupported' in note or 'lack' in note or 'cannot' in note:
                self.notes.append(note)
            if note.startswith('running syz-stress'):
                self.kernel.phase = 'fuzzing'
        else:
            self.kernel.feed(line)

    def finish(self):
        """The summary lines, and whether the run was clean."""
        k = self.kernel
        if k.report and not k.report.resolved:
            k.resolve(k.report, None)
        out = [f'programs run: {self.programs if self.programs is not None else "unknown"}',
               f'calls used by those programs: {len(self.calls)}']
        out += [f'  {c}' for c in sorted(self.calls)]
        out += [f'note: {n}' for n in self.notes]
        out.append(f'kernel splats: {len(k.splats)}')
        for i, s in enumerate(k.splats, 1):
            task = f', task {s.task[0]}/{s.task[1]}' if s.task else ''
            out.append(f'SPLAT {i} during {s.phase}{task}: {s.text}')
        for first, lines in self.dumps:
            out.append(f'programs before "{first}":')
            out += [f'  [proc {p}] {text}' for p, text in lines]
        ok = True
        if k.splats:
            ok = False
        if not self.ended:
            out.append('FAIL: the fuzzer did not finish (see the console log)')
            ok = False
        if self.qemu_abort:
            out.append(f'QEMU aborted the VM: "{self.qemu_abort}": a limit of'
                       ' its device model that a fuzzed program reached, not'
                       ' a kernel report (see'
                       ' tools/testing/fuzz/vfio_pci_regions_amd64.txt)')
        if not k.done:
            out.append('FAIL: the guest did not finish (hang, crash or timeout)')
            ok = False
        if self.ended and not self.programs:
            # syz-stress needs 1-3 minutes under TCG before its first program.
            out.append('FAIL: no program ran (give FUZZ_TIME a few minutes more)')
            ok = False
        out.append('PASS fuzz: no kernel splat' if ok else 'FAIL fuzz')
        return out, ok


def main():
    c = FuzzChecker()
    console_check.feed_stdin(c, sys.argv[1])
    out, ok = c.finish()
    with open(sys.argv[2], 'w') as f:
        f.write('\n'.join(out) + '\n')
    print()
    print('\n'.join(out))
    sys.exit(0 if ok else 1)


if __name__ == '__main__':
    main()
