"""The empty cluster drills and restores start from (pilot_tui/data/templates.py), on a real
PostgreSQL 15 (Debian's, in the image tests/support/databases.py builds) on the tests'
private dockerd: made once by the image's own first start, copied into each new volume,
made again for another image or after a run cut short, never taken from another database,
skipped while another run makes it, named when broken, and listed by `server destroy`."""

from __future__ import annotations

import contextlib

import docker
import pytest

from pilot_tui.config.validate import check_file
from pilot_tui.data import backups, docker_db, restore, templates
from pilot_tui.data.kinds import kind_for
from pilot_tui.data.stores import LocalStore

DATABASE = '\n[[databases]]\nname = "main"\nversion = 15\n'
SEED = (
    "create table items (id serial primary key, name text); "
    "insert into items (name) select 'item ' || g from generate_series(1, 300) g;"
)


@pytest.fixture
def backed_up(engine_project, docker_client, data_image, monkeypatch):
    """Database main running with 300 rows and one backup in .pilot/backups: (kind, store)."""
    monkeypatch.setenv("PILOT_POSTGRES_IMAGE", data_image)
    root, _, _ = engine_project
    toml = root / "pilot.toml"
    toml.write_text(toml.read_text() + DATABASE)
    config = check_file(toml).config
    assert config is not None
    kind = kind_for(config.project.name, config.databases[0])
    docker_db.ensure(docker_client, kind, root / ".pilot", lambda _line: None)
    live = docker_client.containers.get(kind.container)
    seeded = live.exec_run(["psql", "-X", "-v", "ON_ERROR_STOP=1", "-U", "main", "-c", SEED])
    assert seeded.exit_code == 0, seeded.output
    store = LocalStore(root / ".pilot" / "backups")
    backups.take(docker_client, kind, store, keep=5, say=lambda _line: None)
    return kind, store


def _drill(docker_client, kind, store) -> tuple[backups.DrillRecord, list[str]]:
    said: list[str] = []
    return restore.drill(docker_client, kind, store, None, said.append), said


def test_drills_start_from_one_template_made_once_by_the_image(backed_up, docker_client):
    kind, store = backed_up
    first, said = _drill(docker_client, kind, store)
    assert first.ok, first.detail
    assert any("making an empty postgres 15 database main" in line for line in said), said
    name = templates.name_of(kind)
    volume = docker_client.volumes.get(name)
    labels = volume.attrs["Labels"]
    image = docker_client.images.get(kind.image).id
    assert labels["pilot.role"] == "database-template" and labels[templates.IMAGE] == image
    assert (labels["pilot.project"], labels["pilot.database"]) == (kind.project, "main")
    # Nothing of its making is left running; the drill's own volume is gone.
    assert not docker_client.containers.list(all=True, filters={"name": f"{name}-make"})
    assert f"{kind.container}-drill" not in {v.name for v in docker_client.volumes.list()}

    # Whole: made by a clean stop, then marked ready.
    listed = docker_client.containers.run(
        kind.image,
        entrypoint=["ls", "/t"],
        volumes={name: {"bind": "/t", "mode": "ro"}},
        remove=True,
    )
    assert listed.decode().split() == ["pgdata", templates.READY]

    second, said = _drill(docker_client, kind, store)
    assert second.ok and "300 rows" in second.detail, second.detail
    assert not any("making an empty" in line for line in said), said
    assert f"started from the empty cluster in volume {name}" in said
    assert docker_client.volumes.get(name).id == volume.id


def _template_labels(kind, docker_client) -> dict[str, str]:
    image = docker_client.images.get(kind.image).id
    return {**kind.labels(), "pilot.role": templates.ROLE, templates.IMAGE: image}


def test_an_unfinished_template_is_not_copied_and_is_made_again(backed_up, docker_client):
    """A template without its ready mark (a making cut short between its volume and its
    container): the drill starts as a first start, passes, and removes it; the next drill
    makes it again."""
    kind, store = backed_up
    name = templates.name_of(kind)
    docker_client.volumes.create(name, labels=_template_labels(kind, docker_client))
    drilled, said = _drill(docker_client, kind, store)
    assert drilled.ok, drilled.detail
    assert f"volume {name} was not finished: it is made again next time" in said
    assert name not in {v.name for v in docker_client.volumes.list()}
    again, said = _drill(docker_client, kind, store)
    assert again.ok and any("making an empty" in line for line in said), said


