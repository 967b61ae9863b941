"""Tests of the SQLite store, with real databases under each test's temporary directory."""
