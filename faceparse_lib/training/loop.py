"""The training loop: `train(cfg)` runs (or resumes) one run dir, step by named step, and returns it.

It reads like torchvision's references: set up a session (model, loss, optimizer, resume), then per iteration
`train_step`, `log_step`, `validate_and_keep_best` at the validation interval, a checkpoint at its interval, and
`stop_requested` (time limit, Ctrl-C, SIGTERM) between two steps.
"""

from __future__ import annotations

import logging
import math
import os
import signal
import threading
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Callable

import torch
from timm.layers import convert_sync_batchnorm
from timm.utils import ModelEmaV3
from torch import nn
from torch.utils.data import DataLoader

from faceparse_lib.data.batches import CachedPairs, ResizedPairs, SeededSamples, StreamBatchSampler
from faceparse_lib.data.dataset import FaceParsingDataset
from faceparse_lib.data.layout import list_pairs
from faceparse_lib.data.rules import rule_set
from faceparse_lib.data.transforms import JointCompose, train_transform
from faceparse_lib.models import checkpoint as ckpt
from faceparse_lib.models.zoo import build_model, count_parameters
from faceparse_lib.training import distributed
from faceparse_lib.training.config import TrainConfig
from faceparse_lib.training.environment import environment
from faceparse_lib.training.losses import SegmentationLoss
from faceparse_lib.training.optim import amp_dtype, build_optimizer, build_scheduler
from faceparse_lib.training.resume import RunState, checkpoint_state, read_resume_state, restore
from faceparse_lib.training.run_files import CONFIG_FILE, LOG_FILE, WEIGHTS_FILE, CsvLog, training_split, write_json
from faceparse_lib.training.validation import validate

log = logging.getLogger(__name__)

WARMUP_FOR_ESTIMATE = 20  # iterations before the one-line estimate of the whole run's time
STEPS_KEY = "iterations"  # in the running sums: the iterations they cover


class _Interrupted(Exception):
    """Ctrl-C after the checkpoint was written: leaves the loop as KeyboardInterrupt without saving twice."""


class TrainingDiverged(RuntimeError):
    """The loss became NaN or infinite; the last good checkpoint is kept."""


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
class Session:
    """Everything one call of `train` works with."""

    cfg: TrainConfig
    env: distributed.Distributed
    run_dir: Path
    model: nn.Module  # the bare model (checkpoints, BatchNorm broadcasts)
    net: nn.Module  # what the step runs: the model, or its DDP wrapper
    loss_fn: SegmentationLoss
    optimizer: torch.optim.Optimizer
    scheduler: Any
    scaler: torch.amp.GradScaler
    dtype: torch.dtype | None
    channels_last: bool
    state: RunState
    csv_log: CsvLog
    ema: Any | None  # timm's ModelEmaV3 of the model's weights, or None
    callback: Callable[[dict[str, Any]], None] | None
    stop: StopRequest
    started: float  # perf_counter at the start of this session
    running: dict[str, float]  # loss sums of the log interval in progress, on this rank
    pairs: tuple[list[tuple[Path, Path]], list[tuple[Path, Path]]]  # (train, validation) image and mask paths
    mid_step: bool = False  # an interrupt in the middle of a step leaves no consistent state to save

    def elapsed(self) -> float:
        """Training wall time of this run so far, earlier sessions included."""
        return self.state.seconds + time.perf_counter() - self.started

    def save(self, name: str) -> None:
        """Write checkpoint `name` atomically (called on every rank; rank 0 writes)."""
        # Each rank's last forward updated its own BatchNorm statistics; rank 0's are the run's.
        distributed.broadcast_buffers(self.model, self.env)
        self.state.running = _mean_over_ranks(self.running, self.env)
        if self.env.is_main:
            state = checkpoint_state(self.model, self.optimizer, self.scheduler, self.scaler, self.cfg, self.state,
                                     self.started)
            if self.ema is not None:  # what evaluate and predict load; training resumes from "model"
                state["ema"] = self.ema.module.state_dict()
            ckpt.save_checkpoint(state, self.run_dir / name)

    def emit(self, row: dict[str, Any]) -> None:
        """Append a row to log.csv and hand it to the callback (whose KeyboardInterrupt stops after this step)."""
        self.csv_log.write(row)
        if self.callback is not None and self.env.is_main:
            try:
                self.callback(row)
            except KeyboardInterrupt:  # finish this iteration (validation, checkpoint), then stop as Ctrl-C does
                self.stop.signal = signal.SIGINT


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
    from tqdm.auto import tqdm

    check_rules(cfg)
    with StopRequest() as stop:
        session = start_session(cfg, env, callback, stop)
        train_pairs, val_pairs = session.pairs
        loader = train_loader(cfg, env, session.state.iteration, train_pairs)
        val_data = val_dataset(cfg, val_pairs) if val_pairs else None
        bar = tqdm(total=cfg.iterations, initial=session.state.iteration, desc="train", unit="it",
                   disable=not (cfg.progress and env.is_main), dynamic_ncols=True)
        estimate_from: tuple[int, float] | None = None
        session.started = time.perf_counter()  # the run's clock counts training, not loading the data
        session.net.train()
        try:
            for images, masks in loader:
                values = train_step(session, images, masks)
                bar.update()
                t = session.state.iteration
                log_step(session, values, bar)
                estimate_from = _estimate_line(bar, cfg, session.state, estimate_from, env)
                if val_pairs and (t % cfg.eval_interval == 0 or t == cfg.iterations):
                    validate_and_keep_best(session, val_data, bar)
                if t % cfg.checkpoint_interval == 0 or t == cfg.iterations:
                    session.save(ckpt.LAST)
                    if cfg.final_fit and t == cfg.iterations:  # nothing to select by: the last is the one handed in
                        session.save(ckpt.BEST)
                if stop_requested(session):
                    break
        except _Interrupted:
            raise KeyboardInterrupt from None
        except KeyboardInterrupt:
            if not session.mid_step:
                session.save(ckpt.LAST)
                log.warning("interrupted: checkpoint of iteration %d in %s", session.state.iteration, session.run_dir)
            raise
        finally:
            bar.close()
    return session.run_dir


