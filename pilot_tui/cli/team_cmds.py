"""`pilot-tui team request|list|remove`, `pilot-tui invite`, `pilot-tui join`: share one
Pilot Server, each teammate with their own SSH key (see pilot_tui.provision.team)."""

from __future__ import annotations

import argparse
from collections.abc import Callable

from pilot_tui.cli.common import error, load_valid, say
from pilot_tui.errors import EXIT_FAILED, EXIT_INVALID, EXIT_OK, framed
from pilot_tui.naming import project_resource
from pilot_tui.project import Project
from pilot_tui.provision.team import (
    Server,
    TeamError,
    authorize_script,
    check_key,
    check_name,
    invite_text,
    join,
    list_script,
    on_server,
    revoke_script,
    server_from,
    team_record,
)


def request(ns: argparse.Namespace) -> int:
    from pilot_tui.provision.keys import server_key

    loaded = load_valid(ns)
    if loaded is None:
        return EXIT_INVALID
    pf, config = loaded
    keys = Project(pf.path).state_dir / "keys"
    _, public = server_key(keys, project_resource(config.project.name))
    print(public)
    say(
        "send this line (your PUBLIC key) to whoever runs the Pilot Server; they run "
        "`pilot-tui invite YOUR-NAME --key '<that line>'` and send you the invite file"
    )
    return EXIT_OK


def _run_on_server(ns: argparse.Namespace, script: Callable[[Server], str]) -> tuple[int, str]:
    from pilot_tui.provision.outputs import saved_record
    from pilot_tui.runner import capture

    loaded = load_valid(ns)
    if loaded is None:
        return EXIT_INVALID, ""
    pf, config = loaded
    state_dir = Project(pf.path).state_dir
    with framed(exit_code=EXIT_FAILED):  # no server to share: bad input only in an invite
        server = server_from(team_record(config, saved_record(state_dir)))
    with framed(suffix="; install an OpenSSH client"):  # ssh is missing
        done = capture(on_server(server, state_dir, script(server)))
    if done.returncode != 0:
        error(f"on {server.host}: {done.stderr.strip()[-300:] or 'ssh failed'}")
        return EXIT_FAILED, ""
    return EXIT_OK, done.stdout


def invite(ns: argparse.Namespace) -> int:
    from pilot_tui.fsutil import atomic_write
    from pilot_tui.provision.outputs import saved_record

    loaded = load_valid(ns)
    if loaded is None:
        return EXIT_INVALID
    pf, config = loaded
    name, key = check_name(ns.name), check_key(ns.key)
    state_dir = Project(pf.path).state_dir
    code, _ = _run_on_server(ns, lambda s: authorize_script(key, name, s.authorized_keys))
    if code != EXIT_OK:
        return code
    known = state_dir / "keys" / "known_hosts"
    text = invite_text(
        config,
        team_record(config, saved_record(state_dir)),
        known.read_text() if known.exists() else "",
        name,
    )
    target = pf.path.parent / (ns.output or f"pilot-invite-{name}.toml")
    atomic_write(target, text, mode=0o600)
    say(
        f"authorised {name}'s key on the server; send them {target} (it holds no secret) "
        f"and have them run `pilot-tui join {target.name}`"
    )
    return EXIT_OK


def join_cmd(ns: argparse.Namespace) -> int:
    from pathlib import Path

    from pilot_tui.runner import capture

    loaded = load_valid(ns)
    if loaded is None:
        return EXIT_INVALID
    pf, config = loaded
    state_dir = Project(pf.path).state_dir
    try:
        text = Path(ns.invite).read_text(encoding="utf-8")
    except OSError as exc:
        raise TeamError(f"cannot read {ns.invite}: {exc.strerror}") from exc
    server = join(text, config.project.name, state_dir)
    done = capture(on_server(server, state_dir, "true"))
    if done.returncode != 0:
        error(
            f"joined, but {server.host} does not accept your key yet: {done.stderr.strip()[-200:]}"
        )
        return EXIT_FAILED
    say(
        f"joined: {server.user}@{server.host} accepts your key; `pilot-tui status` and "
        "`pilot-tui deploy` work from this checkout"
    )
    return EXIT_OK


def remove(ns: argparse.Namespace) -> int:
    name = check_name(ns.name)
    code, _ = _run_on_server(ns, lambda s: revoke_script(name, s.authorized_keys))
    if code == EXIT_OK:
        say(f"removed {name}'s key from the server; everyone else's access is unchanged")
    return code


def list_(ns: argparse.Namespace) -> int:
    code, out = _run_on_server(ns, lambda s: list_script(s.authorized_keys))
    if code == EXIT_OK:
        names = [line.strip() for line in out.splitlines() if line.strip()]
        print("\n".join(names) if names else "no teammates yet (pilot-tui invite NAME --key …)")
    return code
