"""Run a tool's ``main(argv)`` (or a ``python -m`` module) in this process, as its command
line would run it (import as ``from tool_runner import run_tool, run_module``).

A subprocess pays the torch + mmpretrain import again (15-19 s on a small shared CPU)
and proves nothing more for a tool whose ``__main__`` only calls ``main()``. What a
fresh interpreter would give is kept: the exit status, SystemExit messages and
uncaught errors on stderr, the environment, thread count and determinism flag as
they were, and no named mmengine instance (logger, message hub, visualizer, scope)
left behind, so two runs of one config file within a second do not share one.
"""
import contextlib
import importlib.util
import io
import os
import os.path as osp
import runpy
import subprocess
import sys
import traceback

import torch
from mmengine.utils import ManagerMixin

REPO = osp.dirname(osp.dirname(osp.abspath(__file__)))


def load_tool(path: str):
    """The module of ``path`` (relative to the repository root), freshly executed."""
    name = 'tool_' + path.removesuffix('.py').replace('/', '_')
    spec = importlib.util.spec_from_file_location(name, osp.join(REPO, path))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _managed_classes(cls=ManagerMixin):
    for sub in cls.__subclasses__():
        yield sub
        yield from _managed_classes(sub)


def _drop_new_instances(before: dict) -> None:
    for cls in _managed_classes():
        for name in set(cls._instance_dict) - before.get(cls, set()):
            instance = cls._instance_dict.pop(name)
            for handler in list(getattr(instance, 'handlers', ())):  # MMLogger's files
                handler.close()
                instance.removeHandler(handler)


def _as_a_process(command: list, main) -> subprocess.CompletedProcess:
    """What the interpreter would make of ``main()`` as ``command``: exit status, stdout
    and stderr, with this process's state (see the module docstring) restored."""
    instances = {cls: set(cls._instance_dict) for cls in _managed_classes()}
    environ, argv = dict(os.environ), list(sys.argv)
    flags = torch.are_deterministic_algorithms_enabled(), torch.get_num_threads()
    stdout, stderr, code = io.StringIO(), io.StringIO(), 0
    try:
        with contextlib.redirect_stdout(stdout), contextlib.redirect_stderr(stderr):
            returned = main()
        # Tools whose main returns a status end with ``sys.exit(main())``.
        code = returned if isinstance(returned, int) else 0
    except SystemExit as done:  # what the interpreter makes of it at exit
        if isinstance(done.code, int) or done.code is None:
            code = done.code or 0
        else:
            code = 1
            stderr.write(f'{done.code}\n')
    except Exception:  # noqa: BLE001 - an uncaught error: traceback on stderr, status 1
        code = 1
        stderr.write(traceback.format_exc())
    finally:
        _drop_new_instances(instances)
        os.environ.clear()
        os.environ.update(environ)
        sys.argv[:] = argv
        torch.use_deterministic_algorithms(flags[0])
        torch.set_num_threads(flags[1])
    return subprocess.CompletedProcess(command, code, stdout.getvalue(), stderr.getvalue())


def run_tool(path: str, *args) -> subprocess.CompletedProcess:
    """``python path *args`` in this process: its return code, stdout and stderr."""
    argv = [str(arg) for arg in args]
    main = load_tool(path).main
    return _as_a_process(['python', path, *argv], lambda: main(argv))


def run_module(module: str, *args) -> subprocess.CompletedProcess:
    """``python -m module *args`` in this process, for a module that reads ``sys.argv``."""
    argv = [str(arg) for arg in args]

    def main():
        sys.argv[:] = [module, *argv]
        runpy.run_module(module, run_name='__main__', alter_sys=False)

    return _as_a_process(['python', '-m', module, *argv], main)
