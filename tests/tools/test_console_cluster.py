"""The console's cluster page on a 3-node cluster (`cairn node` ×3 and a
`cairn gateway --console-listen`): nodes with capacity and health, Raft group
leaders and lag, then a fourth node is added and applied, and the page shows
the running move with its progress and ETA, then the settled 4-node cluster.
Screenshots: target/test-logs/console/cluster-*.png."""

from __future__ import annotations

import time

import pytest

from conftest import ACCESS_KEY, REGION, SECRET_KEY, MiB, unique_bucket_name
from console_helpers import ADMIN_TOKEN, ToolCluster, chrome, css, login, no_error, shot, wait_for
from test_console import client


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    root = tmp_path_factory.mktemp("console-cluster")
    c = ToolCluster(root, ACCESS_KEY, SECRET_KEY, REGION)
    try:
        c.start()
        yield c
    finally:
        c.stop()


def test_cluster_page_during_a_move(cluster, tmp_path):
    s3 = client(f"http://{cluster.gateway}", ACCESS_KEY, SECRET_KEY)
    bucket = unique_bucket_name("moves")
    s3.create_bucket(Bucket=bucket)
    payload = bytes(range(256)) * (4 * MiB // 256)
    for i in range(24):  # 96 MiB: the move takes a few seconds
        s3.put_object(Bucket=bucket, Key=f"obj-{i:03d}", Body=payload[i:] + payload[:i])
    d = chrome(tmp_path, tmp_path / "chromedriver.log")
    try:
        base = f"http://{cluster.console}"
        login(d, base, ACCESS_KEY, SECRET_KEY, ADMIN_TOKEN)
        wait_for("the buckets page", lambda: css(d, f'tr[data-bucket="{bucket}"]'))
        d.get(base + "/#/cluster")
        wait_for("three nodes up", lambda: len(css(d, ".node .badge.ok")) == 3)
        wait_for("the groups table with leaders",
                 lambda: len(css(d, "#groups-table tbody tr")) == 9 and "none" not in css(d, "#groups-table")[0].text)
        summary = css(d, "#cluster-summary")[0].text
        assert "3 replicas" in summary and "8 placement groups" in summary, summary
        no_error(d)
        shot(d, "cluster-3-nodes")

        cluster.add_node(4)
        cluster.apply()
        running = wait_for("the move shown as running",
                           lambda: css(d, '#move[data-state="running"]'), timeout=60, interval=0.05)
        text = css(d, "#move-text")[0].text
        assert "groups moved" in text and "ETA" in text, text
        assert running[0].find_elements("css selector", ".bar .fill"), "no progress bar"
        shot(d, "cluster-move")
        # Later in the same move, bytes moved (not asserted: a fast move may end first).
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            m = css(d, '#move[data-state="running"] #move-text')
            try:
                if not m:
                    break
                if not m[0].text.startswith("0 B") and "; 0 B of" not in m[0].text:
                    shot(d, "cluster-move-progress")
                    break
            except Exception:  # replaced by a refresh meanwhile
                pass
            time.sleep(0.05)
        wait_for("four nodes up", lambda: len(css(d, ".node .badge.ok")) == 4, timeout=30)

        def settled():
            t = css(d, "#groups-table")[0].text
            m = css(d, "#move")
            return "moving" not in t and (not m or m[0].get_attribute("data-state") != "running")
        wait_for("every group settled", settled, timeout=180, interval=0.5)
        no_error(d)
        time.sleep(1)
        shot(d, "cluster-after-move")
    finally:
        d.quit()
    # The data is all there after the move.
    for i in (0, 23):
        assert s3.get_object(Bucket=bucket, Key=f"obj-{i:03d}")["Body"].read() == payload[i:] + payload[:i]
