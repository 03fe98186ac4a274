"""The order engine's notifier: streams every order event to the WebSocket clients following it."""
