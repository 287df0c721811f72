"""A synthetic stand-in for CelebAMask-HQ: painted faces with exact masks, for demos, tests and CI.

Every image (from 128 px up) holds a frontal-ish face with skin, nose, eyes, brows, ears, mouth, both lips,
hair, neck and cloth; some wear glasses, a hat, earrings or a necklace. Size, position, rotation, colours, lighting and the background
vary, and the pixels carry noise and blur, so colour alone is not a perfect cue. Left and right are the subject's,
as in CelebAMask-HQ: every `r_*` part lies on the image's left and its `l_*` twin on the right, so a flip that
forgets to swap labels costs accuracy.
Each image is drawn from its own seed, so a set is the same whatever the number of workers.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFilter

from faceparse_lib.classes import CLASSES
from faceparse_lib.data.parallel import default_workers, parallel_map

log = logging.getLogger(__name__)

C = {name: index for index, name in enumerate(CLASSES)}

# The mark of the kit's own cached synthetic sets (`course.shared.synthetic_data`): runs on them may be retrained.
SYNTHETIC_MARKER = ".complete"
SYNTHETIC_MARKER_TEXT = "written by faceparse_lib.course.shared.synthetic_data\n"
# What every result made from these faces says on it (figures, tables, the report, the hand-in's name).
DEMO_BANNER = "DEMO · synthetic faces, not the course's data"

# How often the optional parts appear; tuned so class shares land near the report's table.
P_GLASSES, P_HAT, P_EARRINGS, P_NECKLACE, P_LONG_HAIR = 0.2, 0.08, 0.4, 0.08, 0.6

Points = list[tuple[float, float]]


def _ellipse(cx: float, cy: float, rx: float, ry: float, n: int = 40, a0: float = 0.0, a1: float = 2 * math.pi) -> Points:
    """Points along an ellipse arc in face units."""
    return [(cx + rx * math.cos(t), cy + ry * math.sin(t)) for t in np.linspace(a0, a1, n)]


def _band(points: Points, thickness: float) -> Points:
    """A closed polygon of the given thickness around an open polyline."""
    pts = np.asarray(points)
    tangent = np.gradient(pts, axis=0)
    normal = np.stack([-tangent[:, 1], tangent[:, 0]], axis=1)
    normal /= np.linalg.norm(normal, axis=1, keepdims=True) + 1e-9
    upper = pts + normal * thickness / 2
    lower = pts - normal * thickness / 2
    return [tuple(p) for p in np.concatenate([upper, lower[::-1]])]


@dataclass
class _Pose:
    """Maps face units (face half-width 1, y down, origin at the face centre) to pixels."""

    cx: float
    cy: float
    scale: float
    angle: float

    def __call__(self, points: Points) -> list[tuple[float, float]]:
        c, s = math.cos(self.angle), math.sin(self.angle)
        return [(self.cx + self.scale * (c * x - s * y), self.cy + self.scale * (s * x + c * y)) for x, y in points]


def _face_outline(jaw: float) -> Points:
    """An egg-shaped face: an ellipse whose lower half narrows towards the chin."""
    out = []
    for x, y in _ellipse(0, 0, 1.06, 1.34, n=64):
        if y > 0:
            x *= 1 - jaw * (y / 1.3) ** 2
        out.append((x, y))
    return out


def _draw_labels(rng: np.random.Generator, size: int) -> tuple[Image.Image, dict]:
    """Paint one face's label map back to front and return it with the drawing parameters."""
    pose = _Pose(
        cx=size * rng.uniform(0.44, 0.56),
        cy=size * rng.uniform(0.44, 0.52),
        scale=size * rng.uniform(0.24, 0.29),
        angle=math.radians(rng.uniform(-12, 12)),
    )
    yaw = rng.uniform(-0.08, 0.08)  # inner features shift sideways a little, as in a slightly turned head
    labels = Image.new("L", (size, size), C["background"])
    draw = ImageDraw.Draw(labels)

    def fill(name: str, points: Points) -> None:
        draw.polygon(pose(points), fill=C[name])

    params = {"pose": pose, "yaw": yaw}
    # Hair behind the head, long hair down the sides, then neck and clothes.
    hair_rx, hair_ry = rng.uniform(1.35, 1.6), rng.uniform(1.45, 1.7)
    fill("hair", _ellipse(0, -0.3, hair_rx, hair_ry, n=64))
    if rng.random() < P_LONG_HAIR:
        length = rng.uniform(1.8, 3.2)
        fill("hair", [(-hair_rx, -0.3), (-hair_rx * 1.05, length), (-0.5, length), (-0.6, 0.5),
                      (0.6, 0.5), (0.5, length), (hair_rx * 1.05, length), (hair_rx, -0.3)])
    neck_w = rng.uniform(0.45, 0.58)
    fill("neck", [(-neck_w, 0.4), (neck_w, 0.4), (neck_w * 1.1, 2.6), (-neck_w * 1.1, 2.6)])
    # Keep the neckline inside the picture: every face shows some cloth.
    neckline = min(rng.uniform(1.5, 2.0), (0.92 * size - pose.cy) / pose.scale)
    if rng.random() < P_NECKLACE:
        fill("neck_l", _band(_ellipse(0, neckline - 0.55, neck_w * 0.95, 0.45, n=24, a0=0.25, a1=math.pi - 0.25), 0.04))
    shoulder = rng.uniform(2.4, 3.0)
    fill("cloth", [(-shoulder, 4.5), (-shoulder, neckline + 0.7), (-neck_w * 1.2, neckline),
                   (0, neckline + rng.uniform(0.0, 0.5)), (neck_w * 1.2, neckline), (shoulder, neckline + 0.7), (shoulder, 4.5)])
    # Ears (the face covers their inner half), earrings, then the face.
    ear_ry = rng.uniform(0.22, 0.3)
    fill("r_ear", _ellipse(-1.04 + yaw, 0.0, 0.2, ear_ry))  # the subject's right ear, on the image's left
    fill("l_ear", _ellipse(1.04 + yaw, 0.0, 0.2, ear_ry))
    if rng.random() < P_EARRINGS:
        r = rng.uniform(0.07, 0.12)
        for side in (-1, 1):
            fill("ear_r", _ellipse(side * 1.08 + yaw, ear_ry + r * 0.8, r, r * 1.3, n=16))
    fill("skin", _face_outline(jaw=rng.uniform(0.2, 0.4)))
    # Inner features, in the order the official paint order would leave them visible.
    ex, ey = 0.42, rng.uniform(-0.25, -0.15)
    fill("nose", [(yaw - 0.06, ey - 0.1), (yaw + 0.06, ey - 0.1), (yaw + 0.3, 0.38), (yaw, 0.47), (yaw - 0.3, 0.38)])
    glasses = rng.random() < P_GLASSES
    if glasses:
        lens_w, lens_h = rng.uniform(0.26, 0.32), rng.uniform(0.18, 0.24)
        for side in (-1, 1):
            fill("eye_g", _ellipse(side * ex + yaw, ey, lens_w, lens_h, n=32))
        fill("eye_g", [(yaw - 0.18, ey - 0.05), (yaw + 0.18, ey - 0.05), (yaw + 0.18, ey + 0.0), (yaw - 0.18, ey + 0.0)])
    eye_rx, eye_ry = rng.uniform(0.14, 0.17), rng.uniform(0.055, 0.08)
    fill("r_eye", _ellipse(-ex + yaw, ey, eye_rx, eye_ry))
    fill("l_eye", _ellipse(ex + yaw, ey, eye_rx, eye_ry))
    brow_y, brow_t = ey - rng.uniform(0.2, 0.28), rng.uniform(0.08, 0.12)
    for name, side in (("r_brow", -1), ("l_brow", 1)):
        arc = _ellipse(side * ex + yaw, brow_y + 0.12, 0.27, 0.12, n=16, a0=math.pi * 1.1, a1=math.pi * 1.9)
        fill(name, _band(arc, brow_t))
    mouth_y, mouth_w = rng.uniform(0.68, 0.78), rng.uniform(0.3, 0.4)
    gap = rng.uniform(0.045, 0.12)  # lips always part: every face shows some mouth, from 128 px up
    fill("mouth", _ellipse(yaw, mouth_y, mouth_w * 0.85, gap, n=24))
    fill("u_lip", [(yaw - mouth_w, mouth_y), (yaw - 0.12, mouth_y - 0.12), (yaw, mouth_y - 0.09),
                   (yaw + 0.12, mouth_y - 0.12), (yaw + mouth_w, mouth_y), (yaw, mouth_y - gap * 0.5)])
    fill("l_lip", _ellipse(yaw, mouth_y + gap * 0.5, mouth_w, rng.uniform(0.11, 0.15), n=24, a0=0, a1=math.pi))
    # Fringe over the forehead, then a hat on top of everything it covers.
    fringe = rng.uniform(-0.95, -0.6)
    wave = [(x, fringe + 0.08 * math.sin(6 * x + rng.uniform(0, 6))) for x in np.linspace(1.05, -1.05, 12)]
    fill("hair", _ellipse(0, -0.3, 1.1, 1.05, n=24, a0=math.pi * 1.05, a1=math.pi * 1.95) + wave)
    if rng.random() < P_HAT:
        hat_y = rng.uniform(-1.25, -0.95)
        fill("hat", _ellipse(0, hat_y, 1.3, 0.75, n=32, a0=math.pi, a1=2 * math.pi) + [(1.55, hat_y + 0.12), (-1.55, hat_y + 0.12)])
    params.update(eyes=(ex, ey, eye_rx, eye_ry), glasses=glasses, mouth=(mouth_y, mouth_w, gap))
    return labels, params


