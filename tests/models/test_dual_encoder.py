import math

import pytest
import torch
import torch.nn.functional as F

from tiny import tiny_dataset_cfg, tiny_model_cfg
from tpc_cma_mm.registry import DATASETS, MODELS


def _batch(model, n=6):
    dataset = DATASETS.build(tiny_dataset_cfg(num_samples=n))
    return model.data_preprocessor(
        dict(inputs=[dataset[i]['inputs'] for i in range(n)],
             data_samples=[dataset[i]['data_samples'] for i in range(n)]))


def test_preprocessor_stacks_tokens(tiny_model):
    data = _batch(tiny_model)
    assert data['inputs'].shape == (6, 3, 16, 16)
    assert data['text_tokens'].shape == (6, 16) and data['text_tokens'].dtype == torch.long


def test_loss_mode_is_infonce_of_normalised_embeddings(tiny_model):
    data = _batch(tiny_model)
    losses = tiny_model(**data, mode='loss')
    embeds = tiny_model(data['inputs'], text_tokens=data['text_tokens'], mode='tensor')
    logits = math.exp(math.log(1 / 0.07)) * embeds['img_embeds'] @ embeds['text_embeds'].t()
    target = torch.arange(6)
    expected = (F.cross_entropy(logits, target) + F.cross_entropy(logits.t(), target)) / 2
    torch.testing.assert_close(losses['loss_contrastive'], expected)
    assert not any('loss' in k for k in losses if k not in ('loss_contrastive', ))


def test_text_trimming_does_not_change_embeddings(tiny_model):
    tokens = tiny_model.tokenizer(['a red circle', 'a large blue star in the top left'])
    trimmed = tiny_model.encode_text(tokens)
    # Reference: run the full context with no trimming.
    x = tiny_model.token_embedding(tokens) + tiny_model.positional_embedding
    x = tiny_model.ln_final(tiny_model.transformer(x))
    full = x[torch.arange(2), tokens.argmax(-1)] @ tiny_model.text_projection
    torch.testing.assert_close(trimmed, full, rtol=1e-5, atol=1e-6)


def test_logit_scale_is_clamped_at_max():
    model = MODELS.build(tiny_model_cfg(logit_scale_init=math.log(500.0)))
    assert model.logit_scale_value().item() == pytest.approx(100.0)


def test_alpha_outside_unit_interval_is_rejected():
    with pytest.raises(ValueError, match='alpha'):
        MODELS.build(tiny_model_cfg(alpha=1.5))


def test_zero_shot_prototypes_follow_the_weights():
    classes = ['circle', 'square', 'star']
    model = MODELS.build(tiny_model_cfg(zero_shot=dict(classnames=classes, templates=['a {}', 'a photo of a {}'])))
    model.eval()
    data = _batch(model)
    samples = model(**data, mode='predict')
    proto = model.class_prototypes()
    # Independent: mean of the normalised prompt embeddings, renormalised.
    tokens = model.tokenizer(['a star', 'a photo of a star'])
    expected = F.normalize(F.normalize(model.encode_text(tokens), dim=-1).mean(0), dim=-1)
    torch.testing.assert_close(proto[2], expected)
    torch.testing.assert_close(samples[0].pred_score, samples[0].img_embeds @ proto.t())
    state = {k: v + 0.01 * torch.randn_like(v) for k, v in model.state_dict().items()}
    model.load_state_dict(state)
    assert not torch.allclose(model.class_prototypes(), proto)


def test_prompt_prototypes_of_any_classes_and_templates():
    """What the study's attribute zero-shot uses: other names and templates than the
    model's zero_shot, bit-equal to the cached class prototypes on the model's own."""
    classes, templates = ['circle', 'square', 'star'], ['a {}', 'a photo of a {}']
    model = MODELS.build(tiny_model_cfg(zero_shot=dict(classnames=classes, templates=templates)))
    model.eval()
    assert torch.equal(model.prompt_prototypes(classes, templates), model.class_prototypes())
    protos = model.prompt_prototypes(['red', 'blue'], ['a {} shape'])
    # Independent: one template, so each prototype is its one prompt's embedding.
    expected = F.normalize(model.encode_text(model.tokenizer(['a red shape', 'a blue shape'])),
                           dim=-1)
    torch.testing.assert_close(protos, expected)


