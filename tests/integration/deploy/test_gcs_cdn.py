"""Cloud CDN in front of a GCS static site (gcs-cdn outside the sandbox).

Compute Engine (backend bucket, URL map, address, certificate, proxy, forwarding rule) and
GCS's IAM endpoint have no emulator here, so their requests are checked as data and sent
through FakeCompute, a recording fake transport. The bucket and its files go to the real
GCS emulator, as in tests/integration/server/test_static_sites.py."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from pilot_tui.cloud import clients
from pilot_tui.cloud.clients import emulator_gcs
from pilot_tui.cloud.gcp_api import ApiError, ApiRequest
from pilot_tui.cloud.sandbox import Sandbox
from pilot_tui.config.schema import AppSettings, GcsCdnTarget, StaticBuild
from pilot_tui.deploy.targets.gcs_site import cdn as gcs_cdn
from pilot_tui.deploy.targets.gcs_site.bucket import GcsSite
from pilot_tui.deploy.targets.gcs_site.cdn import COMPUTE, Cdn, delete_requests, insert_requests
from pilot_tui.deploy.targets.gcs_site.target import GcsCdn
from tests.conftest import RecordingLog

GLOBAL = f"{COMPUTE}/projects/acme-prod/global"
IP = "34.120.7.8"


class FakeCompute:
    """A recording fake transport for Compute Engine and the GCS IAM endpoint (no emulator
    exists for either): creates answer 409 when the name exists, operations are RUNNING
    until polled once, addresses get IP."""

    def __init__(self) -> None:
        self.calls: list[ApiRequest] = []
        self.made: dict[str, dict] = {}
        self.policy: dict = {
            "bindings": [
                {"role": "roles/storage.legacyBucketOwner", "members": ["projectOwner:acme-prod"]}
            ]
        }

    def sent(self) -> list[str]:
        """Method and path of each call, operation polls left out."""
        return [
            f"{c.method} {c.url.removeprefix(GLOBAL + '/')}"
            for c in self.calls
            if "/operations/" not in c.url
        ]

    @staticmethod
    def _operation(done: bool = False) -> dict:
        return {
            "kind": "compute#operation",
            "name": "operation-1",
            "status": "DONE" if done else "RUNNING",
            "selfLink": f"{GLOBAL}/operations/operation-1",
        }

    def __call__(self, request: ApiRequest) -> dict:
        self.calls.append(request)
        url = request.url
        if url.endswith("/iam"):
            if request.method == "PUT":
                self.policy = request.body
            return self.policy
        if "/operations/" in url:
            return self._operation(done=True)
        if url.endswith("/invalidateCache"):
            return {**self._operation(), "name": "operation-invalidate"}
        if request.method == "POST":
            key = f"{url}/{request.body['name']}"
            if key in self.made:
                raise ApiError(409, f"The resource '{key}' already exists", request)
            self.made[key] = request.body
            return self._operation()
        if url not in self.made:
            raise ApiError(404, f"The resource '{url}' was not found", request)
        if request.method == "DELETE":
            del self.made[url]
            return self._operation()
        return {**self.made[url], "address": IP}


def cdn(fake: FakeCompute, domain: str | None = "docs.acme.example") -> Cdn:
    return Cdn(fake, "acme-prod", "pilot-acme-docs", "pilot-acme-docs-site", domain, interval=0)


# -- requests as data ------------------------------------------------------------------
def test_insert_requests_in_order_with_a_managed_certificate_only_with_a_domain():
    plain = insert_requests("acme-prod", "pilot-acme-docs", "pilot-acme-docs-site", None)
    assert [(r.method, r.url.removeprefix(GLOBAL + "/")) for r in plain] == [
        ("POST", "backendBuckets"),
        ("POST", "urlMaps"),
        ("POST", "addresses"),
        ("POST", "targetHttpProxies"),
        ("POST", "forwardingRules"),
    ]
    backend = plain[0].body
    assert backend["bucketName"] == "pilot-acme-docs-site" and backend["enableCdn"] is True
    assert plain[1].body["defaultService"] == f"{GLOBAL}/backendBuckets/pilot-acme-docs-backend"
    assert plain[-1].body == {
        "name": "pilot-acme-docs-http-rule",
        "IPAddress": f"{GLOBAL}/addresses/pilot-acme-docs-ip",
        "portRange": "80",
        "target": f"{GLOBAL}/targetHttpProxies/pilot-acme-docs-http",
        "loadBalancingScheme": "EXTERNAL_MANAGED",
    }

    secure = insert_requests(
        "acme-prod", "pilot-acme-docs", "pilot-acme-docs-site", "docs.acme.example"
    )
    assert [r.url.rsplit("/", 1)[1] for r in secure] == [
        "backendBuckets",
        "urlMaps",
        "addresses",
        "sslCertificates",
        "targetHttpsProxies",
        "forwardingRules",
    ]
    assert secure[3].body == {
        "name": "pilot-acme-docs-cert",
        "type": "MANAGED",
        "managed": {"domains": ["docs.acme.example"]},
    }
    assert secure[4].body["sslCertificates"] == [f"{GLOBAL}/sslCertificates/pilot-acme-docs-cert"]
    assert secure[-1].body["portRange"] == "443"


def test_delete_requests_in_reverse_order():
    assert [
        (r.method, r.url.removeprefix(GLOBAL + "/"))
        for r in delete_requests("acme-prod", "pilot-acme-docs")
    ] == [
        ("DELETE", "forwardingRules/pilot-acme-docs-https-rule"),
        ("DELETE", "forwardingRules/pilot-acme-docs-http-rule"),
        ("DELETE", "targetHttpsProxies/pilot-acme-docs-https"),
        ("DELETE", "targetHttpProxies/pilot-acme-docs-http"),
        ("DELETE", "sslCertificates/pilot-acme-docs-cert"),
        ("DELETE", "addresses/pilot-acme-docs-ip"),
        ("DELETE", "urlMaps/pilot-acme-docs-urlmap"),
        ("DELETE", "backendBuckets/pilot-acme-docs-backend"),
    ]


def test_public_read_and_dns_records():
    assert (
        gcs_cdn.with_public_read(
            {"bindings": [{"role": "roles/storage.objectViewer", "members": ["allUsers"]}]}
        )
        is None
    )
    assert gcs_cdn.with_public_read({"etag": "e"}) == {
        "etag": "e",
        "bindings": [{"role": "roles/storage.objectViewer", "members": ["allUsers"]}],
    }
    assert gcs_cdn.dns_records("docs.acme.example", IP) == [f"docs.acme.example. 300 IN A {IP}"]


# -- through the fake ------------------------------------------------------------------
def test_ensure_creates_in_order_shows_the_dns_record_and_is_idempotent():
    fake, said = FakeCompute(), []
    made = cdn(fake).ensure(said.append)
    assert fake.sent() == [
        "GET https://storage.googleapis.com/storage/v1/b/pilot-acme-docs-site/iam",
        "PUT https://storage.googleapis.com/storage/v1/b/pilot-acme-docs-site/iam",
        "POST backendBuckets",
        "POST urlMaps",
        "POST addresses",
        "POST sslCertificates",
        "POST targetHttpsProxies",
        "POST forwardingRules",
        "GET addresses/pilot-acme-docs-ip",
    ]
    assert sum("/operations/" in c.url for c in fake.calls) == 6  # each create waited on
    assert {"role": "roles/storage.objectViewer", "members": ["allUsers"]} in fake.policy[
        "bindings"
    ]
    assert made.address == IP and made.url == "https://docs.acme.example/"
    assert made.dns == [f"docs.acme.example. 300 IN A {IP}"]
    assert f"create this DNS record at your DNS provider: docs.acme.example. 300 IN A {IP}" in said
    assert "created managed certificate pilot-acme-docs-cert" in said

    fake.calls.clear()
    said.clear()
    assert cdn(fake).ensure(said.append) == made  # every create answers 409: nothing new
    assert not any(line.startswith("created") for line in said)
    assert "PUT" not in " ".join(fake.sent())  # already public


def test_without_a_domain_plain_http_on_the_address_and_no_certificate():
    fake, said = FakeCompute(), []
    made = cdn(fake, None).ensure(said.append)
    assert made.url == f"http://{IP}/" and made.dns == []
    assert not any("sslCertificates" in c.url for c in fake.calls)
    assert not any("DNS record" in line for line in said)


def test_destroy_in_reverse_and_idempotent():
    fake = FakeCompute()
    cdn(fake).ensure(lambda _: None)
    fake.calls.clear()
    said: list[str] = []
    done = cdn(fake).destroy(said.append)
    assert (
        done
        == said
        == [
            "deleted forwarding rule pilot-acme-docs-https-rule",
            "deleted HTTPS proxy pilot-acme-docs-https",
            "deleted managed certificate pilot-acme-docs-cert",
            "deleted address pilot-acme-docs-ip",
            "deleted URL map pilot-acme-docs-urlmap",
            "deleted backend bucket pilot-acme-docs-backend",
        ]
    )
    assert fake.made == {}
    assert cdn(fake).destroy(lambda _: None) == []  # all 404: nothing left


def test_an_error_other_than_exists_is_raised():
    def refuse(request: ApiRequest) -> dict:
        raise ApiError(403, "Required 'compute.backendBuckets.create' permission", request)

    with pytest.raises(ApiError, match=r"HTTP 403: Required 'compute\.backendBuckets\.create'"):
        Cdn(refuse, "acme-prod", "pilot-acme-docs", "b").ensure(lambda _: None)


# -- the site deploy, bucket on the GCS emulator ---------------------------------------
@pytest.fixture(scope="module")
def gcs(tmp_path_factory):
    sandbox = Sandbox(tmp_path_factory.mktemp("gcs-emulator"))
    running, _ = sandbox.ensure()
    yield emulator_gcs(running["gcs"].url)
    sandbox.stop()


def deploy(tmp_path, monkeypatch, gcs, home: str, fake: FakeCompute | None):
    (tmp_path / "site").mkdir(exist_ok=True)
    (tmp_path / "site" / "index.html").write_text("<h1>docs</h1>")
    app = AppSettings(
        name="docs",
        path="site",
        build=StaticBuild(command=None, output="."),
        target=GcsCdnTarget(domain="docs.acme.example", index="index.html"),
    )
    config = SimpleNamespace(
        server=SimpleNamespace(home=home),
        project=SimpleNamespace(name=f"acme{home[:3]}"),
        gcp=SimpleNamespace(project="acme-prod", region="us-central1", credentials=None),
    )
    records: list = []
    engine = SimpleNamespace(
        config=config,
        root=tmp_path,
        state_dir=tmp_path / ".pilot",
        record_release=lambda log, name, record: records.append(record),
        pull=lambda log, name: None,  # no shared history here
    )
    monkeypatch.setattr(clients, "project_gcs", lambda *a, **k: gcs)
    if fake is not None:
        monkeypatch.setattr(
            gcs_cdn,
            "open_cdn",
            lambda config, root, app, bucket: Cdn(
                fake,
                "acme-prod",
                f"pilot-{config.project.name}-docs",
                bucket,
                app.target.domain,
                interval=0,
            ),
        )
    log = RecordingLog()
    return GcsCdn(app).deploy(engine, log), log


def test_deploy_outside_the_sandbox_puts_cloud_cdn_in_front(tmp_path, monkeypatch, gcs):
    fake = FakeCompute()
    record, log = deploy(tmp_path, monkeypatch, gcs, "gcp", fake)
    record_line = f"docs.acme.example. 300 IN A {IP}"
    assert record.url == "https://docs.acme.example/"
    assert record.note == f"1 file changed; DNS: {record_line}"
    assert f"create this DNS record at your DNS provider: {record_line}" in log.lines
    deployed = [e for e in log.events if getattr(e, "stage", "") == "deploy"]
    assert any(record_line in getattr(e, "detail", "") for e in deployed)
    assert "POST forwardingRules" in fake.sent()
    assert fake.calls[-1].url.endswith("/urlMaps/pilot-acmegcp-docs-urlmap/invalidateCache")

    # destroy: the CDN first, in reverse, then the bucket (open_gcs_site gives the site
    # its Cdn once wired; here it is given by hand).
    site = GcsSite(
        gcs,
        "pilot-acmegcp-docs-site",
        "US",
        Cdn(fake, "acme-prod", "pilot-acmegcp-docs", "pilot-acmegcp-docs-site", interval=0),
    )
    done = site.destroy()
    assert done[0] == "deleted forwarding rule pilot-acmegcp-docs-https-rule"
    assert done[-1] == "deleted gs://pilot-acmegcp-docs-site" and fake.made == {}
    assert site.destroy() == []


def test_deploy_in_the_sandbox_keeps_to_the_emulator(tmp_path, monkeypatch, gcs):
    def no_cdn(*args):
        raise AssertionError("the sandbox has no Compute emulator: no CDN requests")

    monkeypatch.setattr(gcs_cdn, "open_cdn", no_cdn)
    try:
        record, log = deploy(tmp_path, monkeypatch, gcs, "sandbox", None)
        # A deploy starts the project's own emulators when they are stopped (item 31), and
        # the release points at its GCS emulator, path-style; where a real bucket would serve
        # it is marked as simulated. (The upload itself went to the fixture's emulator, to
        # which the client is patched; tests/integration/server/test_sandbox_addresses.py
        # fetches the local address through the CLI.)
        own = Sandbox(tmp_path / ".pilot").running()["gcs"]
        assert record.url == f"{own.url}/pilot-acmesan-docs-site/index.html"
        assert (
            record.simulated_url
            == "https://storage.googleapis.com/pilot-acmesan-docs-site/index.html"
        )
        assert record.note == "1 file changed"
        finished = [e for e in log.events if getattr(e, "stage", "") == "deploy"]
        assert any(
            "Cloud CDN is not simulated in the sandbox" in getattr(e, "detail", "")
            for e in finished
        )
        GcsSite(gcs, "pilot-acmesan-docs-site", "US").destroy()
    finally:
        Sandbox(tmp_path / ".pilot").stop()
