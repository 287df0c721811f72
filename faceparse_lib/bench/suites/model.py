"""Training-step throughput (forward, backward, SGD step) of the seed and demo models: AMP, channels-last, peak memory."""

from __future__ import annotations

from typing import Callable

import torch

from faceparse_lib.bench import Case, Comparison, compare
from faceparse_lib.classes import NUM_CLASSES
from faceparse_lib.training.losses import SegmentationLoss
from faceparse_lib.models.names import CHALLENGE_MODEL, DEMO_MODEL, SEED_MODEL
from faceparse_lib.models.zoo import build_model, count_parameters

CHALLENGE_MODELS = (CHALLENGE_MODEL, "deeplabv3plus_lcnet100")  # registered under the challenge's cap



def training_step(model: torch.nn.Module, images: torch.Tensor, target: torch.Tensor, amp_dtype: torch.dtype | None) -> Callable[[], None]:
    """A callable running one training step of `model` (the seed schedule's SGD), synchronised on CUDA."""
    device = images.device.type
    loss_fn = SegmentationLoss().to(images.device)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9, weight_decay=5e-4)
    # fp16 needs loss scaling; bf16 (the CPU autocast type) does not.
    scaler = torch.amp.GradScaler(device, enabled=amp_dtype == torch.float16)

    def step() -> None:
        with torch.autocast(device, dtype=amp_dtype, enabled=amp_dtype is not None):
            loss = loss_fn(model(images), target)
        scaler.scale(loss).backward()
        scaler.step(optimizer)
        scaler.update()
        # Freed after the step, so the models waiting their turn in a comparison hold no gradients.
        optimizer.zero_grad(set_to_none=True)
        if device == "cuda":
            torch.cuda.synchronize()

    return step


def training_case(name: str, label: str, device: torch.device, batch: int, size: int, amp_dtype: torch.dtype | None, channels_last: bool) -> Case:
    """A Case timing one configuration; on CUDA its note is the peak memory of model, optimizer state and step."""
    memory_format = torch.channels_last if channels_last else torch.contiguous_format
    before = torch.cuda.memory_allocated(device) if device.type == "cuda" else 0
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)
    torch.manual_seed(0)
    model = build_model(name).to(device, memory_format=memory_format).train()
    images = torch.randn(batch, 3, size, size, device=device).contiguous(memory_format=memory_format)
    target = torch.randint(0, NUM_CLASSES, (batch, size, size), device=device)
    step = training_step(model, images, target, amp_dtype)
    step()  # the first step allocates gradients and momentum buffers: the peak to report
    note = ""
    if device.type == "cuda":
        note = f"peak {(torch.cuda.max_memory_allocated(device) - before) / 2**30:.2f} GiB"
    return Case(label, step, note=note)


def model_comparison(name: str, device: torch.device, batch: int, size: int, amp_dtype: torch.dtype | None, quick: bool) -> Comparison:
    """Baseline fp32 against channels-last and, where asked, autocast alone and with channels-last."""
    amp = {torch.float16: "AMP fp16", torch.bfloat16: "autocast bf16"}.get(amp_dtype, "")
    configs = [("fp32", None, False), ("fp32 channels-last", None, True)]
    if amp_dtype is not None:
        configs += [(amp, amp_dtype, False), (f"{amp} channels-last", amp_dtype, True)]
    cases = [training_case(name, label, device, batch, size, dtype, cl) for label, dtype, cl in configs]
    title = f"training step {name} {size}x{size} batch {batch} on {device_name(device)}"
    repeats, warmup = (3, 2) if quick else (5, 2) if device.type == "cpu" else (10, 3)
    result = compare(title, baseline=cases[0], cases=cases[1:], units=batch, unit="images", repeats=repeats, warmup=warmup)
    del cases
    if device.type == "cuda":
        torch.cuda.empty_cache()
    return result


def forward_case(name: str, size: int) -> Case:
    """One eval-mode forward pass of model `name` on a size×size image (batch 1), on the CPU."""
    torch.manual_seed(0)
    model = build_model(name).eval()
    image = torch.randn(1, 3, size, size)

    def forward() -> None:
        with torch.inference_mode():
            model(image)

    return Case(f"{name} ({count_parameters(model):,} parameters)", forward)


def challenge_models_comparison(size: int, quick: bool) -> Comparison:
    """The models under the challenge's cap against the demo model: CPU inference on one size×size image."""
    return compare(f"inference {size}x{size} batch 1 on {device_name(torch.device('cpu'))}, models under the cap",
                   baseline=forward_case(DEMO_MODEL, size),
                   cases=[forward_case(name, size) for name in CHALLENGE_MODELS],
                   units=1, unit="images", repeats=3 if quick else 5, warmup=1)


def device_name(device: torch.device) -> str:
    """The GPU's name, or "cpu (N threads)"."""
    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    return f"cpu ({torch.get_num_threads()} threads)"


def cuda_comparisons(quick: bool) -> list[Comparison]:
    """The GPU figures: the seed at the report's 512×512 batch 8 (fp16 AMP for T4/P100), then the demo model."""
    device = torch.device("cuda")
    benchmark_mode = torch.backends.cudnn.benchmark
    torch.backends.cudnn.benchmark = True
    try:
        if quick:
            return [model_comparison(DEMO_MODEL, device, batch=2, size=128, amp_dtype=torch.float16, quick=True)]
        return [
            model_comparison(SEED_MODEL, device, batch=8, size=512, amp_dtype=torch.float16, quick=False),
            model_comparison(DEMO_MODEL, device, batch=8, size=512, amp_dtype=torch.float16, quick=False),
        ]
    finally:
        torch.backends.cudnn.benchmark = benchmark_mode


def run(quick: bool) -> list[Comparison]:
    """On CUDA: 512×512 batch 8 with/without AMP and channels-last, peak memory. On CPU: small sizes."""
    if torch.cuda.is_available():
        return cuda_comparisons(quick)
    device = torch.device("cpu")
    if quick:
        return [model_comparison(DEMO_MODEL, device, batch=2, size=128, amp_dtype=None, quick=True),
                challenge_models_comparison(128, quick=True)]
    return [
        # Batch 2 at least: the ASPP image-pooling BatchNorm sees one value per channel per image.
        model_comparison(SEED_MODEL, device, batch=2, size=128, amp_dtype=torch.bfloat16, quick=False),
        model_comparison(DEMO_MODEL, device, batch=8, size=256, amp_dtype=torch.bfloat16, quick=False),
        challenge_models_comparison(512, quick=False),
    ]
