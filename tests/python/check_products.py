#!/usr/bin/env python3
"""Independent check, with astropy and Sherpa, of a directory written by `oda get-product`.

Usage:
    check_products.py DIR

DIR holds the product files and `result.json`:

    {"product": "isgri_image" | "isgri_spectrum" | "isgri_lc" | "spectral_fit"
                | "jemx_image" | "jemx_spectrum" | "jemx_lc",
     "files": [{"kind": "image" | "catalog" | "spectrum" | "rmf" | "arf" | "lightcurve",
                "path": "relative/to/DIR.fits", "source": "Crab"}, ...],
     "fit": {"source": "Crab", "model": "powerlaw" | "cutoffpl" | "bknpower",
             "energy_range_keV": [30.0, 300.0],
             "parameters": [{"name": "K", "value": ..., "error": ..., "unit": ...}, ...],
             "chi2": ..., "dof": ...}}           # spectral_fit only

Checks:
  * result.json: the schema above, every path relative and inside DIR, the kinds the product
    needs (an image for isgri_image, a spectrum for isgri_spectrum and spectral_fit, a light
    curve for isgri_lc; `fit` for spectral_fit only).
  * each file: it opens with astropy (CHECKSUM/DATASUM verified where present), passes
    `HDUList.verify`, and the checks of its kind:
      image      the first 2-D image HDU (and every other) has a celestial WCS with CTYPE
                 RA---TAN / DEC--TAN, a BUNIT, finite pixels;
      catalog    a binary table with name, RA, Dec and significance columns (lenient names:
                 NAME/SOURCE..., RA/RA_OBJ..., DEC/DEC_OBJ..., SIGNIFICANCE/DETSIG/SIGMA...),
                 coordinates in range, and every source inside an image of the same product;
      spectrum   OGIP PHA type I or II, as `check_ogip.py pha`/`pha2` check it (HDUCLAS1
                 SPECTRUM, CHANNEL, RATE, STAT_ERR, EXPOSURE > 0, the RMF and ARF it names,
                 with their channel and energy grids), the RESPFILE/ANCRFILE being files of DIR
                 that result.json lists; OBJECT is the entry's source;
      rmf, arf   OGIP MATRIX + EBOUNDS, SPECRESP (`check_ogip.py rmf`/`arf`);
      lightcurve OGIP RATE extension (`check_ogip.py lc`: TIME, TIMEDEL, RATE, ERROR, FRACEXP,
                 the time keywords); OBJECT is the entry's source. A JEM-X light curve is in
                 OSA's JMXn-SRC.-LCR layout instead: TIME, RATE, ERROR, BRATE, BERROR, FRACEXP,
                 TIMEDEL, TIMESYS TT, CHANMIN <= CHANMAX, E_MIN < E_MAX, INSTRUME JMX1/JMX2,
                 finite rates and positive errors, NAME the entry's source.
  JEM-X spectra are in OSA's JMXn-PHA1-SPE extension, checked as SPECTRUM is.
  * the fit: Sherpa loads the spectrum (`load_pha`, which finds the RMF and ARF), uses the
    errors the library uses (STAT_ERR and the fractional SYS_ERR in quadrature; Sherpa itself
    would read SYS_ERR as an absolute error), notices exactly the channels the library fits
    (entirely inside energy_range_keV, good quality, finite rate, positive error) and checks
    their number is dof + number of parameters; it then evaluates chi2 at the library's
    parameters (must equal the library's chi2) and fits from a generic start. powerlaw uses
    Sherpa's powlaw1d (ref = 100 keV, the library's pivot): Gamma and K must agree within 1 %,
    their errors within 10 %. cutoffpl and bknpower use Python models of the library's
    definitions integrated over the response bins; Sherpa's minimum must not be below the
    library's chi2, and the parameters are printed side by side.

Prints one line per file and the fit comparison; exits with status 0 when everything holds,
1 when a problem was found (each printed to stderr), 2 for a usage error or an unreadable
result.json, 3 when a Python package the check needs (astropy, numpy, or Sherpa for a fit) is
not installed.
"""

import contextlib
import io
import json
import logging
import math
import os
import sys
import traceback
import warnings

PROGRAM = "check_products.py"
EXIT_PROBLEMS, EXIT_USAGE, EXIT_MISSING = 1, 2, 3

try:
    import numpy as np
    from astropy.io import fits
    from astropy.wcs import WCS
    from astropy.wcs.utils import proj_plane_pixel_scales
except ImportError as e:  # pragma: no cover - depends on the installation
    print(f"{PROGRAM}: cannot run: {e} (python3 -m pip install -r requirements.txt)", file=sys.stderr)
    sys.exit(EXIT_MISSING)

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import check_ogip  # noqa: E402 - after the path is set
import fitscheck  # noqa: E402

PRODUCTS = {
    # product: (kinds it must contain, kinds it may contain)
    "isgri_image": ({"image", "catalog"}, {"image", "catalog", "catalog_json"}),
    "isgri_spectrum": ({"spectrum"}, {"spectrum", "rmf", "arf", "catalog", "catalog_json"}),
    "isgri_lc": ({"lightcurve"}, {"lightcurve", "catalog", "catalog_json"}),
    "spectral_fit": ({"spectrum"}, {"spectrum", "rmf", "arf", "catalog", "catalog_json"}),
    "jemx_image": ({"image", "catalog"}, {"image", "catalog", "catalog_json"}),
    "jemx_spectrum": ({"spectrum"}, {"spectrum", "rmf", "arf", "catalog", "catalog_json"}),
    "jemx_lc": ({"lightcurve"}, {"lightcurve", "catalog", "catalog_json"}),
}


def spectrum_hdu(hdul):
    """The spectrum extension (SPECTRUM, or JEM-X's JMXn-PHA1-SPE), else None."""
    for name in check_ogip.SPECTRUM_EXTNAMES:
        if name in hdul:
            return hdul[name]
    return None
KINDS = ("image", "catalog", "catalog_json", "spectrum", "rmf", "arf", "lightcurve")


