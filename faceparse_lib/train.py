"""Training: one config dataclass, two presets (the report's GPU schedule, a CPU recipe), one resumable loop."""

from __future__ import annotations

import csv
import json
import logging
import math
import os
import platform
import signal
import threading
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Callable

import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.data import DataLoader

from faceparse_lib import checkpoint as ckpt
from faceparse_lib import distributed
from faceparse_lib.batches import CachedPairs, ResizedPairs, SeededSamples, StreamBatchSampler
from faceparse_lib.classes import CLASSES, IGNORE_INDEX, NUM_CLASSES
from faceparse_lib.data import FaceParsingDataset, list_pairs
from faceparse_lib.evaluate import predict_probs, same_size_batches
from faceparse_lib.losses import SegmentationLoss
from faceparse_lib.config import PRESETS, TrainConfig, lr_at
from faceparse_lib.metrics import ConfusionMatrix
from faceparse_lib.model import build_model
from faceparse_lib.transforms import train_transform

log = logging.getLogger(__name__)

CONFIG_FILE, LOG_FILE, WEIGHTS_FILE = "config.json", "log.csv", "class_weights.json"
LOG_COLUMNS = (
    ["kind", "iteration", "seconds", "loss", "loss_out", "loss_aux", "lr"]
    + ["val_loss", "miou", "mean_f1", "pixel_accuracy"]
    + [f"iou_{name}" for name in CLASSES]
)
# Fields that may change when a run is resumed; any other difference means a different run.
# amp, channels_last and device may change because a run started on one Colab runtime continues on another.
RESUMABLE_CHANGES = {"iterations", "time_limit_minutes", "workers", "progress", "eval_interval", "checkpoint_interval",
                     "log_interval", "run_dir", "data_root", "eval_batch_size", "device", "amp", "channels_last"}
WARMUP_FOR_ESTIMATE = 20  # iterations before the one-line estimate of the whole run's time


class _Interrupted(Exception):
    """Ctrl-C after the checkpoint was written: leaves the loop as KeyboardInterrupt without saving twice."""


class TrainingDiverged(RuntimeError):
    """The loss became NaN or infinite; the last good checkpoint is kept."""


def make_sgd(params: list[dict], cfg: TrainConfig) -> torch.optim.Optimizer:
    return torch.optim.SGD(params, lr=cfg.lr, momentum=cfg.momentum, weight_decay=cfg.weight_decay)


def make_adamw(params: list[dict], cfg: TrainConfig) -> torch.optim.Optimizer:
    return torch.optim.AdamW(params, lr=cfg.lr, weight_decay=cfg.weight_decay)


OPTIMIZERS: dict[str, Callable[[list[dict], TrainConfig], torch.optim.Optimizer]] = {"sgd": make_sgd, "adamw": make_adamw}
__all__ = ["PRESETS", "TrainConfig", "TrainingDiverged", "lr_at", "read_log", "train", "validate"]


def build_optimizer(model: nn.Module, cfg: TrainConfig) -> torch.optim.Optimizer:
    """SGD decays every weight (as mmseg's seed config did); AdamW leaves norms and biases undecayed."""
    params = [p for p in model.parameters() if p.requires_grad]
    if cfg.optimizer == "adamw":
        decay = [p for p in params if p.ndim > 1]
        rest = [p for p in params if p.ndim <= 1]
        groups = [{"params": decay}, {"params": rest, "weight_decay": 0.0}]
    else:
        groups = [{"params": params}]
    return OPTIMIZERS[cfg.optimizer](groups, cfg)


def amp_dtype(cfg: TrainConfig, device: torch.device) -> torch.dtype | None:
    """The autocast dtype this run uses on `device`, or None for fp32."""
    if cfg.amp == "auto":
        return torch.float16 if device.type == "cuda" else None
    return {"fp16": torch.float16, "bf16": torch.bfloat16, "off": None}[cfg.amp]


