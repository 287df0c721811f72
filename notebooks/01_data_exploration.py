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
# [![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)](https://colab.research.google.com/github/faceparse-kit/faceparse-kit/blob/main/notebooks/01_data_exploration.ipynb)

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
# # 1 · Data exploration
#
# Face parsing labels every pixel of a face photo with one of 19 classes. Before training anything, look at
# the data: is it complete and well formed, what do the labels look like, and how unevenly are the classes
# spread? The last question decides how we train (notebook 2) and how we should read the score (notebook 4).
#
# **You will learn** what the hand-out holds and how to check it, how a palette mask stores classes
# (and how to read one without destroying them), what the subject's left and right mean in the masks, and how
# unevenly the 19 classes are spread.
#
# ## Your settings
#
# The same few lines open every notebook. Put the course's zips (`train.zip`, `val.zip`, later `test.zip`) anywhere
# on your Google Drive: the kit finds them (up to three folders down) and unpacks them to this runtime's disk once.
# Leave `DATA` empty to search, or name their folder (`"/content/drive/MyDrive/AI6126"`). `DEMO = True` runs the
# notebook on the kit's synthetic faces instead; every figure and table then says so. Off Colab, with no data
# configured, the demo is what runs.

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

from faceparse_lib.classes import CLASSES
from faceparse_lib.course import workspace
from faceparse_lib.data import FaceParsingDataset, check_dataset, count_pixels, list_pairs, read_pair
from faceparse_lib.data.stats import reference_counts
from faceparse_lib.visual import sample_grid
from faceparse_lib.visual.closeups import class_closeups

ws = workspace(DATA, RUN_DIR, RULES, PRESET, DEMO, RELABEL_SWAPPED, progress=True)
print(ws.summary())

# %% [markdown]
# ## Is the data complete and well formed?
#
# `check_dataset` reads every image and mask and lists **every** problem: a label outside 0..18 (255 means
# *ignore*), an RGB mask, an image without its mask, sizes that differ. One bad file found now saves a
# training run that crashes after an hour. It checks under your rules: the challenge hands out val images
# without masks (they are scored on the leaderboard), so that is a note, not a problem.

# %%
report = check_dataset(ws.data_root, progress=True, rules=ws.rules)
print(report.format())

# %% [markdown]
# ## Masks with left and right swapped
#
# In CelebAMask-HQ, left and right are the **subject's**: `r_eye`, `r_brow` and `r_ear` lie on the *image's* left
# in a frontal photo. A few masks of the hand-out have a pair the other way round (67 of the 2025 set's 1,000: the
# checker above compares where each mask puts every l_/r_ pair with where most of the set puts it). Trained on
# as they are, they teach the network a little of both. Two choices, both fine:
#
# - **keep them** (the default): a little label noise on six small classes;
# - **relabel them**: set `RELABEL_SWAPPED = True` in the settings of every notebook; the kit trains on a copy in
#   which those pairs are traded back (the hand-out itself is never changed).
#
# Measured on the 2025 hand-out with the short cpu recipe, relabelling moved the score by less than the noise
# between two seeds; so the choice is yours, and a good one to test in your report.

# %%
image_of = {mask: image for image, mask in list_pairs(ws.data_root, "train")}
shown_swapped = [mask for mask in report.swapped if mask in image_of][:3]
print(f"{len(report.swapped)} mask(s) with a left/right pair swapped; RELABEL_SWAPPED = {RELABEL_SWAPPED}")
if shown_swapped:  # look at the eyes' colours: the image's left eye should be r_eye's magenta, as in the rows below
    display(sample_grid([read_pair(image_of[mask], mask) for mask in shown_swapped],
                        titles=[f"swapped: {mask.name}" for mask in shown_swapped]))

# %% [markdown]
# ## What the labels look like
#
# Each row: the photo, its mask in the CelebAMask-HQ palette, and the mask over the photo. Notice that
# `l_eye` is the **subject's** left eye, on the image's right; a mirrored photo therefore needs its left and right
# labels swapped, which notebook 3 comes back to.

# %%
train_pairs = list_pairs(ws.data_root, "train")
shown = train_pairs[:4]
display(sample_grid([read_pair(image, mask) for image, mask in shown], titles=[image.name for image, _ in shown]))

# %% [markdown]
# ### Exercise: reading a mask
#
# The hand-out's masks are palette PNGs: each pixel stores a class index (0..18), and the palette only says how to
# colour it. Write `read_mask(path)` returning the H×W array of class indices, then check it. Until you write
# your own, it calls the kit's reference, so the notebook runs either way.

# %% tags=["exercise"]
from faceparse_lib.course import exercises


def read_mask(path):
    """The H×W array of class indices of a palette PNG mask."""
    return exercises.reference_read_mask(path)  # replace with your own code


print(exercises.check_read_mask(read_mask))

# %% [markdown]
# ## How uneven are the classes?
#
# `share` is the fraction of all labelled pixels; `image_share` the fraction of images in which the class
# appears at all. Background, skin and hair hold most of the pixels; a necklace (`neck_l`) or an earring
# (`ear_r`) holds a tiny fraction and appears in few images. The report's own CelebAMask-HQ shares stand
# beside ours for comparison.
#
# This is what a single **dataset-level mIoU** hides: every class weighs the same in the mean, but a model
# can label 99% of the pixels right and still score zero IoU on a class that covers 0.02% of them. Read the
# per-class table (notebook 4), not only the mean.

# %%
counts = count_pixels(FaceParsingDataset(ws.data_root, "train"), progress=True)
table = counts.to_frame()
reference = reference_counts()
table["report_share"] = reference["pixels"] / reference["pixels"].sum()
display(table.style.format({"share": "{:.4%}", "image_share": "{:.1%}", "report_share": "{:.4%}", "pixels": "{:,}"}))

# %%
chart = table.set_index("name")[["share", "report_share"]].plot.barh(
    logx=True, figsize=(8, 7), title="share of labelled pixels per class (log scale)", xlabel="share")
chart.invert_yaxis()

# %%
chart = table.set_index("name")["image_share"].plot.barh(
    figsize=(8, 7), title="share of training images in which each class appears", xlabel="share of images")
chart.invert_yaxis()

# %% [markdown]
# ## The rare classes up close
#
# Crops around the rarest classes: how few pixels they have, and how close they sit to larger classes
# (a necklace on the neck, an earring on the ear) that the model will confuse them with.

# %%
for rare in ("neck_l", "ear_r"):
    closeups = class_closeups(train_pairs, CLASSES.index(rare), limit=3, progress=True)
    print(f"{rare}: {len(closeups)} example(s) among the first images that contain it")
    if closeups:
        display(sample_grid(closeups, titles=[rare] * len(closeups)))

# %% [markdown]
# ## Questions
#
# 1. Which three classes hold the fewest pixels? Which of them appear in the fewest images, and why does that matter for a per-image score?
# 2. 67 masks have left and right swapped. Would you relabel them, drop them or keep them? What does each choice do to `l_eye` and `r_eye`?
# 3. Open a mask with `Image.open(path).convert('RGB')` and look at its values. Why must a mask never be resized with bilinear interpolation?
