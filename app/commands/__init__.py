"""One module per group of `baton` commands; `baton.app.cli` parses and dispatches to them.

Each command takes the parsed arguments and returns an exit code (`baton.app.exit_codes`);
errors it raises on purpose (configuration, rules, state) are turned into codes by the CLI.
"""
