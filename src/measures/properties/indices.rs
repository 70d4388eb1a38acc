//! The seventeen indices.
