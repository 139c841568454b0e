"""Identities of what a cached result depends on: file bytes, weights, configs.

Every cache of the API is keyed by these (docs/captioning.md, "Caches"), so a
changed config, checkpoint, split or protocol setting never reuses an old result.
"""
import hashlib
import json
from typing import Any

import torch
from mmengine.config import Config
from torch import nn

from tpc_cma_mm.utils.checkpoint import update_with_tensor

__all__ = ['checkpoint_id', 'config_digest', 'digest', 'state_dict_digest']

DIGITS = 16


def digest(value: Any) -> str:
    """SHA-256 (16 hex digits) of a JSON-able value, dict keys sorted; other leaves by ``str``."""
    text = json.dumps(value, sort_keys=True, default=str)
    return hashlib.sha256(text.encode('utf-8')).hexdigest()[:DIGITS]


def config_digest(cfg: Config) -> str:
    """Digest of a config's content (its base files merged in), not of its file name."""
    content = cfg.to_dict()
    content.pop('filename', None)
    return digest(content)


def checkpoint_id(path: str) -> str:
    """SHA-256 (16 hex digits) of a checkpoint file's bytes."""
    sha = hashlib.sha256()
    with open(path, 'rb') as f:
        for block in iter(lambda: f.read(1 << 20), b''):
            sha.update(block)
    return sha.hexdigest()[:DIGITS]


@torch.no_grad()
def state_dict_digest(model: nn.Module) -> str:
    """Digest of a model's weights: every key, shape, dtype and value.

    The tensor format of a checkpoint's ``content_digest``, but in the state dict's
    order, bare keys and 16 digits: the captioning caches and the caption files of
    the committed results (results/reproduction) are named by it, so it keeps its values.
    """
    sha = hashlib.sha256()
    for key, value in model.state_dict().items():
        update_with_tensor(sha, key, value)
    return sha.hexdigest()[:DIGITS]
