import json
import re

import numpy as np
import pandas as pd
import pytest
import torch
from fake_run import ENVIRONMENT, fake_log, make_fake_run

from faceparse_lib.cli import main
from faceparse_lib.models.names import DEMO_MODEL, SEED_MODEL
from faceparse_lib.evaluation.metrics import ConfusionMatrix
from faceparse_lib.models.zoo import build_model, count_parameters
from faceparse_lib.report.runs import best_val_row, read_run
from faceparse_lib.report.tables import class_weights_table, environment_table, parameter_table
from faceparse_lib.report.writer import write_report
from faceparse_lib.data.synthetic import make_synthetic_dataset
from faceparse_lib.data.stats import reference_counts


@pytest.fixture(scope="module")
def data_root(tmp_path_factory):
    return make_synthetic_dataset(tmp_path_factory.mktemp("data"), n_train=4, n_val=3, size=64)


def _parts(table: pd.DataFrame, model: str) -> dict[str, int]:
    rows = table[table["model"] == model]
    return dict(zip(rows["part"], rows["parameters"]))


def test_parameter_table_counts_the_seed_models_parts_as_the_report_does():
    parts = _parts(parameter_table([SEED_MODEL]), SEED_MODEL)
    assert parts == {"backbone": 23_527_264, "decode head": 17_697_923, "auxiliary head": 2_364_691,
                     "total": 43_589_878}


def test_parameter_table_splits_an_smp_model_into_backbone_decoder_and_head_and_keeps_the_seed_rows():
    table = parameter_table([DEMO_MODEL])
    parts = _parts(table, DEMO_MODEL)
    assert list(parts) == ["backbone", "decoder", "segmentation head", "total"]
    assert parts["total"] == sum(v for k, v in parts.items() if k != "total") == count_parameters(build_model(DEMO_MODEL))
    assert _parts(table, SEED_MODEL)["total"] == 43_589_878
    seed_names = table[table["model"] == SEED_MODEL].set_index("part")["seed report"]
    assert seed_names["decode head"] == "DepthwiseSeparableASPPHead" and seed_names["auxiliary head"] == "FCNHead"


def test_class_weights_table_puts_the_runs_counts_and_weights_beside_the_reports(tmp_path, data_root):
    run = read_run(make_fake_run(tmp_path / "run", data_root, checkpoint=False))
    table = class_weights_table(run.weights)
    reference = reference_counts()
    assert list(table["pixels"]) == run.weights["pixels"]
    assert np.allclose(table["weight (log2)"], run.weights["weights"])
    assert table["share %"].sum() == pytest.approx(100)
    assert list(table["report pixels"]) == list(reference["pixels"])
    assert table.loc[16, "report weight"] == pytest.approx(12.7002)
    assert table.loc[3, "class"] == "eyeglasses"


def test_class_weights_table_of_an_unweighted_run_shows_only_the_report():
    table = class_weights_table(None)
    assert "pixels" not in table.columns and "report weight" in table.columns


def test_environment_table_reads_the_runs_record_else_says_it_shows_this_machine():
    table, source = environment_table({"environment": ENVIRONMENT})
    values = dict(zip(table["specification"], table["value"]))
    assert values["GPU / device"] == "Tesla T4" and values["CUDA"] == "12.8" and "config.json" in source
    table, source = environment_table({})
    values = dict(zip(table["specification"], table["value"]))
    assert values["PyTorch"] == torch.__version__ and "this machine" in source


def test_best_val_row_is_the_validation_row_with_the_highest_miou():
    assert int(best_val_row(fake_log(peak=100))["iteration"]) == 100
    log = fake_log()
    assert best_val_row(log[log["kind"] == "train"]) is None


def _referenced(report_md: str) -> set[str]:
    return set(re.findall(r"\((figures/[^)]+|tables/[^)]+)\)", report_md))


def _outputs(out) -> set[str]:
    return {f"{p.parent.name}/{p.name}" for sub in ("figures", "tables") for p in (out / sub).iterdir()}