def test_a_template_of_another_image_or_cut_short_is_made_again(backed_up, docker_client):
    kind, store = backed_up
    name = templates.name_of(kind)
    stale = {**kind.labels(), "pilot.role": templates.ROLE, templates.IMAGE: "sha256:older"}
    docker_client.volumes.create(name, labels=stale)  # empty: its image is not this one
    drilled, said = _drill(docker_client, kind, store)
    assert drilled.ok, drilled.detail
    assert any("making an empty" in line for line in said), said
    image = docker_client.images.get(kind.image).id
    assert docker_client.volumes.get(name).attrs["Labels"][templates.IMAGE] == image

    # A making cut short (its container left, never started): both go, it is made again.
    docker_client.containers.create(
        kind.image,
        name=f"{name}-make",
        command=["true"],
        labels=_template_labels(kind, docker_client),
    )
    said = []
    assert templates.ensure(docker_client, kind, said.append) == name
    assert any("making an empty" in line for line in said), said
    assert not docker_client.containers.list(all=True, filters={"name": f"{name}-make"})


def test_another_databases_volume_or_a_making_under_way_is_left_alone(
    backed_up, docker_client, monkeypatch
):
    kind, store = backed_up
    name = templates.name_of(kind)
    theirs = {"pilot.project": kind.project, "pilot.database": "other", "pilot.role": "x"}
    docker_client.volumes.create(name, labels=theirs)
    drilled, said = _drill(docker_client, kind, store)  # a first start, as before templates
    assert drilled.ok, drilled.detail
    assert not any("making an empty" in line for line in said), said
    assert docker_client.volumes.get(name).attrs["Labels"] == theirs
    docker_client.volumes.get(name).remove()

    busy = docker_client.containers.run(
        kind.image,
        name=f"{name}-make",
        entrypoint=["sleep", "60"],
        labels=_template_labels(kind, docker_client),
        detach=True,
    )
    try:
        assert templates.ensure(docker_client, kind, lambda _line: None) is None
        drilled, _ = _drill(docker_client, kind, store)
        assert drilled.ok, drilled.detail
        assert docker_client.containers.get(busy.id).status == "running"
        # Running for longer than any making takes: a killed run's; removed, made again.
        monkeypatch.setattr(templates, "ABANDONED_SECONDS", 0)
        said: list[str] = []
        assert templates.ensure(docker_client, kind, said.append) == name
        assert any("making an empty" in line for line in said), said
        assert busy.id not in {c.id for c in docker_client.containers.list(all=True)}
    finally:
        with contextlib.suppress(docker.errors.NotFound):
            busy.remove(force=True)


def test_a_broken_template_is_named_and_the_live_database_untouched(backed_up, docker_client):
    kind, store = backed_up
    assert _drill(docker_client, kind, store)[0].ok
    name = templates.name_of(kind)
    docker_client.containers.run(
        kind.image,
        entrypoint=["rm", "-f", "/t/pgdata/PG_VERSION"],
        volumes={name: {"bind": "/t", "mode": "rw"}},
        remove=True,
    )
    record = backups.records(store, "main")[-1]
    new = kind.at(2)
    with pytest.raises(backups.BackupError, match=r"check container .* stopped") as failed:
        restore.check_into(
            docker_client,
            new,
            new.volume,
            new.labels(),
            "pw",
            record,
            store,
            lambda _line: None,
            from_template=True,
        )
    logs = "\n".join(failed.value.logs)
    assert f"could not copy the empty cluster in volume {name}" in logs, logs
    assert f"docker volume rm {name}" in logs
    assert new.volume not in {v.name for v in docker_client.volumes.list()}
    live = docker_client.containers.get(kind.container)
    assert live.status == "running"


def test_server_destroy_lists_and_removes_the_template(backed_up, docker_client, cli):
    kind, store = backed_up
    assert _drill(docker_client, kind, store)[0].ok
    name = templates.name_of(kind)
    gone = cli("server", "destroy", "--yes", "--drop-database", "main")
    assert gone.code == 0, gone.out + gone.err
    listed = gone.out[: gone.out.index("What remains")]
    assert f"Docker volume {name}" in listed and "no data" in listed, gone.out
    assert f"removed Docker volume {name}" in gone.err, gone.err
    assert "What remains: nothing." in gone.out
    assert name not in {v.name for v in docker_client.volumes.list()}
