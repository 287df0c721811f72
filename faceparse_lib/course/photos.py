"""Your own photos in a notebook: files from Colab's upload dialog or an ipywidgets FileUpload, or sample photos."""

from __future__ import annotations

import io
from typing import Any

import numpy as np
from PIL import Image

from faceparse_lib.standalone.images import upright_rgb
from faceparse_lib.data.layout import DatasetError


def uploaded_files(value: Any) -> list[tuple[str, bytes]]:
    """(name, bytes) of each uploaded file, from any of the three shapes an upload comes in.

    - `google.colab.files.upload()`: {name: bytes};
    - ipywidgets 7 `FileUpload.value`: {name: {"metadata": {...}, "content": bytes}};
    - ipywidgets 8 `FileUpload.value`: a tuple of {"name": ..., "content": memoryview, ...}.
    """
    if not value:
        return []
    if isinstance(value, dict):
        items = value.items()
        return [(name, bytes(item["content"] if isinstance(item, dict) else item)) for name, item in items]
    return [(item["name"], bytes(item["content"])) for item in value]


def decode_photo(name: str, data: bytes) -> np.ndarray:
    """An uploaded file as an upright H×W×3 uint8 photo; a clear error naming the file if it is not an image."""
    try:
        with Image.open(io.BytesIO(data)) as picture:
            return upright_rgb(picture)
    except (OSError, ValueError, Image.DecompressionBombError) as err:
        raise DatasetError(f"{name}: not a readable image ({err}); upload a .jpg or .png photo") from err


def sample_photos() -> dict[str, np.ndarray]:
    """Real photos that ship inside installed packages: scikit-image's astronaut, matplotlib's Grace Hopper if present."""
    from skimage import data

    photos = {"astronaut.png": data.astronaut()}
    try:
        from matplotlib import cbook

        with Image.open(cbook.get_sample_data("grace_hopper.jpg")) as picture:
            photos["grace_hopper.jpg"] = upright_rgb(picture)
    except (OSError, ValueError):  # matplotlib builds without sample data
        pass
    return photos


def photos_to_parse(upload_value: Any = None) -> dict[str, np.ndarray]:
    """The uploaded photos by name, or the sample photos when nothing was uploaded (so "Run all" never waits).

    An upload that is not a readable image is named in one line and left out; the others are kept.
    """
    files = uploaded_files(upload_value)
    if not files:
        return sample_photos()
    photos = {}
    for name, data in files:
        try:
            photos[name] = decode_photo(name, data)
        except DatasetError as err:
            print(f"skipped {err}")
    if not photos:
        print("no uploaded file could be read; showing the sample photos instead")
        return sample_photos()
    return photos


def parse_and_render(model, photos: dict[str, np.ndarray], tta: str | None = "flip",
                     max_width: int = 1536) -> dict[str, np.ndarray]:
    """Each photo parsed (`evaluation.parse_photo`) and rendered as photo with boxes | parse | overlay.

    A photo where no face is found says so in one line and is parsed whole, as if it were an aligned face.
    Pictures wider than `max_width` are scaled down for the screen (the parse itself is at the photo's size).
    """
    from faceparse_lib.evaluation.photos import NoFaceFound, parse_photo
    from faceparse_lib.visual.pictures import render_photo

    pictures = {}
    for name, photo in photos.items():
        try:
            mask, faces = parse_photo(model, photo, tta=tta)
        except NoFaceFound as err:
            print(f"{name}: {err}; parsing it whole instead")
            mask, faces = parse_photo(model, photo, tta=tta, whole_image=True)
        picture = render_photo(photo, mask, faces)
        if picture.shape[1] > max_width:
            height = round(picture.shape[0] * max_width / picture.shape[1])
            picture = np.asarray(Image.fromarray(picture).resize((max_width, height), Image.Resampling.LANCZOS))
        pictures[name] = picture
    return pictures
