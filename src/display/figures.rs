//! The standard figure of each product, as a [`Chart`].

use ndarray::Array2;

use super::chart::{Axis, Chart, Heatmap, Panel, Series};
use crate::analysis::catalog::Catalog;
use crate::fit::SpectralFit;
use crate::products::{Image, LightCurve, Spectrum};
use crate::time::IJD_MJD_OFFSET;

/// Blue for data, red for models, as in most X-ray papers.
const DATA: &str = "#1f4e99";
const MODEL: &str = "#d62728";
const SECOND: &str = "#2ca02c";
const CATALOG: &str = "#ff5ec4";

/// Largest side of an image shown in a notebook, pixels (larger mosaics are binned).
pub const MAX_DISPLAY_SIDE: usize = 300;

/// What an image figure shows.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ImageScale {
    /// Significance, σ (clipped to −3 … a high percentile).
    Significance,
    /// On-axis equivalent intensity, cts/s.
    Intensity,
}

/// The mosaic in tangent-plane offsets from its centre (east to the left), cropped to the
/// covered region and binned to at most [`MAX_DISPLAY_SIDE`] pixels a side, with the catalog's
/// sources circled and named.
pub fn image_chart(image: &Image, scale: ImageScale) -> Chart {
    let m = &image.mosaic;
    let (ny, nx) = m.intensity.dim();
    // The covered bounding box.
    let (mut r0, mut r1, mut c0, mut c1) = (ny, 0, nx, 0);
    for ((r, c), v) in m.variance.indexed_iter() {
        if *v > 0.0 {
            r0 = r0.min(r);
            r1 = r1.max(r + 1);
            c0 = c0.min(c);
            c1 = c1.max(c + 1);
        }
    }
    if r0 >= r1 || c0 >= c1 {
        (r0, r1, c0, c1) = (0, ny, 0, nx);
    }
    let f = (r1 - r0).max(c1 - c0).div_ceil(MAX_DISPLAY_SIDE).max(1);
    let (by, bx) = ((r1 - r0).div_ceil(f), (c1 - c0).div_ceil(f));
    let mut z = Array2::from_elem((by, bx), f64::NAN);
    for br in 0..by {
        for bc in 0..bx {
            let (mut isum, mut vsum, mut n) = (0.0, 0.0, 0.0);
            for r in (r0 + br * f)..(r0 + (br + 1) * f).min(r1) {
                for c in (c0 + bc * f)..(c0 + (bc + 1) * f).min(c1) {
                    if m.variance[[r, c]] > 0.0 {
                        isum += m.intensity[[r, c]];
                        vsum += m.variance[[r, c]];
                        n += 1.0;
                    }
                }
            }
            if n > 0.0 {
                // The block mean and its variance (neighbouring pixels are correlated, so this
                // overstates a binned significance slightly: a display, not a measurement).
                let (i, v) = (isum / n, vsum / (n * n));
                z[[br, bc]] = match scale {
                    ImageScale::Significance => i / v.sqrt(),
                    ImageScale::Intensity => i,
                };
            }
        }
    }
    let mut finite: Vec<f64> = z.iter().copied().filter(|v| v.is_finite()).collect();
    finite.sort_by(f64::total_cmp);
    let pct = |p: f64| {
        finite
            .get(((finite.len() as f64 - 1.0) * p) as usize)
            .copied()
            .unwrap_or(1.0)
    };
    let zrange = match scale {
        ImageScale::Significance => (-3.0, pct(0.999).max(8.0)),
        ImageScale::Intensity => (pct(0.001), pct(0.999).max(pct(0.001) + 1e-9)),
    };
    let cd = m.projection.cd();
    let crpix = m.projection.crpix();
    let (dx, dy) = (cd[0][0] * f as f64, cd[1][1] * f as f64);
    // Centre of block (br, bc): pixel index r0 + br·f + (f − 1)/2 (0-based), FITS pixel + 1.
    let centre = |start: usize, k: usize| start as f64 + (f as f64 - 1.0) / 2.0 + 1.0 - k as f64;
    let heat = Heatmap {
        x0: cd[0][0] * (centre(c0, 0) - crpix[0]),
        dx,
        y0: cd[1][1] * (centre(r0, 0) - crpix[1]),
        dy,
        z,
        colorbar: match scale {
            ImageScale::Significance => "significance (σ)".into(),
            ImageScale::Intensity => "intensity (cts/s)".into(),
        },
        zrange,
    };
    let mut panel = Panel::new(
        Axis::linear("ξ, east ← (deg)").reversed(),
        Axis::linear("η, north ↑ (deg)"),
    );
    panel.heatmap = Some(heat);
    let (mut x, mut y, mut labels, mut hover) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    for e in image.catalog.entries() {
        if let Some((xi, eta)) = m.projection.to_intermediate(&e.position) {
            x.push(xi);
            y.push(eta);
            labels.push(e.name.clone());
            hover.push(format!(
                "{}: RA {:.3}°, Dec {:+.3}°, {:.1}σ, {:.2} ± {:.2} cts/s",
                e.name,
                e.position.ra(),
                e.position.dec(),
                e.significance,
                e.rate,
                e.rate_err
            ));
        }
    }
    if !x.is_empty() {
        panel.series.push(Series::Markers {
            name: "catalog".into(),
            x,
            y,
            labels,
            hover,
            color: CATALOG.into(),
        });
    }
    let c = m.projection.center();
    Chart {
        title: format!(
            "ISGRI mosaic {}–{} keV, {} ScW(s), centre RA {:.3}° Dec {:+.3}° (TAN)",
            m.band.e1,
            m.band.e2,
            m.n_images,
            c.ra(),
            c.dec()
        ),
        panels: vec![panel],
        equal_aspect: true,
        notes: Vec::new(),
    }
}

