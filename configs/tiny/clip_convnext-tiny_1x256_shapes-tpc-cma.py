# Mixing: an mmpretrain ConvNeXt image tower (4 stages, 16-128 channels;
# feature map out, pooled by the neck) + CLIP's text tower, trained from
# scratch on the generated shapes with TPC-CMA (alpha_target 0.05).
_base_ = [
    '../_base_/models/clip_tiny_vit_p8.py',
    '../_base_/datasets/shape_captions.py',
    '../_base_/schedules/tiny_pretrain_1k.py',
    '../_base_/default_runtime.py',
]
model = dict(
    vision_backbone=dict(_delete_=True, type='ConvNeXt',
                         arch=dict(depths=[2, 2, 2, 2], channels=[16, 32, 64, 128]),
                         gap_before_final_norm=False, out_indices=(3, )),
    vision_neck=dict(type='GlobalAveragePooling'),
    projection=dict(type='CLIPProjection', in_channels=128, out_channels=64),
    cma_loss=dict(type='CMALoss'),
    zero_shot={{_base_.zero_shot}})
custom_hooks = [dict(type='TPCCurriculumHook', alpha_target=0.05)]
