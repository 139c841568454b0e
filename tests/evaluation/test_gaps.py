"""Every gap key against an independent numpy / scipy computation."""
import math

import numpy as np
import pytest
import scipy.linalg
import torch
from scipy.spatial.distance import cdist, pdist

from tpc_cma_mm.evaluation.functional import (PairedMoments, bures_distance, gap_metrics,
                                              gap_reduction, gaps_from_moments, mmd_rbf,
                                              subsample_priorities)
from tpc_cma_mm.evaluation.functional.gaps import (DISTANCE_KEYS, GAP_KEYS, SIMILARITY_KEYS,
                                                   SPREAD_INVARIANT_KEYS)


def _numpy_bures(cov_x, cov_y):
    root_x = scipy.linalg.sqrtm(cov_x)
    cross = np.trace(scipy.linalg.sqrtm(root_x @ cov_y @ root_x)).real
    return np.sqrt(max(np.trace(cov_x) + np.trace(cov_y) - 2 * cross, 0))


def _cosines(a, b):
    return (a * b).sum(1) / np.linalg.norm(a, axis=1) / np.linalg.norm(b, axis=1)


def _numpy_reference(img, text):
    x, y = img.double().numpy(), text.double().numpy()
    xc, yc = x - x.mean(0), y - y.mean(0)
    cov_x, cov_y = np.cov(x, rowvar=False, bias=True), np.cov(y, rowvar=False, bias=True)
    spread_x, spread_y = np.mean(np.sum(xc**2, 1)), np.mean(np.sum(yc**2, 1))
    distribution = np.sqrt(np.mean(np.sum((xc - yc)**2, axis=1)))
    return dict(
        centroid=np.linalg.norm(x.mean(0) - y.mean(0)),
        raw=np.sqrt(np.mean(np.sum((x - y)**2, axis=1))),
        distribution=distribution,
        bures=_numpy_bures(cov_x, cov_y),
        cov_fro=np.linalg.norm(cov_x - cov_y, 'fro'),
        mmd=_numpy_mmd(xc, yc),
        mean_paired_cosine=_cosines(x, y).mean(),
        distribution_rel=distribution / np.sqrt(spread_x + spread_y),
        centred_corr=np.mean(np.sum(xc * yc, 1)) / np.sqrt(spread_x * spread_y),
        centred_cosine=_cosines(xc, yc).mean(),
        bures_unit=_numpy_bures(cov_x / np.trace(cov_x), cov_y / np.trace(cov_y)))


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


def test_every_key_matches_numpy_and_scipy_in_float64(pairs):
    img, text, _ = (t.double() for t in pairs)
    gaps = gap_metrics(img, text)
    reference = _numpy_reference(img, text)
    assert set(gaps) == set(reference) == set(GAP_KEYS)
    for key, expected in reference.items():
        assert gaps[key] == pytest.approx(expected, rel=1e-9, abs=1e-10), key
    assert gaps['centroid'] > 0.5 and gaps['mmd'] > 0  # the fixture has a real gap


@pytest.mark.parametrize('dim,spread', [(16, 1.0), (512, 1.0), (512, 0.005)])
def test_float32_products_stay_within_1e6_of_the_float64_reference(dim, spread):
    # float32 embeddings are multiplied in float32 (twice the speed); the target
    # is every key within 1e-6 of the all-float64 computation on the same rows.
    # A narrow cone (every row near one direction: large means, small spread)
    # is where uncentred float32 Gram products lose the covariance to
    # cancellation (measured: bures off by 6e-6 at spread 0.005); centred chunks
    # keep every key within 3e-8.
    gen = torch.Generator().manual_seed(1)
    axis = torch.ones(dim)
    img = torch.nn.functional.normalize(spread * torch.randn(2000, dim, generator=gen) + axis,
                                        dim=1)
    text = torch.nn.functional.normalize(
        img + 0.7 * spread * torch.randn(2000, dim, generator=gen) + 0.3 * axis, dim=1)
    moments = PairedMoments(max_samples=2000, chunk_rows=700)  # several chunks merged
    for start in range(0, len(img), 500):
        moments.update(img[start:start + 500], text[start:start + 500])
    fast = gaps_from_moments(moments)
    # The float64 path, itself checked against numpy / scipy above.
    reference = gap_metrics(img.double(), text.double(), max_mmd_samples=2000)
    for key in GAP_KEYS:
        assert abs(fast[key] - reference[key]) < 1e-6, (key, fast[key], reference[key])


