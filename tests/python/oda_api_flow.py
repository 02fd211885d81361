#!/usr/bin/env python3
"""The reference Python client, PyPI `oda-api` 1.3.5 unmodified, against `oda serve`.

Usage: python oda_api_flow.py --url http://127.0.0.1:PORT --oda PATH_TO_oda --data DATA_DIR
                              --token-full TOKEN --token-expired TOKEN --out DIR

Only `oda_api.api.DispatcherAPI(url=..., wait=True)` is used to talk to the site; every product
it returns is written with the client's own `write_fits_file`, read back with astropy and
compared, HDU by HDU, with the file the library writes for the same request
(`oda get-product ... --data DATA_DIR --out ...`, which shares the site's analysis cache).
Steps (one line printed per step; exit status 1 with a clear message on the first failure):
  a. isgri_image of the Crab (10 pointings, 20-40 keV, 7.5 sigma): the mosaic equals the
     library's image file (data, dtype, WCS and the other science keywords); the catalog
     (an ApiCatalog) holds the Crab;
  b. the catalog edited as ODA users do (NEW_ sources dropped) goes back as selected_catalog in an
     isgri_spectrum request: PHA/ARF/RMF per source equal the library's;
  c. spectral_fit (powerlaw) on the same selection: the photon index equals the CLI's fit;
  d. isgri_lc with time_bin=86400: the light curve equals the library's;
  e. authorisation: 60 pointings without a token and 51 with an expired token are refused
     (Unauthorized naming unige-hpc-full, resp. saying "expired"); 51 with a unige-hpc-full
     token runs to done;
  f. bad input: E1_keV=5 is RequestNotUnderstood naming E1_keV and the allowed range;
     E1_keV=20.32 works; an unknown parameter is a warning (the client's, and the site's in
     exit_status.warning and products.oda.warnings), not a failure, and joins the same job;
  g. two DispatcherAPI instances (two sessions) asking the same new request get one job_id;
  h. spi_acs_lc (instrument=spi_acs) around GRB 170817A's time, 0.1 s bins: the light curve equals
     the library's file, its burst search (in the product's meta data) finds the burst near T0;
     data_level=realtime with a token lacking integral-realtime is refused naming that role;
  i. jemx_image, jemx_spectrum and jemx_lc (instrument=jemx, jemx_num=1) of the Crab, 3
     pointings: the mosaic (INSTRUME JMX1, the default 3-20 keV band), the 16-channel spectrum in
     JMX1-PHA1-SPE with its ARF and RMF, and the light curve in JMX1-SRC.-LCR equal the library's
     files; the catalog holds the Crab.
The FITS files go to DIR/api (the client's) and DIR/cli (the library's).
"""

import argparse
import json
import logging
import math
import os
import subprocess
import sys
import time
import traceback
import warnings
from pathlib import Path

import numpy as np
from astropy.io import fits
from oda_api.api import DispatcherAPI, RequestNotUnderstood, Unauthorized
from oda_api.data_products import ApiCatalog, NumpyDataProduct


class FlowError(Exception):
    pass


def check(cond, message):
    if not cond:
        raise FlowError(message)


SELECTION = dict(src_name="Crab", T1="2003-03-15", T2="2018-03-16", max_pointings=10)

# Header keywords that describe the file's layout, not its science (the client rewrites them
# when it writes a file: NAXISn from the array, PCOUNT/GCOUNT/TFORMn from the numpy dtype).
LAYOUT_KEYWORDS = {"", "COMMENT", "HISTORY", "CHECKSUM", "DATASUM", "EXTEND", "PCOUNT", "GCOUNT", "THEAP"}


def is_layout_keyword(key):
    if key in LAYOUT_KEYWORDS:
        return True
    for prefix in ("NAXIS", "TFORM", "TDIM"):
        if key.startswith(prefix) and key[len(prefix):].isdigit():
            return True
    return key == "NAXIS"


