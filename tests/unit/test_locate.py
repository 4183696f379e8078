"""Positions of keys and values, including the TOML shapes that trip naive scanners."""

from __future__ import annotations

import tomllib

from pilot_tui.config.locate import locate

TEXT = '''\
# a comment with [brackets] and key = "value"
[project]
name = "acme"   # x

[server]
allowed_cidrs = [
  "1.2.3.4/32", # a "quoted" comment
  '5.6.7.8/32',
]
"home" = 'aws'
note = """
[not-a-table]
fake = "x"
"""
esc = "a \\" b"
server.nested.deep = 1

[[apps]]
name = "web"
build = { kind = "static", command = "npm run build", output = { x = 1 } }

[[apps]]
name = "api"
[apps.target]
kind = "cloud-run"
[[apps.hooks]]
x = 1

[[apps]]
name = "z"
[[apps.hooks]]
x = 2
'''


def test_positions_match_the_text():
    tomllib.loads(TEXT)  # the scanner only ever sees valid TOML
    found = locate(TEXT)
    lines = TEXT.splitlines()

    def value_at(path):
        pos = found[path]
        return lines[pos.value_line - 1][pos.value_col - 1 :]

    def key_at(path):
        pos = found[path]
        return lines[pos.line - 1][pos.col - 1 :]

    assert value_at(("project", "name")).startswith('"acme"')
    assert value_at(("server", "allowed_cidrs", 0)).startswith('"1.2.3.4/32"')
    assert value_at(("server", "allowed_cidrs", 1)).startswith("'5.6.7.8/32'")
    assert key_at(("server", "home")).startswith('"home"')
    assert value_at(("server", "home")) == "'aws'"
    assert ("not-a-table",) not in found and ("server", "fake") not in found
    assert value_at(("server", "esc")).startswith('"a \\" b"')
    assert key_at(("server", "server", "nested", "deep")) == "deep = 1"
    assert value_at(("apps", 0, "build", "command")).startswith('"npm run build"')
    assert value_at(("apps", 0, "build", "output", "x")) == "1 } }"
    assert found[("apps", 1)].line == 22 and found[("apps", 2)].line == 29
    assert value_at(("apps", 1, "target", "kind")) == '"cloud-run"'
    assert found[("apps", 1, "hooks", 0, "x")].line == 27
    assert found[("apps", 2, "hooks", 0, "x")].line == 32
    assert found[("apps", 2, "hooks", 0)].line == 31  # a new array per app, index 0 again