def check_catalog_json(p, entry):
    """ODA's catalog JSON (the selected_catalog format): names and coordinates per row."""
    where = f"catalog_json {entry['path']}"
    try:
        with open(entry["full"], encoding="utf-8") as f:
            cat = json.load(f)
    except (OSError, ValueError) as e:
        p.fail(f"{where}: not readable JSON: {e}")
        return
    names = cat.get("cat_column_names") if isinstance(cat, dict) else None
    cols = cat.get("cat_column_list") if isinstance(cat, dict) else None
    if not p.check(isinstance(names, list) and isinstance(cols, list) and len(names) == len(cols),
                   f"{where}: needs cat_column_names and cat_column_list of equal length"):
        return
    table = dict(zip(names, cols))
    for key in ("src_names", cat.get("cat_lon_name", "ra"), cat.get("cat_lat_name", "dec")):
        p.check(key in table, f"{where}: no column {key!r}")
    lengths = {len(c) for c in cols if isinstance(c, list)}
    p.check(len(lengths) <= 1, f"{where}: columns of different lengths {sorted(lengths)}")
    say(f"OK catalog_json {entry['path']}: {len(table.get('src_names', []))} source(s)")
MODELS = {
    "powerlaw": ("K", "Gamma"),
    "cutoffpl": ("K", "Gamma", "Ecut"),
    "bknpower": ("K", "Gamma1", "Ebreak", "Gamma2"),
}

# Catalog columns, by role: accepted names (compared without case), first preferred.
CATALOG_COLUMNS = {
    "name": ("NAME", "SOURCE", "SOURCE_NAME", "SRC_NAME", "OBJECT", "ID"),
    "ra": ("RA", "RA_OBJ", "RA_FIN", "RAJ2000", "RA_J2000", "RA_DEG"),
    "dec": ("DEC", "DEC_OBJ", "DEC_FIN", "DEJ2000", "DECJ2000", "DEC_J2000", "DEC_DEG"),
    "significance": ("SIGNIFICANCE", "DETSIG", "DET_SIG", "SIGMA", "SIG", "SNR", "DETECTION_SIGNIFICANCE"),
}
CELESTIAL_CTYPES = ("RA---TAN", "DEC--TAN")

# The library's fit (src/fit/fitter.rs): pivot of K, and the tolerance on the band edges.
PIVOT_KEV = 100.0
EDGE_TOLERANCE = 1e-6
# Agreement demanded between Sherpa and the library.
GAMMA_TOLERANCE = 0.01   # relative, Gamma and K of a power law
ERROR_TOLERANCE = 0.10   # relative, their 1-sigma errors
CHI2_TOLERANCE = 0.01    # times max(1, chi2)


class Problems(fitscheck.BaseChecker):
    """The problems and notes of the whole directory (the checkers' collector, for a directory)."""

    def __init__(self):
        super().__init__(None)


def say(message):
    print(f"{PROGRAM}: {message}")


def note(message):
    print(f"{PROGRAM}: note: {message}")


def is_number(x):
    return isinstance(x, (int, float)) and not isinstance(x, bool) and math.isfinite(x)


def same_name(a, b):
    return str(a).strip().casefold() == str(b).strip().casefold()


# ---------------------------------------------------------------------------------------------
# result.json


def load_result(directory):
    """The parsed result.json, or exits with status 2."""
    path = os.path.join(directory, "result.json")
    if not os.path.isdir(directory):
        print(f"{PROGRAM}: {directory} is not a directory", file=sys.stderr)
        sys.exit(EXIT_USAGE)
    try:
        with open(path, encoding="utf-8") as f:
            return json.load(f)
    except (OSError, ValueError) as e:
        print(f"{PROGRAM}: FAIL {path}: cannot read it as JSON: {e}", file=sys.stderr)
        sys.exit(EXIT_USAGE)


def inside(directory, path):
    """The absolute path of `path` (relative to `directory`), or None when it leaves it."""
    root = os.path.realpath(directory)
    full = os.path.realpath(os.path.join(root, path))
    return full if os.path.commonpath([root, full]) == root else None


def check_schema(p, directory, result):
    """Checks result.json's structure; returns the usable file entries (with an absolute
    `full` path added)."""
    if not p.check(isinstance(result, dict), "result.json: not a JSON object"):
        return []
    product = result.get("product")
    p.check(product in PRODUCTS,
            f"result.json: product = {product!r}, expected one of {', '.join(PRODUCTS)}")
    files = result.get("files")
    if not p.check(isinstance(files, list) and files, "result.json: no 'files' list (or an empty one)"):
        return []
    entries = []
    seen = set()
    for i, entry in enumerate(files):
        where = f"result.json: files[{i}]"
        if not p.check(isinstance(entry, dict), f"{where} is not an object"):
            continue
        kind, path, source = entry.get("kind"), entry.get("path"), entry.get("source")
        ok = p.check(kind in KINDS, f"{where}: kind = {kind!r}, expected one of {', '.join(KINDS)}")
        ok &= p.check(isinstance(path, str) and path.strip() != "", f"{where}: no 'path' string")
        p.check(source is None or (isinstance(source, str) and source.strip()),
                f"{where}: source = {source!r} is not a non-empty string")
        if not ok:
            continue
        where = f"result.json: files[{i}] ({kind} {path})"
        if not p.check(not os.path.isabs(path), f"{where}: the path is absolute, not relative to DIR"):
            continue
        full = inside(directory, path)
        if not p.check(full is not None, f"{where}: the path leads outside DIR"):
            continue
        if not p.check(full not in seen, f"{where}: listed twice"):
            continue
        seen.add(full)
        if not p.check(os.path.isfile(full), f"{where}: no such file in DIR"):
            continue
        entries.append({**entry, "full": full})
    if product in PRODUCTS:
        needed, allowed = PRODUCTS[product]
        kinds = {e.get("kind") for e in files if isinstance(e, dict)}
        for kind in sorted(needed - kinds):
            p.fail(f"result.json: the {product} product lists no {kind} file")
        for kind in sorted(kinds - allowed - {None}):
            if kind in KINDS:
                note(f"the {product} product lists a {kind} file")
        if "catalog" in allowed and "catalog" not in kinds:
            note(f"the {product} product has no catalog file")
        fit = result.get("fit")
        if product == "spectral_fit":
            p.check(fit is not None, "result.json: the spectral_fit product has no 'fit'")
        else:
            p.check(fit is None, f"result.json: the {product} product has a 'fit' (spectral_fit only)")
    listed = seen | {os.path.realpath(os.path.join(directory, "result.json"))}
    for root, _, names in os.walk(directory):
        for name in names:
            full = os.path.realpath(os.path.join(root, name))
            if full not in listed:
                note(f"{os.path.relpath(full, os.path.realpath(directory))} is in DIR but not in result.json")
    return entries


