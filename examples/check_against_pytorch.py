#!/usr/bin/env python3
"""Full-size fidelity check: every capture point of ventral vs PyTorch, on real images.

For each model: the seeded init (torch.manual_seed(SEED)) of torchvision (or timm, for timm/ ids)
is exported with weights/export_torchvision.py; PyTorch runs the first N images of the folder through
Resize(256) → CenterCrop(224) → ToTensor → Normalize (timm models: timm's own eval transform, which
for the ViTs checked here is ventral's `--preprocess timm`: bicubic, crop 0.9, mean = std = 0.5) and
records every module's forward-hook output (ReLUs not in place, outputs cloned; ViTs: every point of
`ventral layers`, the on-request q, k, v and attention probabilities included); `ventral extract
--images` does the same from the image files (its own decoding and preprocessing). Reports the relative L2 error ||ventral − torch|| / ||torch||
per capture point: worst, median, and the worst point's name. With --bench, also PyTorch CPU
throughput (batch 16, median of 3 after a warm-up) on this machine.

  cargo build --release
  python examples/check_against_pytorch.py --images ../shared/data/kriegeskorte92/images --n 4 \\
      --models alexnet,vgg16,resnet50 --out /tmp/ventral-check
  python examples/check_against_pytorch.py --images ../shared/data/kriegeskorte92/images --n 2 \\
      --models vit_b_16,timm/vit_base_patch16_224 --out /tmp/ventral-check-vit

Needs torch, torchvision, safetensors, Pillow, numpy. Writes report.json and report.md to --out.
"""
import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from safetensors.numpy import load_file
from torchvision import transforms as T

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "weights"))
from export_torchvision import export  # noqa: E402
from reference_models import capture, capture_vit, make  # noqa: E402

ALL = ("alexnet,vgg11,vgg11_bn,vgg13,vgg13_bn,vgg16,vgg16_bn,vgg19,vgg19_bn,resnet18,resnet34,resnet50,"
       "resnet101,resnet152,cornet_z,deepcluster_alexnet,vit_b_16,timm/vit_base_patch16_224")


def is_vit(name):
    return name.startswith("vit_") or name.startswith("timm/")


def timm_transform(model):
    import timm.data
    cfg = timm.data.resolve_data_config({}, model=model)
    ventral_timm = {"interpolation": "bicubic", "crop_pct": 0.9, "mean": (0.5, 0.5, 0.5), "std": (0.5, 0.5, 0.5)}
    for k, v in ventral_timm.items():
        got = tuple(cfg[k]) if isinstance(v, tuple) else cfg[k]
        if got != v:
            sys.exit(f"{k} of this timm model is {cfg[k]}, not ventral's --preprocess timm default {v}")
    return timm.data.create_transform(**cfg)


def torch_throughput(model, batch=16, samples=3):
    x = torch.randn(batch, 3, 224, 224, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        model(x)
        times = []
        for _ in range(samples):
            t = time.perf_counter()
            model(x)
            times.append(time.perf_counter() - t)
    return batch / sorted(times)[len(times) // 2]


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--images", required=True)
    p.add_argument("--n", type=int, default=4)
    p.add_argument("--models", default=ALL)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--ventral", default=str(ROOT / "target/release/ventral"))
    p.add_argument("--device", default="auto", help="ventral's executor: auto, gpu, native or reference")
    p.add_argument("--bench", action="store_true")
    p.add_argument("--out", default="ventral-check")
    a = p.parse_args()
    out = Path(a.out)
    out.mkdir(parents=True, exist_ok=True)
    files = sorted(f for f in Path(a.images).iterdir() if f.suffix.lower() in (".png", ".jpg", ".jpeg"))[: a.n]
    tf = T.Compose([T.Resize(256), T.CenterCrop(224), T.ToTensor(),
                    T.Normalize([0.485, 0.456, 0.406], [0.229, 0.224, 0.225])])
    images = [Image.open(f).convert("RGB") for f in files]
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        (tmp / "images").mkdir()
        for f in files:
            (tmp / "images" / f.name).symlink_to(f.resolve())
        for name in a.models.split(","):
            stem = name.replace("/", "_")
            wfile = tmp / f"{stem}.safetensors"
            export(name, wfile, seed=a.seed)
            torch.manual_seed(a.seed)
            model = make(name)
            timm_model = name.startswith("timm/")
            x = torch.stack([(timm_transform(model) if timm_model else tf)(im) for im in images])
            want = dict(capture_vit(model, x) if is_vit(name) else capture(model, x))
            acts = tmp / f"{stem}-acts.safetensors"
            t0 = time.perf_counter()
            subprocess.run([a.ventral, "extract", "--model", name, "--weights", str(wfile), "--images",
                            str(tmp / "images"), "--layers", ",".join(want), "--batch", str(len(files)),
                            "--preprocess", "timm" if timm_model else "torchvision",
                            "--device", a.device, "--out", str(acts)], check=True, stdout=subprocess.DEVNULL)
            secs = time.perf_counter() - t0
            got = load_file(str(acts))
            errs = {}
            for point, t in want.items():
                w = t.double().numpy().reshape(len(files), -1)
                g = got[point].astype(np.float64)
                # torchvision zero-initialises the ViT head: both sides give exact zeros there.
                diff = np.linalg.norm(g - w)
                errs[point] = float(diff / np.linalg.norm(w)) if np.linalg.norm(w) > 0 else float(diff)
            worst = max(errs, key=errs.get)
            row = {"model": name, "points": len(errs), "images": len(files),
                   "worst_point": worst, "worst_rel_l2": errs[worst],
                   "median_rel_l2": float(np.median(list(errs.values()))),
                   "ventral_extract_s": secs, "errors": errs}
            if a.bench:
                row["torch_cpu_img_s_batch16"] = torch_throughput(model)
            rows.append(row)
            print(f"{name:20s} {len(errs):4d} points  worst {errs[worst]:.2e} at {worst:24s} "
                  f"median {row['median_rel_l2']:.2e}" +
                  (f"  torch CPU {row['torch_cpu_img_s_batch16']:.2f} img/s" if a.bench else ""), flush=True)
            wfile.unlink()
            acts.unlink()
    meta = {"torch": torch.__version__, "images": [f.name for f in files], "seed": a.seed,
            "ventral_device": a.device,
            "torch_threads": torch.get_num_threads()}
    (out / "report.json").write_text(json.dumps({"meta": meta, "models": rows}, indent=1))
    lines = ["| model | points | worst rel. L2 | at | median rel. L2 |" +
             (" PyTorch CPU img/s (batch 16) |" if a.bench else ""),
             "|---|---:|---:|---|---:|" + ("---:|" if a.bench else "")]
    for r in rows:
        lines.append(f"| {r['model']} | {r['points']} | {r['worst_rel_l2']:.1e} | `{r['worst_point']}` | "
                     f"{r['median_rel_l2']:.1e} |" +
                     (f" {r['torch_cpu_img_s_batch16']:.2f} |" if a.bench else ""))
    (out / "report.md").write_text("\n".join(lines) + "\n")
    print(f"report: {out / 'report.md'}")
    if max(r["worst_rel_l2"] for r in rows) > 1e-4:
        sys.exit("FAIL: a capture point differs from PyTorch by more than 1e-4")


if __name__ == "__main__":
    main()
