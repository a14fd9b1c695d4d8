"""``FeatureStore``: the Tributary feature server from Python, in the shape of Feast's SDK."""

from __future__ import annotations

import datetime as dt
import http.client
import os
import uuid
from typing import Any, Dict, Iterable, Iterator, List, Mapping, Optional, Sequence, Tuple

import pandas as pd
import pyarrow as pa
import pyarrow.ipc

from . import _frames
from ._http import ARROW_STREAM, Transport, broken, dumps
from .errors import TributaryError

DEFAULT_URL = "http://127.0.0.1:6566"
PUSH_TO = ("online", "offline", "online_and_offline")
# The serving app takes JSON bodies up to 1 MiB: uploads are cut into requests below it.
MAX_JSON_BODY = 768 * 1024


def _selection(features: Optional[Sequence[str]], feature_service: Optional[str]) -> Tuple[List[str], Optional[str]]:
    if isinstance(features, str):
        raise TypeError("features must be a list of 'view:feature' references, not one string")
    if (features is None) == (feature_service is None):
        raise ValueError("give either features=[...] or feature_service=..., not both or neither")
    return (list(features) if features is not None else []), feature_service


class RetrievalJob:
    """A point-in-time training set, fetched when asked for.

    Every ``to_*`` call runs the retrieval on the server; ``to_batches`` reads the answer as it
    arrives, one Arrow record batch at a time, so a training set larger than memory can be
    written out or consumed without holding it whole.
    """

    def __init__(
        self,
        transport: Transport,
        entities: pa.Table,
        features: List[str],
        feature_service: Optional[str],
        full_feature_names: bool,
    ) -> None:
        self._transport = transport
        self._entities = entities
        self._query: List[Tuple[str, str]] = []
        if features:
            self._query.append(("features", ",".join(features)))
        if feature_service is not None:
            self._query.append(("feature_service", feature_service))
        if full_feature_names:
            self._query.append(("full_feature_names", "true"))

    def _open(self) -> http.client.HTTPResponse:
        sink = pa.BufferOutputStream()
        with pa.ipc.new_stream(sink, self._entities.schema) as writer:
            writer.write_table(self._entities)
        return self._transport.open(
            "POST",
            "/get-historical-features",
            body=sink.getvalue().to_pybytes(),
            content_type=ARROW_STREAM,
            accept=ARROW_STREAM,
            query=self._query,
        )

    def to_batches(self) -> Iterator[pa.RecordBatch]:
        """The answer's record batches as they arrive over HTTP (nothing buffered whole)."""
        response = self._open()
        try:
            try:
                reader = pa.ipc.open_stream(response)
                while True:
                    try:
                        batch = reader.read_next_batch()
                    except StopIteration:
                        return
                    yield batch
            except (pa.ArrowInvalid, OSError, http.client.HTTPException) as error:
                raise broken("POST", "/get-historical-features", error) from error
        finally:
            response.close()

    def to_arrow(self) -> pa.Table:
        response = self._open()
        with response:
            try:
                return pa.ipc.open_stream(response).read_all()
            except (pa.ArrowInvalid, OSError, http.client.HTTPException) as error:
                raise broken("POST", "/get-historical-features", error) from error

    def to_pandas(self) -> pd.DataFrame:
        """Timestamps tz-aware (UTC), integers as nullable ``Int64``, bools as ``boolean``."""
        return _frames.arrow_to_pandas(self.to_arrow())

    # Feast's name for it.
    to_df = to_pandas

    def to_polars(self) -> Any:
        try:
            import polars as pl
        except ImportError as error:
            raise ImportError("to_polars needs polars: pip install 'tributary-client[polars]'") from error
        return pl.from_arrow(self.to_arrow())


