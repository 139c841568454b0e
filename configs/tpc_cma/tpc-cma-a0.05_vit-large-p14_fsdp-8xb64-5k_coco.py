# TPC-CMA fine-tuning of CLIP ViT-L/14 on COCO captions with FSDP (FULL_SHARD),
# 8 GPUs x 64 = global batch 512, bf16 parameters in the forward pass.
#   bash tools/dist_train.sh configs/tpc_cma/tpc-cma-a0.05_vit-large-p14_fsdp-8xb64-5k_coco.py 8
#   NNODES=2 NODE_RANK=0 MASTER_ADDR=... bash tools/dist_train.sh ... 8     (per node)
#   GPUS=16 bash tools/slurm_train.sh PARTITION JOB CONFIG WORK_DIR
# ScalarSafeFSDPStrategy is mmengine's FSDPStrategy that also shards the 0-d
# logit scale (FSDP refuses 0-d parameters); without CUDA it runs on the CPU
# with gloo (tests/engine/test_fsdp_cpu.py). What holds under sharding: docs/scaling.md.
_base_ = [
    '../_base_/models/clip_vit-large-p14.py',
    '../_base_/datasets/coco_karpathy.py',
    '../_base_/schedules/coco_finetune_5k.py',
    '../_base_/default_runtime.py',
]
runner_type = 'FlexibleRunner'
strategy = dict(
    type='ScalarSafeFSDPStrategy',
    model_wrapper=dict(
        # One FSDP unit per transformer block of either tower; embeddings, final
        # norms, projection heads and logit scale stay in the (unsharded-for-the-
        # step) root unit, where the CMA gradient probe reads them.
        auto_wrap_policy='tpc_transformer_block_policy',
        # Original parameters: needed for locked towers (mixed requires_grad in
        # a unit) and for reading the probe's parameters by name.
        use_orig_params=True,
        sharding_strategy='FULL_SHARD',
        mixed_precision=dict(param_dtype='bfloat16', reduce_dtype='float32',
                             buffer_dtype='float32')),
    # Recompute each block in backward (FSDP-aware; do not also set
    # model.tower_cfg.grad_checkpointing).
    activation_checkpointing=dict(check_fn='tpc_is_transformer_block'),
    state_dict_cfg='full')  # rank 0 saves one consolidated, loadable checkpoint

# Convex here: the gradient-share combination of the other TPC-CMA configs measures
# gradient norms on the probe parameters with torch.autograd.grad, not tested on
# sharded parameters (docs/method.md, "Decisions by experiment").
model = dict(cma_loss=dict(type='CMALoss'), combine='convex')
custom_hooks = [dict(type='TPCCurriculumHook', alpha_target=0.05, probe_interval=10)]
# mmengine's OptimWrapper clips each rank's gradient shard by its own norm, which
# is not global-norm clipping under FSDP: clipping is off here (docs/scaling.md).
optim_wrapper = dict(clip_grad=None)
train_dataloader = dict(batch_size=64)
env_cfg = dict(dist_cfg=dict(backend='nccl'))
# A converted OpenAI / open_clip checkpoint (tools/convert_clip_weights.py).
load_from = 'checkpoints/clip_vit-l14_openai.pth'
# Validation on COCO Karpathy val only (the B/16 configs add zero-shot sets with
# MultiValLoop, whose zero-shot prototypes would need the sharded text tower gathered).
val_cfg = dict(type='ValLoop')
# The schedule's lr is meant for 8 x 64 (tools/train.py --auto-scale-lr).
auto_scale_lr = dict(base_batch_size=512)
