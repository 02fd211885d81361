//! Typed access to what a product holds — `result.light_curve("Crab")?` rather than a `match`
//! on [`Product`] — and the product's catalog with the rates the product measured.
//!
//! Asking a product for something it does not hold (a spectrum of a light-curve product, the
//! light curve of a source it was not extracted for) is an [`Error::NotInProduct`] naming what
//! was asked, what the product is and what it holds:
//!
//! ```
//! use oda::prelude::*;
//! let lc = LightCurve {
//!     source: "Crab".into(), band: (30.0, 100.0), time: vec![5000.0, 5001.0],
//!     timedel: vec![86400.0; 2], rate: vec![80.0, 82.0], error: vec![1.0; 2],
//!     fracexp: vec![1.0; 2], osa_version: OsaVersion::Osa11_2,
//! };
//! let product = Product::LightCurve { light_curves: vec![lc], catalog: Catalog::default() };
//! assert_eq!(product.light_curve("Crab")?.rate, [80.0, 82.0]);
//!
//! let missing = product.light_curve("Cyg X-1").unwrap_err();
//! assert!(missing.is_not_in_product());
//! assert_eq!(missing.to_string(),
//!     "the isgri_lc product has no light curve of \"Cyg X-1\": it holds light curves of Crab");
//! let wrong = product.spectral_fit().unwrap_err();
//! assert_eq!(wrong.to_string(),
//!     "the isgri_lc product has no spectral fit: it holds light curves of Crab");
//! # Ok::<(), oda::Error>(())
//! ```

use crate::analysis::burst::BurstSearchResult;
use crate::analysis::catalog::{Catalog, Origin};
use crate::datasets::{AcsLightCurve, JemxLightCurve};
use crate::error::{Error, Result};
use crate::fit::SpectralFit;
use crate::instrument::Detector;
use crate::products::{Image, LightCurve, Spectrum};

use super::{Product, ProductResult, ProductType};

impl Product {
    /// The request type that makes this product.
    pub fn product_type(&self) -> ProductType {
        let jemx = matches!(self.detector(), Some(Detector::Jemx(_)));
        match self {
            Product::Image(_) if jemx => ProductType::JemxImage,
            Product::Image(_) => ProductType::IsgriImage,
            Product::Spectrum { .. } if jemx => ProductType::JemxSpectrum,
            Product::Spectrum { .. } => ProductType::IsgriSpectrum,
            Product::LightCurve { .. } => ProductType::IsgriLc,
            Product::JemxLightCurve { .. } => ProductType::JemxLc,
            Product::SpectralFit { .. } => ProductType::SpectralFit,
            Product::AcsLightCurve { .. } => ProductType::SpiAcsLc,
        }
    }

    /// The sources the product holds spectra or light curves of, in catalog order (none for an
    /// image).
    pub fn sources(&self) -> Vec<&str> {
        match self {
            Product::Image(_) | Product::AcsLightCurve { .. } => Vec::new(),
            Product::Spectrum { spectra, .. } => {
                spectra.iter().map(|s| s.source.as_str()).collect()
            }
            Product::LightCurve { light_curves, .. } => {
                light_curves.iter().map(|l| l.source.as_str()).collect()
            }
            Product::JemxLightCurve { light_curves, .. } => light_curves
                .iter()
                .map(|l| l.light_curve.source.as_str())
                .collect(),
            Product::SpectralFit { spectrum, .. } => vec![spectrum.source.as_str()],
        }
    }

    /// The light curves of an `isgri_lc` or `jemx_lc` product, one per catalog source (for
    /// JEM-X the rates without the background columns: see
    /// [`jemx_light_curves`](Self::jemx_light_curves)); `None` for other products.
    pub fn any_light_curves(&self) -> Option<Vec<&LightCurve>> {
        match self {
            Product::LightCurve { light_curves, .. } => Some(light_curves.iter().collect()),
            Product::JemxLightCurve { light_curves, .. } => {
                Some(light_curves.iter().map(|l| &l.light_curve).collect())
            }
            _ => None,
        }
    }