def check_rules(cfg: TrainConfig) -> None:
    """Refuse, before any work, a run that breaks its rule set (a model at or over the cap, pretrained weights)."""
    rules = rule_set(cfg.rules)
    rules.check_pretrained(cfg.pretrained, cfg.model)  # first: it needs no model built
    if rules.max_parameters is not None:
        rules.check_parameters(count_parameters(build_model(cfg.model, num_classes=cfg.num_classes)), cfg.model)


def start_session(cfg: TrainConfig, env: distributed.Distributed, callback: Callable | None,
                  stop: StopRequest) -> Session:
    """Build the model, loss, optimizer and schedule, resume from last.pt if the run dir has one, open log.csv."""
    run_dir, device = Path(cfg.run_dir), env.device
    resumed = read_resume_state(run_dir, cfg)
    if env.is_main:
        run_dir.mkdir(parents=True, exist_ok=True)
        write_json(run_dir / CONFIG_FILE, {**asdict(cfg), "environment": environment()})

    torch.manual_seed(cfg.seed)  # the same initial weights for the same seed
    model = build_model(cfg.model, num_classes=cfg.num_classes, pretrained=cfg.pretrained)
    channels_last = cfg.channels_last and device.type == "cuda"
    model = model.to(device, memory_format=torch.channels_last if channels_last else torch.contiguous_format)
    pairs = training_split(cfg, write=env.is_main)
    train_masks = [mask for _, mask in pairs[0]]  # a holdout's masks are not counted
    loss_fn = SegmentationLoss.from_name(cfg.loss, class_weights_of_run(cfg, run_dir, env, train_masks),
                                         cfg.aux_weight).to(device)
    optimizer = build_optimizer(model, cfg)
    scheduler = build_scheduler(optimizer, cfg)
    dtype = amp_dtype(cfg, device)
    scaler = torch.amp.GradScaler(device.type, enabled=dtype == torch.float16)
    ema = build_ema(model, cfg)
    state = RunState()
    if resumed is not None:
        state = restore(resumed, model, optimizer, scheduler, scaler)
        if ema is not None:
            ema.module.load_state_dict(resumed.get("ema") or resumed["model"])
        log.info("resuming %s at iteration %d", run_dir, state.iteration)
    net = model
    if env.enabled:
        if device.type == "cuda":  # batch statistics over all GPUs' crops, as mmseg's multi-GPU configs do
            model = convert_sync_batchnorm(model)  # timm's keeps its BatchNormAct2d layers' activations
        net = nn.parallel.DistributedDataParallel(model, device_ids=[device.index] if device.type == "cuda" else None)
    csv_log = CsvLog(run_dir / LOG_FILE, keep_until=state.iteration if resumed else None, enabled=env.is_main)
    return Session(cfg, env, run_dir, model, net, loss_fn, optimizer, scheduler, scaler, dtype, channels_last, state,
                   csv_log, ema, callback, stop, time.perf_counter(), dict(state.running), pairs)


