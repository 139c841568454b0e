"""The lab's score path: zero-shot on the classes fine-tuning never saw, apart."""
import pytest
import torch
import torch.nn.functional as F

from tpc_cma_lab.engine import held_out_zero_shot

CLASSES = ['circle', 'square', 'triangle', 'diamond']


def test_held_out_and_seen_top1_by_hand():
    torch.manual_seed(0)
    img = F.normalize(torch.randn(40, 8), dim=-1)
    prototypes = F.normalize(torch.randn(4, 8), dim=-1)
    labels = torch.arange(40) % 4
    scores = held_out_zero_shot(img, prototypes, labels, CLASSES, ['square', 'diamond'])
    predicted = (img @ prototypes.T).argmax(1)
    for name, rows in (('held_out', (labels == 1) | (labels == 3)),
                       ('seen', (labels == 0) | (labels == 2))):
        # Each image against every class's prototype, not only its own group's.
        expected = 100 * (predicted[rows] == labels[rows]).double().mean().item()
        assert scores[f'zero_shot_{name}/top1'] == pytest.approx(expected)


@pytest.mark.parametrize('held_out, message', [
    (['hexagon'], "unknown: \\['hexagon'\\]"), ([], 'non-empty proper subset'),
    (CLASSES, 'non-empty proper subset')])
def test_held_out_classes_must_be_a_proper_subset(held_out, message):
    with pytest.raises(ValueError, match=message):
        held_out_zero_shot(torch.eye(4), torch.eye(4), torch.arange(4), CLASSES, held_out)


def test_a_split_without_held_out_images_is_refused():
    with pytest.raises(ValueError, match='no image of the held-out classes'):
        held_out_zero_shot(torch.eye(4), torch.eye(4), torch.tensor([0, 2, 0, 2]), CLASSES,
                           ['square'])
