"""train()'s time per iteration against a bare PyTorch loop on the same model and batches (the engine's overhead).

On a GPU it also times the `report` preset (the seed model at 512², AMP, channels-last) and projects the
40,000 iterations of the seed schedule.
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

import torch

from faceparse_lib.training import distributed
from faceparse_lib.bench import Comparison
from faceparse_lib.training.config import TrainConfig
from faceparse_lib.training.losses import SegmentationLoss
from faceparse_lib.models.zoo import build_model
from faceparse_lib.data.synthetic import make_synthetic_dataset
from faceparse_lib.training.loop import train_loader, train
from faceparse_lib.training.optim import build_optimizer
from faceparse_lib.training.run_files import read_log

WARMUP = 10  # iterations left out of every timing (first-call allocations, caches)


def seconds_per_iteration_of_train(cfg: TrainConfig) -> float:
    """Wall seconds per iteration of train() between its first and last log rows (no validation in between)."""
    frame = read_log(train(cfg))
    rows = frame[frame.kind == "train"]
    first, last = rows.iloc[0], rows.iloc[-1]
    return (last.seconds - first.seconds) / (last.iteration - first.iteration)


def seconds_per_iteration_of_bare_loop(cfg: TrainConfig) -> float:
    """The same model, loss, optimizer and batches in a plain loop: forward, loss, backward, step."""
    env = distributed.Distributed(device=distributed.resolve_device(cfg.device))
    torch.manual_seed(cfg.seed)
    model = build_model(cfg.model, num_classes=cfg.num_classes).to(env.device).train()
    loss_fn = SegmentationLoss.from_name(cfg.loss, None, cfg.aux_weight).to(env.device)  # the preset's terms
    optimizer = build_optimizer(model, cfg)
    start = None
    for iteration, (images, masks) in enumerate(train_loader(cfg, env, 0)):
        if iteration == WARMUP:
            start = time.perf_counter()
        loss = loss_fn(model(images.to(env.device)), masks.to(env.device))
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
    if env.device.type == "cuda":
        torch.cuda.synchronize()
    return (time.perf_counter() - start) / (cfg.iterations - WARMUP)


def engine_overhead(root: Path, work: Path, iterations: int) -> Comparison:
    """train() on the cpu preset (validation only at the end, outside the timing) against the bare loop."""
    cfg = TrainConfig.preset(
        "cpu", data_root=str(root), run_dir=str(work / "run"), iterations=iterations, log_interval=WARMUP,
        eval_interval=iterations, checkpoint_interval=iterations, warmup_iterations=0, progress=False,
    )
    result = Comparison(f"training iteration, {cfg.model} {cfg.crop_size}px batch {cfg.batch_size} on the CPU",
                        baseline="bare PyTorch loop", units=cfg.batch_size, unit="images")
    result.seconds["bare PyTorch loop"] = seconds_per_iteration_of_bare_loop(cfg)
    result.seconds["train()"] = seconds_per_iteration_of_train(cfg)
    result.notes["train()"] = "logging, loss terms, NaN check, stop checks, progress off"
    return result


def preset_projection(preset: str, root: Path, work: Path, iterations: int) -> Comparison:
    """A GPU preset's time per iteration on this GPU, and what its whole schedule would take (validation extra)."""
    full = TrainConfig.preset(preset)
    cfg = TrainConfig.preset(preset, data_root=str(root), run_dir=str(work / preset), pretrained=False, holdout=0,
                             iterations=iterations, log_interval=WARMUP, eval_interval=iterations,
                             checkpoint_interval=iterations, progress=False)
    per_iteration = seconds_per_iteration_of_train(cfg)
    name = f"train() {preset} preset"
    result = Comparison(f"{preset} preset, {cfg.model} {cfg.crop_size}px batch {cfg.batch_size}, AMP + channels-last on "
                        f"{torch.cuda.get_device_name(0)}", baseline=name, units=cfg.batch_size, unit="images")
    result.seconds[name] = per_iteration
    result.notes[name] = (f"{full.iterations:,} iterations ≈ {full.iterations * per_iteration / 3600:.1f} h "
                          "plus validation")
    return result


def run(quick: bool) -> list[Comparison]:
    """Engine overhead on the CPU; on a GPU the report and challenge presets' projections too."""
    iterations = 40 if quick else 150
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        root = make_synthetic_dataset(work / "synth", 32, 4, size=256 if quick else 512, seed=0)
        results = [engine_overhead(root, work, iterations)]
        if torch.cuda.is_available():
            results += [preset_projection(name, root, work, 30 if quick else 100) for name in ("report", "challenge")]
    return results