def build_ema(model: nn.Module, cfg: TrainConfig) -> ModelEmaV3 | None:
    """timm's EMA of the weights, its decay warmed up from 0 toward `ema_decay` (None without an EMA).

    Without the warm-up, at 0.999 the first validations would score an average still dominated by the first,
    untrained weights. Power 3/4 reaches 0.999 near step 10,000 (timm's default 2/3 only near 31,600, beyond the
    challenge preset's 20,000).
    """
    if cfg.ema_decay is None:
        return None
    return ModelEmaV3(model, decay=cfg.ema_decay, use_warmup=True, warmup_power=3 / 4)


def train_step(session: Session, images: torch.Tensor, masks: torch.Tensor) -> dict[str, float]:
    """One optimisation step on a batch; returns its loss terms. Stops the run on a NaN or infinite loss."""
    session.mid_step = True
    env, device = session.env, session.env.device
    images = images.to(device, non_blocking=True)
    masks = masks.to(device, non_blocking=True)
    if session.channels_last:
        images = images.contiguous(memory_format=torch.channels_last)
    with torch.autocast(device.type, dtype=session.dtype or torch.float32, enabled=session.dtype is not None):
        terms = session.loss_fn.terms(session.net(images), masks)
        loss = session.loss_fn.total(terms)
    values = {"loss": float(loss.detach()), "loss_out": float(terms["ce"].detach())}
    if "aux" in terms:
        values["loss_aux"] = float(terms["aux"].detach())
    if session.loss_fn.extra_name:
        values["loss_extra"] = float(terms[session.loss_fn.extra_name].detach())
    if distributed.any_rank(torch.tensor([float(not math.isfinite(values["loss"]))]), env)[0]:
        raise TrainingDiverged(
            f"iteration {session.state.iteration + 1}: loss is {values['loss']} (main {values['loss_out']}, "
            f"aux {values.get('loss_aux', '-')}); training stopped, the last good checkpoint is kept in {session.run_dir}"
        )
    session.optimizer.zero_grad(set_to_none=True)
    session.scaler.scale(loss).backward()
    session.scaler.step(session.optimizer)
    session.scaler.update()
    session.scheduler.step()
    if session.ema is not None:
        session.ema.update(session.model, step=session.state.iteration)
    session.state.iteration += 1
    session.mid_step = False
    for key, value in values.items():
        session.running[key] = session.running.get(key, 0.0) + value
    # How many iterations the sums hold: log_interval may change on resume, so it cannot be recomputed from t.
    session.running[STEPS_KEY] = session.running.get(STEPS_KEY, 0.0) + 1
    return values


def log_step(session: Session, values: dict[str, float], bar: Any) -> None:
    """At the end of each log interval: the mean loss terms over it (and over ranks) as a row of log.csv."""
    cfg, t = session.cfg, session.state.iteration
    if t % cfg.log_interval != 0 and t != cfg.iterations:
        return
    count = session.running.get(STEPS_KEY) or t % cfg.log_interval or cfg.log_interval
    sums = _mean_over_ranks({k: session.running.get(k, 0.0) for k in values}, session.env)
    row = {"kind": "train", "iteration": t, "seconds": round(session.elapsed(), 3),
           "lr": session.optimizer.param_groups[0]["lr"], **{k: sums[k] / count for k in values}}
    session.running.clear()
    bar.set_postfix(loss=f"{row['loss']:.3f}", lr=f"{row['lr']:.2e}")
    session.emit(row)


def validate_and_keep_best(session: Session, val_data: torch.utils.data.Dataset, bar: Any) -> None:
    """Score the val split, log it, and write best.pt when the selection score improved."""
    cfg, env, state = session.cfg, session.env, session.state
    distributed.broadcast_buffers(session.model, env)
    scored = session.ema.module if session.ema is not None else session.net if not env.enabled else session.model
    row = validate(scored, val_data, session.loss_fn, cfg, env)
    row.update(iteration=state.iteration, seconds=round(session.elapsed(), 3))
    session.emit(row)
    if env.is_main and cfg.progress:
        bar.write(f"iteration {state.iteration}: val F-score {row['fscore']:.4f}, mIoU {row['miou']:.4f}, "
                  f"mean F1 {row['mean_f1']:.4f}, val loss {row['val_loss']:.4f}")
    metric = rule_set(cfg.rules).metric  # what the course ranks by: mIoU (seed) or the per-image F-score
    if row[metric] > state.best_score:
        state.best_score, state.best_iteration = row[metric], state.iteration
        session.save(ckpt.BEST)
    session.net.train()


def stop_requested(session: Session) -> bool:
    """Whether to stop now (time limit or a signal, on any rank); saves last.pt first. Ctrl-C leaves by raising."""
    cfg = session.cfg
    over_time = cfg.time_limit_minutes is not None and time.perf_counter() - session.started > 60 * cfg.time_limit_minutes
    stopping = distributed.any_rank(torch.tensor([float(over_time), float(session.stop.signal is not None)]), session.env)
    if not stopping.any():
        return False
    session.save(ckpt.LAST)
    why = "time limit reached" if stopping[0] else f"signal {session.stop.signal} received"
    log.warning("%s: stopped at iteration %d with a checkpoint in %s", why, session.state.iteration, session.run_dir)
    if session.stop.signal == signal.SIGINT:
        raise _Interrupted
    return True


