"""`pilot-tui credentials`: what this machine has, checked live; exit 1 if the configured
ones fail."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from pilot_tui.cli.config_cmds import load_valid
from pilot_tui.cli.main import EXIT_FAILED, EXIT_INVALID, EXIT_OK
from pilot_tui.credentials import Checked, check_aws, check_gcp, find_aws, find_gcp


def run(ns: argparse.Namespace) -> int:
    loaded = load_valid(ns)
    if loaded is None:
        return EXIT_INVALID
    pf, cfg = loaded
    home = "sandbox" if getattr(ns, "sandbox", False) else cfg.server.home
    rows: list[dict[str, Any]] = []
    failed_configured = False

    def add(cloud: str, name: str, source: str, result: Checked, configured: bool) -> None:
        nonlocal failed_configured
        failed_configured |= configured and not result.ok
        rows.append({"cloud": cloud, "name": name, "source": source, "ok": result.ok,
                     "configured": configured, "message": result.message})

    if home == "sandbox":
        from pilot_tui.project import Project
        from pilot_tui.sandbox import ACCESS_KEY, SECRET_KEY, Sandbox

        emulators, _ = Sandbox(Project(pf.path).state_dir).ensure()
        add("aws", "sandbox", emulators["aws"].url,
            check_aws(None, cfg.aws.region, emulators["aws"].url, (ACCESS_KEY, SECRET_KEY)), True)
        add("gcp", "sandbox", emulators["gcs"].url,
            check_gcp("sandbox", None, api_endpoint=emulators["gcs"].url), True)
    for found in find_aws():
        configured = home == "aws" and (found.name == (cfg.aws.profile or "default")
                                        or (found.name == "(environment)" and not cfg.aws.profile))
        profile = None if found.name == "(environment)" else found.name
        name = f"{found.name} (sso)" if found.sso else found.name
        add("aws", name, found.source, check_aws(profile, cfg.aws.region), configured)
    if home == "aws" and not any(r["configured"] for r in rows if r["cloud"] == "aws"):
        add("aws", cfg.aws.profile or "(default chain)", "pilot.toml",
            check_aws(cfg.aws.profile, cfg.aws.region), True)
    key = (pf.path.parent / Path(cfg.gcp.credentials).expanduser()).resolve() \
        if cfg.gcp.credentials else None
    for found in find_gcp(configured=key):
        configured = home == "gcp" and (key is None or Path(found.name) == key)
        add("gcp", found.name, found.source,
            check_gcp(cfg.gcp.project, Path(found.name)), configured)
    if home == "gcp" and not any(r["configured"] for r in rows if r["cloud"] == "gcp"):
        add("gcp", "(application default)", "pilot.toml", check_gcp(cfg.gcp.project, None), True)

    if ns.json:
        print(json.dumps(rows, indent=2))
    else:
        if not rows:
            print("No cloud credentials found. Set up AWS (`aws configure`) or Google "
                  "(`gcloud auth application-default login`), or try the sandbox: "
                  "`pilot-tui --sandbox credentials`.")
        for row in rows:
            mark = "ok  " if row["ok"] else "FAIL"
            used = " (used by pilot.toml)" if row["configured"] else ""
            print(f"{mark} {row['cloud']:3} {row['name']}{used} [{row['source']}]: "
                  f"{row['message']}")
    return EXIT_FAILED if failed_configured else EXIT_OK
