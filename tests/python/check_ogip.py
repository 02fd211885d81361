#!/usr/bin/env python3
"""Independent check, with astropy, of the OGIP spectral and timing files written by `oda`.

Usage:
    check_ogip.py pha PATH    # PHA type I spectrum (OGIP/92-007), with the RMF and ARF it names
    check_ogip.py pha2 PATH   # PHA type II spectra (OGIP/92-007a), with the responses they name
    check_ogip.py rmf PATH    # redistribution matrix (CAL/GEN/92-002): MATRIX + EBOUNDS
    check_ogip.py arf PATH    # ancillary response (CAL/GEN/92-002): SPECRESP
    check_ogip.py lc PATH     # light curve (OGIP/93-003): RATE

Checks the extensions, the mandatory OGIP keywords and their values, the columns, their
formats and units, and the consistency of the values: channel numbering (TLMIN/TLMAX,
DETCHANS, EBOUNDS) between a spectrum and its RMF, the RMF's and the ARF's energy grids, the
RMF rows summing to at most 1 + 1e-6, QUALITY and GROUPING values, time ordering.

Prints a one-line summary and exits with status 0 when everything holds; otherwise prints
every problem found to stderr and exits with status 1 (status 2 for a usage error or a file
that cannot be opened at all).
"""

import math
import os
import sys

import numpy as np
from astropy.io import fits

from fitscheck import BaseChecker, first_bad, run

MJDREF = 51544.0
SECONDS_PER_DAY = 86400.0
ROW_SUM_LIMIT = 1.0 + 1e-6
GRID_TOLERANCE = 1e-6
OSA_VERSIONS = ("OSA10.2", "OSA11.0", "OSA11.2")
AREA_UNITS = ("cm**2", "cm2", "cm^2")

# Keyword -> (type, required value, a tuple of allowed values, or None for any)
MISSION = {
    "TELESCOP": (str, "INTEGRAL"),
    "INSTRUME": (str, ("IBIS", "JMX1", "JMX2")),
    "DETNAM": (str, ("ISGRI", "JMX1", "JMX2")),
    "FILTER": (str, None),
}
PHA_KEYWORDS = {
    **MISSION,
    "HDUCLASS": (str, "OGIP"),
    "HDUCLAS1": (str, "SPECTRUM"),
    "HDUCLAS2": (str, ("TOTAL", "NET", "BKG")),
    "HDUCLAS3": (str, ("COUNT", "RATE")),
    "HDUVERS": (str, ("1.2.0", "1.2.1")),
    "CHANTYPE": (str, ("PHA", "PI")),
    "DETCHANS": (int, None),
    "POISSERR": (bool, None),
    "AREASCAL": (float, None),
    "BACKSCAL": (float, None),
    "CORRSCAL": (float, None),
    "BACKFILE": (str, None),
    "CORRFILE": (str, None),
    "TIMESYS": (str, "TT"),
    "MJDREF": (float, MJDREF),
    "TSTART": (float, None),
    "TSTOP": (float, None),
}
PHA1_KEYWORDS = {
    **PHA_KEYWORDS,
    "EXPOSURE": (float, None),
    "RESPFILE": (str, None),
    "ANCRFILE": (str, None),
    "OBJECT": (str, None),
    "OSA_VERS": (str, OSA_VERSIONS),
}
MATRIX_KEYWORDS = {
    **MISSION,
    "HDUCLASS": (str, "OGIP"),
    "HDUCLAS1": (str, "RESPONSE"),
    "HDUCLAS2": (str, "RSP_MATRIX"),
    "HDUVERS": (str, "1.3.0"),
    "CHANTYPE": (str, ("PHA", "PI")),
    "DETCHANS": (int, None),
}
EBOUNDS_KEYWORDS = {
    **MISSION,
    "HDUCLASS": (str, "OGIP"),
    "HDUCLAS1": (str, "RESPONSE"),
    "HDUCLAS2": (str, "EBOUNDS"),
    "HDUVERS": (str, ("1.2.0", "1.3.0")),
    "CHANTYPE": (str, ("PHA", "PI")),
    "DETCHANS": (int, None),
}
ARF_KEYWORDS = {
    **MISSION,
    "HDUCLASS": (str, "OGIP"),
    "HDUCLAS1": (str, "RESPONSE"),
    "HDUCLAS2": (str, "SPECRESP"),
    "HDUVERS": (str, ("1.1.0",)),
}
LC_KEYWORDS = {
    **MISSION,
    "HDUCLASS": (str, "OGIP"),
    "HDUCLAS1": (str, "LIGHTCURVE"),
    "HDUCLAS2": (str, ("TOTAL", "NET", "BKG")),
    "HDUCLAS3": (str, ("RATE", "COUNT")),
    "OBJECT": (str, None),
    "TIMESYS": (str, "TT"),
    "MJDREF": (float, MJDREF),
    "TIMEUNIT": (str, "d"),
    "TIMEREF": (str, "LOCAL"),
    "TIMEPIXR": (float, 0.5),
    "TSTART": (float, None),
    "TSTOP": (float, None),
    "E_MIN": (float, None),
    "E_MAX": (float, None),
    "OSA_VERS": (str, OSA_VERSIONS),
}

