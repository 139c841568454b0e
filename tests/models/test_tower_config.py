import copy

import pytest
import torch
from mmengine.optim import build_optim_wrapper

from tiny import tiny_model_cfg
from tpc_cma_mm.models.tower_config import CheckpointedModuleList, set_grad_checkpointing
from tpc_cma_mm.registry import MODELS

IMAGES = torch.randn(4, 3, 16, 16)
CAPTIONS = ['a red circle', 'a blue square at the top', 'a star', 'a big green star']


def build(**tower_cfg):
    torch.manual_seed(0)
    return MODELS.build(tiny_model_cfg(tower_cfg=tower_cfg or None))


def frozen_names(model):
    return {n for n, p in model.named_parameters() if not p.requires_grad}


def train_one_step(model):
    """One AdamW step with weight decay; returns the parameters before it."""
    before = {n: p.detach().clone() for n, p in model.named_parameters()}
    wrapper = build_optim_wrapper(
        model, dict(optimizer=dict(type='AdamW', lr=1e-2, weight_decay=0.1)))
    model.train()
    tokens = model.tokenizer(CAPTIONS)
    losses = model(IMAGES, text_tokens=tokens, mode='loss')
    wrapper.update_params(model.parse_losses(losses)[0])
    return before


def changed_names(model, before):
    return {n for n, p in model.named_parameters() if not torch.equal(p, before[n])}


def test_lock_whole_image_tower():
    model = build(lock_image=True)
    image = {n for n, _ in model.named_parameters() if n.startswith('visual')}
    assert frozen_names(model) == image
    before = train_one_step(model)
    changed = changed_names(model, before)
    assert not changed & image
    # Every trainable parameter moved, the logit scale included.
    assert changed == {n for n, p in model.named_parameters() if p.requires_grad}


def test_lock_image_all_but_last_block():
    # Groups from the end: 1 = projection, 2 = last block + final norm.
    model = build(lock_image=True, lock_image_unlocked_groups=2)
    trainable_image = {n for n, p in model.named_parameters()
                       if p.requires_grad and n.startswith('visual')}
    assert trainable_image == {
        n for n, _ in model.named_parameters()
        if n.startswith(('visual.layers.1.', 'visual.ln1.', 'visual_proj.'))}
    before = train_one_step(model)
    assert not changed_names(model, before) & frozen_names(model)
    assert {'visual.layers.1.attn.qkv.weight', 'visual_proj.proj'} <= changed_names(
        model, before)


def test_lock_text_tower_but_projection():
    model = build(lock_text=True, lock_text_unlocked_groups=1)
    text = {n for n, _ in model.named_parameters() if not n.startswith('visual')
            and n != 'logit_scale'}
    assert frozen_names(model) == text - {'text_projection'}
    before = train_one_step(model)
    assert changed_names(model, before) & text == {'text_projection'}


def test_bad_group_count_rejected():
    with pytest.raises(ValueError, match='unlocked_groups'):
        build(lock_text=True, lock_text_unlocked_groups=99)


def test_locked_resnet_keeps_batchnorm_statistics():
    cfg = tiny_model_cfg(
        vision_backbone=dict(type='ResNet', depth=18, stem_channels=8, base_channels=8),
        vision_neck=dict(type='GlobalAveragePooling'),
        projection=dict(type='CLIPProjection', in_channels=64, out_channels=32),
        tower_cfg=dict(lock_image=True, lock_image_unlocked_groups=2))
    torch.manual_seed(0)
    model = MODELS.build(cfg)
    stats = {k: v.clone() for k, v in model.visual.state_dict().items() if 'running' in k}
    before = train_one_step(model)
    after = model.visual.state_dict()
    moved = {k for k in stats if not torch.equal(stats[k], after[k])}
    # Only the unlocked last stage (group 2) updates its BatchNorm statistics.
    assert moved and all(k.startswith('layer4.') for k in moved)
    assert not changed_names(model, before) & frozen_names(model)
    assert all(n.startswith(('visual.layer4.', 'visual_proj.')) for n, p in
               model.named_parameters() if p.requires_grad and n.startswith('visual'))


