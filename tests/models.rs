//! Every capture point of each model family against PyTorch (weights/fixtures/models/*.json, made
//! by weights/fixtures/make_model_fixtures.py), plus capture invariance and on-device reductions,
//! each on every executor (gpu, native, reference).

mod common;

use common::fixture_rule;
use serde::Deserialize;
use ventral::models::vit::{vit, Family, VitConfig};
use ventral::models::{build, Capture, Network, Reduce};
use ventral::Engine;

#[derive(Deserialize)]
struct Fixture {
    model: String,
    input_shape: Vec<usize>,
    points: Vec<PointFixture>,
    /// ViT fixtures: the reduced model's `VitConfig` fields.
    config: Option<VitFixtureConfig>,
    /// ViT fixtures: every module path whose forward hook fires, in order.
    modules: Option<Vec<String>>,
}

#[derive(Deserialize)]
struct VitFixtureConfig {
    family: String,
    image_size: usize,
    patch: usize,
    dim: usize,
    depth: usize,
    heads: usize,
    mlp: usize,
    classes: usize,
}

#[derive(Deserialize)]
struct PointFixture {
    name: String,
    shape: Vec<usize>,
    sum: f64,
    l2: f64,
    samples: Vec<f64>,
}

fn fixture(model: &str) -> Fixture {
    let path = format!(
        "{}/weights/fixtures/models/{model}.json",
        env!("CARGO_MANIFEST_DIR")
    );
    serde_json::from_str(&std::fs::read_to_string(&path).expect(&path)).expect("fixture parses")
}

/// Worst relative L2 error over the 129 sampled values, and the norm and sum errors relative to
/// the point's L2 norm (sum error scaled by sqrt(len), the largest |sum| the norm allows).
struct Errors {
    samples: f64,
    l2: f64,
    sum: f64,
}

fn errors(got: &[f32], want: &PointFixture) -> Errors {
    let n = got.len();
    let m = want.samples.len();
    let (mut d2, mut w2) = (0.0, 0.0);
    for (j, w) in want.samples.iter().enumerate() {
        let g = f64::from(got[j * (n - 1) / (m - 1)]);
        d2 += (g - w).powi(2);
        w2 += w * w;
    }
    let l2 = got
        .iter()
        .map(|&v| f64::from(v).powi(2))
        .sum::<f64>()
        .sqrt();
    let sum: f64 = got.iter().map(|&v| f64::from(v)).sum();
    let scale = want.l2.max(1e-30);
    Errors {
        samples: d2.sqrt() / w2.sqrt().max(1e-30),
        l2: (l2 - want.l2).abs() / scale,
        sum: (sum - want.sum).abs() / (scale * (n as f64).sqrt()),
    }
}

