"""The reproduction's captioning protocol for one study entry (tpc_cma_mm.apis.captioning).

A decoder is trained on the text embeddings of the fine-tuning config's train
data set (with its deterministic test pipeline, as tpc_cma_lab/reproduce/jobs.py
does) and captions the test data set from image and from text embeddings. Every
entry of a study uses the same two data sets, so CIDEr compares across the pool.
"""
import time
from typing import Callable, Dict, Optional

from mmengine.config import Config

from tpc_cma_mm.apis.captioning import (POSTHOC_CAPTIONING, config_caption_scores,
                                        flat_caption_scores)

__all__ = ['NOT_CAPTIONED', 'PROTOCOL_KEYS', 'caption_entry', 'caption_metrics',
           'check_protocol', 'posthoc_centering']

PROTOCOL_KEYS = ('decoder_iters', 'num_train', 'num_test')
NOT_CAPTIONED = ('GapShift has no decoder-side counterpart '
                 '(POSTHOC_CAPTIONING, tpc_cma_mm/apis/captioning.py)')


def check_protocol(captioning: dict) -> dict:
    """The protocol dict, or a ValueError naming what is wrong with it."""
    if set(captioning) != set(PROTOCOL_KEYS):
        raise ValueError(f'captioning needs exactly the keys {PROTOCOL_KEYS} '
                         f'(e.g. 300 / 3000 / 300), got {sorted(captioning)}.')
    return {k: captioning[k] for k in PROTOCOL_KEYS}


def posthoc_centering(spec: dict) -> Optional[bool]:
    """``center`` of the decoder for an entry's spec, or None: not captioned."""
    posthoc = spec.get('posthoc')
    if posthoc not in POSTHOC_CAPTIONING:
        raise ValueError(f'no captioning rule for posthoc={posthoc!r}; known: '
                         f'{sorted(k for k in POSTHOC_CAPTIONING if k)}.')
    options = POSTHOC_CAPTIONING[posthoc]
    return None if options is None else options['center']


def caption_metrics(model, finetune_cfg: Config, protocol: dict, out_dir: str,
                    center: bool) -> Dict[str, float]:
    """``caption_image/...`` and ``caption_text/...`` scores of ``model`` (METEOR off)."""
    scores = config_caption_scores(model, finetune_cfg, out_dir,
                                   decoder_iters=protocol['decoder_iters'],
                                   num_train=protocol['num_train'], num_test=protocol['num_test'],
                                   center=center, meteor=False, progress=False)
    return flat_caption_scores(scores)


def caption_entry(key: str, entry: dict, build_model: Callable[[dict], object],
                  finetune_cfg: Config, protocol: dict, out_dir: str) -> bool:
    """Caption a recorded study entry in place (metrics and ``entry['captioning']``).

    Returns False when it was already captioned with ``protocol``; raises when it
    was captioned with another one. ``build_model(entry)`` rebuilds its model.
    """
    recorded = entry.get('captioning')
    if recorded is not None:
        if recorded['protocol'] != protocol:
            raise ValueError(f'{key} was captioned with {recorded["protocol"]}, not {protocol}: '
                             'caption with the recorded protocol, or use another results file.')
        return False
    center = posthoc_centering(entry['spec'])
    record = dict(protocol=protocol)
    if center is None:
        record['not_captioned'] = NOT_CAPTIONED
        print(f'{key}: not captioned: {NOT_CAPTIONED}', flush=True)
    else:
        start = time.time()
        entry['metrics'].update(caption_metrics(build_model(entry), finetune_cfg, protocol,
                                                out_dir, center))
        record.update(center=center, minutes=(time.time() - start) / 60)
        print(f'{key}: captioned in {record["minutes"]:.1f} min', flush=True)
    entry['captioning'] = record
    return True
