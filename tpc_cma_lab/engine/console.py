"""The lab's console: its own progress lines, every Runner's log in its file."""
import contextlib
import os
from typing import Iterator

__all__ = ['runner_logs_to_files']


@contextlib.contextmanager
def runner_logs_to_files() -> Iterator[None]:
    """Runners built inside the block log only to their work dir's file.

    mmengine's console handler binds to ``sys.stdout`` when a Runner (its logger)
    is built, so each run's config, hook table and iteration lines go to the log
    file it writes anyway; progress bars (stderr) and the reproduction's own lines
    after the block still show.
    """
    with open(os.devnull, 'w') as console, contextlib.redirect_stdout(console):
        yield
