"""Kit checkpoints: a plain dict written atomically, read back safely, and the model rebuilt from its config."""

from __future__ import annotations

import logging
import os
import pickle
from pathlib import Path
from typing import Any

import torch
from torch import nn

from faceparse_lib.models.torch_files import CheckpointError, is_torch_file, unpickler_reason

log = logging.getLogger(__name__)

FORMAT = "faceparse-checkpoint"
VERSION = 1
LAST, BEST = "last.pt", "best.pt"


def save_checkpoint(state: dict[str, Any], path: str | Path) -> Path:
    """Write `state` (plus the format tag) to `path` atomically: a kill mid-save leaves the old file intact."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        with open(tmp, "wb") as handle:
            torch.save({"format": FORMAT, "version": VERSION, **state}, handle)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return path


def resolve_checkpoint(path: str | Path) -> Path:
    """A checkpoint file itself, or in a run dir its best.pt (else last.pt)."""
    path = Path(path)
    if path.is_dir():
        for name in (BEST, LAST):
            if (path / name).is_file():
                return path / name
        raise CheckpointError(f"{path}: no {BEST} or {LAST}; expected a run dir written by train")
    if not path.is_file():
        raise CheckpointError(f"{path}: file not found; expected a checkpoint (.pt) or a run dir")
    return path


def read_checkpoint(path: str | Path, map_location: str | torch.device = "cpu") -> dict[str, Any]:
    """The dict saved by `save_checkpoint`, loaded with weights_only=True; CheckpointError for anything else."""
    path = resolve_checkpoint(path)
    if not is_torch_file(path):  # anything else would fail deep in unpickling
        raise CheckpointError(f"{path}: not a file written by torch.save; expected a kit checkpoint (format {FORMAT!r})")
    try:
        state = torch.load(path, map_location=map_location, weights_only=True)
    except pickle.UnpicklingError as err:
        raise CheckpointError(f"{path}: holds objects a safe load refuses ({unpickler_reason(err)}); "
                              "not a kit checkpoint") from err
    except (RuntimeError, EOFError, OSError) as err:
        raise CheckpointError(f"{path}: unreadable or truncated checkpoint ({err})") from err
    if not isinstance(state, dict) or state.get("format") != FORMAT:
        found = f"a dict with keys {sorted(state)[:8]}" if isinstance(state, dict) else type(state).__name__
        raise CheckpointError(f"{path}: found {found}; expected a kit checkpoint (format {FORMAT!r})")
    if state.get("version", 0) > VERSION:
        raise CheckpointError(f"{path}: checkpoint version {state['version']} is newer than this kit's ({VERSION})")
    for key in ("model", "config"):
        if key not in state:
            raise CheckpointError(f"{path}: kit checkpoint without {key!r}")
    return state


def load_checkpoint(path: str | Path, device: str | torch.device = "cpu") -> nn.Module:
    """The model of a kit checkpoint (or a run dir's best.pt), rebuilt from its config, in eval mode.

    The model carries `input_size` (the side it was trained at, or None) and `train_config` (the saved config).
    """
    from faceparse_lib.models.zoo import build_model

    try:
        state = read_checkpoint(path)
    except CheckpointError:
        from faceparse_lib.models import mmseg  # an mmsegmentation .pth of the seed model is accepted wherever this is

        if not mmseg.looks_like_mmseg_checkpoint(resolve_checkpoint(path)):
            raise
        return mmseg.load_mmseg_checkpoint(resolve_checkpoint(path)).to(device)
    config = state["config"]
    try:
        model = build_model(config["model"], num_classes=config["num_classes"])
    except (KeyError, ValueError) as err:
        raise CheckpointError(f"{resolve_checkpoint(path)}: cannot rebuild its model from the saved config ({err})") from err
    try:
        model.load_state_dict(state.get("ema") or state["model"])  # a run with an EMA is used by its EMA weights
    except RuntimeError as err:
        first = str(err).splitlines()[:3]
        raise CheckpointError(
            f"{resolve_checkpoint(path)}: weights do not fit {config['model']} with {config['num_classes']} classes: "
            + " ".join(first)
        ) from err
    model.input_size = config.get("input_size")
    model.train_config = config
    model.checkpoint_iteration = state.get("iteration")
    log.info("loaded %s (iteration %s)", resolve_checkpoint(path), state.get("iteration"))
    return model.to(device).eval()
