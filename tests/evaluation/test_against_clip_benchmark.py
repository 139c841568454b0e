"""Side by side with LAION's CLIP_benchmark (PyPI ``clip-benchmark``, the ``tests`` and
``bench`` extras): on one network, ours and open_clip's, and the same local data, zero-shot
top-1 / top-5 / mean per-class recall and Recall@K both ways agree when nothing ties."""
import pytest
import torch
from torch.utils.data import DataLoader, TensorDataset
from clip_benchmark.metrics import zeroshot_classification, zeroshot_retrieval

from benchmarks.common import build_open_clip, build_ours, copy_open_clip_weights, make_batch
from tpc_cma_mm.evaluation.functional import retrieval_recall, zero_shot_accuracy
from tpc_cma_mm.models import CLIPTokenizer

CLASSES = ['circle', 'square', 'triangle', 'star', 'ring', 'cross', 'hexagon']
TEMPLATES = ['a photo of a {}.', 'a drawing of a {}.']  # ours: str.format(name)
THEIR_TEMPLATES = [t.replace('{}', '{c}') for t in TEMPLATES]  # clip_benchmark: format(c=)


@pytest.fixture(scope='module')
def models():
    torch.manual_seed(0)
    theirs = build_open_clip('tiny').eval()
    ours = build_ours('tiny').eval()
    copy_open_clip_weights(ours, theirs)  # one network, two implementations
    return ours, theirs


def test_zero_shot_agrees_with_clip_benchmark(models):
    ours, theirs = models
    images, _ = make_batch('tiny', 42, seed=3)
    labels = torch.arange(42) % len(CLASSES)
    dataset = TensorDataset(images, labels)
    dataset.classes = CLASSES  # clip_benchmark reads the class count from here
    loader = DataLoader(dataset, batch_size=16)
    tokenizer = CLIPTokenizer(context_length=32)
    got = zeroshot_classification.evaluate(theirs, loader, tokenizer, CLASSES, THEIR_TEMPLATES,
                                           'cpu', amp=False)
    ours.set_zero_shot(CLASSES, TEMPLATES)
    with torch.no_grad():
        img = ours(images, mode='tensor')['img_embeds']
        mine = zero_shot_accuracy(img, ours.class_prototypes(), labels, (1, 5))
    assert mine['top1'] == pytest.approx(100 * got['acc1'])
    assert mine['top5'] == pytest.approx(100 * got['acc5'])
    assert mine['mean_per_class_recall'] == pytest.approx(100 * got['mean_per_class_recall'])
    assert 0 < mine['top5'] < 100  # a discriminating case, not all or nothing


def test_retrieval_agrees_with_clip_benchmark(models):
    ours, theirs = models
    images, _ = make_batch('tiny', 12, seed=4)
    words = 'red green blue small large bright dark striped dotted plain'.split()
    captions = [[f'a {words[i % 10]} {words[(i + j + 3) % 10]} shape number {i} take {j}'
                 for j in range(3)] for i in range(12)]  # 3 distinct captions per image
    tokenizer = CLIPTokenizer(context_length=32)
    loader = [(images[i:i + 5], captions[i:i + 5]) for i in range(0, 12, 5)]
    got = zeroshot_retrieval.evaluate(theirs, loader, tokenizer, 'cpu', amp=False,
                                      recall_k_list=[1, 5])
    rows = [(i, c) for i in range(12) for c in captions[i]]
    with torch.no_grad():
        embeds = ours(images[[i for i, _ in rows]], text_tokens=tokenizer([c for _, c in rows]),
                      mode='tensor')
    mine = retrieval_recall(embeds['img_embeds'], embeds['text_embeds'],
                            torch.tensor([i for i, _ in rows]), (1, 5))
    for k in (1, 5):
        assert mine[f'i2t_R{k}'] == pytest.approx(100 * got[f'text_retrieval_recall@{k}'])
        assert mine[f't2i_R{k}'] == pytest.approx(100 * got[f'image_retrieval_recall@{k}'])
    assert 0 < mine['t2i_R5'] < 100