# Columns: (name, allowed TFORM type letters, TUNIT or None, must be a scalar)
PHA1_COLUMNS = [
    ("CHANNEL", "IJ", None, True),
    ("RATE", "ED", "counts/s", True),
    ("STAT_ERR", "ED", "counts/s", True),
    ("SYS_ERR", "ED", None, True),
    ("QUALITY", "IJ", None, True),
    ("GROUPING", "IJ", None, True),
]
PHA2_COLUMNS = [
    ("SPEC_NUM", "IJ", None, True),
    ("CHANNEL", "IJ", None, False),
    ("RATE", "ED", "counts/s", False),
    ("STAT_ERR", "ED", "counts/s", False),
    ("SYS_ERR", "ED", None, False),
    ("QUALITY", "IJ", None, False),
    ("GROUPING", "IJ", None, False),
    ("EXPOSURE", "ED", "s", True),
    ("TSTART", "D", "d", True),
    ("TSTOP", "D", "d", True),
    ("OBJECT", "A", None, True),
]
MATRIX_COLUMNS = [
    ("ENERG_LO", "ED", "keV", True),
    ("ENERG_HI", "ED", "keV", True),
    ("N_GRP", "IJ", None, True),
    ("F_CHAN", "IJ", None, False),
    ("N_CHAN", "IJ", None, False),
    ("MATRIX", "ED", None, False),
]
EBOUNDS_COLUMNS = [
    ("CHANNEL", "IJ", None, True),
    ("E_MIN", "ED", "keV", True),
    ("E_MAX", "ED", "keV", True),
]
ARF_COLUMNS = [
    ("ENERG_LO", "ED", "keV", True),
    ("ENERG_HI", "ED", "keV", True),
    ("SPECRESP", "ED", AREA_UNITS, True),
]
LC_COLUMNS = [
    ("TIME", "D", "d", True),
    ("TIMEDEL", "D", "d", True),
    ("RATE", "ED", "counts/s", True),
    ("ERROR", "ED", "counts/s", True),
    ("FRACEXP", "ED", None, True),
]


def is_none(value):
    return value is None or str(value).strip().upper() in ("", "NONE")


def tform_letter_and_repeat(tform):
    """The type letter and repeat count of a binary-table TFORM ('P'/'Q' for variable-length)."""
    tform = tform.strip()
    digits = ""
    for ch in tform:
        if ch.isdigit():
            digits += ch
        else:
            break
    letter = tform[len(digits):len(digits) + 1]
    return letter, int(digits) if digits else 1


