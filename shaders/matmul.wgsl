// C[b] = A[b] · B[b] (+ bias) (+ C_old) (ReLU), with strided operands:
//   A(m, k) = a[a_base + b*a_bstride + m*lda + k]
//   B(k, n) = bmat[b_base + b*b_bstride + k*sbk + n*sbn]    (sbk = N, sbn = 1: plain;
//                                                            sbk = 1, sbn = K: transposed, X·Xᵀ form)
//   C(m, n) = c[c_base + b*c_bstride + m*ldc + n]
// Batch index is workgroup_id.z. Two variants share this layout:
//   matmul_reg:    each invocation keeps a 4×4 block of C in registers, no shared memory (the fast
//                  shape on CPU adapters such as lavapipe, where invocations are SIMD lanes);
//   matmul_shared: 16×16 invocations cooperatively stage 64×16 / 16×64 tiles in workgroup memory,
//                  each invocation computing 4×4 (the fast shape on discrete GPUs).

struct Params {
    m: u32,
    n: u32,
    k: u32,
    a_base: u32,
    lda: u32,
    a_bstride: u32,
    b_base: u32,
    sbk: u32,
    sbn: u32,
    b_bstride: u32,
    c_base: u32,
    ldc: u32,
    c_bstride: u32,
    bias_base: u32,
    flags: u32,     // bit 0: add bias[n], bit 1: ReLU, bit 2: accumulate onto C
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> a: array<f32>;       // a: [batch, m, k] (strided)
@group(0) @binding(2) var<storage, read> bmat: array<f32>;    // b: [batch, k, n] or [batch, n, k]
@group(0) @binding(3) var<storage, read> bias: array<f32>;    // bias: [n]
@group(0) @binding(4) var<storage, read_write> c: array<f32>; // c: [batch, m, n] (row stride ldc)

fn store(batch: u32, row: u32, col: u32, acc: f32) {
    if (row >= p.m || col >= p.n) { return; }
    let ci = p.c_base + batch * p.c_bstride + row * p.ldc + col;
    var v = acc;
    if ((p.flags & 4u) != 0u) { v += c[ci]; }
    if ((p.flags & 1u) != 0u) { v += bias[p.bias_base + col]; }
    if ((p.flags & 2u) != 0u) { v = select(0.0, v, !(v <= 0.0)); }
    c[ci] = v;
}

@compute @workgroup_size(8, 8, 1)
fn matmul_reg(@builtin(global_invocation_id) gid: vec3<u32>) {
    let row0 = gid.y * 4u;
    let col0 = gid.x * 4u;
    if (row0 >= p.m || col0 >= p.n) { return; }
    let batch = gid.z;
    // Out-of-range rows/columns read the last valid one (no branches in the loop); never stored.
    let ab = p.a_base + batch * p.a_bstride;
    let a0 = ab + min(row0, p.m - 1u) * p.lda;
    let a1 = ab + min(row0 + 1u, p.m - 1u) * p.lda;
    let a2 = ab + min(row0 + 2u, p.m - 1u) * p.lda;
    let a3 = ab + min(row0 + 3u, p.m - 1u) * p.lda;
    let bb = p.b_base + batch * p.b_bstride;
    let b0 = bb + min(col0, p.n - 1u) * p.sbn;
    let b1 = bb + min(col0 + 1u, p.n - 1u) * p.sbn;
    let b2 = bb + min(col0 + 2u, p.n - 1u) * p.sbn;
    let b3 = bb + min(col0 + 3u, p.n - 1u) * p.sbn;
    var c0 = vec4<f32>(0.0);
    var c1 = vec4<f32>(0.0);
    var c2 = vec4<f32>(0.0);
    var c3 = vec4<f32>(0.0);
    for (var kk = 0u; kk < p.k; kk++) {
        let ko = kk * p.sbk;
        let bv = vec4<f32>(bmat[b0 + ko], bmat[b1 + ko], bmat[b2 + ko], bmat[b3 + ko]);
        c0 += a[a0 + kk] * bv;
        c1 += a[a1 + kk] * bv;
        c2 += a[a2 + kk] * bv;
        c3 += a[a3 + kk] * bv;
    }
    let rows = array<vec4<f32>, 4>(c0, c1, c2, c3);
    for (var i = 0u; i < 4u; i++) {
        for (var j = 0u; j < 4u; j++) { store(batch, row0 + i, col0 + j, rows[i][j]); }
    }
}

const TILE: u32 = 64u;
const KT: u32 = 16u;
var<workgroup> tile_a: array<f32, 1024>; // [TILE rows][KT]
var<workgroup> tile_b: array<f32, 1024>; // [KT][TILE cols]

@compute @workgroup_size(16, 16, 1)
fn matmul_shared(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>) {
    let batch = wid.z;
    let row_t = wid.y * TILE;
    let col_t = wid.x * TILE;
    let ab = p.a_base + batch * p.a_bstride;
    let bb = p.b_base + batch * p.b_bstride;
    let flat = lid.y * 16u + lid.x;
    var acc: array<vec4<f32>, 4>;
    for (var i = 0u; i < 4u; i++) { acc[i] = vec4<f32>(0.0); }
    for (var k0 = 0u; k0 < p.k; k0 += KT) {
        for (var l = 0u; l < 4u; l++) {
            let e = flat + l * 256u;
            // A tile: row e / KT, column e % KT.
            let ar = row_t + e / KT;
            let ak = k0 + e % KT;
            tile_a[e] = select(0.0, a[ab + min(ar, p.m - 1u) * p.lda + min(ak, p.k - 1u)],
                               ar < p.m && ak < p.k);
            // B tile: row (k) e / TILE, column e % TILE.
            let bk = k0 + e / TILE;
            let bn = col_t + e % TILE;
            tile_b[e] = select(0.0, bmat[bb + min(bk, p.k - 1u) * p.sbk + min(bn, p.n - 1u) * p.sbn],
                               bk < p.k && bn < p.n);
        }
        workgroupBarrier();
        for (var kk = 0u; kk < KT; kk++) {
            let bv = vec4<f32>(tile_b[kk * TILE + lid.x * 4u], tile_b[kk * TILE + lid.x * 4u + 1u],
                               tile_b[kk * TILE + lid.x * 4u + 2u], tile_b[kk * TILE + lid.x * 4u + 3u]);
            for (var i = 0u; i < 4u; i++) {
                acc[i] += tile_a[(lid.y * 4u + i) * KT + kk] * bv;
            }
        }
        workgroupBarrier();
    }
    for (var i = 0u; i < 4u; i++) {
        for (var j = 0u; j < 4u; j++) {
            store(batch, row_t + lid.y * 4u + i, col_t + lid.x * 4u + j, acc[i][j]);
        }
    }
}
