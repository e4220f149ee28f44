"""The differential tester of the fixed-point engines (docs/testing.md)."""
