"""Each image through the image tower once, however many caption rows repeat it.

A caption data set has one row per (image, caption) pair: at COCO's five captions
per image, an evaluation that embeds every row runs the image tower five times per
image. :class:`DistinctImages` embeds only the rows whose image has not been seen:
same ``img_id`` *and* identical pixels (a random pipeline, whose pixels differ,
keeps every row). The images of the previous batch are remembered too, so an
image whose captions straddle two batches is embedded once. Every row still gets
its own (bit-identical) copy of its image's embedding, so every metric sees the
rows it saw before (docs/evaluation.md, "Each image embedded once").
"""
from typing import Callable, Dict, List, Optional, Sequence, Tuple

import torch

__all__ = ['DistinctImages']


class DistinctImages:
    """Embeds the distinct images of consecutive batches, each once.

    The model owns one and forgets the previous batch whenever its weights may
    change (``train()``, ``eval()``, loading a state dict), so an embedding is
    never reused across a training step.
    """

    def __init__(self) -> None:
        self._previous: Dict[int, Tuple[torch.Tensor, torch.Tensor]] = {}
        self.rows_embedded = 0  # image-tower rows since construction (benchmarks count them)

    def forget(self) -> None:
        self._previous = {}

    def plan(self, inputs: torch.Tensor, samples: Sequence) -> Tuple[List[int], List[tuple]]:
        """(rows to embed, for every row its source): ``('new', i)`` the i-th embedded
        row, ``('previous', img_id)`` the previous batch's embedding of that image."""
        first: Dict[int, int] = {}
        distinct: List[int] = []
        source: List[tuple] = []
        for row, sample in enumerate(samples):
            key = sample.get('img_id')
            key = None if key is None else int(key)
            seen = first.get(key) if key is not None else None
            if seen is not None and torch.equal(inputs[distinct[seen]], inputs[row]):
                source.append(('new', seen))
                continue
            previous = self._previous.get(key) if key is not None else None
            if previous is not None and torch.equal(previous[0], inputs[row]):
                source.append(('previous', key))
                continue
            if key is not None and seen is None:
                first[key] = len(distinct)
            source.append(('new', len(distinct)))
            distinct.append(row)
        return distinct, source

    def __call__(self, encode: Callable[[torch.Tensor], torch.Tensor], inputs: torch.Tensor,
                 samples: Optional[Sequence]) -> torch.Tensor:
        """``encode(inputs)`` row for row, with each distinct image encoded once."""
        if samples is None or len(samples) != len(inputs):
            self.rows_embedded += len(inputs)
            return encode(inputs)
        distinct, source = self.plan(inputs, samples)
        new = encode(inputs[distinct]) if distinct else None
        self.rows_embedded += len(distinct)
        # One gather from [new rows; previous batch's rows] (copies, as stacking them was).
        reused = list(dict.fromkeys(i for where, i in source if where == 'previous'))
        pool = torch.cat([part for part in (new, *(self._previous[i][1][None] for i in reused))
                          if part is not None])
        offset = {key: (0 if new is None else len(new)) + n for n, key in enumerate(reused)}
        index = [i if where == 'new' else offset[i] for where, i in source]
        out = pool[torch.tensor(index, device=pool.device)]
        self._previous = {}
        for row, sample in enumerate(samples):
            key = sample.get('img_id')
            if key is not None:
                self._previous[int(key)] = (inputs[row], out[row])
        return out
