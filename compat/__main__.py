from compat.cli import app

app()
