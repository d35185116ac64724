#!/usr/bin/env bash
# A real Slurm scheduler on this machine, for CI: starts munged, slurmctld and slurmd (a single-node
# cluster on localhost with a config generated for this machine, all state in a temporary folder),
# submits examples/slurm/upscale.sbatch as a 3-task array on a small bundled raster, mosaics the parts
# and checks that the pixels equal a single-process run of the same command. Stops every daemon it
# started. Installs Debian's slurm-wlm pieces and munge when missing; skips (exit 0, with a message)
# only when they cannot be installed.
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$(pwd)

need=()
for tool in slurmctld slurmd sbatch munged; do command -v "$tool" >/dev/null || need+=("$tool"); done
if [ ${#need[@]} -gt 0 ]; then
  sudo=""
  [ "$(id -u)" -ne 0 ] && sudo="sudo"
  echo "slurm-local: installing slurmctld slurmd slurm-client munge (missing: ${need[*]})"
  if ! { $sudo env DEBIAN_FRONTEND=noninteractive apt-get update -qq &&
    $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
      slurmctld slurmd slurm-client munge >/dev/null; }; then
    echo "slurm-local: SKIPPED — could not install Slurm and munge with apt-get (no root or no package source)"
    exit 0
  fi
fi

work=$(mktemp -d /tmp/sr3-slurm-XXXXXX)
daemons=()
stop() {
  for pid in "${daemons[@]}"; do kill "$pid" 2>/dev/null || true; done
  for pid in "${daemons[@]}"; do
    for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  done
  rm -rf "$work"
}
trap stop EXIT

free_port() { python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }

# munge: its own key, socket and state, so no system munged is touched.
mkdir -m 700 "$work/munge"
dd if=/dev/urandom of="$work/munge/munge.key" bs=1024 count=1 status=none
chmod 400 "$work/munge/munge.key"
munged --force --foreground --socket="$work/munge/socket" --key-file="$work/munge/munge.key" \
  --pid-file="$work/munge/munged.pid" --seed-file="$work/munge/seed" --log-file="$work/munge/munged.log" \
  >"$work/munged.out" 2>&1 &
daemons+=($!)

# slurm.conf for this machine: slurmd -C reports its CPUs, sockets and memory.
node=$(slurmd -C | head -1)
node_name=$(sed 's/^NodeName=\([^ ]*\).*/\1/' <<<"$node")
mkdir -p "$work/state" "$work/spool"
cat >"$work/slurm.conf" <<CONF
ClusterName=sr3local
SlurmctldHost=$node_name(127.0.0.1)
SlurmUser=$(id -un)
SlurmdUser=$(id -un)
SlurmctldPort=$(free_port)
SlurmdPort=$(free_port)
AuthType=auth/munge
AuthInfo=socket=$work/munge/socket
CredType=cred/munge
StateSaveLocation=$work/state
SlurmdSpoolDir=$work/spool
SlurmctldPidFile=$work/slurmctld.pid
SlurmdPidFile=$work/slurmd.pid
SlurmctldLogFile=$work/slurmctld.log
SlurmdLogFile=$work/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
SchedulerType=sched/builtin
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
ReturnToService=2
MpiDefault=none
$node NodeAddr=127.0.0.1 State=UNKNOWN
PartitionName=local Nodes=$node_name Default=YES MaxTime=INFINITE State=UP
CONF
export SLURM_CONF="$work/slurm.conf"
for _ in $(seq 50); do [ -S "$work/munge/socket" ] && break; sleep 0.1; done
slurmctld -D -i >"$work/slurmctld.out" 2>&1 &
daemons+=($!)
slurmd -D -N "$node_name" >"$work/slurmd.out" 2>&1 &
daemons+=($!)
for _ in $(seq 100); do
  sinfo -h -o %T 2>/dev/null | grep -qx idle && break
  sleep 0.2
done
sinfo -h -o %T | grep -qx idle || { echo "slurm-local: the node never became idle"; tail -n 20 "$work"/*.out; exit 1; }
echo "slurm-local: single-node cluster up ($node_name, $(sinfo -h -o %c) CPUs)"

# A small bundled raster and the bundled PyTorch fixture model (×4), the cheapest sampler that still draws noise.
export XDG_RUNTIME_DIR="${XDG_RUNTIME_DIR:-$(mktemp -d)}"
export SR3="npx -y deno@2.9.6 run -A --config $repo/deno.json $repo/cli/main.ts"
data="$work/data"
mkdir -p "$data"
gdal_translate -q -srcwin 0 0 32 24 testdata/deepforest-aerial/OSBS_029.tif "$data/lr.tif"
$SR3 import-torch testdata/torch/ref_small.safetensors --config testdata/torch/ref_small.config.json \
  --out "$data/model" --downsample-factor 4 >/dev/null
flags=(--sampling-type ddim --sampling-steps 2 --eta 1 --samples 1 --tile-size 8 --padding 1)

start=$(date +%s)
sbatch --wait --array=0-2 --cpus-per-task=1 --output="$work/task-%a.out" --chdir="$data" \
  examples/slurm/upscale.sbatch "$data/lr.tif" "$data/model" "$data/sharded.tif" "${flags[@]}" ||
  { echo "slurm-local: the array job failed"; tail -n 20 "$work"/*.out; exit 1; }
echo "slurm-local: 3-task array finished in $(($(date +%s) - start)) s"
$SR3 mosaic "$data/sharded.tif.parts" --out "$data/sharded_cog.tif"
$SR3 upscale "$data/lr.tif" --model "$data/model" --out "$data/single.tif" "${flags[@]}" >/dev/null

checksums() { gdalinfo -checksum --config GDAL_PAM_ENABLED NO "$1" | grep 'Checksum='; }
if [ "$(checksums "$data/sharded_cog.tif")" != "$(checksums "$data/single.tif")" ]; then
  echo "slurm-local: FAILED — the mosaic of the Slurm array differs from the single run"
  exit 1
fi
echo "slurm-local: ok — the 3-shard Slurm array's mosaic has the single run's pixels"
