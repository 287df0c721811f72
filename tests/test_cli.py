import json
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

from faceparse_lib.cli import build_parser, command_names, main


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
    out = capsys.readouterr().out
    assert "2 problem(s)" in out
    assert "00001.png: label 77 outside 0..18 and 255" in out and "00003.jpg: no mask" in out


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
