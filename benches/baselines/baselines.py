#!/usr/bin/env python3
"""Times `ventral bench`'s workloads in the reference libraries and writes one report per
implementation in ventral's JSON schema (BENCHMARKS.md), so that

    ventral bench --json ventral.json
    python benches/baselines/baselines.py --out baselines/
    ventral bench --compare baselines/torch-cpu.json      # ratio ventral / PyTorch CPU, per workload

give a ratio on one machine. Workload names are ventral's, character for character; `--quick`
matches `ventral bench --quick`.

Implementations (each skipped when its package or device is missing):
  torch-cpu, torch-cuda, torch-mps   matmul, Gram X·Xᵀ, the convolution layers, ViT-B/16 attention
                                     (scaled_dot_product_attention), correlation RDM, models
                                     (capture none: input to logits; all: a forward hook on every
                                     module copies its output to the host, as THINGSvision-style
                                     extraction does; all+rdm: and 1 − corrcoef of each over the
                                     batch)
  numpy                              matmul, Gram, correlation RDM (np.corrcoef)
  rsatoolbox                         correlation RDM (calc_rdm, method "correlation")
  scikit-bio                         Mantel Pearson / Spearman (skbio.stats.distance.mantel)
  scikit-learn                       the encoding group (encoding.py): SparseRandomProjection fit +
                                     transform in batches of 16 rows, StandardScaler + RidgeCV
                                     (alpha_per_target, LOO) fit + predict; peak RSS of each

`--threads N` limits numpy's BLAS and OpenMP pools (threadpoolctl) and torch to N threads, as
`ventral bench --threads N`; the report records the pools (`threadpools`).

Method: one untimed first run, then --samples timed runs (CUDA/MPS synchronised inside each);
median, MAD, min, max, every sample; wall clock. The encoding workloads run once, as ventral's.
Needs numpy; optionally torch, torchvision, timm, rsatoolbox, scikit-bio, scikit-learn.
"""
import argparse
import json
import os
import platform
import statistics
import sys
import time
from pathlib import Path

import numpy as np


def summary(group, workload, name, flops, nbytes, first, samples, note=""):
    med = statistics.median(samples)
    mad = statistics.median([abs(s - med) for s in samples])
    return {
        "group": group, "workload": workload, "name": name, "flops": flops, "bytes": nbytes,
        "first_run_s": first, "samples": len(samples), "median_s": med, "mad_s": mad,
        "min_s": min(samples), "max_s": max(samples),
        "median_gflops": flops / med / 1e9 if flops else None,
        "median_gbps": nbytes / med / 1e9 if nbytes else None,
        "sample_s": samples, "timer": "wall-clock", "gpu_sample_s": [], "gpu_median_s": None,
        "note": note,
    }


def threadpools():
    """numpy's BLAS and OpenMP pools as threadpoolctl sees them (None without threadpoolctl)."""
    try:
        from threadpoolctl import threadpool_info
    except ImportError:
        return None
    keep = ("user_api", "internal_api", "version", "num_threads", "threading_layer", "architecture")
    return [{k: p.get(k) for k in keep} for p in threadpool_info()]


def blas_threads():
    """The BLAS pool's thread count (the largest, if several), else the CPU count."""
    pools = [p["num_threads"] for p in threadpools() or [] if p["user_api"] == "blas"]
    return max(pools) if pools else os.cpu_count()


def timed(f, samples, sync=lambda: None):
    t = time.perf_counter()
    f()
    sync()
    first = time.perf_counter() - t
    out = []
    for _ in range(samples):
        t = time.perf_counter()
        f()
        sync()
        out.append(time.perf_counter() - t)
    return first, out


