"""The scale-out configs and the FSDP wrap policy, checked on the CPU.

The configs resolve every name they use, and the policy shards exactly the
transformer blocks, leaving the heads the gradient probe differentiates in the
root unit. Training under FSDP / DeepSpeed: tests/engine/test_fsdp_cpu.py.
"""
import os.path as osp

import pytest
import torch
from mmengine.config import Config
from mmengine.registry import FUNCTIONS, STRATEGIES, DefaultScope

from tpc_cma_mm.engine.sharding import (ScalarSafeFSDPStrategy, is_transformer_block,
                                        transformer_block_policy)
from tpc_cma_mm.registry import MODELS

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
FSDP = osp.join(REPO, 'configs/tpc_cma/tpc-cma-a0.05_vit-large-p14_fsdp-8xb64-5k_coco.py')
DEEPSPEED = osp.join(REPO, 'configs/tpc_cma/tpc-cma-a0.05_vit-large-p14_deepspeed-zero2-8xb64-5k_coco.py')


def test_fsdp_config_names_the_registered_policy_and_check_fn():
    cfg = Config.fromfile(FSDP)
    assert cfg.runner_type == 'FlexibleRunner' and cfg.strategy.type == 'ScalarSafeFSDPStrategy'
    with DefaultScope.overwrite_default_scope(cfg.default_scope):
        assert STRATEGIES.get(cfg.strategy.type) is ScalarSafeFSDPStrategy
        assert FUNCTIONS.get(cfg.strategy.model_wrapper.auto_wrap_policy) \
            is transformer_block_policy
        assert FUNCTIONS.get(cfg.strategy.activation_checkpointing.check_fn) \
            is is_transformer_block


def test_deepspeed_config_keeps_token_ids_integer():
    cfg = Config.fromfile(DEEPSPEED)
    assert cfg.strategy.type == 'DeepSpeedStrategy'
    assert cfg.strategy.inputs_to_half == ['inputs']  # text_tokens must stay int64 ids
    assert cfg.optim_wrapper.type == 'DeepSpeedOptimWrapper'


def test_policy_wraps_each_vit_l14_block_and_leaves_the_probed_heads_in_the_root():
    cfg = Config.fromfile(FSDP)
    with torch.device('meta'):  # 428 M parameters: names and types only
        model = MODELS.build(cfg.model)
    wrapped = [name for name, module in model.named_modules()
               if transformer_block_policy(module, recurse=False)]
    vision_layers, text_layers = 24, cfg.model.text_backbone.layers
    assert len(wrapped) == vision_layers + text_layers == 36
    assert sum(n.startswith('visual.') for n in wrapped) == vision_layers
    assert transformer_block_policy(model, recurse=True)  # FSDP always descends
    for name, _ in model.named_parameters():
        inside = any(name.startswith(block + '.') for block in wrapped)
        if name.startswith(('visual_proj', 'text_projection', 'logit_scale')):
            assert not inside, name
    for probe in ('visual_proj', 'text_projection'):
        assert any(n.startswith(probe) for n, _ in model.named_parameters())


@pytest.mark.parametrize('config', [FSDP, DEEPSPEED])
def test_scale_configs_run_the_curriculum(config):
    cfg = Config.fromfile(config)
    hooks = [h.type for h in cfg.custom_hooks]
    assert 'TPCCurriculumHook' in hooks and cfg.model.cma_loss.type == 'CMALoss'
    assert cfg.custom_imports.allow_failed_imports is False
