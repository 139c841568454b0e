import numpy as np
import pytest

from tpc_cma_mm.datasets import SHAPES, ShapeCaptions


def _make(split='train', n=40, **kw):
    return ShapeCaptions(split=split, num_samples=n, seed=3, image_size=16, **kw)


def test_deterministic_from_seed():
    a, b = _make(), _make()
    for i in range(len(a)):
        assert a[i]['text'] == b[i]['text']
        np.testing.assert_array_equal(a[i]['img'], b[i]['img'])


def test_splits_are_different_streams():
    train, val = _make('train'), _make('val')
    assert [train[i]['text'] for i in range(40)] != [val[i]['text'] for i in range(40)]


def test_item_fields_and_caption_consistency():
    data = _make(n=200)
    for i in range(len(data)):
        item = data[i]
        assert item['img'].shape == (16, 16, 3) and item['img'].dtype == np.uint8
        assert SHAPES[item['gt_label']] == item['attr_shape']
        words = item['text']
        # A caption never names an attribute value the image does not have.
        assert item['attr_shape'] in words or ' shape' in words
        if item['attr_colour'] not in words:
            assert not any(c in words.split() for c in ('red', 'green', 'blue'))


def test_keep_prob_controls_information():
    full = _make(n=100, keep_prob=dict(shape=1, colour=1, size=1, position=1))
    none = _make(n=100, keep_prob=dict(shape=0, colour=0, size=0, position=0))
    for i in range(100):
        item = full[i]
        for key in ('shape', 'colour', 'size', 'position'):
            assert item[f'attr_{key}'] in item['text']
        assert none[i]['text'].endswith(' a shape')


def test_shapes_render_differently():
    data = _make(n=300, keep_prob=dict(shape=1))
    means = {}
    for i in range(len(data)):
        means.setdefault(data[i]['attr_shape'], []).append((data[i]['img'] > 60).mean())
    assert len(means) == len(SHAPES)


@pytest.mark.parametrize('kwargs, message', [
    (dict(split='dev'), 'split'),
    (dict(num_samples=0), 'empty'),
    (dict(keep_prob=dict(colour=1.5)), 'keep_prob'),
    (dict(keep_prob=dict(texture=0.5)), 'keep_prob'),
])
def test_bad_arguments_name_the_problem(kwargs, message):
    with pytest.raises(ValueError, match=message):
        ShapeCaptions(image_size=16, **kwargs)


def test_shapes_option_default_stream_unchanged_and_subset_only():
    default, every = _make(n=60), _make(n=60, shapes=SHAPES)
    for i in range(60):
        assert default[i]['text'] == every[i]['text']
        np.testing.assert_array_equal(default[i]['img'], every[i]['img'])
    narrow = _make(n=200, shapes=('star', 'ring'))
    seen = {narrow[i]['attr_shape'] for i in range(200)}
    assert seen == {'star', 'ring'}
    for i in range(200):
        # Labels index the full class list, not the subset.
        assert SHAPES[narrow[i]['gt_label']] == narrow[i]['attr_shape']


@pytest.mark.parametrize('shapes', [(), ('circle', 'blob')])
def test_bad_shapes_name_the_problem(shapes):
    with pytest.raises(ValueError, match='shapes must be a non-empty subset'):
        ShapeCaptions(image_size=16, shapes=shapes)
