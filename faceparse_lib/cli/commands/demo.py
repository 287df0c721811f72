"""Run the kit end to end on a freshly generated synthetic face set (what `make demo` runs)."""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

from faceparse_lib.data.layout import DatasetError, first_problem, masks_dir


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--out", type=Path, default=Path("demo"), help="folder for the demo's data and outputs")
    parser.add_argument("--train", type=int, default=64, help="synthetic training images (default 64)")
    parser.add_argument("--val", type=int, default=16, help="synthetic validation images (default 16)")
    parser.add_argument("--size", type=int, default=256, help="image side in pixels (default 256)")
    parser.add_argument("--seed", type=int, default=0)


def _step(title: str) -> float:
    print(f"\n=== {title}", flush=True)
    return time.perf_counter()


def run(args: argparse.Namespace) -> int:
    import pandas as pd
    import torch

    from faceparse_lib.data.check import check_dataset
    from faceparse_lib.data.dataset import FaceParsingDataset
    from faceparse_lib.training.losses import SegmentationLoss
    from faceparse_lib.evaluation.metrics import ConfusionMatrix
    from faceparse_lib.models.names import DEMO_MODEL, SEED_MODEL
    from faceparse_lib.data.rules import RULE_SETS
    from faceparse_lib.models.zoo import build_model, count_parameters, model_summary
    from faceparse_lib.data.synthetic import make_synthetic_dataset
    from faceparse_lib.data.stats import class_weights, count_pixels, reference_counts, weights_record

    data = args.out / "data"
    start = _step(f"1. synthetic faces -> {data}")
    make_synthetic_dataset(data, args.train, args.val, size=args.size, seed=args.seed)
    print(f"wrote {args.train} train + {args.val} val faces at {args.size}px in {time.perf_counter() - start:.1f} s")

    _step("2. check the dataset")
    report = check_dataset(data)
    print(report.format())
    if not report.ok:
        raise DatasetError(first_problem(report.problems))

    _step("3. class statistics and log2 class weights (the report's rule), beside the report's own")
    counts = count_pixels(masks_dir(data, "train"))
    weights = class_weights(counts, "log2")
    reference = reference_counts()
    table = pd.DataFrame(
        {
            "name": reference["name"],
            "share %": 100 * counts.frequency,
            "report share %": 100 * reference["pixels"] / reference["pixels"].sum(),
            "weight": weights.numpy(),
            "report weight": reference["report_weight"],
        }
    )
    print(table.to_string(float_format="{:.3f}".format))
    weights_file = args.out / "weights.json"
    weights_file.write_text(json.dumps(weights_record(counts, weights.tolist(), "log2", "max"), indent=2))
    print(f"wrote {weights_file}")

    _step("4. models: the report's network and the CPU demo model")
    torch.manual_seed(args.seed)  # the same demo prints the same numbers
    seed_model = build_model(SEED_MODEL)
    print(model_summary(seed_model, SEED_MODEL) + "  (the report: 43,589,878)")
    demo_model = build_model(DEMO_MODEL).eval()
    challenge = RULE_SETS["challenge"]
    challenge.check_parameters(count_parameters(demo_model), DEMO_MODEL)
    print(model_summary(demo_model, DEMO_MODEL) + f"  (fewer than the challenge's {challenge.max_parameters:,})")
    del seed_model

    _step(f"5. loss and metrics of the untrained {DEMO_MODEL} on the validation set (a baseline, not a result)")
    loss_fn = SegmentationLoss(class_weights=weights)
    matrix = ConfusionMatrix()
    loader = torch.utils.data.DataLoader(FaceParsingDataset(data, "val"), batch_size=8)
    losses = []
    with torch.inference_mode():
        for images, masks in loader:
            outputs = demo_model(images)
            losses.append(float(loss_fn(outputs, masks)))
            matrix.update(outputs["out"], masks)
    print(f"weighted CE {sum(losses) / len(losses):.3f}, mIoU {matrix.miou():.4f}, mean F1 {matrix.mean_f1():.4f}, "
          f"pixel accuracy {matrix.pixel_accuracy():.4f}")
    print(f"\ndemo finished: outputs in {args.out}")
    return 0
