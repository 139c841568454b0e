"""AlignmentObjective: the model's alignment half, adding nothing to the checkpoint layout."""
import torch

from tiny import tiny_model_cfg
from tpc_cma_mm.registry import MODELS


def test_the_objective_adds_no_state_dict_key():
    # Checkpoints written before the objective existed hold the towers' keys only; a
    # model with any objective has exactly those keys, so they load with strict=True.
    torch.manual_seed(0)
    plain = MODELS.build(tiny_model_cfg())
    torch.manual_seed(0)
    tpc = MODELS.build(tiny_model_cfg(cma_loss=dict(type='CMALoss'), combine='grad_share',
                                      grad_probe=dict(pcgrad=True)))
    assert set(tpc.state_dict()) == set(plain.state_dict())
    assert not [k for k in tpc.state_dict() if k.startswith('objective')]
    assert tpc.load_state_dict(plain.state_dict(), strict=True)
    assert list(tpc.objective.parameters()) == [] and list(tpc.objective.buffers()) == []


def test_the_model_loss_is_the_objective_on_the_gathered_batch():
    torch.manual_seed(0)
    model = MODELS.build(tiny_model_cfg(cma_loss=dict(type='CMALoss')))
    model.objective.set_schedule(alpha=0.3)
    images = torch.randn(4, 3, 16, 16)
    tokens = model.tokenizer(['a red circle', 'a blue square', 'a star', 'a ring'])
    out = model(images, text_tokens=tokens, mode='loss')
    embeds = model.embed(images, tokens)
    direct = MODELS.build(dict(type='AlignmentObjective', cma_loss=dict(type='CMALoss'),
                               alpha=0.3))(embeds['img_embeds'], embeds['text_embeds'],
                                           model.logit_scale_value(), model)
    for key, value in direct.items():
        torch.testing.assert_close(out[key], value, rtol=0, atol=0, msg=key)
    assert out['loss_contrastive'] == 0.7 * out['contrastive_raw']  # convex, 1 - alpha
