"""The sandbox's local AWS API: moto's server, with one fidelity fix.

Terraform's aws provider launches an instance in a subnet by passing its security groups on
the primary network interface. Real EC2 then reports those groups on the instance too; moto
reports them only on the interface, so every plan would show a spurious change. This
launcher fills the instance's groups from its primary interface, then runs moto unchanged.
Used only by the sandbox (`python -m pilot_tui.sandbox_aws -H 127.0.0.1 -p PORT`).
"""

from __future__ import annotations

import sys
from typing import Any


def patch_moto() -> None:
    from moto.ec2.models.instances import Instance

    original = Instance.prep_nics

    def prep_nics(self: Any, *args: Any, **kwargs: Any) -> Any:
        result = original(self, *args, **kwargs)
        primary = getattr(self, "nics", {}).get(0)
        if not self.security_groups and primary is not None:
            self.security_groups = list(primary._group_set)
        return result

    Instance.prep_nics = prep_nics  # type: ignore[method-assign]


def main(argv: list[str] | None = None) -> None:
    patch_moto()
    from moto.server import main as moto_main

    moto_main(argv if argv is not None else sys.argv[1:])


if __name__ == "__main__":
    main()
