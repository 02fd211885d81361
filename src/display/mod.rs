//! Products that show themselves: interactive plotly figures in notebooks (with an offline
//! HTML fallback), HTML tables, and static SVG/PNG figures for papers — no browser needed.
//!
//! In an evcxr notebook cell, a product as the last expression displays itself through its
//! `evcxr_display` method: a bundle with the plotly JSON (rendered natively by JupyterLab with
//! the `plotly` Python package's extension), `text/html` (the same figure drawn by plotly.js,
//! which is inlined into the first figure of a kernel session so that an exported notebook shows
//! its plots without a network) and `text/plain`. A front end draws one of them, so nothing
//! appears twice: JupyterLab the plotly figure, an exported page the HTML (the figure, then for
//! a product its catalog table and request summary), a terminal the text.
//!
//! ```
//! use oda::display::figures::light_curve_chart;
//! use oda::products::LightCurve;
//! let lc = LightCurve {
//!     source: "Crab".into(), band: (20.0, 40.0), time: vec![5000.0, 5001.0, 5002.0],
//!     timedel: vec![1000.0; 3], rate: vec![208.0, 210.0, 209.0], error: vec![1.0; 3],
//!     fracexp: vec![1.0; 3], osa_version: oda::osa::OsaVersion::Osa11_2,
//! };
//! let chart = light_curve_chart(&lc);
//! assert_eq!(chart.to_plotly()["data"].as_array().unwrap().len(), 3); // data, constant, line
//! let dir = tempfile::tempdir().unwrap();
//! chart.save_svg(&dir.path().join("crab-lc.svg"))?;                  // for the paper
//! # Ok::<(), oda::Error>(())
//! ```

pub mod chart;
pub mod figures;

use std::path::Path;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicUsize, Ordering};

use sha2::{Digest, Sha256};

pub use chart::{Axis, Chart, Heatmap, Panel, Series};
pub use figures::{
    ImageScale, TimeAxis, acs_light_curve_chart, catalog_html, image_chart, joint_fit_chart,
    light_curve_chart, light_curve_chart_of, measured_catalog_html, spectrum_chart,
};

use crate::analysis::catalog::Catalog;
use crate::datasets::JemxLightCurve;
use crate::error::Result;
use crate::fit::{JointFit, SpectralFit};
use crate::instrument::Detector;
use crate::products::{Citation, Image, LightCurve, Spectrum};
use crate::query::{MeasuredCatalog, Product, ProductResult};
use crate::workflow::{Progress, ProgressFn, ProvenanceGraph};

/// Environment variable naming a local `plotly.min.js` (the kernel installer sets it to the
/// copy in the `plotly` Python package).
pub const PLOTLY_JS_ENV: &str = "ODA_PLOTLY_JS";
/// Used only when no local plotly.js is known (the figure then needs the network).
const PLOTLY_CDN: &str = "https://cdn.plot.ly/plotly-2.35.2.min.js";

/// Size of a figure on the page and in static exports, pixels (sky maps: see [`Chart::size`]).
pub const FIGURE_WIDTH: f64 = 900.0;
/// See [`FIGURE_WIDTH`].
pub const FIGURE_HEIGHT: f64 = 620.0;

/// Escapes text for HTML.
pub fn html_escape(t: &str) -> String {
    t.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// The local plotly.js, if [`PLOTLY_JS_ENV`] names a readable file.
fn local_plotly_js() -> Option<&'static str> {
    static JS: OnceLock<Option<String>> = OnceLock::new();
    JS.get_or_init(|| {
        let path = std::env::var_os(PLOTLY_JS_ENV)?;
        let text = std::fs::read_to_string(path).ok()?;
        // Inlined into a <script> element: it must not close it.
        (!text.contains("</script")).then_some(text)
    })
    .as_deref()
}

/// True the first time it is called in this process. Notebook cells are separate shared
/// libraries with their own statics, so the mark is a file named after the process (its id and
/// start time), not a static.
fn first_figure_of_process() -> bool {
    let mark = crate::config::process_mark("oda-plotly-inlined");
    std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(mark)
        .is_ok()
}

/// Marks the inline copy of plotly.js in a page (checked by the notebook runner).
pub const PLOTLY_INLINE_MARK: &str = "<!-- plotly.js inlined by oda -->";

