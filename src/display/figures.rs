//! The standard figure of each product, as a [`Chart`].

use ndarray::Array2;

use super::chart::{Axis, Chart, Heatmap, Panel, Series};
use crate::analysis::burst::BurstSearchResult;
use crate::analysis::catalog::{Catalog, Origin};
use crate::datasets::AcsLightCurve;
use crate::fit::{JointFit, SpectralFit};
use crate::instrument::Detector;
use crate::products::{Image, LightCurve, Spectrum};
use crate::query::MeasuredCatalog;
use crate::time::{IJD_MJD_OFFSET, Time};

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
            "{} mosaic {}–{} keV, {} ScW(s), centre RA {:.3}° Dec {:+.3}° (TAN)",
            image.detector,
            m.band.e1,
            m.band.e2,
            m.n_images,
            c.ra(),
            c.dec()
        ),
        panels: vec![panel],
        equal_aspect: true,
        notes: Vec::new(),
        footer: None,
    }
}

/// The spectra of a joint fit unfolded through their responses, E²·N(E) in keV cm⁻² s⁻¹ against
/// energy on one broadband axis, each divided by its cross-normalisation constant (so that they
/// lie on the model of the first spectrum's calibration), the model over the whole band, and the
/// residuals in σ per spectrum. A channel's unfolded value is E_c²·N(E_c)·(rate / predicted rate),
/// E_c its geometric centre: XSPEC's `eufspec`.
pub fn joint_fit_chart(fit: &JointFit) -> Chart {
    const COLORS: [&str; 4] = [DATA, SECOND, CATALOG, "#9467bd"];
    let mut top = Panel::new(
        Axis::log("Energy (keV)"),
        Axis::log("E² N(E) (keV cm⁻² s⁻¹)"),
    );
    let mut res = Panel::new(Axis::log("Energy (keV)"), Axis::linear("(data − model)/σ"));
    res.weight = 0.35;
    res.hline = Some(0.0);
    let (mut lo, mut hi) = (f64::INFINITY, 0.0f64);
    for (i, part) in fit.parts.iter().enumerate() {
        let color = COLORS[i % COLORS.len()];
        let name = format!(
            "{} {} (C = {})",
            part.detector,
            part.source,
            sig4(part.constant)
        );
        let (mut x, mut y, mut xerr, mut yerr) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
        for k in 0..part.rate.len() {
            let (a, b) = (part.e_min[k], part.e_max[k]);
            let e = (a * b).sqrt();
            let p = part.predicted[k];
            if !(p > 0.0 && part.rate[k].is_finite()) {
                continue;
            }
            let unfold = e * e * fit.model.density(e) / p;
            x.push(e);
            y.push(part.rate[k] * unfold);
            xerr.push(0.5 * (b - a));
            yerr.push(part.error[k] * unfold);
            lo = lo.min(a);
            hi = hi.max(b);
        }
        top.series.push(Series::Points {
            name: name.clone(),
            x: x.clone(),
            y,
            xerr: Some(xerr),
            yerr: Some(yerr),
            hover: None,
            color: color.into(),
        });
        res.series.push(Series::Points {
            name: format!("{name} residuals"),
            x,
            y: part.residuals.clone(),
            xerr: None,
            yerr: Some(vec![1.0; part.residuals.len()]),
            hover: None,
            color: color.into(),
        });
    }
    if lo < hi {
        let n = 200;
        let x: Vec<f64> = (0..=n)
            .map(|k| lo * (hi / lo).powf(k as f64 / n as f64))
            .collect();
        let y = x.iter().map(|e| e * e * fit.model.density(*e)).collect();
        top.series.push(Series::Line {
            name: format!("{} (C = 1)", fit.kind.xspec_name()),
            x,
            y,
            color: MODEL.into(),
            dashed: false,
        });
    }
    let sources: Vec<String> = fit
        .parts
        .iter()
        .map(|p| format!("{}", p.detector))
        .collect();
    let mut chart = Chart::new(
        format!(
            "{} from {} to {} keV: {} joint fit of {}",
            fit.parts.first().map_or("", |p| p.source.as_str()),
            sig4(lo),
            sig4(hi),
            fit.kind.xspec_name(),
            sources.join(" + ")
        ),
        vec![top, res],
    );
    chart.notes = vec![
        fit.parameters
            .iter()
            .chain(fit.constants.iter().skip(1))
            .map(|p| format!("{} = {} ± {}", p.name, sig4(p.value), sig4(p.error)))
            .collect::<Vec<_>>()
            .join(", "),
        format!(
            "χ²/dof = {:.1}/{} (p = {:.3})",
            fit.chi2, fit.dof, fit.p_value
        ),
    ];
    chart
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
        hover: None,
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
            hover: None,
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
        let (e1, e2) = spectrum.detector.flux_band_kev();
        let (f, fe) = fit.flux(e1, e2);
        notes.push(format!(
            "χ²/dof = {:.1}/{} (p = {:.3}); F({e1}–{e2} keV) = {:.3e} ± {:.1e} erg/cm²/s",
            fit.chi2, fit.dof, fit.p_value, f, fe
        ));
    }
    let mut chart = Chart::new(
        format!("{} spectrum of {}", spectrum.detector, spectrum.source),
        panels,
    );
    chart.notes = notes;
    chart
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

