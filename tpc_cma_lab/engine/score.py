"""Score a model on its config's test split: the one evaluation path of the lab.

:func:`embed_test` embeds a split (``embed_split``); :func:`score_test_split`
scores those embeddings with ``embedding_suite`` (gap keys, clustering,
retrieval, zero-shot on the model's class prototypes where it has them) after
an optional post-hoc fix, and returns the fitted fix so that callers score
their further sets as "model + fix"::

    scores = score_test_split(model, cfg, 'MeanCentering')   # .metrics, .transform, ...

With ``held_out`` (class names fine-tuning never saw, e.g. the config's
``reproduce.held_out_classes``), zero-shot top-1 is also scored apart on the
images of those classes (``zero_shot_held_out/top1``) and of the others
(``zero_shot_seen/top1``), each against every class's prototype: what fine-tuning
costs the pretrained model's generality shows on the first (docs/results.md,
"Held-out accuracy").
"""
import copy
from typing import Dict, NamedTuple, Optional, Sequence, Tuple

import torch
from mmengine.config import Config
from mmengine.runner import Runner

from tpc_cma_mm.apis.embed import embed_split
from tpc_cma_mm.evaluation.functional import build_posthoc, embedding_suite, zero_shot_accuracy

__all__ = ['TestScores', 'embed_test', 'held_out_zero_shot', 'score_test_split']


def embed_test(model, dataloader_cfg: dict, progress: bool = False,
               desc: str = 'embed test') -> Tuple[dict, object]:
    """(``embed_split``'s embeddings, the data set) of one split's data loader config."""
    loader = Runner.build_dataloader(copy.deepcopy(dataloader_cfg))
    return embed_split(model, loader, progress=progress, desc=desc), loader.dataset


class TestScores(NamedTuple):
    metrics: dict
    transform: Optional[object]  # the post-hoc fix fitted on the test pairs, or None
    embeds: dict
    dataset: object


def held_out_zero_shot(img: torch.Tensor, prototypes: torch.Tensor, labels: torch.Tensor,
                       classnames: Sequence[str], held_out: Sequence[str]) -> Dict[str, float]:
    """Zero-shot top-1 on the images of the ``held_out`` classes and on the others', each
    against all ``prototypes`` (one per name of ``classnames``, in label order)."""
    unknown = sorted(set(held_out) - set(classnames))
    if unknown or not held_out or set(held_out) == set(classnames):
        raise ValueError(f'held-out classes {list(held_out)} must be a non-empty proper subset '
                         f'of the model\'s zero-shot classes {list(classnames)}'
                         + (f'; unknown: {unknown}' if unknown else '')
                         + '. Fix reproduce.held_out_classes in the config.')
    labels = torch.as_tensor(labels).long()
    held_ids = torch.tensor([classnames.index(name) for name in held_out])
    held = torch.isin(labels, held_ids)
    out = {}
    for name, rows in (('held_out', held), ('seen', ~held & (labels >= 0))):
        if not bool(rows.any()):
            raise ValueError(f'the test split has no image of the {name.replace("_", "-")} '
                             f'classes ({list(held_out)} held out): nothing to score.')
        out[f'zero_shot_{name}/top1'] = zero_shot_accuracy(img[rows], prototypes, labels[rows],
                                                           (1, ))['top1']
    return out


def score_test_split(model, cfg: Config, posthoc=None, progress: bool = False,
                     held_out: Optional[Sequence[str]] = None,
                     embedded: Optional[Tuple[dict, object]] = None) -> TestScores:
    """The scores of ``model`` on ``cfg.test_dataloader``, with what they came from;
    ``embedded``: :func:`embed_test`'s result for this model and split, not embedded again."""
    embeds, dataset = embedded or embed_test(model, cfg.test_dataloader, progress)
    prototypes = model.class_prototypes().cpu() if model.zero_shot else None
    transform = build_posthoc(posthoc)
    # embedding_suite fits ``transform`` on these pairs; the caller reuses it fitted.
    metrics = embedding_suite(embeds['img'], embeds['text'], embeds['labels'],
                              embeds['img_ids'], prototypes, posthoc=transform)
    if held_out:
        if prototypes is None:
            raise ValueError('held-out classes were given, but the model has no zero-shot '
                             'classes (model.zero_shot) to score them against.')
        img = transform.image(embeds['img']) if transform is not None else embeds['img']
        protos = transform.text(prototypes) if transform is not None else prototypes
        metrics.update(held_out_zero_shot(img, protos, embeds['labels'],
                                          list(model.zero_shot['classnames']), held_out))
    return TestScores(metrics, transform, embeds, dataset)
