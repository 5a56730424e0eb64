"""One module per ``procedura`` subcommand; each imports the SDK only when it runs."""
