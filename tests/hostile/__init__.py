"""Hostile input against every endpoint that takes user input (corpus in `payloads`)."""
