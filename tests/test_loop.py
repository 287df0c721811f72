import csv
import json
import pytest
import torch

from faceparse_lib.models import checkpoint as ckpt
from faceparse_lib.data.batches import StreamBatchSampler
from faceparse_lib.data.synthetic import make_synthetic_dataset
from faceparse_lib.training.run_files import LOG_COLUMNS, read_log
from faceparse_lib.training.config import PRESETS, TrainConfig, lr_at
from faceparse_lib.training.loop import TrainingDiverged, train


@pytest.fixture(scope="module")
def tiny_root(tmp_path_factory):
    return make_synthetic_dataset(tmp_path_factory.mktemp("data") / "synth", 6, 3, size=64, seed=3)


def tiny_config(root, run_dir, **overrides):
    """The cpu preset shrunk to seconds, with the report's full augmentation so its randomness is exercised."""
    values = dict(
        data_root=str(root), run_dir=str(run_dir), input_size=None, crop_size=48, ratio_range=(0.5, 2.0),
        photometric=True, batch_size=2, iterations=4, eval_interval=2, checkpoint_interval=1, log_interval=1,
        eval_batch_size=2, warmup_iterations=1, progress=False, workers=0,
    )
    values.update(overrides)
    return TrainConfig.preset("cpu", **values)


def final_weights(run_dir):
    return ckpt.read_checkpoint(run_dir / ckpt.LAST)["model"]


def max_difference(a, b):
    assert a.keys() == b.keys()
    return max(float((a[k].double() - b[k].double()).abs().max()) for k in a if a[k].numel())


def log_rows(run_dir):
    with open(run_dir / "log.csv", newline="") as handle:
        return [{k: v for k, v in row.items() if k != "seconds"} for row in csv.DictReader(handle)]


class StopAt:
    """A callback that interrupts training (as Ctrl-C would) once `iteration` has been logged."""

    def __init__(self, iteration):
        self.iteration = iteration

    def __call__(self, row):
        if row["kind"] == "train" and row["iteration"] == self.iteration:
            raise KeyboardInterrupt


@pytest.mark.parametrize("cached", [True, False], ids=["in-memory", "from-disk"])
def test_two_plus_two_resumed_iterations_equal_four_straight(tiny_root, tmp_path, cached):
    straight = train(tiny_config(tiny_root, tmp_path / "straight", cache_data=cached))
    with pytest.raises(KeyboardInterrupt):
        train(tiny_config(tiny_root, tmp_path / "resumed", cache_data=cached), callback=StopAt(2))
    assert ckpt.read_checkpoint(tmp_path / "resumed" / ckpt.LAST)["iteration"] == 2
    resumed = train(tiny_config(tiny_root, tmp_path / "resumed", cache_data=cached))
    assert max_difference(final_weights(straight), final_weights(resumed)) <= 1e-6
    assert log_rows(straight) == log_rows(resumed)  # the log continues as if nothing happened


def test_first_log_row_after_a_resume_averages_the_same_iterations_as_a_straight_run(tiny_root, tmp_path):
    straight = train(tiny_config(tiny_root, tmp_path / "straight", log_interval=4, eval_interval=4))
    stopped = train(tiny_config(tiny_root, tmp_path / "resumed", log_interval=4, eval_interval=4, time_limit_minutes=0.0))
    assert ckpt.read_checkpoint(stopped / ckpt.LAST)["iteration"] == 1  # mid log interval, as a stop button leaves it
    resumed = train(tiny_config(tiny_root, tmp_path / "resumed", log_interval=4, eval_interval=4))
    assert log_rows(straight) == log_rows(resumed)  # loss, loss_out and loss_aux of iterations 1..4, not 2..4


@pytest.mark.parametrize("before,after", [("off", "fp16"), ("fp16", "off")])
def test_a_run_resumes_across_fp16_loss_scaling_on_and_off(tiny_root, tmp_path, before, after):
    with pytest.raises(KeyboardInterrupt):  # e.g. started on a CPU runtime, continued on a GPU one
        train(tiny_config(tiny_root, tmp_path / "run", amp=before), callback=StopAt(2))
    run_dir = train(tiny_config(tiny_root, tmp_path / "run", amp=after))
    assert ckpt.read_checkpoint(run_dir / ckpt.LAST)["iteration"] == 4


