"""The REST API (FastAPI): a thin layer over :class:`~lodestar.workspace.Workspace`.

``create_app(workspace)`` builds the application (:mod:`.app`); ``lodestar serve`` runs it with
uvicorn. Nothing here is imported by the domain packages.
"""
