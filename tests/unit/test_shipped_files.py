"""What of an app's folder may leave this machine, as data: the build context, a static
site's files and a zip Lambda never carry Pilot's state directory, VCS folders or a key file
Pilot knows of, whatever .dockerignore says, and never follow a link out of the app folder
(issue 11, items 1 and 2). The image built from such a context is checked on the private
dockerd in tests/integration/deploy/test_no_leaks.py; a site deployed to moto in
tests/integration/server/test_site_leaks.py."""

from __future__ import annotations

import io
import os
import tarfile
import zipfile
from pathlib import Path
from types import SimpleNamespace

from pilot_tui.deploy.build.buildpacks import pack_command, pack_source
from pilot_tui.deploy.build.packing import context_files, pack
from pilot_tui.deploy.build.recipe import GENERATED, Recipe, recipe_for
from pilot_tui.deploy.build.site_files import scan
from pilot_tui.deploy.targets.lambda_.function import zip_folder
from pilot_tui.naming import image_labels

CREDENTIALS = "aws_secret_access_key = LEAKED-7c1f0e"


def _app(path: str, kind: str = "dockerfile") -> SimpleNamespace:
    return SimpleNamespace(
        name="web",
        path=path,
        build=SimpleNamespace(
            kind=kind, dockerfile="Dockerfile", args={}, output=".", command=None
        ),
    )


def _write(root: Path, files: dict[str, str]) -> None:
    for name, text in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text)


def _tar_names(recipe: Recipe) -> list[str]:
    context = pack(recipe)[0]
    with context, tarfile.open(fileobj=context) as tar:
        return sorted(tar.getnames())


def _project(tmp_path: Path) -> Path:
    """A project whose app sits at its root (`path = "."`), with everything that must stay."""
    root = tmp_path / "acme"
    _write(
        root,
        {
            "pilot.toml": '[project]\nname = "acme"\n',
            "Dockerfile": "FROM scratch\nCOPY . /app\n",
            "index.html": "<h1>hi</h1>",
            ".pilot/keys/server_ed25519": "-----BEGIN OPENSSH PRIVATE KEY-----",
            ".pilot/keys/aws-deployer.json": '{"secret": "x"}',
            ".pilot/secrets/web.env": "API_TOKEN=tok-1",
            ".pilot/terraform/sandbox/terraform.tfstate": "{}",
            ".git/config": "[core]",
            ".git/HEAD": "ref: refs/heads/main",
            ".hg/store/data": "x",
            ".svn/entries": "x",
            "vendor/lib/.git": "gitdir: ../../.git/modules/lib",  # a submodule's .git file
            "vendor/lib/lib.js": "export {}",
            "tools/pilot.toml": '[project]\nname = "tools"\n',  # a nested project's own state
            "tools/.pilot/keys/server_ed25519": "-----BEGIN OPENSSH PRIVATE KEY-----",
            # A .dockerignore that re-includes everything it can: it must not matter.
            ".dockerignore": "!.pilot\n!.pilot/**\n!.git\n!.git/**\n!.hg\n!.svn\n",
        },
    )
    return root


def test_the_context_never_carries_state_vcs_or_keys_whatever_dockerignore_says(tmp_path):
    root = _project(tmp_path)
    names = _tar_names(recipe_for(_app("."), root))
    assert names == [
        ".dockerignore",
        "Dockerfile",
        "index.html",
        "pilot.toml",
        "tools",
        "tools/pilot.toml",
        "vendor",
        "vendor/lib",
        "vendor/lib/lib.js",
    ]


def test_dockerignore_still_applies_to_everything_else(tmp_path):
    root = _project(tmp_path)
    _write(
        root,
        {
            "node_modules/a/index.js": "x",
            "node_modules/keep/README": "x",
            ".dockerignore": "node_modules\n!node_modules/keep/README\n*.md\n",
            "NOTES.md": "x",
        },
    )
    names = _tar_names(recipe_for(_app("."), root))
    assert "node_modules/a/index.js" not in names and "NOTES.md" not in names
    assert "node_modules/keep/README" in names and "Dockerfile" in names
    assert not any(n.startswith((".pilot", ".git", "tools/.pilot")) for n in names)


def _links(tmp_path: Path) -> Path:
    """An app folder `web/` in a project, with links out of it and one inside it."""
    root = _project(tmp_path)
    outside = tmp_path / "outside"
    _write(outside, {"credentials": CREDENTIALS, "more/secret.txt": CREDENTIALS})
    web = root / "web"
    _write(web, {"Dockerfile": "FROM scratch\nCOPY . /app\n", "index.html": "<h1>web</h1>"})
    os.symlink(outside / "credentials", web / "leak.txt")  # absolute, out of the project
    os.symlink("../../outside/more", web / "more")  # a folder out of the project
    os.symlink("../pilot.toml", web / "up.toml")  # out of the app folder, in the project
    os.symlink("index.html", web / "alias.html")  # inside: kept
    os.symlink("missing", web / "dangling")  # inside, pointing nowhere: kept as a link
    return root


