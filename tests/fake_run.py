"""A fake training run dir for the report tests: config.json, log.csv, class_weights.json and an untrained best.pt."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd

from faceparse_lib.classes import CLASSES

ENVIRONMENT = {"python": "3.11.7", "torch": "2.9.0+cu128", "cuda": "12.8", "device_name": "Tesla T4",
               "platform": "Linux-6.1.123+-x86_64-with-glibc2.35"}


def fake_log(iterations: int = 200, log_every: int = 10, eval_every: int = 50, peak: int = 150,
             best: float = 0.62, seed: int = 0) -> pd.DataFrame:
    """A log.csv frame as train writes it: a falling train loss, val rows whose mIoU peaks at iteration `peak`."""
    rng = np.random.default_rng(seed)
    rows = []
    for it in range(log_every, iterations + 1, log_every):
        loss_out = 3.0 * np.exp(-it / 60) + 0.4 + 0.05 * rng.random()
        rows.append({"kind": "train", "iteration": it, "seconds": 0.5 * it, "loss": 1.4 * loss_out,
                     "loss_out": loss_out, "loss_aux": loss_out, "lr": 0.01 * (1 - it / iterations) ** 0.9})
        if it % eval_every == 0:
            miou = best - 0.0008 * abs(it - peak) ** 1.1
            iou = np.clip(miou + 0.25 * rng.standard_normal(len(CLASSES)), 0.0, 1.0)
            rows.append({"kind": "val", "iteration": it, "seconds": 0.5 * it, "val_loss": 1.0 + abs(it - peak) / 200,
                         "miou": miou, "mean_f1": miou + 0.1, "pixel_accuracy": 0.9,
                         **{f"iou_{name}": v for name, v in zip(CLASSES, iou)}})
    return pd.DataFrame(rows)


def make_fake_run(run_dir: Path, data_root: Path | None = None, class_weights: str | None = "log2",
                  checkpoint: bool = True, peak: int = 150, best: float = 0.62, seed: int = 0) -> Path:
    """A run dir as train leaves it, for the DEMO_MODEL at input size 64; weights counted on `data_root`'s masks."""
    import torch

    from faceparse_lib.models.checkpoint import save_checkpoint
    from faceparse_lib.models.names import DEMO_MODEL
    from faceparse_lib.models.zoo import build_model
    from faceparse_lib.training.run_files import LOG_COLUMNS
    from faceparse_lib.data.stats import class_weights as weights_of, count_pixels, weights_record

    run_dir.mkdir(parents=True, exist_ok=True)
    config = {"model": DEMO_MODEL, "num_classes": len(CLASSES), "input_size": 64, "class_weights": class_weights,
              "data_root": str(data_root) if data_root else "", "iterations": 200, "environment": ENVIRONMENT}
    (run_dir / "config.json").write_text(json.dumps(config, indent=2))
    fake_log(peak=peak, best=best, seed=seed).reindex(columns=LOG_COLUMNS).to_csv(run_dir / "log.csv", index=False)
    if class_weights and data_root:
        counts = count_pixels(data_root / "train" / "masks", workers=1)
        weights = weights_of(counts, class_weights).tolist()
        (run_dir / "class_weights.json").write_text(json.dumps(weights_record(counts, weights, class_weights, "max")))
    if checkpoint:
        torch.manual_seed(seed)
        model = build_model(DEMO_MODEL)
        save_checkpoint({"model": model.state_dict(), "iteration": peak, "config": config}, run_dir / "best.pt")
    return run_dir
