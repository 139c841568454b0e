"""The ViT pooled inside its last block equals mmpretrain's own forward."""
import pytest
import torch
from mmengine.registry import init_default_scope

import tpc_cma_mm  # noqa: F401
from tpc_cma_mm.models.tower_config import set_grad_checkpointing
from tpc_cma_mm.models.vit_pooling import cls_fast_path_ok, vit_cls_forward
from tpc_cma_mm.registry import MODELS


def build_vit(**kwargs):
    init_default_scope('tpc_cma_mm')
    torch.manual_seed(0)
    cfg = dict(type='VisionTransformer',
               arch=dict(embed_dims=32, num_layers=3, num_heads=4, feedforward_channels=64),
               img_size=16, patch_size=4, pre_norm=True, final_norm=True,
               out_type='cls_token', layer_scale_init_value=0.1,
               layer_cfgs=dict(act_cfg=dict(type='QuickGELU')))
    cfg.update(kwargs)
    vit = MODELS.build(cfg)
    vit.init_weights()
    return vit


@pytest.mark.parametrize('checkpointing', [False, True])
def test_fast_path_matches_forward_with_gradients(checkpointing):
    vit = build_vit().double()  # float64: equal up to rounding, checked tightly
    vit.train()
    assert cls_fast_path_ok(vit)
    x = torch.randn(3, 3, 16, 16, requires_grad=True, dtype=torch.float64)
    ref = vit(x)[0]
    g_ref = torch.autograd.grad(ref.square().sum(), [x, *vit.parameters()])
    set_grad_checkpointing_like(vit, checkpointing)
    out = vit_cls_forward(vit, x)[0]
    g_out = torch.autograd.grad(out.square().sum(), [x, *vit.parameters()])
    torch.testing.assert_close(out, ref, rtol=1e-10, atol=1e-12)
    for a, b in zip(g_out, g_ref):
        torch.testing.assert_close(a, b, rtol=1e-8, atol=1e-12)


def set_grad_checkpointing_like(vit, enable):
    holder = torch.nn.Module()
    holder.visual, holder.transformer = vit, torch.nn.Module()
    set_grad_checkpointing(holder, enable)


@pytest.mark.parametrize('kwargs', [dict(out_type='avg_featmap'), dict(out_indices=[1, 2]),
                                    dict(final_norm=False, out_type='featmap')])
def test_other_outputs_take_the_plain_forward(kwargs):
    assert not cls_fast_path_ok(build_vit(**kwargs))


def test_hooks_take_the_plain_forward():
    vit = build_vit()
    vit.layers[-1].register_forward_hook(lambda *args: None)
    assert not cls_fast_path_ok(vit)
