"""Training: one config dataclass and its presets, the resumable loop, the loss, optimizer, checkpoints' state, DDP."""

from faceparse_lib import lazy_exports

__getattr__, __dir__, __all__ = lazy_exports(__name__, {
    "TrainConfig": "config", "PRESETS": "config", "lr_at": "config",
    "train": "loop", "validate": "validation", "TrainingDiverged": "loop",
    "read_log": "run_files", "validation_pairs": "run_files", "training_split": "run_files",
    "final_fit_config": "run_files",
    "SegmentationLoss": "losses",
})
