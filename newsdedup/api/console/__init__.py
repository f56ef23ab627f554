"""The web console for operators and editors: server-rendered pages under /ui/ (docs/console.md)."""
