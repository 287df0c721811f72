"""What the notebooks share: their config cell's settings, where the data and the runs are, and what stops them.

Every notebook's config cell names the data, the run dir, the rules and the preset, and calls `workspace(...)`: the
hand-out's zips are found (Drive on Colab, the checkout's data/ elsewhere) and unpacked to local disk once per
runtime, or a course-layout folder is used where it is; the run dir is on Drive on Colab, so notebooks 4 and 5 open
what notebook 3 trained. Nothing falls back silently: missing data (or, for training, a missing GPU) stops the
notebook with one line and the remedy (`NotebookStop`). The synthetic faces are the demo a student asks for
(DEMO = True), or what runs off Colab when nothing at all is configured; then every figure and table says so.

Environment variables override the config cell (CI sets them; all optional):
    FACEPARSE_DATA        the hand-out: a folder holding its zips, a zip, or a course-layout folder
    FACEPARSE_RUN_DIR     the training run dir that notebooks 3-5 share
    FACEPARSE_RULES       "challenge" (today's course: the F-score, the parameter cap, from scratch) or "seed" (2022)
    FACEPARSE_PRESET      "challenge", "first-run", "report", "laptop" or "cpu" (default: the rules' GPU preset on real data, cpu
                          for the demo)
    FACEPARSE_DEMO=1      the synthetic faces, asked for
    FACEPARSE_RELABEL_SWAPPED=1  train on a copy of the data with left/right-swapped masks relabelled
    FACEPARSE_REPORT_DIR  where notebook 5 writes the report
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
from typing import Any, Mapping, Sequence

from faceparse_lib.data.rules import METRIC_TITLES, rule_set
from faceparse_lib.data.synthetic import DEMO_BANNER, is_synthetic_cache
from faceparse_lib.training.config import TrainConfig

log = logging.getLogger(__name__)

COLAB_CONTENT = Path("/content")
COLAB_DRIVE = Path("/content/drive/MyDrive")
COLAB_RUNS = COLAB_DRIVE / "faceparse-runs"
HANDOUT_DIR = "handout"  # where the hand-out's zips are unpacked, under home/data
LATEST_RUN = "latest_run.json"  # beside the runs: the run notebook 3 last trained, which notebooks 4 and 5 open
GPU_PRESETS = ("challenge", "report", "first-run")
# On Colab a run stops cleanly (with a checkpoint) before the ~12 h session limit; the next Run all resumes it.
COLAB_TIME_LIMIT_MINUTES = 11 * 60

# Synthetic stand-ins: (train, val, test, size). Quick mode is CI's: seconds, not minutes.
SYNTHETIC_FULL = (200, 50, 20, 512)
SYNTHETIC_QUICK = (24, 8, 4, 128)
# Quick training: the cpu preset, far shorter; a holdout small enough for a few dozen training pairs.
QUICK_OVERRIDES: dict[str, Any] = dict(iterations=24, eval_interval=12, checkpoint_interval=12, log_interval=4,
                                       warmup_iterations=4, batch_size=4, eval_batch_size=8)
QUICK_HOLDOUT = 6
REPORT_PRESET_ON_COLAB: dict[str, Any] = dict(time_limit_minutes=COLAB_TIME_LIMIT_MINUTES)
TRUE_WORDS = ("1", "true", "yes", "on")


class NotebookStop(RuntimeError):
    """A notebook cannot go on (no data, no GPU to train, no trained run): one line that says why and what to do."""

    def _render_traceback_(self) -> list[str]:  # IPython shows this instead of a traceback
        return [f"\033[1;31mStopped:\033[0m {self}"]


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


def data_places(environ: Mapping[str, str] | None = None) -> list[Path]:
    """Where the hand-out is looked for when DATA is empty: Drive (Colab), then home's data/ folder.

    Zips anywhere among them come first; then the course layout already unpacked (data/handout), or prepared by an
    earlier kit (data/celebamask).
    """
    home = kit_home(environ)
    return ([COLAB_DRIVE] if on_colab() else []) + [home / "data", home / "data" / HANDOUT_DIR,
                                                   home / "data" / "celebamask"]


def find_handout(places: list[Path], home: Path, progress: bool = False):
    """The hand-out among `places`, unpacked under home/data/handout (a `Handout`), or None when none is there."""
    from faceparse_lib.data.handout import HandoutNotFound, get_handout

    try:
        return get_handout(places, home / "data" / HANDOUT_DIR, progress=progress)
    except HandoutNotFound:
        return None


def synthetic_data(home: Path, quick: bool) -> Path:
    """A synthetic face set cached under home/data (made once; later notebooks reuse it)."""
    from faceparse_lib.data.synthetic import SYNTHETIC_MARKER, SYNTHETIC_MARKER_TEXT, make_synthetic_dataset

    n_train, n_val, n_test, size = SYNTHETIC_QUICK if quick else SYNTHETIC_FULL
    root = home / "data" / f"synthetic-{n_train}-{n_val}-{n_test}-{size}px"
    done = root / SYNTHETIC_MARKER
    if not done.is_file():  # a set interrupted half-way is written again from the start
        log.info("painting %d+%d+%d synthetic faces at %d px into %s", n_train, n_val, n_test, size, root)
        make_synthetic_dataset(root, n_train, n_val, size=size, n_test=n_test)
        done.write_text(SYNTHETIC_MARKER_TEXT)
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
    run_dir_named: bool = False  # the student (or CI) named the run dir: the kit never deletes it
    data_line: str = ""  # what the data search found, in one line

    @property
    def metric(self) -> str:
        """The score the workspace's rules rank by: "fscore" (the challenge) or "miou" (the seed edition)."""
        return rule_set(self.rules).metric

    @property
    def weights_path(self) -> Path:
        """The class-weight record training reads (run_dir/class_weights.json)."""
        from faceparse_lib.training.run_files import WEIGHTS_FILE

        return self.run_dir / WEIGHTS_FILE

    @property
    def runs_home(self) -> Path:
        """The folder of the runs and of the pointer to the latest one (the run dir's parent unless named)."""
        return self.run_dir.parent

    def train_config(self, **overrides: Any) -> TrainConfig:
        """The preset with this workspace's data, run dir and overrides, then `overrides`."""
        return TrainConfig.preset(self.preset, **{"data_root": str(self.data_root), "run_dir": str(self.run_dir),
                                                  "class_weights": self.weights_method, "rules": self.rules,
                                                  **self.overrides, **overrides})

    def require_training_device(self) -> None:
        """Stop (NotebookStop) when the preset needs a GPU this runtime lacks, before anything is trained."""
        if self.preset in GPU_PRESETS and not self.gpu:
            how_long = "minutes" if self.preset == "first-run" else "hours"
            raise NotebookStop(
                f"preset {self.preset!r} trains for {how_long} on a GPU, and this runtime has none. On Colab: Runtime > "
                "Change runtime type > T4 GPU, then Run all. To train on this CPU anyway, set PRESET = 'laptop' "
                "(the challenge model at 256 px: about 20 minutes on 2 cores) or PRESET = 'cpu' (a small model at "
                "128 px: 3 minutes, a far lower score).")

    def summary(self) -> str:
        """One line per fact: rules, data, preset, run dir; then the notes (a banner first for the demo)."""
        kind = "synthetic faces" if self.synthetic else "the course's data"
        lines = [f"rules: {rule_set(self.rules).title} (ranked by {METRIC_TITLES[rule_set(self.rules).metric]})",
                 f"data: {self.data_root} ({kind})" + (f" - {self.data_line}" if self.data_line else ""),
                 f"training: preset {self.preset!r}{' (quick settings)' if self.quick else ''}, run dir {self.run_dir}"]
        banner = [f"*** {DEMO_BANNER}: no figure or score below is about real faces ***"] if self.synthetic else []
        return "\n".join(banner + lines + self.notes)


