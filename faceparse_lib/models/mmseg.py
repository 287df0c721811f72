"""Import an mmsegmentation checkpoint of the seed model (DeepLabV3+ R50-D8) into the kit's `deeplabv3plus_r50`."""

from __future__ import annotations

import logging
import pickle
import re
import zipfile
from collections.abc import Mapping
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import torch
from torch import nn

from faceparse_lib.models.torch_files import CheckpointError, is_torch_file, unpickler_reason
from faceparse_lib.models.names import SEED_MODEL

log = logging.getLogger(__name__)

SOURCE = "mmsegmentation"
CLASSIFIER_KEY = "decode_head.conv_seg.weight"
SHOWN_KEYS = 5  # how many offending keys an error names

# Placeholders in the key templates below: the pattern each matches on the mmseg side and on the kit side.
_PARAM = r"weight|bias|running_mean|running_var|num_batches_tracked"
_BLOCK = r"layer[1-4]\.\d+\.(?:conv[1-3]|bn[1-3]|downsample\.[01])"
_MMSEG_PATTERNS = {"p": _PARAM, "block": _BLOCK, "s": "[0-6]", "i": r"\d+", "j": r"[1-9]\d*",
                   "cm": "conv|bn", "sep": "depthwise_conv|pointwise_conv"}
_KIT_PATTERNS = {**_MMSEG_PATTERNS, "cm": "0|1", "sep": "0|1"}
# mmseg's ConvModule holds `conv`/`bn` and its DepthwiseSeparableConvModule `depthwise_conv`/`pointwise_conv`;
# the kit builds both as Sequentials, so those names become indices.
_TO_INDEX = {"conv": "0", "bn": "1", "depthwise_conv": "0", "pointwise_conv": "1"}
_TO_NAME = {"cm": {"0": "conv", "1": "bn"}, "sep": {"0": "depthwise_conv", "1": "pointwise_conv"}}

# (mmseg key, kit key) templates: every key of mmseg's seed model matches exactly one, and so does every kit key.
KEY_TEMPLATES: tuple[tuple[str, str], ...] = (
    # ResNetV1c deep stem: Sequential(conv, bn, relu) x3; timm keeps the last BN outside as bn1.
    ("backbone.stem.{s}.{p}", "encoder.model.conv1.{s}.{p}"),
    ("backbone.stem.7.{p}", "encoder.model.bn1.{p}"),
    # Bottleneck blocks carry the same names in mmseg and timm (conv1-3, bn1-3, downsample.0/1).
    ("backbone.{block}.{p}", "encoder.model.{block}.{p}"),
    ("decode_head.image_pool.1.{cm}.{p}", "decode_head.image_pool.conv.{cm}.{p}"),
    ("decode_head.aspp_modules.0.{cm}.{p}", "decode_head.aspp.0.{cm}.{p}"),
    ("decode_head.aspp_modules.{j}.{sep}.{cm}.{p}", "decode_head.aspp.{j}.{sep}.{cm}.{p}"),
    ("decode_head.bottleneck.{cm}.{p}", "decode_head.bottleneck.{cm}.{p}"),
    ("decode_head.c1_bottleneck.{cm}.{p}", "decode_head.low_level.{cm}.{p}"),
    ("decode_head.sep_bottleneck.{i}.{sep}.{cm}.{p}", "decode_head.fuse.{i}.{sep}.{cm}.{p}"),
    ("decode_head.conv_seg.{p}", "decode_head.classifier.1.{p}"),
    ("auxiliary_head.convs.0.{cm}.{p}", "auxiliary_head.0.{cm}.{p}"),
    ("auxiliary_head.conv_seg.{p}", "auxiliary_head.1.1.{p}"),
)


def _template_regex(template: str, patterns: dict[str, str]) -> re.Pattern[str]:
    """`template` as a regex whose named groups are its placeholders."""
    parts = re.split(r"\{(\w+)\}", template)  # literal, name, literal, name, ...
    return re.compile("".join(re.escape(part) if n % 2 == 0 else f"(?P<{part}>{patterns[part]})"
                              for n, part in enumerate(parts)))


_TO_KIT = tuple((_template_regex(mm, _MMSEG_PATTERNS), kit) for mm, kit in KEY_TEMPLATES)
_TO_MMSEG = tuple((_template_regex(kit, _KIT_PATTERNS), mm) for mm, kit in KEY_TEMPLATES)


