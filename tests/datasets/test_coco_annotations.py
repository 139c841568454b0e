"""Karpathy annotations: what is left out is counted and logged, what is malformed is refused."""
import json
from unittest import mock

import pytest

from tpc_cma_mm.registry import DATASETS


def _entry(index, split='train', captions=('a red circle', 'a circle')):
    return dict(filepath='img', filename=f'{index}.jpg', split=split, cocoid=1000 + index,
                sentences=[dict(raw=c) for c in captions])


def _build(tmp_path, images, split='train'):
    ann = tmp_path / 'ann.json'
    ann.write_text(json.dumps(dict(images=images)))
    return DATASETS.build(dict(type='CocoKarpathyCaptions', data_root=str(tmp_path),
                               ann_file=str(ann), split=split))


def test_left_out_entries_are_counted_per_reason_and_logged(tmp_path):
    images = [_entry(0), _entry(1, split='restval'), _entry(2, split='tset'),
              _entry(3, split='TRAIN'), _entry(4, captions=()), _entry(5, split='val'),
              _entry(6, split='tset')]
    with mock.patch('tpc_cma_mm.datasets.coco_captions.print_log') as print_log:
        dataset = _build(tmp_path, images)
    # train + restval with sentences: entries 0 and 1, two captions each
    ids = [dataset.get_data_info(i)['img_id'] for i in range(len(dataset))]
    assert ids == [1000, 1000, 1001, 1001]
    assert dataset.dropped == {"unknown split value 'tset'": 2,
                               "unknown split value 'TRAIN'": 1, 'no sentences': 1}
    (log, ), options = print_log.call_args
    assert options['level'] == 30  # a warning
    assert ("left out 4 of 7 entries" in log and "2 with unknown split value 'tset'" in log
            and '1 with no sentences' in log), log


def test_val_split_counts_only_its_own_empty_entries(tmp_path):
    # entries of another Karpathy split are not "left out": they belong to that split
    images = [_entry(0, split='val'), _entry(1, split='val', captions=()), _entry(2),
              _entry(3, captions=())]
    dataset = _build(tmp_path, images, split='val')
    assert len(dataset) == 2 and dataset.dropped == {'no sentences': 1}


@pytest.mark.parametrize('field, value, message', [
    ('sentences', 'a red circle', r'images\[1\] \(cocoid 1001\): "sentences" must be a list, '
                                  r'got str'),
    ('sentences', [dict(text='x')], r'images\[1\] \(cocoid 1001\): sentences\[0\]\.raw'),
    ('sentences', ['a red circle'], r'images\[1\] \(cocoid 1001\): sentences\[0\]\.raw'),
    ('split', None, r'images\[1\] \(cocoid 1001\): "split" must be a str'),
    ('filename', 7, r'images\[1\] \(cocoid 1001\): "filename" must be a str'),
    ('cocoid', '1001', r'images\[1\] \(cocoid 1001\): "cocoid" must be an integer'),
    ('cocoid', 1000, r'images\[1\] \(cocoid 1000\): cocoid 1000 is also images\[0\]'),
])
def test_malformed_entries_are_refused_naming_index_cocoid_and_field(
        tmp_path, field, value, message):
    bad = _entry(1)
    bad[field] = value
    with pytest.raises(ValueError, match=message):
        _build(tmp_path, [_entry(0), bad])


def test_an_entry_that_is_not_an_object_is_refused(tmp_path):
    with pytest.raises(ValueError, match=r'images\[1\] is a str, not an object'):
        _build(tmp_path, [_entry(0), 'img/1.jpg'])