def environment() -> dict[str, str]:
    """Python, torch, CUDA and device of this machine, for the report's environment table."""
    cuda = torch.cuda.is_available()
    return {
        "python": platform.python_version(),
        "torch": torch.__version__,
        "cuda": torch.version.cuda or "-" if cuda else "-",
        "device_name": torch.cuda.get_device_name(0) if cuda else f"CPU ({os.cpu_count()} cores)",
        "platform": platform.platform(),
    }


class CsvLog:
    """log.csv: one row per log interval and per validation, appended as they come (a kill loses nothing written)."""

    def __init__(self, path: Path, keep_until: int | None, enabled: bool = True):
        self.path, self.enabled = path, enabled
        if not enabled:
            return
        rows = []
        if keep_until is not None and path.is_file():
            with open(path, newline="") as handle:
                rows = [r for r in csv.DictReader(handle) if r.get("iteration") and int(r["iteration"]) <= keep_until]
        tmp = path.with_name(f".{path.name}.tmp")
        with open(tmp, "w", newline="") as handle:
            writer = csv.DictWriter(handle, LOG_COLUMNS, extrasaction="ignore")
            writer.writeheader()
            writer.writerows(rows)
        os.replace(tmp, path)

    def write(self, row: dict[str, Any]) -> None:
        """Append one row (missing columns left blank)."""
        if self.enabled:
            with open(self.path, "a", newline="") as handle:
                csv.DictWriter(handle, LOG_COLUMNS, extrasaction="ignore").writerow(row)


class StopRequest:
    """SIGINT/SIGTERM during training set a flag, so the loop stops between two steps with a consistent checkpoint."""

    def __init__(self) -> None:
        self.signal: int | None = None
        self._previous: dict[int, Any] = {}

    def __enter__(self) -> StopRequest:
        if threading.current_thread() is threading.main_thread():
            for sig in (signal.SIGINT, signal.SIGTERM):
                self._previous[sig] = signal.signal(sig, self._handle)
        return self

    def _handle(self, signum: int, frame: Any) -> None:
        if self.signal is not None and signum == signal.SIGINT:
            raise KeyboardInterrupt  # a second Ctrl-C stops at once
        self.signal = signum

    def __exit__(self, *exc: Any) -> None:
        for sig, handler in self._previous.items():
            signal.signal(sig, handler)


@dataclass
class _RunState:
    """What the loop carries between iterations (besides model and optimizer)."""

    iteration: int = 0
    seconds: float = 0.0  # training wall time of earlier sessions
    best_miou: float = -1.0
    best_iteration: int | None = None
    # Loss sums of the log interval in progress (mean over ranks), so the first row after a resume averages
    # the same iterations as a straight run's.
    running: dict[str, float] = field(default_factory=dict)


def train(cfg: TrainConfig, callback: Callable[[dict[str, Any]], None] | None = None) -> Path:
    """Train (or resume, when the run dir has last.pt) and return the run dir.

    `callback(row)` gets every row written to log.csv (from rank 0); raising KeyboardInterrupt in it stops
    training with a checkpoint, as Ctrl-C does.
    """
    env = distributed.setup(cfg.device)
    try:
        return _train(cfg, env, callback)
    finally:
        distributed.teardown(env)


