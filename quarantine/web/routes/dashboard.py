"""The dashboard: verdicts and held categories per day, and what is waiting."""

from __future__ import annotations

from fastapi import APIRouter, Request
from markupsafe import Markup

from quarantine.web import auth, charts, queries
from quarantine.web.app import page

router = APIRouter()


@router.get("/dashboard")
async def dashboard(request: Request, who: auth.ReaderDep):
    days = request.app.state.settings.dashboard_days
    async with request.app.state.store.session() as session:
        verdicts = await queries.verdicts_per_day(session, days)
        categories = await queries.categories_per_day(session, days)
        waiting = await queries.waiting(session)
    # The SVG is built from numbers, dates and escaped names only (see charts.py).
    return page(request, "dashboard.html", waiting=waiting, days=days,
                verdict_chart=Markup(charts.stacked_bars(
                    verdicts, f"Messages per verdict, last {days} days")),
                category_chart=Markup(charts.stacked_bars(
                    categories, f"Held messages per category, last {days} days")),
                waiting_chart=Markup(charts.bars(waiting["by_category"],
                                                 "Waiting, by category")),
                severity_chart=Markup(charts.bars(waiting["by_severity"],
                                                  "Waiting, by Appendix I severity")))
