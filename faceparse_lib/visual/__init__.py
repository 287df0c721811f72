"""Pictures: `render` (plain arrays), the report's figures (matplotlib), the mask viewer (widgets), class close-ups."""

from faceparse_lib import lazy_exports

__getattr__, __dir__, __all__ = lazy_exports(__name__, {
    "render": "pictures", "render_photo": "pictures",
    "loss_curves": "figures", "miou_curve": "figures", "score_curve": "figures", "sample_grid": "figures", "prediction_grid": "figures",
    "class_scores_chart": "figures", "confusion_matrix_chart": "figures", "runs_overlay": "figures",
    "MaskViewer": "viewer",
    "images_with_class": "closeups",
})
