//! Sky images with their source catalogs, and catalogs on their own, as FITS files.
//!
//! An image file has an empty primary HDU and four image extensions on the same TAN grid —
//! `INTENSITY` (count/s, on-axis equivalent), `VARIANCE`, `SIGNIFICANCE`, `EXPOSURE` (s) — each
//! with the full celestial WCS, followed by the `CATALOG` table. A catalog file holds only the
//! table. Both open in astropy, ds9 and fv.

use std::path::Path;

use fitsio::tables::ColumnDataType;
use ndarray::Array2;
use serde::{Deserialize, Serialize};

use crate::analysis::catalog::{Catalog, Origin};
use crate::analysis::mosaic::Mosaic;
use crate::error::Result;
use crate::fits::{self, Column, NewFile};
use crate::instrument::Detector;
use crate::sky::WcsValue;

/// A mosaic sky image and the sources found in it.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Image {
    /// The mosaic.
    pub mosaic: Mosaic,
    /// The sources detected in it.
    pub catalog: Catalog,
    /// The detector whose images the mosaic combines (ISGRI in results stored before JEM-X).
    #[serde(default)]
    pub detector: Detector,
}

impl Image {
    /// The significance map.
    pub fn significance(&self) -> Array2<f64> {
        self.mosaic.significance()
    }
}

const CATALOG_COLUMNS: [Column; 10] = [
    Column::new("NAME", ColumnDataType::String, 24, ""),
    Column::new("RA_OBJ", ColumnDataType::Double, 1, "deg"),
    Column::new("DEC_OBJ", ColumnDataType::Double, 1, "deg"),
    Column::new("ERR_RAD", ColumnDataType::Double, 1, "deg"),
    Column::new("DETSIG", ColumnDataType::Double, 1, ""),
    Column::new("FLUX", ColumnDataType::Double, 1, "count/s"),
    Column::new("FLUX_ERR", ColumnDataType::Double, 1, "count/s"),
    Column::new("NEW_SOURCE", ColumnDataType::Int, 1, ""),
    Column::new("ORIGIN", ColumnDataType::String, 16, ""),
    Column::new("ORIG_SWID", ColumnDataType::String, 12, ""),
];

/// Writes `image` to `path` (atomically): see the module documentation.
///
/// # Errors
/// I/O and FITS errors.
pub fn write_image(path: &Path, image: &Image) -> Result<()> {
    let m = &image.mosaic;
    let shape = m.intensity.dim();
    let planes: [(&str, Array2<f64>, &str, &str); 4] = [
        (
            "INTENSITY",
            m.intensity.clone(),
            "count/s",
            "On-axis equivalent count rate",
        ),
        (
            "VARIANCE",
            m.variance.clone(),
            "(count/s)**2",
            "Variance of INTENSITY",
        ),
        (
            "SIGNIFICANCE",
            m.significance(),
            "",
            "INTENSITY/sqrt(VARIANCE)",
        ),
        ("EXPOSURE", m.exposure.clone(), "s", "Live exposure"),
    ];
    fits::write_atomically(path, |f| {
        f.empty_primary_with_creator()?;
        for (name, data, unit, what) in &planes {
            let values: Vec<f32> = data.iter().map(|v| *v as f32).collect();
            let hdu = f.image_f32(name, shape, &values)?;
            f.key_str(&hdu, "BUNIT", unit, what)?;
            wcs_keys(f, &hdu, m, image.detector)?;
        }
        catalog_table(f, &image.catalog, image.detector)
    })
}

/// Writes `catalog` alone to `path` (atomically), as the `CATALOG` table of an ISGRI analysis.
///
/// # Errors
/// I/O and FITS errors.
pub fn write_catalog(path: &Path, catalog: &Catalog) -> Result<()> {
    write_catalog_for(path, catalog, Detector::Isgri)
}

