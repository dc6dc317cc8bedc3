"""`-o PATH` writes by what PATH is: replaced atomically, written through, or refused.

A regular file is replaced by a temporary file and a rename (keeping its mode), through any
symlinks (which stay symlinks); a character device, a FIFO and `-` are written into, and a write
error there (ENOSPC on /dev/full) is one line and exit 2; a directory, a socket or a block device
is refused. Each case is one test on `write_text_atomic`, and the CLI is run on the ones a user
meets first (/dev/full, `-`, a directory).
"""

from __future__ import annotations

import os
import socket
import stat
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from derive.errors import GradproofError
from derive.files import write_text_atomic
from tests.conftest import EXAMPLES, ROOT, run_cli

TEXT = "first line\nsecond line, ünïcode ⊙\n"
SPEC = str(EXAMPLES / "seed_example2.toml")


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def _leftovers(folder: Path) -> list[str]:
    return [p.name for p in folder.iterdir() if p.name.endswith(".tmp")]


def test_a_new_file_gets_the_umask_mode(tmp_path: Path) -> None:
    target = tmp_path / "sub" / "out.md"
    assert write_text_atomic(target, TEXT) is True
    assert target.read_text(encoding="utf-8") == TEXT
    assert stat.S_IMODE(target.stat().st_mode) == 0o666 & ~_umask()
    assert _leftovers(target.parent) == []


@pytest.mark.parametrize("mode", [0o600, 0o640, 0o755])
def test_an_existing_file_keeps_its_mode(tmp_path: Path, mode: int) -> None:
    target = tmp_path / "out.md"
    target.write_text("old\n")
    target.chmod(mode)
    before = target.stat().st_ino
    write_text_atomic(target, TEXT)
    assert target.read_text(encoding="utf-8") == TEXT
    assert stat.S_IMODE(target.stat().st_mode) == mode
    assert target.stat().st_ino != before  # replaced by a rename, not rewritten in place
    assert _leftovers(tmp_path) == []


def test_a_symlink_stays_and_its_target_is_replaced(tmp_path: Path) -> None:
    real = tmp_path / "real" / "report.md"
    real.parent.mkdir()
    real.write_text("old\n")
    real.chmod(0o600)
    link = tmp_path / "link.md"
    link.symlink_to(real)
    assert write_text_atomic(link, TEXT) is True
    assert link.is_symlink() and os.readlink(link) == str(real)
    assert real.read_text(encoding="utf-8") == TEXT
    assert stat.S_IMODE(real.stat().st_mode) == 0o600
    # the temporary file was made beside the target, not beside the link
    assert _leftovers(real.parent) == [] and _leftovers(tmp_path) == []


def test_a_chain_of_symlinks_is_followed(tmp_path: Path) -> None:
    real = tmp_path / "real.md"
    real.write_text("old\n")
    (tmp_path / "a").symlink_to("real.md")  # relative links, as people make them
    (tmp_path / "b").symlink_to("a")
    write_text_atomic(tmp_path / "b", TEXT)
    assert (tmp_path / "b").is_symlink() and (tmp_path / "a").is_symlink()
    assert real.read_text(encoding="utf-8") == TEXT


def test_a_dangling_symlink_creates_its_target(tmp_path: Path) -> None:
    link = tmp_path / "link.md"
    link.symlink_to(tmp_path / "new.md")
    write_text_atomic(link, TEXT)
    assert link.is_symlink()
    assert (tmp_path / "new.md").read_text(encoding="utf-8") == TEXT


def test_a_symlink_loop_is_one_clear_error(tmp_path: Path) -> None:
    (tmp_path / "a").symlink_to("b")
    (tmp_path / "b").symlink_to("a")
    with pytest.raises(GradproofError, match="cannot write it"):
        write_text_atomic(tmp_path / "a", TEXT)


def test_a_fifo_is_written_through(tmp_path: Path) -> None:
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    received: list[bytes] = []

    def read() -> None:
        with open(fifo, "rb") as reader:
            received.append(reader.read())

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    assert write_text_atomic(fifo, TEXT) is False
    reader.join(timeout=10)
    assert not reader.is_alive()
    assert received == [TEXT.encode("utf-8")]
    assert stat.S_ISFIFO(fifo.stat().st_mode)  # still the FIFO, not a file put in its place


def test_dev_null_is_written_through_and_stays_a_device() -> None:
    assert write_text_atomic("/dev/null", TEXT) is False
    assert stat.S_ISCHR(os.stat("/dev/null").st_mode)