def grads(model, tokens):
    model.train()
    model.zero_grad()
    losses = model(IMAGES, text_tokens=tokens, mode='loss')
    model.parse_losses(losses)[0].backward()
    return {n: p.grad.clone() for n, p in model.named_parameters() if p.grad is not None}


def test_grad_checkpointing_gives_the_same_gradients():
    plain = build()
    ckpt = build(grad_checkpointing=True)
    ckpt.load_state_dict(plain.state_dict())
    assert isinstance(ckpt.visual.layers, CheckpointedModuleList)
    assert ckpt.transformer.grad_checkpointing
    assert plain.state_dict().keys() == ckpt.state_dict().keys()
    tokens = plain.tokenizer(CAPTIONS)
    g_plain, g_ckpt = grads(plain, tokens), grads(ckpt, tokens)
    assert g_plain.keys() == g_ckpt.keys()
    for name in g_plain:
        torch.testing.assert_close(g_ckpt[name], g_plain[name], rtol=1e-5, atol=1e-7)


def test_grad_checkpointing_stores_fewer_activations():
    counts = {}
    for enable in (False, True):
        model = build()
        set_grad_checkpointing(model, enable)
        saved = []
        with torch.autograd.graph.saved_tensors_hooks(
                lambda t: saved.append(t.numel()) or t, lambda t: t):
            model.train()(IMAGES, text_tokens=model.tokenizer(CAPTIONS), mode='loss')
        counts[enable] = sum(saved)
    assert counts[True] < counts[False]


def test_checkpointed_model_copies_and_evaluates():
    model = build(grad_checkpointing=True)
    clone = copy.deepcopy(model)  # what EMA hooks do
    assert isinstance(clone.visual.layers, CheckpointedModuleList)
    with torch.no_grad():
        a = model.eval()(IMAGES, mode='tensor')['img_embeds']
        b = clone.eval()(IMAGES, mode='tensor')['img_embeds']
    torch.testing.assert_close(a, b)
    set_grad_checkpointing(model, False)
    assert type(model.visual.layers).__name__ == 'ModuleList'


TOWERS_AT_64PX = {
    'SwinTransformerV2': dict(
        type='SwinTransformerV2', img_size=64, window_size=[2, 2, 2, 2],
        arch=dict(embed_dims=8, depths=[1, 1, 1, 1], num_heads=[1, 1, 1, 1],
                  extra_norm_every_n_blocks=0)),
    'BEiTViT': dict(
        type='BEiTViT', img_size=64, patch_size=16, out_type='avg_featmap',
        arch=dict(embed_dims=16, num_layers=1, num_heads=2, feedforward_channels=32)),
}


@pytest.mark.parametrize('name', sorted(TOWERS_AT_64PX))
def test_a_tower_valid_only_at_its_own_size_is_checked_at_that_size(name):
    """SwinV2 / BEiT built for 64 px do not run on a 32 px batch: the shape check
    runs them at their configured size and infers the projection width."""
    backbone = TOWERS_AT_64PX[name]
    neck = dict(type='GlobalAveragePooling') if name == 'SwinTransformerV2' else None
    model = MODELS.build(tiny_model_cfg(
        vision_backbone=backbone, vision_neck=neck,
        projection=dict(type='CLIPProjection', out_channels=32)))
    width = model.visual.embed_dims * (8 if name == 'SwinTransformerV2' else 1)
    assert model.visual_proj.in_channels == width
    with torch.no_grad():
        assert model.encode_image(torch.zeros(1, 3, 64, 64)).shape == (1, 32)


def test_a_tower_that_fails_on_the_dummy_batch_names_its_size():
    backbone = dict(TOWERS_AT_64PX['BEiTViT'], img_size=(64, 48))
    with pytest.raises(ValueError, match=r'64x64 dummy batch.*set in_channels'):
        MODELS.build(tiny_model_cfg(vision_backbone=backbone,
                                    projection=dict(type='CLIPProjection', out_channels=32)))
