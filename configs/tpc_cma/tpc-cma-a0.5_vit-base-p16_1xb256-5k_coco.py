# As tpc-cma-a0.05_vit-base-p16_1xb256-5k_coco.py with alpha_target 0.5 (the paper's
# strong-alignment point).
_base_ = ['./tpc-cma-a0.05_vit-base-p16_1xb256-5k_coco.py']
custom_hooks = [
    dict(type='TPCCurriculumHook', alpha_target=0.5, phases=(0.1, 0.5, 0.4),
         ramp='cosine', gamma=1.0),
]
