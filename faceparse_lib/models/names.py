"""Registered names of the kit's own models, torch-free so configs and `--help` can name them without building any."""

SEED_MODEL = "deeplabv3plus_r50"  # the seed report's network
DEMO_MODEL = "unet_lcnet050"  # the small CPU model of the cpu preset and the demo
CHALLENGE_MODEL = "unet_mnv3s"  # the challenge preset's model, under the 1,821,085-parameter cap, from scratch