def check_fit_schema(p, fit):
    """The fit block's values as a dict, or None (with problems)."""
    if not p.check(isinstance(fit, dict), "result.json: 'fit' is not an object"):
        return None
    model = fit.get("model")
    ok = p.check(model in MODELS, f"result.json: fit.model = {model!r}, expected one of {', '.join(MODELS)}")
    ok &= p.check(isinstance(fit.get("source"), str) and fit["source"].strip(),
                  f"result.json: fit.source = {fit.get('source')!r} is not a source name")
    band = fit.get("energy_range_keV")
    ok &= p.check(isinstance(band, list) and len(band) == 2 and all(map(is_number, band))
                  and 0 < band[0] < band[1],
                  f"result.json: fit.energy_range_keV = {band!r} is not [e_min, e_max] keV with 0 < e_min < e_max")
    chi2, dof = fit.get("chi2"), fit.get("dof")
    ok &= p.check(is_number(chi2) and chi2 >= 0, f"result.json: fit.chi2 = {chi2!r} is not a number >= 0")
    ok &= p.check(isinstance(dof, int) and not isinstance(dof, bool) and dof >= 1,
                  f"result.json: fit.dof = {dof!r} is not an integer >= 1")
    params = fit.get("parameters")
    if not p.check(isinstance(params, list), "result.json: fit.parameters is not a list"):
        return None
    values = {}
    for i, par in enumerate(params):
        where = f"result.json: fit.parameters[{i}]"
        if not p.check(isinstance(par, dict), f"{where} is not an object"):
            ok = False
            continue
        name = par.get("name")
        ok &= p.check(is_number(par.get("value")), f"{where} ({name}): value = {par.get('value')!r} is not a number")
        ok &= p.check(is_number(par.get("error")) and par.get("error") >= 0,
                      f"{where} ({name}): error = {par.get('error')!r} is not a number >= 0")
        values[name] = par
    if model in MODELS:
        names = [par.get("name") for par in params if isinstance(par, dict)]
        ok &= p.check(names == list(MODELS[model]),
                      f"result.json: fit.parameters are {names}, expected {list(MODELS[model])} for {model}")
    if not ok:
        return None
    return {"source": fit["source"].strip(), "model": model, "band": tuple(map(float, band)),
            "values": {n: float(values[n]["value"]) for n in MODELS[model]},
            "errors": {n: float(values[n]["error"]) for n in MODELS[model]},
            "units": {n: values[n].get("unit") for n in MODELS[model]},
            "chi2": float(chi2), "dof": dof}


# ---------------------------------------------------------------------------------------------
# FITS files


