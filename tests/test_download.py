"""download: locating the zip (Drive or local), unpacking it once, preparing it, and the CLI around it."""

from __future__ import annotations

import sys
import types
import zipfile
from pathlib import Path

import pytest

from fake_celebamask import write_fake_download, zip_folder
from faceparse_lib.cli import main
from faceparse_lib.data.layout import DatasetError
from faceparse_lib.data.check import check_dataset
from faceparse_lib.data.download import (
    OFFICIAL_ZIP,
    download_official_zip,
    find_raw_root,
    find_zip,
    get_celebamask,
    locate,
    unpack,
)

ORIG = {0: 10, 1: 162770, 2: 182637}  # one image in each official split


@pytest.fixture
def official_zip(tmp_path):
    """A fake CelebAMask-HQ.zip sitting two folders deep in a fake Google Drive."""
    raw = write_fake_download(tmp_path / "src", ORIG)
    drive = tmp_path / "MyDrive" / "datasets" / "faces"
    drive.mkdir(parents=True)
    return zip_folder(raw, drive / OFFICIAL_ZIP)


def stamps(root):
    return {p: p.stat().st_mtime_ns for p in root.rglob("*") if p.is_file()}


def test_find_zip_searches_folders_two_levels_down(official_zip, tmp_path):
    assert find_zip([tmp_path / "nowhere", tmp_path / "MyDrive"]) == official_zip
    assert find_zip([official_zip]) == official_zip
    assert find_zip([tmp_path / "MyDrive"], depth=1) is None


def test_unpack_once_then_skip(official_zip, tmp_path):
    dest = unpack(official_zip, tmp_path / "work")
    raw = find_raw_root(dest)
    assert raw == dest / "CelebAMask-HQ" and (raw / "CelebA-HQ-img" / "2.jpg").is_file()
    before = stamps(dest)
    unpack(official_zip, tmp_path / "work")
    assert stamps(dest) == before


def test_interrupted_unpack_resumes_and_redoes_the_half_written_file(official_zip, tmp_path):
    dest = unpack(official_zip, tmp_path / "work")
    next(dest.glob(".*.unpacked")).unlink()  # as if killed before the end
    half = dest / "CelebAMask-HQ" / "CelebA-HQ-img" / "1.jpg"
    full_bytes = half.read_bytes()
    half.write_bytes(full_bytes[:50])
    untouched = dest / "CelebAMask-HQ" / "CelebA-HQ-img" / "0.jpg"
    mtime = untouched.stat().st_mtime_ns
    unpack(official_zip, tmp_path / "work")
    assert half.read_bytes() == full_bytes and untouched.stat().st_mtime_ns == mtime


def test_broken_zip_is_an_error_naming_it(tmp_path):
    broken = tmp_path / OFFICIAL_ZIP
    broken.write_bytes(b"PK\x03\x04 cut short")
    with pytest.raises(DatasetError, match=rf"{OFFICIAL_ZIP}: not a complete zip file"):
        unpack(broken, tmp_path / "work")


def test_get_celebamask_from_a_drive_folder_unpacks_and_prepares(official_zip, tmp_path):
    out = get_celebamask(tmp_path / "MyDrive", tmp_path / "data" / "celebamask", size=32, workers=0)
    assert out == tmp_path / "data" / "celebamask"
    assert [p.name for s in ("train", "val", "test") for p in (out / s / "images").iterdir()] == [
        "00000.jpg", "00001.jpg", "00002.jpg"
    ]
    assert check_dataset(out).ok
    assert (tmp_path / "data" / "CelebAMask-HQ-download" / "CelebAMask-HQ").is_dir()
    before = stamps(tmp_path / "data")
    get_celebamask(official_zip, out, size=32, workers=0)  # second time: nothing unpacked or written again
    assert stamps(tmp_path / "data") == before


