"""Parse one face photo into a mask of CelebAMask-HQ class indices (the course's solution/run.py).

python3 run.py --input /path/to/input-image.jpg --output /path/to/output-mask.png --weights ckpt.pth

Standalone: torch, segmentation-models-pytorch (with timm), numpy and Pillow only. It rebuilds the network from
the architecture recorded in ckpt.pth and repeats the training kit's inference step for step (resize, ImageNet
normalisation, left/right-aware flip TTA, probabilities resized to the photo), so it writes the very mask the
kit wrote into masks/.
"""

import argparse
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image


def build_model(ckpt):
    """The smp network the checkpoint describes, with its weights, in eval mode."""
    import segmentation_models_pytorch as smp

    spec = ckpt["model"]
    net = smp.create_model(spec["arch"], encoder_name=spec["encoder"], encoder_weights=None, classes=spec["classes"],
                           **spec["kwargs"])
    net.load_state_dict(ckpt["state_dict"])
    return net.eval()


def logits_of(net, x, divisor):
    """Logits at x's size: zero-pad bottom/right to a multiple of `divisor`, run, resize to the padded size, crop."""
    height, width = x.shape[-2:]
    padded = F.pad(x, (0, -width % divisor, 0, -height % divisor))
    out = net(padded)
    if tuple(out.shape[-2:]) != tuple(padded.shape[-2:]):
        out = F.interpolate(out, size=padded.shape[-2:], mode="bilinear", align_corners=False)
    return out[..., :height, :width]


def predict(net, ckpt, image):
    """The H×W uint8 class-index mask of an H×W×3 uint8 RGB image."""
    x = torch.from_numpy(np.ascontiguousarray(image)).permute(2, 0, 1).float().div_(255)[None]
    out_size = tuple(x.shape[-2:])
    side = ckpt["input_size"]
    if side and (side, side) != out_size:
        x = F.interpolate(x, size=(side, side), mode="bilinear", antialias=True, align_corners=False)
    mean = torch.tensor(ckpt["mean"], dtype=x.dtype).view(3, 1, 1)
    std = torch.tensor(ckpt["std"], dtype=x.dtype).view(3, 1, 1)
    x = (x - mean) / std
    order = list(range(ckpt["model"]["classes"]))
    for left, right in ckpt["flip_pairs"]:
        order[left], order[right] = right, left
    total, views = None, 0
    with torch.inference_mode():
        for mirrored in (False, True) if ckpt["tta"] == "flip" else (False,):
            logits = logits_of(net, x.flip(-1) if mirrored else x, ckpt["size_divisor"])
            if mirrored:  # mirror back AND swap the left/right classes: a mirrored left eye is a right eye
                logits = logits.flip(-1)[:, order]
            logits = logits.float()
            if tuple(logits.shape[-2:]) != out_size:
                logits = F.interpolate(logits, size=out_size, mode="bilinear", align_corners=False)
            probs = logits.softmax(dim=1)
            total = probs if total is None else total.add_(probs)
            views += 1
        return total.div_(views)[0].argmax(dim=0).to(torch.uint8).numpy()


def save_mask(mask, path, palette):
    """A palette PNG: the stored values are the class indices (PIL's convert("P") keeps them)."""
    picture = Image.fromarray(mask)
    picture.putpalette(palette)
    picture.save(path, format="PNG")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--input", required=True, help="a face photo (JPEG or PNG)")
    parser.add_argument("--output", required=True, help="the mask PNG to write")
    parser.add_argument("--weights", default=str(Path(__file__).with_name("ckpt.pth")),
                        help="the checkpoint (default: ckpt.pth beside run.py)")
    args = parser.parse_args()
    torch.set_num_threads(max(1, torch.get_num_threads()))
    ckpt = torch.load(args.weights, map_location="cpu", weights_only=True)
    image = np.array(Image.open(args.input).convert("RGB"))
    save_mask(predict(build_model(ckpt), ckpt, image), args.output, ckpt["palette"])


if __name__ == "__main__":
    main()
