#!/usr/bin/env python3
"""The same balanced cross-correlation decoding, written straightforwardly with numpy FFTs.

Reads the inputs and the Rust outputs that `cargo bench --bench analysis` writes to
target/bench-archive/decode-*.fits, decodes with numpy, checks that both agree, and times it.
Usage: python3 benches/numpy_decode.py [DIR]
"""
import sys
import time
from pathlib import Path

import numpy as np
from astropy.io import fits

d = Path(sys.argv[1] if len(sys.argv) > 1 else Path(__file__).resolve().parent.parent / "target/bench-archive")
counts, w, mask, s_rust, v_rust = (fits.getdata(d / f"decode-{n}.fits").astype(float)
                                   for n in ("counts", "efficiency", "mask", "intensity", "variance"))
ndy, ndz = counts.shape
nm = mask.shape[0]
N = 384


def corr(g, x):
    """(g⋆x)(s) = sum_d x(d) g(d+s), for all shifts with overlap, by zero-padded FFTs."""
    G = np.fft.rfft2(g, s=(N, N))
    X = np.fft.rfft2(x, s=(N, N))
    full = np.fft.irfft2(G * np.conj(X), s=(N, N))
    iy = (np.arange(ndy + nm - 1) - (ndy - 1)) % N
    iz = (np.arange(ndz + nm - 1) - (ndz - 1)) % N
    return full[np.ix_(iy, iz)]


def decode(counts, w, mask):
    g = 2 * mask - 1
    gp, gm = np.maximum(g, 0), np.maximum(-g, 0)
    c1, c2 = corr(gp, w), corr(gm, w)
    b = np.where(c2 > 1e-9, c1 / np.where(c2 > 1e-9, c2, 1), 0)
    a = corr(gp * mask, w) - b * corr(gm * mask, w)
    a = np.where(a > 0.03 * a[ndy - 1 + nm // 2 - ndy // 2, ndz - 1 + nm // 2 - ndz // 2], a, 0)
    wd = w * counts
    ok = a > 0
    safe = np.where(ok, a, 1)
    s = np.where(ok, (corr(gp, wd) - b * corr(gm, wd)) / safe, 0)
    v = np.where(ok, np.maximum((corr(gp**2, wd) + b**2 * corr(gm**2, wd)) / safe**2, 0), 0)
    return s, v


s, v = decode(counts, w, mask)
scale = np.abs(s_rust).max()
print(f"max |S_numpy - S_rust| / max|S| = {np.abs(s - s_rust).max() / scale:.2e}; "
      f"max |V_numpy - V_rust| / max V = {np.abs(v - v_rust).max() / v_rust.max():.2e}")
n = 20
t0 = time.perf_counter()
for _ in range(n):
    decode(counts, w, mask)
ms = (time.perf_counter() - t0) / n * 1e3
print(f"numpy decode (balance + S, V), {counts.shape} detector, {s.shape} image: {ms:.1f} ms per ScW")
