# TPC-CMA fine-tuning of the tiny pretrained CLIP, alpha_target 0.5 (CPU, minutes).
_base_ = ['./clip_vit-tiny-p8_1x256_shapes-tpc-cma-a0.05.py']
custom_hooks = [
    dict(type='RequireFilesHook', files=dict(load_from={{_base_.pretrained_hint}})),
    dict(type='TPCCurriculumHook', alpha_target=0.5, phases=(0.1, 0.5, 0.4),
         ramp='cosine', probe_interval=10, gamma=1.0),
]
