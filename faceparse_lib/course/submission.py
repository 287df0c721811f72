"""The challenge hand-in: a zip with masks/ (one PNG per test image) and solution/ (ckpt.pth, requirements.txt,
run.py, Readme.txt) at its top, built from a run; and a checker for the usual mistakes in anyone's zip.

The solution's run.py (`course/solution/run.py`) imports no faceparse_lib: it rebuilds the smp network from the
architecture saved in ckpt.pth, and reads and predicts with `standalone/`, a verbatim copy of the kit's own
`faceparse_lib/standalone` (the reader and inference every path of the kit uses), so its masks equal masks/.
"""

from __future__ import annotations

import io
import logging
import shutil
import tempfile
import zipfile
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np

from faceparse_lib.classes import FLIP_PAIRS, NUM_CLASSES, mask_palette
from faceparse_lib.data.rules import RULE_SETS
from faceparse_lib.standalone.images import upright_size
from faceparse_lib.training.describe import recipe_lines, training_sentence

log = logging.getLogger(__name__)

RUN_PY = Path(__file__).with_name("solution") / "run.py"
STANDALONE = Path(__file__).parents[1] / "standalone"  # copied beside run.py as solution/standalone/
CHECKPOINT = "ckpt.pth"  # the weights' name in solution/ (the course's template loads ckpt["state_dict"])
SOLUTION_FILES = (CHECKPOINT, "requirements.txt", "run.py")
# Readme.txt's headings around what a reader needs of the model (the NTULearn Readme carries that part over)
MODEL_HEADING, RUN_HEADING = "Model:", "How to run"
# What run.py imports, as PyPI names. smp and timm build the network's layers, so the solution pins the versions it
# was made with; torch, numpy and Pillow get the kit's own floors (pyproject.toml, which a test keeps equal), so a
# grader's interpreter (3.10 too) and its torch are used as they are instead of a multi-gigabyte download.
PINNED = ("segmentation-models-pytorch", "timm")
FLOORS = {"torch": "2.3", "numpy": "1.24", "Pillow": "10.0"}
CHALLENGE = RULE_SETS["challenge"]


def solution_checkpoint(model: Any, tta: str | None) -> dict[str, Any]:
    """ckpt.pth's dict: `state_dict` (the course template's key) and what run.py needs to rebuild and run the model."""
    from faceparse_lib.data.transforms import IMAGENET_MEAN, IMAGENET_STD

    spec = getattr(model, "smp_spec", None)
    if spec is None:
        raise ValueError(f"{type(model).__name__}: only the zoo's smp models can be packed with a standalone run.py")
    state = {key.removeprefix("model."): tensor for key, tensor in model.state_dict().items()}
    return {"state_dict": state, "model": {**spec, "kwargs": dict(spec["kwargs"])},
            "model_name": (getattr(model, "train_config", None) or {}).get("model"),
            "input_size": getattr(model, "input_size", None), "size_divisor": model.size_divisor,
            "mean": list(IMAGENET_MEAN), "std": list(IMAGENET_STD), "tta": tta,
            "flip_pairs": [list(pair) for pair in FLIP_PAIRS], "palette": mask_palette()}


def standalone_files() -> list[Path]:
    """The modules of faceparse_lib/standalone that a solution carries beside its run.py."""
    return sorted(STANDALONE.glob("*.py"))


def copy_standalone(folder: Path) -> None:
    """Copy faceparse_lib/standalone's modules, byte for byte, into `folder` (run.py imports them from there)."""
    folder.mkdir(parents=True)
    for module in standalone_files():
        shutil.copyfile(module, folder / module.name)


def pinned_requirements() -> str:
    """requirements.txt: smp and timm at the versions installed here, torch, numpy and Pillow from the kit's floors.

    A pin must be a final release an index serves: a dev, pre-release or locally built version is refused.
    """
    from packaging.version import Version

    lines = []
    for name in PINNED:
        version = Version(metadata.version(name))
        if version.is_prerelease or version.is_devrelease or version.local:
            raise ValueError(f"{name} {version} is not a final release, and no index serves it to the graders: "
                             f"install a released {name} (pip install '{name}=={version.base_version}') and build again")
        lines.append(f"{name}=={version}")
    lines += [f"{name}>={floor}" for name, floor in FLOORS.items()]
    return "\n".join(lines) + "\n"


