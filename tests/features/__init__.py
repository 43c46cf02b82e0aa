"""Tests for engine.features and the shipped features configs."""
