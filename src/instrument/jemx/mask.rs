//! JEM-X's mask: a hexagonal uniformly redundant array (HURA) of 22 501 elements, 25 % open.
//!
//! 22 501 = 4·75² + 1 is a prime ≡ 1 (mod 3). For such a prime p the non-zero fourth powers
//! modulo p (the biquadratic residues) form a cyclic difference set (p, (p − 1)/4, (p − 5)/16)
//! (Chowla 1944): a quarter of the elements open, and the periodic autocorrelation two-valued.
//! Because p ≡ 1 (mod 3), τ² − τ + 1 ≡ 0 (mod p) has a solution, and the hexagonal lattice point
//! a + b·ω (ω = e^{iπ/3}) maps to the index a + b·τ (mod p): a ring homomorphism of the Eisenstein
//! integers, so the pattern is periodic on a lattice that is itself hexagonal (Finger & Prince
//! 1985). One period, taken as the lattice point nearest the centre in each residue class, is the
//! mask: 22 501 cells in a hexagonal domain. That JEM-X's mask is exactly this set is *derived*
//! (its element count and open fraction match); the published description says only "HURA,
//! 22 501 elements, 25 % open".

use std::collections::HashMap;

/// Order of the HURA: its number of elements (*cited*: 22 501 elements).
pub const HURA_ORDER: u64 = 22_501;

/// A HURA on the hexagonal lattice: which cells (a, b) — centre a·u + b·w with u = (d, 0) and
/// w = (d/2, d·√3/2) — are open.
#[derive(Clone, Debug)]
pub struct Hura {
    order: u64,
    tau: u64,
    residues: Vec<bool>,
    /// The cells of one period nearest the centre: (a, b) → open.
    cells: HashMap<(i64, i64), bool>,
    /// Largest distance of a cell centre from the centre, in cell spacings.
    radius_cells: f64,
}

impl Hura {
    /// The biquadratic-residue HURA of prime order `p` (p = 4x² + 1 with x odd, p ≡ 1 mod 3);
    /// `None` for other orders.
    pub fn new(p: u64) -> Option<Hura> {
        let is_prime = p > 3
            && (2..)
                .take_while(|d| d * d <= p)
                .all(|d| !p.is_multiple_of(d));
        let x = (((p - 1) / 4) as f64).sqrt().round() as u64;
        if !is_prime || 4 * x * x + 1 != p || x.is_multiple_of(2) || p % 3 != 1 {
            return None;
        }
        let mut residues = vec![false; p as usize];
        for k in 1..p {
            let sq = k * k % p;
            residues[(sq * sq % p) as usize] = true;
        }
        let tau = (2..p).find(|t| (t * t + 1) % p == *t % p)?;
        // The lattice point nearest the centre in every residue class: the period's Voronoi
        // cell, a regular hexagon of circumradius √(p/3) spacings. Search the disc of 1.1 times
        // that (the axial box holding it is 2/√3 wider).
        let disc = 1.1 * (p as f64 / 3.0).sqrt() + 2.0;
        let reach = (disc * 2.0 / 3f64.sqrt()).ceil() as i64;
        let mut best: HashMap<u64, ((i64, i64), f64)> = HashMap::with_capacity(p as usize);
        for b in -reach..=reach {
            for a in -reach..=reach {
                let (y, z) = (a as f64 + b as f64 / 2.0, b as f64 * 3f64.sqrt() / 2.0);
                let r2 = y * y + z * z;
                if r2 > disc * disc {
                    continue;
                }
                let index = ((a + b * tau as i64).rem_euclid(p as i64)) as u64;
                // Nearest wins; ties go to the smaller angle, so the choice is deterministic.
                let better = match best.get(&index) {
                    None => true,
                    Some((_, r)) if (r2 - r).abs() > 1e-9 => r2 < *r,
                    Some(((a0, b0), _)) => {
                        let angle = |a: i64, b: i64| {
                            (b as f64 * 3f64.sqrt() / 2.0).atan2(a as f64 + b as f64 / 2.0)
                        };
                        angle(a, b) < angle(*a0, *b0)
                    }
                };
                if better {
                    best.insert(index, ((a, b), r2));
                }
            }
        }
        if best.len() != p as usize {
            return None;
        }
        let radius_cells = best.values().map(|(_, r2)| r2.sqrt()).fold(0.0, f64::max);
        let cells = best
            .into_iter()
            .map(|(index, (ab, _))| (ab, residues[index as usize]))
            .collect();
        Some(Hura {
            order: p,
            tau,
            residues,
            cells,
            radius_cells,
        })
    }

    /// The order (number of cells of one period).
    pub fn order(&self) -> u64 {
        self.order
    }

