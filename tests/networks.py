"""Every network the tests run over: the examples, the test networks in tests/networks/, and the
extra element-wise networks written inline in test_elementwise.py."""

from __future__ import annotations

from pathlib import Path

import derive
from tests.conftest import EXAMPLES, ROOT
from tests.test_elementwise import EXTRA

TEST_NETWORKS = ROOT / "tests" / "networks"


def network_files() -> list[Path]:
    return sorted(EXAMPLES.glob("*.toml")) + sorted(TEST_NETWORKS.glob("*.toml"))


def network_ids() -> list[str]:
    """An id per network: the file's stem, or the inline network's key."""
    return [p.stem for p in network_files()] + sorted(EXTRA)


def load_network(name: str) -> derive.Network:
    for path in network_files():
        if path.stem == name:
            return derive.load(path)
    return derive.Network.from_toml(EXTRA[name], source=name)


def spec_path(name: str, scratch: Path) -> Path:
    """A file holding the network's spec: its own, or the inline text written into `scratch`."""
    for path in network_files():
        if path.stem == name:
            return path
    path = scratch / f"{name}.toml"
    path.write_text(EXTRA[name])
    return path
