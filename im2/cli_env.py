"""What a command runs in: the validated settings (a clear error otherwise) and the database.

`im2.cli` and the commands that live with their domain (`im2.<domain>.cli`) share it; it sits
below them all, so a domain's commands never import the `im2` command line itself. Only typer
and rich load with it: settings and the database load when a command asks for them.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

import typer
from rich.console import Console

if TYPE_CHECKING:
    from im2.config import Settings
    from im2.db import Database

err = Console(stderr=True)


def command_settings() -> Settings:
    """The validated settings, with the CLI's locale set from them; a clear error otherwise."""
    from pydantic import ValidationError

    from im2.config import get_settings
    from im2.i18n import set_locale

    try:
        settings = get_settings()
        set_locale(settings.cli_locale)
        return settings
    except ValidationError as exc:
        for error in exc.errors():
            err.print(f"[red]configuration error:[/red] {error.get('msg')}")
        raise typer.Exit(2) from None
    except ValueError as exc:
        err.print(f"[red]configuration error:[/red] {exc}")
        raise typer.Exit(2) from None


@contextmanager
def command_database() -> Iterator[Database]:
    """The database of the settings, disposed of when the command is done."""
    from im2.db import Database

    db = Database(command_settings().database_url)
    try:
        yield db
    finally:
        db.dispose()
