"""Servers written for the tests that behave like other implementations of the protocol."""