def kit_key(mmseg_key: str) -> str | None:
    """The kit seed model's state-dict key for an mmsegmentation key, or None when no template names it."""
    for regex, template in _TO_KIT:
        match = regex.fullmatch(mmseg_key)
        if match:
            return template.format(**{k: _TO_INDEX.get(v, v) for k, v in match.groupdict().items()})
    return None


def mmseg_key(key: str) -> str | None:
    """The mmsegmentation key for a kit seed-model key (the inverse of `kit_key`), or None."""
    for regex, template in _TO_MMSEG:
        match = regex.fullmatch(key)
        if match:
            return template.format(**{k: _TO_NAME.get(k, {}).get(v, v) for k, v in match.groupdict().items()})
    return None


def _first(keys: list[str]) -> str:
    """The first few of `keys`, and how many more."""
    shown = ", ".join(keys[:SHOWN_KEYS])
    return shown + (f" (and {len(keys) - SHOWN_KEYS} more)" if len(keys) > SHOWN_KEYS else "")


def map_mmseg_state_dict(
    mmseg_state: Mapping[str, torch.Tensor], expected: Mapping[str, torch.Tensor], source: str = "checkpoint"
) -> dict[str, torch.Tensor]:
    """`mmseg_state` renamed to the kit's keys; CheckpointError unless it fills `expected` exactly, shape for shape."""
    mapped: dict[str, torch.Tensor] = {}
    left_over: list[str] = []
    for key, tensor in mmseg_state.items():
        target = kit_key(key)
        if target is None or target not in expected or target in mapped:
            left_over.append(key)
        else:
            mapped[target] = tensor
    missing = [key for key in expected if key not in mapped]
    problems = []
    if left_over:
        problems.append(
            f"{len(left_over)} key(s) the mmsegmentation seed model does not have, first: {_first(left_over)}"
        )
    if missing:
        problems.append(
            f"{len(missing)} of the seed model's {len(expected)} entries missing, first: "
            f"{_first([mmseg_key(key) or key for key in missing])}"
        )
    if problems:
        raise CheckpointError(
            f"{source}: " + "; ".join(problems) + ". Expected mmsegmentation's DeepLabV3+ R50-D8 "
            "(backbone.stem/layer1-4, decode_head.image_pool/aspp_modules/bottleneck/c1_bottleneck/sep_bottleneck/"
            "conv_seg, auxiliary_head.convs.0/conv_seg), complete — another architecture or a partial checkpoint?"
        )
    for key, tensor in mapped.items():
        if tuple(tensor.shape) != tuple(expected[key].shape):
            raise CheckpointError(
                f"{source}: {mmseg_key(key)} has shape {tuple(tensor.shape)}, expected "
                f"{tuple(expected[key].shape)} — another class count or another architecture?"
            )
    return mapped


def _safe_load(path: Path, allow_unsafe_unpickling: bool) -> Any:
    """The object in `path`: weights_only unless the caller opted in to running the file's pickled code."""
    if not is_torch_file(path):
        raise CheckpointError(f"{path}: not a file written by torch.save; expected an mmsegmentation .pth")
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as err:
        if not allow_unsafe_unpickling:
            raise CheckpointError(
                f"{path}: holds objects a safe load refuses ({unpickler_reason(err)}); unpickling them runs code "
                "from the file. Trust it? pass allow_unsafe_unpickling=True, or save just its weights once with "
                "torch.save({'state_dict': ckpt['state_dict']}, 'weights.pth')"
            ) from err
    except (RuntimeError, EOFError, OSError) as err:
        raise CheckpointError(f"{path}: unreadable or truncated checkpoint ({err})") from err
    log.warning("%s: full unpickling (allow_unsafe_unpickling=True)", path)
    return torch.load(path, map_location="cpu", weights_only=False, pickle_module=_LENIENT_PICKLE)


class _Unavailable:
    """Stand-in for a pickled object whose class is not importable here (mmengine's, say): only its state is kept."""

    def __new__(cls, *args: Any, **kwargs: Any) -> "_Unavailable":
        return object.__new__(cls)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        pass

    def __setstate__(self, state: Any) -> None:
        self.state = state


