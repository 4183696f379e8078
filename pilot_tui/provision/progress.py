"""What provisioning tells its caller: the ``on_event`` callback's own events (beside
Terraform's, from :mod:`pilot_tui.provision.tf.events`) and the error that stops it.

Shared by the Terraform run (server.py) and the steps after it (server_setup.py), so
neither imports the other's module for them."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from pilot_tui.errors import PilotError
from pilot_tui.provision.tf.events import Event


class ServerError(PilotError):
    """Provisioning cannot go on; the message says why and what to do."""

    title = "Server not provisioned"


class NeedsAllowedCidrs(ServerError):
    """server.allowed_cidrs is empty and the operator's address could not be found."""


@dataclass(frozen=True)
class Stage:
    """A step of the work starting: init, plan, apply, destroy, ..."""

    name: str
    detail: str = ""


@dataclass(frozen=True)
class Note:
    """Something the user should read (not an error)."""

    text: str
    level: str = "info"


OnEvent = Callable[[Event | Stage | Note], None]
