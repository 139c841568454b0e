"""tools/export_clip_weights.py then tools/convert_clip_weights.py: the weights come back."""
import torch

from tiny import tiny_model_cfg
from tool_runner import run_tool as tool
from tpc_cma_mm.registry import MODELS
from tpc_cma_mm.utils import safe_torch_load


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


def test_export_refuses_an_existing_file_and_a_mixed_model_for_open_clip(tmp_path):
    config = tmp_path / 'tiny.py'
    config.write_text(f'model = {tiny_model_cfg()!r}\n')
    ckpt = tmp_path / 'iter_1.pth'
    torch.save(dict(state_dict=MODELS.build(tiny_model_cfg()).state_dict()), ckpt)
    out = tmp_path / 'out.pt'
    out.write_bytes(b'keep')
    result = tool('tools/export_clip_weights.py', str(config), str(ckpt), str(out),
                  '--format', 'openai')
    assert result.returncode == 2 and '--overwrite' in result.stderr
    assert out.read_bytes() == b'keep'
    result = tool('tools/export_clip_weights.py', str(config), str(ckpt),
                  str(tmp_path / 'oc.pt'), '--format', 'open_clip')
    assert result.returncode == 2 and 'one activation for both towers' in result.stderr
    assert not (tmp_path / 'oc.pt').exists()
