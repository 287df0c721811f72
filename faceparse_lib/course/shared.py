"""What the notebooks share: settings from environment variables, where the data and runs are, what to make first.

A notebook calls `workspace()` once in its config cell and gets a `Workspace`: the data to use (the real
CelebAMask-HQ when found, else a cached synthetic set), the training preset, the run dir, and the
`ensure_*` helpers that make what an earlier notebook would have made, so any notebook runs on its own.

Environment variables (all optional):
    FACEPARSE_DATA        a course-layout folder to use (it must hold train/ and val/)
    FACEPARSE_RUN_DIR     the training run dir that notebooks 3-5 share
    FACEPARSE_REPORT_DIR  where notebook 5 writes the report
    FACEPARSE_RULES       "challenge" (today's course: the F-score, the parameter cap, from scratch) or "seed" (2022)
    FACEPARSE_PRESET      "challenge", "report" or "cpu" (default: the rules' GPU preset with a GPU and real data, else cpu)
    FACEPARSE_ITERATIONS  training iterations (overrides the preset)
    FACEPARSE_WEIGHTS     class-weight method for training (default log2, the report's rule; "none" for plain CE)
    FACEPARSE_QUICK=1     CI's short settings: a tiny synthetic set and a few dozen iterations
    FACEPARSE_HOME        the folder for data caches, runs and the report (default: the kit's checkout)
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import sys
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Mapping

from faceparse_lib.data.rules import METRIC_TITLES, rule_set
from faceparse_lib.training.config import TrainConfig

log = logging.getLogger(__name__)

COLAB_CONTENT = Path("/content")
COLAB_DRIVE = Path("/content/drive/MyDrive")
# Where a student's course-layout data may sit on Colab: the folder `get_celebamask`/`prepare` writes (data/README.md),
# then course copies on Drive. Reading thousands of small files from Drive is slow, but it works.
COLAB_DATA_PLACES = (
    COLAB_CONTENT / "data" / "celebamask",
    COLAB_DRIVE / "celebamask",
    COLAB_DRIVE / "CelebAMask-HQ-course",
    COLAB_DRIVE / "datasets" / "celebamask",
)
COLAB_RUNS = COLAB_DRIVE / "faceparse-runs"
# On Colab a run stops cleanly (with a checkpoint) before the ~12 h session limit; the next Run all resumes it.
COLAB_TIME_LIMIT_MINUTES = 11 * 60

# Synthetic stand-ins: (train, val, test, size). Quick mode is CI's: seconds, not minutes.
SYNTHETIC_FULL = (200, 50, 20, 512)
SYNTHETIC_QUICK = (24, 8, 4, 128)
# Quick training: the cpu preset, far shorter.
QUICK_OVERRIDES: dict[str, Any] = dict(iterations=24, eval_interval=12, checkpoint_interval=12, log_interval=4,
                                       warmup_iterations=4, batch_size=4, eval_batch_size=8)
REPORT_PRESET_ON_COLAB: dict[str, Any] = dict(time_limit_minutes=COLAB_TIME_LIMIT_MINUTES)
SAMPLE_FILES_CHECKED = 3
TRUE_WORDS = ("1", "true", "yes", "on")


def on_colab() -> bool:
    """True inside a Google Colab runtime."""
    return "google.colab" in sys.modules or any(name.startswith("COLAB_") for name in os.environ)


def has_gpu() -> bool:
    """True when torch sees a CUDA device."""
    import torch

    return torch.cuda.is_available()


def env_flag(name: str, environ: Mapping[str, str] | None = None) -> bool:
    """An environment variable read as a yes/no switch (1, true, yes, on)."""
    return (environ if environ is not None else os.environ).get(name, "").strip().lower() in TRUE_WORDS


def kit_home(environ: Mapping[str, str] | None = None) -> Path:
    """The folder for data caches, runs and the report: FACEPARSE_HOME, /content on Colab, the checkout, or cwd."""
    environ = environ if environ is not None else os.environ
    if environ.get("FACEPARSE_HOME"):
        return Path(environ["FACEPARSE_HOME"]).expanduser()
    if on_colab():
        return COLAB_CONTENT
    checkout = Path(__file__).resolve().parents[2]
    return checkout if (checkout / "pyproject.toml").is_file() else Path.cwd()


def looks_like_dataset(root: str | Path, sample: int = SAMPLE_FILES_CHECKED) -> bool:
    """True when `root` holds train/ (and val/, with or without masks) in the course layout and a few pairs read.

    A quick stand-in for `check_dataset` (which reads every file): the layout, the pairing of every name, and
    the first `sample` pairs of each split.
    """
    from faceparse_lib.data.layout import DatasetError, list_pairs, read_pair

    try:
        for split in ("train", "val"):
            if split == "val" and not (Path(root) / "val" / "masks").is_dir():  # the challenge hands val out so
                if not any((Path(root) / "val" / "images").glob("*")):
                    return False
                continue
            pairs = list_pairs(root, split)
            if not pairs:
                return False
            for image, mask in pairs[:sample]:
                read_pair(image, mask)
    except (DatasetError, OSError) as err:
        log.info("%s: not usable as data (%s)", root, err)
        return False
    return True


def data_places(environ: Mapping[str, str] | None = None) -> list[Path]:
    """Where to look for real data, in order: the Colab places (on Colab), then the checkout's data/celebamask."""
    places = list(COLAB_DATA_PLACES) if on_colab() else []
    return places + [kit_home(environ) / "data" / "celebamask"]