/// A spectrum in cts/s/keV with, when given, the folded model and the residuals in σ.
pub fn spectrum_chart(spectrum: &Spectrum, fit: Option<&SpectralFit>) -> Chart {
    let widths: Vec<f64> = spectrum
        .e_min
        .iter()
        .zip(&spectrum.e_max)
        .map(|(a, b)| b - a)
        .collect();
    let centre: Vec<f64> = spectrum
        .e_min
        .iter()
        .zip(&spectrum.e_max)
        .map(|(a, b)| (a * b).sqrt())
        .collect();
    let keep: Vec<usize> = (0..spectrum.n_channels())
        .filter(|&i| spectrum.rate[i].is_finite() && spectrum.stat_err[i].is_finite())
        .collect();
    let mut top = Panel::new(Axis::log("Energy (keV)"), Axis::log("Rate (cts/s/keV)"));
    top.series.push(Series::Points {
        name: format!("{} ({:.0} ks)", spectrum.source, spectrum.exposure / 1e3),
        x: keep.iter().map(|&i| centre[i]).collect(),
        y: keep.iter().map(|&i| spectrum.rate[i] / widths[i]).collect(),
        xerr: Some(
            keep.iter()
                .map(|&i| 0.5 * (spectrum.e_max[i] - spectrum.e_min[i]))
                .collect(),
        ),
        yerr: Some(
            keep.iter()
                .map(|&i| spectrum.total_error(i) / widths[i])
                .collect(),
        ),
        color: DATA.into(),
    });
    let mut panels = vec![top];
    let mut notes = Vec::new();
    if let Some(fit) = fit {
        let (mut mx, mut my) = (Vec::new(), Vec::new());
        for (k, _) in fit.channels.iter().enumerate() {
            let w = fit.e_max[k] - fit.e_min[k];
            mx.extend([fit.e_min[k], fit.e_max[k]]);
            my.extend([fit.predicted[k] / w, fit.predicted[k] / w]);
        }
        panels[0].series.push(Series::Line {
            name: format!("{} fit", fit.kind.xspec_name()),
            x: mx,
            y: my,
            color: MODEL.into(),
            dashed: false,
        });
        let mut res = Panel::new(Axis::log("Energy (keV)"), Axis::linear("(data − model)/σ"));
        res.weight = 0.35;
        res.hline = Some(0.0);
        res.series.push(Series::Points {
            name: "residuals".into(),
            x: fit
                .e_min
                .iter()
                .zip(&fit.e_max)
                .map(|(a, b)| (a * b).sqrt())
                .collect(),
            y: fit.residuals.clone(),
            xerr: None,
            yerr: Some(vec![1.0; fit.residuals.len()]),
            color: DATA.into(),
        });
        panels.push(res);
        notes.push(
            fit.parameters
                .iter()
                .map(|p| {
                    let unit = if p.unit.is_empty() {
                        String::new()
                    } else {
                        format!(" {}", p.unit)
                    };
                    if p.frozen {
                        format!("{} = {}{unit} (frozen)", p.name, sig4(p.value))
                    } else {
                        format!("{} = {} ± {}{unit}", p.name, sig4(p.value), sig4(p.error))
                    }
                })
                .collect::<Vec<_>>()
                .join(", "),
        );
        let (f, fe) = fit.flux(30.0, 300.0);
        notes.push(format!(
            "χ²/dof = {:.1}/{} (p = {:.3}); F(30–300 keV) = {:.3e} ± {:.1e} erg/cm²/s",
            fit.chi2, fit.dof, fit.p_value, f, fe
        ));
    }
    Chart {
        title: format!("ISGRI spectrum of {}", spectrum.source),
        panels,
        equal_aspect: false,
        notes,
    }
}

