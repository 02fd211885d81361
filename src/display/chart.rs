//! One description of a figure, two renderings: plotly JSON for interactive notebook plots and
//! SVG (hence PNG) for publication figures made without a browser.
//!
//! A [`Chart`] is a column of [`Panel`]s sharing the x axis (a spectrum over its residuals),
//! each with axes, point series with error bars, lines, labelled markers and an optional
//! [`Heatmap`] (a sky image).

use ndarray::Array2;
use serde_json::{Value, json};

/// A plot axis.
#[derive(Clone, Debug, PartialEq)]
pub struct Axis {
    /// Label, with units.
    pub label: String,
    /// Logarithmic scale.
    pub log: bool,
    /// Increasing to the left (right ascension) or downwards.
    pub reversed: bool,
    /// Fixed range (data units), or automatic.
    pub range: Option<(f64, f64)>,
}

impl Axis {
    /// A linear axis.
    pub fn linear(label: &str) -> Axis {
        Axis {
            label: label.into(),
            log: false,
            reversed: false,
            range: None,
        }
    }

    /// A logarithmic axis.
    pub fn log(label: &str) -> Axis {
        Axis {
            log: true,
            ..Axis::linear(label)
        }
    }

    /// This axis reversed.
    pub fn reversed(mut self) -> Axis {
        self.reversed = true;
        self
    }
}

/// What a panel draws.
#[derive(Clone, Debug, PartialEq)]
pub enum Series {
    /// Points with optional horizontal half-widths and vertical 1σ errors.
    Points {
        /// Legend name.
        name: String,
        /// x.
        x: Vec<f64>,
        /// y.
        y: Vec<f64>,
        /// Horizontal half-widths.
        xerr: Option<Vec<f64>>,
        /// Vertical errors.
        yerr: Option<Vec<f64>>,
        /// Hover text per point (plotly), instead of the bare coordinates.
        hover: Option<Vec<String>>,
        /// CSS colour.
        color: String,
    },
    /// A line through the points (a histogram-like step when `step`).
    Line {
        /// Legend name.
        name: String,
        /// x.
        x: Vec<f64>,
        /// y.
        y: Vec<f64>,
        /// CSS colour.
        color: String,
        /// Dashed.
        dashed: bool,
    },
    /// Labelled open circles (catalog sources on an image).
    Markers {
        /// Legend name.
        name: String,
        /// x.
        x: Vec<f64>,
        /// y.
        y: Vec<f64>,
        /// One label per marker.
        labels: Vec<String>,
        /// Hover text per marker.
        hover: Vec<String>,
        /// CSS colour.
        color: String,
    },
}

/// A regular grid of values: pixel (row r, column c) is centred at (x0 + c·dx, y0 + r·dy).
#[derive(Clone, Debug, PartialEq)]
pub struct Heatmap {
    /// Values `[row, column]`; NaN is transparent.
    pub z: Array2<f64>,
    /// x of column 0.
    pub x0: f64,
    /// x step.
    pub dx: f64,
    /// y of row 0.
    pub y0: f64,
    /// y step.
    pub dy: f64,
    /// Colour-bar title.
    pub colorbar: String,
    /// Colour scale limits.
    pub zrange: (f64, f64),
}

/// One panel: axes and what is drawn on them.
#[derive(Clone, Debug, PartialEq)]
pub struct Panel {
    /// x axis (shared by the panels of a chart: the bottom panel's label is shown).
    pub x: Axis,
    /// y axis.
    pub y: Axis,
    /// Relative height.
    pub weight: f64,
    /// A heat map under the series.
    pub heatmap: Option<Heatmap>,
    /// Series, drawn in order.
    pub series: Vec<Series>,
    /// A horizontal reference line (0 for residuals).
    pub hline: Option<f64>,
}

impl Panel {
    /// An empty panel with these axes.
    pub fn new(x: Axis, y: Axis) -> Panel {
        Panel {
            x,
            y,
            weight: 1.0,
            heatmap: None,
            series: Vec::new(),
            hline: None,
        }
    }
}

/// A figure: a title and a column of panels sharing x.
#[derive(Clone, Debug, PartialEq)]
pub struct Chart {
    /// Title.
    pub title: String,
    /// Panels, top first.
    pub panels: Vec<Panel>,
    /// Square data aspect (sky images).
    pub equal_aspect: bool,
    /// Lines of text shown under the title (fit results).
    pub notes: Vec<String>,
    /// One line of small grey text under the figure (provenance, how to cite it), or none.
    pub footer: Option<String>,
}

/// Plot-area side of a sky map, pixels (the longer side of its data).
const SKY_SIDE: f64 = 540.0;
/// Left and right margins of a sky map (the right one holds the colour bar), pixels.
const SKY_MARGIN: (f64, f64) = (80.0, 130.0);

impl Chart {
    /// A chart with this title and panels, no notes and no footer.
    pub fn new(title: impl Into<String>, panels: Vec<Panel>) -> Chart {
        Chart {
            title: title.into(),
            panels,
            equal_aspect: false,
            notes: Vec::new(),
            footer: None,
        }
    }

    /// This chart with `text` as its footer: one line of small grey text under the figure, in
    /// the notebook (plotly) and in the SVG/PNG files alike.
    ///
    /// ```
    /// use oda::display::{Axis, Chart, Panel};
    /// let chart = Chart::new("Crab", vec![Panel::new(Axis::linear("x"), Axis::linear("y"))])
    ///     .with_footer("Published as doi:10.5072/zenodo.123");
    /// let fig = chart.to_plotly();
    /// let footer = fig["layout"]["annotations"].as_array().unwrap().iter()
    ///     .find(|a| a["name"] == "footer").unwrap();
    /// assert_eq!(footer["text"], "Published as doi:10.5072/zenodo.123");
    /// assert!(chart.to_svg(900.0, 620.0).contains(">Published as doi:10.5072/zenodo.123</text>"));
    /// ```
    pub fn with_footer(mut self, text: impl Into<String>) -> Chart {
        self.footer = Some(text.into());
        self
    }

    /// Top margin, pixels: the title and the notes.
    fn top_margin(&self) -> f64 {
        48.0 + 18.0 * self.notes.len() as f64
    }