fn check_model(engine: &Engine, model: &str) {
    let fx = fixture(model);
    assert_eq!(fx.model, model);
    let graph = match &fx.config {
        Some(c) => {
            let family = match c.family.as_str() {
                "torchvision" => Family::Torchvision,
                "timm" => Family::Timm,
                f => panic!("family {f}"),
            };
            let cfg = VitConfig {
                family,
                image_size: c.image_size,
                patch: c.patch,
                dim: c.dim,
                depth: c.depth,
                heads: c.heads,
                mlp: c.mlp,
                classes: c.classes,
            };
            vit(model, &cfg)
        }
        None => build(model).unwrap(),
    };
    let names: Vec<&str> = graph.points.iter().map(|p| p.name.as_str()).collect();
    let want_names: Vec<&str> = fx.points.iter().map(|p| p.name.as_str()).collect();
    assert_eq!(
        names, want_names,
        "{model}: capture points differ from PyTorch's hook order"
    );
    if let Some(modules) = &fx.modules {
        // Every module the forward pass calls is a point (on-request points and torchvision's
        // pre_logits come on top).
        let want: Vec<&str> = modules.iter().map(String::as_str).collect();
        let got: Vec<&str> = graph
            .points
            .iter()
            .filter(|p| !p.on_request && p.name != "pre_logits")
            .map(|p| p.name.as_str())
            .collect();
        assert_eq!(got, want, "{model}: points differ from the called modules");
    }

    let weights = fixture_rule::weights(&graph.specs);
    // Every point, the on-request ones included.
    let capture = Capture {
        points: names.iter().map(|n| n.to_string()).collect(),
        reduce: Reduce::None,
    };
    let net = Network::new(engine, graph, &weights).unwrap();
    let x = fixture_rule::rule("input", &fx.input_shape);
    let got = net.extract(&x, &fx.input_shape, &capture).unwrap();

    let mut report = Vec::new();
    let mut worst: f64 = 0.0;
    for (g, w) in got.iter().zip(&fx.points) {
        assert_eq!(
            g.len(),
            w.shape.iter().product::<usize>(),
            "{model} {}: size",
            w.name
        );
        let e = errors(g, w);
        worst = worst.max(e.samples).max(e.l2).max(e.sum);
        // f32 with different summation orders: PyTorch CPU and our kernels agree to ~1e-6.
        if e.samples > 1e-4 || e.l2 > 1e-5 || e.sum > 1e-5 {
            report.push(format!(
                "{}: samples {:.2e}, l2 {:.2e}, sum {:.2e}",
                w.name, e.samples, e.l2, e.sum
            ));
        }
    }
    eprintln!(
        "{model} on {}: {} points, worst error {worst:.2e}",
        engine.summary(),
        got.len()
    );
    assert!(
        report.is_empty(),
        "{model} differs from PyTorch:\n{}",
        report.join("\n")
    );
}

fn alexnet_matches_pytorch(e: &Engine) {
    check_model(e, "alexnet");
}
on_every_executor!(alexnet_matches_pytorch, super::alexnet_matches_pytorch);

fn vgg11_bn_matches_pytorch(e: &Engine) {
    check_model(e, "vgg11_bn");
}
on_every_executor!(vgg11_bn_matches_pytorch, super::vgg11_bn_matches_pytorch);

fn resnet18_matches_pytorch(e: &Engine) {
    check_model(e, "resnet18");
}
on_every_executor!(resnet18_matches_pytorch, super::resnet18_matches_pytorch);

fn resnet50_matches_pytorch(e: &Engine) {
    check_model(e, "resnet50");
}
on_every_executor!(resnet50_matches_pytorch, super::resnet50_matches_pytorch);

fn cornet_z_matches_pytorch(e: &Engine) {
    check_model(e, "cornet_z");
}
on_every_executor!(cornet_z_matches_pytorch, super::cornet_z_matches_pytorch);

fn deepcluster_alexnet_matches_pytorch(e: &Engine) {
    check_model(e, "deepcluster_alexnet");
}
on_every_executor!(
    deepcluster_alexnet_matches_pytorch,
    super::deepcluster_alexnet_matches_pytorch
);

fn vit_torchvision_family_matches_pytorch(e: &Engine) {
    check_model(e, "vit_tiny_torchvision");
}
on_every_executor!(
    vit_torchvision_family_matches_pytorch,
    super::vit_torchvision_family_matches_pytorch
);

fn vit_timm_family_matches_timm(e: &Engine) {
    check_model(e, "vit_tiny_timm");
}
on_every_executor!(
    vit_timm_family_matches_timm,
    super::vit_timm_family_matches_timm
);

fn vit_position_embedding_resampling_matches_timm(e: &Engine) {
    // 4×4 grid to 5×5 (upsampling) and 3×3 (antialiased downsampling).
    check_model(e, "vit_tiny_timm_40px");
    check_model(e, "vit_tiny_timm_24px");
}
on_every_executor!(
    vit_position_embedding_resampling_matches_timm,
    super::vit_position_embedding_resampling_matches_timm
);

#[test]
fn models_match_pytorch_with_operands_split_at_a_small_binding_limit() {
    // 1 MiB forces every conv, linear and pool of these models through the windowed paths.
    let Some(ctx) = common::context(Some(1 << 20)) else {
        return;
    };
    let engine = Engine::Gpu(ctx);
    check_model(&engine, "resnet18");
    check_model(&engine, "alexnet");
}

