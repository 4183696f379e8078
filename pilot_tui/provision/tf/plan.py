"""Turn `terraform show -json PLAN` into a reviewable table and warnings."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pilot_tui import exposure, redact

# Web traffic to the apps is meant for everyone: not a warning. Anything else open to the
# world is (SSH, Docker, databases...).
PUBLIC_WEB_PORTS = frozenset({80, 443, 8080})
# Attributes worth showing per resource type in the plan table.
KEY_ATTRIBUTES = {
    "aws_instance": ("instance_type", "ami"),
    "aws_vpc": ("cidr_block",),
    "aws_subnet": ("cidr_block", "availability_zone"),
    "aws_security_group": ("name",),
    "aws_key_pair": ("key_name",),
    "aws_route": ("destination_cidr_block",),
    "aws_db_instance": ("instance_class", "engine_version", "storage_encrypted"),
    "google_compute_instance": ("machine_type", "zone"),
    "google_compute_firewall": ("source_ranges",),
}


@dataclass(frozen=True)
class ResourceChange:
    address: str
    resource_type: str
    action: str  # create | update | delete | replace | read
    details: str = ""


def _action(actions: list[str]) -> str:
    if actions in (["delete", "create"], ["create", "delete"]):
        return "replace"
    return actions[0] if actions else "no-op"


def summarize_plan(plan: dict[str, Any]) -> tuple[list[ResourceChange], list[str]]:
    """(changes that do something, warnings a reviewer must see)."""
    changes, warnings = [], []
    for rc in plan.get("resource_changes", []):
        change = rc.get("change") or {}
        action = _action(change.get("actions") or [])
        if action == "no-op":
            continue
        after = change.get("after") or {}
        rtype = rc.get("type", "")
        details = _details(rtype, after, change.get("after_unknown") or {})
        changes.append(ResourceChange(rc.get("address", ""), rtype, action, details))
        if action in ("create", "update", "replace"):
            warnings.extend(_world_open(rc.get("address", ""), rtype, after))
    return changes, warnings


def _details(rtype: str, after: dict[str, Any], unknown: dict[str, Any]) -> str:
    parts = []
    for key in KEY_ATTRIBUTES.get(rtype, ()):
        if unknown.get(key) is True:
            parts.append(f"{key}=(known after apply)")
        elif after.get(key) not in (None, "", []):
            parts.append(f"{key}={_short(after[key])}")
    if rtype == "aws_security_group":
        ports = sorted({r.get("from_port") for r in after.get("ingress") or []})
        parts.append("ingress ports " + ",".join(str(p) for p in ports) if ports else "no ingress")
    return " ".join(parts)


def _short(value: object) -> str:
    text = ",".join(map(str, value)) if isinstance(value, list) else str(value)
    return redact.clip(text, 40)


def _world_open(address: str, rtype: str, after: dict[str, Any]) -> list[str]:
    out = []
    if rtype == "aws_security_group":
        for rule in after.get("ingress") or []:
            cidrs = (rule.get("cidr_blocks") or []) + (rule.get("ipv6_cidr_blocks") or [])
            if rule.get("from_port") in PUBLIC_WEB_PORTS and rule.get("from_port") == rule.get(
                "to_port"
            ):
                continue
            scope = _wide(cidrs)
            if scope:
                out.append(
                    f"{address} opens port {rule.get('from_port')} "
                    f"({rule.get('description') or 'tcp'}) to {scope}"
                )
    elif rtype == "aws_security_group_rule" and after.get("type") == "ingress":
        if after.get("from_port") in PUBLIC_WEB_PORTS and after.get("from_port") == after.get(
            "to_port"
        ):
            return out
        scope = _wide((after.get("cidr_blocks") or []) + (after.get("ipv6_cidr_blocks") or []))
        if scope:
            out.append(f"{address} opens port {after.get('from_port')} to {scope}")
    elif rtype == "google_compute_firewall" and after.get("direction", "INGRESS") == "INGRESS":
        scope = _wide(after.get("source_ranges") or [])
        ports = {
            int(p)
            for allow in after.get("allow") or []
            for p in allow.get("ports") or []
            if str(p).isdigit()
        }
        if scope and (not ports or not ports <= PUBLIC_WEB_PORTS):
            out.append(f"{address} lets {scope} reach its ports")
    return out


def _wide(cidrs: list[str]) -> str | None:
    """Who a rule's CIDRs let in, loudly, when that is a large share of the internet (the
    same judgement `config validate` makes of server.allowed_cidrs)."""
    judged = exposure.judge(cidrs)
    return judged.scope(loud=True) if judged.wide else None
