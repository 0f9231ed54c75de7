"""Helpers of the web console tests: headless Chromium (Debian's `chromium` and
`chromium-driver`, driven by selenium with the driver path given, so nothing is
downloaded), screenshots under target/test-logs/console/, waits on the page, and
a small cluster (3 `cairn node` processes and a `cairn gateway` with its console)
started the way tests/src/cluster.rs starts one."""

from __future__ import annotations

import os
import pathlib
import subprocess
import time

import requests
from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By

from conftest import REPO, cairn_binary, _free_port, _stop

CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
SHOTS = REPO / "target" / "test-logs" / "console"
ADMIN_TOKEN = "console-test-admin-token-0123456789"


def chrome(download_dir: pathlib.Path, log_path: pathlib.Path, width=1280, height=900):
    """A headless Chromium that downloads into `download_dir`."""
    for path in (CHROMIUM, CHROMEDRIVER):
        assert os.path.exists(path), f"{path} is missing: apt-get install chromium chromium-driver"
    opts = webdriver.ChromeOptions()
    opts.binary_location = CHROMIUM
    for arg in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu",
                f"--window-size={width},{height}", "--no-first-run", "--disable-extensions",
                "--disable-background-networking", "--disable-sync", "--disable-component-update",
                "--disable-features=Translate,MediaRouter,OptimizationHints"):
        opts.add_argument(arg)
    opts.add_experimental_option("prefs", {
        "download.default_directory": str(download_dir),
        "download.prompt_for_download": False,
        "safebrowsing.enabled": False,
    })
    service = Service(executable_path=CHROMEDRIVER, log_output=str(log_path))
    driver = webdriver.Chrome(service=service, options=opts)
    driver.execute_cdp_cmd("Browser.setDownloadBehavior",
                           {"behavior": "allow", "downloadPath": str(download_dir)})
    driver.set_page_load_timeout(30)
    return driver


def shot(driver, name: str) -> pathlib.Path:
    """Saves a PNG of the page (its whole height) as target/test-logs/console/NAME.png."""
    SHOTS.mkdir(parents=True, exist_ok=True)
    path = SHOTS / f"{name}.png"
    size = driver.get_window_size()
    height = driver.execute_script("return document.documentElement.scrollHeight")
    driver.set_window_size(size["width"], max(size["height"], min(int(height) + 20, 4000)))
    try:
        assert driver.save_screenshot(str(path)), f"screenshot {path} failed"
    finally:
        driver.set_window_size(size["width"], size["height"])
    return path


def wait_for(what: str, fn, timeout=20.0, interval=0.1):
    """Polls `fn` until it returns something truthy; fails naming `what`."""
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        try:
            v = fn()
            if v:
                return v
        except Exception as e:  # the element may not be there yet
            last = e
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout}s waiting for {what} (last error: {last!r})")


def css(driver, selector):
    return driver.find_elements(By.CSS_SELECTOR, selector)


def banner_error(driver) -> str:
    """The error banner's text, '' when none is shown."""
    els = css(driver, "#banner.error")
    return els[0].text if els and els[0].is_displayed() else ""


def no_error(driver):
    err = banner_error(driver)
    assert not err, f"the page shows an error: {err}"


def login(driver, base: str, access="", secret="", token=""):
    driver.get(base + "/")
    wait_for("the login form", lambda: css(driver, "#login-form")[0].is_displayed())
    for sel, value in (("#login-access", access), ("#login-secret", secret), ("#login-token", token)):
        el = css(driver, sel)[0]
        el.clear()
        if value:
            el.send_keys(value)
    css(driver, "#login-submit")[0].click()


class ToolCluster:
    """3 `cairn node` processes and a `cairn gateway` serving S3, the admin API and
    the console, each on a free loopback port, data and logs under `root`."""

    def __init__(self, root: pathlib.Path, access_key: str, secret_key: str, region: str):
        self.root = root
        self.config = root / "cluster.toml"
        self.secret = f"console-test-secret-{os.getpid()}-{int(time.time())}"
        self.region = region
        self.nodes: dict[int, dict] = {}
        self.procs: dict[str, subprocess.Popen] = {}
        self.gateway = f"127.0.0.1:{_free_port()}"
        self.admin = f"127.0.0.1:{_free_port()}"
        self.console = f"127.0.0.1:{_free_port()}"
        self.env = dict(os.environ, CAIRN_ACCESS_KEY=access_key, CAIRN_SECRET_KEY=secret_key,
                        CAIRN_ADMIN_TOKEN=ADMIN_TOKEN, RUST_LOG="info", NO_COLOR="1")

    def write_config(self):
        lines = ['name = "console"', "replication = 3", "placement_groups = 8",
                 f'secret = "{self.secret}"', "", "[s3]", f'region = "{self.region}"']
        for nid, n in sorted(self.nodes.items()):
            lines += ["", "[[node]]", f"id = {nid}", f'address = "{n["addr"]}"',
                      f'data_dir = "{n["dir"]}"', 'capacity = "10GiB"']
        self.config.write_text("\n".join(lines) + "\n")

    def _spawn(self, name: str, args: list[str]):
        log = open(self.root / f"{name}.log", "ab")
        self.procs[name] = subprocess.Popen([str(cairn_binary()), *args], env=self.env, stdout=log,
                                            stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        log.close()

    def _wait_health(self, name: str, addr: str, timeout: float):
        def up():
            if self.procs[name].poll() is not None:
                raise AssertionError(f"{name} exited: {self.log(name)}")
            try:
                return requests.get(f"http://{addr}/health", timeout=2).status_code == 200
            except requests.RequestException:
                return False
        try:
            wait_for(f"{name} at {addr}", up, timeout=timeout)
        except AssertionError as e:
            raise AssertionError(f"{e}\n--- {name} log ---\n{self.log(name)}") from None

    def log(self, name: str) -> str:
        try:
            return (self.root / f"{name}.log").read_text(errors="replace")[-6000:]
        except OSError:
            return "<no log>"

    def add_node(self, nid: int, start=True):
        d = self.root / f"n{nid}"
        d.mkdir(parents=True, exist_ok=True)
        self.nodes[nid] = {"addr": f"127.0.0.1:{_free_port()}", "dir": str(d)}
        self.write_config()
        if start:
            self.start_node(nid)

    def start_node(self, nid: int):
        self._spawn(f"node{nid}", ["node", "--config", str(self.config), "--id", str(nid)])
        self._wait_health(f"node{nid}", self.nodes[nid]["addr"], 30)

    def start(self):
        for nid in (1, 2, 3):
            self.add_node(nid, start=False)
        for nid in (1, 2, 3):
            self._spawn(f"node{nid}", ["node", "--config", str(self.config), "--id", str(nid)])
        for nid in (1, 2, 3):
            self._wait_health(f"node{nid}", self.nodes[nid]["addr"], 30)
        self._spawn("gateway", ["gateway", "--config", str(self.config), "--listen", self.gateway,
                                "--admin-listen", self.admin, "--console-listen", self.console,
                                "--console-sample-secs", "1"])
        self._wait_health("gateway", self.gateway, 60)

    def apply(self):
        """`cairn cluster apply` of the current file, not waiting for the moves."""
        p = subprocess.run([str(cairn_binary()), "cluster", "apply", "--config", str(self.config)],
                           env=self.env, capture_output=True, timeout=120)
        assert p.returncode == 0, f"cluster apply failed: {p.stdout!r} {p.stderr!r}"
        return p.stdout.decode(errors="replace")

    def stop(self):
        for name, proc in self.procs.items():
            _stop(proc)
