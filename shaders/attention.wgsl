// Multi-head self-attention, fused: softmax(Q·Kᵀ·scale)·V for one (batch item, head, query row)
// per workgroup, reading Q, K and V straight from the packed in-projection output and writing the
// heads merged, so no [T, T] score matrix is ever stored. Keys go in tiles of 64 with a running
// maximum and sum (online softmax); the attention probabilities are written only when asked, by
// a second pass that recomputes the scores against the final maximum and sum.

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