def open_fits(c, path):
    """Opens `path` (verifying CHECKSUM/DATASUM where present) and runs astropy's FITS
    verification; warnings become problems. Returns the HDUList or None."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            hdul = fits.open(path, memmap=False, checksum=True)
        except Exception as e:  # noqa: BLE001 - any failure to open is reported the same way
            c.fail(f"cannot open: {type(e).__name__}: {e}")
            return None
        hdul.verify("warn")
    for w in caught:
        if issubclass(w.category, (ResourceWarning, DeprecationWarning, PendingDeprecationWarning)):
            continue
        text = " ".join(str(w.message).split())
        c.fail(f"astropy: {w.category.__name__}: {text}")
    return hdul


def image_hdus(hdul):
    return [h for h in hdul if h.is_image and h.header.get("NAXIS") == 2]


def check_one_image(c, hdu, ctx, first):
    """Checks one 2-D image HDU; returns a one-line description. The first image needs a
    non-empty BUNIT, the others a BUNIT keyword (empty for a dimensionless significance)."""
    h = hdu.header
    name = hdu.name or "PRIMARY"
    shape = hdu.data.shape if hdu.data is not None else (0, 0)
    c.check(len(shape) == 2 and min(shape) >= 2, f"{name}: image of shape {shape}, expected at least 2 x 2 pixels")
    bunit = h.get("BUNIT")
    if first:
        c.check(isinstance(bunit, str) and bunit.strip() != "", f"{name}: no BUNIT (or an empty one)")
    else:
        c.check(isinstance(bunit, str), f"{name}: no BUNIT")
    if hdu.data is not None and hdu.data.size:
        finite = np.isfinite(hdu.data)
        c.check(finite.any(), f"{name}: no finite pixel")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            w = WCS(h)
        except Exception as e:  # noqa: BLE001 - an unusable WCS is a problem, whatever the cause
            c.fail(f"{name}: no usable WCS: {type(e).__name__}: {e}")
            return f"{name} {shape[1]}x{shape[0]} (no WCS)"
    for warning in caught:
        if not issubclass(warning.category, (ResourceWarning, DeprecationWarning)):
            note(f"{os.path.basename(c.path)} {name}: astropy.wcs: {' '.join(str(warning.message).split())}")
    if not c.check(w.has_celestial, f"{name}: the WCS has no celestial axes (CTYPE1/2 = "
                                    f"{h.get('CTYPE1')!r}/{h.get('CTYPE2')!r})"):
        return f"{name} {shape[1]}x{shape[0]} (no celestial WCS)"
    ctype = tuple(t.strip() for t in w.wcs.ctype)
    c.check(ctype == CELESTIAL_CTYPES, f"{name}: CTYPE1/2 = {ctype}, expected {CELESTIAL_CTYPES}")
    if "RADESYS" not in h and "EQUINOX" not in h:
        note(f"{os.path.basename(c.path)} {name}: neither RADESYS nor EQUINOX (ICRS assumed)")
    cel = w.celestial
    ny, nx = shape
    ra, dec = cel.pixel_to_world_values((nx - 1) / 2.0, (ny - 1) / 2.0)
    c.check(np.isfinite(ra) and np.isfinite(dec) and -90 <= dec <= 90,
            f"{name}: the image centre maps to RA, Dec = {ra}, {dec}")
    scale = np.abs(proj_plane_pixel_scales(cel))
    c.check(np.all(np.isfinite(scale) & (scale > 0)), f"{name}: pixel scales {scale} are not positive")
    ctx.setdefault("images", []).append((os.path.basename(c.path), name, cel, nx, ny))
    return (f"{name} {nx}x{ny} [{bunit}], centre RA {float(ra):.3f} Dec {float(dec):+.3f}, "
            f"pixel {float(scale[0]) * 60:.2f}'")


def check_image(c, hdul, entry, ctx):
    images = image_hdus(hdul)
    if not c.check(images, "no 2-D image HDU"):
        return None
    described = [check_one_image(c, hdu, ctx, i == 0) for i, hdu in enumerate(images)]
    more = f"; {len(images) - 1} more image HDU(s): {', '.join(h.name for h in images[1:])}" if len(images) > 1 else ""
    return described[0] + more


def find_column(names, role):
    upper = {n.upper(): n for n in names}
    for candidate in CATALOG_COLUMNS[role]:
        if candidate in upper:
            return upper[candidate]
    return None


def check_catalog(c, hdul, entry, ctx):
    tables = [h for h in hdul if isinstance(h, fits.BinTableHDU)]
    if not c.check(tables, "no binary table"):
        return None
    found = None
    for t in tables:
        cols = {role: find_column(t.columns.names, role) for role in CATALOG_COLUMNS}
        if all(cols.values()):
            found = (t, cols)
            break
    if found is None:
        t = tables[0]
        cols = {role: find_column(t.columns.names, role) for role in CATALOG_COLUMNS}
        missing = [f"{role} ({'/'.join(CATALOG_COLUMNS[role])})" for role, col in cols.items() if col is None]
        c.fail(f"{t.name or f'HDU {hdul.index_of(t)}'}: no column for {', '.join(missing)}; "
               f"the table has {', '.join(t.columns.names) or 'none'}")
        return None
    t, cols = found
    where = t.name or f"HDU {hdul.index_of(t)}"
    d = t.data
    n = 0 if d is None else len(d)
    if n == 0:
        note(f"{os.path.basename(c.path)}: the catalog is empty")
        return f"{where}: 0 sources (columns {', '.join(cols.values())})"
    names = [str(x).strip() for x in d[cols["name"]]]
    ra = np.asarray(d[cols["ra"]], dtype=float)
    dec = np.asarray(d[cols["dec"]], dtype=float)
    sig = np.asarray(d[cols["significance"]], dtype=float)
    bad = [i for i, s in enumerate(names) if not s]
    c.check(not bad, f"{where}: row {bad[0] + 1 if bad else 0}: empty {cols['name']}")
    dup = sorted({s for s in names if s and names.count(s) > 1})
    if dup:
        note(f"{os.path.basename(c.path)}: names listed more than once: {', '.join(dup)}")
    bad = ~(np.isfinite(ra) & (ra >= 0) & (ra <= 360))
    c.check(not bad.any(), f"{where}: {cols['ra']} in row {check_ogip.first_bad(bad)} is not in [0, 360] deg")
    bad = ~(np.isfinite(dec) & (dec >= -90) & (dec <= 90))
    c.check(not bad.any(), f"{where}: {cols['dec']} in row {check_ogip.first_bad(bad)} is not in [-90, 90] deg")
    bad = ~np.isfinite(sig)
    c.check(not bad.any(), f"{where}: {cols['significance']} in row {check_ogip.first_bad(bad)} is not finite")
    units = t.columns.units
    for role in ("ra", "dec"):
        unit = units[t.columns.names.index(cols[role])]
        if unit not in (None, "", "deg", "degree", "degrees"):
            c.fail(f"{where}: column {cols[role]} has unit {unit!r}, expected deg")
    source = entry.get("source")
    if source and not any(same_name(s, source) for s in names):
        note(f"{os.path.basename(c.path)}: the entry's source {source!r} is not among the catalog's names")
    ctx.setdefault("catalogs", []).append((os.path.basename(c.path), names, ra, dec))
    order = np.argsort(-np.where(np.isfinite(sig), sig, -np.inf))
    top = ", ".join(f"{names[i]} {sig[i]:.1f}" for i in order[:3])
    return (f"{where}: {n} source(s) (columns {cols['name']}, {cols['ra']}, {cols['dec']}, "
            f"{cols['significance']}); most significant: {top}")


def catalogs_in_images(p, ctx):
    """Every catalog source lies inside at least one image of the product."""
    images = ctx.get("images", [])
    if not images:
        return
    for catalog, names, ra, dec in ctx.get("catalogs", []):
        for name, r, d in zip(names, ra, dec):
            if not (np.isfinite(r) and np.isfinite(d)):
                continue
            hit = False
            for _, _, cel, nx, ny in images:
                x, y = cel.world_to_pixel_values(r, d)
                if np.isfinite(x) and np.isfinite(y) and -0.5 <= x <= nx - 0.5 and -0.5 <= y <= ny - 0.5:
                    hit = True
                    break
            p.check(hit, f"{catalog}: source {name!r} at RA {r:.4f} Dec {d:+.4f} lies outside every image "
                         f"({', '.join(f'{f} {h}' for f, h, *_ in images)})")


def check_spectrum(c, hdul, entry, ctx):
    s = spectrum_hdu(hdul)
    type2 = s is not None and s.header.get("HDUCLAS4") == "TYPE:II"
    summary = (check_ogip.check_pha2 if type2 else check_ogip.check_pha)(c, hdul)
    if s is None:
        return summary
    h = s.header
    rows = len(s.data) if type2 and s.data is not None else 1
    objects = check_ogip.per_row(s, "OBJECT") if type2 else [h.get("OBJECT")]
    source = entry.get("source")
    if source and objects:
        c.check(any(same_name(o, source) for o in objects),
                f"SPECTRUM: OBJECT {', '.join(map(repr, objects))} is not the entry's source {source!r}")
    # The response files must be files of DIR that result.json lists, under their own kind.
    listed = ctx["listed"]
    for key, kind in (("RESPFILE", "rmf"), ("ANCRFILE", "arf")):
        values = (check_ogip.per_row(s, key) if type2 else [h.get(key)]) or []
        for name in sorted({str(v).strip() for v in values if v is not None and not check_ogip.is_none(v)}):
            if not c.check(not os.path.isabs(name), f"SPECTRUM: {key} = {name!r} is an absolute path, not a name "
                                                    f"relative to the spectrum's directory"):
                continue
            full = inside(ctx["dir"], os.path.join(os.path.dirname(os.path.relpath(c.path, ctx["dir"])), name))
            if not c.check(full is not None, f"SPECTRUM: {key} = {name!r} is outside DIR"):
                continue
            c.check(listed.get(full) == kind,
                    f"SPECTRUM: {key} = {name!r} is not listed in result.json with kind {kind!r}"
                    + (f" (it is listed as {listed[full]})" if full in listed else ""))
    ctx.setdefault("spectra", []).append({"entry": entry, "path": c.path, "type2": type2, "rows": rows,
                                          "objects": [str(o).strip() for o in objects or []]})
    return summary


def check_jemx_lightcurve(c, hdul, entry):
    """A JEM-X light curve in OSA's JMXn-SRC.-LCR layout."""
    names = [h.name for h in hdul if h.name.endswith("-SRC.-LCR")]
    if not c.check(len(names) == 1, f"expected one JMXn-SRC.-LCR extension, found {names}"):
        return None
    t = hdul[names[0]]
    h = t.header
    c.check(names[0][:4] in ("JMX1", "JMX2") and h.get("INSTRUME") == names[0][:4],
            f"{names[0]}: INSTRUME = {h.get('INSTRUME')!r} is not the unit of the extension")
    cols = t.columns.names
    for col in ("TIME", "RATE", "ERROR", "BRATE", "BERROR", "FRACEXP"):
        c.check(col in cols, f"{names[0]}: no column {col}")
    for key in ("TIMEDEL", "TSTART", "TSTOP", "CHANMIN", "CHANMAX", "E_MIN", "E_MAX"):
        c.check(is_number(h.get(key)), f"{names[0]}: keyword {key} = {h.get(key)!r} is not a number")
    c.check(h.get("TIMESYS") == "TT", f"{names[0]}: TIMESYS = {h.get('TIMESYS')!r}, expected 'TT'")
    if is_number(h.get("CHANMIN")) and is_number(h.get("CHANMAX")):
        c.check(h["CHANMIN"] <= h["CHANMAX"], f"{names[0]}: CHANMIN > CHANMAX")
    if is_number(h.get("E_MIN")) and is_number(h.get("E_MAX")):
        c.check(3.0 - 0.1 <= h["E_MIN"] < h["E_MAX"] <= 35.0 + 0.5,
                f"{names[0]}: E_MIN .. E_MAX = {h['E_MIN']} .. {h['E_MAX']} keV is not a JEM-X band")
    if not all(col in cols for col in ("TIME", "RATE", "ERROR", "FRACEXP")):
        return None
    d = t.data
    time, rate, err = (np.asarray(d[k], dtype=float) for k in ("TIME", "RATE", "ERROR"))
    c.check(len(time) > 0, f"{names[0]}: no bins")
    c.check(bool(np.all(np.diff(time) > 0)), f"{names[0]}: TIME is not increasing")
    c.check(bool(np.all(np.isfinite(rate)) and np.all(err > 0)),
            f"{names[0]}: rates not finite or errors not positive")
    source = entry.get("source")
    if source:
        c.check(same_name(h.get("NAME"), source), f"{names[0]}: NAME = {h.get('NAME')!r} is not the entry's source {source!r}")
    return f"{names[0]}, {len(time)} bins, mean rate {float(np.mean(rate)):.2f} cts/s"