@pytest.mark.slow  # two runs, an evaluation and six figures saved: about 5 s
def test_write_report_writes_every_table_and_figure_and_report_md_references_each(tmp_path, data_root):
    weighted = make_fake_run(tmp_path / "weighted", data_root, "log2", peak=150)
    unweighted = make_fake_run(tmp_path / "unweighted", data_root, None, peak=100, best=0.5, seed=1)
    out = tmp_path / "report"
    report = write_report([weighted, unweighted], out, samples=2)
    assert report == out / "report.md"
    # Each figure as PNG and vector PDF, each table as CSV, LaTeX (a five-page report's template) and markdown.
    expected = {f"figures/{name}.{ext}" for name in ("fig1_loss", "fig2_miou", "per_class_scores", "confusion_matrix",
                                                     "sample_predictions", "runs_miou") for ext in ("png", "pdf")}
    expected |= {f"tables/{name}.{ext}" for name in ("model_parameters", "class_weights", "environment", "runs",
                                                     "per_class_scores") for ext in ("csv", "tex", "md")}
    expected |= {"tables/confusion_matrix.csv", "tables/confusion_matrix.tex", "tables/model_parts.csv",
                 "tables/model_parts.tex"}  # the run's model alone, for report.tex
    assert _outputs(out) == expected
    text = report.read_text()
    assert _referenced(text) == expected
    assert "43,589,878" in text and "Tesla T4" in text
    # The seed report's order: model, class weights, environment, then the curves.
    positions = [text.index(f) for f in ("model_parameters.md", "class_weights.md", "environment.md", "fig1_loss",
                                         "fig2_miou")]
    assert positions == sorted(positions)
    assert (out / "figures" / "fig2_miou.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert (out / "figures" / "fig2_miou.pdf").read_bytes()[:5] == b"%PDF-"
    tex = (out / "tables" / "class_weights.tex").read_text()
    assert tex.startswith("\\begin{tabular}") and "\\toprule" in tex and "share \\%" in tex
    confusion = pd.read_csv(out / "tables" / "confusion_matrix.csv", index_col=0)
    assert confusion.to_numpy().sum() == 3 * 64 * 64  # every val pixel of the untrained model's predictions
    runs = pd.read_csv(out / "tables" / "runs.csv")
    assert list(runs["class weights"]) == ["log2", "none"] and list(runs["best.pt at iteration"]) == [150, 100]


def test_write_report_reads_f1_and_the_confusion_matrix_from_a_saved_evaluation_without_data(tmp_path):
    run_dir = make_fake_run(tmp_path / "run", None, None, checkpoint=False)
    matrix = ConfusionMatrix()
    matrix.update(torch.tensor([[0, 1], [1, 1]]), torch.tensor([[0, 1], [2, 1]]))
    (run_dir / "eval_val.json").write_text(json.dumps({"checkpoint": str(run_dir / "best.pt"), "images": 1,
                                                       "confusion": matrix.state_dict()}))
    out = tmp_path / "report"
    text = write_report(run_dir, out).read_text()
    scores = pd.read_csv(out / "tables" / "per_class_scores.csv", index_col=0)
    assert np.allclose(scores["F1"], matrix.f1(), equal_nan=True)
    assert "figures/confusion_matrix.png" in _referenced(text)
    assert not (out / "figures" / "sample_predictions.png").exists() and "Sample predictions left out" in text
    assert _referenced(text) == _outputs(out)


@pytest.mark.parametrize("saved_iteration,rescored", [(150, False), (100, True), (None, True)])
def test_saved_evaluation_is_used_only_when_made_from_the_current_best_checkpoint(tmp_path, data_root, saved_iteration,
                                                                                  rescored):
    run_dir = make_fake_run(tmp_path / "run", data_root, None, peak=150)  # best.pt is iteration 150
    matrix = ConfusionMatrix()
    matrix.update(torch.tensor([[0, 1], [1, 1]]), torch.tensor([[0, 1], [2, 1]]))
    record = {"checkpoint": str(run_dir / "best.pt"), "images": 1, "confusion": matrix.state_dict()}
    if saved_iteration is not None:
        record["checkpoint_iteration"] = saved_iteration
    (run_dir / "eval_val.json").write_text(json.dumps(record))
    out = tmp_path / "report"
    write_report(run_dir, out)
    counts = pd.read_csv(out / "tables" / "confusion_matrix.csv", index_col=0).to_numpy()
    assert counts.sum() == (3 * 64 * 64 if rescored else 4)  # re-scored on the 3 val images, or the saved 4 pixels


def test_a_challenge_run_is_reported_by_its_rules_and_fscore_first(tmp_path):
    run_dir = make_fake_run(tmp_path / "run", None, None, checkpoint=False)
    config = json.loads((run_dir / "config.json").read_text())
    (run_dir / "config.json").write_text(json.dumps({**config, "rules": "challenge", "holdout": 100}))
    log = pd.read_csv(run_dir / "log.csv")
    val = log["kind"] == "val"
    log.loc[val, "fscore"] = np.linspace(0.5, 0.8, val.sum())[::-1]  # F-score best at the first validation
    log.to_csv(run_dir / "log.csv", index=False)
    text = write_report(run_dir, tmp_path / "report").read_text()
    assert text.index("Rules: 2025/2026 challenge") < text.index("## 1 Model")
    first = int(log.loc[val, "iteration"].iloc[0])
    assert f"Best validation F-score (per image): **0.8000** at iteration {first:,}" in text
    assert "held out" in text and "Validation F-score" in text
    out = tmp_path / "report"
    assert (out / "figures" / "fig2_fscore.png").exists() and not (out / "figures" / "fig2_miou.png").exists()
    assert "figures/fig2_fscore.png" in _referenced(text)


def test_a_challenge_runs_per_class_table_and_samples_speak_the_fscore(tmp_path, data_root):
    from faceparse_lib.classes import CLASSES

    run_dir = make_fake_run(tmp_path / "run", data_root, None)
    config = json.loads((run_dir / "config.json").read_text())
    (run_dir / "config.json").write_text(json.dumps({**config, "rules": "challenge"}))
    log = pd.read_csv(run_dir / "log.csv")
    val = log["kind"] == "val"
    log.loc[val, "fscore"] = np.linspace(0.5, 0.8, val.sum())
    for k, name in enumerate(CLASSES):
        log.loc[val, f"f_{name}"] = k / 100
    log.to_csv(run_dir / "log.csv", index=False)
    out = tmp_path / "report"
    text = write_report(run_dir, out, data_root=data_root).read_text()
    scores = pd.read_csv(out / "tables" / "per_class_scores.csv", index_col=0)
    assert list(scores.columns[:3]) == ["class", "F-score", "IoU"]  # the rules' score first
    assert "Per-class F-score, IoU, F1" in text


def test_the_log_per_class_fscore_is_the_best_rows_by_the_rules(tmp_path):
    from faceparse_lib.classes import CLASSES
    from faceparse_lib.report.runs import log_scores

    run_dir = make_fake_run(tmp_path / "run", None, None, checkpoint=False)
    config = json.loads((run_dir / "config.json").read_text())
    (run_dir / "config.json").write_text(json.dumps({**config, "rules": "challenge"}))
    log = pd.read_csv(run_dir / "log.csv")
    val = log.index[log["kind"] == "val"]
    log.loc[val, "fscore"] = 0.5
    log.loc[val[0], "fscore"] = 0.9  # best by F-score: the first validation, not the mIoU's best (iteration 150)
    for name in CLASSES:
        log.loc[val, f"f_{name}"] = 0.1
        log.loc[val[0], f"f_{name}"] = 0.7
    log.to_csv(run_dir / "log.csv", index=False)
    scores = log_scores(read_run(run_dir))
    assert np.allclose(scores.fscore, 0.7) and f"iteration {int(log.loc[val[0], 'iteration'])}" in scores.source


def test_write_report_without_checkpoint_or_data_falls_back_to_the_logs_per_class_iou(tmp_path):
    run_dir = make_fake_run(tmp_path / "run", None, None, checkpoint=False)
    out = tmp_path / "report"
    text = write_report(run_dir, out).read_text()
    scores = pd.read_csv(out / "tables" / "per_class_scores.csv", index_col=0)
    best = best_val_row(read_run(run_dir).log)
    assert np.allclose(scores["IoU"], best[[c for c in best.index if c.startswith("iou_")]].astype(float))
    assert "F1" not in scores.columns
    assert not (out / "figures" / "confusion_matrix.png").exists() and "no checkpoint" in text
    assert _referenced(text) == _outputs(out)


def test_write_report_removes_the_figures_an_earlier_call_wrote_and_this_one_does_not(tmp_path):
    first = make_fake_run(tmp_path / "a", None, None, checkpoint=False)
    second = make_fake_run(tmp_path / "b", None, None, checkpoint=False, seed=1)
    out = tmp_path / "report"
    write_report([first, second], out)
    assert (out / "figures" / "runs_miou.png").exists()
    text = write_report([first], out).read_text()
    assert not (out / "figures" / "runs_miou.png").exists()
    assert _referenced(text) == _outputs(out)


def test_figures_command_writes_the_report(tmp_path, data_root, capsys):
    run_dir = make_fake_run(tmp_path / "run", data_root, checkpoint=False)
    out = tmp_path / "report"
    assert main(["figures", str(run_dir), "--out", str(out), "--no-progress"]) == 0
    assert (out / "report.md").is_file() and (out / "figures" / "fig1_loss.png").is_file()
    assert str(out / "report.md") in capsys.readouterr().out


def test_figures_command_names_the_missing_log_csv(tmp_path, capsys):
    (tmp_path / "not_a_run").mkdir()
    assert main(["figures", str(tmp_path / "not_a_run"), "--out", str(tmp_path / "report")]) == 1
    err = capsys.readouterr().err
    assert err.startswith("error: ") and str(tmp_path / "not_a_run" / "log.csv") in err
    assert "Traceback" not in err


def test_figures_command_refuses_a_data_root_without_val_masks(tmp_path, capsys):
    run_dir = make_fake_run(tmp_path / "run", None, None)
    assert main(["figures", str(run_dir), "--out", str(tmp_path / "report"), "--data-root", str(tmp_path)]) == 1
    assert str(tmp_path / "val" / "masks") in capsys.readouterr().err


def test_read_run_names_the_log_when_its_header_is_not_trains(tmp_path):
    run_dir = make_fake_run(tmp_path / "run", None, None, checkpoint=False)
    (run_dir / "log.csv").write_text("step,value\n1,2\n")
    with pytest.raises(ValueError, match=r"log\.csv: missing columns kind, iteration, loss, miou"):
        read_run(run_dir)


def test_the_tta_comparison_and_class_tables_put_the_rules_score_first():
    from faceparse_lib.evaluation.fscore import FScore
    from faceparse_lib.report.tables import class_score_comparison, class_table, score_comparison

    truth = torch.tensor([[[0, 0, 1, 1], [0, 4, 1, 5]]])
    plain, flipped = torch.tensor([[[0, 0, 1, 1], [0, 0, 1, 1]]]), truth.clone()
    matrices, fscores = {"no TTA": ConfusionMatrix(), "flip TTA": ConfusionMatrix()}, {"no TTA": FScore(), "flip TTA": FScore()}
    for name, pred in (("no TTA", plain), ("flip TTA", flipped)):
        matrices[name].update(pred, truth)
        fscores[name].update(pred, truth)
    compared = score_comparison(matrices, fscores, metric="fscore")
    assert list(compared.index) == ["F-score", "mIoU", "mean F1", "pixel accuracy"]
    assert compared.loc["F-score", "flip TTA"] == pytest.approx(1.0, abs=1e-6)
    assert compared.loc["F-score", "change"] == pytest.approx(1.0 - fscores["no TTA"].mean(), abs=1e-6)
    assert list(score_comparison(matrices, fscores, metric="miou").index)[0] == "mIoU"
    per_class = class_score_comparison(matrices, fscores, metric="fscore")
    assert np.allclose(per_class["no TTA"], fscores["no TTA"].per_class(), equal_nan=True)
    table = class_table(matrices["no TTA"], fscores["no TTA"], metric="fscore")
    assert table.columns[0] == "F-score" and table["F-score"].iloc[0] == np.nanmin(fscores["no TTA"].per_class())


def test_the_per_class_table_of_best_pt_is_its_rows_by_the_rules_score():
    from faceparse_lib.classes import CLASSES
    from faceparse_lib.report.tables import best_row_class_table

    log = fake_log(peak=100)
    val = log.index[log["kind"] == "val"]
    log["fscore"] = np.nan
    log.loc[val, "fscore"] = np.linspace(0.9, 0.5, len(val))  # the F-score's best: the first validation
    for k, name in enumerate(CLASSES):
        log.loc[val, f"f_{name}"] = (k + 1) / 100
    table = best_row_class_table(log, "fscore")
    assert table.attrs["iteration"] == int(log.loc[val[0], "iteration"]) and list(table.columns) == ["F-score", "IoU"]
    assert table.index[0] == "background" and table["F-score"].is_monotonic_increasing
    seed = best_row_class_table(log, "miou")
    assert seed.attrs["iteration"] == 100 and seed.columns[0] == "IoU" and seed["IoU"].is_monotonic_increasing


def test_a_report_of_a_run_on_the_synthetic_demo_says_so_on_every_figure(tmp_path):
    from faceparse_lib.data.synthetic import DEMO_BANNER, SYNTHETIC_MARKER, SYNTHETIC_MARKER_TEXT

    demo_data = tmp_path / "synthetic"
    demo_data.mkdir()
    (demo_data / SYNTHETIC_MARKER).write_text(SYNTHETIC_MARKER_TEXT)
    run_dir = make_fake_run(tmp_path / "run", None, None, checkpoint=False)
    config = json.loads((run_dir / "config.json").read_text())
    (run_dir / "config.json").write_text(json.dumps({**config, "data_root": str(demo_data)}))
    text = write_report(run_dir, tmp_path / "report").read_text()
    assert DEMO_BANNER in text.splitlines()[2]
    plain = write_report(make_fake_run(tmp_path / "real", None, None, checkpoint=False), tmp_path / "real-report")
    assert DEMO_BANNER not in plain.read_text()
    from PIL import Image

    banner_rows = [np.asarray(Image.open(tmp_path / d / "figures" / "fig1_loss.png").convert("RGB"))[:12]
                   for d in ("report", "real-report")]
    reds = [int(((rows[..., 0] > 150) & (rows[..., 1] < 40)).sum()) for rows in banner_rows]
    assert reds[0] > 100 and reds[1] == 0  # the red strip on top of the demo's figure only


def test_the_runs_table_of_challenge_runs_leads_with_best_pts_fscore(tmp_path):
    from faceparse_lib.report.tables import runs_table

    run_dir = make_fake_run(tmp_path / "run", None, None, checkpoint=False, peak=100)  # mIoU peaks at 100
    config = json.loads((run_dir / "config.json").read_text())
    (run_dir / "config.json").write_text(json.dumps({**config, "rules": "challenge"}))
    log = pd.read_csv(run_dir / "log.csv")
    val = log.index[log["kind"] == "val"]
    log.loc[val, "fscore"] = np.linspace(0.5, 0.9, len(val))  # the F-score's best (best.pt): the last validation
    log.to_csv(run_dir / "log.csv", index=False)
    table = runs_table([read_run(run_dir)])
    assert list(table.columns[5:8]) == ["best.pt at iteration", "F-score", "mIoU"]
    assert table["best.pt at iteration"].iloc[0] == int(log.loc[val[-1], "iteration"])
    assert table["F-score"].iloc[0] == pytest.approx(0.9)


def test_the_per_class_table_follows_best_pts_own_iteration():
    from faceparse_lib.classes import CLASSES
    from faceparse_lib.report.tables import best_row_class_table

    log = fake_log(peak=100)
    for name in CLASSES:
        log[f"f_{name}"] = np.where(log["kind"] == "val", log["iteration"] / 1000, np.nan)
    assert best_row_class_table(log, "miou", iteration=150).attrs["iteration"] == 150  # best.pt's, not the log's best
    assert best_row_class_table(log, "miou", iteration=999).attrs["iteration"] == 100  # not logged: the best row
