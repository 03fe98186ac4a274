"""`make demo`: five concurrent orders on a live terminal board (`python -m demo --help`)."""
