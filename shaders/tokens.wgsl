// Token layout kernels for transformers: patch grid → token sequence with class token and position
// embedding, a column slice of rows (class token, q / k / v), and a mean or max over tokens (over a
// chunk of the tokens when a whole sequence does not fit one binding, accumulating onto `out`).
// One invocation per output element; *_base is the element index of a window's logical start.

struct Params {
    a: u32,         // patch_tokens: items;  slice: rows;  reduce: items
    b: u32,         // patch_tokens: T;      slice: input row length;  reduce: T
    c: u32,         // patch_tokens: D;      slice: offset in the row; reduce: D
    d: u32,         //                       slice: width;             reduce: bit 0 max (else mean), bit 1 accumulate onto out
    e: u32,         //                                                 reduce: tokens in the whole sequence (the mean's divisor)
    x_base: u32,
    y_base: u32,
    out_base: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;         // patch_tokens: [items, D, T−1]; slice: [rows, len]; reduce: [items, T, D]
@group(0) @binding(2) var<storage, read> y: array<f32>;         // patch_tokens: class token [D] then position embedding [T, D]
@group(0) @binding(3) var<storage, read_write> out: array<f32>; // patch_tokens: [items, T, D]; slice: [rows, width]; reduce: [items, D]

const WG: u32 = 256u;

fn index(wid: vec3<u32>, nwg: vec3<u32>, lid: vec3<u32>) -> u32 {
    return (wid.x + wid.y * nwg.x) * WG + lid.x;
}

@compute @workgroup_size(256)
fn patch_tokens(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
                @builtin(local_invocation_id) lid: vec3<u32>) {
    let i = index(wid, nwg, lid);
    let tokens = p.b;
    let dim = p.c;
    if (i >= p.a * tokens * dim) { return; }
    let e = i % dim;
    let t = (i / dim) % tokens;
    let n = i / (dim * tokens);
    var v = y[p.y_base + e];
    if (t > 0u) { v = x[p.x_base + (n * dim + e) * (tokens - 1u) + t - 1u]; }
    out[p.out_base + i] = v + y[p.y_base + dim + t * dim + e];
}

@compute @workgroup_size(256)
fn slice_cols(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
              @builtin(local_invocation_id) lid: vec3<u32>) {
    let i = index(wid, nwg, lid);
    if (i >= p.a * p.d) { return; }
    let r = i / p.d;
    out[p.out_base + i] = x[p.x_base + r * p.b + p.c + i % p.d];
}

// [items, T, H·d] → [items, H, T, d]; b = T, c = H, d = head width.
@compute @workgroup_size(256)
fn split_heads(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
               @builtin(local_invocation_id) lid: vec3<u32>) {
    let i = index(wid, nwg, lid);
    let item = p.b * p.c * p.d;
    if (i >= p.a * item) { return; }
    let r = i % item;
    let j = r % p.d;
    let t = (r / p.d) % p.b;
    let h = r / (p.d * p.b);
    out[p.out_base + i] = x[p.x_base + (i - r) + (t * p.c + h) * p.d + j];
}

@compute @workgroup_size(256)
fn reduce_tokens(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
                 @builtin(local_invocation_id) lid: vec3<u32>) {
    let i = index(wid, nwg, lid);
    let tokens = p.b;
    let dim = p.c;
    if (i >= p.a * dim) { return; }
    let n = i / dim;
    let base = p.x_base + n * tokens * dim + i % dim;
    var s = 0.0;
    var m = x[base];
    for (var t = 0u; t < tokens; t++) {
        let v = x[base + t * dim];
        s += v;
        m = max(m, v);
    }
    let is_max = (p.d & 1u) != 0u;
    var r = select(s / f32(p.e), m, is_max);
    if ((p.d & 2u) != 0u) {
        let prev = out[p.out_base + i];
        r = select(prev + r, max(prev, r), is_max);
    }
    out[p.out_base + i] = r;
}