    /// What the product holds, in words (for error messages).
    fn holds(&self) -> String {
        let list = |what: &str| format!("{what} of {}", self.sources().join(", "));
        match self {
            Product::Image(i) => format!(
                "a {}–{} keV mosaic and its catalog of {} source(s)",
                i.mosaic.band.e1,
                i.mosaic.band.e2,
                i.catalog.len()
            ),
            Product::Spectrum { spectra, .. } if spectra.is_empty() => "no spectra".into(),
            Product::Spectrum { .. } => list("spectra"),
            Product::LightCurve { light_curves, .. } if light_curves.is_empty() => {
                "no light curves".into()
            }
            Product::LightCurve { .. } => list("light curves"),
            Product::JemxLightCurve { light_curves, .. } if light_curves.is_empty() => {
                "no light curves".into()
            }
            Product::JemxLightCurve { .. } => list("JEM-X light curves"),
            Product::SpectralFit { fit, spectrum, .. } => format!(
                "the {} fit of the spectrum of {}",
                fit.kind.xspec_name(),
                spectrum.source
            ),
            Product::AcsLightCurve { light_curve, .. } => format!(
                "the SPI-ACS rate in {} bins of {} s and its burst search",
                light_curve.len(),
                light_curve.timedel
            ),
        }
    }

    /// The [`Error::NotInProduct`] for `asked`.
    fn not_in_product(&self, asked: String) -> Error {
        Error::NotInProduct {
            asked,
            product: self.product_type().name().into(),
            holds: self.holds(),
            sources: self.sources().into_iter().map(str::to_string).collect(),
        }
    }

    /// The mosaic and its catalog of an `isgri_image` or `jemx_image` product.
    ///
    /// # Errors
    /// [`Error::NotInProduct`] for other products.
    pub fn image(&self) -> Result<&Image> {
        match self {
            Product::Image(i) => Ok(i),
            _ => Err(self.not_in_product("image".into())),
        }
    }

    /// The spectra of an `isgri_spectrum` or `jemx_spectrum` product (one per catalog source), or the fitted
    /// spectrum of a `spectral_fit` product.
    ///
    /// # Errors
    /// [`Error::NotInProduct`] for images and light curves.
    pub fn spectra(&self) -> Result<&[Spectrum]> {
        match self {
            Product::Spectrum { spectra, .. } => Ok(spectra),
            Product::SpectralFit { spectrum, .. } => Ok(std::slice::from_ref(&**spectrum)),
            _ => Err(self.not_in_product("spectra".into())),
        }
    }

    /// The spectrum of `source` (the catalog's spelling; case is ignored when that leaves one
    /// match).
    ///
    /// # Errors
    /// [`Error::NotInProduct`] when the product holds no spectrum of `source`, listing the
    /// sources it has.
    pub fn spectrum(&self, source: &str) -> Result<&Spectrum> {
        let asked = || self.not_in_product(format!("spectrum of {source:?}"));
        let spectra = self.spectra().map_err(|_| asked())?;
        find(spectra, source, |s| &s.source).ok_or_else(asked)
    }

    /// The light curves of an `isgri_lc` product, one per catalog source (those of sources
    /// never in the field of view have no bins).
    ///
    /// # Errors
    /// [`Error::NotInProduct`] for other products.
    pub fn light_curves(&self) -> Result<&[LightCurve]> {
        match self {
            Product::LightCurve { light_curves, .. } => Ok(light_curves),
            _ => Err(self.not_in_product("light curves".into())),
        }
    }