/// How a light curve's times are drawn: a linear axis in readable units, gaps left empty.
///
/// Up to a day, hours since the UTC midnight before the first bin; up to three years, days
/// since that midnight (whole MJD, named in the label with its date); longer, decimal years
/// (UTC). Tick labels are then short plain numbers in plotly and in SVG/PNG alike, the time
/// scale is the real one (a gap in the observations is an empty stretch of axis), and each
/// point's hover text gives its UTC date and MJD.
#[derive(Clone, Debug, PartialEq)]
pub struct TimeAxis {
    /// MJD (UTC) of x = 0 (a whole day), or `None` for decimal years.
    pub origin_mjd: Option<f64>,
    /// Length of one x unit, days (1/24 for hours, 1 for days, 365.25 for years).
    pub unit_days: f64,
    /// The axis label.
    pub label: String,
}

/// MJD (UTC) of an IJD (TT); off by TT − UTC (about a minute) only outside 1972–2100.
fn mjd_utc(ijd: f64) -> f64 {
    Time::from_ijd(ijd).map_or(ijd + IJD_MJD_OFFSET, |t| t.mjd_utc())
}

impl TimeAxis {
    /// The axis for times spanning `first`…`last` (IJD, TT).
    pub fn for_span(first: f64, last: f64) -> TimeAxis {
        let (m0, m1) = (mjd_utc(first), mjd_utc(last));
        let span = (m1 - m0).abs();
        if span > 3.0 * 365.25 {
            return TimeAxis {
                origin_mjd: None,
                unit_days: 365.25,
                label: "Year (UTC)".into(),
            };
        }
        let origin = m0.floor();
        let date = Time::from_mjd_utc(origin)
            .map(|t| t.to_isot()[..10].to_string())
            .unwrap_or_default();
        let (unit_days, unit) = if span <= 1.0 {
            (1.0 / 24.0, "Hours")
        } else {
            (1.0, "Days")
        };
        TimeAxis {
            origin_mjd: Some(origin),
            unit_days,
            label: format!("{unit} since MJD {origin:.0} ({date} 00:00 UTC)"),
        }
    }

    /// The x of time `ijd` (TT).
    pub fn x(&self, ijd: f64) -> f64 {
        match self.origin_mjd {
            Some(o) => (mjd_utc(ijd) - o) / self.unit_days,
            None => Time::from_ijd(ijd).map_or(2000.0 + ijd / 365.25, |t| t.year()),
        }
    }

    /// A duration of `seconds` in x units.
    pub fn width(&self, seconds: f64) -> f64 {
        seconds / 86_400.0 / self.unit_days
    }
}

/// The UTC date and time (to the second) and MJD (UTC) of an IJD, for hover texts.
fn when(ijd: f64) -> String {
    match Time::from_ijd(ijd) {
        Ok(t) => format!("{} UTC, MJD {:.5}", &t.to_isot()[..19], t.mjd_utc()),
        Err(_) => format!("IJD {ijd:.5}"),
    }
}

/// A bin width in words: seconds, or days.
fn duration(seconds: f64) -> String {
    if seconds < 86_400.0 {
        format!("{seconds:.0} s")
    } else {
        let d = seconds / 86_400.0;
        if (d - d.round()).abs() < 1e-6 {
            format!("{d:.0} d")
        } else {
            format!("{d:.1} d")
        }
    }
}

/// A light curve with 1σ error bars and its constant and linear fits (when they can be
/// made), against time on a [`TimeAxis`].
pub fn light_curve_chart(lc: &LightCurve) -> Chart {
    light_curve_chart_of(lc, Detector::Isgri)
}

