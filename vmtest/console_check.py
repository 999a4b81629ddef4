#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""Read the guest console, show progress, and judge the run.

The guest prints IOMMUFD-TEST-BEGIN/END around each test program, and the
kselftest harness prints '#  RUN fixture.test' and 'ok N name' / 'not ok N
name' lines. Every kernel splat (BUG, WARNING, KASAN, UBSAN, lockdep,
kmemleak, Oops, ...) fails the run and is charged to the test that was
running when it appeared. A guest that never reaches its final line hung
or crashed, which fails too.

The guest runs its test programs one at a time, each writing to the
console directly, or several at once: then every line a program prints
comes through the kernel log as 'IOMMUFD-OUT <program>: <line>', in order
and timestamped with the kernel's own messages. Either way:

- A splat is charged to the program whose task it names (the 'Comm:' line
  of a backtrace, KASAN's 'by task', lockdep's 'task/pid is ...'),
  matched on the 15 characters of a name the kernel keeps, at the test
  that program was in. Between two of its tests, it is the next one: the
  program printed that test's RUN line before the splat, but its output
  reaches the console later than the kernel's.
- A splat of any other task (a kworker, say) is charged to each program
  running at the time, at the test it was in, or, between two tests, the
  one that ended; with no program running, to the phase (boot, ...).
- A kmemleak report (after the tests) is charged to the program that
  allocated the object (comm "..."), at the test it was in at the time,
  if IOMMUFD-CLOCK lines (jiffies against the printk clock) date it; to
  the kmemleak scan if no test program allocated it.

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
    r'lockdep is turned off|list_add corruption|list_del corruption|'
    r'kernel BUG at')
# Splat lines that are part of a report already under way (a WARNING's
# or KASAN report's backtrace, the panic after an Oops), not a new one.
CONTINUES = re.compile(r'Call Trace|Oops|Kernel panic|lockdep is turned off')
TAP = re.compile(r'^(not ok|ok) \d+ (\S+)(.*)$')
RUN = re.compile(r'^#\s+RUN\s+(\S+)')
TIMESTAMP = re.compile(r'^\[\s*(\d+\.\d+)\]\s*(.*)$')
OUTPUT = re.compile(r'^IOMMUFD-OUT(\+?) (\S+?):(?: (.*))?$')
CLOCK = re.compile(r'IOMMUFD-CLOCK jiffies=(\d+)(?: cpu_clk_ms=(\d+\.\d+))?')
FRAME = re.compile(r'\[<[0-9a-f]+>\] (\S+)')
ALLOCATOR = re.compile(r'(__)?(kmem_cache|kmalloc|kmemleak|slab|'
                       r'__kmalloc|kzalloc|alloc_pages|__alloc)')
# Lines that name the task a splat happened in.
TASK = [re.compile(p) for p in (
    # dump_stack(), in every WARNING, BUG, Oops, KASAN and UBSAN report
    r'CPU: \d+ PID: (?P<pid>\d+) Comm: (?P<comm>.+?) '
    r'(?:Kdump: loaded )?(?:Not tainted|Tainted:)',
    # KASAN: 'Read of size 8 at addr ffff... by task iommufd/66'
    r'addr \S+ by task (?P<comm>.+)/(?P<pid>\d+)$',
    # lockdep
    r'^(?P<comm>.+)/(?P<pid>\d+) (?:is trying to|is leaving the kernel|'
    r'\[HC\d)',
    r'^(?:\d+ locks?|no locks) held by (?P<comm>.+)/(?P<pid>\d+)[:.]$',
    # kmemleak
    r'^comm "(?P<comm>.*)", pid (?P<pid>\d+), jiffies (?P<jiffies>\d+)',
    # might_sleep(), scheduling while atomic, hung tasks
    r'pid: (?P<pid>\d+), name: (?P<comm>.+)$',
    r'BUG: scheduling while atomic: (?P<comm>.+)/(?P<pid>\d+)/0x',
    r'INFO: task (?P<comm>.+):(?P<pid>\d+) blocked')]
