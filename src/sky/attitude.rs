//! The spacecraft attitude: which way the telescope points and how it is rolled.
//!
//! INTEGRAL's X axis is the pointing direction of the instruments (`RA_SCX`, `DEC_SCX`);
//! its Z axis (`RA_SCZ`, `DEC_SCZ`) lies perpendicular to it and Y = Z × X completes a
//! right-handed frame. The ISGRI detector axes DETY and DETZ run along Y and Z.
//! A sky direction s is seen at the off-axis tangents
//! `tan θy = (s·Y)/(s·X)`, `tan θz = (s·Z)/(s·X)`: these are the coordinates in which the
//! mask shadow shifts across the detector (by −H·tan θ) and in which the sky images are
//! gnomonic (TAN) projections.

use serde::{Deserialize, Serialize};

use super::{SkyCoord, cross, dot, normalize};

/// The orientation of the spacecraft for one pointing.
#[derive(Clone, Copy, Debug, Serialize, Deserialize)]
pub struct Attitude {
    x: SkyCoord,
    z: SkyCoord,
    #[serde(skip)]
    frame: Option<[[f64; 3]; 3]>,
}

/// Two attitudes are equal when their axes are: the frame is a cache of what the axes determine
/// (absent after deserialisation, rebuilt on use).
impl PartialEq for Attitude {
    fn eq(&self, other: &Attitude) -> bool {
        self.x == other.x && self.z == other.z
    }
}

impl Attitude {
    /// The attitude with pointing axis `x` and the Z axis in the direction of `z_hint`
    /// made exactly perpendicular to `x` (Gram–Schmidt). `z_hint` must not be parallel to `x`;
    /// if it is, the north celestial pole (or, at the poles, RA 0) is used instead. A `z_hint`
    /// already perpendicular to `x` (as read from a file) is kept as given, so attitudes
    /// round-trip through FITS keywords exactly.
    pub fn new(x: SkyCoord, z_hint: SkyCoord) -> Attitude {
        let xv = x.to_unit_vector();
        let mut zv = z_hint.to_unit_vector();
        let mut proj = dot(zv, xv);
        let degenerate = (1.0 - proj.abs()) < 1e-9;
        if degenerate {
            zv = if x.dec().abs() < 89.0 {
                [0.0, 0.0, 1.0]
            } else {
                [1.0, 0.0, 0.0]
            };
            proj = dot(zv, xv);
        }
        let z = normalize([
            zv[0] - proj * xv[0],
            zv[1] - proj * xv[1],
            zv[2] - proj * xv[2],
        ]);
        let y = cross(z, xv);
        let z_coord = if !degenerate && proj.abs() < 1e-12 {
            z_hint
        } else {
            SkyCoord::from_vector(z)
        };
        Attitude {
            x,
            z: z_coord,
            frame: Some([xv, y, z]),
        }
    }

    /// The attitude pointing at `x` with the Z axis rolled `roll_deg` east of north.
    pub fn with_roll(x: SkyCoord, roll_deg: f64) -> Attitude {
        let (sd, cd) = x.dec().to_radians().sin_cos();
        let (sa, ca) = x.ra().to_radians().sin_cos();
        let north = [-sd * ca, -sd * sa, cd];
        let east = [-sa, ca, 0.0];
        let (sr, cr) = roll_deg.to_radians().sin_cos();
        let z = [0, 1, 2].map(|i| cr * north[i] + sr * east[i]);
        Attitude::new(x, SkyCoord::from_vector(z))
    }

    /// The pointing direction (X axis).
    pub fn pointing(&self) -> SkyCoord {
        self.x
    }

    /// The spacecraft Z axis.
    pub fn z_axis(&self) -> SkyCoord {
        self.z
    }

    fn frame(&self) -> [[f64; 3]; 3] {
        self.frame
            .unwrap_or_else(|| Attitude::new(self.x, self.z).frame.unwrap_or_default())
    }

    /// Off-axis tangents (tan θy, tan θz) of `s`, or `None` if it is behind the spacecraft.
    pub fn to_tangents(&self, s: &SkyCoord) -> Option<(f64, f64)> {
        let [x, y, z] = self.frame();
        let v = s.to_unit_vector();
        let u = dot(v, x);
        (u > 1e-12).then(|| (dot(v, y) / u, dot(v, z) / u))
    }

    /// The sky direction seen at off-axis tangents (tan θy, tan θz).
    pub fn from_tangents(&self, tan_y: f64, tan_z: f64) -> SkyCoord {
        let [x, y, z] = self.frame();
        SkyCoord::from_vector([0, 1, 2].map(|i| x[i] + tan_y * y[i] + tan_z * z[i]))
    }

    /// Off-axis angle of `s` from the pointing direction, degrees.
    pub fn off_axis_angle(&self, s: &SkyCoord) -> f64 {
        self.x.separation(s)
    }

    /// Position angle (degrees east of north) of the Z axis as seen at the pointing.
    pub fn roll(&self) -> f64 {
        let (sd, cd) = self.x.dec().to_radians().sin_cos();
        let (sa, ca) = self.x.ra().to_radians().sin_cos();
        let north = [-sd * ca, -sd * sa, cd];
        let east = [-sa, ca, 0.0];
        let z = self.z.to_unit_vector();
        dot(z, east)
            .atan2(dot(z, north))
            .to_degrees()
            .rem_euclid(360.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tangent_round_trip_and_on_axis() {
        let att = Attitude::with_roll(SkyCoord::new(83.6, 22.0).unwrap(), 37.0);
        assert!((att.roll() - 37.0).abs() < 1e-9);
        let (ty, tz) = att.to_tangents(&att.pointing()).unwrap();
        assert!(ty.abs() < 1e-12 && tz.abs() < 1e-12);
        for (ty, tz) in [(0.1, -0.05), (-0.2, 0.2), (0.0, 0.25)] {
            let s = att.from_tangents(ty, tz);
            let (ty2, tz2) = att.to_tangents(&s).unwrap();
            assert!((ty - ty2).abs() < 1e-12 && (tz - tz2).abs() < 1e-12);
            let theta = (ty * ty + tz * tz).sqrt().atan().to_degrees();
            assert!((att.off_axis_angle(&s) - theta).abs() < 1e-9);
        }
    }

    #[test]
    fn z_axis_is_along_positive_tan_z() {
        // With roll 0 the Z axis points north: a source just north of the pointing has tan θz > 0.
        let att = Attitude::with_roll(SkyCoord::new(120.0, -10.0).unwrap(), 0.0);
        let (ty, tz) = att
            .to_tangents(&SkyCoord::new(120.0, -9.0).unwrap())
            .unwrap();
        assert!(tz > 0.017 && ty.abs() < 1e-12);
        assert!(
            att.to_tangents(&SkyCoord::new(300.0, 10.0).unwrap())
                .is_none()
        );
    }
}
