//! The coded mask: the MURA basic pattern and the 95 × 95 tiled IBIS mask.
//!
//! MURA construction for a prime p ≡ 1 (mod 4) (Gottesman & Fenimore 1989): with
//! C_i = +1 when i is a non-zero quadratic residue mod p and −1 otherwise,
//! A(0, j) = 0, A(i, 0) = 1 for i ≠ 0, and A(i, j) = 1 iff C_i·C_j = +1. The decoding array
//! is G = 2A − 1 with G(0, 0) = +1; the periodic correlation of A with G is a delta function.

use super::{MASK_ELEMENT_MM, MASK_ELEMENTS, MURA_ORDER};
use crate::error::{Error, Result};

/// A Modified Uniformly Redundant Array of prime order p.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Mura {
    p: usize,
    open: Vec<bool>,
}

impl Mura {
    /// The MURA of order `p`.
    ///
    /// # Errors
    /// `p` not a prime with p ≡ 1 (mod 4).
    pub fn new(p: usize) -> Result<Mura> {
        let is_prime = p >= 2
            && (2..)
                .take_while(|d| d * d <= p)
                .all(|d| !p.is_multiple_of(d));
        if !is_prime || p % 4 != 1 {
            return Err(Error::invalid(
                "MURA order",
                p,
                "a prime p with p ≡ 1 (mod 4), e.g. 5, 13, 53",
            ));
        }
        Ok(Mura::build(p))
    }

    /// The construction itself, for an order already known to be valid.
    fn build(p: usize) -> Mura {
        let mut residue = vec![false; p];
        for k in 1..p {
            residue[k * k % p] = true;
        }
        let c = |i: usize| if residue[i] { 1 } else { -1 };
        let mut open = vec![false; p * p];
        for i in 0..p {
            for j in 0..p {
                open[i * p + j] = match (i, j) {
                    (0, _) => false,
                    (_, 0) => true,
                    _ => c(i) * c(j) == 1,
                };
            }
        }
        Mura { p, open }
    }

    /// The order p.
    pub fn order(&self) -> usize {
        self.p
    }

    /// True when element (i, j) is open (indices taken modulo p).
    pub fn is_open(&self, i: usize, j: usize) -> bool {
        self.open[(i % self.p) * self.p + j % self.p]
    }

    /// The decoding array G(i, j) = 2A − 1, with G(0, 0) = +1.
    pub fn decoding(&self, i: usize, j: usize) -> i8 {
        let (i, j) = (i % self.p, j % self.p);
        if (i, j) == (0, 0) || self.is_open(i, j) {
            1
        } else {
            -1
        }
    }

    /// Fraction of open elements (just under one half).
    pub fn open_fraction(&self) -> f64 {
        self.open.iter().filter(|&&o| o).count() as f64 / (self.p * self.p) as f64
    }
}

/// The IBIS mask: the MURA of order 53 tiled cyclically to 95 × 95 elements, with the basic
/// pattern in the centre (elements 21–73 on each axis hold A(0..53)).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Mask {
    open: Vec<bool>,
}

/// Index of the first element of the central basic pattern.
const BASIC_OFFSET: usize = (MASK_ELEMENTS - MURA_ORDER) / 2;

impl Mask {
    /// The IBIS mask.
    pub fn isgri() -> Mask {
        let mura = Mura::build(MURA_ORDER); // 53 is prime and ≡ 1 (mod 4)
        let n = MASK_ELEMENTS;
        let mut open = vec![false; n * n];
        for i in 0..n {
            for j in 0..n {
                let (a, b) = (
                    (i + MURA_ORDER - BASIC_OFFSET) % MURA_ORDER,
                    (j + MURA_ORDER - BASIC_OFFSET) % MURA_ORDER,
                );
                open[i * n + j] = mura.is_open(a, b);
            }
        }
        Mask { open }
    }

