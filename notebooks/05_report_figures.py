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
import os
import sys

REPOSITORY = "https://github.com/faceparse-kit/faceparse-kit"
if "google.colab" in sys.modules or any(name.startswith("COLAB_") for name in os.environ):
    import importlib
    import subprocess

    from google.colab import drive

    drive.mount("/content/drive")
    kit = "/content/drive/MyDrive/faceparse-kit"
    if not os.path.isfile(os.path.join(kit, "pyproject.toml")):
        kit = "/content/faceparse-kit"
        if not os.path.isdir(kit):
            subprocess.run(["git", "clone", "-q", "--depth", "1", REPOSITORY, kit], check=True)
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
# beside the report's (Table 2), the environment (Table 3), the loss curves (Figure 1), the val mIoU curve
# with the best iteration marked (Figure 2), then per-class IoU and F1, the normalised confusion matrix and
# sample predictions. Nothing is drawn by hand, so the report always matches the run.
#
# To compare runs (say weighted against unweighted), list several run dirs in `run_dirs`: their curves are
# overlaid on one figure.

# %%

from IPython.display import Image, Markdown, display

from faceparse_lib.course import ensure_trained_run, workspace
from faceparse_lib.report import write_report

ws = workspace()
print(ws.summary())
run_dirs = [ensure_trained_run(ws)]  # trains first if notebook 3 has not
print(f"report from {', '.join(map(str, run_dirs))} into {ws.report_dir}")

# %%
report_md = write_report(run_dirs, ws.report_dir, progress=True)
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
