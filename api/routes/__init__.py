"""REST routes. Data routes hang under one router that requires a principal."""
