"""Bad data gives an error that names the problem and the fix (or a counted skip)."""
import io
import json
import zlib

import numpy as np
import pytest
import torch
from PIL import Image

from tiny import TINY_PIPELINE, tiny_dataset_cfg, tiny_model_cfg
from tpc_cma_mm.datasets.transforms import ImageLoadError, SafeLoadImageFromFile
from tpc_cma_mm.registry import DATASETS, MODELS, TRANSFORMS


def _jpeg(path, seed=0):
    pixels = np.random.default_rng(seed).integers(0, 255, (16, 16, 3), dtype=np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, 'JPEG')
    path.write_bytes(buffer.getvalue())
    return buffer.getvalue()


def _coco(tmp_path, images, split='train', pipeline=()):
    ann = tmp_path / 'ann.json'
    ann.write_text(json.dumps(dict(images=images)))
    return DATASETS.build(dict(type='CocoKarpathyCaptions', data_root=str(tmp_path),
                               ann_file=str(ann), split=split, pipeline=list(pipeline)))


def _entry(name, split='train', captions=('a red circle', )):
    return dict(filepath='img', filename=name, split=split, cocoid=zlib.crc32(name.encode()),
                sentences=[dict(raw=c) for c in captions])


def test_missing_data_root_and_annotation_file(tmp_path):
    with pytest.raises(FileNotFoundError, match='nowhere.*does not exist.*data_root'):
        DATASETS.build(dict(type='CocoKarpathyCaptions', data_root=str(tmp_path / 'nowhere'),
                            ann_file='a.json'))
    with pytest.raises(FileNotFoundError, match='missing.json.*not found.*set ann_file'):
        DATASETS.build(dict(type='CocoKarpathyCaptions', data_root=str(tmp_path),
                            ann_file=str(tmp_path / 'missing.json')))


def test_malformed_annotations_name_the_entry(tmp_path):
    bad_json = tmp_path / 'broken.json'
    bad_json.write_text('{"images": [ {"split": "train",, } ]}')
    with pytest.raises(ValueError, match=r'broken.json is not a Karpathy caption file.*line 1'):
        DATASETS.build(dict(type='CocoKarpathyCaptions', data_root=str(tmp_path),
                            ann_file=str(bad_json)))
    with pytest.raises(ValueError, match='not a list'):
        _coco(tmp_path, {'0': _entry('a.jpg')})
    lacking = _entry('b.jpg')
    del lacking['filename']
    with pytest.raises(ValueError, match=r"images\[1\] \(cocoid \d+\) lacks 'filename'"):
        _coco(tmp_path, [_entry('a.jpg'), lacking])


def test_empty_caption_and_empty_split(tmp_path):
    with pytest.raises(ValueError, match=r'images\[1\] \(cocoid \d+\): sentences\[1\]\.raw \(b.jpg\) is an empty'):
        _coco(tmp_path, [_entry('a.jpg'), _entry('b.jpg', captions=('fine', '  '))])
    with pytest.raises(ValueError, match="no items for split 'test'"):
        _coco(tmp_path, [_entry('a.jpg')], split='test')
    with pytest.raises(ValueError, match=r'is empty: num_samples must be >= 1'):
        DATASETS.build(tiny_dataset_cfg(num_samples=0))
    tokenize = TRANSFORMS.build(TINY_PIPELINE[0])
    with pytest.raises(ValueError, match='Empty or missing caption for sample x.jpg'):
        tokenize(dict(text='   ', img_path='x.jpg'))


