// Layer norm over the last dimension: one workgroup per row; two passes (mean, then centred
// variance) for accuracy; biased variance as in PyTorch.

struct Params {
    rows: u32,
    cols: u32,
    x_base: u32,
    out_base: u32,
    eps: f32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;         // x: [rows, cols]
@group(0) @binding(2) var<storage, read> gamma: array<f32>;     // gamma: [cols]
@group(0) @binding(3) var<storage, read> beta: array<f32>;      // beta: [cols]
@group(0) @binding(4) var<storage, read_write> out: array<f32>; // out: [rows, cols]

const WG: u32 = 64u;
var<workgroup> scratch: array<f32, 64>;

fn reduce_sum(lid: u32, v: f32) -> f32 {
    scratch[lid] = v;
    workgroupBarrier();
    for (var s = WG / 2u; s > 0u; s >>= 1u) {
        if (lid < s) { scratch[lid] += scratch[lid + s]; }
        workgroupBarrier();
    }
    let total = scratch[0];
    workgroupBarrier();
    return total;
}

@compute @workgroup_size(64)
fn layer_norm(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
              @builtin(local_invocation_id) lid: vec3<u32>) {
    let row = wid.x + wid.y * nwg.x;
    let in_range = row < p.rows;
    let xr = p.x_base + row * p.cols;
    var s = 0.0;
    if (in_range) {
        for (var c = lid.x; c < p.cols; c += WG) { s += x[xr + c]; }
    }
    let mean = reduce_sum(lid.x, s) / f32(p.cols);
    var q = 0.0;
    if (in_range) {
        for (var c = lid.x; c < p.cols; c += WG) { let d = x[xr + c] - mean; q += d * d; }
    }
    let inv_std = inverseSqrt(reduce_sum(lid.x, q) / f32(p.cols) + p.eps);
    if (in_range) {
        let orow = p.out_base + row * p.cols;
        for (var c = lid.x; c < p.cols; c += WG) {
            out[orow + c] = (x[xr + c] - mean) * inv_std * gamma[c] + beta[c];
        }
    }
}