class OnlineResponse:
    """The answer of ``get_online_features``: Feast's column-major shape, with conversions."""

    def __init__(self, body: Mapping[str, Any], types: Mapping[str, str]) -> None:
        self.raw = body
        self.feature_names: List[str] = list(body["metadata"]["feature_names"])
        self._results = body["results"]
        self._types = types

    def _values(self, name: str, values: List[Any]) -> List[Any]:
        kind = self._types.get(name)
        if kind == "int64":
            # Beyond 2^53 the server sends decimal strings, exactly.
            return [int(v) if isinstance(v, str) else v for v in values]
        if kind == "timestamp":
            return [_timestamp(v) for v in values]
        return list(values)

    def to_dict(self) -> Dict[str, List[Any]]:
        """``{name: [values]}``, join keys first, as Feast's ``OnlineResponse.to_dict()``."""
        return {
            name: self._values(name, result["values"])
            for name, result in zip(self.feature_names, self._results)
        }

    def statuses(self) -> Dict[str, List[str]]:
        """``PRESENT``, ``NOT_FOUND``, ``NULL_VALUE`` or ``OUTSIDE_MAX_AGE`` per value."""
        return {name: list(result["statuses"]) for name, result in zip(self.feature_names, self._results)}

    def event_timestamps(self) -> Dict[str, List[dt.datetime]]:
        return {
            name: [_timestamp(v) for v in result["event_timestamps"]]
            for name, result in zip(self.feature_names, self._results)
        }

    def to_pandas(self) -> pd.DataFrame:
        columns: Dict[str, Any] = {}
        for name, values in self.to_dict().items():
            kind = self._types.get(name)
            if kind == "int64":
                columns[name] = pd.array(values, dtype="Int64")
            elif kind == "float64":
                columns[name] = pd.array([float("nan") if v is None else v for v in values], dtype="float64")
            elif kind == "bool":
                columns[name] = pd.array(values, dtype="boolean")
            elif kind == "timestamp":
                columns[name] = pd.to_datetime(pd.Series(values, dtype="object"), utc=True)
            else:
                columns[name] = values
        return pd.DataFrame(columns)

    to_df = to_pandas


def _timestamp(value: Any) -> Optional[dt.datetime]:
    """A timestamp of the answer (ISO-8601, or epoch ms) as a tz-aware UTC datetime."""
    if value is None:
        return None
    if isinstance(value, (int, float)):
        return dt.datetime.fromtimestamp(value / 1000, tz=dt.timezone.utc)
    ts = pd.Timestamp(value)
    ts = ts.tz_localize("UTC") if ts.tzinfo is None else ts.tz_convert("UTC")
    return ts.to_pydatetime()