    /// Bottom margin, pixels: tick labels and axis title, the legend (plotly), the footer.
    fn bottom_margin(&self) -> f64 {
        let legend = if self.show_legend() { 34.0 } else { 0.0 };
        let footer = if self.footer.is_some() { 24.0 } else { 0.0 };
        62.0 + legend + footer
    }

    /// Sky maps show no legend (their circles are labelled); other charts do.
    fn show_legend(&self) -> bool {
        !self.equal_aspect
    }

    /// The size the chart is drawn at, pixels: [`FIGURE_WIDTH`](super::FIGURE_WIDTH) ×
    /// [`FIGURE_HEIGHT`](super::FIGURE_HEIGHT), except sky maps (equal aspect), whose size
    /// follows their data so that a degree is as long on both axes and the colour bar stays
    /// next to the map.
    pub fn size(&self) -> (f64, f64) {
        if !self.equal_aspect {
            return (super::FIGURE_WIDTH, super::FIGURE_HEIGHT);
        }
        let (w, h) = self.sky_plot_area();
        (
            (w + SKY_MARGIN.0 + SKY_MARGIN.1).round(),
            (h + self.top_margin() + self.bottom_margin()).round(),
        )
    }

    /// The plot area of a sky map, pixels: [`SKY_SIDE`] along its longer axis.
    fn sky_plot_area(&self) -> (f64, f64) {
        let Some(p) = self.panels.first() else {
            return (SKY_SIDE, SKY_SIDE);
        };
        let xr = data_range(&self.panels, &p.x, true);
        let yr = data_range(std::slice::from_ref(p), &p.y, false);
        let (dx, dy) = ((xr.1 - xr.0).abs(), (yr.1 - yr.0).abs());
        if !(dx > 0.0 && dy > 0.0) {
            return (SKY_SIDE, SKY_SIDE);
        }
        // Very elongated fields keep a usable short side.
        let aspect = (dx / dy).clamp(0.4, 2.5);
        if aspect >= 1.0 {
            (
                SKY_SIDE * aspect.min(1.6),
                SKY_SIDE * aspect.min(1.6) / aspect,
            )
        } else {
            (SKY_SIDE * aspect, SKY_SIDE)
        }
    }
}

/// Rounds to 5 significant digits: plenty for a plot, and the JSON stays small.
fn r5(v: f64) -> Value {
    if !v.is_finite() {
        return Value::Null;
    }
    if v == 0.0 {
        return json!(0.0);
    }
    let e = v.abs().log10().floor() as i32;
    let scale = 10f64.powi(4 - e);
    json!((v * scale).round() / scale)
}

fn arr(v: &[f64]) -> Value {
    Value::Array(v.iter().map(|x| r5(*x)).collect())
}

/// Coordinates rounded to a millionth of their spread (not to significant digits: times of
/// 100 s bins a few days apart, or decimal years, must stay distinct).
fn coords(v: &[f64]) -> Value {
    let (lo, hi) = v
        .iter()
        .filter(|x| x.is_finite())
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), x| {
            (a.min(*x), b.max(*x))
        });
    let spread = if hi > lo {
        hi - lo
    } else {
        hi.abs().max(1e-300)
    };
    if !spread.is_finite() {
        return arr(v);
    }
    let step = 10f64.powi(spread.log10().floor() as i32 - 6);
    Value::Array(
        v.iter()
            .map(|x| {
                if x.is_finite() {
                    // Shortest decimal of the rounded value (no 57193.410000000003).
                    let r = (x / step).round() * step;
                    let digits = (-step.log10().floor()).max(0.0) as usize;
                    format!("{r:.digits$}")
                        .parse::<f64>()
                        .map_or(Value::Null, |r| json!(r))
                } else {
                    Value::Null
                }
            })
            .collect(),
    )
}

/// Colour of a chart's footer.
const FOOTER_COLOR: &str = "#777";

