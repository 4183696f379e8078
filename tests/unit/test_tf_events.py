"""The -json event parser, on streams captured from real Terraform 1.0.3 runs against the
sandbox (tests/fixtures/tf/*.jsonl)."""

from __future__ import annotations

from pilot_tui.provision.terraform_run import RunResult
from pilot_tui.provision.tf.events import (
    ApplyComplete,
    ApplyErrored,
    ApplyStart,
    ChangeSummary,
    Diagnostic,
    LogLine,
    Outputs,
    PlannedChange,
    Version,
    parse_line,
)
from tests.support.paths import TESTS

FIXTURES = TESTS / "fixtures" / "tf"


def events(name: str) -> list:
    lines = (FIXTURES / name).read_text().splitlines()
    return [e for e in map(parse_line, lines) if e is not None]


def of(kind, evs):
    return [e for e in evs if isinstance(e, kind)]


def test_plan_stream():
    evs = events("plan-create.jsonl")
    assert of(Version, evs)[0].terraform == "1.0.3"
    planned = of(PlannedChange, evs)
    assert len(planned) == 9 and {p.action for p in planned} == {"create"}
    assert "aws_instance.server" in {p.address for p in planned}
    assert of(ChangeSummary, evs) == [ChangeSummary(9, 0, 0, "plan")]


def test_apply_stream():
    evs = events("apply-create.jsonl")
    started = {e.address for e in of(ApplyStart, evs)}
    done = of(ApplyComplete, evs)
    assert {e.address for e in done} == started and len(done) == 9
    instance = next(e for e in done if e.address == "aws_instance.server")
    assert instance.action == "create" and instance.id_value.startswith("i-")
    assert of(ChangeSummary, evs)[-1] == ChangeSummary(9, 0, 0, "apply")
    outputs = of(Outputs, evs)[-1].values
    assert outputs["ssh_user"] == "ubuntu" and outputs["open_ports"] == [22]


def test_failed_apply_stream():
    evs = events("apply-failed.jsonl")
    assert [e.address for e in of(ApplyErrored, evs)] == ["aws_instance.server"]
    (diag,) = [d for d in of(Diagnostic, evs) if d.severity == "error"]
    assert "t3.bogus" in diag.summary + diag.detail
    assert diag.address == "aws_instance.server"
    assert diag.filename == "main.tf" and diag.line > 0


def test_interrupted_apply_stream():
    evs = events("apply-interrupted.jsonl")
    assert any(d.summary == "execution halted" for d in of(Diagnostic, evs))
    assert len(of(ApplyComplete, evs)) < 9


def test_destroy_stream():
    evs = events("destroy.jsonl")
    assert {e.action for e in of(ApplyComplete, evs)} == {"delete"}
    # Applying a saved destroy plan reports itself as an apply that removes everything.
    assert of(ChangeSummary, evs)[-1] == ChangeSummary(0, 0, 9, "apply")


def test_unknown_and_plain_lines_are_kept_as_log_lines():
    assert parse_line("") is None
    assert parse_line("Initializing provider plugins...") == LogLine(
        "info", "Initializing provider plugins..."
    )
    assert parse_line('{"type":"something_new","@level":"warn","@message":"hi"}') == LogLine(
        "warn", "hi"
    )
    assert parse_line("{not json") == LogLine("info", "{not json")


def test_drift_is_said_in_words_that_fit_no_changes():
    # Issue 11 item 33: "Drift detected" in the log next to "No changes" read like a problem.
    line = (
        '{"@level":"info","@message":"aws_instance.server: Drift detected (update)",'
        '"type":"resource_drift","change":{"resource":{"addr":"aws_instance.server"},'
        '"action":"update"}}'
    )
    event = parse_line(line)
    assert isinstance(event, LogLine)
    assert event.message.startswith("aws_instance.server: reads back differently")
    assert "Drift detected" not in event.message


def folded(lines: list[str]) -> RunResult:
    result = RunResult(0)
    for event in filter(None, map(parse_line, lines)):
        result.record(event)
    return result


def test_a_run_keeps_the_outputs_its_apply_reported():
    result = folded((FIXTURES / "apply-create.jsonl").read_text().splitlines())
    assert result.outputs is not None and result.outputs.values["ssh_user"] == "ubuntu"


def test_only_a_plan_that_plans_nothing_changes_nothing():
    create = folded((FIXTURES / "plan-create.jsonl").read_text().splitlines())
    assert len(create.planned) == 9 and not create.changes_nothing
    summary = (
        '{"type":"change_summary","changes":{"add":0,"change":0,"remove":0,"operation":"plan"}}'
    )
    assert folded([summary]).changes_nothing
    # A data source read at apply time is a change too, though the summary counts none.
    read = (
        '{"type":"planned_change","change":{"resource":{"addr":"data.aws_ami.ubuntu",'
        '"resource_type":"aws_ami"},"action":"read"}}'
    )
    assert not folded([read, summary]).changes_nothing
    assert not folded([]).changes_nothing  # no summary: the plan said nothing, so unknown
    failed = folded([summary])
    failed.code = 1
    assert not failed.changes_nothing


# Terraform 1.11's plan stream (captured): an output's new value is a change only an apply
# records. Terraform 1.0.3 (the sandbox's) sends no `outputs` message with a plan.
OUTPUTS_CHANGE = (
    '{"@level":"info","@message":"Outputs: 2","@module":"terraform.ui","outputs":{"x":'
    '{"sensitive":false,"action":"update"},"y":{"sensitive":false,"action":"create"}},'
    '"type":"outputs"}'
)
OUTPUTS_SAME = (
    '{"@level":"info","@message":"Outputs: 2","@module":"terraform.ui","outputs":{"x":'
    '{"sensitive":false,"action":"noop"},"y":{"sensitive":false,"action":"noop"}},'
    '"type":"outputs"}'
)


def test_a_plan_that_changes_only_outputs_changes_something():
    """Reported: a plan changing outputs alone was taken for a converged one, so `server up`
    never applied and the saved outputs stayed stale."""
    summary = (
        '{"type":"change_summary","changes":{"add":0,"change":0,"remove":0,"operation":"plan"}}'
    )
    changed = folded([summary, OUTPUTS_CHANGE])
    assert changed.outputs_changing == ["x", "y"] and not changed.changes_nothing
    same = folded([summary, OUTPUTS_SAME])
    assert same.outputs_changing == [] and same.changes_nothing
    assert same.outputs is not None and same.outputs.values == {"x": None, "y": None}


def test_the_plan_table_says_outputs_only_are_applied_without_asking():
    from pilot_tui.cli.server_cmds import _table
    from pilot_tui.provision.terraform_run import Plan

    assert "No changes" in _table(Plan([], None, []))
    told = _table(Plan([], None, [], outputs=["docker_host"]))
    assert "No resource changes" in told and "docker_host" in told


def test_inits_advice_to_commit_its_lock_file_is_not_shown():
    """Found walking: the app's log asked the person to commit .terraform.lock.hcl, which
    is Pilot's own, in the git-ignored .pilot/."""
    from pilot_tui.provision.server import _LockFileAdvice

    said = [
        "Initializing provider plugins...",
        "Terraform has created a lock file .terraform.lock.hcl to record the provider",
        "selections it made above. Include this file in your version control repository",
        "so that Terraform can guarantee to make the same selections by default when",
        'you run "terraform init" in the future.',
        "",
        "Terraform has been successfully initialized!",
    ]
    advice = _LockFileAdvice()
    shown = [line for line in said if not advice.swallows(line)]
    assert shown == [
        "Initializing provider plugins...",
        "Terraform has been successfully initialized!",
    ]
