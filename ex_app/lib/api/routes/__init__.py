"""The REST routes; every one is declared in appinfo/info.xml so the AppAPI proxy lets it through."""

from . import actions, admin, files, jobs, targets

# Included one by one into the app, not through a router that gathers them: FastAPI walks an included router's
# routes on every request, twice, and again at each level of nesting. With the extra level, routing was 15 % of
# an unchanged job list's CPU time in the ExApp (cProfile); without it, 6 %.
ROUTERS = (targets.router, actions.router, jobs.router, files.router, admin.router)
