#!/usr/bin/env python3
"""Converts a model's PyTorch weights to the safetensors layout `ventral --weights` reads.

  # torchvision pretrained weights (needs internet the first time; cached by torch.hub):
  python weights/export_torchvision.py --model resnet50 --pretrained IMAGENET1K_V2 --out resnet50.safetensors
  # torchvision's own seeded random init (torch.manual_seed(SEED) before construction):
  python weights/export_torchvision.py --model alexnet --seed 0 --out alexnet-seed0.safetensors
  # a timm ViT's seeded init (timm names; a timm checkpoint file works with --checkpoint):
  python weights/export_torchvision.py --model timm/vit_base_patch16_224 --seed 0 --out vit_b16-timm-seed0.safetensors
  # a checkpoint file (CORnet-Z, DeepCluster, fine-tuned torchvision models); "module." prefixes
  # from DataParallel are stripped and a {"state_dict": ...} wrapper is unwrapped:
  python weights/export_torchvision.py --model cornet_z --checkpoint cornet_z-5c427c9c.pth --out cornet_z.safetensors

Tensor names are the model's state_dict names; num_batches_tracked (unused in eval) is dropped.
--dtype f16/bf16 halves the file; ventral computes in f32 either way.
Needs: torch, torchvision, safetensors.
"""
import argparse
import sys
from pathlib import Path

import torch
from safetensors.torch import save_file

sys.path.insert(0, str(Path(__file__).resolve().parent))
from reference_models import make, state_dict_for_ventral  # noqa: E402

DTYPES = {"f32": torch.float32, "f16": torch.float16, "bf16": torch.bfloat16}


def export(model_name, out, pretrained=None, seed=None, checkpoint=None, dtype="f32"):
    if seed is not None:
        torch.manual_seed(seed)
    model = make(model_name, weights=pretrained)
    source = f"torchvision:{pretrained}" if pretrained else f"torch.manual_seed({seed})"
    if checkpoint:
        ckpt = torch.load(checkpoint, map_location="cpu", weights_only=False)
        state = ckpt.get("state_dict", ckpt) if isinstance(ckpt, dict) else ckpt
        state = {k.replace("module.", ""): v for k, v in state.items()}
        model.load_state_dict(state, strict=False)
        missing = set(state_dict_for_ventral(model)) - set(state)
        if missing:
            raise SystemExit(f"{checkpoint}: missing tensors {sorted(missing)[:8]}")
        source = f"checkpoint:{Path(checkpoint).name}"
    tensors = {k: v.to(DTYPES[dtype]) for k, v in state_dict_for_ventral(model).items()}
    save_file(tensors, str(out), metadata={"format": "pt", "model": model_name, "source": source})
    return tensors


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", required=True)
    g = p.add_mutually_exclusive_group(required=True)
    g.add_argument("--pretrained", help="torchvision weights name, e.g. DEFAULT or IMAGENET1K_V1")
    g.add_argument("--seed", type=int, help="seeded random init (torchvision's own init scheme)")
    g.add_argument("--checkpoint", help=".pth file with a state_dict")
    p.add_argument("--dtype", choices=DTYPES, default="f32")
    p.add_argument("--out", required=True)
    a = p.parse_args()
    t = export(a.model, a.out, a.pretrained, a.seed, a.checkpoint, a.dtype)
    print(f"{a.model}: {len(t)} tensors, {sum(v.numel() for v in t.values())} parameters -> {a.out}")


if __name__ == "__main__":
    main()
