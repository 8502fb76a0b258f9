"""The chDB engine's own server config: what the engine enforces for every request.

chDB runs every query as its `default` user, whose grants come from this users.xml. It keeps all
rights on databases and tables but no source grants (file, url, s3, remote, mysql, postgresql,
mongo, hdfs, jdbc, odbc, azure, ...): the engine itself answers ACCESS_DENIED for table
functions, table engines and dictionary sources that would reach the file system or the network,
whatever the SQL looks like. Outbound timeouts are set in case a future grant reopens them.
"""

from __future__ import annotations

from pathlib import Path
from xml.sax.saxutils import escape

_USERS_XML = """<clickhouse>
  <profiles>
    <default>
      <connect_timeout>5</connect_timeout>
      <http_connection_timeout>5</http_connection_timeout>
      <http_send_timeout>30</http_send_timeout>
      <http_receive_timeout>30</http_receive_timeout>
      <receive_timeout>30</receive_timeout>
      <send_timeout>30</send_timeout>
    </default>
  </profiles>
  <quotas><default></default></quotas>
  <users>
    <default>
      <no_password/>
      <profile>default</profile>
      <quota>default</quota>
      <grants>
        <query>GRANT ALL ON *.*</query>
        <query>REVOKE SOURCES ON *.*</query>
      </grants>
    </default>
  </users>
</clickhouse>
"""


def write_engine_config(run_dir: Path, user_files: Path) -> Path:
    """Write config.xml (+ users.xml) under `run_dir`; returns the config to start chDB with."""
    run_dir.mkdir(parents=True, exist_ok=True)
    user_files.mkdir(parents=True, exist_ok=True)
    users_xml = run_dir / "engine-users.xml"
    users_xml.write_text(_USERS_XML)
    config = run_dir / "engine-config.xml"
    config.write_text(
        "<clickhouse>\n"
        f"  <user_files_path>{escape(str(user_files))}/</user_files_path>\n"
        f"  <users_config>{escape(str(users_xml))}</users_config>\n"
        "  <remote_url_allow_hosts><host>localhost.invalid</host></remote_url_allow_hosts>\n"
        "</clickhouse>\n"
    )
    return config