def _setting(environ: Mapping[str, str], name: str, value: Any) -> Any:
    """An environment variable when set (CI's way), else the config cell's value."""
    return environ[name] if environ.get(name) else value


def workspace(
    data: str | Path | None = None,
    run_dir: str | Path | None = None,
    rules: str = "challenge",
    preset: str | None = None,
    demo: bool = False,
    relabel_swapped: bool = False,
    *,
    environ: Mapping[str, str] | None = None,
    progress: bool = False,
) -> Workspace:
    """The notebooks' settings from the config cell (environment variables override it); stops when data is missing.

    `data`: a folder holding the hand-out's zips, one zip, or a course-layout folder; empty: search `data_places`.
    `run_dir`: where training writes (default: faceparse-runs/RULES-PRESET-DATA on Drive on Colab, runs/ elsewhere).
    `demo`: the kit's synthetic faces instead of the course's data. `relabel_swapped`: train on a copy of the data
    whose left/right-swapped masks (`check_dataset`) are relabelled.
    """
    from faceparse_lib.data.layout import DatasetError

    environ = environ if environ is not None else os.environ
    quick = env_flag("FACEPARSE_QUICK", environ)
    if quick:  # in CI an exception inside a widget callback must fail the run (faceparse_lib.visual.viewer reads this)
        os.environ.setdefault("FACEPARSE_RAISE_CALLBACK_ERRORS", "1")
    home = kit_home(environ)
    gpu, colab = has_gpu(), on_colab()
    data = _setting(environ, "FACEPARSE_DATA", str(data) if data else "")
    notes: list[str] = []
    if demo and data and not env_flag("FACEPARSE_DEMO", environ):
        notes.append(f"DEMO = True is ignored: DATA names the course's data ({data})")
    demo = env_flag("FACEPARSE_DEMO", environ) or (bool(demo) and not data)
    relabel_swapped = env_flag("FACEPARSE_RELABEL_SWAPPED", environ) or relabel_swapped
    rules = rule_set(_setting(environ, "FACEPARSE_RULES", rules or "challenge"))  # an unknown name fails here
    handout = None
    if demo:
        data_root, synthetic = synthetic_data(home, quick), True
    else:
        try:
            if data:
                from faceparse_lib.data.handout import get_handout

                if not Path(data).expanduser().exists():
                    raise DatasetError(f"{data}: no such file or folder (is Drive mounted, and the path spelt right?)")
                handout = get_handout([Path(data).expanduser()], home / "data" / HANDOUT_DIR, progress=progress)
            elif not quick:
                handout = find_handout(data_places(environ), home, progress=progress)
        except DatasetError as err:
            raise NotebookStop(f"DATA = {data!r}: {err}" if data else str(err)) from None
        if handout is None and colab:
            raise NotebookStop(
                f"no hand-out found on your Drive ({COLAB_DRIVE}, three folders down): upload train.zip (and val.zip, "
                "test.zip) to Drive, or set DATA to their folder; or set DEMO = True to try the kit on synthetic faces.")
        if handout is None:  # off Colab with nothing configured: the demo, said on every result
            data_root, synthetic = synthetic_data(home, quick), True
            notes.append("No data configured and none in " + ", ".join(map(str, data_places(environ)))
                         + ": running the demo on synthetic faces. Set DATA to the hand-out's folder for real data.")
        else:
            data_root, synthetic = handout.root, False
    data_line = handout.summary().split(": ", 1)[1] if handout is not None else ""
    if relabel_swapped and not synthetic:
        data_root = relabelled_copy(data_root, rules.name, progress)
        notes.append(f"training on {data_root}: the hand-out with its left/right-swapped masks relabelled")
    default_preset = "cpu" if synthetic or quick else ("challenge" if rules.name == "challenge" else "report")
    preset = _setting(environ, "FACEPARSE_PRESET", preset or default_preset)
    TrainConfig.preset(preset)  # an unknown preset fails here, in the config cell
    overrides: dict[str, Any] = {}
    # Validate on a holdout of train only where val has no masks (the challenge's hand-out); else on val.
    if not (data_root / "val" / "masks").is_dir():
        overrides["holdout"] = QUICK_HOLDOUT if quick else TrainConfig.preset("challenge").holdout
    elif TrainConfig.preset(preset).holdout:  # the challenge and laptop presets hold out; val has masks here
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
    run_name = f"{rules.name}-{preset}-{'demo' if synthetic else data_root.name}" + ("-quick" if quick else "")
    runs = COLAB_RUNS if colab and COLAB_DRIVE.is_dir() else home / "runs"
    named = _setting(environ, "FACEPARSE_RUN_DIR", str(run_dir) if run_dir else "")
    chosen_run_dir = Path(named or runs / run_name).expanduser()
    report_name = "report" + ("-demo" if synthetic else "") + ("-quick" if quick else "")
    default_report = runs / report_name if quick or colab else home / report_name
    report_dir = Path(environ.get("FACEPARSE_REPORT_DIR") or default_report).expanduser()
    ws = Workspace(data_root, synthetic, preset, chosen_run_dir, report_dir, quick, gpu, colab, weights_method,
                   rules.name, overrides, notes, run_dir_named=bool(named), data_line=data_line)
    from faceparse_lib.course.banner import hide_banner, show_banner_on_results

    show_banner_on_results(DEMO_BANNER) if synthetic else hide_banner()
    return ws


