//! The sky: coordinates, projections, the spacecraft attitude, and the reference catalog.
//!
//! Conventions: positions are ICRS right ascension and declination in **degrees**
//! (RA in [0, 360), Dec in [−90, 90]); Galactic coordinates (l, b) in degrees follow the
//! IAU 1958 definition as realised in ICRS (the rotation matrix used by astropy).
//!
//! ```
//! use oda::sky::SkyCoord;
//! let crab = SkyCoord::new(83.633, 22.014)?;
//! let (l, b) = crab.to_galactic();
//! assert!((l - 184.557).abs() < 0.01 && (b + 5.784).abs() < 0.01);
//! # Ok::<(), oda::Error>(())
//! ```

mod attitude;
pub mod catalog;
mod wcs;

pub use attitude::Attitude;
pub use catalog::{CatalogSource, ReferenceCatalog, SourceClass, resolve};

pub use wcs::{TanProjection, WcsValue};

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// A direction on the sky in ICRS, degrees.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct SkyCoord {
    ra: f64,
    dec: f64,
}

/// ICRS → Galactic rotation matrix (rows are the Galactic x, y, z axes in ICRS).
const ICRS_TO_GAL: [[f64; 3]; 3] = [
    [
        -0.054_875_560_416_215_4,
        -0.873_437_090_234_885,
        -0.483_835_015_548_713_2,
    ],
    [
        0.494_109_427_875_583_7,
        -0.444_829_629_960_011_2,
        0.746_982_244_497_219,
    ],
    [
        -0.867_666_149_019_004_7,
        -0.198_076_373_431_201_5,
        0.455_983_776_175_066_9,
    ],
];

impl SkyCoord {
    /// A position from RA and Dec in degrees.
    ///
    /// # Errors
    /// `RA` outside [0, 360) or `DEC` outside [−90, 90] (or not finite) is an
    /// [`Error::InvalidParameter`] naming the parameter.
    pub fn new(ra: f64, dec: f64) -> Result<SkyCoord> {
        if !(ra.is_finite() && (0.0..360.0).contains(&ra)) {
            return Err(Error::invalid("RA", ra, "degrees in [0, 360)"));
        }
        if !(dec.is_finite() && (-90.0..=90.0).contains(&dec)) {
            return Err(Error::invalid("DEC", dec, "degrees in [-90, 90]"));
        }
        Ok(SkyCoord { ra, dec })
    }

    /// A position from any finite RA (wrapped into [0, 360)) and a Dec clamped to [−90, 90];
    /// for positions computed internally, never for user input.
    pub(crate) fn wrapped(ra: f64, dec: f64) -> SkyCoord {
        let ra = ra.rem_euclid(360.0);
        SkyCoord {
            ra: if ra >= 360.0 { 0.0 } else { ra },
            dec: dec.clamp(-90.0, 90.0),
        }
    }

    /// Right ascension, degrees.
    pub fn ra(&self) -> f64 {
        self.ra
    }

    /// Declination, degrees.
    pub fn dec(&self) -> f64 {
        self.dec
    }

    /// Unit vector (x towards RA=0,Dec=0; z towards the north celestial pole).
    pub fn to_unit_vector(&self) -> [f64; 3] {
        let (sa, ca) = self.ra.to_radians().sin_cos();
        let (sd, cd) = self.dec.to_radians().sin_cos();
        [cd * ca, cd * sa, sd]
    }

    /// The direction of a (not necessarily normalised, non-zero) vector.
    pub fn from_vector(v: [f64; 3]) -> SkyCoord {
        let n = (v[0] * v[0] + v[1] * v[1] + v[2] * v[2]).sqrt();
        let dec = (v[2] / n).clamp(-1.0, 1.0).asin().to_degrees();
        let ra = v[1].atan2(v[0]).to_degrees();
        SkyCoord::wrapped(ra, dec)
    }

    /// Angular separation in degrees (Vincenty's formula: accurate at all separations).
    pub fn separation(&self, other: &SkyCoord) -> f64 {
        let (s1, c1) = self.dec.to_radians().sin_cos();
        let (s2, c2) = other.dec.to_radians().sin_cos();
        let (sd, cd) = (other.ra - self.ra).to_radians().sin_cos();
        let num = ((c2 * sd).powi(2) + (c1 * s2 - s1 * c2 * cd).powi(2)).sqrt();
        let den = s1 * s2 + c1 * c2 * cd;
        num.atan2(den).to_degrees()
    }

    /// Galactic longitude and latitude (l, b) in degrees.
    pub fn to_galactic(&self) -> (f64, f64) {
        let g = mat_vec(&ICRS_TO_GAL, self.to_unit_vector());
        let c = SkyCoord::from_vector(g);
        (c.ra, c.dec)
    }

