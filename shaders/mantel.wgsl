// Permuted dot products of the Mantel test, one workgroup per (permutation k, model l):
//   stat[k, l] = Σ_{i<j} a[l, pair(i, j)] · b[perm[k, i], perm[k, j]]
// pair(i, j) = n·i − i(i+1)/2 + (j − i − 1) is the condensed (upper-triangle, row-major) index.
// Rows i are spread over the workgroup's invocations; partial sums meet in workgroup memory.

struct Params {
    n: u32,          // stimuli
    m: u32,          // pairs, n(n−1)/2
    models: u32,     // model rows in `a`
    perms: u32,      // permutations in this dispatch
    a_base: u32,
    b_base: u32,
    perm_base: u32,
    out_base: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> a: array<f32>;        // a: [models, m] prepared model RDMs
@group(0) @binding(2) var<storage, read> b: array<f32>;        // b: [n, n] prepared subject RDM (square)
@group(0) @binding(3) var<storage, read> perm: array<u32>;     // perm: [perms, n] stimulus permutations
@group(0) @binding(4) var<storage, read_write> out: array<f32>; // out: [perms, models]

const WG: u32 = 256u;
var<workgroup> partial: array<f32, 256>;

@compute @workgroup_size(256)
fn permuted_dot(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
                @builtin(local_invocation_id) lid: vec3<u32>) {
    let g = wid.x + wid.y * nwg.x;
    let k = g / p.models;
    let l = g % p.models;
    // Uniform control flow: every invocation reaches the barriers, out-of-range groups add nothing.
    let in_range = k < p.perms;
    let pk = p.perm_base + min(k, p.perms - 1u) * p.n;
    let al = p.a_base + l * p.m;
    var acc = 0.0;
    if (in_range) {
        for (var i = lid.x; i + 1u < p.n; i += WG) {
            let row = p.b_base + perm[pk + i] * p.n;
            let base = al + p.n * i - i * (i + 1u) / 2u - i - 1u;
            for (var j = i + 1u; j < p.n; j++) {
                acc += a[base + j] * b[row + perm[pk + j]];
            }
        }
    }
    partial[lid.x] = acc;
    workgroupBarrier();
    for (var s = WG / 2u; s > 0u; s >>= 1u) {
        if (lid.x < s) { partial[lid.x] += partial[lid.x + s]; }
        workgroupBarrier();
    }
    if (in_range && lid.x == 0u) { out[p.out_base + k * p.models + l] = partial[0]; }
}
