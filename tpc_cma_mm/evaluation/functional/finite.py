"""The one check that every embedding metric applies first: no NaN or Inf in any row.

A NaN row compares false with everything, so the tie rule of retrieval
(``functional/retrieval.py``) would count it as a hit, the gap measures would
fail inside an eigendecomposition and k-means would refuse it with a message
that names neither the rows nor the metric. Refusing such rows up front, with
their count and first positions, names the problem where it is.
"""
from typing import Optional

import torch

__all__ = ['NonFiniteEmbeddingError', 'require_finite']

SHOWN_ROWS = 5


class NonFiniteEmbeddingError(ValueError):
    """Embeddings with a NaN or Inf value reached a metric."""


def require_finite(where: str, positions: Optional[torch.Tensor] = None,
                   **embeddings: torch.Tensor) -> None:
    """Raise :class:`NonFiniteEmbeddingError` when a row of any tensor is not finite.

    Args:
        where (str): What is being scored (a function, or a metric and its
            keys), named in the message.
        positions (Tensor, optional): The sample index of each row, named in
            the message (default: the row number).
        **embeddings: ``name=(N, ...) tensor``.
    """
    for name, rows in embeddings.items():
        rows = torch.as_tensor(rows)
        if rows.numel() == 0:
            continue  # emptiness is the caller's own, clearer error
        bad = ~torch.isfinite(rows.reshape(len(rows), -1)).all(1)
        count = int(bad.sum())
        if count:
            first = bad.nonzero()[:SHOWN_ROWS, 0]
            first = (first if positions is None else torch.as_tensor(positions)[first]).tolist()
            raise NonFiniteEmbeddingError(
                f'{where}: {count} of {len(rows)} {name} rows hold NaN or Inf (rows '
                f'{first}{" ..." if count > SHOWN_ROWS else ""}); a non-finite embedding '
                'cannot be scored. The model produced them: check its weights '
                '(NonFiniteGuardHook) and the inputs of those samples.')
