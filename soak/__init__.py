"""`make soak`: thousands of orders through faults, then an exact reconciliation."""
