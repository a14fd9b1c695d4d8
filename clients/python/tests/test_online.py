import pandas as pd

FEATURES = ["driver_hourly_stats:conv_rate", "driver_hourly_stats:avg_daily_trips"]


def test_to_dict_has_feasts_shape(store):
    response = store.get_online_features(
        features=FEATURES, entity_rows=[{"driver_id": 5001}, {"driver_id": 5002}, {"driver_id": 5999}]
    )
    assert response.to_dict() == {
        "driver_id": [5001, 5002, 5999],
        "conv_rate": [0.5, 0.25, None],
        "avg_daily_trips": [7, None, None],
    }
    assert response.statuses()["conv_rate"] == ["PRESENT", "PRESENT", "NOT_FOUND"]
    assert response.statuses()["avg_daily_trips"] == ["PRESENT", "NULL_VALUE", "NOT_FOUND"]


def test_entities_as_columns_and_to_pandas_dtypes(store, base):
    response = store.get_online_features(features=FEATURES, entities={"driver_id": [5002, 5001]})
    frame = response.to_pandas()
    assert list(frame.columns) == ["driver_id", "conv_rate", "avg_daily_trips"]
    assert str(frame["driver_id"].dtype) == "Int64"
    assert str(frame["avg_daily_trips"].dtype) == "Int64"
    assert frame["conv_rate"].dtype == "float64"
    assert frame["avg_daily_trips"].tolist()[1] == 7
    assert frame["avg_daily_trips"].isna().tolist() == [True, False]
    assert frame["conv_rate"].tolist() == [0.25, 0.5]
    assert response.event_timestamps()["conv_rate"] == [base, base]


def test_feature_service_with_full_feature_names(store):
    response = store.get_online_features(
        feature_service="driver_activity", entity_rows=[{"driver_id": 5001}], full_feature_names=True
    )
    assert response.to_dict() == {
        "driver_id": [5001],
        "driver_hourly_stats__conv_rate": [0.5],
        "driver_hourly_stats__acc_rate": [0.6],
        "driver_hourly_stats__avg_daily_trips": [7],
    }
    assert isinstance(response.to_df(), pd.DataFrame)
