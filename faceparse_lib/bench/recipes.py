"""Train named recipes for one budget on the same pairs and holdout, and rank them by the holdout's F-score.

`python -m faceparse_lib recipes DATA_ROOT` runs it; a finished run in the work folder is read back, not trained
again, and an interrupted one resumes, so a long comparison can be stopped and continued.
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Sequence

from faceparse_lib.classes import CLASSES
from faceparse_lib.training.config import TrainConfig
from faceparse_lib.training.recipes import BASELINE, Budget, recipe_config

# The classes whose F drags the per-image score on real faces (the measurement): shown per recipe.
RARE_CLASSES = ("hat", "eye_g", "ear_r", "neck_l")


@dataclass
class RecipeRun:
    """One trained run of a recipe: its last validation's scores and its training minutes."""

    recipe: str
    seed: int
    fscore: float
    miou: float
    rare: dict[str, float]
    minutes: float
    run_dir: Path


def finished(run_dir: Path, iterations: int) -> bool:
    """Whether the run dir's log has a validation at exactly the budget's last iteration."""
    from faceparse_lib.training.run_files import read_log

    try:
        log = read_log(run_dir)
    except FileNotFoundError:
        return False
    return bool(((log.kind == "val") & (log.iteration == iterations)).any())


def run_name(recipe: str, budget: Budget, seed: int) -> str:
    """A run's folder: the recipe, every field of the budget and the seed, so another budget never reads it back."""
    return (f"{recipe}-{budget.input_size}px-crop{budget.crop_size}-{budget.iterations}it-batch{budget.batch_size}"
            f"-holdout{budget.holdout}s{budget.holdout_seed}-seed{seed}")


# Fields that say where and how a run is shown or resumed, not what it trains.
_NOT_THE_RECIPE = ("data_root", "run_dir", "progress", "workers", "eval_batch_size", "time_limit_minutes", "environment")


def stale_reason(run_dir: Path, cfg: TrainConfig) -> str | None:
    """Why a run dir's stored config is not `cfg`'s run (other data, or a recipe since redefined), or None."""
    import json
    from dataclasses import asdict

    from faceparse_lib.training.run_files import CONFIG_FILE

    config = run_dir / CONFIG_FILE
    if not config.is_file():
        return None
    stored = json.loads(config.read_text())
    if Path(stored["data_root"]).resolve() != Path(cfg.data_root).resolve():
        return f"it trained on other data ({stored['data_root']})"
    wanted = json.loads(json.dumps(asdict(cfg)))  # tuples as the stored JSON holds them
    changed = sorted(key for key in wanted if key not in _NOT_THE_RECIPE and stored.get(key) != wanted[key])
    if changed:
        return "the recipe has changed since it trained (" + ", ".join(
            f"{key}: {stored.get(key)!r} then, {wanted[key]!r} now" for key in changed) + ")"
    return None


def read_run(recipe: str, seed: int, run_dir: Path) -> RecipeRun:
    """A run's last validation row and the seconds it had trained by then."""
    from faceparse_lib.training.run_files import read_log

    log = read_log(run_dir)
    last = log[log.kind == "val"].iloc[-1]  # the budget's last iteration: `finished` checked it
    trained = log[(log.kind == "train") & (log.iteration <= last.iteration)]
    seconds = float(trained.seconds.max()) if len(trained) else float("nan")
    rare = {name: float(last.get(f"f_{name}", float("nan"))) for name in RARE_CLASSES}
    return RecipeRun(recipe, seed, float(last.fscore), float(last.miou), rare, seconds / 60, run_dir)


def compare_recipes(data_root: str | Path, recipes: Sequence[str], budget: Budget, seeds: Sequence[int],
                    work: str | Path, say: Callable[[str], None] = print, **overrides) -> list[RecipeRun]:
    """Train each recipe with each seed for `budget` (or read back a finished run) and return every run."""
    from faceparse_lib.training.loop import train

    work = Path(work)
    runs = []
    for recipe in recipes:
        for seed in seeds:
            run_dir = work / run_name(recipe, budget, seed)
            cfg = recipe_config(recipe, budget, str(data_root), str(run_dir), seed, **overrides)
            reason = stale_reason(run_dir, cfg)
            if reason:
                raise ValueError(f"{run_dir} is not this run of {recipe!r}: {reason}; choose another --work folder")
            if not finished(run_dir, budget.iterations):
                say(f"training {recipe} (seed {seed}) in {run_dir}")
                train(cfg)
                if not finished(run_dir, budget.iterations):  # stopped (Ctrl-C, SIGTERM, a time limit)
                    raise RuntimeError(f"{run_dir} stopped before iteration {budget.iterations:,}; run the same "
                                       "command again to resume it")
            runs.append(read_run(recipe, seed, run_dir))
            say(f"  {recipe} seed {seed}: F-score {runs[-1].fscore:.4f}, mIoU {runs[-1].miou:.4f}, "
                f"{runs[-1].minutes:.1f} min")
    return runs


def recipe_table(runs: Sequence[RecipeRun]) -> str:
    """A markdown table: per recipe the median holdout F-score (min-max over seeds), mIoU, rare-class F, minutes and
    the F-score's ratio to the shipped `challenge` recipe's, best first."""
    by_recipe: dict[str, list[RecipeRun]] = {}
    for run in runs:
        by_recipe.setdefault(run.recipe, []).append(run)

    def median(values: list[float]) -> float:
        """The median of the defined values (a rare class absent from the holdout has none): NaN when none is."""
        defined = [v for v in values if v == v]
        return statistics.median(defined) if defined else float("nan")

    scores = {name: median([r.fscore for r in found]) for name, found in by_recipe.items()}
    baseline = scores.get(BASELINE)
    header = ["recipe", "seeds", "F-score (median, min-max)", "mIoU", *(f"F {name}" for name in RARE_CLASSES),
              "minutes (training + validation)", f"F vs {BASELINE}"]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for name in sorted(by_recipe, key=lambda n: -scores[n]):
        found = by_recipe[name]
        f = [r.fscore for r in found]
        spread = f" ({min(f):.3f}-{max(f):.3f})" if len(f) > 1 else ""
        rare = [f"{median([r.rare[c] for r in found]):.2f}" for c in RARE_CLASSES]
        ratio = f"{scores[name] / baseline:.3f}" if baseline else "-"
        lines.append("| " + " | ".join([name, str(len(found)), f"{scores[name]:.4f}{spread}",
                                         f"{median([r.miou for r in found]):.4f}", *rare,
                                         f"{median([r.minutes for r in found]):.1f}", ratio]) + " |")
    return "\n".join(lines)


assert set(RARE_CLASSES) <= set(CLASSES)