def test_corrupt_truncated_and_missing_images(tmp_path):
    (tmp_path / 'img').mkdir()
    data = _jpeg(tmp_path / 'img' / 'good.jpg')
    (tmp_path / 'img' / 'cut.jpg').write_bytes(data[:len(data) // 2])
    (tmp_path / 'img' / 'junk.jpg').write_bytes(b'not an image')
    load = SafeLoadImageFromFile()
    assert load(dict(img_path=str(tmp_path / 'img' / 'good.jpg')))['img'].shape == (16, 16, 3)
    for name in ('cut.jpg', 'junk.jpg', 'gone.jpg'):
        with pytest.raises(ImageLoadError, match=rf"{name}'.*Fix: .*on_error='skip'"):
            load(dict(img_path=str(tmp_path / 'img' / name)))
    for backend in ('cv2', 'pillow'):  # both decoders refuse the truncated JPEG
        with pytest.raises(ImageLoadError, match='cut.jpg'):
            SafeLoadImageFromFile(imdecode_backend=backend)(
                dict(img_path=str(tmp_path / 'img' / 'cut.jpg')))

    # skip-and-count: the dataset draws another (good) sample in training
    pipeline = [dict(type='SafeLoadImageFromFile', on_error='skip', max_skipped=2)]
    dataset = _coco(tmp_path, [_entry('good.jpg'), _entry('cut.jpg'), _entry('gone.jpg')],
                    pipeline=pipeline)
    loader = dataset.pipeline.transforms[0]
    np.random.seed(0)  # mmengine draws the replacement with np.random
    for index in range(3):
        assert dataset[index]['img_path'].endswith('good.jpg')
    assert sorted(p.rsplit('/', 1)[1] for p in loader.skipped) == ['cut.jpg', 'gone.jpg']
    assert all(n >= 1 for n in loader.skipped.values())
    # the budget counts distinct files: a third bad file fails the run
    (tmp_path / 'img' / 'third.jpg').write_bytes(b'')
    with pytest.raises(ImageLoadError, match='3 image files.*more than max_skipped=2'):
        loader(dict(img_path=str(tmp_path / 'img' / 'third.jpg')))


def test_invalid_config_values():
    with pytest.raises(ValueError, match="on_error must be 'raise' or 'skip'"):
        SafeLoadImageFromFile(on_error='ignore')
    with pytest.raises(ValueError, match='max_skipped'):
        SafeLoadImageFromFile(max_skipped=-1)
    with pytest.raises(ValueError, match='image_size must be an integer >= 8'):
        DATASETS.build(tiny_dataset_cfg(image_size=4))
    with pytest.raises(ValueError, match='keep_prob'):
        DATASETS.build(tiny_dataset_cfg(keep_prob=dict(shape=1.5)))
    with pytest.raises(ValueError, match=r'alpha must lie in \[0, 1\]'):
        MODELS.build(tiny_model_cfg(alpha=1.5))


def test_fewer_samples_than_clusters():
    functional = pytest.importorskip('tpc_cma_mm.evaluation.functional')
    if not hasattr(functional, 'joint_clustering'):
        pytest.skip('joint clustering metric not present yet')
    embeds = torch.nn.functional.normalize(torch.randn(3, 8), dim=-1)
    with pytest.raises(ValueError, match='cannot form 8 clusters.*more samples'):
        functional.joint_clustering(embeds, embeds, torch.arange(3), num_clusters=8)


def test_bytes_flipped_mid_scan_load_as_a_wrong_image(tmp_path):
    """The documented limit (docs/reliability.md, "Bad input"): JPEG has no checksum, so damage
    inside the entropy-coded scan that keeps the file's structure decodes to a wrong image
    with only a libjpeg warning on stderr; neither decoder raises."""
    data = bytearray(_jpeg(tmp_path / 'good.jpg'))
    middle = (data.index(b'\xff\xda') + len(data)) // 2  # inside the scan after SOS
    for offset in range(8):
        data[middle + offset] ^= 0x55  # no 0xff byte is created: the markers stay intact
    assert 0xff not in data[middle:middle + 8]
    (tmp_path / 'flipped.jpg').write_bytes(bytes(data))
    for backend in ('cv2', 'pillow'):
        load = SafeLoadImageFromFile(imdecode_backend=backend)
        good = load(dict(img_path=str(tmp_path / 'good.jpg')))['img'].astype(int)
        flipped = load(dict(img_path=str(tmp_path / 'flipped.jpg')))['img'].astype(int)
        assert flipped.shape == good.shape
        assert np.abs(flipped - good).mean() > 5  # garbage, loaded without an error
