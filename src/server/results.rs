//! A finished job's directory: the product's files (as `oda get-product` writes them),
//! `answer.json` (the `products` of the dispatcher's answer, as the `oda_api` client decodes
//! them), `view.json` (what the web page draws) and `files.json` (the files one may download).

use std::path::Path;

use serde_json::{Value, json};

use super::encode::{numpy_product_from_file, spectral_fit_product};
use crate::display::{
    ImageScale, acs_light_curve_chart, image_chart, light_curve_chart_of, spectrum_chart,
};
use crate::error::{Error, Result};
use crate::instrument::Detector;
use crate::query::{Product, ProductResult, WrittenFile, catalog_to_oda_json};

/// The dispatcher's `products` (without `api_code`, which names the server's URL).
pub const ANSWER_FILE: &str = "answer.json";
/// The web page's view of the product.
pub const VIEW_FILE: &str = "view.json";
/// The files one may download.
pub const FILES_FILE: &str = "files.json";
/// The `oda` part of the answer (job, identity, files, warnings), merged with each request's
/// own warnings when answered.
pub(crate) const ODA_FILE: &str = "oda.json";
/// Figures drawn per product at most (a catalog of 40 sources has 40 spectra: the page shows
/// the first ones; all are in the files).
const MAX_FIGURES: usize = 12;

/// Writes a job's directory `dir` for `result`.
///
/// # Errors
/// I/O and FITS errors.
pub fn write_job(result: &ProductResult, dir: &Path, job_id: &str) -> Result<()> {
    let files = result.write(dir)?;
    let listed: Vec<Value> = files
        .iter()
        .chain(std::iter::once(&WrittenFile {
            kind: "result".into(),
            path: "result.json".into(),
            source: None,
        }))
        .map(|f| {
            let bytes = std::fs::metadata(dir.join(&f.path)).map_or(0, |m| m.len());
            json!({"name": f.path, "kind": f.kind, "source": f.source, "bytes": bytes})
        })
        .collect();
    let (answer, oda) = answer(result, dir, &files, job_id, &listed)?;
    write_json(&dir.join(ODA_FILE), &oda)?;
    write_json(&dir.join(VIEW_FILE), &view(result, job_id, &listed))?;
    write_json(&dir.join(FILES_FILE), &Value::Array(listed))?;
    crate::fits::write_bytes_atomically(&dir.join(ANSWER_FILE), answer.as_bytes())?;
    Ok(())
}

fn write_json(path: &Path, v: &Value) -> Result<()> {
    crate::fits::write_bytes_atomically(path, v.to_string().as_bytes())
}

/// The request's given parameters in ODA names (`product_type` for the product), as the web
/// form and the share links carry them.
pub fn given_parameters(result_query: &str) -> Value {
    let mut map = serde_json::Map::new();
    for (k, v) in form_urlencoded::parse(result_query.as_bytes()) {
        if k != "query_type" {
            map.insert(k.into_owned(), json!(v.into_owned()));
        }
    }
    Value::Object(map)
}

fn target_name(result: &ProductResult) -> String {
    result
        .request
        .selection
        .src_name
        .clone()
        .unwrap_or_default()
}