def readme_text(model: Any, parameters: int, tta: str | None, masks: int) -> str:
    """The course's Readme.txt for the hand-in: the files, the third-party libraries, how to run it."""
    config = getattr(model, "train_config", None) or {}
    name = config.get("model", type(model).__name__)
    recipe = "\n".join(recipe_lines(config))
    libraries = "\n".join(f"  - {line}" for line in pinned_requirements().splitlines())
    return f"""Face parsing on CelebAMask-HQ: the challenge hand-in

Files
  masks/               {masks} predicted masks, one PNG per test image (same name, .png), 8-bit class indices 0..{NUM_CLASSES - 1}
  solution/ckpt.pth    the trained weights (ckpt["state_dict"]) and the architecture run.py rebuilds
  solution/run.py      predicts one image: python3 run.py --input IMAGE.jpg --output MASK.png --weights ckpt.pth
  solution/standalone/ the image reader and the inference run.py imports (the training kit's own code, copied)
  solution/requirements.txt   the libraries run.py needs, pinned
  solution/Readme.txt  this file

{MODEL_HEADING} {name}, {parameters:,} parameters (the challenge asks for fewer than {CHALLENGE.max_parameters:,}), trained
from scratch, one model, no ensemble: {training_sentence(config, getattr(model, "checkpoint_iteration", None))}.
{recipe}
Test-time augmentation: {"flip (the mirrored image's prediction, left/right swapped back, averaged in)" if tta else "none"}.

Third-party libraries
{libraries}

{RUN_HEADING}
  pip install -r requirements.txt
  python3 run.py --input /path/to/input-image.jpg --output /path/to/output-mask.png --weights ckpt.pth
"""


def build_submission(run_dir: str | Path, test_images: str | Path, out_zip: str | Path, with_solution: bool = False,
                     tta: str | None = None, progress: bool = False) -> Path:
    """Predict every test image with the run's model and zip masks/ (and solution/) at the zip's top, atomically."""
    from faceparse_lib.evaluation.masks import predict_folder, write_zip
    from faceparse_lib.models.checkpoint import load_checkpoint
    from faceparse_lib.models.zoo import count_parameters

    model = load_checkpoint(run_dir)
    config = getattr(model, "train_config", {}) or {}
    parameters = count_parameters(model)
    CHALLENGE.check_model(parameters, bool(config.get("pretrained")), config.get("model", "the model"))
    if with_solution:
        solution_checkpoint(model, tta)  # refuses a model run.py cannot rebuild, before predicting anything
    out_zip = Path(out_zip)
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        # One image at a time, as the graders' run.py does, so both take the very same arithmetic.
        summary = predict_folder(model, test_images, work / "masks", tta=tta, batch_size=1, progress=progress)
        if summary.failed:
            raise ValueError(f"{len(summary.failed)} test image(s) could not be predicted; the first: {summary.failed[0][1]}")
        if with_solution:
            import torch

            solution = work / "solution"
            solution.mkdir()
            torch.save(solution_checkpoint(model, tta), solution / CHECKPOINT)
            shutil.copyfile(RUN_PY, solution / "run.py")
            copy_standalone(solution / STANDALONE.name)
            (solution / "requirements.txt").write_text(pinned_requirements())
            (solution / "Readme.txt").write_text(readme_text(model, parameters, tta, len(summary.masks)))
        files = {path.relative_to(work).as_posix(): path for path in sorted(work.rglob("*")) if path.is_file()}
        write_zip(files, out_zip, compression=zipfile.ZIP_DEFLATED)  # ckpt.pth and the text files do shrink
    log.info("wrote %s (%d masks%s)", out_zip, len(summary.masks), ", solution" if with_solution else "")
    return out_zip


@dataclass(frozen=True)
class Phase:
    """One phase of the challenge on CodaBench: which images it scores, whether it wants solution/, its limits."""

    name: str
    split: str
    solution: bool
    limits: str


PHASES: dict[str, Phase] = {
    "development": Phase("development", "val", False,
                         "5 submissions a day, 60 in all over about four weeks; its leaderboard is your only score on "
                         "images you did not train on"),
    "test": Phase("test", "test", True,
                  "5 submissions a day, 15 in all in 2026 (5 in 2025); failed ones do not count, and the last one is "
                  "the official result"),
}


@dataclass
class HandIn:
    """A built and checked hand-in zip of one phase."""

    path: Path
    phase: Phase
    masks: int
    problems: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    def summary(self) -> str:
        """One line: where the zip is, what it holds, whether the checker found a problem, the phase's limits."""
        holds = f"{self.masks} masks of the {self.phase.split} images" + (" + solution/" if self.phase.solution else "")
        checked = "; ".join(self.problems) or "checked, no problem found"
        checked += "".join(f"; warning: {w}" for w in self.warnings)
        return (f"{self.phase.name} phase: {self.path} ({self.path.stat().st_size / 1e6:.1f} MB, {holds}): {checked}. "
                f"Upload it to the {self.phase.name} phase: {self.phase.limits}.")