def _mean_over_ranks(sums: dict[str, float], env: distributed.Distributed) -> dict[str, float]:
    """Each value averaged over the ranks (itself in a single process); called on every rank."""
    if not sums:
        return {}
    values = distributed.sum_over_ranks(torch.tensor(list(sums.values()), dtype=torch.float64), env) / env.world_size
    return {k: float(v) for k, v in zip(sums, values)}


def _estimate_line(bar: Any, cfg: TrainConfig, state: RunState, start: tuple[int, float] | None,
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


def training_augmentation(cfg: TrainConfig) -> JointCompose:
    """The augmentation a run's config asks for (resize, rotation, crop, flip, photometric, normalisation, padding)."""
    return train_transform(crop_size=cfg.crop_size, ratio_range=cfg.ratio_range, cat_max_ratio=cfg.cat_max_ratio,
                           flip_p=cfg.flip_p, photometric=cfg.photometric, rotate_degrees=cfg.rotate_degrees)


def train_loader(cfg: TrainConfig, env: distributed.Distributed, start: int,
                 pairs: list[tuple[Path, Path]] | None = None) -> DataLoader:
    """Batches for iterations start..iterations-1 on this rank: the seeded stream, the configured augmentation."""
    pairs = pairs if pairs is not None else list_pairs(cfg.data_root, "train")
    if cfg.cache_data:
        data = CachedPairs(pairs, cfg.input_size, progress=cfg.progress and env.is_main, desc="load train")
    else:
        data = FaceParsingDataset.from_pairs(pairs)
        if cfg.input_size is not None:
            data = ResizedPairs(data, cfg.input_size)
    transform = training_augmentation(cfg)
    sampler = StreamBatchSampler(len(data), cfg.batch_size, start, cfg.iterations, cfg.seed, env.world_size, env.rank)
    workers = cfg.workers if cfg.workers is not None else (0 if cfg.cache_data else min(4, os.cpu_count() or 1))
    # Its own generator, so making the loader does not draw from the global RNG (the model's dropout stream).
    return DataLoader(SeededSamples(data, transform), batch_sampler=sampler, num_workers=workers,
                      pin_memory=env.device.type == "cuda", generator=torch.Generator(), persistent_workers=False)


def val_dataset(cfg: TrainConfig, pairs: list[tuple[Path, Path]] | None = None) -> torch.utils.data.Dataset:
    """The validation pairs (default: the val split); cached runs keep images at the model's input size, masks at theirs."""
    pairs = pairs if pairs is not None else list_pairs(cfg.data_root, "val")
    if cfg.cache_data:
        return CachedPairs(pairs, cfg.input_size, resize_masks=False, progress=cfg.progress, desc="load val")
    return FaceParsingDataset.from_pairs(pairs)


def class_weights_of_run(cfg: TrainConfig, run_dir: Path, env: distributed.Distributed,
                         train_masks: list[Path]) -> torch.Tensor | None:
    """The loss weights: the run dir's class_weights.json when counted on the masks trained on, else counted now.

    A record counted on other masks (all of train, holdout included) is refused for a new run; a run that already
    started (last.pt) keeps the weights it trained with.
    """
    if cfg.class_weights is None:
        return None
    import json

    from faceparse_lib.data.stats import class_weights, count_pixels, masks_fingerprint, weights_record

    path = run_dir / WEIGHTS_FILE
    if path.is_file():
        record = json.loads(path.read_text())
        if record.get("method") == cfg.class_weights and len(record.get("weights", [])) == cfg.num_classes:
            counted_on = record.get("counted_on")
            if (run_dir / ckpt.LAST).is_file() or counted_on == masks_fingerprint(train_masks):
                return torch.tensor(record["weights"], dtype=torch.float32)
            if counted_on is not None:
                raise ValueError(f"{path}: counted on {counted_on.get('masks')} masks, but this run trains on "
                                 f"{len(train_masks)} other ones (a holdout counted in?); delete the file or count "
                                 "the weights on the pairs trained on (notebook 2)")
            log.warning("%s does not say which masks it counted; counting the %d trained on", path, len(train_masks))
    counts = count_pixels(train_masks, workers=None if env.world_size == 1 else 1)
    weights = class_weights(counts, cfg.class_weights)
    if env.is_main:
        write_json(path, weights_record(counts, weights.tolist(), cfg.class_weights, "max", masks=train_masks))
    return weights