def _train(cfg: TrainConfig, env: distributed.Distributed, callback: Callable | None) -> Path:
    run_dir = Path(cfg.run_dir)
    device = env.device
    resumed = _read_resume_state(run_dir, cfg)
    if env.is_main:
        run_dir.mkdir(parents=True, exist_ok=True)
        _write_json(run_dir / CONFIG_FILE, {**asdict(cfg), "environment": environment()})

    torch.manual_seed(cfg.seed)  # the same initial weights for the same seed
    model = build_model(cfg.model, num_classes=cfg.num_classes, pretrained=cfg.pretrained)
    channels_last = cfg.channels_last and device.type == "cuda"
    model = model.to(device, memory_format=torch.channels_last if channels_last else torch.contiguous_format)
    weights = _class_weights(cfg, run_dir, env)
    loss_fn = SegmentationLoss(weights, aux_weight=cfg.aux_weight).to(device)
    optimizer = build_optimizer(model, cfg)
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda t: lr_at(cfg, t) / cfg.lr)
    dtype = amp_dtype(cfg, device)
    scaler = torch.amp.GradScaler(device.type, enabled=dtype == torch.float16)
    state = _RunState()
    if resumed is not None:
        model.load_state_dict(resumed["model"])
        optimizer.load_state_dict(resumed["optimizer"])
        scheduler.load_state_dict(resumed["scheduler"])
        _load_scaler_state(scaler, resumed.get("scaler"))
        _set_rng_state(resumed["rng"])
        state.iteration, state.seconds = resumed["iteration"], resumed.get("seconds", 0.0)
        state.best_miou = resumed.get("best_miou") if resumed.get("best_miou") is not None else -1.0
        state.best_iteration = resumed.get("best_iteration")
        state.running = dict(resumed.get("running") or {})
        log.info("resuming %s at iteration %d", run_dir, state.iteration)
    net = model
    if env.enabled:
        if device.type == "cuda":  # batch statistics over all GPUs' crops, as mmseg's multi-GPU configs do
            model = nn.SyncBatchNorm.convert_sync_batchnorm(model)
        net = nn.parallel.DistributedDataParallel(model, device_ids=[device.index] if device.type == "cuda" else None)

    train_loader = _train_loader(cfg, env, state.iteration)
    val_data = _val_data(cfg)
    csv_log = CsvLog(run_dir / LOG_FILE, keep_until=state.iteration if resumed else None, enabled=env.is_main)

    def save(name: str) -> None:
        # Each rank's last forward updated its own BatchNorm statistics; rank 0's are the run's (called on all ranks).
        distributed.broadcast_buffers(model, env)
        state.running = _mean_over_ranks(running, env)
        if env.is_main:
            ckpt.save_checkpoint(_checkpoint_state(model, optimizer, scheduler, scaler, cfg, state, session_start), run_dir / name)

    def emit(row: dict[str, Any]) -> None:
        csv_log.write(row)
        if callback is not None and env.is_main:
            try:
                callback(row)
            except KeyboardInterrupt:  # finish this iteration (validation, checkpoint), then stop as Ctrl-C does
                stop.signal = signal.SIGINT

    from tqdm.auto import tqdm

    session_start = time.perf_counter()
    bar = tqdm(total=cfg.iterations, initial=state.iteration, desc="train", unit="it",
               disable=not (cfg.progress and env.is_main), dynamic_ncols=True)
    running: dict[str, float] = dict(state.running)
    estimate_from: tuple[int, float] | None = None
    mid_step = False  # an interrupt in the middle of a step leaves no consistent state to save
    net.train()
    try:
        with StopRequest() as stop:
            for images, masks in train_loader:
                mid_step = True
                images = images.to(device, non_blocking=True)
                masks = masks.to(device, non_blocking=True)
                if channels_last:
                    images = images.contiguous(memory_format=torch.channels_last)
                with torch.autocast(device.type, dtype=dtype or torch.float32, enabled=dtype is not None):
                    terms = loss_fn.terms(net(images), masks)
                    loss = terms["ce"] + cfg.aux_weight * terms.get("aux", 0.0)
                values = {"loss": float(loss.detach()), "loss_out": float(terms["ce"].detach())}
                if "aux" in terms:
                    values["loss_aux"] = float(terms["aux"].detach())
                if distributed.any_rank(torch.tensor([float(not math.isfinite(values["loss"]))]), env)[0]:
                    raise TrainingDiverged(
                        f"iteration {state.iteration + 1}: loss is {values['loss']} (main {values['loss_out']}, "
                        f"aux {values.get('loss_aux', '-')}); training stopped, the last good checkpoint is kept in {run_dir}"
                    )
                optimizer.zero_grad(set_to_none=True)
                scaler.scale(loss).backward()
                scaler.step(optimizer)
                scaler.update()
                scheduler.step()
                state.iteration += 1
                mid_step = False
                bar.update()
                for key, value in values.items():
                    running[key] = running.get(key, 0.0) + value
                t = state.iteration
                elapsed = state.seconds + time.perf_counter() - session_start
                if t % cfg.log_interval == 0 or t == cfg.iterations:
                    count = t % cfg.log_interval or cfg.log_interval
                    sums = _mean_over_ranks({k: running.get(k, 0.0) for k in values}, env)
                    means = [sums[k] / count for k in values]
                    row = {"kind": "train", "iteration": t, "seconds": round(elapsed, 3), "lr": optimizer.param_groups[0]["lr"],
                           **{k: float(v) for k, v in zip(values, means)}}
                    running.clear()
                    bar.set_postfix(loss=f"{row['loss']:.3f}", lr=f"{row['lr']:.2e}")
                    emit(row)
                estimate_from = _estimate_line(bar, cfg, state, estimate_from, env)
                if t % cfg.eval_interval == 0 or t == cfg.iterations:
                    distributed.broadcast_buffers(model, env)
                    row = validate(net if not env.enabled else model, val_data, loss_fn, cfg, env)
                    row.update(iteration=t, seconds=round(state.seconds + time.perf_counter() - session_start, 3))
                    emit(row)
                    if env.is_main and cfg.progress:
                        bar.write(f"iteration {t}: val mIoU {row['miou']:.4f}, mean F1 {row['mean_f1']:.4f}, val loss {row['val_loss']:.4f}")
                    if row["miou"] > state.best_miou:
                        state.best_miou, state.best_iteration = row["miou"], t
                        save(ckpt.BEST)
                    net.train()
                if t % cfg.checkpoint_interval == 0 or t == cfg.iterations:
                    save(ckpt.LAST)
                over_time = cfg.time_limit_minutes is not None and time.perf_counter() - session_start > 60 * cfg.time_limit_minutes
                stopping = distributed.any_rank(torch.tensor([float(over_time), float(stop.signal is not None)]), env)
                if stopping.any():
                    save(ckpt.LAST)
                    why = "time limit reached" if stopping[0] else f"signal {stop.signal} received"
                    log.warning("%s: stopped at iteration %d with a checkpoint in %s", why, t, run_dir)
                    if stop.signal == signal.SIGINT:
                        raise _Interrupted
                    break
    except _Interrupted:
        raise KeyboardInterrupt from None
    except KeyboardInterrupt:
        if not mid_step:
            save(ckpt.LAST)
            log.warning("interrupted: checkpoint of iteration %d in %s", state.iteration, run_dir)
        raise
    finally:
        bar.close()
    return run_dir


