"""Cloud CDN in front of a static site's GCS bucket: a backend bucket with CDN on, a URL
map, a global address, an HTTP(S) proxy and a forwarding rule; with a domain, a
Google-managed certificate and HTTPS. Compute Engine has no emulator here, so the calls
are built as data and sent through a gcp_api.Transport; each create is idempotent (409 =
it exists), so a redeploy re-runs them safely.

Changing apps.NAME.target.domain later is not handled: managed certificates cannot change
their domains, so destroy the app's CDN first."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pilot_tui.cloud.gcp_api import (
    ApiRequest,
    Transport,
    exists_ok,
    gone_ok,
    wait_operation,
)
from pilot_tui.config.schema import AppSettings, PilotConfig
from pilot_tui.deploy.targets.managed import Say

COMPUTE = "https://www.googleapis.com/compute/v1"
STORAGE = "https://storage.googleapis.com/storage/v1"
TIMEOUT = 300
# What each collection is called in the log.
LABELS = {
    "backendBuckets": "backend bucket",
    "urlMaps": "URL map",
    "addresses": "address",
    "sslCertificates": "managed certificate",
    "targetHttpsProxies": "HTTPS proxy",
    "targetHttpProxies": "HTTP proxy",
    "forwardingRules": "forwarding rule",
}


def _global(gcp_project: str, collection: str, name: str = "") -> str:
    url = f"{COMPUTE}/projects/{gcp_project}/global/{collection}"
    return f"{url}/{name}" if name else url


def insert_requests(
    gcp_project: str, name: str, bucket: str, domain: str | None
) -> list[ApiRequest]:
    """The creates, in dependency order (each refers to the one before)."""
    made = _Inserts(gcp_project, name)
    front = made.https(domain) if domain else made.http()
    return made.backend(bucket) + front


@dataclass(frozen=True)
class _Inserts:
    """The creates of one site's CDN, named NAME-SUFFIX in GCP project ``gcp_project``."""

    gcp_project: str
    name: str

    def post(self, collection: str, body: dict[str, Any]) -> ApiRequest:
        return ApiRequest("POST", _global(self.gcp_project, collection), body=body)

    def ref(self, collection: str, suffix: str) -> str:
        return _global(self.gcp_project, collection, f"{self.name}-{suffix}")

    def backend(self, bucket: str) -> list[ApiRequest]:
        """The backend bucket, the URL map to it and the global address."""
        name = self.name
        return [
            self.post(
                "backendBuckets",
                {
                    "name": f"{name}-backend",
                    "bucketName": bucket,
                    "enableCdn": True,
                    # Honours the Cache-Control site_files sets (no-cache for HTML).
                    "cdnPolicy": {"cacheMode": "CACHE_ALL_STATIC", "defaultTtl": 3600},
                },
            ),
            self.post(
                "urlMaps",
                {"name": f"{name}-urlmap", "defaultService": self.ref("backendBuckets", "backend")},
            ),
            self.post("addresses", {"name": f"{name}-ip", "ipVersion": "IPV4"}),
        ]

    def https(self, domain: str) -> list[ApiRequest]:
        """A Google-managed certificate for ``domain`` and HTTPS on the address."""
        name = self.name
        return [
            self.post(
                "sslCertificates",
                {"name": f"{name}-cert", "type": "MANAGED", "managed": {"domains": [domain]}},
            ),
            self.post(
                "targetHttpsProxies",
                {
                    "name": f"{name}-https",
                    "urlMap": self.ref("urlMaps", "urlmap"),
                    "sslCertificates": [self.ref("sslCertificates", "cert")],
                },
            ),
            self.post(
                "forwardingRules",
                {
                    "name": f"{name}-https-rule",
                    "IPAddress": self.ref("addresses", "ip"),
                    "portRange": "443",
                    "target": self.ref("targetHttpsProxies", "https"),
                    "loadBalancingScheme": "EXTERNAL_MANAGED",
                },
            ),
        ]

    def http(self) -> list[ApiRequest]:
        """Plain HTTP on the address (a Google-managed certificate needs a domain)."""
        name = self.name
        return [
            self.post(
                "targetHttpProxies",
                {"name": f"{name}-http", "urlMap": self.ref("urlMaps", "urlmap")},
            ),
            self.post(
                "forwardingRules",
                {
                    "name": f"{name}-http-rule",
                    "IPAddress": self.ref("addresses", "ip"),
                    "portRange": "80",
                    "target": self.ref("targetHttpProxies", "http"),
                    "loadBalancingScheme": "EXTERNAL_MANAGED",
                },
            ),
        ]


def delete_requests(gcp_project: str, name: str) -> list[ApiRequest]:
    """Everything insert_requests may have made, in reverse order; both the HTTP and the
    HTTPS variants, since the domain may have changed since (a missing one is a 404)."""
    order = [
        ("forwardingRules", "https-rule"),
        ("forwardingRules", "http-rule"),
        ("targetHttpsProxies", "https"),
        ("targetHttpProxies", "http"),
        ("sslCertificates", "cert"),
        ("addresses", "ip"),
        ("urlMaps", "urlmap"),
        ("backendBuckets", "backend"),
    ]
    return [ApiRequest("DELETE", _global(gcp_project, c, f"{name}-{s}")) for c, s in order]


