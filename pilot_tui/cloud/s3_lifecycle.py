"""One lifecycle rule of Pilot's on an S3 bucket, set beside the bucket's other rules: S3
takes a bucket's whole lifecycle configuration at once, so a rule is merged in by its ID,
never written over the rules a team added."""

from __future__ import annotations

from typing import Any

from pilot_tui.cloud.aws_errors import code


def ensure_rule(s3: Any, bucket: str, rule: dict[str, Any]) -> bool:
    """``rule`` (by its "ID") on ``bucket``, the other rules kept; True when it was set."""
    from botocore.exceptions import ClientError

    try:
        rules = s3.get_bucket_lifecycle_configuration(Bucket=bucket)["Rules"]
    except ClientError as exc:
        if code(exc) != "NoSuchLifecycleConfiguration":
            raise
        rules = []
    if rule in rules:
        return False
    others = [r for r in rules if r.get("ID") != rule["ID"]]
    s3.put_bucket_lifecycle_configuration(
        Bucket=bucket, LifecycleConfiguration={"Rules": [*others, rule]}
    )
    return True
