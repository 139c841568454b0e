"""tools/convert_clip_weights.py end to end: files in, checkpoint out, errors."""
import os.path as osp

import pytest
import torch
import torch.nn.functional as F
from clip.model import CLIP as OpenAICLIP
from mmengine.registry import DefaultScope
from mmengine.runner import load_checkpoint

import tpc_cma_mm  # noqa: F401
from tool_runner import load_tool, run_tool
from tpc_cma_mm.registry import MODELS
from tpc_cma_mm.utils.checkpoint import safe_torch_load

TOOL = 'tools/convert_clip_weights.py'
# 1-layer OpenAI-format CLIP: 64-d image tower (1 head), 32-d text tower, 16 positions.
SOURCE = dict(embed_dim=16, image_resolution=32, vision_layers=1, vision_width=64,
              vision_patch_size=16, context_length=16, vocab_size=49408,
              transformer_width=32, transformer_heads=2, transformer_layers=1)
MODEL = dict(
    type='DualEncoder',
    vision_backbone=dict(
        type='VisionTransformer',
        arch=dict(embed_dims=64, num_layers=1, num_heads=1, feedforward_channels=256),
        img_size=32, patch_size=16, pre_norm=True, final_norm=True, out_type='cls_token',
        norm_cfg=dict(type='LN', eps=1e-5), layer_cfgs=dict(act_cfg=dict(type='QuickGELU'))),
    projection=dict(type='CLIPProjection', in_channels=64, out_channels=16),
    text_backbone=dict(type='TextTransformer', width=32, layers=1, heads=2),
    proj_dim=16, context_length=16)


@pytest.fixture
def source(tmp_path):
    torch.manual_seed(0)
    model = OpenAICLIP(**SOURCE).eval()
    path = tmp_path / 'openai.pt'
    torch.save(model.state_dict(), path)
    return model, str(path)


def write_config(tmp_path, model_cfg) -> str:
    path = tmp_path / 'model_cfg.py'
    path.write_text(f'model = {model_cfg!r}\n')
    return str(path)


def plain(obj) -> bool:
    if isinstance(obj, dict):
        return all(isinstance(k, str) and plain(v) for k, v in obj.items())
    if isinstance(obj, (list, tuple)):
        return all(plain(v) for v in obj)
    return isinstance(obj, (str, int, float, bool, type(None)))


def test_cli_converts_checks_and_mmengine_loads(source, tmp_path):
    model_src, src = source
    dst = str(tmp_path / 'out' / 'converted.pth')
    cfg = write_config(tmp_path, MODEL)
    result = run_tool(TOOL, src, dst, '--config', cfg)
    assert result.returncode == 0, result.stderr
    assert 'all keys match' in result.stdout
    ckpt = safe_torch_load(dst)
    assert set(ckpt) == {'state_dict', 'meta'} and plain(ckpt['meta'])
    assert ckpt['meta']['source_format'] == 'openai'
    with DefaultScope.overwrite_default_scope('tpc_cma_mm'):
        model = MODELS.build(MODEL).eval()
    load_checkpoint(model, dst, strict=True)  # the path load_from takes
    images = torch.randn(2, 3, 32, 32)
    with torch.no_grad():
        diff = model.embed(images)['img_embeds'] - F.normalize(
            model_src.encode_image(images), dim=-1)
    assert diff.abs().max() < 1e-4


def test_open_clip_training_checkpoint(source, tmp_path):
    model_src, _ = source
    src, dst = str(tmp_path / 'epoch_3.pt'), str(tmp_path / 'converted.pth')
    state = {f'module.{k}': v for k, v in model_src.state_dict().items()}
    torch.save(dict(epoch=3, name='run', state_dict=state), src)
    assert load_tool(TOOL).main([src, dst, '--format', 'open_clip']) == 0
    ckpt = safe_torch_load(dst)
    assert ckpt['meta']['source_format'] == 'open_clip'
    assert 'visual.patch_embed.projection.weight' in ckpt['state_dict']


@pytest.mark.filterwarnings('ignore::FutureWarning')  # torch.jit.script
def test_bad_inputs_give_clear_errors(tmp_path, capsys):
    tool, dst = load_tool(TOOL), str(tmp_path / 'never.pth')
    assert tool.main([str(tmp_path / 'nope.pt'), dst]) == 2
    assert 'does not exist' in capsys.readouterr().err

    garbage = tmp_path / 'garbage.pt'
    garbage.write_bytes(b'not a checkpoint')
    assert tool.main([str(garbage), dst]) == 2
    assert 'Cannot read' in capsys.readouterr().err

    jit = str(tmp_path / 'ViT-B-16.pt')
    torch.jit.script(torch.nn.Linear(2, 2)).save(jit)
    assert tool.main([jit, dst]) == 2
    err = capsys.readouterr().err
    assert 'TorchScript' in err and 'jit=False' in err and 'state_dict()' in err

    odd = str(tmp_path / 'odd.pt')
    torch.save({'encoder.layer.0.weight': torch.zeros(2)}, odd)
    assert tool.main([odd, dst]) == 2
    err = capsys.readouterr().err
    assert 'encoder.layer.0.weight' in err and 'open_clip' in err
    assert not osp.exists(dst)