fn answer(
    result: &ProductResult,
    dir: &Path,
    files: &[WrittenFile],
    job_id: &str,
    listed: &[Value],
) -> Result<(String, Value)> {
    let mut list: Vec<String> = Vec::new();
    let target = target_name(result);
    let file_of = |kind: &str, source: Option<&str>| -> Option<&WrittenFile> {
        files
            .iter()
            .find(|f| f.kind == kind && f.source.as_deref() == source)
    };
    // ODA names the products by instrument: isgri_spectrum, jemx_spectrum, …
    let instrument = match result.product.detector() {
        Some(Detector::Jemx(_)) => "jemx",
        _ => "isgri",
    };
    let spectrum_set = |list: &mut Vec<String>, source: &str| -> Result<()> {
        for kind in ["spectrum", "arf", "rmf"] {
            if let Some(f) = file_of(kind, Some(source)) {
                list.push(numpy_product_from_file(
                    &dir.join(&f.path),
                    &format!("{instrument}_spectrum"),
                    json!({"src_name": source, "product": format!("{instrument}_{kind}")}),
                )?);
            }
        }
        Ok(())
    };
    let mut catalog = Value::Null;
    match &result.product {
        Product::Image(image) => {
            let f = file_of("image", None)
                .ok_or_else(|| Error::service("the image file was not written"))?;
            list.push(numpy_product_from_file(
                &dir.join(&f.path),
                "mosaic_image",
                json!({"src_name": target, "product": "mosaic", "instrument": instrument,
                       "E1_keV": image.mosaic.band.e1, "E2_keV": image.mosaic.band.e2}),
            )?);
            catalog = catalog_to_oda_json(&image.catalog);
        }
        Product::Spectrum { spectra, .. } => {
            for s in spectra {
                spectrum_set(&mut list, &s.source)?;
            }
        }
        Product::LightCurve { light_curves, .. } => {
            for lc in light_curves {
                if let Some(f) = file_of("lightcurve", Some(&lc.source)) {
                    list.push(numpy_product_from_file(
                        &dir.join(&f.path),
                        "isgri_lc",
                        json!({"src_name": lc.source, "product": "isgri_lc",
                               "time_bin": result.request.time_bin_s}),
                    )?);
                }
            }
        }
        Product::JemxLightCurve { light_curves, .. } => {
            for lc in light_curves {
                let source = &lc.light_curve.source;
                if let Some(f) = file_of("lightcurve", Some(source)) {
                    list.push(numpy_product_from_file(
                        &dir.join(&f.path),
                        "jemx_lc",
                        json!({"src_name": source, "product": "jemx_lc",
                               "jemx_num": lc.unit.number(),
                               "time_bin": result.request.time_bin_s}),
                    )?);
                }
            }
        }
        Product::SpectralFit { fit, spectrum, .. } => {
            spectrum_set(&mut list, &spectrum.source)?;
            list.push(spectral_fit_product(fit));
        }
        Product::AcsLightCurve {
            light_curve,
            burst_search,
        } => {
            let f = file_of("lightcurve", None)
                .ok_or_else(|| Error::service("the SPI-ACS light-curve file was not written"))?;
            let search = burst_search.as_ref().map(|b| {
                json!({"best_significance": finite(b.best.significance),
                       "best_start_s": b.best.start_s, "best_timescale_s": b.best.timescale_s,
                       "best_false_alarm_probability": b.best.false_alarm_probability,
                       "detections": b.detections.len(), "threshold_sigma": b.threshold_sigma,
                       "fluence_upper_limit_erg_cm2": b.fluence_upper_limit_erg_cm2})
            });
            list.push(numpy_product_from_file(
                &dir.join(&f.path),
                "spi_acs_lc",
                json!({"product": "spi_acs_lc", "time_bin": light_curve.timedel,
                       "T0": light_curve.t0.to_isot(), "burst_search": search}),
            )?);
        }
    }
    let oda = json!({
        "job_id": job_id,
        "identity": result.identity.to_string(),
        "short_link": format!("/r/{job_id}"),
        "files": listed,
        "warnings": warnings(result),
        "scws": result.scws.len(),
    });
    let mut products = json!({
        "analysis_parameters": given_parameters(&result.request.to_url_query()),
    });
    if !catalog.is_null() {
        products["catalog"] = catalog;
    }
    // The units keep their FITS keyword order: spliced in as JSON text.
    let rest = products.to_string();
    Ok((
        format!(
            "{{\"numpy_data_product_list\":[{}],{}",
            list.join(","),
            &rest[1..]
        ),
        oda,
    ))
}

fn warnings(result: &ProductResult) -> Vec<String> {
    result
        .request
        .warnings
        .iter()
        .chain(result.comments.iter())
        .chain(result.log.warnings.iter())
        .cloned()
        .collect()
}

fn finite(x: f64) -> Value {
    if x.is_finite() { json!(x) } else { Value::Null }
}

fn figure(id: &str, chart: &crate::display::Chart) -> Value {
    json!({"id": id, "title": chart.title, "plotly": chart.to_plotly()})
}

