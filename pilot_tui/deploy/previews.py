"""Preview environments: a copy of an app, deployed from a branch as APP--NAME, that lives
until it is destroyed or its TTL runs out.

UI-free and engine-free: names, the app a preview runs as, its secrets and the rules
(``max``, ``ttl``). Each target kind that runs previews finds and removes its own (the
Target contract's ``preview``/``previews``); the engine calls those.

- A preview is the app with its name ``APP--NAME``, its env with ``previews.env`` over it,
  no watch (nothing to revert to), and the domain ``APP--NAME.<previews.domain>`` if one.
- Its secrets come from .pilot/secrets/previews/APP.env, else, in a GitHub Actions run
  (a pull request's), from the variable PREVIEW_NAME the workflow sets from the
  repository's secret of that name: never the app's own file or the deploying process's
  NAME (in CI those are production's). A name missing from both is left unset, and said.
- It never gets the app's databases: a ``[[databases]]`` table's ``preview`` may give it a
  database of its own (empty, or the newest backup restored), shared by a branch's
  previews (docker_host/preview_databases.py).
- It expires ``ttl`` after its last release; a preview deploy first removes the app's
  expired ones, then refuses one more than ``max``.
"""

from __future__ import annotations

import dataclasses
import hashlib
import os
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

from pilot_tui.config.schema import PREVIEW_SEPARATOR, AppSettings, Database
from pilot_tui.config.schema import Target as TargetSettings  # the kinds' settings
from pilot_tui.errors import EXIT_INVALID, PilotError
from pilot_tui.naming import GCP_PREVIEW, GCP_PREVIEW_EXPIRES, GCP_PREVIEW_OF, PREVIEW, PREVIEW_OF
from pilot_tui.naming import PREVIEW_EXPIRES as EXPIRES
from pilot_tui.wording import counted

# The keys of a preview's labels: Docker's and AWS's tags, and Google Cloud's (no dots).
LABEL_KEYS = (PREVIEW_OF, PREVIEW, EXPIRES)
GCP_LABEL_KEYS = (GCP_PREVIEW_OF, GCP_PREVIEW, GCP_PREVIEW_EXPIRES)
# An expiry label this far past what the preview's last change allows is not believed:
# whoever may deploy a preview may write its labels (a pull request's run could write the
# year 2100), but a deploy writes them from its own clock, a moment after the change.
FORGED_AFTER = 24 * 3600.0

DNS_LABEL = 63  # APP--NAME is one label of a host name
PREVIEW_INSTANCES = 2  # the most instances a Cloud Run preview scales to
LONGEST = 30  # characters of a preview's name (a branch name is cut to this)
SHORTEST = 8  # the least room a preview's name needs (a cut one keeps 6 of a hash)

# Labels on what a preview runs (containers; a Lambda preview's tags), PREVIEW_OF, PREVIEW
# and EXPIRES: the server-side prune reads them too, and the previews' role's policy names
# them (naming.py).
# On a preview's database (data/kinds.py): the preview name whose apps use it; it goes with
# the last of them.
PREVIEW_DATABASE = "pilot.preview-database"
# A preview's database is made before its first release's container: one younger than this
# is never taken for unused (a first deploy's build may take this long).
DATABASE_GRACE = 30 * 60.0


class PreviewError(PilotError):
    """A preview cannot be made, found or removed; the message says which and why."""

    title = "Preview problem"
    exit_code = EXIT_INVALID  # a name, a limit, a kind that has none: nothing was done


class NoSuchPreview(PreviewError):
    """The app has no preview of that name (`preview destroy --missing-ok` takes it as
    nothing to do)."""


def slug(wanted: str, room: int = LONGEST) -> str:
    """``wanted`` (usually a branch: "feature/Login_fix") as a preview name: lowercase
    letters, digits and single hyphens ("feature-login-fix"), at most ``room`` characters
    (name_room). A name cut short keeps a hash of the whole, so two long branches never
    share a preview."""
    cleaned = re.sub(r"[^a-z0-9]+", "-", wanted.lower()).strip("-")
    if not cleaned:
        raise PreviewError(
            f"preview name {wanted!r} holds no letter or digit",
            hint="name it after its branch, like --preview feature-login",
        )
    if len(cleaned) > room:
        digest = hashlib.sha256(wanted.encode()).hexdigest()[:6]
        cleaned = f"{cleaned[: room - 7].rstrip('-')}-{digest}"
    return cleaned


