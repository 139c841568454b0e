"""``init_cfg=dict(type='Pretrained')`` refuses what ``load_from`` refuses.

mmengine's initialiser loads with ``strict=False`` and only warns, so an
unconverted OpenAI checkpoint used to train a random image tower."""
import pytest
import torch
from mmengine.registry import DefaultScope

from tiny import tiny_model_cfg
from tiny_runner import run_tiny, tiny_runner_cfg
from tpc_cma_mm.models.export import mmpretrain_to_openai
from tpc_cma_mm.registry import MODELS
from tpc_cma_mm.utils import CheckpointMismatchError, safe_loading


def _saved(tmp_path, name, state):
    path = tmp_path / name
    torch.save(state, path)
    return str(path)


def _init(cfg):
    with DefaultScope.overwrite_default_scope('tpc_cma_mm'), safe_loading():
        model = MODELS.build(cfg)
        model.init_weights()
    return model


@pytest.fixture
def source():
    torch.manual_seed(1)
    return MODELS.build(tiny_model_cfg())


def test_an_unconverted_openai_checkpoint_is_refused(tmp_path, source):
    openai = _saved(tmp_path, 'openai.pt', mmpretrain_to_openai(source.state_dict()))
    with pytest.raises(CheckpointMismatchError,
                       match=r"init_cfg Pretrained checkpoint .*openai.pt' does not fit(.|\n)*"
                       r'missing from the checkpoint: visual(.|\n)*convert_clip_weights'):
        _init(tiny_model_cfg(init_cfg=dict(type='Pretrained', checkpoint=openai)))
    # The Runner's path: refused before the first iteration, no checkpoint written.
    with pytest.raises(CheckpointMismatchError, match='openai.pt'):
        run_tiny(tiny_runner_cfg(tmp_path / 'w', curriculum=False, model=tiny_model_cfg(
            init_cfg=dict(type='Pretrained', checkpoint=openai))))
    assert not list((tmp_path / 'w').glob('iter_*.pth'))


def test_a_fitting_checkpoint_loads_whole_or_by_prefix(tmp_path, source):
    whole = _saved(tmp_path, 'whole.pth', dict(state_dict=source.state_dict()))
    model = _init(tiny_model_cfg(init_cfg=dict(type='Pretrained', checkpoint=whole)))
    for key, value in source.state_dict().items():
        assert torch.equal(model.state_dict()[key], value), key
    cfg = tiny_model_cfg()
    cfg['vision_backbone']['init_cfg'] = dict(type='Pretrained', checkpoint=whole,
                                              prefix='visual.')
    visual = _init(cfg).visual.state_dict()
    assert all(torch.equal(visual[k], v) for k, v in source.visual.state_dict().items())
    # A prefix that selects another tower's keys is refused, naming them.
    cfg['vision_backbone']['init_cfg']['prefix'] = 'transformer.'
    with pytest.raises(CheckpointMismatchError, match=r"prefix 'transformer.'"):
        _init(cfg)
