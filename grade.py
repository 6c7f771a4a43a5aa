#!/usr/bin/env python3
"""The JOS grader: one QEMU boot per test, regular expressions over the console.

Usage:
    python3 grade.py                 run the tests of `make grade`
    python3 grade.py help panic      only tests whose name or part contains a word
    python3 grade.py -j 4            four tests at once (default: one per CPU)
    python3 grade.py -v backtrace    echo the console while a test runs
    python3 grade.py --list          list the tests, their parts and points
    python3 grade.py --count         the number of tests and points of each tier
    python3 grade.py --long          the long tests instead (`make grade-long`)
    python3 grade.py --times         each test's wall-clock and CPU time at the end
    python3 grade.py --save-times    record them in grade/times.txt (-j N starts
                                     the longest first)

Each line of the report reads `name: OK (1.2s)` or `name: FAIL (1.2s)`, a failure
followed by indented context: what was missing or unexpected, and the tail of the
console. The whole console of a failed test is saved in `jos.out.<test-name>`.
The report ends with `Total time: 12.3s (2 jobs)` (wall clock, build included),
`Score: X/Y` and then, on the last line, `N passed, N failed`. The exit status is
1 when any test failed (130 when interrupted).

The tests live in grade/, one file per part, in the order they are reported;
the harness they use (Console, Run, boot, run_prog, test, require: how to
declare a test) is grade/gradelib.py, the checks several parts share
grade/checks.py. Standard library only.
"""

import sys

from grade import gradelib
# The parts, in the order of the report. A test belongs to the part of the
# last part() call before it: lab5, mmapswap, files and crash are Part G.
from grade import lab1, lab2, lab3, lab4, tricks, hostile  # noqa: F401
from grade import lab5, mmapswap, files, crash  # noqa: F401
from grade import trust, net, dsm, units  # noqa: F401

if __name__ == "__main__":
    sys.exit(gradelib.main())
