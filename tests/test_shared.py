"""Notebook settings: the config cell and its environment overrides, finding the data, never a silent stand-in,
never a lost run, and what notebooks 2-5 share (class weights on the pairs trained on, the run they open)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from faceparse_lib.course import shared as wsmod
from faceparse_lib.data.layout import list_pairs
from faceparse_lib.data.synthetic import make_synthetic_dataset, make_synthetic_handout
from faceparse_lib.data.stats import class_weights, count_pixels
from faceparse_lib.course.shared import (
    NotebookStop,
    discard_stale_run,
    ensure_class_weights,
    env_flag,
    hand_in_images,
    hand_in_run,
    prepare_run_dir,
    save_class_weights,
    trained_run,
    training_masks,
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


@pytest.fixture
def drive(tmp_path):
    """A Drive-like folder holding the synthetic hand-out's three zips."""
    make_synthetic_handout(tmp_path / "drive" / "AI6126", 12, 3, 2, size=64, swapped=2, workers=0)
    return tmp_path / "drive"


def _best(run_dir, data_root="/somewhere/real"):
    """A run dir as a finished run on real data leaves it (config.json and a best.pt)."""
    run_dir.mkdir(parents=True, exist_ok=True)
    (run_dir / "config.json").write_text(json.dumps({"data_root": str(data_root), "loss": "ce+lovasz", "rules": "challenge",
                                                     "iterations": 20}))
    (run_dir / "best.pt").write_bytes(b"hours of T4 training")
    return run_dir


def test_env_flag_reads_yes_words():
    assert env_flag("X", {"X": "1"}) and env_flag("X", {"X": "Yes"}) and not env_flag("X", {"X": "0"})
    assert not env_flag("X", {})


def test_nothing_configured_off_colab_is_the_demo_said_as_such(tmp_path, no_colab_no_gpu):
    env = {"FACEPARSE_QUICK": "1", "FACEPARSE_HOME": str(tmp_path)}
    ws = workspace(environ=env)
    assert ws.synthetic and ws.quick and ws.preset == "cpu"
    assert ws.data_root.parent == tmp_path / "data" and len(list_pairs(ws.data_root, "val")) == 2
    assert ws.summary().startswith("*** DEMO") and "synthetic" in ws.summary()
    assert ws.run_dir.parent == tmp_path / "runs" and ws.report_dir != tmp_path / "report"
    assert ws.train_config().iterations == wsmod.QUICK_OVERRIDES["iterations"]
    assert ws.train_config().data_root == str(ws.data_root)
    marker = ws.data_root / ".complete"
    stamp = marker.stat().st_mtime_ns
    assert workspace(environ=env).data_root == ws.data_root and marker.stat().st_mtime_ns == stamp  # made once


def test_quick_mode_makes_widget_callback_errors_raise(tmp_path, no_colab_no_gpu):
    workspace(environ={"FACEPARSE_QUICK": "1", "FACEPARSE_HOME": str(tmp_path)})
    assert __import__("os").environ["FACEPARSE_RAISE_CALLBACK_ERRORS"] == "1"


def test_real_data_on_a_cpu_is_used_not_replaced_and_training_stops_with_the_remedy(tmp_path, no_colab_no_gpu):
    found = make_synthetic_dataset(tmp_path / "data" / "celebamask", 2, 1, size=64, workers=0)
    ws = workspace(environ={"FACEPARSE_HOME": str(tmp_path)})
    assert not ws.synthetic and ws.data_root == found and ws.preset == "challenge" and "DEMO" not in ws.summary()
    with pytest.raises(NotebookStop, match="T4 GPU.*PRESET = 'cpu'"):
        ws.require_training_device()
    workspace(environ={"FACEPARSE_HOME": str(tmp_path), "FACEPARSE_PRESET": "cpu"}).require_training_device()
    with pytest.raises(NotebookStop, match="'first-run' trains for minutes on a GPU.*PRESET = 'laptop'"):
        workspace(environ={"FACEPARSE_HOME": str(tmp_path), "FACEPARSE_PRESET": "first-run"}).require_training_device()


