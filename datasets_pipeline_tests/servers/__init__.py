"""Real servers started on 127.0.0.1 by tests (each in its own process, stopped at teardown)."""
