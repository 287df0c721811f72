from pathlib import Path

import pytest
import torch

from faceparse_lib.models.torch_files import CheckpointError
from faceparse_lib.models.checkpoint import load_checkpoint, read_checkpoint, resolve_checkpoint, save_checkpoint
from faceparse_lib.models.names import DEMO_MODEL
from faceparse_lib.models.zoo import build_model


def demo_config(**overrides):
    return {"model": DEMO_MODEL, "num_classes": 19, "input_size": 64, **overrides}


def save_demo(path, **config_overrides):
    torch.manual_seed(0)
    model = build_model(DEMO_MODEL, num_classes=19)
    save_checkpoint({"model": model.state_dict(), "config": demo_config(**config_overrides), "iteration": 7}, path)
    return model


def test_demo_checkpoint_round_trips_weights_and_config(tmp_path):
    model = save_demo(tmp_path / "best.pt")
    loaded = load_checkpoint(tmp_path / "best.pt")
    assert not loaded.training and loaded.input_size == 64 and loaded.train_config == demo_config()
    for name, tensor in model.state_dict().items():
        assert torch.equal(loaded.state_dict()[name], tensor), name
    assert read_checkpoint(tmp_path / "best.pt")["iteration"] == 7


def test_checkpoint_in_torchs_legacy_format_loads(tmp_path):
    torch.manual_seed(0)
    model = build_model(DEMO_MODEL, num_classes=19)
    state = {"format": "faceparse-checkpoint", "version": 1, "model": model.state_dict(), "config": demo_config()}
    torch.save(state, tmp_path / "old.pt", _use_new_zipfile_serialization=False)  # what torch < 1.6 wrote
    loaded = load_checkpoint(tmp_path / "old.pt")
    assert loaded.input_size == 64
    for name, tensor in model.state_dict().items():
        assert torch.equal(loaded.state_dict()[name], tensor), name


def test_run_dir_resolves_to_best_then_last(tmp_path):
    save_demo(tmp_path / "last.pt")
    assert resolve_checkpoint(tmp_path) == tmp_path / "last.pt"
    save_demo(tmp_path / "best.pt")
    assert resolve_checkpoint(tmp_path) == tmp_path / "best.pt"
    (tmp_path / "empty_run").mkdir()
    with pytest.raises(CheckpointError, match="empty_run: no best.pt or last.pt"):
        resolve_checkpoint(tmp_path / "empty_run")


def test_checkpoint_of_another_class_count_is_refused_naming_what_it_holds(tmp_path):
    save_demo(tmp_path / "ckpt.pt", num_classes=11)  # 19-class weights, config claims 11
    with pytest.raises(CheckpointError) as error:
        load_checkpoint(tmp_path / "ckpt.pt")
    message = str(error.value)
    assert "ckpt.pt" in message and "11 classes" in message and "torch.Size([19" in message


def test_weights_of_another_model_are_refused_naming_the_model_in_the_config(tmp_path):
    save_demo(tmp_path / "ckpt.pt", model="deeplabv3plus_r50")  # demo weights, config names the seed model
    with pytest.raises(CheckpointError, match="ckpt.pt: weights do not fit deeplabv3plus_r50 with 19 classes.*Missing key"):
        load_checkpoint(tmp_path / "ckpt.pt")


def test_checkpoint_naming_an_unknown_model_is_refused(tmp_path):
    save_demo(tmp_path / "ckpt.pt", model="no_such_model")
    with pytest.raises(CheckpointError, match=r"ckpt.pt: cannot rebuild .*'no_such_model'"):
        load_checkpoint(tmp_path / "ckpt.pt")


def test_plain_tensor_file_is_not_a_kit_checkpoint(tmp_path):
    torch.save(torch.zeros(3), tmp_path / "tensor.pt")
    with pytest.raises(CheckpointError, match="tensor.pt: found Tensor; expected a kit checkpoint"):
        load_checkpoint(tmp_path / "tensor.pt")


def test_foreign_state_dict_is_not_a_kit_checkpoint(tmp_path):
    torch.save(build_model(DEMO_MODEL).state_dict(), tmp_path / "weights.pt")
    with pytest.raises(CheckpointError, match="weights.pt: found a dict with keys"):
        load_checkpoint(tmp_path / "weights.pt")


def test_random_bytes_are_refused_as_not_a_torch_file(tmp_path):
    (tmp_path / "noise.pt").write_bytes(bytes(range(256)) * 4)
    (tmp_path / "truncated.pt").write_bytes(b"PK\x03\x04" + bytes(100))
    with pytest.raises(CheckpointError, match="truncated.pt: (unreadable|not a file written)"):
        load_checkpoint(tmp_path / "truncated.pt")
    with pytest.raises(CheckpointError, match="noise.pt: not a file written by torch.save"):
        load_checkpoint(tmp_path / "noise.pt")


def test_pickled_objects_are_refused_by_the_safe_load(tmp_path):
    config = {"data_root": Path("data")}  # a Path object, not the plain string a checkpoint stores
    torch.save({"format": "faceparse-checkpoint", "model": {}, "config": config}, tmp_path / "obj.pt")
    with pytest.raises(CheckpointError) as error:
        read_checkpoint(tmp_path / "obj.pt")
    message = str(error.value)
    assert "obj.pt: holds objects a safe load refuses" in message and "PosixPath" in message
    assert "weights_only` set to `False`" not in message  # no advice to load an untrusted file unsafely


def test_failed_save_leaves_the_previous_file_intact_and_no_temp_file(tmp_path, monkeypatch):
    path = tmp_path / "last.pt"
    save_demo(path)
    before = path.read_bytes()

    def half_written_save(obj, handle, *args, **kwargs):
        handle.write(b"half a checkpoint")
        raise OSError("disk full")

    monkeypatch.setattr(torch, "save", half_written_save)
    with pytest.raises(OSError, match="disk full"):
        save_checkpoint({"model": {}, "config": demo_config()}, path)
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["last.pt"]
