//! The gnomonic (TAN) projection of FITS WCS (Calabretta & Greisen 2002).
//!
//! Pixel coordinates follow FITS: the first pixel's centre is (1, 1), x runs along the
//! first image axis. Intermediate world coordinates are `(ξ, η) = CD · (p − CRPIX)` in degrees,
//! with ξ growing towards east (increasing RA) and η towards north; the usual sky image has
//! `CDELT1 < 0` so that east is to the left.

use serde::{Deserialize, Serialize};

use super::SkyCoord;
use crate::error::{Error, Result};

/// A TAN projection: reference point, reference pixel and the linear CD matrix.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct TanProjection {
    center: SkyCoord,
    crpix: [f64; 2],
    cd: [[f64; 2]; 2],
}

impl TanProjection {
    /// A north-up, east-left grid of `nx × ny` square pixels of `pixel_deg` degrees centred on
    /// `center` (CRPIX at the grid's middle, `CDELT1 = −pixel_deg`, `CDELT2 = +pixel_deg`).
    ///
    /// # Errors
    /// A pixel size that is not positive and finite.
    pub fn new(center: SkyCoord, pixel_deg: f64, nx: usize, ny: usize) -> Result<TanProjection> {
        if !(pixel_deg.is_finite() && pixel_deg > 0.0) {
            return Err(Error::invalid(
                "pixel_deg",
                pixel_deg,
                "a positive pixel size in degrees",
            ));
        }
        Ok(TanProjection {
            center,
            crpix: [(nx as f64 + 1.0) / 2.0, (ny as f64 + 1.0) / 2.0],
            cd: [[-pixel_deg, 0.0], [0.0, pixel_deg]],
        })
    }

    /// A projection from explicit FITS keywords (CRVAL1/2 in `center`, CRPIX1/2, CD matrix).
    ///
    /// # Errors
    /// A singular CD matrix.
    pub fn from_cd(center: SkyCoord, crpix: [f64; 2], cd: [[f64; 2]; 2]) -> Result<TanProjection> {
        let det = cd[0][0] * cd[1][1] - cd[0][1] * cd[1][0];
        if !(det.is_finite() && det != 0.0) {
            return Err(Error::invalid(
                "CD",
                format!("{cd:?}"),
                "a non-singular CD matrix",
            ));
        }
        Ok(TanProjection { center, crpix, cd })
    }

    /// This projection rotated so that the image's up direction is `angle_deg` east of north.
    pub fn rotated(mut self, angle_deg: f64) -> TanProjection {
        let (s, c) = angle_deg.to_radians().sin_cos();
        let cd = self.cd;
        // Rotate the intermediate coordinates: new CD = R · CD.
        self.cd = [
            [c * cd[0][0] - s * cd[1][0], c * cd[0][1] - s * cd[1][1]],
            [s * cd[0][0] + c * cd[1][0], s * cd[0][1] + c * cd[1][1]],
        ];
        self
    }

    /// The reference point (CRVAL).
    pub fn center(&self) -> SkyCoord {
        self.center
    }

    /// The reference pixel (CRPIX1, CRPIX2), 1-based.
    pub fn crpix(&self) -> [f64; 2] {
        self.crpix
    }

    /// The CD matrix in degrees per pixel.
    pub fn cd(&self) -> [[f64; 2]; 2] {
        self.cd
    }

    /// Pixel scale in degrees (square root of |det CD|).
    pub fn pixel_scale(&self) -> f64 {
        (self.cd[0][0] * self.cd[1][1] - self.cd[0][1] * self.cd[1][0])
            .abs()
            .sqrt()
    }

    /// Intermediate (ξ, η) in degrees of a sky position, or `None` on the far hemisphere.
    pub fn to_intermediate(&self, s: &SkyCoord) -> Option<(f64, f64)> {
        let (a0, d0) = (
            self.center.ra().to_radians(),
            self.center.dec().to_radians(),
        );
        let (a, d) = (s.ra().to_radians(), s.dec().to_radians());
        let (sd0, cd0) = d0.sin_cos();
        let (sd, cdd) = d.sin_cos();
        let (sda, cda) = (a - a0).sin_cos();
        let den = sd * sd0 + cdd * cd0 * cda;
        if den <= 1e-12 {
            return None;
        }
        let xi = cdd * sda / den;
        let eta = (sd * cd0 - cdd * sd0 * cda) / den;
        Some((xi.to_degrees(), eta.to_degrees()))
    }

