"""The batch gap estimate against the gap of the full set (evaluation/functional/gaps.py)."""
import pytest
import torch
import torch.nn.functional as F

from tpc_cma_mm.evaluation.functional import gap_metrics
from tpc_cma_mm.models.objectives import batch_gap_squares

FULL, BATCH, DRAWS = 2000, 8, 20000


def _pairs():
    gen = torch.Generator().manual_seed(0)
    img = F.normalize(torch.randn(FULL, 16, generator=gen, dtype=torch.float64) + 1.0, dim=1)
    text = F.normalize(img + 0.6 * torch.randn(FULL, 16, generator=gen, dtype=torch.float64)
                       - 0.4, dim=1)
    return img, text


def _mean_and_error(values):
    values = torch.tensor(values, dtype=torch.float64)
    return float(values.mean()), float(values.std() / len(values)**0.5)


def test_small_batches_estimate_the_full_set_gap_without_bias():
    img, text = _pairs()
    full = gap_metrics(img, text, max_mmd_samples=0)
    gen = torch.Generator().manual_seed(1)
    estimates, plug_in = {k: [] for k in ('centroid', 'distribution', 'raw')}, []
    for _ in range(DRAWS):  # batches drawn without replacement, as a shuffling sampler does
        rows = torch.randperm(FULL, generator=gen)[:BATCH]
        for key, value in batch_gap_squares(img[rows], text[rows]).items():
            estimates[key].append(value)
        plug_in.append(float((img[rows].mean(0) - text[rows].mean(0)).pow(2).sum()))
    for key in estimates:
        mean, error = _mean_and_error(estimates[key])
        assert mean == pytest.approx(full[key]**2, abs=4 * error), key
    # The uncorrected batch centroid is too large by about distribution^2 / B
    # ((N - B) / (N - 1) of it without replacement): 4 standard errors apart here.
    mean, error = _mean_and_error(plug_in)
    bias = full['distribution']**2 / BATCH * (FULL - BATCH) / (FULL - 1)
    assert bias > 8 * error
    assert mean - full['centroid']**2 == pytest.approx(bias, abs=4 * error)


def test_one_pair_is_refused():
    with pytest.raises(ValueError, match='at least 2 pairs'):
        batch_gap_squares(torch.zeros(1, 4), torch.ones(1, 4))