    /// The light curve of `source` (the catalog's spelling; case is ignored when that leaves
    /// one match) of an `isgri_lc` or a `jemx_lc` product (for JEM-X its rates; the
    /// background is in [`jemx_light_curve`](Self::jemx_light_curve)).
    ///
    /// # Errors
    /// [`Error::NotInProduct`] when the product holds no light curve of `source`, listing the
    /// sources it has.
    pub fn light_curve(&self, source: &str) -> Result<&LightCurve> {
        let asked = || self.not_in_product(format!("light curve of {source:?}"));
        let curves = self.any_light_curves().ok_or_else(asked)?;
        find(&curves, source, |l| &l.source)
            .copied()
            .ok_or_else(asked)
    }

    /// The JEM-X light curves of a `jemx_lc` product, one per catalog source (with the
    /// background under each source, the unit and the PI channels).
    ///
    /// # Errors
    /// [`Error::NotInProduct`] for other products.
    pub fn jemx_light_curves(&self) -> Result<&[JemxLightCurve]> {
        match self {
            Product::JemxLightCurve { light_curves, .. } => Ok(light_curves),
            _ => Err(self.not_in_product("JEM-X light curves".into())),
        }
    }

    /// The JEM-X light curve of `source` (as [`light_curve`](Self::light_curve)).
    ///
    /// # Errors
    /// [`Error::NotInProduct`] when the product holds no JEM-X light curve of `source`.
    pub fn jemx_light_curve(&self, source: &str) -> Result<&JemxLightCurve> {
        let asked = || self.not_in_product(format!("JEM-X light curve of {source:?}"));
        let curves = self.jemx_light_curves().map_err(|_| asked())?;
        find(curves, source, |l| &l.light_curve.source).ok_or_else(asked)
    }

    /// The SPI-ACS light curve of a `spi_acs_lc` product.
    ///
    /// # Errors
    /// [`Error::NotInProduct`] for other products.
    pub fn acs_light_curve(&self) -> Result<&AcsLightCurve> {
        match self {
            Product::AcsLightCurve { light_curve, .. } => Ok(light_curve),
            _ => Err(self.not_in_product("SPI-ACS light curve".into())),
        }
    }

    /// The burst search of a `spi_acs_lc` product.
    ///
    /// # Errors
    /// [`Error::NotInProduct`] for other products, and for an SPI-ACS light curve too short to
    /// search (under [`super::MIN_ACS_SEARCH_SPAN_S`]).
    pub fn burst_search(&self) -> Result<&BurstSearchResult> {
        match self {
            Product::AcsLightCurve {
                burst_search: Some(b),
                ..
            } => Ok(b),
            _ => Err(self.not_in_product("burst search".into())),
        }
    }

    /// The fit of a `spectral_fit` product.
    ///
    /// # Errors
    /// [`Error::NotInProduct`] for other products.
    pub fn spectral_fit(&self) -> Result<&SpectralFit> {
        match self {
            Product::SpectralFit { fit, .. } => Ok(fit),
            _ => Err(self.not_in_product("spectral fit".into())),
        }
    }

    /// The spectrum a `spectral_fit` product fitted.
    ///
    /// # Errors
    /// [`Error::NotInProduct`] for other products.
    pub fn fitted_spectrum(&self) -> Result<&Spectrum> {
        match self {
            Product::SpectralFit { spectrum, .. } => Ok(spectrum),
            _ => Err(self.not_in_product("fitted spectrum".into())),
        }
    }

