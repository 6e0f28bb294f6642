"""The application: the CLI and its commands, the composition root, the health endpoint, the demo."""
