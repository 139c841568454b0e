"""Compare a checkpoint's state dict with a model before loading it.

mmengine loads with ``strict=False`` and only logs the keys it could not use,
so a checkpoint of another architecture silently leaves most weights random.
These helpers name the missing, unexpected and shape-mismatched keys, and say
what to do about them.
"""
import re
from typing import Dict, List, Mapping, Sequence, Tuple, Union

import torch
from torch import nn

__all__ = ['CheckpointMismatchError', 'diff_state_dict', 'check_state_dict']


class CheckpointMismatchError(RuntimeError):
    """A state dict does not fit the model it is loaded into."""


def _strip(state_dict: Mapping, prefixes: Sequence[str]) -> Dict[str, torch.Tensor]:
    out = {}
    for key, value in state_dict.items():
        for prefix in prefixes:
            if key.startswith(prefix):
                key = key[len(prefix):]
        out[key] = value
    return out


def diff_state_dict(expected: Mapping[str, torch.Tensor],
                    given: Mapping[str, torch.Tensor]) -> Dict[str, List]:
    """``missing`` (in ``expected`` only), ``unexpected`` (in ``given`` only)
    and ``mismatched`` ``(key, given shape, expected shape)`` keys."""
    missing = sorted(k for k in expected if k not in given)
    unexpected = sorted(k for k in given if k not in expected)
    mismatched: List[Tuple[str, tuple, tuple]] = []
    for key in sorted(set(expected) & set(given)):
        want, got = expected[key], given[key]
        if hasattr(want, 'shape') and hasattr(got, 'shape') and \
                tuple(want.shape) != tuple(got.shape):
            mismatched.append((key, tuple(got.shape), tuple(want.shape)))
    return dict(missing=missing, unexpected=unexpected, mismatched=mismatched)


def _listing(keys: Sequence, limit: int = 8) -> str:
    shown = ', '.join(map(str, keys[:limit]))
    return shown + (f' ... (+{len(keys) - limit} more)' if len(keys) > limit else '')


def check_state_dict(model: Union[nn.Module, Mapping[str, torch.Tensor]],
                     state_dict: Mapping[str, torch.Tensor],
                     source: str = 'the checkpoint',
                     allow_missing: Sequence[str] = (),
                     allow_unexpected: bool = True,
                     strip_prefixes: Sequence[str] = ('module.', )) -> Dict[str, List]:
    """Raise :class:`CheckpointMismatchError` unless ``state_dict`` fits ``model``.

    Shape mismatches always fail. Missing keys fail unless they match one of
    the ``allow_missing`` regular expressions; unexpected keys fail only when
    ``allow_unexpected`` is False. Returns the :func:`diff_state_dict` report.
    """
    expected = model.state_dict() if isinstance(model, nn.Module) else model
    if not isinstance(state_dict, Mapping):
        raise CheckpointMismatchError(
            f'{source} holds a {type(state_dict).__name__}, not a state dict of tensors; '
            'save it with torch.save(model.state_dict(), path).')
    report = diff_state_dict(expected, _strip(state_dict, strip_prefixes))
    missing = [k for k in report['missing']
               if not any(re.search(p, k) for p in allow_missing)]
    unexpected = [] if allow_unexpected else report['unexpected']
    if not (missing or unexpected or report['mismatched']):
        return report
    lines = [f'{source} does not fit the model '
             f'({len(expected)} model keys, {len(state_dict)} checkpoint keys):']
    if report['mismatched']:
        lines.append(f'  {len(report["mismatched"])} shape-mismatched (key: checkpoint vs '
                     'model): ' + _listing([f'{k}: {g} vs {w}'
                                            for k, g, w in report['mismatched']]))
    if missing:
        lines.append(f'  {len(missing)} missing from the checkpoint: {_listing(missing)}')
    if report['unexpected']:
        lines.append(f'  {len(report["unexpected"])} unexpected in the checkpoint: '
                     f'{_listing(report["unexpected"])}')
    lines.append('Fix: load a checkpoint of this architecture (same config), convert '
                 'foreign weights with tools/convert_clip_weights.py, or, to load only '
                 'part of a model on purpose, list the expected gaps in allow_missing.')
    raise CheckpointMismatchError('\n'.join(lines))
