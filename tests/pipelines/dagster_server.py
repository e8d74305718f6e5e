"""Start the real dagster-webserver + dagster-daemon on 127.0.0.1 for acceptance tests, and talk GraphQL to them."""

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from email import message_from_bytes
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent

LAUNCH_RUN = """
mutation Launch($p: ExecutionParams!) {
  launchRun(executionParams: $p) {
    __typename
    ... on LaunchRunSuccess { run { runId } }
    ... on PythonError { message }
    ... on InvalidSubsetError { message }
    ... on RunConfigValidationInvalid { errors { message } }
    ... on UnauthorizedError { message }
  }
}"""

RUNS = """
query Runs($filter: RunsFilter) {
  runsOrError(filter: $filter) {
    ... on Runs { results { runId status jobName tags { key value } } }
  }
}"""

RUN = """
query Run($runId: ID!) {
  runOrError(runId: $runId) { ... on Run { runId status tags { key value } } }
}"""

MATERIALIZATIONS = """
query Mats($key: AssetKeyInput!) {
  assetOrError(assetKey: $key) {
    ... on Asset { assetMaterializations(limit: 500) { runId partition timestamp } }
  }
}"""

DAEMONS = """
query { instance { daemonHealth { allDaemonStatuses { daemonType healthy required } } } }
"""

FINISHED = {"SUCCESS", "FAILURE", "CANCELED"}


class DagsterServer:
    """webserver + daemon sharing one DAGSTER_HOME; every process is ours and stopped by its own group id."""

    def __init__(self, workspace: Path, dagster_home: Path, env: dict, port: int, log_dir: Path):
        self.workspace, self.dagster_home, self.port = workspace, dagster_home, port
        self.url = f"http://127.0.0.1:{port}"
        self.env = {**os.environ, **env, "DAGSTER_HOME": str(dagster_home)}
        self.log_dir = log_dir
        self.procs: list[subprocess.Popen] = []

    def _spawn(self, name: str, args: list[str]) -> None:
        log = (self.log_dir / f"{name}.log").open("wb")
        self.procs.append(
            subprocess.Popen(
                args, cwd=REPO, env=self.env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
            )
        )

    def start(self, timeout: float = 240) -> "DagsterServer":
        ws = str(self.workspace)
        self._spawn(
            "webserver", [str(BIN / "dagster-webserver"), "-h", "127.0.0.1", "-p", str(self.port), "-w", ws]
        )
        self._spawn("daemon", [str(BIN / "dagster-daemon"), "run", "-w", ws])
        deadline = time.time() + timeout
        while time.time() < deadline:
            for p in self.procs:
                if p.poll() is not None:
                    raise RuntimeError(
                        f"dagster process exited early; see {self.log_dir}:\n{self.logs()[-4000:]}"
                    )
            try:
                statuses = self.gql(DAEMONS)["instance"]["daemonHealth"]["allDaemonStatuses"]
                needed = {"SENSOR", "SCHEDULER", "QUEUED_RUN_COORDINATOR"}
                healthy = {s["daemonType"] for s in statuses if s["healthy"]}
                if needed <= healthy:
                    return self
            except OSError:
                pass
            time.sleep(1.0)
        raise TimeoutError(f"dagster did not become healthy in {timeout}s:\n{self.logs()[-4000:]}")

    def stop(self) -> None:
        for p in self.procs:
            if p.poll() is None:
                os.killpg(p.pid, signal.SIGTERM)
        for p in self.procs:
            try:
                p.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(p.pid, signal.SIGKILL)
                p.wait(timeout=10)

    def logs(self) -> str:
        return "\n".join(f.read_text(errors="replace") for f in sorted(self.log_dir.glob("*.log")))

    # ---- GraphQL ---------------------------------------------------------------------------------------------
    def gql(self, query: str, variables: dict | None = None) -> dict:
        body = json.dumps({"query": query, "variables": variables or {}}).encode()
        req = urllib.request.Request(
            f"{self.url}/graphql", data=body, headers={"Content-Type": "application/json"}
        )
        with urllib.request.urlopen(req, timeout=30) as resp:
            out = json.loads(resp.read())
        if out.get("errors"):
            raise RuntimeError(out["errors"])
        return out["data"]

    def launch(
        self, job: str, location: str, asset_paths: list[list[str]] | None = None, tags: dict | None = None
    ) -> str:
        selector = {"repositoryLocationName": location, "repositoryName": "__repository__", "jobName": job}
        if asset_paths is not None:
            selector["assetSelection"] = [{"path": p} for p in asset_paths]
        params = {
            "selector": selector,
            "runConfigData": {},
            "mode": "default",
            "executionMetadata": {"tags": [{"key": k, "value": v} for k, v in (tags or {}).items()]},
        }
        res = self.gql(LAUNCH_RUN, {"p": params})["launchRun"]
        if res["__typename"] != "LaunchRunSuccess":
            raise RuntimeError(f"launchRun failed: {res}")
        return res["run"]["runId"]

    def runs(self, tags: dict | None = None) -> list[dict]:
        flt = {"tags": [{"key": k, "value": v} for k, v in tags.items()]} if tags else {}
        return self.gql(RUNS, {"filter": flt})["runsOrError"]["results"]

    def run_status(self, run_id: str) -> str:
        return self.gql(RUN, {"runId": run_id})["runOrError"]["status"]

    def wait_run(self, run_id: str, timeout: float = 180) -> str:
        deadline = time.time() + timeout
        while time.time() < deadline:
            status = self.run_status(run_id)
            if status in FINISHED:
                return status
            time.sleep(1.0)
        raise TimeoutError(f"run {run_id} not finished after {timeout}s (status {status})")

    def materializations(self, path: list[str]) -> list[dict]:
        res = self.gql(MATERIALIZATIONS, {"key": {"path": path}})["assetOrError"]
        return res.get("assetMaterializations", [])


def wait_for(predicate, timeout: float, what: str, interval: float = 1.0):
    deadline = time.time() + timeout
    while time.time() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise TimeoutError(f"timed out after {timeout}s waiting for {what}")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Inbox:
    def __init__(self):
        self.messages = []

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 (aiosmtpd hook name)
        self.messages.append(message_from_bytes(envelope.content))
        return "250 OK"

    def wait(self, n=1, timeout=60.0):
        deadline = time.time() + timeout
        while len(self.messages) < n and time.time() < deadline:
            time.sleep(0.2)
        return self.messages
