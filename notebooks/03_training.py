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
# [![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)](https://colab.research.google.com/github/faceparse-kit/faceparse-kit/blob/main/notebooks/03_training.ipynb)

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
# # 3 · Training
#
# One config cell, one call to `train`. Everything that defines the run is a field of `TrainConfig`, saved
# as `config.json` in the run dir beside `log.csv` and the checkpoints `last.pt` and `best.pt`.
#
# **On Colab** the run dir is on your Google Drive, and `train` checkpoints every 1,000 iterations. When the
# session disconnects, open the notebook again and *Run all*: `train` finds `last.pt` and resumes exactly
# where it stopped (same batches, same learning rate). It also stops cleanly, with a checkpoint, before
# Colab's 12-hour limit.
#
# **You will learn** what defines a training run (one `TrainConfig`), what each augmentation does and why the
# flip must swap left and right, how the learning rate is scheduled, how to read the curves, and when to stop.

# %% [markdown]
# ## Your settings
#
# The same as in notebook 1 (keep them the same in every notebook: they name the data and the run dir). Training with
# the `challenge` or `report` preset needs a GPU: on a CPU runtime this notebook stops and says so.

# %%
DATA = ""                # folder (or zip) of the hand-out; "" = search your Drive (Colab) or data/ (elsewhere)
RUN_DIR = ""             # "" = faceparse-runs/RULES-PRESET-DATA on your Drive, the same in every notebook
RULES = "challenge"      # "challenge" (2025/26: F-score, < 1,821,085 parameters, no pretraining) or "seed" (2022)
PRESET = ""              # "" = the rules' GPU recipe; "first-run" = minutes on a T4; "laptop" = ~20 min on 2 CPU cores
DEMO = False             # True = the kit's synthetic faces instead of the course's data
RELABEL_SWAPPED = False  # True = train on a copy whose left/right-swapped masks are relabelled (notebook 1)

# %%
# %matplotlib inline
import torch
from IPython.display import display

from faceparse_lib.course import prepare_run_dir, workspace
from faceparse_lib.data.rules import METRIC_NAMES
from faceparse_lib.models.checkpoint import read_checkpoint
from faceparse_lib.data import list_pairs, read_pair
from faceparse_lib.data.transforms import swap_left_right
from faceparse_lib.report.tables import best_row_class_table
from faceparse_lib.training import final_fit_config, read_log, train
from faceparse_lib.visual import loss_curves, sample_grid, score_curve

ws = workspace(DATA, RUN_DIR, RULES, PRESET, DEMO, RELABEL_SWAPPED, progress=True)
print(ws.summary())
ws.require_training_device()  # stops here, before anything is trained, when the preset needs a GPU and none is there

# %% [markdown]
# ## The config cell
#
# The **rules** come first: `challenge` (today's course: a model under 1,821,085 parameters, trained from
# scratch, ranked by the per-image F-score, validated on 100 training images held out because val has no
# masks) or `seed` (the 2022 edition of the seed report: ImageNet weights, mIoU). Set FACEPARSE_RULES=seed
# for the 2022 edition; `train` refuses a config that breaks its rules before any work.
#
# `ws.train_config()` is the preset (`challenge`: a model under the cap at 512 px, flip and crop, CE + Dice
# and an EMA on a T4; `report`: the seed report's DeepLabV3+ schedule; `cpu`: a small model at 128 px that
# trains in minutes) with the rules, data and run dir filled in. Override any field here, for example
# `ws.train_config(iterations=10_000, loss="ce+lovasz")`. The holdout is drawn from its own seed (`holdout_seed`), so a
# run with another training `seed` validates on the same 100 images and the two scores compare.

# %%
cfg = ws.train_config()
print(f"rules {cfg.rules}; model {cfg.model}, {cfg.iterations:,} iterations of batch {cfg.batch_size}, "
      f"{cfg.optimizer} lr {cfg.lr}, crop {cfg.crop_size}, input size {cfg.input_size or 'as stored'}, "
      f"loss {cfg.loss} with class weights {cfg.class_weights}, device {cfg.device}"
      + (f"; validating on {cfg.holdout} training images held out" if cfg.holdout else ""))
print(f"run dir: {cfg.run_dir}")

# %% [markdown]
# ## What the config means, in three pictures
#
# The learning rate climbs during the warm-up (large steps on random weights diverge), then decays to almost
# nothing, so the last iterations only polish. The parameters: the course counts every one of them against the
# cap, and most sit in the encoder and the decoder. The augmentation: every training step sees another random
# variant of each face (cropped and mirrored in the `challenge` preset; other presets also resize, rotate or
# recolour), with its mask following pixel for pixel. This slows the network in memorising 900 faces. More is not
# always better: on the real hand-out, random resize, rotation and recolouring made short runs learn more slowly
# (README, "Recipes on real faces").

# %%
from faceparse_lib.data.rules import rule_set
from faceparse_lib.report.tables import parts_of_model
from faceparse_lib.training.loop import training_augmentation
from faceparse_lib.visual.lessons import augmentation_samples, learning_rate_schedule, parameter_budget

display(learning_rate_schedule(cfg))
parts = [(part, count) for part, _, count in parts_of_model(cfg.model, cfg.num_classes)]
display(parameter_budget(parts, rule_set(cfg.rules).max_parameters, cfg.model))
face, face_mask = read_pair(*list_pairs(ws.data_root, "train")[0])
display(augmentation_samples(face, face_mask, training_augmentation(cfg), input_size=cfg.input_size))

