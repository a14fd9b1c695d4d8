import datetime as dt
import math

import pandas as pd
import polars as pl
import pyarrow as pa
import pytest

FEATURES = [
    "driver_hourly_stats:conv_rate",
    "driver_hourly_stats:acc_rate",
    "driver_hourly_stats:avg_daily_trips",
]
SECOND = dt.timedelta(seconds=1)


def entity_rows(base):
    """Entity rows and, per row, the (conv_rate, acc_rate, avg_daily_trips) they must get."""
    return [
        (5001, base + SECOND, 1, (0.5, 0.6, 7)),  # the latest event before
        (5001, base - dt.timedelta(minutes=10), 0, (0.1, 0.2, 3)),  # the earlier event
        (5002, base + SECOND, 1, (0.25, None, None)),  # stored nulls stay null
        (5003, base, 0, (None, None, None)),  # an unknown driver
        (5001, base - dt.timedelta(hours=2), 1, (None, None, None)),  # before any event
        (5001, base + dt.timedelta(days=2), 0, (None, None, None)),  # beyond the 1-day ttl
        (5001, base, 1, (0.5, 0.6, 7)),  # exactly at the event time: included
    ]


def entity_df(base):
    rows = entity_rows(base)
    return pd.DataFrame(
        {
            "driver_id": [r[0] for r in rows],
            "event_timestamp": pd.to_datetime([r[1] for r in rows], utc=True),
            "label": [r[2] for r in rows],
        }
    )


def expected(base, i):
    return [r[3][i] for r in entity_rows(base)]


def same(values, wanted):
    """Values equal, a null matching None, NaN or pd.NA."""
    assert len(values) == len(wanted)
    for v, w in zip(values, wanted):
        if w is None:
            assert v is None or v is pd.NA or (isinstance(v, float) and math.isnan(v)), (values, wanted)
        else:
            assert v == w, (values, wanted)


def test_to_pandas_gives_point_in_time_values_with_nullable_ints_and_utc_timestamps(store, base):
    frame = store.get_historical_features(entity_df(base), features=FEATURES).to_pandas()
    assert list(frame.columns) == ["driver_id", "event_timestamp", "label", "conv_rate", "acc_rate", "avg_daily_trips"]
    assert frame["driver_id"].tolist() == [r[0] for r in entity_rows(base)]
    assert frame["label"].tolist() == [r[2] for r in entity_rows(base)]
    same(frame["conv_rate"].tolist(), expected(base, 0))
    same(frame["acc_rate"].tolist(), expected(base, 1))
    same(frame["avg_daily_trips"].tolist(), expected(base, 2))

    assert str(frame["driver_id"].dtype) == "Int64"
    assert str(frame["label"].dtype) == "Int64"
    assert str(frame["avg_daily_trips"].dtype) == "Int64"
    assert frame["avg_daily_trips"].isna().tolist() == [False, False, True, True, True, True, False]
    assert frame["conv_rate"].dtype == "float64"
    ts = frame["event_timestamp"].dtype
    assert isinstance(ts, pd.DatetimeTZDtype) and str(ts.tz) == "UTC"
    assert frame["event_timestamp"].tolist() == [pd.Timestamp(r[1]) for r in entity_rows(base)]


def test_to_df_is_to_pandas_as_in_feast(store, base):
    job = store.get_historical_features(entity_df(base), features=FEATURES)
    pd.testing.assert_frame_equal(job.to_df(), job.to_pandas())


def test_to_arrow_keeps_the_server_types(store, base):
    table = store.get_historical_features(entity_df(base), features=FEATURES).to_arrow()
    assert table.schema.field("driver_id").type == pa.int64()
    assert table.schema.field("event_timestamp").type == pa.timestamp("us", tz="UTC")
    assert table.schema.field("conv_rate").type == pa.float64()
    assert table.schema.field("avg_daily_trips").type == pa.int64()
    assert table.column("avg_daily_trips").to_pylist() == list(expected(base, 2))


def test_entity_df_as_polars_and_to_polars(store, base):
    rows = entity_rows(base)
    entities = pl.DataFrame(
        {
            "driver_id": [r[0] for r in rows],
            "event_timestamp": [r[1] for r in rows],
            "label": [r[2] for r in rows],
        }
    )
    out = store.get_historical_features(entities, features=FEATURES).to_polars()
    assert isinstance(out, pl.DataFrame)
    assert out["driver_id"].to_list() == [r[0] for r in rows]
    assert out["conv_rate"].to_list() == expected(base, 0)
    assert out["avg_daily_trips"].to_list() == expected(base, 2)
    assert out["avg_daily_trips"].dtype == pl.Int64


def test_entity_df_as_arrow_with_naive_milliseconds_taken_as_utc(store, base):
    rows = entity_rows(base)
    entities = pa.table(
        {
            "driver_id": pa.array([r[0] for r in rows], pa.int64()),
            "event_timestamp": pa.array(
                [r[1].astimezone(dt.timezone.utc).replace(tzinfo=None) for r in rows], pa.timestamp("ms")
            ),
        }
    )
    table = store.get_historical_features(entities, features=FEATURES).to_arrow()
    assert table.column("conv_rate").to_pylist() == expected(base, 0)


def test_entity_df_as_columns_with_iso_strings(store, base):
    entities = {
        "driver_id": [5001, 5002],
        "event_timestamp": [(base + SECOND).isoformat(), (base + SECOND).isoformat()],
    }
    table = store.get_historical_features(entities, features=FEATURES).to_arrow()
    assert table.column("conv_rate").to_pylist() == [0.5, 0.25]


def test_full_feature_names_and_feature_service(store, base):
    frame = store.get_historical_features(
        entity_df(base), feature_service="driver_activity", full_feature_names=True
    ).to_pandas()
    assert list(frame.columns)[3:] == [
        "driver_hourly_stats__conv_rate",
        "driver_hourly_stats__acc_rate",
        "driver_hourly_stats__avg_daily_trips",
    ]
    same(frame["driver_hourly_stats__avg_daily_trips"].tolist(), expected(base, 2))


def test_to_batches_streams_a_large_training_set_batch_by_batch(store, base):
    n = 140_000
    entities = pa.table(
        {
            "driver_id": pa.array([5001 if i % 2 == 0 else 5002 for i in range(n)], pa.int64()),
            "event_timestamp": pa.array([base + SECOND] * n, pa.timestamp("us", tz="UTC")),
            "row": pa.array(range(n), pa.int64()),
        }
    )
    batches = store.get_historical_features(entities, features=FEATURES).to_batches()
    first = next(batches)
    assert isinstance(first, pa.RecordBatch)
    # The server answers in record batches of at most 65,536 rows: more than one arrives.
    assert 0 < first.num_rows <= 65_536
    rest = list(batches)
    assert len(rest) >= 2
    table = pa.Table.from_batches([first, *rest])
    assert table.num_rows == n
    assert table.column("row").to_pylist() == list(range(n))
    conv = table.column("conv_rate").to_pylist()
    assert conv[:4] == [0.5, 0.25, 0.5, 0.25]
    assert sum(conv) == pytest.approx(n / 2 * 0.5 + n / 2 * 0.25)
    assert table.column("avg_daily_trips").null_count == n // 2


def test_an_abandoned_batch_stream_closes_its_connection(store, base):
    job = store.get_historical_features(entity_df(base), features=FEATURES)
    batches = job.to_batches()
    next(batches)
    batches.close()  # closes the HTTP response; the next retrieval works as before
    assert job.to_arrow().num_rows == len(entity_rows(base))
