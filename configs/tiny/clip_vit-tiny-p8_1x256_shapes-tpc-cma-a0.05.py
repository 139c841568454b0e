# TPC-CMA fine-tuning of the tiny pretrained CLIP, alpha_target 0.05 (CPU, minutes):
#   python tools/train.py configs/tiny/clip_vit-tiny-p8_1x256_shapes-tpc-cma-a0.05.py
_base_ = ['../_base_/tiny_finetune.py']
model = dict(cma_loss=dict(type='CMALoss'))
custom_hooks = [
    dict(type='RequireFilesHook', files=dict(load_from={{_base_.pretrained_hint}})),
    dict(type='TPCCurriculumHook', alpha_target=0.05, phases=(0.1, 0.5, 0.4),
         ramp='cosine', probe_interval=10, gamma=1.0),
]
