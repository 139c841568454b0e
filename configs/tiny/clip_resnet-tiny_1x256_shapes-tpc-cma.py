# Mixing: an mmpretrain ResNet image tower (basic blocks, 16 base channels,
# 3x3 CIFAR stem for 32 px) + CLIP's text tower, trained from scratch on the
# generated shapes with TPC-CMA (alpha_target 0.05) over 1,000 iterations.
# Any mmpretrain backbone plugs in the same way: backbone -> neck -> projection.
_base_ = [
    '../_base_/models/clip_tiny_vit_p8.py',
    '../_base_/datasets/shape_captions.py',
    '../_base_/schedules/tiny_pretrain_1k.py',
    '../_base_/default_runtime.py',
]
model = dict(
    vision_backbone=dict(_delete_=True, type='ResNet_CIFAR', depth=18, base_channels=16,
                         stem_channels=16, out_indices=(3, )),
    vision_neck=dict(type='GlobalAveragePooling'),
    projection=dict(type='CLIPProjection', in_channels=128, out_channels=64),
    cma_loss=dict(type='CMALoss'),
    zero_shot={{_base_.zero_shot}})
custom_hooks = [dict(type='TPCCurriculumHook', alpha_target=0.05)]
