"""The ``hub`` command line (Typer). Entry point: ``hub.cli.main:main``."""
