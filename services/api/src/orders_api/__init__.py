"""The order engine's REST api: validates orders, stores them and hands them to the workers."""
