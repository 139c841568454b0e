# Baseline: CMA without curriculum, constant alpha from the first step (no anchor,
# no ramp, no gradient-aware cap), same budget as TPC-CMA:
#   python tools/train.py configs/tpc_cma/cma-const-a0.05_vit-tiny-p8_1xb256-300i_shapes.py \
#       --cfg-options model.alpha=0.5      # the alpha_target 0.5 counterpart
_base_ = ['../clip/clip_vit-tiny-p8_1xb256-300i_shapes-ft.py']
model = dict(cma_loss=dict(type='CMALoss'), alpha=0.05, combine='grad_share')
