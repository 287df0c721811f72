"""The CLI: every command registered and documented, help without heavy imports, one way to fail on bad input."""

import importlib.util
import json
import pkgutil
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

import faceparse_lib.cli.commands
from faceparse_lib.cli import COMMANDS, build_parser, command_names, main


def test_every_sub_command_has_help(capsys):
    names = command_names()
    assert {"synth", "check", "bench", "demo"} <= set(names)
    for name in names:
        with pytest.raises(SystemExit) as exit_info:
            main([name, "--help"])
        assert exit_info.value.code == 0
        assert f"usage: python -m faceparse_lib {name}" in capsys.readouterr().out


def test_unknown_command_is_refused(capsys):
    with pytest.raises(SystemExit) as exit_info:
        build_parser().parse_args(["frobnicate"])
    assert exit_info.value.code == 2
    assert "invalid choice" in capsys.readouterr().err


def test_synth_then_check_succeeds(tmp_path, capsys):
    assert main(["synth", str(tmp_path), "--train", "3", "--val", "2", "--size", "64"]) == 0
    assert "wrote 5 synthetic faces" in capsys.readouterr().out
    assert main(["check", str(tmp_path), "--no-progress"]) == 0
    out = capsys.readouterr().out
    assert "train: 3 images, 3 masks" in out and "0 problem(s)" in out


def test_check_exits_non_zero_and_names_each_bad_file(tmp_path, capsys):
    main(["synth", str(tmp_path), "--train", "3", "--val", "2", "--size", "64"])
    Image.fromarray(np.full((64, 64), 77, dtype=np.uint8)).save(tmp_path / "train" / "masks" / "00001.png")
    (tmp_path / "val" / "masks" / "00003.png").unlink()
    capsys.readouterr()
    assert main(["check", str(tmp_path), "--no-progress"]) == 1
    captured = capsys.readouterr()
    assert "2 problem(s)" in captured.out
    assert "00001.png: label 77 outside 0..18 and 255" in captured.out and "00003.jpg: no mask" in captured.out
    assert captured.err.startswith("error: ") and "(and 1 more)" in captured.err


def test_python_dash_m_entry_point_runs():
    result = subprocess.run([sys.executable, "-m", "faceparse_lib", "--help"], capture_output=True, text=True)
    assert result.returncode == 0 and "synth" in result.stdout


def test_demo_writes_and_checks_a_synthetic_set(tmp_path, capsys):
    assert main(["demo", "--out", str(tmp_path), "--train", "4", "--val", "2", "--size", "64"]) == 0
    out = capsys.readouterr().out
    assert "demo finished" in out and "0 problem(s)" in out
    assert "deeplabv3plus_r50  43,589,878 parameters" in out
    assert len(list((tmp_path / "data" / "train" / "masks").glob("*.png"))) == 4
    record = json.loads((tmp_path / "weights.json").read_text())
    assert record["method"] == "log2" and record["n_images"] == 4 and len(record["weights"]) == 19


def test_every_command_module_is_registered_in_workflow_order():
    modules = {m.name for m in pkgutil.iter_modules(faceparse_lib.cli.commands.__path__) if not m.name.startswith("_")}
    assert {path.rsplit(".", 1)[-1] for path in COMMANDS.values()} == modules  # names may differ: convert-labels
    assert all(importlib.util.find_spec(path) is not None for path in COMMANDS.values())
    names = command_names()
    assert names.index("synth") < names.index("check") < names.index("weights") < names.index("train") < names.index("evaluate")


