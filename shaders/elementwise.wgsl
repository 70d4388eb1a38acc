// Elementwise kernels over a flat range of `n` elements: relu, gelu (exact erf form), add, scale.
// The host splits tensors larger than one storage binding into windows; each *_base is the element
// index of the window's logical start.

struct Params {
    n: u32,        // elements in this dispatch
    x_base: u32,
    y_base: u32,
    out_base: u32,
    alpha: f32,    // scale: out = alpha * x + beta
    beta: f32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;        // x: [n]
@group(0) @binding(2) var<storage, read> y: array<f32>;        // y: [n] (add only)
@group(0) @binding(3) var<storage, read_write> out: array<f32>; // out: [n]

const WG: u32 = 256u;

fn index(wid: vec3<u32>, nwg: vec3<u32>, lid: vec3<u32>) -> u32 {
    return (wid.x + wid.y * nwg.x) * WG + lid.x;
}

// erf with |error| < 1.2e-7 (Numerical Recipes erfc, Chebyshev fit), enough for f32 GELU.
fn erf_approx(v: f32) -> f32 {
    let z = abs(v);
    let t = 1.0 / (1.0 + 0.5 * z);
    let r = t * exp(-z * z - 1.26551223 + t * (1.00002368 + t * (0.37409196 + t * (0.09678418
        + t * (-0.18628806 + t * (0.27886807 + t * (-1.13520398 + t * (1.48851587
        + t * (-0.82215223 + t * 0.17087277)))))))));
    return select(r - 1.0, 1.0 - r, v >= 0.0);
}

@compute @workgroup_size(256)
fn relu(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_id) lid: vec3<u32>) {
    let i = index(wid, nwg, lid);
    if (i >= p.n) { return; }
    let v = x[p.x_base + i];
    // NaN stays NaN, as in PyTorch.
    out[p.out_base + i] = select(0.0, v, !(v <= 0.0));
}

@compute @workgroup_size(256)
fn gelu(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_id) lid: vec3<u32>) {
    let i = index(wid, nwg, lid);
    if (i >= p.n) { return; }
    let v = x[p.x_base + i];
    out[p.out_base + i] = 0.5 * v * (1.0 + erf_approx(v * 0.70710678118654752));
}

@compute @workgroup_size(256)
fn add(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
       @builtin(local_invocation_id) lid: vec3<u32>) {
    let i = index(wid, nwg, lid);
    if (i >= p.n) { return; }
    out[p.out_base + i] = x[p.x_base + i] + y[p.y_base + i];
}

@compute @workgroup_size(256)
fn scale(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
         @builtin(local_invocation_id) lid: vec3<u32>) {
    let i = index(wid, nwg, lid);
    if (i >= p.n) { return; }
    out[p.out_base + i] = p.alpha * x[p.x_base + i] + p.beta;
}
