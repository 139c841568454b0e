# Pretrain the tiny CLIP from scratch on generated captioned shapes (CPU, minutes).
# Its checkpoint is the "original model" every TPC-CMA experiment starts from:
#   python tools/train.py configs/clip/clip_vit-tiny-p8_1xb256-1k_shapes-pretrain.py \
#       --work-dir work_dirs/tiny_pretrain
_base_ = [
    '../_base_/models/clip_vit-tiny-p8.py',
    '../_base_/datasets/shape_captions.py',
    '../_base_/schedules/shapes_pretrain_1k.py',
    '../_base_/default_runtime.py',
]
model = dict(zero_shot={{_base_.zero_shot}})