fn capturing_a_point_never_changes_another(ctx: &Engine) {
    let graph = build("resnet18").unwrap();
    let weights = fixture_rule::weights(&graph.specs);
    let all = Capture::parse(&graph, "all", Reduce::None).unwrap();
    // conv1 feeds bn1, so nothing fuses either way; layer1.0.relu:2 follows an add.
    let some = Capture::parse(
        &graph,
        "layer4.1.conv2,conv1,layer1.0.relu:2,fc",
        Reduce::None,
    )
    .unwrap();
    assert_eq!(
        some.points,
        ["conv1", "layer1.0.relu:2", "layer4.1.conv2", "fc"],
        "model order"
    );
    let net = Network::new(ctx, graph, &weights).unwrap();
    let shape = [2, 3, 40, 40];
    let x = fixture_rule::rule("input", &shape);
    let full = net.extract(&x, &shape, &all).unwrap();
    let part = net.extract(&x, &shape, &some).unwrap();
    for (name, got) in some.points.iter().zip(&part) {
        let i = all.points.iter().position(|p| p == name).unwrap();
        assert_eq!(
            got, &full[i],
            "{name} changed when other points were captured"
        );
    }

    // AlexNet: capturing the conv output (no fusion) leaves the ReLU output bitwise unchanged.
    let graph = build("alexnet").unwrap();
    let weights = fixture_rule::weights(&graph.specs);
    let net = Network::new(ctx, graph.clone(), &weights).unwrap();
    let shape = [1, 3, 64, 64];
    let x = fixture_rule::rule("input", &shape);
    let relu_only = Capture::parse(&graph, "features.1,classifier.2", Reduce::None).unwrap();
    let with_conv = Capture::parse(
        &graph,
        "features.0,features.1,classifier.1,classifier.2",
        Reduce::None,
    )
    .unwrap();
    let a = net.extract(&x, &shape, &relu_only).unwrap();
    let b = net.extract(&x, &shape, &with_conv).unwrap();
    assert_eq!(a[0], b[1]);
    assert_eq!(a[1], b[3]);
    assert!(b[0].iter().any(|&v| v < 0.0), "features.0 is pre-ReLU");
    assert!(b[1].iter().all(|&v| v >= 0.0));
}
on_every_executor!(
    capturing_a_point_never_changes_another,
    super::capturing_a_point_never_changes_another
);

/// `layers` (a comma-separated list) of `x` through `net`, reduced by `reduce`.
fn extract_points(
    net: &Network<'_>,
    x: &[f32],
    shape: &[usize],
    layers: &str,
    reduce: Reduce,
) -> Vec<Vec<f32>> {
    let capture = Capture::parse(net.graph(), layers, reduce).unwrap();
    net.extract(x, shape, &capture).unwrap()
}

fn spatial_mean_and_max_are_reduced_on_the_device(ctx: &Engine) {
    let graph = build("cornet_z").unwrap();
    let weights = fixture_rule::weights(&graph.specs);
    let net = Network::new(ctx, graph.clone(), &weights).unwrap();
    let shape = [3, 3, 37, 41];
    let x = fixture_rule::rule("input", &shape);
    let layers = "V1.conv,V2,decoder.linear";
    let full = extract_points(&net, &x, &shape, layers, Reduce::None);
    let mean = Capture::parse(&graph, layers, Reduce::Mean).unwrap();
    let max = Capture::parse(&graph, layers, Reduce::Max).unwrap();
    assert_eq!(
        mean.shapes(&graph, 37, 41).unwrap(),
        [vec![64], vec![128], vec![1000]]
    );
    let got_mean = net.extract(&x, &shape, &mean).unwrap();
    let got_max = net.extract(&x, &shape, &max).unwrap();
    let shapes = graph.shapes(3, 37, 41).unwrap();
    for (k, name) in ["V1.conv", "V2"].iter().enumerate() {
        let s = &shapes[graph.point(name).unwrap().node];
        let (c, hw) = (s[1], s[2] * s[3]);
        for img in 0..3 {
            for ch in 0..c {
                let plane = &full[k][(img * c + ch) * hw..(img * c + ch + 1) * hw];
                let m = plane.iter().map(|&v| f64::from(v)).sum::<f64>() / hw as f64;
                let mx = plane.iter().copied().fold(f32::NEG_INFINITY, f32::max);
                let gm = f64::from(got_mean[k][img * c + ch]);
                assert!(
                    (gm - m).abs() <= 1e-5 * (1.0 + m.abs()),
                    "{name} mean {gm} vs {m}"
                );
                assert_eq!(got_max[k][img * c + ch], mx, "{name} max");
            }
        }
    }
    // Flat points pass through unchanged.
    assert_eq!(got_mean[2], full[2]);
    assert_eq!(got_max[2], full[2]);
}
on_every_executor!(
    spatial_mean_and_max_are_reduced_on_the_device,
    super::spatial_mean_and_max_are_reduced_on_the_device
);