/// Writes `catalog` as [`write_catalog`] does, naming `detector` in `INSTRUME`.
///
/// # Errors
/// I/O and FITS errors.
pub fn write_catalog_for(path: &Path, catalog: &Catalog, detector: Detector) -> Result<()> {
    fits::write_atomically(path, |f| {
        f.empty_primary_with_creator()?;
        catalog_table(f, catalog, detector)
    })
}

fn wcs_keys(
    f: &mut NewFile<'_>,
    hdu: &fitsio::hdu::FitsHdu,
    m: &Mosaic,
    detector: Detector,
) -> Result<()> {
    f.key_int(hdu, "WCSAXES", 2, "Number of WCS axes")?;
    for (key, value) in m.projection.fits_keywords() {
        match value {
            WcsValue::Text(t) => f.key_str(hdu, key, t, "")?,
            WcsValue::Num(x) => f.key_f64(hdu, key, x, "")?,
        }
    }
    f.key_f64(
        hdu,
        "E_MIN",
        m.band.e1,
        "[keV] Lower bound of the energy band",
    )?;
    f.key_f64(
        hdu,
        "E_MAX",
        m.band.e2,
        "[keV] Upper bound of the energy band",
    )?;
    f.key_int(hdu, "NSCW", m.n_images as i64, "Science Windows combined")?;
    f.key_str(hdu, "TELESCOP", "INTEGRAL", "Mission")?;
    f.key_str(hdu, "INSTRUME", detector.instrume(), "Instrument")?;
    f.key_str(hdu, "DETNAM", detector.detnam(), "Detector")
}

fn catalog_table(f: &mut NewFile<'_>, catalog: &Catalog, detector: Detector) -> Result<()> {
    let hdu = f.table("CATALOG", &CATALOG_COLUMNS)?;
    f.key_str(&hdu, "TELESCOP", "INTEGRAL", "Mission")?;
    f.key_str(&hdu, "INSTRUME", detector.instrume(), "Instrument")?;
    f.key_str(&hdu, "RADESYS", "ICRS", "Frame of RA_OBJ, DEC_OBJ")?;
    let e = catalog.entries();
    if e.is_empty() {
        return Ok(());
    }
    let text = |v: String, width: usize| -> String {
        v.chars()
            .map(|c| if (' '..='~').contains(&c) { c } else { '?' })
            .take(width)
            .collect()
    };
    f.string_column(
        &hdu,
        "NAME",
        &e.iter()
            .map(|x| text(x.name.clone(), 24))
            .collect::<Vec<_>>(),
    )?;
    f.column(
        &hdu,
        "RA_OBJ",
        &e.iter().map(|x| x.position.ra()).collect::<Vec<_>>(),
    )?;
    f.column(
        &hdu,
        "DEC_OBJ",
        &e.iter().map(|x| x.position.dec()).collect::<Vec<_>>(),
    )?;
    f.column(
        &hdu,
        "ERR_RAD",
        &e.iter()
            .map(|x| x.error_radius_arcmin / 60.0)
            .collect::<Vec<_>>(),
    )?;
    f.column(
        &hdu,
        "DETSIG",
        &e.iter().map(|x| x.significance).collect::<Vec<_>>(),
    )?;
    f.column(&hdu, "FLUX", &e.iter().map(|x| x.rate).collect::<Vec<_>>())?;
    f.column(
        &hdu,
        "FLUX_ERR",
        &e.iter().map(|x| x.rate_err).collect::<Vec<_>>(),
    )?;
    f.column(
        &hdu,
        "NEW_SOURCE",
        &e.iter().map(|x| i32::from(x.is_new)).collect::<Vec<_>>(),
    )?;
    let (origin, swid): (Vec<String>, Vec<String>) = e
        .iter()
        .map(|x| match &x.origin {
            Origin::Mosaic => ("mosaic".to_string(), String::new()),
            Origin::ScienceWindow(id) => ("science_window".to_string(), id.to_string()),
            Origin::User => ("user".to_string(), String::new()),
        })
        .unzip();
    f.string_column(&hdu, "ORIGIN", &origin)?;
    f.string_column(&hdu, "ORIG_SWID", &swid)
}
