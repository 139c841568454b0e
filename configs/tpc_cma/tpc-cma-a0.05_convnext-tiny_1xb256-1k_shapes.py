# Mixing towers: an mmpretrain ConvNeXt image tower + CLIP's text tower, trained from
# scratch on the generated shapes with TPC-CMA (alpha_target 0.05) over 1,000 iterations.
_base_ = ['../clip/clip_convnext-tiny_1xb256-1k_shapes-pretrain.py']
model = dict(cma_loss=dict(type='CMALoss'), combine='grad_share')
custom_hooks = [dict(type='TPCCurriculumHook', alpha_target=0.05)]