    /// The product's catalog with the rates this product measured, in `band` for spectra
    /// (see [`MeasuredCatalog`]).
    ///
    /// An extraction catalog does not carry rates of its own (a `selected_catalog` travels as
    /// ODA JSON, which has no rate column; sources added by name or position have none), so
    /// the rates shown with a spectrum or light-curve product are the product's:
    /// - image: the mosaic's rates in its band (sources added by the user: none);
    /// - light curves: the inverse-variance weighted mean rate of each light curve and its
    ///   error (the constant fit), in the light-curve band;
    /// - spectra: the count rate summed over the channels in `band` (those inside it; if none
    ///   is, those overlapping it) with its statistical error, in the band those channels
    ///   span;
    /// - spectral fit: as spectra, for the fitted source only.
    ///
    /// Sources the product measured nothing for (no exposure, not fitted) have NaN rates.
    ///
    /// ```
    /// use oda::prelude::*;
    /// use oda::analysis::catalog::{CatalogEntry, Origin};
    /// let position = SkyCoord::new(83.63, 22.01)?;
    /// let entry = |name: &str| CatalogEntry {
    ///     name: name.into(), position, error_radius_arcmin: 0.0, significance: 0.0,
    ///     rate: 0.0, rate_err: 0.0, is_new: false, origin: Origin::User,
    /// };
    /// let catalog = Catalog::from_entries(vec![entry("Crab"), entry("A0535+26")]);
    /// let lc = LightCurve {
    ///     source: "Crab".into(), band: (30.0, 100.0), time: vec![5000.0, 5001.0],
    ///     timedel: vec![86400.0; 2], rate: vec![80.0, 82.0], error: vec![1.0; 2],
    ///     fracexp: vec![1.0; 2], osa_version: OsaVersion::Osa11_2,
    /// };
    /// let product = Product::LightCurve { light_curves: vec![lc], catalog };
    /// let measured = product.measured_catalog((20.0, 40.0));
    /// let crab = measured.catalog.get("Crab").unwrap();
    /// assert!((crab.rate - 81.0).abs() < 1e-9 && (crab.rate_err - 0.5f64.sqrt()).abs() < 1e-9);
    /// assert!(measured.catalog.get("A0535+26").unwrap().rate.is_nan());   // no light curve
    /// assert_eq!(measured.rate_label(), "rate 30–100 keV (cts/s), light-curve mean");
    /// # Ok::<(), oda::Error>(())
    /// ```
    pub fn measured_catalog(&self, band: (f64, f64)) -> MeasuredCatalog {
        let mut entries = self.catalog().entries().to_vec();
        let mut set = |name: &str, rate: f64, err: f64| {
            if let Some(e) = entries.iter_mut().find(|e| e.name == name) {
                e.rate = rate;
                e.rate_err = err;
            }
        };
        let (band, method) = match self {
            Product::Image(i) => {
                for e in i.catalog.entries() {
                    // A user's entry has no rate unless the mosaic measured one.
                    if e.origin == Origin::User && e.rate == 0.0 && e.rate_err == 0.0 {
                        set(&e.name, f64::NAN, f64::NAN);
                    }
                }
                ((i.mosaic.band.e1, i.mosaic.band.e2), RateMethod::Mosaic)
            }
            Product::LightCurve { .. } | Product::JemxLightCurve { .. } => {
                let mut lc_band = band;
                for e in self.catalog().entries() {
                    set(&e.name, f64::NAN, f64::NAN);
                }
                for l in self.any_light_curves().unwrap_or_default() {
                    lc_band = l.band;
                    match l.fit_constant() {
                        Ok(c) => set(&l.source, c.rate, c.error),
                        Err(_) => set(&l.source, f64::NAN, f64::NAN),
                    }
                }
                (lc_band, RateMethod::LightCurveMean)
            }
            Product::AcsLightCurve { .. } => (band, RateMethod::Mosaic),
            Product::Spectrum { .. } | Product::SpectralFit { .. } => {
                for e in self.catalog().entries() {
                    set(&e.name, f64::NAN, f64::NAN);
                }
                let spectra = self.spectra().unwrap_or_default();
                let mut used = band;
                for s in spectra {
                    if let Some((rate, err, span)) = band_rate(s, band) {
                        used = span;
                        set(&s.source, rate, err);
                    }
                }
                (used, RateMethod::SpectrumBand)
            }
        };
        MeasuredCatalog {
            catalog: Catalog::from_entries(entries),
            band,
            method,
        }
    }
}

