"""The practice page: `gradproof serve`, an HTTP API over the grader and a small page that uses it.

Optional: it needs the `web` extra (Starlette and uvicorn), imported only by `gradproof serve`.
"""