class Checker(BaseChecker):
    """Collects the problems found in one file (and the files it references)."""

    def extension(self, hdul, names, what):
        """The first binary table among `names`, else None (with a problem)."""
        for name in names:
            if name in hdul:
                hdu = hdul[name]
                if isinstance(hdu, fits.BinTableHDU):
                    return hdu
                self.fail(f"extension {name} is a {type(hdu).__name__}, not a binary table")
                return None
        self.fail(f"no {' or '.join(names)} extension ({what})")
        return None

    def keywords(self, header, ext, keywords):
        """Checks `keywords`; returns the set of those present with the right type and value."""
        good = set()
        for key, (typ, value) in keywords.items():
            if key not in header:
                self.fail(f"{ext}: missing keyword {key}")
                continue
            got = header[key]
            if typ is bool:
                ok_type = isinstance(got, bool)
            elif typ is float:
                ok_type = isinstance(got, (int, float)) and not isinstance(got, bool)
            elif typ is int:
                ok_type = isinstance(got, int) and not isinstance(got, bool)
            else:
                ok_type = isinstance(got, typ)
            if not ok_type:
                self.fail(f"{ext}: keyword {key} = {got!r} is a {type(got).__name__}, expected {typ.__name__}")
            elif isinstance(value, tuple) and got not in value:
                self.fail(f"{ext}: keyword {key} = {got!r}, expected one of {', '.join(map(repr, value))}")
            elif value is not None and not isinstance(value, tuple) and got != value:
                self.fail(f"{ext}: keyword {key} = {got!r}, expected {value!r}")
            else:
                good.add(key)
        return good

    def columns(self, hdu, ext, columns, optional=()):
        """Checks the columns' presence, TFORM type letters and TUNITs; returns the names that
        are present and well formed. Columns named in `optional` may be absent."""
        header = hdu.header
        names = [c.name for c in hdu.columns]
        good = set()
        for name, letters, unit, scalar in columns:
            if name not in names:
                if name not in optional:
                    self.fail(f"{ext}: missing column {name} (the table has {', '.join(names) or 'none'})")
                continue
            i = names.index(name) + 1
            letter, repeat = tform_letter_and_repeat(header.get(f"TFORM{i}", ""))
            ok = self.check(letter in letters,
                            f"{ext}: column {name} has TFORM{i} = {header.get(f'TFORM{i}')!r}, expected type "
                            f"{' or '.join(letters)}")
            if scalar and letter != "A":
                ok &= self.check(repeat == 1, f"{ext}: column {name} has {repeat} values per row, expected 1")
            got = header.get(f"TUNIT{i}")
            if unit is None:
                ok &= self.check(got in (None, ""), f"{ext}: column {name} has TUNIT{i} = {got!r}, expected none")
            else:
                units = unit if isinstance(unit, tuple) else (unit,)
                ok &= self.check(got in units,
                                 f"{ext}: column {name} has TUNIT{i} = {got!r}, expected {' or '.join(units)}")
            if ok:
                good.add(name)
        return good

    def tlmin(self, hdu, column, default=1):
        names = [c.name for c in hdu.columns]
        if column not in names:
            return default
        return hdu.header.get(f"TLMIN{names.index(column) + 1}", default)

    def tlmax(self, hdu, column):
        names = [c.name for c in hdu.columns]
        if column not in names:
            return None
        return hdu.header.get(f"TLMAX{names.index(column) + 1}")

    def grid(self, ext, what, lo, hi):
        """Checks an energy grid: finite, non-negative, lo < hi, increasing without overlap."""
        lo = np.asarray(lo, dtype=float)
        hi = np.asarray(hi, dtype=float)
        if not self.check(lo.size > 0, f"{ext}: no {what} rows"):
            return False
        bad = ~(np.isfinite(lo) & np.isfinite(hi) & (lo >= 0) & (hi > lo))
        if not self.check(not bad.any(), f"{ext}: {what} row {first_bad(bad)} is not a finite increasing interval"):
            return False
        overlap = lo[1:] < hi[:-1] * (1 - GRID_TOLERANCE)
        return self.check(not overlap.any(), f"{ext}: {what} row {first_bad(overlap) + 1} overlaps the previous one")


def check_primary(c, hdul, prefix=""):
    primary = hdul[0].header
    c.check(primary.get("NAXIS") == 0, f"{prefix}the primary HDU is not empty (NAXIS != 0)")
    c.check(primary.get("ORIGIN") == "oda", f"{prefix}the primary HDU has ORIGIN = {primary.get('ORIGIN')!r}, expected 'oda'")
    c.check("DATE" not in primary, f"{prefix}the primary HDU has a DATE keyword (files must be reproducible)")


def same_grid(a, b):
    a = np.asarray(a, dtype=float)
    b = np.asarray(b, dtype=float)
    if a.shape != b.shape:
        return False
    return bool(np.all(np.abs(a - b) <= GRID_TOLERANCE * np.maximum(np.abs(a), np.abs(b))))


def check_ebounds(c, hdul, prefix=""):
    """Checks an EBOUNDS extension; returns (channels, e_min, e_max) or None."""
    eb = c.extension(hdul, ["EBOUNDS"], f"{prefix}the channel energies")
    if eb is None:
        return None
    ext = f"{prefix}EBOUNDS"
    good = c.keywords(eb.header, ext, EBOUNDS_KEYWORDS)
    cols = c.columns(eb, ext, EBOUNDS_COLUMNS)
    if len(cols) < 3:
        return None
    channel = np.asarray(eb.data["CHANNEL"], dtype=np.int64)
    e_min = np.asarray(eb.data["E_MIN"], dtype=float)
    e_max = np.asarray(eb.data["E_MAX"], dtype=float)
    if "DETCHANS" in good:
        c.check(eb.header["DETCHANS"] == len(channel),
                f"{ext}: DETCHANS = {eb.header['DETCHANS']} but the table has {len(channel)} rows")
    if len(channel):
        gaps = np.diff(channel) != 1
        c.check(not gaps.any(), f"{ext}: CHANNEL is not consecutive at row {first_bad(gaps) + 1}")
        first = c.tlmin(eb, "CHANNEL", channel[0])
        c.check(channel[0] == first, f"{ext}: the first CHANNEL is {channel[0]}, but TLMIN is {first}")
        last = c.tlmax(eb, "CHANNEL")
        if last is not None:
            c.check(channel[-1] <= last, f"{ext}: CHANNEL {channel[-1]} is above TLMAX = {last}")
    c.grid(ext, "channel", e_min, e_max)
    return channel, e_min, e_max


