"""Notebook settings: environment overrides, data search, synthetic/cpu fallback, what earlier notebooks make."""

from __future__ import annotations

import json

import numpy as np
import pytest
from PIL import Image

from faceparse_lib.course import shared as wsmod
from faceparse_lib.data.layout import DatasetError, list_pairs
from faceparse_lib.data.synthetic import make_synthetic_dataset
from faceparse_lib.data.stats import class_weights, count_pixels
from faceparse_lib.course.shared import (
    discard_stale_run,
    ensure_class_weights,
    ensure_trained_run,
    env_flag,
    hand_in_images,
    looks_like_dataset,
    save_class_weights,
    workspace,
)


@pytest.fixture
def no_colab_no_gpu(monkeypatch):
    monkeypatch.setattr(wsmod, "on_colab", lambda: False)
    monkeypatch.setattr(wsmod, "has_gpu", lambda: False)
    monkeypatch.setattr(wsmod, "SYNTHETIC_QUICK", (4, 2, 1, 64))
    monkeypatch.setattr(wsmod, "SYNTHETIC_FULL", (6, 2, 0, 64))
    monkeypatch.delenv("FACEPARSE_RAISE_CALLBACK_ERRORS", raising=False)


@pytest.fixture
def tiny_set(tmp_path):
    return make_synthetic_dataset(tmp_path / "tiny", 4, 2, size=64, workers=0)


def test_env_flag_reads_yes_words():
    assert env_flag("X", {"X": "1"}) and env_flag("X", {"X": "Yes"}) and not env_flag("X", {"X": "0"})
    assert not env_flag("X", {})


def test_quick_mode_falls_back_to_a_cached_synthetic_set_and_the_cpu_preset(tmp_path, no_colab_no_gpu):
    env = {"FACEPARSE_QUICK": "1", "FACEPARSE_HOME": str(tmp_path)}
    ws = workspace(env)
    assert ws.synthetic and ws.quick and ws.preset == "cpu"
    assert ws.data_root.parent == tmp_path / "data" and looks_like_dataset(ws.data_root)
    assert len(ws.notes) == 1 and "synthetic" in ws.notes[0]
    assert ws.run_dir.parent == tmp_path / "runs" and ws.report_dir != tmp_path / "report"
    assert ws.train_config().iterations == wsmod.QUICK_OVERRIDES["iterations"]
    assert ws.train_config().data_root == str(ws.data_root)
    marker = ws.data_root / ".complete"
    stamp = marker.stat().st_mtime_ns
    assert workspace(env).data_root == ws.data_root and marker.stat().st_mtime_ns == stamp  # made once


def test_quick_mode_makes_widget_callback_errors_raise(tmp_path, no_colab_no_gpu):
    workspace({"FACEPARSE_QUICK": "1", "FACEPARSE_HOME": str(tmp_path)})
    assert __import__("os").environ["FACEPARSE_RAISE_CALLBACK_ERRORS"] == "1"


def test_real_data_without_a_gpu_falls_back_and_says_why(tmp_path, no_colab_no_gpu):
    make_synthetic_dataset(tmp_path / "data" / "celebamask", 2, 1, size=64, workers=0)
    ws = workspace({"FACEPARSE_HOME": str(tmp_path)})
    assert ws.synthetic and "no GPU" in ws.notes[0] and "FACEPARSE_DATA" in ws.notes[0]


@pytest.mark.parametrize("rules,preset", [("challenge", "challenge"), ("seed", "report")])
def test_real_data_with_a_gpu_is_found_and_gets_the_rules_gpu_preset(tmp_path, no_colab_no_gpu, monkeypatch, rules,
                                                                      preset):
    monkeypatch.setattr(wsmod, "has_gpu", lambda: True)
    found = make_synthetic_dataset(tmp_path / "data" / "celebamask", 2, 1, size=64, workers=0)
    ws = workspace({"FACEPARSE_HOME": str(tmp_path), "FACEPARSE_RULES": rules})
    assert not ws.synthetic and ws.data_root == found and ws.preset == preset and ws.notes == []
    assert ws.run_dir == tmp_path / "runs" / f"{rules}-{preset}-celebamask" and ws.report_dir == tmp_path / "report"
    cfg = ws.train_config()
    assert cfg.device == "cuda" and cfg.rules == rules
    assert cfg.holdout == 0  # this set has val masks: validate on them


def test_environment_overrides_data_preset_iterations_run_dir_and_weights(tmp_path, tiny_set, no_colab_no_gpu):
    ws = workspace({"FACEPARSE_DATA": str(tiny_set), "FACEPARSE_ITERATIONS": "7", "FACEPARSE_RUN_DIR": str(tmp_path / "r"),
                    "FACEPARSE_WEIGHTS": "none", "FACEPARSE_HOME": str(tmp_path)})
    cfg = ws.train_config(lr=0.5)
    assert not ws.synthetic and ws.data_root == tiny_set
    assert (cfg.iterations, cfg.run_dir, cfg.class_weights, cfg.lr) == (7, str(tmp_path / "r"), None, 0.5)


def test_a_bad_faceparse_data_or_preset_is_refused(tmp_path, tiny_set, no_colab_no_gpu):
    with pytest.raises(DatasetError, match="FACEPARSE_DATA"):
        workspace({"FACEPARSE_DATA": str(tmp_path / "nowhere")})
    with pytest.raises(ValueError, match="unknown preset"):
        workspace({"FACEPARSE_DATA": str(tiny_set), "FACEPARSE_PRESET": "huge"})