def _smooth_noise(rng: np.random.Generator, size: int, cells: int, channels: int = 1) -> np.ndarray:
    """Low-frequency noise in about [-1, 1]: a coarse random grid upsampled smoothly."""
    coarse = rng.uniform(0, 255, (cells, cells, channels)).astype(np.uint8)
    mode = "L" if channels == 1 else "RGB"
    up = Image.fromarray(coarse.squeeze(-1) if channels == 1 else coarse, mode).resize((size, size), Image.BICUBIC)
    return np.asarray(up, dtype=np.float32).reshape(size, size, channels) / 127.5 - 1


def _class_colours(rng: np.random.Generator) -> np.ndarray:
    """One RGB colour per class for this face (skin tone, hair colour, clothes...)."""
    colours = rng.uniform(30, 225, (len(CLASSES), 3))
    skin = np.array([rng.uniform(120, 240), 0, 0])
    skin[1] = skin[0] * rng.uniform(0.7, 0.85)
    skin[2] = skin[1] * rng.uniform(0.75, 0.92)
    hair = [np.array([25, 20, 18]), np.array([90, 60, 35]), np.array([200, 170, 110]),
            np.array([150, 150, 150]), np.array([150, 70, 35])][rng.integers(5)] * rng.uniform(0.8, 1.2)
    colours[C["skin"]] = skin
    colours[C["nose"]] = skin * rng.uniform(0.92, 1.0)
    colours[[C["l_ear"], C["r_ear"]]] = skin * rng.uniform(0.85, 0.97)
    colours[C["neck"]] = skin * rng.uniform(0.7, 0.9)
    colours[C["hair"]] = hair
    colours[[C["l_brow"], C["r_brow"]]] = hair * rng.uniform(0.5, 0.9)
    colours[[C["l_eye"], C["r_eye"]]] = rng.uniform(180, 235)
    lips = np.array([rng.uniform(150, 220), rng.uniform(60, 110), rng.uniform(70, 120)])
    colours[C["u_lip"]] = lips * rng.uniform(0.85, 1.0)
    colours[C["l_lip"]] = lips
    colours[C["mouth"]] = np.array([90, 30, 35]) * rng.uniform(0.7, 1.3)
    colours[C["eye_g"]] = skin * rng.uniform(0.75, 0.95)  # mostly skin seen through the lens
    colours[[C["ear_r"], C["neck_l"]]] = [[215, 180, 60], [200, 200, 210]][rng.integers(2)]
    return colours


