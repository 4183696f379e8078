"""The server's outputs as `server status` prints them (deploy/addresses.server_rows)."""

from __future__ import annotations

from pilot_tui.deploy.addresses import server_rows


def test_a_list_output_is_its_items_not_pythons_brackets():
    """Found walking: `server status` printed `open_ports [22]`, `lambda_previews ['fn']`."""
    outputs = {"open_ports": [22, 2376], "lambda_previews": ["fn"], "web_ports": [], "id": "i-1"}
    rows = dict(server_rows("aws", outputs))
    assert rows == {
        "open_ports": "22, 2376",
        "lambda_previews": "fn",
        "web_ports": "none",
        "id": "i-1",
    }


def test_a_flag_output_is_yes_or_no_not_pythons_words():
    """Found walking: `server status` printed `ci_worker  False`."""
    rows = dict(server_rows("aws", {"ci_worker": False, "cloud_run_previews": True}))
    assert rows == {
        "ci_worker": "no: CI's deploys are not taken on it (server.ci_worker)",
        "cloud_run_previews": "yes",
    }


def test_the_ci_worker_grant_is_said_as_a_grant_not_as_the_workers_state():
    """Found walking: `ci_worker  no` printed beside `CI deploy worker: taking requests`
    read as the worker's state; it says whether the role holds the grant."""
    rows = dict(server_rows("aws", {"ci_worker": True}))
    assert rows["ci_worker"] == "yes: its role lets its worker take CI's deploys"
    # (review: it wrapped at 80 columns, after `server status`'s 20-column key)
    assert max(len(text) for text in server_rows_texts()) <= 58


def server_rows_texts() -> list[str]:
    return [text for value in (True, False) for _, text in server_rows("aws", {"ci_worker": value})]
