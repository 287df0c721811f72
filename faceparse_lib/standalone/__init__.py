"""What a hand-in's run.py needs, with torch, numpy and Pillow alone: `images` (the one image reader, the mask writer)
`inference` (class probabilities with flip TTA) and `srresnet` (the course's baseline network, for a hand-in of it).

This package imports nothing else of faceparse_lib, and the kit's own readers and inference call it: a hand-in copies
it verbatim beside its run.py, so the masks run.py writes on a grader's machine are the kit's by construction.
Nothing is imported here, so the torch-free file layer can use `images` without loading torch.
"""
