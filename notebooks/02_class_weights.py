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
# [![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)](https://colab.research.google.com/github/faceparse-kit/faceparse-kit/blob/main/notebooks/02_class_weights.ipynb)

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
# # 2 · Class weights
#
# Cross-entropy averages the loss over pixels, so a class contributes to the gradient in proportion to its
# pixel count. Background, skin and hair (over 80% of the pixels) dominate; a necklace, under 0.02%, barely
# moves the weights, and the network learns it is cheaper never to predict it. A **class weight** `w_c`
# multiplies each pixel's loss by its class's weight, so rare classes count for more.
#
# The seed report used `w_c = log2(N / n_c)` (`n_c`: pixels of class c in the training masks, `N`: all
# pixels). The logarithm keeps the range modest (1.7 to 12.7 on CelebAMask-HQ); plain inverse frequency
# would give the necklace thousands of times the weight of the background and make training unstable.
#
# **You will learn** why plain cross-entropy neglects small classes, what a class weight does, how the
# common weighting rules differ, and how to write the log2 rule yourself.

# %% [markdown]
# ## Your settings
#
# The same as in notebook 1 (keep them the same in every notebook: they name the data and the run dir).

# %%
DATA = ""                # folder (or zip) of the hand-out; "" = search your Drive (Colab) or data/ (elsewhere)
RUN_DIR = ""             # "" = faceparse-runs/RULES-PRESET-DATA on your Drive, the same in every notebook
RULES = "challenge"      # "challenge" (2025/26: F-score, < 1,821,085 parameters, no pretraining) or "seed" (2022)
PRESET = ""              # "" = the rules' GPU recipe; "first-run" = minutes on a T4; "laptop" = ~20 min on 2 CPU cores
DEMO = False             # True = the kit's synthetic faces instead of the course's data
RELABEL_SWAPPED = False  # True = train on a copy whose left/right-swapped masks are relabelled (notebook 1)

# %%
# %matplotlib inline
import pandas as pd
from IPython.display import display

from faceparse_lib.course import save_class_weights, training_masks, workspace
from faceparse_lib.data.stats import WEIGHT_METHODS, class_weights, count_pixels, reference_counts, weights_record

ws = workspace(DATA, RUN_DIR, RULES, PRESET, DEMO, RELABEL_SWAPPED, progress=True)
print(ws.summary())
print(f"weights for training: {ws.weights_method} (FACEPARSE_WEIGHTS)")

# %% [markdown]
# ## Counts on our training masks beside the report's Table 2
#
# The report counted its 5,000 training masks (N = 1,310,720,000 pixels). Its weights are reproduced from
# its own counts in `log2 (report counts)`, which must equal its printed column `report_weight`.

# %% [markdown]
# Count only the masks you will train on. Under the challenge rules 100 training pairs are held out to validate
# on (val has no masks); counting them in would let the validation images shape the loss. `training_masks` draws
# that holdout once and saves it in the run dir (`holdout.json`), so notebook 3 holds out the same images.

# %%
masks = training_masks(ws)
print(f"counting {len(masks):,} training masks (the holdout left out) for run dir {ws.run_dir}")
counts = count_pixels(masks, progress=True)
reference = reference_counts()
table = pd.DataFrame({
    "name": reference["name"],
    "pixels": counts.pixels,
    "share": counts.frequency,
    "report pixels": reference["pixels"],
    "report share": reference["pixels"] / reference["pixels"].sum(),
    "report_weight": reference["report_weight"],
    "log2 (report counts)": class_weights(reference["pixels"].to_numpy(), "log2").numpy(),
})
display(table.style.format({"pixels": "{:,}", "report pixels": "{:,}", "share": "{:.4%}", "report share": "{:.4%}",
                            "report_weight": "{:.4f}", "log2 (report counts)": "{:.4f}"}))

# %% [markdown]
# ## Every weighting rule side by side
#
# The rules differ in how hard they push the rare classes:

# %%
for method, (_, rule) in WEIGHT_METHODS.items():
    print(f"{method:>8}: {rule}")
weights = pd.DataFrame({method: class_weights(counts, method).numpy() for method in WEIGHT_METHODS},
                       index=reference["name"])
weights["report (log2)"] = reference["report_weight"].to_numpy()
display(weights.style.format("{:.3f}"))

# %% [markdown]
# Each rule on its own scale, divided by its mean weight so the shapes compare: `inverse` explodes on the
# rarest classes, `log2` and `enet` stay within a small factor.

# %%
chart = (weights / weights.mean()).plot.barh(logx=True, figsize=(8, 8), xlabel="weight / mean weight (log scale)",
                                             title="class weights by rule, normalised")
chart.invert_yaxis()

# %% [markdown]
# ### Weighted against unweighted: who the loss listens to
#
# Unweighted, each class pulls on the loss in proportion to its pixels: the background and the skin decide almost
# everything, and a necklace or an earring is a rounding error. Weighted, a class pulls with its pixels times its
# weight. Grey: unweighted; blue: your rule. What that does to the rare classes' F-scores after training is
# measured in the README ("Recipes on real faces", the `unweighted` recipe).

# %%
from faceparse_lib.visual.lessons import loss_shares

display(loss_shares(counts, class_weights(counts, ws.weights_method or "log2"), ws.weights_method or "log2"))

# %% [markdown]
# ### Exercise: the log2 rule
#
# Write `log2_weights(pixels)`: from an array of 19 pixel counts, return `w_c = log2(N / n_c)`, then check it
# against `class_weights`.

# %% tags=["exercise"]
from faceparse_lib.course import exercises


def log2_weights(pixels):
    """w_c = log2(N / n_c) for per-class pixel counts (a NumPy array of 19)."""
    return exercises.reference_class_weights(pixels)  # replace with your own code


print(exercises.check_class_weights(log2_weights))

# %% [markdown]
# ## Save the chosen weights for training
#
# Training reads `class_weights.json` in its run dir (the record below: the method, the counts it came from
# and the weights in class order); notebook 3 uses it. Set FACEPARSE_WEIGHTS to try another rule (use a
# new FACEPARSE_RUN_DIR for it: a run keeps the weights it started with).

# %%
if ws.weights_method is None:
    print("FACEPARSE_WEIGHTS=none: training uses unweighted loss terms; nothing to save.")
else:
    record = weights_record(counts, class_weights(counts, ws.weights_method).tolist(), ws.weights_method, "max",
                            masks=masks)
    print(f"class weights for training ({ws.weights_method}): {save_class_weights(ws, record)}")

# %% [markdown]
# ## Questions
#
# 1. Plot the four rules' weights for the necklace against the background. Which rule would you expect to train unstably, and why?
# 2. The weights are counted on the training pairs only, never on the holdout. What would go wrong if they were counted on all 1,000?
# 3. Train the `cpu` preset with `FACEPARSE_WEIGHTS=none` and compare the rare classes' F-scores with the weighted run.
