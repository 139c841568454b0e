"""Writing a tool's outputs: never a silent overwrite, never a half-written file.

All outputs of one call are rendered to bytes first and written together by
:func:`~tpc_cma_mm.utils.atomic_io.write_outputs` (re-exported here), so a
refusal leaves every file as it was. An existing file with *the same* bytes is
not a conflict (a resumed or repeated run); a different one is refused unless
``overwrite`` is set.
"""
import io
import json
import zipfile
from typing import Any, Dict

import numpy as np

from tpc_cma_mm.utils.atomic_io import OutputExistsError, write_outputs

__all__ = ['OutputExistsError', 'figure_bytes', 'json_bytes', 'npz_bytes', 'read_json',
           'write_outputs']


def json_bytes(value: Any) -> bytes:
    return (json.dumps(value, indent=1) + '\n').encode('utf-8')


def npz_bytes(arrays: Dict[str, np.ndarray]) -> bytes:
    """Arrays as an ``.npz`` (``numpy.load(path)`` reads it, ``allow_pickle`` not needed)
    whose bytes depend on the arrays only: fixed member timestamps, so a repeated run
    writes the same file (``np.savez`` stamps the current time)."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, 'w', zipfile.ZIP_DEFLATED) as archive:
        for name, array in arrays.items():
            array = np.asarray(array)
            if array.dtype == object:
                raise TypeError(f'npz_bytes: {name!r} holds Python objects, which only a '
                                'pickle could store.')
            member = io.BytesIO()
            np.lib.format.write_array(member, array, allow_pickle=False)
            archive.writestr(zipfile.ZipInfo(f'{name}.npy', date_time=(1980, 1, 1, 0, 0, 0)),
                             member.getvalue(), compress_type=zipfile.ZIP_DEFLATED)
    return buffer.getvalue()


def figure_bytes(fig, dpi: int = 150, **savefig_kwargs) -> bytes:
    """A matplotlib figure as PNG bytes (the figure is closed)."""
    import matplotlib.pyplot as plt
    buffer = io.BytesIO()
    fig.savefig(buffer, format='png', dpi=dpi, metadata={'Software': None}, **savefig_kwargs)
    plt.close(fig)
    return buffer.getvalue()


def read_json(path: str, what: str = 'file') -> Any:
    """Load a JSON file with an error that names it and says what to do."""
    try:
        with open(path, encoding='utf-8') as f:
            return json.load(f)
    except json.JSONDecodeError as err:
        raise ValueError(
            f'The {what} {path!r} is not valid JSON ({err}): it was cut short or edited. '
            'Move it away (or delete it) to start afresh.') from err
