# Pretrain the tiny CLIP from scratch on generated captioned shapes (CPU, minutes).
# Its checkpoint is the "original model" every TPC-CMA experiment starts from.
_base_ = [
    '../_base_/models/clip_tiny_vit_p8.py',
    '../_base_/datasets/shape_captions.py',
    '../_base_/schedules/tiny_pretrain_1k.py',
    '../_base_/default_runtime.py',
]
model = dict(zero_shot={{_base_.zero_shot}})
