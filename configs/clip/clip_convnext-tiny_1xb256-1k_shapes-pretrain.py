# Pretrain a tiny CLIP with a ConvNeXt image tower from scratch on the generated shapes.
_base_ = [
    '../_base_/models/clip_convnext-tiny.py',
    '../_base_/datasets/shape_captions.py',
    '../_base_/schedules/shapes_pretrain_1k.py',
    '../_base_/default_runtime.py',
]
model = dict(zero_shot={{_base_.zero_shot}})
