# TPC-CMA fine-tuning of the tiny pretrained CLIP, alpha_target 0.5 (CPU, minutes).
_base_ = ['./tpc-cma-a0.05_vit-tiny-p8_1xb256-300i_shapes.py']
custom_hooks = [
    dict(type='TPCCurriculumHook', alpha_target=0.5, phases=(0.1, 0.5, 0.4),
         ramp='cosine', gamma=1.0),
]
