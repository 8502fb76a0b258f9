"""Run inside .venv-bi by bi/launch.py: the admin user, the dashboards, the datasets' columns.

Idempotent: the admin's password is set to the one in <home>/admin.json, the bundle is
imported as assets, which overwrites every database, dataset, chart and dashboard of the same
UUID (`superset import-dashboards` would keep stale datasets and charts) and never duplicates,
and every dataset's columns are re-read from the warehouse, which also proves that Superset
reaches it as `bi`. Secrets come from files and the environment, never from argv or output.

Usage: python bi/superset_setup.py <bundle.zip> <database bundle path>...
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from zipfile import ZipFile


def main(bundle: Path, database_paths: list[str]) -> None:
    from flask import g
    from superset.app import create_app

    app = create_app()
    with app.app_context():
        from superset import db, security_manager
        from superset.commands.importers.v1.assets import ImportAssetsCommand
        from superset.commands.importers.v1.utils import get_contents_from_bundle
        from superset.connectors.sqla.models import SqlaTable

        home = Path(os.environ["FUNNELHOUSE_SUPERSET_HOME"])
        admin = json.loads((home / "admin.json").read_text())
        user = security_manager.find_user(username=admin["username"])
        if user is None:
            user = security_manager.add_user(
                admin["username"], "Funnelhouse", "Admin", "admin@localhost",
                security_manager.find_role("Admin"), password=admin["password"],
            )  # fmt: skip
            if not user:
                sys.exit("could not create the Superset admin user")
        else:
            security_manager.reset_password(user.id, admin["password"])
        g.user = user

        with ZipFile(bundle) as z:
            contents = get_contents_from_bundle(z)
        password = os.environ["FUNNELHOUSE_BI_PASSWORD"]
        ImportAssetsCommand(
            contents, overwrite=True, passwords=dict.fromkeys(database_paths, password)
        ).run()

        datasets = db.session.query(SqlaTable).all()
        for dataset in datasets:
            try:
                dataset.fetch_metadata()
            except Exception as exc:
                # Typically a mart this warehouse has not published yet: the other dashboards
                # still work, and this one's charts show the error until a run publishes it.
                why = f"{type(exc).__name__}: {exc}".splitlines()[0][:300]
                print(f"warning: dataset {dataset.table_name} not read from the warehouse: {why}")
        db.session.commit()
        print(f"imported {sum(p.startswith('dashboards/') for p in contents)} dashboards, "
              f"{sum(p.startswith('charts/') for p in contents)} charts, "
              f"{len(datasets)} datasets (columns read from the warehouse)")  # fmt: skip


if __name__ == "__main__":
    main(Path(sys.argv[1]), sys.argv[2:])
