#!/usr/bin/env python3
"""Independent check, with astropy, of the FITS files written by the `oda` crate.

Usage:
    check_fits.py events PATH   # an ISGRI event file, isgri_events.fits[.gz]
    check_fits.py index PATH    # the ScW index, GNRL-SCWG-GRP-IDX.fits[.gz]
    check_fits.py acs_lc PATH   # an SPI-ACS light curve written by oda (spi_acs_lc)
    check_fits.py acs_lc_layout PATH  # the same layout, primary HDU not checked (ODA's files)
    check_fits.py jemx_lc PATH      # a JEM-X light curve written by oda (OSA's JMXn-SRC.-LCR)
    check_fits.py jemx_events PATH  # a JEM-X event file of the simulated archive (JMXn-FULL-COR)
    check_fits.py jemx_lc_layout PATH  # the same layout, primary HDU not checked (OSA's files)

Verifies the extension names, column names, formats (TFORMn) and units (TUNITn), the
required header keywords and their types, and the consistency of the values. Prints a
one-line summary and exits with status 0 when everything holds; otherwise prints every
problem found to stderr and exits with status 1 (status 2 for a usage error or a file that
cannot be opened at all).
"""

import math
import re
import sys

import numpy as np
from astropy.io import fits

from fitscheck import BaseChecker, first_bad, run

SECONDS_PER_DAY = 86400.0
MJDREF = 51544.0

EVENTS_EXT = "ISGR-EVTS-ALL"
GTI_EXT = "IBIS-GNRL-GTI"
INDEX_EXT = "GNRL-SCWG-GRP-IDX"

# (name, TFORM, TUNIT or None)
EVENT_COLUMNS = [
    ("TIME", "1D", "d"),
    ("ISGRI_ENERGY", "1E", "keV"),
    ("DETY", "1B", None),
    ("DETZ", "1B", None),
    ("SELECT_FLAG", "1B", None),
]
GTI_COLUMNS = [("START", "1D", "d"), ("STOP", "1D", "d")]
INDEX_COLUMNS = [
    ("SWID", "12A", None),
    ("SW_TYPE", "8A", None),
    ("VERSION", "3A", None),
    ("REVOL", "1J", None),
    ("RA_SCX", "1D", "deg"),
    ("DEC_SCX", "1D", "deg"),
    ("RA_SCZ", "1D", "deg"),
    ("DEC_SCZ", "1D", "deg"),
    ("TSTART", "1D", "d"),
    ("TSTOP", "1D", "d"),
    ("TELAPSE", "1D", "s"),
]

# Keyword -> (type, required value or None)
EVENT_KEYWORDS = {
    "TELESCOP": (str, "INTEGRAL"),
    "INSTRUME": (str, "IBIS"),
    "DETNAM": (str, "ISGRI"),
    "EXTNAME": (str, EVENTS_EXT),
    "SWID": (str, None),
    "REVOL": (int, None),
    "SW_TYPE": (str, "POINTING"),
    "TSTART": (float, None),
    "TSTOP": (float, None),
    "TELAPSE": (float, None),
    "ONTIME": (float, None),
    "DEADC": (float, None),
    "EXPOSURE": (float, None),
    "LIVETIME": (float, None),
    "RA_SCX": (float, None),
    "DEC_SCX": (float, None),
    "RA_SCZ": (float, None),
    "DEC_SCZ": (float, None),
    "TIMESYS": (str, "TT"),
    "TIMEUNIT": (str, "d"),
    "MJDREF": (float, MJDREF),
    "TIMEREF": (str, "LOCAL"),
    "ENERGCAL": (str, None),
}
GTI_KEYWORDS = {
    "EXTNAME": (str, GTI_EXT),
    "SWID": (str, None),
    "TSTART": (float, None),
    "TSTOP": (float, None),
}
INDEX_KEYWORDS = {
    "TELESCOP": (str, "INTEGRAL"),
    "EXTNAME": (str, INDEX_EXT),
    "TIMESYS": (str, "TT"),
    "MJDREF": (float, MJDREF),
    "NAXIS2": (int, None),
}

