"""The review app's browser fixtures (tests/web), for the upload page's test."""

try:
    from tests.web.conftest import new_page, web_env  # noqa: F401 - fixtures
except ImportError:   # the web app (issue 6) is not merged yet
    pass
