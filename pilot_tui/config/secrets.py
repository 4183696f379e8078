"""Spot secrets pasted into pilot.toml, where only names and paths belong.

Two kinds of check: patterns that are unmistakable anywhere in the text (AWS access key
ids, PEM private keys, service-account JSON bodies) are looked for on every line, comments
included; a bare 40-character AWS secret key is only flagged in fields that hold a name or a
path, where nothing that long and random belongs.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

ACCESS_KEY_ID = re.compile(r"\b(?:AKIA|ASIA|AIDA|AROA|AGPA|ANPA)[A-Z0-9]{16}\b")
PEM_KEY = re.compile(r"-----BEGIN [A-Z0-9 ]*PRIVATE KEY-----")
JSON_KEY = re.compile(r"""["']?private_key(_id)?["']?\s*[:=]|"type"\s*:\s*"service_account""")
SECRET_KEY = re.compile(r"^[A-Za-z0-9/+]{40}$")
SECRET_ENV_NAME = re.compile(
    r"(^|_)(SECRET|PASSWORD|PASSWD|TOKEN|PRIVATE_KEY|API_KEY|ACCESS_KEY|SECRET_KEY)(_|$)"
    r"|(^|_)KEY$",
    re.IGNORECASE,
)
URL_PASSWORD = re.compile(r"^[a-z][a-z0-9+.-]*://[^/\s:@]+:([^/\s@]+)@", re.IGNORECASE)

WHERE_AWS_KEYS = (
    "AWS keys belong in ~/.aws/credentials (run `aws configure --profile NAME`) or in the "
    "environment; set aws.profile to the profile's name"
)
WHERE_GCP_KEYS = (
    "save the service-account key as a file outside the repository (chmod 600) and set "
    "gcp.credentials to its path"
)
WHERE_APP_SECRETS = (
    "list the variable's name under the app's `secrets` and supply the value from the "
    "environment or .pilot/secrets at deploy time"
)


@dataclass(frozen=True)
class SecretHit:
    """A secret found on a line (1-based) at a column (1-based)."""

    line: int
    col: int
    what: str
    advice: str


def scan_text(text: str) -> list[SecretHit]:
    """Unmistakable secrets anywhere in the file, comments included."""
    hits = []
    for n, line in enumerate(text.splitlines(), start=1):
        for pattern, what, advice in (
            (ACCESS_KEY_ID, "an AWS access key id", WHERE_AWS_KEYS),
            (
                PEM_KEY,
                "a PEM private key",
                "keep private keys in files (0600) outside "
                "pilot.toml; Pilot generates its own server keys under .pilot/",
            ),
            (JSON_KEY, "the body of a Google service-account key", WHERE_GCP_KEYS),
        ):
            match = pattern.search(line)
            if match:
                hits.append(SecretHit(n, match.start() + 1, what, advice))
                break
    return hits


def classify_value(value: str, *, name_or_path: bool) -> tuple[str, str] | None:
    """(what, advice) when a single value looks like a secret, else None."""
    if ACCESS_KEY_ID.search(value):
        return "an AWS access key id", WHERE_AWS_KEYS
    if PEM_KEY.search(value):
        return "a PEM private key", "keep private keys in files (0600) outside pilot.toml"
    if value.lstrip().startswith("{") and JSON_KEY.search(value):
        return "the body of a Google service-account key", WHERE_GCP_KEYS
    # Env values are free text, but a 40-character mixed-case key with / or + is one too.
    if (
        SECRET_KEY.match(value)
        and _looks_random(value)
        and (name_or_path or "/" in value or "+" in value)
    ):
        return "an AWS secret access key", WHERE_AWS_KEYS
    if URL_PASSWORD.match(value):
        return "a URL with a password in it", WHERE_APP_SECRETS
    return None


def _looks_random(value: str) -> bool:
    classes = sum(any(test(c) for c in value) for test in (str.islower, str.isupper, str.isdigit))
    return classes >= 3 or "/" in value or "+" in value
