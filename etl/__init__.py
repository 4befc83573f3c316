"""Getting data in: validate, anonymise, generalise, bound and aggregate raw case exports.

Also the calibrated synthetic export used for development, tests and the demo.
Imports ``schema`` only.
"""
