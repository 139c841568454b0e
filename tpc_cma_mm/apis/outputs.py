"""Writing a tool's outputs: never a silent overwrite, never a half-written file.

All outputs of one call are rendered to bytes first and written together by
:func:`~tpc_cma_mm.utils.atomic_io.write_outputs` (re-exported here), so a
refusal leaves every file as it was. An existing file with *the same* bytes is
not a conflict (a resumed or repeated run); a different one is refused unless
``overwrite`` is set.
"""
import io
import json
from typing import Any

from tpc_cma_mm.utils.atomic_io import OutputExistsError, write_outputs

__all__ = ['OutputExistsError', 'figure_bytes', 'json_bytes', 'read_json', 'write_outputs']


def json_bytes(value: Any) -> bytes:
    return (json.dumps(value, indent=1) + '\n').encode('utf-8')


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