def test_get_celebamask_takes_an_unpacked_download_or_a_course_folder_as_it_is(tmp_path):
    raw = write_fake_download(tmp_path / "src", ORIG)
    out = get_celebamask(tmp_path / "src", tmp_path / "out", size=32, workers=0)
    assert out == tmp_path / "out" and len(list(out.rglob("*.png"))) == 3
    assert locate(tmp_path / "out", tmp_path / "work") == ("course", tmp_path / "out")
    assert locate(raw, tmp_path / "work") == ("official", raw)
    assert get_celebamask(tmp_path / "out", tmp_path / "elsewhere") == tmp_path / "out"


def test_course_layout_zip_is_unpacked_and_used_without_preparing(tmp_path):
    course = tmp_path / "course_set"
    (course / "train" / "images").mkdir(parents=True)
    (course / "train" / "masks").mkdir()
    archive = zip_folder(course, tmp_path / "course_set.zip")
    kind, root = locate(archive, tmp_path / "work")
    assert kind == "course" and root == tmp_path / "work" / "course_set" / "course_set"


def test_nothing_found_says_where_it_looked(tmp_path):
    (tmp_path / "empty").mkdir()
    with pytest.raises(DatasetError, match=r"empty: no CelebAMask-HQ\.zip"):
        get_celebamask(tmp_path / "empty", tmp_path / "out")


def test_download_without_gdown_says_what_to_do(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "gdown", None)  # import gdown -> ImportError, whether installed or not
    with pytest.raises(RuntimeError, match=r"gdown.*download CelebAMask-HQ\.zip yourself"):
        download_official_zip(tmp_path)
    assert not list(tmp_path.iterdir())


def test_download_uses_gdown_and_lands_atomically(tmp_path, monkeypatch, official_zip):
    calls = []

    def fake_download(url, output, quiet=False):
        calls.append(url)
        with open(output, "wb") as f:
            f.write(official_zip.read_bytes())
        return output

    monkeypatch.setitem(sys.modules, "gdown", types.SimpleNamespace(download=fake_download))
    target = download_official_zip(tmp_path / "dl")
    assert target == tmp_path / "dl" / OFFICIAL_ZIP and zipfile.is_zipfile(target)
    assert calls == ["https://drive.google.com/uc?id=1badu11NqxGf6qM3PTTooQDJvQbejgbTv"]
    assert sorted(p.name for p in (tmp_path / "dl").iterdir()) == [OFFICIAL_ZIP]
    download_official_zip(tmp_path / "dl")
    assert len(calls) == 1  # already there


def test_failed_download_leaves_no_zip(tmp_path, monkeypatch):
    def quota_exceeded(url, output, quiet=False):
        Path(output).write_bytes(b"<html>quota</html>")  # gdown may leave a partial file behind
        raise OSError("Too many users have viewed or downloaded this file recently")

    monkeypatch.setitem(sys.modules, "gdown", types.SimpleNamespace(download=quota_exceeded))
    with pytest.raises(RuntimeError, match="daily quota"):
        download_official_zip(tmp_path)
    assert not list(tmp_path.iterdir())


def test_prepare_command_on_a_zip(official_zip, tmp_path, capsys):
    out = tmp_path / "data" / "out"
    code = main(["prepare", str(official_zip), str(out), "--workers", "0", "--size", "32", "--no-progress",
                 "--subset-train", "1", "--splits", "train", "val"])
    printed = capsys.readouterr().out
    assert code == 0, printed
    assert "train: 1 of 1 images with masks, ok (official split: 24,183)" in printed
    assert "val: 1 of 1" in printed and not (out / "test").exists()


def test_prepare_command_reports_errors_without_a_traceback(tmp_path, capsys):
    (tmp_path / "empty").mkdir()
    assert main(["prepare", str(tmp_path / "empty"), str(tmp_path / "out"), "--no-progress"]) == 1
    err = capsys.readouterr().err
    assert "error:" in err and "Traceback" not in err