def sizes(quick):
    return {
        "n": 128 if quick else 1024,
        "gram": (100, 512) if quick else (1000, 4096),
        "convs": [
            ("AlexNet features.3", (64, 13, 13), 192, 5, 2),
            ("VGG-16 features.12", (64, 14, 14), 64, 3, 1),
            ("ResNet-50 layer3.0.conv2", (64, 7, 7), 64, 3, 1),
        ] if quick else [
            ("AlexNet features.3", (64, 27, 27), 192, 5, 2),
            ("VGG-16 features.12", (256, 56, 56), 256, 3, 1),
            ("ResNet-50 layer3.0.conv2", (256, 14, 14), 256, 3, 1),
        ],
        "attention": (1, 50) if quick else (4, 197),
        "rdm": (50, 512) if quick else (500, 4096),
        "mantel": (30, 500) if quick else (200, 10000),
        "models": ["cornet_z", "timm/vit_tiny_patch16_224"] if quick else ["alexnet", "resnet18", "vit_b_32"],
        "batches": [2] if quick else [1, 16],
        "px": 64 if quick else 224,
        "captures": ["none", "all", "all+rdm"],
    }


def torch_setup(device):
    """No autograd; the device, its synchronisation and a seeded generator."""
    import torch
    torch.set_grad_enabled(False)
    sync = {"cuda": torch.cuda.synchronize, "mps": getattr(torch, "mps", None) and torch.mps.synchronize}.get(
        device) or (lambda: None)
    return torch.device(device), sync, torch.Generator().manual_seed(0)


def torch_results(device, sz, samples):
    import torch
    import torch.nn.functional as F
    dev, sync, g = torch_setup(device)
    rnd = lambda *s: (torch.rand(*s, generator=g) * 2 - 1).to(dev)
    out = []
    n = sz["n"]
    a, b = rnd(n, n), rnd(n, n)
    w = f"matmul {n}³"
    out.append(summary("kernel", w, w, 2.0 * n ** 3, 12.0 * n * n, *timed(lambda: a @ b, samples, sync)))
    r, c = sz["gram"]
    x = rnd(r, c)
    w = f"gram X·Xᵀ, X {r}×{c}"
    out.append(summary("kernel", w, w, 2.0 * r * r * c, 4.0 * (r * c + r * r), *timed(lambda: x @ x.T, samples, sync)))
    for layer, (ci, h, wd), oc, k, pad in sz["convs"]:
        xi, wt, bias = rnd(1, ci, h, wd), rnd(oc, ci, k, k), rnd(oc)
        w = f"conv2d {layer}: 1×{ci}×{h}×{wd} → {oc}, k{k} p{pad}, bias + ReLU"
        out.append(summary("kernel", w, w, 2.0 * oc * h * wd * ci * k * k,
                           4.0 * (ci * h * wd + oc * ci * k * k + oc + oc * h * wd),
                           *timed(lambda: F.relu(F.conv2d(xi, wt, bias, padding=pad)), samples, sync)))
    batch, tokens = sz["attention"]
    heads, d = 12, 64
    q, k_, v = rnd(batch, heads, tokens, d), rnd(batch, heads, tokens, d), rnd(batch, heads, tokens, d)
    w = f"attention ViT-B/16 block: {batch}×{tokens} tokens, {heads} heads of {d}"
    out.append(summary("kernel", w, w, 4.0 * batch * tokens * tokens * heads * d, 16.0 * batch * tokens * heads * d,
                       *timed(lambda: F.scaled_dot_product_attention(q, k_, v), samples, sync)))
    rn, rp = sz["rdm"]
    xr = rnd(rn, rp)
    w = f"correlation RDM, N = {rn} × {rp} features"
    out.append(summary("kernel", w, w, 2.0 * rn * rn * rp, 4.0 * (rn * rp + rn * (rn - 1) / 2),
                       *timed(lambda: 1 - torch.corrcoef(xr), samples, sync)))
    return out


