"""Saying what happened to a release, and who made it.

``who`` names the person or the CI run behind a deploy: in GitHub Actions its repository,
workflow, run and commit; elsewhere the local user and their git identity. Every record a
deploy or a rollback makes carries it (engine.Deployer.record_release).

``notify`` POSTs a Slack-compatible JSON message to the webhook whose URL the variable
``notify.webhook_env`` names: ``text`` for Slack, and the facts as fields for anything else.
A notification that cannot be sent is a warning: the release itself never depends on it.
"""

from __future__ import annotations

import getpass
import json
import os
import subprocess
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from pilot_tui import redact

TIMEOUT = 5.0  # seconds: a slow webhook must not hold a deploy up

DEPLOYED, FAILED, REVERTED, ROLLED_BACK = "deployed", "failed", "reverted", "rolled back"
PREVIEWED = "deployed as a preview"


def who(root: Path, env: Mapping[str, str] | None = None) -> str:
    """Who is releasing: the CI run (GitHub Actions), else the local user and their git
    identity in ``root``."""
    env = os.environ if env is None else env
    if env.get("GITHUB_ACTIONS") == "true":
        repo, run = env.get("GITHUB_REPOSITORY", "?"), env.get("GITHUB_RUN_ID", "?")
        workflow, sha = env.get("GITHUB_WORKFLOW", "?"), env.get("GITHUB_SHA", "")[:12]
        actor = env.get("GITHUB_ACTOR")
        by = f" for {actor}" if actor else ""
        return f"GitHub Actions {repo}, workflow {workflow!r} run {run} at {sha or '?'}{by}"
    try:
        user = getpass.getuser()
    except (KeyError, OSError):  # no name for this uid (a container)
        user = f"uid {os.getuid()}"
    name, email = _git(root, "user.name"), _git(root, "user.email")
    identity = " ".join(part for part in (name, f"<{email}>" if email else "") if part)
    return f"{user} ({identity})" if identity else user


def _git(root: Path, key: str) -> str:
    try:
        found = subprocess.run(
            ["git", "config", "--get", key],
            cwd=root,
            capture_output=True,
            text=True,
            timeout=5,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired):
        return ""
    return found.stdout.strip()


@dataclass(frozen=True)
class Notice:
    event: str  # DEPLOYED, FAILED, REVERTED, ROLLED_BACK, PREVIEWED
    project: str
    app: str
    release: str | None
    url: str | None
    by: str
    reason: str = ""

    def text(self) -> str:
        what = f"{self.release} of {self.app}" if self.release else self.app
        where = (
            f": {self.url}" if self.url and self.event in (DEPLOYED, ROLLED_BACK, PREVIEWED) else ""
        )
        why = f": {self.reason}" if self.reason else ""
        return f"[{self.project}] {what} {self.event} by {self.by}{where}{why}"

    def payload(self) -> dict[str, str | None]:
        """Slack's ``text``, and the same facts as fields; secret values masked."""
        return {
            "text": redact.text(self.text()),
            "event": self.event,
            "project": self.project,
            "app": self.app,
            "release": self.release,
            "url": self.url,
            "by": self.by,
            "reason": redact.text(self.reason),
        }


def send(url: str, notice: Notice) -> str | None:
    """POST ``notice``; None when the webhook took it, else why not (a warning)."""
    body = json.dumps(notice.payload()).encode()
    import urllib.error  # only when one is sent: every deploy imports this module
    import urllib.request

    request = urllib.request.Request(
        url, data=body, method="POST", headers={"Content-Type": "application/json"}
    )
    try:
        with urllib.request.urlopen(request, timeout=TIMEOUT) as answer:
            answer.read()
    except urllib.error.HTTPError as exc:
        return f"the webhook answered HTTP {exc.code}"
    except (urllib.error.URLError, OSError, ValueError) as exc:
        reason = getattr(exc, "reason", exc)
        return f"the webhook could not be reached ({redact.clip(str(reason), 120)})"
    return None


def webhook(variable: str | None, env: Mapping[str, str] | None = None) -> str | None:
    """The webhook URL the variable holds (registered as a secret: masked everywhere)."""
    env = os.environ if env is None else env
    if not variable or not env.get(variable):
        return None
    url = env[variable]
    redact.register([url])
    return url
