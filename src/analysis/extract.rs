//! Extraction, the one loop from stimuli to captured activations: a batch of images is read and
//! preprocessed, run through the network, and its captured points handed on.

use crate::error::Result;
use crate::models::{Capture, Network};
use crate::stimuli::{Preprocess, StimulusSet};

/// Runs `net` over stimuli `0..stimuli.len()` in batches of `batch` at input size `(h, w)` and
/// calls `sink(lo, hi, acts)` for each batch: one `[hi − lo, …]` row-major `Vec` per point of
/// `capture`, in capture order.
pub fn extract_batches(
    net: &Network<'_>,
    stimuli: &mut StimulusSet,
    pre: &Preprocess,
    capture: &Capture,
    batch: usize,
    (h, w): (usize, usize),
    mut sink: impl FnMut(usize, usize, Vec<Vec<f32>>) -> Result<()>,
) -> Result<()> {
    let channels = net.graph().in_channels;
    for lo in (0..stimuli.len()).step_by(batch.max(1)) {
        let hi = (lo + batch).min(stimuli.len());
        let x = stimuli.batch(lo, hi, pre)?;
        let acts = net.extract(&x, &[hi - lo, channels, h, w], capture)?;
        sink(lo, hi, acts)?;
    }
    Ok(())
}