def expand_matrix(c, ext, data, n_chan_total, first_chan):
    """The full matrix (energy bins x channels) from the grouped columns, or None."""
    n_grp = np.asarray(data["N_GRP"], dtype=np.int64)
    rows = len(n_grp)
    full = np.zeros((rows, n_chan_total))
    for i in range(rows):
        f_chan = np.atleast_1d(np.asarray(data["F_CHAN"][i], dtype=np.int64))
        n_chan = np.atleast_1d(np.asarray(data["N_CHAN"][i], dtype=np.int64))
        values = np.atleast_1d(np.asarray(data["MATRIX"][i], dtype=float))
        if not c.check(0 <= n_grp[i] <= len(f_chan) and len(f_chan) == len(n_chan),
                       f"{ext}: row {i + 1}: N_GRP = {n_grp[i]} but F_CHAN/N_CHAN hold {len(f_chan)}/{len(n_chan)} groups"):
            return None
        used = 0
        for k in range(n_grp[i]):
            start = f_chan[k] - first_chan
            count = n_chan[k]
            if not c.check(count >= 0 and start >= 0 and start + count <= n_chan_total,
                           f"{ext}: row {i + 1}: group {k + 1} (F_CHAN {f_chan[k]}, N_CHAN {count}) is outside "
                           f"channels {first_chan} .. {first_chan + n_chan_total - 1}"):
                return None
            if not c.check(used + count <= len(values),
                           f"{ext}: row {i + 1}: the groups need more than the {len(values)} MATRIX elements"):
                return None
            full[i, start:start + count] = values[used:used + count]
            used += count
    return full


def check_rmf(c, hdul, prefix=""):
    """Checks an RMF; returns a dict describing it (or None) and a summary."""
    check_primary(c, hdul, prefix)
    m = c.extension(hdul, ["MATRIX", "SPECRESP MATRIX"], f"{prefix}the redistribution matrix")
    ebounds = check_ebounds(c, hdul, prefix)
    if m is None:
        return None, None
    ext = f"{prefix}{m.name}"
    good = c.keywords(m.header, ext, MATRIX_KEYWORDS)
    if "HDUCLAS3" in m.header:
        c.check(m.header["HDUCLAS3"] in ("REDIST", "DETECTOR", "FULL"),
                f"{ext}: HDUCLAS3 = {m.header['HDUCLAS3']!r}, expected REDIST, DETECTOR or FULL")
    cols = c.columns(m, ext, MATRIX_COLUMNS)
    names = [col.name for col in m.columns]
    if "F_CHAN" in names:
        c.check(f"TLMIN{names.index('F_CHAN') + 1}" in m.header,
                f"{ext}: no TLMIN{names.index('F_CHAN') + 1} (the first channel number, mandatory for HDUVERS 1.3.0)")
    if len(cols) < 6 or "DETCHANS" not in good:
        return None, None
    detchans = m.header["DETCHANS"]
    first = c.tlmin(m, "F_CHAN", 1)
    energ_lo = np.asarray(m.data["ENERG_LO"], dtype=float)
    energ_hi = np.asarray(m.data["ENERG_HI"], dtype=float)
    c.grid(ext, "energy bin", energ_lo, energ_hi)
    full = expand_matrix(c, ext, m.data, detchans, first)
    max_sum = float("nan")
    if full is not None:
        bad = ~np.isfinite(full) | (full < 0)
        if c.check(not bad.any(), f"{ext}: MATRIX row {first_bad(bad.any(axis=1))} has a negative or non-finite element"):
            sums = full.sum(axis=1)
            max_sum = float(sums.max()) if sums.size else 0.0
            over = sums > ROW_SUM_LIMIT
            c.check(not over.any(),
                    f"{ext}: MATRIX row {first_bad(over)} sums to {sums[over][0] if over.any() else 0:.9g} > 1 + 1e-6")
    if ebounds is not None:
        channel, e_min, e_max = ebounds
        c.check(len(channel) == detchans,
                f"{prefix}EBOUNDS has {len(channel)} channels but {m.name} has DETCHANS = {detchans}")
        if len(channel):
            c.check(channel[0] == first,
                    f"{prefix}EBOUNDS starts at channel {channel[0]} but {m.name} at TLMIN = {first}")
        if "DETCHANS" in hdul["EBOUNDS"].header:
            c.check(hdul["EBOUNDS"].header["DETCHANS"] == detchans,
                    f"{prefix}DETCHANS differs between {m.name} and EBOUNDS")
        c.check(m.header.get("CHANTYPE") == hdul["EBOUNDS"].header.get("CHANTYPE"),
                f"{prefix}CHANTYPE differs between {m.name} and EBOUNDS")
    info = {
        "detchans": detchans,
        "first": first,
        "energ_lo": energ_lo,
        "energ_hi": energ_hi,
        "ebounds": ebounds,
        "chantype": m.header.get("CHANTYPE"),
    }
    summary = (f"{len(energ_lo)} energy bins x {detchans} channels, "
               f"{energ_lo.min() if energ_lo.size else 0:g}-{energ_hi.max() if energ_hi.size else 0:g} keV, "
               f"max row sum {max_sum:.6f}")
    return info, summary


