"""Jupyter's login, kept deepdocker's: a config file that runs inside the Jupyter server.

deepdocker-entrypoint copies this file, as `jupyter_server_config.py`, into its own config folder
(root's, first on JUPYTER_CONFIG_PATH, so it is read last and wins), beside the
`jupyter_server_config.json` that pins every login trait (entrypoint.services.jupyter.login). Settings
cannot do what this does, so it is code, and it reaches into two libraries (checked below):

* `ServerApp.tornado_settings` is one dict: a higher-priority file replaces it whole, so pinning it
  would lose a user's harmless keys (`headers`), and leaving it lets a user's config replace the
  cookie secret, the XSRF switches or the allowed origins. Those keys are dropped from it before
  the web app is built (`ServerApp.init_webapp`), with one warning line.
* The cookie secret comes from deepdocker's file beside this one, whatever a user's config says.
* jupyter-server-proxy leaves the XSRF check to the proxied apps (`ProxyHandler.check_xsrf_cookie`
  does nothing), and TensorBoard, code-server and Shiny have none behind Jupyter's login: a page on
  another site could POST to them with the login cookie. Jupyter's own rule is applied instead: a
  request that changes something and is not token-authenticated must come from Jupyter's origin
  (Origin header, else Referer).
* Every kernel starts through deepdocker's kernel guard (entrypoint.kernel_guard, its command in
  `kernel_guard.json` beside this file): its processes die with it, a fork flood in it is stopped,
  and the OOM killer takes it before the server (`LocalProvisioner.launch_kernel` gets the guard's
  command in front of the kernel's).
* The notebook user's own virtual environments are kernels the moment they hold ipykernel: one in
  the home at `~/.venv`, `~/NAME/.venv`, `~/venvs/NAME`, `~/.virtualenvs/NAME` or `~/envs/NAME`
  (`python -m venv`, `uv venv`) is "Python (NAME)" in the launcher, with no `ipykernel install`
  (entrypoint.userlayer: the user's environment). A kernel spec of the same name wins.
"""

import glob
import json
import logging
import os
import re
import shutil

from jupyter_server.serverapp import ServerApp
from tornado import web

c = get_config()  # type: ignore[name-defined]  # noqa: F821  (traitlets' config-file namespace)
HERE = os.path.dirname(os.path.abspath(__file__))

# tornado_settings keys that decide who gets in; anything named like one is dropped too.
_LOGIN_KEY = re.compile(
    r"cookie|xsrf|token|password|login|logout|auth|origin|credential|identity|remote|hostname|secret"
)


def _init_webapp(self, _original=ServerApp.init_webapp):
    dropped = sorted(k for k in self.tornado_settings if _LOGIN_KEY.search(k))
    if dropped:
        self.tornado_settings = {k: v for k, v in self.tornado_settings.items() if k not in dropped}
        self.log.warning(
            "deepdocker: ServerApp.tornado_settings %s ignored: Jupyter's login is deepdocker's", ", ".join(dropped)
        )
    return _original(self)


ServerApp.init_webapp = _init_webapp  # type: ignore[method-assign]

with open(os.path.join(HERE, "cookie_secret"), "rb") as f:
    c.ServerApp.cookie_secret = f.read()

try:
    import jupyter_server_proxy
    from jupyter_server_proxy.handlers import ProxyHandler
except ImportError:  # no proxy, nothing proxied
    ProxyHandler = None

if ProxyHandler is not None:
    if not str(getattr(jupyter_server_proxy, "__version__", "")).startswith("4."):
        logging.getLogger("ServerApp").warning(
            "deepdocker: jupyter-server-proxy %s is untested (4.x is): its XSRF check is replaced all the same",
            getattr(jupyter_server_proxy, "__version__", "?"),
        )

    def _check_xsrf_cookie(self):
        if not hasattr(self, "_jupyter_current_user"):
            return  # too early: called again once the user is known (JupyterHandler.prepare)
        if self.request.headers.get("Origin") is not None:
            same = self.check_origin()  # True for token-authenticated requests too
        else:
            same = self.token_authenticated or self.check_referer()
        if not same:
            raise web.HTTPError(403, "Blocking a cross-origin request to a service behind Jupyter's login")

    ProxyHandler.check_xsrf_cookie = _check_xsrf_cookie


try:
    with open(os.path.join(HERE, "kernel_guard.json")) as guard_file:
        _KERNEL_GUARD = json.load(guard_file)
except FileNotFoundError:  # a config dir without the guard: kernels start as jupyter_client starts them
    _KERNEL_GUARD = None

if _KERNEL_GUARD:
    from jupyter_client.provisioning.local_provisioner import LocalProvisioner

    _launch_kernel = LocalProvisioner.launch_kernel

    async def _guarded_launch_kernel(self, cmd, **kwargs):
        path = (kwargs.get("env") or os.environ).get("PATH")
        if cmd and shutil.which(os.path.expanduser(cmd[0]), path=path):
            cmd = [*_KERNEL_GUARD, "--", *cmd]
        # else as it was: jupyter_client's own "Failed to run command" names what is missing
        return await _launch_kernel(self, cmd, **kwargs)

    LocalProvisioner.launch_kernel = _guarded_launch_kernel  # type: ignore[method-assign]


# -- The notebook user's virtual environments, as kernels ----------------------------------------
from jupyter_client.kernelspec import KernelSpec, KernelSpecManager  # noqa: E402

_VENV_PLACES = (".venv", "*/.venv", "venvs/*", ".virtualenvs/*", "envs/*")


def _user_venvs() -> dict:
    """kernel name -> (the venv, its place in the home), for each venv there that holds ipykernel."""
    home = os.path.expanduser("~")
    found: dict = {}
    for pattern in _VENV_PLACES:
        for cfg in sorted(glob.glob(os.path.join(glob.escape(home), pattern, "pyvenv.cfg"))):
            env = os.path.dirname(cfg)
            kernel = glob.glob(os.path.join(glob.escape(env), "lib", "python*", "site-packages", "ipykernel"))
            if not kernel or not os.access(os.path.join(env, "bin", "python"), os.X_OK):
                continue
            place = os.path.relpath(env, home)
            found.setdefault("venv-" + re.sub(r"[^a-z0-9_.-]+", "-", place.lower()).strip("-."), (env, place))
    return found


class _UserVenvKernelSpecManager(KernelSpecManager):
    def find_kernel_specs(self):
        specs = super().find_kernel_specs()
        for name, (env, _place) in _user_venvs().items():
            specs.setdefault(name, env)
        return specs

    def get_kernel_spec(self, kernel_name):
        venv = _user_venvs().get(kernel_name)
        if venv is None or kernel_name in super().find_kernel_specs():
            return super().get_kernel_spec(kernel_name)
        env, place = venv
        return KernelSpec(
            resource_dir=env,
            argv=[os.path.join(env, "bin", "python"), "-m", "ipykernel_launcher", "-f", "{connection_file}"],
            display_name=f"Python ({place})",
            language="python",
            metadata={"debugger": True},
        )


c.ServerApp.kernel_spec_manager_class = _UserVenvKernelSpecManager
