"""The web studio: a FastAPI app over :class:`storyreel.Studio` (REST API, server-rendered pages, live runs).

``create_app(data_dir)`` builds the app; ``serve(data_dir, host, port)`` runs it with uvicorn
(``storyreel serve``).
"""
