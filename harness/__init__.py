"""Harness: campaign matrix, agent lifecycle, load generation, local lab, run ledger."""
