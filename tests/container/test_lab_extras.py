"""The scipy-notebook extras in the image: widgets, interactive matplotlib, Git in the lab."""

from __future__ import annotations

import json

import pytest

from tests.container.tracked import api

pytestmark = pytest.mark.container

TOKEN = "lab-extras-test-token-0123456789"

# A kernel, as the lab runs one: `%matplotlib widget` draws a figure as a widget, not a PNG.
WIDGET_FIGURE = """
import jupyter_client, json
km, kc = jupyter_client.manager.start_new_kernel(kernel_name="python3")
kinds = []
def keep(m):
    if m["msg_type"] in ("display_data", "execute_result"):
        kinds.extend(m["content"]["data"])
    if m["msg_type"] == "error":
        kinds.append("error: " + m["content"]["ename"])
code = "%matplotlib widget\\nimport matplotlib.pyplot as plt\\nfig = plt.figure(); plt.plot([1, 2]); fig.canvas"
kc.execute_interactive(code, output_hook=keep, timeout=120)
kc.stop_channels(); km.shutdown_kernel(now=True)
print(json.dumps(kinds))
"""


def test_widgets_interactive_figures_and_git_in_the_lab(containers):
    c = containers.run(env={"JUPYTER_TOKEN": TOKEN}, ports=[8888])
    c.wait_health("healthy")
    kinds = json.loads(c.exec("python", "-c", WIDGET_FIGURE, timeout=300, user="jovyan").stdout.splitlines()[-1])
    assert "application/vnd.jupyter.widget-view+json" in kinds, kinds
    labextensions = c.exec("jupyter", "labextension", "list", user="jovyan")
    listing = labextensions.stdout + labextensions.stderr
    for name in ("@jupyter-widgets/jupyterlab-manager", "jupyter-matplotlib", "@jupyterlab/git"):
        assert f"{name} v" in listing and "enabled" in listing.split(name, 1)[1].splitlines()[0], (name, listing)
    # jupyterlab-git's server side answers through the running Jupyter: the notebook folder is no repository.
    status, reply = api(c.port(8888), TOKEN, "/git/show_top_level", {}, method="POST")
    assert (status, reply) == (200, {"code": 0, "path": None})
    c.exec("git", "init", "-q", "/home/jovyan/project", user="jovyan")
    status, reply = api(c.port(8888), TOKEN, "/git/project/show_top_level", {}, method="POST")
    assert status == 200 and reply == {"code": 0, "path": "/home/jovyan/project"}, (status, reply)