def test_warm_up_hands_over_to_the_poly_decay_without_a_jump():
    cfg = TrainConfig.preset("cpu")
    rates = [lr_at(cfg, t) for t in range(cfg.iterations)]
    steps = [abs(b - a) for a, b in zip(rates, rates[1:])]
    warmup = cfg.warmup_iterations
    assert rates[warmup] == pytest.approx(cfg.lr)  # the decay starts where the warm-up ends
    assert max(steps[warmup - 1:]) <= cfg.lr / warmup  # no step after it is larger than a warm-up step
    assert rates[-1] > cfg.min_lr and lr_at(cfg, cfg.iterations) == pytest.approx(cfg.min_lr)


def test_resume_drops_log_rows_written_after_the_last_checkpoint(tiny_root, tmp_path):
    cfg = tiny_config(tiny_root, tmp_path / "run", checkpoint_interval=2, eval_interval=4)
    with pytest.raises(KeyboardInterrupt):
        train(cfg, callback=StopAt(3))  # the interrupt saves iteration 3; pretend it was killed instead
    state = ckpt.read_checkpoint(tmp_path / "run" / ckpt.LAST)
    assert state["iteration"] == 3
    rows = log_rows(tmp_path / "run")
    assert [int(r["iteration"]) for r in rows if r["kind"] == "train"] == [1, 2, 3]


def test_log_has_train_and_val_rows_with_per_class_iou(tiny_root, tmp_path):
    run_dir = train(tiny_config(tiny_root, tmp_path / "run"))
    frame = read_log(run_dir)
    assert list(frame.columns) == LOG_COLUMNS
    train_rows, val_rows = frame[frame.kind == "train"], frame[frame.kind == "val"]
    assert list(train_rows.iteration) == [1, 2, 3, 4]
    assert list(val_rows.iteration) == [2, 4]
    assert val_rows[["val_loss", "miou", "mean_f1", "pixel_accuracy", "iou_skin"]].notna().all().all()
    assert train_rows[["loss", "loss_out", "lr"]].notna().all().all()
    assert (train_rows.lr.diff().dropna() <= 0).all()  # poly decay after the one warm-up step
    saved = json.loads((run_dir / "config.json").read_text())
    assert saved["iterations"] == 4 and "torch" in saved["environment"]
    best = ckpt.read_checkpoint(run_dir / ckpt.BEST)
    assert best["best_score"] == pytest.approx(val_rows.miou.max())
    assert (run_dir / "class_weights.json").is_file()


def test_best_checkpoint_loads_as_a_model_that_knows_its_input_size(tiny_root, tmp_path):
    run_dir = train(tiny_config(tiny_root, tmp_path / "run", input_size=32, crop_size=32))
    model = ckpt.load_checkpoint(run_dir)
    assert model.input_size == 32 and not model.training


def test_non_finite_loss_stops_with_the_iteration_and_terms_and_keeps_the_last_good_checkpoint(tiny_root, tmp_path, monkeypatch):
    from faceparse_lib.training.losses import SegmentationLoss

    original = SegmentationLoss.terms
    calls = {"n": 0}

    def poisoned(self, outputs, target):
        terms = original(self, outputs, target)
        calls["n"] += 1
        if calls["n"] == 3:
            terms["ce"] = terms["ce"] * float("nan")
        return terms

    monkeypatch.setattr(SegmentationLoss, "terms", poisoned)
    with pytest.raises(TrainingDiverged, match=r"iteration 3: loss is nan \(main nan"):
        train(tiny_config(tiny_root, tmp_path / "run", eval_interval=100))
    last = ckpt.read_checkpoint(tmp_path / "run" / ckpt.LAST)
    assert last["iteration"] == 2
    assert all(torch.isfinite(v).all() for v in last["model"].values() if v.is_floating_point())


