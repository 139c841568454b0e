"""Zero-shot prototypes follow the weights; mmpretrain's Accuracy scores them."""
import torch
import torch.nn.functional as F
from mmpretrain.evaluation import Accuracy

from tiny import tiny_model_cfg
from tpc_cma_mm.evaluation.functional import zero_shot_accuracy
from tpc_cma_mm.registry import MODELS

ZERO_SHOT = dict(classnames=['circle', 'square', 'star'],
                 templates=['a photo of a {}', 'an image of a {}'])


def _tiny_zero_shot_model():
    torch.manual_seed(0)
    return MODELS.build(tiny_model_cfg(zero_shot=ZERO_SHOT)).eval()


def _prototypes_by_hand(model):
    rows = []
    for name in ZERO_SHOT['classnames']:
        tokens = model.tokenizer([t.format(name) for t in ZERO_SHOT['templates']])
        with torch.no_grad():
            rows.append(F.normalize(F.normalize(model.encode_text(tokens), dim=-1).mean(0), dim=-1))
    return torch.stack(rows)


def test_prototypes_change_after_a_training_step():
    model = _tiny_zero_shot_model()
    before = model.class_prototypes().clone()
    torch.testing.assert_close(before, _prototypes_by_hand(model))
    model.train()
    tokens = model.tokenizer(['a red circle', 'a blue square', 'a small star'])
    losses = model(torch.randn(3, 3, 16, 16), text_tokens=tokens, mode='loss')
    sum(v for k, v in losses.items() if 'loss' in k).backward()
    torch.optim.SGD(model.parameters(), lr=1.0).step()
    model.eval()
    after = model.class_prototypes()
    assert (after - before).abs().max() > 1e-3
    torch.testing.assert_close(after, _prototypes_by_hand(model))


def test_prototypes_change_after_loading_weights():
    model = _tiny_zero_shot_model()
    before = model.class_prototypes().clone()
    state = {k: v + 0.05 * torch.randn_like(v) if v.is_floating_point() else v
             for k, v in model.state_dict().items()}
    model.load_state_dict(state)  # no train() call: the load alone must invalidate
    after = model.class_prototypes()
    assert (after - before).abs().max() > 1e-3
    torch.testing.assert_close(after, _prototypes_by_hand(model))


def test_accuracy_on_predict_scores_equals_zero_shot_accuracy():
    model = _tiny_zero_shot_model()
    images = torch.randn(12, 3, 16, 16)
    labels = torch.arange(12) % 3
    samples = model(images, mode='predict')
    for sample, label in zip(samples, labels):
        sample.set_gt_label(int(label))
    # thrs=None: mmpretrain's default thrs=0. counts a prediction whose cosine
    # score is negative as wrong, which a zero-shot top-k must not do.
    accuracy = Accuracy(topk=(1, 2), thrs=None)
    accuracy.process(None, [s.to_dict() for s in samples])
    scored = accuracy.evaluate(12)
    with torch.no_grad():
        img = model(images, mode='tensor')['img_embeds']
    expected = zero_shot_accuracy(img, model.class_prototypes(), labels, topk=(1, 2))
    assert abs(scored['accuracy/top1'] - expected['top1']) < 1e-4
    assert abs(scored['accuracy/top2'] - expected['top2']) < 1e-4