def relabelled_copy(root: Path, rules: str, progress: bool = False) -> Path:
    """`root` beside itself with the masks `check_dataset` finds left/right-swapped relabelled (made once)."""
    from faceparse_lib.data.check import check_dataset
    from faceparse_lib.data.relabel import MARKER, relabel_swapped

    dest = root.with_name(root.name + "-relabelled")
    unpacked = root / ".train.unpacked"  # the stamp of the train.zip it came from: a re-issued zip is a new source
    stamp = unpacked.read_text() if unpacked.is_file() else None
    if (dest / MARKER).is_file():
        made = json.loads((dest / MARKER).read_text())
        if (made.get("source"), made.get("source_stamp")) == (str(root.resolve()), stamp):
            return dest
    report = check_dataset(root, ("train",), progress=progress, rules=rules)
    return relabel_swapped(root, report.swapped, dest, source_stamp=stamp)


# ---------------------------------------------------------------------------------------------------------------
# What an earlier notebook would have made


def training_masks(ws: Workspace) -> list[Path]:
    """The masks the workspace's run trains on: train less its holdout (drawn now and saved in the run dir, or read)."""
    from faceparse_lib.training.run_files import training_split

    return [mask for _, mask in training_split(ws.train_config(), write=True)[0]]


def weights_record_for(ws: Workspace, method: str | None = None, progress: bool = False) -> dict:
    """Pixel counts of the masks trained on (not the holdout) and the class weights by `method`, as a record."""
    from faceparse_lib.data.stats import class_weights, count_pixels, weights_record

    method = method or ws.weights_method or "log2"
    masks = training_masks(ws)
    counts = count_pixels(masks, progress=progress)
    return weights_record(counts, class_weights(counts, method).tolist(), method, "max", masks=masks)


