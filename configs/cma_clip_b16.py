# The README's entry point for real-scale TPC-CMA (python tools/train.py
# configs/cma_clip_b16.py): OpenAI CLIP ViT-B/16 on COCO Karpathy, alpha_target 0.05.
# Everything is defined in the algorithm folder; see configs/tpc_cma/README.md.
_base_ = ['./tpc_cma/tpc-cma-a0.05_vit-base-p16_1xb256-5k_coco.py']
