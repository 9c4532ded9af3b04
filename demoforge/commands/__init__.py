"""One module per subcommand; see demoforge/cli.py for the contract."""