/// The `<script>` that loads plotly.js: inline (in the first figure of a kernel session, or in
/// every standalone page) when a local copy is known.
fn plotly_loader(standalone: bool) -> String {
    match local_plotly_js() {
        Some(js) if standalone || first_figure_of_process() => {
            format!("{PLOTLY_INLINE_MARK}\n<script type=\"text/javascript\">{js}</script>\n")
        }
        Some(_) => String::new(),
        None => format!(
            "<script type=\"text/javascript\">if (!window.Plotly) {{ var s = document.createElement('script'); \
             s.src = '{PLOTLY_CDN}'; document.head.appendChild(s); }}</script>\n"
        ),
    }
}

impl Chart {
    /// An HTML fragment drawing the chart with plotly.js (inlined into the first fragment of
    /// the process; later fragments on the same page reuse it).
    pub fn to_html(&self) -> String {
        self.html(false)
    }

    fn html(&self, standalone: bool) -> String {
        // Each evcxr cell links its own copy of this crate, so a static counter restarts at 0 in
        // every cell: the element id also carries a digest of the figure and the clock, or two
        // figures of one notebook page would share an id and only one would be drawn.
        static COUNTER: AtomicUsize = AtomicUsize::new(0);
        let fig = self.to_plotly().to_string().replace("</", "<\\/");
        let digest = Sha256::digest(fig.as_bytes());
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.subsec_nanos());
        let id = format!(
            "oda-fig-{:02x}{:02x}{:02x}{:02x}-{}-{nanos}-{}",
            digest[0],
            digest[1],
            digest[2],
            digest[3],
            std::process::id(),
            COUNTER.fetch_add(1, Ordering::Relaxed)
        );
        // A sky map keeps its size (its aspect is the sky's); other figures follow the page's
        // width up to theirs.
        let (w, h) = self.size();
        let (style, responsive) = if self.equal_aspect {
            (format!("width:{w}px;height:{h}px;"), false)
        } else {
            (format!("width:100%;max-width:{w}px;height:{h}px;"), true)
        };
        format!(
            "{}<div id=\"{id}\" style=\"{style}\"></div>\n\
             <script type=\"text/javascript\">(function() {{\n\
             var fig = {fig};\n\
             function draw() {{ Plotly.newPlot('{id}', fig.data, fig.layout, {{responsive: {responsive}}}); }}\n\
             if (window.Plotly) {{ draw(); }} else {{ var t = setInterval(function() {{ if (window.Plotly) {{ clearInterval(t); draw(); }} }}, 100); }}\n\
             }})();</script>\n",
            plotly_loader(standalone)
        )
    }

    /// Writes a standalone HTML page with the interactive figure (plotly.js inlined when a
    /// local copy is known).
    ///
    /// # Errors
    /// I/O errors.
    pub fn save_html(&self, path: &Path) -> Result<()> {
        let page = format!(
            "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>{}</title></head><body>\n{}</body></html>\n",
            html_escape(&self.title),
            self.html(true)
        );
        crate::fits::write_bytes_atomically(path, page.as_bytes())
    }

    /// Writes the figure as SVG, at the size the notebook shows it ([`Chart::size`]:
    /// [`FIGURE_WIDTH`] × [`FIGURE_HEIGHT`] but for sky maps).
    ///
    /// # Errors
    /// I/O errors.
    pub fn save_svg(&self, path: &Path) -> Result<()> {
        let (w, h) = self.size();
        crate::fits::write_bytes_atomically(path, self.to_svg(w, h).as_bytes())
    }

    /// Writes the figure as PNG at `scale` × [`Chart::size`] pixels (2 gives 1800 × 1240 for
    /// a light curve or a spectrum, enough for print).
    ///
    /// # Errors
    /// I/O errors.
    pub fn save_png(&self, path: &Path, scale: f32) -> Result<()> {
        let (w, h) = self.size();
        crate::fits::write_bytes_atomically(path, &self.to_png(w, h, scale)?)
    }

    /// The notebook display (see the module documentation).
    pub fn evcxr_display(&self) {
        let chart = cited(self.clone());
        emit(&[
            (
                "application/vnd.plotly.v1+json",
                chart.to_plotly().to_string(),
            ),
            ("text/html", chart.to_html()),
            ("text/plain", chart.title.clone()),
        ]);
    }
}

