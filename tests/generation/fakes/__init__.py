"""Test servers for every provider, and the contracts (accepted requests, errors, bills) they enforce."""