impl Chart {
    /// The plotly figure: `{"data": [...], "layout": {...}}`.
    ///
    /// The layout has a fixed height (and, for sky maps, a fixed width: a degree is as long on
    /// both axes, `scaleanchor`/`scaleratio` 1 with the plot area shrunk rather than the range
    /// stretched, so a notebook cell does not widen the map). Numbers on linear axes are written
    /// out in full (no "57.2k"), logarithmic axes use powers of ten.
    pub fn to_plotly(&self) -> Value {
        let n = self.panels.len().max(1);
        let total: f64 = self.panels.iter().map(|p| p.weight).sum::<f64>().max(1e-9);
        let gap = if n > 1 { 0.04 } else { 0.0 };
        let (width, height) = self.size();
        let (top, bottom) = (self.top_margin(), self.bottom_margin());
        let plot_h = (height - top - bottom).max(1.0);
        let mut data = Vec::new();
        let mut annotations = Vec::new();
        let mut layout = json!({
            "title": {"text": self.title, "x": 0.5, "xanchor": "center", "y": 1.0, "yref": "container",
                      "yanchor": "top", "pad": {"t": 12}, "font": {"size": 15}},
            "template": "plotly_white",
            "showlegend": self.show_legend(),
            "height": height,
            "margin": {"t": top, "b": bottom, "l": 80, "r": if self.equal_aspect { SKY_MARGIN.1 } else { 30.0 }},
        });
        if self.show_legend() {
            // Under the x-axis title, whatever the plot's height.
            layout["legend"] = json!({
                "orientation": "h", "x": 0.0, "xanchor": "left",
                "y": -58.0 / plot_h, "yanchor": "top",
            });
        }
        if self.equal_aspect {
            layout["width"] = json!(width);
            layout["autosize"] = json!(false);
            layout["margin"]["l"] = json!(SKY_MARGIN.0);
        }
        if !self.notes.is_empty() {
            annotations.push(json!({
                "name": "notes",
                "text": self.notes.join("<br>"), "xref": "paper", "yref": "paper",
                "x": 0.0, "y": 1.0, "xanchor": "left", "yanchor": "bottom", "yshift": 4,
                "showarrow": false, "align": "left", "font": {"size": 11},
            }));
        }
        if let Some(footer) = &self.footer {
            annotations.push(json!({
                "name": "footer",
                "text": footer, "xref": "paper", "yref": "paper",
                "x": 0.0, "y": 0.0, "xanchor": "left", "yanchor": "bottom",
                "yshift": -(bottom - 6.0), "showarrow": false, "align": "left",
                "font": {"size": 10, "color": FOOTER_COLOR},
            }));
        }
        if !annotations.is_empty() {
            layout["annotations"] = Value::Array(annotations);
        }
        let mut top_y = 1.0;
        for (k, p) in self.panels.iter().enumerate() {
            let h = (1.0 - gap * (n - 1) as f64) * p.weight / total;
            let domain = [(top_y - h).max(0.0), top_y];
            top_y -= h + gap;
            let (xa, ya) = (format!("x{}", k + 1), format!("y{}", k + 1));
            let xkey = if k == 0 {
                "xaxis".into()
            } else {
                format!("xaxis{}", k + 1)
            };
            let ykey = if k == 0 {
                "yaxis".into()
            } else {
                format!("yaxis{}", k + 1)
            };
            let axis = |a: &Axis, show_title: bool| {
                let mut v = json!({
                    "title": {"text": if show_title { a.label.as_str() } else { "" }},
                    "type": if a.log { "log" } else { "linear" },
                    "exponentformat": if a.log { "power" } else { "none" },
                    "showline": true, "mirror": true, "ticks": "inside",
                });
                if a.reversed {
                    v["autorange"] = json!("reversed");
                }
                if let Some((lo, hi)) = a.range {
                    let (lo, hi) = if a.log {
                        (lo.log10(), hi.log10())
                    } else {
                        (lo, hi)
                    };
                    v["range"] = if a.reversed {
                        json!([hi, lo])
                    } else {
                        json!([lo, hi])
                    };
                }
                v
            };
            let mut xv = axis(&p.x, k + 1 == n);
            if k > 0 {
                xv["matches"] = json!("x");
            }
            // Only the bottom panel labels the shared x axis.
            xv["showticklabels"] = json!(k + 1 == n);
            xv["anchor"] = json!(ya);
            let mut yv = axis(&p.y, true);
            // Logarithmic axes get the ticks of the SVG rendering (decades, or 1–2–5 over less
            // than two decades: "20 50 100 200 500 keV", not "2 3 4 … 10² 2 3 …").
            for (v, a, range) in [
                (&mut xv, &p.x, data_range(&self.panels, &p.x, true)),
                (
                    &mut yv,
                    &p.y,
                    data_range(std::slice::from_ref(p), &p.y, false),
                ),
            ] {
                if a.log {
                    let t = ticks(range, true);
                    v["tickvals"] = json!(t);
                    v["ticktext"] = json!(tick_labels(&t, true));
                }
            }
            yv["domain"] = json!(domain);
            yv["anchor"] = json!(xa);
            if self.equal_aspect {
                // A degree is a degree: y follows x's scale, and the plot area shrinks (rather
                // than a range growing) to keep it so.
                yv["scaleanchor"] = json!(xa);
                yv["scaleratio"] = json!(1);
                yv["constrain"] = json!("domain");
                xv["constrain"] = json!("domain");
                // The map's edges are the data's: no padding around the heat map.
                if p.x.range.is_none() {
                    let (lo, hi) = data_range(&self.panels, &p.x, true);
                    xv["range"] = if p.x.reversed {
                        json!([hi, lo])
                    } else {
                        json!([lo, hi])
                    };
                    if let Some(o) = xv.as_object_mut() {
                        o.remove("autorange");
                    }
                }
                if p.y.range.is_none() {
                    let (lo, hi) = data_range(std::slice::from_ref(p), &p.y, false);
                    yv["range"] = if p.y.reversed {
                        json!([hi, lo])
                    } else {
                        json!([lo, hi])
                    };
                    if let Some(o) = yv.as_object_mut() {
                        o.remove("autorange");
                    }
                }
            }
            layout[xkey] = xv;
            layout[ykey] = yv;
            if let Some(y0) = p.hline {
                let shapes = layout["shapes"].as_array().cloned().unwrap_or_default();
                let mut shapes = shapes;
                shapes.push(json!({
                    "type": "line", "xref": format!("{xa} domain"), "yref": ya,
                    "x0": 0, "x1": 1, "y0": y0, "y1": y0,
                    "line": {"color": "#888", "width": 1, "dash": "dot"},
                }));
                layout["shapes"] = Value::Array(shapes);
            }
            if let Some(h) = &p.heatmap {
                let (ny, nx) = h.z.dim();
                let z: Vec<Value> = (0..ny)
                    .map(|r| Value::Array((0..nx).map(|c| r5(h.z[[r, c]])).collect()))
                    .collect();
                data.push(json!({
                    "type": "heatmap", "z": z, "x0": h.x0, "dx": h.dx, "y0": h.y0, "dy": h.dy,
                    "zmin": h.zrange.0, "zmax": h.zrange.1, "colorscale": "Viridis",
                    "colorbar": {"title": {"text": h.colorbar, "side": "right"}, "thickness": 16},
                    "xaxis": xa, "yaxis": ya, "showlegend": false,
                    "hovertemplate": "x %{x:.2f}°, y %{y:.2f}°: %{z}<extra></extra>",
                }));
            }
            for s in &p.series {
                let mut t = match s {
                    Series::Points {
                        name,
                        x,
                        y,
                        xerr,
                        yerr,
                        hover,
                        color,
                    } => {
                        let size = if x.len() > 400 { 3 } else { 5 };
                        let mut t = json!({
                            "type": "scatter", "mode": "markers", "name": name,
                            "x": coords(x), "y": coords(y),
                            "marker": {"color": color, "size": size},
                        });
                        if let Some(e) = yerr {
                            t["error_y"] = json!({"type": "data", "array": arr(e), "color": color, "thickness": 1, "width": if x.len() > 100 { 0 } else { 3 }});
                        }
                        if let Some(e) = xerr {
                            t["error_x"] = json!({"type": "data", "array": arr(e), "color": color, "thickness": 1, "width": 0});
                        }
                        if let Some(h) = hover {
                            t["hovertext"] = json!(h);
                            t["hoverinfo"] = json!("text");
                        }
                        t
                    }
                    Series::Line {
                        name,
                        x,
                        y,
                        color,
                        dashed,
                    } => json!({
                        "type": "scatter", "mode": "lines", "name": name,
                        "x": coords(x), "y": coords(y),
                        "line": {"color": color, "width": 2, "dash": if *dashed { "dash" } else { "solid" }},
                    }),
                    Series::Markers {
                        name,
                        x,
                        y,
                        labels,
                        hover,
                        color,
                    } => json!({
                        "type": "scatter", "mode": "markers+text", "name": name,
                        "x": coords(x), "y": coords(y), "text": labels, "hovertext": hover,
                        "hoverinfo": "text", "textposition": "top right",
                        "textfont": {"color": color},
                        "marker": {"symbol": "circle-open", "size": 14, "color": color, "line": {"width": 2}},
                    }),
                };
                t["xaxis"] = json!(xa);
                t["yaxis"] = json!(ya);
                data.push(t);
            }
        }
        json!({"data": data, "layout": layout})
    }

