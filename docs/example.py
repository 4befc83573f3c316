# %% [markdown]
# # Amaan for researchers: a first look at the helpline's cases
#
# Run it as a script or cell by cell (VS Code, Jupyter with jupytext). It needs the client
# (`pip install ./clients/python`), a server and a researcher's key:
#
#     python docs/example.py http://127.0.0.1:8000 <key>
#     AMAAN_URL=http://127.0.0.1:8000 AMAAN_KEY=<key> python docs/example.py
#
# `make demo` prints a researcher key. Only `count` spends budget, and a query anyone has
# asked before is answered from the stored release for free, so running this twice spends
# ε 0.2 at most once.

# %%
import os
import sys

import pandas as pd
from amaan_client import Amaan, AmaanError

url = sys.argv[1] if len(sys.argv) > 1 else os.environ.get("AMAAN_URL", "http://127.0.0.1:8000")
key = sys.argv[2] if len(sys.argv) > 2 else os.environ.get("AMAAN_KEY", "")
amaan = Amaan(url, key)

# %% [markdown]
# ## What may I read, and how much can I still spend?

# %%
for dataset in amaan.datasets():
    newest = dataset["versions"][-1]
    print(
        f"{dataset['slug']}: {dataset['title']}, version {newest['number']} "
        f"({newest['first_month']} to {newest['last_month']}), "
        f"ε left {dataset['budget_remaining']}"
    )
DATASET = amaan.datasets()[0]["slug"]

dimensions = {d["name"]: d for d in amaan.dimensions(DATASET)}
print("dimensions:", ", ".join(dimensions))
print("genders:", ", ".join(f"{c['code']} ({c['label']})" for c in dimensions["gender"]["codes"]))

# %% [markdown]
# ## What would a table of complaints by year and gender cost?
#
# An estimate spends nothing. The margin of error is the half-width of each cell's 95%
# interval; a smaller ε means more noise.

# %%
for epsilon in (0.05, 0.1, 0.2):
    cost = amaan.estimate(DATASET, ["year", "gender"], epsilon=epsilon)
    print(f"ε {cost.epsilon}: ±{cost.margin_of_error} per cell, {cost.cells} cells")

# %% [markdown]
# ## The table itself
#
# One row per cell (every combination of codes, zeros too); small cells are suppressed
# (`count` is empty and `reason` says why).

# %%
try:
    table = amaan.count(DATASET, ["year", "gender"], epsilon=0.1)
except AmaanError as error:  # over budget, a wrong code, ...: the API says what to change
    sys.exit(f"refused: {error.code}: {error.message}")
print(
    f"release {table.attrs['release_id']}: ε charged {table.attrs['epsilon_charged']}, "
    f"ε left {table.attrs['budget_remaining']}, ±{table.attrs['margin_of_error']} per cell"
)
print(table[["year", "gender_label", "count", "lower", "upper", "suppressed"]].head(8))

# %% [markdown]
# ## As a pivot: years down, genders across (suppressed cells stay empty)

# %%
pivot = table.pivot(index="year", columns="gender_label", values="count")
print(pivot)

# %% [markdown]
# ## Complaints by province, with the share each province holds
#
# Suppressed cells are left out of the shares (they are small, not zero).

# %%
provinces = amaan.count(DATASET, ["province"], epsilon=0.1)
shown = provinces[~provinces["suppressed"]].set_index("province_label")["count"]
shares = (shown / shown.sum() * 100).round(1)
print(pd.DataFrame({"count": shown, "share %": shares}).sort_values("count", ascending=False))
print(f"ε left: {amaan.budget(DATASET)}")
amaan.close()
