"""Taking a project down: everything Pilot made for it, listed first, then removed in order.

``scan`` asks the clouds (and this machine's Docker, in the sandbox) what carries the
project's tag or a ``pilot-PROJECT-`` name, not only what Terraform's state or .pilot/ record;
``inventory`` (pure) turns what was found plus the Terraform destroy plan into one ordered
list of Things (kind, name, how it was found, the step that removes it). The CLI and the
Server screen show that list, ask once, and ``execute`` removes it step by step:

1. apps: each app's managed target's own destroy (sites, functions, services, images);
2. containers: the apps' containers on this machine's Docker (the sandbox) and the proxy,
   then the private `pilot` network they joined;
3. deployer: the IAM user, its access keys and the execution roles setup made;
4. server: Terraform destroys what its state holds;
5. state: the state bucket and lock table (kept with ``keep_state``);
6. local: .pilot/ records of what was made (release histories, outputs, deployer keys);
   what stays on purpose (secrets' values, database passwords, the SSH key) is said.

Afterwards ``scan`` runs again: what it still finds is what remains.

The package, by concept: ``things`` (what is listed, and the steps), ``scan`` / ``scan_aws`` /
``finds`` (where to look and whose a name is), ``remove`` (the executor, step by step),
``aws_leftovers`` (what no target's destroy owns, by kind), ``plan`` (a destroy from start
to end).
"""

from __future__ import annotations

from pilot_tui.teardown.finds import app_of
from pilot_tui.teardown.plan import make_scan, plan_teardown, remaining, sandbox_stand_in
from pilot_tui.teardown.remove import Teardown, backups_held, execute
from pilot_tui.teardown.scan import Scan, local_records
from pilot_tui.teardown.things import (
    KIND_STEPS,
    STEP_TITLES,
    STEPS,
    UNOWNED_BUCKET,
    Inventory,
    Thing,
    databases_at_stake,
    inventory,
)

__all__ = [
    "KIND_STEPS",
    "STEPS",
    "STEP_TITLES",
    "UNOWNED_BUCKET",
    "Inventory",
    "Scan",
    "Teardown",
    "Thing",
    "app_of",
    "backups_held",
    "databases_at_stake",
    "execute",
    "inventory",
    "local_records",
    "make_scan",
    "plan_teardown",
    "remaining",
    "sandbox_stand_in",
]