# How strongly texture shows on each class (hair and clothes are busy, skin is smooth).
_TEXTURE = np.zeros(len(CLASSES), dtype=np.float32)
_TEXTURE[[C["hair"], C["cloth"], C["hat"]]] = [35, 20, 15]
_TEXTURE[[C["l_brow"], C["r_brow"]]] = 20
_TEXTURE[C["skin"]] = 4


def _render_image(rng: np.random.Generator, labels: Image.Image, params: dict) -> Image.Image:
    """Colour a label map into a photo-like RGB image: per-class colours, texture, lighting, details, noise."""
    size = labels.size[0]
    mask = np.asarray(labels)
    background = 127.5 + 90 * _smooth_noise(rng, size, int(rng.integers(2, 6)), channels=3)
    image = _class_colours(rng)[mask].astype(np.float32)
    image = np.where((mask == C["background"])[..., None], background, image)
    streaks = _smooth_noise(rng, size, size // 4)[..., 0]
    image += (streaks * _TEXTURE[mask])[..., None]
    light = 1 + rng.uniform(0.1, 0.3) * _smooth_noise(rng, size, 3)
    image *= light
    picture = Image.fromarray(np.clip(image, 0, 255).astype(np.uint8), "RGB")
    _draw_details(rng, ImageDraw.Draw(picture), params)
    picture = picture.filter(ImageFilter.GaussianBlur(rng.uniform(0.6, 1.4)))
    noisy = np.asarray(picture, dtype=np.float32) + rng.normal(0, rng.uniform(4, 12), (size, size, 1)).astype(np.float32)
    return Image.fromarray(np.clip(noisy, 0, 255).astype(np.uint8), "RGB")


def _draw_details(rng: np.random.Generator, draw: ImageDraw.ImageDraw, params: dict) -> None:
    """Irises, glasses frames and teeth: seen in the image, not separate classes."""
    pose, yaw = params["pose"], params["yaw"]
    ex, ey, eye_rx, eye_ry = params["eyes"]
    iris = tuple(int(v) for v in [(70, 45, 25), (60, 100, 150), (70, 110, 60)][rng.integers(3)])
    for side in (-1, 1):
        r = eye_ry * 0.95
        draw.polygon(pose(_ellipse(side * ex + yaw, ey, r, r, n=16)), fill=iris)
        draw.polygon(pose(_ellipse(side * ex + yaw, ey, r * 0.4, r * 0.4, n=12)), fill=(10, 10, 10))
    if params["glasses"]:
        frame = tuple(int(v) for v in rng.uniform(0, 90, 3))
        width = max(1, int(pose.scale * 0.035))
        for side in (-1, 1):
            draw.line(pose(_ellipse(side * ex + yaw, ey, 0.29, 0.21, n=32)), fill=frame, width=width)
    mouth_y, mouth_w, gap = params["mouth"]
    if gap > 0.05:
        draw.polygon(pose(_ellipse(yaw, mouth_y - gap * 0.3, mouth_w * 0.5, gap * 0.4, n=16)), fill=(235, 230, 220))


def is_synthetic_cache(root: str | Path) -> bool:
    """Whether `root` is one of the kit's own cached synthetic sets, whose runs are demos that may be retrained."""
    marker = Path(root) / SYNTHETIC_MARKER
    return marker.is_file() and marker.read_text() == SYNTHETIC_MARKER_TEXT


def synthetic_face(seed: int | tuple[int, ...], size: int = 512) -> tuple[Image.Image, Image.Image]:
    """One synthetic face: an RGB image and its single-channel label mask, the same for the same seed."""
    rng = np.random.default_rng(seed)
    labels, params = _draw_labels(rng, size)
    return _render_image(rng, labels, params), labels


def _write_face(job: tuple[Path, Path | None, tuple[int, int], int]) -> None:
    image_path, mask_path, seed, size = job
    image, mask = synthetic_face(seed, size)
    image.save(image_path, quality=92)
    if mask_path is not None:
        mask.save(mask_path, compress_level=1)


def make_synthetic_dataset(
    root: str | Path,
    n_train: int,
    n_val: int,
    size: int = 512,
    seed: int = 0,
    n_test: int = 0,
    workers: int | None = None,
) -> Path:
    """Write a synthetic face set in the course layout (JPEG images, 8-bit PNG masks) and return its root."""
    if min(n_train, n_val, n_test) < 0 or size < 32:
        raise ValueError(f"need non-negative counts and size >= 32, got {n_train}/{n_val}/{n_test} at {size}")
    root = Path(root)
    jobs = []
    index = 0
    for split, count in (("train", n_train), ("val", n_val), ("test", n_test)):
        if count == 0:
            continue
        (root / split / "images").mkdir(parents=True, exist_ok=True)
        if split != "test":
            (root / split / "masks").mkdir(parents=True, exist_ok=True)
        for _ in range(count):
            name = f"{index:05d}"
            mask = root / split / "masks" / f"{name}.png" if split != "test" else None
            jobs.append((root / split / "images" / f"{name}.jpg", mask, (seed, index), size))
            index += 1
    workers = min(default_workers() if workers is None else workers, max(1, len(jobs) // 16))
    for _ in parallel_map(_write_face, jobs, workers, chunksize=8):
        pass
    log.info("wrote %d synthetic faces (%d train, %d val, %d test) to %s", len(jobs), n_train, n_val, n_test, root)
    return root


# How many training masks of a synthetic hand-out get their left/right labels swapped, as 67 of the 1,000 real
# ones are: all three pairs, and in the last of them the ears alone (a swap a per-mask vote would miss).
HANDOUT_SWAPPED = 3


def handout_stem(seed: int, index: int) -> str:
    """A 32-character lowercase hex stem, as the hand-out names its files (the same for the same seed and index)."""
    import hashlib

    return hashlib.md5(f"faceparse-synthetic-{seed}-{index}".encode()).hexdigest()


def _write_handout_face(job: tuple[Path, Path | None, tuple[int, int], int, tuple[tuple[int, int], ...]]) -> None:
    from faceparse_lib.classes import mask_palette
    from faceparse_lib.data.relabel import swap_pairs

    image_path, mask_path, seed, size, swapped_pairs = job
    image, labels = synthetic_face(seed, size)
    image.save(image_path, quality=92)
    if mask_path is None:
        return
    mask = Image.fromarray(swap_pairs(np.asarray(labels), swapped_pairs), mode="P")
    mask.putpalette(mask_palette())  # palette PNGs, as the course's masks are
    mask.save(mask_path)


def make_synthetic_handout(
    dest: str | Path,
    n_train: int = 100,
    n_val: int = 20,
    n_test: int = 20,
    size: int = 512,
    seed: int = 0,
    swapped: int = HANDOUT_SWAPPED,
    workers: int | None = None,
) -> dict[str, Path]:
    """Write synthetic faces as the challenge hands them out: train.zip, val.zip (no masks), test.zip in `dest`.

    Hex stems, palette PNG masks, the subject's left and right, and `swapped` training masks with left and right
    swapped on purpose. Returns the zips by split (a split of 0 images writes no zip).
    """
    import json
    import shutil
    import zipfile

    from faceparse_lib.classes import FLIP_PAIRS

    if min(n_train, n_val, n_test, swapped) < 0 or size < 32 or n_train < 1:
        raise ValueError(f"need at least 1 training image, non-negative counts and size >= 32, got "
                         f"{n_train}/{n_val}/{n_test} at {size}")
    dest = Path(dest)
    mark = dest / ".synthetic-handout.json"  # the zips here are the kit's; any other hand-out zip is never replaced
    theirs = [dest / f"{split}.zip" for split in ("train", "val", "test") if (dest / f"{split}.zip").exists()]
    if theirs and not mark.is_file():
        raise ValueError(f"{', '.join(map(str, theirs))}: already there and not written by the kit (the course's "
                         "hand-out?); write the synthetic one into another folder")
    staging = dest / ".synthetic-handout"
    shutil.rmtree(staging, ignore_errors=True)
    rng = np.random.default_rng(seed)
    victims = set(rng.choice(n_train, size=min(swapped, n_train), replace=False).tolist()) if swapped else set()
    ears_only = max(victims) if victims else None
    jobs, index = [], 0
    for split, count in (("train", n_train), ("val", n_val), ("test", n_test)):
        for i in range(count):
            stem = handout_stem(seed, index)
            (staging / split / "images").mkdir(parents=True, exist_ok=True)
            mask = None
            pairs: tuple[tuple[int, int], ...] = ()
            if split == "train":
                (staging / split / "masks").mkdir(parents=True, exist_ok=True)
                mask = staging / split / "masks" / f"{stem}.png"
                if i in victims:
                    pairs = FLIP_PAIRS[-1:] if i == ears_only and len(victims) > 1 else FLIP_PAIRS
            jobs.append((staging / split / "images" / f"{stem}.jpg", mask, (seed, index), size, pairs))
            index += 1
    workers = min(default_workers() if workers is None else workers, max(1, len(jobs) // 16))
    for _ in parallel_map(_write_handout_face, jobs, workers, chunksize=8):
        pass
    dest.mkdir(parents=True, exist_ok=True)
    zips = {}
    for split in ("train", "val", "test"):
        if not (staging / split).is_dir():
            continue
        path = dest / f"{split}.zip"
        with zipfile.ZipFile(path, "w", zipfile.ZIP_STORED) as archive:  # JPEGs and PNGs are compressed already
            for file in sorted((staging / split).rglob("*")):
                archive.write(file, file.relative_to(staging).as_posix())
        zips[split] = path
    shutil.rmtree(staging)
    mark.write_text(json.dumps({"train": n_train, "val": n_val, "test": n_test, "size": size, "seed": seed}) + "\n")
    log.info("wrote a synthetic hand-out (%d train, %d val, %d test; %d swapped) to %s", n_train, n_val, n_test,
             len(victims), dest)
    return zips
