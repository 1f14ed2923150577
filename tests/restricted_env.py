"""A Python environment that sees only some of this one's packages, built without network.

The device check runs on a machine whose image holds a few packages and never gpunet installed;
``tests/test_gpu_check.py`` rehearses it here inside such an environment. :func:`build` makes a
virtual environment without pip (``python -m venv --without-pip``) whose ``site-packages`` holds
one ``.pth`` file naming a folder of symbolic links to the chosen distributions, the distributions
they require (their ``Requires-Dist`` without extras), and their ``.dist-info`` folders, all taken
from the running interpreter's environment. Nothing is downloaded or installed.

    python tests/restricted_env.py DIR numpy h5py pytest    # prints DIR's python
"""

from __future__ import annotations

import importlib.metadata
import os
import subprocess
import sys
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

# the device image's packages that this machine's environment can lend (torch and mpi4py when present)
DEVICE_IMAGE = ("numpy", "h5py", "pytest", "pytest-xdist", "torch", "mpi4py")


def _distributions() -> dict:
    """Every distribution on ``sys.path``, by canonical name (the first one found wins, as for imports)."""
    found = {}
    for dist in importlib.metadata.distributions():
        name = canonicalize_name(dist.metadata["Name"] or "")
        if name and name not in found:
            found[name] = dist
    return found


def closure(names, available: dict) -> dict:
    """The distributions ``names`` name that are present, with everything they require, by name."""
    chosen, pending = {}, [canonicalize_name(n) for n in names]
    while pending:
        name = pending.pop()
        if name in chosen or name not in available:
            continue
        chosen[name] = available[name]
        for text in available[name].requires or []:
            requirement = Requirement(text)
            if requirement.marker is None or requirement.marker.evaluate({"extra": ""}):
                pending.append(canonicalize_name(requirement.name))
    return chosen


def _site_files(dist) -> set:
    """The distribution's files as paths relative to its site-packages folder (scripts in bin/ left out)."""
    files = set()
    for file in dist.files or []:
        parts = Path(file).parts
        if parts and parts[0] != ".." and "__pycache__" not in parts:
            files.add(parts)
    return files


def _link(site: Path, target: Path, mine: set, others: set, prefix: tuple = ()) -> None:
    """Link each entry of ``site``/``prefix`` that holds only chosen files; descend into shared folders."""
    for name in sorted({parts[len(prefix)] for parts in mine if parts[:len(prefix)] == prefix and len(parts) > len(prefix)}):
        entry = (*prefix, name)
        source = site.joinpath(*entry)
        if not os.path.lexists(source):
            continue
        if source.is_dir() and any(parts[:len(entry)] == entry for parts in others):
            target.joinpath(*entry).mkdir(parents=True, exist_ok=True)
            _link(site, target, mine, others, entry)
        else:
            target.joinpath(*prefix).mkdir(parents=True, exist_ok=True)
            target.joinpath(*entry).symlink_to(source)


def build(directory, names=DEVICE_IMAGE, python: str = sys.executable) -> Path:
    """A virtual environment in ``directory`` seeing only ``names`` (those present) and their
    requirements; returns its interpreter. The chosen distributions' names are written to
    ``directory/packages.txt``."""
    directory = Path(directory)
    available = _distributions()
    chosen = closure(names, available)
    subprocess.run([python, "-m", "venv", "--without-pip", str(directory / "venv")], check=True)
    lent = directory / "packages"
    lent.mkdir()
    by_site: dict = {}
    for dist in available.values():
        by_site.setdefault(Path(dist.locate_file("")).resolve(), []).append(dist)
    for site, dists in by_site.items():
        mine = set().union(*(_site_files(d) for d in dists if canonicalize_name(d.metadata["Name"]) in chosen))
        others = set().union(*(_site_files(d) for d in dists if canonicalize_name(d.metadata["Name"]) not in chosen))
        _link(site, lent, mine, others)
    interpreter = directory / "venv" / "bin" / "python"
    purelib = subprocess.run([str(interpreter), "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"],
                             check=True, capture_output=True, text=True).stdout.strip()
    Path(purelib, "lent-packages.pth").write_text(f"{lent}\n")
    (directory / "packages.txt").write_text("".join(f"{n}\n" for n in sorted(chosen)))
    return interpreter


if __name__ == "__main__":
    print(build(sys.argv[1], sys.argv[2:] or DEVICE_IMAGE))
