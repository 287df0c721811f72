# ---
# jupyter:
#   jupytext:
#     formats: ipynb,py:percent
#     text_representation:
#       extension: .py
#       format_name: percent
#       format_version: '1.3'
#       jupytext_version: 1.19.6
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# [![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)](https://colab.research.google.com/github/faceparse-kit/faceparse-kit/blob/main/notebooks/04_evaluation.ipynb)

# %%
# Setup. On Colab: mount Drive, install the kit (a copy on Drive if there is one, else a clone of the repository)
# while pinning Colab's own torch, torchvision, ipywidgets and numpy, so pip never replaces them. Elsewhere: nothing.
import glob
import os
import sys

REPOSITORY = "https://github.com/faceparse-kit/faceparse-kit"  # the kit's published address; "" = install only from a copy on Drive
if "google.colab" in sys.modules or any(name.startswith("COLAB_") for name in os.environ):
    import importlib
    import subprocess

    from google.colab import drive

    drive.mount("/content/drive")
    # The kit: MyDrive/faceparse-kit, else the first folder up to three down on Drive holding pyproject.toml beside
    # faceparse_lib/, else a clone of REPOSITORY, else what to do: never a bare traceback.
    kit = "/content/drive/MyDrive/faceparse-kit"
    if not os.path.isfile(kit + "/pyproject.toml"):
        copies = (os.path.dirname(p) for depth in range(4)
                  for p in sorted(glob.glob("/content/drive/MyDrive/" + "*/" * depth + "pyproject.toml"))
                  if os.path.isfile(os.path.dirname(p) + "/faceparse_lib/__init__.py"))
        kit = next(copies, "/content/faceparse-kit")
    if kit == "/content/faceparse-kit" and not os.path.isdir(kit):
        no_prompt = dict(os.environ, GIT_TERMINAL_PROMPT="0")  # a wrong or private address fails, never hangs
        cloned = REPOSITORY and subprocess.run(["git", "clone", "-q", "--depth", "1", REPOSITORY, kit],
                                               env=no_prompt).returncode == 0
        if not cloned:
            raise RuntimeError(f"The kit is not on your Drive and could not be cloned from {REPOSITORY or '(no address set)'}. "
                               "Copy the kit's folder (the one holding pyproject.toml and faceparse_lib/) to "
                               "MyDrive/faceparse-kit, then Run all again.")
    subprocess.run("pip freeze | grep -iE '^(torch|torchvision|ipywidgets|numpy)==' > /tmp/colab-constraints.txt",
                   shell=True, check=True)
    subprocess.run(["pip", "install", "-q", "-c", "/tmp/colab-constraints.txt", "-e", kit], check=True)
    if kit not in sys.path:  # an editable install is seen by new kernels only; this one imports from the folder
        sys.path.insert(0, kit)
    importlib.invalidate_caches()
    print(f"faceparse kit installed from {kit}")
else:
    print("Not on Colab: using the faceparse_lib of this environment.")

# %% [markdown]
# # 4 · Evaluation
#
# Two scores, and the rules say which one ranks you. Today's challenge uses the **per-image F-score**: for
# each image, F = 2PR/(P+R) of every class its ground truth holds, averaged; then the mean over images, so
# every image weighs the same and a necklace present in an image counts as much as the skin. The 2022 edition
# used **mIoU as mmsegmentation computes it**: one confusion matrix summed over the whole set, IoU =
# I / (P + L − I) per class, then the mean over classes, so images weigh by their pixels. Both are printed;
# the per-class table, the confusion matrix and the viewer below show what one number hides. Under the
# challenge rules val has no masks: the scores are on the images training held out (`holdout.json`).
#
# **You will learn** how the challenge's per-image F-score differs from mIoU (and compute one image's by hand),
# what test-time flipping buys, where the model fails, and how to build and rehearse the two hand-ins.

# %% [markdown]
# ## Your settings
#
# The same as in notebook 1 (keep them the same in every notebook: they name the data and the run dir).
# This notebook opens the run notebook 3 trained (it never trains one itself).

# %%
DATA = ""                # folder (or zip) of the hand-out; "" = search your Drive (Colab) or data/ (elsewhere)
RUN_DIR = ""             # "" = faceparse-runs/RULES-PRESET-DATA on your Drive, the same in every notebook
RULES = "challenge"      # "challenge" (2025/26: F-score, < 1,821,085 parameters, no pretraining) or "seed" (2022)
PRESET = ""              # "" = the rules' GPU recipe; "first-run" = minutes on a T4; "laptop" = ~20 min on 2 CPU cores
DEMO = False             # True = the kit's synthetic faces instead of the course's data
RELABEL_SWAPPED = False  # True = train on a copy whose left/right-swapped masks are relabelled (notebook 1)

# %%
# %matplotlib inline
from IPython.display import display

