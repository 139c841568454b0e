"""mmpretrain's CIFAR-10/100, with the python batches read by a restricted unpickler.

Items are BGR, like images loaded from files (docs/reliability.md, "Channel order").

CIFAR's batches are pickles; ``pickle.loads`` would run any code a tampered
file names. These classes admit only what the real files hold: numpy arrays,
lists, dicts, strings, bytes and numbers.
"""
import io
import pickle
from typing import List

import numpy as np
from mmengine.fileio import get, join_path
from mmpretrain.datasets import CIFAR10, CIFAR100

from tpc_cma_mm.registry import DATASETS

__all__ = ['SafeCIFAR10', 'SafeCIFAR100', 'safe_unpickle']

# The globals a numpy array's pickle names (numpy < 2 and numpy >= 2 module paths), and
# the str -> bytes conversion that protocol-2 pickles written by Python 3 use for bytes.
_ALLOWED_GLOBALS = {
    ('numpy.core.multiarray', '_reconstruct'), ('numpy._core.multiarray', '_reconstruct'),
    ('numpy', 'ndarray'), ('numpy', 'dtype'), ('_codecs', 'encode'),
}


class _ArraysOnlyUnpickler(pickle.Unpickler):

    def find_class(self, module: str, name: str):
        if (module, name) in _ALLOWED_GLOBALS:
            return super().find_class(module, name)
        raise pickle.UnpicklingError(
            f'Refusing to load {module}.{name} from a CIFAR batch: only numpy arrays, '
            'lists, dicts, strings and bytes are admitted. Re-download the file from '
            'https://www.cs.toronto.edu/~kriz/cifar.html.')


def safe_unpickle(data: bytes):
    """Unpickle ``data`` admitting numpy arrays and plain containers only."""
    return _ArraysOnlyUnpickler(io.BytesIO(data), encoding='latin1').load()


class _SafeCIFARMixin:
    """Overrides the two places where mmpretrain unpickles CIFAR files."""

    def load_data_list(self) -> List[dict]:
        root = self.data_prefix['root']
        if not self._check_integrity():
            raise FileNotFoundError(
                f'{type(self).__name__}: the python batches {self.train_list + self.test_list} '
                f'are missing under {join_path(root, self.base_folder)} or fail their md5 '
                f'check; extract {self.filename} from {self.url} there (download=False: '
                'nothing is fetched at run time).')
        files = self.train_list if self.split == 'train' else self.test_list
        imgs, labels = [], []
        for file_name, _ in files:
            entry = safe_unpickle(get(join_path(root, self.base_folder, file_name)))
            imgs.append(entry['data'])
            labels.extend(entry['labels'] if 'labels' in entry else entry['fine_labels'])
        # The batches hold RGB planes; items are BGR, as files load (mmpretrain's CIFAR
        # keeps RGB for its to_rgb=False configs; every config here uses to_rgb=True).
        imgs = np.ascontiguousarray(
            np.vstack(imgs).reshape(-1, 3, 32, 32).transpose((0, 2, 3, 1))[..., ::-1])
        if self.CLASSES is None:
            meta = safe_unpickle(get(join_path(root, self.base_folder, self.meta['filename'])))
            self._metainfo.setdefault('classes', meta[self.meta['key']])
        return [dict(img=img, gt_label=int(label)) for img, label in zip(imgs, labels)]


@DATASETS.register_module()
class SafeCIFAR10(_SafeCIFARMixin, CIFAR10):
    """mmpretrain's ``CIFAR10`` without running code from its pickles.

    Example config (test split, for zero-shot classification)::

        dataset = dict(type='SafeCIFAR10', data_root='data/cifar10', split='test',
                       pipeline=[dict(type='Resize', scale=224, interpolation='bicubic'),
                                 dict(type='PackInputs')])
    """


@DATASETS.register_module()
class SafeCIFAR100(_SafeCIFARMixin, CIFAR100):
    """mmpretrain's ``CIFAR100`` (fine labels) without running code from its pickles.

    Example config::

        dataset = dict(type='SafeCIFAR100', data_root='data/cifar100', split='test',
                       pipeline=[dict(type='Resize', scale=224, interpolation='bicubic'),
                                 dict(type='PackInputs')])
    """