def test_resnet_image_tower_trains():
    torch.manual_seed(0)
    model = MODELS.build(tiny_model_cfg(
        vision_backbone=dict(type='ResNet', depth=18, stem_channels=16, base_channels=8),
        vision_neck=dict(type='GlobalAveragePooling'),
        projection=dict(type='CLIPProjection', in_channels=64, out_channels=32)))
    losses = model(**_batch(model), mode='loss')
    losses['loss_contrastive'].backward()
    assert model.visual.conv1.weight.grad.abs().sum() > 0


def test_clip_activation_builds_outside_the_plugin_scope():
    from mmengine.registry import DefaultScope

    from tpc_cma_mm.models import DualEncoder
    cfg = tiny_model_cfg()
    cfg['vision_backbone'] = dict(cfg['vision_backbone'],
                                  layer_cfgs=dict(act_cfg=dict(type='QuickGELU')))
    # mmengine's scope: mmcv's root registry alone does not know QuickGELU.
    cfg.pop('type')
    with DefaultScope.overwrite_default_scope('mmengine'):
        model = DualEncoder(**cfg)
    acts = {type(m).__name__ for m in model.visual.modules()}
    assert 'QuickGELU' in acts


RESNET = dict(type='ResNet', depth=18, stem_channels=16, base_channels=8)  # 64-d output


@pytest.mark.parametrize('overrides,expected', [
    (dict(projection=dict(type='CLIPProjection', in_channels=64, out_channels=32)),
     r'model.projection.in_channels=64 does not match .* width 32: set in_channels=32'),
    (dict(projection=dict(type='CLIPProjection', in_channels=32, out_channels=16)),
     r'outputs 16-d embeddings but model.proj_dim=32.*out_channels=32'),
    (dict(vision_backbone=RESNET, projection=dict(type='CLIPProjection', out_channels=32)),
     r"ResNet\) outputs feature maps of shape \(64, 1, 1\).*vision_neck=dict\(type='Global"),
    (dict(vision_backbone=RESNET, vision_neck=dict(type='GlobalAveragePooling'),
          projection=dict(type='CLIPProjection', in_channels=512, out_channels=32)),
     r'in_channels=512 does not match .* width 64: set in_channels=64'),
])
def test_shape_mistakes_raise_at_build_naming_the_key(overrides, expected):
    with pytest.raises(ValueError, match=expected):
        MODELS.build(tiny_model_cfg(**overrides))


@pytest.mark.parametrize('backbone,neck,width', [
    (None, None, 32), (RESNET, dict(type='GlobalAveragePooling'), 64)])
def test_projection_width_is_inferred_and_the_build_leaves_no_trace(backbone, neck, width):
    from tpc_cma_mm.models.plugin_scope import build_in_plugin_scope
    cfg = tiny_model_cfg(projection=dict(type='CLIPProjection', out_channels=32))
    if backbone:
        cfg.update(vision_backbone=backbone, vision_neck=neck)
    torch.manual_seed(0)
    model = MODELS.build(cfg)
    assert model.visual_proj.proj.shape == (width, 32)
    assert model.training and model.visual.training
    # Independent: the same parts built one after the other, with no dry run.
    torch.manual_seed(0)
    parts = [build_in_plugin_scope(cfg['vision_backbone'])]
    parts += [build_in_plugin_scope(neck)] if neck else []
    parts.append(build_in_plugin_scope(dict(cfg['projection'], in_channels=width)))
    ours = [model.visual, *([model.visual_neck] if neck else []), model.visual_proj]
    for part, built in zip(parts, ours):
        reference = part.state_dict()
        for name, value in built.state_dict().items():
            # No random number drawn, no BatchNorm statistic moved.
            assert torch.equal(value, reference[name]), name


def test_tokens_longer_than_the_context_name_both_settings(tiny_model):
    from tpc_cma_mm.models import CLIPTokenizer
    tokens = CLIPTokenizer(context_length=77)(['a red circle'])
    with pytest.raises(ValueError, match=r'length 77 exceed model.context_length=16.*'
                                         r'context_length\) to 16'):
        tiny_model.encode_text(tokens)


def test_set_schedule_is_validated(tiny_model):
    tiny_model.objective.set_schedule(alpha=0.25, probe=True)
    assert (tiny_model.objective.alpha, tiny_model.objective.probe_this_step) == (0.25, True)
    for alpha in (-0.1, 1.5, True, '0.5'):
        with pytest.raises(ValueError, match='model.alpha'):
            tiny_model.objective.set_schedule(alpha=alpha)
    with pytest.raises(ValueError, match='probe'):
        tiny_model.objective.set_schedule(alpha=0.1, probe=1)
