"""The app's surfaces: which front door a path belongs to, the rate-limit group it counts
in, and that the app is assembled so that no route escapes its surface's checks."""

from fastapi.routing import APIRoute

from api import metrics, staff_page
from api.app import create_app
from api.deps import bearer
from api.routes import staff
from api.staff_page.refusals import PageRoute
from api.staff_page.web import session_cookie
from api.surfaces import API, GRAPHQL, Surfaces
from tests.api.conftest import settings_for

SURFACES = Surfaces(API, GRAPHQL, staff_page.SURFACE, metrics.SURFACE)


def test_a_path_belongs_to_one_surface_by_whole_segments():
    assert SURFACES.of("/v1") is API and SURFACES.of("/v1/admin/budgets") is API
    assert SURFACES.of("/graphql") is GRAPHQL
    assert SURFACES.of("/admin") is staff_page.SURFACE
    assert SURFACES.of("/admin/accounts/3") is staff_page.SURFACE
    for outside in ("/v1x", "/adminx", "/healthz", "/", "/docs", "/graphqlx/y"):
        assert SURFACES.of(outside) is None, outside
    assert not staff_page.SURFACE.checks("/admin/static/admin.css")
    assert staff_page.SURFACE.checks("/admin/sign-in")


def test_rate_limit_groups_and_credentials():
    groups = {
        "/v1/admin/budgets": "admin",
        "/v1/releases/r_1/metadata": "downloads",
        "/v1/queries/estimate": "queries",
        "/v1/me": "catalogue",
        "/v1/nowhere": "catalogue",
        "/graphql": "queries",
        "/admin": "admin",
        "/admin/releases/estimate": "admin",
    }
    for path, group in groups.items():
        surface = SURFACES.of(path)
        assert surface is not None and surface.group_of(path) == group, path
    assert API.key_required and GRAPHQL.key_required and GRAPHQL.keyless is not None
    assert not staff_page.SURFACE.key_required  # the page redirects to its sign-in instead
    assert API.credential is bearer and GRAPHQL.credential is bearer
    assert staff_page.SURFACE.credential is session_cookie
    headers = dict(staff_page.SURFACE.headers)
    assert "frame-ancestors 'none'" in headers["Content-Security-Policy"]
    assert headers["X-Frame-Options"] == "DENY" and dict(API.headers) == {
        "Cache-Control": "no-store"
    }


def test_every_route_lies_under_a_surface_and_page_routes_render_refusals(tmp_path):
    app = create_app(settings_for(f"sqlite:///{tmp_path / 'w.db'}", api_docs=True))
    documented = set(app.openapi()["paths"]) - {"/healthz", "/readyz"}  # health: outside
    assert "/graphql" in documented
    assert all(SURFACES.of(p) in (API, GRAPHQL, metrics.SURFACE) for p in documented)
    page = [*staff_page.routes.router.routes, *staff_page.releases.router.routes]
    assert len(page) >= 10 and all(isinstance(r, PageRoute) for r in page)
    assert all(SURFACES.of(r.path) is staff_page.SURFACE for r in page if isinstance(r, APIRoute))
    assert not [r for r in staff.router.routes if isinstance(r, PageRoute)]
    app.state.sessions.kw["bind"].dispose()
