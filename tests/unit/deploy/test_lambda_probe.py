"""How a look at a Lambda release reads Invoke's answer (LambdaFunction.probe). The answers
are given as data: the one case here is the sandbox's local AWS API failing to run the
function at all (it runs functions in Docker), which that API answers as a FunctionError
of its own, never the app's; tests/integration/deploy/test_lambda_watch.py asks real
functions."""

from __future__ import annotations

import io
import json

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
