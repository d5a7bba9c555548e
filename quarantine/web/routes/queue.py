"""The quarantine queue: newest first, filtered, searched, paged, counted."""

from __future__ import annotations

from urllib.parse import urlencode

from fastapi import APIRouter, Request

from quarantine.store import audit
from quarantine.web import auth, queries
from quarantine.web.app import page

router = APIRouter()


@router.get("/queue")
async def queue(request: Request, who: auth.ReaderDep):
    f = queries.QueueFilter.from_query(request.query_params)
    state = request.app.state
    async with state.store.transaction() as session:
        result = await queries.queue(session, f, state.settings.page_size)
        await audit.append(session, actor=who.username, action="queue.view", client=who.client,
                           detail={"filter": f.for_audit(), "shown": len(result.rows)})
    partial = bool(request.headers.get("hx-request")) and \
        request.headers.get("hx-target") == "results"
    return page(request, "queue_results.html" if partial else "queue.html", f=f, result=result,
                link=lambda **change: "/queue?" + urlencode(f.as_params(**change)),
                categories=queries.CATEGORIES, severities=queries.SEVERITIES,
                reasons=list(queries.REASONS), directions=queries.DIRECTIONS,
                audiences=queries.AUDIENCES, statuses=queries.STATUSES,
                retention_days=state.site.retention_days)
