"""apis.init_model: the one checked, weights-only loader of every tool."""

import hashlib
import pytest
import torch
from mmengine.config import Config

from tiny import tiny_model_cfg
from tpc_cma_mm.apis import checkpoint_id, init_model
from tpc_cma_mm.registry import MODELS
from tpc_cma_mm.utils import CheckpointMismatchError, UnsafeCheckpointError


def _config():
    return Config(dict(default_scope='tpc_cma_mm', model=tiny_model_cfg()))


def _saved_model(path, seed=0):
    torch.manual_seed(seed)
    model = MODELS.build(tiny_model_cfg())
    torch.save(dict(state_dict=model.state_dict(), meta=dict(note='x')), path)
    return model


def test_loads_the_checkpoint_weights_in_eval_mode(tmp_path):
    source = _saved_model(tmp_path / 'a.pth', seed=1)
    torch.manual_seed(2)  # a different initialisation than the checkpoint's
    model = init_model(_config(), str(tmp_path / 'a.pth'))
    assert not model.training
    for key, value in source.state_dict().items():
        assert torch.equal(model.state_dict()[key], value), key


def test_checkpoint_of_another_layout_is_refused_naming_the_keys(tmp_path):
    """An OpenAI-layout checkpoint (unconverted) used to leave the image tower random."""
    source = _saved_model(tmp_path / 'a.pth')
    state = {k.replace('visual.layers.', 'visual.transformer.resblocks.'): v
             for k, v in source.state_dict().items()}
    torch.save(state, tmp_path / 'openai.pth')
    with pytest.raises(CheckpointMismatchError,
                       match=r'(?s)missing from the checkpoint: visual\.layers.*'
                       r'unexpected in the checkpoint: visual\.transformer.*'
                       r'convert_clip_weights'):
        init_model(_config(), str(tmp_path / 'openai.pth'))
    state = source.state_dict()
    state['text_projection'] = torch.zeros(3, 3)
    torch.save(state, tmp_path / 'shape.pth')
    with pytest.raises(CheckpointMismatchError, match='shape-mismatched'):
        init_model(_config(), str(tmp_path / 'shape.pth'))


class _RunsCode:
    def __reduce__(self):
        return (print, ('code ran',))


def test_code_running_pickle_is_refused(tmp_path):
    path = tmp_path / 'evil.pth'
    torch.save(dict(state_dict={}, payload=_RunsCode()), path)
    with pytest.raises(UnsafeCheckpointError, match='Refused'):
        init_model(_config(), str(path))


def test_checkpoint_id_is_the_content_sha256(tmp_path):
    _saved_model(tmp_path / 'a.pth', seed=0)
    _saved_model(tmp_path / 'b.pth', seed=1)
    want = hashlib.sha256((tmp_path / 'a.pth').read_bytes()).hexdigest()[:16]
    assert checkpoint_id(str(tmp_path / 'a.pth')) == want
    assert checkpoint_id(str(tmp_path / 'b.pth')) != want
