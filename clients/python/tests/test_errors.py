import pandas as pd
import pytest

from tributary_client import FeatureStore, TributaryError


def test_an_unknown_feature_raises_its_code(store):
    entities = pd.DataFrame({"driver_id": [5001], "event_timestamp": [pd.Timestamp.now(tz="UTC")]})
    with pytest.raises(TributaryError) as historical:
        store.get_historical_features(entities, features=["driver_hourly_stats:nope"]).to_arrow()
    assert historical.value.code == "TRIB_UNKNOWN_FEATURE"
    assert historical.value.status == 400
    assert "nope" in historical.value.message
    assert not historical.value.retriable

    with pytest.raises(TributaryError) as online:
        store.get_online_features(features=["no_view:x"], entity_rows=[{"driver_id": 1}])
    assert online.value.code in ("TRIB_UNKNOWN_FEATURE", "TRIB_UNKNOWN_FEATURE_VIEW")


def test_a_wrong_api_key_is_unauthorized(store):
    other = FeatureStore(store.url, api_key="not-the-key")
    with pytest.raises(TributaryError) as caught:
        other.list_feature_views()
    assert caught.value.code == "TRIB_UNAUTHORIZED"
    assert caught.value.status == 401


def test_an_unreachable_server_is_service_unavailable():
    nowhere = FeatureStore("http://127.0.0.1:1", api_key="k", timeout=5)
    with pytest.raises(TributaryError) as caught:
        nowhere.list_feature_services()
    assert caught.value.code == "TRIB_SERVICE_UNAVAILABLE"
    assert caught.value.status is None
    assert caught.value.retriable


def test_missing_entity_columns_are_refused(store):
    with pytest.raises(TributaryError) as no_time:
        store.get_historical_features(pd.DataFrame({"driver_id": [1]}), features=["driver_hourly_stats:conv_rate"])
    assert no_time.value.code == "TRIB_BAD_REQUEST"
    entities = pd.DataFrame({"customer": [1], "event_timestamp": [pd.Timestamp.now(tz="UTC")]})
    with pytest.raises(TributaryError) as no_key:
        store.get_historical_features(entities, features=["driver_hourly_stats:conv_rate"]).to_pandas()
    assert no_key.value.code == "TRIB_MISSING_ENTITY"
    assert "driver_id" in no_key.value.message


def test_selection_arguments_are_checked_before_any_request(store):
    entities = pd.DataFrame({"driver_id": [1], "event_timestamp": [pd.Timestamp.now(tz="UTC")]})
    with pytest.raises(ValueError):
        store.get_historical_features(entities)
    with pytest.raises(TypeError):
        store.get_historical_features(entities, features="driver_hourly_stats:conv_rate")
    with pytest.raises(TypeError):
        store.get_historical_features("SELECT * FROM entities", features=["driver_hourly_stats:conv_rate"])
