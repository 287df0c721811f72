"""Evaluation: metrics, inference with left/right-aware TTA, dataset scoring, predicted masks on disk."""

from faceparse_lib import lazy_exports

__getattr__, __dir__, __all__ = lazy_exports(__name__, {
    "ConfusionMatrix": "metrics", "FScore": "fscore", "score_folders": "folders",
    "predict_probs": "inference", "predict_image": "inference", "flip_back": "inference",
    "evaluate": "scoring",
    "parse_photo": "photos", "predict_photos": "photos",
    "predict_folder": "masks", "write_mask": "masks", "zip_masks": "masks",
})