def find_data(environ: Mapping[str, str] | None = None) -> Path | None:
    """The first usable course-layout folder among `data_places`, or None."""
    for place in data_places(environ):
        if place.is_dir() and looks_like_dataset(place):
            return place
    return None


def synthetic_data(home: Path, quick: bool) -> Path:
    """A synthetic face set cached under home/data (made once; later notebooks reuse it)."""
    from faceparse_lib.data.synthetic import make_synthetic_dataset

    n_train, n_val, n_test, size = SYNTHETIC_QUICK if quick else SYNTHETIC_FULL
    root = home / "data" / f"synthetic-{n_train}-{n_val}-{n_test}-{size}px"
    done = root / ".complete"
    if not done.is_file():  # a set interrupted half-way is written again from the start
        log.info("painting %d+%d+%d synthetic faces at %d px into %s", n_train, n_val, n_test, size, root)
        make_synthetic_dataset(root, n_train, n_val, size=size, n_test=n_test)
        done.write_text("written by faceparse_lib.course.shared.synthetic_data\n")
    return root


@dataclass
class Workspace:
    """The settings every notebook shares: data, preset, run dir, report dir, and why they were chosen."""

    data_root: Path
    synthetic: bool
    preset: str
    run_dir: Path
    report_dir: Path
    quick: bool = False
    gpu: bool = False
    colab: bool = False
    weights_method: str | None = "log2"
    rules: str = "challenge"
    overrides: dict[str, Any] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    @property
    def metric(self) -> str:
        """The score the workspace's rules rank by: "fscore" (the challenge) or "miou" (the seed edition)."""
        return rule_set(self.rules).metric

    @property
    def weights_path(self) -> Path:
        """The class-weight record training reads (run_dir/class_weights.json)."""
        from faceparse_lib.training.run_files import WEIGHTS_FILE

        return self.run_dir / WEIGHTS_FILE

    def train_config(self, **overrides: Any) -> TrainConfig:
        """The preset with this workspace's data, run dir and overrides, then `overrides`."""
        return TrainConfig.preset(self.preset, **{"data_root": str(self.data_root), "run_dir": str(self.run_dir),
                                                  "class_weights": self.weights_method, "rules": self.rules,
                                                  **self.overrides, **overrides})

    def summary(self) -> str:
        """One line per fact: data, preset, run dir; then the fallback notes."""
        kind = "synthetic faces" if self.synthetic else "real data"
        lines = [f"rules: {rule_set(self.rules).title} (ranked by {METRIC_TITLES[rule_set(self.rules).metric]})",
                 f"data: {self.data_root} ({kind})",
                 f"training: preset {self.preset!r}{' (quick settings)' if self.quick else ''}, run dir {self.run_dir}"]
        return "\n".join(lines + self.notes)


