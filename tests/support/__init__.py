"""Test support: real databases, real server processes, the official clients."""
