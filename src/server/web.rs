//! The web page's files, embedded in the binary: the site works with the network off and
//! needs no CDN.

/// The page (`/`, `/r/<job_id>`, `/?<request>`).
pub const INDEX_HTML: &[u8] = include_bytes!("web/index.html");

/// A static file by name (`/static/<name>`): its content type and bytes.
pub fn asset(name: &str) -> Option<(&'static str, &'static [u8])> {
    Some(match name {
        "app.js" => (
            "text/javascript; charset=utf-8",
            include_bytes!("web/app.js"),
        ),
        "style.css" => ("text/css; charset=utf-8", include_bytes!("web/style.css")),
        "plotly.min.js" => (
            "text/javascript; charset=utf-8",
            include_bytes!("web/vendor/plotly.min.js"),
        ),
        _ => return None,
    })
}
