"""README.md's "Layout" section is true to the tree: every path it lists exists, and every
package folder of the library and the lab is listed (as an entry or in its parent's line)."""
import itertools
import os
import os.path as osp
import re

REPO = osp.dirname(osp.dirname(osp.abspath(__file__)))
# A tree entry starts within the first columns; deeper lines continue a description.
ENTRY_COLUMNS = 8
PACKAGES = ('tpc_cma_mm', 'tpc_cma_lab')


def layout_entries(readme: str) -> dict:
    """``path -> description`` of the tree in the Layout section's code block."""
    section = readme[readme.index('## Layout'):]
    block = section[section.index('```') + 3:]
    block = block[block.index('\n') + 1:block.index('```')]
    entries, parents, path = {}, [], None
    for line in block.splitlines():
        indent = len(line) - len(line.lstrip())
        if not line.strip():
            continue
        if indent < ENTRY_COLUMNS:
            name, _, description = line.strip().partition(' ')
            depth = indent // 2
            parents = parents[:depth] + [name]
            path = ''.join(parents)
            entries[path] = description.strip()
        else:
            entries[path] += ' ' + line.strip()
    return entries


def expand(token: str) -> list:
    """``losses/{a,b}.py`` -> ``['losses/a.py', 'losses/b.py']``."""
    parts = re.split(r'\{([^}]*)\}', token)
    choices = [[p] if i % 2 == 0 else p.split(',') for i, p in enumerate(parts)]
    return [''.join(c) for c in itertools.product(*choices)]


def named_files(description: str) -> list:
    """The file names (``x.py``, ``a/{b,c}.py``) a description lists."""
    names = [name for token in description.split() for name in expand(token.strip(',;:()'))]
    return [name for name in names if re.fullmatch(r'[\w/.-]+\.(py|sh|md|json)', name)]


def test_entries_and_their_named_files_parse():
    readme = '## Layout\n```\npkg/       a.py, sub/{b,c}.py\n  sub/     more\n```\n'
    entries = layout_entries(readme)
    assert entries == {'pkg/': 'a.py, sub/{b,c}.py', 'pkg/sub/': 'more'}
    assert named_files(entries['pkg/']) == ['a.py', 'sub/b.py', 'sub/c.py']


def test_every_listed_path_exists():
    entries = layout_entries(open(osp.join(REPO, 'README.md')).read())
    missing = [path for path in entries if not osp.exists(osp.join(REPO, path))]
    # Files named in a folder's line live in that folder (or below it), or are
    # repository paths.
    for path, description in entries.items():
        if path.endswith('/'):
            for name in named_files(description):
                if not (osp.exists(osp.join(REPO, path, name)) or osp.exists(osp.join(REPO, name))
                        or any(osp.basename(name) in files
                               for _, _, files in os.walk(osp.join(REPO, path)))):
                    missing.append(path + name)
    assert missing == []


def test_every_package_folder_is_listed():
    entries = layout_entries(open(osp.join(REPO, 'README.md')).read())
    unlisted = []
    for package in PACKAGES:
        for folder, _, files in os.walk(osp.join(REPO, package)):
            if '__init__.py' not in files:
                continue
            rel = osp.relpath(folder, REPO).replace(os.sep, '/') + '/'
            parent, _, name = rel[:-1].rpartition('/')
            in_parent_line = re.search(rf'(?<![\w/]){re.escape(name)}/',
                                       entries.get(parent + '/', ''))
            if rel not in entries and not in_parent_line:
                unlisted.append(rel)
    assert unlisted == []
