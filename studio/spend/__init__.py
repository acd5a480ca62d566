"""Spend: what a project's tasks cost, read from the tasks themselves, and the budget an owner sets over them."""