def test_looks_like_dataset_needs_val_and_readable_masks(tmp_path, tiny_set):
    assert looks_like_dataset(tiny_set)
    first_mask = list_pairs(tiny_set, "train")[0][1]
    Image.fromarray(np.full((64, 64), 40, np.uint8)).save(first_mask)
    assert not looks_like_dataset(tiny_set)
    only_train = make_synthetic_dataset(tmp_path / "only_train", 2, 0, size=64, workers=0)
    assert not looks_like_dataset(only_train)


def test_ensure_class_weights_counts_the_train_masks_once(tmp_path, tiny_set, no_colab_no_gpu):
    ws = workspace({"FACEPARSE_DATA": str(tiny_set), "FACEPARSE_RUN_DIR": str(tmp_path / "run")})
    path = ensure_class_weights(ws)
    record = json.loads(path.read_text())
    expected = class_weights(count_pixels(tiny_set / "train" / "masks"), "log2")
    assert record["method"] == "log2" and np.allclose(record["weights"], expected.numpy())
    stamp = path.stat().st_mtime_ns
    assert ensure_class_weights(ws) == path and path.stat().st_mtime_ns == stamp


def test_save_class_weights_keeps_the_weights_of_a_started_run(tmp_path, tiny_set, no_colab_no_gpu):
    ws = workspace({"FACEPARSE_DATA": str(tiny_set), "FACEPARSE_RUN_DIR": str(tmp_path / "run")})
    save_class_weights(ws, {"method": "log2", "weights": [1.0] * 19})
    (ws.run_dir / "last.pt").write_bytes(b"started")
    save_class_weights(ws, {"method": "log2", "weights": [2.0] * 19})
    assert json.loads(ws.weights_path.read_text())["weights"] == [1.0] * 19


def test_a_demo_run_with_other_settings_is_discarded_a_real_data_one_kept(tmp_path, no_colab_no_gpu):
    ws = workspace({"FACEPARSE_QUICK": "1", "FACEPARSE_HOME": str(tmp_path)})
    ws.run_dir.mkdir(parents=True)
    (ws.run_dir / "config.json").write_text(json.dumps({**json.loads(json.dumps(ws.train_config().__dict__)), "iterations": 1}))
    assert not discard_stale_run(ws, ws.train_config())  # iterations may change on resume
    older_recipe = {**json.loads(json.dumps(ws.train_config().__dict__)), "loss": "ce", "lr": 8e-3}
    (ws.run_dir / "config.json").write_text(json.dumps(older_recipe))
    ws.quick, ws.synthetic = False, False  # a full run on real data: never deleted
    assert not discard_stale_run(ws, ws.train_config()) and ws.run_dir.is_dir()
    ws.synthetic = True  # make demo's run, made by an older kit's cpu preset
    assert discard_stale_run(ws, ws.train_config()) and not ws.run_dir.exists()
    ws.run_dir.mkdir(parents=True)
    (ws.run_dir / "config.json").write_text(json.dumps(older_recipe))
    ws.quick, ws.synthetic = True, False
    assert discard_stale_run(ws, ws.train_config()) and not ws.run_dir.exists()


def test_hand_in_images_are_the_test_images_else_val_with_a_note(tmp_path, no_colab_no_gpu):
    with_test = make_synthetic_dataset(tmp_path / "a", 2, 1, size=64, n_test=1, workers=0)
    ws = workspace({"FACEPARSE_DATA": str(with_test)})
    assert hand_in_images(ws) == (with_test / "test" / "images", None)
    without = make_synthetic_dataset(tmp_path / "b", 2, 1, size=64, workers=0)
    folder, note = hand_in_images(workspace({"FACEPARSE_DATA": str(without)}))
    assert folder == without / "val" / "images" and "stand-ins" in note


@pytest.mark.slow
def test_ensure_trained_run_trains_once_when_no_model_exists(tmp_path, tiny_set, no_colab_no_gpu):
    ws = workspace({"FACEPARSE_DATA": str(tiny_set), "FACEPARSE_RUN_DIR": str(tmp_path / "run")})
    ws.overrides.update(iterations=2, eval_interval=2, checkpoint_interval=2, log_interval=1, batch_size=2,
                        crop_size=64, input_size=64, warmup_iterations=0)
    run_dir = ensure_trained_run(ws, progress=False)
    best = run_dir / "best.pt"
    assert best.is_file() and (run_dir / "class_weights.json").is_file()
    stamp = best.stat().st_mtime_ns
    assert ensure_trained_run(ws, progress=False) == run_dir and best.stat().st_mtime_ns == stamp


def test_challenge_data_with_val_images_only_is_found_and_validated_on_a_holdout(tmp_path, tiny_set, no_colab_no_gpu):
    import shutil

    shutil.rmtree(tiny_set / "val" / "masks")  # as the challenge hands it out
    assert looks_like_dataset(tiny_set)
    ws = workspace({"FACEPARSE_DATA": str(tiny_set), "FACEPARSE_RUN_DIR": str(tmp_path / "run")})
    cfg = ws.train_config()
    assert ws.rules == "challenge" and cfg.rules == "challenge" and cfg.holdout > 0
    assert "2025/2026 challenge" in ws.summary()
    seed = workspace({"FACEPARSE_DATA": str(tiny_set), "FACEPARSE_RULES": "seed", "FACEPARSE_RUN_DIR": str(tmp_path / "r")})
    assert seed.train_config().rules == "seed" and seed.metric == "miou"
    with pytest.raises(ValueError, match="unknown rule set"):
        workspace({"FACEPARSE_DATA": str(tiny_set), "FACEPARSE_RULES": "2024"})
