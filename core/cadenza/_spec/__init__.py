"""What a workflow IS: the frozen attrs model, durations, prices and budgets, outcomes,
and the cattrs converter that builds them.
"""
