"""Helpers the tests share: throwaway databases and vhosts, service processes, WebSocket readers."""
