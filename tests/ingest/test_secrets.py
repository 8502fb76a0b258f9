"""Secrets never reach output, logs, exceptions or Dagster, in any spelling: raw,
percent-encoded (as requests prints URLs), base64 (HTTP Basic auth) or as URL userinfo."""

from __future__ import annotations

import base64
import logging
import traceback
from urllib.parse import quote, quote_plus

import pytest
import requests
from dagster import DagsterInstance
from requests.utils import requote_uri
from typer.testing import CliRunner

from funnelhouse.cli import app
from funnelhouse.ingest.bitrix24 import Bitrix24Settings
from funnelhouse.ingest.http import SourceError
from funnelhouse.ingest.onec import OneCSettings
from funnelhouse.ingest.secrets import Redactor, env_secrets, redact_url
from funnelhouse.ingest.sources import SOURCES, SourceSession
from funnelhouse.orchestration.run import JobFailed, run_job
from tests.conftest import free_port, use_emulators

CODE = "Zq+7%x y:w=Q&k"  # a webhook code with characters a URL must escape
PASSWORD = "p@ss:w/rd%+"  # a 1C password that must be escaped as URL userinfo
USER = "odata.user"


def forms(secret: str) -> set[str]:
    """How a secret may be printed: as typed, percent-encoded (as urllib and requests do, in
    a path or a sent URL), base64."""
    sent = secret  # a path segment as requests sends it (a webhook code travels so)
    if "/" not in secret:
        sent = requests.Request("GET", f"http://h/{secret}/").prepare().url.split("/")[3]
    return {secret, quote(secret, safe=""), quote(secret), quote_plus(secret), sent,
            requote_uri(secret), base64.b64encode(secret.encode()).decode()}  # fmt: skip


def leaks(text: str, *passwords: str) -> list[str]:
    found = [f for f in forms(CODE) if f in text]
    for password in (PASSWORD, *passwords):
        basic = base64.b64encode(f"{USER}:{password}".encode()).decode()
        found += [f for f in forms(password) | {basic, basic.rstrip("=")} if f in text]
    return found + (["userinfo"] if f"{USER}:" in text else [])


def _with_userinfo(url: str, password: str) -> str:
    return url.replace("://", f"://{USER}:{quote(password, safe='')}@")


def test_every_spelling_is_masked():
    userinfo = f"http://{USER}:{quote(PASSWORD, safe='')}@1c.example/ib/odata/standard.odata"
    webhook = f"https://portal.example/rest/1/{CODE}/"
    redact = Redactor(env_secrets({"BITRIX24_WEBHOOK_URL": webhook, "ONEC_BASE_URL": userinfo}))
    text = " | ".join([*forms(CODE), *forms(PASSWORD), userinfo, webhook, requote_uri(webhook),
                       "Authorization: Basic " + base64.b64encode(f"{USER}:{PASSWORD}".encode())
                       .decode()])  # fmt: skip
    assert leaks(redact(text)) == []
    # By shape, even when the value is not known: URL credentials, webhook codes, headers.
    assert Redactor()("GET https://bob:hunter22@x.example/a") == "GET https://***@x.example/a"
    assert redact_url("https://p.example/rest/7/abc%20def/crm.deal.list?x=1") == (
        "https://p.example/rest/7/***/crm.deal.list"
    )
    assert Redactor()("Authorization: Bearer abcdefgh12345") == "Authorization: Bearer ***"


def test_settings_reprs_mask_url_credentials():
    onec = OneCSettings(base_url=f"http://{USER}:{quote(PASSWORD, safe='')}@h/ib", user="")
    bitrix = Bitrix24Settings(webhook_url=f"https://p.example/rest/1/{CODE}/")
    for text in (repr(onec), str(onec), repr(bitrix), str(bitrix)):
        assert leaks(text) == [], text


@pytest.fixture
def secret_env(emulators, monkeypatch):
    """A wrong Bitrix24 code with special characters; 1C's (right) credentials only in the
    URL. Its password is the emulator's: `leaks(text, onec_password(...))` looks for it."""
    root = emulators.root("bitrix24")
    monkeypatch.setenv("BITRIX24_WEBHOOK_URL", f"{root}/rest/1/{CODE}/")
    password = emulators.credentials.onec_password
    monkeypatch.setenv("ONEC_BASE_URL", _with_userinfo(emulators.onec_url, password))
    monkeypatch.delenv("ONEC_USER")
    monkeypatch.delenv("ONEC_PASSWORD")
    return emulators


