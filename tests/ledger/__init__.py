"""Tests of the pure ledger (mesh/ledger)."""