def address_request(gcp_project: str, name: str) -> ApiRequest:
    return ApiRequest("GET", _global(gcp_project, "addresses", f"{name}-ip"))


def invalidate_request(gcp_project: str, name: str, path: str = "/*") -> ApiRequest:
    return ApiRequest(
        "POST",
        _global(gcp_project, "urlMaps", f"{name}-urlmap") + "/invalidateCache",
        body={"path": path},
    )


def bucket_policy_request(bucket: str) -> ApiRequest:
    return ApiRequest("GET", f"{STORAGE}/b/{bucket}/iam")


def set_bucket_policy_request(bucket: str, policy: dict[str, Any]) -> ApiRequest:
    return ApiRequest("PUT", f"{STORAGE}/b/{bucket}/iam", body=policy)


def with_public_read(policy: dict[str, Any]) -> dict[str, Any] | None:
    """``policy`` plus allUsers as objectViewer, or None when it has it already. A backend
    bucket fetches objects anonymously, so the site's objects must be publicly readable
    (they are a public website; listing the bucket stays private)."""
    role = "roles/storage.objectViewer"
    bindings = [dict(b) for b in policy.get("bindings", [])]
    if any(b.get("role") == role and "allUsers" in b.get("members", []) for b in bindings):
        return None
    bindings.append({"role": role, "members": ["allUsers"]})
    return {**policy, "bindings": bindings}


def dns_records(domain: str, address: str) -> list[str]:
    """What the person must create at their DNS provider for ``domain``."""
    return [f"{domain}. 300 IN A {address}"]


def _label(request: ApiRequest) -> str:
    collection = request.url.rstrip("/").split("/")[-1 if request.method == "POST" else -2]
    return LABELS.get(collection, collection)


@dataclass(frozen=True)
class CdnResult:
    address: str
    url: str
    dns: list[str] = field(default_factory=list)

    @property
    def detail(self) -> str:
        return f"Cloud CDN on {self.address}" + (
            f"; DNS: {'; '.join(self.dns)}" if self.dns else ""
        )


@dataclass
class Cdn:
    transport: Transport
    gcp_project: str
    name: str  # resource prefix, pilot-PROJECT-APP
    bucket: str
    domain: str | None = None
    interval: float = 2.0  # seconds between polls of an operation

    def _wait(self, operation: dict[str, Any]) -> None:
        wait_operation(self.transport, operation, timeout=TIMEOUT, interval=self.interval)

    def make_public(self, say: Say) -> None:
        wanted = with_public_read(self.transport(bucket_policy_request(self.bucket)))
        if wanted is not None:
            self.transport(set_bucket_policy_request(self.bucket, wanted))
            say(f"gs://{self.bucket}: objects readable by allUsers (Cloud CDN serves them)")

    def ensure(self, say: Say) -> CdnResult:
        self.make_public(say)
        for request in insert_requests(self.gcp_project, self.name, self.bucket, self.domain):
            operation = exists_ok(self.transport, request)
            if operation is not None:
                self._wait(operation)
                say(f"created {_label(request)} {(request.body or {}).get('name')}")
        address = str(self.transport(address_request(self.gcp_project, self.name))["address"])
        if not self.domain:
            return CdnResult(address, f"http://{address}/")
        dns = dns_records(self.domain, address)
        for record in dns:
            say(f"create this DNS record at your DNS provider: {record}")
        say(
            f"the managed certificate for {self.domain} is issued once that record "
            "resolves (up to an hour)"
        )
        return CdnResult(address, f"https://{self.domain}/", dns)

    def invalidate(self, paths: int) -> str | None:
        """Drop the cached copies after ``paths`` changed files; the operation's name. One
        wildcard: Cloud CDN rate-limits invalidations, and most of a site is cached."""
        if not paths:
            return None
        made = self.transport(invalidate_request(self.gcp_project, self.name))
        return str(made.get("name", "requested"))

    def destroy(self, say: Say) -> list[str]:
        done = []
        for request in delete_requests(self.gcp_project, self.name):
            operation = gone_ok(self.transport, request)
            if operation is None:
                continue
            self._wait(operation)
            done.append(f"deleted {_label(request)} {request.url.rsplit('/', 1)[-1]}")
            say(done[-1])
        return done


def open_cdn(config: PilotConfig, root: Path, app: AppSettings, bucket: str) -> Cdn:
    """The app's CDN with a transport from gcp.credentials (relative to ``root``) or
    Application Default Credentials. Not for the sandbox: it has no Compute emulator."""
    from pilot_tui.cloud.clients import google_transport
    from pilot_tui.deploy.targets.managed import TargetError
    from pilot_tui.naming import resource_name

    if not config.gcp.project:
        raise TargetError(f"app {app.name!r}: Cloud CDN needs gcp.project in pilot.toml")
    transport = google_transport(config, root)
    return Cdn(
        transport,
        config.gcp.project,
        resource_name(config.project.name, app.name),
        bucket,
        getattr(app.target, "domain", None),
    )
