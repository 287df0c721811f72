"""The evaluate and predict commands, on a synthetic set and an untrained demo-model checkpoint."""

import argparse
import json
import shutil
import zipfile

import numpy as np
import pandas as pd
import pytest
import torch
from PIL import Image

from faceparse_lib.models.torch_files import CheckpointError
from faceparse_lib.models.checkpoint import load_checkpoint, save_checkpoint
from faceparse_lib.classes import CLASSES
from faceparse_lib.cli.commands import evaluate as evaluate_command
from faceparse_lib.cli.commands import predict as predict_command
from faceparse_lib.data.dataset import FaceParsingDataset
from faceparse_lib.data.layout import read_mask
from faceparse_lib.evaluation.scoring import evaluate
from faceparse_lib.evaluation.inference import predict_image
from faceparse_lib.models.names import DEMO_MODEL
from faceparse_lib.models.zoo import build_model
from faceparse_lib.data.synthetic import make_synthetic_dataset

COMMON = ["--workers", "0", "--device", "cpu", "--no-progress"]


def run_command(module, argv):
    """Parse `argv` with the command's own arguments and run it (independent of how cli.py registers commands)."""
    parser = argparse.ArgumentParser()
    module.add_arguments(parser)
    return module.run(parser.parse_args(argv))


@pytest.fixture(scope="module")
def data_root(tmp_path_factory):
    return make_synthetic_dataset(tmp_path_factory.mktemp("data"), n_train=1, n_val=3, size=64)


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    torch.manual_seed(0)
    model = build_model(DEMO_MODEL, num_classes=19)
    run = tmp_path_factory.mktemp("run")
    config = {"model": DEMO_MODEL, "num_classes": 19, "input_size": 32, "data_root": "data", "class_weights": None}
    save_checkpoint({"model": model.state_dict(), "config": config, "iteration": 12}, run / "best.pt")
    return run


def test_cli_registers_evaluate_and_predict():
    from faceparse_lib.cli import main

    for name in ("evaluate", "predict"):
        with pytest.raises(SystemExit) as exit_info:
            main([name, "--help"])
        assert exit_info.value.code == 0


def test_evaluate_prints_the_per_class_table_and_writes_csv_json_beside_the_checkpoint(run_dir, data_root, capsys):
    assert run_command(evaluate_command, [str(run_dir), str(data_root), "--tta", "flip", *COMMON]) == 0
    out = capsys.readouterr().out
    for word in ("IoU", "F1", "precision", "recall", "mIoU", "mean F1", "pixel accuracy", *CLASSES):
        assert word in out

    record = json.loads((run_dir / "eval_val_flip.json").read_text())
    expected = evaluate(load_checkpoint(run_dir), FaceParsingDataset(data_root, "val"), tta="flip")
    assert record["miou"] == pytest.approx(expected.miou())
    assert record["images"] == 3 and record["tta"] == "flip" and record["input_size"] == 32
    assert record["checkpoint_iteration"] == 12  # the report re-scores when best.pt has moved on
    assert 0 <= record["fscore"] <= 1 and len(record["image_fscores"]) == 3 and "F-score (per image" in out
    assert record["fscore"] == pytest.approx(np.nanmean(list(record["image_fscores"].values())))
    assert sum(map(sum, record["confusion"]["matrix"])) == 3 * 64 * 64
    table = pd.read_csv(run_dir / "eval_val_flip.csv", index_col="class")
    assert list(table.index) == list(CLASSES)
    np.testing.assert_allclose(table["IoU"].to_numpy(), expected.iou(), atol=1e-6)


def test_evaluate_scores_a_challenge_runs_holdout_when_val_has_no_masks(run_dir, tmp_path, capsys):
    root = make_synthetic_dataset(tmp_path / "handout", n_train=5, n_val=2, size=64)
    shutil.rmtree(root / "val" / "masks")  # as the challenge hands val out
    run = shutil.copytree(run_dir, tmp_path / "run")
    held = sorted(p.stem for p in (root / "train" / "masks").glob("*.png"))[1:3]
    (run / "holdout.json").write_text(json.dumps({"size": 2, "seed": 0, "stems": held}))
    assert run_command(evaluate_command, [str(run), str(root), *COMMON]) == 0
    assert "scoring the 2 training images run held out" in capsys.readouterr().out
    record = json.loads((run / "eval_val.json").read_text())
    assert record["split"] == "holdout" and sorted(record["image_fscores"]) == held
    (run / "holdout.json").unlink()  # a final fit: nothing held out, nothing with masks to score on
    with pytest.raises(Exception, match="val/masks: folder not found.*held out no training images"):
        run_command(evaluate_command, [str(run), str(root), *COMMON])


def test_evaluate_without_tta_writes_to_out_under_its_own_name(run_dir, data_root, tmp_path, capsys):
    assert run_command(evaluate_command, [str(run_dir / "best.pt"), str(data_root), "--out", str(tmp_path), *COMMON]) == 0
    assert sorted(p.name for p in tmp_path.iterdir()) == ["eval_val.csv", "eval_val.json"]


def test_evaluate_refuses_a_file_that_is_not_a_checkpoint(data_root, tmp_path):
    (tmp_path / "model.pt").write_bytes(b"hello")
    with pytest.raises(CheckpointError, match="model.pt"):
        run_command(evaluate_command, [str(tmp_path / "model.pt"), str(data_root), *COMMON])


def test_predict_writes_masks_and_zip_and_reports_the_unreadable_input(run_dir, data_root, tmp_path, capsys):
    in_dir = tmp_path / "test_images"
    shutil.copytree(data_root / "val" / "images", in_dir)
    Image.fromarray(np.full((50, 70, 3), 128, np.uint8)).save(in_dir / "wide.png")  # any size in
    (in_dir / "broken.jpg").write_bytes(b"\xff\xd8 truncated")
    stems = sorted(p.stem for p in in_dir.iterdir() if p.name != "broken.jpg")

    argv = [str(run_dir), str(in_dir), str(tmp_path / "masks"), "--zip", str(tmp_path / "hand_in.zip"),
            "--overlays", str(tmp_path / "overlays"), "--batch-size", "1", *COMMON]  # same arithmetic as predict_image
    assert run_command(predict_command, argv) == 1
    captured = capsys.readouterr()
    assert "broken.jpg" in captured.err and f"wrote {len(stems)} masks" in captured.out

    with zipfile.ZipFile(tmp_path / "hand_in.zip") as archive:
        assert sorted(archive.namelist()) == [f"masks/{stem}.png" for stem in stems]  # the challenge's layout
    model = load_checkpoint(run_dir)
    for stem in stems:
        source = next(in_dir.glob(f"{stem}.*"))
        image = np.array(Image.open(source).convert("RGB"))
        mask = read_mask(tmp_path / "masks" / f"{stem}.png")
        assert mask.shape == image.shape[:2]
        np.testing.assert_array_equal(mask, predict_image(model, image))
    assert sorted(p.stem for p in (tmp_path / "overlays").iterdir()) == stems


def test_predict_exits_zero_when_every_image_is_predicted(run_dir, data_root, tmp_path, capsys):
    argv = [str(run_dir), str(data_root / "val" / "images"), str(tmp_path / "masks"), "--tta", "flip", *COMMON]
    assert run_command(predict_command, argv) == 0
    assert capsys.readouterr().err == ""
    assert len(list((tmp_path / "masks").glob("*.png"))) == 3
