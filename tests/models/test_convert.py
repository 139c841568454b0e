"""Weight conversion: OpenAI / open_clip source models vs the converted DualEncoder.

Each source model is random-initialised in its own library (the independent
computation), its LayerNorms perturbed so a misplaced norm cannot hide.
"""
import pytest
import torch
import torch.nn.functional as F
from clip.model import CLIP as OpenAICLIP
from mmengine.config import Config
from mmpretrain.models.multimodal.clip.clip_transformer import CLIPTransformer

import tpc_cma_mm  # noqa: F401
from clip_small import SMALL, perturb_norms, small_cfg
from tpc_cma_mm.models import CLIPTokenizer
from tpc_cma_mm.models.convert import (UnknownLayoutError, check_conversion,
                                       convert_state_dict, detect_format,
                                       openai_to_mmpretrain, unwrap_checkpoint)
from tpc_cma_mm.registry import MODELS

CAPTIONS = ['a photo of a cat', 'a small red square at the top left', 'two dogs']


def openai_small() -> OpenAICLIP:
    torch.manual_seed(0)
    return perturb_norms(OpenAICLIP(**SMALL))


def open_clip_small():
    import open_clip
    torch.manual_seed(0)
    vision = dict(layers=2, width=128, head_width=64, patch_size=16, image_size=32)
    text = dict(context_length=77, vocab_size=49408, width=64, heads=1, layers=2)
    return perturb_norms(open_clip.model.CLIP(32, vision, text, quick_gelu=False))


def embedding_diffs(source, state_dict, cfg):
    model = MODELS.build(cfg)
    model.load_state_dict(state_dict, strict=True)
    model.eval()
    images = torch.randn(2, 3, 32, 32, generator=torch.Generator().manual_seed(1))
    tokens = CLIPTokenizer(context_length=77)(CAPTIONS)
    with torch.no_grad():
        ours = model.embed(images, tokens)
        img_ref = F.normalize(source.encode_image(images), dim=-1)
        text_ref = F.normalize(source.encode_text(tokens), dim=-1)
    return ((ours['img_embeds'] - img_ref).abs().max().item(),
            (ours['text_embeds'] - text_ref).abs().max().item())


def test_openai_round_trip_embeddings():
    source = openai_small()
    converted, meta = convert_state_dict(source.state_dict())
    assert meta['source_format'] == 'openai'
    img_diff, text_diff = embedding_diffs(source, converted, small_cfg())
    print(f'openai: max |d img| {img_diff:.2e}, max |d text| {text_diff:.2e}')
    assert img_diff < 1e-4 and text_diff < 1e-4


def test_open_clip_round_trip_embeddings_and_activation_matters():
    source = open_clip_small()
    converted, meta = convert_state_dict(source.state_dict(), 'open_clip')
    assert meta['source_format'] == 'open_clip'
    img_diff, text_diff = embedding_diffs(source, converted, small_cfg('gelu'))
    print(f'open_clip: max |d img| {img_diff:.2e}, max |d text| {text_diff:.2e}')
    assert img_diff < 1e-4 and text_diff < 1e-4
    # The wrong activation (QuickGELU config) visibly changes the embeddings.
    wrong = embedding_diffs(source, converted, small_cfg('quick_gelu'))
    assert min(wrong) > 1e-3


def test_openai_jit_leftovers_and_buffers_dropped():
    state = openai_small().state_dict()
    state.update(input_resolution=torch.tensor(32), context_length=torch.tensor(77),
                 vocab_size=torch.tensor(49408), attn_mask=torch.zeros(77, 77))
    assert detect_format(state) == 'openai'
    converted, meta = convert_state_dict(state)
    assert meta['dropped_keys'] == ['attn_mask', 'context_length', 'input_resolution',
                                    'vocab_size']
    assert not check_conversion(converted, MODELS.build(small_cfg()))['unexpected']