/// The count rate of `s` in `band`: summed over the channels inside it (or, when none is,
/// those overlapping it), with its statistical error and the band those channels span. None
/// without exposure or channels.
fn band_rate(s: &Spectrum, band: (f64, f64)) -> Option<(f64, f64, (f64, f64))> {
    if s.exposure <= 0.0 {
        return None;
    }
    let tol = 1e-6 * band.1.abs().max(1.0);
    let inside: Vec<usize> = (0..s.n_channels())
        .filter(|&i| s.e_min[i] >= band.0 - tol && s.e_max[i] <= band.1 + tol)
        .collect();
    let chosen = if inside.is_empty() {
        (0..s.n_channels())
            .filter(|&i| s.e_max[i] > band.0 && s.e_min[i] < band.1)
            .collect()
    } else {
        inside
    };
    let first = *chosen.first()?;
    let last = *chosen.last()?;
    let rate: f64 = chosen.iter().map(|&i| s.rate[i]).sum();
    let err = chosen
        .iter()
        .map(|&i| s.stat_err[i] * s.stat_err[i])
        .sum::<f64>()
        .sqrt();
    Some((rate, err, (s.e_min[first], s.e_max[last])))
}

/// The item of `items` named `name`: exactly, else ignoring case when that is unambiguous.
fn find<'a, T>(items: &'a [T], name: &str, key: impl Fn(&T) -> &String) -> Option<&'a T> {
    items.iter().find(|t| key(t) == name).or_else(|| {
        let mut m = items.iter().filter(|t| key(t).eq_ignore_ascii_case(name));
        match (m.next(), m.next()) {
            (Some(t), None) => Some(t),
            _ => None,
        }
    })
}

/// How the rates of a [`MeasuredCatalog`] were measured.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RateMethod {
    /// Fitted in the mosaic at the source's position.
    Mosaic,
    /// The inverse-variance weighted mean of the source's light curve.
    LightCurveMean,
    /// The spectrum's count rate summed over the band's channels.
    SpectrumBand,
}

impl RateMethod {
    /// In words, for table headers.
    pub fn describe(self) -> &'static str {
        match self {
            RateMethod::Mosaic => "mosaic",
            RateMethod::LightCurveMean => "light-curve mean",
            RateMethod::SpectrumBand => "spectrum",
        }
    }
}

/// A product's catalog with the rates the product measured (see
/// [`Product::measured_catalog`]); it displays itself as a table whose rate column names its
/// band.
#[derive(Clone, Debug, PartialEq)]
pub struct MeasuredCatalog {
    /// The catalog; `rate` and `rate_err` of each entry are the product's measurement (NaN
    /// when the product measured nothing for the source). Positions, errors, detection
    /// significances and origins are the catalog's.
    pub catalog: Catalog,
    /// The band of the rates, keV.
    pub band: (f64, f64),
    /// How they were measured.
    pub method: RateMethod,
}

impl MeasuredCatalog {
    /// The rate column's header: `rate 30–100 keV (cts/s), light-curve mean`.
    pub fn rate_label(&self) -> String {
        format!(
            "rate {}–{} keV (cts/s), {}",
            kev(self.band.0),
            kev(self.band.1),
            self.method.describe()
        )
    }
}

/// An energy for a label: at most two decimals (channel edges such as 18.8493… keV read 18.85).
fn kev(x: f64) -> String {
    let s = format!("{x:.2}");
    s.trim_end_matches('0').trim_end_matches('.').to_string()
}

