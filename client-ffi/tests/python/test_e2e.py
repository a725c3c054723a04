"""End-to-end test of the generated Python bindings against a real fieldsync-server.

A technician's device opens a store through the bindings, signs in, syncs, works offline,
syncs again, and then, with background sync running, sees a dispatcher's new assignment
(made through the JSON API) arrive through its listener. Standard library only.

Run by run.sh, which builds everything and sets:
  FIELDSYNC_BINDINGS     folder holding fieldsync_ffi.py and the library
  FIELDSYNC_SERVER_BIN   the fieldsync-server binary
"""

import asyncio
import json
import os
import queue
import re
import socket
import subprocess
import sys
import tempfile
import threading
import time
import unittest
import urllib.error
import urllib.request

sys.path.insert(0, os.environ.get("FIELDSYNC_BINDINGS", "."))
import fieldsync_ffi as fs  # noqa: E402

SERVER_BIN = os.environ.get("FIELDSYNC_SERVER_BIN", "fieldsync-server")
DEMO_PASSWORD = "demo"
WAIT = 20.0


class Server:
    """fieldsync-server with demo data on a free loopback port."""

    def __init__(self):
        self.data = tempfile.TemporaryDirectory()
        self.process = subprocess.Popen(
            [SERVER_BIN, "--listen", "127.0.0.1:0", "--data", self.data.name, "--demo"],
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
        )
        self.url = None
        lines = queue.Queue()
        threading.Thread(target=self._read, args=(lines,), daemon=True).start()
        deadline = time.monotonic() + 120
        while self.url is None:
            remaining = deadline - time.monotonic()
            if remaining <= 0 or self.process.poll() is not None:
                self.stop()
                raise RuntimeError("fieldsync-server did not start")
            try:
                line = lines.get(timeout=remaining)
            except queue.Empty:
                continue
            found = re.search(r"listening on (http://\S+)", line)
            if found:
                self.url = found.group(1)

    def _read(self, lines):
        for line in self.process.stdout:
            lines.put(line)

    def stop(self):
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        if self.process.stdout is not None:
            self.process.stdout.close()
        self.data.cleanup()

    def api(self, method, path, token=None, body=None):
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(self.url + path, data=data, method=method)
        request.add_header("Content-Type", "application/json")
        if token:
            request.add_header("Authorization", "Bearer " + token)
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                return json.loads(response.read())
        except urllib.error.HTTPError as e:
            raise AssertionError(f"{method} {path}: HTTP {e.code}: {e.read().decode()}") from e

    def login(self, username):
        body = {"username": username, "password": DEMO_PASSWORD, "device_name": "python e2e"}
        return self.api("POST", "/v1/login", body=body)["token"]


class Listener:
    """Collects notifications; called on the library's threads."""

    def __init__(self):
        self.changes = queue.Queue()
        self.statuses = queue.Queue()
        self.missed = 0

    def on_work_orders_changed(self, work_order_ids, from_server):
        self.changes.put((list(work_order_ids), from_server))

    def on_sync_status(self, status):
        self.statuses.put(status)

    def on_missed_events(self, count):
        self.missed += count

    def wait_for_change(self, work_order_id, from_server):
        deadline = time.monotonic() + WAIT
        while time.monotonic() < deadline:
            try:
                ids, source = self.changes.get(timeout=0.1)
            except queue.Empty:
                continue
            if work_order_id in ids and source == from_server:
                return
        raise AssertionError(f"no change notification for {work_order_id} within {WAIT} s")

    def wait_for_status(self, check):
        deadline = time.monotonic() + WAIT
        seen = []
        while time.monotonic() < deadline:
            try:
                status = self.statuses.get(timeout=0.1)
            except queue.Empty:
                continue
            seen.append(status)
            if check(status):
                return status
        raise AssertionError(f"no such sync status within {WAIT} s; saw {seen}")


def closed_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def intake(assignee):
    return {
        "channel": "phone",
        "customer": {
            "id": "00000000-0000-7000-8000-000000000001",
            "name": "Python Test Bakery",
            "tier": "standard",
            "site": {"address": "1 Quay St", "region": "north", "latitude": 53.5, "longitude": 10.0},
            "contact": {"name": "Ines", "phone": "+49 40 1", "email": "ines@example.com"},
        },
        "asset": {"model": "Oven X200", "serial": "X200-1"},
        "category": "hardware",
        "urgency": "normal",
        "impact": "one_unit",
        "description": "Oven does not heat",
        "schedule": None,
        "assignee": assignee,
    }


