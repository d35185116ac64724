#!/usr/bin/python3
"""Time the PyTorch SR3 reference UNet on this CPU: the native baseline sr3 is compared against.

    /usr/bin/python3 bench/torch_unet.py [--config tiny|sr3-16-128|arcgis] [--batch 1]
                                         [--channel-mults 1,2,2] [--blas system|reference|openblas]
                                         [--threads N] [--runs N] [--warmup N]

Prints one JSON line: config knobs, parameter count, median train_step_ms (forward + L1 loss +
backward + Adam step, as the reference's optimize_parameters does) and sample_step_ms (one
no-grad eval forward: what each sampler step costs), plus torch version, threads and the BLAS
library actually loaded.

The model is tests/fixtures/torch_reference.py, checked key-for-key and output-for-output
against the reference repository's UNet.

BLAS: Debian's torch calls libblas.so.3, which update-alternatives resolves machine-wide
(the plain reference BLAS when only libblas3 is installed, OpenBLAS once libopenblas0 is).
`--blas reference|openblas` pins one for this run only, by re-running the script with
LD_LIBRARY_PATH pointing at that implementation's directory; `system` takes whatever resolves.
When libopenblas0-pthread is not installed, `--blas openblas` unpacks Debian's package into
~/.cache/sr3/openblas (`apt-get download` + `dpkg -x`: no root, the system's BLAS is untouched).
--threads sets torch's OpenMP pool; OpenBLAS is kept single-threaded (see rerun_configured).
"""

import argparse
import json
import os
import statistics
import sys
import time

sys.dont_write_bytecode = True  # keep __pycache__ out of the repository's tests/ tree
sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                                "tests", "fixtures"))

MULTIARCH = "/usr/lib/x86_64-linux-gnu"
BLAS_DIRECTORIES = {"system": [], "reference": [f"{MULTIARCH}/blas", f"{MULTIARCH}/lapack"],
                    "openblas": [f"{MULTIARCH}/openblas-pthread"]}
OPENBLAS_CACHE = os.path.join(os.environ.get("XDG_CACHE_HOME", os.path.expanduser("~/.cache")), "sr3", "openblas")
CHILD_MARKER = "SR3_TORCH_BENCH_CONFIGURED"
BENCH_CONFIGS = ("tiny", "sr3-16-128", "arcgis")
# Big models are slow enough that a few runs already give a stable median.
DEFAULT_RUNS = {"tiny": (20, 5), "sr3-16-128": (5, 2), "arcgis": (3, 1)}


def rerun_configured(blas: str, threads: int) -> None:
    """Re-execute this script with the BLAS and thread environment fixed (done before torch loads,
    since the dynamic loader and the thread pools read these variables only at start-up)."""
    if os.environ.get(CHILD_MARKER):
        return
    # torch parallelises over its OpenMP threads and calls BLAS from inside them; letting OpenBLAS
    # start its own pool as well oversubscribes the cores (measured here: 2+2 threads made the tiny
    # train step ~2.4x slower than 2 OpenMP threads with single-threaded OpenBLAS).
    env = dict(os.environ, OMP_NUM_THREADS=str(threads), OPENBLAS_NUM_THREADS="1")
    env[CHILD_MARKER] = "1"
    directories = BLAS_DIRECTORIES[blas]
    if blas == "openblas" and not os.path.isdir(directories[0]):
        directories = [unpacked_openblas()]
    for directory in directories:
        if not os.path.isdir(directory):
            sys.exit(f"--blas {blas}: {directory} does not exist; is that BLAS installed?")
    if directories:
        env["LD_LIBRARY_PATH"] = ":".join(directories + [env.get("LD_LIBRARY_PATH", "")]).rstrip(":")
    os.execve(sys.executable, [sys.executable] + sys.argv, env)