def test_errors_and_logs_of_a_sync_leak_nothing(secret_env, store, caplog, monkeypatch):
    caplog.set_level(logging.DEBUG)
    caplog.set_level(logging.DEBUG, logger="urllib3")  # it logs every URL it requests
    session = SourceSession(store)
    texts = []
    with pytest.raises(SourceError) as refused:  # the wrong code: refused at once
        session.sync("bitrix24", "deals")
    texts += [
        str(refused.value),
        repr(refused.value),
        "".join(traceback.format_exception(refused.value)),
    ]
    # An unreachable port: requests reports the (percent-encoded) path in its retry errors.
    monkeypatch.setenv("BITRIX24_WEBHOOK_URL", f"http://127.0.0.1:{free_port()}/rest/1/{CODE}/")
    session = SourceSession(store)
    http = session.http(SOURCES["bitrix24"])
    http.max_attempts, http.backoff_base, http.backoff_max = 2, 0.01, 0.01
    with pytest.raises(SourceError) as gave_up:
        session.sync("bitrix24", "deals")
    assert "gave up after 2 attempts" in str(gave_up.value)
    texts += [str(gave_up.value), "".join(traceback.format_exception(gave_up.value))]
    # 1C with its credentials in the URL only: they work, and are printed nowhere.
    onec = SourceSession(store)
    assert onec.sync("onec", "sales").rows > 0
    texts += [repr(s) for s in onec.settings.values()]
    # A wrong 1C password with special characters, in the URL: refused, and not printed.
    monkeypatch.setenv("ONEC_BASE_URL", _with_userinfo(secret_env.onec_url, PASSWORD))
    with pytest.raises(SourceError, match="ONEC_USER and ONEC_PASSWORD") as wrong:
        SourceSession(store).sync("onec", "sales")
    texts += [str(wrong.value), "".join(traceback.format_exception(wrong.value))]
    # urllib3 logs each request line, path and all, when its logger is at DEBUG.
    sent = requests.Request("POST", f"http://h/rest/1/{CODE}/batch.json").prepare().path_url
    logging.getLogger("urllib3.connectionpool").debug('"POST %s HTTP/1.1" 401 0', sent)
    messages = [r.getMessage() for r in caplog.records]
    assert '"POST /rest/1/***/batch.json HTTP/1.1" 401 0' in messages
    texts += messages + [repr(s) for s in session.settings.values()]
    assert leaks("\n".join(texts), secret_env.credentials.onec_password) == []


def test_cli_output_leaks_nothing(secret_env, warehouse, monkeypatch, tmp_path):
    monkeypatch.setenv("FUNNELHOUSE_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("CLICKHOUSE_HOST", warehouse.host)
    monkeypatch.setenv("CLICKHOUSE_PORT", str(warehouse.port))
    runner = CliRunner()
    check = runner.invoke(app, ["sources", "check"])
    assert check.exit_code == 1, check.output
    assert "BITRIX24_WEBHOOK_URL" in check.output and "NO_AUTH_FOUND" in check.output
    ingest = runner.invoke(app, ["ingest", "run", "--source", "bitrix24", "--source", "onec",
                                 "--stream", "deals", "--stream", "sales"])  # fmt: skip
    assert ingest.exit_code == 1
    assert "onec/sales" in ingest.output  # 1C loaded with the URL's credentials
    for result in (check, ingest):
        assert leaks(result.output, secret_env.credentials.onec_password) == [], result.output
        assert result.exception is None or isinstance(result.exception, SystemExit)


def test_dagster_events_leak_nothing(secret_env, warehouse, monkeypatch):
    use_emulators(monkeypatch, secret_env, warehouse)
    root = secret_env.root("bitrix24")
    monkeypatch.setenv("BITRIX24_WEBHOOK_URL", f"{root}/rest/1/{CODE}/")
    instance = DagsterInstance.ephemeral()
    with pytest.raises(JobFailed) as failed:
        run_job("incremental", warehouse, instance, select="group:raw_bitrix24")
    message = str(failed.value)
    assert message.count("NO_AUTH_FOUND") == 1  # said once, not per stream
    logs = instance.all_logs(instance.get_runs()[0].run_id)
    text = message + "\n".join(repr(e) for e in logs)
    assert "BITRIX24_WEBHOOK_URL" in text
    assert leaks(text, secret_env.credentials.onec_password) == []
    # Failed for good: no step was retried.
    assert not [e for e in logs if e.dagster_event and e.dagster_event.event_type_value
                == "STEP_UP_FOR_RETRY"]  # fmt: skip
