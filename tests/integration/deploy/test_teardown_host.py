"""`server destroy` with `home = "host"` (the team's own Docker host; here the private
engine): no server to provision, but the apps' containers and the proxy Pilot made there
are listed, removed, and nothing of the project is left (it used to stop at "there is no
server to provision", and only `app destroy`, app by app, removed anything)."""

from __future__ import annotations

import contextlib
import tomllib

import docker

from pilot_tui.naming import image_repository


def test_server_destroy_on_a_host_removes_the_projects_containers(site, cli, docker_engine):
    assert site  # the project, its proxy port
    assert cli("deploy", "hello").code == 0
    client = docker.DockerClient(base_url=docker_engine.url)
    try:
        assert client.containers.list(all=True, filters={"label": "pilot.project"})
        project = tomllib.loads((site[0] / "pilot.toml").read_text())["project"]["name"]
        repository = image_repository(project, "hello")
        [built] = client.images.list(name=repository)  # built on this engine ...
        # ... saying whose it is: the guard of a neighbour's same-named repository reads it
        assert (built.labels["pilot.project"], built.labels["pilot.app"]) == (project, "hello")
        # an image of no app of the project (the tests' base): it stays
        [other, *_] = [
            i for i in client.images.list() if i.tags and not i.tags[0].startswith(repository)
        ]
        gone = cli("server", "destroy", "--yes")
        assert gone.code == 0, gone.out + gone.err
        assert "container pilot-proxy" in gone.out  # listed before it went
        # (walk: the app's images were left behind "What remains: nothing")
        assert f"Docker images {repository}" in gone.out[: gone.out.index("What remains")]
        assert f"removed Docker images {repository}" in gone.err, gone.err
        assert "What remains: nothing." in gone.out
        assert client.images.list(name=repository) == []
        assert client.images.get(other.id)
        assert client.containers.list(all=True, filters={"label": "pilot.project"}) == []
        assert not [c for c in client.containers.list(all=True) if c.name == "pilot-proxy"]
        status = cli("status", "--json")
        assert '"v1"' not in status.out  # nothing is recorded live any more
    finally:
        client.close()


def test_server_destroy_removes_the_private_app_network_after_the_containers(
    site, cli, docker_engine
):
    """The `pilot` network the apps and the proxy join is Pilot's too: listed, removed once
    the containers on it are gone, and looked for by the final "What remains" scan."""
    from pilot_tui.deploy.targets.docker_host.containers import NETWORK

    assert site
    assert cli("deploy", "hello").code == 0
    client = docker.DockerClient(base_url=docker_engine.url)
    try:
        assert client.networks.list(names=[NETWORK])  # the deploy made it
        gone = cli("server", "destroy", "--yes")
        assert gone.code == 0, gone.out + gone.err
        listed = gone.out[: gone.out.index("What remains")]  # the list confirmed
        assert f"Docker network {NETWORK}" in listed, gone.out
        # After the containers: the proxy's removal is said before the network's.
        assert gone.err.index("removed container pilot-proxy") < gone.err.index(
            f"removed Docker network {NETWORK}"
        ), gone.err
        assert "What remains: nothing." in gone.out
        assert [n.name for n in client.networks.list(names=[NETWORK])] == []
    finally:
        client.close()


def test_server_destroy_removes_the_edges_certificate_volume(site, cli, docker_engine):
    """The edge keeps its certificates and ACME account in a named volume: Pilot's too,
    listed and removed with the proxy (a volume left behind would hold an account key)."""
    from pilot_tui.deploy.targets.docker_host.proxy import DATA_VOLUME

    assert site
    assert cli("deploy", "hello").code == 0
    client = docker.DockerClient(base_url=docker_engine.url)
    try:
        assert [v.name for v in client.volumes.list(filters={"name": DATA_VOLUME})] == [DATA_VOLUME]
        gone = cli("server", "destroy", "--yes")
        assert gone.code == 0, gone.out + gone.err
        listed = gone.out[: gone.out.index("What remains")]
        assert f"Docker volume {DATA_VOLUME}" in listed, gone.out
        assert f"removed Docker volume {DATA_VOLUME}" in gone.err, gone.err
        assert "What remains: nothing." in gone.out
        assert client.volumes.list(filters={"name": DATA_VOLUME}) == []
    finally:
        client.close()


# The image tests below name their projects "tear" and "tear-blog", not "acme": the engine
# is shared with the other test files, whose "acme" images (labelled so) would be found.


def test_images_of_another_project_of_the_same_repository_name_are_left(docker_client):
    """Review: project "tear"'s app "blog-web" and project "tear-blog"'s app "web" both
    build pilot/tear-blog-web: tear's destroy would have taken tear-blog's images (its
    rollbacks'). One whose containers run from that repository is another project's."""
    from pilot_tui.teardown.scan import Scan
    from pilot_tui.teardown.things import DOCKER_IMAGE

    [base, *_] = _unlabelled(docker_client)  # as built before images were labelled
    base.tag("pilot/tear-blog-web", "1")
    base.tag("pilot/tear-api", "1")
    container = docker_client.containers.create(
        base.id, labels={"pilot.project": "tear-blog", "pilot.app": "web"}, name="tear-blog-web"
    )
    try:
        found, _ = Scan("tear", apps=("blog-web", "api"), docker=docker_client).run()
        images = [t.name for t in found if t.kind == DOCKER_IMAGE]
        assert images == ["pilot/tear-api"]  # its own, never the neighbour's
    finally:
        container.remove(force=True)
        docker_client.images.remove("pilot/tear-blog-web:1")
        docker_client.images.remove("pilot/tear-api:1")


