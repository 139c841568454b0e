"""Post-hoc baselines: what each does to the gap decomposition."""
import pytest
import torch

from tpc_cma_mm.evaluation.functional import (GapShift, MeanCentering, build_posthoc,
                                              gap_metrics, mean_center, shift_along_gap)


def test_mean_centering_zeroes_centroid_and_keeps_distribution(pairs):
    img, text, _ = pairs
    before = gap_metrics(img.double(), text.double())
    after = gap_metrics(*MeanCentering(renormalize=False)(img.double(), text.double()))
    assert after['centroid'] < 1e-12
    assert after['distribution'] == pytest.approx(before['distribution'], rel=1e-12)
    for key in ('bures', 'cov_fro', 'mmd'):  # a shift leaves the centred sets as they were
        assert after[key] == pytest.approx(before[key], rel=1e-9, abs=1e-12), key


def test_renormalised_mean_centering_returns_unit_vectors_and_shrinks_the_centroid(pairs):
    img, text, _ = pairs
    centred_img, centred_text = mean_center(img, text)
    manual = (img.double() - img.double().mean(0))
    torch.testing.assert_close(centred_img.double(), manual / manual.norm(dim=1, keepdim=True),
                               rtol=1e-6, atol=1e-6)
    torch.testing.assert_close(centred_text.norm(dim=1), torch.ones(len(text)))
    before, after = gap_metrics(img, text), gap_metrics(centred_img, centred_text)
    assert after['centroid'] < 0.2 * before['centroid']


@pytest.mark.parametrize('lam', [0.25, 0.5, -0.5])
def test_gap_shift_scales_the_centroid_gap_by_one_minus_two_lambda(pairs, lam):
    img, text, _ = pairs
    before = gap_metrics(img.double(), text.double())
    after = gap_metrics(*GapShift(lam, renormalize=False)(img.double(), text.double()))
    assert after['centroid'] == pytest.approx(abs(1 - 2 * lam) * before['centroid'], rel=1e-10)
    assert after['distribution'] == pytest.approx(before['distribution'], rel=1e-10)


def test_gap_shift_moves_only_along_the_gap_direction(pairs):
    img, text, _ = pairs
    shifted_img, _ = GapShift(0.5, renormalize=False)(img.double(), text.double())
    gap = img.double().mean(0) - text.double().mean(0)
    moved = shifted_img - img.double()
    torch.testing.assert_close(moved, (-0.5 * gap).expand_as(moved))
    unit_norms = shift_along_gap(img, text, 0.5)[1].norm(dim=1)
    torch.testing.assert_close(unit_norms, torch.ones(len(text)))


def test_text_side_applies_to_other_texts_such_as_prototypes(pairs):
    img, text, _ = pairs
    transform = MeanCentering().fit(img, text)
    prototypes = text[:3] * 2
    expected = prototypes.double() - text.double().mean(0)
    torch.testing.assert_close(transform.text(prototypes).double(),
                               expected / expected.norm(dim=1, keepdim=True), rtol=1e-6, atol=1e-6)


def test_build_posthoc_from_config_name_or_instance():
    assert isinstance(build_posthoc(dict(type='GapShift', lam=0.3)), GapShift)
    assert build_posthoc('MeanCentering').name == 'mean_centering'
    assert build_posthoc(None) is None
    with pytest.raises(RuntimeError, match='fit'):
        MeanCentering().image(torch.zeros(2, 3))
