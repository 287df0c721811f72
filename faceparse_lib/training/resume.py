"""What a checkpoint carries to resume a run exactly: loop state, RNG, loss scaler, and the check it is the same run."""

from __future__ import annotations

import json
import logging
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import nn

from faceparse_lib.models import checkpoint as ckpt
from faceparse_lib.training.config import TrainConfig

log = logging.getLogger(__name__)

# Fields that may change when a run is resumed; any other difference means a different run. amp, channels_last and
# device may change because a run started on one Colab runtime continues on another.
RESUMABLE_CHANGES = {"iterations", "time_limit_minutes", "workers", "progress", "eval_interval", "checkpoint_interval",
                     "log_interval", "run_dir", "data_root", "eval_batch_size", "device", "amp", "channels_last",
                     "final_fit_of"}


@dataclass
class RunState:
    """What the loop carries between iterations (besides model and optimizer)."""

    iteration: int = 0
    seconds: float = 0.0  # training wall time of earlier sessions
    best_score: float = -1.0
    best_iteration: int | None = None
    # Loss sums of the log interval in progress (mean over ranks), so the first row after a resume averages
    # the same iterations as a straight run's.
    running: dict[str, float] = field(default_factory=dict)


def read_resume_state(run_dir: Path, cfg: TrainConfig) -> dict[str, Any] | None:
    """The last checkpoint of this run dir, after checking it belongs to the same run."""
    path = run_dir / ckpt.LAST
    if not path.is_file():
        return None
    state = ckpt.read_checkpoint(path)
    # A field the saved config lacks was added to the kit since: the run had its default.
    saved = {**asdict(TrainConfig()), **state["config"]}
    changed = sorted(k for k, v in asdict(cfg).items() if k not in RESUMABLE_CHANGES and _jsonable(saved.get(k)) != _jsonable(v))
    if changed:
        details = ", ".join(f"{k}: {saved.get(k)!r} -> {getattr(cfg, k)!r}" for k in changed)
        raise ValueError(f"{path}: this run dir holds another run ({details}); use a new run_dir or the same settings")
    if state["iteration"] >= cfg.iterations:
        log.info("%s: already at iteration %d of %d", path, state["iteration"], cfg.iterations)
    return state


def _jsonable(value: Any) -> Any:
    return json.loads(json.dumps(value))


def restore(resumed: dict[str, Any], model: nn.Module, optimizer: torch.optim.Optimizer, scheduler: Any,
            scaler: torch.amp.GradScaler) -> RunState:
    """Load a checkpoint's model, optimizer, schedule, scaler and RNG state; the loop state it saved."""
    model.load_state_dict(resumed["model"])
    optimizer.load_state_dict(resumed["optimizer"])
    scheduler.load_state_dict(resumed["scheduler"])
    load_scaler_state(scaler, resumed.get("scaler"))
    set_rng_state(resumed["rng"])
    best = resumed.get("best_score", resumed.get("best_miou"))  # best_miou: checkpoints written before rule sets
    return RunState(iteration=resumed["iteration"], seconds=resumed.get("seconds", 0.0),
                    best_score=best if best is not None else -1.0, best_iteration=resumed.get("best_iteration"),
                    running=dict(resumed.get("running") or {}))


def load_scaler_state(scaler: torch.amp.GradScaler, saved: dict[str, Any] | None) -> None:
    """Restore the GradScaler when both runs used one; its state is advisory, so any other case starts it fresh."""
    if saved and scaler.is_enabled():
        scaler.load_state_dict(saved)
    elif scaler.is_enabled():
        log.info("resuming with fp16 loss scaling after a run without it: the scaler starts fresh")


def checkpoint_state(model: nn.Module, optimizer: torch.optim.Optimizer, scheduler: Any, scaler: Any,
                     cfg: TrainConfig, state: RunState, session_start: float) -> dict[str, Any]:
    """The plain dict a checkpoint holds: weights, optimizer, schedule, scaler, loop state, RNG and the config."""
    return {
        "model": model.state_dict(),
        "optimizer": optimizer.state_dict(),
        "scheduler": scheduler.state_dict(),
        "scaler": scaler.state_dict(),
        "iteration": state.iteration,
        "seconds": state.seconds + time.perf_counter() - session_start,
        "best_score": state.best_score if state.best_iteration is not None else None,
        "best_iteration": state.best_iteration,
        "running": state.running,
        "rng": rng_state(),
        "config": asdict(cfg),
    }


def rng_state() -> dict[str, Any]:
    """The CPU generator and this process's GPU generator (a resume may see another number of GPUs)."""
    state = {"torch": torch.get_rng_state()}
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state()
    return state


def set_rng_state(state: dict[str, Any]) -> None:
    torch.set_rng_state(state["torch"])
    saved = state.get("cuda")
    if isinstance(saved, (list, tuple)):  # checkpoints that saved every visible GPU's generator
        index = torch.cuda.current_device() if torch.cuda.is_available() else 0
        saved = saved[index] if index < len(saved) else None
    if saved is not None and torch.cuda.is_available():
        torch.cuda.set_rng_state(saved)
