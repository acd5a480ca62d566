"""Money: price cards, quotes and totals (and, next, budgets and their reservations)."""
