"""The chDB engine's own server config: what the engine enforces for every request.

chDB runs every query as its `default` user, whose grants come from this users.xml. Without an
`allow_external` user in the users file it keeps all rights on databases and tables and reading
files, but no other source grant (url, s3, remote, mysql, postgresql, mongo, hdfs, jdbc, odbc,
azure, writing files, ...): the engine itself answers ACCESS_DENIED for table functions, table
engines and dictionary sources that would reach the network, whatever the SQL looks like. The
engine cannot confine file reads to user_files (chDB ignores `user_files_path`), so the query
policy does that (see host_files.py). An admin with `allow_external` needs every source grant;
only the query policy then refuses them to the other users. Outbound calls always time out.
"""

from __future__ import annotations

from pathlib import Path
from xml.sax.saxutils import escape

_USERS_XML = """<clickhouse>
  <profiles>
    <default>
      <connect_timeout>5</connect_timeout>
      <connect_timeout_with_failover_ms>5000</connect_timeout_with_failover_ms>
      <http_connection_timeout>5</http_connection_timeout>
      <http_send_timeout>30</http_send_timeout>
      <http_receive_timeout>30</http_receive_timeout>
      <receive_timeout>30</receive_timeout>
      <send_timeout>30</send_timeout>
      <http_max_tries>2</http_max_tries>
      <external_storage_connect_timeout_sec>5</external_storage_connect_timeout_sec>
      <external_storage_rw_timeout_sec>30</external_storage_rw_timeout_sec>
      <s3_request_timeout_ms>30000</s3_request_timeout_ms>
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
{source_grants}      </grants>
    </default>
  </users>
</clickhouse>
"""
_LOCAL_ONLY_GRANTS = (
    "        <query>REVOKE SOURCES ON *.*</query>\n        <query>GRANT READ ON FILE</query>\n"
)


def write_engine_config(run_dir: Path, user_files: Path, allow_external: bool = False) -> Path:
    """Write config.xml (+ users.xml) under `run_dir`; returns the config to start chDB with.

    `allow_external`: some endpoint user may reach files and the network, so the engine must
    let its one user do it too."""
    run_dir.mkdir(parents=True, exist_ok=True)
    user_files.mkdir(parents=True, exist_ok=True)
    users_xml = run_dir / "engine-users.xml"
    users_xml.write_text(
        _USERS_XML.format(source_grants="" if allow_external else _LOCAL_ONLY_GRANTS)
    )
    config = run_dir / "engine-config.xml"
    remote_hosts = (
        ""
        if allow_external
        else "  <remote_url_allow_hosts><host>localhost.invalid</host></remote_url_allow_hosts>\n"
    )
    config.write_text(
        "<clickhouse>\n"
        f"  <user_files_path>{escape(str(user_files))}/</user_files_path>\n"
        f"  <users_config>{escape(str(users_xml))}</users_config>\n"
        f"{remote_hosts}"
        "</clickhouse>\n"
    )
    return config