def _mean_over_ranks(sums: dict[str, float], env: distributed.Distributed) -> dict[str, float]:
    """Each value averaged over the ranks (itself in a single process); called on every rank."""
    if not sums:
        return {}
    values = distributed.sum_over_ranks(torch.tensor(list(sums.values()), dtype=torch.float64), env) / env.world_size
    return {k: float(v) for k, v in zip(sums, values)}


def _load_scaler_state(scaler: torch.amp.GradScaler, saved: dict[str, Any] | None) -> None:
    """Restore the GradScaler when both runs used one; its state is advisory, so any other case starts it fresh."""
    if saved and scaler.is_enabled():
        scaler.load_state_dict(saved)
    elif scaler.is_enabled():
        log.info("resuming with fp16 loss scaling after a run without it: the scaler starts fresh")


def _estimate_line(bar: Any, cfg: TrainConfig, state: _RunState, start: tuple[int, float] | None,
                   env: distributed.Distributed) -> tuple[int, float] | None:
    """After a short warm-up, say once how long the whole run will take at the speed measured since."""
    now = time.perf_counter()
    if start is None:
        return (state.iteration, now)
    first, began = start
    done = state.iteration - first
    if done == WARMUP_FOR_ESTIMATE and env.is_main:
        per_it = (now - began) / done
        left = (cfg.iterations - state.iteration) * per_it
        message = (f"{1 / per_it:.2f} it/s: the remaining {cfg.iterations - state.iteration} iterations take about "
                   f"{_duration(left)} (validation and checkpoints extra)")
        log.info(message)
        if cfg.progress:
            bar.write(message)
    return start