    /// Sky position of intermediate coordinates (ξ, η) in degrees.
    pub fn from_intermediate(&self, xi: f64, eta: f64) -> SkyCoord {
        let (a0, d0) = (
            self.center.ra().to_radians(),
            self.center.dec().to_radians(),
        );
        let (x, y) = (xi.to_radians(), eta.to_radians());
        let (sd0, cd0) = d0.sin_cos();
        let den = cd0 - y * sd0;
        let a = a0 + x.atan2(den);
        let d = (sd0 + y * cd0).atan2((x * x + den * den).sqrt());
        SkyCoord::wrapped(a.to_degrees(), d.to_degrees())
    }

    /// FITS pixel coordinates (1-based) of a sky position, or `None` on the far hemisphere.
    pub fn world_to_pixel(&self, s: &SkyCoord) -> Option<(f64, f64)> {
        let (xi, eta) = self.to_intermediate(s)?;
        let cd = self.cd;
        let det = cd[0][0] * cd[1][1] - cd[0][1] * cd[1][0];
        let px = (cd[1][1] * xi - cd[0][1] * eta) / det;
        let py = (-cd[1][0] * xi + cd[0][0] * eta) / det;
        Some((px + self.crpix[0], py + self.crpix[1]))
    }

    /// Sky position of FITS pixel coordinates (1-based).
    pub fn pixel_to_world(&self, x: f64, y: f64) -> SkyCoord {
        let (dx, dy) = (x - self.crpix[0], y - self.crpix[1]);
        let xi = self.cd[0][0] * dx + self.cd[0][1] * dy;
        let eta = self.cd[1][0] * dx + self.cd[1][1] * dy;
        self.from_intermediate(xi, eta)
    }

    /// The WCS keywords describing this projection, ready for a FITS image header.
    pub fn fits_keywords(&self) -> Vec<(&'static str, WcsValue)> {
        use WcsValue::{Num, Text};
        vec![
            ("CTYPE1", Text("RA---TAN")),
            ("CTYPE2", Text("DEC--TAN")),
            ("CUNIT1", Text("deg")),
            ("CUNIT2", Text("deg")),
            ("RADESYS", Text("ICRS")),
            ("CRVAL1", Num(self.center.ra())),
            ("CRVAL2", Num(self.center.dec())),
            ("CRPIX1", Num(self.crpix[0])),
            ("CRPIX2", Num(self.crpix[1])),
            ("CD1_1", Num(self.cd[0][0])),
            ("CD1_2", Num(self.cd[0][1])),
            ("CD2_1", Num(self.cd[1][0])),
            ("CD2_2", Num(self.cd[1][1])),
        ]
    }
}

/// A WCS keyword value.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum WcsValue {
    /// A string value.
    Text(&'static str),
    /// A numeric value.
    Num(f64),
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn center_maps_to_crpix() {
        let p =
            TanProjection::new(SkyCoord::new(83.633, 22.014).unwrap(), 0.0823, 400, 400).unwrap();
        let (x, y) = p.world_to_pixel(&p.center()).unwrap();
        assert!((x - 200.5).abs() < 1e-12 && (y - 200.5).abs() < 1e-12);
        // East is to the left: a source at larger RA has a smaller x.
        let east = SkyCoord::new(84.633, 22.014).unwrap();
        assert!(p.world_to_pixel(&east).unwrap().0 < 200.5);
    }

    #[test]
    fn round_trips_everywhere() {
        for (ra0, dec0) in [
            (0.0, 0.0),
            (83.633, 22.014),
            (266.4, -29.0),
            (10.0, 89.5),
            (350.0, -85.0),
        ] {
            let p = TanProjection::new(SkyCoord::new(ra0, dec0).unwrap(), 0.0823, 400, 400)
                .unwrap()
                .rotated(23.0);
            for i in 0..=20 {
                for j in 0..=20 {
                    let (x, y) = (1.0 + 20.0 * i as f64, 1.0 + 20.0 * j as f64);
                    let s = p.pixel_to_world(x, y);
                    let (x2, y2) = p.world_to_pixel(&s).unwrap();
                    assert!(
                        (x - x2).abs() < 1e-8 && (y - y2).abs() < 1e-8,
                        "{ra0} {dec0} {x} {y}"
                    );
                }
            }
        }
    }

    #[test]
    fn gnomonic_distance_law() {
        // A point at angular distance ρ from the centre lies at tan ρ (in radians) in the plane.
        let c = SkyCoord::new(200.0, 40.0).unwrap();
        let p = TanProjection::new(c, 0.1, 100, 100).unwrap();
        let s = SkyCoord::new(200.0, 50.0).unwrap();
        let (xi, eta) = p.to_intermediate(&s).unwrap();
        assert!(xi.abs() < 1e-12);
        assert!((eta.to_radians() - 10f64.to_radians().tan()).abs() < 1e-12);
        assert!(
            p.to_intermediate(&SkyCoord::new(20.0, -40.0).unwrap())
                .is_none()
        );
    }
}
