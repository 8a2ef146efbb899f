"""Deskfind's composition layer: paths, settings, the CLI and evaluation."""