def validated_on(run_dir: Path) -> tuple | None:
    """What a run's scores are comparable by: its rules, data and validation images (None: not a scored run).

    A final fit stands for the holdout run it was made from; the kit's synthetic demo runs compare with nothing.
    """
    import json

    from faceparse_lib.data.synthetic import is_synthetic_cache
    from faceparse_lib.training.run_files import CONFIG_FILE, HOLDOUT_FILE, LOG_FILE

    if not (run_dir / CONFIG_FILE).is_file() or not (run_dir / LOG_FILE).is_file():
        return None
    config = json.loads((run_dir / CONFIG_FILE).read_text())
    if config.get("final_fit") or is_synthetic_cache(config.get("data_root") or ""):
        return None
    held = run_dir / HOLDOUT_FILE
    images = tuple(sorted(json.loads(held.read_text())["stems"])) if held.is_file() else ("val",)
    return config.get("rules"), str(Path(config.get("data_root") or "").resolve()), images


def scored_run(run_dir: Path) -> Path:
    """The run whose validation scores `run_dir` (a final fit: the holdout run it was made from)."""
    import json

    from faceparse_lib.training.run_files import CONFIG_FILE

    config = json.loads((run_dir / CONFIG_FILE).read_text()) if (run_dir / CONFIG_FILE).is_file() else {}
    if config.get("final_fit"):
        source = config.get("final_fit_of") or (str(run_dir)[: -len("-final")] if run_dir.name.endswith("-final") else "")
        return Path(source) if source else run_dir
    return run_dir


def better_runs(run_dir: Path, candidates: list[Path], metric: str) -> tuple[list[tuple[Path, float]], list[Path]]:
    """(runs among `candidates` whose best score beats `run_dir`'s, best first; every run compared).

    Only runs validated on the same images of the same data under the same rules compare; a final fit is judged by
    the holdout run it was made from.
    """
    from faceparse_lib.training.run_files import best_validation

    judged = scored_run(run_dir)
    key = validated_on(judged)
    own = best_validation(judged, metric) if key is not None else None
    if own is None:
        return [], []
    compared, found = [], []
    for other in candidates:
        if other.resolve() in (run_dir.resolve(), judged.resolve()) or validated_on(other) != key:
            continue
        compared.append(other)
        best = best_validation(other, metric)
        if best is not None and best[1] > own[1]:
            found.append((other, best[1]))
    return sorted(found, key=lambda pair: -pair[1]), compared


def hand_in(run_dir: str | Path, data_root: str | Path, phase: str, out: str | Path | None = None,
            tta: str | None = None, compare_with: list[Path] | None = None, allow_not_best: bool = False,
            progress: bool = False) -> HandIn:
    """Build and check the zip of one challenge phase: "development" (val masks) or "test" (test masks + solution/).

    The test phase refuses a run that another run of `compare_with` beat by the challenge's score on the same
    validation images, unless `allow_not_best`; a final fit is judged by the holdout run it was made from.
    `out` defaults to RUN_DIR/PHASE-phase.zip.
    """
    from faceparse_lib.data.layout import DatasetError, IMAGE_SUFFIXES, images_dir

    if phase not in PHASES:
        raise ValueError(f"unknown phase {phase!r}; choose from {', '.join(PHASES)}")
    spec = PHASES[phase]
    run_dir, images = Path(run_dir), images_dir(data_root, spec.split)
    if not images.is_dir() or not any(p.suffix.lower() in IMAGE_SUFFIXES for p in images.iterdir()):
        raise DatasetError(f"{images}: no images; the {phase} phase predicts the {spec.split} images "
                           f"({spec.split}.zip" + (", released a week before the deadline)" if phase == "test" else ")"))
    if spec.solution and not allow_not_best:
        better, compared = better_runs(run_dir, list(compare_with or []), CHALLENGE.metric)
        if better:
            raise ValueError(f"{run_dir} is not your best run: {better[0][0]} scored {better[0][1]:.4f} on the same "
                             f"validation images (compared with {len(compared)} run(s) validated on them: "
                             f"{', '.join(p.name for p in compared)}); hand that one in, or pass allow_not_best=True "
                             "(--not-best) to hand this one in anyway")
    path = build_submission(run_dir, images, Path(out) if out else run_dir / f"{phase}-phase.zip",
                            with_solution=spec.solution, tta=tta, progress=progress)
    warnings: list[str] = []
    problems = check_submission(path, images=images, solution=spec.solution, warnings=warnings)
    with zipfile.ZipFile(path) as archive:
        masks = sum(1 for n in archive.namelist() if n.startswith("masks/") and n.endswith(".png"))
    return HandIn(path, spec, masks, problems, warnings)


