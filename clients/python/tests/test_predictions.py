import pandas as pd
import pytest

from tributary_client import TributaryError


def test_logs_predictions_to_the_models_topic(store, data):
    df = pd.DataFrame(
        {
            "prediction_id": ["py-1", "py-2", "py-3"],
            "event_timestamp": pd.to_datetime(
                ["2026-11-20T10:00:00Z", "2026-11-20T10:00:01.5Z", "2026-11-20T12:00:00+01:00"],
                format="ISO8601",
                utc=True,
            ),
            "conv_rate": [0.5, float("nan"), 0.3],
            "acc_rate": [0.6, 0.1, 0.4],
            "avg_daily_trips": pd.array([7, None, 2], dtype="Int64"),
            "prediction": [0.9, 0.1, 0.5],
        }
    )
    answer = store.log_predictions(data["model"], "7", df)
    assert answer["rows"] == 3
    assert len(answer["topics"]) == 1 and answer["topics"][0].endswith(".predictions")


def test_a_bad_row_refuses_the_whole_batch_naming_row_and_field(store, data):
    events = [
        {"prediction_id": "bad-0", "event_timestamp": "2026-11-20T10:00:00Z", "features": {}, "prediction": 1},
        {"prediction_id": "bad-1", "features": {"conv_rate": 0.1}, "prediction": 1},
    ]
    with pytest.raises(TributaryError) as caught:
        store.log_predictions(data["model"], "7", events)
    assert caught.value.code == "TRIB_MISSING_FIELD"
    assert caught.value.status == 400
    assert caught.value.message.startswith("rows[1] (field event_timestamp)")

    nested = pd.DataFrame({"prediction_id": ["bad-2"], "conv_rate": [{"value": 0.1}], "prediction": [0.2]})
    with pytest.raises(TributaryError) as wrong:
        store.log_predictions(data["model"], "7", nested)
    assert wrong.value.code == "TRIB_WRONG_TYPE"
    assert wrong.value.message.startswith("rows[0] (field features.conv_rate)")


def test_an_unknown_model_and_a_missing_prediction_column_are_coded(store):
    df = pd.DataFrame({"prediction_id": ["x"], "event_timestamp": [pd.Timestamp.now(tz="UTC")], "prediction": [1.0]})
    with pytest.raises(TributaryError) as unknown:
        store.log_predictions("no_such_model", 1, df)
    assert unknown.value.code == "TRIB_NOT_FOUND"
    assert unknown.value.status == 404
    assert "no_such_model" in unknown.value.message

    with pytest.raises(TributaryError) as missing:
        store.log_predictions("driver_model", 1, df.drop(columns=["prediction"]))
    assert missing.value.code == "TRIB_MISSING_FIELD"