def test_the_handout_zips_in_the_checkouts_data_folder_are_found_and_unpacked(tmp_path, no_colab_no_gpu, drive):
    shutil.move(drive / "AI6126", tmp_path / "data")
    ws = workspace(environ={"FACEPARSE_HOME": str(tmp_path)})
    assert not ws.synthetic and ws.data_root == tmp_path / "data" / "handout"
    assert "train: 12 images + 12 masks from train.zip" in ws.summary()
    assert ws.train_config().holdout == 100  # val has no masks: validate on a holdout of train


@pytest.mark.parametrize("rules,preset", [("challenge", "challenge"), ("seed", "report")])
def test_real_data_with_a_gpu_gets_the_rules_gpu_preset(tmp_path, no_colab_no_gpu, monkeypatch, rules, preset):
    monkeypatch.setattr(wsmod, "has_gpu", lambda: True)
    found = make_synthetic_dataset(tmp_path / "data" / "celebamask", 2, 1, size=64, workers=0)
    ws = workspace(rules=rules, environ={"FACEPARSE_HOME": str(tmp_path)})
    assert not ws.synthetic and ws.data_root == found and ws.preset == preset and ws.notes == []
    assert ws.run_dir == tmp_path / "runs" / f"{rules}-{preset}-celebamask" and ws.report_dir == tmp_path / "report"
    cfg = ws.train_config()
    assert cfg.device == "cuda" and cfg.rules == rules
    assert cfg.holdout == 0  # this set has val masks: validate on them
    ws.require_training_device()


def test_the_laptop_preset_trains_on_a_cpu_and_validates_on_val_masks_where_they_exist(tmp_path, no_colab_no_gpu):
    make_synthetic_dataset(tmp_path / "data" / "celebamask", 2, 1, size=64, workers=0)
    ws = workspace(rules="seed", preset="laptop", environ={"FACEPARSE_HOME": str(tmp_path)})
    ws.require_training_device()  # no GPU: no stop, the preset is meant for a CPU
    cfg = ws.train_config()
    assert cfg.holdout == 0 and cfg.rules == "seed" and cfg.device == "cpu"


def test_the_config_cell_sets_what_the_environment_may_override(tmp_path, tiny_set, drive, no_colab_no_gpu):
    ws = workspace(str(drive), str(tmp_path / "mine"), "seed", "cpu", environ={"FACEPARSE_HOME": str(tmp_path)})
    assert (ws.rules, ws.preset, ws.run_dir, ws.run_dir_named) == ("seed", "cpu", tmp_path / "mine", True)
    assert ws.data_root == tmp_path / "data" / "handout"
    env = {"FACEPARSE_DATA": str(tiny_set), "FACEPARSE_ITERATIONS": "7", "FACEPARSE_RUN_DIR": str(tmp_path / "r"),
           "FACEPARSE_WEIGHTS": "none", "FACEPARSE_HOME": str(tmp_path), "FACEPARSE_PRESET": "cpu"}
    ws = workspace(str(drive), str(tmp_path / "mine"), environ=env)
    cfg = ws.train_config(lr=0.5)
    assert not ws.synthetic and ws.data_root == tiny_set
    assert (cfg.iterations, cfg.run_dir, cfg.class_weights, cfg.lr) == (7, str(tmp_path / "r"), None, 0.5)


def test_demo_is_what_the_student_asks_for(tmp_path, drive, no_colab_no_gpu):
    ws = workspace(demo=True, environ={"FACEPARSE_HOME": str(tmp_path)})
    assert ws.synthetic and ws.preset == "cpu" and ws.run_dir.name == "challenge-cpu-demo"
    assert not workspace(str(drive), demo=True, environ={"FACEPARSE_HOME": str(tmp_path)}).synthetic  # DATA wins


