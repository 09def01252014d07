"""Operations use-cases: a stage's stack, status, DLQ tools, alarm notifications (docs/operations.md)."""
