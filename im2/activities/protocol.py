"""The activity-format protocol: what a format declares so that shared code can serve it.

A format is its domain rules (models, service) plus one `ActivityFormat` value, registered in
`im2.activities.registry`. From the declaration, shared code makes the console's create, detail,
edit and export routes (`im2.activities.console`) and the public page frame with its actions
(`im2.activities.frame`); the privacy work walks `people_data` to reach every row about a person.

Everything here is plain data and callables of the domain layer: no web imports, so services,
jobs and the privacy walker may read the registry.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Generic, Protocol, TypeVar

from pydantic import BaseModel
from sqlalchemy.orm import Session

from im2.activities.schemas import KIND_LABELS, ActivityKind, ActivityRead
from im2.campaigns.schemas import CampaignRead
from im2.types import PeopleData as PeopleData  # re-exported: the formats declare with it
from im2.workspaces.schemas import Actor

S = TypeVar("S", bound=BaseModel)


class CreateActivity(Protocol):
    def __call__(
        self, session: Session, *, actor: Actor, campaign_id: int, data: Any, now: datetime
    ) -> ActivityRead: ...


class UpdateActivity(Protocol):
    def __call__(
        self, session: Session, *, actor: Actor, activity_id: int, data: Any, now: datetime
    ) -> ActivityRead: ...


class ExportRows(Protocol):
    def __call__(
        self, session: Session, *, actor: Actor, activity_id: int
    ) -> Iterable[Mapping[str, Any]]: ...


class ExportRowsAt(Protocol):
    def __call__(
        self, session: Session, *, actor: Actor, activity_id: int, now: datetime
    ) -> Iterable[Mapping[str, Any]]: ...


class ExportTable(Protocol):
    def __call__(
        self, session: Session, *, actor: Actor, activity_id: int, now: datetime
    ) -> tuple[Sequence[str], Iterable[Mapping[str, Any]]]: ...


class DetailContext(Protocol):
    def __call__(
        self,
        session: Session,
        *,
        actor: Actor,
        activity: ActivityRead,
        campaign: CampaignRead,
        now: datetime,
    ) -> dict[str, Any]: ...


class DemoLoader(Protocol):
    def __call__(
        self, session: Session, *, actor: Actor, campaign_ids: dict[str, int], now: datetime
    ) -> None: ...


class FormContext(Protocol):
    def __call__(
        self, session: Session, *, actor: Actor, campaign: CampaignRead
    ) -> dict[str, Any]: ...


@dataclass(frozen=True, slots=True)
class CreateForm:
    """The console's "add a <format>" form: GET `/campaigns/<id>/<kind>/new` shows `template`
    with `defaults` (a mapping, or a function for values that are translated); POST
    `/campaigns/<id>/<kind>` turns the posted fields into the `model`'s input with
    `parse(fields, campaign)`, validates it and calls `create` (errors go back to the form, by
    field). `context` adds fixed template values, `campaign_context` values read for the
    campaign (both GET and POST)."""

    template: str
    model: type[BaseModel]
    parse: Callable[[Mapping[str, str], CampaignRead], dict[str, Any]]
    create: CreateActivity
    defaults: Mapping[str, str] | Callable[[], Mapping[str, str]] = field(default_factory=dict)
    context: Mapping[str, Any] = field(default_factory=dict)
    campaign_context: FormContext | None = None
    # A model field whose error belongs to another form field (a percentage entered for a
    # fraction): {"model field": "form field"}.
    error_fields: Mapping[str, str] = field(default_factory=dict)
    # A form field's message in the form's own terms instead of the model's (`N_()`-marked,
    # translated when shown): {"form field": message}, e.g. a percentage out of 0–100 where
    # the model said "at most 1".
    error_messages: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class DetailPage:
    """The console's page of one activity, `/<kind>/<id>`: `template` gets the activity, its
    campaign, the public URL, `can_write`, the kind labels and what `context` adds."""

    template: str
    context: DetailContext


@dataclass(frozen=True, slots=True)
class Export:
    """The console's CSV download, `/<kind>/<id>/export.csv`: `columns` in order, one row per
    mapping from `rows` (which checks the actor may read the activity), or from `rows_at` when
    the rows depend on the time (a team past its deadline reads as failed). A format whose
    columns depend on the activity (a survey's questions) gives `table`, which returns both."""

    filename: str  # with `{id}` for the activity's id, e.g. "poll-{id}-votes.csv"
    columns: tuple[str, ...] = ()
    rows: ExportRows | None = None
    rows_at: ExportRowsAt | None = None
    table: ExportTable | None = None


@dataclass(frozen=True, slots=True)
class Api:
    """The JSON API's create and edit routes, both answering the activity (`ActivityRead`):
    POST `/api/v1/campaigns/<id>/<plural>` (201) with `create_model`, and PATCH
    `/api/v1/<plural>/<activity id>` with `update_model`; listed under `tag`."""

    plural: str
    tag: str
    create_model: type[BaseModel]
    create: CreateActivity
    create_summary: str
    update_model: type[BaseModel]
    update: UpdateActivity
    update_summary: str


@dataclass(frozen=True, slots=True)
class PublicAction:
    """Something a participant does on the activity's public page: a form POST to
    `/c/<slug>/<kind>/<id>/<path>` (and, where there is one, a JSON route under
    `/api/v1/public/...`)."""

    path: str
    summary: str


@dataclass(frozen=True, slots=True)
class ActivityFormat(Generic[S]):
    """One activity format, as the rest of IM2 sees it.

    - `settings`: the pydantic model of `Activity.settings` for this kind (read it with
      `settings_of`, never as a dict).
    - `actions`, `results`: what participants do, and the shape of the results shown.
    - `people_data`: every table of the format with rows about a person.
    - `api`: the JSON create and edit routes (`im2.activities.api` makes them).
    - `create`, `detail`, `export`: console declarations the shared routes are made from;
      `text_editor_hint` set means the shared title/description editor serves `/<kind>/<id>/edit`.
    - `package`: the format's package; `routes` names its modules (`api`, `pages`, `public`)
      whose `router` holds the routes that are its own (`im2.activities.routes` includes them).
    """

    kind: ActivityKind
    settings: type[S]
    package: str
    people_data: tuple[PeopleData, ...]
    routes: tuple[str, ...] = ("api", "pages", "public")
    actions: tuple[PublicAction, ...] = ()
    results: type[BaseModel] | None = None
    create: CreateForm | None = None
    detail: DetailPage | None = None
    export: Export | None = None
    text_editor_hint: str | None = None
    api: Api | None = None
    demo: DemoLoader | None = None

    @property
    def label(self) -> str:
        """The format's name in the console (a msgid: translate it where it is shown)."""
        return KIND_LABELS[self.kind]

    def settings_of(self, raw: Mapping[str, Any]) -> S:
        return self.settings.model_validate(dict(raw))
