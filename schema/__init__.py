"""The warehouse: typed models, code lists, engine setup, repositories and migrations.

Imports nothing of Amaan's other packages.
"""
