"""The house's layering: the library has no import circle (imports inside functions
count too, so a circle cannot hide there), never imports the lab, and importing its
API loads no plotting backend."""
import ast
import os
import os.path as osp

REPO = osp.dirname(osp.dirname(osp.abspath(__file__)))


def package_modules(package):
    """Dotted module name -> file, for every module under ``package`` in the repo."""
    modules = {}
    for folder, _, files in os.walk(osp.join(REPO, package)):
        for name in files:
            if name.endswith('.py'):
                path = osp.join(folder, name)
                dotted = osp.relpath(path, REPO)[:-3].replace(os.sep, '.')
                modules[dotted.removesuffix('.__init__')] = path
    return modules


def imported_names(module, path, modules):
    """Every module name ``module`` imports anywhere in its file, resolved to a module
    of ``modules`` where it names one."""
    package = module if path.endswith('__init__.py') else module.rpartition('.')[0]
    names = set()
    for node in ast.walk(ast.parse(open(path).read())):
        if isinstance(node, ast.Import):
            names |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ''
            if node.level:
                parts = package.split('.')
                base = '.'.join(parts[:len(parts) - node.level + 1] + ([base] if base else []))
            # ``from pkg import sub`` imports the submodule, ``from pkg import name`` pkg.
            names |= {f'{base}.{a.name}' if f'{base}.{a.name}' in modules else base
                      for a in node.names}
    return names


def import_edges(modules):
    """Module -> the modules of ``modules`` it imports anywhere in its file."""
    return {module: (imported_names(module, path, modules) & set(modules)) - {module}
            for module, path in modules.items()}


def find_cycle(edges):
    """One import circle as a list of modules, or ``[]``."""
    state, stack = {}, []

    def visit(module):
        state[module] = 'open'
        stack.append(module)
        for target in sorted(edges[module]):
            if state.get(target) == 'open':
                return stack[stack.index(target):] + [target]
            if target not in state and (cycle := visit(target)):
                return cycle
        state[module] = 'done'
        stack.pop()
        return []

    for module in sorted(edges):
        if module not in state and (cycle := visit(module)):
            return cycle
    return []


def test_find_cycle_sees_a_circle_and_its_absence():
    assert find_cycle({'a': {'b'}, 'b': {'c'}, 'c': {'a'}}) == ['a', 'b', 'c', 'a']
    assert find_cycle({'a': {'b', 'c'}, 'b': {'c'}, 'c': set()}) == []


def test_relative_and_absolute_imports_resolve_to_package_modules():
    edges = import_edges(package_modules('tpc_cma_mm'))
    # convert.py: ``from .weight_layouts import ...`` and
    # ``from tpc_cma_mm.utils.state_dict_check import ...``.
    assert {'tpc_cma_mm.models.weight_layouts',
            'tpc_cma_mm.utils.state_dict_check'} <= edges['tpc_cma_mm.models.convert']


def test_the_library_has_no_import_circle():
    assert find_cycle(import_edges(package_modules('tpc_cma_mm'))) == []


def test_the_library_never_imports_the_lab():
    modules = package_modules('tpc_cma_mm')
    into_lab = {module: sorted(n for n in imported_names(module, path, modules)
                               if n.split('.')[0] == 'tpc_cma_lab')
                for module, path in modules.items()}
    assert {m: names for m, names in into_lab.items() if names} == {}


def test_the_lab_imports_the_library_by_its_public_modules():
    """A sanity check of the scan itself: the lab does import the library."""
    modules = package_modules('tpc_cma_lab')
    names = set().union(*(imported_names(m, p, modules) for m, p in modules.items()))
    assert 'tpc_cma_mm.apis.embed' in names and 'tpc_cma_lab.report' in names


def test_importing_the_api_loads_no_plotting_backend_and_no_lab(fresh_api_import):
    """A fresh interpreter (tests/conftest.py): this one has matplotlib loaded by other tests."""
    done = fresh_api_import
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip() == '[]'
