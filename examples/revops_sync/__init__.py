"""The RevOps sync demo: an Inngest sync job whose logs reach the console and its MongoDB execution document.

``python -m examples.revops_sync`` (``make demo``) runs it end to end in-process; ``serve.py`` serves
the same app with FastAPI for the Inngest dev server.
"""