def check_lightcurve(c, hdul, entry, ctx):
    if "RATE" not in hdul and any(h.name.endswith("-SRC.-LCR") for h in hdul):
        return check_jemx_lightcurve(c, hdul, entry)
    summary = check_ogip.check_lc(c, hdul)
    source = entry.get("source")
    if source and "RATE" in hdul:
        obj = hdul["RATE"].header.get("OBJECT")
        c.check(same_name(obj, source), f"RATE: OBJECT = {obj!r} is not the entry's source {source!r}")
    if "RATE" in hdul and "TIMEZERO" in hdul["RATE"].header:
        tz = hdul["RATE"].header["TIMEZERO"]
        c.check(is_number(tz), f"RATE: TIMEZERO = {tz!r} is not a number")
    return summary


CHECKS = {
    "image": check_image,
    "catalog": check_catalog,
    "spectrum": check_spectrum,
    "rmf": lambda c, hdul, entry, ctx: check_ogip.check_rmf(c, hdul)[1],
    "arf": lambda c, hdul, entry, ctx: check_ogip.check_arf(c, hdul)[1],
    "lightcurve": check_lightcurve,
}


def check_file(p, entry, ctx):
    kind, path = entry["kind"], entry["full"]
    rel = os.path.relpath(path, ctx["dir"])
    c = check_ogip.Checker(path)
    hdul = open_fits(c, path)
    summary = None
    if hdul is not None:
        with hdul:
            try:
                summary = CHECKS[kind](c, hdul, entry, ctx)
            except Exception as e:  # noqa: BLE001 - a malformed file may break any access
                c.fail(f"unexpected error while checking: {type(e).__name__}: {e}")
    if c.problems:
        say(f"FAIL {kind} {rel}: {len(c.problems)} problem(s)")
        for problem in c.problems:
            p.fail(f"{kind} {rel}: {problem}")
    else:
        say(f"OK {kind} {rel}: {summary}")


# ---------------------------------------------------------------------------------------------
# The fit, redone with Sherpa


class LogCollector(logging.Handler):
    """Keeps Sherpa's log messages, to show the warnings among them."""

    def __init__(self):
        super().__init__(logging.INFO)
        self.records = []

    def emit(self, record):
        self.records.append(record)

    def take(self, level=logging.WARNING):
        out = [" ".join(r.getMessage().split()) for r in self.records if r.levelno >= level]
        self.records = []
        return out


def import_sherpa():
    """(sherpa.astro.ui, version, log collector), or None when Sherpa is missing. Sherpa's
    start-up chatter (no DS9, no matplotlib, no XSPEC) is swallowed."""
    chatter = io.StringIO()
    try:
        with contextlib.redirect_stdout(chatter), contextlib.redirect_stderr(chatter), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            import sherpa
            from sherpa.astro import ui
    except ImportError:
        return None
    logger = logging.getLogger("sherpa")
    for handler in list(logger.handlers):
        logger.removeHandler(handler)
    collector = LogCollector()
    logger.addHandler(collector)
    logger.propagate = False
    logger.setLevel(logging.INFO)
    return ui, sherpa.__version__, collector


