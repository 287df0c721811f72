"""Files and datasets: the course layout and its readers, the checker, the official download, the synthetic set,
class weights, faces in arbitrary photos (torch-free), then the torch `Dataset`, joint transforms and the seeded training stream."""

from faceparse_lib import lazy_exports

__getattr__, __dir__, __all__ = lazy_exports(__name__, {
    "DatasetError": "layout", "read_image": "layout", "read_mask": "layout", "read_pair": "layout",
    "list_pairs": "layout", "SPLITS": "layout",
    "check_dataset": "check",
    "prepare_celebamask": "prepare", "get_celebamask": "download",
    "make_synthetic_dataset": "synthetic",
    "detect_faces": "faces", "read_photo": "faces", "Framing": "faces", "measure_framing": "faces",
    "count_pixels": "stats", "class_weights": "stats",
    "FaceParsingDataset": "dataset",
    "hflip": "transforms", "train_transform": "transforms", "eval_transform": "transforms", "normalize": "transforms",
})