impl std::fmt::Display for MeasuredCatalog {
    /// The catalog as a text table; `—` where there is no value (no detection significance or
    /// position error for a source the user added, no rate the product measured).
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        writeln!(
            f,
            "{:<22} {:>9} {:>9} {:>7} {:>7}  RATE {}–{} keV (cts/s), {}",
            "NAME",
            "RA",
            "DEC",
            "ERR(')",
            "SIGMA",
            kev(self.band.0),
            kev(self.band.1),
            self.method.describe()
        )?;
        for e in self.catalog.entries() {
            let added = e.origin == Origin::User && e.significance == 0.0;
            let (err, sigma) = if added {
                ("—".to_string(), "—".to_string())
            } else {
                (
                    format!("{:.2}", e.error_radius_arcmin),
                    format!("{:.1}", e.significance),
                )
            };
            let rate = if e.rate.is_finite() {
                format!("{:.3} ± {:.3}", e.rate, e.rate_err)
            } else {
                "—".into()
            };
            writeln!(
                f,
                "{:<22} {:>9.4} {:>+9.4} {err:>7} {sigma:>7}  {rate}",
                e.name,
                e.position.ra(),
                e.position.dec(),
            )?;
        }
        Ok(())
    }
}

impl ProductResult {
    /// See [`Product::image`].
    ///
    /// # Errors
    /// [`Error::NotInProduct`] for other products.
    pub fn image(&self) -> Result<&Image> {
        self.product.image()
    }

    /// See [`Product::spectra`].
    ///
    /// # Errors
    /// [`Error::NotInProduct`] for images and light curves.
    pub fn spectra(&self) -> Result<&[Spectrum]> {
        self.product.spectra()
    }

    /// See [`Product::spectrum`].
    ///
    /// # Errors
    /// [`Error::NotInProduct`], listing the sources the product has.
    pub fn spectrum(&self, source: &str) -> Result<&Spectrum> {
        self.product.spectrum(source)
    }

    /// See [`Product::light_curves`].
    ///
    /// # Errors
    /// [`Error::NotInProduct`] for other products.
    pub fn light_curves(&self) -> Result<&[LightCurve]> {
        self.product.light_curves()
    }

    /// See [`Product::light_curve`].
    ///
    /// # Errors
    /// [`Error::NotInProduct`], listing the sources the product has.
    pub fn light_curve(&self, source: &str) -> Result<&LightCurve> {
        self.product.light_curve(source)
    }

    /// See [`Product::spectral_fit`].
    ///
    /// # Errors
    /// [`Error::NotInProduct`] for other products.
    pub fn spectral_fit(&self) -> Result<&SpectralFit> {
        self.product.spectral_fit()
    }

    /// See [`Product::fitted_spectrum`].
    ///
    /// # Errors
    /// [`Error::NotInProduct`] for other products.
    pub fn fitted_spectrum(&self) -> Result<&Spectrum> {
        self.product.fitted_spectrum()
    }

    /// See [`Product::jemx_light_curves`].
    ///
    /// # Errors
    /// [`Error::NotInProduct`] for other products.
    pub fn jemx_light_curves(&self) -> Result<&[JemxLightCurve]> {
        self.product.jemx_light_curves()
    }

    /// See [`Product::jemx_light_curve`].
    ///
    /// # Errors
    /// [`Error::NotInProduct`], listing the sources the product has.
    pub fn jemx_light_curve(&self, source: &str) -> Result<&JemxLightCurve> {
        self.product.jemx_light_curve(source)
    }

    /// See [`Product::acs_light_curve`].
    ///
    /// # Errors
    /// [`Error::NotInProduct`] for other products.
    pub fn acs_light_curve(&self) -> Result<&AcsLightCurve> {
        self.product.acs_light_curve()
    }

    /// See [`Product::burst_search`].
    ///
    /// # Errors
    /// [`Error::NotInProduct`] for other products and unsearched light curves.
    pub fn burst_search(&self) -> Result<&BurstSearchResult> {
        self.product.burst_search()
    }

    /// The product's catalog with the rates it measured (see [`Product::measured_catalog`]);
    /// spectra are summed over the request's band (`E1_keV`–`E2_keV`).
    pub fn measured_catalog(&self) -> MeasuredCatalog {
        self.product
            .measured_catalog((self.request.band.e1, self.request.band.e2))
    }
}