@pytest.mark.skipif(not os.path.exists("/dev/full"), reason="/dev/full is Linux's")
def test_dev_full_reports_no_space() -> None:
    with pytest.raises(GradproofError, match=r"^/dev/full: cannot write it \(No space left"):
        write_text_atomic("/dev/full", TEXT)
    assert stat.S_ISCHR(os.stat("/dev/full").st_mode)


@pytest.mark.skipif(not os.path.exists("/dev/full"), reason="/dev/full is Linux's")
@pytest.mark.parametrize("command", ["derive", "codegen"])
def test_cli_dev_full_is_one_line_and_exit_2(command: str) -> None:
    proc = run_cli(command, SPEC, "-o", "/dev/full")
    assert proc.returncode == 2
    assert proc.stderr.splitlines() == [
        "gradproof: error: /dev/full: cannot write it (No space left on device)"
    ]


def test_cli_dash_full_stdout_is_one_line_and_exit_2() -> None:
    with open("/dev/full", "w") as full:
        proc = subprocess.run(
            [sys.executable, "-m", "derive.cli", "derive", SPEC, "-o", "-"],
            stdout=full,
            stderr=subprocess.PIPE,
            text=True,
            cwd=ROOT,
            timeout=60,
        )
    assert proc.returncode == 2
    assert proc.stderr.splitlines() == [
        "gradproof: error: standard output: cannot write it (No space left on device)"
    ]


def test_dash_is_standard_output(capsys: pytest.CaptureFixture[str]) -> None:
    assert write_text_atomic("-", TEXT) is False
    assert capsys.readouterr().out == TEXT


def test_cli_codegen_to_stdout_is_an_importable_module(tmp_path: Path) -> None:
    proc = run_cli("codegen", SPEC, "-o", "-")
    assert proc.returncode == 0, proc.stderr
    module = tmp_path / "from_stdout.py"
    module.write_text(proc.stdout)
    # nothing but the module on stdout: no "wrote ..." line after it
    check = subprocess.run(
        [sys.executable, "-c", f"import runpy; runpy.run_path({str(module)!r})"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert check.returncode == 0, check.stderr


def test_dev_stdout_into_a_file_appends_where_the_shell_points(tmp_path: Path) -> None:
    out = tmp_path / "log.md"
    out.write_text("kept\n")
    out.chmod(0o600)
    with open(out, "a") as appended:
        proc = subprocess.run(
            [sys.executable, "-m", "derive.cli", "derive", SPEC, "-o", "/dev/stdout"],
            stdout=appended,
            stderr=subprocess.PIPE,
            text=True,
            cwd=ROOT,
            timeout=60,
        )
    assert proc.returncode == 0, proc.stderr
    text = out.read_text(encoding="utf-8")
    assert text.startswith("kept\n# Fully-connected network\n")
    assert stat.S_IMODE(out.stat().st_mode) == 0o600
    assert Path("/dev/stdout").is_symlink()


def test_a_directory_is_refused(tmp_path: Path) -> None:
    with pytest.raises(GradproofError, match="is a directory; expected a file"):
        write_text_atomic(tmp_path, TEXT)
    proc = run_cli("derive", SPEC, "-o", str(tmp_path))
    assert proc.returncode == 2
    assert proc.stderr.splitlines() == [
        f"gradproof: error: {tmp_path}: is a directory; expected a file to write"
    ]


def test_a_socket_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "s.sock"
    server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        server.bind(str(path))
        with pytest.raises(GradproofError, match="is a socket; expected a regular file"):
            write_text_atomic(path, TEXT)
        assert stat.S_ISSOCK(path.stat().st_mode)
    finally:
        server.close()


def test_a_block_device_is_refused() -> None:
    devices = [
        f"/dev/{name}"
        for name in sorted(os.listdir("/dev"))
        if stat.S_ISBLK(os.stat(f"/dev/{name}", follow_symlinks=False).st_mode)
    ]
    if not devices:
        pytest.skip("no block device in /dev")
    with pytest.raises(GradproofError, match="is a block device"):
        write_text_atomic(devices[0], TEXT)


def test_a_failed_rename_leaves_the_old_file_and_no_temporary(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    target = tmp_path / "out.md"
    target.write_text("old\n")

    def refuse(src: str, dst: str) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", refuse)
    with pytest.raises(GradproofError, match="cannot write it"):
        write_text_atomic(target, TEXT)
    assert target.read_text() == "old\n"
    assert _leftovers(tmp_path) == []
