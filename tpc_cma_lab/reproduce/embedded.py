"""One model's embeddings of every set the reproduction scores, made once per model.

The untrained variants (the original, post-hoc mean-centering, C3, the gap shift)
all score the original checkpoint: each one loaded it and embedded the test
split and every extra set again, the same tensors each time, since a variant's
post-hoc fix is fitted and applied after embedding, on new tensors. A process
now keeps what it embedded with ``keep=True`` and hands it to the next call for
the same config, checkpoint file and thread count; the numbers are those of a
fresh load (tests/lab/test_embedded.py compares both, bit for bit)::

    model, test, sets = embedded(cfg, 'work/pretrain/iter_1000.pth', keep=True)
    release()  # before a training run needs the memory
"""
import os
import os.path as osp
from typing import Dict, NamedTuple, Tuple

import torch
from mmengine.config import Config
from torch import nn

from tpc_cma_mm.apis.fingerprint import config_digest
from tpc_cma_mm.apis.model import init_model
from ..engine import embed_test
from .benchmarks import embed_extra_sets

__all__ = ['Embedded', 'embedded', 'release']


class Embedded(NamedTuple):
    model: nn.Module
    test: Tuple[dict, object]  # embed_test's (embeddings, data set) of the test split
    extra_sets: Dict[str, dict]  # embed_extra_sets'


# At most one model: the one kept by the last call with keep=True.
_KEPT: Dict[tuple, Embedded] = {}


def _key(cfg: Config, checkpoint: str) -> tuple:
    stat = os.stat(checkpoint)  # a checkpoint written anew at the same path is another model
    return (config_digest(cfg), osp.realpath(checkpoint), stat.st_size, stat.st_mtime_ns,
            torch.get_num_threads())


def embedded(cfg: Config, checkpoint: str, progress: bool = True,
             keep: bool = False) -> Embedded:
    """``cfg``'s model with ``checkpoint`` loaded, its test split and extra sets embedded;
    kept for the next call with ``keep``, else any kept one is released."""
    key = _key(cfg, checkpoint)
    if key in _KEPT:
        return _KEPT[key]
    release()
    model = init_model(cfg, checkpoint, 'cuda' if torch.cuda.is_available() else 'cpu')
    out = Embedded(model, embed_test(model, cfg.test_dataloader, progress),
                   embed_extra_sets(model, cfg, progress))
    if keep:
        _KEPT[key] = out
    return out


def release() -> None:
    """Forget the kept model and embeddings."""
    _KEPT.clear()