def _duration(seconds: float) -> str:
    minutes = seconds / 60
    return f"{seconds:.0f} s" if seconds < 90 else f"{minutes:.1f} min" if minutes < 90 else f"{minutes / 60:.1f} h"


@torch.inference_mode()
def validate(model: nn.Module, val_data: torch.utils.data.Dataset, loss_fn: SegmentationLoss, cfg: TrainConfig,
             env: distributed.Distributed) -> dict[str, Any]:
    """Val loss (main head), mIoU, mean F1, pixel accuracy and per-class IoU, scored at each mask's own size."""
    device = env.device
    matrix = ConfusionMatrix(cfg.num_classes, device=device)
    indices = list(range(env.rank, len(val_data), env.world_size))  # each rank scores its share
    totals = torch.zeros(2, dtype=torch.float64)  # weighted CE sum, non-ignored pixels
    weights = loss_fn.class_weights
    for start in range(0, len(indices), cfg.eval_batch_size):
        images, masks = zip(*(val_data[i] for i in indices[start:start + cfg.eval_batch_size]))
        for image_batch, mask_batch in same_size_batches(images, masks):
            mask_batch = mask_batch.to(device)
            probs = predict_probs(model, image_batch, mask_batch.shape[-2:], input_size=cfg.input_size)
            log_probs = probs.clamp_min_(torch.finfo(probs.dtype).tiny).log_()
            totals[0] += float(F.nll_loss(log_probs, mask_batch, weight=weights, ignore_index=IGNORE_INDEX, reduction="sum"))
            totals[1] += int((mask_batch != IGNORE_INDEX).sum())
            matrix.update(log_probs, mask_batch)
    matrix.all_reduce()
    totals = distributed.sum_over_ranks(totals, env)
    row: dict[str, Any] = {
        "kind": "val", "val_loss": float(totals[0] / max(totals[1], 1)), "miou": matrix.miou(),
        "mean_f1": matrix.mean_f1(), "pixel_accuracy": matrix.pixel_accuracy(),
    }
    if cfg.num_classes == NUM_CLASSES:
        row.update({f"iou_{name}": float(v) for name, v in zip(CLASSES, matrix.iou())})
    return row


def _train_loader(cfg: TrainConfig, env: distributed.Distributed, start: int) -> DataLoader:
    """Batches for iterations start..iterations-1 on this rank: the seeded stream, the report's augmentation."""
    pairs = list_pairs(cfg.data_root, "train")
    if cfg.cache_data:
        data = CachedPairs(pairs, cfg.input_size, progress=cfg.progress and env.is_main, desc="load train")
    else:
        data = FaceParsingDataset(cfg.data_root, "train")
        if cfg.input_size is not None:
            data = ResizedPairs(data, cfg.input_size)
    transform = train_transform(crop_size=cfg.crop_size, ratio_range=cfg.ratio_range, cat_max_ratio=cfg.cat_max_ratio,
                                flip_p=cfg.flip_p, photometric=cfg.photometric)
    sampler = StreamBatchSampler(len(data), cfg.batch_size, start, cfg.iterations, cfg.seed, env.world_size, env.rank)
    workers = cfg.workers if cfg.workers is not None else (0 if cfg.cache_data else min(4, os.cpu_count() or 1))
    # Its own generator, so making the loader does not draw from the global RNG (the model's dropout stream).
    return DataLoader(SeededSamples(data, transform), batch_sampler=sampler, num_workers=workers,
                      pin_memory=env.device.type == "cuda", generator=torch.Generator(), persistent_workers=False)


