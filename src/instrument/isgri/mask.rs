//! The IBIS mask: the MURA of order 53 tiled cyclically to 95 × 95 elements of 11.2 mm, with the
//! basic pattern in the centre (elements 21–73 on each axis hold A(0..53)).

use super::{MASK_ELEMENT_MM, MASK_ELEMENTS, MURA_ORDER};
use crate::error::Result;
use crate::instrument::coded_mask::{Mask, Mura};

/// Index of the first element of the central basic pattern.
const BASIC_OFFSET: usize = (MASK_ELEMENTS - MURA_ORDER) / 2;

/// The IBIS mask.
///
/// # Errors
/// Never: the order and sizes are valid constants.
pub(super) fn mask() -> Result<Mask> {
    let mura = Mura::new(MURA_ORDER)?;
    Mask::from_fn(MASK_ELEMENTS, MASK_ELEMENTS, MASK_ELEMENT_MM, |i, j| {
        mura.is_open(
            (i + MURA_ORDER - BASIC_OFFSET) % MURA_ORDER,
            (j + MURA_ORDER - BASIC_OFFSET) % MURA_ORDER,
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tiled_mask_windows_are_cyclic_shifts() {
        let mask = mask().unwrap();
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
