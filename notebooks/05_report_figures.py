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
# [![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)](https://colab.research.google.com/github/faceparse-kit/faceparse-kit/blob/main/notebooks/05_report_figures.ipynb)

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
# # 5 · Report figures
#
# Every figure and table of the report, regenerated from the run's own files (`config.json`, `log.csv`,
# `best.pt`): the model structure with its parameter counts (Table 1), the class pixel counts and weights
# beside the report's (Table 2), the environment (Table 3), the loss curves (Figure 1), the validation curve of the
# score your rules rank by (Figure 2: the per-image F-score under the challenge, mIoU under the 2022 rules), its
# star on `best.pt`'s iteration, then the per-class scores (the per-class F-score first under the challenge), the
# normalised confusion matrix and sample predictions titled with their own score. File names follow the score
# (`fig2_fscore.png` or `fig2_miou.png`). Nothing is drawn by hand, so the report always matches the run.
#
# To compare runs (say weighted against unweighted), list several run dirs in `run_dirs`: their curves are
# overlaid on one figure.
#
# **You will learn** how every figure and table of the report comes from the run's own files, and what the
# report the course grades must contain; then you pack the NTULearn hand-in.

# %% [markdown]
# ## Your settings
#
# The same as in notebook 1 (keep them the same in every notebook: they name the data and the run dir).
# It draws the figures of the run notebook 3 trained, on a CPU is enough, and never trains.

# %%
DATA = ""                # folder (or zip) of the hand-out; "" = search your Drive (Colab) or data/ (elsewhere)
RUN_DIR = ""             # "" = faceparse-runs/RULES-PRESET-DATA on your Drive, the same in every notebook
RULES = "challenge"      # "challenge" (2025/26: F-score, < 1,821,085 parameters, no pretraining) or "seed" (2022)
PRESET = ""              # "" = the rules' GPU recipe; "first-run" = minutes on a T4; "laptop" = ~20 min on 2 CPU cores
DEMO = False             # True = the kit's synthetic faces instead of the course's data
RELABEL_SWAPPED = False  # True = train on a copy whose left/right-swapped masks are relabelled (notebook 1)

# %% [markdown]
# Who you are: the report's title line and the names of the PDF and the NTULearn zip.

# %%
NAME = ""    # your name, e.g. "Tan Ah Kow": the PDF is named NAME_MATRIC_project_1.pdf
MATRIC = ""  # your matric number, e.g. "U2212345A": the NTULearn zip is named with it

# %%
from IPython.display import Image, Markdown, display

from faceparse_lib.course import trained_run, workspace
from faceparse_lib.report import write_report

ws = workspace(DATA, RUN_DIR, RULES, PRESET, DEMO, RELABEL_SWAPPED, progress=True)
print(ws.summary())
run_dirs = [trained_run(ws)]  # the run notebook 3 trained; stops with what to do when there is none
print(f"report from {', '.join(map(str, run_dirs))} into {ws.report_dir}")

# %%
report_md = write_report(run_dirs, ws.report_dir, progress=True, name=NAME or None, matric=MATRIC or None)
print(f"wrote {report_md}")

# %% [markdown]
# ## The tables

# %%
for table in sorted((ws.report_dir / "tables").glob("*.md")):
    display(Markdown(f"**{table.stem}**\n\n" + table.read_text()))

# %% [markdown]
# ## The figures

# %%
for figure in sorted((ws.report_dir / "figures").glob("*.png")):
    print(figure.name)
    display(Image(filename=figure))

# %% [markdown]
# ## The report you hand in, and the NTULearn zip
#
# `report.tex`, written above beside `figures/` and `tables/`, is the skeleton of the report the course grades
# (at most 5 A4 pages, Arial 10): the model and its parameter count, the loss functions, the processing steps, the
# training curves, the holdout F-score and per-class results, and your experiments. Every red *[To write: ...]* is
# a sentence only you can write, such as your test F-score from the leaderboard. Upload the report folder to
# Overleaf (or run `pdflatex report.tex`), write those sentences, and save the PDF in the report folder as
# `NAME_MATRIC_project_1.pdf` (or leave pdflatex's `report.pdf` there). Save a screenshot of the test phase's
# leaderboard there as `leaderboard.png`. Once you have edited `report.tex`, running this notebook again never
# overwrites it: the fresh skeleton goes to `report.new.tex` beside it.
#
# The cell below packs the NTULearn hand-in, `MATRIC.zip`, into the report folder. It holds the report, the
# screenshot, the test masks in `masks/`, your code (set `CODE` to the notebooks you ran and any scripts), the
# kit's code, the checkpoint and `Readme.txt`. It lists what is still missing: run it again once you have added it.

# %%
from faceparse_lib.course import ntulearn_hand_in

REPORT_PDF = ""  # "" = the report folder's NAME_MATRIC_project_1.pdf, else its report.pdf
SCREENSHOT = ""  # "" = the report folder's leaderboard.png (or .jpg)
CODE = []        # your notebooks and scripts, e.g. ["/content/drive/MyDrive/Colab Notebooks/03_training.ipynb"]
print(ntulearn_hand_in(ws, NAME, MATRIC, REPORT_PDF, SCREENSHOT, CODE))

# %% [markdown]
# ## Questions
#
# 1. Which two figures best support your report's main claim? Which table could you drop to stay within five pages?
# 2. Compare two of your runs in Table 4: is the difference larger than the seed-to-seed spread you measured?