def _modules_loaded_by(argv):
    """Run the CLI on `argv` in a fresh interpreter; return the faceparse_lib.cli.commands.* and heavy modules it imported."""
    code = (
        "import sys\nfrom faceparse_lib.cli import main\n"
        f"try:\n    main({argv!r})\nexcept SystemExit:\n    pass\n"
        "heavy = ('torch', 'pandas', 'timm', 'segmentation_models_pytorch', 'matplotlib')\n"
        "print(sorted(m for m in sys.modules if m.startswith('faceparse_lib.cli.commands.') or m in heavy))"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return result.stdout.strip().splitlines()[-1]


def test_help_imports_no_command_and_nothing_heavy():
    assert _modules_loaded_by(["--help"]) == "[]"


def test_command_help_imports_only_that_command():
    assert _modules_loaded_by(["check", "--help"]) == "['faceparse_lib.cli.commands.check']"


# One bad input per command, and a fragment of the message it must give.
BAD_INPUTS = {
    "synth": (lambda t: ["synth", str(t / "out"), "--size", "0"], "size"),
    "prepare": (lambda t: ["prepare", str(t / "missing"), str(t / "out"), "--no-progress"], "no CelebAMask-HQ.zip"),
    "check": (lambda t: ["check", str(t / "missing"), "--no-progress"], "missing: folder not found"),
    "weights": (lambda t: ["weights", str(t / "missing"), "--no-progress"], "missing: folder not found"),
    "models": (lambda t: ["models", "no_such_model"], "no_such_model"),
    "train": (lambda t: ["train", "--data-root", str(t / "missing"), "--run-dir", str(t / "run")], "missing"),
    "evaluate": (lambda t: ["evaluate", str(t / "missing"), str(t / "missing")], "missing"),
    "predict": (lambda t: ["predict", str(t / "missing"), str(t / "missing"), str(t / "out")], "missing"),
    "framing": (lambda t: ["framing", str(t / "missing")], "missing"),
    "score": (lambda t: ["score", str(t / "missing"), str(t / "missing")], "missing"),
    "submission": (lambda t: ["submission", str(t / "missing"), str(t / "missing"), str(t / "out.zip")], "missing"),
    "convert-labels": (lambda t: ["convert-labels", str(t / "missing"), str(t / "out"), "--from", "celebamask"], "missing"),
    "figures": (lambda t: ["figures", str(t / "missing")], "missing"),
    "notebooks": (lambda t: ["notebooks", "check", "no_such_notebook"], "no_such_notebook"),
    "demo": (lambda t: ["demo", "--out", str(t / "a_file" / "demo")], "a_file"),
    "bench": (lambda t: ["bench", "no_such_suite"], "no_such_suite"),
    "export": (lambda t: ["export", str(t / "missing"), str(t / "out.onnx")], "missing"),
    "recipes": (lambda t: ["recipes", str(t / "missing"), "--recipes", "no_such_recipe"], "no_such_recipe"),
}


def test_every_command_has_a_bad_input_case():
    assert set(BAD_INPUTS) == set(COMMANDS)


@pytest.mark.parametrize("name", list(BAD_INPUTS))
def test_bad_input_is_one_error_line_on_stderr_and_exit_1(name, tmp_path, capsys):
    (tmp_path / "a_file").write_text("not a folder")
    make_argv, fragment = BAD_INPUTS[name]
    assert main(make_argv(tmp_path)) == 1
    err = capsys.readouterr().err
    assert "error: " in err and fragment in err and "Traceback" not in err


def test_bad_input_in_a_real_process_shows_no_traceback(tmp_path):
    result = subprocess.run([sys.executable, "-m", "faceparse_lib", "check", str(tmp_path / "missing")],
                            capture_output=True, text=True)
    assert result.returncode == 1
    assert result.stderr.startswith("error: ") and "Traceback" not in result.stderr


def test_export_without_the_optional_packages_names_the_extra_after_checking_its_inputs(tmp_path, capsys, monkeypatch):
    from fake_run import make_fake_run  # a run dir with a real checkpoint

    monkeypatch.setitem(sys.modules, "onnxscript", None)  # as if the export extra were not installed
    assert main(["export", str(tmp_path / "missing"), str(tmp_path / "out.onnx")]) == 1
    assert "missing" in capsys.readouterr().err
    run_dir = make_fake_run(tmp_path / "run", class_weights=None)
    assert main(["export", str(run_dir), str(tmp_path / "out.onnx")]) == 1
    assert "faceparse-lib[export]" in capsys.readouterr().err
