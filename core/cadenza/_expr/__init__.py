"""CEL expressions: syntax, references, rendering and explanation, under an evaluation budget."""