    /// The chart as a standalone SVG document (`width` × `height` pixels), drawn here without a
    /// browser: axes with ticks, series, heat map (as an embedded PNG) and its colour bar, the
    /// notes over the plot and the footer under it. [`Chart::size`] is the size the notebook
    /// shows.
    pub fn to_svg(&self, width: f64, height: f64) -> String {
        let mut s = Svg::new(width, height);
        let left = 80.0;
        let right = if self.panels.iter().any(|p| p.heatmap.is_some()) {
            110.0
        } else {
            30.0
        };
        let top = self.top_margin();
        let footer_h = if self.footer.is_some() { 24.0 } else { 0.0 };
        let bottom = 58.0 + footer_h;
        s.text(width / 2.0, 24.0, &self.title, 15.0, "middle", 0.0);
        for (i, note) in self.notes.iter().enumerate() {
            s.text(left, 46.0 + 18.0 * i as f64, note, 11.0, "start", 0.0);
        }
        if let Some(footer) = &self.footer {
            s.text_colored(left, height - 9.0, footer, 10.0, "start", FOOTER_COLOR);
        }
        let n = self.panels.len().max(1);
        let total: f64 = self.panels.iter().map(|p| p.weight).sum::<f64>().max(1e-9);
        let gap = 12.0;
        let avail = height - top - bottom - gap * (n - 1) as f64;
        let mut y_top = top;
        // A shared x range over all panels.
        let xr = self
            .panels
            .first()
            .map(|p| data_range(&self.panels, &p.x, true))
            .unwrap_or((0.0, 1.0));
        for (k, p) in self.panels.iter().enumerate() {
            let mut ph = avail * p.weight / total;
            let mut pw = width - left - right;
            let mut x0 = left;
            let yr = data_range(std::slice::from_ref(p), &p.y, false);
            if self.equal_aspect {
                // Same degrees per pixel on both axes, the map centred in the space left.
                let sx = pw / (xr.1 - xr.0).abs().max(1e-12);
                let sy = ph / (yr.1 - yr.0).abs().max(1e-12);
                let scale = sx.min(sy);
                let (w, h) = ((xr.1 - xr.0).abs() * scale, (yr.1 - yr.0).abs() * scale);
                x0 += (pw - w) / 2.0;
                y_top += (ph - h) / 2.0;
                (pw, ph) = (w, h);
            }
            let frame = Frame {
                x0,
                y0: y_top,
                w: pw,
                h: ph,
                xr,
                yr,
                xaxis: p.x.clone(),
                yaxis: p.y.clone(),
            };
            if let Some(h) = &p.heatmap {
                s.heatmap(&frame, h);
                s.colorbar(frame.x0 + pw + 15.0, frame.y0, ph, h);
            }
            if let Some(y0) = p.hline {
                let y = frame.py(y0);
                s.line(&[(frame.x0, y), (frame.x0 + pw, y)], "#888", 1.0, true);
            }
            for series in &p.series {
                s.series(&frame, series);
            }
            s.axes(&frame, k + 1 == n);
            y_top += ph + gap;
        }
        s.finish()
    }

    /// The chart as a PNG image (`scale` × the SVG size), rendered from [`Chart::to_svg`].
    ///
    /// # Errors
    /// Only if the SVG cannot be rendered (never for charts made here).
    pub fn to_png(&self, width: f64, height: f64, scale: f32) -> crate::Result<Vec<u8>> {
        let svg = self.to_svg(width, height);
        let render_error = |m: String| crate::Error::io("PNG figure", std::io::Error::other(m));
        let mut opt = resvg::usvg::Options::default();
        opt.fontdb_mut().load_system_fonts();
        let tree =
            resvg::usvg::Tree::from_str(&svg, &opt).map_err(|e| render_error(e.to_string()))?;
        let size = tree.size().to_int_size().scale_by(scale).ok_or_else(|| {
            render_error(format!("cannot scale a {width}×{height} figure by {scale}"))
        })?;
        let mut pixmap = resvg::tiny_skia::Pixmap::new(size.width(), size.height())
            .ok_or_else(|| render_error("empty figure".into()))?;
        pixmap.fill(resvg::tiny_skia::Color::WHITE);
        resvg::render(
            &tree,
            resvg::tiny_skia::Transform::from_scale(scale, scale),
            &mut pixmap.as_mut(),
        );
        pixmap.encode_png().map_err(|e| render_error(e.to_string()))
    }
}

