//! GFLOP/s of the native CPU kernels on layer shapes from the model zoo, in rayon pools of 1 and
//! 2 threads (or the counts given as arguments):
//! `cargo run --release --example native_gemm_speed -- 1 2`.

use std::time::Instant;

use rayon::prelude::*;
use ventral::exec::native::{self, gemm::Mat};
use ventral::ops::conv::Conv2d;

fn data(len: usize) -> Vec<f32> {
    (0..len)
        .map(|i| ((i.wrapping_mul(2_654_435_761) >> 7) % 2001) as f32 / 1000.0 - 1.0)
        .collect()
}

/// Best seconds of `reps` runs after one warm-up.
fn time(reps: usize, mut f: impl FnMut()) -> f64 {
    f();
    (0..reps)
        .map(|_| {
            let t = Instant::now();
            f();
            t.elapsed().as_secs_f64()
        })
        .fold(f64::INFINITY, f64::min)
}

fn report(what: &str, flops: f64, secs: f64) {
    println!(
        "  {what:<52} {:>8.1} GFLOP/s  ({:.2} ms)",
        flops / secs / 1e9,
        secs * 1e3
    );
}

fn conv(what: &str, x_shape: [usize; 4], w_shape: [usize; 4], k_pad_stride: [usize; 2]) {
    let [pad, stride] = k_pad_stride;
    let p = Conv2d {
        stride: [stride; 2],
        padding: [pad; 2],
        relu: true,
        ..Conv2d::default()
    };
    let s = p.shape(&x_shape, &w_shape, Some(&w_shape[..1])).unwrap();
    let x = data(x_shape.iter().product());
    let w = data(w_shape.iter().product());
    let b = data(w_shape[0]);
    let mut out = vec![0f32; s.n * s.c_out * s.oh * s.ow];
    let secs = time(3, || {
        native::conv2d(&x, x_shape, &w, w_shape, Some(&b), &p, &mut out).unwrap();
    });
    let flops = 2.0 * (s.n * s.c_out * s.oh * s.ow * w_shape[1] * s.kh * s.kw) as f64;
    report(what, flops, secs);
}

/// AlexNet's layer chain (torchvision shapes, random weights) at batch `n`: seconds per batch.
fn alexnet(n: usize) -> f64 {
    use ventral::ops::pool::Pool2d;
    let convs: [(usize, usize, usize, usize, usize, bool); 5] = [
        (3, 64, 11, 4, 2, true),
        (64, 192, 5, 1, 2, true),
        (192, 384, 3, 1, 1, false),
        (384, 256, 3, 1, 1, false),
        (256, 256, 3, 1, 1, true),
    ];
    let weights: Vec<(Vec<f32>, Vec<f32>)> = convs
        .iter()
        .map(|&(c, oc, k, ..)| (data(oc * c * k * k), data(oc)))
        .collect();
    let fcs = [(9216, 4096, true), (4096, 4096, true), (4096, 1000, false)];
    let fc_weights: Vec<(Vec<f32>, Vec<f32>)> = fcs
        .iter()
        .map(|&(i, o, _)| (data(o * i), data(o)))
        .collect();
    let input = data(n * 3 * 224 * 224);
    let (mut conv_buf, mut pool_buf) = (vec![0f32; n * 64 * 55 * 55], vec![0f32; n * 64 * 27 * 27]);
    time(3, || {
        let mut cur = input.clone();
        let mut hw = 224;
        for (&(c, oc, k, stride, pad, pool), (w, b)) in convs.iter().zip(&weights) {
            let p = Conv2d {
                stride: [stride; 2],
                padding: [pad; 2],
                relu: true,
                ..Conv2d::default()
            };
            let s = p
                .shape(&[n, c, hw, hw], &[oc, c, k, k], Some(&[oc]))
                .unwrap();
            let out = &mut conv_buf[..n * oc * s.oh * s.ow];
            native::conv2d(&cur, [n, c, hw, hw], w, [oc, c, k, k], Some(b), &p, out).unwrap();
            hw = s.oh;
            if pool {
                let q = Pool2d::square(3, 2, 0);
                let [oh, _] = q.output_size("max_pool2d", hw, hw).unwrap();
                let pooled = &mut pool_buf[..n * oc * oh * oh];
                native::max_pool2d(&conv_buf[..n * oc * hw * hw], n * oc, hw, hw, &q, pooled)
                    .unwrap();
                hw = oh;
                cur = pooled.to_vec();
            } else {
                cur = out.to_vec();
            }
        }
        let mut pooled = vec![0f32; n * 256 * 36];
        native::adaptive_avg_pool2d(&cur, n * 256, hw, hw, [6, 6], &mut pooled).unwrap();
        cur = pooled;
        for (&(i, o, relu), (w, b)) in fcs.iter().zip(&fc_weights) {
            let mut out = vec![0f32; n * o];
            native::linear(&cur, n, w, [o, i], Some(b), relu, &mut out).unwrap();
            cur = out;
        }
        std::hint::black_box(&cur);
    })
}