def save_class_weights(ws: Workspace, record: dict) -> Path:
    """Write `record` as the run dir's class_weights.json, unless a run there already trains with its own weights."""
    from faceparse_lib.training.run_files import write_json

    path = ws.weights_path
    if (ws.run_dir / "last.pt").is_file() and path.is_file():
        log.info("%s: the run has started; keeping the weights it trains with", path)
        return path
    path.parent.mkdir(parents=True, exist_ok=True)
    write_json(path, record)
    return path


def ensure_class_weights(ws: Workspace, progress: bool = False) -> Path | None:
    """The run dir's class-weight file, counted on the masks trained on if notebook 2 has not written it."""
    from faceparse_lib.data.stats import masks_fingerprint

    if ws.weights_method is None:
        return None
    path = ws.weights_path
    if path.is_file():
        record = json.loads(path.read_text())
        if record.get("method") == ws.weights_method and record.get("counted_on") == masks_fingerprint(training_masks(ws)):
            return path
    return save_class_weights(ws, weights_record_for(ws, progress=progress))


def discard_stale_run(ws: Workspace, cfg: TrainConfig) -> bool:
    """Delete the kit's own demo run when its settings changed (an older kit's recipe); True if deleted.

    Only the run dir the kit chose itself (not named in RUN_DIR) is ever deleted, and only when its run trained on
    the kit's synthetic faces or in CI's quick mode: such a run retrains in minutes. A run on the course's data, or
    in a run dir the student named, is never touched: `train` refuses other settings and says which differ.
    """
    from faceparse_lib.training.resume import RESUMABLE_CHANGES
    from faceparse_lib.training.run_files import CONFIG_FILE

    config = ws.run_dir / CONFIG_FILE
    if ws.run_dir_named or Path(cfg.run_dir) != ws.run_dir or not config.is_file():
        return False
    saved = json.loads(config.read_text())
    if not (ws.quick or is_synthetic_cache(saved.get("data_root", ""))):
        return False
    current = json.loads(json.dumps(asdict(cfg)))
    changed = [k for k, v in current.items() if k not in RESUMABLE_CHANGES and saved.get(k) != v]
    if changed:
        log.warning("%s: a demo run with other settings (%s); starting afresh", ws.run_dir, ", ".join(changed))
        shutil.rmtree(ws.run_dir)
    return bool(changed)


