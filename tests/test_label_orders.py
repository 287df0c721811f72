"""Label orders: remap_labels between the kit's order and face-parsing.pytorch's, convert-labels and predict --label-order."""

import argparse

import numpy as np
import pytest
import torch
from PIL import Image

from faceparse_lib.models.checkpoint import load_checkpoint, save_checkpoint
from faceparse_lib.classes import CLASSES, LABEL_ORDERS, PALETTE, remap_labels
from faceparse_lib.cli.commands import convert_labels as convert_command
from faceparse_lib.cli.commands import predict as predict_command
from faceparse_lib.data.layout import DatasetError, read_mask
from faceparse_lib.evaluation.inference import predict_image
from faceparse_lib.evaluation.masks import write_mask
from faceparse_lib.models.names import DEMO_MODEL
from faceparse_lib.models.zoo import build_model
from faceparse_lib.data.synthetic import make_synthetic_dataset

KIT, BISENET, FARL = "celebamask", "face-parsing.pytorch", "farl"


def run_command(module, argv):
    """Parse `argv` with the command's own arguments and run it."""
    parser = argparse.ArgumentParser()
    module.add_arguments(parser)
    return module.run(parser.parse_args(argv))


def every_label_mask(seed=0):
    """A 16×16 uint8 mask holding every class index and some ignore pixels."""
    rng = np.random.default_rng(seed)
    mask = rng.integers(0, len(CLASSES), size=(16, 16), dtype=np.uint8)
    mask.ravel()[: len(CLASSES)] = np.arange(len(CLASSES))
    mask[0, -3:] = 255
    return mask


def test_both_orders_name_the_same_nineteen_classes():
    assert LABEL_ORDERS[KIT] == CLASSES
    assert sorted(LABEL_ORDERS[BISENET]) == sorted(CLASSES) and len(LABEL_ORDERS[BISENET]) == 19


def test_farl_order_numbers_the_classes_as_facer_does():
    assert sorted(LABEL_ORDERS[FARL]) == sorted(CLASSES) and len(LABEL_ORDERS[FARL]) == 19
    # facer: 0 background, 1 neck, 2 face, 3 cloth, 4 rr, 5 lr, 8 re, 9 le, 11 imouth, 12 llip, 13 ulip, 15 eyeg, 18 neck_l
    kit = np.array([[0, 17, 1, 18, 9, 8, 5, 4, 10, 12, 11, 3, 16, 255]], dtype=np.uint8)
    farl = np.array([[0, 1, 2, 3, 4, 5, 8, 9, 11, 12, 13, 15, 18, 255]], dtype=np.uint8)
    np.testing.assert_array_equal(remap_labels(kit, KIT, FARL), farl)
    np.testing.assert_array_equal(remap_labels(farl, FARL, KIT), kit)
    # between the two other tools' orders too: FaRL's hair (14) is face-parsing.pytorch's 17
    np.testing.assert_array_equal(remap_labels(np.array([[14]], dtype=np.uint8), FARL, BISENET), [[17]])


def test_hand_built_mask_maps_hair_nose_and_left_eye_both_ways():
    kit = np.array([[13, 2, 4, 255]], dtype=np.uint8)  # hair, nose, l_eye, ignore
    bisenet = np.array([[17, 10, 4, 255]], dtype=np.uint8)
    np.testing.assert_array_equal(remap_labels(kit, KIT, BISENET), bisenet)
    np.testing.assert_array_equal(remap_labels(bisenet, BISENET, KIT), kit)


def test_every_class_keeps_its_name_across_orders():
    mask = every_label_mask()
    converted = remap_labels(mask, KIT, BISENET)
    assert converted.dtype == np.uint8
    for label in range(19):
        assert np.all(converted[mask == label] == LABEL_ORDERS[BISENET].index(CLASSES[label]))
    assert np.all(converted[mask == 255] == 255)


@pytest.mark.parametrize("source,target", [(KIT, BISENET), (BISENET, KIT), (KIT, FARL), (FARL, BISENET)])
def test_there_and_back_gives_the_same_mask(source, target):
    mask = every_label_mask()
    np.testing.assert_array_equal(remap_labels(remap_labels(mask, source, target), target, source), mask)


def test_torch_tensors_are_remapped_like_arrays():
    mask = every_label_mask()
    tensor = torch.from_numpy(mask.astype(np.int64))
    converted = remap_labels(tensor, KIT, BISENET)
    assert isinstance(converted, torch.Tensor) and converted.dtype == torch.int64
    np.testing.assert_array_equal(converted.numpy(), remap_labels(mask, KIT, BISENET))


