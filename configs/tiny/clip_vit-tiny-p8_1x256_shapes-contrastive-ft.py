# Baseline: plain contrastive fine-tuning of the tiny pretrained CLIP, same budget.
_base_ = ['../_base_/tiny_finetune.py']
model = dict(cma_loss=None)
