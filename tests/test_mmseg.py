import json
import sys
import types
from pathlib import Path

import numpy as np
import pytest
import torch

from faceparse_lib.models.torch_files import CheckpointError
from faceparse_lib.models.checkpoint import load_checkpoint
from faceparse_lib.classes import CLASSES, PALETTE
from faceparse_lib.models.names import SEED_MODEL
from faceparse_lib.models.mmseg import kit_key, load_mmseg_checkpoint, mmseg_key
from faceparse_lib.models.zoo import build_model
from faceparse_lib.standalone.inference import resize_bilinear

FIXTURES = Path(__file__).parent / "fixtures" / "mmseg"
KEYS_FILE = FIXTURES / "mmseg_deeplabv3plus_r50_keys.json"
LOGITS_FILE = FIXTURES / "mmseg_deeplabv3plus_r50_logits.npz"
MASK32 = np.uint64(2**32 - 1)


def fixture_entries() -> list[dict]:
    return json.loads(KEYS_FILE.read_text())["entries"]


def rule_values(i: int, n: int) -> np.ndarray:
    """u_k of the fixture README for entry i: n values in [-0.5, 0.5), float64."""
    k = np.arange(n, dtype=np.uint64)
    h = (k * np.uint64(2654435761) + np.uint64(i * 40503 + 12345)) & MASK32
    return ((h * np.uint64(2246822519)) & MASK32).astype(np.float64) / 2**32 - 0.5


def rule_state_dict() -> dict[str, torch.Tensor]:
    """mmsegmentation's state dict filled by the fixture README's deterministic rule."""
    state = {}
    for i, entry in enumerate(fixture_entries()):
        key, shape = entry["key"], tuple(entry["shape"])
        n = int(np.prod(shape))
        if key.endswith("num_batches_tracked"):
            state[key] = torch.zeros(shape, dtype=torch.int64)
            continue
        u = rule_values(i, n)
        if key.endswith("running_var"):
            value = 1 + 0.5 * u
        elif key.endswith("running_mean"):
            value = 0.2 * u
        elif key.endswith(".weight") and len(shape) == 1:
            value = 1 + 0.4 * u
        elif key.endswith(".bias"):
            value = 0.2 * u
        else:
            value = np.sqrt(12 / (n / shape[0])) * u
        state[key] = torch.from_numpy(value.reshape(shape).astype(np.float32))
    return state


def fixed_input() -> torch.Tensor:
    k = np.arange(3 * 64 * 64, dtype=np.float64)
    return torch.from_numpy((2 * np.sin(0.7 * k) * np.cos(0.013 * k)).astype(np.float32).reshape(1, 3, 64, 64))


def mmseg_meta() -> dict:
    return {"dataset_meta": {"classes": CLASSES, "palette": PALETTE.tolist()}, "mmseg_version": "1.2.2"}


@pytest.fixture(scope="module")
def mmseg_state() -> dict[str, torch.Tensor]:
    return rule_state_dict()