def unpacked_openblas() -> str:
    """Debian's libopenblas0-pthread unpacked into the user's cache (fetched once), for this bench only."""
    import glob
    import subprocess
    directory = os.path.join(OPENBLAS_CACHE, MULTIARCH.lstrip("/"), "openblas-pthread")
    if not os.path.isdir(directory):
        os.makedirs(OPENBLAS_CACHE, exist_ok=True)
        fetch = subprocess.run(["apt-get", "download", "libopenblas0-pthread"], cwd=OPENBLAS_CACHE,
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        packages = glob.glob(os.path.join(OPENBLAS_CACHE, "libopenblas0-pthread_*.deb"))
        if fetch.returncode != 0 or not packages:
            sys.exit(f"--blas openblas: apt-get download libopenblas0-pthread failed: {fetch.stderr.strip()}")
        subprocess.run(["dpkg", "-x", packages[0], OPENBLAS_CACHE], check=True)
    return directory


def loaded_blas() -> str:
    """The BLAS shared object(s) mapped into this process, resolved through symlinks."""
    with open("/proc/self/maps") as maps:
        paths = {line.split()[-1] for line in maps}
    libraries = {os.path.realpath(path) for path in paths if "blas" in os.path.basename(path)}
    return ", ".join(sorted(libraries)) or "none mapped"


def build_info() -> str:
    """BLAS_INFO / LAPACK_INFO from torch's build configuration (e.g. 'generic' on Debian)."""
    import torch
    fields = torch.__config__.show().replace(",", " ").split()
    return " ".join(f for f in fields if f.startswith(("BLAS_INFO=", "LAPACK_INFO=")))


def forward_flops(model, *inputs) -> int:
    """Multiply-adds ×2 of one forward pass: every Conv2d and Linear, plus attention's two batched
    products (QKᵀ and PV, counted from the SelfAttention modules' input sizes)."""
    import torch
    from torch import nn
    total = 0

    def count(module, args, output) -> None:
        nonlocal total
        if isinstance(module, nn.Conv2d):
            kernel = module.kernel_size[0] * module.kernel_size[1]
            total += 2 * output.numel() * module.in_channels // module.groups * kernel
        elif isinstance(module, nn.Linear):
            total += 2 * output.numel() * module.in_features
        elif type(module).__name__ == "SelfAttention":
            batch, channels, height, width = args[0].shape
            total += 2 * 2 * batch * channels * (height * width) ** 2

    handles = [m.register_forward_hook(count) for m in model.modules()]
    with torch.no_grad():
        model(*inputs)
    for handle in handles:
        handle.remove()
    return total


def median_ms(step, runs: int, warmup: int) -> float:
    for _ in range(warmup):
        step()
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        step()
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description="Time the PyTorch SR3 reference UNet on the CPU.")
    parser.add_argument("--config", choices=BENCH_CONFIGS, default="tiny")
    parser.add_argument("--batch", type=int, default=1)
    parser.add_argument("--channel-mults", help="override the preset's channel_multiplier, e.g. 1,2,2")
    parser.add_argument("--blas", choices=sorted(BLAS_DIRECTORIES), default="system")
    # Default to every usable core: lavapipe, which sr3 runs on here, uses them all (this torch
    # build's own OpenMP default on these machines is one thread).
    parser.add_argument("--threads", type=int, default=len(os.sched_getaffinity(0)))
    parser.add_argument("--runs", type=int)
    parser.add_argument("--warmup", type=int)
    args = parser.parse_args()
    runs, warmup = DEFAULT_RUNS[args.config]
    runs, warmup = args.runs or runs, args.warmup if args.warmup is not None else warmup

    rerun_configured(args.blas, args.threads)
    # Imported only now: torch must load after the environment above is in place.
    import torch
    from torch_reference import PRESETS, init_orthogonal, parameter_count, unet_from_config

    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    knobs = dict(PRESETS[args.config])
    if args.channel_mults:
        knobs["channel_multiplier"] = [int(m) for m in args.channel_mults.split(",")]
    model = unet_from_config(knobs, knobs["image_size"])
    init_orthogonal(model)
    size = knobs["image_size"]
    condition_and_noisy = torch.rand(args.batch, knobs["in_channel"], size, size) * 2 - 1
    noise = torch.randn(args.batch, knobs["out_channel"], size, size)
    noise_level = torch.rand(args.batch, 1)  # [B, 1], as the reference's p_losses passes it
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-4)

    def train_step() -> None:
        optimizer.zero_grad()
        # The reference sums |eps - eps_hat| and divides by B*C*H*W: a mean L1.
        loss = (model(condition_and_noisy, noise_level) - noise).abs().mean()
        loss.backward()
        optimizer.step()

    def sample_step() -> None:
        with torch.no_grad():
            model(condition_and_noisy, noise_level)

    flops = forward_flops(model, condition_and_noisy, noise_level) / args.batch
    model.train()  # dropout active where the config has it, as in real training
    train_ms = median_ms(train_step, runs, warmup)
    model.eval()
    sample_ms = median_ms(sample_step, runs, warmup)

    print(json.dumps({
        "config": args.config, "knobs": knobs, "batch": args.batch, "params": parameter_count(model),
        "forward_gflop_per_image": round(flops / 1e9, 4), "train_step_ms": round(train_ms, 2), "sample_step_ms": round(sample_ms, 2),
        "runs": runs, "warmup": warmup, "threads": torch.get_num_threads(), "torch": torch.__version__,
        "blas_requested": args.blas, "blas": loaded_blas(), "blas_build": build_info(),
        "mkldnn": torch.backends.mkldnn.is_available(),
    }))


if __name__ == "__main__":
    main()