def workspace(environ: Mapping[str, str] | None = None) -> Workspace:
    """The notebooks' settings from environment variables, falling back to synthetic data and the cpu preset."""
    environ = environ if environ is not None else os.environ
    quick = env_flag("FACEPARSE_QUICK", environ)
    if quick:  # in CI an exception inside a widget callback must fail the run (faceparse_lib.visual.viewer reads this)
        os.environ.setdefault("FACEPARSE_RAISE_CALLBACK_ERRORS", "1")
    home = kit_home(environ)
    gpu, colab = has_gpu(), on_colab()
    notes: list[str] = []
    if environ.get("FACEPARSE_DATA"):
        data_root = Path(environ["FACEPARSE_DATA"]).expanduser()
        if not looks_like_dataset(data_root):
            from faceparse_lib.data.layout import DatasetError

            raise DatasetError(f"{data_root} (FACEPARSE_DATA): expected the course layout with train/ and val/ "
                               "(images/ and masks/); run `python -m faceparse_lib check` on it for details")
        synthetic = False
    else:
        found = None if quick else find_data(environ)
        synthetic = found is None or not gpu
        if synthetic:
            why = "quick mode" if quick else ("no real data found" if found is None else f"no GPU (real data at {found})")
            notes.append(f"Falling back to synthetic faces and the cpu preset: {why}"
                         + ("; set FACEPARSE_DATA to use real data on the CPU." if found is not None else "."))
            data_root = synthetic_data(home, quick)
        else:
            data_root = found
    rules = rule_set(environ.get("FACEPARSE_RULES") or "challenge")  # an unknown name fails in the config cell
    gpu_preset = "challenge" if rules.name == "challenge" else "report"
    preset = environ.get("FACEPARSE_PRESET") or (gpu_preset if gpu and not synthetic else "cpu")
    overrides: dict[str, Any] = {}
    # Validate on a holdout of train only where val has no masks (the challenge's hand-out); else on val.
    if not (data_root / "val" / "masks").is_dir():
        overrides["holdout"] = TrainConfig.preset("challenge").holdout
    elif preset == "challenge":
        overrides["holdout"] = 0
    if quick:
        overrides.update(QUICK_OVERRIDES)
    if colab:
        overrides.update(REPORT_PRESET_ON_COLAB)
    if environ.get("FACEPARSE_ITERATIONS"):
        overrides["iterations"] = int(environ["FACEPARSE_ITERATIONS"])
    if gpu:  # the cpu preset pins device="cpu"; with a GPU it trains there in a fraction of the time
        overrides["device"] = "cuda"
    method = environ.get("FACEPARSE_WEIGHTS", "log2")
    weights_method = None if method.lower() in ("none", "") else method
    run_name = f"{rules.name}-{preset}-{'synthetic' if synthetic else data_root.name}" + ("-quick" if quick else "")
    runs = COLAB_RUNS if colab and COLAB_DRIVE.is_dir() else home / "runs"
    run_dir = Path(environ.get("FACEPARSE_RUN_DIR") or runs / run_name).expanduser()
    default_report = runs / "report-quick" if quick else (runs / "report" if colab else home / "report")
    report_dir = Path(environ.get("FACEPARSE_REPORT_DIR") or default_report).expanduser()
    ws = Workspace(data_root, synthetic, preset, run_dir, report_dir, quick, gpu, colab, weights_method, rules.name,
                   overrides, notes)
    TrainConfig.preset(preset)  # an unknown FACEPARSE_PRESET fails here, in the config cell
    return ws