def check_arf(c, hdul, prefix=""):
    check_primary(c, hdul, prefix)
    a = c.extension(hdul, ["SPECRESP"], f"{prefix}the effective area")
    if a is None:
        return None, None
    ext = f"{prefix}SPECRESP"
    c.keywords(a.header, ext, ARF_KEYWORDS)
    cols = c.columns(a, ext, ARF_COLUMNS)
    if len(cols) < 3:
        return None, None
    lo = np.asarray(a.data["ENERG_LO"], dtype=float)
    hi = np.asarray(a.data["ENERG_HI"], dtype=float)
    area = np.asarray(a.data["SPECRESP"], dtype=float)
    c.grid(ext, "energy bin", lo, hi)
    bad = ~np.isfinite(area) | (area < 0)
    c.check(not bad.any(), f"{ext}: SPECRESP in row {first_bad(bad)} is negative or not finite")
    summary = f"{len(lo)} energy bins, max area {area.max() if area.size else 0:.1f} cm2"
    return {"energ_lo": lo, "energ_hi": hi}, summary


class References:
    """Opens and checks each response file a spectrum names once."""

    def __init__(self, c, pha_path):
        self.c = c
        self.dir = os.path.dirname(os.path.abspath(pha_path))
        self.rmfs = {}
        self.arfs = {}

    def _load(self, cache, key, name, checker):
        name = name.strip()
        if name in cache:
            return cache[name]
        path = os.path.join(self.dir, name)
        prefix = f"{key} {name}: "
        try:
            with fits.open(path, memmap=False) as hdul:
                info, _ = checker(self.c, hdul, prefix)
        except Exception as e:  # noqa: BLE001 - report any failure to read the reference
            self.c.fail(f"{prefix}cannot read: {type(e).__name__}: {e}")
            info = None
        cache[name] = info
        return info

    def rmf(self, name):
        return self._load(self.rmfs, "RESPFILE", name, check_rmf)

    def arf(self, name):
        return self._load(self.arfs, "ANCRFILE", name, check_arf)


def cross_check(c, where, channels, detchans, chantype, own_ebounds, rmf, arf, rmf_name, arf_name):
    """Channel numbering and energies of a spectrum against its RMF, and the ARF against the RMF."""
    if rmf is not None:
        c.check(rmf["detchans"] == detchans,
                f"{where}DETCHANS = {detchans} but the RMF {rmf_name} has {rmf['detchans']}")
        c.check(rmf["chantype"] == chantype,
                f"{where}CHANTYPE = {chantype!r} but the RMF {rmf_name} has {rmf['chantype']!r}")
        if len(channels):
            lo, hi = rmf["first"], rmf["first"] + rmf["detchans"] - 1
            c.check(channels[0] >= lo and channels[-1] <= hi,
                    f"{where}channels {channels[0]} .. {channels[-1]} are not within the RMF's {lo} .. {hi}")
        if rmf["ebounds"] is not None and own_ebounds is not None:
            ch_r, lo_r, hi_r = rmf["ebounds"]
            ch_o, lo_o, hi_o = own_ebounds
            c.check(np.array_equal(ch_r, ch_o) and same_grid(lo_r, lo_o) and same_grid(hi_r, hi_o),
                    f"{where}the spectrum's EBOUNDS differ from those of the RMF {rmf_name}")
        if arf is not None:
            c.check(same_grid(rmf["energ_lo"], arf["energ_lo"]) and same_grid(rmf["energ_hi"], arf["energ_hi"]),
                    f"{where}the energy bins of the ARF {arf_name} differ from those of the RMF {rmf_name}")
    if own_ebounds is not None and len(channels):
        ch_o = own_ebounds[0]
        c.check(len(ch_o) and channels[0] >= ch_o[0] and channels[-1] <= ch_o[-1],
                f"{where}channels {channels[0]} .. {channels[-1]} are not all in the file's EBOUNDS")


