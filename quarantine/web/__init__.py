"""The reviewers' web app: the quarantine queue, one message, actions, cases, audit and a
dashboard, for the roles the policy names (2.1.1, 2.3). Built with FastAPI and Jinja2;
htmx is vendored in `static/`. Start it with `aupgate web` or beside the relay with
`aupgate serve` (see `serve.start_web`)."""
