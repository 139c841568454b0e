"""Score a model on its config's test split: the one evaluation path of the lab.

:func:`embed_test` embeds a split (``embed_split``); :func:`score_test_split`
scores those embeddings with ``embedding_suite`` (gap keys, clustering,
retrieval, zero-shot on the model's class prototypes where it has them) after
an optional post-hoc fix, and returns the fitted fix so that callers score
their further sets as "model + fix"::

    scores = score_test_split(model, cfg, 'MeanCentering')   # .metrics, .transform, ...
"""
import copy
from typing import NamedTuple, Optional, Tuple

from mmengine.config import Config
from mmengine.runner import Runner

from tpc_cma_mm.apis.embed import embed_split
from tpc_cma_mm.evaluation.functional import build_posthoc, embedding_suite

__all__ = ['TestScores', 'embed_test', 'score_test_split']


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


def score_test_split(model, cfg: Config, posthoc=None, progress: bool = False) -> TestScores:
    """The scores of ``model`` on ``cfg.test_dataloader``, with what they came from."""
    embeds, dataset = embed_test(model, cfg.test_dataloader, progress)
    prototypes = model.class_prototypes().cpu() if model.zero_shot else None
    transform = build_posthoc(posthoc)
    # embedding_suite fits ``transform`` on these pairs; the caller reuses it fitted.
    metrics = embedding_suite(embeds['img'], embeds['text'], embeds['labels'],
                              embeds['img_ids'], prototypes, posthoc=transform)
    return TestScores(metrics, transform, embeds, dataset)
