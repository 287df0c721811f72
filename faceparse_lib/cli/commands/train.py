"""Train a face-parsing model (a preset, a config file and/or flags); re-running on a run dir resumes it."""

from __future__ import annotations

import argparse
import dataclasses
import time
import typing
from pathlib import Path

# Kept light: `train --help` must not import torch (the config module is torch-free).
from faceparse_lib.training.config import PRESETS


def _field_types() -> dict[str, typing.Any]:
    from faceparse_lib.training.config import TrainConfig

    return typing.get_type_hints(TrainConfig)


def _parse_bool(text: str) -> bool:
    if text.lower() in ("1", "true", "yes", "on"):
        return True
    if text.lower() in ("0", "false", "no", "off"):
        return False
    raise argparse.ArgumentTypeError(f"expected true or false, got {text!r}")


def _optional(kind: type):
    def parse(text: str):
        return None if text.lower() in ("none", "null", "") else kind(text)

    parse.__name__ = kind.__name__
    return parse


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--preset", choices=tuple(PRESETS), default=None,
                        help="cpu: demo model, 128 px, minutes on a laptop; report: the seed report's schedule on a GPU; "
                             "challenge: today's rules (under the parameter cap, from scratch, F-score) on one T4 "
                             "(default: cpu, or the run dir's own config when resuming)")
    parser.add_argument("--config", type=Path, metavar="FILE",
                        help="a config JSON (e.g. an earlier run's config.json); replaces the preset")
    parser.add_argument("--final-fit-of", type=Path, metavar="RUN_DIR", default=None,
                        help="a final fit: RUN_DIR's recipe on every training pair, as many iterations as its best.pt "
                             "had, no validation (run dir: RUN_DIR-final unless --run-dir)")
    group = parser.add_argument_group("config fields (override the preset and the config file)")
    from faceparse_lib.training.config import TrainConfig

    hints = _field_types()
    for item in dataclasses.fields(TrainConfig):
        if item.name == "final_fit_of":  # set by --final-fit-of above, with the recipe it names
            continue
        flag = "--" + item.name.replace("_", "-")
        hint = hints[item.name]
        args = typing.get_args(hint)
        optional = type(None) in args
        base = next((a for a in args if a is not type(None)), hint)
        if typing.get_origin(hint) is tuple or typing.get_origin(base) is tuple:
            group.add_argument(flag, dest=item.name, type=float, nargs=2, metavar=("LOW", "HIGH"), default=argparse.SUPPRESS)
        elif base is bool:
            group.add_argument(flag, dest=item.name, type=_parse_bool, metavar="BOOL", default=argparse.SUPPRESS)
        else:
            group.add_argument(flag, dest=item.name, type=_optional(base) if optional else base,
                               default=argparse.SUPPRESS, metavar=item.name.upper())


def config_from_args(args: argparse.Namespace):
    """The TrainConfig the command line asks for: --config, else the run dir's own config, else the preset; then flags."""
    from faceparse_lib.training.config import TrainConfig

    # Flags default to SUPPRESS, so only the ones given appear, and `--class-weights none` can set None.
    overrides = {f.name: getattr(args, f.name) for f in dataclasses.fields(TrainConfig) if hasattr(args, f.name)}
    # The run dir to resume is the one given, else TrainConfig's default (a bare `train` continues runs/train).
    saved = Path(overrides.get("run_dir", TrainConfig.run_dir)) / "config.json"
    if getattr(args, "final_fit_of", None) is not None:
        from faceparse_lib.training.run_files import final_fit_config

        base = dataclasses.asdict(final_fit_config(args.final_fit_of))
    elif args.config is not None:
        base = dataclasses.asdict(TrainConfig.load(args.config))
    elif args.preset is None and saved.is_file():
        base = dataclasses.asdict(TrainConfig.load(saved))  # resuming: the run's own settings
    else:
        base = dataclasses.asdict(TrainConfig.preset(args.preset or "cpu"))
    return TrainConfig.from_dict({**base, **overrides})


def run(args: argparse.Namespace) -> int:
    from faceparse_lib.training.run_files import read_log
    from faceparse_lib.training.loop import train

    cfg = config_from_args(args)
    start = time.perf_counter()
    run_dir = train(cfg)
    minutes, seconds = divmod(time.perf_counter() - start, 60)
    print(f"{run_dir}: {int(minutes)}:{seconds:04.1f} wall time in this session (data loading and validation included)")
    frame = read_log(run_dir)
    val = frame[frame.kind == "val"]
    if len(val):
        from faceparse_lib.data.rules import METRIC_TITLES, rule_set

        metric = rule_set(cfg.rules).metric
        best = val.loc[val[metric].idxmax()]
        print(f"{run_dir}: best val {METRIC_TITLES[metric]} {best[metric]:.4f} at iteration {int(best.iteration)} "
              f"(F-score {best.fscore:.4f}, mIoU {best.miou:.4f}, mean F1 {best.mean_f1:.4f}); "
              f"last {val[metric].iloc[-1]:.4f} at {int(val.iteration.iloc[-1])} ({rule_set(cfg.rules).title} rules)")
    return 0