def test_config_mismatch_reported(source, tmp_path, capsys):
    _, src = source
    wrong = dict(MODEL, proj_dim=8, projection=dict(MODEL['projection'], out_channels=8))
    rc = load_tool(TOOL).main([src, str(tmp_path / 'c.pth'), '--config',
                       write_config(tmp_path, wrong)])
    out = capsys.readouterr().out
    assert rc == 1 and 'FAILED' in out
    assert 'mismatched keys (2)' in out and 'visual_proj.proj' in out


def _hf_folder(tmp_path, **vision):
    """A random CLIPModel of MODEL's sizes saved with save_pretrained (offline)."""
    from transformers import CLIPConfig, CLIPModel
    torch.manual_seed(0)
    config = CLIPConfig(
        projection_dim=16,
        vision_config=dict(hidden_size=64, intermediate_size=256, num_hidden_layers=1,
                           num_attention_heads=1, image_size=32, patch_size=16,
                           projection_dim=16, **vision),
        text_config=dict(vocab_size=49408, hidden_size=32, intermediate_size=128,
                         num_hidden_layers=1, num_attention_heads=2,
                         max_position_embeddings=16, projection_dim=16))
    model = CLIPModel(config).eval()
    folder = tmp_path / 'hf'
    model.save_pretrained(folder)
    return model, str(folder)


def test_hf_folder_config_must_match_the_plugin_config(tmp_path, capsys):
    """config.json declares what the weights cannot: a GELU / eps 1e-6 image tower
    converted with a QuickGELU / eps 1e-5 config is refused, naming both fields."""
    tool, dst = load_tool(TOOL), str(tmp_path / 'c.pth')
    _, folder = _hf_folder(tmp_path, hidden_act='gelu', layer_norm_eps=1e-6)
    assert tool.main([folder, dst, '--config', write_config(tmp_path, MODEL)]) == 2
    err = capsys.readouterr().err
    assert "vision_config.hidden_act 'gelu' vs 'quick_gelu' (vision_backbone.layer_cfgs" in err
    assert 'vision_config.layer_norm_eps 1e-06 vs 1e-05 (vision_backbone.norm_cfg.eps)' in err
    assert 'text_config' not in err and not osp.exists(dst)
    gelu = dict(MODEL, vision_backbone=dict(
        MODEL['vision_backbone'], norm_cfg=dict(type='LN', eps=1e-6),
        layer_cfgs=dict(act_cfg=dict(type='GELU'))))
    assert tool.main([folder, dst, '--config', write_config(tmp_path, gelu)]) == 0
    meta = safe_torch_load(dst)['meta']
    assert meta['source_format'] == 'hf'
    assert meta['activation'] == dict(image='gelu', text='quick_gelu')


def test_hf_folder_with_format_hf_converts_like_auto(tmp_path, capsys):
    hf_model, folder = _hf_folder(tmp_path)
    tool, cfg = load_tool(TOOL), write_config(tmp_path, MODEL)
    states = []
    for fmt in ('hf', 'auto'):
        dst = str(tmp_path / f'{fmt}.pth')
        assert tool.main([folder, dst, '--format', fmt, '--config', cfg]) == 0
        assert 'all keys match' in capsys.readouterr().out
        states.append(safe_torch_load(dst)['state_dict'])
    assert states[0].keys() == states[1].keys()
    assert all(torch.equal(states[0][k], states[1][k]) for k in states[0])
    with DefaultScope.overwrite_default_scope('tpc_cma_mm'):
        model = MODELS.build(MODEL).eval()
    model.load_state_dict(states[0], strict=True)
    images = torch.randn(2, 3, 32, 32)
    with torch.no_grad():
        want = F.normalize(hf_model.get_image_features(pixel_values=images), dim=-1)
        torch.testing.assert_close(model.embed(images)['img_embeds'], want,
                                   rtol=0, atol=1e-5)
    assert tool.main([folder, str(tmp_path / 'x.pth'), '--format', 'openai']) == 2
    assert 'give --format hf or auto' in capsys.readouterr().err


def test_an_existing_destination_or_a_symlink_is_never_replaced(source, tmp_path, capsys):
    """Before, DST was replaced whatever it held (a training checkpoint with optimizer
    state), written in place (a kill left 0 bytes) and through a symbolic link."""
    _, src = source
    run = tmp_path / 'iter_300.pth'
    run.write_bytes(b'weights and optimizer state')
    assert load_tool(TOOL).main([src, str(run)]) == 2
    assert 'other content' in capsys.readouterr().err and run.read_bytes().startswith(b'weights')
    link = tmp_path / 'converted.pth'
    link.symlink_to(run)
    assert load_tool(TOOL).main([src, str(link), '--overwrite']) == 2
    assert 'symbolic link' in capsys.readouterr().err and run.read_bytes().startswith(b'weights')
    assert load_tool(TOOL).main([src, str(run), '--overwrite']) == 0
    assert 'visual.patch_embed.projection.weight' in safe_torch_load(str(run))['state_dict']
    assert sorted(p.name for p in tmp_path.iterdir()) == ['converted.pth', 'iter_300.pth',
                                                          'openai.pt']