    /// A mask with an arbitrary pattern, for tests of the geometry.
    #[cfg(test)]
    pub(crate) fn from_fn(f: impl Fn(usize, usize) -> bool) -> Mask {
        let n = MASK_ELEMENTS;
        Mask {
            open: (0..n * n).map(|k| f(k / n, k % n)).collect(),
        }
    }

    /// True when element (i, j), i along Y and j along Z, is open; false outside the mask.
    pub fn element(&self, i: usize, j: usize) -> bool {
        i < MASK_ELEMENTS && j < MASK_ELEMENTS && self.open[i * MASK_ELEMENTS + j]
    }

    /// Half the mask side, mm.
    pub fn half_size_mm() -> f64 {
        MASK_ELEMENTS as f64 * MASK_ELEMENT_MM / 2.0
    }

    /// True when the mask is open at (y, z) mm from its centre; the mask frame and the
    /// shielding beyond it are opaque.
    pub fn is_open_at_mm(&self, y: f64, z: f64) -> bool {
        let h = Mask::half_size_mm();
        let (fi, fj) = ((y + h) / MASK_ELEMENT_MM, (z + h) / MASK_ELEMENT_MM);
        fi >= 0.0 && fj >= 0.0 && self.element(fi as usize, fj as usize)
    }

    /// Fraction of open elements.
    pub fn open_fraction(&self) -> f64 {
        self.open.iter().filter(|&&o| o).count() as f64 / self.open.len() as f64
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Periodic correlation Σ A(k,l)·G(k+i, l+j) for all shifts (the slow oracle).
    fn correlation(m: &Mura) -> Vec<i64> {
        let p = m.order();
        let mut out = vec![0i64; p * p];
        for i in 0..p {
            for j in 0..p {
                let mut s = 0i64;
                for k in 0..p {
                    for l in 0..p {
                        if m.is_open(k, l) {
                            s += i64::from(m.decoding(k + i, l + j));
                        }
                    }
                }
                out[i * p + j] = s;
            }
        }
        out
    }

    #[test]
    fn mura_correlation_is_a_delta_function() {
        for p in [5, 13, 29, 53] {
            let m = Mura::new(p).unwrap();
            let c = correlation(&m);
            let peak = ((p * p - 1) / 2) as i64;
            assert_eq!(c[0], peak, "p = {p}");
            assert!(
                c[1..].iter().all(|&v| v == 0),
                "p = {p}: sidelobes not flat"
            );
        }
    }

    #[test]
    fn mura_open_fraction_and_rows() {
        let m = Mura::new(53).unwrap();
        // (p² − 1)/2 + ... : 1352 from the interior plus 52 in column 0 = 1404 of 2809.
        assert_eq!((m.open_fraction() * 2809.0).round() as usize, 1404);
        assert!((0..53).all(|j| !m.is_open(0, j)));
        assert!((1..53).all(|i| m.is_open(i, 0)));
        // Symmetric: A(i, j) = A(j, i) away from the first row/column.
        assert!((1..53).all(|i| (1..53).all(|j| m.is_open(i, j) == m.is_open(j, i))));
        for bad in [0, 1, 4, 7, 51, 57] {
            assert!(Mura::new(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn tiled_mask_windows_are_cyclic_shifts() {
        let mask = Mask::isgri();
        let m = Mura::new(53).unwrap();
        // Any 53 × 53 window of the 95 × 95 mask is a cyclic shift of the basic pattern,
        // so a fully coded source always sees one complete MURA.
        for (oi, oj) in [(0, 0), (21, 21), (42, 42), (7, 30)] {
            for i in 0..53 {
                for j in 0..53 {
                    let expect = m.is_open((oi + i + 32) % 53, (oj + j + 32) % 53);
                    assert_eq!(mask.element(oi + i, oj + j), expect);
                }
            }
        }
        assert!((mask.open_fraction() - 0.5).abs() < 0.01);
        assert!(!mask.is_open_at_mm(600.0, 0.0) && !mask.is_open_at_mm(0.0, -533.0));
    }
}
