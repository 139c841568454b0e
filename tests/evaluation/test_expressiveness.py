import numpy as np
import pytest
import torch

from tpc_cma_mm.evaluation.functional import attribute_probes, linear_probe_accuracy


def _data(num=400, seed=0):
    gen = torch.Generator().manual_seed(seed)
    x = torch.randn(num, 8, generator=gen)
    encoded = (x[:, 0] > 0).long().tolist()  # linearly decodable from dim 0
    absent = torch.randint(0, 2, (num, ), generator=gen).tolist()  # independent of x
    return x, dict(encoded=encoded, absent=absent)


def test_probe_reads_what_is_encoded_and_not_what_is_absent():
    (train_x, train_a), (test_x, test_a) = _data(seed=0), _data(seed=1)
    scores = attribute_probes(train_x, train_a, test_x, test_a)
    assert scores['encoded'] > 95
    # Chance is 50 %; the binomial std over 400 test rows is 2.5 points.
    assert abs(scores['absent'] - 50) < 10


def test_probe_is_invariant_to_the_embeddings_scale():
    (train_x, train_a), (test_x, test_a) = _data(seed=0), _data(seed=1)
    # A shrinking spread (the gap closing) must not look like lost information.
    plain = linear_probe_accuracy(train_x, train_a['encoded'], test_x, test_a['encoded'])
    small = linear_probe_accuracy(train_x * 1e-3, train_a['encoded'], test_x * 1e-3,
                                  test_a['encoded'])
    assert plain == small


def test_probe_accuracy_is_the_share_of_correct_test_rows():
    train_x = torch.tensor([[-2.0], [-1.0], [1.0], [2.0]])
    test_x = torch.tensor([[-3.0], [3.0], [-0.5], [0.5]])
    # The threshold sits at 0: three of these four labels agree with it.
    assert linear_probe_accuracy(train_x, [0, 0, 1, 1], test_x, np.array([0, 1, 0, 0])) == 75.0


@pytest.mark.parametrize('call, message', [
    (lambda: linear_probe_accuracy(torch.zeros(3, 2), [0, 1], torch.zeros(2, 2), [0, 1]),
     'one label per row'),
    (lambda: linear_probe_accuracy(torch.zeros(3, 2), [1, 1, 1], torch.zeros(2, 2), [0, 1]),
     'one class'),
    (lambda: attribute_probes(torch.zeros(2, 2), dict(a=[0, 1]), torch.zeros(2, 2),
                              dict(b=[0, 1])), 'one split only'),
])
def test_bad_input_names_the_problem(call, message):
    with pytest.raises((ValueError, KeyError), match=message):
        call()
