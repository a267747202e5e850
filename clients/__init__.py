"""Command-line clients of the deployed (or local) pipeline."""
