#!/usr/bin/env bash
# Worked example on the 92-image set (Kriegeskorte et al. 2008) with its human IT RDMs
# (4 subjects × 2 sessions, read in place from ../shared/data/kriegeskorte92):
#  1. subject RDMs against each other, with the noise ceiling (Kendall τa);
#  2. seeded random-weight AlexNet: activations → correlation RDMs → Kendall τa against the
#     8 subject RDMs, 10,000 permutations, noise ceiling, 1,000 stimulus bootstraps.
# Usage: bash examples/kriegeskorte92.sh [OUT_DIR]
set -euo pipefail
DATA="${DATA:-$(dirname "$0")/../../shared/data/kriegeskorte92}"
OUT="${1:-kriegeskorte92-out}"
mkdir -p "$OUT"
cargo build --release --quiet
V=target/release/ventral
$V compare --model-rdms "$DATA/hit_rdms.npy" --brain-rdms "$DATA/hit_rdms.npy" \
    --method kendall-tau-a --noise-ceiling --out "$OUT/subjects.csv"
$V extract --model alexnet --random-init --seed 0 --images "$DATA/images" \
    --layers features.1,features.4,features.7,features.9,features.11,classifier.2,classifier.5,classifier.6 \
    --out "$OUT/alexnet-seed0.safetensors"
$V rdm --activations "$OUT/alexnet-seed0.safetensors" --metric correlation --out "$OUT/alexnet-rdms.safetensors"
$V compare --model-rdms "$OUT/alexnet-rdms.safetensors" --brain-rdms "$DATA/hit_rdms.npy" \
    --method kendall-tau-a --permutations 10000 --seed 0 --noise-ceiling --bootstrap 1000 \
    --out "$OUT/alexnet-vs-hit.csv"