/// The (min, max) of an axis over the panels' data (x when `is_x`), with a margin; the axis's
/// own range when set.
fn data_range(panels: &[Panel], axis: &Axis, is_x: bool) -> (f64, f64) {
    if let Some(r) = axis.range {
        return r;
    }
    let mut lo = f64::INFINITY;
    let mut hi = f64::NEG_INFINITY;
    let mut take = |v: f64| {
        if v.is_finite() && (!axis.log || v > 0.0) {
            lo = lo.min(v);
            hi = hi.max(v);
        }
    };
    for p in panels {
        if let Some(h) = &p.heatmap {
            let (ny, nx) = h.z.dim();
            if is_x {
                take(h.x0 - 0.5 * h.dx);
                take(h.x0 + (nx as f64 - 0.5) * h.dx);
            } else {
                take(h.y0 - 0.5 * h.dy);
                take(h.y0 + (ny as f64 - 0.5) * h.dy);
            }
        }
        if let Some(y0) = p.hline
            && !is_x
        {
            take(y0);
        }
        for s in &p.series {
            match s {
                Series::Points {
                    x, y, xerr, yerr, ..
                } => {
                    let (v, e) = if is_x { (x, xerr) } else { (y, yerr) };
                    for (i, c) in v.iter().enumerate() {
                        let d = e.as_ref().and_then(|e| e.get(i)).copied().unwrap_or(0.0);
                        let d = if d.is_finite() { d } else { 0.0 };
                        take(c - d);
                        take(c + d);
                        take(*c);
                    }
                }
                Series::Line { x, y, .. } | Series::Markers { x, y, .. } => {
                    for c in if is_x { x } else { y } {
                        take(*c);
                    }
                }
            }
        }
    }
    if !lo.is_finite() {
        return if axis.log { (1.0, 10.0) } else { (0.0, 1.0) };
    }
    if axis.log {
        let (a, b) = (lo.log10(), hi.log10().max(lo.log10() + 1e-3));
        let m = 0.05 * (b - a);
        (10f64.powf(a - m), 10f64.powf(b + m))
    } else {
        let span = (hi - lo).max(hi.abs().max(1.0) * 1e-6);
        let has_heatmap = panels.iter().any(|p| p.heatmap.is_some());
        let m = if has_heatmap { 0.0 } else { 0.05 * span };
        (lo - m, hi + m)
    }
}

/// A panel's place on the canvas and its data ranges.
struct Frame {
    x0: f64,
    y0: f64,
    w: f64,
    h: f64,
    xr: (f64, f64),
    yr: (f64, f64),
    xaxis: Axis,
    yaxis: Axis,
}

fn to_unit(v: f64, r: (f64, f64), log: bool) -> f64 {
    if log {
        (v.log10() - r.0.log10()) / (r.1.log10() - r.0.log10())
    } else {
        (v - r.0) / (r.1 - r.0)
    }
}

impl Frame {
    fn px(&self, x: f64) -> f64 {
        let u = to_unit(x, self.xr, self.xaxis.log);
        let u = if self.xaxis.reversed { 1.0 - u } else { u };
        self.x0 + u * self.w
    }
    fn py(&self, y: f64) -> f64 {
        let u = to_unit(y, self.yr, self.yaxis.log);
        let u = if self.yaxis.reversed { 1.0 - u } else { u };
        self.y0 + (1.0 - u) * self.h
    }
    fn inside(&self, x: f64, y: f64) -> bool {
        x.is_finite()
            && y.is_finite()
            && x >= self.x0 - 0.5
            && x <= self.x0 + self.w + 0.5
            && y >= self.y0 - 0.5
            && y <= self.y0 + self.h + 0.5
    }
}

/// "Nice" tick positions over a range.
fn ticks(r: (f64, f64), log: bool) -> Vec<f64> {
    let (lo, hi) = (r.0.min(r.1), r.0.max(r.1));
    if log {
        let (a, b) = (lo.log10().floor() as i32, hi.log10().ceil() as i32);
        let decades: Vec<f64> = (a..=b)
            .map(|e| 10f64.powi(e))
            .filter(|v| *v >= lo && *v <= hi)
            .collect();
        if decades.len() >= 2 {
            return decades;
        }
        return (a..=b)
            .flat_map(|e| [1.0, 2.0, 5.0].map(|m| m * 10f64.powi(e)))
            .filter(|v| *v >= lo && *v <= hi)
            .collect();
    }
    let span = hi - lo;
    if span.is_nan() || span <= 0.0 {
        return vec![lo];
    }
    let raw = span / 5.0;
    let mag = 10f64.powf(raw.log10().floor());
    let step = [1.0, 2.0, 2.5, 5.0, 10.0]
        .iter()
        .map(|m| m * mag)
        .find(|s| span / s <= 6.0)
        .unwrap_or(10.0 * mag);
    let first = (lo / step).ceil() as i64;
    let last = (hi / step).floor() as i64;
    (first..=last).map(|k| k as f64 * step).collect()
}

/// Labels of ticks: on a linear axis all with the decimals their step needs (2002.5, 2005,
/// 2007.5 → "2002.5", "2005.0", "2007.5"), numbers written out in full between 10⁻³ and 10⁶;
/// on a log axis each in its shortest form.
fn tick_labels(ticks: &[f64], log: bool) -> Vec<String> {
    let step = if log || ticks.len() < 2 {
        None
    } else {
        Some((ticks[1] - ticks[0]).abs())
    };
    let big = ticks.iter().fold(0.0f64, |m, v| m.max(v.abs()));
    let decimals = |d: f64| {
        (0..=6)
            .find(|&k| {
                let s = d * 10f64.powi(k);
                (s - s.round()).abs() < 1e-6 * s.abs().max(1.0)
            })
            .unwrap_or(6) as usize
    };
    ticks
        .iter()
        .map(|&v| {
            let a = v.abs();
            if v == 0.0 {
                "0".into()
            } else if big >= 1e6 || a < 1e-3 {
                let s = format!("{v:.1e}");
                s.replace(".0e", "e")
            } else {
                let k = step.map_or_else(|| decimals(v).min(3), decimals);
                format!("{v:.k$}")
            }
        })
        .collect()
}