class Flow:
    def __init__(self, args):
        self.url = args.url.rstrip("/")
        self.oda = args.oda
        self.data = args.data
        self.token_full = args.token_full
        self.token_expired = args.token_expired
        self.out = Path(args.out)
        self.api_dir = self.out / "api"
        self.cli_dir = self.out / "cli"
        self.api_dir.mkdir(parents=True, exist_ok=True)
        self.cli_dir.mkdir(parents=True, exist_ok=True)
        self.failures = []
        self.job_ids = {}

    # -- helpers ---------------------------------------------------------------------------

    def step(self, name, fn):
        """Runs one step; a failure is recorded and the next steps still run (those that need
        this one's products fail in turn, saying so)."""
        t0 = time.time()
        try:
            fn()
        except FlowError as e:
            self.failures.append(f"{name}: {e}")
            print(f"FAIL {name} ({time.time() - t0:.1f} s): {e}", flush=True)
            return
        except Exception as e:  # the client's own exceptions: show what it raised
            traceback.print_exc()
            self.failures.append(f"{name}: {type(e).__name__}: {getattr(e, 'message', e)}")
            print(f"FAIL {name} ({time.time() - t0:.1f} s): {type(e).__name__}: {getattr(e, 'message', e)}", flush=True)
            return
        print(f"ok   {name} ({time.time() - t0:.1f} s)", flush=True)

    def needs(self, attribute, step):
        check(hasattr(self, attribute), f"step {step} failed, and this step needs its products")
        return getattr(self, attribute)

    def dispatcher(self):
        return DispatcherAPI(url=self.url, wait=True)

    def get(self, disp, product, instrument="isgri", **params):
        """`get_product` of the client, with the parameters as a user types them."""
        data = disp.get_product(instrument=instrument, product=product, product_type="Real", silent=True, **params)
        check(data is not None, f"{product}: get_product returned nothing (query_status {disp.query_status})")
        check(disp.query_status == "done", f"{product}: query_status {disp.query_status}, expected done")
        return data

    def cli(self, name, product, instrument="isgri", **params):
        """The library's own files for the same request: `oda get-product --data DATA --out DIR`."""
        out = self.cli_dir / name
        cmd = [self.oda, "get-product", "--data", self.data, "--out", str(out), f"instrument={instrument}", f"product={product}"]
        cmd += [f"{k}={v}" for k, v in params.items()]
        p = subprocess.run(cmd, capture_output=True, text=True)
        check(
            p.returncode == 0,
            f"`oda get-product` ({product}) failed with exit {p.returncode}:\n{p.stdout}\n{p.stderr}",
        )
        result = json.loads((out / "result.json").read_text())
        files = {(f["kind"], f.get("source")): out / f["path"] for f in result["files"]}
        return result, files

    @staticmethod
    def numpy_products(data):
        return [p for p in data._p_list if isinstance(p, NumpyDataProduct)]

    @staticmethod
    def catalog_of(data):
        cats = [(n, p) for n, p in zip(data._n_list, data._p_list) if isinstance(p, ApiCatalog)]
        check(len(cats) == 1, f"expected one ApiCatalog in the collection, found {[n for n, _ in cats]} among {data._n_list}")
        return cats[0]

    def product(self, data, meta_product, src_name=None):
        found = [
            p
            for p in self.numpy_products(data)
            if p.meta_data.get("product") == meta_product and (src_name is None or p.meta_data.get("src_name") == src_name)
        ]
        check(
            len(found) == 1,
            f"expected one product {meta_product!r} for {src_name!r}, found {len(found)} among "
            f"{[(n, getattr(p, 'meta_data', None)) for n, p in zip(data._n_list, data._p_list)]}",
        )
        return found[0]

    def write(self, prod, name):
        path = self.api_dir / f"{name}.fits"
        prod.write_fits_file(str(path))
        with fits.open(path) as h:  # opens in astropy
            h.verify("exception")
        return path

    def compare_files(self, api_path, lib_path, label):
        """The client's file against the library's: HDU names and types, every science keyword of
        the library's headers, and the data, exactly."""
        with fits.open(api_path) as a, fits.open(lib_path) as b:
            check(
                len(a) == len(b),
                f"{label}: the client's file has {len(a)} HDUs {[h.name for h in a]}, the library's "
                f"{len(b)} {[h.name for h in b]}",
            )
            for i, (ha, hb) in enumerate(zip(a, b)):
                where = f"{label} HDU {i} ({hb.name})"
                check(ha.name == hb.name, f"{where}: named {ha.name!r} by the client")
                check(type(ha) is type(hb), f"{where}: a {type(ha).__name__} in the client's file, a {type(hb).__name__} in the library's")
                for key in hb.header:
                    if is_layout_keyword(key):
                        continue
                    check(key in ha.header, f"{where}: keyword {key} = {hb.header[key]!r} missing from the client's file")
                    va, vb = ha.header[key], hb.header[key]
                    check(
                        va == vb and type(va) is type(vb),
                        f"{where}: keyword {key} is {va!r} ({type(va).__name__}) in the client's file, "
                        f"{vb!r} ({type(vb).__name__}) in the library's",
                    )
                if hb.data is None:
                    check(ha.data is None, f"{where}: the client's HDU has data, the library's none")
                    continue
                check(ha.data is not None, f"{where}: the client's HDU has no data")
                if isinstance(hb, fits.BinTableHDU):
                    self.compare_tables(ha, hb, where)
                else:
                    check(ha.data.shape == hb.data.shape, f"{where}: shape {ha.data.shape} != {hb.data.shape}")
                    check(ha.data.dtype == hb.data.dtype, f"{where}: dtype {ha.data.dtype} != {hb.data.dtype}")
                    diff = ~((ha.data == hb.data) | (np.isnan(ha.data) & np.isnan(hb.data)))
                    if diff.any():
                        first = tuple(np.argwhere(diff)[0].tolist())
                        raise FlowError(
                            f"{where}: {int(diff.sum())} of {diff.size} pixels differ, first at {first}: "
                            f"{ha.data[first]!r} != {hb.data[first]!r}"
                        )

    @staticmethod
    def compare_tables(ha, hb, where):
        names_a, names_b = ha.columns.names, hb.columns.names
        check(names_a == names_b, f"{where}: columns {names_a} in the client's file, {names_b} in the library's")
        check(len(ha.data) == len(hb.data), f"{where}: {len(ha.data)} rows in the client's file, {len(hb.data)} in the library's")
        for ca, cb in zip(ha.columns, hb.columns):
            col = cb.name
            check(
                (ca.unit or "") == (cb.unit or ""),
                f"{where}: column {col} has unit {ca.unit!r} in the client's file, {cb.unit!r} in the library's",
            )
            xa, xb = ha.data[col], hb.data[col]
            if cb.format.endswith("A"):
                la = [str(x).rstrip() for x in xa]
                lb = [str(x).rstrip() for x in xb]
                check(la == lb, f"{where}: column {col}: {la[:5]}... != {lb[:5]}...")
                continue
            if "P" in cb.format or "Q" in cb.format:  # variable-length arrays: row by row
                for r, (ra, rb) in enumerate(zip(xa, xb)):
                    ra, rb = np.asarray(ra), np.asarray(rb)
                    check(
                        ra.shape == rb.shape and np.array_equal(ra, rb),
                        f"{where}: column {col} row {r} differs: {ra[:5]}... != {rb[:5]}...",
                    )
                continue
            xa, xb = np.asarray(xa), np.asarray(xb)
            check(
                xa.dtype.kind == xb.dtype.kind and xa.dtype.itemsize == xb.dtype.itemsize,
                f"{where}: column {col} is {xa.dtype} in the client's file, {xb.dtype} in the library's",
            )
            check(xa.shape == xb.shape, f"{where}: column {col} has shape {xa.shape} != {xb.shape}")
            equal = np.array_equal(xa, xb, equal_nan=xb.dtype.kind == "f")
            if not equal:
                bad = np.argwhere(~((xa == xb) | (np.isnan(xa) & np.isnan(xb)) if xb.dtype.kind == "f" else xa == xb))
                r = tuple(bad[0])
                raise FlowError(f"{where}: column {col} differs in {len(bad)} places, first at {r}: {xa[r]!r} != {xb[r]!r}")

    # -- the steps -------------------------------------------------------------------------

    def image(self):
        disp = self.dispatcher()
        params = dict(SELECTION, E1_keV=20, E2_keV=40, detection_threshold=7.5)
        data = self.get(disp, "isgri_image", **params)
        data.show()
        self.job_ids["image"] = disp.job_id
        mosaic = self.product(data, "mosaic")
        check(
            [u.name for u in mosaic.data_unit] == ["PRIMARY", "INTENSITY", "VARIANCE", "SIGNIFICANCE", "EXPOSURE", "CATALOG"],
            f"the mosaic's data units are {[u.name for u in mosaic.data_unit]}",
        )
        api_path = self.write(mosaic, "isgri_image")
        _, files = self.cli("image", "isgri_image", **params)
        self.compare_files(api_path, files[("image", None)], "isgri_image")
        name, cat = self.catalog_of(data)
        names = [str(n) for n in cat.table["src_names"]]
        check("Crab" in names, f"{name} does not hold the Crab: {names}")
        self.catalog = cat
        self.image_sources = names
        print(f"     {name}: {', '.join(names)}; job {disp.job_id}")

    def spectrum(self):
        cat = self.needs("catalog", "a")
        table = cat.table
        drop = [i for i, n in enumerate(table["src_names"]) if str(n).startswith("NEW_")]
        table.remove_rows(drop)
        kept = [str(n) for n in table["src_names"]]
        check("Crab" in kept, f"the edited catalog lost the Crab: {kept}")
        self.selected_catalog = cat.get_api_dictionary()
        self.kept_sources = kept
        params = dict(SELECTION, E1_keV=20, E2_keV=40, selected_catalog=self.selected_catalog)
        disp = self.dispatcher()
        data = self.get(disp, "isgri_spectrum", **params)
        _, files = self.cli("spectrum", "isgri_spectrum", **params)
        for src in kept:
            for meta_product, kind in (("isgri_spectrum", "spectrum"), ("isgri_arf", "arf"), ("isgri_rmf", "rmf")):
                prod = self.product(data, meta_product, src)
                api_path = self.write(prod, f"{src.replace(' ', '_')}_{kind}")
                check((kind, src) in files, f"the library wrote no {kind} for {src}: {sorted(files)}")
                self.compare_files(api_path, files[(kind, src)], f"{meta_product} of {src}")
        with fits.open(self.api_dir / "Crab_spectrum.fits") as h:
            spec = h["SPECTRUM"].data
            rate = np.asarray(spec["RATE"])
            check(np.all(np.isfinite(rate)) and rate.sum() > 0, f"the Crab's PHA RATE is not a positive spectrum: {rate}")
            check("STAT_ERR" in h["SPECTRUM"].columns.names, "the Crab's PHA has no STAT_ERR")
        print(f"     {len(kept)} source(s) {', '.join(kept)}: PHA/ARF/RMF equal the library's; job {disp.job_id}")

    def fit(self):
        selected_catalog = self.needs("selected_catalog", "b")
        params = dict(SELECTION, E1_keV=20, E2_keV=40, selected_catalog=selected_catalog, xspec_model="powerlaw")
        disp = self.dispatcher()
        data = self.get(disp, "spectral_fit", **params)
        fit = self.product(data, "spectral_fit", "Crab")
        api_path = self.write(fit, "Crab_spectral_fit")
        for meta_product, kind in (("isgri_spectrum", "spectrum"), ("isgri_arf", "arf"), ("isgri_rmf", "rmf")):
            self.write(self.product(data, meta_product, "Crab"), f"Crab_fit_{kind}")
        result, files = self.cli("fit", "spectral_fit", **params)
        self.compare_files(self.api_dir / "Crab_fit_spectrum.fits", files[("spectrum", "Crab")], "spectral_fit PHA of Crab")
        lib = result["fit"]
        lib_gamma = next(p for p in lib["parameters"] if p["name"] in ("Gamma", "Γ", "PhoIndex"))
        with fits.open(api_path) as h:
            t = h["FIT_PARAMETERS"]
            names = [str(n).strip() for n in t.data["NAME"]]
            check("Gamma" in names or "PhoIndex" in names, f"no photon index among the fit parameters {names}")
            row = t.data[names.index("Gamma" if "Gamma" in names else "PhoIndex")]
            gamma, err = float(row["VALUE"]), float(row["ERROR"])
            check(t.header["MODEL"] == "powerlaw", f"the fit's MODEL is {t.header['MODEL']!r}")
            chi2, dof = float(t.header["CHI2"]), int(t.header["DOF"])
        check(
            math.isclose(gamma, lib_gamma["value"], rel_tol=1e-12) and math.isclose(err, lib_gamma["error"], rel_tol=1e-12),
            f"the site's photon index {gamma} +- {err} differs from the library's {lib_gamma['value']} +- {lib_gamma['error']}",
        )
        check(
            math.isclose(chi2, lib["chi2"], rel_tol=1e-12) and dof == lib["dof"],
            f"the site's chi2/dof {chi2}/{dof} differs from the library's {lib['chi2']}/{lib['dof']}",
        )
        check(1.8 < gamma < 2.4, f"the Crab's photon index {gamma} is not near 2.1")
        print(f"     Crab: Gamma = {gamma:.4f} +- {err:.4f}, chi2/dof = {chi2:.2f}/{dof}; job {disp.job_id}")

    def light_curve(self):
        params = dict(SELECTION, E1_keV=20, E2_keV=40, time_bin=86400)
        disp = self.dispatcher()
        data = self.get(disp, "isgri_lc", **params)
        prod = self.product(data, "isgri_lc", "Crab")
        api_path = self.write(prod, "Crab_lc")
        _, files = self.cli("lc", "isgri_lc", **params)
        check(("lightcurve", "Crab") in files, f"the library wrote no light curve for the Crab: {sorted(files)}")
        self.compare_files(api_path, files[("lightcurve", "Crab")], "isgri_lc of Crab")
        with fits.open(api_path) as h:
            rates = [x for x in h if isinstance(x, fits.BinTableHDU) and "RATE" in x.columns.names]
            check(rates, f"the light curve has no RATE column: {[x.name for x in h]}")
            n = len(rates[0].data)
        print(f"     Crab: {n} bins; job {disp.job_id}")

    def authorisation(self):
        big = dict(src_name="Crab", T1="2003-03-15", T2="2018-03-16", E1_keV=20, E2_keV=40, detection_threshold=7.5)
        disp = self.dispatcher()
        try:
            disp.get_product(instrument="isgri", product="isgri_image", product_type="Real", silent=True, **big, max_pointings=60)
            raise FlowError("60 pointings without a token were not refused")
        except Unauthorized as e:
            check("unige-hpc-full" in str(e.message), f"the refusal does not name unige-hpc-full: {e.message!r}")
            print(f"     anonymous, 60 pointings: Unauthorized: {e.message}")
        disp = self.dispatcher()
        try:
            disp.get_product(
                instrument="isgri", product="isgri_image", product_type="Real", silent=True, **big, max_pointings=51, token=self.token_expired
            )
            raise FlowError("an expired token was accepted")
        except Unauthorized as e:
            check("expired" in str(e.message), f"the refusal of an expired token does not say so: {e.message!r}")
            print(f"     expired token: Unauthorized: {e.message}")
        disp = self.dispatcher()
        data = self.get(disp, "isgri_image", **big, max_pointings=51, token=self.token_full)
        check(
            self.token_full not in json.dumps(disp.response_json),
            "the answer to a request with a token holds the token",
        )
        mosaic = self.product(data, "mosaic")
        intensity = next(u for u in mosaic.data_unit if u.name == "INTENSITY")
        nscw = intensity.header.get("NSCW")
        check(nscw is None or int(nscw) == 51, f"the 51-pointing mosaic says NSCW = {nscw}")
        self.write(mosaic, "isgri_image_51")
        names = [str(n) for n in self.catalog_of(data)[1].table["src_names"]]
        check("Crab" in names, f"the 51-pointing catalog has no Crab: {names}")
        print(f"     unige-hpc-full token, 51 pointings: done (NSCW {nscw}), job {disp.job_id}")

    def bad_input(self):
        disp = self.dispatcher()
        try:
            disp.get_product(instrument="isgri", product="isgri_image", product_type="Real", silent=True, **SELECTION, E1_keV=5, E2_keV=40)
            raise FlowError("E1_keV=5 was accepted")
        except RequestNotUnderstood as e:
            d = e.details_json
            text = json.dumps(d)
            check("E1_keV" in d.get("error", ""), f"the 400 answer's error does not name E1_keV: {d}")
            check(d.get("parameter") == "E1_keV", f"the 400 answer's parameter is {d.get('parameter')!r}: {d}")
            check("15" in text and "800" in text, f"the 400 answer does not give the allowed range 15-800 keV: {d}")
            print(f"     E1_keV=5: RequestNotUnderstood: {d['error']}")
        disp = self.dispatcher()
        data = self.get(disp, "isgri_image", **dict(SELECTION, max_pointings=4), E1_keV=20.32, E2_keV=40, detection_threshold=7.5)
        mosaic = self.product(data, "mosaic")
        intensity = next(u for u in mosaic.data_unit if u.name == "INTENSITY")
        e_min = intensity.header.get("E_MIN")
        check(e_min is not None and abs(float(e_min) - 20.32) < 1e-6, f"the E1_keV=20.32 mosaic has E_MIN = {e_min!r}")
        check(np.isfinite(intensity.data).any(), "the E1_keV=20.32 mosaic has no finite pixel")
        self.write(mosaic, "isgri_image_20.32keV")
        print(f"     E1_keV=20.32: done, E_MIN = {e_min}")
        disp = self.dispatcher()
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            self.get(disp, "isgri_image", **SELECTION, E1_keV=20, E2_keV=40, detection_threshold=7.5, not_a_parameter="x")
        client_warned = any("not_a_parameter" in str(w.message) for w in caught)
        check(client_warned, f"the client did not warn about not_a_parameter (/api/par-names): {[str(w.message)[:200] for w in caught]}")
        check(
            disp.job_id == self.job_ids.get("image", disp.job_id),
            f"an unknown parameter changed the job: {disp.job_id} != {self.job_ids.get('image')}",
        )
        site_warning = disp.response_json["exit_status"].get("warning", "")
        oda_warnings = disp.response_json["products"].get("oda", {}).get("warnings", [])
        check(
            "not_a_parameter" in site_warning and any("not_a_parameter" in w for w in oda_warnings),
            f"the site's answer does not warn about not_a_parameter: exit_status.warning {site_warning!r}, products.oda.warnings {oda_warnings}",
        )
        print(f"     unknown parameter: warning {site_warning!r}, same job")

    def two_sessions(self):
        params = dict(SELECTION, E1_keV=20, E2_keV=40, time_bin=10000)
        first = DispatcherAPI(url=self.url, wait=False)
        got = first.get_product(instrument="isgri", product="isgri_lc", product_type="Real", silent=True, **params)
        check(first.job_id is not None, "the first session got no job_id")
        state_first = first.query_status
        second = self.dispatcher()
        check(second.session_id != first.session_id, "the two DispatcherAPI instances share a session id")
        self.get(second, "isgri_lc", **params)
        check(
            second.job_id == first.job_id,
            f"two sessions asking the same request got two jobs: {first.job_id} and {second.job_id}",
        )
        t0 = time.time()
        while got is None and not first.is_complete:
            check(time.time() - t0 < 600, "the first session's job did not finish in 600 s")
            time.sleep(1)
            got = first.poll()
        check(first.query_status == "done", f"the first session's job ended {first.query_status}")
        check(first.job_id == second.job_id, f"the first session's job id changed to {first.job_id}")
        print(
            f"     sessions {first.session_id} ({state_first} at first) and {second.session_id}: one job {first.job_id}"
        )

    def spi_acs(self):
        params = dict(T1="2017-08-17T12:36:06.470", T2="2017-08-17T12:46:06.470", time_bin=0.1)
        disp = self.dispatcher()
        data = self.get(disp, "spi_acs_lc", instrument="spi_acs", **params)
        prod = self.product(data, "spi_acs_lc")
        api_path = self.write(prod, "spi_acs_lc")
        result, files = self.cli("acs", "spi_acs_lc", instrument="spi_acs", **params)
        check(("lightcurve", None) in files, f"the library wrote no SPI-ACS light curve: {sorted(files)}")
        self.compare_files(api_path, files[("lightcurve", None)], "spi_acs_lc")
        with fits.open(api_path) as h:
            rate = h["RATE"]
            check(rate.header["TIMESYS"] == "TT", f"TIMESYS is {rate.header['TIMESYS']!r}")
            n = len(rate.data)
            check(n == 6000, f"600 s in 0.1 s bins gave {n} rows")
            check(abs(float(rate.header["TIMEDEL"]) - 0.1) < 1e-12, f"TIMEDEL is {rate.header['TIMEDEL']}")
        search = prod.meta_data.get("burst_search")
        check(isinstance(search, dict), f"the product's meta data carry no burst search: {prod.meta_data}")
        z, start = search["best_significance"], search["best_start_s"]
        check(z > 3.5 and -1.0 < start < 2.0, f"the best excess is {z} sigma at T0{start:+} s, not the burst just after T0")
        check(result["burst_search"]["best"]["significance"] == z, "the site's and the library's burst searches differ")
        disp = self.dispatcher()
        try:
            disp.get_product(instrument="spi_acs", product="spi_acs_lc", product_type="Real", silent=True,
                             **params, data_level="realtime", token=self.token_full)
            raise FlowError("data_level=realtime was served to a token without integral-realtime")
        except Unauthorized as e:
            check("integral-realtime" in str(e.message), f"the refusal does not name integral-realtime: {e.message!r}")
            print(f"     realtime without the role: Unauthorized: {e.message}")
        print(f"     SPI-ACS: {n} bins, best excess {z:.2f} sigma at T0{start:+.2f} s; job {disp.job_id}")

    def jemx(self):
        params = dict(src_name="Crab", T1="2005-01-01", T2="2012-01-01", jemx_num=1, max_pointings=3)
        disp = self.dispatcher()
        data = self.get(disp, "jemx_image", instrument="jemx", **params)
        mosaic = self.product(data, "mosaic")
        check(mosaic.meta_data.get("instrument") == "jemx", f"the mosaic's meta data: {mosaic.meta_data}")
        api_path = self.write(mosaic, "jemx_image")
        _, files = self.cli("jemx-image", "jemx_image", instrument="jemx", **params)
        self.compare_files(api_path, files[("image", None)], "jemx_image")
        with fits.open(api_path) as h:
            check(h["INTENSITY"].header["INSTRUME"] == "JMX1", f"INSTRUME is {h['INTENSITY'].header['INSTRUME']!r}")
            e1, e2 = h["INTENSITY"].header["E_MIN"], h["INTENSITY"].header["E_MAX"]
            check((e1, e2) == (3.0, 20.0), f"the default JEM-X band is {e1}-{e2} keV, expected 3-20")
        _, cat = self.catalog_of(data)
        names = [str(n) for n in cat.table["src_names"]]
        check("Crab" in names, f"the JEM-X catalog holds {names}")
        data = self.get(self.dispatcher(), "jemx_spectrum", instrument="jemx", **params)
        _, files = self.cli("jemx-spectrum", "jemx_spectrum", instrument="jemx", **params)
        for kind in ("spectrum", "arf", "rmf"):
            prod = self.product(data, f"jemx_{kind}", src_name="Crab")
            path = self.write(prod, f"jemx_{kind}")
            self.compare_files(path, files[(kind, "Crab")], f"jemx_{kind}")
        with fits.open(self.api_dir / "jemx_spectrum.fits") as h:
            check("JMX1-PHA1-SPE" in h, f"the JEM-X spectrum's extensions are {[x.name for x in h]}")
            check(h["JMX1-PHA1-SPE"].header["DETCHANS"] == 16, "not the 16 standard channels")
        data = self.get(self.dispatcher(), "jemx_lc", instrument="jemx", time_bin=1000, **params)
        prod = self.product(data, "jemx_lc", src_name="Crab")
        path = self.write(prod, "jemx_lc")
        _, files = self.cli("jemx-lc", "jemx_lc", instrument="jemx", time_bin=1000, **params)
        self.compare_files(path, files[("lightcurve", "Crab")], "jemx_lc")
        with fits.open(path) as h:
            lc = h["JMX1-SRC.-LCR"].data
            rate, brate = float(np.mean(lc["RATE"])), float(np.mean(lc["BRATE"]))
            check(100 < rate < 170, f"the Crab's mean JEM-X1 rate is {rate} cts/s")
        print(f"     JEM-X1: Crab in the catalog, 16-channel spectrum, light curve {len(lc)} bins, "
              f"{rate:.1f} cts/s over a background of {brate:.1f} cts/s")

    def run(self):
        for name, fn in [
            ("a. isgri_image: mosaic equals the library's file, catalog holds the Crab", self.image),
            ("b. edited catalog as selected_catalog: isgri_spectrum PHA/ARF/RMF equal the library's", self.spectrum),
            ("c. spectral_fit powerlaw: photon index equals the CLI's fit", self.fit),
            ("d. isgri_lc time_bin=86400: light curve equals the library's", self.light_curve),
            ("e. authorisation: anonymous and expired refused, unige-hpc-full runs 51 pointings", self.authorisation),
            ("f. bad input: E1_keV=5 refused, E1_keV=20.32 works, unknown parameter warned", self.bad_input),
            ("g. two sessions, one request: one job_id", self.two_sessions),
            ("h. spi_acs_lc: light curve equals the library's, burst found, realtime needs its role", self.spi_acs),
            ("i. jemx_image, jemx_spectrum, jemx_lc (JEM-X1): the files equal the library's", self.jemx),
        ]:
            self.step(name, fn)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--url", required=True, help="the site, e.g. http://127.0.0.1:8000")
    ap.add_argument("--oda", required=True, help="the oda binary (for `oda get-product`)")
    ap.add_argument("--data", required=True, help="the site's data directory (its analysis cache)")
    ap.add_argument("--token-full", required=True, help="a token with the role unige-hpc-full")
    ap.add_argument("--token-expired", required=True, help="an expired token")
    ap.add_argument("--out", required=True, help="directory for the FITS files")
    args = ap.parse_args()
    # The client logs every exception it raises with its traceback (the refusals this flow asks
    # for included); ODA_FLOW_VERBOSE=1 shows them.
    if not os.environ.get("ODA_FLOW_VERBOSE"):
        logging.getLogger("oda_api").setLevel(logging.CRITICAL)
    if os.environ.get("ODA_TOKEN"):
        print("FAILED: ODA_TOKEN is set; the anonymous steps need it unset", file=sys.stderr)
        return 1
    flow = Flow(args)
    t0 = time.time()
    flow.run()
    if flow.failures:
        print(f"FAILED: {len(flow.failures)} step(s) of 8 in {time.time() - t0:.1f} s:", file=sys.stderr)
        for f in flow.failures:
            print(f"  {f}", file=sys.stderr)
        return 1
    print(f"all 8 steps passed in {time.time() - t0:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