# A report names its task within this many kernel lines, or never.
TASK_WITHIN = 40
# A Call Trace this many lines after a report began is still part of it.
REPORT_LINES = 150
# The kernel keeps TASK_COMM_LEN - 1 characters of a program's name.
COMM_LEN = 15
# Leeway in seconds when dating a leaked object against a test's RUN and
# result lines: a jiffy is 4 ms, and program output reaches the log a
# little after the program printed it.
LEEWAY = 0.05


def find_task(body):
    """Return (comm, pid, jiffies or None) if the line names a task."""
    for pattern in TASK:
        m = pattern.search(body)
        if m:
            d = m.groupdict()
            return d['comm'], int(d['pid']), d.get('jiffies')
    return None


class Program:
    """One test program, from IOMMUFD-TEST-BEGIN to IOMMUFD-TEST-END."""

    def __init__(self, name):
        self.name = name
        self.comm = name[:COMM_LEN]
        # [test, start, end]: each '#  RUN' line, with its timestamp and
        # that of its result line when the program's output has them.
        self.runs = []
        self.in_test = False  # its last RUN line has no result line yet
        self.ended = False
        self.waiting = []  # splats charged to its next test

    def last(self):
        """Where a splat goes once the program is done: its last test."""
        return f'{self.name}:{self.runs[-1][0]}' if self.runs else self.name


class Splat:
    """One kernel report, from its first line until its task is known."""

    def __init__(self, text, line, phase, running, snapshot):
        self.text = text
        self.line = line  # index of its first kernel line
        self.phase = phase
        self.running = running  # the programs running at its first line
        # What every program that had begun was doing at the first line:
        # name -> (number of RUN lines, inside a test).
        self.snapshot = snapshot
        self.leak = 'unreferenced object' in text
        self.jiffies = None  # when a leaked object was allocated
        self.task = None
        self.resolved = False
        self.note = ''
        self.where = []


