"""Named recipes on one budget: configs that differ only where the recipe says, and the comparison's table."""

from __future__ import annotations

import dataclasses

import pytest

from faceparse_lib.bench.recipes import compare_recipes, recipe_table
from faceparse_lib.data.synthetic import make_synthetic_dataset
from faceparse_lib.training.config import TrainConfig
from faceparse_lib.training.recipes import BASELINE, RECIPES, Budget, recipe_config


def test_every_recipe_trains_on_the_same_budget_and_holdout_and_differs_only_where_it_says():
    budget = Budget(iterations=400, input_size=96, crop_size=80, batch_size=4, holdout=10, holdout_seed=3)
    base = recipe_config(BASELINE, budget, "data", "runs/x")
    assert (base.iterations, base.input_size, base.crop_size, base.batch_size) == (400, 96, 80, 4)
    assert (base.holdout, base.holdout_seed, base.eval_interval) == (10, 3, 200)
    assert base.warmup_iterations == 10  # the preset's 2.5 % of its schedule
    assert base.loss == TrainConfig.preset("challenge").loss
    for name, fields in RECIPES.items():
        cfg = recipe_config(name, budget, "data", "runs/x", seed=1)
        changed = {f.name for f in dataclasses.fields(cfg) if getattr(cfg, f.name) != getattr(base, f.name)}
        assert changed <= set(fields) | {"seed"} and "seed" in changed, name
        assert name == BASELINE or changed - {"seed"}, f"{name} trains the baseline under another name"
        assert {key: getattr(cfg, key) for key in fields} == fields, name


def test_an_unknown_recipe_is_refused_with_the_names():
    with pytest.raises(ValueError, match="unknown recipe 'fast'.*challenge"):
        recipe_config("fast", Budget(), "data", "runs/x")


def test_the_comparison_trains_each_run_once_and_ranks_them(tmp_path, monkeypatch):
    root = make_synthetic_dataset(tmp_path / "synth", 16, 2, size=48, seed=2)
    budget = Budget(iterations=4, input_size=48, crop_size=40, batch_size=2, holdout=4)
    said: list[str] = []
    runs = compare_recipes(root, [BASELINE, "no-ema"], budget, [0], tmp_path / "work", say=said.append,
                           model="unet_lcnet050", eval_batch_size=4)
    assert [r.recipe for r in runs] == [BASELINE, "no-ema"]
    assert all(0 <= r.fscore <= 1 and r.minutes > 0 for r in runs)
    table = recipe_table(runs)
    assert table.splitlines()[0].startswith("| recipe |") and len(table.splitlines()) == 4
    baseline_row = next(line for line in table.splitlines() if line.startswith(f"| {BASELINE} |"))
    assert baseline_row.rstrip(" |").endswith("1.000")

    import faceparse_lib.training.loop as loop

    def trained_again(cfg):
        raise LookupError(f"trained again: {cfg.run_dir}")

    monkeypatch.setattr(loop, "train", trained_again)
    again = compare_recipes(root, [BASELINE], budget, [0], tmp_path / "work", say=said.append, model="unet_lcnet050")
    assert again[0].fscore == runs[0].fscore
    longer = dataclasses.replace(budget, iterations=6)  # another budget is another run, never this one read back
    with pytest.raises(LookupError, match="trained again"):
        compare_recipes(root, [BASELINE], longer, [0], tmp_path / "work", say=said.append, model="unet_lcnet050")
    with pytest.raises(ValueError, match="trained on other data"):
        compare_recipes(tmp_path / "other", [BASELINE], budget, [0], tmp_path / "work", model="unet_lcnet050")
    # a recipe redefined since (here: another learning rate) is never read back as if it were the stored run
    with pytest.raises(ValueError, match=r"recipe has changed since it trained \(lr: 0\.005 then, 0\.001 now\)"):
        compare_recipes(root, [BASELINE], budget, [0], tmp_path / "work", model="unet_lcnet050", lr=1e-3)


def test_a_run_stopped_before_its_budget_is_an_error_not_a_score(tmp_path, monkeypatch):
    import faceparse_lib.training.loop as loop

    root = make_synthetic_dataset(tmp_path / "synth", 16, 2, size=48, seed=2)
    budget = Budget(iterations=4, input_size=48, crop_size=40, batch_size=2, holdout=4)
    monkeypatch.setattr(loop, "train", lambda cfg: None)  # as if SIGTERM had stopped it at once
    with pytest.raises(RuntimeError, match="stopped before iteration 4; run the same command again"):
        compare_recipes(root, [BASELINE], budget, [0], tmp_path / "work", model="unet_lcnet050")
