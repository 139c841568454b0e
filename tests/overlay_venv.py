"""A throwaway venv over this environment's packages (`from overlay_venv import ...`)."""
import os.path as osp
import subprocess
import sys
import sysconfig


def make_overlay_venv(root) -> tuple:
    """A venv under ``root`` whose own site-packages come first and this
    environment's after (a ``.pth`` line), so that what is installed or faked
    there shadows the outer package; returns (python, its site-packages)."""
    venv = osp.join(str(root), 'venv')
    subprocess.run([sys.executable, '-m', 'venv', '--without-pip', venv], check=True)
    python = osp.join(venv, 'bin', 'python')
    site = subprocess.run([python, '-c', 'import sysconfig; print(sysconfig.get_path("purelib"))'],
                          check=True, capture_output=True, text=True).stdout.strip()
    with open(osp.join(site, 'outer.pth'), 'w') as f:
        f.write(sysconfig.get_path('purelib') + '\n')
    return python, site