def test_time_limit_stops_cleanly_with_a_checkpoint(tiny_root, tmp_path):
    run_dir = train(tiny_config(tiny_root, tmp_path / "run", time_limit_minutes=0.0, iterations=50))
    assert ckpt.read_checkpoint(run_dir / ckpt.LAST)["iteration"] == 1


def test_resuming_with_other_settings_is_refused(tiny_root, tmp_path):
    with pytest.raises(KeyboardInterrupt):
        train(tiny_config(tiny_root, tmp_path / "run"), callback=StopAt(1))
    with pytest.raises(ValueError, match="another run.*lr"):
        train(tiny_config(tiny_root, tmp_path / "run", lr=0.5))


def test_report_preset_is_the_seed_schedule():
    cfg = TrainConfig.preset("report")
    assert (cfg.model, cfg.iterations, cfg.optimizer, cfg.lr, cfg.momentum, cfg.weight_decay) == (
        "deeplabv3plus_r50", 40_000, "sgd", 0.01, 0.9, 5e-4)
    assert (cfg.poly_power, cfg.min_lr, cfg.aux_weight, cfg.eval_interval) == (0.9, 1e-4, 0.4, 4000)
    assert (cfg.crop_size, cfg.ratio_range, cfg.cat_max_ratio, cfg.flip_p, cfg.photometric) == (512, (0.5, 2.0), 0.75, 0.5, True)
    assert cfg.class_weights == "log2"
    assert lr_at(cfg, 0) == pytest.approx(0.01)
    assert lr_at(cfg, 40_000) == pytest.approx(1e-4)
    assert lr_at(cfg, 20_000) == pytest.approx(1e-4 + (0.01 - 1e-4) * 0.5**0.9)


def test_unknown_preset_and_config_fields_are_refused(tmp_path):
    with pytest.raises(ValueError, match="cpu, report|report, cpu"):
        TrainConfig.preset("fast")
    path = tmp_path / "config.json"
    path.write_text(json.dumps({"lr": 0.1, "learning_rate": 0.1}))
    with pytest.raises(ValueError, match="learning_rate"):
        TrainConfig.load(path)


def test_config_round_trips_through_its_json(tmp_path):
    cfg = TrainConfig.preset("cpu", lr=0.02)
    path = tmp_path / "config.json"
    path.write_text(json.dumps(cfg.__dict__))
    assert TrainConfig.load(path) == cfg


def test_stream_batches_depend_only_on_the_iteration():
    whole = list(StreamBatchSampler(10, 3, start=0, stop=8, seed=1))
    tail = list(StreamBatchSampler(10, 3, start=5, stop=8, seed=1))
    assert whole[5:] == tail
    first_epoch = [i for batch in whole for i, _ in batch][:10]
    assert sorted(first_epoch) == list(range(10))  # the first epoch visits every sample once
    seeds = [s for batch in whole for _, s in batch]
    assert len(set(seeds)) == len(seeds)


def test_ranks_split_one_global_batch():
    rank0 = list(StreamBatchSampler(8, 2, 0, 2, seed=0, world_size=2, rank=0))
    rank1 = list(StreamBatchSampler(8, 2, 0, 2, seed=0, world_size=2, rank=1))
    first_epoch = [i for b in rank0 + rank1 for i, _ in b]
    assert sorted(first_epoch) == list(range(8))


def test_cpu_preset_fits_a_cpu_and_the_parameter_budget():
    from faceparse_lib.data.rules import RULE_SETS
    from faceparse_lib.models.zoo import build_model, count_parameters

    cfg = TrainConfig.preset("cpu")
    assert cfg.device == "cpu" and cfg.cache_data and cfg.crop_size <= cfg.input_size  # random crops of cached images
    assert count_parameters(build_model(cfg.model)) < RULE_SETS["challenge"].max_parameters
    assert lr_at(cfg, 0) < lr_at(cfg, cfg.warmup_iterations - 1) == pytest.approx(cfg.lr)  # linear warm-up
    assert set(PRESETS) == {"report", "cpu", "laptop", "first-run", "challenge"}


