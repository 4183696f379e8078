"""The commented starter pilot.toml that `pilot-tui init` writes."""

from __future__ import annotations

import re

STARTER = """\
# Pilot project file. Pilot rewrites the values it owns and keeps your comments.
# Every key is documented by `pilot-tui config reference` (JSON Schema: `config schema`).
# Secrets never go here: AWS keys stay in ~/.aws, Google keys in a key file whose *path*
# you give below, app secrets in the environment or .pilot/secrets at deploy time.

[project]
{name_line}# names and tags every cloud resource Pilot creates

[server]
home = "sandbox"            # sandbox (local, no cloud account) | aws | gcp | host
# host = "ssh://deploy@203.0.113.10"   # home = "host": the Docker host apps deploy to
# size = "t3.small"         # default: t3.small on AWS, e2-small on GCP
allowed_cidrs = []          # who may reach SSH and Docker; empty = your own address /32
docker_access = "ssh"       # ssh | mtls (never plain TCP)
engine = "pilot"            # pilot | waypoint

[aws]
# profile = "default"       # a profile name from ~/.aws, never the keys themselves
region = "us-east-1"

[gcp]
# project = "my-project-id"
# credentials = "~/keys/pilot.json"   # the path to a service-account key file
region = "us-central1"

[state]
backend = "local"           # local (.pilot/) | s3 | gcs (a shared, versioned bucket)

# One [[apps]] table per app, for example:
#
# [[apps]]
# name = "api"
# path = "api"                              # relative to this file
# build = {{ kind = "dockerfile" }}           # auto | dockerfile | static | buildpacks
# target = {{ kind = "server", port = 8080 }} # server | cloud-run | lambda | ecs | s3-cloudfront | gcs-cdn
# env = {{ LOG_LEVEL = "info" }}
# secrets = ["DATABASE_URL"]                # names only; values come at deploy time
"""


def project_name_from(directory_name: str) -> str:
    """A valid project name derived from a directory name ("My App_2" -> "my-app-2")."""
    name = re.sub(r"[^a-z0-9]+", "-", directory_name.lower()).strip("-")
    if not name or not name[0].isalpha():
        name = f"app-{name}" if name else "app"
    return name[:40].rstrip("-")


COMMENT_COLUMN = 28  # where the starter's inline comments start


def starter_text(name: str) -> str:
    name_line = f'name = "{name}"'
    return STARTER.format(name_line=name_line.ljust(COMMENT_COLUMN - 1) + " ")
