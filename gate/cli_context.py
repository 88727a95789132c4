"""What every ``gate`` command shares: the global options and the store they open.

Apart from gate/cli.py so that command modules registered by it (gate/privacy_cli.py,
gate/ops_commands.py) can use them without importing the CLI back.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from gate.cli_output import fail
from gate.config import Config, ConfigError, resolve_config

if TYPE_CHECKING:
    from gate.store import Store


@dataclass
class Globals:
    config_path: Path | None
    data_dir: Path | None
    verbose: bool

    def config(self) -> Config:
        try:
            return resolve_config(self.config_path)
        except ConfigError as exc:
            fail(str(exc))

    def resolved_data_dir(self, config: Config) -> Path:
        return self.data_dir or config.data_dir


@contextmanager
def open_store(g: Globals) -> Iterator[tuple[Config, Store]]:
    """The configuration and the store of the data directory, closed afterwards."""
    from gate.crypto import CryptoError, load_sealer
    from gate.store import Store

    config = g.config()
    try:
        store = Store(g.resolved_data_dir(config), config.tz,
                      load_sealer(config.privacy.key_file))
    except CryptoError as exc:
        fail(str(exc))
    try:
        yield config, store
    finally:
        store.close()