class _LenientUnpickler(pickle.Unpickler):
    """Unpickler that stands in `_Unavailable` for classes whose module is not installed (the weights need none)."""

    def find_class(self, module: str, name: str) -> Any:
        try:
            return super().find_class(module, name)
        except (ImportError, AttributeError):
            return type(name, (_Unavailable,), {"__module__": module})


_LENIENT_PICKLE = SimpleNamespace(Unpickler=_LenientUnpickler, load=pickle.load, __name__="pickle")


def mmseg_state_dict(checkpoint: Any, source: str = "checkpoint") -> dict[str, torch.Tensor]:
    """The model weights of an mmsegmentation checkpoint object: its `state_dict`, or the object itself when bare."""
    state = checkpoint.get("state_dict", checkpoint) if isinstance(checkpoint, Mapping) else checkpoint
    if not isinstance(state, Mapping) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        found = (f"a dict with keys {list(checkpoint)[:SHOWN_KEYS]}" if isinstance(checkpoint, Mapping)
                 else type(checkpoint).__name__)
        raise CheckpointError(f"{source}: found {found}; expected an mmsegmentation checkpoint "
                              "({'state_dict': ..., 'meta': ...} or a bare state dict of tensors)")
    # DataParallel/DDP-wrapped models save every key under "module."
    return {key.removeprefix("module."): tensor for key, tensor in state.items()}


_LEGACY_SNIFF_BYTES = 4 << 20  # the key names of a legacy file lie in its first pickles, before the storages


def looks_like_mmseg_checkpoint(path: str | Path) -> bool:
    """Whether `path` is a torch.save file naming mmseg's backbone/decode_head keys (sniffed without unpickling)."""
    try:
        if zipfile.is_zipfile(path):
            with zipfile.ZipFile(path) as archive:
                pickles = [name for name in archive.namelist() if name.endswith("/data.pkl") or name == "data.pkl"]
                data = archive.read(pickles[0]) if pickles else b""
        elif is_torch_file(path):  # the legacy format pickles the keys before the tensor data
            with open(path, "rb") as handle:
                data = handle.read(_LEGACY_SNIFF_BYTES)
        else:
            return False
    except (zipfile.BadZipFile, OSError):
        return False
    return b"backbone.stem." in data and b"decode_head." in data


def load_mmseg_checkpoint(
    path_or_state_dict: str | Path | Mapping[str, Any],
    *,
    allow_unsafe_unpickling: bool = False,
    num_classes: int | None = None,
) -> nn.Module:
    """The kit seed model in eval mode holding an mmsegmentation DeepLabV3+ R50-D8 checkpoint's weights.

    Takes a `.pth` path, a loaded `{"state_dict": ..., "meta": ...}` dict or a bare state dict; the class count
    is read from the checkpoint unless `num_classes` is given. Refuses (CheckpointError) anything that does not
    fill the model exactly; the model carries `input_size = None` and `train_config`.
    """
    from faceparse_lib.models.zoo import build_model

    if isinstance(path_or_state_dict, (str, Path)):
        source = str(path_or_state_dict)
        path = Path(path_or_state_dict)
        if not path.is_file():
            raise CheckpointError(f"{path}: file not found; expected an mmsegmentation checkpoint (.pth)")
        checkpoint = _safe_load(path, allow_unsafe_unpickling)
    else:
        source, checkpoint = "mmsegmentation state dict", path_or_state_dict
    state = mmseg_state_dict(checkpoint, source)
    if num_classes is None:
        if CLASSIFIER_KEY not in state or state[CLASSIFIER_KEY].ndim != 4:
            raise CheckpointError(f"{source}: no {CLASSIFIER_KEY} to read the class count from; "
                                  "expected an mmsegmentation DeepLabV3+ checkpoint (or pass num_classes)")
        num_classes = int(state[CLASSIFIER_KEY].shape[0])
    model = build_model(SEED_MODEL, num_classes=num_classes)
    mapped = map_mmseg_state_dict(state, model.state_dict(), source)
    model.load_state_dict(mapped, strict=True)
    model.input_size = None
    model.train_config = {"model": SEED_MODEL, "num_classes": num_classes, "source": SOURCE}
    log.info("loaded mmsegmentation checkpoint %s (%d classes)", source, num_classes)
    return model.eval()