def test_mmpretrain_layout_passes_through_and_matches_mmpretrain_text_tower():
    converted, _ = convert_state_dict(openai_small().state_dict())
    assert detect_format(converted) == 'mmpretrain'
    again, _ = convert_state_dict(converted)
    assert again.keys() == converted.keys()
    # Text keys equal those of mmpretrain's own CLIP text transformer.
    reference = {f'transformer.{k}' for k in CLIPTransformer(64, 2, 2).state_dict()}
    assert {k for k in converted if k.startswith('transformer.')} == reference


def test_real_size_vit_b16_keys_load_strictly():
    import open_clip
    from open_clip.model import CLIPTextCfg, CLIPVisionCfg
    with torch.device('meta'):
        openai_sd = OpenAICLIP(512, 224, 12, 768, 16, 77, 49408, 512, 8, 12).state_dict()
        oc_cfg = open_clip.get_model_config('ViT-B-16')
        open_clip_sd = open_clip.model.CLIP(
            oc_cfg['embed_dim'], CLIPVisionCfg(**oc_cfg['vision_cfg']),
            CLIPTextCfg(**oc_cfg['text_cfg'])).state_dict()
    for state, base in ((openai_sd, 'clip_vit-base-p16.py'),
                        (open_clip_sd, 'clip_vit-base-p16_gelu.py')):
        cfg = Config.fromfile(f'configs/_base_/models/{base}').model
        with torch.device('meta'):
            model = MODELS.build(cfg)
        converted, _ = convert_state_dict(state)
        report = check_conversion(converted, model)
        assert not any(report.values()), report
        assert model.load_state_dict(converted, strict=True, assign=True) is not None
        assert converted['visual.cls_token'].shape == (1, 1, 768)
        assert converted['visual.pos_embed'].shape == (1, 197, 768)


def test_unknown_layout_lists_keys_and_formats():
    with pytest.raises(UnknownLayoutError, match=r"foo\.weight.*openai"):
        convert_state_dict({'foo.weight': torch.zeros(1), 'bar': torch.zeros(1)})
    resnet = {'visual.conv1.weight': torch.zeros(1), 'visual.layer1.0.conv1.weight':
              torch.zeros(1), 'visual.attnpool.c_proj.weight': torch.zeros(1)}
    with pytest.raises(UnknownLayoutError, match='ResNet CLIP'):
        convert_state_dict(resnet)
    with pytest.raises(UnknownLayoutError, match='OpenAI CLIP layout.*foo'):
        convert_state_dict({'vision_model.embeddings.patch_embedding.weight': torch.zeros(1),
                            'vision_model.foo': torch.zeros(1)})
    state = openai_small().state_dict()
    state['visual.transformer.resblocks.0.ls_1.gamma'] = torch.zeros(128)
    with pytest.raises(UnknownLayoutError, match='ls_1.gamma'):
        openai_to_mmpretrain(state)
    with pytest.raises(UnknownLayoutError, match='dict of tensors'):
        unwrap_checkpoint([1, 2])
    with pytest.raises(ValueError, match='Unknown format'):
        convert_state_dict(state, 'timm')


def test_training_checkpoint_unwrapped():
    state = openai_small().state_dict()
    ckpt = dict(epoch=3, name='run', state_dict={f'module.{k}': v for k, v in state.items()})
    assert unwrap_checkpoint(ckpt).keys() == state.keys()


def test_check_reports_missing_unexpected_mismatched_and_resized():
    converted, _ = convert_state_dict(openai_small().state_dict())
    converted.pop('ln_final.bias')
    converted['extra.weight'] = torch.zeros(1)
    converted['text_projection'] = torch.zeros(64, 16)
    converted['visual.pos_embed'] = torch.zeros(1, 17, 128)
    report = check_conversion(converted, MODELS.build(small_cfg()))
    assert report['missing'] == ['ln_final.bias']
    assert report['unexpected'] == ['extra.weight']
    assert report['mismatched'] == ['text_projection: checkpoint (64, 16) vs model (64, 32)']
    assert report['resized'] == [
        'visual.pos_embed: checkpoint (1, 17, 128) vs model (1, 5, 128)']


def test_text_transformer_rejects_unknown_activation():
    with pytest.raises(ValueError, match='act must be one of'):
        MODELS.build(dict(type='TextTransformer', width=8, layers=1, heads=1, act='relu'))
