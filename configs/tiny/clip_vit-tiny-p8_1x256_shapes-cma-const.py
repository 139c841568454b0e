# Baseline: CMA without curriculum, constant alpha from the first step (no
# anchor, no ramp, no gradient-aware cap). Same budget as TPC-CMA.
#   python tools/train.py configs/tiny/clip_vit-tiny-p8_1x256_shapes-cma-const.py \
#       --cfg-options model.alpha=0.5      # the alpha_target 0.5 counterpart
_base_ = ['../_base_/tiny_finetune.py']
model = dict(cma_loss=dict(type='CMALoss'), alpha=0.05)