class FeatureStore:
    """A Tributary feature server.

    ``url`` defaults to ``$TRIBUTARY_URL``, else ``http://127.0.0.1:6566``; ``api_key`` to
    ``$TRIBUTARY_API_KEY`` (sent as ``Authorization: Bearer``, one of the server's
    ``TRIBUTARY_API_KEYS``). ``timeout`` is per socket operation, in seconds.
    """

    def __init__(self, url: Optional[str] = None, api_key: Optional[str] = None, timeout: float = 300.0) -> None:
        url = url or os.environ.get("TRIBUTARY_URL") or DEFAULT_URL
        if api_key is None:
            api_key = os.environ.get("TRIBUTARY_API_KEY") or None
        self._transport = Transport(url, api_key, timeout)
        self.url = self._transport.base

    def __repr__(self) -> str:
        return f"FeatureStore({self.url!r})"

    # -- registry ---------------------------------------------------------------------------

    def list_feature_views(self) -> List[Dict[str, Any]]:
        """Feature views: name, entities, join_keys and features (name, type), ttl_ms, source, tags."""
        return list(self._transport.json("GET", "/feature-views")["feature_views"])

    def list_feature_services(self) -> List[Dict[str, Any]]:
        """Feature services: name and the ``view:feature`` references they select."""
        return list(self._transport.json("GET", "/feature-services")["feature_services"])

    def health(self) -> Dict[str, Any]:
        return self._transport.json("GET", "/health")

    # -- retrieval ----------------------------------------------------------------------------

    def get_historical_features(
        self,
        entity_df: Any,
        features: Optional[Sequence[str]] = None,
        feature_service: Optional[str] = None,
        full_feature_names: bool = False,
    ) -> RetrievalJob:
        """A point-in-time correct training set for the entity rows (join keys and
        ``event_timestamp``, any other columns passed through), as a job to fetch it.

        ``entity_df``: pandas or polars DataFrame, Arrow table, dict of columns or list of rows. A
        naive ``event_timestamp`` is UTC.
        """
        features_list, service = _selection(features, feature_service)
        table = _frames.as_arrow(entity_df, "entity_df")
        if "event_timestamp" not in table.column_names:
            raise TributaryError(
                "TRIB_BAD_REQUEST",
                f"entity_df lacks the 'event_timestamp' column (it has {', '.join(table.column_names)})",
            )
        return RetrievalJob(self._transport, table, features_list, service, full_feature_names)

    def get_online_features(
        self,
        features: Optional[Sequence[str]] = None,
        entity_rows: Optional[Iterable[Mapping[str, Any]]] = None,
        *,
        feature_service: Optional[str] = None,
        entities: Optional[Mapping[str, Sequence[Any]]] = None,
        full_feature_names: bool = False,
    ) -> OnlineResponse:
        """The latest feature values for entities: ``entity_rows=[{"driver_id": 1001}, ...]`` (as in
        Feast) or ``entities={"driver_id": [1001, ...]}``."""
        features_list, service = _selection(features, feature_service)
        if (entity_rows is None) == (entities is None):
            raise ValueError("give either entity_rows=[...] or entities={...}, not both or neither")
        columns = _rows_to_columns(list(entity_rows)) if entity_rows is not None else dict(entities or {})
        payload: Dict[str, Any] = {
            "entities": {
                name: [_frames.json_value(v, lambda i=i, name=name: f"{name}[{i}]") for i, v in enumerate(values)]
                for name, values in columns.items()
            },
            "full_feature_names": full_feature_names,
        }
        if service is not None:
            payload["feature_service"] = service
        else:
            payload["features"] = features_list
        body = self._transport.json("POST", "/get-online-features", payload)
        refs = features_list if service is None else self._service_features(service)
        types = self._column_types(body["metadata"]["feature_names"], refs, full_feature_names)
        return OnlineResponse(body, types)

    def _service_features(self, name: str) -> List[str]:
        for service in self.list_feature_services():
            if service["name"] == name:
                return list(service["features"])
        return []

    def _column_types(self, names: List[str], refs: List[str], full: bool) -> Dict[str, str]:
        """Each answer column's value type, from the registry: join keys first, then the features
        in request order (the answer's order)."""
        views = {v["name"]: v for v in self.list_feature_views()}
        types: Dict[str, str] = {}
        for view in views.values():
            for key in view.get("join_keys", []):
                types[key["name"]] = key["type"]
        keys = len(names) - len(refs)
        for name, ref in zip(names[max(keys, 0):], refs):
            view_name, _, feature = ref.partition(":")
            for field in views.get(view_name, {}).get("features", []):
                if field["name"] == feature:
                    types[name] = field["type"]
        return types

    # -- writes -------------------------------------------------------------------------------

    def push(self, push_source_name: str, df: Any, to: str = "online") -> Dict[str, Any]:
        """Writes rows through a push source (and so its Kafka topic) to the online store,
        the offline store or both (``to``: ``online``, ``offline`` or ``online_and_offline``).

        Each request is all or nothing. A frame too large for one request is sent in several;
        if one fails, the exception's ``details["rows_sent"]`` counts the rows already written.
        """
        if to not in PUSH_TO:
            raise ValueError(f"to must be one of {', '.join(PUSH_TO)}, not {to!r}")
        columns = _frames.json_columns(_frames.as_arrow(df, "df"))
        rows = len(next(iter(columns.values()), []))
        if rows == 0:
            raise TributaryError("TRIB_BAD_REQUEST", "df has no rows")
        sent = 0
        topic = None
        for start, end in _chunks(
            rows, lambda s, e: {k: v[s:e] for k, v in columns.items()}, overhead=len(push_source_name) + 64
        ):
            chunk = {k: v[start:end] for k, v in columns.items()}
            try:
                answer = self._transport.json(
                    "POST", "/push", {"push_source_name": push_source_name, "df": chunk, "to": to}
                )
            except TributaryError as error:
                raise _after(error, sent, start) from None
            sent += int(answer.get("rows", end - start))
            topic = answer.get("topic")
        return {"status": "ok", "rows": sent, "topic": topic, "to": to}

    def log_predictions(
        self,
        model: str,
        model_version: Any,
        df: Any,
        *,
        prediction_column: str = "prediction",
    ) -> Dict[str, Any]:
        """Logs predictions for the drift monitor (``POST /predictions``).

        ``df``: one row per prediction, with ``event_timestamp`` (default: now), the prediction
        (``prediction_column``), optionally ``prediction_id`` (default: a new UUID) and every other
        column as a feature. Or a list of prediction events (dicts) sent as they are. Each request
        is all or nothing; see ``push`` for large frames.
        """
        if isinstance(df, list) and all(isinstance(r, dict) for r in df):
            rows = [_frames.json_value(r, lambda i=i: f"rows[{i}]") for i, r in enumerate(df)]
        else:
            rows = _prediction_rows(_frames.as_arrow(df, "df"), prediction_column)
        if not rows:
            raise TributaryError("TRIB_BAD_REQUEST", "df has no rows")
        version = model_version if isinstance(model_version, (int, float, str)) else str(model_version)
        sent = 0
        topics: List[str] = []
        for start, end in _chunks(len(rows), lambda s, e: rows[s:e], overhead=len(model) + 64):
            try:
                answer = self._transport.json(
                    "POST",
                    "/predictions",
                    {"model": model, "model_version": version, "rows": rows[start:end]},
                )
            except TributaryError as error:
                raise _after(error, sent, start) from None
            sent += int(answer.get("rows", end - start))
            topics = list(answer.get("topics", topics))
        return {"status": "ok", "rows": sent, "topics": topics}