/// [`light_curve_chart`] of a light curve recorded by `detector` (named in the title).
pub fn light_curve_chart_of(lc: &LightCurve, detector: Detector) -> Chart {
    let keep: Vec<usize> = (0..lc.len())
        .filter(|&i| lc.rate[i].is_finite() && lc.error[i].is_finite())
        .collect();
    // From the first bin's centre: its UTC day is the origin (a day-long bin starting the
    // evening before does not move it).
    let (t_first, t_last) = match (keep.first(), keep.last()) {
        (Some(&a), Some(&b)) => (lc.time[a], lc.time[b]),
        _ => (0.0, 0.0),
    };
    let axis = TimeAxis::for_span(t_first, t_last);
    let mut p = Panel::new(Axis::linear(&axis.label), Axis::linear("Rate (cts/s)"));
    p.series.push(Series::Points {
        name: format!("{} {}–{} keV", lc.source, lc.band.0, lc.band.1),
        x: keep.iter().map(|&i| axis.x(lc.time[i])).collect(),
        y: keep.iter().map(|&i| lc.rate[i]).collect(),
        xerr: Some(
            keep.iter()
                .map(|&i| axis.width(0.5 * lc.timedel[i]))
                .collect(),
        ),
        yerr: Some(keep.iter().map(|&i| lc.error[i]).collect()),
        hover: Some(
            keep.iter()
                .map(|&i| {
                    format!(
                        "{}<br>{} ± {} cts/s",
                        when(lc.time[i]),
                        sig4(lc.rate[i]),
                        sig4(lc.error[i])
                    )
                })
                .collect(),
        ),
        color: DATA.into(),
    });
    let mut notes = Vec::new();
    if let (Some(&first), Some(&last)) = (keep.first(), keep.last()) {
        let (t0, t1) = (lc.time[first], lc.time[last]);
        if let Ok(c) = lc.fit_constant() {
            p.series.push(Series::Line {
                name: format!("constant {:.2} ± {:.2}", c.rate, c.error),
                x: vec![axis.x(t0), axis.x(t1)],
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
                name: format!("linear, slope {} ± {} cts/s/d", sig4(l.b), sig4(l.b_err)),
                x: vec![axis.x(t0), axis.x(t1)],
                y: vec![l.a + l.b * (t0 - l.t_ref), l.a + l.b * (t1 - l.t_ref)],
                color: SECOND.into(),
                dashed: true,
            });
            notes.push(format!(
                "linear: slope {} ± {} cts/s/day, χ²/dof = {:.1}/{}",
                sig4(l.b),
                sig4(l.b_err),
                l.chi2,
                l.dof
            ));
        }
    }
    let span = match (keep.first(), keep.last()) {
        (Some(&a), Some(&b)) => {
            let day =
                |t: f64| Time::from_ijd(t).map_or(String::new(), |t| t.to_isot()[..10].to_string());
            let (d0, d1) = (day(lc.time[a]), day(lc.time[b]));
            if d0 == d1 {
                format!(", {d0}")
            } else {
                format!(", {d0} to {d1}")
            }
        }
        _ => String::new(),
    };
    let mut chart = Chart::new(
        format!(
            "{detector} light curve of {}, {}–{} keV: {} bins of {}{span}",
            lc.source,
            lc.band.0,
            lc.band.1,
            keep.len(),
            duration(lc.timedel.first().copied().unwrap_or(0.0))
        ),
        vec![p],
    );
    chart.notes = notes;
    chart
}