def gauss_legendre_ln(lo, hi, n=8):
    """Nodes (E, keV) and weights (dE) of n-point Gauss-Legendre quadrature in ln E over each
    [lo, hi] (arrays; empty intervals get zero weights)."""
    x, w = np.polynomial.legendre.leggauss(n)
    lo = np.asarray(lo, dtype=float)[:, None]
    hi = np.asarray(hi, dtype=float)[:, None]
    ok = (lo > 0) & (hi > lo)
    a = np.log(np.where(ok, lo, 1.0))
    b = np.log(np.where(ok, hi, 2.0))
    t = 0.5 * (b - a) * x[None, :] + 0.5 * (a + b)
    e = np.exp(t)
    weight = np.where(ok, 0.5 * (b - a) * w[None, :] * e, 0.0)
    return e, weight


def library_density(model, values, e):
    """Photon flux density (ph/cm2/s/keV) of the library's model (src/spectrum.rs)."""
    x = e / PIVOT_KEV
    if model == "powerlaw":
        k, g = values
        return k * x ** -g
    if model == "cutoffpl":
        k, g, ecut = values
        return k * x ** -g * np.exp(-(e - PIVOT_KEV) / ecut)
    k, g1, eb, g2 = values
    return np.where(e <= eb, k * x ** -g1, k * (eb / PIVOT_KEV) ** -g1 * (e / eb) ** -g2)


def make_library_model(model, band):
    """A Sherpa model of the library's cutoffpl or bknpower, integrated over each bin by
    Gauss-Legendre quadrature in ln E (each bin split at the break of bknpower)."""
    from sherpa.models.model import ArithmeticModel
    from sherpa.models.parameter import Parameter

    class LibraryModel(ArithmeticModel):
        def __init__(self, name):
            pars = [Parameter(name, "K", 1e-3, min=0, hard_min=0, units="ph/cm2/s/keV")]
            if model == "cutoffpl":
                pars += [Parameter(name, "Gamma", 1.5, min=-6, max=12),
                         Parameter(name, "Ecut", 100.0, min=1.0, max=1e6, units="keV")]
            else:
                pars += [Parameter(name, "Gamma1", 2.0, min=-6, max=12),
                         Parameter(name, "Ebreak", math.sqrt(band[0] * band[1]), min=band[0], max=band[1],
                                   units="keV"),
                         Parameter(name, "Gamma2", 2.5, min=-6, max=12)]
            for par in pars:
                setattr(self, par.name, par)
            ArithmeticModel.__init__(self, name, pars)

        def calc(self, p, xlo, xhi=None, *args, **kwargs):
            xlo = np.asarray(xlo, dtype=float)
            if xhi is None:
                return library_density(model, p, xlo)
            xhi = np.asarray(xhi, dtype=float)
            if model == "bknpower":
                eb = p[2]
                segments = [(xlo, np.minimum(xhi, eb)), (np.maximum(xlo, eb), xhi)]
            else:
                segments = [(xlo, xhi)]
            total = np.zeros_like(xlo)
            for lo, hi in segments:
                e, w = gauss_legendre_ln(lo, hi)
                total += (w * library_density(model, p, e)).sum(axis=1)
            return total

    return LibraryModel(model)


def runs(channels):
    """Contiguous runs (first, last) of sorted integers."""
    out = []
    for ch in channels:
        if out and ch == out[-1][1] + 1:
            out[-1][1] = ch
        else:
            out.append([ch, ch])
    return [tuple(r) for r in out]


def spectrum_for_fit(p, ctx, fit):
    """(path, is type II, row) of the spectrum the fit is of, or None."""
    spectra = ctx.get("spectra", [])
    if not p.check(spectra, "fit: no spectrum file to redo the fit on"):
        return None
    for s in spectra:
        src = s["entry"].get("source")
        if src and same_name(src, fit["source"]):
            break
    else:
        matching = [s for s in spectra if any(same_name(o, fit["source"]) for o in s["objects"])]
        if matching:
            s = matching[0]
        elif len(spectra) == 1:
            s = spectra[0]
        else:
            p.fail(f"fit: none of the {len(spectra)} spectra is of {fit['source']!r}")
            return None
    rows = [i for i, o in enumerate(s["objects"]) if same_name(o, fit["source"])]
    if not p.check(rows, f"fit: the spectrum {os.path.basename(s['path'])} has OBJECT "
                         f"{', '.join(s['objects'])}, not the fitted source {fit['source']!r}"):
        return None
    return s["path"], s["type2"], rows[0]


def channel_bounds(hdul):
    """{channel: (E_MIN, E_MAX)} from the EBOUNDS extension of an open file."""
    e = hdul["EBOUNDS"].data
    return {int(ch): (float(lo), float(hi)) for ch, lo, hi in zip(e["CHANNEL"], e["E_MIN"], e["E_MAX"])}


def read_spectrum(path, type2, row):
    """The spectrum as the library reads it: channel numbers, rate, stat_err, sys_err,
    quality, exposure, channel bounds (keV), and the response file names."""
    with fits.open(path, memmap=False) as hdul:
        s = spectrum_hdu(hdul)
        h = s.header
        d = s.data

        def col(name):
            return np.asarray(d[name][row] if type2 else d[name])

        def key(name):
            if type2 and name in s.columns.names:
                value = d[name][row]
                return value.strip() if isinstance(value, str) else value
            return h.get(name)

        out = {
            "channel": col("CHANNEL").astype(np.int64),
            "rate": col("RATE").astype(float),
            "stat_err": col("STAT_ERR").astype(float),
            "sys_err": col("SYS_ERR").astype(float) if "SYS_ERR" in s.columns.names else 0.0 * col("RATE"),
            "quality": col("QUALITY").astype(np.int64) if "QUALITY" in s.columns.names else 0 * col("CHANNEL"),
            "exposure": float(key("EXPOSURE")),
            "respfile": key("RESPFILE"),
            "ancrfile": key("ANCRFILE"),
            "grouping": col("GROUPING") if "GROUPING" in s.columns.names else None,
        }
        by_channel = channel_bounds(hdul) if "EBOUNDS" in hdul else None
    if by_channel is None:
        with fits.open(os.path.join(os.path.dirname(path), str(out["respfile"]).strip()), memmap=False) as r:
            by_channel = channel_bounds(r)
    out["e_min"] = np.array([by_channel[int(ch)][0] for ch in out["channel"]])
    out["e_max"] = np.array([by_channel[int(ch)][1] for ch in out["channel"]])
    return out


