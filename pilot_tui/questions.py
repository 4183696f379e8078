"""The setup questions, defined once for every front end.

`pilot-tui init --plain` asks them with questionary; the TUI's wizard asks the same ones;
`pilot-tui init --FLAG VALUE` answers them without asking. Answers are checked with the very
rules `config validate` uses, by applying them to a draft and validating the draft.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

from pilot_tui.config.keys import parse_key
from pilot_tui.config.regions import AWS_REGIONS, GCP_REGIONS

Answers = dict[str, Any]


@dataclass(frozen=True)
class Question:
    """One setup question; its answer is written to ``key`` in pilot.toml."""

    key: str
    prompt: str
    kind: Literal["text", "select", "list"] = "text"
    choices: tuple[str, ...] = ()
    default: str = ""
    help: str = ""
    optional: bool = False
    when: Callable[[Answers], bool] = field(default=lambda answers: True)

    @property
    def flag(self) -> str:
        """The `pilot-tui init` flag that answers this question."""
        return "--" + FLAG_NAMES.get(self.key, self.key.replace(".", "-").replace("_", "-"))

    @property
    def dest(self) -> str:
        return self.flag[2:].replace("-", "_")


def _home_is(*homes: str) -> Callable[[Answers], bool]:
    return lambda answers: answers.get("server.home", "sandbox") in homes


FLAG_NAMES = {
    "project.name": "name",
    "server.home": "home",
    "server.host": "host",
    "server.allowed_cidrs": "allowed-cidr",
}

QUESTIONS: tuple[Question, ...] = (
    Question("project.name", "Project name", help="Names and tags every cloud resource."),
    Question(
        "server.home",
        "Where should the Pilot Server run?",
        "select",
        ("sandbox", "aws", "gcp", "host"),
        "sandbox",
        help="sandbox runs locally with no cloud account; host uses a Docker host you have",
    ),
    Question(
        "aws.profile",
        "AWS profile name (blank: the default credential chain)",
        optional=True,
        when=_home_is("aws"),
        help="A profile from ~/.aws/config or ~/.aws/credentials; never the keys.",
    ),
    Question("aws.region", "AWS region", "select", AWS_REGIONS, "us-east-1", when=_home_is("aws")),
    Question("gcp.project", "Google Cloud project id", when=_home_is("gcp")),
    Question(
        "gcp.credentials",
        "Path to a service-account key file (blank: ADC)",
        optional=True,
        when=_home_is("gcp"),
        help="The file's path; the key itself never goes in pilot.toml.",
    ),
    Question(
        "gcp.region",
        "Google Cloud region",
        "select",
        GCP_REGIONS,
        "us-central1",
        when=_home_is("gcp"),
    ),
    Question("server.host", "Docker host (ssh://user@host or unix:///path)", when=_home_is("host")),
    Question(
        "server.allowed_cidrs",
        "Who may reach the server? CIDRs, comma separated (blank: your own address)",
        "list",
        optional=True,
        when=_home_is("aws", "gcp"),
    ),
    Question(
        "state.backend",
        "Where should Terraform state live?",
        "select",
        ("local", "s3", "gcs"),
        "local",
        when=_home_is("aws", "gcp"),
    ),
)


def to_value(question: Question, answer: str) -> Any:
    """The TOML value for a typed answer (lists are comma separated)."""
    if question.kind == "list":
        return [part.strip() for part in answer.split(",") if part.strip()]
    return answer.strip()


def apply_answer(draft: str, question: Question, answer: str, *, starter: bool = False) -> str:
    """The draft text with the answer written to its key (comments kept); ``starter``: the
    draft is init's starter file, whose commented examples the answers fill in."""
    from pilot_tui.config.document import set_in_text  # (the parser imports this module)

    return set_in_text(draft, question.key, to_value(question, answer), starter=starter)


def check_answer(draft: str, question: Question, answer: str) -> str | None:
    """None when the answer is acceptable, else the message `config validate` would print."""
    if not answer.strip():
        return None if question.optional else "an answer is needed"
    try:
        text = apply_answer(draft, question, answer)
    except ValueError as exc:
        return str(exc)
    prefix = tuple(parse_key(question.key))
    from pilot_tui.config.validate import check_text

    for problem in check_text(text).report.errors:
        if problem.path[: len(prefix)] == prefix or problem.key.startswith(question.key):
            return problem.message
    return None


def apply_answers(draft: str, answers: Answers) -> tuple[str, list[tuple[Question, str]]]:
    """init's starter draft with every answer applied (filling its commented examples), then
    validated once, with each problem paired
    with the question it is about. Checking answer by answer would refuse `home = "gcp"`
    before the gcp.project given beside it was applied."""
    problems: list[tuple[Question, str]] = []
    for question in QUESTIONS:
        if question.key not in answers:
            continue
        answer = answers[question.key]
        if not answer.strip():
            if not question.optional:
                problems.append((question, "an answer is needed"))
            continue
        try:
            draft = apply_answer(draft, question, answer, starter=True)
        except ValueError as exc:
            problems.append((question, str(exc)))
    if problems:
        return draft, problems
    from pilot_tui.config.validate import check_text

    for problem in check_text(draft).report.errors:
        for question in QUESTIONS:
            prefix = tuple(parse_key(question.key))
            if question.key in answers and (
                problem.path[: len(prefix)] == prefix or problem.key.startswith(question.key)
            ):
                problems.append((question, problem.message + _missing(problem.message, answers)))
                break
    return draft, problems


def _missing(message: str, answers: Answers) -> str:
    """Name the flag that answers a key a message says is needed (`needs gcp.project`)."""
    wanted = [q.flag for q in QUESTIONS if q.key not in answers and f"needs {q.key}" in message]
    return f" (answer it with {', '.join(wanted)})" if wanted else ""
