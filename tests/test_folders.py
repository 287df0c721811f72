"""score_folders and the score command: any folder of predicted masks against the true ones, problems by file."""

import numpy as np
import pytest
from PIL import Image

from faceparse_lib.cli import main
from faceparse_lib.evaluation.fscore import FScore
from faceparse_lib.evaluation.folders import score_folders
from faceparse_lib.evaluation.masks import write_mask


@pytest.fixture
def folders(tmp_path):
    """Five true masks; predictions: two right, one half wrong, one RGB, one of the wrong size, one missing, one extra."""
    rng = np.random.default_rng(0)
    truth_dir, pred_dir = tmp_path / "true", tmp_path / "pred"
    truths = {f"img{i}": rng.integers(0, 19, size=(16, 12), dtype=np.uint8) for i in range(6)}
    for stem, mask in truths.items():
        write_mask(mask, truth_dir / f"{stem}.png")
    write_mask(truths["img0"], pred_dir / "img0.png")
    write_mask(truths["img1"], pred_dir / "img1.png")
    half = truths["img2"].copy()
    half[:8] = 0
    write_mask(half, pred_dir / "img2.png")
    Image.fromarray(np.zeros((16, 12, 3), dtype=np.uint8)).save(pred_dir / "img3.png")  # RGB: the classic mistake
    write_mask(np.zeros((8, 12), dtype=np.uint8), pred_dir / "img4.png")
    write_mask(truths["img0"], pred_dir / "other.png")  # img5 missing, other extra
    return pred_dir, truth_dir, truths, half


def test_good_predictions_are_scored_and_every_bad_one_is_named(folders):
    pred_dir, truth_dir, truths, half = folders
    result = score_folders(pred_dir, truth_dir)
    assert result.stems == ["img0", "img1", "img2"] and result.expected == 6
    expected = FScore()
    for stem, pred in (("img0", truths["img0"]), ("img1", truths["img1"]), ("img2", half)):
        expected.update(pred, truths[stem])
    np.testing.assert_allclose(result.fscore.scores, expected.scores)
    assert result.worst(4)[3][0] == "img2"  # the 3 unscored (0) first, then the worst scored one
    problems = "\n".join(result.problems)
    for fragment in ("img3.png: an RGB image", "img4.png: 12×8; expected the true mask's 12×16", "img5.png: missing",
                     "other.png: no true mask"):
        assert fragment in problems


def test_score_command_prints_the_fscore_first_and_exits_1_on_problems(folders, capsys):
    pred_dir, truth_dir, _, _ = folders
    assert main(["score", str(pred_dir), str(truth_dir), "--no-progress"]) == 1
    captured = capsys.readouterr()
    assert "3 of 6 images scored" in captured.out and "F-score (per image" in captured.out
    assert "img3.png" in captured.out + captured.err


def test_the_headline_counts_a_bad_or_missing_prediction_as_zero_as_the_leaderboard_does(folders, capsys):
    pred_dir, truth_dir, truths, half = folders
    result = score_folders(pred_dir, truth_dir)
    assert sorted(result.unscored) == ["img3", "img4", "img5"]  # RGB, wrong size, missing
    readable = result.fscore.scores
    assert result.leaderboard_fscore() == pytest.approx(readable.sum() / 6)
    assert result.fscore.mean() == pytest.approx(readable.mean()) and result.leaderboard_fscore() < result.fscore.mean()
    main(["score", str(pred_dir), str(truth_dir), "--no-progress"])
    out = capsys.readouterr().out
    assert f"as the leaderboard counts it) {result.leaderboard_fscore():.4f}" in out and "3 scored 0" in out


def test_a_255_in_a_prediction_is_a_wrong_class_in_the_fscore(tmp_path):
    truth = np.zeros((8, 8), dtype=np.uint8)
    truth[:, 4:] = 1
    pred = truth.copy()
    pred[:, 6:] = 255  # half the skin predicted as "ignore"
    write_mask(truth, tmp_path / "true" / "a.png")
    write_mask(pred, tmp_path / "pred" / "a.png")
    result = score_folders(tmp_path / "pred", tmp_path / "true")
    assert result.stems == ["a"] and "255" in result.problems[0]
    recall_skin = 0.5  # precision 1: F = 2/3 for skin, 1 for background
    f_skin = 2 * 1 * recall_skin / (1 + recall_skin)
    assert result.fscore.scores[0] == pytest.approx((1 + f_skin) / 2, abs=1e-6)
    assert len(result.per_class_fscore()) == 19


def test_predictions_are_read_as_the_course_reads_them_and_stray_labels_are_wrong_not_zero(tmp_path):
    truth = np.zeros((8, 8), dtype=np.uint8)
    truth[:, 4:] = 1
    write_mask(truth, tmp_path / "true" / "a.png")
    write_mask(truth, tmp_path / "true" / "b.png")
    stray = truth.copy()
    stray[:, 6:] = 20  # a label of no class: half the skin wrong, the image still scored
    write_mask(stray, tmp_path / "pred" / "a.png")
    Image.fromarray(truth.astype(np.uint16)).save(tmp_path / "pred" / "b.png")  # 16-bit, read as convert("P") reads it
    result = score_folders(tmp_path / "pred", tmp_path / "true")
    assert result.stems == ["a", "b"] and result.unscored == []
    f_skin = 2 * 0.5 / 1.5
    expected_b = FScore()
    expected_b.update(np.array(Image.open(tmp_path / "pred" / "b.png").convert("P")), truth)
    np.testing.assert_allclose(result.fscore.scores, [(1 + f_skin) / 2, expected_b.scores[0]], atol=1e-6)


def test_an_image_with_nothing_to_score_counts_in_no_mean_and_unscored_images_rank_worst(tmp_path):
    write_mask(np.full((4, 4), 255, np.uint8), tmp_path / "true" / "empty.png")
    write_mask(np.ones((4, 4), np.uint8), tmp_path / "true" / "face.png")
    write_mask(np.ones((4, 4), np.uint8), tmp_path / "true" / "gone.png")
    write_mask(np.ones((4, 4), np.uint8), tmp_path / "pred" / "face.png")
    result = score_folders(tmp_path / "pred", tmp_path / "true")
    assert result.unscored == ["gone"] and result.leaderboard_fscore() == pytest.approx(0.5, abs=1e-6)
    assert result.worst(1) == [("gone", 0.0)]


def test_the_zip_checker_and_score_read_a_prediction_through_one_reader(tmp_path):
    import io

    from faceparse_lib.data.layout import DatasetError
    from faceparse_lib.evaluation.folders import read_like_the_grader

    deep = io.BytesIO()
    Image.fromarray(np.array([[0, 18]], np.uint16)).save(deep, format="PNG")
    warnings: list[str] = []
    assert read_like_the_grader(deep.getvalue(), "masks/a.png", warnings).tolist() == [[0, 18]]
    assert warnings and "masks/a.png: a 16-bit PNG" in warnings[0]
    colour = io.BytesIO()
    Image.new("RGB", (2, 1)).save(colour, format="PNG")
    with pytest.raises(DatasetError, match="masks/b.png: an RGB image"):
        read_like_the_grader(colour.getvalue(), "masks/b.png")
    path = tmp_path / "b.png"
    path.write_bytes(colour.getvalue())
    with pytest.raises(DatasetError, match="b.png: an RGB image"):
        read_like_the_grader(path)
