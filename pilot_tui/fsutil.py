"""Filesystem helpers: atomic writes and private directories.

Every file Pilot writes goes through :func:`atomic_write`, so a crash, a full disk or a
SIGKILL at any instant leaves either the old file or the new one, never a torn mix.
"""

from __future__ import annotations

import contextlib
import functools
import os
import stat
import tempfile
from pathlib import Path

TEMP_SUFFIX = ".pilot-tmp"


def atomic_write(path: Path, data: str | bytes, *, mode: int | None = None) -> None:
    """Replace ``path`` with ``data`` atomically.

    The bytes go to a temporary file in the same directory (same filesystem, so the final
    ``rename`` is atomic), which is flushed and fsynced before it replaces the target; the
    directory is fsynced afterwards so the rename itself survives a power cut. An existing
    file's permission bits are kept; ``mode`` sets them for a new file (default 0644 less umask).
    """
    path = Path(path)
    raw = data.encode("utf-8") if isinstance(data, str) else data
    directory = path.parent
    _remove_stale_temps(path)
    try:
        keep_mode: int | None = stat.S_IMODE(path.stat().st_mode)
    except FileNotFoundError:
        keep_mode = mode
    fd, tmp_name = tempfile.mkstemp(
        dir=directory, prefix=f".{path.name}.{os.getpid()}.", suffix=TEMP_SUFFIX
    )
    tmp = Path(tmp_name)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(raw)
            handle.flush()
            os.fsync(handle.fileno())
        if keep_mode is not None:
            tmp.chmod(keep_mode)
        else:
            tmp.chmod(0o666 & ~_umask())
        tmp.replace(path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
        raise
    _fsync_dir(directory)


def real_path(path: Path) -> Path | None:
    """Where ``path`` really is, every symbolic link and ``..`` followed (it need not exist);
    None when a link loop makes that unknowable."""
    try:
        return path.resolve()
    except (OSError, RuntimeError):  # RuntimeError: Python 3.11's "Symlink loop"
        return None


def is_within(path: Path, root: Path) -> bool:
    """Whether ``path`` really lies inside ``root`` (or is it): judged where the links lead,
    not by the name, so a link pointing out of ``root`` is outside."""
    real, real_root = real_path(path), real_path(root)
    return real is not None and real_root is not None and real.is_relative_to(real_root)


def file_kind(mode: int) -> str:
    """What a ``st_mode`` describes, in words ("a directory", "a named pipe", ...)."""
    kinds = (
        (stat.S_ISREG, "a regular file"),
        (stat.S_ISDIR, "a directory"),
        (stat.S_ISFIFO, "a named pipe"),
        (stat.S_ISCHR, "a character device"),
        (stat.S_ISBLK, "a block device"),
        (stat.S_ISSOCK, "a socket"),
    )
    return next((name for test, name in kinds if test(mode)), "a special file")


def ensure_private_dir(path: Path) -> Path:
    """Create ``path`` (and parents) if needed and make it 0700: it holds keys and state."""
    path.mkdir(parents=True, exist_ok=True)
    path.chmod(0o700)
    return path


def _fsync_dir(directory: Path) -> None:
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:  # some platforms cannot open directories; the rename is still atomic
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _remove_stale_temps(path: Path) -> None:
    """Delete temp files left by writers that were killed mid-write (their pid is gone)."""
    for tmp in path.parent.glob(f".{path.name}.*{TEMP_SUFFIX}"):
        pid_text = tmp.name[len(path.name) + 2 :].split(".", 1)[0]
        if pid_text.isdigit() and not pid_exists(int(pid_text)):
            with contextlib.suppress(OSError):
                tmp.unlink()


def pid_exists(pid: int) -> bool:
    """Whether a process with this pid exists (ours or not)."""
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


@functools.cache
def _umask() -> int:
    # os.umask can only be read by setting it; do that once, before any worker threads write.
    current = os.umask(0)
    os.umask(current)
    return current