def check_spectrum_values(c, where, channels, rate, stat_err, sys_err, quality, grouping, poisserr):
    gaps = np.diff(channels) != 1
    c.check(not gaps.any(), f"{where}CHANNEL is not consecutive at element {first_bad(gaps) + 1}")
    bad = ~np.isin(quality, (0, 1, 2, 5))
    c.check(not bad.any(), f"{where}QUALITY {quality[bad][0] if bad.any() else ''} at element {first_bad(bad)} is not 0, 1, 2 or 5")
    bad = ~np.isin(grouping, (-1, 0, 1))
    c.check(not bad.any(), f"{where}GROUPING at element {first_bad(bad)} is not -1, 0 or 1")
    good = quality == 0
    bad = good & ~np.isfinite(rate)
    c.check(not bad.any(), f"{where}RATE at element {first_bad(bad)} is not finite but QUALITY is 0")
    if not poisserr:
        bad = good & ~(np.isfinite(stat_err) & (stat_err > 0))
        c.check(not bad.any(), f"{where}STAT_ERR at element {first_bad(bad)} is not positive but QUALITY is 0")
    bad = ~np.isfinite(sys_err) | (sys_err < 0) | (sys_err > 1)
    c.check(not bad.any(), f"{where}SYS_ERR at element {first_bad(bad)} is not a fraction in [0, 1]")
    return int(good.sum())


# The extension of a spectrum: OGIP's SPECTRUM, or OSA's JMXn-PHA1-SPE for JEM-X (labelled
# SPECTRUM in the messages).
SPECTRUM_EXTNAMES = ["SPECTRUM", "JMX1-PHA1-SPE", "JMX2-PHA1-SPE"]


def check_pha(c, hdul):
    check_primary(c, hdul)
    s = c.extension(hdul, SPECTRUM_EXTNAMES, "the spectrum")
    if s is None:
        return None
    h = s.header
    good = c.keywords(h, "SPECTRUM", PHA1_KEYWORDS)
    c.check(h.get("HDUCLAS4", "TYPE:I") == "TYPE:I", f"SPECTRUM: HDUCLAS4 = {h.get('HDUCLAS4')!r}, expected 'TYPE:I'")
    cols = c.columns(s, "SPECTRUM", PHA1_COLUMNS)
    if "EXPOSURE" in good:
        c.check(math.isfinite(h["EXPOSURE"]) and h["EXPOSURE"] > 0, f"SPECTRUM: EXPOSURE = {h['EXPOSURE']} is not positive")
    if {"TSTART", "TSTOP"} <= good:
        c.check(h["TSTOP"] >= h["TSTART"], "SPECTRUM: TSTOP before TSTART")
    for key in ("BACKFILE", "CORRFILE"):
        if key in good:
            c.check(is_none(h[key]), f"SPECTRUM: {key} = {h[key]!r}; net rates need none")
    if len(cols) < len(PHA1_COLUMNS) or "DETCHANS" not in good:
        return None
    d = s.data
    channels = np.asarray(d["CHANNEL"], dtype=np.int64)
    detchans = h["DETCHANS"]
    c.check(len(channels) == detchans, f"SPECTRUM: {len(channels)} rows but DETCHANS = {detchans}")
    first = c.tlmin(s, "CHANNEL", None)
    last = c.tlmax(s, "CHANNEL")
    if c.check(first is not None and last is not None, "SPECTRUM: no TLMIN1/TLMAX1 for CHANNEL") and len(channels):
        c.check(channels[0] == first and channels[-1] <= last,
                f"SPECTRUM: channels {channels[0]} .. {channels[-1]} but TLMIN1 = {first}, TLMAX1 = {last}")
        c.check(last - first + 1 == detchans, f"SPECTRUM: TLMIN1 .. TLMAX1 = {first} .. {last} do not span DETCHANS = {detchans}")
    n_good = check_spectrum_values(
        c, "SPECTRUM: ", channels, np.asarray(d["RATE"], dtype=float), np.asarray(d["STAT_ERR"], dtype=float),
        np.asarray(d["SYS_ERR"], dtype=float), np.asarray(d["QUALITY"]), np.asarray(d["GROUPING"]),
        bool(h.get("POISSERR")))
    own = check_ebounds(c, hdul, "") if "EBOUNDS" in hdul else None
    refs = References(c, c.path)
    rmf = refs.rmf(h["RESPFILE"]) if "RESPFILE" in good and not is_none(h["RESPFILE"]) else None
    arf = refs.arf(h["ANCRFILE"]) if "ANCRFILE" in good and not is_none(h["ANCRFILE"]) else None
    c.check(own is not None or rmf is not None, "SPECTRUM: no channel energies: no EBOUNDS and no RESPFILE")
    cross_check(c, "SPECTRUM: ", channels, detchans, h.get("CHANTYPE"), own, rmf, arf,
                h.get("RESPFILE"), h.get("ANCRFILE"))
    exposure = f"{h['EXPOSURE']:.1f} s" if "EXPOSURE" in good else "?"
    return (f"{h.get('OBJECT')!r}, {len(channels)} channels ({n_good} good), EXPOSURE {exposure}, "
            f"RESPFILE {h.get('RESPFILE')}, ANCRFILE {h.get('ANCRFILE')}")


