from roost.cli import app

app()
