"""Secrets are masked before text reaches a log file or the log pane."""

from __future__ import annotations

from pilot_tui.redact import MASK, text


def test_secrets_are_masked_and_ordinary_text_is_not():
    line = ('access AKIAIOSFODNN7EXAMPLE secret "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY" '
            "db postgres://app:hunter2@db.internal/app password=s3cret token: abc123")
    masked = text(line)
    for secret in ("AKIAIOSFODNN7EXAMPLE", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
                   "hunter2", "s3cret", "abc123"):
        assert secret not in masked
    assert masked.count(MASK) == 5
    assert "postgres://" in masked and "db.internal/app" in masked
    pem = "-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXk\n-----END OPENSSH PRIVATE KEY-----"
    assert "b3BlbnNzaC1rZXk" not in text(pem)
    sha = "a" * 20 + "0123456789abcdef0123"  # a 40-character hex digest stays readable
    ordinary = f"aws_vpc.pilot: Creation complete after 10s [id=vpc-1234] commit {sha}"
    assert text(ordinary) == ordinary
