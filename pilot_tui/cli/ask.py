"""Ask the core's setup questions with questionary, in a plain terminal (works over SSH)."""

from __future__ import annotations

from typing import Any

from pilot_tui.questions import QUESTIONS, Question, apply_answer, check_answer


def ask_all(draft: str, given: dict[str, str]) -> str | None:
    """Ask every question that applies and was not answered by a flag; None when the input
    ends (Ctrl+D). Ctrl+C raises KeyboardInterrupt, so the command exits as interrupted."""
    answers: dict[str, Any] = dict(given)
    for key, answer in given.items():
        question = next(q for q in QUESTIONS if q.key == key)
        draft = apply_answer(draft, question, answer, starter=True)
    for question in QUESTIONS:
        if question.key in given or not question.when(answers):
            continue
        try:
            reply = _ask(question, draft, _default(question, draft))
        except EOFError:  # Ctrl+D
            return None
        if reply is None:
            return None
        answers[question.key] = reply
        if reply.strip():
            draft = apply_answer(draft, question, reply, starter=True)
    return draft


def _default(question: Question, draft: str) -> str:
    if question.default:
        return question.default
    if question.key == "project.name":
        import tomllib

        return str(tomllib.loads(draft).get("project", {}).get("name", ""))
    return ""


def _ask(question: Question, draft: str, default: str) -> str | None:
    import questionary

    def validate(text: str) -> bool | str:
        return check_answer(draft, question, text) or True

    if question.kind == "select" and len(question.choices) <= 8:
        prompt = questionary.select(
            question.prompt,
            choices=list(question.choices),
            default=default or None,
            instruction=question.help or None,
        )
    elif question.kind == "select":
        # Long lists: type to filter; Enter on an empty line takes the default.
        def validate_or_default(text: str) -> bool | str:
            return validate(text or default)

        prompt = questionary.autocomplete(
            f"{question.prompt} (type to search; Enter for {default})",
            choices=list(question.choices),
            validate=validate_or_default,
            match_middle=True,
        )
        answer = prompt.unsafe_ask()  # unsafe: Ctrl+C raises instead of returning None
        return answer or default if answer is not None else None
    else:
        prompt = questionary.text(
            question.prompt, default=default, validate=validate, instruction=question.help or None
        )
    return prompt.unsafe_ask()
