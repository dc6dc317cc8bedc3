"""Writing output files: a regular file is replaced atomically, a device or a pipe written into.

`-o PATH` means, by what PATH is: `-`, standard output; a character device (/dev/null, a
terminal) or a FIFO, opened and written through, so that a write error such as ENOSPC on
/dev/full is reported; a regular file (through any symlinks, which stay symlinks), replaced by a
temporary file in its folder, fsynced and renamed over it, keeping its mode, so that no reader
ever sees half a file; nothing yet, a new file with the umask's mode. Anything else (a
directory, a socket, a block device) is refused.
"""

from __future__ import annotations

import contextlib
import os
import stat
import sys
import tempfile
from pathlib import Path

from derive.errors import GradproofError

STDOUT = "-"


def write_text_atomic(path: str | Path, text: str) -> bool:
    """Write text to path as the module docstring says (`-` for standard output).

    True if a file was replaced or created; False if the text went into standard output, a
    device or a pipe (so that a caller does not print "wrote ..." into the same stream).
    """
    if str(path) == STDOUT:
        _write_stdout(text)
        return False
    target = Path(path)
    try:
        existing: os.stat_result | None = os.stat(target)  # through symlinks
    except FileNotFoundError:
        existing = None
    except OSError as exc:  # a symlink loop, a parent that is a file, no permission
        raise GradproofError(f"{target}: cannot write it ({exc.strerror})") from None
    if existing is None or stat.S_ISREG(existing.st_mode):
        if existing is not None and _is_descriptor_link(target):
            # /dev/stdout when stdout is a file: renaming over that file would detach it from
            # the shell's redirection (and clobber a >> append), so write into it instead
            _write_through(target, text)
            return False
        _replace(Path(os.path.realpath(target)), text, existing)
        return True
    if stat.S_ISCHR(existing.st_mode) or stat.S_ISFIFO(existing.st_mode):
        _write_through(target, text)
        return False
    if stat.S_ISDIR(existing.st_mode):
        raise GradproofError(f"{target}: is a directory; expected a file to write")
    mode = existing.st_mode
    kind = "a socket" if stat.S_ISSOCK(mode) else "a block device" if stat.S_ISBLK(mode) else None
    raise GradproofError(
        f"{target}: is {kind or 'a special file'}; expected a regular file, a character device, "
        "a FIFO, or - for standard output"
    )


def _write_stdout(text: str) -> None:
    try:
        sys.stdout.write(text)
        sys.stdout.flush()
    except BrokenPipeError:
        raise  # the reader has stopped reading (| head): not an error, the CLI exits quietly
    except OSError as exc:
        raise GradproofError(f"standard output: cannot write it ({exc.strerror})") from None


def _write_through(target: Path, text: str) -> None:
    """Open an existing device, FIFO or descriptor link and write every byte into it."""
    data = text.encode("utf-8")
    # the target may be our own standard output: keep the order; a failure there is reported by
    # whoever wrote to it, this write's own failure below
    with contextlib.suppress(OSError):
        sys.stdout.flush()
    try:
        # O_APPEND: through /dev/stdout into a file, write where the shell's redirection is
        fd = os.open(target, os.O_WRONLY | os.O_APPEND | os.O_NOCTTY)
    except OSError as exc:
        raise GradproofError(f"{target}: cannot open it for writing ({exc.strerror})") from None
    try:
        view = memoryview(data)
        while view:
            written = os.write(fd, view)
            view = view[written:]
    except OSError as exc:
        raise GradproofError(f"{target}: cannot write it ({exc.strerror})") from None
    finally:
        with contextlib.suppress(OSError):  # a failed write is reported above
            os.close(fd)


def _replace(target: Path, text: str, existing: os.stat_result | None) -> None:
    """Replace (or create) the regular file target atomically, keeping its mode and owner."""
    folder = target.parent
    try:
        folder.mkdir(parents=True, exist_ok=True)
        # the name of the file, shortened: the temporary name must stay under NAME_MAX
        fd, tmp = tempfile.mkstemp(dir=folder, prefix=f".{target.name[:100]}.", suffix=".tmp")
    except OSError as exc:
        raise GradproofError(f"{target}: cannot write here ({exc.strerror})") from None
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            out.write(text)
            out.flush()
            if existing is None:
                umask = os.umask(0)
                os.umask(umask)
                mode = 0o666 & ~umask  # mkstemp makes 0600; a new output is an ordinary file
            else:
                mode = stat.S_IMODE(existing.st_mode)
                _keep_owner(out.fileno(), existing)
            os.fchmod(out.fileno(), mode)
            os.fsync(out.fileno())
        os.replace(tmp, target)
    except OSError as exc:
        Path(tmp).unlink(missing_ok=True)
        raise GradproofError(f"{target}: cannot write it ({exc.strerror})") from None
    _fsync_folder(folder)


def _keep_owner(fd: int, existing: os.stat_result) -> None:
    """Give the new file the old one's owner and group where we may (root, or our own group)."""
    st = os.fstat(fd)
    if (st.st_uid, st.st_gid) == (existing.st_uid, existing.st_gid):
        return
    with contextlib.suppress(OSError):  # not allowed: the file is ours now, as after a save
        os.fchown(fd, existing.st_uid, existing.st_gid)


def _fsync_folder(folder: Path) -> None:
    """Make the rename durable; some file systems cannot fsync a directory, which is no error."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _is_descriptor_link(path: Path) -> bool:
    """Whether path leads through /proc (/dev/stdout, /dev/fd/1, /proc/self/fd/3, a link to
    them): an open file of this process, not a file to replace."""
    current = os.path.abspath(path)
    for _ in range(40):  # the kernel's own limit on symlinks followed
        folder, name = os.path.split(current)
        current = os.path.join(os.path.realpath(folder), name)
        if current.startswith("/proc/"):
            return True
        try:
            if not os.path.islink(current):
                return False
            current = os.path.join(os.path.dirname(current), os.readlink(current))
        except OSError:
            return False
    return False
