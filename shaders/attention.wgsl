// Multi-head self-attention, fused: softmax(Q·Kᵀ·scale)·V, reading Q, K and V straight from the
// packed in-projection output and writing the heads merged, so no [T, T] score matrix is ever
// stored. Keys are visited with a running maximum and sum (online softmax); the attention
// probabilities are written only when asked, by a second pass that recomputes the scores against
// the final maximum and sum. Two entry points:
// - `attention_rows` (head dim ≤ 128): one invocation per query row, 64 queries of one (item,
//   head) per workgroup, no barriers; the workgroup's invocations read the same key and value rows
//   together.
// - `attention` (head dim ≤ 256): one workgroup per query row, keys in tiles of 64 scored in
//   parallel, reductions in workgroup memory.

struct Params {
    items: u32,     // batch items in this dispatch
    tokens: u32,    // T
    heads: u32,     // H
    head_dim: u32,  // d (at most 256)
    qkv_base: u32,
    out_base: u32,
    w_base: u32,
    scale: f32,     // 1/sqrt(d)
    flags: u32,     // bit 0: write the output; bit 1: write the probabilities
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> qkv: array<f32>;      // qkv: [items, T, 3·H·d] (q | k | v, head-major inside each)
@group(0) @binding(2) var<storage, read_write> out: array<f32>; // out: [items, T, H·d]
@group(0) @binding(3) var<storage, read_write> w: array<f32>;   // w: [items, H, T, T] (probabilities)

const WG: u32 = 64u;
const NEG: f32 = -3.4028235e38;
const ROW_DIM: u32 = 128u;
var<workgroup> q: array<f32, 256>;
var<workgroup> prob: array<f32, 64>;
var<workgroup> scratch: array<f32, 64>;

fn reduce(lid: u32, v: f32, is_max: bool) -> f32 {
    scratch[lid] = v;
    workgroupBarrier();
    for (var s = WG / 2u; s > 0u; s >>= 1u) {
        if (lid < s) {
            let o = scratch[lid + s];
            scratch[lid] = select(scratch[lid] + o, max(scratch[lid], o), is_max);
        }
        workgroupBarrier();
    }
    let r = scratch[0];
    workgroupBarrier();
    return r;
}

fn score(row0: u32, j: u32, width: u32, koff: u32) -> f32 {
    let k = row0 + j * width + koff;
    var s = 0.0;
    for (var i = 0u; i < p.head_dim; i++) { s += q[i] * qkv[k + i]; }
    return s * p.scale;
}

@compute @workgroup_size(64)
fn attention(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
             @builtin(local_invocation_id) lid3: vec3<u32>) {
    let lid = lid3.x;
    let id = wid.x + wid.y * nwg.x;
    // `id` is uniform across the workgroup, so this return keeps barriers uniform.
    if (id >= p.items * p.heads * p.tokens) { return; }
    let t = id % p.tokens;
    let h = (id / p.tokens) % p.heads;
    let n = id / (p.tokens * p.heads);
    let d = p.head_dim;
    let width = 3u * p.heads * d;
    let row0 = p.qkv_base + n * p.tokens * width;
    let koff = p.heads * d + h * d;
    let voff = 2u * p.heads * d + h * d;
    for (var i = lid; i < d; i += WG) { q[i] = qkv[row0 + t * width + h * d + i]; }
    workgroupBarrier();

    var m = NEG;
    var l = 0.0;
    var acc = array<f32, 4>(0.0, 0.0, 0.0, 0.0);
    for (var j0 = 0u; j0 < p.tokens; j0 += WG) {
        let j = j0 + lid;
        var s = NEG;
        if (j < p.tokens) { s = score(row0, j, width, koff); }
        let m_new = max(m, reduce(lid, s, true));
        let e = select(0.0, exp(s - m_new), j < p.tokens);
        prob[lid] = e;
        let corr = exp(m - m_new);
        l = l * corr + reduce(lid, e, false);
        let len = min(WG, p.tokens - j0);
        for (var c = 0u; c < 4u; c++) {
            let i = lid + c * WG;
            if (i < d) {
                var a = acc[c] * corr;
                for (var jj = 0u; jj < len; jj++) {
                    a += prob[jj] * qkv[row0 + (j0 + jj) * width + voff + i];
                }
                acc[c] = a;
            }
        }
        m = m_new;
        workgroupBarrier();
    }
    let inv = 1.0 / l;
    if ((p.flags & 1u) != 0u) {
        let o = p.out_base + (n * p.tokens + t) * p.heads * d + h * d;
        for (var c = 0u; c < 4u; c++) {
            let i = lid + c * WG;
            if (i < d) { out[o + i] = acc[c] * inv; }
        }
    }
    if ((p.flags & 2u) != 0u) {
        let o = p.w_base + ((n * p.heads + h) * p.tokens + t) * p.tokens;
        for (var j = lid; j < p.tokens; j += WG) {
            w[o + j] = exp(score(row0, j, width, koff) - m) * inv;
        }
    }
}

@compute @workgroup_size(64)
fn attention_rows(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
                  @builtin(local_invocation_id) lid: vec3<u32>) {
    let blocks = (p.tokens + WG - 1u) / WG;
    let id = wid.x + wid.y * nwg.x;
    if (id >= p.items * p.heads * blocks) { return; }
    let t = (id % blocks) * WG + lid.x;
    if (t >= p.tokens) { return; }
    let h = (id / blocks) % p.heads;
    let n = id / (blocks * p.heads);
    let d = p.head_dim;
    let width = 3u * p.heads * d;
    let row0 = p.qkv_base + n * p.tokens * width;
    let koff = p.heads * d + h * d;
    let voff = 2u * p.heads * d + h * d;
    var qr: array<f32, ROW_DIM>;
    var acc: array<f32, ROW_DIM>;
    let qrow = row0 + t * width + h * d;
    for (var i = 0u; i < d; i++) {
        qr[i] = qkv[qrow + i] * p.scale;
        acc[i] = 0.0;
    }
    var m = NEG;
    var l = 0.0;
    for (var j = 0u; j < p.tokens; j++) {
        let k = row0 + j * width + koff;
        var s = 0.0;
        for (var i = 0u; i < d; i++) { s += qr[i] * qkv[k + i]; }
        let m_new = max(m, s);
        let corr = exp(m - m_new);
        let e = exp(s - m_new);
        l = l * corr + e;
        let v = row0 + j * width + voff;
        for (var i = 0u; i < d; i++) { acc[i] = acc[i] * corr + e * qkv[v + i]; }
        m = m_new;
    }
    let inv = 1.0 / l;
    if ((p.flags & 1u) != 0u) {
        let o = p.out_base + (n * p.tokens + t) * p.heads * d + h * d;
        for (var i = 0u; i < d; i++) { out[o + i] = acc[i] * inv; }
    }
    if ((p.flags & 2u) != 0u) {
        let o = p.w_base + ((n * p.heads + h) * p.tokens + t) * p.tokens;
        for (var j = 0u; j < p.tokens; j++) {
            let k = row0 + j * width + koff;
            var s = 0.0;
            for (var i = 0u; i < d; i++) { s += qr[i] * qkv[k + i]; }
            w[o + j] = exp(s - m) * inv;
        }
    }
}
