// Softmax over the last dimension: one workgroup per row, max-subtracted, sums in a tree.

struct Params {
    rows: u32,
    cols: u32,
    x_base: u32,
    out_base: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;         // x: [rows, cols]
@group(0) @binding(2) var<storage, read_write> out: array<f32>; // out: [rows, cols]

const WG: u32 = 64u;
var<workgroup> scratch: array<f32, 64>;

@compute @workgroup_size(64)
fn softmax_rows(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
                @builtin(local_invocation_id) lid: vec3<u32>) {
    let row = wid.x + wid.y * nwg.x;
    // `row` is uniform across the workgroup, so every invocation reaches every barrier.
    let in_range = row < p.rows;
    let xr = p.x_base + row * p.cols;
    var m = -3.4028235e38;
    if (in_range) {
        for (var c = lid.x; c < p.cols; c += WG) { m = max(m, x[xr + c]); }
    }
    scratch[lid.x] = m;
    workgroupBarrier();
    for (var s = WG / 2u; s > 0u; s >>= 1u) {
        if (lid.x < s) { scratch[lid.x] = max(scratch[lid.x], scratch[lid.x + s]); }
        workgroupBarrier();
    }
    let row_max = scratch[0];
    workgroupBarrier();
    var sum = 0.0;
    if (in_range) {
        for (var c = lid.x; c < p.cols; c += WG) { sum += exp(x[xr + c] - row_max); }
    }
    scratch[lid.x] = sum;
    workgroupBarrier();
    for (var s = WG / 2u; s > 0u; s >>= 1u) {
        if (lid.x < s) { scratch[lid.x] += scratch[lid.x + s]; }
        workgroupBarrier();
    }
    let inv = 1.0 / scratch[0];
    if (in_range) {
        let orow = p.out_base + row * p.cols;
        for (var c = lid.x; c < p.cols; c += WG) { out[orow + c] = exp(x[xr + c] - row_max) * inv; }
    }
}
