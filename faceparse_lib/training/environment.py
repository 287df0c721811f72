"""The machine a run trained on (Python, torch, CUDA, device), recorded in config.json for the report's Table 3."""

from __future__ import annotations

import os
import platform

import torch


def environment() -> dict[str, str]:
    """Python, torch, CUDA and device of this machine."""
    cuda = torch.cuda.is_available()
    return {
        "python": platform.python_version(),
        "torch": torch.__version__,
        "cuda": torch.version.cuda or "-" if cuda else "-",
        "device_name": torch.cuda.get_device_name(0) if cuda else f"CPU ({os.cpu_count()} cores)",
        "platform": platform.platform(),
    }