/// A number with 4 significant digits, in exponent form when very small or large.
fn sig4(v: f64) -> String {
    let a = v.abs();
    if a != 0.0 && !(1e-2..1e4).contains(&a) {
        format!("{v:.3e}")
    } else {
        let decimals = if a == 0.0 {
            3
        } else {
            (3 - a.log10().floor() as i32).max(0) as usize
        };
        format!("{v:.decimals$}")
    }
}

/// A light curve against MJD with error bars, and its constant and linear fits (when they
/// can be made).
pub fn light_curve_chart(lc: &LightCurve) -> Chart {
    let keep: Vec<usize> = (0..lc.len())
        .filter(|&i| lc.rate[i].is_finite() && lc.error[i].is_finite())
        .collect();
    let mjd = |t: f64| t + IJD_MJD_OFFSET;
    let mut p = Panel::new(Axis::linear("Time (MJD, TT)"), Axis::linear("Rate (cts/s)"));
    p.series.push(Series::Points {
        name: format!("{} {}–{} keV", lc.source, lc.band.0, lc.band.1),
        x: keep.iter().map(|&i| mjd(lc.time[i])).collect(),
        y: keep.iter().map(|&i| lc.rate[i]).collect(),
        xerr: Some(
            keep.iter()
                .map(|&i| 0.5 * lc.timedel[i] / 86_400.0)
                .collect(),
        ),
        yerr: Some(keep.iter().map(|&i| lc.error[i]).collect()),
        color: DATA.into(),
    });
    let mut notes = Vec::new();
    if let (Some(&first), Some(&last)) = (keep.first(), keep.last()) {
        let (t0, t1) = (lc.time[first], lc.time[last]);
        if let Ok(c) = lc.fit_constant() {
            p.series.push(Series::Line {
                name: format!("constant {:.2} ± {:.2}", c.rate, c.error),
                x: vec![mjd(t0), mjd(t1)],
                y: vec![c.rate, c.rate],
                color: MODEL.into(),
                dashed: false,
            });
            notes.push(format!(
                "constant: {:.3} ± {:.3} cts/s, χ²/dof = {:.1}/{}",
                c.rate, c.error, c.chi2, c.dof
            ));
        }
        if let Ok(l) = lc.fit_linear() {
            p.series.push(Series::Line {
                name: format!("linear, slope {:.2e} ± {:.1e} cts/s/d", l.b, l.b_err),
                x: vec![mjd(t0), mjd(t1)],
                y: vec![l.a + l.b * (t0 - l.t_ref), l.a + l.b * (t1 - l.t_ref)],
                color: SECOND.into(),
                dashed: true,
            });
            notes.push(format!(
                "linear: slope {:.3e} ± {:.1e} cts/s/day, χ²/dof = {:.1}/{}",
                l.b, l.b_err, l.chi2, l.dof
            ));
        }
    }
    Chart {
        title: format!(
            "ISGRI light curve of {} ({} bins of {:.0} s)",
            lc.source,
            keep.len(),
            lc.timedel.first().copied().unwrap_or(0.0)
        ),
        panels: vec![p],
        equal_aspect: false,
        notes,
    }
}

/// A catalog as an HTML table (from its polars DataFrame's columns).
pub fn catalog_html(catalog: &Catalog) -> String {
    let mut s = String::from(
        "<table class=\"oda-catalog\"><thead><tr><th>name</th><th>RA (°)</th><th>Dec (°)</th>\
         <th>err (′)</th><th>σ</th><th>rate (cts/s)</th><th>new</th></tr></thead><tbody>",
    );
    for e in catalog.entries() {
        s.push_str(&format!(
            "<tr><td>{}</td><td>{:.4}</td><td>{:+.4}</td><td>{:.2}</td><td>{:.1}</td>\
             <td>{:.3} ± {:.3}</td><td>{}</td></tr>",
            super::html_escape(&e.name),
            e.position.ra(),
            e.position.dec(),
            e.error_radius_arcmin,
            e.significance,
            e.rate,
            e.rate_err,
            if e.is_new { "yes" } else { "" }
        ));
    }
    s.push_str(&format!(
        "</tbody></table><p>{} source(s)</p>",
        catalog.len()
    ));
    s
}