def torch_models(device, sz, samples):
    """Whole models, seeded random init, in every capture mode of `sz["captures"]`."""
    import sys
    import torch
    dev, sync, g = torch_setup(device)
    sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "weights"))
    from reference_models import make
    px = sz["px"]
    out = []
    for name in sz["models"]:
        if name.startswith("timm/"):
            import timm
            model = timm.create_model(name[len("timm/"):], pretrained=False, img_size=px)
        else:
            model = make(name)
        model = model.eval().to(dev)
        captured, state = [], {"on": False}

        def hook(_m, _i, o):
            if state["on"]:
                o = o[0] if isinstance(o, tuple) else o  # nn.MultiheadAttention: (values, weights)
                captured.append(o.detach().clone().cpu())

        hooks = [m.register_forward_hook(hook) for path, m in model.named_modules() if path]
        for bt in sz["batches"]:
            xin = torch.rand(bt, 3, px, px, generator=g)

            def run(mode):
                captured.clear()
                state["on"] = mode != "none"
                y = model(xin.to(dev)).cpu()
                if mode == "all+rdm":
                    for t in captured:
                        1 - torch.corrcoef(t.reshape(bt, -1))
                return y

            for mode in sz["captures"]:
                if mode == "all+rdm" and bt < 2:
                    continue
                w = f"{name} batch {bt} at {px}×{px}, capture {mode}"
                # Input upload and readback included, as in ventral's samples.
                out.append(summary("model", w, w, 0.0, 0.0, *timed(lambda: run(mode), samples, sync)))
        for h in hooks:
            h.remove()
    return out


def numpy_results(sz, samples):
    rng = np.random.default_rng(0)
    out = []
    n = sz["n"]
    a, b = rng.uniform(-1, 1, (n, n)).astype(np.float32), rng.uniform(-1, 1, (n, n)).astype(np.float32)
    w = f"matmul {n}³"
    out.append(summary("kernel", w, w, 2.0 * n ** 3, 12.0 * n * n, *timed(lambda: a @ b, samples)))
    r, c = sz["gram"]
    x = rng.uniform(-1, 1, (r, c)).astype(np.float32)
    w = f"gram X·Xᵀ, X {r}×{c}"
    out.append(summary("kernel", w, w, 2.0 * r * r * c, 4.0 * (r * c + r * r), *timed(lambda: x @ x.T, samples)))
    rn, rp = sz["rdm"]
    xr = rng.uniform(-1, 1, (rn, rp)).astype(np.float32)
    w = f"correlation RDM, N = {rn} × {rp} features"
    out.append(summary("kernel", w, w, 2.0 * rn * rn * rp, 4.0 * (rn * rp + rn * (rn - 1) / 2),
                       *timed(lambda: 1 - np.corrcoef(xr), samples)))
    return out


def rsatoolbox_results(sz, samples):
    import rsatoolbox
    rn, rp = sz["rdm"]
    x = np.random.default_rng(0).uniform(-1, 1, (rn, rp))
    data = rsatoolbox.data.Dataset(x)
    w = f"correlation RDM, N = {rn} × {rp} features"
    return [summary("kernel", w, w, 2.0 * rn * rn * rp, 0.0,
                    *timed(lambda: rsatoolbox.rdm.calc_rdm(data, method="correlation"), samples))]


