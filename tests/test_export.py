"""ONNX export: onnxruntime's logits match PyTorch's at two input sizes, and the metadata says how to feed the model."""

import json

import numpy as np
import pytest
import torch
from PIL import Image

pytest.importorskip("onnx", reason="export needs the optional extra: pip install faceparse-lib[export]")
pytest.importorskip("onnxscript", reason="export needs the optional extra: pip install faceparse-lib[export]")
ort = pytest.importorskip("onnxruntime", reason="the parity check needs the optional extra: pip install faceparse-lib[export]")

from faceparse_lib.classes import CLASSES
from faceparse_lib.cli import main
from faceparse_lib.models.export import export_onnx, read_onnx_metadata
from faceparse_lib.models.names import DEMO_MODEL, SEED_MODEL
from faceparse_lib.models.zoo import build_model
from faceparse_lib.data.transforms import IMAGENET_MEAN, IMAGENET_STD, normalize

# Two shapes, neither the traced 64×64 one: the TorchScript exporter was found to be right only at the traced size.
SHAPES = [(1, 96, 96), (2, 80, 112)]


def _assert_parity(model, path):
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    generator = torch.Generator().manual_seed(0)
    for batch, height, width in SHAPES:
        image = normalize(torch.rand(batch, 3, height, width, generator=generator))
        with torch.no_grad():
            expected = model(image)["out"].numpy()
        (logits,) = session.run(None, {session.get_inputs()[0].name: image.numpy()})
        assert logits.shape == expected.shape == (batch, len(CLASSES), height, width)
        np.testing.assert_allclose(logits, expected, rtol=0, atol=1e-4)
        assert (logits.argmax(1) == expected.argmax(1)).mean() >= 0.9999


def _built(name):
    torch.manual_seed(0)
    model = build_model(name).eval()
    model.input_size = 64
    return model


@pytest.fixture(scope="module")
def demo_export(tmp_path_factory):
    """The demo model as a checkpoint would load it, exported once for the tests below (an export takes seconds)."""
    model = _built(DEMO_MODEL)
    model.train_config = {"model": DEMO_MODEL, "num_classes": len(CLASSES), "input_size": 64}
    return model, export_onnx(model, tmp_path_factory.mktemp("export") / "demo.onnx")


def test_demo_model_onnx_matches_pytorch_at_two_sizes(demo_export):
    _assert_parity(*demo_export)


@pytest.mark.slow
def test_seed_model_onnx_matches_pytorch_at_two_sizes(tmp_path):
    model = _built(SEED_MODEL)
    path = export_onnx(model, tmp_path / "seed.onnx", model_name=SEED_MODEL)
    assert not model.training  # the export leaves the model as it found it
    _assert_parity(model, path)


def test_metadata_names_classes_order_normalisation_input_size_and_model(demo_export):
    meta = read_onnx_metadata(demo_export[1])
    assert meta == {"class_names": list(CLASSES), "class_order": "celebamask", "mean": list(IMAGENET_MEAN),
                    "std": list(IMAGENET_STD), "input_size": 64, "model_name": DEMO_MODEL}


@pytest.mark.slow
def test_export_command_writes_an_onnx_file_from_a_run_dir(tmp_path, capsys):
    from fake_run import make_fake_run

    run_dir = make_fake_run(tmp_path / "run", class_weights=None)
    out = tmp_path / "model.onnx"
    assert main(["export", str(run_dir), str(out)]) == 0
    assert str(out) in capsys.readouterr().out
    meta = read_onnx_metadata(out)
    config = json.loads((run_dir / "config.json").read_text())
    assert meta["model_name"] == config["model"] and meta["input_size"] == config["input_size"]

    # predict takes the .onnx file where it takes the run dir, and writes the same masks.
    from faceparse_lib.data.synthetic import make_synthetic_dataset

    make_synthetic_dataset(tmp_path / "data", n_train=1, n_val=2, size=64)
    images = tmp_path / "data" / "val" / "images"
    for source, masks in ((run_dir, "from_ckpt"), (out, "from_onnx")):
        assert main(["predict", str(source), str(images), str(tmp_path / masks), "--device", "cpu",
                     "--workers", "0", "--no-progress"]) == 0
    written = sorted(p.name for p in (tmp_path / "from_ckpt").glob("*.png"))
    assert written and written == sorted(p.name for p in (tmp_path / "from_onnx").glob("*.png"))
    for name in written:
        same = np.asarray(Image.open(tmp_path / "from_onnx" / name)) == np.asarray(Image.open(tmp_path / "from_ckpt" / name))
        assert same.mean() >= 0.9999


def test_export_command_refuses_a_missing_checkpoint(tmp_path, capsys):
    assert main(["export", str(tmp_path / "missing"), str(tmp_path / "out.onnx")]) == 1
    assert "missing" in capsys.readouterr().err and not (tmp_path / "out.onnx").exists()


def test_onnx_file_is_scored_by_the_same_evaluate_code(demo_export, tmp_path):
    from faceparse_lib.data.dataset import FaceParsingDataset
    from faceparse_lib.evaluation.scoring import evaluate
    from faceparse_lib.models.export import load_model
    from faceparse_lib.data.synthetic import make_synthetic_dataset

    model, path = demo_export
    make_synthetic_dataset(tmp_path / "data", n_train=1, n_val=3, size=64)
    dataset = FaceParsingDataset(tmp_path / "data", "val")
    onnx_model = load_model(path)
    assert onnx_model.input_size == model.input_size
    expected = evaluate(model, dataset, tta="flip", batch_size=2, workers=0, progress=False)
    scored = evaluate(onnx_model, dataset, tta="flip", batch_size=2, workers=0, progress=False)
    np.testing.assert_allclose(scored.pixel_accuracy(), expected.pixel_accuracy(), atol=1e-4)
    np.testing.assert_allclose(scored.iou(), expected.iou(), atol=1e-3)
