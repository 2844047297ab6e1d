"""Wallet services: stored exchange keys (credentials), platform health, balances and the transfer ledger."""
