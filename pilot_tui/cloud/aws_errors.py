"""botocore's errors, read and converted in one place.

A refused AWS call becomes a CloudError (or a subclass the caller names) that says what was
being done and AWS's error code, never the request (so never credentials); a value the call
carried can be blanked out should AWS echo it. botocore is imported only when an error is
caught."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TypeVar

from pilot_tui import redact
from pilot_tui.cloud.errors import CloudError

MESSAGE_MAX = 300  # of AWS's own message: enough to act on, never a whole echoed document
REFUSAL_MAX = 400  # of a whole refusal line


def code(exc: BaseException) -> str:
    """AWS's error code of a botocore ClientError ("" for any other error)."""
    response = getattr(exc, "response", None)
    if not isinstance(response, dict):
        return ""
    return str(response.get("Error", {}).get("Code") or "")


def message(what: str, exc: BaseException, hide: str = "") -> str:
    """``what``: AWS's code and message (a ClientError), else the error's type and text
    (botocore's own: no connection, no credentials); ``hide`` blanked, then masked by
    redact (AWS may echo a value the call carried)."""
    response = getattr(exc, "response", None)
    if isinstance(response, dict):
        error = response.get("Error", {})
        said = str(error.get("Message", ""))[:MESSAGE_MAX]
        text = f"{what}: AWS answered {error.get('Code', 'an error')}: {said}".rstrip(": ")
    else:
        text = f"{what}: {type(exc).__name__}: {exc}"
    return redact.text(text.replace(hide, "***") if hide else text)


def refusal(exc: BaseException) -> str | None:
    """One line for a botocore error (None: not one): the call refused, AWS's own code and
    words, never a response body."""
    from botocore.exceptions import BotoCoreError, ClientError

    if isinstance(exc, ClientError):
        error = exc.response.get("Error", {})
        status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", "")
        said_code = str(error.get("Code") or status or "no code")
        said = str(error.get("Message") or "")
        if said.lstrip().startswith("<"):  # an unparsed XML body: keep its own words
            found = re.search(r"<Code>([^<]*)</Code>.*?<Message>([^<]*)</Message>", said, re.S)
            said_code, said = (f"{said_code} {found[1]}", found[2]) if found else (said_code, "")
        words = f": {said}" if said else ""
        return redact.text(f"AWS refused {exc.operation_name} ({said_code}{words})")[:REFUSAL_MAX]
    if isinstance(exc, BotoCoreError):
        return redact.text(f"AWS could not be asked: {exc}")[:REFUSAL_MAX]
    return None


def converted(
    what: str, exc: BaseException, *, hide: str = "", error: type[Exception] = CloudError
) -> Exception:
    """The error to raise for ``exc`` (``raise converted(...) from exc``)."""
    return error(message(what, exc, hide))


@contextmanager
def aws_call(what: str, hide: str = "", error: type[Exception] = CloudError) -> Iterator[None]:
    """botocore's errors inside the block as ``error`` naming ``what``. With ``hide`` (a
    secret value the call carried) the original is not chained: its text may hold it."""
    from botocore.exceptions import BotoCoreError, ClientError

    try:
        yield
    except (ClientError, BotoCoreError) as exc:
        if hide:
            raise converted(what, exc, hide=hide, error=error) from None
        raise converted(what, exc, error=error) from exc


Answer = TypeVar("Answer")


def unless(codes: tuple[str, ...], call: Callable[..., Answer], **args: object) -> Answer | None:
    """call(**args), or None when AWS answers with one of ``codes`` (usually: not there)."""
    from botocore.exceptions import ClientError

    try:
        return call(**args)
    except ClientError as exc:
        if code(exc) in codes:
            return None
        raise
