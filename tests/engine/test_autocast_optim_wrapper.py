import torch
from mmengine.optim import build_optim_wrapper
from mmengine.registry import init_default_scope

from tiny import tiny_model_cfg
from tpc_cma_mm.engine.optim_wrapper import AutocastOptimWrapper
from tpc_cma_mm.registry import MODELS


def test_bf16_step_on_cpu():
    init_default_scope('tpc_cma_mm')
    torch.manual_seed(0)
    model = MODELS.build(tiny_model_cfg())
    wrapper = build_optim_wrapper(model, dict(
        type='AutocastOptimWrapper', dtype='bfloat16',
        optimizer=dict(type='AdamW', lr=1e-3)))
    assert isinstance(wrapper, AutocastOptimWrapper)
    before = model.text_projection.detach().clone()
    tokens = model.tokenizer(['a red circle', 'a blue square'])
    with wrapper.optim_context(model):
        feats = model.encode_image(torch.randn(2, 3, 16, 16))
        losses = model(torch.randn(2, 3, 16, 16), text_tokens=tokens, mode='loss')
    assert feats.dtype == torch.bfloat16
    wrapper.update_params(model.parse_losses(losses)[0])
    assert model.text_projection.dtype == torch.float32  # master weights stay fp32
    assert not torch.equal(model.text_projection, before)