def remember_run(ws: Workspace, cfg: TrainConfig) -> None:
    """Record the run notebook 3 trains (a final fit beside its holdout run), for notebooks 4 and 5 to open."""
    from faceparse_lib.training.run_files import write_json

    pointer = ws.runs_home / LATEST_RUN
    latest = json.loads(pointer.read_text()) if pointer.is_file() else {}
    if cfg.final_fit:
        latest["final_fit"] = cfg.run_dir
    else:
        latest = {"run_dir": cfg.run_dir, "rules": ws.rules, "synthetic": ws.synthetic}
    ws.runs_home.mkdir(parents=True, exist_ok=True)
    write_json(pointer, latest)


def prepare_run_dir(ws: Workspace, cfg: TrainConfig, progress: bool = False) -> None:
    """Ready the run dir for `train(cfg)`: a stale demo run removed, the class weights in place, the run remembered.

    A final fit (or any run dir but the workspace's) counts its own weights when it starts, on every pair it trains on.
    """
    discard_stale_run(ws, cfg)
    if Path(cfg.run_dir) == ws.run_dir:
        ensure_class_weights(ws, progress=progress)
    remember_run(ws, cfg)


def _latest(ws: Workspace) -> dict:
    pointer = ws.runs_home / LATEST_RUN
    if ws.run_dir_named or not pointer.is_file():
        return {}
    latest = json.loads(pointer.read_text())
    return latest if (latest.get("rules"), latest.get("synthetic")) == (ws.rules, ws.synthetic) else {}


def trained_run(ws: Workspace) -> Path:
    """The run notebooks 4 and 5 open: RUN_DIR if named, else the one notebook 3 trained last; never trains one.

    Stops (NotebookStop) with the notebook to run when there is no best.pt yet.
    """
    from faceparse_lib.models.checkpoint import BEST

    candidates = [Path(p) for p in (_latest(ws).get("run_dir"), ws.run_dir) if p]
    for run_dir in candidates:
        if (run_dir / BEST).is_file():
            return run_dir
    raise NotebookStop(f"no trained model in {candidates[0]} (no {BEST}): train it in notebook 3 first"
                       + (", with the same RUN_DIR" if ws.run_dir_named else "") + ", then run this notebook again.")


def hand_in_run(ws: Workspace) -> Path:
    """The run whose model is handed in: notebook 3's final fit when it finished, else `trained_run`."""
    from faceparse_lib.models.checkpoint import BEST

    holdout_run = trained_run(ws)
    recorded = _latest(ws).get("final_fit")
    for final in filter(None, (recorded, holdout_run.with_name(holdout_run.name + "-final"))):
        if (Path(final) / BEST).is_file():
            return Path(final)
    return holdout_run


