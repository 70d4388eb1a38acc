//! The WGSL path of the Mantel test for the dot-product methods (Pearson, Spearman, ρa, cosine):
//! permutations along the dispatch grid, one workgroup per (permutation, model), one dispatch per
//! subject and chunk of permutations. Same prepared vectors, same seeded permutations and the same
//! counting as the CPU path; statistics are f32 sums on the GPU (the CPU path sums in f64), so the
//! two agree to f32 rounding and their p-values differ only where a permuted statistic lies within
//! that rounding of the observed one. Kendall's τ stays on the CPU.

use super::compare::Method;
use super::mantel::{
    is_extreme, permutation, square, table, to_f32, transform, validate, MantelOptions, MantelTable,
};
use crate::error::{Error, Result};
use crate::gpu::Context;
use crate::ops::{expect_u32, ranges, MANTEL};

/// Relative slack for ties between f32 sums of the same terms in different order.
const F32_SLACK: f64 = 1e-6;

/// [`super::mantel::mantel`] on the GPU (dot-product methods only).
pub fn mantel_gpu(
    ctx: &Context,
    models: &[Vec<f64>],
    subjects: &[Vec<f64>],
    n: usize,
    opts: &MantelOptions,
) -> Result<MantelTable> {
    if matches!(opts.method, Method::KendallTauA | Method::KendallTauB) {
        return Err(Error::Invalid(
            "the GPU Mantel path computes dot-product methods; Kendall's τ runs on the CPU".into(),
        ));
    }
    let m = validate(models, subjects, n)?;
    expect_u32("mantel", "stimuli", n)?;
    let (nm, ns) = (models.len(), subjects.len());
    let a: Vec<f32> = models
        .iter()
        .flat_map(|v| to_f32(&transform(v, opts.method)))
        .collect();
    let a_t = ctx.upload(&a, &[nm, m])?;
    let limit = ctx.max_binding_bytes() as usize / 4;
    if nm * m > limit {
        return Err(Error::TooLarge {
            what: format!("{nm} model RDMs of {m} pairs for the GPU Mantel path"),
            bytes: (nm * m * 4) as u64,
            limit: ctx.max_binding_bytes(),
        });
    }
    let squares: Vec<_> = subjects
        .iter()
        .map(|s| ctx.upload(&square(&to_f32(&transform(s, opts.method)), n), &[n, n]))
        .collect::<Result<_>>()?;

    // Permutation 0 is the identity (the observed statistics, computed the same way).
    let total = opts.permutations + 1;
    let per_dispatch = (limit / n).min(limit / nm).clamp(1, 65_535);
    let mut stats = vec![0f32; ns * total * nm];
    for (k0, k1) in ranges(total, per_dispatch) {
        let perms: Vec<u32> = (k0..k1)
            .flat_map(|k| {
                if k == 0 {
                    (0..n as u32).collect()
                } else {
                    permutation(opts.seed, k as u64 - 1, n)
                }
            })
            .collect();
        let perm_t = ctx.upload(bytemuck::cast_slice(&perms), &[k1 - k0, n])?;
        let outs = ctx.run(|rec| {
            squares
                .iter()
                .map(|sq| {
                    let out = rec.context().empty(&[k1 - k0, nm])?;
                    let (aw, ab) = rec.window(&a_t, 0, nm * m)?;
                    let (bw, bb) = rec.window(sq, 0, n * n)?;
                    let (pw, pb) = rec.window(&perm_t, 0, (k1 - k0) * n)?;
                    let (ow, ob) = rec.window(&out, 0, (k1 - k0) * nm)?;
                    let params = [
                        n as u32,
                        m as u32,
                        nm as u32,
                        (k1 - k0) as u32,
                        ab,
                        bb,
                        pb,
                        ob,
                    ];
                    let groups = rec.grid((k1 - k0) * nm)?;
                    rec.dispatch(
                        &MANTEL,
                        "permuted_dot",
                        &[],
                        &params,
                        vec![Some(aw), Some(bw), Some(pw), Some(ow)],
                        groups,
                    )?;
                    Ok(out)
                })
                .collect::<Result<Vec<_>>>()
        })?;
        let read = ctx.read_many(&outs.iter().collect::<Vec<_>>())?;
        for (si, r) in read.iter().enumerate() {
            let at = (si * total + k0) * nm;
            stats[at..at + r.len()].copy_from_slice(r);
        }
    }
    // Per permutation: subject-major statistics, then each model's mean over subjects.
    let row = |k: usize| -> Vec<f64> {
        let mut v: Vec<f64> = (0..ns)
            .flat_map(|si| (0..nm).map(move |mi| (si, mi)))
            .map(|(si, mi)| f64::from(stats[(si * total + k) * nm + mi]))
            .collect();
        for mi in 0..nm {
            v.push((0..ns).map(|si| v[si * nm + mi]).sum::<f64>() / ns as f64);
        }
        v
    };
    let observed = row(0);
    let mut counts = vec![0usize; observed.len()];
    for k in 1..total {
        for (c, (s, o)) in counts.iter_mut().zip(row(k).iter().zip(&observed)) {
            *c += usize::from(is_extreme(opts.alternative, *s, *o, F32_SLACK));
        }
    }
    Ok(table(models, subjects, opts, &counts))
}
