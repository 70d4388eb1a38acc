// Direct 2-D convolution (PyTorch cross-correlation), NCHW, with stride, padding, dilation,
// groups, fused bias and optional ReLU. Each invocation computes a register block of 4 output
// channels × 4 horizontally adjacent output pixels, so every loaded input is used 4 times and
// every weight 4 times.
//
// A dispatch covers images [0, n_img) of the x/y windows and output channels
// [oc_begin, oc_begin + oc_len). The chunk either lies inside one group or holds whole groups.

struct Params {
    n_img: u32,
    c_in: u32,
    h: u32,
    w: u32,
    c_out: u32,
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
    icpg: u32,      // input channels per group
    ocpg: u32,      // output channels per group
    oc_begin: u32,
    oc_len: u32,
    x_base: u32,    // element of (image 0, channel 0) in the x window
    w_base: u32,    // element of filter oc_begin in the w window
    b_base: u32,    // element of bias[oc_begin] in the bias window
    y_base: u32,    // element of (image 0, channel oc_begin) in the y window
    flags: u32,     // bit 0: add bias, bit 1: ReLU
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;       // x: [n_img, c_in, h, w]
@group(0) @binding(2) var<storage, read> wt: array<f32>;      // w: [oc_len, icpg, kh, kw]
@group(0) @binding(3) var<storage, read> bias: array<f32>;    // bias: [oc_len]
@group(0) @binding(4) var<storage, read_write> y: array<f32>; // y: [n_img, c_out, oh, ow] (channels oc_begin..)

const WG: u32 = 64u;

@compute @workgroup_size(64)
fn conv2d(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
          @builtin(local_invocation_id) lid: vec3<u32>) {
    let span = min(p.ocpg, p.oc_len);           // channels per group inside this chunk
    let bpg = (span + 3u) / 4u;                 // 4-channel blocks per group
    let n_ob = bpg * ((p.oc_len + span - 1u) / span);
    let owb = (p.ow + 3u) / 4u;
    var t = (wid.x + wid.y * nwg.x) * WG + lid.x;
    if (t >= p.n_img * n_ob * p.oh * owb) { return; }
    let oxb = t % owb; t /= owb;
    let oy = t % p.oh; t /= p.oh;
    let ob = t % n_ob;
    let img = t / n_ob;
    let local0 = (ob % bpg) * 4u;               // first channel of the block within its group span
    let rel0 = (ob / bpg) * p.ocpg + local0;    // first channel relative to oc_begin
    let g = (p.oc_begin + rel0) / p.ocpg;
    let ksize = p.kh * p.kw;
    let wrow = p.icpg * ksize;
    // Rows of the 4 filters; channels past the span reuse the first (computed, never stored).
    var wr: array<u32, 4>;
    for (var i = 0u; i < 4u; i++) {
        let rel = select(rel0, rel0 + i, local0 + i < span);
        wr[i] = p.w_base + rel * wrow;
    }
    let ox0 = oxb * 4u;
    let xi = p.x_base + (img * p.c_in + g * p.icpg) * p.h * p.w;
    var acc0 = vec4<f32>(0.0);   // channel block × pixel 0..3, one vec4 per channel
    var acc1 = vec4<f32>(0.0);
    var acc2 = vec4<f32>(0.0);
    var acc3 = vec4<f32>(0.0);
    for (var ic = 0u; ic < p.icpg; ic++) {
        let xc = xi + ic * p.h * p.w;
        for (var ky = 0u; ky < p.kh; ky++) {
            let iy = i32(oy * p.sh + ky * p.dh) - i32(p.ph);
            if (iy < 0 || iy >= i32(p.h)) { continue; }
            let xrow = xc + u32(iy) * p.w;
            for (var kx = 0u; kx < p.kw; kx++) {
                var xv = vec4<f32>(0.0);
                for (var j = 0u; j < 4u; j++) {
                    let ix = i32((ox0 + j) * p.sw + kx * p.dw) - i32(p.pw);
                    let ok = ix >= 0 && ix < i32(p.w);
                    xv[j] = select(0.0, x[xrow + u32(clamp(ix, 0, i32(p.w) - 1))], ok);
                }
                let k = ic * ksize + ky * p.kw + kx;
                acc0 += wt[wr[0] + k] * xv;
                acc1 += wt[wr[1] + k] * xv;
                acc2 += wt[wr[2] + k] * xv;
                acc3 += wt[wr[3] + k] * xv;
            }
        }
    }
    var accs = array<vec4<f32>, 4>(acc0, acc1, acc2, acc3);
    let plane = p.oh * p.ow;
    for (var i = 0u; i < 4u; i++) {
        if (local0 + i >= span) { break; }
        let rel = rel0 + i;
        var b = 0.0;
        if ((p.flags & 1u) != 0u) { b = bias[p.b_base + rel]; }
        let yrow = p.y_base + (img * p.c_out + rel) * plane + oy * p.ow;
        for (var j = 0u; j < 4u; j++) {
            if (ox0 + j >= p.ow) { break; }
            var v = accs[i][j] + b;
            if ((p.flags & 2u) != 0u) { v = select(0.0, v, !(v <= 0.0)); }
            y[yrow + ox0 + j] = v;
        }
    }
}