fn esc(t: &str) -> String {
    t.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// Viridis, sampled.
const VIRIDIS: [(u8, u8, u8); 9] = [
    (68, 1, 84),
    (71, 44, 122),
    (59, 81, 139),
    (44, 113, 142),
    (33, 144, 141),
    (39, 173, 129),
    (92, 200, 99),
    (170, 220, 50),
    (253, 231, 37),
];

fn viridis(u: f64) -> (u8, u8, u8) {
    let u = u.clamp(0.0, 1.0) * (VIRIDIS.len() - 1) as f64;
    let i = (u.floor() as usize).min(VIRIDIS.len() - 2);
    let f = u - i as f64;
    let (a, b) = (VIRIDIS[i], VIRIDIS[i + 1]);
    let mix = |p: u8, q: u8| (p as f64 + f * (q as f64 - p as f64)).round() as u8;
    (mix(a.0, b.0), mix(a.1, b.1), mix(a.2, b.2))
}

/// A minimal SVG writer.
struct Svg {
    out: String,
}

impl Svg {
    fn new(w: f64, h: f64) -> Svg {
        Svg {
            out: format!(
                "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{w}\" height=\"{h}\" viewBox=\"0 0 {w} {h}\" font-family=\"DejaVu Sans, Helvetica, Arial, sans-serif\">\n<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n"
            ),
        }
    }

    fn finish(mut self) -> String {
        self.out.push_str("</svg>\n");
        self.out
    }

    fn text(&mut self, x: f64, y: f64, t: &str, size: f64, anchor: &str, rotate: f64) {
        let rot = if rotate != 0.0 {
            format!(" transform=\"rotate({rotate} {x:.1} {y:.1})\"")
        } else {
            String::new()
        };
        self.out.push_str(&format!(
            "<text x=\"{x:.1}\" y=\"{y:.1}\" font-size=\"{size}\" text-anchor=\"{anchor}\"{rot}>{}</text>\n",
            esc(t)
        ));
    }

    fn text_colored(&mut self, x: f64, y: f64, t: &str, size: f64, anchor: &str, color: &str) {
        self.out.push_str(&format!(
            "<text x=\"{x:.1}\" y=\"{y:.1}\" font-size=\"{size}\" text-anchor=\"{anchor}\" fill=\"{color}\">{}</text>\n",
            esc(t)
        ));
    }

    fn line(&mut self, pts: &[(f64, f64)], color: &str, width: f64, dashed: bool) {
        if pts.len() < 2 {
            return;
        }
        let d: Vec<String> = pts.iter().map(|(x, y)| format!("{x:.2},{y:.2}")).collect();
        let dash = if dashed {
            " stroke-dasharray=\"6 4\""
        } else {
            ""
        };
        self.out.push_str(&format!(
            "<polyline points=\"{}\" fill=\"none\" stroke=\"{color}\" stroke-width=\"{width}\"{dash}/>\n",
            d.join(" ")
        ));
    }

    fn series(&mut self, f: &Frame, s: &Series) {
        match s {
            Series::Points {
                x,
                y,
                xerr,
                yerr,
                color,
                ..
            } => {
                let r = if x.len() > 400 { 1.5 } else { 2.5 };
                for i in 0..x.len().min(y.len()) {
                    let (cx, cy) = (f.px(x[i]), f.py(y[i]));
                    if !f.inside(cx, cy) {
                        continue;
                    }
                    if let Some(e) = yerr.as_ref().and_then(|e| e.get(i))
                        && e.is_finite()
                    {
                        let lo = if f.yaxis.log {
                            (y[i] - e).max(f.yr.0)
                        } else {
                            y[i] - e
                        };
                        let (a, b) = (f.py(lo).min(f.y0 + f.h), f.py(y[i] + e).max(f.y0));
                        self.line(&[(cx, a), (cx, b)], color, 1.0, false);
                    }
                    if let Some(e) = xerr.as_ref().and_then(|e| e.get(i))
                        && e.is_finite()
                    {
                        self.line(
                            &[(f.px(x[i] - e), cy), (f.px(x[i] + e), cy)],
                            color,
                            1.0,
                            false,
                        );
                    }
                    self.out.push_str(&format!(
                        "<circle cx=\"{cx:.2}\" cy=\"{cy:.2}\" r=\"{r}\" fill=\"{color}\"/>\n"
                    ));
                }
            }
            Series::Line {
                x,
                y,
                color,
                dashed,
                ..
            } => {
                let pts: Vec<(f64, f64)> = x
                    .iter()
                    .zip(y)
                    .map(|(a, b)| (f.px(*a), f.py(*b)))
                    .filter(|(a, b)| a.is_finite() && b.is_finite())
                    .collect();
                self.line(&pts, color, 2.0, *dashed);
            }
            Series::Markers {
                x,
                y,
                labels,
                color,
                ..
            } => {
                for i in 0..x.len().min(y.len()) {
                    let (cx, cy) = (f.px(x[i]), f.py(y[i]));
                    if !f.inside(cx, cy) {
                        continue;
                    }
                    self.out.push_str(&format!(
                        "<circle cx=\"{cx:.2}\" cy=\"{cy:.2}\" r=\"7\" fill=\"none\" stroke=\"{color}\" stroke-width=\"1.5\"/>\n"
                    ));
                    if let Some(l) = labels.get(i) {
                        self.out.push_str(&format!(
                            "<text x=\"{:.1}\" y=\"{:.1}\" font-size=\"11\" fill=\"{color}\">{}</text>\n",
                            cx + 9.0,
                            cy - 6.0,
                            esc(l)
                        ));
                    }
                }
            }
        }
    }

    fn axes(&mut self, f: &Frame, show_x_label: bool) {
        self.out.push_str(&format!(
            "<rect x=\"{:.2}\" y=\"{:.2}\" width=\"{:.2}\" height=\"{:.2}\" fill=\"none\" stroke=\"black\" stroke-width=\"1\"/>\n",
            f.x0, f.y0, f.w, f.h
        ));
        let xt = ticks(f.xr, f.xaxis.log);
        let xl = tick_labels(&xt, f.xaxis.log);
        for (t, label) in xt.into_iter().zip(xl) {
            let x = f.px(t);
            self.line(
                &[(x, f.y0 + f.h), (x, f.y0 + f.h - 5.0)],
                "black",
                1.0,
                false,
            );
            self.line(&[(x, f.y0), (x, f.y0 + 5.0)], "black", 1.0, false);
            if show_x_label {
                self.text(x, f.y0 + f.h + 16.0, &label, 11.0, "middle", 0.0);
            }
        }
        let yt = ticks(f.yr, f.yaxis.log);
        let yl = tick_labels(&yt, f.yaxis.log);
        for (t, label) in yt.into_iter().zip(yl) {
            let y = f.py(t);
            self.line(&[(f.x0, y), (f.x0 + 5.0, y)], "black", 1.0, false);
            self.line(
                &[(f.x0 + f.w, y), (f.x0 + f.w - 5.0, y)],
                "black",
                1.0,
                false,
            );
            self.text(f.x0 - 6.0, y + 4.0, &label, 11.0, "end", 0.0);
        }
        if show_x_label {
            self.text(
                f.x0 + f.w / 2.0,
                f.y0 + f.h + 40.0,
                &f.xaxis.label,
                13.0,
                "middle",
                0.0,
            );
        }
        let (lx, ly) = (f.x0 - 58.0, f.y0 + f.h / 2.0);
        self.text(lx, ly, &f.yaxis.label, 13.0, "middle", -90.0);
    }

    fn heatmap(&mut self, f: &Frame, h: &Heatmap) {
        let (ny, nx) = h.z.dim();
        let Some(mut pix) = resvg::tiny_skia::Pixmap::new(nx as u32, ny as u32) else {
            return;
        };
        let span = (h.zrange.1 - h.zrange.0).max(1e-300);
        for r in 0..ny {
            for c in 0..nx {
                let v = h.z[[r, c]];
                // Row 0 is at y0 (the bottom when dy > 0): image rows run top-down.
                let row = if h.dy > 0.0 { ny - 1 - r } else { r };
                let col = if (h.dx > 0.0) == f.xaxis.reversed {
                    nx - 1 - c
                } else {
                    c
                };
                let px = if v.is_finite() {
                    let (rr, gg, bb) = viridis((v - h.zrange.0) / span);
                    resvg::tiny_skia::PremultipliedColorU8::from_rgba(rr, gg, bb, 255)
                } else {
                    resvg::tiny_skia::PremultipliedColorU8::from_rgba(0, 0, 0, 0)
                };
                if let Some(px) = px {
                    pix.pixels_mut()[row * nx + col] = px;
                }
            }
        }
        let Ok(png) = pix.encode_png() else {
            return;
        };
        let xs = [
            f.px(h.x0 - 0.5 * h.dx),
            f.px(h.x0 + (nx as f64 - 0.5) * h.dx),
        ];
        let ys = [
            f.py(h.y0 - 0.5 * h.dy),
            f.py(h.y0 + (ny as f64 - 0.5) * h.dy),
        ];
        let (x, w) = (xs[0].min(xs[1]), (xs[1] - xs[0]).abs());
        let (y, hh) = (ys[0].min(ys[1]), (ys[1] - ys[0]).abs());
        self.out.push_str(&format!(
            "<image x=\"{x:.2}\" y=\"{y:.2}\" width=\"{w:.2}\" height=\"{hh:.2}\" preserveAspectRatio=\"none\" style=\"image-rendering:pixelated\" href=\"data:image/png;base64,{}\"/>\n",
            base64(&png)
        ));
    }

    fn colorbar(&mut self, x: f64, y: f64, h: f64, hm: &Heatmap) {
        let n = 64;
        for i in 0..n {
            let (r, g, b) = viridis(i as f64 / (n - 1) as f64);
            let yy = y + h - (i + 1) as f64 * h / n as f64;
            self.out.push_str(&format!(
                "<rect x=\"{x:.2}\" y=\"{yy:.2}\" width=\"14\" height=\"{:.2}\" fill=\"rgb({r},{g},{b})\"/>\n",
                h / n as f64 + 0.5
            ));
        }
        self.out.push_str(&format!(
            "<rect x=\"{x:.2}\" y=\"{y:.2}\" width=\"14\" height=\"{h:.2}\" fill=\"none\" stroke=\"black\"/>\n"
        ));
        let zt = ticks(hm.zrange, false);
        let zl = tick_labels(&zt, false);
        for (t, label) in zt.into_iter().zip(zl) {
            let yy = y + h * (1.0 - (t - hm.zrange.0) / (hm.zrange.1 - hm.zrange.0));
            self.text(x + 18.0, yy + 4.0, &label, 10.0, "start", 0.0);
        }
        self.text(x + 80.0, y + h / 2.0, &hm.colorbar, 12.0, "middle", -90.0);
    }
}

/// Standard base64 (for images embedded in SVG and HTML).
pub fn base64(bytes: &[u8]) -> String {
    const T: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let b = [
            chunk[0],
            chunk.get(1).copied().unwrap_or(0),
            chunk.get(2).copied().unwrap_or(0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for (i, shift) in [18, 12, 6, 0].into_iter().enumerate() {
            if i <= chunk.len() {
                out.push(T[((n >> shift) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Chart {
        let mut top = Panel::new(Axis::log("Energy (keV)"), Axis::log("Rate (cts/s/keV)"));
        top.series.push(Series::Points {
            name: "data".into(),
            x: vec![25.0, 50.0, 100.0],
            y: vec![10.0, 2.0, 0.4],
            xerr: Some(vec![5.0, 10.0, 20.0]),
            yerr: Some(vec![0.5, 0.2, 0.1]),
            hover: None,
            color: "#1f77b4".into(),
        });
        let mut bottom = Panel::new(Axis::log("Energy (keV)"), Axis::linear("χ"));
        bottom.weight = 0.4;
        bottom.hline = Some(0.0);
        bottom.series.push(Series::Line {
            name: "model".into(),
            x: vec![25.0, 100.0],
            y: vec![1.0, -1.0],
            color: "red".into(),
            dashed: true,
        });
        Chart {
            title: "Crab <test> & co".into(),
            panels: vec![top, bottom],
            equal_aspect: false,
            notes: vec!["Γ = 2.09 ± 0.01".into()],
            footer: None,
        }
    }

    #[test]
    fn plotly_json_has_one_trace_per_series_and_shared_x() {
        let fig = sample().to_plotly();
        assert_eq!(fig["data"].as_array().unwrap().len(), 2);
        assert_eq!(fig["layout"]["xaxis"]["type"], "log");
        assert_eq!(fig["layout"]["xaxis2"]["matches"], "x");
        assert_eq!(fig["data"][0]["error_y"]["array"][1], 0.2);
    }

    #[test]
    fn svg_is_escaped_and_png_renders() {
        let c = sample();
        let svg = c.to_svg(640.0, 480.0);
        assert!(svg.starts_with("<svg") && svg.trim_end().ends_with("</svg>"));
        assert!(svg.contains("Crab &lt;test&gt; &amp; co"));
        assert_eq!(svg.matches("<circle").count(), 3);
        let png = c.to_png(640.0, 480.0, 1.0).unwrap();
        assert_eq!(&png[1..4], b"PNG");
    }

    fn sky_map() -> Chart {
        let mut p = Panel::new(Axis::linear("ξ (deg)").reversed(), Axis::linear("η (deg)"));
        p.heatmap = Some(Heatmap {
            z: Array2::from_elem((20, 40), 1.0),
            x0: -19.5,
            dx: 1.0,
            y0: -9.5,
            dy: 1.0,
            colorbar: "σ".into(),
            zrange: (-3.0, 8.0),
        });
        let mut c = Chart::new("field", vec![p]);
        c.equal_aspect = true;
        c
    }

    #[test]
    fn sky_maps_keep_a_degree_a_degree_at_a_fixed_size() {
        let c = sky_map();
        let fig = c.to_plotly();
        let layout = &fig["layout"];
        assert_eq!(layout["yaxis"]["scaleanchor"], "x1");
        assert_eq!(layout["yaxis"]["scaleratio"], 1);
        assert_eq!(layout["yaxis"]["constrain"], "domain");
        assert_eq!(layout["xaxis"]["constrain"], "domain");
        assert_eq!(layout["autosize"], false);
        // East to the left: the range runs from +20° down to −20°, the map's own edges.
        assert_eq!(layout["xaxis"]["range"], json!([20.0, -20.0]));
        assert_eq!(layout["yaxis"]["range"], json!([-10.0, 10.0]));
        // The plot area has the data's 2:1 aspect, so the page does not stretch it.
        let (w, h) = c.size();
        assert_eq!(
            (layout["width"].as_f64(), layout["height"].as_f64()),
            (Some(w), Some(h))
        );
        let m = &layout["margin"];
        let pw = w - m["l"].as_f64().unwrap() - m["r"].as_f64().unwrap();
        let ph = h - m["t"].as_f64().unwrap() - m["b"].as_f64().unwrap();
        assert!((pw / ph - 2.0).abs() < 0.01, "{pw} × {ph}");
        // The SVG map has the same aspect: 40° wide, 20° high.
        let svg = c.to_svg(w, h);
        let img = svg.split("<image ").nth(1).unwrap();
        let attr = |name: &str| -> f64 {
            img.split(&format!("{name}=\""))
                .nth(1)
                .unwrap()
                .split('"')
                .next()
                .unwrap()
                .parse()
                .unwrap()
        };
        assert!((attr("width") / attr("height") - 2.0).abs() < 0.01);
    }

    #[test]
    fn footer_goes_under_the_figure() {
        let plain = sample();
        let c = sample().with_footer("Published as doi:10.5072/zenodo.123 — cite <this>");
        let fig = c.to_plotly();
        let ann = fig["layout"]["annotations"].as_array().unwrap();
        let footer = ann.iter().find(|a| a["name"] == "footer").unwrap();
        assert_eq!(footer["yref"], "paper");
        assert_eq!(footer["y"], 0.0);
        assert!(footer["yshift"].as_f64().unwrap() < -60.0);
        assert_eq!(footer["font"]["color"], FOOTER_COLOR);
        // The bottom margin grows to hold it; the notes stay over the plot.
        assert!(
            fig["layout"]["margin"]["b"].as_f64()
                > plain.to_plotly()["layout"]["margin"]["b"].as_f64()
        );
        assert!(ann.iter().any(|a| a["name"] == "notes"));
        let svg = c.to_svg(900.0, 620.0);
        let line = svg.lines().find(|l| l.contains("zenodo.123")).unwrap();
        assert!(
            line.contains("fill=\"#777\"") && line.contains("cite &lt;this&gt;"),
            "{line}"
        );
        let y: f64 = line
            .split("y=\"")
            .nth(1)
            .unwrap()
            .split('"')
            .next()
            .unwrap()
            .parse()
            .unwrap();
        assert!(y > 600.0, "footer at y = {y}");
        assert!(c.to_png(900.0, 620.0, 1.0).is_ok());
        assert!(
            plain
                .to_svg(900.0, 620.0)
                .lines()
                .all(|l| !l.contains("#777"))
        );
    }

    #[test]
    fn coordinates_keep_their_resolution_and_numbers_are_written_out() {
        // 100 s bins at MJD 57193: five significant digits would merge them.
        let x = [
            57193.0,
            57193.0 + 100.0 / 86400.0,
            57193.0 + 200.0 / 86400.0,
        ];
        let v = coords(&x);
        let got: Vec<f64> = v
            .as_array()
            .unwrap()
            .iter()
            .map(|x| x.as_f64().unwrap())
            .collect();
        assert!(got.windows(2).all(|w| w[1] > w[0]), "{got:?}");
        assert!((got[1] - x[1]).abs() < 1e-5);
        let fig = sample().to_plotly();
        assert_eq!(fig["layout"]["xaxis"]["exponentformat"], "power");
        assert_eq!(fig["layout"]["yaxis2"]["exponentformat"], "none");
    }

    #[test]
    fn tick_labels_have_the_decimals_of_their_step() {
        assert_eq!(
            tick_labels(&[2002.5, 2005.0, 2007.5], false),
            ["2002.5", "2005.0", "2007.5"]
        );
        assert_eq!(tick_labels(&[0.0, 2.0, 4.0], false), ["0", "2", "4"]);
        assert_eq!(tick_labels(&[8.4, 8.6, 8.8], false), ["8.4", "8.6", "8.8"]);
        assert_eq!(tick_labels(&[57000.0, 58000.0], false), ["57000", "58000"]);
        assert_eq!(
            tick_labels(&[0.001, 0.01, 0.1, 1.0], true),
            ["0.001", "0.01", "0.1", "1"]
        );
        assert_eq!(tick_labels(&[1e-4, 1e-3], true), ["1e-4", "0.001"]);
    }

    #[test]
    fn ticks_and_base64() {
        assert_eq!(
            ticks((0.0, 10.0), false),
            vec![0.0, 2.0, 4.0, 6.0, 8.0, 10.0]
        );
        assert_eq!(ticks((10.0, 1000.0), true), vec![10.0, 100.0, 1000.0]);
        assert_eq!(base64(b"Man"), "TWFu");
        assert_eq!(base64(b"Ma"), "TWE=");
        assert_eq!(base64(b"M"), "TQ==");
    }
}
