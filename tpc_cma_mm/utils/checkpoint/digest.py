"""A content digest in the checkpoints this plugin writes, checked whenever one is read.

torch does not check the CRC of a checkpoint's zip records, so a flipped bit in
a weight loads silently. ``AtomicCheckpointHook`` (and
``tpc_cma_mm.apis.convert_clip_checkpoint``) record :func:`content_digest`
in ``meta['content_sha256']``; :func:`~.weights_only.safe_torch_load`, the one
reader behind resume, ``load_from``, ``init_cfg`` Pretrained, ``init_model``
and the inferencer, recomputes it and refuses a file that differs, naming it.
A checkpoint without a digest (written by another program or an older
version) still loads, with a log line that says so.
"""
import hashlib
from typing import Any, Optional

import torch
from mmengine.logging import print_log

__all__ = ['DIGEST_KEY', 'content_digest', 'digest_mismatch', 'update_with_tensor']

DIGEST_KEY = 'content_sha256'


def update_with_tensor(sha: 'hashlib._Hash', path: str, tensor: torch.Tensor) -> None:
    """Feed one tensor to ``sha``: its path, shape and dtype, then its bytes. The one
    tensor format of this digest and of ``apis.state_dict_digest``."""
    tensor = tensor.detach().cpu().contiguous()
    sha.update(f'{path}:{tuple(tensor.shape)}:{tensor.dtype};'.encode('utf-8'))
    sha.update(tensor.reshape(-1).view(torch.uint8).numpy())


def content_digest(checkpoint: dict) -> str:
    """SHA-256 of every tensor in ``checkpoint`` (its path, dtype, shape and
    bytes) outside ``meta``, in a fixed order; other values do not count."""
    sha = hashlib.sha256()

    def walk(path: str, value: Any) -> None:
        if isinstance(value, torch.Tensor):
            update_with_tensor(sha, path, value)
        elif isinstance(value, dict):
            for key in sorted(value, key=str):
                walk(f'{path}/{key}', value[key])
        elif isinstance(value, (list, tuple)):
            for index, item in enumerate(value):
                walk(f'{path}/{index}', item)

    for key in sorted((k for k in checkpoint if k != 'meta'), key=str):
        walk(str(key), checkpoint[key])
    return sha.hexdigest()


def digest_mismatch(checkpoint: Any, path: str) -> Optional[str]:
    """Why ``checkpoint`` (read from ``path``) cannot be trusted: a message when it
    records a digest its tensors do not match, else None (a line is logged for a
    dict that records none). The loader raises the message as its read error."""
    if not isinstance(checkpoint, dict):
        return None
    meta = checkpoint.get('meta')
    recorded = meta.get(DIGEST_KEY) if isinstance(meta, dict) else None
    if recorded is None:
        print_log(f'{path} records no content digest (written by another program or an '
                  'older tpc_cma_mm); loaded without checking its tensors.',
                  logger='current')
        return None
    if content_digest(checkpoint) != recorded:
        return (f'Checkpoint {path!r} is corrupt: its tensors differ from the content digest '
                f"recorded when it was written (meta['{DIGEST_KEY}']); a bit changed on disk "
                'or in transit. Use another copy, or an earlier checkpoint of the run.')
    return None
