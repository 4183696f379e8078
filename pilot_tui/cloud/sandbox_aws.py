"""The sandbox's local AWS API: moto's server, with three fidelity fixes.

- Terraform's aws provider launches an instance in a subnet by passing its security groups
  on the primary network interface. Real EC2 then reports those groups on the instance too;
  moto reports them only on the interface, so every plan would show a spurious change. The
  instance's groups are filled from its primary interface.
- Lambda's Invoke reads its `Qualifier` query parameter as `qualifier`, so every invoke ran
  $LATEST whatever version or alias was asked for (a rollback looked like it did nothing).
- A published Lambda version is a copy made before its Docker client exists, so invoking a
  version or alias failed with an AttributeError (HTTP 500).

Used only by the sandbox (`python -m pilot_tui.cloud.sandbox_aws -H 127.0.0.1 -p PORT`).
"""

from __future__ import annotations

import sys
from typing import Any


def patch_moto() -> None:
    from moto.ec2.models.instances import Instance

    original = Instance.prep_nics

    def prep_nics(self: Instance, *args: Any, **kwargs: Any) -> Any:
        result = original(self, *args, **kwargs)
        primary = getattr(self, "nics", {}).get(0)
        if not self.security_groups and primary is not None:
            self.security_groups = list(primary._group_set)
        return result

    Instance.prep_nics = prep_nics  # type: ignore[method-assign]
    _patch_lambda()


def _patch_lambda() -> None:
    from moto.awslambda.responses import LambdaResponse
    from moto.utilities.docker_utilities import DockerModel

    DockerModel._DockerModel__docker_client = None  # type: ignore[attr-defined]
    original = LambdaResponse._get_param

    def get_param(self: LambdaResponse, name: str, if_none: object = None) -> Any:
        value = original(self, name, if_none)
        if name == "qualifier" and value is if_none:
            value = (
                original(self, "Qualifier", if_none)
                or self.querystring.get("Qualifier", [if_none])[0]
            )
        return value

    LambdaResponse._get_param = get_param  # type: ignore[method-assign,assignment]


def main(argv: list[str] | None = None) -> None:
    patch_moto()
    from moto.server import main as moto_main

    moto_main(argv if argv is not None else sys.argv[1:])


if __name__ == "__main__":
    main()
