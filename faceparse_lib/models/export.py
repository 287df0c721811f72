"""Export a kit model to ONNX (main logits, dynamic batch/height/width) with what a user needs in its metadata."""

from __future__ import annotations

import importlib.util
import json
import logging
from pathlib import Path
from typing import Any

import torch
from torch import nn

from faceparse_lib.classes import class_names
from faceparse_lib.data.transforms import IMAGENET_MEAN, IMAGENET_STD

log = logging.getLogger(__name__)

CLASS_ORDER = "celebamask"
INPUT_NAME, OUTPUT_NAME = "image", "logits"
EXAMPLE_SIZE = 64  # side of the example input when the model was trained at no fixed size


class MainLogits(nn.Module):
    """The model's main logits as a plain tensor (ONNX graphs return tensors, not dicts; no auxiliary head)."""

    def __init__(self, model: nn.Module):
        super().__init__()
        self.model = model

    def forward(self, image: torch.Tensor) -> torch.Tensor:
        return self.model(image)["out"]


def onnx_metadata(model: nn.Module, num_classes: int, input_size: int | None = None,
                  model_name: str | None = None) -> dict[str, str]:
    """The metadata_props an exported file carries: classes and their order, normalisation, trained input size, model."""
    config = getattr(model, "train_config", None) or {}
    name = model_name or config.get("model") or type(model).__name__
    size = input_size if input_size is not None else getattr(model, "input_size", None)
    return {
        "class_names": json.dumps(list(class_names(num_classes))),
        "class_order": CLASS_ORDER,
        "mean": json.dumps(list(IMAGENET_MEAN)),
        "std": json.dumps(list(IMAGENET_STD)),
        "input_size": json.dumps(size),
        "model_name": str(name),
    }


def read_onnx_metadata(path: str | Path) -> dict[str, Any]:
    """The metadata written by `export_onnx`, decoded (class_names, class_order, mean, std, input_size, model_name)."""
    import onnx

    proto = onnx.load(str(path), load_external_data=False)
    props = {p.key: p.value for p in proto.metadata_props}
    missing = {"class_names", "class_order", "mean", "std", "input_size", "model_name"} - set(props)
    if missing:
        raise ValueError(f"{path}: ONNX file without the kit's metadata ({', '.join(sorted(missing))} missing); "
                         "expected a file written by `faceparse_lib export`")
    decoded: dict[str, Any] = {k: props[k] for k in ("class_order", "model_name")}
    decoded.update({k: json.loads(props[k]) for k in ("class_names", "mean", "std", "input_size")})
    return decoded


def export_onnx(model: nn.Module, path: str | Path, input_size: int | None = None, opset: int | None = None,
                model_name: str | None = None) -> Path:
    """Write the eval-mode model's main logits to `path` as ONNX, batch/height/width dynamic, metadata included.

    `input_size` is the side recorded as the trained input size (default `model.input_size`); `model_name` defaults
    to the checkpoint config's model name. The dynamo exporter is
    used: the TorchScript one with dynamic_axes was found to give silently wrong logits at any size but the traced one.
    """
    import onnx

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    was_training = model.training
    wrapper = MainLogits(model).eval()
    size = input_size if input_size is not None else getattr(model, "input_size", None)
    example = torch.zeros(1, 3, size or EXAMPLE_SIZE, size or EXAMPLE_SIZE,
                          device=next(model.parameters()).device)
    try:
        with torch.no_grad():
            num_classes = wrapper(example).shape[1]
            dims = {0: torch.export.Dim.AUTO, 2: torch.export.Dim.AUTO, 3: torch.export.Dim.AUTO}
            program = torch.onnx.export(
                wrapper, (example,), dynamo=True, dynamic_shapes={"image": dims}, opset_version=opset,
                input_names=[INPUT_NAME], output_names=[OUTPUT_NAME], external_data=False, verbose=False,
            )
    finally:
        model.train(was_training)
    proto = program.model_proto
    for key, value in onnx_metadata(model, num_classes, size, model_name).items():
        entry = proto.metadata_props.add()
        entry.key, entry.value = key, value
    onnx.save(proto, str(path))
    log.info("exported %s (%d classes) to %s", type(model).__name__, num_classes, path)
    return path


class OnnxSegmenter(nn.Module):
    """An exported file run by onnxruntime behind the kit's model interface ({"out": logits}, `input_size`)."""

    def __init__(self, path: str | Path, providers: list[str] | None = None):
        super().__init__()
        import onnxruntime as ort

        meta = read_onnx_metadata(path)
        self.path = Path(path)
        self.session = ort.InferenceSession(str(path), providers=providers or ["CPUExecutionProvider"])
        self.input_name = self.session.get_inputs()[0].name
        self.input_size = meta["input_size"]
        self.train_config = {"model": meta["model_name"], "num_classes": len(meta["class_names"]),
                             "input_size": meta["input_size"], "onnx": str(path)}

    def forward(self, images: torch.Tensor) -> dict[str, torch.Tensor]:
        """{"out": logits N×C×H×W} from onnxruntime, on the images' device."""
        array = images.detach().to("cpu", torch.float32).contiguous().numpy()
        (logits,) = self.session.run(None, {self.input_name: array})
        return {"out": torch.from_numpy(logits).to(images.device)}


def load_model(path: str | Path, device: str | torch.device = "cpu") -> nn.Module:
    """A kit checkpoint or run dir (via load_checkpoint), or an exported .onnx file (run by onnxruntime on the CPU)."""
    from faceparse_lib.models.checkpoint import load_checkpoint

    path = Path(path)
    if path.suffix.lower() != ".onnx":
        return load_checkpoint(path, device=device)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: file not found; expected an ONNX file written by `faceparse_lib export`")
    if importlib.util.find_spec("onnxruntime") is None or importlib.util.find_spec("onnx") is None:
        raise ValueError(f"{path}: running an ONNX file needs onnx and onnxruntime (pip install faceparse-lib[export])")
    return OnnxSegmenter(path)