def per_row(s, name):
    """A per-row value of a type II table: the column if there is one, else the keyword."""
    if name in [col.name for col in s.columns]:
        return [v.strip() if isinstance(v, str) else v for v in s.data[name]]
    if name in s.header:
        return [s.header[name]] * len(s.data)
    return None


def check_pha2(c, hdul):
    check_primary(c, hdul)
    s = c.extension(hdul, SPECTRUM_EXTNAMES, "the spectra")
    if s is None:
        return None
    h = s.header
    good = c.keywords(h, "SPECTRUM", PHA_KEYWORDS)
    c.check(h.get("HDUCLAS4") == "TYPE:II", f"SPECTRUM: HDUCLAS4 = {h.get('HDUCLAS4')!r}, expected 'TYPE:II'")
    cols = c.columns(s, "SPECTRUM", PHA2_COLUMNS)
    if len(cols) < len(PHA2_COLUMNS) or "DETCHANS" not in good:
        return None
    detchans = h["DETCHANS"]
    d = s.data
    rows = len(d)
    c.check(rows > 0, "SPECTRUM: no rows")
    spec_num = np.asarray(d["SPEC_NUM"], dtype=np.int64)
    c.check(np.array_equal(spec_num, np.arange(1, rows + 1)), "SPECTRUM: SPEC_NUM is not 1, 2, 3, ...")
    shapes_ok = True
    for name in ("CHANNEL", "RATE", "STAT_ERR", "SYS_ERR", "QUALITY", "GROUPING"):
        shape = np.shape(d[name])
        shapes_ok &= c.check(len(shape) == 2 and shape[1] == detchans,
                             f"SPECTRUM: column {name} holds {shape[1] if len(shape) == 2 else 1} values per row, "
                             f"expected DETCHANS = {detchans}")
    if not shapes_ok:
        return None
    names = [col.name for col in s.columns]
    i = names.index("CHANNEL") + 1
    first, last = h.get(f"TLMIN{i}"), h.get(f"TLMAX{i}")
    c.check(first is not None and last is not None and last - first + 1 == detchans,
            f"SPECTRUM: TLMIN{i}/TLMAX{i} = {first}/{last} do not span DETCHANS = {detchans}")
    exposure = np.asarray(d["EXPOSURE"], dtype=float)
    bad = ~(np.isfinite(exposure) & (exposure > 0))
    c.check(not bad.any(), f"SPECTRUM: EXPOSURE in row {first_bad(bad)} is not positive")
    tstart = np.asarray(d["TSTART"], dtype=float)
    tstop = np.asarray(d["TSTOP"], dtype=float)
    bad = ~(np.isfinite(tstart) & np.isfinite(tstop) & (tstop >= tstart))
    c.check(not bad.any(), f"SPECTRUM: TSTART/TSTOP in row {first_bad(bad)} are not an interval")
    if {"TSTART", "TSTOP"} <= good and rows:
        c.check(h["TSTART"] <= tstart.min() and h["TSTOP"] >= tstop.max(),
                "SPECTRUM: the header's TSTART/TSTOP do not span the rows'")
    osa = per_row(s, "OSA_VERS")
    if c.check(osa is not None, "SPECTRUM: no OSA_VERS column or keyword"):
        bad = [k for k, v in enumerate(osa) if v not in OSA_VERSIONS]
        c.check(not bad, f"SPECTRUM: row {bad[0] + 1 if bad else 0}: OSA_VERS is not one of {OSA_VERSIONS}")
    respfile = per_row(s, "RESPFILE") or ["NONE"] * rows
    ancrfile = per_row(s, "ANCRFILE") or ["NONE"] * rows
    own = check_ebounds(c, hdul, "") if "EBOUNDS" in hdul else None
    refs = References(c, c.path)
    n_good = 0
    for k in range(rows):
        where = f"SPECTRUM row {k + 1}: "
        channels = np.asarray(d["CHANNEL"][k], dtype=np.int64)
        if len(channels):
            c.check(channels[0] == first, f"{where}the first channel is {channels[0]}, but TLMIN is {first}")
        n_good += check_spectrum_values(
            c, where, channels, np.asarray(d["RATE"][k], dtype=float), np.asarray(d["STAT_ERR"][k], dtype=float),
            np.asarray(d["SYS_ERR"][k], dtype=float), np.asarray(d["QUALITY"][k]), np.asarray(d["GROUPING"][k]),
            bool(h.get("POISSERR")))
        rmf = None if is_none(respfile[k]) else refs.rmf(respfile[k])
        arf = None if is_none(ancrfile[k]) else refs.arf(ancrfile[k])
        c.check(own is not None or rmf is not None, f"{where}no channel energies: no EBOUNDS and no RESPFILE")
        cross_check(c, where, channels, detchans, h.get("CHANTYPE"), own, rmf, arf, respfile[k], ancrfile[k])
    objects = sorted(set(str(o).strip() for o in d["OBJECT"]))
    return (f"{rows} spectra of {', '.join(objects)}, {detchans} channels, {n_good} good channel values, "
            f"{len(refs.rmfs)} RMF(s), {len(refs.arfs)} ARF(s)")