    /// True when residue `index` (mod the order) is open.
    pub fn is_open_index(&self, index: u64) -> bool {
        self.residues[(index % self.order) as usize]
    }

    /// The residue of lattice cell (a, b).
    pub fn index(&self, a: i64, b: i64) -> u64 {
        (a + b * self.tau as i64).rem_euclid(self.order as i64) as u64
    }

    /// True when cell (a, b) of the mask is open (false outside the mask).
    pub fn cell(&self, a: i64, b: i64) -> bool {
        self.cells.get(&(a, b)).copied().unwrap_or(false)
    }

    /// The cells of the mask: (a, b, open).
    pub fn cells(&self) -> impl Iterator<Item = (i64, i64, bool)> + '_ {
        self.cells.iter().map(|(&(a, b), &o)| (a, b, o))
    }

    /// Largest distance of a cell centre from the mask centre, in cell spacings.
    pub fn radius_cells(&self) -> f64 {
        self.radius_cells
    }

    /// Fraction of open cells.
    pub fn open_fraction(&self) -> f64 {
        self.cells.values().filter(|o| **o).count() as f64 / self.cells.len() as f64
    }

    /// True when the point (y, z), in cell spacings from the centre, lies in an open cell.
    pub fn is_open_at(&self, y: f64, z: f64) -> bool {
        let (a, b) = nearest_cell(y, z);
        self.cell(a, b)
    }
}

/// The hexagonal cell (a, b) whose centre is nearest to (y, z) (in cell spacings): cube
/// rounding of the axial coordinates.
pub fn nearest_cell(y: f64, z: f64) -> (i64, i64) {
    let b = z * 2.0 / 3f64.sqrt();
    let a = y - b / 2.0;
    // Cube coordinates (a, b, c) with a + b + c = 0.
    let c = -a - b;
    let (mut ra, mut rb, rc) = (a.round(), b.round(), c.round());
    let (da, db, dc) = ((ra - a).abs(), (rb - b).abs(), (rc - c).abs());
    if da > db && da > dc {
        ra = -rb - rc;
    } else if db > dc {
        rb = -ra - rc;
    }
    (ra as i64, rb as i64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn small_huras_are_difference_sets_with_a_quarter_open() {
        // 37 = 4·3² + 1 (≡ 1 mod 3); 101 is 1 mod 4 but 2 mod 3; 22 501 is JEM-X's.
        assert!(Hura::new(101).is_none());
        assert!(Hura::new(36).is_none());
        let h = Hura::new(37).unwrap();
        let open: Vec<u64> = (0..37).filter(|i| h.is_open_index(*i)).collect();
        assert_eq!(open.len(), 9);
        // Every non-zero shift meets (p − 5)/16 = 2 open pairs: the cyclic difference set.
        for s in 1..37 {
            let n = open.iter().filter(|i| h.is_open_index(*i + s)).count();
            assert_eq!(n, 2, "shift {s}");
        }
        assert_eq!(h.cells().count(), 37);
        // The index map is a homomorphism of the hexagonal lattice: it commutes with the sixfold
        // rotation (a, b) → (−b, a + b).
        for (a, b) in [(1, 0), (3, -2), (5, 7)] {
            let r = |(a, b): (i64, i64)| (-b, a + b);
            let rot = r((a, b));
            assert_eq!(h.index(rot.0, rot.1), h.index(a, b) * h.tau % 37);
        }
    }

    #[test]
    fn jemx_hura_has_22501_cells_a_quarter_open() {
        let h = Hura::new(HURA_ORDER).unwrap();
        assert_eq!(h.cells().count(), 22_501);
        assert!(
            (h.open_fraction() - 0.25).abs() < 1e-3,
            "{}",
            h.open_fraction()
        );
        // One period: every residue class exactly once.
        let mut seen = vec![false; 22_501];
        for (a, b, _) in h.cells() {
            let i = h.index(a, b) as usize;
            assert!(!seen[i]);
            seen[i] = true;
        }
        // A regular hexagonal domain: circumradius √(p/3) = 86.6 cells (+ the lattice's step).
        assert!(
            (86.0..88.0).contains(&h.radius_cells()),
            "{}",
            h.radius_cells()
        );
    }

    #[test]
    fn nearest_cell_rounds_to_the_hexagon_containing_the_point() {
        assert_eq!(nearest_cell(0.0, 0.0), (0, 0));
        assert_eq!(nearest_cell(0.9, 0.0), (1, 0));
        assert_eq!(nearest_cell(0.5, 0.8), (0, 1)); // centre (0.5, 0.866)
        assert_eq!(nearest_cell(-0.45, 0.0), (0, 0));
    }
}