    /// The ICRS position of Galactic (l, b) in degrees.
    ///
    /// # Errors
    /// `b` outside [−90, 90] or non-finite values.
    pub fn from_galactic(l: f64, b: f64) -> Result<SkyCoord> {
        if !l.is_finite() {
            return Err(Error::invalid("l", l, "finite degrees"));
        }
        if !(b.is_finite() && (-90.0..=90.0).contains(&b)) {
            return Err(Error::invalid("b", b, "degrees in [-90, 90]"));
        }
        let g = SkyCoord::wrapped(l, b).to_unit_vector();
        Ok(SkyCoord::from_vector(mat_t_vec(&ICRS_TO_GAL, g)))
    }
}

impl std::fmt::Display for SkyCoord {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "(RA {:.4}°, Dec {:+.4}°)", self.ra, self.dec)
    }
}

pub(crate) fn mat_vec(m: &[[f64; 3]; 3], v: [f64; 3]) -> [f64; 3] {
    [0, 1, 2].map(|i| m[i][0] * v[0] + m[i][1] * v[1] + m[i][2] * v[2])
}

fn mat_t_vec(m: &[[f64; 3]; 3], v: [f64; 3]) -> [f64; 3] {
    [0, 1, 2].map(|i| m[0][i] * v[0] + m[1][i] * v[1] + m[2][i] * v[2])
}

pub(crate) fn dot(a: [f64; 3], b: [f64; 3]) -> f64 {
    a[0] * b[0] + a[1] * b[1] + a[2] * b[2]
}

pub(crate) fn cross(a: [f64; 3], b: [f64; 3]) -> [f64; 3] {
    [
        a[1] * b[2] - a[2] * b[1],
        a[2] * b[0] - a[0] * b[2],
        a[0] * b[1] - a[1] * b[0],
    ]
}

pub(crate) fn normalize(v: [f64; 3]) -> [f64; 3] {
    let n = dot(v, v).sqrt();
    [v[0] / n, v[1] / n, v[2] / n]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn validation_names_parameters() {
        assert_eq!(
            SkyCoord::new(360.0, 0.0).unwrap_err().parameter(),
            Some("RA")
        );
        assert_eq!(
            SkyCoord::new(-0.1, 0.0).unwrap_err().parameter(),
            Some("RA")
        );
        assert_eq!(
            SkyCoord::new(10.0, 91.0).unwrap_err().parameter(),
            Some("DEC")
        );
        assert_eq!(
            SkyCoord::new(f64::NAN, 0.0).unwrap_err().parameter(),
            Some("RA")
        );
    }

    #[test]
    fn known_galactic_positions() {
        // Galactic centre and north Galactic pole (ICRS values from astropy).
        let gc = SkyCoord::from_galactic(0.0, 0.0).unwrap();
        assert!((gc.ra() - 266.404_996).abs() < 1e-4 && (gc.dec() + 28.936_172).abs() < 1e-4);
        let ngp = SkyCoord::from_galactic(0.0, 90.0).unwrap();
        assert!((ngp.ra() - 192.859_508).abs() < 1e-4 && (ngp.dec() - 27.128_336).abs() < 1e-4);
        // Cyg X-1 is at l = 71.33°, b = +3.07°.
        let (l, b) = SkyCoord::new(299.590, 35.202).unwrap().to_galactic();
        assert!(
            (l - 71.335).abs() < 0.01 && (b - 3.067).abs() < 0.01,
            "{l} {b}"
        );
    }

    #[test]
    fn galactic_round_trip() {
        for i in 0..200 {
            let ra = (i as f64 * 37.3) % 360.0;
            let dec = ((i as f64 * 13.7) % 178.0) - 89.0;
            let c = SkyCoord::new(ra, dec).unwrap();
            let (l, b) = c.to_galactic();
            let back = SkyCoord::from_galactic(l, b).unwrap();
            assert!(c.separation(&back) < 1e-9);
        }
    }

    #[test]
    fn separations() {
        let a = SkyCoord::new(10.0, 20.0).unwrap();
        assert_eq!(a.separation(&a), 0.0);
        let pole = SkyCoord::new(0.0, 90.0).unwrap();
        assert!((a.separation(&pole) - 70.0).abs() < 1e-12);
        let antipode = SkyCoord::new(190.0, -20.0).unwrap();
        assert!((a.separation(&antipode) - 180.0).abs() < 1e-9);
        // Crab to V404 Cyg, cross-checked with the haversine formula.
        let crab = SkyCoord::new(83.633, 22.014).unwrap();
        let v404 = SkyCoord::new(306.016, 33.867).unwrap();
        let hav = |x: f64| (x / 2.0).sin().powi(2);
        let h = hav((v404.dec() - crab.dec()).to_radians())
            + crab.dec().to_radians().cos()
                * v404.dec().to_radians().cos()
                * hav((v404.ra() - crab.ra()).to_radians());
        let expected = (2.0 * h.sqrt().asin()).to_degrees();
        assert!((crab.separation(&v404) - expected).abs() < 1e-9);
    }
}
