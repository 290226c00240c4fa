"""Rollouts: move traffic between revisions step by step and judge each step.

`routers/` holds the data planes a rollout moves traffic on (HAProxy, nginx, the built-in router).
"""
