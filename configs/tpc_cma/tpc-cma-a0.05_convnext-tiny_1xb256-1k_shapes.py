# Mixing towers: an mmpretrain ConvNeXt image tower + CLIP's text tower, trained from
# scratch on the generated shapes with TPC-CMA (alpha_target 0.05) over 1,000 iterations.
_base_ = [
    '../_base_/models/clip_convnext-tiny.py',
    '../_base_/datasets/shape_captions.py',
    '../_base_/schedules/shapes_pretrain_1k.py',
    '../_base_/default_runtime.py',
]
model = dict(cma_loss=dict(type='CMALoss'), combine='grad_share',
             zero_shot={{_base_.zero_shot}})
custom_hooks = [dict(type='TPCCurriculumHook', alpha_target=0.05)]
