"""Route modules; each handler parses input, calls one service function and presents the result."""