from faceparse_lib.course import hand_in_images, phase_hand_in, rehearse_hand_in, trained_run, workspace
from faceparse_lib.data import FaceParsingDataset
from faceparse_lib.data.rules import METRIC_NAMES, score_headline
from faceparse_lib.evaluation import FScore, evaluate, predict_folder, zip_masks
from faceparse_lib.models import load_checkpoint
from faceparse_lib.report.tables import class_score_comparison, class_table, score_comparison
from faceparse_lib.training import validation_pairs
from faceparse_lib.visual import MaskViewer, confusion_matrix_chart

ws = workspace(DATA, RUN_DIR, RULES, PRESET, DEMO, RELABEL_SWAPPED, progress=True)
print(ws.summary())
run_dir = trained_run(ws)  # the run notebook 3 trained; stops with what to do when there is none
model = load_checkpoint(run_dir, device="cuda" if ws.gpu else "cpu")
val = FaceParsingDataset.from_pairs(validation_pairs(run_dir, ws.data_root))  # its holdout, else the val split
print(f"model from {run_dir}, trained at input size {model.input_size}; {len(val)} validation images")

# %% [markdown]
# ## Per-class scores
#
# Worst first by the score your rules rank by: under the challenge the **F-score** column, each class's F averaged
# over the images that hold it (what the leaderboard's per-image mean is made of); IoU, F1, precision and recall
# beside it. The rare and thin classes (necklace, earring, eyes, brows) are usually at the top: they are few
# pixels, and a boundary off by one pixel is a large share of a thin part. A class that occurs in neither the
# truth nor the prediction is NaN and left out of the mean.

# %%
fscores = FScore()
matrix = evaluate(model, val, progress=True, fscore=fscores)
print(score_headline({"fscore": fscores.mean(), "miou": matrix.miou()}, ws.metric)
      + f"   mean F1 (no background) {matrix.mean_f1():.4f}   pixel accuracy {matrix.pixel_accuracy():.4f}")
display(class_table(matrix, fscores, ws.metric).style.format(precision=3))

# %% [markdown]
# ### Exercise: one image's F-score by hand
#
# Write `image_fscore(truth, prediction)` for two H×W masks: for each class the ground truth holds,
# F = 2·TP / (2·TP + FP + FN); return the mean. Check it against the kit's `FScore`.

# %% tags=["exercise"]
from faceparse_lib.course import exercises


def image_fscore(truth, prediction):
    """The challenge's F-score of one image (NumPy H×W masks of class indices)."""
    return exercises.reference_image_fscore(truth, prediction)  # replace with your own code


print(exercises.check_image_fscore(image_fscore))

# %% [markdown]
# ### One image's F-score beside its IoU
#
# The same prediction, scored per class of its ground truth both ways. F = 2·IoU / (1 + IoU) for every class, so
# a half-found class (IoU 0.5) still earns F 0.67, while a class missed entirely earns 0 in both. A model that finds
# every small class roughly can therefore beat, on the F-score, one that outlines the large classes sharply, and
# the two scores can rank models differently.

# %%
from faceparse_lib.report.runs import sample_predictions
from faceparse_lib.visual.lessons import fscore_and_iou

(example,), (example_title,) = sample_predictions(model, ws.data_root, 1, run_dir, metric=ws.metric)
print(example_title.replace("\n", ": "))
display(fscore_and_iou(example[1], example[2]))

# %% [markdown]
# ## Confusion matrix
#
# Row: the true class; column: the predicted class; each row divided by its pixel count (so a row sums
# to 1 and the diagonal is the recall). Off-diagonal mass shows *which* classes are confused: eyes with
# skin, lips with the mouth, a necklace with the neck, and, if a flip forgot to swap them, left with right.

# %%
display(confusion_matrix_chart(matrix))  # Figure 5 of the report

# %% [markdown]
# ## Flip test-time augmentation
#
# Predict each image and its mirror, mirror the second prediction back **swapping the left/right channels**,
# and average. A flip that forgot the swap would average a left eye with a right eye and lose accuracy on
# exactly those classes. It costs a second forward pass per image; keep it only if it raises your score.
# `TTA` below is what the hand-ins use: the comparison chooses it, and you may overrule it.

# %%
flip_fscores = FScore()
flipped = evaluate(model, val, tta="flip", progress=True, fscore=flip_fscores)
compared, compared_f = {"no TTA": matrix, "flip TTA": flipped}, {"no TTA": fscores, "flip TTA": flip_fscores}
comparison = score_comparison(compared, compared_f, metric=ws.metric)
display(comparison.style.format("{:+.4f}", subset=["change"]).format("{:.4f}", subset=list(compared)))
display(class_score_comparison(compared, compared_f, metric=ws.metric).style.format("{:.3f}"))
TTA = "flip" if comparison.loc[METRIC_NAMES[ws.metric], "change"] > 0 else None
print(f"TTA = {TTA!r}: the hand-ins below use it")

# %% [markdown]
# ## Look at the worst images
#
# The viewer sorts the validation images by their own score (the one the rules rank by), worst first: image, truth and prediction side by side
# (switch to *errors* to see the wrong pixels), with a toggle per class. The dataset-level score cannot tell
# you whether the errors are everywhere or concentrated in a few hard photos; this can.