fn main() {
    let counts: Vec<usize> = std::env::args()
        .skip(1)
        .map(|a| a.parse().expect("thread counts"))
        .collect();
    let counts = if counts.is_empty() {
        vec![1, 2]
    } else {
        counts
    };
    for threads in counts {
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .unwrap();
        println!("rayon pool of {threads} thread(s):");
        pool.install(|| {
            let n = 1024;
            let (a, b) = (data(n * n), data(n * n));
            let mut c = vec![0f32; n * n];
            let flops = 2.0 * (n * n * n) as f64;
            let secs = time(5, || {
                native::gemm::sgemm(
                    n,
                    n,
                    n,
                    Mat::rows(&a, n),
                    Mat::rows(&b, n),
                    &mut c,
                    n,
                    false,
                    1,
                )
                .unwrap();
            });
            report("sgemm 1024³, one call, no parallelism", flops, secs);
            let secs = time(5, || {
                let threads = rayon::current_num_threads();
                native::gemm::sgemm(
                    n,
                    n,
                    n,
                    Mat::rows(&a, n),
                    Mat::rows(&b, n),
                    &mut c,
                    n,
                    false,
                    threads,
                )
                .unwrap();
            });
            report("sgemm 1024³, gemm's own rayon parallelism", flops, secs);
            let secs = time(5, || {
                let per = n.div_ceil(rayon::current_num_threads()).max(1);
                c.par_chunks_mut(per * n)
                    .zip(a.par_chunks(per * n))
                    .for_each(|(c, a)| {
                        let m = a.len() / n;
                        native::gemm::sgemm(
                            m,
                            n,
                            n,
                            Mat::rows(a, n),
                            Mat::rows(&b, n),
                            c,
                            n,
                            false,
                            1,
                        )
                        .unwrap();
                    });
            });
            report("sgemm 1024³, rayon row blocks, one gemm each", flops, secs);

            conv(
                "conv AlexNet features.3 16×64×27×27→192 k5 p2",
                [16, 64, 27, 27],
                [192, 64, 5, 5],
                [2, 1],
            );
            conv(
                "conv VGG-16 features.12 16×256×56×56→256 k3 p1",
                [16, 256, 56, 56],
                [256, 256, 3, 3],
                [1, 1],
            );
            conv(
                "conv ResNet-50 16×256×14×14→256 k3 p1",
                [16, 256, 14, 14],
                [256, 256, 3, 3],
                [1, 1],
            );
            conv(
                "conv ResNet-50 1×256×14×14→256 k3 p1 (batch 1)",
                [1, 256, 14, 14],
                [256, 256, 3, 3],
                [1, 1],
            );
            conv(
                "conv ResNet-50 layer3.0.conv2 16×256×28×28 s2",
                [16, 256, 28, 28],
                [256, 256, 3, 3],
                [1, 2],
            );
            conv(
                "conv AlexNet features.0 16×3×224×224→64 k11 s4 p2",
                [16, 3, 224, 224],
                [64, 3, 11, 11],
                [2, 4],
            );
            conv(
                "conv 1×1 ResNet-50 16×256×56×56→64",
                [16, 256, 56, 56],
                [64, 256, 1, 1],
                [0, 1],
            );

            let secs = alexnet(16);
            println!(
                "  {:<52} {:>8.1} img/s    ({:.2} ms per batch; PyTorch ~113 img/s on 2 cores)",
                "AlexNet layer chain, batch 16 (incl. buffer copies)",
                16.0 / secs,
                secs * 1e3
            );

            let (items, t, heads, d) = (16, 197, 12, 64);
            let qkv = data(items * t * 3 * heads * d);
            let mut values = vec![0f32; items * t * heads * d];
            let secs = time(3, || {
                native::attention(&qkv, items, t, heads, Some(&mut values), None).unwrap();
            });
            let flops = 4.0 * (items * heads * t * t * d) as f64;
            report("attention 16×197 tokens, 12 heads of 64", flops, secs);

            let (rows, inputs, outputs) = (16, 9216, 4096);
            let x = data(rows * inputs);
            let w = data(outputs * inputs);
            let bias = data(outputs);
            let mut out = vec![0f32; rows * outputs];
            let secs = time(3, || {
                native::linear(&x, rows, &w, [outputs, inputs], Some(&bias), true, &mut out)
                    .unwrap();
            });
            report(
                "linear 16×9216→4096",
                2.0 * (rows * inputs * outputs) as f64,
                secs,
            );

            let (rows, inputs, outputs) = (16 * 197, 768, 2304);
            let x = data(rows * inputs);
            let w = data(outputs * inputs);
            let mut out = vec![0f32; rows * outputs];
            let secs = time(3, || {
                native::linear(
                    &x,
                    rows,
                    &w,
                    [outputs, inputs],
                    Some(&bias[..outputs]),
                    false,
                    &mut out,
                )
                .unwrap();
            });
            report(
                "linear ViT qkv 3152×768→2304",
                2.0 * (rows * inputs * outputs) as f64,
                secs,
            );

            let src = data(rows * 3072);
            let mut act = vec![0f32; src.len()];
            let secs = time(3, || native::gelu(&src, &mut act).unwrap());
            let what = "gelu 16×197×3072";
            let rate = src.len() as f64 / secs / 1e9;
            println!("  {what:<52} {rate:>8.2} Gelem/s  ({:.2} ms)", secs * 1e3);
        });
    }
}
