"""Inference on the CPU: the exported ONNX model in onnxruntime against PyTorch eager, images/s at 512×512."""

from __future__ import annotations

import importlib.util
import logging
import tempfile
from pathlib import Path

import torch

from faceparse_lib.bench import Case, Comparison, compare
from faceparse_lib.models.names import DEMO_MODEL, SEED_MODEL
from faceparse_lib.models.zoo import build_model

log = logging.getLogger(__name__)


def inference_comparison(name: str, batch: int, size: int, quick: bool, workdir: Path) -> Comparison:
    """PyTorch eager (no_grad, eval) as the baseline, onnxruntime's CPU provider on the exported file as the case."""
    import onnxruntime as ort

    from faceparse_lib.models.export import export_onnx

    torch.manual_seed(0)
    model = build_model(name).eval()
    path = export_onnx(model, workdir / f"{name}.onnx", model_name=name)
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    images = torch.randn(batch, 3, size, size)
    feed = {session.get_inputs()[0].name: images.numpy()}

    def eager() -> None:
        with torch.no_grad():
            model(images)

    title = f"inference {name} {size}x{size} batch {batch} on cpu ({torch.get_num_threads()} threads)"
    repeats, warmup = (2, 1) if quick else (5, 2)
    return compare(title, Case("pytorch eager", eager), [Case("onnxruntime cpu", lambda: session.run(None, feed))],
                   units=batch, unit="images", repeats=repeats, warmup=warmup)


def run(quick: bool) -> list[Comparison]:
    """Demo (and, unless quick, seed) model at 512×512 batch 1; nothing when the export extra is not installed."""
    missing = [m for m in ("onnx", "onnxscript", "onnxruntime") if importlib.util.find_spec(m) is None]
    if missing:
        log.warning("export suite skipped: %s not installed (pip install faceparse-lib[export])", ", ".join(missing))
        return []
    with tempfile.TemporaryDirectory() as workdir:
        if quick:
            return [inference_comparison(DEMO_MODEL, batch=1, size=128, quick=True, workdir=Path(workdir))]
        return [inference_comparison(name, batch=1, size=512, quick=False, workdir=Path(workdir))
                for name in (DEMO_MODEL, SEED_MODEL)]
