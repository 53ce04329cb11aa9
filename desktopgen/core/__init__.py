"""Headless engine: events, requests, device choice and checkpoints. Never imports Qt."""
