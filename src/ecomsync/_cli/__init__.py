"""
The ``ecomsync`` command line over one TOML config file.

`_config` turns the file into a `Synchronizer` (secrets only from the
environment or files), `_commands` adds the subcommands to
``ecomsync.__main__``'s parser.  It uses the public API only.
"""
