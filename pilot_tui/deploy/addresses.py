"""Where an app or the Pilot Server answers, as Pilot shows it: decided here, shown by every
printer (the CLI, the home screen, the deploy result) the same way.

In the sandbox the cloud is simulated on this machine (moto, the GCS emulator). The
addresses those emulators make up — a CloudFront domain, a Lambda function URL, a load
balancer's name, the server's public IP and its SSH address — exist in no DNS and on no
network: they are shown as "simulated: …", never offered as links. Beside them Pilot shows
what does answer here: a site's files on the local emulator, path-style (moto serves the
bucket as the distribution would, under the bucket policy that lets the distribution read
it), and apps on this machine's Docker.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass

from pilot_tui.config.schema import PilotConfig
from pilot_tui.deploy import history
from pilot_tui.deploy.host import sandbox_docker_url

# The server's outputs that are network addresses: made up by moto in the sandbox.
SIMULATED_OUTPUTS = ("public_ip", "docker_host")


@dataclass(frozen=True)
class Address:
    """``url`` answers (on this machine, in the sandbox), "" when nothing does; ``simulated``
    is what the sandbox's cloud made up in its place, "" outside the sandbox."""

    url: str
    simulated: str = ""

    def text(self) -> str:
        """One line: "URL", "URL (simulated: FAKE)" or "simulated: FAKE"; "-" for none."""
        if not self.simulated:
            return self.url or "-"
        said = f"simulated: {self.simulated}"
        return f"{self.url} ({said})" if self.url else said

    def at(self) -> str:
        """For "… is live" + this: " at URL (simulated: FAKE)", " (simulated: FAKE)", ""."""
        return f" at {self.text()}" if self.url else f" ({self.text()})" if self.simulated else ""


def for_app(config: PilotConfig, cloud_url: str, local: Callable[[], str] | None = None) -> Address:
    """What to show for an app of a managed target deployed where it says (``cloud_url``).
    In the sandbox, ``local`` finds where the app answers on this machine (a static site's
    bucket on its emulator); without one nothing does (Lambda, ECS: the emulator runs no
    endpoint for them)."""
    if config.server.home != "sandbox" or not cloud_url:
        return Address(cloud_url)  # a real cloud
    return Address(local() if local is not None else "", cloud_url)


def placed(
    config: PilotConfig, release: history.Release, local: Callable[[], str] | None = None
) -> history.Release:
    """``release`` (its ``url`` as the target reported it) with the address shown for it:
    ``url`` is what answers, ``simulated_url`` what the sandbox made up."""
    where = for_app(config, release.url or "", local)
    return dataclasses.replace(
        release, url=where.url or None, simulated_url=where.simulated or None
    )


def of_release(release: history.Release) -> Address:
    return Address(release.url or "", release.simulated_url or "")


# -- the Pilot Server ----------------------------------------------------------------------
# What a flag output grants, as said after its yes or no.
FLAG_MEANINGS = {
    "ci_worker": {
        True: "its role lets its worker take CI's deploys",
        False: "CI's deploys are not taken on it (server.ci_worker)",
    },
}


def server_output(home: str, key: str, value: object) -> str:
    """One of the server's outputs as shown: its addresses are marked in the sandbox, a
    list is its items ("22, 80", "none") and a flag yes or no, never Python's words."""
    if isinstance(value, list | tuple):
        text = ", ".join(str(item) for item in value) or "none"
    elif isinstance(value, bool):  # (found walking: "ci_worker  False")
        text = "yes" if value else "no"
        if key in FLAG_MEANINGS:  # (walk: read as the worker's own state beside its line)
            text += f": {FLAG_MEANINGS[key][value]}"
    else:
        text = str(value)
    return f"simulated: {text}" if home == "sandbox" and key in SIMULATED_OUTPUTS else text


def simulated_outputs(home: str, outputs: Mapping[str, object]) -> list[str]:
    """The names of ``outputs`` that nothing answers at (for --json)."""
    return [k for k in SIMULATED_OUTPUTS if k in outputs] if home == "sandbox" else []


def server_rows(
    home: str, outputs: Mapping[str, object], keys: Iterable[str] | None = None
) -> list[tuple[str, str]]:
    """(name, value as shown) for the server's outputs (``keys``, else all of them), then,
    in the sandbox, where apps really run: this machine's Docker."""
    rows = [
        (k, server_output(home, k, outputs[k]))
        for k in (outputs if keys is None else keys)
        if k in outputs and k != "databases"
    ]
    made = outputs.get("databases")
    for name, db in sorted(made.items()) if isinstance(made, dict) else ():
        # Nothing answers at the sandbox's: the local AWS API only records the instance.
        from pilot_tui.data.managed import home_service

        service = home_service(home)
        title = service.title if service else "database"
        where = f"{title} {db.get('address')}:{db.get('port')} (from the server only)"
        rows.append((f"database {name}", f"simulated: {where}" if home == "sandbox" else where))
    if home == "sandbox" and rows:
        where = f"this machine's Docker ({sandbox_docker_url()})"
        rows.append(("apps run on", where + _unanswered()))
    return rows


def _unanswered() -> str:
    """What to add where the sandbox's apps are said to run, when no engine answers there:
    the sandbox's server is "up" in the local AWS API alone, and every deploy would fail."""
    from pilot_tui.deploy.host import HostError, sandbox_engine

    try:
        sandbox_engine()
    except HostError:
        return " · no engine answers there: start Docker (or point DOCKER_HOST at its socket)"
    return ""


def server_summary(
    home: str, outputs: Mapping[str, object], *, ask_engine: bool = True
) -> str | None:
    """Where the server is, in a few words after "up" on the home screen ("at ADDRESS");
    None when none is recorded. The sandbox's is simulated, its apps run on this machine's
    Docker: said apart, so an engine that does not answer does not contradict "up"
    (``ask_engine``: whether it answers is said; False asks nothing, for the UI thread)."""
    found = outputs.get("docker_host") or outputs.get("public_ip")
    if not found:
        return None
    if home != "sandbox":
        return f"at {found}"
    where = f"this machine's Docker ({sandbox_docker_url()})"
    said = f"(simulated at {found}); its apps run on {where}"
    return said + _unanswered() if ask_engine else said