def library_channels(spec, band):
    """The channels the library fits (src/fit/fitter.rs): entirely inside the band, with a
    finite rate and a positive finite total error; the file marks the others bad (QUALITY)."""
    lo, hi = band
    total = np.hypot(spec["stat_err"], spec["sys_err"] * spec["rate"])
    with np.errstate(invalid="ignore"):
        use = ((spec["e_min"] >= lo * (1 - EDGE_TOLERANCE)) & (spec["e_max"] <= hi * (1 + EDGE_TOLERANCE))
               & np.isfinite(spec["rate"]) & np.isfinite(total) & (total > 0) & (spec["quality"] == 0))
    return [int(ch) for ch in spec["channel"][use]]


def set_values(component, names, values):
    for name, value in zip(names, values):
        getattr(component, name).val = value


def fit_with_sherpa(p, ctx, fit):
    """Redoes the library's fit with Sherpa and compares."""
    chosen = spectrum_for_fit(p, ctx, fit)
    if chosen is None:
        return None
    path, type2, row = chosen
    rel = os.path.relpath(path, ctx["dir"])
    loaded = import_sherpa()
    if loaded is None:
        p.fail("fit: Sherpa is not installed (python3 -m pip install -r requirements.txt); the fit is not checked")
        return EXIT_MISSING
    ui, version, log = loaded
    model, band, names = fit["model"], fit["band"], MODELS[fit["model"]]
    lib = [fit["values"][n] for n in names]
    spec = read_spectrum(path, type2, row)

    ui.clean()
    if type2:
        # Sherpa's type II reader has no per-row RESPFILE/ANCRFILE: build the row's data set.
        from sherpa.astro.data import DataPHA
        data = DataPHA(f"{rel}[{row + 1}]", spec["channel"].astype(float), spec["rate"] * spec["exposure"],
                       staterror=spec["stat_err"] * spec["exposure"], quality=spec["quality"],
                       exposure=spec["exposure"])
        ui.set_data(1, data)
        note(f"{rel} is a type II file: Sherpa fits row {row + 1}, built from the file's columns")
    else:
        ui.load_pha(1, path, use_errors=True)
    data = ui.get_data(1)
    for key, load in (("respfile", ui.load_rmf), ("ancrfile", ui.load_arf)):
        name = spec[key]
        have = data.get_rmf() if key == "respfile" else data.get_arf()
        if have is None and name is not None and not check_ogip.is_none(name):
            load(1, os.path.join(os.path.dirname(path), str(name).strip()))
            if not type2:
                note(f"Sherpa did not load {key.upper()} {name} from {rel}; loaded explicitly")
    for message in log.take():
        note(f"Sherpa, loading {rel}: {message}")
    if not p.check(data.get_rmf() is not None and data.get_arf() is not None,
                   f"fit: Sherpa has no RMF and ARF for {rel} "
                   f"(RESPFILE {spec['respfile']!r}, ANCRFILE {spec['ancrfile']!r})"):
        return None

    # Sherpa reads RATE and STAT_ERR as counts (x EXPOSURE); check it did, then give it the
    # library's errors: STAT_ERR and SYS_ERR x rate in quadrature (SYS_ERR is a fraction).
    counts = spec["rate"] * spec["exposure"]
    finite = np.isfinite(counts)
    p.check(np.allclose(data.counts[finite], counts[finite], rtol=1e-6, atol=0),
            f"fit: Sherpa's counts for {rel} are not RATE x EXPOSURE")
    if data.staterror is None or not np.allclose(data.staterror, spec["stat_err"] * spec["exposure"],
                                                 rtol=1e-6, equal_nan=True):
        note(f"Sherpa did not read STAT_ERR x EXPOSURE from {rel}; set explicitly")
    if data.grouped:
        ui.ungroup(1)
    ui.set_staterror(1, spec["stat_err"] * spec["exposure"])
    sys_abs = np.abs(spec["sys_err"] * counts)
    if np.any(sys_abs > 0):
        ui.set_syserror(1, np.where(np.isfinite(sys_abs), sys_abs, 0.0))
    else:
        data.syserror = None  # (ui.set_syserror(1, None) would read 1 as the value)
    ui.set_stat("chi2")
    ui.set_method("levmar")

    # Exactly the library's channels.
    channels = library_channels(spec, band)
    n_lib = fit["dof"] + len(names)
    p.check(len(channels) == n_lib,
            f"fit: {band[0]:g}-{band[1]:g} keV selects {len(channels)} usable channels of {rel}, but the "
            f"library's dof {fit['dof']} + {len(names)} parameters make {n_lib}")
    if not p.check(len(channels) > len(names), f"fit: only {len(channels)} channels in the band"):
        return None
    ui.set_analysis(1, "channel")
    ui.ignore_id(1)
    for first, last in runs(channels):
        ui.notice_id(1, first, last)
    noticed = [int(ch) for ch in data.get_noticed_channels()]
    p.check(noticed == channels, f"fit: Sherpa notices channels {noticed}, expected {channels}")
    ui.set_analysis(1, "energy")

    if model == "powerlaw":
        comp = ui.create_model_component("powlaw1d", "pl")
        comp.ref = PIVOT_KEV
        sherpa_names = ("ampl", "gamma")
    else:
        comp = make_library_model(model, band)
        sherpa_names = names
    ui.set_source(1, comp)

    # chi2 at the library's parameters: same data, errors, channels and model.
    set_values(comp, sherpa_names, lib)
    chi2_at_lib = float(ui.calc_stat(1))

    # An independent fit from generic starts (the lowest minimum wins).
    if model == "powerlaw":
        starts = [(1e-3, 2.0), (1e-3, 1.0), (1e-3, 3.0)]
    elif model == "cutoffpl":
        starts = [(1e-3, g, ec) for g in (1.0, 2.0) for ec in (50.0, 200.0, 1000.0, 1e4)]
    else:
        mid = math.sqrt(band[0] * band[1])
        starts = [(1e-3, g1, eb, g2) for g1 in (1.5, 2.0) for g2 in (2.0, 3.0)
                  for eb in (band[0] + 0.25 * (mid - band[0]), mid, band[1] - 0.25 * (band[1] - mid))]
    best = None
    for start in starts:
        set_values(comp, sherpa_names, start)
        shape = [getattr(comp, n) for n in sherpa_names[1:]]
        for par in shape:
            par.freeze()
        try:
            ui.fit(1)  # the normalisation alone first
            for par in shape:
                par.thaw()
            ui.fit(1)
        except Exception as e:  # noqa: BLE001 - a start that fails is skipped
            note(f"Sherpa fit from {start} failed: {type(e).__name__}: {e}")
            continue
        finally:
            for par in shape:
                par.thaw()
        result = ui.get_fit_results()
        if best is None or result.statval < best[0] - 1e-9:
            best = (float(result.statval), [getattr(comp, n).val for n in sherpa_names], result)
    log.take(logging.CRITICAL)  # the fit reports, already summarised below
    if not p.check(best is not None, "fit: Sherpa could not fit from any start"):
        return None
    chi2_sherpa, values, result = best
    set_values(comp, sherpa_names, values)
    errors = [float("nan")] * len(names)
    try:
        ui.covar(1)
        cov = ui.get_covar_results()
        by_name = {full.split(".")[-1]: 0.5 * (abs(lo) + abs(hi)) if lo is not None and hi is not None
                   else float("nan") for full, lo, hi in zip(cov.parnames, cov.parmins, cov.parmaxes)}
        errors = [by_name.get(n, float("nan")) for n in sherpa_names]
    except Exception as e:  # noqa: BLE001 - errors are only compared when available
        note(f"Sherpa covar failed: {type(e).__name__}: {e}")
    for message in log.take():
        note(f"Sherpa: {message}")

    say(f"fit of {fit['source']} ({rel}): {model}, {band[0]:g}-{band[1]:g} keV, {len(channels)} channels "
        f"{channels[0]}..{channels[-1]}; Sherpa {version} ({result.methodname}, {result.statname})")
    say(f"  {'parameter':<9} {'library':>24} {'Sherpa':>24} {'rel. diff':>10}")
    rel_diffs = {}
    for name, v_lib, v_sh, e_sh in zip(names, lib, values, errors):
        e_lib = fit["errors"][name]
        diff = (v_sh - v_lib) / abs(v_lib) if v_lib else float("inf")
        rel_diffs[name] = diff
        say(f"  {name:<9} {v_lib:>12.6g} ± {e_lib:<9.3g} {v_sh:>12.6g} ± {e_sh:<9.3g} {diff:>+10.2e}")
    say(f"  chi2      library {fit['chi2']:.6g}/{fit['dof']}; Sherpa at the library's parameters "
        f"{chi2_at_lib:.6g}, at its own minimum {chi2_sherpa:.6g}/{int(result.dof)}")

    tol = CHI2_TOLERANCE * max(1.0, fit["chi2"])
    p.check(abs(chi2_at_lib - fit["chi2"]) <= tol,
            f"fit: chi2 at the library's parameters is {chi2_at_lib:.6g} in Sherpa but {fit['chi2']:.6g} in the "
            f"library (same channels and errors; tolerance {tol:.3g})")
    p.check(chi2_sherpa >= fit["chi2"] - tol,
            f"fit: Sherpa finds a lower minimum, chi2 = {chi2_sherpa:.6g} at "
            f"{', '.join(f'{n} = {v:.6g}' for n, v in zip(names, values))}, than the library's {fit['chi2']:.6g}")
    if model == "powerlaw":
        p.check(abs(chi2_sherpa - fit["chi2"]) <= tol,
                f"fit: Sherpa's minimum chi2 {chi2_sherpa:.6g} differs from the library's {fit['chi2']:.6g}")
        for name in names:
            p.check(abs(rel_diffs[name]) <= GAMMA_TOLERANCE,
                    f"fit: {name} = {fit['values'][name]:.6g} in the library but {values[names.index(name)]:.6g} in "
                    f"Sherpa ({rel_diffs[name]:+.2%}, more than {GAMMA_TOLERANCE:.0%})")
            e_lib, e_sh = fit["errors"][name], errors[names.index(name)]
            if math.isfinite(e_sh) and e_sh > 0:
                p.check(abs(e_lib / e_sh - 1) <= ERROR_TOLERANCE,
                        f"fit: the error of {name} is {e_lib:.4g} in the library but {e_sh:.4g} in Sherpa "
                        f"(more than {ERROR_TOLERANCE:.0%} apart)")
    elif chi2_sherpa > fit["chi2"] + tol:
        note(f"Sherpa's fit stopped at chi2 {chi2_sherpa:.6g}, above the library's {fit['chi2']:.6g}: "
             f"its parameters are not compared")
    return None