def test_the_first_run_preset_is_the_laptop_recipe_shortened_on_the_gpu():
    laptop, first = TrainConfig.preset("laptop"), TrainConfig.preset("first-run")
    assert first.device == "auto" and first.amp == "auto" and first.iterations > laptop.iterations
    recipe = ("model", "loss", "lr", "input_size", "crop_size", "ratio_range", "rotate_degrees", "photometric", "holdout")
    assert all(getattr(first, f) == getattr(laptop, f) for f in recipe)
    assert first.eval_interval * 2 == first.iterations  # a real F-score halfway, then at the end


def test_the_laptop_preset_is_the_challenge_on_a_cpu_under_the_cap():
    from faceparse_lib.data.rules import RULE_SETS
    from faceparse_lib.models.zoo import build_model, count_parameters

    cfg = TrainConfig.preset("laptop")
    assert cfg.device == "cpu" and cfg.cache_data and cfg.rules == "challenge" and cfg.holdout == 100
    assert not cfg.pretrained and cfg.crop_size <= cfg.input_size
    assert count_parameters(build_model(cfg.model)) < RULE_SETS["challenge"].max_parameters


def free_port():
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.mark.slow
def test_two_cpu_processes_hold_the_same_weights_and_report_the_single_process_miou(tiny_root, tmp_path):
    import subprocess
    import sys
    from pathlib import Path

    from faceparse_lib.training import distributed
    from faceparse_lib.data.batches import CachedPairs
    from faceparse_lib.data.layout import list_pairs
    from faceparse_lib.training.losses import SegmentationLoss
    from faceparse_lib.models.zoo import build_model
    from faceparse_lib.training.validation import validate

    worker = Path(__file__).with_name("ddp_worker.py")
    command = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node=2", f"--master_port={free_port()}",
               str(worker), str(tiny_root), str(tmp_path / "run"), str(tmp_path)]
    done = subprocess.run(command, capture_output=True, text=True, timeout=300, env={**__import__("os").environ, "OMP_NUM_THREADS": "1"})
    assert done.returncode == 0, done.stderr[-3000:]
    ranks = [torch.load(tmp_path / f"rank{r}.pt", weights_only=False) for r in (0, 1)]
    assert [r["world_size"] for r in ranks] == [2, 2]
    assert max_difference(ranks[0]["weights"], ranks[1]["weights"]) == 0
    assert ranks[0]["row"]["miou"] == ranks[1]["row"]["miou"]

    cfg = TrainConfig.load(tmp_path / "run" / "config.json")
    model = build_model(cfg.model)
    model.load_state_dict(ranks[0]["weights"])
    alone = validate(model, CachedPairs(list_pairs(tiny_root, "val"), cfg.input_size, resize_masks=False),
                     SegmentationLoss(), cfg, distributed.Distributed())
    assert alone["miou"] == pytest.approx(ranks[0]["row"]["miou"], abs=1e-12)
    assert final_weights(tmp_path / "run").keys() == ranks[0]["weights"].keys()


def parse_train_flags(argv):
    import argparse

    from faceparse_lib.cli.commands import train as command

    parser = argparse.ArgumentParser()
    command.add_arguments(parser)
    return command.config_from_args(parser.parse_args(argv))


def test_train_command_flags_override_the_preset_and_none_means_none(tmp_path):
    cfg = parse_train_flags(["--preset", "report", "--class-weights", "none", "--lr", "0.02",
                             "--run-dir", str(tmp_path / "run"), "--ratio-range", "0.75", "1.5"])
    assert cfg.class_weights is None and cfg.lr == 0.02 and cfg.ratio_range == (0.75, 1.5)
    assert cfg.iterations == 40_000  # untouched fields keep the preset's value
    assert parse_train_flags(["--run-dir", str(tmp_path / "other")]).class_weights == "log2"