class Checker:
    def __init__(self, say=None):
        self.say = say or (lambda s: print(s, flush=True))
        self.results = []  # (verdict, name)
        self.programs = {}  # name -> Program, in the order they began
        self.running = []  # names of the programs between BEGIN and END
        self.phase = 'boot'
        self.done = False
        self.splats = []
        self.report = None  # the last report, whose lines may still come
        self.lines = 0  # kernel lines so far
        self.free_task = None  # (task, line) of a task line no report took
        self.leak = None  # the kmemleak report awaiting its allocator
        self.clock = []  # (jiffies, seconds) from IOMMUFD-CLOCK lines

    # -- the console, line by line --------------------------------------

    def feed(self, line):
        text = line.strip()
        m = TIMESTAMP.match(text)
        ts, body = (float(m.group(1)), m.group(2).strip()) if m else (None, text)
        m = re.search(r'IOMMUFD-TEST-BEGIN (\S+)', body)
        if m:
            self.begin(m.group(1))
            return
        m = re.search(r'IOMMUFD-TEST-END (\S+) rc=(\d+)', body)
        if m:
            self.end(m.group(1), m.group(2))
            return
        m = OUTPUT.match(body)
        if m:
            # A piece of a cut long line (IOMMUFD-OUT+) is no result.
            if not m.group(1):
                self.output(m.group(2), (m.group(3) or '').strip(), ts)
            return
        m = CLOCK.search(body)
        if m:
            secs = float(m.group(2)) / 1000 if m.group(2) else ts
            if secs is not None:
                self.clock.append((int(m.group(1)), secs))
            return
        if 'IOMMUFD-GUEST: kmemleak scan' in text and 'done' not in text:
            self.phase = 'kmemleak scan'
        if 'IOMMUFD-DEMO-END' in text:
            self.results.append(('PASS' if text.endswith('rc=0') else 'FAIL',
                                 'demo'))
        if text.startswith('demo:'):
            self.say('  ' + text)
        if 'IOMMUFD-GUEST: done' in text:
            self.done = True
        # One program at a time writes to the console directly.
        if len(self.running) == 1 and (RUN.match(body) or TAP.match(body)):
            self.output(self.running[0], body, ts)
            # Unless the kernel printed into the middle of the line.
            if not re.search(r'\[\s*\d+\.\d+\]', body):
                return
        self.kernel_line(text, body)

    def begin(self, name):
        p = Program(name)
        self.programs[name] = p
        if name not in self.running:
            self.running.append(name)
        self.say(f'  running {name}')
        return p

    def end(self, name, rc):
        p = self.programs.get(name) or self.begin(name)
        p.ended = True
        if name in self.running:
            self.running.remove(name)
        # It printed no RUN line after these splats: its last test.
        for s in p.waiting:
            self.charge_to(s, p.last())
        p.waiting = []
        self.say(f'  {name} exited with {rc}')
        if not self.running:
            self.phase = 'after tests'

    def output(self, name, text, ts):
        """A line test program 'name' printed."""
        p = self.programs.get(name) or self.begin(name)
        m = RUN.match(text)
        if m:
            p.runs.append([m.group(1), ts, None])
            p.in_test = True
            for s in p.waiting:
                self.charge_to(s, f'{name}:{m.group(1)}')
            p.waiting = []
            return
        m = TAP.match(text)
        if m:
            test = f'{name}:{m.group(2)}'
            if '# SKIP' in m.group(3):
                verdict = 'SKIP'
            else:
                verdict = 'PASS' if m.group(1) == 'ok' else 'FAIL'
            self.results.append((verdict, test))
            self.say(f'  {verdict} {test}')
            if p.in_test:
                p.runs[-1][2] = ts
            p.in_test = False

    # -- kernel reports ---------------------------------------------------

    def kernel_line(self, text, body):
        self.lines += 1
        task = find_task(body)
        # Name a leak by who allocated it: the first frame of its
        # backtrace that is not the allocator itself.
        m = FRAME.match(body)
        if m and self.leak is not None:
            frame = m.group(1)
            if not ALLOCATOR.match(frame):
                self.leak.text += f', allocated by {frame}'
                self.say(f'    allocated by {frame}')
                self.leak = None
            return
        r = self.report
        if SPLAT.search(text):
            self.splat_line(text, body, task)
        elif task:
            if r and not r.resolved:
                self.resolve(r, task)
            else:
                self.free_task = (task, self.lines)
        elif r and not r.resolved and (
                '---[ end trace' in body or re.match(r'^={10,}$', body) or
                self.lines - r.line >= TASK_WITHIN):
            # The report ended, or went on too long, naming no task.
            self.resolve(r, None)

    def splat_line(self, text, body, task):
        r = self.report
        if r and not r.resolved:
            # Still in the lines before the task: 'BUG: ...' + 'Oops: ...'.
            if task:
                self.resolve(r, task)
            return
        ft = self.free_task
        if r and CONTINUES.search(body) and self.lines - r.line <= REPORT_LINES:
            # The backtrace of the report under way, unless a task line
            # came after that report's own, for another task: then this
            # is a new dump_stack(), of that task.
            if not ft or ft[1] < r.line or ft[0][:2] == (r.task or ())[:2]:
                return
        s = Splat(text, self.lines, self.phase, list(self.running),
                  {n: (len(p.runs), p.in_test)
                   for n, p in self.programs.items()})
        self.splats.append(s)
        self.report = s
        self.leak = s if s.leak else None
        if task:
            self.resolve(s, task)
        elif CONTINUES.search(body) and ft and self.lines - ft[1] <= TASK_WITHIN:
            # A bare backtrace: dump_stack() names the task before it.
            self.resolve(s, ft[0])
        self.free_task = None

    def resolve(self, s, task):
        """Charge splat s, now that its task is known (or never will be)."""
        s.resolved = True
        s.task = task
        if task and s.leak and task[2]:
            s.jiffies = int(task[2])
        progs = [p for p in self.programs.values()
                 if task and p.comm == task[0][:COMM_LEN]]
        for p in progs:
            self.charge(s, p, own=True)
        if progs:
            return
        # Not a test program's task (a kworker, an interrupt, or none
        # named): each test running at its first line may have caused it.
        progs = [self.programs[n] for n in s.running]
        if len(progs) > 1:
            who = f'task {task[0]}/{task[1]}' if task else 'an unknown task'
            s.note = (f' ({who}, no test program: charged to each of '
                      f'the {len(progs)} tests running)')
        if not progs:
            self.charge_to(s, s.phase)
        for p in progs:
            self.charge(s, p, own=False)

    def charge(self, s, p, own):
        """Charge splat s to the test program p was running: own says
        whether the splat is in p's own task."""
        if s.leak:
            test = self.allocated_in(s, p)
            self.charge_to(s, f'{p.name}:{test}' if test else p.name)
            return
        n, in_test = s.snapshot.get(p.name, (len(p.runs), p.in_test))
        if in_test:
            self.charge_to(s, f'{p.name}:{p.runs[n - 1][0]}')
        elif not own:
            # Between two tests: deferred work of the one that ended.
            self.charge_to(s, f'{p.name}:{p.runs[n - 1][0]}' if n else p.name)
        elif n < len(p.runs):
            # Its own task between two tests: that was the next test, whose
            # RUN line, printed before the splat, reached the log after it
            # (program output comes through a pipe, and lags).
            self.charge_to(s, f'{p.name}:{p.runs[n][0]}')
        elif p.ended:
            self.charge_to(s, p.last())
        else:
            # The same, but that RUN line has not come yet.
            p.waiting.append(s)

    def charge_to(self, s, where):
        s.where.append(where)
        self.say(f'  SPLAT during {where}: {s.text}{s.note}')

    # -- dating leaks -------------------------------------------------------

    def when(self, jiffies):
        """The printk time of a jiffies value, from the clock marks."""
        if len(self.clock) < 2:
            return None
        marks = sorted(self.clock)
        # The two marks around it, or the two nearest at one end.
        i = 1
        while i < len(marks) - 1 and marks[i][0] < jiffies:
            i += 1
        (j0, t0), (j1, t1) = marks[i - 1], marks[i]
        if j1 == j0:
            return None
        return t0 + (jiffies - j0) * (t1 - t0) / (j1 - j0)

    def allocated_in(self, s, p):
        """The test of p that allocated the leaked object, if we can tell."""
        t = self.when(s.jiffies) if s.jiffies is not None else None
        if t is None or not p.runs or p.runs[0][1] is None:
            return None
        for test, start, end in p.runs:
            # Output reaches the log late, so a test may have begun a
            # little before its RUN line's timestamp; it ended before its
            # result line's.
            if end is None or t <= end + LEEWAY:
                if t >= start - 1.0:
                    s.note = f' (allocated at {t:.2f} s)'
                    return test
                return None
        return None

    # -- the verdict --------------------------------------------------------

    def finish(self):
        if self.report and not self.report.resolved:
            self.resolve(self.report, None)
        for p in self.programs.values():
            for s in p.waiting:
                self.charge_to(s, p.last())
            p.waiting = []
        # A splat fails the test it happened in, even if the test said ok.
        failed_by_splat = {}
        for s in self.splats:
            for where in s.where:
                failed_by_splat.setdefault(where, s.text + s.note)
        out = []
        for verdict, name in self.results:
            if name in failed_by_splat:
                out.append(f'FAIL {name}: kernel splat: {failed_by_splat.pop(name)}')
            else:
                out.append(f'{verdict} {name}')
        for where, text in failed_by_splat.items():
            out.append(f'FAIL splat during {where}: {text}')
        begun = set(self.programs) | set(r[1].split(':')[0] for r in self.results)
        ended = set(n for n, p in self.programs.items() if p.ended)
        for p in sorted(begun - ended - {'demo'}):
            out.append(f'FAIL {p}: the test program did not finish')
        if not self.done:
            out.append('FAIL vm: the guest did not finish (hang, crash or timeout)')
        elif not self.results:
            out.append('FAIL vm: the guest ran no test')
        else:
            out.append('PASS vm: guest finished, console clean' if not self.splats
                       else 'FAIL vm: kernel splats in the console log')
        return out


def feed_stdin(checker, log_path):
    """Copy the console from stdin to log_path, feeding checker each line."""
    with open(log_path, 'w') as logf:
        for raw in sys.stdin.buffer:
            line = raw.decode('utf-8', 'replace').rstrip('\r\n')
            logf.write(line + '\n')
            logf.flush()
            checker.feed(line)


def main():
    checker = Checker()
    feed_stdin(checker, sys.argv[1])
    out = checker.finish()
    with open(sys.argv[2], 'w') as f:
        f.write('\n'.join(out) + '\n')


if __name__ == '__main__':
    main()
