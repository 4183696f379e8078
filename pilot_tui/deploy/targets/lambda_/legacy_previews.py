"""Previews as earlier Pilots made them: an alias ``preview--NAME`` of the app's own
function, with a function URL of its own and versions published for it, its whose and
expiry in the alias's description. Pilot now makes a function of its own for each preview
(function.py); these are still listed, pruned and removed, so none stays public unseen.

A role given only the previews (`ci github`'s pull requests' role) may see these but not
remove them: an expired one is then left, and said so, for the hourly prune (the branch's
role) or the laptop to remove."""

from __future__ import annotations

import contextlib
import dataclasses
import json
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from pilot_tui.cloud import aws_errors
from pilot_tui.deploy.previews import Preview, from_labels
from pilot_tui.deploy.targets.managed import Say
from pilot_tui.wording import plural

if TYPE_CHECKING:
    from mypy_boto3_lambda.type_defs import AliasConfigurationTypeDef

    from pilot_tui.deploy.targets.lambda_.function import LambdaFunction

ALIAS = "preview--"  # + the preview's name


def found(owner: LambdaFunction) -> list[Preview]:
    """The alias previews on the app's function ``owner``, with their URLs; [] when the
    function does not exist, or the credentials may not read it."""
    from botocore.exceptions import ClientError

    try:
        aliases = _aliases(owner)
    except owner.lam.exceptions.ResourceNotFoundException:
        return []
    except ClientError as exc:
        if aws_errors.code(exc) == "AccessDeniedException":
            return []  # credentials that may not read the app's function: none seen
        raise
    previews = []
    for alias in aliases:
        preview = _described(alias)
        if preview is None or alias["Name"] != ALIAS + preview.name:
            continue
        try:
            url = owner.lam.get_function_url_config(
                FunctionName=owner.name, Qualifier=alias["Name"]
            )["FunctionUrl"]
        except owner.lam.exceptions.ResourceNotFoundException:
            url = ""
        previews.append(dataclasses.replace(preview, url=str(url), state="active"))
    return previews


def remove(owner: LambdaFunction, name: str, say: Say, kept: frozenset[str]) -> list[str]:
    """Remove the alias preview ``name`` from the app's function ``owner``: its alias, URL
    and the versions published for it (those no other alias serves, nor in ``kept``: the
    app's releases', which Lambda may have handed back for an unchanged publish). The
    function and the app's alias stay. [] when there is no such alias, or when these
    credentials may not change the app's function (said)."""
    from botocore.exceptions import ClientError

    try:
        return _remove(owner, name, say, kept)
    except ClientError as exc:
        if aws_errors.code(exc) != "AccessDeniedException":
            raise
        say(
            f"warning: the preview {owner.app}--{name} made by an earlier Pilot (the alias "
            f"{ALIAS}{name} of {owner.name}) is left: these credentials may not change the "
            f"app's function; the hourly prune or `pilot-tui preview destroy {owner.app} "
            f"{name}` with the deployer's removes it"
        )
        return []


def _remove(owner: LambdaFunction, name: str, say: Say, kept: frozenset[str]) -> list[str]:
    not_found = owner.lam.exceptions.ResourceNotFoundException
    alias = ALIAS + name
    try:
        described = _described(owner.lam.get_alias(FunctionName=owner.name, Name=alias))
    except not_found:
        return []
    done = []
    with contextlib.suppress(not_found):
        owner.lam.delete_function_url_config(FunctionName=owner.name, Qualifier=alias)
    owner.lam.delete_alias(FunctionName=owner.name, Name=alias)
    done.append(f"deleted alias {alias} of {owner.name} and its function URL")
    whose = described.full if described is not None else f"{owner.app}--{name}"
    try:
        served = {a["FunctionVersion"] for a in _aliases(owner)}
        listed = owner.lam.get_paginator("list_versions_by_function").paginate(
            FunctionName=owner.name
        )
        versions = [v for page in listed for v in page["Versions"]]
    except not_found:
        versions, served = [], set()
    mine = [
        str(v["Version"])
        for v in versions
        if str(v.get("Description", "")).startswith(f"pilot {whose} ")
        and v["Version"] not in served
        and str(v["Version"]) not in kept
    ]
    for version in mine:
        with contextlib.suppress(not_found):
            owner.lam.delete_function(FunctionName=owner.name, Qualifier=version)
    if mine:
        done.append(f"deleted {plural(len(mine), 'version')} {', '.join(mine)} of {owner.name}")
    for line in done:
        say(line)
    return done


def _aliases(owner: LambdaFunction) -> list[AliasConfigurationTypeDef]:
    """Every alias of the function (ResourceNotFoundException: there is none)."""
    pages = owner.lam.get_paginator("list_aliases").paginate(FunctionName=owner.name)
    return [alias for page in pages for alias in page["Aliases"]]


def _described(alias: Mapping[str, Any]) -> Preview | None:
    """The preview an alias's description records, if it records one."""
    try:
        labels = json.loads(alias.get("Description") or "")
    except ValueError:
        return None
    return from_labels(labels) if isinstance(labels, dict) else None
