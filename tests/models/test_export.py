"""Export to OpenAI CLIP, open_clip and Hugging Face CLIPModel, and import back.

Each target library computes the embeddings itself from the exported file (the
independent computation); random-initialised tiny models, LayerNorms perturbed
so that a misplaced norm cannot hide.
"""
import json
import os

import pytest
import torch
import torch.nn.functional as F
from clip.model import CLIP as OpenAICLIP
from mmengine.config import Config
from safetensors.torch import load_file

from clip_small import perturb_norms, small_cfg
from tiny import TINY_CONTEXT, TINY_IMAGE, tiny_model_cfg
from tpc_cma_mm.models import CLIPTokenizer
from tpc_cma_mm.models.convert import UnknownLayoutError, convert_state_dict
from tpc_cma_mm.models.export import export_model, mmpretrain_to_openai
from tpc_cma_mm.models.hf_clip import load_hf_folder
from tpc_cma_mm.registry import MODELS
from tpc_cma_mm.utils import safe_torch_load

CAPTIONS = ['a photo of a cat', 'a small red square at the top left', 'two dogs']


def build(cfg, seed=0):
    torch.manual_seed(seed)
    model = perturb_norms(MODELS.build(cfg))
    with torch.no_grad():
        model.logit_scale.fill_(2.5)  # not the initial value: it must be carried over
    return model


def ours(model, size, context):
    images = torch.randn(2, 3, size, size, generator=torch.Generator().manual_seed(1))
    tokens = CLIPTokenizer(context_length=context)(CAPTIONS)
    with torch.no_grad():
        out = model.embed(images, tokens)
    return images, tokens, out['img_embeds'], out['text_embeds']


def assert_same_embeddings(model, encode_image, encode_text, size, context):
    images, tokens, img, text = ours(model, size, context)
    with torch.no_grad():
        ref_img = F.normalize(encode_image(images), dim=-1)
        ref_text = F.normalize(encode_text(tokens), dim=-1)
    torch.testing.assert_close(img, ref_img, rtol=0, atol=1e-5)
    torch.testing.assert_close(text, ref_text, rtol=0, atol=1e-5)


def test_openai_export_loads_strictly_and_embeds_the_same(tmp_path, monkeypatch):
    import clip.model
    model = build(small_cfg())
    out = str(tmp_path / 'openai.pt')
    export_model(model, 'openai', out)
    # OpenAI's own loader infers the model from the weights (and casts to float16,
    # which is left out here so that the embeddings compare at float32 precision).
    monkeypatch.setattr(clip.model, 'convert_weights', lambda target: None)
    target = clip.model.build_model(safe_torch_load(out))
    assert isinstance(target, OpenAICLIP)
    assert_same_embeddings(model, target.encode_image, target.encode_text, 32, 77)
    assert target.logit_scale.item() == model.logit_scale.item() == 2.5


def test_openai_export_refuses_what_openai_cannot_rebuild(tmp_path):
    """GELU, eps 1e-6, heads of 16, as in the issue's reproduction: each named."""
    out = tmp_path / 'x.pt'
    with pytest.raises(ValueError, match=r'image activation gelu \(OpenAI: quick_gelu\).*'
                       r'text activation gelu.*as hf'):
        export_model(build(small_cfg('gelu')), 'openai', str(out))
    with pytest.raises(ValueError, match=r'image LayerNorm eps 1e-06 \(OpenAI: 1e-05\); '
                       r'image 2 heads of width 16 \(OpenAI: heads of 64\)'):
        export_model(build(tiny_model_cfg()), 'openai', str(out))
    wide_mlp = small_cfg()
    wide_mlp['vision_backbone']['arch']['feedforward_channels'] = 256
    with pytest.raises(ValueError, match=r'image MLP width 256 \(OpenAI: 4 x 128\).*as hf'):
        export_model(build(wide_mlp), 'openai', str(out))
    assert not out.exists()


def test_open_clip_export_loads_into_create_model_strictly(tmp_path):
    import open_clip
    name = 'tpc-cma-test-tiny-vit'
    (tmp_path / f'{name}.json').write_text(json.dumps(dict(
        embed_dim=32, vision_cfg=dict(image_size=32, layers=2, width=128, head_width=64,
                                      patch_size=16),
        text_cfg=dict(context_length=77, vocab_size=49408, width=64, heads=1, layers=2))))
    open_clip.add_model_config(str(tmp_path / f'{name}.json'))
    model = build(small_cfg('gelu'))
    out = str(tmp_path / 'open_clip.pt')
    info = export_model(model, 'open_clip', out)
    assert info['open_clip_quick_gelu'] is False
    target = open_clip.create_model(name, pretrained=None).eval()
    target.load_state_dict(safe_torch_load(out), strict=True)
    assert_same_embeddings(model, target.encode_image, target.encode_text, 32, 77)
    assert target.logit_scale.item() == 2.5


