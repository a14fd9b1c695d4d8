def test_lists_feature_views_with_their_types(store):
    views = {v["name"]: v for v in store.list_feature_views()}
    stats = views["driver_hourly_stats"]
    assert stats["join_keys"] == [{"name": "driver_id", "type": "int64"}]
    assert [(f["name"], f["type"]) for f in stats["features"]] == [
        ("conv_rate", "float64"),
        ("acc_rate", "float64"),
        ("avg_daily_trips", "int64"),
    ]
    assert stats["ttl_ms"] == 86_400_000
    assert stats["tags"] == {"team": "driver_performance"}


def test_lists_feature_services_with_their_references(store):
    services = {s["name"]: s for s in store.list_feature_services()}
    assert services["driver_activity"]["features"] == [
        "driver_hourly_stats:conv_rate",
        "driver_hourly_stats:acc_rate",
        "driver_hourly_stats:avg_daily_trips",
    ]
