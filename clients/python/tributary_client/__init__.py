"""Python client for the Tributary feature server.

>>> from tributary_client import FeatureStore
>>> store = FeatureStore("http://127.0.0.1:6566", api_key="k1")
>>> job = store.get_historical_features(entity_df, features=["driver_hourly_stats:conv_rate"])
>>> training = job.to_pandas()
"""

from .errors import TributaryError
from .store import FeatureStore, OnlineResponse, RetrievalJob

__version__ = "0.1.0"

__all__ = ["FeatureStore", "OnlineResponse", "RetrievalJob", "TributaryError", "__version__"]
