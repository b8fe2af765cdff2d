"""
The ``ecomsync`` command line over one TOML config file.

`_config` reads the file (secrets only from the environment or files,
unknown keys refused) and turns it into a `Synchronizer` with the parts
`_config_parts` builds; `_config_schedules` installs its
``[[schedules]]``; `_commands` adds the subcommands to
``ecomsync.__main__``'s parser.  It uses the public API only.
"""
