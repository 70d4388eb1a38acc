//! Representational similarity analysis: RDMs from activation patterns (GPU, with CPU twins),
//! comparisons between RDMs, and the inference the field uses (Mantel permutation tests, noise
//! ceilings, bootstrap intervals). Definitions follow ../shared/science/SCIENCE.md §0–§4.
//!
//! `rsa/` knows matrices, not networks: inputs are `[N, P]` patterns and condensed RDM vectors
//! (upper triangle, row-major, i < j).

pub mod bootstrap;
pub mod ceiling;
pub mod cka;
pub mod compare;
pub mod condensed;
pub mod gram;
pub mod load;
pub mod mantel;
pub mod mantel_gpu;
pub mod rdm;
pub mod summary;

pub use compare::{compare, Method};
pub use condensed::{
    condensed_to_square, pair_count, pair_index, square_to_condensed, stimuli_from_pairs,
};
pub use rdm::{rdm_cpu, rdms_gpu, Metric};