SWID_RE = re.compile(r"^\d{12}$")


class Checker(BaseChecker):
    """Collects the problems found in one file."""

    def table(self, hdul, extname, columns):
        """The binary table `extname` if its columns are as expected, else None."""
        if extname not in hdul:
            self.fail(f"no extension {extname}")
            return None
        hdu = hdul[extname]
        if not isinstance(hdu, fits.BinTableHDU):
            self.fail(f"extension {extname} is a {type(hdu).__name__}, not a binary table")
            return None
        header = hdu.header
        names = [c.name for c in hdu.columns]
        expected = [c[0] for c in columns]
        if names != expected:
            self.fail(f"{extname}: columns are {names}, expected {expected} in this order")
            return None
        ok = True
        for i, (name, tform, tunit) in enumerate(columns, start=1):
            got = header.get(f"TFORM{i}")
            # A repeat count of 1 may be written or left out ('1D' is 'D').
            norm = lambda f: f[1:] if isinstance(f, str) and re.fullmatch(r"1[A-Z]", f) else f
            ok &= self.check(norm(got) == norm(tform), f"{extname}: column {name} has TFORM{i} = {got!r}, expected {tform!r}")
            got = header.get(f"TUNIT{i}")
            if tunit is None:
                ok &= self.check(got is None, f"{extname}: column {name} has TUNIT{i} = {got!r}, expected none")
            else:
                ok &= self.check(got == tunit, f"{extname}: column {name} has TUNIT{i} = {got!r}, expected {tunit!r}")
        return hdu if ok else None

    def keywords(self, header, extname, keywords):
        """The set of keywords present with the right type (and value, if fixed)."""
        good = set()
        for key, (typ, value) in keywords.items():
            if key not in header:
                self.fail(f"{extname}: missing keyword {key}")
                continue
            got = header[key]
            # bool is a subclass of int in Python: a logical keyword is not an integer.
            if isinstance(got, bool) or not isinstance(got, typ):
                self.fail(f"{extname}: keyword {key} = {got!r} is a {type(got).__name__}, expected {typ.__name__}")
            elif value is not None and got != value:
                self.fail(f"{extname}: keyword {key} = {got!r}, expected {value!r}")
            else:
                good.add(key)
        return good

    def sky(self, extname, where, ra, dec):
        self.check(
            np.all(np.isfinite(ra)) and np.all((ra >= 0.0) & (ra < 360.0)),
            f"{extname}: {where}RA outside [0, 360) degrees",
        )
        self.check(
            np.all(np.isfinite(dec)) and np.all((dec >= -90.0) & (dec <= 90.0)),
            f"{extname}: {where}Dec outside [-90, 90] degrees",
        )


def check_primary(c, hdul):
    primary = hdul[0].header
    c.check(primary.get("NAXIS") == 0, "the primary HDU is not empty (NAXIS != 0)")
    c.check(primary.get("ORIGIN") == "oda", f"the primary HDU has ORIGIN = {primary.get('ORIGIN')!r}, expected 'oda'")
    c.check("DATE" not in primary, "the primary HDU has a DATE keyword (files must be reproducible)")