def name_room(
    project: str,
    app: AppSettings,
    databases: list[Database],
    own: Mapping[str, tuple[int, int]],
) -> int:
    """How long the app's previews' names may be: each name a preview is reached by must
    stay one DNS label (63 characters): its host name APP--NAME, its release containers'
    pilot-PROJECT-APP--NAME-vN and its databases' pilot-db-PROJECT-DB--NAME; and ``own``,
    the names of the app's kind (Target.preview_name_limits: a Cloud Run service's, 49).
    PreviewError when that leaves too little."""
    from pilot_tui.naming import resource_name

    linked = [d.name for d in databases if app.name in d.apps and d.preview != "none"]
    # what -> (the characters it takes besides --NAME, the most it may have)
    used = {
        f"the host name {app.name}--NAME": (len(app.name), DNS_LABEL),
        f"the container name {resource_name(project, app.name)}--NAME-v999": (
            len(resource_name(project, app.name) + "-v999"),
            DNS_LABEL,
        ),
        **{
            f"the database's name pilot-db-{project}-{db}--NAME": (
                len(f"pilot-db-{project}-{db}"),
                DNS_LABEL,
            )
            for db in linked
        },
    }
    used.update(own)  # the kind's own (Target.preview_name_limits)

    def left(what: str) -> int:
        taken, most = used[what]
        return most - len(PREVIEW_SEPARATOR) - taken

    tightest = min(used, key=left)
    room = min(LONGEST, left(tightest))
    if room < SHORTEST:
        raise PreviewError(
            f"no room for a preview name: {tightest} must stay within {used[tightest][1]} "
            "characters",
            hint="shorten the project's, the app's or the linked database's name",
        )
    return room


def two_letter(app: str) -> str | None:
    """Why an app of this name has no previews: APP--NAME with a two-letter APP is a label
    of the reserved form "ab--..." (like xn--), which public CAs refuse."""
    if len(app) == 2:
        return (
            f"{app}{PREVIEW_SEPARATOR}NAME would be a reserved DNS label (two characters, "
            "then --, as in xn--): no certificate can be had for it; give the app a longer name"
        )
    return None


def full_name(app: str, name: str) -> str:
    """What the preview is called where the app is called by its name: APP--NAME."""
    return f"{app}{PREVIEW_SEPARATOR}{name}"


def split(full: str) -> tuple[str, str] | None:
    """(app, name) of a preview's full name; None for an app's own name."""
    app, sep, name = full.partition(PREVIEW_SEPARATOR)
    return (app, name) if sep and app and name else None


@dataclass(frozen=True)
class Preview:
    """One preview as its target knows it: whose, its name, when it expires (seconds
    since the epoch), its live release and where it answers."""

    app: str
    name: str
    expires: float
    release: str = ""
    url: str = ""
    state: str = ""  # what runs it: "running", "exited", ...
    made: float = 0.0  # when its platform made it (seconds since the epoch; 0: unknown)

    @property
    def full(self) -> str:
        return full_name(self.app, self.name)

    def labels(self, keys: tuple[str, str, str] = LABEL_KEYS) -> dict[str, str]:
        of, name, expires = keys
        return {of: self.app, name: self.name, expires: str(int(self.expires))}

    def expired(self, now: float) -> bool:
        return self.expires <= now


IMAGE_TAG_MAX = 128  # characters of an image tag (Docker's, Artifact Registry's)


def image_tag_prefix(name: str) -> str:
    """What the tags of preview ``name``'s images start with, in its app's repository:
    "_" is in no preview name (slug), so no other preview's tags start so."""
    return f"preview_{name}_"


def image_tag(name: str, tag: str) -> str:
    """The tag preview ``name``'s image ``tag`` (its content's) is pushed as: its own,
    never one of the app's releases' tags (the same source builds the same tag), so its
    removal takes its images and never the app's (a registry deletes an image when its
    last tag goes, and keeps one another tag still names)."""
    return (image_tag_prefix(name) + tag)[:IMAGE_TAG_MAX]


def from_labels(labels: dict[str, str], keys: tuple[str, str, str] = LABEL_KEYS) -> Preview | None:
    """The preview a resource's labels describe, if they describe one."""
    app, name, expires = (labels.get(key) for key in keys)
    if not app or not name or not expires:
        return None
    try:
        return Preview(app, name, float(expires))
    except ValueError:
        return None


def with_live_releases(state_dir: Path, found: list[Preview]) -> list[Preview]:
    """``found`` (as a cloud lists them) each with its live release here, if any."""
    from pilot_tui.deploy import history

    return [
        dataclasses.replace(p, release=live.id if live else "")
        for p in found
        for live in [history.live_release(state_dir, p.full)]
    ]


def believed(preview: Preview, changed: float, ttl: float | None) -> Preview:
    """``preview`` as listed from labels, its expiry bounded by what its last change
    (``changed``, seconds since the epoch) and ``ttl`` allow (FORGED_AFTER)."""
    if ttl is None:
        return preview
    bound = changed + ttl
    if preview.expires > bound + FORGED_AFTER:
        return dataclasses.replace(preview, expires=bound)
    return preview


def preview_app(app: AppSettings, name: str, target: TargetSettings) -> AppSettings:
    """``app`` as its preview ``name`` runs: its own name, ``previews.env`` over the env,
    and ``target``, its kind's settings as a preview's (the targets' contract,
    targets.base.Target.preview_app, makes them:
    never watched, as a preview has nothing of its own to go back to)."""
    return dataclasses.replace(
        app,
        name=full_name(app.name, name),
        env={**app.env, **app.previews.env},
        target=target,
    )


