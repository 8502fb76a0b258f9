"""Superset's settings for `make bi`, loaded through SUPERSET_CONFIG_PATH inside .venv-bi.

Everything generated (the metadata DB, the secret key) lives in FUNNELHOUSE_SUPERSET_HOME
(<data dir>/superset), never in the repository; bi/launch.py creates it before Superset starts.
"""

import os
from pathlib import Path

_HOME = Path(os.environ["FUNNELHOUSE_SUPERSET_HOME"])

SECRET_KEY = (_HOME / "secret_key").read_text().strip()
SQLALCHEMY_DATABASE_URI = f"sqlite:///{_HOME / 'superset.db'}?check_same_thread=false"

# Loopback only, no TLS: Talisman's HTTPS redirect and strict CSP would break the local UI.
TALISMAN_ENABLED = False
# In-process rate-limit storage is enough for one local instance (and silences its warning).
RATELIMIT_STORAGE_URI = "memory://"
# Charts query the warehouse at once; nothing is cached across `make bi` runs.
DATA_CACHE_CONFIG = {"CACHE_TYPE": "NullCache"}
FEATURE_FLAGS = {"DASHBOARD_NATIVE_FILTERS": True}
# The marts are small; a dashboard of eight charts should not queue behind two workers.
SQLLAB_TIMEOUT = 120
SUPERSET_WEBSERVER_TIMEOUT = 120
