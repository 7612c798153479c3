"""The InfluxDB data-source query, which grafana-foundation-sdk does not ship.

:class:`InfluxQuery` subclasses the SDK's ``cog.variants.Dataquery`` with the fields Grafana's
InfluxDB plugin stores for a raw InfluxQL or Flux query (``query``, ``rawQuery``,
``resultFormat``, ``alias``; ``textColumn``/``tagsColumn`` for annotations). :func:`register`
adds it to the SDK's runtime so ``Dashboard.from_json`` decodes InfluxDB targets back into it
(round trip) instead of the SDK's untyped fallback.

>>> q = InfluxQueryBuilder("A").query('SELECT mean("gsd") FROM "psd"').raw_query().build()
>>> q.to_json()["datasource"], q.to_json()["rawQuery"]
({'type': 'influxdb', 'uid': 'synthwatch-influxdb'}, True)
>>> InfluxQuery.from_json(q.to_json()).to_json() == q.to_json()
True
"""

from __future__ import annotations

import typing

from grafana_foundation_sdk.cog import builder as cogbuilder
from grafana_foundation_sdk.cog import runtime as cogruntime
from grafana_foundation_sdk.cog import variants as cogvariants
from grafana_foundation_sdk.models import dashboard

from synthwatch.dashboards.queries.layout import DATASOURCE_TYPE, DATASOURCE_UID

ResultFormat = typing.Literal["time_series", "table", "logs"]


def datasource_ref() -> dashboard.DataSourceRef:
    """The provisioned InfluxDB data source."""
    return dashboard.DataSourceRef(type_val=DATASOURCE_TYPE, uid=DATASOURCE_UID)


class InfluxQuery(cogvariants.Dataquery):
    """A raw InfluxQL or Flux query of Grafana's InfluxDB data source."""

    def __init__(
        self,
        ref_id: str = "",
        query: str = "",
        raw_query: bool = False,
        result_format: ResultFormat = "time_series",
        alias: str | None = None,
        hide: bool | None = None,
        datasource: dashboard.DataSourceRef | None = None,
        text_column: str | None = None,
        tags_column: str | None = None,
        from_annotations: bool | None = None,
    ) -> None:
        self.ref_id = ref_id
        self.query = query
        self.raw_query = raw_query
        self.result_format = result_format
        self.alias = alias
        self.hide = hide
        self.datasource = datasource if datasource is not None else datasource_ref()
        self.text_column = text_column
        self.tags_column = tags_column
        self.from_annotations = from_annotations

    _OPTIONAL = (
        ("alias", "alias"),
        ("hide", "hide"),
        ("text_column", "textColumn"),
        ("tags_column", "tagsColumn"),
        ("from_annotations", "fromAnnotations"),
    )

    def to_json(self) -> dict[str, object]:
        payload: dict[str, object] = {
            "refId": self.ref_id,
            "datasource": self.datasource.to_json(),
            "query": self.query,
            "rawQuery": self.raw_query,
            "resultFormat": self.result_format,
        }
        for attr, key in self._OPTIONAL:
            value = getattr(self, attr)
            if value is not None:
                payload[key] = value
        return payload

    @classmethod
    def from_json(cls, data: dict[str, typing.Any]) -> typing.Self:
        args: dict[str, typing.Any] = {
            "ref_id": data.get("refId", ""),
            "query": data.get("query", ""),
            "raw_query": bool(data.get("rawQuery", False)),
            "result_format": data.get("resultFormat", "time_series"),
        }
        if "datasource" in data:
            args["datasource"] = dashboard.DataSourceRef.from_json(data["datasource"])
        for attr, key in cls._OPTIONAL:
            if key in data:
                args[attr] = data[key]
        return cls(**args)


class InfluxQueryBuilder(cogbuilder.Builder[InfluxQuery]):
    """Builder in the SDK's style: ``InfluxQueryBuilder("A").query(...).raw_query()``."""

    def __init__(self, ref_id: str) -> None:
        self._internal = InfluxQuery(ref_id=ref_id)

    def build(self) -> InfluxQuery:
        return self._internal

    def query(self, query: str) -> typing.Self:
        self._internal.query = query
        return self

    def raw_query(self, raw: bool = True) -> typing.Self:
        self._internal.raw_query = raw
        return self

    def result_format(self, result_format: ResultFormat) -> typing.Self:
        self._internal.result_format = result_format
        return self

    def alias(self, alias: str) -> typing.Self:
        self._internal.alias = alias
        return self

    def annotation_columns(self, text: str, tags: str) -> typing.Self:
        self._internal.text_column = text
        self._internal.tags_column = tags
        self._internal.from_annotations = True
        return self


class InfluxAnnotationTarget(dashboard.AnnotationTarget):
    """An annotation whose target is an InfluxDB query.

    The SDK's ``AnnotationTarget`` has only the built-in Grafana source's fields (its own
    comment: "this should be a regular DataQuery"); Grafana stores a data-source annotation's
    query in ``target``, which is what this subclass serialises.
    """

    def __init__(self, query: InfluxQuery) -> None:
        super().__init__()
        self.influx = query

    def to_json(self) -> dict[str, object]:
        return self.influx.to_json()


class InfluxAnnotationTargetBuilder(cogbuilder.Builder[dashboard.AnnotationTarget]):
    def __init__(self, query: InfluxQueryBuilder) -> None:
        self._internal = InfluxAnnotationTarget(query.build())

    def build(self) -> dashboard.AnnotationTarget:
        return self._internal


def register() -> None:
    """Teach the SDK's decoder the ``influxdb`` query type (idempotent)."""
    cogruntime.register_dataquery_variant(
        cogruntime.DataqueryConfig(identifier=DATASOURCE_TYPE, from_json_hook=InfluxQuery.from_json)
    )