PREVIEW_VARIABLE = "PREVIEW_"  # + a secret's name: the variable a preview's value is in


def secret_values(
    state_dir: Path, app: str, names: list[str], env: Mapping[str, str] | None = None
) -> tuple[dict[str, str], list[str]]:
    """(values, names missing) of the secrets ``names`` for the previews of ``app``, from
    the previews' own file, else, in a GitHub Actions run, the variable PREVIEW_NAME of
    ``env`` (this process's; an empty one is unset, as GitHub passes a missing secret):
    never the app's file nor the environment's NAME. On a laptop a PREVIEW_ variable in
    the shell is not taken: the file says what a preview gets."""
    from pilot_tui.cloud.oidc_exchange import in_github_actions
    from pilot_tui.deploy import secrets

    env = os.environ if env is None else env
    from_ci = in_github_actions(env)
    path = secrets.secrets_file(state_dir, app, preview=True)
    stored: dict[str, str] = {}
    if names and path.exists():
        try:
            stored = secrets.read_file(path)
        except secrets.SecretsError as exc:
            raise PreviewError(str(exc)) from exc
    values = {}
    for name in names:
        if name in stored:
            values[name] = stored[name]
        elif from_ci and env.get(PREVIEW_VARIABLE + name):
            values[name] = env[PREVIEW_VARIABLE + name]
    return values, [name for name in names if name not in values]


def environment(
    state_dir: Path, preview: Preview, app: AppSettings, say: Callable[[str], None]
) -> dict[str, str]:
    """The environment ``preview`` runs with (``app`` as preview_app made it): its env and
    its secrets from the previews' own file, masked from here on; a missing one said."""
    from pilot_tui import redact
    from pilot_tui.deploy import secrets

    values, missing = secret_values(state_dir, preview.app, app.secrets)
    redact.register(values.values())
    if missing:
        say(
            f"warning: {', '.join(missing)} left unset in the preview, whose secrets come "
            f"from {secrets.secrets_file(state_dir, preview.app, preview=True)} "
            f"(pilot-tui secrets set {preview.app} NAME --preview), or in a GitHub Actions "
            f"run the repository's secret {PREVIEW_VARIABLE}NAME, only"
        )
    return {**app.env, **values}


def room_for(app: AppSettings, name: str, found: list[Preview]) -> None:
    """Refuse a new preview ``name`` of ``app`` when ``found`` (its unexpired previews,
    and those being deployed) fill ``previews.max``; a preview that exists is redeployed,
    always."""
    limit = app.previews.max
    made = {p.name for p in found if p.app == app.name and p.state != "deploying"}
    if limit > 0 and name in made:
        return  # a redeploy: never refused (even past a max lowered since)
    others = sorted({p.name for p in found if p.app == app.name and p.name != name})
    if limit == 0:
        raise PreviewError(
            f"{app.name} has no previews: previews.max is 0 in pilot.toml",
            hint=f"set [apps.previews] max = 3 under the app {app.name}",
        )
    if len(others) >= limit:
        listed = ", ".join(n if n in made else f"{n} (being deployed)" for n in others)
        expires = {p.name: p.expires for p in found if p.app == app.name}
        removable = sorted((n for n in others if n in made), key=lambda n: expires[n])
        raise PreviewError(
            f"{app.name} has {counted(len(others), 'preview')} already ({listed}), its most "
            f"(previews.max = {limit})",
            hint=(
                f"remove one first: pilot-tui preview destroy {app.name} {removable[0]}"
                if removable
                else "wait for those deploys to end, then remove one (a deploy killed "
                f"midway is not counted once its lock is {DATABASE_GRACE / 60:.0f} minutes old)"
            ),
        )


def lost_race(
    app: AppSettings,
    made: Preview,
    before: list[Preview],
    listed: list[Preview],
    *,
    gone: frozenset[str] = frozenset(),
    now: float = 0.0,
) -> list[str] | None:
    """After ``made`` (a new preview) was deployed: the previews made at the same time and
    before it, when ``made`` is one too many for ``previews.max``, else None. ``before``:
    the app's previews its deploy counted; ``listed``: the app's previews now (``gone``:
    those its deploy removed, which a lagging listing may still show). Two deploys that
    each found room for one more both make theirs; the order is when the platform made
    each (then the name), so the one made later always sees the other, and goes again."""
    limit = app.previews.max
    counted = {p.name for p in before if p.app == app.name}
    if limit <= 0 or made.name in counted:
        return None
    new = {
        p.name: p
        for p in listed
        if p.app == app.name and p.name not in counted and p.name not in gone
    }
    new.setdefault(made.name, dataclasses.replace(made, made=now))  # a listing may lag
    order = sorted(new.values(), key=lambda p: (p.made or now, p.name))
    place = [p.name for p in order].index(made.name)
    if place < limit - len(counted):
        return None
    return [p.name for p in order[:place]]