def _unlabelled(docker_client) -> list:
    """The engine's tagged images that say no project (a test's base images)."""
    return [i for i in docker_client.images.list() if i.tags and "pilot.project" not in i.labels]


def _labelled(docker_client, tag: str, project: str, app: str) -> str:
    """An image tagged ``tag`` labelled as Pilot labels the images it builds."""
    import io

    from pilot_tui.naming import image_labels

    [base, *_] = _unlabelled(docker_client)
    dockerfile = f"FROM {base.tags[0]}\n".encode()
    repository, _, version = tag.rpartition(":")
    image, _ = docker_client.images.build(
        fileobj=io.BytesIO(dockerfile), labels=image_labels(project, app), rm=True
    )
    image.tag(repository, version)
    return tag


def test_a_neighbours_image_without_a_container_is_known_by_its_label(docker_client, tmp_path):
    """Review leftover: the guard above knew another project only by its containers, so a
    neighbour whose images stayed (its rollbacks') with no container left lost them to
    tear's destroy. Images now say whose they are (naming.image_labels): tear's destroy
    lists and removes only its own tags of the shared repository name."""
    from pilot_tui.config.validate import check_text
    from pilot_tui.teardown.remove import Teardown
    from pilot_tui.teardown.scan import Scan
    from pilot_tui.teardown.things import DOCKER_IMAGE

    theirs = _labelled(docker_client, "pilot/tear-blog-web:1", "tear-blog", "web")
    only_theirs = _labelled(docker_client, "pilot/tear-blog-web--pr-2:1", "tear-blog", "web--pr-2")
    mine = _labelled(docker_client, "pilot/tear-blog-web:2", "tear", "blog-web")
    try:
        scan = Scan("tear", apps=("blog-web",), docker=docker_client)
        found, problems = scan.run()
        assert problems == []
        images = [(t.name, t.found) for t in found if t.kind == DOCKER_IMAGE]
        assert images == [("pilot/tear-blog-web", "1 image of the app built on this engine")]
        config = check_text('[project]\nname = "tear"\n').config
        assert config is not None
        said: list[str] = []
        Teardown(config, tmp_path, scan).remove_containers(found, said.append)
        assert "removed Docker images pilot/tear-blog-web (1)" in said, said
        remaining = {t for image in docker_client.images.list() for t in image.tags}
        assert mine not in remaining
        assert {theirs, only_theirs} <= remaining
    finally:
        for tag in (theirs, only_theirs, mine):
            with contextlib.suppress(docker.errors.ImageNotFound):
                docker_client.images.remove(tag)


def test_a_neighbours_unlabelled_rollback_image_beside_tears_labelled_one_is_left(
    docker_client, tmp_path
):
    """Review: tear-blog's old releases, built before images were labelled, in the
    repository tear's newer, labelled build shares: the scan counted tear's alone, but
    the removal took every tag of the repository but one a container ran from, so
    tear-blog's rollback image went. The removal now takes exactly what the scan found.
    An image of an app since taken out of pilot.toml is found by its label."""
    from pilot_tui.config.validate import check_text
    from pilot_tui.teardown.remove import Teardown
    from pilot_tui.teardown.scan import Scan
    from pilot_tui.teardown.things import DOCKER_IMAGE

    [base, *_] = _unlabelled(docker_client)
    base.tag("pilot/tear-blog-web", "0")  # tear-blog's rollback image: no container
    base.tag("pilot/tear-blog-web", "1")  # ... and its live one
    running = docker_client.containers.create(
        "pilot/tear-blog-web:1",
        labels={"pilot.project": "tear-blog", "pilot.app": "web"},
        name="tear-blog-web-live",
    )
    mine = _labelled(docker_client, "pilot/tear-blog-web:2", "tear", "blog-web")
    dropped = _labelled(docker_client, "pilot/tear-old:1", "tear", "old")  # no longer an app
    try:
        scan = Scan("tear", apps=("blog-web",), docker=docker_client)
        found, _ = scan.run()
        config = check_text('[project]\nname = "tear"\n').config
        assert config is not None
        said: list[str] = []
        Teardown(config, tmp_path, scan).remove_containers(found, said.append)
        remaining = {t for image in docker_client.images.list() for t in image.tags}
        assert {"pilot/tear-blog-web:0", "pilot/tear-blog-web:1"} <= remaining, said
        assert mine not in remaining
        images = sorted((t.name, t.found) for t in found if t.kind == DOCKER_IMAGE)
        one = "1 image of the app built on this engine"
        assert images == [("pilot/tear-blog-web", one), ("pilot/tear-old", one)]
        assert dropped not in remaining
    finally:
        running.remove(force=True)
        for tag in ("pilot/tear-blog-web:0", "pilot/tear-blog-web:1", mine, dropped):
            with contextlib.suppress(docker.errors.ImageNotFound):
                docker_client.images.remove(tag)
