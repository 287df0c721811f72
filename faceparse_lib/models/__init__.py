"""Models: the zoo behind `build_model(name)`, the seed DeepLabV3+, kit checkpoints, the mmseg importer, ONNX export."""

from faceparse_lib import lazy_exports

__getattr__, __dir__, __all__ = lazy_exports(__name__, {
    "SEED_MODEL": "names", "DEMO_MODEL": "names",
    "build_model": "zoo", "model_names": "zoo", "count_parameters": "zoo",
    "DeepLabV3PlusASPP": "deeplab",
    "CheckpointError": "torch_files",
    "save_checkpoint": "checkpoint", "read_checkpoint": "checkpoint", "load_checkpoint": "checkpoint",
    "load_mmseg_checkpoint": "mmseg",
    "export_onnx": "export", "load_model": "export",
})