class EndToEnd(unittest.TestCase):
    def setUp(self):
        self.server = Server()
        self.store = tempfile.TemporaryDirectory()
        self.client = None
        self.handle = None

    def tearDown(self):
        if self.handle is not None:
            self.handle.cancel()
        if self.client is not None:
            self.client.stop_background_sync()
        self.server.stop()
        self.store.cleanup()

    def test_offline_work_syncs_and_a_dispatchers_change_arrives_through_the_callback(self):
        server = self.server
        office = server.login("dispatch1")
        tech01 = next(t for t in server.api("GET", "/v1/technicians", office) if t["username"] == "tech01")

        client = self.client = fs.FieldsyncClient.open(self.store.name)
        self.assertIsNone(client.session())
        with self.assertRaises(fs.FieldsyncError.NotSignedIn) as refused:
            client.my_open_jobs()
        self.assertIn("login", str(refused.exception))

        session = asyncio.run(client.login(server.url, "tech01", DEMO_PASSWORD, "python e2e"))
        self.assertEqual(session.username, "tech01")
        self.assertEqual(session.role, "technician")

        # A job of our own, in a known state.
        created = server.api("POST", "/v1/work-orders", office, intake(tech01["id"]))
        report = asyncio.run(client.sync_now())
        self.assertGreaterEqual(report.pulled_docs, 1)
        job = client.get(created["id"])
        self.assertEqual(job.status, "assigned")
        self.assertEqual(job.customer_name, "Python Test Bakery")
        self.assertIn(created["id"], [j.id for j in client.my_open_jobs()])

        # No signal: actions still work, and wait in the outbox.
        client.set_server_url(f"http://127.0.0.1:{closed_port()}")
        self.assertEqual(client.accept(job.id).status, "accepted")
        client.start_travel(job.id)
        client.record_part_usage(
            job.id,
            fs.PartUsageInput(part_number="FUSE-10A", quantity=2, source_location="VAN-01",
                              serial=None, refurbished=False),
        )
        self.assertEqual(client.pending_changes(), 3)
        with self.assertRaises(fs.FieldsyncError.Offline) as offline:
            asyncio.run(client.sync_now())
        self.assertIn("saved on this device", str(offline.exception))
        with self.assertRaises(fs.FieldsyncError.NotAllowed):
            client.close(job.id)  # office work

        # Signal again.
        client.set_server_url(server.url)
        report = asyncio.run(client.sync_now())
        self.assertEqual(report.accepted_docs, 1)
        self.assertEqual(client.pending_changes(), 0)
        on_server = server.api("GET", f"/v1/work-orders/{job.id}", office)
        self.assertEqual(on_server["status"], "traveling")
        self.assertEqual(on_server["parts_used"], 2)

        # Background sync with a listener: the dispatcher's next assignment arrives by itself.
        listener = Listener()
        self.handle = client.subscribe(listener)
        client.start_background_sync(fs.BackgroundSyncOptions(
            debounce_ms=100, periodic_ms=300000, retry_min_ms=200, retry_max_ms=2000, live=True))
        listener.wait_for_status(lambda s: s.live and isinstance(s.state, fs.SyncStateRecord.IDLE))

        started = time.monotonic()
        assigned = server.api("POST", "/v1/work-orders", office, intake(tech01["id"]))
        listener.wait_for_change(assigned["id"], from_server=True)
        latency = time.monotonic() - started
        self.assertEqual(client.get(assigned["id"]).status, "assigned")
        print(f"dispatcher assignment reached the device through the callback in {latency * 1000:.0f} ms")

        # A local action is announced too, and uploaded without calling sync.
        client.accept(assigned["id"])
        listener.wait_for_change(assigned["id"], from_server=False)
        deadline = time.monotonic() + WAIT
        while client.pending_changes() > 0 and time.monotonic() < deadline:
            time.sleep(0.05)
        self.assertEqual(client.pending_changes(), 0)
        self.assertEqual(server.api("GET", f"/v1/work-orders/{assigned['id']}", office)["status"], "accepted")

        # Cancelling the handle stops notifications.
        self.handle.cancel()
        deadline = time.monotonic() + WAIT
        while not self.handle.is_finished() and time.monotonic() < deadline:
            time.sleep(0.01)
        self.assertTrue(self.handle.is_finished())
        self.assertEqual(client.sync_status().pending_changes, 0)


if __name__ == "__main__":
    result = unittest.main(exit=False, verbosity=2).result
    failed = len(result.failures) + len(result.errors)
    passed = result.testsRun - failed - len(result.skipped)
    print(f"python e2e: {passed} passed, {failed} failed")
    sys.exit(0 if failed == 0 and passed > 0 else 1)
