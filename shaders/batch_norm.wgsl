// Batch norm in inference mode over [N, C, inner]: y = (x - mean[c]) / sqrt(var[c] + eps) * gamma[c] + beta[c].

struct Params {
    n: u32,          // elements in this dispatch
    channels: u32,
    inner: u32,      // H * W (1 for [N, C])
    start: u32,      // global element index of this dispatch's first element (gives the channel)
    x_base: u32,
    out_base: u32,
    eps: f32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;         // x: [n] window of [N, C, inner]
@group(0) @binding(2) var<storage, read> mean: array<f32>;      // mean: [C]
@group(0) @binding(3) var<storage, read> var_: array<f32>;      // var: [C]
@group(0) @binding(4) var<storage, read> gamma: array<f32>;     // gamma: [C]
@group(0) @binding(5) var<storage, read> beta: array<f32>;      // beta: [C]
@group(0) @binding(6) var<storage, read_write> out: array<f32>; // out: [n]

@compute @workgroup_size(256)
fn batch_norm(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
              @builtin(local_invocation_id) lid: vec3<u32>) {
    let i = (wid.x + wid.y * nwg.x) * 256u + lid.x;
    if (i >= p.n) { return; }
    let c = ((p.start + i) / p.inner) % p.channels;
    let inv_std = 1.0 / sqrt(var_[c] + p.eps);
    out[p.out_base + i] = (x[p.x_base + i] - mean[c]) * inv_std * gamma[c] + beta[c];
}
