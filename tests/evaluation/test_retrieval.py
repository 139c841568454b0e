"""Recall@K against a brute-force numpy reference, with exact ties; the image grouping helper."""
import numpy as np
import pytest
import torch
import torch.nn.functional as F

from tpc_cma_mm.evaluation import CrossModalRetrieval
from tpc_cma_mm.evaluation.functional import first_occurrence, retrieval_recall


def _reference_recall(img, text, img_ids, ks):
    """Per query, count the wrong candidates scoring >= the best right one (ties against it)."""
    img, text, img_ids = img.double().numpy(), text.double().numpy(), img_ids.numpy()
    images = sorted(set(img_ids.tolist()), key=img_ids.tolist().index)
    image_vec = np.stack([img[img_ids.tolist().index(i)] for i in images])
    i2t, t2i = [], []
    for row, image in enumerate(images):
        scores = image_vec[row] @ text.T
        right = img_ids == image
        i2t.append(int((scores[~right] >= scores[right].max()).sum()))
    for row in range(len(text)):
        scores = image_vec @ text[row]
        right = np.array(images) == img_ids[row]
        t2i.append(int((scores[~right] >= scores[right].max()).sum()))
    out = {}
    for k in ks:
        out[f'i2t_R{k}'] = 100.0 * np.mean(np.array(i2t) < k)
        out[f't2i_R{k}'] = 100.0 * np.mean(np.array(t2i) < k)
    return out


def test_two_identical_pairs_are_not_both_found_first():
    vec = F.normalize(torch.tensor([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]]), dim=1)
    img = torch.stack([vec[0], vec[0]])  # two different images with identical embeddings
    text = torch.stack([vec[1], vec[1]])  # and identical captions
    scores = retrieval_recall(img, text, torch.tensor([10, 11]), ks=(1, 2))
    # each query ties with the other pair's candidate, so its rank is 2, not 1
    assert scores == {'i2t_R1': 0.0, 't2i_R1': 0.0, 'i2t_R2': 100.0, 't2i_R2': 100.0}


@pytest.mark.parametrize('seed', range(3))
def test_matches_brute_force_with_duplicates_and_quantised_embeddings(seed):
    gen = torch.Generator().manual_seed(seed)
    num_images, captions_per_image = 24, 3
    img_ids = torch.arange(num_images).repeat_interleave(captions_per_image) * 7 + 100
    base = F.normalize(torch.randn(num_images, 8, generator=gen), dim=1)
    base[1::4] = base[0::4]  # duplicate images under other ids
    img = base.repeat_interleave(captions_per_image, dim=0)
    text = F.normalize(img + 0.8 * torch.randn(len(img), 8, generator=gen), dim=1)
    text[5::9] = text[4::9]  # duplicate captions (some of another image)
    text = torch.round(text * 4) / 4  # coarse quantisation: many exact score ties
    perm = torch.randperm(len(img), generator=gen)  # rows of an image need not be adjacent
    img, text, img_ids = img[perm], text[perm], img_ids[perm]
    ks = (1, 5, 10)
    got = retrieval_recall(img, text, img_ids, ks, chunk=7)  # chunks split the queries
    want = _reference_recall(img, text, img_ids, ks)
    assert got == pytest.approx(want, abs=1e-9)


def test_ties_lower_recall_against_strict_ranking():
    """With quantised embeddings the tie-pessimistic recall is below the tie-optimistic one."""
    gen = torch.Generator().manual_seed(0)
    img = torch.round(F.normalize(torch.randn(40, 4, generator=gen), dim=1) * 2) / 2
    text = img.clone()
    scores = retrieval_recall(img, text, torch.arange(40), ks=(1, ))
    assert scores['i2t_R1'] < 100.0 and scores['t2i_R1'] < 100.0
    assert scores == pytest.approx(_reference_recall(img, text, torch.arange(40), (1, )))


def test_metric_reports_the_function_values():
    gen = torch.Generator().manual_seed(1)
    img = F.normalize(torch.randn(12, 6, generator=gen), dim=1)
    text = F.normalize(img + torch.randn(12, 6, generator=gen), dim=1)
    img_ids = torch.arange(12) // 2
    img = img[img_ids * 2]  # the two captions of an image share its embedding
    metric = CrossModalRetrieval(topk=(1, 5))
    metric.process(None, [dict(img_embeds=i, text_embeds=t, img_id=int(n))
                          for i, t, n in zip(img, text, img_ids)])
    scores = metric.evaluate(12)
    want = _reference_recall(img, text, img_ids, (1, 5))
    assert scores == pytest.approx({f'retrieval/{k}': v for k, v in want.items()})


def test_first_occurrence_groups_in_order_of_appearance():
    ids = torch.tensor([7, 3, 7, 9, 3, 3])
    first_rows, group = first_occurrence(ids)
    assert first_rows.tolist() == [0, 1, 3]
    assert group.tolist() == [0, 1, 0, 2, 1, 1]
    assert first_occurrence(torch.tensor([], dtype=torch.long))[0].tolist() == []
    with pytest.raises(ValueError, match='1-D tensor of ids'):
        first_occurrence(torch.zeros(2, 2))
