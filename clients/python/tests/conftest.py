"""The suite runs against a real Tributary server with the example repository applied.

`npm test` sets it up (test/integration/python-client.integration.test.ts) and passes:
TRIBUTARY_URL and TRIBUTARY_API_KEY (the server), TRIBUTARY_TEST_FIXTURE (a JSON file with the
driver events it materialized: ``{"base_ms", "events": [...], "model"}``).
"""

import datetime as dt
import json
import os

import pytest

from tributary_client import FeatureStore


def _required(name: str) -> str:
    value = os.environ.get(name)
    if not value:
        raise pytest.UsageError(
            f"{name} is not set: run these tests through `npm test` (or "
            "`npx vitest run test/integration/python-client.integration.test.ts`), which starts a server"
        )
    return value


@pytest.fixture(scope="session")
def store() -> FeatureStore:
    return FeatureStore(_required("TRIBUTARY_URL"), api_key=_required("TRIBUTARY_API_KEY"))


@pytest.fixture(scope="session")
def data() -> dict:
    with open(_required("TRIBUTARY_TEST_FIXTURE"), encoding="utf-8") as f:
        return json.load(f)


@pytest.fixture(scope="session")
def base(data) -> dt.datetime:
    """The event time of the latest materialized events, tz-aware UTC."""
    return dt.datetime.fromtimestamp(data["base_ms"] / 1000, tz=dt.timezone.utc)