# %% [markdown]
# ## Why the flip must swap left and right
#
# Augmentation mirrors half of the training images. A mirrored left eye is on the image's right, so it is
# now a **right** eye: the flip must swap `l_eye`/`r_eye`, `l_brow`/`r_brow` and `l_ear`/`r_ear`, or the
# network is taught that both sides are both classes and the l/r IoUs collapse. Middle row: a plain mirror
# (wrong colours on the eyes, brows and ears); bottom row: the kit's flip.

# %%
image, mask = read_pair(*list_pairs(ws.data_root, "train")[0])
mirrored_image, mirrored_mask = image[:, ::-1].copy(), mask[:, ::-1].copy()
swapped_mask = swap_left_right(torch.from_numpy(mirrored_mask)).numpy()
display(sample_grid([(image, mask), (mirrored_image, mirrored_mask), (mirrored_image, swapped_mask)],
                    titles=["original", "mirror only (wrong)", "mirror + swap (right)"]))

# %% [markdown]
# ### Exercise: a flip that keeps left and right
#
# Write `flip(image, mask)`: mirror a C×H×W image tensor and its H×W mask left to right, and swap each
# left/right class pair (`faceparse_lib.classes.FLIP_PAIRS`) in the mask. Check it against the kit's `hflip`.

# %% tags=["exercise"]
from faceparse_lib.course import exercises


def flip(image, mask):
    """Mirror image (C×H×W) and mask (H×W) left to right, with the left/right classes swapped."""
    return exercises.reference_hflip(image, mask)  # replace with your own code


print(exercises.check_hflip(flip))

# %% [markdown]
# ## Train
#
# The progress bar shows the loss and, after each validation, the validation scores (the F-score first);
# `log.csv` gets a row every `log_interval` iterations. Interrupt with the stop button: the run saves `last.pt` and this cell resumes it.

# %%
prepare_run_dir(ws, cfg, progress=True)  # the class weights of notebook 2 (counted now if missing)
run_dir = train(cfg)  # notebooks 4 and 5 open this run dir

# %% [markdown]
# ## Curves
#
# Falling training loss with a flat or rising val loss means overfitting (the seed run overfit after about
# 30,000 iterations); the checkpoint kept as `best.pt` is the one with the best validation score by your rules
# (the per-image F-score under the challenge, mIoU under the 2022 rules), not the last.

# %%
log = read_log(run_dir)
display(loss_curves(log))  # Figure 1 of the report: the main head's loss, train and val, like with like

# %%
best_iteration = read_checkpoint(run_dir / "best.pt")["iteration"]  # as best.pt itself says
per_class = best_row_class_table(log, ws.metric, iteration=best_iteration)
display(score_curve(log, ws.metric, best_iteration=best_iteration))  # Figure 2: the star marks best.pt
best = log[(log["kind"] == "val") & (log["iteration"] == per_class.attrs["iteration"])].iloc[0]
print(f"best.pt: val {METRIC_NAMES[ws.metric]} {best[ws.metric]:.4f} (mIoU {best['miou']:.4f}) at iteration "
      f"{int(best['iteration']):,}; trained {int(log['iteration'].max()):,} iterations in "
      f"{log['seconds'].max() / 60:.1f} min")

# %% [markdown]
# ### Overfitting on 900 images
#
# The holdout's loss and its score side by side. With 900 training faces the model can learn them by heart: the
# training loss keeps falling while the holdout loss turns up. The score often keeps rising a while longer, since
# the loss also punishes confident mistakes the score does not count. `best.pt` follows the score, never the loss.

# %%
from faceparse_lib.visual.lessons import overfitting

display(overfitting(log, ws.metric))

# %% [markdown]
# Per class, at `best.pt`: under the challenge the **F-score** column is what the leaderboard averages (each class's
# F over the images that hold it), IoU beside it. Worst first: these are the classes to work on.

# %%
display(per_class.style.format("{:.3f}"))

# %% [markdown]
# ## Optional: the final fit on all 1,000 pairs
#
# The holdout run chose the recipe and how long to train (the iteration of `best.pt`). The best public results
# then trained once more on **every** training pair, holdout included: 11 % more data, and no way left to
# validate, so `best.pt` of that run is simply its last checkpoint. Set `FINAL_FIT = True` and run this cell
# (after the holdout run has finished); it trains into the holdout run's dir with `-final` added, and notebook 4
# then hands in that model (its hand-in says it is a final fit). Notebook 4 still scores the holdout run.

# %%
FINAL_FIT = False
if FINAL_FIT:
    final_cfg = final_fit_config(run_dir)
    print(f"final fit: {final_cfg.iterations:,} iterations on every training pair into {final_cfg.run_dir}")
    prepare_run_dir(ws, final_cfg, progress=True)  # notebook 4 hands this model in
    final_run_dir = train(final_cfg)

# %% [markdown]
# ## Questions
#
# 1. The loss goes down but the holdout F-score stops rising: what is happening, and which setting of the config would you change first?
# 2. Why does the flip swap left and right classes, but a rotation does not need to?
# 3. Where do the model's parameters go (encoder, decoder, head)? Which part would you shrink to fit a larger decoder under the cap?