# ---------------------------------------------------------------------------------------------


def main(argv):
    if len(argv) != 2 or argv[1] in ("-h", "--help"):
        print(f"usage: {PROGRAM} DIR   (DIR holds result.json and the product files)", file=sys.stderr)
        return EXIT_USAGE
    directory = argv[1]
    result = load_result(directory)
    p = Problems()
    entries = check_schema(p, directory, result)
    ctx = {"dir": os.path.realpath(directory), "listed": {e["full"]: e["kind"] for e in entries}}
    for entry in entries:
        if entry["kind"] == "catalog_json":
            check_catalog_json(p, entry)
        else:
            check_file(p, entry, ctx)
    catalogs_in_images(p, ctx)
    status = 0
    fit = result.get("fit") if isinstance(result, dict) else None
    if fit is not None:
        checked = check_fit_schema(p, fit)
        if checked is not None:
            try:
                status = fit_with_sherpa(p, ctx, checked) or 0
            except Exception as e:  # noqa: BLE001 - report, with where it happened
                tb = traceback.extract_tb(e.__traceback__)[-1]
                p.fail(f"fit: unexpected error while redoing the fit: {type(e).__name__}: {e} "
                       f"({os.path.basename(tb.filename)}:{tb.lineno})")
    product = result.get("product") if isinstance(result, dict) else None
    if p.problems:
        print(f"{PROGRAM}: FAIL {directory} ({product}): {len(p.problems)} problem(s)", file=sys.stderr)
        for problem in p.problems:
            print(f"  - {problem}", file=sys.stderr)
        only_missing = status == EXIT_MISSING and len(p.problems) == 1
        return EXIT_MISSING if only_missing else EXIT_PROBLEMS
    say(f"OK {directory} ({product}): {len(entries)} file(s)" + (", fit reproduced by Sherpa" if fit else ""))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