MAC_EXTRAS = (".DS_Store", "._")  # what macOS Finder adds to the zips it makes


def check_submission(zip_path: str | Path, images: str | Path | None = None, solution: bool | None = None,
                     warnings: list[str] | None = None) -> list[str]:
    """Every problem of a hand-in zip, each naming its file; [] when it is fine.

    `images` (the test images) also checks one mask per image, by name and size; without them the masks must share
    one size. `solution=True` requires solution/ (the test phase), None checks it when the zip has one. What is
    allowed but worth fixing (macOS extras, 16-bit masks, masks not 512×512) is added to `warnings` when given.
    """
    from PIL import Image

    warnings = warnings if warnings is not None else []
    zip_path = Path(zip_path)
    try:
        archive = zipfile.ZipFile(zip_path)
    except (zipfile.BadZipFile, FileNotFoundError, IsADirectoryError) as err:
        return [f"{zip_path}: not a zip file ({err})"]
    with archive:
        names = [n for n in archive.namelist() if not n.endswith("/") and not n.startswith("__MACOSX/")]
        extras = [n for n in names if Path(n).name.startswith(MAC_EXTRAS)]
        inside = [n for n in extras if n.startswith("masks/")]
        warnings += [f"{zip_path}: {n}: an extra file (macOS Finder's); harmless here, but better left out"
                     for n in extras if n not in inside]
        problems_first = [f"{zip_path}: {n}: an extra file (macOS Finder's) inside masks/; remove it, a grader that "
                          "lists masks/ would try to read it as a mask" for n in inside]
        names = [n for n in names if n not in extras]
        problems = problems_first + _layout_problems(zip_path, names)
        in_masks = [n for n in names if n.startswith("masks/") and n.count("/") == 1 and n.lower().endswith(".png")]
        by_stem: dict[str, list[str]] = {}
        for name in in_masks:
            by_stem.setdefault(Path(name).stem, []).append(name)
        problems += [f"{zip_path}: {' and '.join(sorted(found))}: two masks for {stem}; keep {stem}.png"
                     for stem, found in sorted(by_stem.items()) if len(found) > 1]
        masks = {stem: sorted(found)[-1] for stem, found in by_stem.items()}  # "a.png" sorts after "a.PNG"
        wanted: dict[str, Path] = {}
        if images is not None:
            from faceparse_lib.evaluation.masks import list_images

            wanted = {p.stem: p for p in list_images(images)[0]}
        sizes: dict[tuple[int, int], list[str]] = {}
        for stem, name in sorted(masks.items()):
            problems += _mask_problems(zip_path, name, archive.read(name), wanted.get(stem), Image, warnings, sizes)
        if images is not None:
            problems += [f"{zip_path}: masks/{stem}.png missing for {path.name}" for stem, path in sorted(wanted.items())
                         if stem not in masks]
            problems += [f"{zip_path}: {masks[stem]} has no test image {stem}.* in {images}"
                         for stem in sorted(masks.keys() - wanted.keys())]
        elif len(sizes) > 1:
            counted = ", ".join(f"{w}×{h}: {len(found)} (e.g. {found[0]})" for (w, h), found in sorted(sizes.items()))
            problems.append(f"{zip_path}: masks of {len(sizes)} sizes ({counted}); each must be its image's size, "
                            "and the hand-out's images are all one size (pass --images to check them one by one)")
        warnings += [f"{zip_path}: {len(found)} mask(s) are {w}×{h}, e.g. {found[0]}; the hand-out's images are "
                     "512×512" for (w, h), found in sorted(sizes.items()) if (w, h) != (512, 512) and images is None]
        has_solution = any(n.startswith("solution/") for n in names)
        if solution or (solution is None and has_solution):
            needed = list(SOLUTION_FILES)
            if "solution/run.py" in names:
                imported = _standalone_imports(archive.read("solution/run.py"))
                needed += [f"{STANDALONE.name}/{module}.py" for module in sorted(imported)]
                if imported:
                    needed.append(f"{STANDALONE.name}/__init__.py")
            problems += [f"{zip_path}: solution/{f} missing" + (" (run.py imports it)" if "/" in f else "")
                         for f in needed if f"solution/{f}" not in names]
            if f"solution/{CHECKPOINT}" in names:
                problems += _checkpoint_problems(zip_path, archive.read(f"solution/{CHECKPOINT}"))
    return problems


