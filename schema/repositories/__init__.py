"""All SQL lives here: one module per area of the warehouse."""
