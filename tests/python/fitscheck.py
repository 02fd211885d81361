"""What the independent FITS checkers share: problem collection and the command-line runner.

`check_fits.py` (archive files) and `check_ogip.py` (OGIP products) each define their checks on a
subclass of `BaseChecker` and hand `run` a table of kinds.
"""

import sys

import numpy as np
from astropy.io import fits


class BaseChecker:
    """Collects the problems found in one file (and the files it references)."""

    def __init__(self, path):
        self.path = path
        self.problems = []

    def fail(self, message):
        self.problems.append(message)

    def check(self, condition, message):
        if not condition:
            self.fail(message)
        return bool(condition)


def first_bad(mask):
    """1-based row number of the first True in `mask` (0 when there is none)."""
    mask = np.asarray(mask)
    return int(np.argmax(mask)) + 1 if mask.size and mask.any() else 0


def run(argv, program, kinds, checker):
    """`program KIND PATH`: check PATH with `kinds[KIND](checker, hdul)`, which returns a summary.

    Exit status 0 when everything holds, 1 with the problems listed, 2 for a usage error or a
    file that cannot be opened at all.
    """
    if len(argv) != 3 or argv[1] not in kinds:
        print(f"usage: {program} {'|'.join(kinds)} PATH", file=sys.stderr)
        return 2
    kind, path = argv[1], argv[2]
    try:
        hdul = fits.open(path, memmap=False)
    except Exception as e:  # noqa: BLE001 - any failure to open is reported the same way
        print(f"{program}: FAIL {kind} {path}: cannot open: {e}", file=sys.stderr)
        return 2
    c = checker(path)
    with hdul:
        try:
            summary = kinds[kind](c, hdul)
        except Exception as e:  # noqa: BLE001 - a malformed file may break any access
            c.fail(f"unexpected error while checking: {type(e).__name__}: {e}")
            summary = None
    if c.problems:
        print(f"{program}: FAIL {kind} {path}: {len(c.problems)} problem(s)", file=sys.stderr)
        for p in c.problems:
            print(f"  - {p}", file=sys.stderr)
        return 1
    print(f"{program}: OK {kind} {path}: {summary}")
    return 0