def _standalone_imports(run_py: bytes) -> set[str]:
    """The modules of the kit's standalone package a run.py imports (a kit-built one does; a hand-written one need
    not): "images" for `from standalone.images import ...`, every module for a bare `import standalone`."""
    import ast

    try:
        tree = ast.parse(run_py)
    except SyntaxError:
        return set()
    every = {m.stem for m in standalone_files()} - {"__init__"}
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module:
            package, _, module = node.module.partition(".")
            if package == STANDALONE.name:  # from standalone.images import x / from standalone import images
                found |= {module.split(".")[0]} if module else {a.name for a in node.names} & every
        elif isinstance(node, ast.Import):
            for alias in node.names:
                package, _, module = alias.name.partition(".")
                if package == STANDALONE.name:  # import standalone.images / import standalone
                    found |= {module.split(".")[0]} if module else every
    return found


def _layout_problems(zip_path: Path, names: list[str]) -> list[str]:
    """The top of the zip: masks/ (and solution/) there, not inside one enclosing folder; masks named STEM.png."""
    tops = {n.split("/")[0] for n in names}
    if not any(n.startswith("masks/") for n in names):
        if len(tops) == 1 and any(n.split("/", 1)[-1].startswith("masks/") for n in names):
            return [f"{zip_path}: masks/ and solution/ sit inside the folder {tops.pop()}/; zip their contents so "
                    "they are at the zip's top"]
        return [f"{zip_path}: no masks/ folder at the zip's top"]
    problems = [f"{zip_path}: {n} is not a PNG in masks/" for n in names if n.startswith("masks/") and
                (n.count("/") != 1 or not n.lower().endswith(".png"))]
    return problems + [f"{zip_path}: {n}: the extension must be .png in lower case (a grader on Linux looking for "
                       f"{Path(n).stem}.png finds nothing)" for n in names
                       if n.startswith("masks/") and n.count("/") == 1 and n.lower().endswith(".png")
                       and not n.endswith(".png")]


def _mask_problems(zip_path: Path, name: str, data: bytes, image: Path | None, image_module: Any,
                   warnings: list[str], sizes: dict[tuple[int, int], list[str]]) -> list[str]:
    """A mask that is not single-channel class indices 0..18, or not its image's size; 16-bit ones are warned of."""
    from faceparse_lib.data.layout import DatasetError, invalid_labels
    from faceparse_lib.evaluation.folders import read_like_the_grader

    where = f"{zip_path}: {name}"
    try:
        mask = read_like_the_grader(data, where, warnings)
    except DatasetError as err:
        return [str(err)]
    bad = invalid_labels(mask, ignore_index=None)  # 255 names no class in a prediction
    problems = [f"{where}: labels {bad[:8].tolist()} outside 0..{NUM_CLASSES - 1}"] if bad.size else []
    height, width = mask.shape
    sizes.setdefault((width, height), []).append(name)
    if image is not None:
        try:
            with image_module.open(image) as source:
                upright = upright_size(source)  # the size the kit's (and run.py's) reader gives the image
        except (OSError, SyntaxError, ValueError) as err:
            return problems + [f"{image}: the test image is unreadable ({err}); cannot check {name}'s size"]
        if upright != (width, height):
            problems.append(f"{where}: {width}×{height}; its image {image.name} is {upright[0]}×{upright[1]}")
    return problems


def _checkpoint_problems(zip_path: Path, data: bytes) -> list[str]:
    """ckpt.pth that a safe load cannot read, that lacks state_dict, or whose parameters reach the cap."""
    import torch

    where = f"{zip_path}: solution/{CHECKPOINT}"
    try:
        state = torch.load(io.BytesIO(data), map_location="cpu", weights_only=True)
    except Exception as err:  # noqa: BLE001 - torch raises several kinds for a file it will not load safely
        return [f"{where}: not loadable with torch.load(weights_only=True), i.e. without unpickling code "
                f"({(str(err).splitlines() or [type(err).__name__])[0][:160]})"]
    if not isinstance(state, dict) or "state_dict" not in state:
        return [f"{where}: no 'state_dict'; the course's template loads ckpt['state_dict']"]
    # As sum(p.numel() for p in model.parameters()) would count them, from the state_dict alone: BatchNorm's
    # statistics and integer buffers (indices, counters) are no parameters.
    buffers = ("running_mean", "running_var", "num_batches_tracked")
    count = sum(t.numel() for k, t in state["state_dict"].items()
                if hasattr(t, "is_floating_point") and t.is_floating_point() and not k.endswith(buffers))
    problem = CHALLENGE.parameters_problem(count, f"{where}: the model (counted from its state_dict: floating-point "
                                                  "tensors but BatchNorm statistics)")
    return [problem] if problem else []