fn tiny_timm_vit() -> ventral::models::Graph {
    let cfg = VitConfig {
        family: Family::Timm,
        image_size: 32,
        patch: 8,
        dim: 24,
        depth: 2,
        heads: 2,
        mlp: 48,
        classes: 7,
    };
    vit("vit_tiny_timm", &cfg)
}

fn token_and_attention_reductions_are_done_on_the_device(ctx: &Engine) {
    let graph = tiny_timm_vit();
    let weights = fixture_rule::weights(&graph.specs);
    let net = Network::new(ctx, graph.clone(), &weights).unwrap();
    let shape = [3, 3, 32, 32];
    let (n, t, d, h) = (3, 17, 24, 2);
    let x = fixture_rule::rule("input", &shape);
    let layers = "patch_embed.proj,blocks.0.norm1,blocks.1.attn:weights,blocks.1,head";
    let full = extract_points(&net, &x, &shape, layers, Reduce::None);
    let get = |r: Reduce| {
        let c = Capture::parse(&graph, layers, r).unwrap();
        assert_eq!(
            c.shapes(&graph, 32, 32).unwrap(),
            [vec![d], vec![d], vec![h * t], vec![d], vec![7]],
            "{r:?}"
        );
        net.extract(&x, &shape, &c).unwrap()
    };
    let (cls, mean, max) = (get(Reduce::Cls), get(Reduce::Mean), get(Reduce::Max));
    let close = |a: f32, b: f64, what: &str| {
        assert!(
            (f64::from(a) - b).abs() <= 1e-5 * (1.0 + b.abs()),
            "{what}: {a} vs {b}"
        )
    };
    // Tokens [N, T, D]: class token, mean and max over tokens.
    for k in [1, 3] {
        for img in 0..n {
            for e in 0..d {
                let col: Vec<f32> = (0..t).map(|j| full[k][(img * t + j) * d + e]).collect();
                assert_eq!(cls[k][img * d + e], col[0], "cls");
                let m = col.iter().map(|&v| f64::from(v)).sum::<f64>() / t as f64;
                close(mean[k][img * d + e], m, "token mean");
                let mx = col.iter().copied().fold(f32::NEG_INFINITY, f32::max);
                assert_eq!(max[k][img * d + e], mx, "token max");
            }
        }
    }
    // Attention [N, H, T, T]: the class token's query row; mean over queries (each row sums to 1,
    // so the mean row does too).
    for img in 0..n {
        for head in 0..h {
            let base = (img * h + head) * t * t;
            for j in 0..t {
                let i = (img * h + head) * t + j;
                assert_eq!(cls[2][i], full[2][base + j], "cls query row");
                let m = (0..t)
                    .map(|q| f64::from(full[2][base + q * t + j]))
                    .sum::<f64>()
                    / t as f64;
                close(mean[2][i], m, "query mean");
            }
            let row_sum: f64 = (0..t)
                .map(|j| f64::from(mean[2][(img * h + head) * t + j]))
                .sum();
            assert!((row_sum - 1.0).abs() < 1e-5, "{row_sum}");
        }
    }
    // The patch-embedding map is averaged over space under cls; vectors pass through.
    assert_eq!(cls[0], mean[0]);
    assert_eq!(cls[4], full[4]);
}
on_every_executor!(
    token_and_attention_reductions_are_done_on_the_device,
    super::token_and_attention_reductions_are_done_on_the_device
);

