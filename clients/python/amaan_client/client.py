"""``Amaan(url, key)``: the research API over REST, one method per thing a researcher does.

Only ``count`` spends budget (a repeat of a query anyone has asked returns the stored numbers
for free); ``estimate`` says beforehand what it would cost. Every refusal raises
``AmaanError`` with the API's code; nothing is retried behind your back.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import httpx
import pandas as pd

from amaan_client import tables
from amaan_client.errors import ConnectionFailed, from_response

Filters = dict[str, list[str]]
Period = tuple[str | None, str | None]
# Count tables are read in columns (labels once per axis): a server that predates the layout
# ignores the parameter and answers in rows, which ``tables.count_table`` reads as well.
COLUMNS = {"layout": "columns"}


@dataclass(frozen=True)
class Estimate:
    """What a count would cost, before anything is spent."""

    epsilon: Decimal
    margin_of_error: int  # half-width of each cell's interval, at the confidence asked
    cells: int
    cached: bool  # already released: asking costs nothing


def _query(
    dataset: str,
    group_by: list[str],
    filters: Filters | None,
    period: Period | None,
    epsilon: float | str | Decimal | None,
    margin_of_error: float | None,
    confidence: float | None,
) -> dict[str, Any]:
    if isinstance(group_by, str):  # count("d", group_by="gender") would group by letters
        raise TypeError("group_by is a list of dimension names, such as ['gender']")
    body: dict[str, Any] = {"dataset": dataset, "group_by": list(group_by)}
    if filters:
        body["filters"] = [{"dimension": d, "values": list(v)} for d, v in filters.items()]
    if period is not None:
        body["period"] = {"from": period[0], "to": period[1]}
    # ε as a float holds its six decimals exactly for the API (it rounds to micro-ε).
    for name, value in (
        ("epsilon", epsilon),
        ("margin_of_error", margin_of_error),
        ("confidence", confidence),
    ):
        if value is not None:
            body[name] = float(value)
    return body


class Amaan:
    """A client of one Amaan server with one API key. Use it as a context manager, or call
    ``close()`` when done."""

    def __init__(self, url: str, key: str, *, timeout: float = 60.0) -> None:
        self._http = httpx.Client(
            base_url=url.rstrip("/"),
            headers={"Authorization": f"Bearer {key}", "User-Agent": "amaan-client/0.1"},
            timeout=timeout,
        )

    def __repr__(self) -> str:  # never the key
        return f"Amaan({str(self._http.base_url)!r})"

    def __enter__(self) -> Amaan:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def close(self) -> None:
        self._http.close()

    def _call(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        try:
            response = self._http.request(method, path, **kwargs)
        except httpx.TimeoutException as exc:
            raise ConnectionFailed("timeout", f"no answer from {path} in time") from exc
        except httpx.TransportError as exc:
            raise ConnectionFailed("unreachable", f"cannot reach the server: {exc}") from exc
        if response.is_error:
            raise from_response(response)
        return response

    def _json(self, method: str, path: str, **kwargs: Any) -> Any:
        return self._call(method, path, **kwargs).json()

    # The catalogue: public metadata, free.

    def _every(self, path: str) -> list[dict[str, Any]]:
        """Every item of a paginated list, following ``next`` 500 at a time."""
        items: list[dict[str, Any]] = []
        params: dict[str, str] = {"limit": "500"}
        while True:
            page = self._json("GET", path, params=params)
            items += page["items"]
            if page["next"] is None:
                return items
            params["cursor"] = page["next"]

    def datasets(self) -> list[dict[str, Any]]:
        """The datasets granted to you, by slug (every page): versions, declared coverage,
        privacy settings and the budget you have left on each (``budget_remaining``, a number
        exact to six decimals)."""
        return self._every("/v1/datasets")

    def dimensions(
        self, dataset: str | None = None, version: int | None = None
    ) -> list[dict[str, Any]]:
        """Every dimension you may group or filter by, with its codes and labels; the time
        codes are those of the version's declared coverage (default: the newest)."""
        params = {
            k: str(v) for k, v in (("dataset", dataset), ("version", version)) if v is not None
        }
        found: list[dict[str, Any]] = self._json("GET", "/v1/dimensions", params=params)
        return found

    def me(self) -> dict[str, Any]:
        """Your account and budgets."""
        found: dict[str, Any] = self._json("GET", "/v1/me")
        return found

    def budget(self, dataset: str) -> Decimal:
        """The ε you have left on ``dataset`` (exact)."""
        for budget in self.me()["budgets"]:
            if budget["dataset"] == dataset:
                found: Decimal = tables.epsilon(budget["remaining"])
                return found
        return Decimal(0)

    # Queries.

    def estimate(
        self,
        dataset: str,
        group_by: list[str],
        filters: Filters | None = None,
        *,
        period: Period | None = None,
        epsilon: float | str | Decimal | None = None,
        margin_of_error: float | None = None,
        confidence: float | None = None,
    ) -> Estimate:
        """What ``count`` with the same arguments would cost; spends nothing."""
        body = _query(dataset, group_by, filters, period, epsilon, margin_of_error, confidence)
        found = self._json("POST", "/v1/queries/estimate", json=body)
        return Estimate(
            tables.epsilon(found["epsilon"]),
            found["margin_of_error"],
            found["cells"],
            found["cached"],
        )

    def count(
        self,
        dataset: str,
        group_by: list[str],
        filters: Filters | None = None,
        *,
        period: Period | None = None,
        epsilon: float | str | Decimal | None = None,
        margin_of_error: float | None = None,
        confidence: float | None = None,
    ) -> pd.DataFrame:
        """A differentially private count table (spends ε unless cached), one row per cell.
        ``filters`` maps a dimension to the codes to keep; ``period`` is (from, to) months or
        years; give ``epsilon`` or a target ``margin_of_error``. The release's metadata
        (``release_id``, ``epsilon_charged``, ``budget_remaining``, ``cached``, ...) is on
        ``.attrs``."""
        body = _query(dataset, group_by, filters, period, epsilon, margin_of_error, confidence)
        found = self._json("POST", "/v1/queries", json=body, params=COLUMNS)
        return tables.count_table(found, list(group_by))

    # Statistics of a count table: computed from its release, nothing more spent.

    def share(
        self, dataset: str, group_by: list[str], of: str, filters: Filters | None = None, **kw: Any
    ) -> pd.DataFrame:
        """Each cell's share of its total along ``of`` (one of ``group_by``), the other
        dimensions held: ``share(d, ["complaint_type", "gender"], of="gender")`` gives the
        women's share of each complaint type. Spends as ``count`` would (nothing if cached);
        ``value``, ``lower`` and ``upper`` are shares in [0, 1]."""
        return self._statistic(dataset, group_by, filters, {"kind": "share", "of": of}, kw)

    def change(
        self,
        dataset: str,
        group_by: list[str],
        from_: str,
        to: str,
        filters: Filters | None = None,
        **kw: Any,
    ) -> pd.DataFrame:
        """The change from one period to a later one (years, quarters or months, read from
        the time dimension in ``group_by``), per combination of the other dimensions: in
        cases (``value``, ``lower``, ``upper``) and in percent (``percent``,
        ``percent_lower``, ``percent_upper``; an upper bound of NaN is unbounded)."""
        stat = {"kind": "change", "from": from_, "to": to}
        return self._statistic(dataset, group_by, filters, stat, kw)

    def rate(
        self, dataset: str, group_by: list[str], filters: Filters | None = None, **kw: Any
    ) -> pd.DataFrame:
        """Cases per month over the period, per combination of the non-time dimensions."""
        return self._statistic(dataset, group_by, filters, {"kind": "rate", "per": "month"}, kw)

    def _statistic(
        self,
        dataset: str,
        group_by: list[str],
        filters: Filters | None,
        statistic: dict[str, str],
        kw: dict[str, Any],
    ) -> pd.DataFrame:
        unknown = set(kw) - {"period", "epsilon", "margin_of_error", "confidence"}
        if unknown:
            raise TypeError(f"unexpected argument(s): {', '.join(sorted(unknown))}")
        body = _query(
            dataset,
            group_by,
            filters,
            kw.get("period"),
            kw.get("epsilon"),
            kw.get("margin_of_error"),
            kw.get("confidence"),
        )
        found = self._json("POST", "/v1/queries", json=body | {"statistic": statistic})
        return tables.statistic_table(found, list(group_by))

    # Stored releases: reading them never spends.

    def releases(self) -> pd.DataFrame:
        """Extracts published to you and your own query releases, newest first (every page)."""
        return tables.listing(self._every("/v1/releases"))

    def release(self, release_id: str) -> pd.DataFrame:
        """A stored release as a count table (as ``count`` returns it)."""
        body = self._json("GET", f"/v1/releases/{release_id}", params=COLUMNS)
        return tables.count_table(body, [])

    def metadata(self, release_id: str) -> dict[str, Any]:
        """What a release means: dataset, version, ε, mechanism, thresholds; never a count."""
        found: dict[str, Any] = self._json("GET", f"/v1/releases/{release_id}/metadata")
        return found

    def download(self, release_id: str) -> pd.DataFrame:
        """A release's CSV extract (rounded and with margins, if it was published so) as a
        DataFrame; the metadata that travels with it is on ``.attrs``."""
        response = self._call("GET", f"/v1/releases/{release_id}", params={"format": "csv"})
        meta: dict[str, Any] = {
            name.lower().removeprefix("x-amaan-").replace("-", "_"): int(v) if v.isdigit() else v
            for name, v in response.headers.items()
            if name.lower().startswith("x-amaan-")
        }
        return tables.csv_table(response.content, meta)

    # Annual reports: the figures of an annual-report summary, free.

    def reports(self) -> pd.DataFrame:
        """Annual reports published to you, newest first (every page)."""
        found = pd.DataFrame(self._every("/v1/reports"))
        if not found.empty:
            found["epsilon"] = found["epsilon"].map(tables.epsilon)
            found["published_at"] = pd.to_datetime(found["published_at"], utc=True)
        return found

    def report(self, release_id: str, confidence: float | None = None) -> pd.DataFrame:
        """An annual report's figures (``name``, ``label``, ``label_ur``, ``unit``, ``value``,
        ``lower``, ``upper``; shares and changes as fractions); its metadata on ``.attrs``.
        The default confidence is the simultaneous level of its fourteen figures."""
        params = {} if confidence is None else {"confidence": str(confidence)}
        body: dict[str, Any] = self._json("GET", f"/v1/reports/{release_id}", params=params)
        frame = pd.DataFrame(body.pop("figures"))
        frame.attrs = body | {"epsilon": tables.epsilon(body["epsilon"])}
        return frame
