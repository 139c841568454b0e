"""A state dict from another architecture is reported key by key, with the fix."""
import pytest
import torch

from tiny import tiny_model_cfg
from tpc_cma_mm.registry import MODELS
from tpc_cma_mm.utils import CheckpointMismatchError, check_state_dict, diff_state_dict


def test_state_dict_of_another_architecture_is_reported():
    model = MODELS.build(tiny_model_cfg())
    state = dict(model.state_dict())
    del state['logit_scale']
    state['extra.weight'] = torch.zeros(3)
    state['text_projection'] = torch.zeros(32, 16)
    assert diff_state_dict(model.state_dict(), state) == dict(
        missing=['logit_scale'], unexpected=['extra.weight'],
        mismatched=[('text_projection', (32, 16), (32, 32))])
    with pytest.raises(CheckpointMismatchError) as info:
        check_state_dict(model, state, source='ckpt.pth')
    message = str(info.value)
    for part in ('ckpt.pth', '1 shape-mismatched', 'text_projection: (32, 16) vs (32, 32)',
                 '1 missing from the checkpoint: logit_scale',
                 '1 unexpected in the checkpoint: extra.weight', 'Fix:'):
        assert part in message
    with pytest.raises(CheckpointMismatchError, match='shape-mismatched'):
        check_state_dict(model, state, allow_missing=['.*'])  # shapes always fail
    text_only = {f'module.{k}': v for k, v in model.state_dict().items()
                 if not k.startswith('visual.')}
    report = check_state_dict(model, text_only, allow_missing=[r'^visual\.'])
    assert report['missing'] and all(k.startswith('visual.') for k in report['missing'])
    with pytest.raises(CheckpointMismatchError, match='unexpected'):
        check_state_dict(model, dict(model.state_dict(), extra=torch.zeros(1)),
                         allow_unexpected=False)
    with pytest.raises(CheckpointMismatchError, match='not a state dict'):
        check_state_dict(model, [1, 2], source='list.pth')
