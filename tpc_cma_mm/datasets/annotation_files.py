"""Reading annotation files that may be damaged or hand-edited: every error names the
file, the entry and what was expected, never a bare ``KeyError`` or ``JSONDecodeError``.
"""
import json
import ntpath
import os.path as osp
from typing import Tuple, Union

__all__ = ['read_json_object', 'require_field', 'require_list', 'path_inside']

Kinds = Union[type, Tuple[type, ...]]


def read_json_object(path: str, what: str, expected: str) -> dict:
    """The JSON object in ``path``, a ``what`` (``'COCO captions file'``) laid out as
    ``expected``; both are named in the error messages."""
    try:
        with open(path, encoding='utf-8') as f:
            data = json.load(f)
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise ValueError(f'{path} is not a {what}: not valid JSON, truncated or damaged '
                         f'({err}); expected {expected}. Re-download or re-extract it.') from err
    except OSError as err:
        raise OSError(f'Cannot read annotation file {path!r} ({err}); check its '
                      'permissions.') from err
    if not isinstance(data, dict):
        raise ValueError(f'{path} is not a {what}: it holds a JSON {type(data).__name__}, '
                         f'not an object; expected {expected}.')
    return data


def _kind_names(kinds: Kinds) -> str:
    """``'an integer'``, ``'a str'``, ``'a str or list'``."""
    kinds = kinds if isinstance(kinds, tuple) else (kinds, )
    names = ' or '.join('integer' if k is int else k.__name__ for k in kinds)
    return f'{"an" if names[0] in "aeiou" else "a"} {names}'


def require_field(entry: dict, name: str, kinds: Kinds, where: str, needs: str):
    """``entry[name]``, refused naming ``where`` when missing or not of ``kinds``
    (``bool`` is not an ``int`` here); ``needs`` says what each entry must hold."""
    if name not in entry:
        raise ValueError(f"{where} lacks '{name}'; {needs}")
    value = entry[name]
    wrong_bool = isinstance(value, bool) and bool not in (
        kinds if isinstance(kinds, tuple) else (kinds, ))
    if wrong_bool or not isinstance(value, kinds):
        raise ValueError(f'{where}: "{name}" must be {_kind_names(kinds)}, got '
                         f'{type(value).__name__} {value!r}.')
    return value


def require_list(data: dict, key: str, path: str, what: str, expected: str) -> list:
    """``data[key]`` as a list of objects, refused naming ``path`` and the first bad item."""
    if key not in data:
        raise ValueError(f'{path} is not a {what}: it has no "{key}" list; expected '
                         f'{expected}.')
    items = data[key]
    if not isinstance(items, list):
        raise ValueError(f'{path} is not a {what}: "{key}" is a {type(items).__name__}, not '
                         f'a list; expected {expected}.')
    for index, item in enumerate(items):
        if not isinstance(item, dict):
            raise ValueError(f'{path}: {key}[{index}] is a {type(item).__name__} {item!r}, '
                             f'not an object; expected {expected}.')
    return items


def path_inside(root: str, parts: Tuple[str, ...], where: str) -> str:
    """``root/part/...``, refused when a part is absolute or climbs out with ``..``:
    an annotation file names files under its data root, never elsewhere."""
    for part in parts:
        pieces = part.replace('\\', '/').split('/')
        if osp.isabs(part) or ntpath.isabs(part) or part.startswith(('/', '\\')) \
                or '..' in pieces:
            raise ValueError(f'{where}: {part!r} leads outside the data root {root!r}; an '
                             'annotation names files relative to it, without "..". Fix the '
                             'entry or move the file under the data root.')
    return osp.join(root, *parts)
