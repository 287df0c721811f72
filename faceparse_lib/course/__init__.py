"""What the course notebooks share: the workspace (settings, data, run dirs), the notebooks' generated cells, and the
challenge hand-in (the submission zip and its checker)."""

from faceparse_lib import lazy_exports

__getattr__, __dir__, __all__ = lazy_exports(__name__, {
    "workspace": "shared", "NotebookStop": "shared", "prepare_run_dir": "shared", "trained_run": "shared",
    "hand_in_run": "shared", "training_masks": "shared",
    "ensure_class_weights": "shared", "save_class_weights": "shared", "weights_record_for": "shared",
    "hand_in_images": "shared", "phase_hand_in": "shared", "rehearse_hand_in": "shared", "hand_in_zip": "shared",
    "ntulearn_hand_in": "shared", "pack_ntulearn": "ntulearn",
    "photos_to_parse": "photos", "uploaded_files": "photos", "parse_and_render": "photos",
    "build_submission": "submission", "check_submission": "submission",
})