/// Prints a display bundle in evcxr's protocol (one `EVCXR_BEGIN_CONTENT` block per MIME type;
/// the kernel sends them together at the end of the cell).
fn emit(parts: &[(&str, String)]) {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    for (mime, body) in parts {
        let _ = writeln!(out, "EVCXR_BEGIN_CONTENT {mime}\n{body}\nEVCXR_END_CONTENT");
    }
    let _ = out.flush();
}

/// Displays a chart, with `extra_html` under it in exported pages.
///
/// A cell has one output, and each front end draws one MIME type of it: JupyterLab the plotly
/// JSON (its plotly renderer), an exported page (nbconvert has no plotly renderer) the HTML —
/// the same figure drawn by plotly.js, then `extra_html` — and a terminal the text. Nothing is
/// drawn twice: the HTML holds no text rendering of what its tables show.
fn emit_chart(chart: &Chart, extra_html: &str, text: String) {
    emit(&[
        (
            "application/vnd.plotly.v1+json",
            chart.to_plotly().to_string(),
        ),
        ("text/html", format!("{}{extra_html}", chart.to_html())),
        ("text/plain", text),
    ]);
}

/// `chart` with the active publication's citation as its footer ("Published as doi:…"), when
/// a publication is active (see [`Citation::active`]) and the chart has no footer yet.
fn cited(chart: Chart) -> Chart {
    match (&chart.footer, Citation::active()) {
        (None, Ok(Some(c))) => chart.with_footer(c.footer()),
        _ => chart,
    }
}

impl Image {
    /// The significance map with the catalog (see [`image_chart`]).
    pub fn chart(&self) -> Chart {
        cited(image_chart(self, ImageScale::Significance))
    }

    /// The catalog with the mosaic's rates, labelled with its band.
    fn measured_catalog(&self) -> MeasuredCatalog {
        MeasuredCatalog {
            catalog: self.catalog.clone(),
            band: (self.mosaic.band.e1, self.mosaic.band.e2),
            method: crate::query::RateMethod::Mosaic,
        }
    }

    /// The notebook display: the significance map with the catalog circled, then (in exported
    /// pages) the catalog table.
    pub fn evcxr_display(&self) {
        let (chart, measured) = (self.chart(), self.measured_catalog());
        emit_chart(
            &chart,
            &measured_catalog_html(&measured),
            format!("{}\n{measured}", chart.title),
        );
    }
}

impl Catalog {
    /// The notebook display: an HTML table (its rates are the catalog's own: see
    /// [`ProductResult::measured_catalog`] for those a product measured).
    pub fn evcxr_display(&self) {
        emit(&[
            ("text/html", catalog_html(self)),
            ("text/plain", self.to_string()),
        ]);
    }
}

impl MeasuredCatalog {
    /// The notebook display: an HTML table whose rate column names its band and method.
    pub fn evcxr_display(&self) {
        emit(&[
            ("text/html", measured_catalog_html(self)),
            ("text/plain", self.to_string()),
        ]);
    }
}

impl crate::datasets::AcsLightCurve {
    /// The light curve's figure (see [`acs_light_curve_chart`]).
    pub fn chart(&self) -> Chart {
        cited(acs_light_curve_chart(self, None))
    }

    /// The notebook display.
    pub fn evcxr_display(&self) {
        let chart = self.chart();
        emit_chart(&chart, "", chart.title.clone());
    }
}

impl Spectrum {
    /// The spectrum's figure (see [`spectrum_chart`]).
    pub fn chart(&self) -> Chart {
        cited(spectrum_chart(self, None))
    }

    /// The spectrum's figure with `fit`: the folded model, the residuals and the parameters.
    pub fn chart_with_fit(&self, fit: &SpectralFit) -> Chart {
        cited(spectrum_chart(self, Some(fit)))
    }

    /// The notebook display.
    pub fn evcxr_display(&self) {
        emit_chart(
            &self.chart(),
            "",
            format!(
                "spectrum of {} ({} channels)",
                self.source,
                self.n_channels()
            ),
        );
    }
}