def _rows_to_columns(rows: List[Mapping[str, Any]]) -> Dict[str, List[Any]]:
    names: List[str] = []
    for row in rows:
        for name in row:
            if name not in names:
                names.append(name)
    columns: Dict[str, List[Any]] = {name: [] for name in names}
    for i, row in enumerate(rows):
        for name in names:
            if name not in row:
                raise ValueError(f"entity_rows[{i}] lacks '{name}', which other rows have")
            columns[name].append(row[name])
    return columns


def _prediction_rows(table: pa.Table, prediction_column: str) -> List[Dict[str, Any]]:
    if prediction_column not in table.column_names:
        raise TributaryError(
            "TRIB_MISSING_FIELD",
            f"df lacks the prediction column '{prediction_column}' (it has {', '.join(table.column_names)})",
        )
    columns = _frames.json_columns(table)
    n = table.num_rows
    ids = columns.pop("prediction_id", None) or [None] * n
    times = columns.pop("event_timestamp", None)
    predictions = columns.pop(prediction_column)
    for ignored in ("model", "model_version"):
        columns.pop(ignored, None)
    now = _frames.iso_utc(dt.datetime.now(dt.timezone.utc))
    rows = []
    for i in range(n):
        rows.append(
            {
                "prediction_id": ids[i] if ids[i] is not None else str(uuid.uuid4()),
                "event_timestamp": times[i] if times is not None else now,
                "features": {name: values[i] for name, values in columns.items()},
                "prediction": predictions[i],
            }
        )
    return rows


def _chunks(n: int, part: Any, overhead: int) -> Iterator[Tuple[int, int]]:
    """Row ranges whose JSON stays under the body limit: sized from the average row, halved
    until a range fits."""
    start = 0
    while start < n:
        size = len(dumps(part(start, min(n, start + 1))))
        step = max(1, min(n - start, (MAX_JSON_BODY - overhead) // max(size, 1)))
        while step > 1 and len(dumps(part(start, start + step))) + overhead > MAX_JSON_BODY:
            step //= 2
        yield start, start + step
        start += step


def _after(error: TributaryError, sent: int, start: int) -> TributaryError:
    """The error of a later request of a batched upload, saying which rows went through."""
    if start == 0:
        error.details["rows_sent"] = 0
        return error
    out = TributaryError(
        error.code,
        f"{error.message} (in the request of rows from {start}; the {sent} rows before were written)",
        status=error.status,
        details={**error.details, "rows_sent": sent},
    )
    return out


__all__ = ["FeatureStore", "OnlineResponse", "RetrievalJob"]
