"""The staff's budget review page (``/admin``): Jinja2 templates, one stylesheet, no script."""
