//! Publication figures of the paper's Crab analysis, without a browser:
//! `cargo run --release --example figures -- OUT_DIR [MAX_POINTINGS]` writes the mosaic, the
//! spectrum with its power-law fit and the light curve as SVG, PNG and standalone HTML.

use std::path::PathBuf;

use oda::display::progress_lines;
use oda::prelude::*;

fn main() -> oda::Result<()> {
    let mut args = std::env::args().skip(1);
    let out = PathBuf::from(args.next().unwrap_or_else(|| "crab-figures".into()));
    let n = args.next().unwrap_or_else(|| "50".into());
    std::fs::create_dir_all(&out).map_err(|e| Error::io(&out, e))?;
    let session = Session::from_env()?.with_progress(progress_lines());
    let request = |product: ProductType| {
        Request::builder(product)
            .src_name("Crab")
            .time_range("2003-03-15", "2018-03-16")
            .param("max_pointings", &n)
            .build()
    };
    let image = session.get_product(&request(ProductType::IsgriImage)?)?;
    let fit = session.get_product(&request(ProductType::SpectralFit)?)?;
    let lc = session.get_product(&request(ProductType::IsgriLc)?)?;
    for (name, result) in [("image", &image), ("spectrum", &fit), ("lightcurve", &lc)] {
        if let Some(chart) = result.chart() {
            chart.save_svg(&out.join(format!("crab-{name}.svg")))?;
            chart.save_png(&out.join(format!("crab-{name}.png")), 1.5)?;
            chart.save_html(&out.join(format!("crab-{name}.html")))?;
            println!("{}: {}", name, chart.title);
        }
    }
    println!("figures in {}", out.display());
    Ok(())
}