impl JemxLightCurve {
    /// The light curve's figure (as [`LightCurve::chart`], titled with the unit).
    pub fn chart(&self) -> Chart {
        cited(light_curve_chart_of(
            &self.light_curve,
            Detector::Jemx(self.unit),
        ))
    }

    /// The notebook display.
    pub fn evcxr_display(&self) {
        let chart = self.chart();
        let notes = chart.notes.join("\n");
        emit_chart(&chart, "", format!("{}\n{notes}", chart.title));
    }
}

impl LightCurve {
    /// The light curve's figure with constant and linear fits (see [`light_curve_chart`]).
    pub fn chart(&self) -> Chart {
        cited(light_curve_chart(self))
    }

    /// The notebook display.
    pub fn evcxr_display(&self) {
        let chart = self.chart();
        let notes = chart.notes.join("\n");
        emit_chart(&chart, "", format!("{}\n{notes}", chart.title));
    }
}

/// The HTML table of a fit's parameters.
fn fit_html(fit: &SpectralFit) -> String {
    let mut s = String::from(
        "<table class=\"oda-fit\"><thead><tr><th>parameter</th><th>value</th><th>error</th><th>unit</th></tr></thead><tbody>",
    );
    for p in &fit.parameters {
        s.push_str(&format!(
            "<tr><td>{}</td><td>{:.5}</td><td>{}</td><td>{}</td></tr>",
            html_escape(&p.name),
            p.value,
            if p.frozen {
                "frozen".to_string()
            } else {
                format!("{:.5}", p.error)
            },
            html_escape(&p.unit)
        ));
    }
    s.push_str(&format!(
        "</tbody></table><p>χ²/dof = {:.2}/{}, p = {:.3}</p>",
        fit.chi2, fit.dof, fit.p_value
    ));
    s
}

/// A product's request summary in HTML, without the catalog (shown as a table beside it):
/// Science Windows, selection remarks, cache use and identity, warnings.
fn summary_html(r: &ProductResult) -> String {
    let mut s = format!(
        "<p class=\"oda-summary\">{} — {} Science Window(s), {:.2} s; {} unit(s) computed, {} reused \
         from the cache; product identity <code>{}</code></p>",
        r.request.product.name(),
        r.scws.len(),
        r.elapsed_s,
        r.log.computed().count(),
        r.log.reused().count(),
        r.identity.short()
    );
    for c in &r.comments {
        s.push_str(&format!(
            "<p class=\"oda-comment\"># {}</p>",
            html_escape(c)
        ));
    }
    for w in r.log.warnings.iter().chain(&r.request.warnings) {
        s.push_str(&format!(
            "<p class=\"oda-warning\"><b>warning:</b> {}</p>",
            html_escape(w)
        ));
    }
    s
}

impl ProductResult {
    /// The product's figure (an image, a spectrum with its fit, or the target's light curve);
    /// a product of a publication has its citation as the footer.
    pub fn chart(&self) -> Option<Chart> {
        let chart = match &self.product {
            Product::Image(i) => Some(i.chart()),
            Product::Spectrum { spectra, .. } => {
                spectra.iter().find(|s| s.exposure > 0.0).map(|s| s.chart())
            }
            Product::SpectralFit { fit, spectrum, .. } => Some(spectrum_chart(spectrum, Some(fit))),
            Product::LightCurve { .. } | Product::JemxLightCurve { .. } => {
                let target = self.request.selection.src_name.as_deref();
                let curves = self.product.any_light_curves().unwrap_or_default();
                let detector = self.product.detector().unwrap_or_default();
                curves
                    .iter()
                    .find(|l| Some(l.source.as_str()) == target && !l.is_empty())
                    .or_else(|| curves.iter().find(|l| !l.is_empty()))
                    .map(|l| cited(light_curve_chart_of(l, detector)))
            }
            Product::AcsLightCurve {
                light_curve,
                burst_search,
            } => Some(acs_light_curve_chart(light_curve, burst_search.as_deref())),
        };
        match &self.citation {
            Some(c) => chart.map(|ch| Chart {
                footer: Some(c.footer()),
                ..ch
            }),
            None => chart,
        }
    }