def check_events(c, hdul):
    check_primary(c, hdul)

    evts = c.table(hdul, EVENTS_EXT, EVENT_COLUMNS)
    if evts is None:
        return None
    h = evts.header
    good = c.keywords(h, EVENTS_EXT, EVENT_KEYWORDS)

    def have(*keys):
        return all(k in good for k in keys)

    swid = h.get("SWID")
    if have("SWID") and c.check(SWID_RE.match(swid) is not None, f"{EVENTS_EXT}: SWID = {swid!r} is not 12 digits"):
        if have("REVOL"):
            c.check(h["REVOL"] == int(swid[:4]), f"{EVENTS_EXT}: REVOL = {h['REVOL']} does not match SWID {swid}")
    if have("ENERGCAL"):
        c.check(h["ENERGCAL"] in ("NOMINAL", "CALIBRATED"), f"{EVENTS_EXT}: ENERGCAL = {h['ENERGCAL']!r}")
    interval = have("TSTART", "TSTOP") and c.check(
        math.isfinite(h["TSTART"]) and math.isfinite(h["TSTOP"]) and h["TSTOP"] >= h["TSTART"],
        f"{EVENTS_EXT}: TSTART = {h['TSTART']}, TSTOP = {h['TSTOP']} are not an interval",
    )
    tstart, tstop = (h["TSTART"], h["TSTOP"]) if interval else (None, None)
    if interval and have("TELAPSE"):
        telapse = (tstop - tstart) * SECONDS_PER_DAY
        c.check(math.isclose(h["TELAPSE"], telapse, rel_tol=1e-9, abs_tol=1e-6),
                f"{EVENTS_EXT}: TELAPSE = {h['TELAPSE']} s, but (TSTOP - TSTART) = {telapse} s")
    if have("DEADC"):
        c.check(0.0 < h["DEADC"] <= 1.0, f"{EVENTS_EXT}: DEADC = {h['DEADC']} is not in (0, 1]")
    if have("ONTIME"):
        c.check(h["ONTIME"] >= 0.0, f"{EVENTS_EXT}: ONTIME = {h['ONTIME']} is negative")
    if have("ONTIME", "DEADC", "EXPOSURE"):
        exposure = h["ONTIME"] * h["DEADC"]
        c.check(math.isclose(h["EXPOSURE"], exposure, rel_tol=1e-9, abs_tol=1e-9),
                f"{EVENTS_EXT}: EXPOSURE = {h['EXPOSURE']} s, but ONTIME x DEADC = {exposure} s")
    if have("EXPOSURE", "LIVETIME"):
        c.check(h["LIVETIME"] == h["EXPOSURE"],
                f"{EVENTS_EXT}: LIVETIME = {h['LIVETIME']} differs from EXPOSURE = {h['EXPOSURE']}")
    if have("RA_SCX", "DEC_SCX"):
        c.sky(EVENTS_EXT, "RA_SCX/DEC_SCX: ", np.array([h["RA_SCX"]]), np.array([h["DEC_SCX"]]))
    if have("RA_SCZ", "DEC_SCZ"):
        c.sky(EVENTS_EXT, "RA_SCZ/DEC_SCZ: ", np.array([h["RA_SCZ"]]), np.array([h["DEC_SCZ"]]))

    d = evts.data
    time = np.asarray(d["TIME"], dtype=float)
    energy = np.asarray(d["ISGRI_ENERGY"], dtype=float)
    dety = np.asarray(d["DETY"], dtype=int)
    detz = np.asarray(d["DETZ"], dtype=int)
    if len(time):
        bad = ~np.isfinite(time)
        if c.check(not bad.any(), f"{EVENTS_EXT}: TIME in row {first_bad(bad)} is not finite"):
            unsorted = np.diff(time) < 0
            c.check(not unsorted.any(), f"{EVENTS_EXT}: TIME is not sorted (row {first_bad(unsorted) + 1})")
            if interval:
                outside = (time < tstart) | (time > tstop)
                c.check(not outside.any(),
                        f"{EVENTS_EXT}: TIME in row {first_bad(outside)} is outside [TSTART, TSTOP]")
        bad = ~np.isfinite(energy)
        c.check(not bad.any(), f"{EVENTS_EXT}: ISGRI_ENERGY in row {first_bad(bad)} is not finite")
        bad = (dety < 0) | (dety > 129)
        c.check(not bad.any(), f"{EVENTS_EXT}: DETY in row {first_bad(bad)} is outside 0-129")
        bad = (detz < 0) | (detz > 133)
        c.check(not bad.any(), f"{EVENTS_EXT}: DETZ in row {first_bad(bad)} is outside 0-133")
    exposure = f"{h['EXPOSURE']:.1f} s" if have("EXPOSURE") else "?"
    summary = f"SWID {swid}, {len(time)} events, EXPOSURE {exposure}, ENERGCAL {h.get('ENERGCAL')}"

    gti = c.table(hdul, GTI_EXT, GTI_COLUMNS)
    if gti is not None:
        g = gti.header
        good = c.keywords(g, GTI_EXT, GTI_KEYWORDS)
        if "SWID" in good and have("SWID"):
            c.check(g["SWID"] == swid, f"{GTI_EXT}: SWID = {g['SWID']!r} differs from {swid!r}")
        if {"TSTART", "TSTOP"} <= good and interval:
            c.check(g["TSTART"] == tstart and g["TSTOP"] == tstop,
                    f"{GTI_EXT}: TSTART/TSTOP differ from those of {EVENTS_EXT}")
        start = np.asarray(gti.data["START"], dtype=float)
        stop = np.asarray(gti.data["STOP"], dtype=float)
        if c.check(np.all(np.isfinite(start)) and np.all(np.isfinite(stop)), f"{GTI_EXT}: non-finite interval"):
            c.check(np.all(stop >= start), f"{GTI_EXT}: an interval has STOP before START")
            c.check(np.all(start[1:] >= stop[:-1]), f"{GTI_EXT}: intervals overlap or are not sorted")
            if interval:
                c.check(np.all((start >= tstart) & (stop <= tstop)),
                        f"{GTI_EXT}: an interval is outside [TSTART, TSTOP]")
        summary += f", {len(start)} GTIs"
    return summary


