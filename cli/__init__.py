"""The `lake` command line (entry point `cli.main:main`)."""
