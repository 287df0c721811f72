"""A run's recipe and how it was trained, in words from its config: for the hand-in's Readme.txt and the report."""

from __future__ import annotations

from pathlib import Path


def _training_pairs(config: dict) -> int | None:
    """How many training pairs the run's data root holds, or None when it is not on this machine."""
    masks = Path(config.get("data_root") or "") / "train" / "masks"
    return sum(1 for p in masks.iterdir() if p.suffix.lower() == ".png") if masks.is_dir() else None


def training_sentence(config: dict, iteration: int | None) -> str:
    """How the handed-in model was trained, from its config: a holdout run or a final fit, on which data."""
    from faceparse_lib.data.synthetic import is_synthetic_cache

    synthetic = is_synthetic_cache(config.get("data_root", ""))
    total = _training_pairs(config)
    pairs = f"{total:,} " if total else ""
    data = (f"the kit's {pairs}SYNTHETIC faces (a demo, not the course's data)" if synthetic
            else f"the {pairs}training pairs (no other data)")
    at = f"; the checkpoint of iteration {iteration:,}" if iteration else ""
    if config.get("final_fit"):
        return (f"a final fit on all of {data} for {config.get('iterations', 0):,} iterations, the "
                f"length its holdout run chose; no validation, the last checkpoint{at}")
    if config.get("holdout"):
        trained = f"{total - config['holdout']:,} of " if total and total > config["holdout"] else ""
        return (f"trained on {trained}{data}, {config['holdout']} held out to validate on; best.pt by the holdout's "
                f"score{at}")
    return f"trained on {data}; best.pt by the val score{at}"


def recipe_lines(config: dict) -> list[str]:
    """The loss, augmentation and schedule of a run, one short line each, from its config."""
    weights = config.get("class_weights")
    loss = {"ce": "cross-entropy", "ce+dice": "cross-entropy + Dice", "ce+lovasz": "cross-entropy + Lovász-softmax",
            "ce+focal": "cross-entropy + focal"}.get(config.get("loss", "ce"), config.get("loss"))
    augment = [f"horizontal flip p={config.get('flip_p', 0.5)} (left/right classes swapped)"]
    if config.get("ratio_range"):
        low, high = config["ratio_range"]
        augment.append(f"random resize {low}-{high}")
    augment.append(f"random {config.get('crop_size', 512)} px crop")
    if config.get("rotate_degrees"):
        augment.append(f"rotation within ±{config['rotate_degrees']:g}°")
    if config.get("photometric", True):
        augment.append("photometric distortion")
    ema = f", EMA of the weights (decay warmed up to {config['ema_decay']})" if config.get("ema_decay") else ""
    return [f"Loss: {loss}" + (f", class-weighted ({weights})" if weights else ""),
            "Augmentation: " + ", ".join(augment)
            + (f"; images resized to {config['input_size']} px" if config.get("input_size") else ""),
            f"Schedule: {config.get('iterations', 0):,} iterations of batch {config.get('batch_size', '?')}, "
            f"{config.get('optimizer', 'sgd')} lr {config.get('lr')}"
            + (f", {config['warmup_iterations']:,} warm-up iterations" if config.get("warmup_iterations") else "")
            + f", poly decay{ema}"]