/// An SPI-ACS light curve against seconds from its T0, with the burst search's background and
/// its excesses marked: each detection (or, when there is none, the best excess) as a box over
/// its window at its mean rate, named with its significance and false-alarm probability.
///
/// ```
/// use oda::datasets::AcsLightCurve;
/// use oda::display::acs_light_curve_chart;
/// use oda::time::Time;
/// let lc = AcsLightCurve::from_counts(Time::from_isot("2017-08-17T12:41:06.47")?, -2.0, 1.0,
///     &[9.0e4, 9.1e4, 9.0e4, 8.9e4])?;
/// let chart = acs_light_curve_chart(&lc, None);
/// assert!(chart.title.starts_with("SPI-ACS light curve, 4 bins of 1 s"));
/// assert_eq!(chart.panels[0].x.label, "Time since 2017-08-17T12:41:06.470 (s)");
/// # Ok::<(), oda::Error>(())
/// ```
pub fn acs_light_curve_chart(lc: &AcsLightCurve, search: Option<&BurstSearchResult>) -> Chart {
    let t0 = lc.t0.to_isot();
    let mut p = Panel::new(
        Axis::linear(&format!("Time since {t0} (s)")),
        Axis::linear("Rate (cts/s)"),
    );
    // Many short bins: a step line reads better than thousands of error bars.
    let half = lc.timedel / 2.0;
    let (mut x, mut y) = (
        Vec::with_capacity(2 * lc.len()),
        Vec::with_capacity(2 * lc.len()),
    );
    for (t, r) in lc.time.iter().zip(&lc.rate) {
        x.extend([t - half, t + half]);
        y.extend([*r, *r]);
    }
    p.series.push(Series::Line {
        name: format!("SPI-ACS, {} s bins", lc.timedel),
        x,
        y,
        color: DATA.into(),
        dashed: false,
    });
    let mut notes = Vec::new();
    if let Some(b) = search {
        let (Some(first), Some(last)) = (lc.time.first(), lc.time.last()) else {
            return Chart::new("SPI-ACS light curve (no bins)", vec![p]);
        };
        let n = 200;
        let ts: Vec<f64> = (0..=n)
            .map(|i| first + (last - first) * i as f64 / n as f64)
            .filter(|t| t.abs() <= b.background_span_s)
            .collect();
        p.series.push(Series::Line {
            name: "background (polynomial)".into(),
            y: ts.iter().map(|t| b.background_rate(*t)).collect(),
            x: ts,
            color: MODEL.into(),
            dashed: true,
        });
        let marked: Vec<_> = if b.detections.is_empty() {
            vec![&b.best]
        } else {
            b.detections.iter().collect()
        };
        for (k, e) in marked.iter().enumerate() {
            let mean = (e.counts + e.background_counts) / e.timescale_s;
            let noise = b
                .noise_ratio
                .iter()
                .find(|(t, _)| (t - e.timescale_s).abs() < 1e-9)
                .map_or(1.0, |r| r.1)
                * e.background_counts.sqrt()
                / e.timescale_s;
            let what = if b.detections.is_empty() {
                "best excess"
            } else {
                "burst"
            };
            p.series.push(Series::Points {
                name: format!(
                    "{what}: {:.1}σ in {} s at T0{:+.2} s",
                    e.significance, e.timescale_s, e.start_s
                ),
                x: vec![e.start_s + e.timescale_s / 2.0],
                y: vec![mean],
                xerr: Some(vec![e.timescale_s / 2.0]),
                yerr: Some(vec![noise]),
                hover: Some(vec![format!(
                    "{what} {}: {} counts over {} background in {} s<br>{:.2}σ, false-alarm probability {:.2e}",
                    k + 1,
                    sig4(e.counts),
                    sig4(e.background_counts),
                    e.timescale_s,
                    e.significance,
                    e.false_alarm_probability
                )]),
                color: if b.detections.is_empty() { SECOND.into() } else { MODEL.into() },
            });
        }
        notes.push(format!(
            "burst search T0{:+} to T0{:+} s, timescales {}–{} s: {}",
            b.search_window_s.0,
            b.search_window_s.1,
            b.windows.first().map_or(0.0, |w| w.0),
            b.windows.last().map_or(0.0, |w| w.0),
            match b.fluence_upper_limit_erg_cm2 {
                Some(ul) => format!(
                    "nothing ≥ {}σ (best {:.1}σ); 3σ upper limit {ul:.2e} erg/cm² in 1 s",
                    b.threshold_sigma, b.best.significance
                ),
                None => format!(
                    "{} excess(es) ≥ {}σ, best {:.1}σ (false-alarm probability {:.1e})",
                    b.detections.len(),
                    b.threshold_sigma,
                    b.best.significance,
                    b.best.false_alarm_probability
                ),
            }
        ));
        if !b.spikes_s.is_empty() {
            notes.push(format!(
                "{} cosmic-ray spike(s) masked ({:.1} s)",
                b.spikes_s.len(),
                b.masked_s
            ));
        }
    }
    let mut chart = Chart::new(
        format!(
            "SPI-ACS light curve, {} bins of {} s around {t0} UTC",
            lc.len(),
            lc.timedel
        ),
        vec![p],
    );
    chart.notes = notes;
    chart
}

/// A catalog as an HTML table; its rates are the catalog's own ("rate (cts/s)": a detection's
/// rate in its imaging band; none for sources a user added).
pub fn catalog_html(catalog: &Catalog) -> String {
    catalog_table_html(catalog, "rate (cts/s)")
}

/// A product's catalog with the rates the product measured, as an HTML table whose rate
/// column names the band and the method.
pub fn measured_catalog_html(measured: &MeasuredCatalog) -> String {
    catalog_table_html(&measured.catalog, &measured.rate_label())
}

/// True for an entry the user added that no detection measured (no significance, no position
/// error of its own).
fn undetected(e: &crate::analysis::catalog::CatalogEntry) -> bool {
    e.origin == Origin::User && e.significance == 0.0
}