def test_missing_data_stops_with_one_line_and_the_remedy(tmp_path, tiny_set, no_colab_no_gpu, monkeypatch):
    with pytest.raises(NotebookStop, match=r"DATA = '.*nowhere'.*no such file or folder"):
        workspace(str(tmp_path / "nowhere"), environ={"FACEPARSE_HOME": str(tmp_path)})
    (tmp_path / "empty").mkdir()
    with pytest.raises(NotebookStop, match=r"DATA = '.*empty'.*no hand-out found"):
        workspace(str(tmp_path / "empty"), environ={"FACEPARSE_HOME": str(tmp_path)})
    with pytest.raises(ValueError, match="unknown preset"):
        workspace(environ={"FACEPARSE_DATA": str(tiny_set), "FACEPARSE_PRESET": "huge"})
    monkeypatch.setattr(wsmod, "on_colab", lambda: True)  # a fresh Colab runtime, Drive mounted but no zips on it
    monkeypatch.setattr(wsmod, "COLAB_DRIVE", tmp_path / "MyDrive")
    (tmp_path / "MyDrive").mkdir()
    with pytest.raises(NotebookStop, match="no hand-out found on your Drive.*DEMO = True") as stop:
        workspace(environ={"FACEPARSE_HOME": str(tmp_path / "content")})
    assert stop.value._render_traceback_()[0].endswith(str(stop.value))  # IPython shows the line, no traceback


def test_on_colab_the_handout_on_drive_is_found_and_runs_go_to_drive(tmp_path, drive, no_colab_no_gpu, monkeypatch):
    monkeypatch.setattr(wsmod, "on_colab", lambda: True)
    monkeypatch.setattr(wsmod, "COLAB_DRIVE", drive)
    monkeypatch.setattr(wsmod, "COLAB_RUNS", drive / "faceparse-runs")
    ws = workspace(environ={"FACEPARSE_HOME": str(tmp_path / "content")})
    assert ws.data_root == tmp_path / "content" / "data" / "handout" and not ws.synthetic
    assert ws.run_dir == drive / "faceparse-runs" / "challenge-challenge-handout"


def test_weights_are_counted_on_the_pairs_trained_on_and_say_which(tmp_path, drive, no_colab_no_gpu):
    ws = workspace(str(drive), str(tmp_path / "run"), preset="cpu", environ={"FACEPARSE_HOME": str(tmp_path)})
    ws.overrides["holdout"] = 4
    masks = training_masks(ws)
    held = json.loads((ws.run_dir / "holdout.json").read_text())["stems"]
    assert len(masks) == 8 and len(held) == 4 and not {m.stem for m in masks} & set(held)
    path = ensure_class_weights(ws)
    record = json.loads(path.read_text())
    assert record["counted_on"]["masks"] == 8 and record["n_images"] == 8
    assert np.allclose(record["weights"], class_weights(count_pixels(masks), "log2").numpy())
    stamp = path.stat().st_mtime_ns
    assert ensure_class_weights(ws) == path and path.stat().st_mtime_ns == stamp  # counted once


def test_weights_counted_on_every_mask_are_counted_again(tmp_path, drive, no_colab_no_gpu):
    ws = workspace(str(drive), str(tmp_path / "run"), preset="cpu", environ={"FACEPARSE_HOME": str(tmp_path)})
    ws.overrides["holdout"] = 4
    everything = count_pixels(ws.data_root / "train" / "masks")
    save_class_weights(ws, {"method": "log2", "weights": class_weights(everything, "log2").tolist()})  # old notebook 2
    record = json.loads(ensure_class_weights(ws).read_text())
    assert record["counted_on"]["masks"] == 8


def test_save_class_weights_keeps_the_weights_of_a_started_run(tmp_path, tiny_set, no_colab_no_gpu):
    ws = workspace(str(tiny_set), str(tmp_path / "run"), environ={})
    save_class_weights(ws, {"method": "log2", "weights": [1.0] * 19})
    (ws.run_dir / "last.pt").write_bytes(b"started")
    save_class_weights(ws, {"method": "log2", "weights": [2.0] * 19})
    assert json.loads(ws.weights_path.read_text())["weights"] == [1.0] * 19