# %%
viewer = MaskViewer(val, model=model, order="worst", score=ws.metric)  # by the score the rules rank by
display(viewer)

# %%
# The controls work from code too (and so are tested in CI): next image, then the error view.
viewer.next.click()
viewer.mode.value = "errors"
print(f"showing {viewer.names[viewer.current_index]}: image {METRIC_NAMES[ws.metric]} {viewer.iou(viewer.current_index):.3f}")

# %% [markdown]
# ## The two hand-ins
#
# The challenge runs on CodaBench in two phases, each with its own zip, `masks/` at the zip's top (one PNG per
# image, the image's name with `.png`, 8-bit class indices 0..18 at the image's size; an enclosing folder is the
# most common failure):
#
# - **development phase** (about four weeks): the masks of the 100 **val** images. Its leaderboard is the only
#   score you get on images you did not train on: 5 submissions a day, 60 in all.
# - **test phase** (the last week, once `test.zip` is out): the masks of the 100 **test** images **plus**
#   `solution/` (`ckpt.pth`, `requirements.txt`, `run.py`). The graders run
#   `python3 run.py --input IMAGE --output MASK --weights ckpt.pth` per image and compare with `masks/`; the kit's
#   `run.py` needs no faceparse_lib and writes the same masks (a test checks it pixel for pixel). 15 submissions
#   in all (2026; 5 in 2025); failed ones do not count, and the last one is the official result.
#
# Each zip is checked for the usual mistakes before you upload it. The model handed in is notebook 3's final fit
# when it ran, else the holdout run; the test phase refuses a run another of your runs beat (set
# `ALLOW_NOT_BEST = True` to hand it in anyway). A phase whose images have not arrived yet is skipped. Under the
# 2022 rules the hand-in is the test masks, zipped flat.

# %%
ALLOW_NOT_BEST = False
if ws.rules == "challenge":
    print(phase_hand_in(ws, "development", TTA, progress=True))
    print(phase_hand_in(ws, "test", TTA, allow_not_best=ALLOW_NOT_BEST, progress=True))
else:
    images_dir, note = hand_in_images(ws)
    if note:
        print(note)
    predictions = predict_folder(model, images_dir, run_dir / "predictions", tta=TTA, progress=True)
    archive = zip_masks(predictions.masks, run_dir / ("DEMO-synthetic-predictions.zip" if ws.synthetic
                                                      else "predictions.zip"), folder="")
    print(f"{len(predictions.masks)} masks -> {archive} ({archive.stat().st_size / 1e6:.1f} MB); "
          f"{len(predictions.failed)} image(s) failed")

# %% [markdown]
# ### Rehearse the grader
#
# The course deducts marks for predictions the code does not reproduce. The cell below runs the test-phase zip's
# `run.py` on two test images exactly as the graders do (from inside `solution/`, one process per image, CUDA
# hidden, faceparse_lib out of reach) and compares each output with the zip's mask pixel for pixel. It uses this
# runtime's packages; a fresh environment would download torch again. Before you upload, rehearse every image in a
# fresh environment from a terminal: `python -m faceparse_lib submission check ZIP --images TEST_IMAGES --run`.

# %%
if ws.rules == "challenge":
    print(rehearse_hand_in(ws))

# %% [markdown]
# ## Your own photo
#
# A model trained on aligned CelebA-HQ faces sees nonsense in a photo taken as it is: the face is smaller, off
# centre, sideways. `parse_photo` finds each face (scikit-image's frontal-face detector, shipped in its wheel),
# cuts a square around it framed the way CelebA-HQ frames its faces (green: the detector's box; yellow: the
# crop that is parsed), parses the crop and pastes the labels back at the photo's own size; several faces are
# each parsed, and a phone photo is turned upright first. Upload photos with the button below and run the cell
# after it again (on Colab you may use Colab's own dialog instead: set `UPLOAD_WITH_COLAB = True`); with nothing
# uploaded it parses two photos that ship with scikit-image and matplotlib. From the command line:
# `python -m faceparse_lib predict RUN_DIR PHOTOS/ MASKS/ --faces --overlays OVERLAYS/`.

# %%
import ipywidgets as widgets

UPLOAD_WITH_COLAB = False  # True: Colab's upload dialog (the cell waits for your files)
upload = widgets.FileUpload(accept="image/*", multiple=True, description="Upload photos")
display(upload)

# %%
from PIL import Image

from faceparse_lib.course import parse_and_render, photos_to_parse

uploaded = upload.value
if UPLOAD_WITH_COLAB and ws.colab:
    from google.colab import files

    uploaded = files.upload()
for name, picture in parse_and_render(model, photos_to_parse(uploaded), tta=TTA).items():
    print(name)
    display(Image.fromarray(picture))

# %% [markdown]
# ## Questions
#
# 1. Find an image whose F-score and IoU rank it very differently, and explain why from its classes.
# 2. Flip TTA costs twice the inference time. How much F-score does it buy here, and is it worth it under the course's rules?
# 3. The holdout score is on 100 images. How far apart would two models have to score before you trust the difference?