def test_the_context_skips_links_out_of_the_app_folder(tmp_path):
    root = _links(tmp_path)
    recipe = recipe_for(_app("web"), root)
    assert _tar_names(recipe) == ["Dockerfile", "alias.html", "dangling", "index.html"]
    shipped = context_files(recipe)
    assert [s.path for s in shipped.skipped] == ["leak.txt", "more", "up.toml"]
    message = shipped.skipped[0].message()
    assert "leak.txt" in message and str(tmp_path / "outside" / "credentials") in message


def test_a_link_inside_the_folder_to_a_key_is_skipped_too(tmp_path):
    root = _project(tmp_path)
    os.symlink(".pilot/keys/server_ed25519", root / "id_key")
    os.symlink(".git/config", root / "gitconfig")
    recipe = recipe_for(_app("."), root)
    names = _tar_names(recipe)
    assert "id_key" not in names and "gitconfig" not in names
    assert {s.path for s in context_files(recipe).skipped} == {"id_key", "gitconfig"}


def test_the_gcp_key_file_named_in_pilot_toml_is_never_shipped(tmp_path):
    from pilot_tui.deploy.build.shippable import private_paths

    root = _project(tmp_path)
    _write(root, {"keys/acme-pilot.json": '{"private_key": "x"}', "keys/README": "x"})
    config = SimpleNamespace(gcp=SimpleNamespace(credentials="keys/acme-pilot.json"))
    recipe = recipe_for(_app("."), root, private_paths(root, config))
    names = _tar_names(recipe)
    assert "keys/README" in names and "keys/acme-pilot.json" not in names


def test_a_site_scan_never_follows_a_link_out_or_publishes_state(tmp_path):
    root = _links(tmp_path)
    keys = [f.key for f in scan(root / "web")]
    assert keys == ["Dockerfile", "alias.html", "index.html"]  # the link inside is served
    keys = [f.key for f in scan(root)]
    assert not any(k.startswith(("web/leak", "web/more", ".pilot", "tools/.pilot")) for k in keys)
    assert all(CREDENTIALS.encode() not in f.local.read_bytes() for f in scan(root))


def test_a_zip_lambda_never_follows_a_link_out(tmp_path):
    root = _links(tmp_path)
    names = zipfile.ZipFile(io.BytesIO(zip_folder(root / "web"))).namelist()
    assert names == ["Dockerfile", "alias.html", "index.html"]


def test_a_static_site_never_publishes_program_sources(tmp_path):
    # Issue 11 item 29: busybox served /server.py. A static site's files never include the
    # sources of a language Pilot detects; each one left out is named.
    from pilot_tui.deploy.build.site_files import publishable

    site = tmp_path / "site"
    _write(
        site,
        {
            "index.html": "x",
            "app.js": "x",
            "api/server.py": "SECRET_KEY = 'x'",
            "tools/main.go": "package main",
            "tools/go.mod": "module x",
            "requirements.txt": "flask",
            "Pipfile": "[packages]",
        },
    )
    assert [f.key for f in scan(site)] == ["app.js", "index.html"]
    assert {s.path for s in publishable(site).skipped} == {
        "api/server.py",
        "tools/main.go",
        "tools/go.mod",
        "requirements.txt",
        "Pipfile",
    }
    assert any(
        s.message().startswith(
            "warning: skipped api/server.py: python source: a static site never publishes"
        )
        for s in publishable(site).skipped
    )
    # Served from an image (build.kind = "static" on the Pilot Server): the same files.
    recipe = recipe_for(_app("site", kind="static"), tmp_path)
    assert _tar_names(recipe) == [GENERATED, "api", "app.js", "index.html", "tools"]


def test_buildpacks_get_the_same_files_as_a_zip_not_the_folder(tmp_path):
    # `pack build --path FOLDER` would send the whole folder, .pilot/ included: pack gets a
    # zip of what may ship instead. (No `pack` binary exists here: checked as data.)
    from pilot_tui.deploy.build.shippable import private_paths

    root = _project(tmp_path)
    os.symlink(tmp_path / "outside-creds", root / "leak.txt")
    recipe = Recipe(
        root, "", buildpacks="paketobuildpacks/builder-jammy-base", private=private_paths(root)
    )
    (tmp_path / "out").mkdir()
    source = pack_source(recipe, context_files(recipe), tmp_path / "out")
    assert zipfile.ZipFile(source).namelist() == [
        ".dockerignore",
        "Dockerfile",
        "index.html",
        "pilot.toml",
        "tools/pilot.toml",
        "vendor/lib/lib.js",
    ]
    command = pack_command(recipe, "pilot/acme-web:abc", {}, source=source)
    assert command.argv[command.argv.index("--path") + 1] == str(source)
    # and the image says whose it is (teardown tells a neighbour's same-named one by it)
    labelled = pack_command(
        recipe, "pilot/acme-web:abc", {}, source=source, labels=image_labels("acme", "web")
    )
    pairs = [labelled.argv[i + 1] for i, word in enumerate(labelled.argv) if word == "--label"]
    assert pairs == ["pilot=app", "pilot.project=acme", "pilot.app=web"]