def skbio_results(sz, samples):
    from skbio import DistanceMatrix
    from skbio.stats.distance import mantel
    out = []
    n, perms = sz["mantel"]
    rng = np.random.default_rng(6)
    m = rng.uniform(0, 1, (n, n))
    m = (m + m.T) / 2
    np.fill_diagonal(m, 0)
    b = m + 0.5
    np.fill_diagonal(b, 0)
    dm, db = DistanceMatrix(m), DistanceMatrix(b)
    for method in ("pearson", "spearman"):
        w = f"Mantel {method}, N = {n}, {perms} permutations"
        out.append(summary("kernel", w, w, 0.0, 0.0,
                           *timed(lambda: mantel(dm, db, method=method, permutations=perms), samples)))
    return out


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--out", required=True, help="folder for <implementation>.json")
    p.add_argument("--quick", action="store_true")
    p.add_argument("--samples", type=int, default=3)
    p.add_argument("--models", help="model workloads (comma-separated; default as ventral bench)")
    p.add_argument("--batches", help="batch sizes of the model workloads (comma-separated)")
    p.add_argument("--px", type=int, help="input size of the model workloads")
    p.add_argument("--capture", default="none,all,all+rdm", help="capture modes of the model workloads")
    p.add_argument("--only", default="kernels,models,rsa,encoding",
                   help="groups: kernels (torch/numpy kernels), models, rsa (rsatoolbox, scikit-bio), "
                        "encoding (scikit-learn)")
    p.add_argument("--threads", type=int,
                   help="threads of numpy's BLAS / OpenMP pools and of torch (default: the libraries' own)")
    a = p.parse_args()
    groups = a.only.split(",")
    if a.threads:
        from threadpoolctl import threadpool_limits
        _limits = threadpool_limits(limits=a.threads)  # noqa: F841 (held until exit)
        if "kernels" in groups or "models" in groups:  # no torch import otherwise (memory)
            try:
                import torch
                torch.set_num_threads(a.threads)
            except ImportError:
                pass
    out = Path(a.out)
    out.mkdir(parents=True, exist_ok=True)
    sz = sizes(a.quick)
    if a.models:
        sz["models"] = a.models.split(",")
    if a.batches:
        sz["batches"] = [int(b) for b in a.batches.split(",")]
    if a.px:
        sz["px"] = a.px
    sz["captures"] = a.capture.split(",")
    runs = {}
    if "kernels" in groups:
        runs["numpy"] = lambda: numpy_results(sz, a.samples)
    if "rsa" in groups:
        runs["rsatoolbox"] = lambda: rsatoolbox_results(sz, a.samples)
        runs["scikit-bio"] = lambda: skbio_results(sz, a.samples)
    if "encoding" in groups:
        def sklearn_run():
            import sklearn  # noqa: F401 (ImportError: skipped)
            sys.path.insert(0, str(Path(__file__).resolve().parent))
            import encoding
            return encoding.results(summary, a.quick, blas_threads())

        runs["scikit-learn"] = sklearn_run
    try:
        if "kernels" not in groups and "models" not in groups:
            raise ImportError("no torch group")  # and no torch import: it would weigh on ru_maxrss
        import torch

        def torch_run(device):
            return lambda: ((torch_results(device, sz, a.samples) if "kernels" in groups else []) +
                            (torch_models(device, sz, a.samples) if "models" in groups else []))

        runs["torch-cpu"] = torch_run("cpu")
        if torch.cuda.is_available():
            runs["torch-cuda"] = torch_run("cuda")
        if getattr(torch.backends, "mps", None) and torch.backends.mps.is_available():
            runs["torch-mps"] = torch_run("mps")
    except ImportError:
        pass
    for impl, run in runs.items():
        try:
            results = run()
        except ImportError as e:
            print(f"{impl}: skipped ({e})")
            continue
        from importlib import metadata
        versions = {"python": platform.python_version()}
        for dist in ("numpy", "scipy", "torch", "torchvision", "timm", "rsatoolbox", "scikit-bio",
                     "scikit-learn", "threadpoolctl"):
            try:
                versions[dist] = metadata.version(dist)
            except metadata.PackageNotFoundError:
                pass
        report = {"schema": 1, "implementation": impl, "versions": versions, "quick": a.quick,
                  "samples": a.samples, "created_unix_s": int(time.time()),
                  "machine": {"os": platform.system().lower(), "arch": platform.machine(), "cpus": os.cpu_count()},
                  "results": results}
        pools = threadpools()
        if pools is not None:
            report["threadpools"] = pools
        if impl.startswith("torch"):
            import torch
            report["torch_threads"] = torch.get_num_threads()
            if impl == "torch-cuda":
                report["device"] = torch.cuda.get_device_name()
        path = out / f"{impl}.json"
        path.write_text(json.dumps(report, indent=1, ensure_ascii=False))
        print(f"{impl}: {len(results)} workloads -> {path}")


if __name__ == "__main__":
    main()