fn view(result: &ProductResult, job_id: &str, listed: &[Value]) -> Value {
    let mut figures = Vec::new();
    let mut tables = Vec::new();
    match &result.product {
        Product::Image(image) => {
            let mut f = figure("mosaic", &image_chart(image, ImageScale::Significance));
            let c = image.mosaic.projection.center();
            // The axes are the TAN projection's intermediate coordinates (ξ, η) in degrees
            // around this centre: the page turns them into RA/Dec.
            f["sky"] = json!({"projection": "TAN", "ra0": c.ra(), "dec0": c.dec()});
            figures.push(f);
        }
        Product::Spectrum { spectra, .. } => {
            for s in spectra
                .iter()
                .filter(|s| s.exposure > 0.0)
                .take(MAX_FIGURES)
            {
                figures.push(figure(
                    &format!("spectrum-{}", s.source),
                    &spectrum_chart(s, None),
                ));
            }
        }
        Product::LightCurve { .. } | Product::JemxLightCurve { .. } => {
            let mut rows = Vec::new();
            let detector = result.product.detector().unwrap_or_default();
            let curves = result.product.any_light_curves().unwrap_or_default();
            for lc in curves.into_iter().filter(|l| !l.is_empty()) {
                if figures.len() < MAX_FIGURES {
                    figures.push(figure(
                        &format!("lc-{}", lc.source),
                        &light_curve_chart_of(lc, detector),
                    ));
                }
                let c = lc.fit_constant().ok();
                let l = lc.fit_linear().ok();
                rows.push(json!([
                    lc.source,
                    lc.len(),
                    c.as_ref().map(|c| finite(c.rate)),
                    c.as_ref().map(|c| finite(c.error)),
                    c.as_ref().map(|c| finite(c.chi2 / (c.dof.max(1) as f64))),
                    l.as_ref().map(|l| finite(l.b * 365.25)),
                    l.as_ref().map(|l| finite(l.b_err * 365.25)),
                    l.as_ref().map(|l| finite(l.chi2 / (l.dof.max(1) as f64))),
                ]));
            }
            tables.push(json!({
                "id": "lc-fits", "title": "Constant and linear fits of the light curves",
                "columns": ["source", "bins", "mean rate (cts/s)", "± (cts/s)", "χ²/dof constant",
                            "slope (cts/s/yr)", "± (cts/s/yr)", "χ²/dof linear"],
                "rows": rows,
            }));
        }
        Product::SpectralFit { fit, spectrum, .. } => {
            figures.push(figure(
                &format!("fit-{}", spectrum.source),
                &spectrum_chart(spectrum, Some(fit)),
            ));
            let mut rows: Vec<Value> = fit
                .parameters
                .iter()
                .map(|p| {
                    json!([
                        p.name,
                        finite(p.value),
                        if p.frozen {
                            json!("frozen")
                        } else {
                            finite(p.error)
                        },
                        p.unit
                    ])
                })
                .collect();
            rows.push(json!([
                "χ²/dof",
                format!("{:.2}/{}", fit.chi2, fit.dof),
                format!("p = {:.3}", fit.p_value),
                ""
            ]));
            tables.push(json!({
                "id": "fit-parameters",
                "title": format!("{} fit of {} ({}–{} keV)", fit.kind.xspec_name(), fit.source,
                                 fit.energy_range.0, fit.energy_range.1),
                "columns": ["parameter", "value", "1σ error", "unit"],
                "rows": rows,
            }));
        }
        Product::AcsLightCurve {
            light_curve,
            burst_search,
        } => {
            figures.push(figure(
                "spi-acs-lc",
                &acs_light_curve_chart(light_curve, burst_search.as_deref()),
            ));
            if let Some(b) = burst_search {
                let mut rows: Vec<Value> = b
                    .detections
                    .iter()
                    .chain(b.detections.is_empty().then_some(&b.best))
                    .map(|e| {
                        json!([
                            e.start_s,
                            e.timescale_s,
                            finite(e.counts),
                            finite(e.background_counts),
                            finite(e.significance),
                            e.false_alarm_probability
                        ])
                    })
                    .collect();
                if let Some(ul) = b.fluence_upper_limit_erg_cm2 {
                    rows.push(json!([
                        "3σ upper limit (1 s from T0)",
                        1.0,
                        format!("{ul:.3e} erg/cm²"),
                        "",
                        "",
                        ""
                    ]));
                }
                tables.push(json!({
                    "id": "burst-search",
                    "title": format!("Burst search around T0 = {} UTC (detections ≥ {}σ, else the best excess)",
                                     light_curve.t0.to_isot(), b.threshold_sigma),
                    "columns": ["start (s from T0)", "timescale (s)", "excess counts",
                                "background counts", "significance (σ)", "false-alarm probability"],
                    "rows": rows,
                }));
            }
        }
    }
    let query = result.request.to_url_query();
    json!({
        "job_id": job_id,
        "state": "done",
        "product_type": result.request.product.name(),
        "parameters": given_parameters(&query),
        "query": query,
        "short_link": format!("/r/{job_id}"),
        "identity": result.identity.to_string(),
        "figures": figures,
        "catalog": if result.product.has_catalog() {
            catalog_to_oda_json(result.product.catalog())
        } else {
            Value::Null
        },
        "tables": tables,
        "files": listed,
        "warnings": warnings(result),
        "scws": result.scws.iter().map(|s| s.to_string()).collect::<Vec<_>>(),
        "log": {
            "computed": result.log.computed_by_name(),
            "reused": result.log.reused_by_name(),
            "elapsed_s": result.elapsed_s,
        },
    })
}
