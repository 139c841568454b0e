"""tools/export_clip_weights.py then tools/convert_clip_weights.py: the weights come back."""
import errno

import pytest
import torch

from clip_small import small_cfg
import tpc_cma_mm.models.export as export_module
from tiny import tiny_model_cfg
from tpc_cma_mm.models.export import export_model
from tool_runner import run_tool as tool
from tpc_cma_mm.registry import MODELS
from tpc_cma_mm.utils import safe_torch_load
from tpc_cma_mm.utils.atomic_io import DiskFullError, OutputExistsError


def test_export_hf_then_convert_back_gives_the_same_weights(tmp_path):
    config = tmp_path / 'tiny.py'
    config.write_text(f'model = {tiny_model_cfg()!r}\n')
    torch.manual_seed(0)
    model = MODELS.build(tiny_model_cfg())
    with torch.no_grad():
        model.logit_scale.fill_(3.0)
    ckpt = tmp_path / 'iter_1.pth'
    torch.save(dict(state_dict=model.state_dict(), meta=dict(iter=1)), ckpt)
    folder = tmp_path / 'hf'
    result = tool('tools/export_clip_weights.py', str(config), str(ckpt), str(folder),
                  '--format', 'hf')
    assert result.returncode == 0, result.stderr[-2000:]
    assert 'logit_scale 3.0000' in result.stdout
    back = tmp_path / 'back.pth'
    result = tool('tools/convert_clip_weights.py', str(folder), str(back), '--config',
                  str(config))
    assert result.returncode == 0, result.stdout + result.stderr[-2000:]
    state = safe_torch_load(str(back))['state_dict']
    assert state.keys() == model.state_dict().keys()
    assert all(torch.equal(state[k], v) for k, v in model.state_dict().items())


def _saved(tmp_path, name, cfg):
    config, ckpt = tmp_path / f'{name}.py', tmp_path / f'{name}.pth'
    config.write_text(f'model = {cfg!r}\n')
    torch.save(dict(state_dict=MODELS.build(cfg).state_dict()), ckpt)
    return str(config), str(ckpt)


def test_export_refuses_an_existing_file_and_a_mixed_model_for_open_clip(tmp_path):
    out = tmp_path / 'out.pt'
    out.write_bytes(b'keep')
    result = tool('tools/export_clip_weights.py', *_saved(tmp_path, 'small', small_cfg()),
                  str(out), '--format', 'openai')
    assert result.returncode == 2 and '--overwrite' in result.stderr
    assert out.read_bytes() == b'keep'
    config, ckpt = _saved(tmp_path, 'tiny', tiny_model_cfg())
    # OpenAI's build_model would rebuild the tiny model with QuickGELU, eps 1e-5 and
    # one 32-wide head per tower: other embeddings, so it is refused.
    result = tool('tools/export_clip_weights.py', config, ckpt, str(tmp_path / 'oa.pt'),
                  '--format', 'openai')
    assert result.returncode == 2, result.stderr[-2000:]
    assert 'image activation gelu (OpenAI: quick_gelu)' in result.stderr
    assert 'heads of width 16 (OpenAI: heads of 64)' in result.stderr
    assert 'as hf' in result.stderr and not (tmp_path / 'oa.pt').exists()
    result = tool('tools/export_clip_weights.py', str(config), str(ckpt),
                  str(tmp_path / 'oc.pt'), '--format', 'open_clip')
    assert result.returncode == 2 and 'one activation for both towers' in result.stderr
    assert not (tmp_path / 'oc.pt').exists()


def test_hf_export_on_a_full_disk_leaves_nothing_and_litter_is_refused(tmp_path, monkeypatch):
    """Before, a full disk (or a kill) left a folder with only config.json, which the
    rerun refused, and the error was a raw OSError 28."""
    model = MODELS.build(tiny_model_cfg())
    out = tmp_path / 'hf'

    def disk_full(tokenizer, folder):
        raise OSError(errno.ENOSPC, 'No space left on device')

    real_tokenizer = export_module.save_hf_tokenizer
    monkeypatch.setattr(export_module, 'save_hf_tokenizer', disk_full)
    with pytest.raises(DiskFullError, match=f'Disk full: writing {out} needs more than'):
        export_model(model, 'hf', str(out))
    assert list(tmp_path.iterdir()) == []  # no folder, no temporary sibling
    monkeypatch.setattr(export_module, 'save_hf_tokenizer', real_tokenizer)
    out.mkdir()
    (out / 'config.json').write_text('{}')  # what a killed export used to leave
    with pytest.raises(OutputExistsError, match='not empty.*--overwrite'):
        export_model(model, 'hf', str(out))
    export_model(model, 'hf', str(out), overwrite=True)
    assert {'config.json', 'model.safetensors', 'vocab.json'} <= {p.name for p in out.iterdir()}
    assert [p.name for p in tmp_path.iterdir()] == ['hf']