def test_hf_export_from_pretrained_offline_and_import_round_trip(tmp_path, monkeypatch):
    from transformers import CLIPModel
    monkeypatch.setenv('HF_HUB_OFFLINE', '1')
    model = build(tiny_model_cfg())  # GELU image tower, QuickGELU text, eps 1e-6 / 1e-5
    folder = str(tmp_path / 'hf')
    export_model(model, 'hf', folder)
    target = CLIPModel.from_pretrained(folder, local_files_only=True).eval()
    assert target.config.vision_config.hidden_act == 'gelu'
    assert target.config.text_config.hidden_act == 'quick_gelu'
    assert_same_embeddings(model, lambda x: target.get_image_features(pixel_values=x),
                           lambda t: target.get_text_features(input_ids=t),
                           TINY_IMAGE, TINY_CONTEXT)
    assert target.logit_scale.item() == 2.5
    # The folder carries the tokenizer: the same ids as the model's own, padded with <eot>.
    from transformers import CLIPTokenizer as HFCLIPTokenizer
    hf_tokenizer = HFCLIPTokenizer.from_pretrained(folder, local_files_only=True)
    captions = ['a photo of a red circle.', 'Two  small BLUE stars, top-left!',
                "the cat's café", 'x' * 300]
    ours = model.tokenizer(captions)
    theirs = hf_tokenizer(captions, padding='max_length', truncation=True,
                          max_length=model.context_length, return_tensors='pt').input_ids
    eot = model.tokenizer.eot_id
    for row, (mine, hf) in enumerate(zip(ours, theirs)):
        end = int((mine == eot).nonzero()[0]) + 1  # ours pads with 0, HF with <eot>
        assert torch.equal(mine[:end], hf[:end]) and (hf[end:] == eot).all(), captions[row]
    # Import: the folder converts back to exactly the original weights.
    state, config = load_hf_folder(folder)
    converted, meta = convert_state_dict(state)
    assert meta['source_format'] == 'openai'
    back, meta = convert_state_dict(load_file(os.path.join(folder, 'model.safetensors')))
    assert meta['source_format'] == 'hf'
    original = model.state_dict()
    for got in (converted, back):
        assert got.keys() == original.keys()
        for key, value in original.items():
            assert torch.equal(got[key], value), key
    assert config['text_config']['max_position_embeddings'] == TINY_CONTEXT


def test_exports_refused_with_a_reason(tmp_path):
    tiny = build(tiny_model_cfg())
    with pytest.raises(ValueError, match='one activation for both towers'):
        export_model(tiny, 'open_clip', str(tmp_path / 'x.pt'))
    resnet = MODELS.build(tiny_model_cfg(
        vision_backbone=dict(type='ResNet', depth=18, out_indices=(3, )),
        vision_neck=dict(type='GlobalAveragePooling'),
        projection=dict(type='CLIPProjection', in_channels=512, out_channels=32)))
    with pytest.raises(ValueError, match='Export needs a CLIP ViT'):
        export_model(resnet, 'openai', str(tmp_path / 'x.pt'))
    with pytest.raises(UnknownLayoutError, match='visual_neck|visual.conv1'):
        mmpretrain_to_openai(resnet.state_dict())
    with pytest.raises(ValueError, match='Unknown export format'):
        export_model(tiny, 'timm', str(tmp_path / 'x.pt'))
    out = tmp_path / 'exists.pt'
    out.write_bytes(b'mine')
    small = build(small_cfg())
    with pytest.raises(FileExistsError, match='--overwrite'):
        export_model(small, 'openai', str(out))
    assert out.read_bytes() == b'mine'
    export_model(small, 'openai', str(out), overwrite=True)
    assert 'logit_scale' in safe_torch_load(str(out))
    (tmp_path / 'hf').mkdir()
    (tmp_path / 'hf' / 'keep.txt').write_text('x')
    with pytest.raises(FileExistsError, match='not empty'):
        export_model(tiny, 'hf', str(tmp_path / 'hf'))


def test_vit_b16_configs_export_to_open_clip_keys_and_shapes():
    """Real sizes, on the meta device: the export of each B/16 base equals the
    state dict of open_clip's ViT-B-16 (and -quickgelu) key for key."""
    import open_clip
    from open_clip.model import CLIPTextCfg, CLIPVisionCfg
    for base, quick in (('clip_vit-base-p16.py', True), ('clip_vit-base-p16_gelu.py', False)):
        cfg = Config.fromfile(f'configs/_base_/models/{base}').model
        with torch.device('meta'):
            model = MODELS.build(cfg)
            oc_cfg = open_clip.get_model_config('ViT-B-16')
            reference = open_clip.model.CLIP(
                oc_cfg['embed_dim'], CLIPVisionCfg(**oc_cfg['vision_cfg']),
                CLIPTextCfg(**oc_cfg['text_cfg']), quick_gelu=quick).state_dict()
        exported = mmpretrain_to_openai(model.state_dict())
        assert {k: tuple(v.shape) for k, v in exported.items()} == {
            k: tuple(v.shape) for k, v in reference.items()}
        from tpc_cma_mm.models.export import check_open_clip_compatible, describe_towers
        assert check_open_clip_compatible(describe_towers(model)) is quick
