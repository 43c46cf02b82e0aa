"""Tests for engine.data: loading, quality checks and splits."""
