# TPC-CMA of the tiny pretrained CLIP asked for a gap, not an alpha: close 50 % of the
# centroid gap the anchor phase measures, alpha set in closed loop (CPU, minutes):
#   python tools/train.py configs/tpc_cma/tpc-cma-target-c0.5_vit-tiny-p8_1xb256-300i_shapes.py
# Another target: --cfg-options custom_hooks.0.target.reduction=0.25 (or target.value=0.4,
# target.key='distribution'); the log says whether it was reached (train/target_reached).
_base_ = ['./tpc-cma-a0.05_vit-tiny-p8_1xb256-300i_shapes.py']
custom_hooks = [
    dict(type='TPCCurriculumHook', phases=(0.1, 0.5, 0.4), ramp='cosine',
         target=dict(key='centroid', reduction=0.5)),
]