def test_bare_train_command_resumes_the_default_run_dir_with_its_own_config(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    run_dir = tmp_path / TrainConfig.run_dir
    run_dir.mkdir(parents=True)
    (run_dir / "config.json").write_text(json.dumps(TrainConfig.preset("report", data_root="data").__dict__))
    cfg = parse_train_flags([])
    assert cfg.model == PRESETS["report"]["model"] and cfg.iterations == 40_000


def test_challenge_rules_refuse_a_model_at_the_cap_or_pretrained_before_any_work(tiny_root, tmp_path):
    with pytest.raises(ValueError, match="fewer than 1,821,085.*over by 41,768,794"):
        train(tiny_config(tiny_root, tmp_path / "big", rules="challenge", model="deeplabv3plus_r50"))
    with pytest.raises(ValueError, match="from scratch"):
        train(tiny_config(tiny_root, tmp_path / "pre", rules="challenge", pretrained=True))
    assert not (tmp_path / "big").exists() and not (tmp_path / "pre").exists()


def test_challenge_run_validates_on_a_holdout_and_keeps_best_pt_by_the_fscore(tiny_root, tmp_path):
    cfg = tiny_config(tiny_root, tmp_path / "run", rules="challenge", holdout=2, loss="ce+lovasz", ema_decay=0.5,
                      rotate_degrees=10.0, iterations=6, eval_interval=2)
    run_dir = train(cfg)
    held = json.loads((run_dir / "holdout.json").read_text())["stems"]
    assert len(held) == 2
    assert json.loads((run_dir / "class_weights.json").read_text())["n_images"] == 6 - 2  # holdout not counted
    val = read_log(run_dir).query("kind == 'val'")
    assert val["fscore"].between(0, 1).all() and read_log(run_dir).query("kind == 'train'")["loss_extra"].notna().all()
    best = ckpt.read_checkpoint(run_dir / ckpt.BEST)
    assert best["best_score"] == pytest.approx(val["fscore"].max())  # chosen by the F-score, not mIoU
    assert best["iteration"] == int(val.loc[val["fscore"].idxmax(), "iteration"])
    assert "ema" in best  # evaluate and predict load the EMA weights


def test_challenge_preset_fits_the_rules():
    from faceparse_lib.data.rules import RULE_SETS
    from faceparse_lib.models.zoo import build_model, count_parameters

    cfg, rules = TrainConfig.preset("challenge"), RULE_SETS["challenge"]
    assert cfg.rules == "challenge" and not cfg.pretrained and cfg.holdout > 0 and cfg.input_size is None
    assert count_parameters(build_model(cfg.model)) < rules.max_parameters
    # the recipe the benchmark on real faces chose: the laptop preset's, at full size, with an EMA
    laptop = TrainConfig.preset("laptop")
    same = ("model", "loss", "lr", "optimizer", "class_weights", "ratio_range", "rotate_degrees", "photometric", "flip_p")
    assert {key: getattr(cfg, key) for key in same} == {key: getattr(laptop, key) for key in same}
    assert cfg.ema_decay and cfg.crop_size / 512 == laptop.crop_size / laptop.input_size  # a crop, as measured


def test_a_run_saved_before_a_config_field_existed_still_resumes(tiny_root, tmp_path):
    # a kit before the `loss` field trained with CE alone, the field's default
    with pytest.raises(KeyboardInterrupt):
        train(tiny_config(tiny_root, tmp_path / "run", loss="ce"), callback=StopAt(2))
    path = tmp_path / "run" / ckpt.LAST
    state = ckpt.read_checkpoint(path)
    for newer in ("rules", "holdout", "loss", "rotate_degrees", "ema_decay"):  # as a checkpoint of an older kit
        del state["config"][newer]
    ckpt.save_checkpoint({k: v for k, v in state.items() if k not in ("format", "version")}, path)
    assert ckpt.read_checkpoint(train(tiny_config(tiny_root, tmp_path / "run", loss="ce")) / ckpt.LAST)["iteration"] == 4


def test_log_rows_stay_right_when_log_interval_changes_on_resume(tiny_root, tmp_path):
    stopped = train(tiny_config(tiny_root, tmp_path / "run", log_interval=4, eval_interval=4, time_limit_minutes=0.0,
                                iterations=6))
    assert ckpt.read_checkpoint(stopped / ckpt.LAST)["iteration"] == 1
    run_dir = train(tiny_config(tiny_root, tmp_path / "run", log_interval=3, eval_interval=4, iterations=6))
    rows = [r for r in log_rows(run_dir) if r["kind"] == "train"]
    straight = train(tiny_config(tiny_root, tmp_path / "straight", log_interval=1, eval_interval=4, iterations=6))
    losses = [float(r["loss"]) for r in log_rows(straight) if r["kind"] == "train"]
    # iteration 3 averages 1..3 (the sum saved at 1 plus 2..3), iteration 6 averages 4..6
    assert [int(r["iteration"]) for r in rows] == [3, 6]
    assert float(rows[0]["loss"]) == pytest.approx(sum(losses[:3]) / 3, rel=1e-5)
    assert float(rows[1]["loss"]) == pytest.approx(sum(losses[3:]) / 3, rel=1e-5)


def test_the_holdout_comes_from_its_own_seed_and_is_read_back_not_redrawn(tiny_root, tmp_path):
    from faceparse_lib.training.run_files import training_split

    cfg = tiny_config(tiny_root, tmp_path / "run", rules="challenge", holdout=2)
    _, held = training_split(cfg)
    other_training_seed = tiny_config(tiny_root, tmp_path / "other", rules="challenge", holdout=2, seed=7)
    assert training_split(other_training_seed)[1] == held  # the same 2 images whatever the training seed
    record = json.loads((tmp_path / "run" / "holdout.json").read_text())
    moved = sorted(p.stem for _, p in training_split(cfg)[0])[:2]  # a holdout.json naming two other images
    (tmp_path / "run" / "holdout.json").write_text(json.dumps({**record, "stems": moved}))
    assert sorted(m.stem for _, m in training_split(cfg)[1]) == moved  # read back, not drawn again
    with pytest.raises(ValueError, match="seed 0.*asks for 2 with seed 5"):
        training_split(tiny_config(tiny_root, tmp_path / "run", rules="challenge", holdout=2, holdout_seed=5))
    import shutil

    elsewhere = shutil.copytree(tiny_root, tmp_path / "elsewhere")  # another data root, one held-out pair missing
    (elsewhere / "train" / "masks" / f"{moved[0]}.png").unlink()
    (elsewhere / "train" / "images" / f"{moved[0]}.jpg").unlink()
    with pytest.raises(ValueError, match="1 of its 2 held-out images are not in"):
        training_split(tiny_config(elsewhere, tmp_path / "run", rules="challenge", holdout=2))


def test_a_run_refuses_class_weights_counted_on_other_masks(tiny_root, tmp_path):
    from faceparse_lib.data.stats import class_weights, count_pixels, weights_record

    cfg = tiny_config(tiny_root, tmp_path / "run", rules="challenge", holdout=2, iterations=2)
    masks = sorted((tiny_root / "train" / "masks").glob("*.png"))  # every mask, the holdout included
    counts = count_pixels(masks)
    (tmp_path / "run").mkdir()
    (tmp_path / "run" / "class_weights.json").write_text(json.dumps(
        weights_record(counts, class_weights(counts, "log2").tolist(), "log2", "max", masks=masks)))
    with pytest.raises(ValueError, match="counted on 6 masks, but this run trains on 4"):
        train(cfg)


def test_a_final_fit_trains_on_every_pair_for_the_holdout_runs_best_length(tiny_root, tmp_path):
    from faceparse_lib.training.run_files import final_fit_config

    holdout_run = train(tiny_config(tiny_root, tmp_path / "run", rules="challenge", holdout=2, iterations=4,
                                    eval_interval=2))
    val = read_log(holdout_run).query("kind == 'val'")
    cfg = final_fit_config(holdout_run)
    assert cfg.final_fit and cfg.holdout == 0 and cfg.run_dir == str(tmp_path / "run-final")
    assert cfg.iterations == int(val.loc[val["fscore"].idxmax(), "iteration"])
    run_dir = train(cfg)
    assert not (run_dir / "holdout.json").exists() and read_log(run_dir).query("kind == 'val'").empty
    best, last = ckpt.read_checkpoint(run_dir / ckpt.BEST), ckpt.read_checkpoint(run_dir / ckpt.LAST)
    assert best["iteration"] == last["iteration"] == cfg.iterations
    assert json.loads((run_dir / "class_weights.json").read_text())["n_images"] == 6  # every pair counted
    with pytest.raises(ValueError, match="holdout must be 0"):
        TrainConfig.preset("cpu", final_fit=True, holdout=5)


def test_a_final_fit_needs_a_finished_holdout_run_whose_best_is_past_the_warm_up(tmp_path):
    from fake_run import make_fake_run
    from faceparse_lib.training.run_files import final_fit_config

    run = make_fake_run(tmp_path / "run", None, None, checkpoint=False, peak=150)  # logged to 200 of 200
    config = json.loads((run / "config.json").read_text())
    (run / "config.json").write_text(json.dumps({**config, "iterations": 400}))
    with pytest.raises(ValueError, match="at iteration 200 of 400; finish the holdout run first"):
        final_fit_config(run)
    (run / "config.json").write_text(json.dumps({**config, "warmup_iterations": 150}))
    with pytest.raises(ValueError, match="inside the 150-iteration warm-up"):
        final_fit_config(run)


def test_a_run_whose_holdout_an_older_kit_drew_from_the_training_seed_still_resumes(tiny_root, tmp_path):
    from faceparse_lib.training.run_files import training_split

    cfg = tiny_config(tiny_root, tmp_path / "run", rules="challenge", holdout=2, seed=1)
    (tmp_path / "run").mkdir()
    (tmp_path / "run" / "holdout.json").write_text(json.dumps({"size": 2, "seed": 1, "stems": ["00001", "00004"]}))
    assert sorted(m.stem for _, m in training_split(cfg)[1]) == ["00001", "00004"]
    with pytest.raises(ValueError, match="holdout_seed=1"):
        training_split(tiny_config(tiny_root, tmp_path / "run", rules="challenge", holdout=2, seed=0, holdout_seed=3))


def test_train_final_fit_of_takes_the_holdout_runs_recipe_and_length(tmp_path):
    from fake_run import make_fake_run

    run = make_fake_run(tmp_path / "holdout-run", None, None, checkpoint=False, peak=150)
    config = json.loads((run / "config.json").read_text())
    (run / "config.json").write_text(json.dumps({**config, "rules": "seed", "holdout": 0, "lr": 0.003}))
    cfg = parse_train_flags(["--final-fit-of", str(run), "--iterations", "120"])
    assert cfg.final_fit and cfg.lr == 0.003 and cfg.run_dir == str(tmp_path / "holdout-run-final")
    assert cfg.iterations == 120  # a flag still overrides
    assert parse_train_flags(["--final-fit-of", str(run)]).iterations == 150  # best.pt's iteration (mIoU peak)


def test_the_ema_warms_up_and_its_decay_is_checked():
    from faceparse_lib.training.loop import build_ema

    model = torch.nn.Linear(2, 2)
    ema = build_ema(model, TrainConfig.preset("challenge"))
    assert ema.get_decay(2) < 0.5 and ema.get_decay(100) < 0.99 and ema.get_decay(10**8) == pytest.approx(0.999)
    assert build_ema(model, TrainConfig.preset("cpu")) is None
    for bad in (0.0, 1.0, 1.5, -0.1):
        with pytest.raises(ValueError, match="ema_decay must lie strictly between 0 and 1"):
            TrainConfig.preset("cpu", ema_decay=bad)
