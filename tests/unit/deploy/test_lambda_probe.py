"""How a look at a Lambda release reads Invoke's answer (LambdaFunction.probe). The answers
are given as data: the one case here is the sandbox's local AWS API failing to run the
function at all (it runs functions in Docker), which that API answers as a FunctionError
of its own, never the app's; tests/integration/deploy/test_lambda_watch.py asks real
functions."""

from __future__ import annotations

import io
import json

import pytest

from pilot_tui.config.schema import LambdaTarget
from pilot_tui.deploy.targets.lambda_.function import LambdaFunction


class Answers:
    """An Invoke that answers ``payload`` with a FunctionError."""

    def __init__(self, payload: dict[str, str]) -> None:
        self.payload = payload

    def invoke(self, **_: object) -> dict[str, object]:
        body = io.BytesIO(json.dumps(self.payload).encode())
        return {"StatusCode": 200, "FunctionError": "Unhandled", "Payload": body}


def _function(answers: Answers) -> LambdaFunction:
    return LambdaFunction(
        answers,  # type: ignore[arg-type]
        None,  # type: ignore[arg-type]
        None,  # type: ignore[arg-type]
        "acme",
        "hello",
        LambdaTarget(),
    )


def test_a_sandbox_that_cannot_run_the_function_gives_no_verdict():
    """The walk: without Docker, every look "failed" with moto's own error, clipped
    mid-word, and the deploy blamed target.health_path."""
    moto = Answers(
        {
            "errorMessage": "error running docker: Error while fetching server API version: "
            "('Connection aborted.', FileNotFoundError(2, 'No such file or directory'))"
        }
    )
    probe = _function(moto).probe("/")
    assert probe.healthy is None
    assert probe.detail == "the sandbox runs functions in Docker, which it cannot reach"


def test_the_apps_own_error_is_a_miss():
    probe = _function(Answers({"errorMessage": "KeyError: 'user'"})).probe("/")
    assert probe.healthy is False
    assert probe.detail == "it raised \"KeyError: 'user'\""


class Live:
    """The function's live version, Active, with a URL; Invoke as ``answers`` says."""

    class exceptions:
        ResourceNotFoundException = LookupError

    def get_function_configuration(self, **_: object) -> dict[str, object]:
        return {"Version": "3", "State": "Active", "LastUpdateStatus": "Successful"}

    def get_function_url_config(self, **_: object) -> dict[str, str]:
        return {"FunctionUrl": "https://fn.example/"}


class Hangs:
    """An Invoke that waited out its read timeout."""

    asked = 0

    def invoke(self, **_: object) -> dict[str, object]:
        from botocore.exceptions import ReadTimeoutError

        Hangs.asked += 1
        raise ReadTimeoutError(endpoint_url="https://lambda")


def test_status_asks_with_its_own_short_wait_and_a_hang_is_no_verdict():
    """Review: `status` (and the home screen) invoked each function with the watch's wait,
    the function's timeout plus 10 s (up to 15 min); it has a client of its own that waits
    STATUS_WAIT at most, and a hang there is said, never called healthy."""
    fn = _function(Answers({}))
    fn.lam = Live()  # type: ignore[assignment]
    fn.invoker = Answers({"errorMessage": "the watch's client: never asked by status"})  # type: ignore[assignment]
    fn.status_invoker = Hangs()  # type: ignore[assignment]
    status = fn.status()
    assert Hangs.asked == 1
    assert status.health.startswith("unknown (active; no answer from /: ")
    assert not status.ok


def test_status_says_the_sandbox_cannot_run_the_function():
    fn = _function(Answers({"errorMessage": "error running docker: (no Docker)"}))
    fn.lam, fn.status_invoker = Live(), fn.lam  # type: ignore[assignment]
    status = fn.status()
    assert status.health == (
        "unknown (active; no answer from /: the sandbox runs functions in Docker, "
        "which it cannot reach)"
    )


def test_a_hung_app_is_invoked_once_and_waited_for_no_longer_than_asked():
    """Review: the invoking clients said retries={"max_attempts": 1}, which botocore reads
    as one retry: a hung health path was invoked twice and waited for twice. A real
    botocore client against a local server that never answers, counting the calls."""
    import http.server
    import threading

    import boto3
    from botocore.exceptions import ReadTimeoutError

    from pilot_tui.deploy.targets.lambda_.function import one_attempt

    asked: list[str] = []
    release = threading.Event()

    class Hung(http.server.BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            asked.append(self.path)
            release.wait(5)

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Hung)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        client = boto3.client(
            "lambda",
            region_name="us-east-1",
            endpoint_url=f"http://127.0.0.1:{server.server_address[1]}",
            aws_access_key_id="test",
            aws_secret_access_key="test",
            config=one_attempt(1),
        )
        with pytest.raises(ReadTimeoutError):
            client.invoke(FunctionName="pilot-acme-hello", Payload=b"{}")
    finally:
        release.set()
        server.shutdown()
        server.server_close()
    assert len(asked) == 1, asked  # one invocation, one wait
