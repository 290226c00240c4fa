"""The parts of the browser kind (``checks/browser.py``): steps, the browser pool, running a journey
on a page, and the artifacts a failed run leaves."""
