#!/usr/bin/env bash
# Throughput of N concurrent `sr3 upscale --shard K/N` processes against one process on this machine,
# on a small bundled raster with a cheap sampler (the ratio, not the absolute speed, is the point).
# Usage: scripts/shard-throughput.sh [N ...]   (default: 2 3)
set -euo pipefail
cd "$(dirname "$0")/.."
export XDG_RUNTIME_DIR="${XDG_RUNTIME_DIR:-$(mktemp -d)}"
work=$(mktemp -d /tmp/sr3-throughput-XXXXXX)
trap 'rm -rf "$work"' EXIT
sr3=(npx -y deno@2.9.6 run -A --config "$PWD/deno.json" "$PWD/cli/main.ts")
gdal_translate -q -srcwin 0 0 64 48 testdata/deepforest-aerial/OSBS_029.tif "$work/lr.tif"
"${sr3[@]}" import-torch testdata/torch/ref_small.safetensors --config testdata/torch/ref_small.config.json \
  --out "$work/model" --downsample-factor 4 >/dev/null
flags=(--model "$work/model" --sampling-type ddim --sampling-steps 2 --eta 1 --samples 1 --tile-size 8 --padding 1)
seconds() { python3 -c 'import time; print(time.time())'; }

start=$(seconds)
"${sr3[@]}" upscale "$work/lr.tif" --out "$work/single.tif" "${flags[@]}" --json >/dev/null
single=$(python3 -c "print(round($(seconds) - $start, 1))")
echo "processes  wall (s)  speed-up  (64×48 → 256×192, DDIM 2 steps, 8-px tiles; $(nproc) CPUs)"
echo "1          $single      1.00"
for n in "${@:-2 3}"; do
  for count in $n; do
    start=$(seconds)
    pids=()
    for ((k = 0; k < count; k++)); do
      "${sr3[@]}" upscale "$work/lr.tif" --out "$work/sharded$count.tif" "${flags[@]}" --shard "$k/$count" \
        --json >/dev/null &
      pids+=($!)
    done
    for pid in "${pids[@]}"; do wait "$pid"; done
    "${sr3[@]}" mosaic "$work/sharded$count.tif.parts" --out "$work/sharded$count.vrt" >/dev/null
    wall=$(python3 -c "print(round($(seconds) - $start, 1))")
    echo "$count          $wall      $(python3 -c "print(f'{$single / $wall:.2f}')")"
  done
done