def test_spread_invariant_keys_do_not_move_when_the_centred_parts_are_scaled(pairs):
    img, text, _ = (t.double() for t in pairs)
    mean_img, mean_text = img.mean(0), text.mean(0)
    base = gap_metrics(img, text)
    for factor in (0.3, 2.5):  # one factor for both modalities: a change of spread
        scaled = gap_metrics(mean_img + factor * (img - mean_img),
                             mean_text + factor * (text - mean_text))
        for key in SPREAD_INVARIANT_KEYS:
            assert scaled[key] == pytest.approx(base[key], rel=1e-9), key
        # ... while the absolute keys move with the spread.
        assert scaled['distribution'] == pytest.approx(factor * base['distribution'], rel=1e-9)
        assert scaled['bures'] == pytest.approx(factor * base['bures'], rel=1e-9)
    # A factor per modality moves distribution_rel, not the three correlation-like keys.
    apart = gap_metrics(mean_img + 0.5 * (img - mean_img), mean_text + 2 * (text - mean_text))
    for key in ('centred_corr', 'centred_cosine', 'bures_unit'):
        assert apart[key] == pytest.approx(base[key], rel=1e-9), key
    assert abs(apart['distribution_rel'] - base['distribution_rel']) > 0.01


def test_spread_invariant_identities(pairs):
    img, text, _ = (t.double() for t in pairs)
    gaps = gap_metrics(img, text)
    x, y = img.numpy(), text.numpy()
    spread_x, spread_y = x.var(0).sum(), y.var(0).sum()  # tr S_x, tr S_y
    # distribution^2 = T_x + T_y - 2 sqrt(T_x T_y) centred_corr
    assert gaps['distribution']**2 == pytest.approx(
        spread_x + spread_y - 2 * np.sqrt(spread_x * spread_y) * gaps['centred_corr'], rel=1e-10)
    assert gaps['distribution_rel']**2 * (spread_x + spread_y) == pytest.approx(
        gaps['distribution']**2, rel=1e-10)
    assert 0 < gaps['bures_unit'] < math.sqrt(2)
    # Proportional covariances are one shape: bures_unit is 0 while bures is not.
    proportional = gap_metrics(img, img.mean(0) + 2 * (img - img.mean(0)))
    assert proportional['bures_unit'] == pytest.approx(0.0, abs=1e-6)
    assert proportional['bures'] > 0.1
    assert proportional['centred_corr'] == pytest.approx(1.0, rel=1e-12)
    assert proportional['centred_cosine'] == pytest.approx(1.0, rel=1e-12)


def test_centred_cosine_of_a_subsample_uses_the_means_of_all_pairs(pairs):
    img, text, _ = (t.double() for t in pairs)
    gaps = gap_metrics(img, text, max_mmd_samples=50, seed=2)
    kept = torch.argsort(subsample_priorities(torch.arange(len(img)), 2))[:50].numpy()
    x, y = img.numpy(), text.numpy()
    expected = _cosines(x[kept] - x.mean(0), y[kept] - y.mean(0)).mean()
    assert gaps['centred_cosine'] == pytest.approx(expected, rel=1e-10)
    assert math.isnan(gap_metrics(img, text, max_mmd_samples=0)['centred_cosine'])


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
    img, text, _ = (t.double() for t in pairs)  # float64 products: the merge itself is exact
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
    reduction = gap_reduction(dict(raw=2.0, centroid=1.0, mean_paired_cosine=0.1,
                                   centred_corr=0.2, bures_unit=0.5),
                              dict(raw=0.5, centroid=1.0, mean_paired_cosine=0.9,
                                   centred_corr=0.4, bures_unit=0.25))
    assert reduction == dict(raw=75.0, centroid=0.0, bures_unit=50.0)
    assert set(DISTANCE_KEYS) | set(SIMILARITY_KEYS) == set(GAP_KEYS)
    assert not set(DISTANCE_KEYS) & set(SIMILARITY_KEYS)



def test_gap_reduction_keeps_the_before_order():
    """A set's iteration order follows the hash seed; a results file's key order must not
    (with this many keys a set's order matches by chance about once in len(keys)! runs)."""
    gaps = {k: 1.0 + i for i, k in enumerate(DISTANCE_KEYS)}
    assert len(gaps) >= 6
    assert list(gap_reduction(gaps, dict(reversed(list(gaps.items()))))) == list(DISTANCE_KEYS)

def test_empty_input_raises_a_clear_error():
    with pytest.raises(ValueError, match='empty'):
        gap_metrics(torch.zeros(0, 4), torch.zeros(0, 4))