def check_index(c, hdul):
    check_primary(c, hdul)
    idx = c.table(hdul, INDEX_EXT, INDEX_COLUMNS)
    if idx is None:
        return None
    c.keywords(idx.header, INDEX_EXT, INDEX_KEYWORDS)
    d = idx.data
    n = len(d)
    swid = [str(s) for s in d["SWID"]]
    malformed = [i for i, s in enumerate(swid) if not SWID_RE.match(s)]
    if c.check(not malformed, f"{INDEX_EXT}: row {malformed[0] + 1 if malformed else 0}: SWID is not 12 digits"):
        unsorted = [i for i in range(1, n) if swid[i] <= swid[i - 1]]
        c.check(not unsorted,
                f"{INDEX_EXT}: SWIDs not sorted and unique at row {unsorted[0] + 1 if unsorted else 0}")
        revol = np.asarray(d["REVOL"], dtype=int)
        wrong = [i for i in range(n) if revol[i] != int(swid[i][:4])]
        c.check(not wrong, f"{INDEX_EXT}: row {wrong[0] + 1 if wrong else 0}: REVOL does not match SWID")
    c.check(all(str(t) == "POINTING" for t in d["SW_TYPE"]), f"{INDEX_EXT}: SW_TYPE other than 'POINTING'")
    c.check(all(str(v) == "001" for v in d["VERSION"]), f"{INDEX_EXT}: VERSION other than '001'")
    c.sky(INDEX_EXT, "RA_SCX/DEC_SCX: ", np.asarray(d["RA_SCX"]), np.asarray(d["DEC_SCX"]))
    c.sky(INDEX_EXT, "RA_SCZ/DEC_SCZ: ", np.asarray(d["RA_SCZ"]), np.asarray(d["DEC_SCZ"]))
    tstart, tstop, telapse = (np.asarray(d[k], dtype=float) for k in ("TSTART", "TSTOP", "TELAPSE"))
    if c.check(np.all(np.isfinite(tstart)) and np.all(np.isfinite(tstop)) and np.all(np.isfinite(telapse)),
               f"{INDEX_EXT}: non-finite TSTART, TSTOP or TELAPSE"):
        bad = tstop < tstart
        c.check(not bad.any(), f"{INDEX_EXT}: row {first_bad(bad)}: TSTOP before TSTART")
        c.check(np.all(telapse >= 0), f"{INDEX_EXT}: negative TELAPSE")
    span = f", {swid[0]} .. {swid[-1]}" if n else ""
    return f"{n} pointings{span}"


