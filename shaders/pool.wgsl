// 2-D pooling over planes [P = N*C, H, W] -> [P, OH, OW]; one invocation per output element.
// max_pool2d: padding counts as -inf, dilation supported, NaN propagates (PyTorch semantics).
// avg_pool2d: PyTorch's divisor rule (count_include_pad, windows clipped at H + pad).
// adaptive_avg_pool2d: bin i spans [floor(i*H/OH), ceil((i+1)*H/OH)).

struct Params {
    n: u32,          // output elements in this dispatch (planes * oh * ow)
    h: u32,
    w: u32,
    oh: u32,
    ow: u32,
    kh: u32,
    kw: u32,
    sh: u32,
    sw: u32,
    ph: u32,
    pw: u32,
    dh: u32,
    dw: u32,
    count_include_pad: u32,
    x_base: u32,
    y_base: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;       // x: [planes, h, w]
@group(0) @binding(2) var<storage, read_write> y: array<f32>; // y: [planes, oh, ow]

const WG: u32 = 256u;

struct Pos { plane: u32, oy: u32, ox: u32 }

fn pos(i: u32) -> Pos {
    let ox = i % p.ow;
    let t = i / p.ow;
    return Pos(t / p.oh, t % p.oh, ox);
}

@compute @workgroup_size(256)
fn max_pool2d(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
              @builtin(local_invocation_id) lid: vec3<u32>) {
    let i = (wid.x + wid.y * nwg.x) * WG + lid.x;
    if (i >= p.n) { return; }
    let q = pos(i);
    let plane = p.x_base + q.plane * p.h * p.w;
    var m = 0.0;
    var first = true;
    for (var ky = 0u; ky < p.kh; ky++) {
        let iy = i32(q.oy * p.sh + ky * p.dh) - i32(p.ph);
        if (iy < 0 || iy >= i32(p.h)) { continue; }
        for (var kx = 0u; kx < p.kw; kx++) {
            let ix = i32(q.ox * p.sw + kx * p.dw) - i32(p.pw);
            if (ix < 0 || ix >= i32(p.w)) { continue; }
            let v = x[plane + u32(iy) * p.w + u32(ix)];
            // Once m is NaN, `v > m` is false, so NaN sticks.
            if (first || v > m || v != v) { m = v; first = false; }
        }
    }
    y[p.y_base + i] = m;
}

@compute @workgroup_size(256)
fn avg_pool2d(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
              @builtin(local_invocation_id) lid: vec3<u32>) {
    let i = (wid.x + wid.y * nwg.x) * WG + lid.x;
    if (i >= p.n) { return; }
    let q = pos(i);
    let plane = p.x_base + q.plane * p.h * p.w;
    var y0 = i32(q.oy * p.sh) - i32(p.ph);
    var x0 = i32(q.ox * p.sw) - i32(p.pw);
    var y1 = min(y0 + i32(p.kh), i32(p.h + p.ph));
    var x1 = min(x0 + i32(p.kw), i32(p.w + p.pw));
    let pool_size = (y1 - y0) * (x1 - x0);
    y0 = max(y0, 0);
    x0 = max(x0, 0);
    y1 = min(y1, i32(p.h));
    x1 = min(x1, i32(p.w));
    var s = 0.0;
    for (var iy = y0; iy < y1; iy++) {
        for (var ix = x0; ix < x1; ix++) { s += x[plane + u32(iy) * p.w + u32(ix)]; }
    }
    let divisor = select((y1 - y0) * (x1 - x0), pool_size, p.count_include_pad != 0u);
    y[p.y_base + i] = s / f32(divisor);
}

@compute @workgroup_size(256)
fn adaptive_avg_pool2d(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
                       @builtin(local_invocation_id) lid: vec3<u32>) {
    let i = (wid.x + wid.y * nwg.x) * WG + lid.x;
    if (i >= p.n) { return; }
    let q = pos(i);
    let plane = p.x_base + q.plane * p.h * p.w;
    let y0 = (q.oy * p.h) / p.oh;
    let y1 = ((q.oy + 1u) * p.h + p.oh - 1u) / p.oh;
    let x0 = (q.ox * p.w) / p.ow;
    let x1 = ((q.ox + 1u) * p.w + p.ow - 1u) / p.ow;
    var s = 0.0;
    for (var iy = y0; iy < y1; iy++) {
        for (var ix = x0; ix < x1; ix++) { s += x[plane + iy * p.w + ix]; }
    }
    y[p.y_base + i] = s / f32((y1 - y0) * (x1 - x0));
}
