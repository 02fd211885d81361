//! Products as polars DataFrames, for notebooks: one row per source, channel, time bin or
//! parameter, columns named as in the FITS files, units in the column names.

use polars::prelude::*;

use super::{LightCurve, Spectrum};
use crate::analysis::catalog::{Catalog, Origin};
use crate::error::{Error, Result};
use crate::fit::SpectralFit;

/// A product that is a table.
pub trait ToDataFrame {
    /// The product as a DataFrame.
    ///
    /// # Errors
    /// Only if polars rejects the columns (never for a consistent product).
    fn to_dataframe(&self) -> Result<DataFrame>;
}

fn polars_error(e: PolarsError) -> Error {
    Error::io("DataFrame", std::io::Error::other(e.to_string()))
}

impl ToDataFrame for Catalog {
    fn to_dataframe(&self) -> Result<DataFrame> {
        let e = self.entries();
        df!(
            "name" => e.iter().map(|x| x.name.clone()).collect::<Vec<_>>(),
            "ra_deg" => e.iter().map(|x| x.position.ra()).collect::<Vec<_>>(),
            "dec_deg" => e.iter().map(|x| x.position.dec()).collect::<Vec<_>>(),
            "err_rad_arcmin" => e.iter().map(|x| x.error_radius_arcmin).collect::<Vec<_>>(),
            "significance" => e.iter().map(|x| x.significance).collect::<Vec<_>>(),
            "rate_cts_s" => e.iter().map(|x| x.rate).collect::<Vec<_>>(),
            "rate_err_cts_s" => e.iter().map(|x| x.rate_err).collect::<Vec<_>>(),
            "new_source" => e.iter().map(|x| x.is_new).collect::<Vec<_>>(),
            "origin" => e.iter().map(|x| match &x.origin {
                Origin::Mosaic => "mosaic".to_string(),
                Origin::ScienceWindow(id) => format!("scw {id}"),
                Origin::User => "user".to_string(),
            }).collect::<Vec<_>>(),
        )
        .map_err(polars_error)
    }
}

impl ToDataFrame for Spectrum {
    fn to_dataframe(&self) -> Result<DataFrame> {
        let total: Vec<f64> = (0..self.n_channels())
            .map(|i| self.total_error(i))
            .collect();
        df!(
            "e_min_keV" => self.e_min.clone(),
            "e_max_keV" => self.e_max.clone(),
            "rate_cts_s" => self.rate.clone(),
            "stat_err_cts_s" => self.stat_err.clone(),
            "total_err_cts_s" => total,
        )
        .map_err(polars_error)
    }
}

impl ToDataFrame for LightCurve {
    fn to_dataframe(&self) -> Result<DataFrame> {
        df!(
            "time_ijd" => self.time.clone(),
            "timedel_s" => self.timedel.clone(),
            "rate_cts_s" => self.rate.clone(),
            "error_cts_s" => self.error.clone(),
            "fracexp" => self.fracexp.clone(),
        )
        .map_err(polars_error)
    }
}

impl ToDataFrame for SpectralFit {
    fn to_dataframe(&self) -> Result<DataFrame> {
        let p = &self.parameters;
        df!(
            "parameter" => p.iter().map(|x| x.name.clone()).collect::<Vec<_>>(),
            "value" => p.iter().map(|x| x.value).collect::<Vec<_>>(),
            "error" => p.iter().map(|x| x.error).collect::<Vec<_>>(),
            "unit" => p.iter().map(|x| x.unit.clone()).collect::<Vec<_>>(),
            "frozen" => p.iter().map(|x| x.frozen).collect::<Vec<_>>(),
        )
        .map_err(polars_error)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn catalog_and_light_curve_tables() {
        let mut cat = Catalog::default();
        cat.add_named("Crab").unwrap();
        cat.add_named("Cyg X-1").unwrap();
        let df = cat.to_dataframe().unwrap();
        assert_eq!(df.shape(), (2, 9));
        let names = df.column("name").unwrap().str().unwrap();
        assert_eq!(names.get(0), Some("Crab"));
        let lc = LightCurve {
            source: "Crab".into(),
            band: (20.0, 40.0),
            time: vec![1.0, 2.0],
            timedel: vec![100.0, 100.0],
            rate: vec![10.0, 11.0],
            error: vec![0.5, 0.5],
            fracexp: vec![1.0, 0.9],
            osa_version: crate::osa::OsaVersion::Osa11_2,
        };
        let df = lc.to_dataframe().unwrap();
        assert_eq!(df.shape(), (2, 5));
        let rate = df.column("rate_cts_s").unwrap().f64().unwrap();
        assert_eq!(rate.get(1), Some(11.0));
    }
}