ACS_EXT = "RATE"
ACS_COLUMNS = [("TIME", "D", "s"), ("RATE", "D", "count/s"), ("ERROR", "D", "count/s")]
ACS_KEYWORDS = {
    "TIMESYS": (str, "TT"),
    "MJDREF": (float, MJDREF),
    "TSTART": (float, None),
    "TSTOP": (float, None),
    "TIMEDEL": (float, None),
    "TIMEZERO": (float, None),
    "ONTIME": (float, None),
    "DATE-OBS": (str, None),
    "TELESCOP": (str, "INTEGRAL"),
    "INSTRUME": (str, "SPI-ACS"),
}


def check_acs_layout(c, hdul):
    lc = c.table(hdul, ACS_EXT, ACS_COLUMNS)
    if lc is None:
        return None
    h = lc.header
    good = c.keywords(h, ACS_EXT, ACS_KEYWORDS)
    t = np.asarray(lc.data["TIME"], dtype=float)
    rate = np.asarray(lc.data["RATE"], dtype=float)
    err = np.asarray(lc.data["ERROR"], dtype=float)
    c.check(len(t) > 0 and np.all(np.isfinite(t)) and np.all(np.diff(t) > 0), f"{ACS_EXT}: TIME not finite and increasing")
    c.check(np.all(np.isfinite(rate)) and np.all(np.isfinite(err)) and np.all(err >= 0), f"{ACS_EXT}: bad RATE or ERROR")
    if {"TSTART", "TSTOP", "TIMEZERO", "TIMEDEL"} <= good and len(t):
        zero, dt = h["TIMEZERO"], h["TIMEDEL"]
        c.check(h["TSTART"] <= zero + t[0] and zero + t[-1] <= h["TSTOP"] + dt,
                f"{ACS_EXT}: TIME outside TSTART..TSTOP")
        c.check(dt > 0, f"{ACS_EXT}: TIMEDEL not positive")
    return f"{len(t)} bins of {h.get('TIMEDEL')} s"


def check_acs(c, hdul):
    check_primary(c, hdul)
    return check_acs_layout(c, hdul)


# OSA's JEM-X source light curve, as tests/data/fixtures/jemx1_crab_lc.fits.gz (TIME in days).
JEMX_COLUMNS = [("TIME", "D", "d"), ("RATE", "E", "count/s"), ("ERROR", "E", "count/s"),
                ("BRATE", "E", "count/s"), ("BERROR", "E", "count/s"), ("BARYTIME", "D", "d"),
                ("FRACEXP", "E", None)]
JEMX_KEYWORDS = {
    "TELESCOP": (str, "INTEGRAL"),
    "TIMESYS": (str, "TT"),
    "TIMEUNIT": (str, "d"),
    "MJDREF": (float, MJDREF),
    "TSTART": (float, None),
    "TSTOP": (float, None),
    "TIMEDEL": (float, None),
    "CHANTYPE": (str, "PI"),
    "CHANMIN": (int, None),
    "CHANMAX": (int, None),
    "E_MIN": (float, None),
    "E_MAX": (float, None),
    "OFFANGLE": (float, None),
    "VIGNET": (float, None),
    "BACKAPP": (bool, True),
    "DEADAPP": (bool, True),
    "VIGNAPP": (bool, True),
}