@pytest.fixture(scope="module")
def mmseg_pth(mmseg_state, tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("mmseg") / "iter_40000.pth"
    torch.save({"meta": mmseg_meta(), "state_dict": mmseg_state}, path)
    return path


def assert_holds(model: torch.nn.Module, mmseg_state: dict[str, torch.Tensor]) -> None:
    """Every kit weight of `model` equals the mmseg weight of the same name."""
    for name, tensor in model.state_dict().items():
        assert torch.equal(tensor, mmseg_state[mmseg_key(name)]), name


def test_every_mmseg_key_names_one_kit_key_of_the_same_shape_and_back():
    expected = {key: tuple(t.shape) for key, t in build_model(SEED_MODEL).state_dict().items()}
    mapped = {kit_key(e["key"]): tuple(e["shape"]) for e in fixture_entries()}
    assert mapped == expected  # one to one: no key unmapped, none mapped twice, every shape equal
    assert all(mmseg_key(kit_key(e["key"])) == e["key"] for e in fixture_entries())


@pytest.mark.parametrize("form", ["bare state dict", "pth with state_dict and meta"])
def test_mmseg_weights_give_mmsegmentations_logits(form, mmseg_state, mmseg_pth):
    model = load_mmseg_checkpoint(mmseg_state if form == "bare state dict" else mmseg_pth)
    assert not model.training
    assert model.input_size is None
    assert model.train_config == {"model": SEED_MODEL, "num_classes": 19, "source": "mmsegmentation"}
    expected = np.load(LOGITS_FILE)
    x = fixed_input()
    with torch.no_grad():
        out = model(x)["out"][0].numpy()
        aux = resize_bilinear(model.auxiliary_head(model.encoder(x)[-2]), (64, 64))[0].numpy()
    assert np.abs(out - expected["out"]).max() <= 1e-4
    assert np.abs(aux - expected["aux"]).max() <= 1e-4


def test_partial_checkpoint_is_refused_naming_the_first_missing_keys(mmseg_state):
    partial = {k: v for k, v in mmseg_state.items() if not k.startswith("auxiliary_head.")}
    missing = r"8 of the seed model's 424 entries missing, first: auxiliary_head\.convs\.0\.conv\.weight"
    with pytest.raises(CheckpointError, match=missing):
        load_mmseg_checkpoint(partial)


def test_checkpoint_of_another_class_count_is_refused_naming_the_shapes(mmseg_state):
    state = {**mmseg_state, "decode_head.conv_seg.weight": torch.zeros(21, 512, 1, 1),
             "decode_head.conv_seg.bias": torch.zeros(21)}
    with pytest.raises(CheckpointError, match=r"decode_head\.conv_seg\.weight has shape \(21, 512, 1, 1\), "
                                              r"expected \(19, 512, 1, 1\)"):
        load_mmseg_checkpoint(state, num_classes=19)
    # Read from the checkpoint, the decode head's count exposes the auxiliary head's 19.
    with pytest.raises(CheckpointError, match=r"auxiliary_head\.conv_seg\.weight has shape \(19, 256, 1, 1\), "
                                              r"expected \(21, 256, 1, 1\)"):
        load_mmseg_checkpoint(state)


def test_class_count_is_read_from_the_checkpoint(mmseg_state):
    state = {**mmseg_state}
    for head, channels in (("decode_head", 512), ("auxiliary_head", 256)):
        state[f"{head}.conv_seg.weight"] = torch.randn(21, channels, 1, 1)
        state[f"{head}.conv_seg.bias"] = torch.randn(21)
    model = load_mmseg_checkpoint(state)
    assert model.train_config["num_classes"] == 21
    assert torch.equal(model.decode_head.classifier[1].weight, state["decode_head.conv_seg.weight"])


def test_unknown_extra_key_is_refused_by_name(mmseg_state):
    state = {**mmseg_state, "decode_head.dsn.0.conv.weight": torch.zeros(1)}
    with pytest.raises(CheckpointError, match=r"1 key\(s\) the mmsegmentation seed model does not have, "
                                              r"first: decode_head\.dsn\.0\.conv\.weight"):
        load_mmseg_checkpoint(state)


def save_with_mmengine_objects(path: Path, state: dict, monkeypatch) -> None:
    """An mmengine-style training .pth: a message hub holding objects of a class that is not installed here."""
    names = ("mmengine", "mmengine.logging", "mmengine.logging.history_buffer")
    modules = {name: types.ModuleType(name) for name in names}
    history_buffer = type("HistoryBuffer", (), {"__module__": names[-1]})
    modules[names[-1]].HistoryBuffer = history_buffer
    buffer = history_buffer()
    buffer.log_history = [0.9, 0.8]
    with monkeypatch.context() as patch:
        for name, module in modules.items():
            patch.setitem(sys.modules, name, module)
        torch.save({"meta": mmseg_meta(), "state_dict": state, "message_hub": {"log_scalars": {"loss": buffer}}}, path)
    assert "mmengine" not in sys.modules


def test_file_that_needs_unpickling_is_refused_unless_the_caller_opts_in(mmseg_state, tmp_path, monkeypatch):
    path = tmp_path / "training.pth"
    save_with_mmengine_objects(path, mmseg_state, monkeypatch)
    with pytest.raises(CheckpointError, match=r"training\.pth: holds objects a safe load refuses.*allow_unsafe_unpickling=True"):
        load_mmseg_checkpoint(path)
    model = load_mmseg_checkpoint(path, allow_unsafe_unpickling=True)
    assert_holds(model, mmseg_state)


def test_load_checkpoint_accepts_an_mmseg_pth(mmseg_state, mmseg_pth):
    model = load_checkpoint(mmseg_pth)
    assert not model.training and model.input_size is None
    assert model.train_config["source"] == "mmsegmentation"
    assert_holds(model, mmseg_state)


def test_load_checkpoint_accepts_an_mmseg_pth_in_torchs_legacy_format(mmseg_state, tmp_path):
    path = tmp_path / "old_zoo.pth"  # OpenMMLab's older model-zoo files predate torch 1.6's zip format
    torch.save({"meta": mmseg_meta(), "state_dict": mmseg_state}, path, _use_new_zipfile_serialization=False)
    assert_holds(load_checkpoint(path), mmseg_state)
    assert_holds(load_mmseg_checkpoint(path), mmseg_state)


def test_load_checkpoint_still_refuses_a_foreign_file(tmp_path):
    torch.save({"state_dict": {"backbone.conv.weight": torch.zeros(1)}}, tmp_path / "other.pth")
    with pytest.raises(CheckpointError, match="expected a kit checkpoint"):
        load_checkpoint(tmp_path / "other.pth")
