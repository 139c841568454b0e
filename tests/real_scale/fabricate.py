"""The fabricated real-format files, for the tests (``from real_scale.fabricate import ...``).

They live in ``benchmarks/fabricate.py`` since the benchmarks and the GPU check
fabricate the same COCO-format data."""
from benchmarks.fabricate import (CIFAR10_BATCHES, write_cifar10, write_coco, write_image_folder,
                                  write_jpeg, write_karpathy)

__all__ = ['CIFAR10_BATCHES', 'write_cifar10', 'write_coco', 'write_image_folder', 'write_jpeg',
           'write_karpathy']
