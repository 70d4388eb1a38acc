#!/usr/bin/env python3
"""Python reference timings for BENCHMARKS.md, on the same sizes as `ventral bench rsa` and
`ventral bench models` (random data; wall-clock seconds; this machine's default threads).

Needs numpy, scipy, rsatoolbox, scikit-bio, torch, torchvision. Slow references are timed on a
fraction of the work and extrapolated linearly; the output says which.
Usage: python benches/anchors.py [rsa|models|all]
"""
import json
import sys
import time
import warnings

import numpy as np

warnings.filterwarnings("ignore")


def timed(f):
    t = time.perf_counter()
    f()
    return time.perf_counter() - t


def rsa():
    from rsatoolbox.data import Dataset
    from rsatoolbox.rdm import RDMs, calc_rdm, compare
    from scipy.spatial.distance import squareform
    from skbio.stats.distance import DistanceMatrix, mantel

    rng = np.random.default_rng(7)
    out = {}
    x = rng.random((1000, 43264), dtype=np.float32)
    out["rsatoolbox calc_rdm correlation, N = 1000 × 43264"] = timed(lambda: calc_rdm(Dataset(x), method="correlation"))
    n = 1000
    m = n * (n - 1) // 2
    a = rng.random(m)
    b = a + rng.random(m)
    da, db = DistanceMatrix(squareform(a)), DistanceMatrix(squareform(b))
    for method in ["pearson", "spearman"]:
        out[f"skbio mantel {method}, N = 1000, 10000 permutations"] = timed(
            lambda: mantel(da, db, method=method, permutations=10000, alternative="greater", seed=0))
    # rsatoolbox τa: one comparison, times 10,001 (observed + permutations).
    ra, rb = RDMs(a[None]), RDMs(b[None])
    one = timed(lambda: compare(ra, rb, method="tau-a"))
    out["rsatoolbox tau-a, N = 1000, 10000 permutations (extrapolated from 1 comparison)"] = one * 10001
    n = 92
    m = n * (n - 1) // 2
    a, b = RDMs(rng.random(m)[None]), RDMs(rng.random(m)[None])
    one = timed(lambda: [compare(a, b, method="tau-a") for _ in range(20)]) / 20
    out["rsatoolbox tau-a table, N = 92, 21 × 8 × 10000 (extrapolated from 20 comparisons)"] = one * 21 * 8 * 10001
    # Bootstrap ρa at N = 500, 8 subjects: per sample, resample stimuli with replacement and
    # subsample both RDM sets as rsatoolbox's eval_bootstrap_pattern does, then compare.
    n = 500
    m = n * (n - 1) // 2
    model = rng.random(m)
    subj = RDMs(np.array([model + rng.random(m) for _ in range(8)]))
    mod = RDMs(model[None])

    def five():
        for _ in range(5):
            idx = rng.integers(0, n, n)
            compare(mod.subsample_pattern("index", idx), subj.subsample_pattern("index", idx), method="rho-a")
    out["rsatoolbox bootstrap rho-a, N = 500, 8 subjects, 1000 samples (extrapolated from 5)"] = timed(five) * 200
    return out


def models():
    import torch
    import torchvision
    torch.set_grad_enabled(False)
    out = {"torch_threads": torch.get_num_threads(), "torch": torch.__version__}
    x = torch.randn(16, 3, 224, 224, generator=torch.Generator().manual_seed(1))
    for name in ["alexnet", "resnet18", "resnet50", "vgg16", "vit_b_16", "vit_b_32", "timm/vit_base_patch16_224"]:
        if name.startswith("timm/"):
            import timm
            model = timm.create_model(name[len("timm/"):], pretrained=False).eval()
        else:
            model = torchvision.models.get_model(name, weights=None).eval()
        model(x)
        ts = sorted(timed(lambda: model(x)) for _ in range(3))
        out[f"torch CPU {name} batch 16 img/s"] = 16 / ts[1]
    return out


if __name__ == "__main__":
    what = sys.argv[1] if len(sys.argv) > 1 else "all"
    res = {}
    if what in ("rsa", "all"):
        res.update(rsa())
    if what in ("models", "all"):
        res.update(models())
    print(json.dumps(res, indent=1))