def _val_data(cfg: TrainConfig) -> torch.utils.data.Dataset:
    """The val split; cached runs keep images at the model's input size and masks at their own size."""
    if cfg.cache_data:
        return CachedPairs(list_pairs(cfg.data_root, "val"), cfg.input_size, resize_masks=False,
                           progress=cfg.progress, desc="load val")
    return FaceParsingDataset(cfg.data_root, "val")


def _class_weights(cfg: TrainConfig, run_dir: Path, env: distributed.Distributed) -> torch.Tensor | None:
    """The loss weights: from the run dir's class_weights.json when resuming, else counted on the train masks."""
    if cfg.class_weights is None:
        return None
    from faceparse_lib.weights import class_weights, count_pixels, weights_record

    path = run_dir / WEIGHTS_FILE
    if path.is_file():
        record = json.loads(path.read_text())
        if record.get("method") == cfg.class_weights and len(record.get("weights", [])) == cfg.num_classes:
            return torch.tensor(record["weights"], dtype=torch.float32)
    counts = count_pixels(Path(cfg.data_root) / "train" / "masks", workers=None if env.world_size == 1 else 1)
    weights = class_weights(counts, cfg.class_weights)
    if env.is_main:
        _write_json(path, weights_record(counts, weights.tolist(), cfg.class_weights, "max"))
    return weights


def _read_resume_state(run_dir: Path, cfg: TrainConfig) -> dict[str, Any] | None:
    """The last checkpoint of this run dir, after checking it belongs to the same run."""
    path = run_dir / ckpt.LAST
    if not path.is_file():
        return None
    state = ckpt.read_checkpoint(path)
    saved = state["config"]
    changed = sorted(k for k, v in asdict(cfg).items() if k not in RESUMABLE_CHANGES and _jsonable(saved.get(k)) != _jsonable(v))
    if changed:
        details = ", ".join(f"{k}: {saved.get(k)!r} -> {getattr(cfg, k)!r}" for k in changed)
        raise ValueError(f"{path}: this run dir holds another run ({details}); use a new run_dir or the same settings")
    if state["iteration"] >= cfg.iterations:
        log.info("%s: already at iteration %d of %d", path, state["iteration"], cfg.iterations)
    return state


def _jsonable(value: Any) -> Any:
    return json.loads(json.dumps(value))


def _checkpoint_state(model: nn.Module, optimizer: torch.optim.Optimizer, scheduler: Any, scaler: Any,
                      cfg: TrainConfig, state: _RunState, session_start: float) -> dict[str, Any]:
    return {
        "model": model.state_dict(),
        "optimizer": optimizer.state_dict(),
        "scheduler": scheduler.state_dict(),
        "scaler": scaler.state_dict(),
        "iteration": state.iteration,
        "seconds": state.seconds + time.perf_counter() - session_start,
        "best_miou": state.best_miou if state.best_iteration is not None else None,
        "best_iteration": state.best_iteration,
        "running": state.running,
        "rng": _rng_state(),
        "config": asdict(cfg),
    }


def _rng_state() -> dict[str, Any]:
    state = {"torch": torch.get_rng_state()}
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def _set_rng_state(state: dict[str, Any]) -> None:
    torch.set_rng_state(state["torch"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def _write_json(path: Path, value: Any) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(json.dumps(value, indent=2) + "\n")
    os.replace(tmp, path)


def read_log(run_dir: str | Path):
    """log.csv of a run as a pandas DataFrame (train and val rows; blanks are NaN)."""
    import pandas as pd

    path = Path(run_dir) / LOG_FILE
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no training log; expected a run dir written by train")
    return pd.read_csv(path)