# ---------------------------------------------------------------------------------------------------------------
# What an earlier notebook would have made


def weights_record_for(ws: Workspace, method: str | None = None, progress: bool = False) -> dict:
    """Pixel counts of the train masks and the class weights by `method` (default: the workspace's), as a record."""
    from faceparse_lib.data.dataset import FaceParsingDataset
    from faceparse_lib.data.stats import class_weights, count_pixels, weights_record

    method = method or ws.weights_method or "log2"
    counts = count_pixels(FaceParsingDataset(ws.data_root, "train"), progress=progress)
    return weights_record(counts, class_weights(counts, method).tolist(), method, "max")


def save_class_weights(ws: Workspace, record: dict) -> Path:
    """Write `record` as the run dir's class_weights.json, unless a run there already trains with its own weights."""
    path = ws.weights_path
    if (ws.run_dir / "last.pt").is_file() and path.is_file():
        log.info("%s: the run has started; keeping the weights it trains with", path)
        return path
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(json.dumps(record, indent=2) + "\n")
    os.replace(tmp, path)
    return path


def ensure_class_weights(ws: Workspace, progress: bool = False) -> Path | None:
    """The run dir's class-weight file, counted on the train masks if notebook 2 has not written it."""
    if ws.weights_method is None:
        return None
    path = ws.weights_path
    if path.is_file() and json.loads(path.read_text()).get("method") == ws.weights_method:
        return path
    return save_class_weights(ws, weights_record_for(ws, progress=progress))


def discard_stale_run(ws: Workspace, cfg: TrainConfig) -> bool:
    """Delete a quick or synthetic-data run dir whose run used other settings; True if deleted.

    Such runs are demos that retrain in minutes, and one made by an older kit (another preset recipe) could not be
    resumed anyway; a run on real data is never deleted: `train` refuses it with the settings that differ.
    """
    from faceparse_lib.training.run_files import CONFIG_FILE
    from faceparse_lib.training.resume import RESUMABLE_CHANGES

    config = ws.run_dir / CONFIG_FILE
    if not (ws.quick or ws.synthetic) or not config.is_file():
        return False
    saved = json.loads(config.read_text())
    current = json.loads(json.dumps(asdict(cfg)))
    changed = [k for k, v in current.items() if k not in RESUMABLE_CHANGES and saved.get(k) != v]
    if changed:
        log.warning("%s: a demo run with other settings (%s); starting afresh", ws.run_dir, ", ".join(changed))
        shutil.rmtree(ws.run_dir)
    return bool(changed)


def prepare_run_dir(ws: Workspace, cfg: TrainConfig, progress: bool = False) -> None:
    """Ready the run dir for `train(cfg)`: a stale demo run removed, the class weights in place."""
    discard_stale_run(ws, cfg)
    ensure_class_weights(ws, progress=progress)


def ensure_trained_run(ws: Workspace, progress: bool = True) -> Path:
    """The run dir with a best.pt: as notebook 3 left it, else trained now with the workspace's settings."""
    from faceparse_lib.training.loop import train

    cfg = ws.train_config(progress=progress)
    discard_stale_run(ws, cfg)
    if (ws.run_dir / "best.pt").is_file():
        return ws.run_dir
    log.info("%s has no trained model yet; training one now", ws.run_dir)
    prepare_run_dir(ws, cfg, progress=progress)
    return train(cfg)


def hand_in_images(ws: Workspace) -> tuple[Path, str | None]:
    """The images to predict for hand-in: root/test/images, else the val images as stand-ins (with a note why)."""
    test = ws.data_root / "test" / "images"
    if test.is_dir() and any(test.iterdir()):
        return test, None
    return ws.data_root / "val" / "images", f"{test} not found: predicting the val images as stand-ins for the test set."