def check_lc(c, hdul):
    check_primary(c, hdul)
    r = c.extension(hdul, ["RATE"], "the light curve")
    if r is None:
        return None
    h = r.header
    good = c.keywords(h, "RATE", LC_KEYWORDS)
    cols = c.columns(r, "RATE", LC_COLUMNS)
    if {"E_MIN", "E_MAX"} <= good:
        c.check(0 <= h["E_MIN"] < h["E_MAX"], f"RATE: E_MIN = {h['E_MIN']}, E_MAX = {h['E_MAX']} are not a band")
    if {"TSTART", "TSTOP"} <= good:
        c.check(h["TSTOP"] > h["TSTART"], "RATE: TSTOP is not after TSTART")
    if len(cols) < len(LC_COLUMNS):
        return None
    d = r.data
    time = np.asarray(d["TIME"], dtype=float)
    dt = np.asarray(d["TIMEDEL"], dtype=float)
    fracexp = np.asarray(d["FRACEXP"], dtype=float)
    if not c.check(len(time) > 0, "RATE: no rows"):
        return None
    bad = ~np.isfinite(time)
    if c.check(not bad.any(), f"RATE: TIME in row {first_bad(bad)} is not finite"):
        unsorted = np.diff(time) <= 0
        c.check(not unsorted.any(), f"RATE: TIME is not increasing at row {first_bad(unsorted) + 1}")
    bad = ~(np.isfinite(dt) & (dt > 0))
    c.check(not bad.any(), f"RATE: TIMEDEL in row {first_bad(bad)} is not positive")
    tolerance = 1e-6 * np.maximum(dt[1:], dt[:-1])  # rounding of the bin centres
    overlap = time[1:] - 0.5 * dt[1:] < time[:-1] + 0.5 * dt[:-1] - tolerance
    c.check(not overlap.any(), f"RATE: bin {first_bad(overlap) + 1} overlaps the previous one")
    if {"TSTART", "TSTOP"} <= good:
        tol = 1e-9
        c.check(time[0] - 0.5 * dt[0] >= h["TSTART"] - tol and time[-1] + 0.5 * dt[-1] <= h["TSTOP"] + tol,
                "RATE: bins outside [TSTART, TSTOP]")
    bad = ~(np.isfinite(fracexp) & (fracexp >= 0) & (fracexp <= 1))
    c.check(not bad.any(), f"RATE: FRACEXP in row {first_bad(bad)} is not in [0, 1]")
    error = np.asarray(d["ERROR"], dtype=float)
    rate = np.asarray(d["RATE"], dtype=float)
    finite = np.isfinite(rate)
    bad = finite & ~(np.isfinite(error) & (error >= 0))
    c.check(not bad.any(), f"RATE: ERROR in row {first_bad(bad)} is not a non-negative number")
    band = f"{h.get('E_MIN')}-{h.get('E_MAX')} keV"
    span = (time[-1] - time[0]) * SECONDS_PER_DAY
    return f"{h.get('OBJECT')!r}, {len(time)} bins over {span:.0f} s, {band}, {int(finite.sum())} finite rates"


def main(argv):
    return run(
        argv,
        "check_ogip.py",
        {
            "pha": check_pha,
            "pha2": check_pha2,
            "rmf": lambda c, h: check_rmf(c, h)[1],
            "arf": lambda c, h: check_arf(c, h)[1],
            "lc": check_lc,
        },
        Checker,
    )


if __name__ == "__main__":
    sys.exit(main(sys.argv))
