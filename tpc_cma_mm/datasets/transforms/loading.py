"""Image loading that names the bad file and can skip it."""
from typing import Dict, Optional

from mmcv.transforms import LoadImageFromFile
from mmengine.logging import print_log

from tpc_cma_mm.registry import TRANSFORMS

__all__ = ['SafeLoadImageFromFile', 'ImageLoadError']


class ImageLoadError(OSError):
    """An image file is missing, unreadable, truncated or not an image."""


@TRANSFORMS.register_module()
class SafeLoadImageFromFile(LoadImageFromFile):
    """``LoadImageFromFile`` with clear errors and an optional skip-and-count.

    A missing, unreadable, truncated or undecodable image (both decoders
    refuse truncated JPEG / PNG data) either raises :class:`ImageLoadError`
    naming the file and the fix (``on_error='raise'``, the default), or is
    logged (once per file), counted in ``skipped`` (file -> times) and skipped
    (``on_error='skip'``): the transform returns ``None`` and mmengine's dataset
    draws another sample in training. At most ``max_skipped`` distinct files
    are skipped (per loader process) before it raises,
    so a broken data set cannot train on silently. A data set in test mode
    refuses a skipped sample, so an evaluation fails on a bad image (after the
    warning that names it); ``CocoKarpathyCaptions`` loads val / test in test
    mode. Not detected: bytes changed inside a JPEG's scan that keep its
    structure decode to a wrong image with only a libjpeg warning on stderr
    (JPEG has no checksum; docs/reliability.md, "Bad input").

    Example config::

        train_pipeline = [
            dict(type='SafeLoadImageFromFile', on_error='skip', max_skipped=100),
            ...]

    Args:
        on_error (str): ``'raise'`` or ``'skip'``.
        max_skipped (int): Distinct bad files allowed per process; >= 0.
        **kwargs: ``LoadImageFromFile`` arguments (``imdecode_backend`` ...).
    """

    def __init__(self, on_error: str = 'raise', max_skipped: int = 100, **kwargs):
        if on_error not in ('raise', 'skip'):
            raise ValueError("SafeLoadImageFromFile.on_error must be 'raise' or 'skip', "
                             f'got {on_error!r}')
        if isinstance(max_skipped, bool) or not isinstance(max_skipped, int) \
                or max_skipped < 0:
            raise ValueError('SafeLoadImageFromFile.max_skipped must be an integer '
                             f'>= 0, got {max_skipped!r}')
        if kwargs.get('ignore_empty'):
            raise ValueError("Use on_error='skip' instead of ignore_empty=True.")
        super().__init__(**kwargs)
        self.on_error, self.max_skipped = on_error, max_skipped
        self.skipped: Dict[str, int] = {}  # bad file -> times skipped

    def transform(self, results: dict) -> Optional[dict]:
        path = results.get('img_path', '<no img_path>')
        try:
            out = super().transform(results)
            cause = None
        except AssertionError:  # mmcv's check that the decoder returned an image
            cause = 'the decoder returned no image (truncated or not an image)'
        except Exception as err:  # noqa: BLE001  (any reader / decoder failure)
            cause = f'{type(err).__name__}: {err}'
        if cause is None:
            return out
        message = (f'Cannot load image {path!r}: {cause}. Fix: replace or re-download the '
                   'file or remove its entry from the annotation file')
        if self.on_error == 'raise':
            raise ImageLoadError(message + ", or set on_error='skip' on "
                                 'SafeLoadImageFromFile to skip bad images.')
        first_time = path not in self.skipped
        self.skipped[path] = self.skipped.get(path, 0) + 1
        if len(self.skipped) > self.max_skipped:
            raise ImageLoadError(
                f'{len(self.skipped)} image files could not be loaded (more than '
                f'max_skipped={self.max_skipped}); the last: {message}.')
        if first_time:  # once per file, not once per epoch
            print_log(f'Skipping bad image file {len(self.skipped)} of at most '
                      f'{self.max_skipped}: {message}.', logger='current', level=30)
        return None

    def __repr__(self) -> str:
        return (f'{type(self).__name__}(on_error={self.on_error!r}, '
                f'max_skipped={self.max_skipped}, '
                f'imdecode_backend={self.imdecode_backend!r})')
