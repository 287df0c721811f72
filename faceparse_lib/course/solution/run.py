"""Parse one face photo into a mask of CelebAMask-HQ class indices (the course's solution/run.py).

python3 run.py --input /path/to/input-image.jpg --output /path/to/output-mask.png --weights ckpt.pth

Standalone: torch, segmentation-models-pytorch (with timm), numpy and Pillow only. It rebuilds the network from the
architecture recorded in ckpt.pth; reading the image and the inference (resize, ImageNet normalisation, padding,
left/right-aware flip TTA, probabilities resized to the photo) are the training kit's own, in standalone/ beside
this file (a verbatim copy of faceparse_lib/standalone), so it writes the very mask the kit wrote into masks/.
"""

import argparse
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))  # standalone/ sits beside run.py, whatever the working folder
from standalone.images import mask_picture, read_rgb  # noqa: E402
from standalone.inference import class_indices, image_tensor, mean_probabilities, padded_logits  # noqa: E402
from standalone.srresnet import SRRESNET_ARCH, SRResNetSegmenter  # noqa: E402


def build_model(ckpt):
    """The network the checkpoint describes (an smp model, or the SRResNet baseline), with its weights, in eval mode."""
    spec = ckpt["model"]
    if spec["arch"] == SRRESNET_ARCH:
        net = SRResNetSegmenter(spec["classes"], **spec["kwargs"])
    else:
        import segmentation_models_pytorch as smp

        net = smp.create_model(spec["arch"], encoder_name=spec["encoder"], encoder_weights=None,
                               classes=spec["classes"], **spec["kwargs"])
    net.load_state_dict(ckpt["state_dict"])
    return net.eval()


def predict(net, ckpt, image):
    """The H×W uint8 class-index mask of an H×W×3 uint8 RGB image."""
    x = image_tensor(image)[None]
    with torch.inference_mode():
        probs = mean_probabilities(lambda view: padded_logits(net, view, ckpt["size_divisor"]), x, x.shape[-2:],
                                   ckpt["mean"], ckpt["std"], ckpt["flip_pairs"], tta=ckpt["tta"],
                                   input_size=ckpt["input_size"])
    return class_indices(probs)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--input", required=True, help="a face photo (JPEG or PNG)")
    parser.add_argument("--output", required=True, help="the mask PNG to write")
    parser.add_argument("--weights", default=str(Path(__file__).with_name("ckpt.pth")),
                        help="the checkpoint (default: ckpt.pth beside run.py)")
    args = parser.parse_args()
    ckpt = torch.load(args.weights, map_location="cpu", weights_only=True)
    mask = predict(build_model(ckpt), ckpt, read_rgb(args.input))
    mask_picture(mask, ckpt["palette"]).save(args.output, format="PNG")


if __name__ == "__main__":
    main()