def test_unknown_order_is_refused_with_the_known_names():
    with pytest.raises(ValueError, match="celebamask, face-parsing.pytorch"):
        remap_labels(np.zeros((2, 2), np.uint8), "bisenet", KIT)


@pytest.mark.parametrize("mask", [np.array([[0, 19]], np.uint8), torch.tensor([[-1, 3]])])
def test_labels_outside_the_classes_are_refused(mask):
    with pytest.raises(ValueError, match="outside 0..18"):
        remap_labels(mask, KIT, BISENET)


def write_folder(folder, masks):
    folder.mkdir()
    for stem, mask in masks.items():
        write_mask(mask, folder / f"{stem}.png")


def test_convert_labels_converts_a_folder_to_palette_pngs(tmp_path, capsys):
    masks = {f"m{i}": remap_labels(every_label_mask(i), KIT, BISENET) for i in range(3)}
    write_folder(tmp_path / "bisenet", masks)
    out = tmp_path / "out" / "kit"
    assert run_command(convert_command, [str(tmp_path / "bisenet"), str(out), "--from", BISENET]) == 0
    assert "wrote 3 masks" in capsys.readouterr().out
    assert sorted(p.name for p in out.iterdir()) == ["m0.png", "m1.png", "m2.png"]
    for i in range(3):
        picture = Image.open(out / f"m{i}.png")
        assert picture.mode == "P"
        np.testing.assert_array_equal(np.array(picture.getpalette()[: 19 * 3]).reshape(19, 3), PALETTE)
        np.testing.assert_array_equal(read_mask(out / f"m{i}.png"), every_label_mask(i))


def test_convert_labels_into_an_existing_folder_keeps_its_other_files(tmp_path):
    write_folder(tmp_path / "in", {"a": every_label_mask()})
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "notes.txt").write_text("mine")
    assert run_command(convert_command, [str(tmp_path / "in"), str(tmp_path / "out"), "--from", KIT, "--to", BISENET]) == 0
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["a.png", "notes.txt"]
    np.testing.assert_array_equal(read_mask(tmp_path / "out" / "a.png"), remap_labels(every_label_mask(), KIT, BISENET))


@pytest.mark.parametrize("bad", ["labels", "colour"])
def test_convert_labels_names_a_bad_file_and_writes_nothing(tmp_path, bad):
    write_folder(tmp_path / "in", {"a_good": every_label_mask(), "z_good": every_label_mask(1)})
    if bad == "labels":
        Image.fromarray(np.full((8, 8), 40, np.uint8)).save(tmp_path / "in" / "m_bad.png")
    else:
        Image.fromarray(np.zeros((8, 8, 3), np.uint8)).save(tmp_path / "in" / "m_bad.png")
    with pytest.raises(DatasetError, match="m_bad.png"):
        run_command(convert_command, [str(tmp_path / "in"), str(tmp_path / "out"), "--from", BISENET])
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in"]  # no OUT_DIR and no scratch folder left


def test_convert_labels_refuses_to_overwrite_its_input(tmp_path):
    write_folder(tmp_path / "in", {"a": every_label_mask()})
    with pytest.raises(ValueError, match="input folder"):
        run_command(convert_command, [str(tmp_path / "in"), str(tmp_path / "in"), "--from", BISENET])


def test_predict_with_label_order_writes_remapped_masks(tmp_path):
    data_root = make_synthetic_dataset(tmp_path / "data", n_train=1, n_val=2, size=64)
    torch.manual_seed(0)
    model = build_model(DEMO_MODEL, num_classes=19)
    config = {"model": DEMO_MODEL, "num_classes": 19, "input_size": 32, "data_root": "data", "class_weights": None}
    save_checkpoint({"model": model.state_dict(), "config": config, "iteration": 0}, tmp_path / "run" / "best.pt")
    in_dir = data_root / "val" / "images"
    argv = [str(tmp_path / "run"), str(in_dir), str(tmp_path / "masks"), "--label-order", BISENET, "--batch-size", "1",
            "--workers", "0", "--device", "cpu", "--no-progress"]
    assert run_command(predict_command, argv) == 0

    model = load_checkpoint(tmp_path / "run")
    for source in sorted(in_dir.iterdir()):
        expected = predict_image(model, np.array(Image.open(source).convert("RGB")))
        written = read_mask(tmp_path / "masks" / f"{source.stem}.png")
        np.testing.assert_array_equal(written, remap_labels(expected, KIT, BISENET))
        assert not np.array_equal(written, expected)  # the untrained model predicts classes the orders number apart
