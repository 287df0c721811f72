"""Run by tests/test_loop.py under torchrun: trains a few iterations and saves what this rank holds at the end."""

import sys
from pathlib import Path

import torch

import faceparse_lib.training.loop as train_module
from faceparse_lib.training.config import TrainConfig
from faceparse_lib.training.loop import train

data_root, run_dir, out_dir = sys.argv[1:4]
captured = {}
validate = train_module.validate


def capturing_validate(model, val_data, loss_fn, cfg, env):
    row = validate(model, val_data, loss_fn, cfg, env)
    captured.update(rank=env.rank, world_size=env.world_size, row=row,
                    weights={k: v.detach().clone() for k, v in model.state_dict().items()})
    return row


train_module.validate = capturing_validate
cfg = TrainConfig.preset("cpu", data_root=data_root, run_dir=run_dir, input_size=None, crop_size=48, batch_size=2,
                         iterations=3, eval_interval=3, log_interval=1, progress=False, warmup_iterations=1)
train(cfg)
torch.save(captured, Path(out_dir) / f"rank{captured['rank']}.pt")