    /// The notebook display: the figure (a fit's parameters are in its notes), then in
    /// exported pages the catalog with the rates this product measured and the request's
    /// summary; the text is [`ProductResult`]'s `Display`.
    pub fn evcxr_display(&self) {
        let mut html = if self.product.has_catalog() {
            measured_catalog_html(&self.measured_catalog())
        } else {
            String::new()
        };
        html.push_str(&summary_html(self));
        match self.chart() {
            Some(c) => emit_chart(&c, &html, self.to_string()),
            None => emit(&[("text/html", html), ("text/plain", self.to_string())]),
        }
    }
}

impl JointFit {
    /// The broadband figure of the joint fit (see [`joint_fit_chart`]).
    pub fn chart(&self) -> Chart {
        cited(joint_fit_chart(self))
    }

    /// The notebook display: the figure, the fit's summary as text.
    pub fn evcxr_display(&self) {
        emit_chart(&self.chart(), "", self.to_string());
    }
}

impl SpectralFit {
    /// The notebook display: the parameter table.
    pub fn evcxr_display(&self) {
        emit(&[
            ("text/html", fit_html(self)),
            ("text/plain", self.to_string()),
        ]);
    }
}

impl ProvenanceGraph {
    /// The notebook display: units per name, and the listing (`to_dot` gives Graphviz).
    pub fn evcxr_display(&self) {
        let counts: String = self
            .unit_counts()
            .iter()
            .map(|(n, c)| format!("<tr><td>{}</td><td>{c}</td></tr>", html_escape(n)))
            .collect();
        emit(&[
            (
                "text/html",
                format!(
                    "<p>Provenance of {} ({} units)</p><table><thead><tr><th>unit</th><th>count</th></tr></thead><tbody>{counts}</tbody></table>\
                     <details><summary>all units</summary><pre>{}</pre></details>",
                    self.root.short(),
                    self.nodes.len(),
                    html_escape(&self.to_string())
                ),
            ),
            ("text/plain", self.to_string()),
        ]);
    }
}

/// A progress callback for notebooks: prints whole lines (cell output is line-buffered) at
/// every 10 % of each stage.
pub fn progress_lines() -> ProgressFn {
    std::sync::Arc::new(|p: &Progress| {
        let step = (p.total / 10).max(1);
        if p.done == p.total || p.done.is_multiple_of(step) {
            println!("{}: {}/{}", p.stage, p.done, p.total);
        }
    })
}

/// The closing table of a paper notebook: each quantity as the paper gives it and as this run
/// measures it, and whether they agree within the stated tolerance.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Comparison {
    rows: Vec<(String, String, String, bool)>,
}

impl Comparison {
    /// An empty table.
    pub fn new() -> Comparison {
        Comparison::default()
    }

    /// Adds a quantity: the paper's value (as text), this run's, and whether they agree.
    pub fn row(
        mut self,
        quantity: &str,
        paper: &str,
        this_run: String,
        agrees: bool,
    ) -> Comparison {
        self.rows
            .push((quantity.into(), paper.into(), this_run, agrees));
        self
    }

    /// True when every row agrees.
    pub fn all_agree(&self) -> bool {
        self.rows.iter().all(|r| r.3)
    }

    /// The table as HTML.
    pub fn to_html(&self) -> String {
        let rows: String = self
            .rows
            .iter()
            .map(|(q, p, t, ok)| {
                format!(
                    "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
                    html_escape(q),
                    html_escape(p),
                    html_escape(t),
                    if *ok { "✓" } else { "✗" }
                )
            })
            .collect();
        format!(
            "<table class=\"oda-comparison\"><thead><tr><th>quantity</th><th>paper</th><th>this run</th><th>agrees</th></tr></thead><tbody>{rows}</tbody></table>"
        )
    }

    /// The notebook display.
    pub fn evcxr_display(&self) {
        emit(&[
            ("text/html", self.to_html()),
            ("text/plain", self.to_string()),
        ]);
    }
}

impl std::fmt::Display for Comparison {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        for (q, p, t, ok) in &self.rows {
            writeln!(
                f,
                "{q:<32} paper {p:<24} this run {t:<24} {}",
                if *ok { "ok" } else { "DIFFERS" }
            )?;
        }
        Ok(())
    }
}
