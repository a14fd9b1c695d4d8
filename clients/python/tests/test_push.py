import datetime as dt
import time

import pandas as pd
import polars as pl
import pytest

from tributary_client import TributaryError

FEATURES = [
    "driver_hourly_stats:conv_rate",
    "driver_hourly_stats:acc_rate",
    "driver_hourly_stats:avg_daily_trips",
]


def poll(what, attempt, timeout=60.0):
    deadline = time.monotonic() + timeout
    while True:
        value = attempt()
        if value is not None:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.25)


def test_pushed_rows_reach_both_stores(store):
    at = pd.Timestamp.now(tz="UTC").floor("s") - pd.Timedelta(minutes=5)
    df = pd.DataFrame(
        {
            "driver_id": [5101, 5102],
            "event_timestamp": [at, at],
            "conv_rate": [0.11, float("nan")],
            "acc_rate": [0.22, 0.33],
            "avg_daily_trips": pd.array([4, None], dtype="Int64"),
        }
    )
    answer = store.push("driver_stats_push", df, to="online_and_offline")
    assert answer["rows"] == 2 and answer["to"] == "online_and_offline"

    def online():
        r = store.get_online_features(features=FEATURES, entity_rows=[{"driver_id": 5101}, {"driver_id": 5102}])
        return r if r.statuses()["acc_rate"] == ["PRESENT", "PRESENT"] else None

    assert poll("pushed rows online", online).to_dict() == {
        "driver_id": [5101, 5102],
        "conv_rate": [0.11, None],
        "acc_rate": [0.22, 0.33],
        "avg_daily_trips": [4, None],
    }
    entities = pd.DataFrame({"driver_id": [5102, 5101], "event_timestamp": [at, at + pd.Timedelta(seconds=1)]})

    def offline():
        t = store.get_historical_features(entities, features=FEATURES).to_arrow()
        return t if t.column("acc_rate").null_count == 0 else None

    table = poll("pushed rows offline", offline)
    assert table.column("acc_rate").to_pylist() == [0.33, 0.22]
    assert table.column("conv_rate").to_pylist() == [None, 0.11]
    assert table.column("avg_daily_trips").to_pylist() == [None, 4]


def test_push_a_polars_frame_online_only(store):
    at = dt.datetime.now(dt.timezone.utc).replace(microsecond=0) - dt.timedelta(minutes=1)
    df = pl.DataFrame(
        {
            "driver_id": [5103],
            "event_timestamp": [at],
            "conv_rate": [0.9],
            "acc_rate": [None],
            "avg_daily_trips": [12],
        },
        schema_overrides={"acc_rate": pl.Float64},
    )
    assert store.push("driver_stats_push", df)["to"] == "online"

    def online():
        r = store.get_online_features(features=FEATURES, entities={"driver_id": [5103]})
        return r if r.statuses()["conv_rate"] == ["PRESENT"] else None

    assert poll("the polars row online", online).to_dict() == {
        "driver_id": [5103],
        "conv_rate": [0.9],
        "acc_rate": [None],
        "avg_daily_trips": [12],
    }


def test_a_bad_row_refuses_the_push_with_its_code(store):
    df = pd.DataFrame(
        {
            "driver_id": [5104],
            "event_timestamp": [pd.Timestamp.now(tz="UTC")],
            "conv_rate": ["high"],
            "acc_rate": [0.1],
            "avg_daily_trips": [1],
        }
    )
    with pytest.raises(TributaryError) as caught:
        store.push("driver_stats_push", df)
    assert caught.value.code == "TRIB_WRONG_TYPE"
    assert caught.value.status == 400
    assert "df row 0" in caught.value.message and "conv_rate" in caught.value.message
    assert caught.value.details["rows_sent"] == 0

    with pytest.raises(TributaryError) as unknown:
        store.push("no_such_source", df)
    assert unknown.value.code == "TRIB_UNKNOWN_PUSH_SOURCE"
    with pytest.raises(ValueError):
        store.push("driver_stats_push", df, to="everywhere")
