//! Kernels. One module per kernel family (one `shaders/*.wgsl` each): the GPU dispatcher, its CPU
//! twin in plain Rust with f64 accumulation, and the shape checks both share.
//!
//! Every dispatcher records into a [`Recorder`](crate::Recorder) and splits its operands into
//! windows that fit the storage-binding limit, so tensors larger than one binding work unchanged.

pub mod attention;
pub mod conv;
pub mod elementwise;
pub mod matmul;
pub mod norm;
pub mod pool;
pub mod softmax;
pub mod tokens;

use crate::error::{Error, Result};
use crate::gpu::{BindingKind, KernelFamily};

use BindingKind::{Read, ReadWrite, Uniform};

pub(crate) static ELEMENTWISE: KernelFamily = KernelFamily {
    name: "elementwise",
    source: include_str!("../../shaders/elementwise.wgsl"),
    bindings: &[Uniform, Read, Read, ReadWrite],
};
pub(crate) static MATMUL: KernelFamily = KernelFamily {
    name: "matmul",
    source: include_str!("../../shaders/matmul.wgsl"),
    bindings: &[Uniform, Read, Read, Read, ReadWrite],
};
pub(crate) static CONV2D: KernelFamily = KernelFamily {
    name: "conv2d",
    source: include_str!("../../shaders/conv2d.wgsl"),
    bindings: &[Uniform, Read, Read, Read, ReadWrite],
};
pub(crate) static POOL: KernelFamily = KernelFamily {
    name: "pool",
    source: include_str!("../../shaders/pool.wgsl"),
    bindings: &[Uniform, Read, ReadWrite],
};
pub(crate) static SOFTMAX: KernelFamily = KernelFamily {
    name: "softmax",
    source: include_str!("../../shaders/softmax.wgsl"),
    bindings: &[Uniform, Read, ReadWrite],
};
pub(crate) static LAYER_NORM: KernelFamily = KernelFamily {
    name: "layer_norm",
    source: include_str!("../../shaders/layer_norm.wgsl"),
    bindings: &[Uniform, Read, Read, Read, ReadWrite],
};
pub(crate) static BATCH_NORM: KernelFamily = KernelFamily {
    name: "batch_norm",
    source: include_str!("../../shaders/batch_norm.wgsl"),
    bindings: &[Uniform, Read, Read, Read, Read, Read, ReadWrite],
};

pub(crate) static ATTENTION: KernelFamily = KernelFamily {
    name: "attention",
    source: include_str!("../../shaders/attention.wgsl"),
    bindings: &[Uniform, Read, ReadWrite, ReadWrite],
};
pub(crate) static TOKENS: KernelFamily = KernelFamily {
    name: "tokens",
    source: include_str!("../../shaders/tokens.wgsl"),
    bindings: &[Uniform, Read, Read, ReadWrite],
};

pub(crate) static MANTEL: KernelFamily = KernelFamily {
    name: "mantel",
    source: include_str!("../../shaders/mantel.wgsl"),
    bindings: &[Uniform, Read, Read, Read, ReadWrite],
};

/// Every kernel family, for shader validation and pipeline warm-up.
pub static FAMILIES: &[&KernelFamily] = &[
    &ELEMENTWISE,
    &MATMUL,
    &CONV2D,
    &POOL,
    &SOFTMAX,
    &LAYER_NORM,
    &BATCH_NORM,
    &ATTENTION,
    &TOKENS,
    &MANTEL,
];

/// Most iterations one kernel loop may run in a dispatch. llvmpipe (lavapipe) silently stops
/// shader loops after 65,535 iterations (found with a 70,001-long matmul reduction; kept as a
/// self-test case), so dispatchers split longer loops across dispatches.
pub(crate) const MAX_LOOP: usize = 32_768;

/// `[lo, hi)` ranges of at most `step` covering `0..total`.
pub(crate) fn ranges(total: usize, step: usize) -> impl Iterator<Item = (usize, usize)> {
    let step = step.max(1);
    (0..total.div_ceil(step)).map(move |i| (i * step, ((i + 1) * step).min(total)))
}

/// `(rows, cols, rows per window)` of a row-wise op over the last dimension of `shape`.
pub(crate) fn row_split(
    op: &'static str,
    shape: &[usize],
    max_window: usize,
) -> Result<(usize, usize, usize)> {
    let cols = *shape
        .last()
        .ok_or_else(|| Error::shape(op, "input is a scalar"))?;
    if shape.contains(&0) {
        return Err(Error::shape(op, format!("empty input {shape:?}")));
    }
    if cols.div_ceil(256) > MAX_LOOP {
        return Err(Error::shape(
            op,
            format!(
                "rows of {cols} values exceed the kernels' loop limit of {} per row",
                256 * MAX_LOOP
            ),
        ));
    }
    let per = max_window / cols;
    if per == 0 {
        return Err(Error::shape(
            op,
            format!("one row of {cols} values exceeds the storage binding limit"),
        ));
    }
    Ok((shape.iter().product::<usize>() / cols, cols, per))
}

/// Fails unless `shape` has `rank` dimensions, all non-zero.
pub(crate) fn expect_rank(
    op: &'static str,
    what: &str,
    shape: &[usize],
    rank: usize,
) -> Result<()> {
    if shape.len() != rank {
        return Err(Error::shape(
            op,
            format!("{what} must have {rank} dimensions, got shape {shape:?}"),
        ));
    }
    if shape.contains(&0) {
        return Err(Error::shape(
            op,
            format!("{what} has a zero-size dimension: {shape:?}"),
        ));
    }
    Ok(())
}

/// Fails unless two shapes are equal.
pub(crate) fn expect_same(
    op: &'static str,
    what: &str,
    got: &[usize],
    want: &[usize],
) -> Result<()> {
    if got != want {
        return Err(Error::shape(
            op,
            format!("{what} has shape {got:?}, expected {want:?}"),
        ));
    }
    Ok(())
}

/// Fails if an index would not fit the kernels' u32 arithmetic.
pub(crate) fn expect_u32(op: &'static str, what: &str, n: usize) -> Result<u32> {
    u32::try_from(n).map_err(|_| {
        Error::shape(
            op,
            format!("{what} = {n} exceeds the kernels' 32-bit index range"),
        )
    })
}

#[cfg(test)]
mod tests {
    use super::ranges;

    #[test]
    fn ranges_cover_everything_once() {
        let r: Vec<_> = ranges(10, 4).collect();
        assert_eq!(r, vec![(0, 4), (4, 8), (8, 10)]);
        assert_eq!(ranges(3, 100).collect::<Vec<_>>(), vec![(0, 3)]);
    }
}
