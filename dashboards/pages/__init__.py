"""Dashboard pages: one module per page, each with ``main()`` (dispatched by dashboards/app.py)."""