def check_jemx_layout(c, hdul):
    names = [h.name for h in hdul if re.fullmatch(r"JMX[12]-SRC\.-LCR", h.name)]
    if not names:
        c.fail(f"no JMX1-SRC.-LCR or JMX2-SRC.-LCR extension among {[h.name for h in hdul]}")
        return None
    ext = names[0]
    lc = c.table(hdul, ext, JEMX_COLUMNS)
    if lc is None:
        return None
    h = lc.header
    keywords = dict(JEMX_KEYWORDS, INSTRUME=(str, ext[:4]))
    # astropy reads a logical keyword as bool, which the generic check refuses as an int: check
    # the flags apart.
    flags = {k: keywords.pop(k) for k in ("BACKAPP", "DEADAPP", "VIGNAPP")}
    good = c.keywords(h, ext, keywords)
    for k in flags:
        c.check(h.get(k) is True, f"{ext}: {k} = {h.get(k)!r}, expected T")
    t = np.asarray(lc.data["TIME"], dtype=float)
    rate = np.asarray(lc.data["RATE"], dtype=float)
    c.check(len(t) > 0 and np.all(np.isfinite(t)) and np.all(np.diff(t) > 0), f"{ext}: TIME not finite and increasing")
    c.check(np.all(np.isfinite(rate)), f"{ext}: RATE not finite")
    if {"TSTART", "TSTOP", "TIMEDEL"} <= good and len(t):
        dt = h["TIMEDEL"]
        c.check(dt > 0, f"{ext}: TIMEDEL not positive")
        c.check(h["TSTART"] <= t[0] - dt / 2 + 1e-9 and t[-1] + dt / 2 <= h["TSTOP"] + 1e-9,
                f"{ext}: bins outside TSTART..TSTOP")
    if {"E_MIN", "E_MAX", "CHANMIN", "CHANMAX"} <= good:
        c.check(3.0 <= h["E_MIN"] < h["E_MAX"] <= 35.0, f"{ext}: E_MIN..E_MAX = {h['E_MIN']}..{h['E_MAX']} outside 3-35 keV")
        c.check(0 <= h["CHANMIN"] <= h["CHANMAX"] <= 255, f"{ext}: CHANMIN..CHANMAX outside the 256 PI channels")
    return f"{ext}: {len(t)} bins of {h.get('TIMEDEL', 0) * 86400:.0f} s, mean {np.mean(rate):.2f} count/s"


def check_jemx_events(c, hdul):
    check_primary(c, hdul)
    names = [h.name for h in hdul if re.fullmatch(r"JMX[12]-FULL-COR", h.name)]
    if not names:
        c.fail(f"no JMX1-FULL-COR or JMX2-FULL-COR extension among {[h.name for h in hdul]}")
        return None
    ext = names[0]
    ev = c.table(hdul, ext, [("TIME", "D", "d"), ("DETX", "E", "mm"), ("DETY", "E", "mm"), ("PI", "I", None), ("STATUS", "J", None)])
    if ev is None:
        return None
    h = ev.header
    c.keywords(h, ext, {"INSTRUME": (str, ext[:4]), "TIMESYS": (str, "TT"), "MJDREF": (float, MJDREF),
                        "TSTART": (float, None), "TSTOP": (float, None), "ONTIME": (float, None),
                        "DEADC": (float, None), "SWID": (str, None)})
    t = np.asarray(ev.data["TIME"], dtype=float)
    r = np.hypot(ev.data["DETX"], ev.data["DETY"])
    pi = np.asarray(ev.data["PI"])
    c.check(np.all(np.diff(t) >= 0), f"{ext}: TIME not sorted")
    c.check(len(t) == 0 or (t[0] >= h["TSTART"] and t[-1] <= h["TSTOP"]), f"{ext}: TIME outside TSTART..TSTOP")
    c.check(np.all(r < 131.0), f"{ext}: positions off the detector")
    c.check(np.all((pi >= 0) & (pi <= 255)), f"{ext}: PI outside 0-255")
    gti = ext[:4] + "-GNRL-GTI"
    c.check(gti in hdul, f"no {gti} extension")
    return f"{ext}: {len(t)} events"


def check_jemx(c, hdul):
    check_primary(c, hdul)
    return check_jemx_layout(c, hdul)


def main(argv):
    return run(
        argv,
        "check_fits.py",
        {"events": check_events, "index": check_index, "acs_lc": check_acs, "acs_lc_layout": check_acs_layout,
         "jemx_lc": check_jemx, "jemx_lc_layout": check_jemx_layout, "jemx_events": check_jemx_events},
        Checker,
    )


if __name__ == "__main__":
    sys.exit(main(sys.argv))
