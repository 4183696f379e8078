"""`pilot-tui credentials`: what this machine has, checked live; exit 1 if the configured
ones fail."""

from __future__ import annotations

import argparse
import dataclasses

from pilot_tui.cli.common import load_valid, print_json
from pilot_tui.cloud.credentials import credential_report
from pilot_tui.errors import EXIT_FAILED, EXIT_INVALID, EXIT_OK


def run(ns: argparse.Namespace) -> int:
    loaded = load_valid(ns)
    if loaded is None:
        return EXIT_INVALID
    pf, cfg = loaded
    # (--sandbox applied; emulators started for this check alone are stopped after it)
    rows = credential_report(cfg, cfg.server.home, pf.path.parent, stop_started=True)
    failed_configured = any(r.configured and not r.ok for r in rows)
    if ns.json:
        print_json([dataclasses.asdict(r) for r in rows])
    else:
        if not rows:
            print(
                "No cloud credentials found. Set up AWS (`aws configure`) or Google "
                "(`gcloud auth application-default login`), or try the sandbox: "
                "`pilot-tui --sandbox credentials`."
            )
        for row in rows:
            mark = "ok  " if row.ok else "FAIL"
            used = " (used by pilot.toml)" if row.configured else ""
            print(f"{mark} {row.cloud:3} {row.name}{used} [{row.source}]: {row.message}")
    return EXIT_FAILED if failed_configured else EXIT_OK