fn vit_capture_lists_and_random_init(ctx: &Engine) {
    let graph = tiny_timm_vit();
    let all = Capture::parse(&graph, "all", Reduce::None).unwrap();
    assert!(
        all.points.iter().all(|p| !p.contains(':')),
        "all leaves out q/k/v/weights"
    );
    assert_eq!(all.points.len(), graph.points.len() - 2 * 4);
    let e = Capture::parse(&build("alexnet").unwrap(), "all", Reduce::Cls).unwrap_err();
    assert!(e.to_string().contains("class token"), "{e}");

    // Seeded random init: finite activations; torchvision zeroes its head, so logits are 0.
    let cfg = VitConfig {
        family: Family::Torchvision,
        image_size: 32,
        patch: 8,
        dim: 24,
        depth: 1,
        heads: 3,
        mlp: 40,
        classes: 5,
    };
    let tv = vit("tv", &cfg);
    let w = ventral::weights::Weights::random(&tv.specs, 3);
    let pos = w.get("encoder.pos_embedding").unwrap();
    let sd = (pos.data.iter().map(|v| f64::from(*v).powi(2)).sum::<f64>() / pos.data.len() as f64)
        .sqrt();
    assert!((sd - 0.02).abs() < 0.004, "pos_embedding std {sd}");
    let net = Network::new(ctx, tv.clone(), &w).unwrap();
    let shape = [2, 3, 32, 32];
    let x = fixture_rule::rule("input", &shape);
    let c = Capture::parse(&tv, "encoder.ln,heads", Reduce::Cls).unwrap();
    let out = net.extract(&x, &shape, &c).unwrap();
    assert!(out[0].iter().all(|v| v.is_finite()) && out[0].iter().any(|&v| v != 0.0));
    assert!(out[1].iter().all(|&v| v == 0.0), "zero-initialised head");
}
on_every_executor!(
    vit_capture_lists_and_random_init,
    super::vit_capture_lists_and_random_init
);

/// The native executor gives bitwise the same activations for any thread count and any batch
/// split (each image's arithmetic never depends on the others or on how work is divided).
#[test]
fn native_outputs_are_bitwise_identical_across_threads_and_batches() {
    use ventral::exec::NativeExecutor;
    let graphs = [
        (build("alexnet").unwrap(), 67),
        (build("resnet18").unwrap(), 40),
        (tiny_timm_vit(), 32),
    ];
    for (graph, px) in graphs {
        let weights = fixture_rule::weights(&graph.specs);
        let capture = Capture::parse(&graph, "all", Reduce::None).unwrap();
        let shape = [3, 3, px, px];
        let x = fixture_rule::rule("input", &shape);
        let run = |threads: usize, batches: &[usize]| -> Vec<Vec<f32>> {
            let engine = Engine::Native(NativeExecutor::new(threads).unwrap());
            let net = Network::new(&engine, graph.clone(), &weights).unwrap();
            let per = 3 * px * px;
            let mut out: Vec<Vec<f32>> = vec![Vec::new(); capture.points.len()];
            let mut lo = 0;
            for &b in batches {
                let got = net
                    .extract(&x[lo * per..(lo + b) * per], &[b, 3, px, px], &capture)
                    .unwrap();
                for (o, g) in out.iter_mut().zip(got) {
                    o.extend(g);
                }
                lo += b;
            }
            out
        };
        let want = run(1, &[3]);
        for (threads, batches) in [(2, &[3][..]), (3, &[1, 2][..]), (2, &[1, 1, 1][..])] {
            let got = run(threads, batches);
            for ((name, g), w) in capture.points.iter().zip(&got).zip(&want) {
                let same =
                    g.len() == w.len() && g.iter().zip(w).all(|(a, b)| a.to_bits() == b.to_bits());
                assert!(
                    same,
                    "{} {name}: {threads} threads, batches {batches:?} differ from 1 thread, one batch",
                    graph.model
                );
            }
        }
    }
}
