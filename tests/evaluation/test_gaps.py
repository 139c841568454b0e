"""Every gap key against an independent numpy / scipy computation."""
import numpy as np
import pytest
import scipy.linalg
import torch
from scipy.spatial.distance import cdist, pdist

from tpc_cma_mm.evaluation.functional import (PairedMoments, bures_distance, gap_metrics,
                                              gap_reduction, gaps_from_moments, mmd_rbf,
                                              subsample_priorities)


def _numpy_reference(img, text):
    x, y = img.double().numpy(), text.double().numpy()
    xc, yc = x - x.mean(0), y - y.mean(0)
    cov_x, cov_y = np.cov(x, rowvar=False, bias=True), np.cov(y, rowvar=False, bias=True)
    root_x = scipy.linalg.sqrtm(cov_x)
    cross = np.trace(scipy.linalg.sqrtm(root_x @ cov_y @ root_x)).real
    cosines = (x * y).sum(1) / np.linalg.norm(x, axis=1) / np.linalg.norm(y, axis=1)
    return dict(
        centroid=np.linalg.norm(x.mean(0) - y.mean(0)),
        raw=np.sqrt(np.mean(np.sum((x - y)**2, axis=1))),
        distribution=np.sqrt(np.mean(np.sum((xc - yc)**2, axis=1))),
        bures=np.sqrt(max(np.trace(cov_x) + np.trace(cov_y) - 2 * cross, 0)),
        cov_fro=np.linalg.norm(cov_x - cov_y, 'fro'),
        mmd=_numpy_mmd(xc, yc),
        mean_paired_cosine=cosines.mean())


def _numpy_mmd(x, y):
    """Unbiased paired MMD^2 (Gretton et al. 2012, Lemma 6), median bandwidth over all pairs."""
    m = len(x)
    sigma_sq = np.median(pdist(np.vstack([x, y]), 'sqeuclidean'))
    k = lambda a, b: np.exp(-cdist(a, b, 'sqeuclidean') / (2 * sigma_sq))  # noqa: E731
    off_diagonal = ~np.eye(m, dtype=bool)
    h = k(x, x) + k(y, y) - k(x, y) - k(y, x)
    return np.sqrt(max(h[off_diagonal].sum() / (m * (m - 1)), 0))


def test_raw_squared_is_centroid_squared_plus_distribution_squared(pairs):
    img, text, _ = pairs
    gaps = gap_metrics(img, text)
    assert abs(gaps['raw']**2 - gaps['centroid']**2 - gaps['distribution']**2) < 1e-10


def test_every_key_matches_numpy_and_scipy(pairs):
    img, text, _ = pairs
    gaps = gap_metrics(img, text)
    reference = _numpy_reference(img, text)
    assert set(gaps) == set(reference)
    for key, expected in reference.items():
        assert gaps[key] == pytest.approx(expected, rel=1e-7, abs=1e-9), key
    assert gaps['centroid'] > 0.5 and gaps['mmd'] > 0  # the fixture has a real gap


def test_bures_of_commuting_covariances_has_a_closed_form():
    a, b = torch.tensor([4.0, 1.0, 0.25]).double(), torch.ones(3).double()
    q = torch.linalg.qr(torch.randn(3, 3, generator=torch.Generator().manual_seed(1)).double())[0]
    rotate = lambda d: (q * d) @ q.t()  # noqa: E731  same eigenvectors: they commute
    expected = float(((a.sqrt() - b.sqrt())**2).sum().sqrt())
    assert bures_distance(rotate(a), rotate(b)) == pytest.approx(expected, rel=1e-10)
    assert bures_distance(rotate(a), rotate(a)) == pytest.approx(0.0, abs=1e-7)


def test_mmd_is_zero_for_identical_sets_and_positive_for_shifted_ones():
    x = torch.randn(200, 4, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    assert mmd_rbf(x, x) == 0.0  # U-statistic of identical sets is negative: clipped
    assert mmd_rbf(x, x + 1.0) > 0.3


def test_streamed_and_merged_moments_equal_one_shot(pairs):
    img, text, _ = pairs
    order = torch.randperm(len(img), generator=torch.Generator().manual_seed(3))
    first, second = PairedMoments(max_samples=50, chunk_rows=7), PairedMoments(max_samples=50)
    for start in range(0, len(img), 13):  # rows arrive shuffled, in two shards
        rows = order[start:start + 13]
        (first if start % 2 else second).update(img[rows], text[rows], rows)
    streamed = gaps_from_moments(first.merge(second))
    one_shot = gap_metrics(img, text, max_mmd_samples=50)
    for key, value in one_shot.items():
        assert streamed[key] == pytest.approx(value, rel=1e-10, abs=1e-12), key


def test_mmd_subsample_is_the_seeded_bottom_k_of_priorities(pairs):
    img, text, _ = pairs
    moments = PairedMoments(max_samples=40, seed=5, chunk_rows=16)
    for start in range(0, len(img), 16):  # thresholds and compactions along the way
        moments.update(img[start:start + 16], text[start:start + 16])
    sample_img, _, sample_index = moments.subsample()
    expected = torch.argsort(subsample_priorities(torch.arange(len(img)), 5))[:40]
    assert sample_index.tolist() == expected.tolist()
    torch.testing.assert_close(sample_img, img[expected].double())
    other_seed = PairedMoments(max_samples=40, seed=6).update(img, text)
    assert set(other_seed.subsample()[2].tolist()) != set(expected.tolist())


def test_gap_reduction_is_percent_of_the_before_value():
    reduction = gap_reduction(dict(raw=2.0, centroid=1.0, mean_paired_cosine=0.1),
                              dict(raw=0.5, centroid=1.0, mean_paired_cosine=0.9))
    assert reduction == dict(raw=75.0, centroid=0.0)


def test_empty_input_raises_a_clear_error():
    with pytest.raises(ValueError, match='empty'):
        gap_metrics(torch.zeros(0, 4), torch.zeros(0, 4))