def phase_hand_in(ws: Workspace, phase: str, tta: str | None, allow_not_best: bool = False,
                  progress: bool = False) -> str:
    """Build and check one challenge phase's zip from the run to hand in; the line to print: what, or why not yet.

    The development phase predicts the val images, the test phase the test images with solution/ (and refuses a
    run that another run of the workspace's beat, unless `allow_not_best`). A phase whose images have not arrived
    yet is skipped with a note. The demo's zips are named DEMO-synthetic-*.
    """
    from faceparse_lib.course.submission import PHASES, hand_in
    from faceparse_lib.data.layout import images_dir

    images = images_dir(ws.data_root, PHASES[phase].split)
    if not images.is_dir():
        return f"{phase} phase: {images} not there yet ({PHASES[phase].split}.zip); nothing to hand in for it"
    run_dir = hand_in_run(ws)
    siblings = [p for p in ws.runs_home.iterdir() if p.is_dir()] if ws.runs_home.is_dir() else []
    result = hand_in(run_dir, ws.data_root, phase, out=hand_in_zip(ws, phase), tta=tta, compare_with=siblings,
                     allow_not_best=allow_not_best, progress=progress)
    return result.summary()


def hand_in_zip(ws: Workspace, phase: str) -> Path:
    """Where `phase_hand_in` writes a phase's zip: beside the run handed in (DEMO-synthetic-* for the demo)."""
    return hand_in_run(ws) / f"{demo_prefix(ws)}{phase}-phase.zip"


def demo_prefix(ws: Workspace) -> str:
    """What a file made from the kit's synthetic faces starts with, so it is never handed in by mistake."""
    return "DEMO-synthetic-" if ws.synthetic else ""


def rehearse_hand_in(ws: Workspace, count: int = 2) -> str:
    """Run the test-phase zip's run.py on `count` test images as the graders do, with this runtime's packages and
    faceparse_lib hidden; the summary to print (or why there is nothing to rehearse yet)."""
    from faceparse_lib.course.rehearsal import rehearse
    from faceparse_lib.data.layout import images_dir

    archive = hand_in_zip(ws, "test")
    if not archive.is_file():
        return f"{archive}: no test-phase zip yet (it needs test.zip's images); nothing to rehearse"
    return rehearse(archive, images_dir(ws.data_root, "test"), count, reuse_environment=True).summary()


def ntulearn_hand_in(ws: Workspace, name: str, matric: str, report_pdf: str | Path = "", screenshot: str | Path = "",
                     code: Sequence[str | Path] = ()) -> str:
    """Pack the NTULearn zip (REPORT_DIR/MATRIC.zip) from the test-phase zip, the compiled report, the screenshot and
    the student's code; the summary to print, with what is still missing."""
    from faceparse_lib.course.ntulearn import SCREENSHOT, pack_ntulearn
    from faceparse_lib.report.latex import REPORT_TEX, hand_in_name

    if not report_pdf:  # the PDF as the course names it, else as pdflatex writes it beside report.tex
        named = ws.report_dir / hand_in_name(name or "NAME", matric or "MATRIC")
        compiled = ws.report_dir / Path(REPORT_TEX).with_suffix(".pdf")
        report_pdf = named if named.is_file() or not compiled.is_file() else compiled
    if not screenshot:
        screenshot = next((p for p in sorted(ws.report_dir.glob(f"{SCREENSHOT}.*"))), ws.report_dir / f"{SCREENSHOT}.png")
    result = pack_ntulearn(ws.report_dir, matric, hand_in_zip(ws, "test"), report_pdf, screenshot, name, code,
                           demo_prefix(ws))
    return result.summary()


def hand_in_images(ws: Workspace) -> tuple[Path, str | None]:
    """The images to predict for hand-in: root/test/images, else the val images as stand-ins (with a note why)."""
    test = ws.data_root / "test" / "images"
    if test.is_dir() and any(test.iterdir()):
        return test, None
    return ws.data_root / "val" / "images", f"{test} not found: predicting the val images as stand-ins for the test set."
