//! Measures of Conwell et al. 2024 (SCIENCE.md §5) beyond RSA: voxel-wise encoding models on
//! randomly projected features ([`encoding`]) and effective dimensionality ([`dimensionality`]).
//!
//! Like `rsa/`, this module knows matrices, not networks: features arrive as `[n, p]` rows.
//! Every measure's rows go out through one writer ([`report`]), shared by the CLI and the
//! pipeline.

pub mod dimensionality;
pub mod encoding;
pub mod properties;
pub mod report;