def test_a_run_the_student_trained_is_never_deleted_by_another_notebook(tmp_path, no_colab_no_gpu):
    # The reviewer's reproduction: FACEPARSE_RUN_DIR names a challenge run trained on real data; notebook 5 opened
    # on a CPU runtime with no data configured (the demo) used to delete it and train a demo run in its place.
    real_run = _best(tmp_path / "drive" / "faceparse-runs" / "challenge-challenge-handout")
    ws = workspace(environ={"FACEPARSE_QUICK": "1", "FACEPARSE_HOME": str(tmp_path), "FACEPARSE_RUN_DIR": str(real_run)})
    assert ws.synthetic
    assert not discard_stale_run(ws, ws.train_config())
    prepare_run_dir(ws, ws.train_config())
    assert trained_run(ws) == real_run and (real_run / "best.pt").read_bytes() == b"hours of T4 training"


def test_only_the_kits_own_demo_run_is_retrained_from_scratch(tmp_path, no_colab_no_gpu):
    ws = workspace(environ={"FACEPARSE_HOME": str(tmp_path)})
    assert ws.synthetic and not ws.run_dir_named
    cfg = ws.train_config()
    saved = {**json.loads(json.dumps(cfg.__dict__)), "iterations": 1}
    ws.run_dir.mkdir(parents=True)
    (ws.run_dir / "config.json").write_text(json.dumps(saved))
    assert not discard_stale_run(ws, cfg)  # iterations may change on resume
    older_recipe = {**saved, "loss": "ce", "lr": 8e-3}
    (ws.run_dir / "config.json").write_text(json.dumps({**older_recipe, "data_root": "/content/data/handout"}))
    assert not discard_stale_run(ws, cfg) and ws.run_dir.is_dir()  # trained on real data: kept
    (ws.run_dir / "config.json").write_text(json.dumps(older_recipe))
    assert discard_stale_run(ws, cfg) and not ws.run_dir.exists()  # the kit's own synthetic demo: retrained


def test_notebooks_4_and_5_open_the_run_notebook_3_trained_and_never_train(tmp_path, drive, no_colab_no_gpu):
    env = {"FACEPARSE_HOME": str(tmp_path), "FACEPARSE_QUICK": "1"}  # quick: a holdout of 6 of the 12 pairs
    with pytest.raises(NotebookStop, match="notebook 3"):
        trained_run(workspace(str(drive), environ=env))
    trainer = workspace(str(drive), preset="cpu", environ=env)  # notebook 3, with PRESET = "cpu"
    prepare_run_dir(trainer, trainer.train_config())
    _best(trainer.run_dir, trainer.data_root)
    reader = workspace(str(drive), preset="challenge", environ=env)  # notebook 4, PRESET left at the GPU recipe
    assert reader.run_dir != trainer.run_dir and trained_run(reader) == trainer.run_dir
    assert hand_in_run(reader) == trainer.run_dir
    from faceparse_lib.training.run_files import final_fit_config

    (trainer.run_dir / "log.csv").write_text("kind,iteration,fscore,miou\nval,10,0.5,0.4\nval,20,0.6,0.3\n")
    final = final_fit_config(trainer.run_dir)
    prepare_run_dir(trainer, final)
    assert trained_run(reader) == trainer.run_dir  # the final fit has not finished: the holdout run is handed in
    assert final.final_fit and final.holdout == 0 and final.iterations == 20  # as long as best.pt's run
    _best(Path(final.run_dir))
    assert hand_in_run(reader) == Path(final.run_dir) and trained_run(reader) == trainer.run_dir


def test_hand_in_images_are_the_test_images_else_val_with_a_note(tmp_path, no_colab_no_gpu):
    with_test = make_synthetic_dataset(tmp_path / "a", 2, 1, size=64, n_test=1, workers=0)
    ws = workspace(str(with_test), environ={})
    assert hand_in_images(ws) == (with_test / "test" / "images", None)
    without = make_synthetic_dataset(tmp_path / "b", 2, 1, size=64, workers=0)
    folder, note = hand_in_images(workspace(str(without), environ={}))
    assert folder == without / "val" / "images" and "stand-ins" in note
