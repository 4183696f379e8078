"""`pilot-tui app list|destroy|dockerfile` (`app new` is cli/app_new.py)."""

from __future__ import annotations

import argparse
import sys

from pilot_tui.cli.common import (
    confirm,
    error,
    load_app,
    load_valid,
    not_confirmed,
    print_json,
    say,
)
from pilot_tui.cli.deploy_cmds import deployer
from pilot_tui.deploy import addresses, history
from pilot_tui.errors import EXIT_FAILED, EXIT_INVALID, EXIT_OK, framed
from pilot_tui.project import Project


def app_list(ns: argparse.Namespace) -> int:
    loaded = load_valid(ns)
    if loaded is None:
        return EXIT_INVALID
    pf, config = loaded
    state_dir = Project(pf.path).state_dir
    rows = []
    for app in config.apps:
        live = history.live_release(state_dir, app.name)
        where = addresses.of_release(live) if live else addresses.Address("")
        rows.append((app, live, where))
    if ns.json:  # as `status --json` says an address: null where there is none
        print_json(
            [
                {
                    "name": app.name,
                    "build": app.build.kind,
                    "target": app.target.kind,
                    "live": live.id if live else None,
                    "url": where.url or None,
                    "simulated_url": where.simulated or None,
                }
                for app, live, where in rows
            ]
        )
        return EXIT_OK
    if config.apps:
        print(f"{'APP':16} {'BUILD':11} {'TARGET':14} {'LIVE':6} ADDRESS")
    for app, live, where in rows:
        print(
            f"{app.name:16} {app.build.kind:11} {app.target.kind:14} "
            f"{live.id if live else '-':6} {where.text()}"
        )
    if not config.apps:
        say("no apps yet: add one in the app (a) or with [[apps]] in pilot.toml")
    return EXIT_OK


def app_destroy(ns: argparse.Namespace) -> int:
    from pilot_tui.deploy.app_teardown import destroy
    from pilot_tui.deploy.targets import target_for

    found = load_app(ns)
    if found is None:
        return EXIT_INVALID
    pf, config, app = found
    target = target_for(app)
    on_host = [ns.app] if target.on_docker_host else []  # else no Docker host is opened
    # Shared: its previews' histories in the state bucket go with them.
    with deployer(ns, apps=on_host, loaded=(pf, config)) as engine:
        answer = confirm(target.destroy_question(config), ns.yes)
        if not answer:
            return not_confirmed(answer)
        with framed(f"{app.name}: "):
            engine.destroy_previews(app, say)  # a preview never outlives its app
            removed = destroy(target, engine, say)
        if not removed:
            say(f"nothing left to remove for {app.name}")
        history.retire(engine.state_dir, app.name, "app destroyed")
        return EXIT_OK


def app_dockerfile(ns: argparse.Namespace) -> int:
    """Show how APP builds; --eject writes a generated Dockerfile into its folder."""
    from pilot_tui.config.document import ConfigRefused
    from pilot_tui.deploy.build import recipe as builder
    from pilot_tui.fsutil import atomic_write

    found = load_app(ns)
    if found is None:
        return EXIT_INVALID
    pf, _, app = found
    from pilot_tui.deploy.targets import target_for

    if not target_for(app).builds_image():  # (found walking: it showed one never used)
        error(
            f"{ns.app} ships no image on {app.target.kind}: its files go up as they are, "
            "so no Dockerfile is used"
        )
        return EXIT_INVALID
    recipe = builder.recipe_for(app, pf.path.parent)
    if recipe.generated is None:
        path = recipe.folder / recipe.dockerfile
        if ns.eject:
            error(f"{ns.app} already builds from its own {path}")
            return EXIT_INVALID
        text = path.read_text(encoding="utf-8")
        # Ended by a newline, so the prompt or a next command's note starts its own line.
        sys.stdout.write(text if text.endswith("\n") or not text else text + "\n")
        return EXIT_OK
    if not ns.eject:
        say(f"# {ns.app}: {recipe.why}; `--eject` writes it to {recipe.folder}/Dockerfile")
        sys.stdout.write(recipe.generated)
        return EXIT_OK
    if recipe.builder is not None:
        error(
            f"{ns.app} is a static site built by `{recipe.builder.command}`; its serving "
            "Dockerfile only makes sense with the built files: nothing ejected"
        )
        return EXIT_INVALID
    target = recipe.folder / "Dockerfile"
    if target.exists():
        error(f"{target} exists; not overwritten")
        return EXIT_INVALID
    try:
        pf.save(pf.with_value(f"apps.{ns.app}.build", {"kind": "dockerfile"}))
    except ConfigRefused as exc:
        error(exc.report.errors[0].message)
        return EXIT_FAILED
    atomic_write(target, recipe.generated)
    say(f'wrote {target} and set apps.{ns.app}.build.kind = "dockerfile"; it is yours now')
    return EXIT_OK
