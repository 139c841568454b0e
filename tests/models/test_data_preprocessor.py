"""DualEncoderDataPreprocessor against mmengine's ImgDataPreprocessor, image by image."""
from unittest import mock

import torch
from mmengine.model import ImgDataPreprocessor
from mmpretrain.structures import DataSample

from tpc_cma_mm.models import DualEncoderDataPreprocessor


def _batch(shapes):
    generator = torch.Generator().manual_seed(0)
    return dict(inputs=[torch.randint(0, 256, shape, generator=generator, dtype=torch.uint8)
                        for shape in shapes],
                data_samples=[DataSample(text_tokens=torch.arange(4) + i)
                              for i in range(len(shapes))])


def test_images_of_one_size_are_normalised_as_one_batch_with_the_same_values():
    ours = DualEncoderDataPreprocessor(to_rgb=True)
    reference = ImgDataPreprocessor(mean=ours.mean.flatten().tolist(),
                                    std=ours.std.flatten().tolist(), bgr_to_rgb=True)
    batch = _batch([(3, 20, 24)] * 5)
    want = reference(_batch([(3, 20, 24)] * 5))  # mmengine's image-by-image loop
    seen = []
    cast_data = ImgDataPreprocessor.cast_data

    def record(self, data):
        if isinstance(data, dict) and 'inputs' in data:  # the batch, not its recursion
            seen.append(type(data['inputs']))
        return cast_data(self, data)

    with mock.patch.object(ImgDataPreprocessor, 'cast_data', record):
        got = ours(batch)
    assert seen == [torch.Tensor]  # one (5, 3, 20, 24) tensor, not five images
    assert torch.equal(got['inputs'], want['inputs'])  # bit for bit
    assert torch.equal(got['text_tokens'], torch.stack([torch.arange(4) + i for i in range(5)]))


def test_images_of_several_sizes_keep_mmengines_padding():
    ours = DualEncoderDataPreprocessor(to_rgb=False)
    reference = ImgDataPreprocessor(mean=ours.mean.flatten().tolist(),
                                    std=ours.std.flatten().tolist())
    shapes = [(3, 20, 24), (3, 16, 24)]
    got, want = ours(_batch(shapes)), reference(_batch(shapes))
    assert got['inputs'].shape == (2, 3, 20, 24)
    assert torch.equal(got['inputs'], want['inputs'])