fn catalog_table_html(catalog: &Catalog, rate_header: &str) -> String {
    let mut s = format!(
        "<table class=\"oda-catalog\"><thead><tr><th>name</th><th>RA (°)</th><th>Dec (°)</th>\
         <th>err (′)</th><th>σ</th><th>{}</th><th>new</th></tr></thead><tbody>",
        super::html_escape(rate_header)
    );
    for e in catalog.entries() {
        let added = undetected(e);
        let rate = if e.rate.is_finite() && !(added && e.rate == 0.0 && e.rate_err == 0.0) {
            format!("{:.3} ± {:.3}", e.rate, e.rate_err)
        } else {
            "—".into()
        };
        s.push_str(&format!(
            "<tr><td>{}</td><td>{:.4}</td><td>{:+.4}</td><td>{}</td><td>{}</td>\
             <td>{rate}</td><td>{}</td></tr>",
            super::html_escape(&e.name),
            e.position.ra(),
            e.position.dec(),
            if added {
                "—".to_string()
            } else {
                format!("{:.2}", e.error_radius_arcmin)
            },
            if added {
                "—".to_string()
            } else {
                format!("{:.1}", e.significance)
            },
            match (e.is_new, added) {
                (true, _) => "yes",
                (false, true) => "added",
                _ => "",
            }
        ));
    }
    s.push_str(&format!(
        "</tbody></table><p>{} source(s){}</p>",
        catalog.len(),
        if catalog.entries().iter().any(undetected) {
            "; “added”: given by the user, with no detection (σ, position error) of its own"
        } else {
            ""
        }
    ));
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::osa::OsaVersion;

    fn lc(t0: f64, step_s: f64, n: usize) -> LightCurve {
        LightCurve {
            source: "V404 Cyg".into(),
            band: (20.0, 40.0),
            time: (0..n).map(|i| t0 + i as f64 * step_s / 86_400.0).collect(),
            timedel: vec![step_s; n],
            rate: (0..n).map(|i| 100.0 + i as f64).collect(),
            error: vec![1.0; n],
            fracexp: vec![1.0; n],
            osa_version: OsaVersion::Osa11_2,
        }
    }

    fn xs(c: &Chart) -> Vec<f64> {
        c.to_plotly()["data"][0]["x"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_f64().unwrap())
            .collect()
    }

    #[test]
    fn time_axes_are_readable_at_every_span() {
        // 2015-06-20T08:24 UTC is IJD 5649.35 + (TT − UTC).
        let t0 = Time::from_isot("2015-06-20T08:24:00").unwrap().ijd();
        // One ScW of 100 s bins: hours since the UTC midnight.
        let short = light_curve_chart(&lc(t0, 100.0, 30));
        assert_eq!(
            short.panels[0].x.label,
            "Hours since MJD 57193 (2015-06-20 00:00 UTC)"
        );
        let x = xs(&short);
        assert!((x[0] - 8.4).abs() < 1e-4 && (x[1] - x[0] - 100.0 / 3600.0).abs() < 1e-4);
        // A week with gaps: days since that midnight; the gap stays empty, no point is lost.
        let mut week = lc(t0, 100.0, 20);
        let later = lc(t0 + 4.0, 100.0, 20);
        week.time.extend(later.time);
        for v in [&mut week.timedel, &mut week.error, &mut week.fracexp] {
            v.extend(vec![v[0]; 20]);
        }
        week.rate.extend(later.rate);
        let c = light_curve_chart(&week);
        assert_eq!(
            c.panels[0].x.label,
            "Days since MJD 57193 (2015-06-20 00:00 UTC)"
        );
        let x = xs(&c);
        assert_eq!(x.len(), 40);
        assert!(x.windows(2).all(|w| w[1] > w[0]));
        assert!((x[20] - x[19] - (4.0 - 19.0 * 100.0 / 86_400.0)).abs() < 1e-4);
        assert!(c.title.contains("2015-06-20 to 2015-06-24"), "{}", c.title);
        // Sixteen years: decimal years.
        let long = light_curve_chart(&lc(1200.0, 86_400.0 * 365.25, 16));
        assert_eq!(long.panels[0].x.label, "Year (UTC)");
        let x = xs(&long);
        assert!(
            (x[0] - 2003.29).abs() < 0.01 && (x[15] - x[0] - 15.0).abs() < 0.01,
            "{x:?}"
        );
        // Hover texts give the UTC date and the MJD.
        let hover = &short.to_plotly()["data"][0]["hovertext"][0];
        assert!(
            hover
                .as_str()
                .unwrap()
                .starts_with("2015-06-20T08:24:00 UTC, MJD 57193.35000"),
            "{hover}"
        );
    }
}
