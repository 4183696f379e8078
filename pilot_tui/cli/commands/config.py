"""`pilot-tui config validate|show|schema|reference|path|get|set|unset`."""

from __future__ import annotations

from pilot_tui.cli.commands import Commands, add_actions, add_command, lazy

HANDLERS = "pilot_tui.cli.config_cmds"


def register(commands: Commands) -> None:
    config = add_command(
        commands,
        "config",
        "validate, show and change pilot.toml",
        None,
        "Check, show and change pilot.toml. Changes keep your comments and layout,\n"
        "are validated first and written atomically.",
    )
    cfg = add_actions(config, "config_command")
    validate = add_command(
        cfg,
        "validate",
        "check pilot.toml; list every problem",
        lazy(HANDLERS, "validate"),
        "Check pilot.toml and list every problem, one per line:\n"
        "  FILE:LINE:COL: dotted.key: what is wrong (did you mean ...?)\n"
        "Exit 0 when valid (warnings allowed), 2 when not.",
    )
    validate.add_argument("--json", action="store_true", help="print the problems as JSON")
    show = add_command(
        cfg,
        "show",
        "print the effective configuration, defaults included",
        lazy(HANDLERS, "show"),
    )
    show.add_argument("--json", action="store_true", help="print JSON instead of TOML")
    add_command(
        cfg,
        "schema",
        "print the JSON Schema of pilot.toml (for editors)",
        lazy(HANDLERS, "schema"),
    )
    add_command(
        cfg, "reference", "print the Markdown reference of every key", lazy(HANDLERS, "reference")
    )
    add_command(cfg, "path", "print where pilot.toml is", lazy(HANDLERS, "path"))
    get = add_command(
        cfg,
        "get",
        "print one value (defaults included)",
        lazy(HANDLERS, "get"),
        "Print the effective value of a dotted key, e.g. aws.region,\n"
        "apps.api.target.kind or apps[0].name. Strings print bare; tables as TOML.",
    )
    get.add_argument("key", metavar="KEY")
    get.add_argument("--json", action="store_true", help="print the value as JSON")
    _register_changes(cfg)


def _register_changes(cfg: Commands) -> None:
    """`config set` and `config unset`: the actions that write pilot.toml."""
    set_ = add_command(
        cfg,
        "set",
        "change one value, keeping everything else as written",
        lazy(HANDLERS, "set_"),
        "Set a dotted key to a value. VALUE is read as TOML: '\"eu-west-1\"', 8080,\n"
        "true, '[\"203.0.113.7/32\"]', '{ kind = \"static\" }'; text that is not TOML\n"
        "is taken as a string. The result is validated before anything is written.",
    )
    set_.add_argument("key", metavar="KEY")
    set_.add_argument("value", metavar="VALUE")
    unset = add_command(
        cfg, "unset", "remove one key (its default applies again)", lazy(HANDLERS, "unset")
    )
    unset.add_argument("key", metavar="KEY")
