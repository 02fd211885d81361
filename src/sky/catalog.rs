//! The bundled reference catalog (placeholder while it is written).
