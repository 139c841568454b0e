"""Run a function in N real gloo processes (import as `from gloo import run_gloo`).

Forked, not spawned: test modules are imported by path (pytest's importlib
mode), so a spawned child could not unpickle a worker defined in one.
"""
import os
import socket

import torch
import torch.distributed as dist
import torch.multiprocessing as mp


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


def _entry(rank, worker, world_size, port, args):
    os.environ.update(MASTER_ADDR='127.0.0.1', MASTER_PORT=str(port),
                      RANK=str(rank), WORLD_SIZE=str(world_size), LOCAL_RANK=str(rank))
    torch.set_num_threads(1)
    dist.init_process_group('gloo', rank=rank, world_size=world_size)
    try:
        worker(rank, *args)
    finally:
        dist.destroy_process_group()


def run_gloo(worker, *args, world_size: int = 2) -> None:
    """Call ``worker(rank, *args)`` in ``world_size`` gloo processes; raise on failure."""
    mp.start_processes(_entry, args=(worker, world_size, _free_port(), args),
                       nprocs=world_size, start_method='fork')
